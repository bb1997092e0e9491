r"""The bootstrap's fast paths: hand-written batched kernels and the problems that use them.

A bootstrap problem (:class:`Problem`) is an estimator's data put on the device
once and a function from a chunk of weight vectors :math:`W` (``b`` x n, a row
a resample) to the ``b`` estimates. :func:`estimators.bootstrap.bootstrap`
draws the weights and runs the chunks; this module holds the kernels that beat
``jax.vmap`` of the estimator's pure fit (the timings are in
:mod:`estimators.bootstrap`'s docstring), all in float64:

- **Mean** (:func:`sample_problem`): :math:`\hat\mu_b = (W c)_b / (W 1)_b`,
  one matrix-vector product, on :math:`c = (x - r)/s` centred at a reference
  :math:`r` and scaled by a power of two :math:`s`, as ``Mean``'s own fit.
- **Median, Quantile** (:func:`sample_problem`): the data are sorted once for
  all resamples and the weights' columns are in that order. The weighted
  q-quantile's minimiser set is :math:`[x_{(lo)}, x_{(hi)}]`, with :math:`lo`
  the first position whose cumulative weight reaches :math:`qW` and :math:`hi`
  the first one that passes it; the estimate is its midpoint, the estimators'
  convention, ties judged to within :data:`~estimators.order_statistics.TIE_RTOL`
  of the total weight.
- **LinearRegression** (:func:`least_squares_problem`): every resample's
  weighted normal equations from one GEMM,
  :math:`W\,[x_i \otimes x_i,\; x_i y_i] = [X^\top D_b X,\; X^\top D_b y]`, on
  columns centred at their weighted means (with an intercept) and scaled by
  powers of two, then a batched Cholesky solve; a resample whose design is
  rank deficient (:data:`RANK_RTOL`) is NaN, a failed resample.
- **LogisticRegression, GLM binomial/logit** (:func:`logistic_problem`):
  Newton's method vmapped from the full-sample estimate, with
  :math:`g_b = W_b\,[(\mu_i - y_i) x_i]` and
  :math:`H_b = (W \circ \mu(1-\mu))_b\,[x_i \otimes x_i]` as GEMMs, until every
  lane's Newton decrement :math:`g_b^\top H_b^{-1} g_b` is below
  ``tol``:sup:`2`; a lane that does not get there (a separated resample) is NaN.

>>> import numpy as np
>>> from estimators.location import Median
>>> problem = sample_problem(Median(), np.array([3.0, 1.0, 2.0]), {})
>>> problem.row_order  # the weights' columns come in the data's sorted order
array([1, 2, 0])
>>> problem.estimates(np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 0.0]]))
array([[2.],
       [1.]])
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .base import Estimator
from .errors import ConvergenceWarning, InferenceWarning, SettingsError
from .frame import INTERCEPT
from .location import Mean
from .numerics import center_and_scale, power_of_two_scale
from .order_statistics import TIE_RTOL
from .regression import _check_rank
from .solve import x64_context
from .univariate import select_column

__all__ = [
    "DEFAULT_NEWTON_MAX_ITER",
    "RANK_RTOL",
    "Problem",
    "check_kwargs",
    "design_of",
    "least_squares_problem",
    "logistic_problem",
    "pad",
    "sample_problem",
]

DEFAULT_NEWTON_MAX_ITER = 100
# A resample's least-squares design counts as rank deficient when a column's part not
# explained by the columns before it, 1 - R^2, is below this: its normal equations have
# lost all but about 5 digits (their error grows as eps / (1 - R^2)).
RANK_RTOL = 1e-11


@dataclasses.dataclass(frozen=True)
class Problem:
    """One estimator's data on the device and its batched kernel ``weights -> estimates``."""

    names: list[str]
    base_weights: np.ndarray
    estimates: Callable[[np.ndarray], np.ndarray]  # (b, n) weights -> (b, p) estimates
    start_from: Callable[[np.ndarray], None] = lambda theta: None  # warm start (Newton)
    failure_warning: type[Warning] = InferenceWarning  # what a failed resample means
    # The kernel takes the weights with their columns in this order of the rows (None: as
    # given): the quantile kernel wants them in the data's sorted order, and the counts
    # are cheaper to draw in that order than to permute afterwards.
    row_order: np.ndarray | None = None
    # The estimate on the base weights (None: ``estimates`` of them, one row). When set, it
    # takes a whole chunk of copies of the base weights and so do the jackknife's chunks:
    # compiling the vmapped pure fit for another shape costs seconds, more than a chunk.
    estimate: Callable[[np.ndarray], np.ndarray] | None = None
    # Elements of a lane's temporaries per row of data: the default chunk holds about
    # DEFAULT_BATCH_ELEMENTS of them.
    row_size: int = 1


def pad(weights: np.ndarray, base: np.ndarray, batch: int) -> np.ndarray:
    """Pad with copies of ``base`` to ``batch`` rows: one compiled shape for every chunk."""
    if weights.shape[0] == batch:
        return weights
    return np.vstack([weights, np.tile(base, (batch - weights.shape[0], 1))])


# ------------------------------------------------------------------ kernels
@jax.jit
def _mean_kernel(W: jax.Array, c: jax.Array) -> jax.Array:
    return (W @ c) / jnp.sum(W, axis=1)


@functools.partial(jax.jit, static_argnames="block")
def _quantile_kernel(W, sorted_x, q, block):
    """Weighted q-quantile of each row of weights: the minimiser set [low, high], midpoint.

    The columns of ``W`` are in the data's sorted order; the first position where the
    cumulative weight reaches a target is found in two steps, so that no full
    cumulative sum is formed (XLA:CPU's cumsum is about 20 ns an element): the
    cumulative sums of blocks of ``block`` weights find the block, and a cumulative
    sum inside that one block finds the position.
    """
    b, n = W.shape
    n_blocks = -(-n // block)
    ws = jnp.pad(W, ((0, 0), (0, n_blocks * block - n)))  # W is in sorted order
    block_cum = jnp.cumsum(ws.reshape(b, n_blocks, block).sum(axis=2), axis=1)
    total = block_cum[:, -1]
    target, slack = q * total, TIE_RTOL * total
    last = n - 1

    def first_reaching(w_b, block_cum_b, t, side):
        # first position whose cumulative weight is >= t (side "left") or > t ("right")
        j = jnp.minimum(jnp.searchsorted(block_cum_b, t, side=side), n_blocks - 1)
        before = jnp.where(j > 0, block_cum_b[j - 1], 0.0)
        inside = before + jnp.cumsum(jax.lax.dynamic_slice(w_b, (j * block,), (block,)))
        k = jnp.minimum(jnp.searchsorted(inside, t, side=side), block - 1)
        return jnp.minimum(j * block + k, last), inside[k]

    def one(w_b, block_cum_b, t, s):
        # low: the first value with W(x <= v) >= qW; a tie when W(x <= low) = qW,
        # then high is the next value of positive weight (zero weights add nothing).
        lo, cum_lo = first_reaching(w_b, block_cum_b, t - s, "left")
        hi, _ = first_reaching(w_b, block_cum_b, t + s, "right")
        low, high = sorted_x[lo], sorted_x[hi]
        mid = (low + high) / 2
        mid = jnp.where(jnp.isfinite(mid), mid, 0.5 * low + 0.5 * high)
        return jnp.where(cum_lo <= t + s, mid, low)

    return jax.vmap(one)(ws, block_cum, target, slack)


@jax.jit
def _least_squares_kernel(W: jax.Array, products: jax.Array) -> jax.Array:
    """Solve the weighted normal equations of each row of W; ``products`` = [x (x) x, x y].

    By Cholesky; a resample whose design is (numerically) rank deficient gives NaN:
    a squared pivot ``L_jj^2 / G_jj = 1 - R_j^2`` (column j on the columns before it)
    below :data:`RANK_RTOL`.
    """
    p = int(round((np.sqrt(1 + 4 * products.shape[1]) - 1) / 2))
    moments = W @ products
    gram = moments[:, : p * p].reshape(-1, p, p)
    chol = jnp.linalg.cholesky(gram)
    beta = jax.scipy.linalg.cho_solve((chol, True), moments[:, p * p :, None])[..., 0]
    pivots = jnp.diagonal(chol, axis1=1, axis2=2) ** 2 / jnp.diagonal(gram, axis1=1, axis2=2)
    full_rank = jnp.all(pivots > RANK_RTOL, axis=1)  # False for NaN pivots too
    return jnp.where(full_rank[:, None], beta, jnp.nan)


@jax.jit
def _logistic_kernel(W, X, y, outer, beta0, tol2, max_iter):
    """Newton's method for the weighted logistic loss, vmapped over the rows of W.

    Returns the estimates and a flag per lane: its Newton decrement
    g' H^-1 g (of the summed loss) fell below ``tol2`` within ``max_iter`` steps.
    """
    p = X.shape[1]

    def step(beta):
        mu = jax.nn.sigmoid(beta @ X.T)
        grad = (W * (mu - y)) @ X
        hess = ((W * mu * (1 - mu)) @ outer).reshape(-1, p, p)
        delta = jnp.linalg.solve(hess, grad[..., None])[..., 0]
        return delta, jnp.sum(grad * delta, axis=1)

    def body(state):
        beta, it, _ = state
        delta, decrement = step(beta)
        return beta - delta, it + 1, decrement <= tol2

    def cond(state):
        _, it, done = state
        return (it < max_iter) & ~jnp.all(done)

    beta0 = jnp.broadcast_to(beta0, (W.shape[0], p))
    done0 = jnp.zeros(W.shape[0], dtype=bool)
    beta, _, done = jax.lax.while_loop(cond, body, (beta0, 0, done0))
    return beta, done


# ------------------------------------------------------------------ problems
def check_kwargs(estimator: Estimator, fit_kwargs: dict, allowed: tuple[str, ...]) -> None:
    """A SettingsError naming the fit arguments in ``fit_kwargs`` that are not ``allowed``."""
    unknown = sorted(set(fit_kwargs) - set(allowed))
    if unknown:
        raise SettingsError(
            f"bootstrap of {type(estimator).__name__} does not take {unknown}; the fit "
            f"arguments it passes on are {list(allowed)}"
        )


def design_of(estimator: Estimator, data: Any, fit_kwargs: dict):
    """The validated design of a regression's ``data`` (``(X, y)`` or a frame and
    ``formula=``), as the estimator's own fit builds it; offsets are refused."""
    check_kwargs(estimator, fit_kwargs, ("sample_weight", "formula"))
    formula = fit_kwargs.get("formula")
    if isinstance(formula, str) and re.search(r"\boffset\(", formula):
        raise SettingsError(
            f"bootstrap of {type(estimator).__name__} does not take offsets (the formula "
            f"{formula!r} has an offset() term); the estimator's own fit does"
        )
    X, y = data if isinstance(data, tuple) and len(data) == 2 else (data, None)
    # the fit's own validation (GLM.fit's offset_design is as_design when there is no offset)
    design, _ = estimator._validated_design(X, y, fit_kwargs.get("sample_weight"), formula=formula)
    return design


def sample_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> Problem:
    """Mean (one matrix-vector product), Median and Quantile (the data sorted once)."""
    check_kwargs(estimator, fit_kwargs, ("sample_weight", "column"))
    estimator._check_fit_settings(None)
    inputs = select_column(
        data, fit_kwargs.get("column"), sample_weight=fit_kwargs.get("sample_weight")
    )
    sample = inputs.sample(estimator.missing)
    x = sample.values
    if isinstance(estimator, Mean):
        # centred and scaled by a power of two, as Mean's own fit: full accuracy near offsets
        ref, scale = center_and_scale(x)
        with x64_context("float64"):
            c = jax.device_put((x - ref) / scale)

        def estimates(W):
            with x64_context("float64"):
                return ref + scale * np.asarray(_mean_kernel(W, c))[:, None]

        return Problem(["mean"], sample.weights, estimates)
    q = estimator._level()
    order = np.argsort(x, kind="stable")
    block = max(8, int(np.sqrt(x.size)))
    with x64_context("float64"):
        sorted_x, q_dev = jax.device_put(x[order]), jax.device_put(np.float64(q))

    def estimates(W):
        with x64_context("float64"):
            return np.asarray(_quantile_kernel(W, sorted_x, q_dev, block))[:, None]

    return Problem([estimator._param_name()], sample.weights, estimates, row_order=order)


def least_squares_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> Problem:
    """LinearRegression: the normal equations of every resample from one GEMM."""
    design = design_of(estimator, data, fit_kwargs)
    X, y, w = design.X, design.y, design.weights
    # Centre the regressors and the response at their weighted means when there is an
    # intercept (it absorbs the shift), and scale every column by a power of two: the
    # normal equations then have the conditioning of the centred design, not of X.
    has_intercept = design.fit_intercept and design.names[0] == INTERCEPT
    x_ref = np.average(X, axis=0, weights=w) if has_intercept else np.zeros(X.shape[1])
    y_ref = float(np.average(y, weights=w)) if has_intercept else 0.0
    if has_intercept:
        x_ref[0] = 0.0
    x_scale = power_of_two_scale(X - x_ref, axis=0)
    y_scale = float(power_of_two_scale(y - y_ref))
    Xc, yc = (X - x_ref) / x_scale, (y - y_ref) / y_scale
    _check_full_rank(Xc, w, list(design.names))
    n, p = Xc.shape
    products = np.concatenate(
        [(Xc[:, :, None] * Xc[:, None, :]).reshape(n, p * p), Xc * yc[:, None]], axis=1
    )
    with x64_context("float64"):
        products_dev = jax.device_put(products)

    def estimates(W):
        with x64_context("float64"):
            scaled = np.asarray(_least_squares_kernel(W, products_dev))
        beta = scaled * (y_scale / x_scale)
        if has_intercept:  # NaN (failed) resamples stay NaN
            with np.errstate(invalid="ignore"):
                beta[:, 0] += y_ref - beta[:, 1:] @ x_ref[1:]
        return beta

    return Problem(list(design.names), w, estimates)


def _check_full_rank(Xc: np.ndarray, w: np.ndarray, names: list[str]) -> None:
    """The DataError of ``LinearRegression.fit`` naming the collinear columns, on the data
    itself: a rank-deficient design would otherwise fail every resample anonymously."""
    used = w > 0
    weighted = Xc[used] * np.sqrt(w[used])[:, None]
    _check_rank(float(np.linalg.cond(weighted)), weighted, np.ones(int(used.sum())), names)


def logistic_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> Problem:
    """LogisticRegression and GLM binomial/logit: batched Newton, warm-started at the
    full-sample estimate (:attr:`Problem.start_from`)."""
    design = design_of(estimator, data, fit_kwargs)
    X, y, w = design.X, design.y, design.weights
    x_scale = power_of_two_scale(X, axis=0)
    Xs = X / x_scale
    n, p = Xs.shape
    tol2 = float(estimator.tol) ** 2
    max_iter = DEFAULT_NEWTON_MAX_ITER if estimator.max_iter is None else int(estimator.max_iter)
    with x64_context("float64"):
        X_dev, y_dev, outer = (
            jax.device_put(a) for a in (Xs, y, (Xs[:, :, None] * Xs[:, None, :]).reshape(n, p * p))
        )
    start = {"beta": np.zeros(p)}

    def estimates(W):
        with x64_context("float64"):
            beta, done = _logistic_kernel(W, X_dev, y_dev, outer, start["beta"], tol2, max_iter)
            beta, done = np.array(beta), np.asarray(done)
        beta[~done] = np.nan  # not converged (e.g. a separated resample): a failed resample
        return beta / x_scale

    def start_from(theta):
        if np.all(np.isfinite(theta)):
            start["beta"] = theta * x_scale

    return Problem(list(design.names), w, estimates, start_from, ConvergenceWarning)
