r"""Generalised linear models fitted by structured Newton: :class:`GLM` and its thin cousins.

Model: :math:`g(\mu_i) = \eta_i = x_i^\top\beta + o_i` for a family of
:mod:`estimators.families` (gaussian, binomial, poisson, gamma, negative
binomial), with link :math:`g` and offset :math:`o_i` (``offset=``, or
``exposure=`` for :math:`o_i = \log t_i` under a log link). The estimate
minimises the weighted mean per-row negative log-likelihood

.. math::  f(\beta) = \frac{\sum_i w_i\,\ell(\eta_i, y_i)}{\sum_i w_i}
           \;-\; \text{const},

(the constant makes :math:`f` half the mean deviance; see
:func:`estimators.families.saturated_nll`) by Newton's method in one compiled
loop (:func:`estimators.minimize` with ``solver="newton"``). Value and gradient
:math:`\sum_i w_i \ell'(\eta_i) x_i / \sum_i w_i` come from one pass over row
blocks of X; the Hessian is assembled from its structure,

.. math::  \nabla^2 f = \frac{X^\top \operatorname{diag}(w_i\,\ell''(\eta_i))\,X}{\sum_i w_i},
           \qquad \ell''(\eta) = \partial^2 \ell / \partial\eta^2

with :math:`\ell'` and :math:`\ell''` by autodiff of the scalar per-row loss
(``jax.grad`` once and twice, vmapped) and the product accumulated over row
blocks (one small GEMM per block) rather than ``jax.hessian`` of the whole loss.
Columns are scaled by powers of two (exact) so that every column's largest
absolute value lies in [1/2, 1): Newton does not care in exact arithmetic,
but the eigenvalue floor of the solver and the final matrix inverse do.

Inference follows statsmodels' ``GLM``: the covariance is the inverse of the
Hessian of the total negative log-likelihood (``information="observed"``,
statsmodels' ``method="newton"`` fits) or of its expectation
(``information="expected"``, statsmodels' default IRLS fits; the two agree for
canonical links), times the dispersion :math:`\hat\phi = \chi^2_{\text{Pearson}}
/ (n - p)` for the gaussian and gamma families; statistics are z.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import optimize

from .base import DesignInfo, FitResult, RegressionEstimator
from .errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError
from .families import FAMILIES, LINKS, Family, Link, saturated_nll
from .frame import (
    Design,
    _as_float_matrix,
    _as_float_vector,
    as_design,
    collinear_columns,
    predict_matrix,
)
from .solve import Status, minimize, x64_context

INFORMATION = ("observed", "expected")
_CHUNK = 2048  # rows per GEMM block in X^T W X: 2048 x 21 float64 = 344 kB, cache-sized
# A fitted probability (or count mean) this close to its boundary, or a fit that did
# not converge, triggers the exact separation check (a linear program), which decides.
# Finite MLEs rarely come this close, so the check rarely runs when it is not needed.
_SEPARATION_TRIGGER = 1e-8


class PerfectSeparationWarning(ConvergenceWarning):
    """The responses are (quasi-)perfectly separated: the MLE does not exist.

    Some combination of the columns predicts a set of observations exactly
    (probability 0 or 1, or a count mean of 0), so the likelihood keeps
    increasing as coefficients grow without bound. The fit stops with finite
    but meaningless coefficients, flagged ``converged_ = False``.
    """


# --------------------------------------------------------------------------- kernels
# The compiled Newton loop is cached per (loss, hessian) function object, so the
# functions are built once per (family, link, alpha mode) and reused.


def _row_chunks(fn, arrays, weights, chunk: int = _CHUNK):
    """Sum ``fn(*row_block, block_weights)`` over blocks of rows, in one fori_loop.

    The last block is aligned to end at row n (overlapping the one before) and
    the rows it repeats get weight 0, so one copy of ``fn`` serves every block:
    half the code to compile of a separate remainder block, and no padded copy
    of the data.
    """
    n = arrays[0].shape[0]
    chunk = min(chunk, n)
    n_blocks = -(-n // chunk)
    rows = jnp.arange(chunk)

    def block(i):
        start = jnp.minimum(i * chunk, n - chunk)
        parts = [jax.lax.dynamic_slice_in_dim(a, start, chunk) for a in arrays]
        w = jax.lax.dynamic_slice_in_dim(weights, start, chunk)
        return fn(*parts, jnp.where(start + rows >= i * chunk, w, 0.0))

    if n_blocks == 1:
        return block(0)
    first = block(0)
    return jax.lax.fori_loop(
        1, n_blocks, lambda i, acc: jax.tree.map(jnp.add, acc, block(i)), first
    )


def _gram(x, v):
    # X^T diag(v) X of one block; (x * v).T @ x is a plain GEMM on XLA:CPU.
    return (x * v[:, None]).T @ x


@functools.cache
def _row_derivatives(family_name: str, link_name: str, estimate_alpha: bool):
    r"""The per-row loss :math:`\ell(\eta, y, \log\alpha)` and its derivatives, vmapped over rows.

    ``d1``: :math:`\partial\ell/\partial\eta` (and :math:`\partial\ell/\partial
    \log\alpha` when alpha is estimated); ``d2``: :math:`\partial^2\ell/\partial
    \eta^2`; ``hess2``: the 2 x 2 Hessian in :math:`(\eta, \log\alpha)`. All by
    autodiff (``jax.grad`` twice) of the scalar per-row loss of the family.
    """
    family, link = FAMILIES[family_name], LINKS[link_name]

    def row_nll(eta, y, log_alpha):
        return family.nll(eta, y, log_alpha, link)

    rows = {"in_axes": (0, 0, None)}
    argnums = (0, 2) if estimate_alpha else 0
    d1 = jax.vmap(jax.grad(row_nll, argnums=argnums), **rows)
    d2 = jax.vmap(jax.grad(jax.grad(row_nll)), **rows)
    hess2 = jax.vmap(jax.hessian(row_nll, argnums=(0, 2)), **rows)
    return row_nll, d1, d2, hess2


@functools.cache
def _kernels(family_name: str, link_name: str, estimate_alpha: bool):
    r"""Loss and its (observed) Hessian for one model, in the solver's scaled coordinates.

    Both take ``(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift)``
    with ``wn = w / sum(w)`` and ``params = {"coef": gamma}`` (plus ``"log_alpha"``
    when alpha is estimated); the coefficients are ``beta = col_scale * gamma``.

    The loss carries a custom VJP: its value and gradient
    :math:`\sum_i w_i \ell'(\eta_i) x_i` come from ONE pass over the row
    blocks of X (``l'`` by autodiff of the per-row loss), where plain autodiff
    makes a second pass whose ``r @ X`` runs several times slower than a
    blocked one on XLA:CPU. (So the loss supports reverse mode only; the
    Hessian is the structured one below.)
    """
    row_nll, d1_nll, d2_nll, hess2_nll = _row_derivatives(family_name, link_name, estimate_alpha)

    def log_alpha_of(params, log_alpha_fixed):
        return params["log_alpha"] if estimate_alpha else log_alpha_fixed

    def value(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)

        def block(x, yb, ob, wb):
            return wb @ row_nll(x @ beta + ob, yb, log_alpha)

        return _row_chunks(block, (X, y, offset), wn) - shift

    def value_and_grad(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        # Same blocks and the same summation order as value(): the two agree to the
        # last bit, which the line search's comparisons rely on.
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)

        def block(x, yb, ob, wb):
            eta = x @ beta + ob
            d1 = d1_nll(eta, yb, log_alpha)
            d_eta, d_alpha = d1 if estimate_alpha else (d1, jnp.zeros_like(d1))
            return wb @ row_nll(eta, yb, log_alpha), (wb * d_eta) @ x, wb @ d_alpha

        total, g_beta, g_alpha = _row_chunks(block, (X, y, offset), wn)
        grads = {"coef": col_scale * g_beta}
        if estimate_alpha:
            grads["log_alpha"] = g_alpha
        return total - shift, grads

    loss = jax.custom_vjp(value)

    def loss_bwd(grads, cotangent):
        return (jax.tree.map(lambda g: cotangent * g, grads),) + (None,) * 7

    loss.defvjp(value_and_grad, loss_bwd)

    def hessian(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)
        outer = col_scale[:, None] * col_scale[None, :]
        if not estimate_alpha:

            def block(x, yb, ob, wb):
                eta = x @ beta + ob
                return _gram(x, wb * d2_nll(eta, yb, log_alpha))

            gram = _row_chunks(block, (X, y, offset), wn)
            return outer * (gram + gram.T) / 2

        def block(x, yb, ob, wb):
            eta = x @ beta + ob
            (h_ee, h_ea), (_, h_aa) = hess2_nll(eta, yb, log_alpha)
            return _gram(x, wb * h_ee), (wb * h_ea) @ x, wb @ h_aa

        gram, cross, h_aa = _row_chunks(block, (X, y, offset), wn)
        cross = col_scale * cross
        top = jnp.concatenate([outer * (gram + gram.T) / 2, cross[:, None]], axis=1)
        bottom = jnp.concatenate([cross, h_aa[None]])[None, :]
        return jnp.concatenate([top, bottom], axis=0)

    return loss, hessian


@functools.cache
def _row_curvature(family_name: str, link_name: str, estimate_alpha: bool, expected: bool):
    r"""Jitted per-row second derivatives of the loss in eta (and log alpha), for the covariance.

    Returns ``(n,)`` values of :math:`\ell''(\eta_i)`, or ``(n, 3)`` columns
    :math:`(\ell_{\eta\eta}, \ell_{\eta a}, \ell_{aa})` when alpha is estimated.
    The information is assembled from them by :func:`_weighted_gram`, which is
    compiled once per shape whatever the model: together far less compile time
    than a second, model-specific Hessian kernel.
    """
    _, _, d2, hess2 = _row_derivatives(family_name, link_name, estimate_alpha)
    link = LINKS[link_name]
    if estimate_alpha:

        def curvature(eta, y, log_alpha):
            (h_ee, h_ea), (_, h_aa) = hess2(eta, y, log_alpha)
            return jnp.stack([h_ee, h_ea, h_aa], axis=1)

    else:

        def curvature(eta, y, log_alpha):
            # Expected information: l'' at y = mu(eta) (E[l'] = 0 leaves
            # E[l''] = mu'(eta)^2 / V(mu) for an exponential family).
            return d2(eta, link.mean(eta) if expected else y, log_alpha)

    return jax.jit(curvature)


@functools.cache
def _jitted_mean(link_name: str):
    return jax.jit(LINKS[link_name].mean)


def _mean_of(link: Link, eta: np.ndarray) -> np.ndarray:
    """Inverse link in float64 (JAX, so fit and predict share one definition)."""
    with x64_context("float64"):
        return np.asarray(_jitted_mean(link.name)(np.asarray(eta, dtype=np.float64)))


@jax.jit
def _weighted_gram(X: jax.Array, v: jax.Array) -> jax.Array:
    """X^T diag(v) X by row blocks (one compile per shape, whatever the model)."""
    gram = _row_chunks(_gram, (X,), v)
    return (gram + gram.T) / 2


@jax.jit
def _weighted_column_sums(X: jax.Array, v: jax.Array) -> jax.Array:
    """X^T v by row blocks (a blocked r @ X is several times faster on XLA:CPU)."""
    return _row_chunks(lambda x, vb: vb @ x, (X,), v)


@jax.jit
def _linear_predictor(X: jax.Array, beta: jax.Array, offset: jax.Array) -> jax.Array:
    return X @ beta + offset


def _column_scale(X: np.ndarray) -> np.ndarray:
    """Powers of two bringing each column's largest |value| into [1/2, 1) (1 for zero columns)."""
    largest = np.maximum(np.max(X, axis=0, initial=0.0), -np.min(X, axis=0, initial=0.0))
    _, exponent = np.frexp(largest)
    return np.where(largest > 0, np.ldexp(1.0, -exponent), 1.0)


# --------------------------------------------------------------------------- design


@dataclasses.dataclass(frozen=True)
class OffsetDesign(Design):
    """A :class:`~estimators.frame.Design` with an offset (zeros when none was given)."""

    offset: np.ndarray | None = None


def _rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    labels = [repr(label) for label in index[mask][:limit]]
    return ", ".join(labels) + (", ..." if mask.sum() > limit else "")


def _offset_values(values: Any, name: str, n: int, missing: str) -> np.ndarray:
    """A numeric vector of length n without infinities; NaN only with missing='drop'."""
    if values is None:
        return np.zeros(n)
    raw, _ = _as_float_vector(values, name)
    if raw.size != n:
        raise DataError(f"{name} has {raw.size} rows but X has {n}")
    infinite = np.isinf(raw)
    if infinite.any():
        raise DataError(f"{name} has {int(infinite.sum())} infinite value(s) out of {n} rows")
    nan = np.isnan(raw)
    if nan.any() and missing == "raise":
        raise DataError(
            f"{name} has {int(nan.sum())} missing (NaN) value(s) out of {n} rows; "
            "pass missing='drop' to leave those rows out"
        )
    return raw


def _input_index(X: Any, y: Any, n: int) -> pd.Index:
    """The row labels as_design uses: X's index, else y's, else positions."""
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.index
    if isinstance(y, pd.Series | pd.DataFrame):
        return y.index
    return pd.RangeIndex(n)


def _kept_positions(X: Any, y: Any, design: Design, n: int) -> np.ndarray:
    """Positions (in the input) of the rows as_design kept: those without a NaN in X or y."""
    if design.n_dropped == 0:
        return np.arange(n)
    matrix = _as_float_matrix(X)[0]
    y_values, _ = _as_float_vector(y, design.response)
    return np.flatnonzero(~(np.isnan(matrix).any(axis=1) | np.isnan(y_values)))


def offset_design(
    X: Any,
    y: Any,
    *,
    sample_weight: Any,
    offset: Any,
    exposure: Any,
    missing: str,
    fit_intercept: bool,
    log_link: bool,
) -> OffsetDesign:
    r"""Validate a GLM problem: :func:`~estimators.frame.as_design` plus offset and exposure.

    The offset used is ``offset + log(exposure)``; ``exposure`` must be finite
    and > 0 and needs a log link (only there does it multiply the mean).
    Rows whose offset or exposure is NaN follow the ``missing`` policy, like
    rows with a NaN in X or y.
    """
    if exposure is not None and not log_link:
        raise SettingsError(
            "exposure= multiplies the mean only under a log link; use link='log' or "
            "pass an offset on the scale of the linear predictor instead"
        )
    design = as_design(
        X, y, sample_weight=sample_weight, missing=missing, fit_intercept=fit_intercept
    )
    if offset is None and exposure is None:
        return OffsetDesign(**_fields(design), offset=np.zeros(len(design.y)))
    n = len(design.y) + design.n_dropped
    total = _offset_values(offset, "offset", n, missing)
    if exposure is not None:
        raw = _offset_values(exposure, "exposure", n, missing)
        bad = raw <= 0
        if bad.any():
            raise DataError(
                f"exposure has {int(bad.sum())} value(s) <= 0 out of {n} rows "
                f"(rows {_rows(_input_index(X, y, n), bad)}); exposure must be > 0"
            )
        total = total + np.log(raw)
    total = total[_kept_positions(X, y, design, n)]
    nan = np.isnan(total)
    if nan.any():  # missing == "drop" here (otherwise _offset_values raised)
        keep = ~nan
        if not keep.any():
            raise DataError(f"no rows left: all {len(total)} rows have a missing offset")
        design = dataclasses.replace(
            design,
            X=design.X[keep],
            y=design.y[keep],
            weights=design.weights[keep],
            index=design.index[keep],
            n_dropped=design.n_dropped + int(nan.sum()),
        )
        total = total[keep]
    return OffsetDesign(**_fields(design), offset=total)


def _fields(design: Design) -> dict[str, Any]:
    return {f.name: getattr(design, f.name) for f in dataclasses.fields(Design)}


# --------------------------------------------------------------------------- separation


def _boundary_direction(family: Family, y: np.ndarray) -> np.ndarray:
    """Per row: +1 / -1 where eta may run to +inf / -inf and fit y better, else 0."""
    if family.boundary == "both":
        return np.where(y == 1, 1.0, np.where(y == 0, -1.0, 0.0))
    if family.boundary == "zero":
        return np.where(y == 0, -1.0, 0.0)
    return np.zeros_like(y)


def _near_boundary(family: Family, y: np.ndarray, mu: np.ndarray, direction: np.ndarray):
    """Rows whose fitted mean is within _SEPARATION_TRIGGER of the boundary they point to."""
    if family.boundary == "both":
        gap = np.where(direction > 0, 1 - mu, mu)
    else:
        gap = mu
    return (direction != 0) & (gap < _SEPARATION_TRIGGER)


def separating_direction(
    X: np.ndarray, direction: np.ndarray, weights: np.ndarray
) -> np.ndarray | None:
    r"""A direction :math:`b \ne 0` that separates the data, by linear programming, or None.

    Separation (Albert and Anderson, 1984; Konis, 2007) means some :math:`b`
    has :math:`d_i x_i^\top b \ge 0` for every row with a boundary direction
    :math:`d_i = \pm 1` (binomial: :math:`d_i = +1` for :math:`y_i = 1`,
    :math:`-1` for :math:`y_i = 0`; counts: :math:`-1` for :math:`y_i = 0`),
    :math:`x_i^\top b = 0` for the other rows, and strict inequality somewhere:
    moving along :math:`b` then improves the likelihood for ever. The linear
    program maximises :math:`\sum_i d_i x_i^\top b` over :math:`b \in [-1, 1]^p`
    (columns scaled to a largest absolute value of 1) under those constraints;
    its optimum is 0 exactly when there is no separation.
    """
    used = weights > 0
    X, direction = X[used], direction[used]
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    free = direction != 0
    if not free.any():
        return None
    # d_i x_i b >= 0  <=>  -d_i x_i b <= 0
    signed = direction[free, None] * Xs[free]
    fixed = Xs[~free]
    result = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(signed)),
        A_eq=fixed if len(fixed) else None,
        b_eq=np.zeros(len(fixed)) if len(fixed) else None,
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
        # HiGHS' default feasibility tolerance (1e-7) is looser than the check below.
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if result.status != 0:
        return None
    b = result.x
    margins = signed @ b
    # Accept only a direction that really separates: every constraint met to rounding
    # level, and some row strictly on its side.
    tiny = 1e-8 * max(1.0, float(np.max(np.abs(margins))))
    if margins.max() <= 1e-6 or margins.min() < -tiny:
        return None
    if len(fixed) and np.max(np.abs(fixed @ b)) > tiny:
        return None
    return b / scale


# --------------------------------------------------------------------------- statistics


def goodness_of_fit(
    family: Family,
    link: Link,
    y: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    alpha: float | None,
    n_params: int,
) -> dict[str, float]:
    r"""``llf_``, ``deviance_``, ``pearson_chi2_``, ``scale_``, ``aic_``, ``bic_`` as statsmodels.

    - deviance :math:`D = \sum_i w_i d_i`; Pearson :math:`\chi^2 = \sum_i w_i
      (y_i - \mu_i)^2 / V(\mu_i)`;
    - scale :math:`\hat\phi = \chi^2 / (n - p)` (gaussian, gamma) or 1;
    - llf at :math:`\hat\phi`, except the gaussian identity model, whose llf is
      the concentrated one, at the ML variance :math:`\sum_i w_i (y_i-\mu_i)^2/n`;
    - aic :math:`= -2\,\text{llf} + 2k`, bic :math:`= -2\,\text{llf} + k\log n`
      (statsmodels' ``bic_llf``), :math:`k` = ``n_params`` (the dispersion is
      not counted), :math:`n = \sum_i w_i`.
    """
    nobs = float(np.sum(w))
    with np.errstate(divide="ignore", invalid="ignore"):  # mu at 0 or 1 under separation
        pearson = float(np.sum(w * (y - mu) ** 2 / family.variance(mu, alpha)))
        deviance = float(np.sum(w * family.deviance_obs(y, mu, alpha)))
        scale = 1.0
        if family.estimates_scale:  # n_params = p here: no alpha
            scale = pearson / (nobs - n_params) if nobs > n_params else np.nan
        scale_llf = scale
        if family.name == "gaussian" and link.name == "identity":
            scale_llf = float(np.sum(w * (y - mu) ** 2) / nobs)
        llf = float(np.sum(w * family.loglike_obs(y, mu, scale_llf, alpha)))
    return {
        "llf_": llf,
        "deviance_": deviance,
        "pearson_chi2_": pearson,
        "scale_": float(scale),
        "aic_": -2 * llf + 2 * n_params,
        "bic_": -2 * llf + n_params * np.log(nobs),
    }


# --------------------------------------------------------------------------- estimator


class GLM(RegressionEstimator):
    r"""Generalised linear model, fitted by maximum likelihood with structured Newton.

    .. math::  g(E[y_i]) = x_i^\top\beta + o_i, \qquad
               \hat\beta = \arg\min_\beta \sum_i w_i\,\ell(x_i^\top\beta + o_i,\ y_i)

    Parameters
    ----------
    family : ``"gaussian"`` (default), ``"binomial"``, ``"poisson"``, ``"gamma"``
        or ``"negative_binomial"`` (NB2: :math:`V(\mu) = \mu + \alpha\mu^2`).
    link : ``None`` (the family's default: identity, logit, log, inverse, log)
        or a name: binomial ``"logit"``, ``"probit"``, ``"cloglog"``; gamma
        ``"inverse"``, ``"log"``; poisson and negative binomial ``"log"``;
        gaussian ``"identity"``.
    fit_intercept : add a column of ones named ``Intercept`` (default True).
    alpha : negative binomial only. ``None`` (default): estimated by maximum
        likelihood jointly with :math:`\beta` (statsmodels'
        ``discrete_model.NegativeBinomial``, NB2), reported as the last
        parameter ``alpha`` with its standard error; a positive number: held
        fixed (statsmodels' ``GLM(family=NegativeBinomial(alpha=...))``).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN in X, y,
        offset or exposure.
    tol : accuracy in standard errors: the fit stops when the Newton
        decrement puts the estimate within about ``tol`` standard errors of the
        exact maximiser (``minimize(tol=tol**2 / n)``). Default ``1e-8``.
    max_iter : Newton iteration limit (default 100).
    information : ``"observed"`` (default): covariance from the Hessian of the
        negative log-likelihood, as statsmodels' ``GLM.fit(method="newton")``
        and ``NegativeBinomial``; ``"expected"``: from the Fisher information,
        as statsmodels' default IRLS fit. They coincide for canonical links
        (logit, log for poisson, identity, inverse for gamma).

    The response must be in [0, 1] for the binomial family (0/1 outcomes, or
    proportions of successes with ``sample_weight`` = numbers of trials),
    non-negative integers for poisson and negative binomial, and positive for
    gamma. ``sample_weight`` are frequency weights (:math:`n = \sum_i w_i`).

    Learned attributes (besides those of every regression estimator):
    ``llf_`` (log-likelihood; for the gaussian identity model at the maximum
    likelihood variance, otherwise at ``scale_``: statsmodels' ``llf``),
    ``deviance_`` (:math:`\sum_i w_i d_i`), ``pearson_chi2_``, ``scale_``
    (dispersion :math:`\hat\phi`: Pearson :math:`\chi^2/(n-p)` for gaussian and
    gamma, else 1), ``aic_`` (:math:`-2\,\text{llf} + 2k`), ``bic_``
    (:math:`-2\,\text{llf} + k \log n`, statsmodels' ``bic_llf``, its ``bic``
    since 0.14), with :math:`k` the number of mean parameters (plus one for an
    estimated alpha; the dispersion is not counted, as in statsmodels),
    ``alpha_`` (negative binomial), ``mu_`` (fitted means), ``separated_``
    (True when perfect separation was detected: then a
    :class:`PerfectSeparationWarning` and ``converged_ = False``).
    ``history_`` holds the loss (half the mean deviance; the mean negative
    log-likelihood for the negative binomial with estimated alpha) and the
    gradient norm in the solver's column-scaled coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    >>> y = np.array([1.0, 0.0, 2.0, 4.0, 7.0])
    >>> m = GLM("poisson").fit(x, y)
    >>> m.params_.round(6).tolist()
    [-0.745683, 0.677524]
    """

    def __init__(
        self,
        family: str = "gaussian",
        link: str | None = None,
        *,
        fit_intercept: bool = True,
        alpha: float | None = None,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
    ):
        self.family = family
        self.link = link
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.missing = missing
        self.tol = tol
        self.max_iter = max_iter
        self.information = information

    # ------------------------------------------------------------ settings
    def _model(self) -> tuple[Family, Link]:
        if self.family not in FAMILIES:
            raise SettingsError(
                f"unknown family {self.family!r}; valid families are {list(FAMILIES)}"
            )
        family = FAMILIES[self.family]
        link = family.default_link if self.link is None else self.link
        if link not in family.links:
            known = "" if link in LINKS else f"unknown link {link!r}; "
            raise SettingsError(
                f"{known}link {link!r} is not available for the {family.name} family; "
                f"valid links are {list(family.links)}"
            )
        return family, LINKS[link]

    def _check_settings(self) -> None:
        family, _ = self._model()
        if self.alpha is not None:
            if family.name != "negative_binomial":
                raise SettingsError(
                    f"alpha is the negative binomial dispersion; the {family.name} family "
                    "has none (leave alpha=None)"
                )
            if not (isinstance(self.alpha, int | float) and 0 < self.alpha < np.inf):
                raise SettingsError(f"alpha must be a positive number or None, got {self.alpha!r}")
        if self.information not in INFORMATION:
            raise SettingsError(
                f"unknown information={self.information!r}; valid values are {list(INFORMATION)}"
            )
        if self.information == "expected" and self._estimates_alpha(family):
            raise SettingsError(
                "information='expected' needs a fixed alpha for the negative binomial; with "
                "alpha estimated the covariance is the observed information (as statsmodels' "
                "NegativeBinomial)"
            )
        if not (isinstance(self.tol, int | float) and self.tol > 0):
            raise SettingsError(f"tol must be a positive number, got {self.tol!r}")
        if self.max_iter is not None and not (
            isinstance(self.max_iter, int | np.integer) and self.max_iter >= 0
        ):
            raise SettingsError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise SettingsError(f"fit_intercept must be True or False, got {self.fit_intercept!r}")

    def _estimates_alpha(self, family: Family) -> bool:
        return family.name == "negative_binomial" and self.alpha is None

    def _check_response(self, design: Design) -> None:
        family, _ = self._model()
        y, name, n = design.y, design.response, len(design.y)
        if family.name == "binomial":
            bad, rule = (
                (y < 0) | (y > 1),
                (
                    "in [0, 1] for the binomial family (0/1 outcomes, or proportions of "
                    "successes with sample_weight = numbers of trials)"
                ),
            )
        elif family.name in ("poisson", "negative_binomial"):
            bad, rule = (
                (y < 0) | (y != np.floor(y)),
                (f"a non-negative integer (a count) for the {family.name} family"),
            )
        elif family.name == "gamma":
            bad, rule = y <= 0, "positive for the gamma family"
        else:
            return
        if bad.any():
            raise DataError(
                f"{name} must be {rule}: {int(bad.sum())} of {n} rows are not "
                f"(rows {_rows(design.index, bad)}; first value {y[bad][0]!r})"
            )

    # ------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        offset: Any = None,
        exposure: Any = None,
    ) -> GLM:
        """Fit to ``X`` (array or DataFrame) and ``y``; optional offset / exposure per row.

        ``offset`` is added to the linear predictor; ``exposure`` (log links
        only, > 0) adds ``log(exposure)``, so the mean is proportional to it.
        """
        self._check_settings()
        family, link = self._model()
        design = offset_design(
            X,
            y,
            sample_weight=sample_weight,
            offset=offset,
            exposure=exposure,
            missing=self.missing,
            fit_intercept=self.fit_intercept,
            log_link=link.name == "log",
        )
        self._check_response(design)
        result = self._fit_design(design)
        separated = bool(result.attributes.get("separated_", False))
        if not separated or result.solution.status == Status.NONFINITE:
            self._check_solution(result.solution)  # separation has its own warning
        names = list(design.names) + (["alpha"] if self._estimates_alpha(family) else [])
        self._store_fit(
            params=pd.Series(np.asarray(result.params, dtype=float), index=names, name="estimate"),
            cov=pd.DataFrame(np.asarray(result.cov, dtype=float), index=names, columns=names),
            solution=result.solution,
            history=result.solution.trace if result.history is None else result.history,
            nobs=design.nobs,
            df_resid=result.df_resid,
            std_errors=result.std_errors,
        )
        self.design_info_ = DesignInfo(
            list(design.names), design.features, design.response, design.fit_intercept
        )
        self.n_dropped_ = design.n_dropped
        for name, value in result.attributes.items():
            setattr(self, name, value)
        if separated:
            self.converged_ = False
        return self

    def _fit_design(self, design: Design) -> FitResult:
        family, link = self._model()
        estimate_alpha = self._estimates_alpha(family)
        offset = getattr(design, "offset", None)
        offset = np.zeros(len(design.y)) if offset is None else offset
        X, y, w = design.X, design.y, design.weights
        col_scale = _column_scale(X)
        wn = w / w.sum()
        alpha_fixed = 1.0 if self.alpha is None else float(self.alpha)
        shift = float(wn @ saturated_nll(family, y, None if estimate_alpha else alpha_fixed))
        params0 = self._start(family, link, design, offset, col_scale, estimate_alpha)
        loss, hessian = _kernels(family.name, link.name, estimate_alpha)
        with x64_context("float64"):
            # device_put of a C-contiguous float64 array is zero-copy on CPU, where
            # the jnp.asarray inside minimize would copy the design on every fit.
            X_dev = jax.device_put(np.ascontiguousarray(X, dtype=np.float64))
            y_dev, wn_dev, offset_dev, *rest = (
                jax.device_put(np.asarray(a, dtype=np.float64))
                for a in (y, wn, offset, col_scale, np.log(alpha_fixed), shift)
            )
        solution = minimize(
            loss,
            params0,
            X_dev,
            y_dev,
            wn_dev,
            offset_dev,
            *rest,
            solver="newton",
            hessian=hessian,
            tol=self.tol**2 / design.nobs,
            max_iter=self.max_iter,
        )
        beta = col_scale * np.asarray(solution.params["coef"], dtype=float)
        log_alpha = float(solution.params["log_alpha"]) if estimate_alpha else np.log(alpha_fixed)
        alpha = float(np.exp(log_alpha)) if family.name == "negative_binomial" else None
        with x64_context("float64"):
            eta = _linear_predictor(X_dev, beta, offset_dev)
            information = self._information(
                family, link, X_dev, y_dev, wn_dev, eta, log_alpha, estimate_alpha
            )
        information = information * design.nobs  # of the total, not the mean, loss
        mu = _mean_of(link, np.asarray(eta))
        separated = self._separation(family, design, mu, solution)
        params = np.append(beta, alpha) if estimate_alpha else beta
        attributes = goodness_of_fit(family, link, y, w, mu, alpha, len(params))
        cov = self._covariance(information, attributes["scale_"], alpha, design, separated)
        attributes.update(
            mu_=pd.Series(mu, index=design.index, name=f"fitted_{design.response}"),
            family_=family.name,
            link_=link.name,
            separated_=separated,
        )
        if alpha is not None:
            attributes["alpha_"] = alpha
        return FitResult(
            params=params, cov=cov, solution=solution, df_resid=None, attributes=attributes
        )

    # ------------------------------------------------------------ helpers
    def _start(self, family, link, design, offset, col_scale, estimate_alpha) -> dict:
        r"""Starting values where statsmodels starts.

        With an intercept and no offset: the intercept-only MLE
        :math:`g(\bar y)` (exact for canonical links). Otherwise one weighted
        least-squares step on the working response :math:`g(\mu_0) - o` from
        statsmodels' starting means :math:`\mu_0 = (y + \bar y)/2`
        (binomial: :math:`(y + 1/2)/2`).
        """
        X, y, w = design.X, design.y, design.weights
        ybar = float(np.sum(w * y) / np.sum(w))
        if family.name == "binomial" and ybar in (0.0, 1.0):
            ybar = 0.25 + 0.5 * ybar  # one outcome only (separated): start inside (0, 1)
        beta = np.zeros(X.shape[1])
        if design.fit_intercept and not np.any(offset):
            beta[0] = float(link.link(np.asarray(ybar)))
        else:
            mu0 = (y + 0.5) / 2 if family.name == "binomial" else (y + ybar) / 2
            z = link.link(mu0) - offset
            root = np.sqrt(w)
            beta = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)[0]
            if not np.all(link.valid(X @ beta + offset)) and design.fit_intercept:
                beta = np.zeros(X.shape[1])
                beta[0] = float(link.link(np.asarray(ybar)))
        params = {"coef": beta / col_scale}
        if estimate_alpha:
            # Method of moments at the starting mean, as statsmodels (floored at 0.05).
            mu = np.exp(X @ beta + offset)
            moment = np.sum(w * ((y - mu) ** 2 - mu) / mu**2) / max(np.sum(w) - X.shape[1], 1)
            params["log_alpha"] = float(np.log(max(moment, 0.05)))
        return params

    def _separation(self, family: Family, design: Design, mu: np.ndarray, solution) -> bool:
        """Detect (quasi-)perfect separation; warn with PerfectSeparationWarning if found."""
        if family.boundary is None:
            return False
        direction = _boundary_direction(family, design.y)
        near = _near_boundary(family, design.y, mu, direction) & (design.weights > 0)
        if not near.any() and solution.converged:
            return False
        b = separating_direction(design.X, direction, design.weights)
        if b is None:
            return False
        margins = direction * (design.X @ b)
        rows = (margins > 1e-8 * np.max(np.abs(margins))) & (design.weights > 0)
        involved = [name for name, value in zip(design.names, b, strict=True) if value != 0]
        what = (
            "fitted probabilities of exactly 0 or 1"
            if family.boundary == "both"
            else "fitted means of exactly 0"
        )
        warnings.warn(
            f"perfect separation in {design.response}: a combination of the columns "
            f"{involved} predicts {int(rows.sum())} of {len(design.y)} rows exactly "
            f"({what} as the coefficients grow without bound), so the maximum likelihood "
            "estimate does not exist. The reported coefficients and standard errors are "
            "not meaningful (converged_ = False); drop or merge the separating columns, or "
            "use a penalised fit.",
            PerfectSeparationWarning,
            stacklevel=4,
        )
        return True

    def _information(self, family, link, X, y, w, eta, log_alpha, estimate_alpha) -> np.ndarray:
        r"""Hessian of the total negative log-likelihood in (beta, log alpha).

        :math:`X^\top \operatorname{diag}(w_i \ell''_i) X`, bordered by the
        :math:`\log\alpha` row and column when alpha is estimated. ``X``, ``y``,
        ``w`` and ``eta`` are device arrays.
        """
        expected = self.information == "expected"
        curvature = _row_curvature(family.name, link.name, estimate_alpha, expected)
        with x64_context("float64"):
            c = curvature(eta, y, log_alpha)
            if not estimate_alpha:
                return np.asarray(_weighted_gram(X, w * c), dtype=float)
            gram = np.asarray(_weighted_gram(X, w * c[:, 0]), dtype=float)
            cross = np.asarray(_weighted_column_sums(X, w * c[:, 1]), dtype=float)
            h_aa = float(jnp.sum(w * c[:, 2]))
        return np.block([[gram, cross[:, None]], [cross[None, :], np.array([[h_aa]])]])

    def _covariance(self, information, scale, alpha, design, separated) -> np.ndarray:
        r"""Covariance :math:`\hat\phi\,J I^{-1} J` of the reported parameters.

        ``information`` is the Hessian of the total negative log-likelihood in
        :math:`(\beta, \log\alpha)`; it is inverted after scaling to unit
        diagonal (equilibration), and :math:`J = \operatorname{diag}(1, \dots,
        1, \alpha)` maps :math:`\log\alpha` to :math:`\alpha` (the delta method,
        exact for the Hessian at a stationary point).
        """
        k = information.shape[0]
        diag = np.diag(information)
        if not np.all(np.isfinite(information)) or np.any(diag <= 0):
            return self._singular(design, separated, k)
        d = 1 / np.sqrt(diag)
        unit = d[:, None] * information * d[None, :]
        eigenvalues = np.linalg.eigvalsh(unit)
        if eigenvalues[0] <= 1e3 * np.finfo(float).eps * eigenvalues[-1]:
            return self._singular(design, separated, k)
        inverse = d[:, None] * np.linalg.inv(unit) * d[None, :]
        inverse = (inverse + inverse.T) / 2
        jac = np.ones(k)
        if k > design.X.shape[1]:
            jac[-1] = alpha
        return scale * jac[:, None] * inverse * jac[None, :]

    def _singular(self, design, separated, k) -> np.ndarray:
        if not separated:
            dependent = collinear_columns(design.X, list(design.names))
            if dependent:
                raise DataError(
                    f"the design is singular: column(s) {dependent} are (numerically) linear "
                    "combinations of the others; drop them"
                )
            warnings.warn(
                "the information matrix is singular at the estimate: standard errors are "
                "reported as NaN",
                InferenceWarning,
                stacklevel=5,
            )
        return np.full((k, k), np.nan)

    # ------------------------------------------------------------ predict
    def predict(self, X: Any, offset: Any = None, exposure: Any = None) -> pd.Series:
        """Predicted mean response :math:`g^{-1}(x^\\top\\hat\\beta + o)` for new ``X``.

        ``offset`` / ``exposure`` for the new rows default to none (0 / 1);
        rows with missing values predict NaN.
        """
        self._check_fitted()
        _, link = self._model()
        if exposure is not None and link.name != "log":
            raise SettingsError("exposure= needs a log link")
        matrix, index = predict_matrix(X, self.design_info_)
        n = matrix.shape[0]
        extra = _offset_values(offset, "offset", n, "drop")
        if exposure is not None:
            raw = _offset_values(exposure, "exposure", n, "drop")
            if np.any(raw <= 0):
                raise DataError(
                    f"exposure has {int(np.sum(raw <= 0))} value(s) <= 0 out of {n} rows; "
                    "exposure must be > 0"
                )
            extra = extra + np.log(raw)
        coef = self.params_[self.design_info_.names].to_numpy()
        return pd.Series(
            _mean_of(link, matrix @ coef + extra),
            index=index,
            name=f"predicted_{self.design_info_.response}",
        )

    def _predict_mean(self, matrix: np.ndarray) -> np.ndarray:
        _, link = self._model()
        return _mean_of(link, matrix @ self.params_[self.design_info_.names].to_numpy())


class LogisticRegression(GLM):
    """Logistic regression: :class:`GLM` with the binomial family and logit link.

    Unpenalised maximum likelihood with statsmodels' standard errors (not
    scikit-learn's default L2 penalty). ``predict`` returns probabilities.
    Under perfect separation the MLE does not exist: see
    :class:`PerfectSeparationWarning`.
    """

    family = "binomial"
    link = "logit"
    alpha = None

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
    ):
        self.fit_intercept = fit_intercept
        self.missing = missing
        self.tol = tol
        self.max_iter = max_iter
        self.information = information


class PoissonRegression(GLM):
    """Poisson regression: :class:`GLM` with the poisson family and log link."""

    family = "poisson"
    link = "log"
    alpha = None

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
    ):
        self.fit_intercept = fit_intercept
        self.missing = missing
        self.tol = tol
        self.max_iter = max_iter
        self.information = information
