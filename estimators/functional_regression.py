r"""Pure fits of the regression models: least squares, ridge, logistic and Poisson.

:func:`pure_fit` is this module's answer to :func:`estimators.functional.as_function`
for :class:`~estimators.regression.LinearRegression`,
:class:`~estimators.regression.Ridge`, :class:`~estimators.glm.LogisticRegression`,
:class:`~estimators.glm.PoissonRegression` and :class:`~estimators.glm.GLM`
with the binomial/logit or poisson/log model: a pure JAX function of
``(X, y)``, the weights and the hyperparameters that returns
:class:`~estimators.functional.FitArrays`. The per-group kernels of
:func:`estimators.batch.fit_groups` are the same functions (:func:`least_squares_lane`,
:func:`newton_lane`) under ``jax.vmap``: there is one implementation.

**The design is taken as given.** ``X`` holds every column, the intercept
included: with ``fit_intercept=True`` (the estimators' default) column 0 of
``X`` must be the column of ones (where the estimators put ``Intercept``);
with ``fit_intercept=False`` no column is treated as the intercept. Nothing
inside JAX looks for a column of ones. The declared intercept column is what
the others are centred about (exact reparametrisation, far better
conditioned) and what ridge leaves unpenalised; a lane whose column 0 is not
all ones (rows of positive weight) returns NaN and ``converged = False``.

**Least squares** (weights :math:`w_i` are precision weights, as
``LinearRegression``): with the other columns centred at their weighted means
and scaled by powers of two, the normal equations

.. math::  (X^\top W X + \alpha P)\,\hat\beta = X^\top W y

(:math:`P` the identity with 0 for the intercept; :math:`\alpha = 0` for
``LinearRegression``) are factored by a Cholesky unrolled in jnp ops and the
solution takes one corrected semi-normal refinement step
(:func:`least_squares_lane`), whose relative error is estimated as
:func:`estimators.lstsq` does. ``fit_groups`` screens groups with the cheaper
one-pass :func:`least_squares_from_gram` first, and where an estimate exceeds
:data:`~estimators.lstsq.DEFAULT_TOL` refits with the next path (refined
normal equations, then the estimators' QR solver), as the estimators switch.
Covariance, as the estimators' ``cov_`` (``cov_type="nonrobust"``):

.. math::  \widehat{\mathrm{Cov}}(\hat\beta) = s^2 M^{-1} X^\top W X M^{-1},\quad
           M = X^\top W X + \alpha P,\quad s^2 = \frac{\sum_i w_i r_i^2}{m - \mathrm{df}},
           \quad \mathrm{df} = \operatorname{tr}(M^{-1} X^\top W X),

:math:`m` the rows of positive weight (OLS: :math:`s^2 (X^\top W X)^{-1}`,
:math:`\mathrm{df} = p`).

**Logistic and Poisson** (frequency weights, as the GLMs): Newton's method on
:math:`\sum_i w_i \ell(x_i^\top\beta, y_i)` with the exact Hessian
:math:`X^\top \mathrm{diag}(w_i V(\mu_i)) X`. First plain Newton steps from the
intercept-only fit (no line search: no loss evaluations, the cheap path under
``vmap``) until the Newton decrement :math:`g^\top H^{-1} g \le` ``tol``:sup:`2`
(the estimate within ``tol`` standard errors; the step then computed is still
taken); a lane that has not converged after :data:`FAST_STEPS` steps, or
turned non-finite, restarts with step halving (``max_iter`` iterations). The
covariance is :math:`H^{-1}` at the estimate (canonical links: observed =
expected information, dispersion 1).

**Failures** do not raise inside JAX: fewer rows of positive weight than
parameters (least squares and GLMs; ridge with :math:`\alpha > 0` allows it)
or a singular design (condition number of the centred, scaled normal
equations above :func:`~estimators.lstsq.rank_limit`, not checked for ridge
with :math:`\alpha > 0`), or an estimated relative error of the least-squares
solution above :data:`~estimators.lstsq.DEFAULT_TOL` (a nearly collinear
design, where the estimators take QR: QR under ``vmap`` is batched LAPACK,
several times the cost of the whole fit, so the pure fit does not) give NaN
and ``converged = False``; exactly as many
rows as parameters keep the estimate with a NaN covariance. A GLM lane that
does not converge keeps its last iterate with ``converged = False`` (as the
estimator does). Perfect separation is not tested by a linear program inside
JAX (the estimators and ``fit_groups`` do that): a lane whose fitted mean comes
within :data:`~estimators.separation.SEPARATION_TRIGGER` of the boundary at an
observed 0/1 (or a zero count) keeps its last iterate with ``converged = False``
and a NaN covariance, because there the loss still falls as the coefficients
grow and Newton's decrement test passes far from any optimum.

**float64 inside your own jit.** The library never changes JAX's global
configuration, and a pure fit called directly computes in float64 (it runs
under ``jax.enable_x64(True)`` itself). Inside *your* ``jax.jit`` (or
``vmap``/``grad`` of numpy inputs) JAX converts the inputs at the boundary
under *your* configuration: with x64 off they are rounded to float32 before
the fit sees them. Run the traced call under the context yourself::

    with jax.enable_x64(True):
        out = jax.jit(lambda w: fit(X, y, weights=w).params)(w)

(or ``estimators.solve.x64_context("float64")``), or switch x64 on globally.

>>> import numpy as np
>>> from estimators.regression import LinearRegression
>>> fit = pure_fit(LinearRegression())
>>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
>>> np.round(np.asarray(fit(X, np.array([1.0, 3.0, 5.0, 7.5])).params), 6).tolist()
[0.9, 2.15]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .errors import DataError, SettingsError
from .families import FAMILIES, LINKS, sigmoid
from .functional import FitArrays, PureFit
from .implicit import implicit_argmin
from .lstsq import (
    DEFAULT_TOL,
    condition_number,
    fast_path_error,
    pow2_at_least,
    scaled_penalty,
)
from .separation import SEPARATION_TRIGGER
from .solve import x64_context

__all__ = [
    "SUPPORTED",
    "LeastSquaresLane",
    "NewtonLane",
    "augmented_gram",
    "least_squares_from_gram",
    "least_squares_lane",
    "newton_lane",
    "pure_fit",
    "regression_loss",
]

SUPPORTED = ("LinearRegression", "Ridge", "LogisticRegression", "PoissonRegression", "GLM")
CANONICAL = {("binomial", "logit"), ("poisson", "log")}
UNROLL_LIMIT = 12  # up to this many parameters the Cholesky is unrolled in jnp ops
FAST_STEPS = 10  # plain Newton steps before a lane falls back to step halving
MAX_HALVINGS = 30
DEFAULT_GLM_MAX_ITER = 100
EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- small linear algebra


def _cholesky_upper(M: jax.Array) -> jax.Array:
    """Upper R with M = R^T R; unrolled in scalar jnp ops for small p (vmapped: vector ops;
    batched LAPACK on tiny matrices is slow, ../shared/PERFORMANCE.md item 8).
    A non-positive pivot gives NaN, which the rank test then reports as singular."""
    p = M.shape[-1]
    if p > UNROLL_LIMIT:
        return jnp.linalg.cholesky(M).T
    L = [[None] * p for _ in range(p)]
    for j in range(p):
        s = M[j, j] - sum((L[j][k] ** 2 for k in range(j)), start=jnp.zeros(()))
        L[j][j] = jnp.sqrt(s)
        for i in range(j + 1, p):
            t = M[i, j] - sum((L[i][k] * L[j][k] for k in range(j)), start=jnp.zeros(()))
            L[i][j] = t / L[j][j]
    zero = jnp.zeros_like(M[0, 0])
    return jnp.stack(
        [jnp.stack([L[j][i] if j >= i else zero for j in range(p)]) for i in range(p)]
    )


def _upper_inverse(R: jax.Array) -> jax.Array:
    """R^{-1} of an upper-triangular R by back substitution (unrolled for small p)."""
    p = R.shape[-1]
    if p > UNROLL_LIMIT:
        return jax.scipy.linalg.solve_triangular(R, jnp.eye(p), lower=False)
    inv = [[jnp.zeros_like(R[0, 0])] * p for _ in range(p)]
    for j in range(p):
        inv[j][j] = 1.0 / R[j, j]
        for i in range(j - 1, -1, -1):
            t = sum((R[i, k] * inv[k][j] for k in range(i + 1, j + 1)), start=jnp.zeros(()))
            inv[i][j] = -t / R[i, i]
    return jnp.stack([jnp.stack(row) for row in inv])


def _factor(G: jax.Array, extra: jax.Array | None = None):
    """Scales d (powers of two), R^{-1} of G / (d d^T) (+ diag(extra / d^2)), its kappa.

    Returns (d, Rinv, kappa, penalty) with penalty the scaled diagonal added.
    """
    d = pow2_at_least(jnp.sqrt(jnp.abs(jnp.diag(G))))
    penalty = jnp.zeros_like(d) if extra is None else scaled_penalty(extra, d)
    R = _cholesky_upper(G / jnp.outer(d, d) + jnp.diag(penalty))
    Rinv = _upper_inverse(R)
    return d, Rinv, condition_number(R, Rinv), penalty


def _shift_matrix(shift: jax.Array, intercept: int | None, p: int) -> jax.Array:
    """T with beta = T gamma, gamma the coefficients on the centred columns Z = X - 1 shift^T:
    X beta = Z gamma gives beta_j = gamma_j (j != c) and beta_c = gamma_c - shift . gamma."""
    T = jnp.eye(p)
    if intercept is None:
        return T
    return T.at[intercept].add(-shift)


def _centre(X: jax.Array, w: jax.Array, intercept: int | None) -> jax.Array:
    """The weighted column means to subtract (0 for the intercept column or without one)."""
    if intercept is None:
        return jnp.zeros(X.shape[1])
    mean = (w @ X) / jnp.sum(w)
    return mean.at[intercept].set(0.0)


def rank_limit_of(m: jax.Array, p: int) -> jax.Array:
    """:func:`estimators.lstsq.rank_limit` for a traced row count m: 1 / (p max(m, p) eps)."""
    return 1.0 / (p * jnp.maximum(m, p) * EPS)


# --------------------------------------------------------------------------- least squares


class LeastSquaresLane(NamedTuple):
    """One (penalised) least-squares fit: what :func:`fit_groups` and the pure fit need.

    coef : (p,) estimate. inner : (p, p) covariance / s^2, i.e. M^-1 X'WX M^-1.
    rss : sum w r^2. kappa : condition number of the centred, scaled design.
    df_params : tr(M^-1 X'WX) (p without a penalty). nobs : rows of positive weight.
    error : the estimated relative error of the solution
    (:func:`~estimators.lstsq.fast_path_error`).
    """

    coef: jax.Array
    inner: jax.Array
    rss: jax.Array
    kappa: jax.Array
    df_params: jax.Array
    nobs: jax.Array
    error: jax.Array


def _centred_problem(X, y, w, alpha, intercept, penalise):
    """Centring shift, ybar, the centred Z and yc, column scales d, s_y, ridge weights."""
    p = X.shape[1]
    shift = _centre(X, w, intercept)
    Z = X - shift
    ybar = 0.0 if intercept is None else (w @ y) / jnp.sum(w)
    yc = y - ybar
    pen = jnp.array([0.0 if j == intercept else 1.0 for j in range(p)])
    extra = alpha * pen if penalise else None
    return shift, ybar, Z, yc, extra, pow2_at_least(jnp.sqrt(w @ (yc * yc)))


def _least_squares_result(x, r, Rinv, kappa, lam, d, sy, shift, ybar, w, intercept, error):
    """Coefficients and covariance / s^2 in data units from the scaled solution x."""
    p = x.shape[0]
    T = _shift_matrix(shift, intercept, p)
    coef = T @ (x * sy / d)
    if intercept is not None:
        coef = coef.at[intercept].add(ybar)
    inv = Rinv @ Rinv.T
    sandwich = inv - inv @ (lam[:, None] * inv)  # M^-1 X'WX M^-1 = M^-1 - M^-1 Lambda M^-1
    inner = T @ (sandwich / jnp.outer(d, d)) @ T.T
    df_params = p - jnp.sum(lam * jnp.diag(inv))
    nobs = jnp.sum(w > 0).astype(x.dtype)
    return LeastSquaresLane(coef, inner, (w @ (r * r)) * sy**2, kappa, df_params, nobs, error)


def least_squares_lane(
    X: jax.Array,
    y: jax.Array,
    w: jax.Array,
    alpha: jax.Array | float = 0.0,
    *,
    intercept: int | None,
    penalise: bool = False,
) -> LeastSquaresLane:
    """Weighted (ridge) least squares by the normal equations and one corrected
    semi-normal step (the fast path); see the module docstring for the maths."""
    shift, ybar, Z, yc, extra, sy = _centred_problem(X, y, w, alpha, intercept, penalise)
    gram = jnp.einsum("ni,nj->ij", Z * w[:, None], Z)
    d, Rinv, kappa, lam = _factor(gram, extra)
    A, b = Z / d, yc / sy
    solve = lambda v: Rinv @ (v @ Rinv)  # noqa: E731  (R^T R)^{-1} v
    x = solve((w * b) @ A)
    x = x + solve((w * (b - A @ x)) @ A - lam * x)  # corrected semi-normal step
    r = b - A @ x
    # lstsq's error estimate of this path: eps kappa (1 + kappa ||r|| / (||A||_F ||x||)).
    norm_a = jnp.sqrt(jnp.sum(jnp.diag(gram) / d**2))
    error = fast_path_error(kappa, jnp.sqrt(w @ (r * r)) / (norm_a * jnp.linalg.norm(x)))
    return _least_squares_result(x, r, Rinv, kappa, lam, d, sy, shift, ybar, w, intercept, error)


def augmented_gram(Xy: jax.Array, w: jax.Array) -> jax.Array:
    r""":math:`\sum_i w_i z_i z_i^\top` for the rows :math:`z_i = (x_i, y_i)`: one pass."""
    return jnp.einsum("ni,nj->ij", Xy * w[:, None], Xy)


def least_squares_from_gram(S: jax.Array, nobs: jax.Array, *, intercept: int | None):
    r"""Least squares from the augmented Gram matrix alone (the one-pass screen).

    With an intercept the centred Gram is formed algebraically,
    :math:`C = S - s s^	op / \sum w` (:math:`s` the intercept row of
    :math:`S`), which loses the digits of :math:`S_{jj} / C_{jj}` (a column
    far from zero relative to its spread); the Cholesky factor of the scaled
    :math:`C` gives the coefficients, :math:`\sum w r^2` (its last pivot
    squared) and :math:`(X^	op W X)^{-1}`. ``error`` estimates the relative
    error as :math:`\epsilon \max_j (S_{jj}/C_{jj})\,\kappa^2`, :math:`\kappa`
    the condition number of the augmented factor (so a nearly exact fit,
    where the last pivot cancels, counts too): where it exceeds
    :data:`~estimators.lstsq.DEFAULT_TOL` use :func:`least_squares_lane`.
    """
    q = S.shape[0]
    p = q - 1
    if intercept is None:
        C, shift, ybar, amplification = S, jnp.zeros(p, S.dtype), 0.0, 1.0
    else:
        s, sw = S[intercept], S[intercept, intercept]
        C = S - jnp.outer(s, s) / sw
        others = jnp.arange(q) != intercept
        C = jnp.where(others[:, None] & others[None, :], C, 0.0)
        C = C.at[intercept, intercept].set(sw)
        mean = s / sw
        shift, ybar = mean[:p].at[intercept].set(0.0), mean[p]
        ratio = jnp.diag(S) / jnp.where(others, jnp.diag(C), 1.0)
        amplification = jnp.max(jnp.where(others, ratio, 1.0))
    d = pow2_at_least(jnp.sqrt(jnp.abs(jnp.diag(C))))
    R = _cholesky_upper(C / jnp.outer(d, d))
    Rinv = _upper_inverse(R[:p, :p])
    x = Rinv @ R[:p, p]
    kappa = condition_number(R[:p, :p], Rinv)
    kappa_all = condition_number(R, _upper_inverse(R))
    T = _shift_matrix(shift, intercept, p)
    coef = T @ (x * d[p] / d[:p])
    if intercept is not None:
        coef = coef.at[intercept].add(ybar)
    inner = T @ ((Rinv @ Rinv.T) / jnp.outer(d[:p], d[:p])) @ T.T
    error = EPS * amplification * kappa_all**2
    error = jnp.where(jnp.isfinite(error), error, jnp.inf)
    rss = (R[p, p] * d[p]) ** 2
    return LeastSquaresLane(coef, inner, rss, kappa, jnp.asarray(p, S.dtype), nobs, error)


# --------------------------------------------------------------------------- Newton for GLMs


class NewtonLane(NamedTuple):
    """One canonical GLM fit by Newton: coef, cov (H^-1), n_iter, status (0 converged,
    1 max_iter, 2 non-finite), kappa of the final Hessian, and the smallest distance of
    a fitted mean to the boundary its response sits on (the separation screen)."""

    coef: jax.Array
    cov: jax.Array
    n_iter: jax.Array
    status: jax.Array
    kappa: jax.Array
    gap: jax.Array


def _canonical_derivatives(link: str):
    r"""Per-row :math:`\ell'(\eta) = \mu - y` and :math:`\ell''(\eta) = V(\mu)`, canonical link.

    In closed form: a second autodiff through the custom JVP of ``softplus``
    costs about twice as much per Newton iteration and gives the same values.
    """
    if link == "logit":
        return (lambda eta, y: sigmoid(eta) - y), (lambda eta, y: sigmoid(eta) * sigmoid(-eta))
    return (lambda eta, y: jnp.exp(eta) - y), (lambda eta, y: jnp.exp(eta))


def newton_lane(
    X: jax.Array,
    y: jax.Array,
    w: jax.Array,
    tol: float,
    max_iter: int,
    *,
    family: str,
    link: str,
    intercept: int | None,
) -> NewtonLane:
    """Newton's method for one canonical GLM (binomial/logit or poisson/log); see the module."""
    fam, lnk = FAMILIES[family], LINKS[link]
    d1, d2 = _canonical_derivatives(link)
    p = X.shape[1]
    used = w > 0
    # Centred columns (as least squares): a regressor with a large offset would
    # otherwise make the Hessian ill-conditioned and cost digits in the solve.
    shift = _centre(X, w, intercept)
    Z = X - shift
    c = pow2_at_least(jnp.max(jnp.where(used[:, None], jnp.abs(Z), 0.0), axis=0))
    # Rows of weight 0 (padding included) set to 0 once, so that the loop needs no
    # masks: their eta is 0, l'(0) and l''(0) are finite, and weight 0 drops them
    # from every sum exactly as a mask would (where() is slow on XLA:CPU).
    A = jnp.where(used[:, None], Z / c, 0.0)
    b0 = jnp.zeros(p, X.dtype)
    if intercept is not None:
        upper = 1 - 1e-3 if family == "binomial" else 1e300
        ybar = jnp.clip((w @ y) / jnp.sum(w), 1e-3, upper)
        start = jnp.log(ybar) - (jnp.log1p(-ybar) if family == "binomial" else 0.0)
        b0 = b0.at[intercept].set(start * c[intercept])  # the intercept-only fit

    def loss(b):
        return jnp.sum(w * fam.nll(A @ b, y, 0.0, lnk))

    def derivatives(b):
        eta = A @ b
        g = (w * d1(eta, y)) @ A
        h = w * d2(eta, y)
        return g, jnp.einsum("ni,nj->ij", A * h[:, None], A)

    def newton_step(b):
        g, H = derivatives(b)
        d, Rinv, _, _ = _factor(H)
        step = -((Rinv @ ((g / d) @ Rinv)) / d)
        return step, -(g @ step)

    def judged(b_new, decrement, k, limit):
        finite = jnp.all(jnp.isfinite(b_new)) & jnp.isfinite(decrement)
        more = jnp.where(k >= limit, 1, -1)
        status = jnp.where(~finite, 2, jnp.where(decrement <= tol**2, 0, more))
        return status.astype(jnp.int32)

    def plain(state):
        b, k, _ = state
        step, decrement = newton_step(b)
        return (
            b + step,
            k + 1,
            judged(b + step, decrement, k + 1, jnp.minimum(FAST_STEPS, max_iter)),
        )

    def guarded(state):
        b, k, _ = state
        step, decrement = newton_step(b)
        f0 = loss(b)

        def too_high(t):
            return (loss(b + t * step) > f0 + 1e-12 * jnp.abs(f0)) & (t > 2.0**-MAX_HALVINGS)

        t = jax.lax.while_loop(too_high, lambda t: t * 0.5, jnp.ones((), X.dtype))
        return b + t * step, k + 1, judged(b + t * step, decrement, k + 1, max_iter)

    zero, running = jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32)
    b1, k1, status1 = jax.lax.while_loop(
        lambda s: (s[2] < 0) & (max_iter > 0), plain, (b0, zero, running)
    )
    fast = status1 == 0
    # Lanes that did not converge plainly restart from b0 with step halving; under
    # vmap the converged lanes ride along unchanged (their status is already 0).
    start = (jnp.where(fast, b1, b0), zero, jnp.where(fast, 0, -1).astype(jnp.int32))
    b, k2, status = jax.lax.while_loop(lambda s: (s[2] < 0) & (max_iter > 0), guarded, start)
    status = jnp.where((max_iter == 0) & ~fast, 1, status)
    _, H = derivatives(b)
    d, Rinv, kappa, _ = _factor(H)
    T = _shift_matrix(shift, intercept, p)
    cov = T @ ((Rinv @ Rinv.T) / jnp.outer(d * c, d * c)) @ T.T
    mu = lnk.mean(A @ b)
    if fam.boundary == "both":
        gap = jnp.where(y == 1, 1 - mu, jnp.where(y == 0, mu, jnp.inf))
    else:
        gap = jnp.where(y == 0, mu, jnp.inf)
    gap = jnp.min(jnp.where(used, gap, jnp.inf))
    return NewtonLane(T @ (b / c), cov, k1 + k2, status, kappa, gap)


# --------------------------------------------------------------------------- pure fits


def _model(estimator: Any) -> tuple[str, str | None, str | None] | None:
    """("ols" | "ridge", None, None), ("glm", family, link), or None when not ours."""
    from .glm import GLM
    from .regression import LinearRegression, Ridge

    if type(estimator) is LinearRegression:
        return "ols", None, None
    if type(estimator) is Ridge:
        return "ridge", None, None
    if isinstance(estimator, GLM):
        family, link = estimator._model()
        if (family.name, link.name) not in CANONICAL:
            raise SettingsError(
                f"no pure fit for GLM with family={family.name!r}, link={link.name!r}; "
                "supported: binomial/logit, poisson/log"
            )
        return "glm", family.name, link.name
    return None


def _as_arrays(arrays: tuple, weights: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """X (n, p), y (n,), w (n,) as float arrays; shape errors name the argument."""
    X, y = (jnp.asarray(a, dtype=float) for a in arrays)
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n, p) with the intercept column included, got {X.shape}")
    if y.shape != X.shape[:1]:
        raise DataError(f"y must be 1-D with one value per row of X {X.shape}, got {y.shape}")
    if weights is None:
        return X, y, jnp.ones_like(y)
    w = jnp.asarray(weights, dtype=float)
    if w.shape != y.shape:
        raise DataError(f"weights must have one value per row of X {X.shape}, got {w.shape}")
    return X, y, w


def _bad_intercept(X: jax.Array, w: jax.Array, intercept: int | None) -> jax.Array:
    """True when the declared intercept column is not all ones on the rows of positive weight."""
    if intercept is None:
        return jnp.zeros((), bool)
    return jnp.any((w > 0) & (X[:, intercept] != 1.0))


def _least_squares_fn(intercept: int | None, ridge: bool) -> Callable:
    def fn(arrays: tuple, weights: Any, hyper: Mapping[str, Any]) -> FitArrays:
        with x64_context("float64"):
            X, y, w = _as_arrays(arrays, weights)
            alpha = jnp.asarray(hyper["alpha"], dtype=X.dtype) if ridge else 0.0
            # The refined normal equations; where their estimated error exceeds lstsq's
            # tolerance the estimators switch to QR, which is slow under vmap (batched
            # LAPACK: 6x the whole fit for 1,000 bootstrap lanes), so here the lane fails.
            lane = least_squares_lane(X, y, w, alpha, intercept=intercept, penalise=ridge)
            inaccurate = ~(lane.error <= DEFAULT_TOL)
            p = X.shape[1]
            df = lane.nobs - lane.df_params
            singular = ~(lane.kappa <= rank_limit_of(lane.nobs, p))
            few = lane.nobs < p
            if ridge:  # a positive penalty makes any design well posed
                singular, few = singular & (alpha == 0), few & (alpha == 0)
            failed = singular | few | inaccurate | _bad_intercept(X, w, intercept)
            s2 = jnp.where(df > 0, lane.rss / jnp.where(df > 0, df, 1.0), jnp.nan)
            return FitArrays(
                params=jnp.where(failed, jnp.nan, lane.coef),
                cov=jnp.where(failed, jnp.nan, s2 * lane.inner),
                converged=~failed,
                n_iter=jnp.zeros((), jnp.int32),
            )

    return fn


def _newton_fn(family: str, link: str, intercept: int | None, tol: float, max_iter: int):
    def fn(arrays: tuple, weights: Any, hyper: Mapping[str, Any]) -> FitArrays:
        with x64_context("float64"):
            X, y, w = _as_arrays(arrays, weights)
            lane = newton_lane(
                X, y, w, tol, max_iter, family=family, link=link, intercept=intercept
            )
            p = X.shape[1]
            nobs = jnp.sum(w > 0)
            singular = ~(lane.kappa <= rank_limit_of(nobs, p))
            invalid = (nobs < p) | _bad_intercept(X, w, intercept)
            # Fitted means at the boundary of an observed 0/1 (or 0 count): the loss is
            # still falling as coefficients grow, so a passed decrement test is not an optimum.
            separated = lane.gap < SEPARATION_TRIGGER
            failed = invalid | (singular & (lane.status == 0)) | separated
            return FitArrays(
                params=jnp.where(invalid | singular, jnp.nan, lane.coef),
                cov=jnp.where(failed | (lane.status != 0), jnp.nan, lane.cov),
                converged=~failed & (lane.status == 0),
                n_iter=lane.n_iter,
            )

    return fn


def _names(intercept: bool) -> Callable[[int], list[str]]:
    from .frame import INTERCEPT

    def names(p: int) -> list[str]:
        if intercept:
            return [INTERCEPT] + [f"x{j}" for j in range(p - 1)]
        return [f"x{j}" for j in range(p)]

    return names


def _check_nonrobust(estimator: Any) -> None:
    estimator._check_settings()
    if getattr(estimator, "cov_type", "nonrobust") != "nonrobust":
        raise SettingsError(
            f"pure fits compute the nonrobust covariance only, got cov_type={estimator.cov_type!r}"
        )


def pure_fit(estimator: Any) -> PureFit | None:
    """The estimator's fit as a :class:`~estimators.functional.PureFit` of ``(X, y)``, or None.

    ``X`` includes the intercept column when ``estimator.fit_intercept`` (column
    0, all ones); ``weights`` as the estimator's ``sample_weight``; Ridge takes
    the hyperparameter ``alpha`` (default: the estimator's). See the module
    docstring for the maths, the failure rules and float64 inside ``jax.jit``.
    """
    model = _model(estimator)
    if model is None:
        return None
    _check_nonrobust(estimator)
    kind, family, link = model
    has_intercept = bool(estimator.fit_intercept)
    intercept = 0 if has_intercept else None
    names = _names(has_intercept)
    if kind in ("ols", "ridge"):
        hyper = {"alpha": float(estimator.alpha)} if kind == "ridge" else {}
        fn = _compiled(kind, None, None, intercept, 0.0, 0)
        # Ridge's t degrees of freedom, m - tr(M^-1 X'WX), depend on the data: not given.
        df_resid = _t_dof(estimator, default_t=True) if kind == "ols" else _no_dof
        return PureFit(fn=fn, inputs=("X", "y"), param_names=names, hyper=hyper, df_resid=df_resid)
    max_iter = DEFAULT_GLM_MAX_ITER if estimator.max_iter is None else int(estimator.max_iter)
    fn = _compiled(kind, family, link, intercept, float(estimator.tol), max_iter)
    df_resid = _t_dof(estimator, default_t=False)
    return PureFit(fn=fn, inputs=("X", "y"), param_names=names, df_resid=df_resid)


@functools.lru_cache(maxsize=64)
def _compiled(kind, family, link, intercept, tol, max_iter) -> Callable:
    """The jitted pure fit, differentiable through the optimum, one per model and settings
    (cached, so estimators with equal settings share the compiled kernels)."""
    if kind == "glm":
        fn = _newton_fn(family, link, intercept, tol, max_iter)
    else:
        fn = _least_squares_fn(intercept, ridge=kind == "ridge")
    return _in_x64(jax.jit(implicit_argmin(fn, _loss(kind, family, link, intercept))))


def _in_x64(fn: Callable) -> Callable:
    """``fn`` run under float64: outside a user's jit, numpy inputs then enter as float64
    (the custom JVP of implicit_argmin converts its arguments where it is called)."""

    def wrapped(arrays: tuple, weights: Any, hyper: Mapping[str, Any]) -> FitArrays:
        with x64_context("float64"):
            return fn(arrays, weights, hyper)

    return wrapped


def _no_dof(n: int, p: int) -> None:
    return None


def _t_dof(estimator: Any, default_t: bool) -> Callable[[int, int], int | None]:
    """n - p where the estimator reports t statistics (use_t, or its default), else None."""
    use_t = default_t if estimator.use_t is None else bool(estimator.use_t)
    return (lambda n, p: n - p) if use_t else _no_dof


def regression_loss(estimator: Any) -> Callable[..., jax.Array]:
    r"""``loss(params, arrays, weights, hyper) -> scalar`` whose argmin is the pure fit.

    Least squares :math:`\sum_i w_i (y_i - x_i^\top\beta)^2 + \alpha \sum_{j \ne
    \text{intercept}} \beta_j^2` (no penalty for ``LinearRegression``); GLMs
    :math:`\sum_i w_i \ell(x_i^\top\beta, y_i)`. For implicit differentiation
    through the optimum (:mod:`estimators.implicit`): the fit's sensitivity to
    the data, the weights or ``alpha`` is :math:`-H^{-1} \partial_\theta g`.
    """
    model = _model(estimator)
    if model is None:
        raise SettingsError(
            f"regression_loss does not support {type(estimator).__name__}; supported: "
            + ", ".join(SUPPORTED)
        )
    kind, family, link = model
    return _loss(kind, family, link, 0 if estimator.fit_intercept else None)


def _loss(kind: str, family: str | None, link: str | None, intercept: int | None) -> Callable:
    def loss(params: jax.Array, arrays: tuple, weights: Any, hyper: Mapping[str, Any]):
        X, y = arrays
        w = jnp.ones_like(y) if weights is None else weights
        eta = X @ params
        if kind == "glm":
            fam, lnk = FAMILIES[family], LINKS[link]
            return jnp.sum(w * fam.nll(eta, y, 0.0, lnk))
        value = jnp.sum(w * (y - eta) ** 2)
        if kind == "ridge":
            pen = jnp.array([0.0 if j == intercept else 1.0 for j in range(X.shape[1])])
            value = value + hyper["alpha"] * jnp.sum(pen * params**2)
        return value

    return loss
