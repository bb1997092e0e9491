r"""Location estimators of a 1-D sample, each the minimiser of a mean loss.

:class:`Mean` minimises the mean squared deviation
:math:`f(\beta) = \frac1n\sum_i (x_i - \beta)^2` with an optax optimizer, the
story of the tutorial this project grew from, rather than calling ``jnp.mean``.

:class:`Median` and :class:`Quantile` minimise the mean absolute deviation and
the pinball loss: a solver lands next to the minimiser and an exact finish
picks the order statistic (:func:`fit_quantile`, :func:`quantile_minimizers`).
:class:`Huber` and :class:`TukeyBiweight` are M-estimators with a MAD scale,
the fixed point of statsmodels' ``RLM`` with an intercept only.
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
from jax import Array
from jax.typing import ArrayLike
from scipy import stats

from . import inference
from .base import Estimator
from .errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError
from .frame import Sample, as_sample
from .losses import absolute_deviation, pinball, squared_deviation, weighted_mean
from .solve import DTYPES, Solution, Status, minimize


def center_and_scale(values: np.ndarray) -> tuple[float, float]:
    r"""A reference point and a power-of-two scale that make the problem well posed.

    The fit is carried out in :math:`\delta = (\beta - x_{\mathrm{ref}})/s` on the
    data :math:`c_i = (x_i - x_{\mathrm{ref}})/s` with :math:`x_{\mathrm{ref}}` the
    midrange and :math:`s` the power of two just above the half-range, so every
    :math:`|c_i| \le 1` whatever the units. Why:

    - for data with a large common offset (values near :math:`10^9` differing in
      the 8th digit) :math:`x_i - x_{\mathrm{ref}}` is exact (Sterbenz' lemma), so
      the offset costs no digits, and :math:`\hat\beta = x_{\mathrm{ref}} +
      s\hat\delta` is rounded once at the very end;
    - dividing by a power of two is exact, and brings data of any magnitude
      (:math:`10^{300}` or :math:`10^{-300}`) to order one, so the squared
      deviations neither overflow nor underflow and step sizes such as a
      learning rate mean the same thing for every data set.
    """
    low, high = float(values.min()), float(values.max())
    ref = 0.5 * low + 0.5 * high  # no overflow near the largest floats
    half_range = 0.5 * high - 0.5 * low
    if half_range == 0 or not np.isfinite(half_range):
        return ref, 1.0
    _, exponent = np.frexp(half_range)
    return ref, float(np.ldexp(1.0, int(exponent)))


def _mean_squared_deviation(params: dict, c: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """The tutorial's loss in the centred, scaled coordinates: sum w (c - delta)^2 / sum w."""
    return weighted_mean(squared_deviation(c - params["mean"]), w)


class Mean(Estimator):
    r"""The sample mean as the minimiser of the mean squared deviation.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (x_i-\beta)^2}{\sum_i w_i},
               \qquad f'(\beta) = -\frac{2}{\sum w_i}\sum_i w_i (x_i - \beta)

    fitted by ``solver`` through :func:`estimators.minimize` on centred and
    scaled data (see :func:`center_and_scale`), which keeps full float64
    accuracy for data with a large common offset.

    Standard error: :math:`s/\sqrt n` with the ``ddof=1`` sample standard
    deviation, which is the inverse Hessian of the loss times the residual
    variance (:func:`estimators.inference.least_squares_cov`); intervals and
    p-values use Student's t with :math:`n-1` degrees of freedom.
    ``sample_weight`` are frequency weights: :math:`n = \sum_i w_i`.

    Parameters
    ----------
    solver : ``"lbfgs"`` (default), ``"newton"``, ``"adam"``, ``"sgd"`` or an
        optax transformation.
    tol : accuracy in standard errors: the fit stops when the Newton decrement
        says the estimate is within about ``tol`` standard errors of the exact
        minimiser (``minimize(tol=tol**2 / n)``). Default ``1e-8``.
    max_iter : iteration limit (solver default if ``None``).
    start : starting value of the mean, in data units (default: the midrange).
    learning_rate : for ``"adam"`` and ``"sgd"``, in units of the scaled data
        (``|c_i| <= 1``), so the same value suits every data set.
    dtype : ``"float64"`` (default) or ``"float32"``.
    missing : ``"raise"`` (default) or ``"drop"`` NaN values.

    Examples
    --------
    >>> m = Mean().fit([1.0, 2.0, 6.0])
    >>> float(m.params_["mean"])
    3.0
    """

    def __init__(
        self,
        *,
        solver: Any = "lbfgs",
        tol: float = 1e-8,
        max_iter: int | None = None,
        start: float | None = None,
        learning_rate: float | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.start = start
        self.learning_rate = learning_rate
        self.dtype = dtype
        self.missing = missing

    def fit(self, x: Any, sample_weight: Any = None) -> Mean:
        """Fit to a 1-D sample: a list, numpy array, pandas Series or one-column DataFrame."""
        self._check_settings()
        sample = as_sample(x, sample_weight=sample_weight, missing=self.missing)
        ref, scale = center_and_scale(sample.values)
        c = (sample.values - ref) / scale
        delta0 = 0.0 if self.start is None else (float(self.start) - ref) / scale
        solution = minimize(
            _mean_squared_deviation,
            {"mean": delta0},
            c,
            sample.weights,
            solver=self.solver,
            tol=self.tol**2 / sample.nobs,
            max_iter=self.max_iter,
            dtype=self.dtype,
            learning_rate=self.learning_rate,
        )
        self._check_solution(solution)
        delta = float(solution.params["mean"])
        estimate = ref + scale * delta
        cov_scaled = self._covariance(sample, c, delta)
        with np.errstate(over="ignore"):  # data near 1e300: the variance itself overflows
            cov = cov_scaled * np.float64(scale) ** 2
            history_loss = solution.trace["loss"] * np.float64(scale) ** 2
        std_errors = scale * np.sqrt(np.diag(cov_scaled))
        name = "mean"
        self._store_fit(
            params=pd.Series([estimate], index=[name], name="estimate"),
            cov=pd.DataFrame(cov, index=[name], columns=[name]),
            std_errors=std_errors,
            solution=solution,
            history=pd.DataFrame(
                {
                    # back to data units: f(beta) = s^2 f_c(delta), f'(beta) = s f_c'(delta)
                    "loss": history_loss,
                    "grad_norm": solution.trace["grad_norm"] * scale,
                }
            ),
            nobs=sample.nobs,
            df_resid=sample.nobs - 1 if sample.nobs > 1 else None,
        )
        self.n_dropped_ = sample.n_dropped
        self.variable_ = sample.name
        return self

    # ------------------------------------------------------------------ helpers
    def _check_settings(self) -> None:
        if self.dtype not in DTYPES:
            raise SettingsError(f"unknown dtype {self.dtype!r}; valid dtypes are {list(DTYPES)}")
        if not (isinstance(self.tol, int | float) and self.tol > 0):
            raise SettingsError(f"tol must be a positive number, got {self.tol!r}")

    def _covariance(self, sample: Sample, c: np.ndarray, delta: float) -> np.ndarray:
        if sample.nobs <= 1:
            warnings.warn(
                f"{sample.name} has a single observation: the standard error of the mean "
                "needs at least two, so it is reported as NaN",
                InferenceWarning,
                stacklevel=3,
            )
            return np.full((1, 1), np.nan)
        hessian = inference.loss_hessian(
            _mean_squared_deviation, {"mean": delta}, c, sample.weights, dtype=self.dtype
        )
        residual_variance = float(np.sum(sample.weights * (c - delta) ** 2) / (sample.nobs - 1))
        return inference.least_squares_cov(hessian, residual_variance, sample.nobs)


# =========================================================================== shared helpers
# Everything below serves Median, Quantile, Huber and TukeyBiweight (and the scale
# estimators of estimators.scale): padding to a compile bucket, the exact finish of
# the pinball loss, and the fixed point of an M-estimator with a MAD scale.


def _bucket(n: int) -> int:
    """The padded length of a sample of ``n``: one compiled kernel per bucket, not per n.

    256 at least (padding a small sample costs microseconds, a compile about a
    second), powers of two up to 4096, then steps of 1/8 to 1/16 of an octave,
    so the zero-weight padding costs at most 12.5% of the work on large samples.
    """
    if n <= 256:
        return 256
    if n <= 4096:
        return 1 << (n - 1).bit_length()
    step = 1 << ((n - 1).bit_length() - 4)
    return -(-n // step) * step


def _padded(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and weights padded with zero-weight rows to :func:`_bucket` length.

    A zero weight removes a row from every weighted mean, so the fit is
    unchanged; the padded value 0 lies inside the centred range ``|c| <= 1``.
    """
    extra = _bucket(values.size) - values.size
    if extra == 0:
        return values, weights
    return np.concatenate([values, np.zeros(extra)]), np.concatenate([weights, np.zeros(extra)])


# Cumulative weights within this many machine epsilons of q * sum(w) count as
# equal to it: q = 0.3 then behaves as 3/10 (n = 10 gives the interval [x_(3), x_(4)])
# instead of as the binary number just below 0.3.
TIE_RTOL = 64 * np.finfo(float).eps


def _midpoint(low: float, high: float) -> float:
    """(low + high) / 2 as numpy's median computes it, without overflow near the largest floats."""
    mid = (low + high) / 2
    return mid if np.isfinite(mid) else 0.5 * low + 0.5 * high


def _first_group_passing(
    values: np.ndarray, weights: np.ndarray, budget: float, *, descending: bool, strict: bool
) -> float:
    """Walk the distinct values in order, accumulating weight; return where it passes ``budget``.

    Only the ``k`` values nearest the start of the walk are selected
    (``np.argpartition``, O(n)) and sorted; ``k`` grows eightfold until the
    crossing is inside them. A tie group cut by the selection can only be
    short of weight, so a crossing seen inside the selection is a true one.
    ``strict`` asks for ``running > budget`` instead of ``>=``.
    """
    key = -values if descending else values
    k, n = 8, values.size
    while True:
        if k >= n:
            idx = np.argsort(key, kind="stable")
        else:
            idx = np.argpartition(key, k - 1)[:k]
            idx = idx[np.argsort(key[idx], kind="stable")]
        v, wv = values[idx], weights[idx]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        running = np.cumsum(np.add.reduceat(wv, starts))
        passed = running > budget if strict else running >= budget
        if passed.any():
            return float(v[starts[int(np.argmax(passed))]])
        if k >= n:  # the whole side is below the budget: the walk ends at its last value
            return float(v[-1])
        k *= 8


def quantile_minimizers(
    x: np.ndarray, weights: np.ndarray, q: float, guess: float | None = None
) -> tuple[float, float]:
    r"""The exact set of minimisers ``[low, high]`` of the weighted pinball loss.

    .. math::  f(b) = \sum_i w_i\,\rho_q(x_i - b), \qquad
               0 \in \partial f(b) \iff W(x < b) \le qW \le W(x \le b),

    with :math:`W(A) = \sum_{x_i \in A} w_i` and :math:`W` the total weight. The
    minimiser set is a single order statistic ``low == high`` (the smallest
    value with :math:`W(x \le v) \ge qW`, which is ``np.quantile(x, q,
    weights=w, method="inverted_cdf")``), or, when :math:`W(x \le
    \mathrm{low}) = qW` exactly (up to :data:`TIE_RTOL`), the whole interval
    from ``low`` to the next larger value.

    ``guess`` (e.g. the solver's estimate) only says where to start looking:
    the values between it and the answer are selected in O(n) passes, so a
    guess within a few order statistics costs about three passes over the
    data; any guess gives the same, exact answer. Rows of zero weight are
    ignored.
    """
    x = np.asarray(x, dtype=float)
    weights = np.asarray(weights, dtype=float)
    positive = weights > 0
    if not positive.all():
        x, weights = x[positive], weights[positive]
    total = float(weights.sum())
    target = q * total
    slack = TIE_RTOL * total
    guess = float(np.median(x)) if guess is None or not np.isfinite(guess) else float(guess)
    below = x <= guess
    weight_below = float(weights[below].sum())
    if weight_below >= target - slack:
        # low <= guess: drop values from the top while W(x <= v) stays >= qW.
        low = _first_group_passing(
            x[below], weights[below], weight_below - (target - slack), descending=True, strict=True
        )
    else:
        above = ~below
        low = _first_group_passing(
            x[above], weights[above], target - slack - weight_below, descending=False, strict=False
        )
    if float(weights[x <= low].sum()) <= target + slack:
        larger = x[x > low]
        high = float(larger.min()) if larger.size else low
    else:
        high = low
    return low, high


def _is_quantile_minimizer(x: np.ndarray, weights: np.ndarray, q: float, b: float) -> bool:
    """The subgradient optimality condition W(x < b) <= qW <= W(x <= b), up to TIE_RTOL."""
    total = float(weights.sum())
    slack = TIE_RTOL * total
    return bool(
        weights[x < b].sum() <= q * total + slack and weights[x <= b].sum() >= q * total - slack
    )


def _absolute_loss(params: dict, c: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """Mean absolute deviation in the centred, scaled coordinates."""
    return weighted_mean(absolute_deviation(c - params["median"]), w)


def _pinball_loss(params: dict, c: jnp.ndarray, w: jnp.ndarray, q: jnp.ndarray) -> jnp.ndarray:
    """Mean pinball loss in the centred, scaled coordinates (q traced: one kernel for all q)."""
    return weighted_mean(pinball(c - params["quantile"], q=q), w)


# The gradient of a piecewise-linear loss does not vanish at a kink, so the
# decrement test need not pass at the minimiser: L-BFGS then moves by an ulp at a
# time until max_iter. A step that changes the loss by this relative amount or less
# ends the search; wherever it ends, the exact finish is the same, only cheaper
# when the search ended near the answer.
# optax's zoom line search can also accept an uphill step at a kink and then
# alternate between two points; LOCATE_MAX_ITER bounds that. L-BFGS lands next to
# the answer in about 5 to 40 iterations.
LOCATE_RTOL = 1e-13
LOCATE_MAX_ITER = 100


@dataclasses.dataclass(frozen=True)
class QuantileFit:
    """An exact weighted quantile and how it was found (see :func:`fit_quantile`)."""

    estimate: float
    low: float
    high: float
    solution: Solution
    ref: float
    scale: float


def fit_quantile(
    x: np.ndarray,
    weights: np.ndarray,
    q: float,
    *,
    solver: Any = "lbfgs",
    max_iter: int | None = None,
    start: float | None = None,
    learning_rate: float | None = None,
    dtype: str = "float64",
) -> QuantileFit:
    r"""The weighted ``q``-quantile as the minimiser of the pinball loss, finished exactly.

    1. ``solver`` (default L-BFGS) minimises the exact mean pinball loss
       (:func:`estimators.losses.absolute_deviation` for ``q = 0.5``) on the
       centred, scaled data (:func:`center_and_scale`, zero-weight padding to
       a compile bucket). The loss is piecewise linear; L-BFGS's zoom line
       search brackets the kink, so it ends at or next to the minimiser.
    2. :func:`quantile_minimizers` turns that estimate into the exact
       minimiser set ``[low, high]`` by an O(n) local search, and the
       reported estimate is ``low`` if the minimiser is unique, else the
       midpoint ``(low + high) / 2`` (numpy's median for even n).
    """
    ref, scale = center_and_scale(x)
    c, w = _padded((x - ref) / scale, weights)
    delta0 = 0.0 if start is None else (float(start) - ref) / scale
    if q == 0.5:
        args: tuple = (c, w)
        fun, name = _absolute_loss, "median"
    else:
        args = (c, w, np.float64(q))
        fun, name = _pinball_loss, "quantile"
    solution = minimize(
        fun,
        {name: delta0},
        *args,
        solver=solver,
        rtol=LOCATE_RTOL,
        max_iter=LOCATE_MAX_ITER if max_iter is None else max_iter,
        dtype=dtype,
        learning_rate=learning_rate,
    )
    guess = ref + scale * float(solution.params[name])
    low, high = quantile_minimizers(x, weights, q, guess)
    estimate = low if low == high else _midpoint(low, high)
    return QuantileFit(estimate, low, high, solution, ref, scale)


# =========================================================================== Median, Quantile


def hall_sheather(n: float, q: float, alpha: float = 0.05) -> float:
    r"""Hall and Sheather's (1988) bandwidth, on the probability scale.

    .. math::  h = n^{-1/3}\, z_{1-\alpha/2}^{2/3}
               \left[\frac{1.5\,\phi(\Phi^{-1}(q))^2}{2\,\Phi^{-1}(q)^2 + 1}\right]^{1/3}

    (as ``statsmodels.regression.quantile_regression.hall_sheather``).
    """
    z = stats.norm.ppf(q)
    ratio = 1.5 * stats.norm.pdf(z) ** 2 / (2 * z**2 + 1)
    return float(n ** (-1 / 3) * stats.norm.ppf(1 - alpha / 2) ** (2 / 3) * ratio ** (1 / 3))


def _weighted_percentiles(x: np.ndarray, weights: np.ndarray, p: np.ndarray) -> np.ndarray:
    """numpy's default ("linear") percentiles of the sample with each row repeated w_i times.

    Position ``h = (N - 1) p`` in the expanded sorted sample (N = sum w) is read
    through the cumulative weights, so integer weights equal repeated rows
    exactly; unit weights go straight to ``np.percentile``.
    """
    if np.all(weights == 1):
        return np.percentile(x, 100 * p)
    order = np.argsort(x, kind="stable")
    xs, cum = x[order], np.cumsum(weights[order])
    h = (cum[-1] - 1) * p
    lower = np.floor(h)
    at = lambda j: xs[np.minimum(np.searchsorted(cum, j, side="right"), xs.size - 1)]  # noqa: E731
    a, b, t = at(lower), at(lower + 1), h - lower
    return np.where(t < 0.5, a + t * (b - a), b - (b - a) * (1 - t))  # numpy's _lerp


def quantile_std_error(
    x: np.ndarray, weights: np.ndarray, q: float, estimate: float
) -> tuple[float, str | None]:
    r"""Asymptotic standard error of a sample quantile from a kernel density estimate.

    .. math::  \mathrm{se} = \frac{\sqrt{q(1-q)/n}}{\hat f(\hat\beta)}, \qquad
               \hat f(\hat\beta) = \frac{1}{n h}\sum_i w_i\,
               K\!\left(\frac{x_i - \hat\beta}{h}\right),

    with the Epanechnikov kernel :math:`K(u) = \tfrac34(1-u^2)_+` and the
    Hall-Sheather bandwidth :math:`h = \min(\mathrm{sd},\ \mathrm{IQR}/1.34)\,
    [\Phi^{-1}(q + h_{HS}) - \Phi^{-1}(q - h_{HS})]` (sd with ``ddof=0``, IQR by
    numpy's linear percentiles): ``statsmodels`` ``QuantReg(x, ones).fit(q,
    vcov="iid", kernel="epa", bandwidth="hsheather")`` evaluated at the exact
    quantile. Valid for i.i.d. data with a density positive and continuous at
    the quantile. Returns ``(nan, reason)`` where it cannot be computed.
    """
    n = float(weights.sum())
    h_q = hall_sheather(n, q)
    if not 0 < q - h_q < q + h_q < 1:
        return np.nan, (
            f"the Hall-Sheather bandwidth ({h_q:.3g}) reaches beyond (0, 1) around q = {q:g} "
            f"with n = {n:g}: too few observations in the tail for a density estimate"
        )
    mean = float(np.sum(weights * x) / n)
    sd = float(np.sqrt(np.sum(weights * (x - mean) ** 2) / n))
    q25, q75 = _weighted_percentiles(x, weights, np.array([0.25, 0.75]))
    h = min(sd, (q75 - q25) / 1.34) * (stats.norm.ppf(q + h_q) - stats.norm.ppf(q - h_q))
    if not h > 0:
        return np.nan, "the interquartile range is 0 (heavy ties): no density estimate"
    u = (x - estimate) / h
    density = float(np.sum(weights * 0.75 * (1 - u**2) * (np.abs(u) <= 1)) / (n * h))
    if not density > 0:
        return np.nan, "no observation within one bandwidth of the estimate: density estimate 0"
    return float(np.sqrt(q * (1 - q) / n) / density), None


class _SampleQuantile(Estimator):
    """Shared fit of :class:`Quantile` and :class:`Median` (they differ in settings only)."""

    def _level(self) -> float:
        raise NotImplementedError

    def _param_name(self) -> str:
        raise NotImplementedError

    def fit(self, x: Any, sample_weight: Any = None) -> _SampleQuantile:
        """Fit to a 1-D sample: a list, numpy array, pandas Series or one-column DataFrame."""
        self._check_settings()
        sample = as_sample(x, sample_weight=sample_weight, missing=self.missing)
        q = self._level()
        found = fit_quantile(
            sample.values,
            sample.weights,
            q,
            solver=self.solver,
            max_iter=self.max_iter,
            start=self.start,
            learning_rate=self.learning_rate,
            dtype=self.dtype,
        )
        if found.solution.status == Status.NONFINITE:
            self._check_solution(found.solution)  # raises FitError with a hint
        # on the centred, scaled data (the SE is equivariant): no overflow near 1e300
        se, reason = quantile_std_error(
            (sample.values - found.ref) / found.scale,
            sample.weights,
            q,
            (found.estimate - found.ref) / found.scale,
        )
        se = np.float64(se) * found.scale
        if reason is not None:
            warnings.warn(
                f"{type(self).__name__} of {sample.name}: standard error is NaN: {reason}",
                InferenceWarning,
                stacklevel=2,
            )
        name = self._param_name()
        trace = found.solution.trace
        with np.errstate(over="ignore"):  # data near 1e300: the variance overflows, the SE not
            variance = se**2
        self._store_fit(
            params=pd.Series([found.estimate], index=[name], name="estimate"),
            cov=pd.DataFrame([[variance]], index=[name], columns=[name]),
            std_errors=np.array([se]),
            solution=found.solution,
            # pinball and absolute loss are homogeneous of degree 1: f(beta) = s f_c(delta),
            # and the gradient in data units equals the one in scaled units.
            history=pd.DataFrame(
                {"loss": trace["loss"] * found.scale, "grad_norm": trace["grad_norm"]}
            ),
            nobs=sample.nobs,
            df_resid=sample.nobs - 1 if sample.nobs > 1 else None,
        )
        self.converged_ = _is_quantile_minimizer(sample.values, sample.weights, q, found.estimate)
        self.minimizer_set_ = (found.low, found.high)
        self.n_dropped_ = sample.n_dropped
        self.variable_ = sample.name
        return self


class Quantile(_SampleQuantile):
    r"""The ``q``-quantile of a sample as the minimiser of the pinball loss.

    .. math::  \hat\beta \in \arg\min_\beta \frac{\sum_i w_i\,\rho_q(x_i - \beta)}{\sum_i w_i},
               \qquad \rho_q(r) = r\,(q - 1\{r < 0\}),

    located by ``solver`` through :func:`estimators.minimize` and finished
    exactly (:func:`fit_quantile`, :func:`quantile_minimizers`).

    Convention. The minimisers are the values :math:`b` with :math:`W(x<b) \le
    qW \le W(x \le b)` (:math:`W` the summed weights). That is one order
    statistic, ``low`` = ``np.quantile(x, q, weights=w,
    method="inverted_cdf")``, unless :math:`W(x \le \mathrm{low}) = qW`
    (within :data:`TIE_RTOL`), when it is the interval from ``low`` to the
    next larger value ``high``; the estimate is then the midpoint
    ``(low + high) / 2``. For ``q = 0.5`` this is ``np.median``. Both ends are
    kept in ``minimizer_set_ = (low, high)``. Integer weights give the same
    answer as repeated rows.

    Standard error: :func:`quantile_std_error` (kernel density, Hall-Sheather
    bandwidth; statsmodels QuantReg ``vcov="iid"``), NaN with an
    :class:`InferenceWarning` where it cannot be computed; t intervals with
    ``n - 1`` degrees of freedom as in statsmodels.

    ``converged_`` is True when the estimate satisfies the optimality
    condition above (the exact finish makes sure of it, whatever the
    solver's own status, which is kept in ``solution_``); ``history_`` is the
    solver's trace of the loss, in data units.

    Parameters
    ----------
    q : quantile level in (0, 1); default 0.5.
    solver : as for :class:`Mean` (default ``"lbfgs"``); it only has to land
        near the answer, the finish is exact whatever it does.
    max_iter : iteration limit of the solver (default :data:`LOCATE_MAX_ITER`).
    start, learning_rate, dtype, missing : as for :class:`Mean`.

    Examples
    --------
    With :math:`nq = 25` every value in :math:`[x_{(25)}, x_{(26)}]` minimises the loss:

    >>> fitted = Quantile(q=0.25).fit(np.arange(1.0, 101.0))
    >>> fitted.minimizer_set_, float(fitted.params_["quantile_0.25"])
    ((25.0, 26.0), 25.5)
    """

    def __init__(
        self,
        q: float = 0.5,
        *,
        solver: Any = "lbfgs",
        max_iter: int | None = None,
        start: float | None = None,
        learning_rate: float | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self.q = q
        self.solver = solver
        self.max_iter = max_iter
        self.start = start
        self.learning_rate = learning_rate
        self.dtype = dtype
        self.missing = missing

    def _level(self) -> float:
        return self.q

    def _param_name(self) -> str:
        return f"quantile_{self.q:g}"

    def _check_settings(self) -> None:
        _check_dtype(self.dtype)
        q = self.q
        if not (isinstance(q, int | float | np.floating) and 0 < q < 1):
            raise SettingsError(f"q must be a number strictly between 0 and 1, got {q!r}")


class Median(_SampleQuantile):
    r"""The sample median as the minimiser of the mean absolute deviation.

    .. math::  \hat\beta \in \arg\min_\beta \frac{\sum_i w_i |x_i - \beta|}{\sum_i w_i}

    :class:`Quantile` with ``q = 0.5`` (see there for the solver, the exact
    finish and the standard error). The minimiser is the middle order
    statistic for odd n, and every value between the two middle ones for even
    n; the estimate is then their midpoint, so it equals ``np.median`` (and,
    with integer weights, ``np.median`` of the repeated rows).

    Parameters as for :class:`Quantile`, without ``q``.

    Examples
    --------
    >>> float(Median().fit(np.r_[np.arange(1.0, 100.0), 1e6]).params_["median"])
    50.5
    """

    def __init__(
        self,
        *,
        solver: Any = "lbfgs",
        max_iter: int | None = None,
        start: float | None = None,
        learning_rate: float | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self.solver = solver
        self.max_iter = max_iter
        self.start = start
        self.learning_rate = learning_rate
        self.dtype = dtype
        self.missing = missing

    def _level(self) -> float:
        return 0.5

    def _param_name(self) -> str:
        return "median"

    def _check_settings(self) -> None:
        _check_dtype(self.dtype)


def _check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise SettingsError(f"unknown dtype {dtype!r}; valid dtypes are {list(DTYPES)}")


# =========================================================================== Huber, TukeyBiweight

NORMAL_MAD = float(stats.norm.ppf(0.75))  # 0.67449...: the MAD of N(0, 1)


def huber_rho(z: ArrayLike, *, c: float) -> Array:
    r"""Huber's loss: :math:`\rho_c(z) = z^2/2` for :math:`|z| \le c`, else :math:`c|z| - c^2/2`.

    Computed as :math:`m z - m^2/2` with :math:`m = \psi(z)` (:math:`z` clipped
    to :math:`[-c, c]`, the boundary inside), which is accurate to a rounding
    for outliers (:math:`z^2/2 - (|z|-c)^2/2` would cancel catastrophically)
    and differentiates twice to :math:`\rho'' = 1` on :math:`|z| \le c`,
    including :math:`z = 0` (the ``abs`` form of :func:`estimators.losses.huber`
    gives 0 there), as statsmodels' ``HuberT.psi_deriv``.
    """
    z = jnp.asarray(z)
    m = jnp.where(jnp.abs(z) <= c, z, c * jnp.sign(z))
    return m * z - 0.5 * m * m


def biweight_rho(z: ArrayLike, *, c: float) -> Array:
    r"""Tukey's biweight loss :math:`\rho_c(z) = \tfrac{c^2}{6}[1 - (1 - u)^3]`.

    Here :math:`u = \min(z^2/c^2, 1)`. Redescending: :math:`\psi(z) = z(1 - z^2/c^2)^2` for
    :math:`|z| \le c` and 0 beyond, so gross outliers have no influence at all (statsmodels'
    ``TukeyBiweight``). Computed as :math:`\tfrac{c^2}{6}\,u\,(3 + u(u - 3))`,
    accurate for small :math:`u`, and in :math:`z^2` so that autodiff is exact at 0.
    """
    u = jnp.minimum((jnp.asarray(z) / c) ** 2, 1.0)
    return c * c / 6 * (u * (3 + u * (u - 3)))


def _huber_objective(params: dict, data, w, scale, c) -> jnp.ndarray:
    return weighted_mean(huber_rho((data - params["location"]) / scale, c=c), w)


def _biweight_objective(params: dict, data, w, scale, c) -> jnp.ndarray:
    return weighted_mean(biweight_rho((data - params["location"]) / scale, c=c), w)


def mad_about(residuals: np.ndarray, weights: np.ndarray, guess: float | None = None) -> float:
    """Normalised MAD about 0: median(|r|) / Phi^{-1}(3/4), statsmodels' ``mad(r, center=0)``.

    The median is exact (:func:`quantile_minimizers`, numpy's convention).
    """
    low, high = quantile_minimizers(np.abs(residuals), weights, 0.5, guess)
    return (low if low == high else _midpoint(low, high)) / NORMAL_MAD


@functools.partial(jax.jit, static_argnums=0)
def _rho_psi_dpsi(rho, z: jnp.ndarray, c: jnp.ndarray) -> tuple[jnp.ndarray, ...]:
    first = jax.grad(lambda t: rho(t, c=c))
    return rho(z, c=c), jax.vmap(first)(z), jax.vmap(jax.grad(first))(z)


def _rho_and_derivatives(rho, z: np.ndarray, c: float) -> tuple[np.ndarray, ...]:
    """rho, psi = rho' and psi' = rho'' element-wise, by autodiff (padded: a compile a bucket)."""
    padded, _ = _padded(z, z)
    with jax.enable_x64(True):
        out = _rho_psi_dpsi(rho, jnp.asarray(padded, jnp.float64), jnp.float64(c))
    return tuple(np.asarray(a)[: z.size] for a in out)


def _psi_and_derivative(rho, z: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """psi = rho' and psi' = rho'' element-wise, by autodiff."""
    return _rho_and_derivatives(rho, z, c)[1:]


def m_location_cov(
    rho, c: float, residuals: np.ndarray, weights: np.ndarray, scale: float
) -> tuple[float, str | None]:
    r"""Huber's covariance of an M-estimate of location, statsmodels RLM's ``"H1"``.

    With :math:`z_i = r_i / s`, :math:`n = \sum w_i`, :math:`m = \overline{\psi'(z)}`:

    .. math::  \widehat{\mathrm{Var}}(\hat\beta) = K^2\,
               \frac{\sum_i w_i \psi(z_i)^2\, s^2 / (n-1)}{m^2\, n}, \qquad
               K = 1 + \frac{1}{n}\,\frac{\widehat{\mathrm{Var}}(\psi'(z))}{m^2}

    (Huber 1981, sec. 7.6: the sandwich :math:`E\psi^2 / (E\psi')^2` with a
    small-sample correction :math:`K`). Returns ``(nan, reason)`` when
    :math:`n \le 1` or :math:`m \le 0`.
    """
    n = float(weights.sum())
    if n <= 1:
        return np.nan, "a single observation: the standard error needs at least two"
    psi, dpsi = _psi_and_derivative(rho, residuals / scale, c)
    m = float(np.sum(weights * dpsi) / n)
    if not m > 0:
        return np.nan, f"the mean of psi' is {m:.3g} <= 0: the loss is not locally convex"
    var_dpsi = float(np.sum(weights * (dpsi - m) ** 2) / n)
    k = 1 + var_dpsi / (n * m * m)
    return k * k * float(np.sum(weights * psi * psi)) * scale**2 / (n - 1) / (m * m * n), None


def _secant(
    b: float,
    h: float,
    previous: tuple[float, float] | None,
    positive: float | None,
    negative: float | None,
) -> float:
    """Next point for a root of h: the secant through the last two points, else b + h.

    Once points with h > 0 and h < 0 are known, a secant point outside that
    bracket is replaced by its midpoint, so the search cannot wander off.
    """
    following = b + h
    if previous is not None and h != previous[1]:
        following = b - h * (b - previous[0]) / (h - previous[1])
    if positive is not None and negative is not None:
        low, high = min(positive, negative), max(positive, negative)
        if not low < following < high:
            following = 0.5 * (low + high)
    return following


class _RobustLocation(Estimator):
    r"""Shared fit of :class:`Huber` and :class:`TukeyBiweight`: an M-estimate with a MAD scale.

    The estimate is the fixed point of

    .. math::  s = \frac{\operatorname{median}_i |x_i - \beta|}{\Phi^{-1}(3/4)}, \qquad
               \beta = \arg\min_b \frac{\sum_i w_i\,\rho_c((x_i - b)/s)}{\sum_i w_i},

    the solution of statsmodels ``RLM(x, ones, M=norm).fit()`` (MAD scale
    re-estimated every iteration, ``scale_est="mad"``). Starting from the
    median (or ``start``), each round takes the MAD :math:`s(b)` about the
    current point :math:`b` and minimises the loss at that scale with
    :func:`estimators.minimize` started at :math:`b`, giving :math:`T(b)`.
    The fixed point is the root of :math:`h(b) = T(b) - b`; the next point is
    a secant step on :math:`h`, kept inside the bracket once :math:`h` has
    changed sign (the plain iteration :math:`b \leftarrow T(b)` converges
    slowly, and cycles where :math:`T' < -1`, which happens for the biweight
    on small samples). The rounds stop when :math:`|h(b)| \le`
    ``tol`` :math:`\cdot s/\sqrt n` (about ``tol`` standard errors); the
    estimate is then :math:`T(b)` and ``scale_`` the MAD about it, as in RLM.
    """

    _rho: Any = None
    _objective: Any = None

    def _store_settings(self, c, tol, max_iter, max_scale_iter, start, solver, dtype, missing):
        self.c = c
        self.tol = tol
        self.max_iter = max_iter
        self.max_scale_iter = max_scale_iter
        self.start = start
        self.solver = solver
        self.dtype = dtype
        self.missing = missing

    def _check_settings(self) -> None:
        _check_dtype(self.dtype)
        c = self.c
        if not (isinstance(c, int | float | np.floating) and np.isfinite(c) and c > 0):
            raise SettingsError(f"c (the tuning constant) must be a positive number, got {c!r}")
        if not (isinstance(self.tol, int | float) and self.tol > 0):
            raise SettingsError(f"tol must be a positive number, got {self.tol!r}")
        if not (isinstance(self.max_scale_iter, int) and self.max_scale_iter >= 1):
            raise SettingsError(
                f"max_scale_iter must be a positive integer, got {self.max_scale_iter!r}"
            )

    def fit(self, x: Any, sample_weight: Any = None) -> _RobustLocation:
        """Fit to a 1-D sample: a list, numpy array, pandas Series or one-column DataFrame."""
        self._check_settings()
        sample = as_sample(x, sample_weight=sample_weight, missing=self.missing)
        weights, n = sample.weights, sample.nobs
        ref, unit, data = self._robust_centering(sample)
        padded, padded_weights = _padded(data, weights)
        delta = 0.0 if self.start is None else (float(self.start) - ref) / unit
        # Root of h(b) = T(b) - b, T(b) the minimiser at scale s(b) started from b:
        # secant steps, kept inside the bracket once h has changed sign (else bisection).
        # Plain iteration b <- T(b) can be slow, and it cycles when T'(b) < -1
        # (a redescending loss on a small sample).
        previous, positive, negative = None, None, None
        scale, rounds, settled = None, 0, False
        while rounds < self.max_scale_iter and not settled:
            scale = mad_about(data - delta, weights, None if scale is None else scale * NORMAL_MAD)
            if scale == 0:
                self._zero_scale(sample, ref + unit * delta)
            solution = self._minimize_at(delta, scale, padded, padded_weights, n)
            moved = float(solution.params["location"])
            step = moved - delta
            rounds += 1
            settled = abs(step) <= self.tol * scale / np.sqrt(n)
            if not settled:
                if step > 0:
                    positive = delta
                else:
                    negative = delta
                following = _secant(delta, step, previous, positive, negative)
                previous = (delta, step)
                delta = following
        delta = moved
        if not settled:
            warnings.warn(
                f"{type(self).__name__} did not converge: the location still moved by "
                f"{abs(step) * unit:.3g} after max_scale_iter={self.max_scale_iter} scale "
                "updates; converged_ is False. Raise max_scale_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        scale = mad_about(data - delta, weights, scale * NORMAL_MAD)
        if scale == 0:
            self._zero_scale(sample, ref + unit * delta)
        variance, reason = m_location_cov(type(self)._rho, self.c, data - delta, weights, scale)
        if reason is not None:
            warnings.warn(
                f"{type(self).__name__} of {sample.name}: standard error is NaN: {reason}",
                InferenceWarning,
                stacklevel=2,
            )
        with np.errstate(over="ignore"):  # data near 1e300: the variance overflows, the SE not
            cov = np.float64(variance) * np.float64(unit) ** 2
        self._store_fit(
            params=pd.Series([ref + unit * delta], index=["location"], name="estimate"),
            cov=pd.DataFrame([[cov]], index=["location"], columns=["location"]),
            std_errors=np.array([np.sqrt(variance) * unit]),
            solution=solution,
            # rho((x - beta)/s) is unit-free; d/dbeta = (1/unit) d/ddelta
            history=pd.DataFrame(
                {
                    "loss": solution.trace["loss"],
                    "grad_norm": solution.trace["grad_norm"] / unit,
                }
            ),
            nobs=n,
            df_resid=None,
        )
        self.converged_ = bool(solution.converged and settled)
        self.scale_ = scale * unit
        self.n_scale_iter_ = rounds
        self.n_dropped_ = sample.n_dropped
        self.variable_ = sample.name
        return self

    def _robust_centering(self, sample: Sample) -> tuple[float, float, np.ndarray]:
        """``(ref, unit, c)``: ``c = (x - median) / unit``, ``unit`` a power of two near the MAD.

        Not the midrange of :func:`center_and_scale`: far outliers would stretch
        it and leave the bulk of the data, which decides the fit, a few ulps of
        the range wide. Centred at the median (an exact order statistic), the
        bulk keeps its digits and has ``|c|`` of order one; outliers may be large.
        """
        median = fit_quantile(sample.values, sample.weights, 0.5, dtype=self.dtype).estimate
        with np.errstate(over="ignore", invalid="ignore"):
            deviations = sample.values - median
        spread = mad_about(deviations, sample.weights) * NORMAL_MAD
        if spread == 0:
            self._zero_scale(sample, median)
        if not np.all(np.isfinite(deviations)):  # values of both signs near the largest float
            ref, unit = center_and_scale(sample.values)
            return ref, unit, (sample.values - ref) / unit
        unit = float(np.ldexp(1.0, int(np.frexp(spread)[1])))
        return median, unit, deviations / unit

    def _minimize_at(self, delta, scale, padded, padded_weights, n) -> Solution:
        r"""The minimiser of the loss at a fixed scale, started from ``delta``.

        The engine's test is relative to the loss value, which far outliers
        inflate (Huber's rho grows linearly); its ``tol`` is set so that it
        means ``self.tol`` standard errors: with :math:`\lambda^2` the Newton
        decrement, the distance is about :math:`\sqrt{n \lambda^2 \bar{\psi'} /
        \overline{\psi^2}}` standard errors.
        """
        z = (padded - delta) / scale
        rho, psi, dpsi = _rho_and_derivatives(type(self)._rho, z, self.c)
        loss = float(np.sum(padded_weights * rho)) / n
        mean_psi2 = float(np.sum(padded_weights * psi * psi)) / n
        mean_dpsi = float(np.sum(padded_weights * dpsi)) / n
        tol = self.tol**2 / n
        if mean_dpsi > 0 and mean_psi2 > 0 and loss > 0:
            tol = self.tol**2 * mean_psi2 / (2 * n * mean_dpsi * loss)
        solution = minimize(
            type(self)._objective,
            {"location": delta},
            padded,
            padded_weights,
            np.float64(scale),
            np.float64(self.c),
            solver=self.solver,
            tol=tol,
            max_iter=self.max_iter,
            dtype=self.dtype,
        )
        self._check_solution(solution)
        return solution

    def _zero_scale(self, sample: Sample, location: float) -> None:
        at = int((sample.values == location).sum())
        raise DataError(
            f"{sample.name}: the MAD scale is 0 ({at} of {sample.values.size} rows equal "
            f"{location!r}, at least half the weight): {type(self).__name__}'s loss is "
            "undefined at scale 0 (as in R's MASS::huber). Use Median, or Mean."
        )


class Huber(_RobustLocation):
    r"""Huber's M-estimator of location with a MAD scale (statsmodels RLM with an intercept).

    .. math::  \hat\beta = \arg\min_\beta \sum_i w_i\,\rho_c\!\left(\frac{x_i - \beta}{s}\right),
               \quad \rho_c(z) = \begin{cases} z^2/2 & |z| \le c \\
                                              c|z| - c^2/2 & |z| > c \end{cases},
               \quad s = \frac{\operatorname{median}|x_i - \hat\beta|}{\Phi^{-1}(3/4)}

    jointly (see :class:`_RobustLocation`): the same estimate as statsmodels
    ``RLM(x, np.ones(n), M=HuberT(t=c)).fit()``, with ``scale_`` its
    ``scale``. (This is not Huber's "proposal 2", which estimates the scale
    from the same :math:`\psi`: ``statsmodels.robust.scale.Huber``.) ``c =
    1.345`` gives 95% efficiency at the normal. The loss is convex in
    :math:`\beta` at a fixed scale, so each round has one minimiser.

    Standard error: :func:`m_location_cov` (RLM's ``"H1"``), z intervals.
    ``sample_weight`` are frequency weights (integer weights equal repeated rows).

    Parameters
    ----------
    c : the tuning constant, > 0 (in units of the scale ``s``).
    tol : accuracy in standard errors, as for :class:`Mean`; also ends the
        scale rounds (default ``1e-8``).
    max_iter : iteration limit of each minimisation (solver default if ``None``).
    max_scale_iter : limit on the scale rounds (default 100).
    start : starting location in data units (default: the median).
    solver : as for :class:`Mean`; default ``"newton"`` (one parameter, exact
        Hessian).
    dtype, missing : as for :class:`Mean`.

    Examples
    --------
    >>> round(float(Huber().fit([1.0, 2.0, 3.0, 4.0, 100.0]).params_["location"]), 6)
    3.0
    """

    _rho = staticmethod(huber_rho)
    _objective = staticmethod(_huber_objective)

    def __init__(
        self,
        c: float = 1.345,
        *,
        tol: float = 1e-8,
        max_iter: int | None = None,
        max_scale_iter: int = 100,
        start: float | None = None,
        solver: Any = "newton",
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._store_settings(c, tol, max_iter, max_scale_iter, start, solver, dtype, missing)


class TukeyBiweight(_RobustLocation):
    r"""Tukey's biweight M-estimator of location with a MAD scale (statsmodels RLM).

    .. math::  \hat\beta = \arg\min_\beta \sum_i w_i\,\rho_c\!\left(\frac{x_i - \beta}{s}\right),
               \quad \rho_c(z) = \frac{c^2}{6}\left[1 - \left(1 - \min(z^2/c^2, 1)\right)^3\right]

    with :math:`s` the MAD about :math:`\hat\beta`, jointly (see
    :class:`_RobustLocation`). The loss redescends: observations more than
    :math:`c s` away have no influence, and it is not convex, so the answer
    is the local minimum reached from the start, the median by default (as
    statsmodels ``RLM(x, ones, M=TukeyBiweight(c)).fit(start_params=[median])``;
    RLM's own default starts from the mean, which lands on the same fixed
    point unless outliers pull the mean into another basin). ``c = 4.685``
    gives 95% efficiency at the normal.

    Standard error: :func:`m_location_cov` (RLM's ``"H1"``), z intervals.
    Parameters as for :class:`Huber`.

    Examples
    --------
    >>> round(float(TukeyBiweight().fit([1.0, 2.0, 3.0, 4.0, 100.0]).params_["location"]), 6)
    2.5
    """

    _rho = staticmethod(biweight_rho)
    _objective = staticmethod(_biweight_objective)

    def __init__(
        self,
        c: float = 4.685,
        *,
        tol: float = 1e-8,
        max_iter: int | None = None,
        max_scale_iter: int = 100,
        start: float | None = None,
        solver: Any = "newton",
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._store_settings(c, tol, max_iter, max_scale_iter, start, solver, dtype, missing)
