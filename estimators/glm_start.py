r"""Where a GLM's Newton iterations start: statsmodels' start, or a fit on a strided subsample.

Newton's method converges quadratically near the optimum: an error
:math:`e` becomes about :math:`C e^2`. From statsmodels' start (the
intercept-only fit, or one least-squares step on a working response;
:func:`default_start`) a logistic or Poisson fit at :math:`10^6` rows takes 5
or 6 full-data iterations, each a pass over the design. The maximum
likelihood estimate of the same model on every :math:`k`-th row is within
about :math:`\sqrt{n/m}` standard errors of the full one (:math:`m = n/k`
rows), i.e. :math:`O(1/\sqrt m)` in the coefficients' units, and costs about
:math:`1/k` of a full pass an iteration. Started there, the full-data Newton
needs a pass or two fewer (:func:`subsample_start`).

Only the start changes: the full-data loop, its tolerance, stopping rule and
statuses are those of every fit, so the estimate is the full problem's (the
same optimum to the tolerance, measured equal to about 1e-13 relative).
``n_iter_`` and ``history_`` count the full-data iterations only; ``start_``
says how the fit started (``{"method": "subsample", "rows": m, "n_iter": k}``
with the subsample fit's own iterations, or ``{"method": "default", ...}``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from .families import Family, Link, saturated_nll
from .glm_design import padded_inputs
from .glm_inference import is_binary, poisson_response_terms
from .glm_kernels import mean_of
from .glm_newton import fused_newton
from .separation import mean_near_boundary
from .solve import Status, x64_context

# The subsample start is used from this many rows on. Below it a full pass is cheap
# and the subsample (at least SUBSAMPLE_ROWS rows) would be a large share of the data.
SUBSAMPLE_MIN_ROWS = 200_000
# Rows of the subsample: at least this many, and ROWS_PER_PARAMETER per parameter, so
# its estimate is within a few of its standard errors of the truth whatever p.
SUBSAMPLE_ROWS = 1 << 15
ROWS_PER_PARAMETER = 100
# The subsample fit stops within this many of ITS standard errors of its own optimum:
# far below its distance to the full-data optimum (about one of its standard errors).
SUBSAMPLE_TOL = 1e-2
# A subsample fit with a fitted mean this close to the family's boundary (1 - mu or mu,
# on a row whose response is at the boundary) is not used as a start: its data may be
# separated where the full data are not. Far looser than the full fit's
# SEPARATION_TRIGGER, because the subsample fit stops early (SUBSAMPLE_TOL); rare-event
# models with fitted means this extreme start where statsmodels does.
SUBSAMPLE_TRIGGER = 1e-3


class Start(NamedTuple):
    """Starting parameters (solver's scaled coordinates) and how they were found."""

    params: dict
    method: str  # "subsample" or "default"
    rows: int  # rows of the subsample (0 for the default start)
    n_iter: int  # Newton iterations of the subsample fit (0 for the default start)

    def record(self) -> dict:
        """The ``start_`` attribute of a fitted GLM."""
        return {"method": self.method, "rows": self.rows, "n_iter": self.n_iter}


def default_start(
    family: Family,
    link: Link,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    offset: np.ndarray,
    fit_intercept: bool,
    col_scale: np.ndarray,
    estimate_alpha: bool,
) -> dict:
    r"""Starting values where statsmodels starts.

    With an intercept and no offset: the intercept-only MLE
    :math:`g(\bar y)` (exact for canonical links). Otherwise one weighted
    least-squares step on the working response :math:`g(\mu_0) - o` from
    statsmodels' starting means :math:`\mu_0 = (y + \bar y)/2`
    (binomial: :math:`(y + 1/2)/2`).
    """
    ybar = float(np.sum(w * y) / np.sum(w))
    if family.name == "binomial" and ybar in (0.0, 1.0):
        ybar = 0.25 + 0.5 * ybar  # one outcome only (separated): start inside (0, 1)
    beta = np.zeros(X.shape[1])
    if fit_intercept and not np.any(offset):
        beta[0] = float(link.link(np.asarray(ybar)))
    else:
        mu0 = (y + 0.5) / 2 if family.name == "binomial" else (y + ybar) / 2
        z = link.link(mu0) - offset
        root = np.sqrt(w)
        beta = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)[0]
        if not np.all(link.valid(X @ beta + offset)) and fit_intercept:
            beta = np.zeros(X.shape[1])
            beta[0] = float(link.link(np.asarray(ybar)))
    params = {"coef": beta / col_scale}
    if estimate_alpha:
        # Method of moments at the starting mean, as statsmodels (floored at 0.05).
        mu = np.exp(X @ beta + offset)
        moment = np.sum(w * ((y - mu) ** 2 - mu) / mu**2) / max(np.sum(w) - X.shape[1], 1)
        params["log_alpha"] = float(np.log(max(moment, 0.05)))
    return params


def saturated_shift(
    family: Family, y: np.ndarray, wn: np.ndarray, alpha: float | None, cache: dict | None = None
) -> float:
    r"""``wn @ saturated_nll(family, y, alpha)``: the constant that makes the loss a deviance.

    0/1 outcomes have a saturated loss of exactly 0 on every row (both ``xlogy``
    terms are 0), so the two ``xlogy`` passes over the rows are skipped there.
    The Poisson :math:`\operatorname{xlogy}(y, y)` is kept in ``cache`` for the
    deviance (:func:`~estimators.glm_inference.poisson_response_terms`).

    >>> from estimators.families import FAMILIES
    >>> saturated_shift(FAMILIES["binomial"], np.array([0.0, 1.0]), np.full(2, 0.5), None)
    0.0
    """
    if is_binary(family, y):
        return 0.0
    if family.name == "poisson":  # saturated_nll's y - xlogy(y, y), the term kept in cache
        xlogy_y_y, _ = poisson_response_terms(y, cache)
        return float(wn @ (y - xlogy_y_y))
    return float(wn @ saturated_nll(family, y, alpha))


def subsample_stride(n: int, n_params: int) -> int | None:
    """Every how many rows the subsample takes, or None where the default start is used.

    >>> subsample_stride(1_000_000, 21), subsample_stride(100_000, 21)
    (30, None)
    """
    if n < SUBSAMPLE_MIN_ROWS:
        return None
    stride = n // max(SUBSAMPLE_ROWS, ROWS_PER_PARAMETER * n_params)
    return stride if stride >= 4 else None  # a subsample of at most a quarter of the rows


def subsample_start(
    family: Family,
    link: Link,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    offset: np.ndarray,
    fit_intercept: bool,
    col_scale: np.ndarray,
    estimate_alpha: bool,
    alpha_fixed: float,
    max_iter: int | None,
) -> Start | None:
    r"""The same GLM fitted on every :math:`k`-th row, as a start for the full data; or None.

    Used for :math:`n \ge` :data:`SUBSAMPLE_MIN_ROWS` rows with a subsample of
    at least :data:`SUBSAMPLE_ROWS` rows (and :data:`ROWS_PER_PARAMETER` per
    parameter) of at most a quarter of the data, except for the gaussian
    identity model (a quadratic loss: Newton is exact in one step from
    anywhere). The rows are deterministic (a stride, no random numbers), with
    their weights and offsets; the fit is :func:`~estimators.glm_newton.
    fused_newton` from :func:`default_start` of the subsample, stopped within
    :data:`SUBSAMPLE_TOL` of its own standard errors.

    None, and the caller starts where statsmodels does, whenever the subsample
    cannot give a sound start: no positive weight in it, a fit that did not
    converge or is not finite, or a fitted mean within
    :data:`SUBSAMPLE_TRIGGER` of the family's boundary (or closer, as the
    subsample fit's tolerance implies for separated rows) on a row whose
    response is at that boundary: the subsample may be separated where the full
    data are not, and its coefficients would then be far off.
    """
    stride = subsample_stride(len(y), X.shape[1] + int(estimate_alpha))
    if stride is None or (family.name == "gaussian" and link.name == "identity"):
        return None
    rows = slice(None, None, stride)
    X_sub = np.ascontiguousarray(X[rows])
    # Contiguous copies (small): numpy's reductions over a strided view are ~50x slower.
    y_sub, w_sub, offset_sub = (np.ascontiguousarray(a[rows]) for a in (y, w, offset))
    total = float(np.sum(w_sub))
    if not total > 0:
        return None
    wn = w_sub / total
    with np.errstate(all="ignore"):
        params0 = default_start(
            family, link, X_sub, y_sub, w_sub, offset_sub, fit_intercept, col_scale, estimate_alpha
        )
    if not all(np.all(np.isfinite(v)) for v in params0.values()):
        return None
    shift = saturated_shift(family, y_sub, wn, None if estimate_alpha else alpha_fixed)
    arrays = padded_inputs(X_sub, y_sub, wn, offset_sub)
    with x64_context("float64"):
        args = tuple(
            jax.device_put(np.asarray(a, dtype=np.float64))
            for a in (*arrays, col_scale, np.log(alpha_fixed), shift)
        )
    solution, _ = fused_newton(
        family.name,
        link.name,
        estimate_alpha,
        params0,
        args,
        tol=SUBSAMPLE_TOL**2 / total,
        max_iter=max_iter,
    )
    params = {k: np.asarray(v, dtype=np.float64) for k, v in solution.params.items()}
    if solution.status != Status.CONVERGED or not all(
        np.all(np.isfinite(v)) for v in params.values()
    ):
        return None
    if family.boundary is not None:
        # Stopped early on a separated subsample, the separated rows' gaps to the boundary
        # (1 - mu or mu) sum to about the decrement: sum_i w_i gap_i <~ 2 tol^2 |value|.
        # Any gap that small, or below SUBSAMPLE_TRIGGER, may be separation: not a start.
        positive = w_sub[w_sub > 0]
        limit = 4 * SUBSAMPLE_TOL**2 * abs(float(solution.value)) / float(np.min(positive))
        mu = mean_of(link, X_sub @ (col_scale * params["coef"]) + offset_sub)
        if mean_near_boundary(family, y_sub, mu, w_sub, trigger=max(SUBSAMPLE_TRIGGER, limit)):
            return None
    return Start(params, "subsample", len(y_sub), int(solution.n_iter))
