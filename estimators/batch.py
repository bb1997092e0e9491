r"""Many fits at once: :func:`fit_groups`, one compiled vmapped call per size bucket.

Every group's fit is a pure array function of its padded rows ``(X_g, y_g,
w_g)``; rows of weight 0 drop out of every sum, so ragged groups are padded
with zero weights to a common length and ``jax.vmap`` fits them together.

**Buckets.** A group of :math:`n_g` rows is padded to :func:`group_bucket`
:math:`(n_g)`: a power of two up to 64 rows, then two buckets an octave
(multiples of :math:`2^{k-2}` for :math:`n_g \in (2^{k-1}, 2^k]`), so the
padding wastes at most a third of the work above 64 rows and a data set of
groups of similar size compiles one kernel. Groups of one bucket are fitted in
chunks of at most :data:`CHUNK_VALUES` design values (a power-of-two number of
groups, at least :data:`MIN_LANES`, padded with empty groups), which bounds
memory and the number of compiles.

**Least squares** (:class:`~estimators.regression.LinearRegression`), per group,
closed form: with an intercept the other columns are centred at their
weighted means (the centred design :math:`Z = X A^{-1}` is far better
conditioned), columns are scaled by powers of two (exact), the normal
equations :math:`Z^\top W Z` are factored by a Cholesky unrolled in jnp ops
(batched LAPACK on tiny matrices is slow; ``../shared/PERFORMANCE.md`` item
8) and the solution gets one corrected semi-normal refinement step. Then

.. math::  s^2 = \frac{\sum_i w_i r_i^2}{m_g - p}, \qquad
           \widehat{\mathrm{Cov}}(\hat\beta) = s^2 (X^\top W X)^{-1},

:math:`m_g` the group's rows of positive weight, t statistics with
:math:`m_g - p` degrees of freedom (z with ``use_t=False``), as
``LinearRegression`` fitted on the group.

**Logistic and Poisson** (:class:`~estimators.glm.LogisticRegression`,
:class:`~estimators.glm.PoissonRegression`, or :class:`~estimators.glm.GLM`
with the binomial/logit or poisson/log model): Newton's method on
:math:`\sum_i w_i \ell(x_i^\top\beta, y_i)` with the exact Hessian
:math:`X^\top \mathrm{diag}(w_i \ell''_i) X` (the per-row derivatives by
autodiff of the family's negative log-likelihood), step halving when the loss
does not decrease, inside one ``lax.while_loop`` whose lanes stop
independently once the Newton decrement :math:`g^\top H^{-1} g \le`
``tol``:sup:`2` (the estimate within ``tol`` standard errors); the step then
computed is still taken, so the answer is quadratically closer. Covariance
:math:`H^{-1}` (canonical links: observed = expected information,
dispersion 1), z statistics (t with :math:`\sum w - p` df with ``use_t=True``).
Groups whose fitted means come within
:data:`~estimators.separation.SEPARATION_TRIGGER` of the boundary, or that do
not converge, are checked for perfect separation by the linear program of
:func:`~estimators.separation.separating_direction`.

**Failures** never raise: a group with fewer rows (of positive weight) than
parameters, a singular design (condition number of the centred, scaled
design above :func:`~estimators.lstsq.rank_limit`), non-convergence or
separation gets NaN estimates, ``converged = False`` and a ``note``; a group
with exactly as many rows as parameters keeps its estimates with NaN standard
errors (no residual degrees of freedom). Other estimators are a
:class:`~estimators.errors.SettingsError` listing the supported ones (no
silent Python-loop fallback).
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from .errors import DataError, SettingsError
from .families import FAMILIES, LINKS, sigmoid
from .frame import INTERCEPT, as_design
from .interop import as_pandas
from .lstsq import condition_number, pow2_at_least
from .separation import SEPARATION_TRIGGER, boundary_direction, separating_direction
from .solve import x64_context

__all__ = ["fit_groups", "group_bucket"]

CHUNK_VALUES = 1 << 21  # design values per compiled call: 16 MB of float64
MIN_LANES = 64  # groups per compiled call at least (empty lanes are cheap, compiles are not)
OLS_BATCH = 128  # groups per lax.map step of the least-squares kernel
NEWTON_BATCH = 512  # groups per lax.map step of the Newton kernel
UNROLL_LIMIT = 12  # up to this many parameters the Cholesky is unrolled in jnp ops
DEFAULT_GLM_MAX_ITER = 100
MAX_HALVINGS = 30
COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]
SUPPORTED = (
    "LinearRegression, LogisticRegression, PoissonRegression, and GLM with "
    "family='binomial' (link 'logit') or family='poisson' (link 'log')"
)

NOTE_FEW_ROWS = "fewer rows with positive weight than parameters"
NOTE_NO_DF = "no residual degrees of freedom: standard errors are NaN"
NOTE_SINGULAR = "singular design (collinear columns in this group)"
NOTE_NOT_CONVERGED = "Newton did not converge"
NOTE_SEPARATED = "perfect separation: the maximum likelihood estimate does not exist"
NOTE_NONFINITE = "the fit became NaN or infinite"


def group_bucket(n: int) -> int:
    """The padded length of a group of ``n`` rows: powers of two to 64, then two an octave.

    Coarse on purpose: each bucket is a compile (about 1.5 s for least squares,
    2.5 s for Newton on the 2-core machine), so fewer buckets win on ragged
    groups; the padding costs at most a third of the work above 64 rows.

    >>> [group_bucket(n) for n in (1, 9, 64, 65, 100, 1000)]
    [1, 16, 64, 96, 128, 1024]
    """
    if n <= 64:
        return 1 << max(n - 1, 0).bit_length()
    step = 1 << ((n - 1).bit_length() - 2)
    return -(-n // step) * step


# --------------------------------------------------------------------------- small linear algebra


def _cholesky_upper(M: jax.Array) -> jax.Array:
    """Upper R with M = R^T R; unrolled in scalar jnp ops for small p (vmapped: vector ops).
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


def _factor(G: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Scales d (powers of two), R^{-1} of the scaled G / (d d^T), and its condition number."""
    d = pow2_at_least(jnp.sqrt(jnp.abs(jnp.diag(G))))
    R = _cholesky_upper(G / jnp.outer(d, d))
    Rinv = _upper_inverse(R)
    return d, R, Rinv, condition_number(R, Rinv)


def _shift_matrix(shift: jax.Array, intercept: int | None, p: int) -> jax.Array:
    """T with beta = T gamma, gamma the coefficients on the centred columns Z = X - 1 shift^T:
    X beta = Z gamma gives beta_j = gamma_j (j != c) and beta_c = gamma_c - shift . gamma."""
    T = jnp.eye(p)
    if intercept is None:
        return T
    return T.at[intercept].add(-shift)


# --------------------------------------------------------------------------- kernels


def _centre(X, w, intercept):
    """The weighted column means to subtract (0 for the intercept column or without one)."""
    if intercept is None:
        return jnp.zeros(X.shape[1])
    mean = (w @ X) / jnp.sum(w)
    return mean.at[intercept].set(0.0)


def _in_batches(fn, size, X, y, w):
    """``fn`` (vmapped over axis 0) on batches of ``size`` groups by ``lax.map``.

    A batch's design stays in cache, and XLA:CPU's batched products of tiny
    matrices run several times faster on a few hundred lanes than on
    thousands (10,000 groups x 128 rows x 6: 0.10 s as one vmap, 0.05 s in
    batches of 128; Newton 1.0 s vs 0.4 s in batches of 512).
    """
    G = X.shape[0]
    size = min(size, G)
    if G % size:
        return jax.vmap(fn)(X, y, w)
    split = lambda a: a.reshape((G // size, size) + a.shape[1:])  # noqa: E731
    out = jax.lax.map(lambda a: jax.vmap(fn)(*a), (split(X), split(y), split(w)))
    return jax.tree.map(lambda o: o.reshape((G,) + o.shape[2:]), out)


@functools.partial(jax.jit, static_argnames=("intercept",))
def _least_squares_lanes(X, y, w, *, intercept):
    """Closed-form weighted least squares for every group (axis 0): coef, cov / s^2, rss, kappa."""

    def one(X, y, w):
        p = X.shape[1]
        shift = _centre(X, w, intercept)
        Z = X - shift
        ybar = 0.0 if intercept is None else (w @ y) / jnp.sum(w)
        yc = y - ybar
        d, _, Rinv, kappa = _factor(jnp.einsum("ni,nj->ij", Z * w[:, None], Z))
        sy = pow2_at_least(jnp.sqrt(w @ (yc * yc)))
        A, b = Z / d, yc / sy
        solve = lambda v: Rinv @ (v @ Rinv)  # noqa: E731  (R^T R)^{-1} v
        x = solve((w * b) @ A)
        x = x + solve((w * (b - A @ x)) @ A)  # corrected semi-normal step
        r = b - A @ x
        gamma = x * sy / d
        T = _shift_matrix(shift, intercept, p)
        coef = T @ gamma
        if intercept is not None:
            coef = coef.at[intercept].add(ybar)
        inner = (Rinv @ Rinv.T) / jnp.outer(d, d)
        return coef, T @ inner @ T.T, (w @ (r * r)) * sy**2, kappa

    return _in_batches(one, OLS_BATCH, X, y, w)


def _canonical_derivatives(link):
    r"""Per-row :math:`\ell'(\eta) = \mu - y` and :math:`\ell''(\eta) = V(\mu)`, canonical link.

    For logit (:math:`V = \mu(1-\mu)`) and log (:math:`V = \mu`) in closed
    form: a second autodiff through the custom JVP of ``softplus`` costs about
    twice as much per Newton iteration and gives the same values.
    """
    if link.name == "logit":
        return (lambda eta, y: sigmoid(eta) - y), (lambda eta, y: sigmoid(eta) * sigmoid(-eta))
    return (lambda eta, y: jnp.exp(eta) - y), (lambda eta, y: jnp.exp(eta))


@functools.partial(jax.jit, static_argnames=("family", "link", "intercept"))
def _newton_lanes(X, y, w, tol, max_iter, *, family, link, intercept):
    """Newton's method for every group (axis 0): coef, cov, n_iter, status, kappa, boundary gap.

    status: 0 converged, 1 max_iter, 2 non-finite.
    """
    fam, lnk = FAMILIES[family], LINKS[link]
    row_nll = lambda eta, y: fam.nll(eta, y, 0.0, lnk)  # noqa: E731
    d1, d2 = _canonical_derivatives(lnk)

    def one(X, y, w):
        p = X.shape[1]
        used = w > 0
        # Centred columns (as least squares): a regressor with a large offset would
        # otherwise make the Hessian ill-conditioned and cost digits in the solve.
        shift = _centre(X, w, intercept)
        Z = X - shift
        c = pow2_at_least(jnp.max(jnp.where(used[:, None], jnp.abs(Z), 0.0), axis=0))
        A = Z / c
        loss = lambda b: jnp.sum(jnp.where(used, w * row_nll(A @ b, y), 0.0))  # noqa: E731
        b0 = jnp.zeros(p)
        if intercept is not None:
            ybar = jnp.clip(
                (w @ y) / jnp.sum(w), 1e-3, 1 - 1e-3 if family == "binomial" else 1e300
            )
            start = jnp.log(ybar) - (jnp.log1p(-ybar) if family == "binomial" else 0.0)
            b0 = b0.at[intercept].set(start * c[intercept])  # the intercept-only fit

        def derivatives(b):
            eta = A @ b
            g = jnp.where(used, w * d1(eta, y), 0.0) @ A
            h = jnp.where(used, w * d2(eta, y), 0.0)
            return g, jnp.einsum("ni,nj->ij", A * h[:, None], A)

        def body(state):
            b, k, _, _ = state
            g, H = derivatives(b)
            d, _, Rinv, _ = _factor(H)
            step = -((Rinv @ ((g / d) @ Rinv)) / d)
            decrement = -(g @ step)
            f0 = loss(b)

            def shorter(t):
                return t * 0.5

            def too_high(t):
                return (loss(b + t * step) > f0 + 1e-12 * jnp.abs(f0)) & (t > 2.0**-MAX_HALVINGS)

            t = jax.lax.while_loop(too_high, shorter, jnp.ones(()))
            b_new = b + t * step
            finite = jnp.all(jnp.isfinite(b_new)) & jnp.isfinite(decrement)
            status = jnp.where(
                ~finite, 2, jnp.where(decrement <= tol**2, 0, jnp.where(k + 1 >= max_iter, 1, -1))
            )
            return b_new, k + 1, status, decrement

        start = (b0, jnp.zeros((), jnp.int32), jnp.full((), -1), jnp.full((), jnp.inf))
        b, k, status, _ = jax.lax.while_loop(lambda s: s[2] < 0, body, start)
        _, H = derivatives(b)
        d, _, Rinv, kappa = _factor(H)
        T = _shift_matrix(shift, intercept, p)
        inner = T @ ((Rinv @ Rinv.T) / jnp.outer(d * c, d * c)) @ T.T
        mu = lnk.mean(A @ b)
        if fam.boundary == "both":
            gap = jnp.where(y == 1, 1 - mu, jnp.where(y == 0, mu, jnp.inf))
        else:
            gap = jnp.where(y == 0, mu, jnp.inf)
        gap = jnp.min(jnp.where(used, gap, jnp.inf))
        return T @ (b / c), inner, k, status, kappa, gap

    return _in_batches(one, NEWTON_BATCH, X, y, w)


# --------------------------------------------------------------------------- the model


def _model(estimator: Any) -> tuple[str, str | None, str | None]:
    """("ols", None, None) or ("glm", family, link); a SettingsError for anything else."""
    from .glm import GLM
    from .regression import LinearRegression

    if type(estimator) is LinearRegression:
        return "ols", None, None
    if isinstance(estimator, GLM):
        family, link = estimator._model()
        if (family.name, link.name) in {("binomial", "logit"), ("poisson", "log")}:
            return "glm", family.name, link.name
        raise SettingsError(
            f"fit_groups does not support GLM with family={family.name!r}, link={link.name!r}; "
            f"supported: {SUPPORTED}"
        )
    raise SettingsError(
        f"fit_groups does not support {type(estimator).__name__}; supported: {SUPPORTED}. "
        "Fit other estimators group by group with DataFrame.groupby"
    )


def _check_estimator(estimator: Any, kind: str) -> None:
    estimator._check_settings()
    if getattr(estimator, "cov_type", "nonrobust") != "nonrobust":
        raise SettingsError(
            f"fit_groups computes the nonrobust covariance only, got cov_type="
            f"{estimator.cov_type!r}; fit robust covariances group by group"
        )


def _column(data: pd.DataFrame, name: Any, argument: str) -> None:
    if name not in data.columns:
        close = difflib.get_close_matches(str(name), [str(c) for c in data.columns], n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise DataError(
            f"{argument}={name!r} is not a column of the data{hint} "
            f"(columns: {list(data.columns)[:20]})"
        )


# --------------------------------------------------------------------------- inputs


def _inputs(estimator, data, formula, columns, response, sample_weight, keys):
    """The validated Design (missing policy applied) and the group keys of its rows."""
    weights = None if sample_weight is None else data[sample_weight]
    if formula is not None:
        if columns is not None or response is not None:
            raise SettingsError("give either formula= or columns= and response=, not both")
        from .formula import formula_rows

        expanded = formula_rows(data, formula, missing=estimator.missing)
        if expanded.offset is not None:
            raise SettingsError(f"fit_groups does not support offset() terms ({formula!r})")
        rows = expanded.rows
        X, y, fit_intercept = expanded.X, expanded.y, False
    else:
        if columns is None or response is None:
            raise SettingsError("give formula=, or columns= (a list of names) and response=")
        columns = [columns] if isinstance(columns, str) else list(columns)
        for name in columns:
            _column(data, name, "columns")
        _column(data, response, "response")
        rows = np.arange(len(data))
        X, y = data[columns], data[response]
        fit_intercept = bool(estimator.fit_intercept)
    w = None if weights is None else weights.iloc[rows].set_axis(X.index)
    design = as_design(
        X,
        y,
        sample_weight=w,
        missing=estimator.missing,
        fit_intercept=fit_intercept,
        check_rows=False,
    )
    if design.keep is not None:
        rows = rows[design.keep]
    return design, keys.iloc[rows].reset_index(drop=True)


# --------------------------------------------------------------------------- driver


def fit_groups(
    estimator: Any,
    data: pd.DataFrame,
    by: str | list[str],
    *,
    formula: str | None = None,
    columns: str | list[str] | None = None,
    response: str | None = None,
    sample_weight: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Fit ``estimator`` to every group of ``data`` (rows sharing the values of ``by``).

    The design is built once for the whole frame (``formula=`` through
    formulaic, so categorical levels and their columns are the same in every
    group; or ``columns=`` plus ``response=``, with an ``Intercept`` column
    when ``estimator.fit_intercept``), the estimator's ``missing`` policy
    applies to the whole frame, and rows with a missing key are left out (as
    ``DataFrame.groupby``). ``sample_weight`` names a column of weights
    (precision weights for least squares, frequency weights for GLMs, as the
    estimators). See the module docstring for the maths and the buckets.

    Returns a tidy DataFrame, one row per group and term, groups in sorted key
    order: the key column(s), ``term``, ``estimate``, ``std_error``,
    ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper`` (level
    ``1 - alpha``), ``n_obs`` (rows of positive weight), ``converged`` and
    ``note`` (empty when all is well).

    >>> import pandas as pd
    >>> from estimators.regression import LinearRegression
    >>> df = pd.DataFrame({"g": list("aaabbb"), "x": [0.0, 1, 2, 0, 1, 2],
    ...                    "y": [1.0, 3, 5, 2, 2, 2.5]})
    >>> out = fit_groups(LinearRegression(), df, "g", columns="x", response="y")
    >>> out[["g", "term"]].values.tolist(), out["estimate"].round(6).tolist()
    ([['a', 'Intercept'], ['a', 'x'], ['b', 'Intercept'], ['b', 'x']], [1.0, 2.0, 1.916667, 0.25])
    """
    kind, family, link = _model(estimator)
    _check_estimator(estimator, kind)
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha!r}")
    data = as_pandas(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    by = list(by) if isinstance(by, list | tuple) else [by]
    if not by:
        raise SettingsError("by must name at least one column")
    for name in by:
        _column(data, name, "by")
    if sample_weight is not None:
        _column(data, sample_weight, "sample_weight")
    missing_key = data[by].isna().any(axis=1).to_numpy()
    if missing_key.all():
        raise DataError(f"the group keys {by} are missing in all {len(data)} rows")
    data = data.loc[~missing_key] if missing_key.any() else data
    design, keys = _inputs(estimator, data, formula, columns, response, sample_weight, data[by])
    if kind == "glm":
        estimator._check_response(design)
    codes = keys.groupby(by, sort=True, dropna=True).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1
    first = np.full(n_groups, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    group_keys = keys.iloc[first].reset_index(drop=True)
    out = _fit_all(estimator, kind, family, link, design, codes, n_groups)
    return _tidy(out, design.names, group_keys, by, alpha, kind, estimator)


def _fit_all(estimator, kind, family, link, design, codes, n_groups) -> dict[str, np.ndarray]:
    """Per group: coef, cov, n_obs, df, converged, note; bucket by bucket, chunk by chunk."""
    X, y, w = design.X, design.y, design.weights
    p = X.shape[1]
    intercept = _intercept_index(X, design.names)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_obs = np.bincount(codes, weights=(w > 0).astype(float), minlength=n_groups).astype(int)
    coef = np.full((n_groups, p), np.nan)
    cov = np.full((n_groups, p, p), np.nan)
    status = np.zeros(n_groups, int)
    extra = {"kappa": np.full(n_groups, np.nan), "rss": np.full(n_groups, np.nan)}
    extra["gap"] = np.full(n_groups, np.inf)
    buckets = np.array([group_bucket(int(s)) for s in sizes])
    for length in np.unique(buckets):
        members = np.flatnonzero(buckets == length)
        chunk = max(1, 1 << int(np.log2(max(1, CHUNK_VALUES // (length * p)))))
        for lo in range(0, len(members), chunk):
            groups = members[lo : lo + chunk]
            # a power of two (at least MIN_LANES) of lanes: few shapes, few compiles
            lanes = min(chunk, max(MIN_LANES, 1 << max(len(groups) - 1, 0).bit_length()))
            Xb, yb, wb = _padded(X, y, w, order, starts, sizes, groups, length, lanes)
            res = _run(estimator, kind, family, link, intercept, Xb, yb, wb)
            k = len(groups)
            coef[groups], cov[groups] = res["coef"][:k], res["cov"][:k]
            status[groups] = res["status"][:k]
            for key in ("kappa", "rss", "gap"):
                if key in res:
                    extra[key][groups] = res[key][:k]
    return _judge(kind, family, design, order, starts, sizes, coef, cov, status, n_obs, extra)


def _intercept_index(X: np.ndarray, names: list[str]) -> int | None:
    """The intercept column (named, or any column of ones) to centre the others about."""
    if INTERCEPT in names:
        return names.index(INTERCEPT)
    ones = np.flatnonzero(np.all(X == 1.0, axis=0))
    return int(ones[0]) if len(ones) else None


def _padded(X, y, w, order, starts, sizes, groups, length, lanes):
    """(lanes, length, p) arrays of the groups' rows, zero-weight padded (rows and lanes).

    One gather per array: padding slots point at row 0 (any finite row does)
    and get weight 0, which drops them from every sum; cheaper than filling
    zeros and scattering (0.05 s vs 0.16 s for 10,000 groups x 128 x 6).
    """
    n = sizes[groups]
    pos = np.arange(length)
    valid = np.zeros((lanes, length), dtype=bool)
    valid[: len(groups)] = pos < n[:, None]
    index = np.zeros((lanes, length), dtype=np.intp)
    index[: len(groups)] = np.where(valid[: len(groups)], starts[groups][:, None] + pos, 0)
    rows = order[index]
    return X[rows], y[rows], np.where(valid, w[rows], 0.0)


def _run(estimator, kind, family, link, intercept, Xb, yb, wb) -> dict[str, np.ndarray]:
    with x64_context("float64"):
        if kind == "ols":
            coef, cov, rss, kappa = _least_squares_lanes(Xb, yb, wb, intercept=intercept)
            out = dict(coef=coef, cov=cov, rss=rss, kappa=kappa, status=jnp.zeros(len(Xb)))
        else:
            max_iter = DEFAULT_GLM_MAX_ITER if estimator.max_iter is None else estimator.max_iter
            coef, cov, _, status, kappa, gap = _newton_lanes(
                Xb, yb, wb, float(estimator.tol), int(max_iter),
                family=family, link=link, intercept=intercept,
            )  # fmt: skip
            out = dict(coef=coef, cov=cov, status=status, kappa=kappa, gap=gap)
        return {k: np.asarray(v) for k, v in jax.device_get(out).items()}


def _judge(kind, family, design, order, starts, sizes, coef, cov, status, n_obs, extra):
    """Flag failed groups (NaN estimates and a note) and scale the covariance."""
    p = coef.shape[1]
    note = np.full(len(coef), "", dtype=object)
    limit = 1.0 / (p * np.maximum(n_obs, p) * np.finfo(float).eps)  # lstsq.rank_limit
    singular = ~(extra["kappa"] <= limit)
    if kind == "ols":
        df = (n_obs - p).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.where(df > 0, extra["rss"] / df, np.nan)
        cov = cov * s2[:, None, None]
        note[df == 0] = NOTE_NO_DF
    else:
        df = np.add.reduceat(design.weights[order], starts) - p if len(order) else np.array([])
        note[status == 1] = NOTE_NOT_CONVERGED
        note[status == 2] = NOTE_NONFINITE
        suspect = (status != 0) | (extra["gap"] < SEPARATION_TRIGGER)
        for g in np.flatnonzero(suspect & (n_obs >= p)):
            rows = order[starts[g] : starts[g] + sizes[g]]
            direction = boundary_direction(FAMILIES[family], design.y[rows])
            if separating_direction(design.X[rows], direction, design.weights[rows]) is not None:
                note[g] = NOTE_SEPARATED
    note[(note == "") & singular & (n_obs >= p)] = NOTE_SINGULAR
    note[n_obs < p] = NOTE_FEW_ROWS
    failed = (note != "") & (note != NOTE_NO_DF)
    coef[failed], cov[failed] = np.nan, np.nan
    return dict(coef=coef, cov=cov, n_obs=n_obs, df=df, converged=~failed, note=note)


def _tidy(out, names, group_keys, by, alpha, kind, estimator) -> pd.DataFrame:
    n_groups, p = out["coef"].shape
    estimate = out["coef"].ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.diagonal(out["cov"], axis1=1, axis2=2)).ravel()
        statistic = estimate / se
    use_t = estimator.use_t
    t_stats = (use_t is None or use_t) if kind == "ols" else bool(use_t)
    if t_stats:
        df = np.repeat(out["df"], p)
        with np.errstate(invalid="ignore"):
            df = np.where(df > 0, df, np.nan)
        levels, where = np.unique(df, return_inverse=True)  # one ppf per distinct df
        quantile = stats.t.ppf(1 - alpha / 2, levels)[where]
        p_value = 2 * stats.t.sf(np.abs(statistic), df)
    else:
        p_value, quantile = 2 * stats.norm.sf(np.abs(statistic)), stats.norm.ppf(1 - alpha / 2)
    frame = group_keys.loc[np.repeat(np.arange(n_groups), p)].reset_index(drop=True)
    columns = {
        "term": np.tile(np.asarray(names, dtype=object), n_groups),
        "estimate": estimate,
        "std_error": se,
        "statistic": statistic,
        "p_value": p_value,
        "ci_lower": estimate - quantile * se,
        "ci_upper": estimate + quantile * se,
        "n_obs": np.repeat(out["n_obs"], p),
        "converged": np.repeat(out["converged"], p),
        "note": np.repeat(out["note"], p),
    }
    for name, values in columns.items():
        frame[name] = values
    return frame
