r"""The nonparametric and the Bayesian bootstrap as reweighted fits, many at once.

A resample of the rows is a vector of frequency weights: drawing :math:`n` rows
with replacement gives the multinomial counts :math:`c_b \sim
\mathrm{Mult}(n; 1/n, \dots, 1/n)`, and the resampled estimate is the weighted
minimiser

.. math::  \hat\theta^*_b = \arg\min_\theta \sum_i c_{bi}\, w_i\, \rho(x_i; \theta),

with :math:`w_i` the fit's own ``sample_weight`` (1 by default). The Bayesian
bootstrap (Rubin, 1981) draws :math:`n\,g_b` with :math:`g_b \sim
\mathrm{Dirichlet}(1, \dots, 1)` instead (standard exponentials over their sum).
The weights of ``batch_size`` resamples form a matrix :math:`C` (``batch_size``
x n), and one compiled call computes all of its estimates, the data put on the
device once.

**The generic path**: every estimator :func:`~estimators.functional.as_function`
supports is the pure fit ``fit(arrays, weights=c_b w)`` under ``jax.vmap``
over the rows of :math:`C`, in float64, after the estimator's own validation
of the data; the estimate is the same pure fit at the weights :math:`w`. A
resample whose fit did not converge (``converged`` False: e.g. a singular
design, a MAD of 0, a separated resample) or is not finite is a failed
resample. The weights are valid bootstrap weights because every estimator
below reads them as frequency weights (an integer weight is that many
repeated rows), except least squares, whose precision weights give the same
point estimate: :math:`\sum_i c_i (y_i - x_i^\top\beta)^2` is the sum over
the resampled rows.

**Fast paths**: where a hand-written batched kernel beats ``vmap`` of the
pure fit, it is kept (``python benchmarks/bootstrap.py``, B = 1,000, n = 10,000,
k = 5, a shared 2-core CPU, two runs: generic / fast time 1.9-2.9x for Mean,
35-49x for Median and Quantile, 5.6-7.8x for LinearRegression, 7.1-7.9x for
LogisticRegression; the estimates agree to 3e-14). Which path each estimator takes:

======================================  =========  ================================================
estimator                               path       why
======================================  =========  ================================================
Mean                                    fast       :math:`C x / C 1`, one matrix-vector product
Median, Quantile                        fast       the data sorted once for all resamples; each
                                                   resample's cumulative weights along that order
                                                   locate its weighted quantile (``searchsorted``),
                                                   with the estimators' convention (the midpoint of
                                                   a tied minimiser set, :data:`TIE_RTOL`); the
                                                   pure fit selects an order statistic per lane
LinearRegression                        fast       the weighted normal equations of every resample
                                                   from one GEMM, :math:`C\,[x_i \otimes x_i,\;
                                                   x_i y_i]`, on centred, power-of-two-scaled
                                                   columns, then a batched solve
LogisticRegression, GLM binomial/logit  fast       Newton vmapped from the full-sample estimate,
                                                   gradients and Hessians as GEMMs
                                                   :math:`C\,[(\mu_i - y_i) x_i]` and
                                                   :math:`(C \circ \mu(1-\mu))\,[x_i \otimes x_i]`,
                                                   until every lane's Newton decrement is below
                                                   ``tol``:sup:`2`
Ridge                                   generic    closed form (precision weights, as above)
PoissonRegression, GLM poisson/log      generic    Newton, frequency weights
Huber, TukeyBiweight, HuberRegression   generic    the estimators' rounds with the MAD scale,
                                                   frequency weights (a weighted MAD)
MaximumLikelihood, MEstimator           generic    damped Newton, frequency weights
======================================  =========  ================================================

The bootstrap computes no covariance: ``cov_type`` (and ``cov_options``,
``use_t``) of the estimator are ignored. Offsets (a formula's ``offset()``)
are refused: the pure fits take none.

Counts are drawn with numpy (JAX's generator is several times slower on CPU):
uniform doubles from one ``numpy.random.Generator(PCG64(seed))``, drawn chunk
after chunk, so the resamples do not depend on ``batch_size``.

Intervals, as ``scipy.stats.bootstrap`` (:math:`\alpha = (1 - \text{level})/2`,
percentiles with numpy's linear interpolation):

- ``"percentile"``: the :math:`\alpha` and :math:`1-\alpha` percentiles of
  :math:`\hat\theta^*`;
- ``"basic"``: :math:`2\hat\theta` minus those (reversed);
- ``"bca"`` (Efron, 1987): the percentiles at
  :math:`\Phi\bigl(z_0 + \frac{z_0 + z_\alpha}{1 - a(z_0 + z_\alpha)}\bigr)`,
  with bias :math:`z_0 = \Phi^{-1}\bigl(\tfrac12[\#(\hat\theta^* < \hat\theta) +
  \#(\hat\theta^* \le \hat\theta)]/B\bigr)` and acceleration from the jackknife
  (each row left out in turn, again as a batch of weight vectors):
  :math:`a = \sum_i (\bar\theta_{(\cdot)} - \theta_{(i)})^3 /
  \bigl(6\,[\sum_i (\bar\theta_{(\cdot)} - \theta_{(i)})^2]^{3/2}\bigr)`.

``standard_error`` is the standard deviation of the resampled estimates (``ddof=1``).
Resamples whose fit fails (a singular design, a separated logistic resample)
are NaN in ``bootstrap_distribution``, counted in ``n_failed``, warned about,
and left out of the standard errors and intervals.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import special

from .base import Estimator
from .errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError, user_stacklevel
from .frame import INTERCEPT
from .functional import PureFit, as_function, supported_names
from .glm import GLM, LogisticRegression
from .location import Mean, Median, Quantile
from .numerics import center_and_scale, power_of_two_scale
from .order_statistics import TIE_RTOL
from .progress import Progress
from .regression import LinearRegression, _check_rank
from .solve import x64_context
from .univariate import select_column

__all__ = ["BOOTSTRAP_METHODS", "BootstrapResult", "bootstrap", "supported_estimators"]

BOOTSTRAP_METHODS = ("percentile", "basic", "bca")
# The estimators with a hand-written batched kernel (faster than vmap of the pure fit).
FAST_PATHS = ("Mean", "Median", "Quantile", "LinearRegression", "LogisticRegression")
# Elements of one weight matrix (batch_size x n) when batch_size is None: 32 MB of float64.
DEFAULT_BATCH_ELEMENTS = 2**22
DEFAULT_NEWTON_MAX_ITER = 100
# A resample's least-squares design counts as rank deficient when a column's part not
# explained by the columns before it, 1 - R^2, is below this: its normal equations have
# lost all but about 5 digits (their error grows as eps / (1 - R^2)).
RANK_RTOL = 1e-11


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
    """What :func:`bootstrap` returns; the first three fields are named as scipy's.

    ``confidence_interval``: DataFrame with columns ``low`` and ``high``, a row a
    parameter. ``bootstrap_distribution``: DataFrame, a row a resample, a column
    a parameter. ``standard_error``: Series. ``estimate``: the estimate on the
    data as given (the same kernel with the fit's own weights).
    """

    confidence_interval: pd.DataFrame
    bootstrap_distribution: pd.DataFrame
    standard_error: pd.Series
    estimate: pd.Series
    method: str
    confidence_level: float
    n_resamples: int
    n_failed: int
    bayesian: bool


@dataclasses.dataclass(frozen=True)
class _Problem:
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
def _sample_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> _Problem:
    _check_kwargs(estimator, fit_kwargs, ("sample_weight", "column"))
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

        return _Problem(["mean"], sample.weights, estimates)
    q = estimator._level()
    order = np.argsort(x, kind="stable")
    block = max(8, int(np.sqrt(x.size)))
    with x64_context("float64"):
        sorted_x, q_dev = jax.device_put(x[order]), jax.device_put(np.float64(q))

    def estimates(W):
        with x64_context("float64"):
            return np.asarray(_quantile_kernel(W, sorted_x, q_dev, block))[:, None]

    return _Problem([estimator._param_name()], sample.weights, estimates, row_order=order)


def _design_of(estimator: Estimator, data: Any, fit_kwargs: dict):
    _check_kwargs(estimator, fit_kwargs, ("sample_weight", "formula"))
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


def _least_squares_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> _Problem:
    design = _design_of(estimator, data, fit_kwargs)
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

    return _Problem(list(design.names), w, estimates)


def _check_full_rank(Xc: np.ndarray, w: np.ndarray, names: list[str]) -> None:
    """The DataError of ``LinearRegression.fit`` naming the collinear columns, on the data
    itself: a rank-deficient design would otherwise fail every resample anonymously."""
    used = w > 0
    weighted = Xc[used] * np.sqrt(w[used])[:, None]
    _check_rank(float(np.linalg.cond(weighted)), weighted, np.ones(int(used.sum())), names)


def _logistic_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> _Problem:
    design = _design_of(estimator, data, fit_kwargs)
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

    return _Problem(list(design.names), w, estimates, start_from, ConvergenceWarning)


def _check_kwargs(estimator: Estimator, fit_kwargs: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fit_kwargs) - set(allowed))
    if unknown:
        raise SettingsError(
            f"bootstrap of {type(estimator).__name__} does not take {unknown}; the fit "
            f"arguments it passes on are {list(allowed)}"
        )


def _generic_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> _Problem:
    """Any estimator :func:`~estimators.functional.as_function` supports: ``jax.vmap`` of
    its pure fit over the rows of the weight matrix, one compiled call a chunk."""
    pure = _pure_fit(estimator)
    if pure.inputs == ("x",):
        _check_kwargs(estimator, fit_kwargs, ("sample_weight", "column"))
        estimator._check_fit_settings(None)
        inputs = select_column(
            data, fit_kwargs.get("column"), sample_weight=fit_kwargs.get("sample_weight")
        )
        sample = inputs.sample(estimator.missing)
        arrays, weights, names = (sample.values,), sample.weights, pure.param_names(1)
    else:
        design = _design_of(estimator, data, fit_kwargs)
        arrays, weights, names = (design.X, design.y), design.weights, list(design.names)
        if design.fit_intercept != bool(estimator.fit_intercept):
            # a formula decides the intercept ("y ~ x - 1"), as in the estimator's fit
            estimator = _with_settings(estimator, fit_intercept=design.fit_intercept)
            pure = _pure_fit(estimator)
    kernel = _vmapped(pure.fn)
    with x64_context("float64"):
        arrays_dev = tuple(jax.device_put(np.asarray(a, dtype=np.float64)) for a in arrays)
    hyper = dict(pure.hyper)

    def estimates(W):
        with x64_context("float64"):
            out = kernel(arrays_dev, W, hyper)
            params, converged = np.array(out.params), np.asarray(out.converged)
        params[~converged] = np.nan  # not converged (or failed): a failed resample
        return params

    def estimate(W):  # every row of W is the base weights: the chunk's compiled shape
        with x64_context("float64"):
            out = kernel(arrays_dev, W, hyper)
            params, converged = np.array(out.params)[0], bool(out.converged[0])
        if not (converged and np.all(np.isfinite(params))):
            _explain_failed_fit(estimator, data, fit_kwargs)
        return params

    # a lane's temporaries are about (n, columns of the data + 1): bound the chunk by that
    row_size = 1 + sum(int(np.prod(a.shape[1:])) for a in arrays)
    return _Problem(
        names,
        weights,
        estimates,
        failure_warning=ConvergenceWarning,
        estimate=estimate,
        row_size=row_size,
    )


def _pure_fit(estimator: Estimator) -> PureFit:
    """``as_function(estimator)``, the same object for equal settings where they are all
    hashable: its ``fn`` then keys :func:`_vmapped`'s cache, so a second bootstrap of an
    equal estimator compiles nothing (some providers build a new closure every call)."""
    settings = tuple(sorted(estimator.get_params().items()))
    try:
        hash(settings)
    except TypeError:  # e.g. params0 given as a dict: not cached
        return as_function(estimator)
    return _cached_pure_fit(type(estimator), settings)


@functools.lru_cache(maxsize=32)
def _cached_pure_fit(kind: type, settings: tuple) -> PureFit:
    return as_function(kind(**dict(settings)))


@functools.lru_cache(maxsize=32)
def _vmapped(fn: Callable) -> Callable:
    """``(arrays, W, hyper) -> FitArrays`` of every row of W: the pure fit under ``jax.vmap``,
    compiled once per fit function and shape (the regression fits are cached functions)."""

    def batched(arrays, W, hyper):
        return jax.vmap(lambda w: fn(arrays, w, hyper))(W)

    return jax.jit(batched)


def _explain_failed_fit(estimator: Estimator, data: Any, fit_kwargs: dict) -> None:
    """The pure fit failed on the data as given: the estimator's own fit says why (its
    DataError: e.g. a MAD of 0, values outside a family's support); where that fit does not
    raise, a ConvergenceWarning (the estimate is then the pure fit's last iterate)."""
    fit = _with_settings(estimator).fit
    if "column" in fit_kwargs:
        fit(data, fit_kwargs.get("sample_weight"), column=fit_kwargs["column"])
    elif "formula" in fit_kwargs:
        fit(data, sample_weight=fit_kwargs.get("sample_weight"), formula=fit_kwargs["formula"])
    elif isinstance(data, tuple) and len(data) == 2:
        fit(*data, sample_weight=fit_kwargs.get("sample_weight"))
    else:
        fit(data, fit_kwargs.get("sample_weight"))
    warnings.warn(
        f"the fit of {type(estimator).__name__} on the data as given did not converge: "
        "the bootstrap's estimate is its last iterate",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


def _with_settings(estimator: Estimator, **settings: Any) -> Estimator:
    """A copy of ``estimator`` with ``settings`` changed (scikit-learn's ``clone``, without it)."""
    return type(estimator)(**{**estimator.get_params(), **settings})


def _without_covariance(estimator: Estimator) -> Estimator:
    """``estimator`` with its default ``cov_type``: the bootstrap computes no covariance of
    its own (its standard errors replace it), and a ``"cluster"`` estimator would ask for
    ``groups=``, a pure fit refuse the covariances it cannot compute."""
    params = inspect.signature(type(estimator)).parameters
    if "cov_type" not in params:
        return estimator
    defaults = {name: params[name].default for name in ("cov_type", "cov_options", "use_t")}
    if all(getattr(estimator, name) == value for name, value in defaults.items()):
        return estimator
    return _with_settings(estimator, **defaults)


def supported_estimators() -> list[str]:
    """The estimators :func:`bootstrap` takes: the fast paths and every pure fit's class."""
    pure = set(supported_names())
    return sorted(pure | set(FAST_PATHS))


def _problem(estimator: Any, data: Any, fit_kwargs: dict) -> _Problem:
    estimator = _without_covariance(estimator)
    kind = type(estimator)
    if kind is Mean or kind is Median or kind is Quantile:
        return _sample_problem(estimator, data, fit_kwargs)
    if kind is LinearRegression:
        return _least_squares_problem(estimator, data, fit_kwargs)
    if kind is LogisticRegression or (
        kind is GLM and estimator.family == "binomial" and estimator.link in (None, "logit")
    ):
        return _logistic_problem(estimator, data, fit_kwargs)
    if kind.__name__ not in supported_estimators():
        raise SettingsError(
            f"bootstrap does not support {kind.__name__}; supported estimators are "
            f"{supported_estimators()} (GLM: binomial/logit and poisson/log)"
        )
    return _generic_problem(estimator, data, fit_kwargs)


# ------------------------------------------------------------------ weights
def _resample_weights(
    rng: np.random.Generator,
    n_resamples: int,
    base: np.ndarray,
    batch: int,
    bayesian: bool,
    order: np.ndarray | None,
) -> Iterator[np.ndarray]:
    """Chunks of resampling weights (``batch`` rows each, the last padded with ``base``).

    Row ``i`` of the data is column ``rank[i]`` of the weights (``order``: see
    :class:`_Problem`), so a drawn row is counted straight into its column.
    """
    n = base.size
    rank = None if order is None else np.argsort(order)
    base = base if order is None else base[order]
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        if bayesian:
            e = rng.standard_exponential((b, n))
            weights = e * (n / e.sum(axis=1, keepdims=True))
            if order is not None:
                weights = weights[:, order]
        else:
            rows = (rng.random((b, n)) * n).astype(np.int64)
            if rank is not None:
                rows = rank[rows]
            rows += (np.arange(b) * n)[:, None]
            weights = np.bincount(rows.ravel(), minlength=b * n).reshape(b, n).astype(float)
        weights *= base
        yield _pad(weights, base, batch)


def _jackknife_weights(
    base: np.ndarray, batch: int, order: np.ndarray | None
) -> Iterator[np.ndarray]:
    """Chunks of the leave-one-row-out weight vectors, arranged as :func:`_resample_weights`."""
    n = base.size
    rank = np.arange(n) if order is None else np.argsort(order)
    base = base if order is None else base[order]
    for start in range(0, n, batch):
        b = min(batch, n - start)
        weights = np.tile(base, (b, 1))
        weights[np.arange(b), rank[start : start + b]] = 0.0
        yield _pad(weights, base, batch)


def _pad(weights: np.ndarray, base: np.ndarray, batch: int) -> np.ndarray:
    """Pad with copies of ``base`` to ``batch`` rows: one compiled shape for every chunk."""
    if weights.shape[0] == batch:
        return weights
    return np.vstack([weights, np.tile(base, (batch - weights.shape[0], 1))])


def _run(
    problem: _Problem, chunks: Iterator[np.ndarray], total: int, progress: Progress | None = None
) -> np.ndarray:
    out, done = [], 0
    try:
        for W in chunks:
            out.append(problem.estimates(W))
            if progress is not None:  # count the real resamples, not the padding rows
                progress.update(min(W.shape[0], total - done))
            done += W.shape[0]
    finally:  # an interrupted run leaves no half-drawn bar behind
        if progress is not None:
            progress.close()
    return np.concatenate(out)[:total]


# ------------------------------------------------------------------ intervals
def _spread(values: np.ndarray) -> np.ndarray:
    """Standard deviation (ddof=1) per column, scaled by a power of two first: the squares
    of estimates near 1e300 (or 1e-300) would overflow (underflow) in np.std."""
    scale = power_of_two_scale(values, axis=0)
    return scale * np.std(values / scale, axis=0, ddof=1)


def _percentile(values: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Percentile of each column at its own level in [0, 1] (numpy's linear method)."""
    return np.array([np.percentile(values[:, j], 100 * level[j]) for j in range(values.shape[1])])


def _bca_levels(
    theta_b: np.ndarray, theta: np.ndarray, jackknife: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """The BCa percentile levels for each parameter (scipy.stats.bootstrap's formulas)."""
    below = np.mean(theta_b < theta, axis=0)
    at_most = np.mean(theta_b <= theta, axis=0)
    z0 = special.ndtri((below + at_most) / 2)
    dev = np.nanmean(jackknife, axis=0) - jackknife
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.nansum(dev**3, axis=0) / (6 * np.nansum(dev**2, axis=0) ** 1.5)
    levels = []
    for z_alpha in (special.ndtri(alpha), special.ndtri(1 - alpha)):
        shifted = z0 + z_alpha
        levels.append(special.ndtr(z0 + shifted / (1 - a * shifted)))
    return levels[0], levels[1]


# ------------------------------------------------------------------ entry point
def _check_settings(n_resamples, method, confidence_level, seed, bayesian, batch_size) -> None:
    if not (isinstance(n_resamples, int | np.integer) and not isinstance(n_resamples, bool)):
        raise SettingsError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    if n_resamples < 2:
        raise SettingsError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    if method not in BOOTSTRAP_METHODS:
        raise SettingsError(
            f"unknown method {method!r}; valid methods are {list(BOOTSTRAP_METHODS)}"
        )
    if not (isinstance(confidence_level, int | float) and 0 < confidence_level < 1):
        raise SettingsError(
            f"confidence_level must be a number strictly between 0 and 1, got {confidence_level!r}"
        )
    if seed is not None and not (
        isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0
    ):
        raise SettingsError(f"seed must be None or an integer >= 0, got {seed!r}")
    if not isinstance(bayesian, bool):
        raise SettingsError(f"bayesian must be True or False, got {bayesian!r}")
    if batch_size is not None and not (
        isinstance(batch_size, int | np.integer)
        and not isinstance(batch_size, bool)
        and batch_size >= 1
    ):
        raise SettingsError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")


def bootstrap(
    estimator: Estimator,
    data: Any,
    *,
    n_resamples: int = 1000,
    method: str = "percentile",
    confidence_level: float = 0.95,
    seed: int | None = 0,
    bayesian: bool = False,
    batch_size: int | None = None,
    progress: bool | None = None,
    **fit_kwargs: Any,
) -> BootstrapResult:
    r"""Bootstrap distribution, standard errors and intervals of ``estimator`` on ``data``.

    ``data`` is what ``estimator.fit`` takes first: the sample for the
    one-sample estimators (``column=`` and ``sample_weight=`` pass on as to
    ``fit``), and ``(X, y)`` or a DataFrame with ``formula=`` for the
    regressions (``sample_weight=`` too). ``estimator``: any estimator
    :func:`~estimators.functional.as_function` supports, and
    :class:`~estimators.location.Mean`, :class:`~estimators.location.Median`,
    :class:`~estimators.location.Quantile`,
    :class:`~estimators.regression.LinearRegression` and
    :class:`~estimators.glm.LogisticRegression` (:func:`supported_estimators`;
    anything else is a SettingsError listing them). The estimator is not
    fitted or changed; its ``missing`` policy, its validation, its ``tol`` and
    ``max_iter`` apply, its ``cov_type`` does not (the bootstrap's standard
    errors replace it).

    Every resample's estimate is computed in one compiled, batched call per
    chunk of ``batch_size`` resamples (default: about 2**22 weights, 32 MB, a
    chunk; on the generic path 2**22 / (data columns + 1), since each lane
    holds copies of its data); see the module docstring for the paths, the weights
    (``bayesian=True``: Dirichlet weights) and the intervals ``method``
    (``"percentile"``, ``"basic"``, ``"bca"``, as ``scipy.stats.bootstrap``).
    The same ``seed`` gives the same result, whatever ``batch_size``;
    ``seed=None`` draws fresh entropy. ``progress``: a progress bar over the
    chunks (and the jackknife's, for ``"bca"``) once the work has run 2 s
    (None, the default), at once (True) or never (False); see
    :class:`~estimators.progress.Progress`.

    >>> import numpy as np
    >>> from estimators.location import Mean
    >>> x = np.random.default_rng(1).normal(size=200)
    >>> res = bootstrap(Mean(), x, n_resamples=2000)
    >>> bool(abs(res.standard_error["mean"] / (x.std(ddof=1) / np.sqrt(200)) - 1) < 0.1)
    True
    """
    _check_settings(n_resamples, method, confidence_level, seed, bayesian, batch_size)
    if progress is not None and not isinstance(progress, bool):
        raise SettingsError(f"progress must be None, True or False, got {progress!r}")
    problem = _problem(estimator, data, fit_kwargs)
    base = np.asarray(problem.base_weights, dtype=float)
    n = base.size
    if np.count_nonzero(base) < 2:
        # every resample of one observation is that observation: a spread of 0 (scipy refuses too)
        raise DataError(
            f"bootstrap needs at least 2 observations of positive weight, got "
            f"{np.count_nonzero(base)}"
        )
    per_resample = n * problem.row_size
    batch = batch_size or max(1, min(n_resamples, DEFAULT_BATCH_ELEMENTS // per_resample))
    batch = min(int(batch), n_resamples)

    order = problem.row_order
    ordered_base = base if order is None else base[order]
    if problem.estimate is None:
        theta = problem.estimates(ordered_base[None, :])[0]
    else:
        theta = problem.estimate(_pad(ordered_base[None, :], ordered_base, batch))
    problem.start_from(theta)
    rng = np.random.Generator(np.random.PCG64(seed))
    theta_b = _run(
        problem,
        _resample_weights(rng, n_resamples, base, batch, bayesian, order),
        n_resamples,
        Progress(progress, "bootstrap", n_resamples, unit="resamples"),
    )
    failed = ~np.all(np.isfinite(theta_b), axis=1)
    n_failed = int(failed.sum())
    if n_failed:
        warnings.warn(
            f"{n_failed} of {n_resamples} bootstrap resamples of {type(estimator).__name__} "
            "failed (a singular design or no convergence); they are NaN in "
            "bootstrap_distribution and left out of the standard errors and intervals",
            problem.failure_warning,
            stacklevel=user_stacklevel(),
        )
    good = theta_b[~failed]
    if good.shape[0] < 2:
        raise SettingsError(
            f"only {good.shape[0]} of {n_resamples} bootstrap resamples could be fitted"
        )
    alpha = (1 - confidence_level) / 2
    p = good.shape[1]
    if method == "bca":
        if problem.estimate is not None:  # the resamples' compiled shape (see _Problem)
            jack_batch = batch
        else:
            default_jack = max(1, min(n, DEFAULT_BATCH_ELEMENTS // per_resample))
            jack_batch = min(default_jack if batch_size is None else batch, n)
        jackknife = _run(
            problem,
            _jackknife_weights(base, jack_batch, order),
            n,
            Progress(progress, "bootstrap (jackknife for bca)", n, unit="fits"),
        )
        low_level, high_level = _bca_levels(good, theta, jackknife, alpha)
    else:
        low_level, high_level = np.full(p, alpha), np.full(p, 1 - alpha)
    low, high = _percentile(good, low_level), _percentile(good, high_level)
    if method == "basic":
        low, high = 2 * theta - high, 2 * theta - low
    names = problem.names
    return BootstrapResult(
        confidence_interval=pd.DataFrame({"low": low, "high": high}, index=names),
        bootstrap_distribution=pd.DataFrame(theta_b, columns=names),
        standard_error=pd.Series(_spread(good), index=names, name="std_error"),
        estimate=pd.Series(theta, index=names, name="estimate"),
        method=method,
        confidence_level=float(confidence_level),
        n_resamples=int(n_resamples),
        n_failed=n_failed,
        bayesian=bayesian,
    )
