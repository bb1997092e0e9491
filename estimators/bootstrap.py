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

Intervals (``"percentile"``, ``"basic"``, ``"bca"`` with the jackknife's
acceleration), as ``scipy.stats.bootstrap``: :mod:`estimators.bootstrap_intervals`.
The fast kernels and their maths: :mod:`estimators.bootstrap_kernels`.

``standard_error`` is the standard deviation of the resampled estimates (``ddof=1``).
Resamples whose fit fails (a singular design, a separated logistic resample)
are NaN in ``bootstrap_distribution``, counted in ``n_failed``, warned about,
and left out of the standard errors and intervals.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
import pandas as pd

from .base import Estimator
from .bootstrap_intervals import (
    BOOTSTRAP_METHODS,
    confidence_interval,
    jackknife_weights,
    spread,
)
from .bootstrap_kernels import (
    Problem,
    check_kwargs,
    design_of,
    least_squares_problem,
    logistic_problem,
    pad,
    sample_problem,
)
from .errors import ConvergenceWarning, DataError, SettingsError, user_stacklevel
from .functional import as_function, supported_names
from .glm import GLM, LogisticRegression
from .location import Mean, Median, Quantile
from .progress import Progress
from .regression import LinearRegression
from .solve import x64_context
from .univariate import select_column

__all__ = ["BOOTSTRAP_METHODS", "BootstrapResult", "bootstrap", "supported_estimators"]

# The estimators with a hand-written batched kernel (faster than vmap of the pure fit).
FAST_PATHS = ("Mean", "Median", "Quantile", "LinearRegression", "LogisticRegression")
# Elements of one weight matrix (batch_size x n) when batch_size is None: 32 MB of float64.
DEFAULT_BATCH_ELEMENTS = 2**22


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


# ------------------------------------------------------------------ the generic path
def _generic_problem(estimator: Estimator, data: Any, fit_kwargs: dict) -> Problem:
    """Any estimator :func:`~estimators.functional.as_function` supports: ``jax.vmap`` of
    its pure fit over the rows of the weight matrix, one compiled call a chunk."""
    pure = as_function(estimator)
    if pure.inputs == ("x",):
        check_kwargs(estimator, fit_kwargs, ("sample_weight", "column"))
        estimator._check_fit_settings(None)
        inputs = select_column(
            data, fit_kwargs.get("column"), sample_weight=fit_kwargs.get("sample_weight")
        )
        sample = inputs.sample(estimator.missing)
        arrays, weights, names = (sample.values,), sample.weights, pure.param_names(1)
    else:
        design = design_of(estimator, data, fit_kwargs)
        arrays, weights, names = (design.X, design.y), design.weights, list(design.names)
        if design.fit_intercept != bool(estimator.fit_intercept):
            # a formula decides the intercept ("y ~ x - 1"), as in the estimator's fit
            estimator = _with_settings(estimator, fit_intercept=design.fit_intercept)
            pure = as_function(estimator)
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
    return Problem(
        names,
        weights,
        estimates,
        failure_warning=ConvergenceWarning,
        estimate=estimate,
        row_size=row_size,
    )


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


def _problem(estimator: Any, data: Any, fit_kwargs: dict) -> Problem:
    estimator = _without_covariance(estimator)
    kind = type(estimator)
    if kind is Mean or kind is Median or kind is Quantile:
        return sample_problem(estimator, data, fit_kwargs)
    if kind is LinearRegression:
        return least_squares_problem(estimator, data, fit_kwargs)
    if kind is LogisticRegression or (
        kind is GLM and estimator.family == "binomial" and estimator.link in (None, "logit")
    ):
        return logistic_problem(estimator, data, fit_kwargs)
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
    :class:`~estimators.bootstrap_kernels.Problem`), so a drawn row is counted straight
    into its column.
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
        yield pad(weights, base, batch)


def _run(
    problem: Problem, chunks: Iterator[np.ndarray], total: int, progress: Progress | None = None
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
        theta = problem.estimate(pad(ordered_base[None, :], ordered_base, batch))
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
    jackknife = None
    if method == "bca":
        if problem.estimate is not None:  # the resamples' compiled shape (see Problem)
            jack_batch = batch
        else:
            default_jack = max(1, min(n, DEFAULT_BATCH_ELEMENTS // per_resample))
            jack_batch = min(default_jack if batch_size is None else batch, n)
        jackknife = _run(
            problem,
            jackknife_weights(base, jack_batch, order),
            n,
            Progress(progress, "bootstrap (jackknife for bca)", n, unit="fits"),
        )
    low, high = confidence_interval(good, theta, method, confidence_level, jackknife)
    names = problem.names
    return BootstrapResult(
        confidence_interval=pd.DataFrame({"low": low, "high": high}, index=names),
        bootstrap_distribution=pd.DataFrame(theta_b, columns=names),
        standard_error=pd.Series(spread(good), index=names, name="std_error"),
        estimate=pd.Series(theta, index=names, name="estimate"),
        method=method,
        confidence_level=float(confidence_level),
        n_resamples=int(n_resamples),
        n_failed=n_failed,
        bayesian=bayesian,
    )
