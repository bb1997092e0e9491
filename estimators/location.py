r"""Location estimators of a 1-D sample, each the minimiser of a mean loss.

:class:`Mean` minimises the mean squared deviation
:math:`f(\beta) = \frac1n\sum_i (x_i - \beta)^2` with an optax optimizer, the
story of the tutorial this project grew from, rather than calling ``jnp.mean``.

:class:`Median` and :class:`Quantile` minimise the mean absolute deviation and
the pinball loss: a solver lands next to the minimiser and an exact finish
picks the order statistic (:func:`fit_quantile`,
:func:`~estimators.order_statistics.quantile_minimizers`); on large unit-weight
samples the order statistic is selected directly
(:mod:`estimators.quantile_selection`).

The robust M-estimators :class:`~estimators.robust_location.Huber` and
:class:`~estimators.robust_location.TukeyBiweight` live in
:mod:`estimators.robust_location` and are importable from here too, as is
:func:`~estimators.numerics.center_and_scale`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import inference
from .covariance import Sandwich
from .errors import SettingsError
from .frame import Sample
from .losses import absolute_deviation, pinball, squared_deviation, weighted_mean
from .moments import (
    MOMENT_BLOCK,
    UNIT_MOMENTS_MIN_ROWS,
    centred_moments,
    moment_squared_deviation,
    unit_moments,
)
from .numerics import NORMAL_MAD, center_and_scale, pad_rows
from .order_statistics import TIE_RTOL, is_quantile_minimizer, midpoint, quantile_minimizers
from .quantile_inference import (
    DEFAULT_N_BOOTSTRAP,
    QUANTILE_COV_OPTIONS,
    QUANTILE_COV_TYPES,
    bootstrap_cov,
    check_cov_options,
    iid_cov,
    kernel_cov,
    nid_cov,
)
from .quantile_selection import SELECTION_MIN_ROWS, select_quantile
from .robust_location import Huber, TukeyBiweight
from .sharding import active_mesh, device_multiple, put_rows
from .solve import Solution, Status, minimize, x64_context
from .univariate import SampleEstimator, SampleInputs, scaled_history

__all__ = [
    "MOMENT_BLOCK",
    "NORMAL_MAD",
    "TIE_RTOL",
    "Huber",
    "Mean",
    "Median",
    "Quantile",
    "QuantileFit",
    "TukeyBiweight",
    "center_and_scale",
    "fit_quantile",
    "centred_moments",
    "mean_squared_deviation",
    "moment_squared_deviation",
    "quantile_minimizers",
    "quantile_variance",
]


def mean_squared_deviation(params: dict, c: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """The tutorial's loss in the centred, scaled coordinates: sum w (c - delta)^2 / sum w.

    Shared by :class:`Mean` and :class:`~estimators.scale.StandardDeviation`,
    so both reuse one compiled loop.
    """
    return weighted_mean(squared_deviation(c - params["mean"]), w)


def _squared_deviation_rows(theta: jnp.ndarray, c: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """The rows' terms w_i (c_i - delta)^2 of Mean's total loss (theta = [delta])."""
    return w * squared_deviation(c - theta[0])


class Mean(SampleEstimator):
    r"""The sample mean as the minimiser of the mean squared deviation.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (x_i-\beta)^2}{\sum_i w_i},
               \qquad f'(\beta) = -\frac{2}{\sum w_i}\sum_i w_i (x_i - \beta)

    fitted by ``solver`` through :func:`estimators.minimize` on centred and
    scaled data (see :func:`center_and_scale`), which keeps full float64
    accuracy for data with a large common offset. In float64 the loss is
    evaluated through its sufficient statistics,
    :math:`f(\delta) = V + (\delta - \bar c)^2` (:func:`centred_moments` after
    the min and max passes of :func:`center_and_scale`; for unit weights and
    :data:`~estimators.moments.UNIT_MOMENTS_MIN_ROWS` values or more, range and
    moments from one pass, :func:`~estimators.moments.unit_moments`; then
    :func:`moment_squared_deviation`), the
    same function as the sum over the rows at O(1) an evaluation; ``dtype="float32"``
    and fits inside :func:`~estimators.sharding.sharded` evaluate the rows' sum
    (:func:`mean_squared_deviation`) at every step.

    Standard error (``cov_type``), with :math:`n = \sum_i w_i` (``sample_weight``
    are frequency weights) and residuals :math:`e_i = x_i - \hat\beta`:

    - ``"nonrobust"`` (default): :math:`s^2/n` with the ``ddof=1`` sample
      variance :math:`s^2`, the inverse Hessian of the loss times the residual
      variance (:func:`estimators.inference.least_squares_cov`);
    - ``"HC0"``, ``"HC1"``, ``"cluster"``, ``"HAC"``: the sandwich of the
      total loss :math:`\sum_i w_i e_i^2` (scores :math:`-2w_ie_i`, bread
      :math:`1/(2n)`, both by autodiff), see :mod:`estimators.covariance`. In
      closed form, ``"HC0"`` is :math:`\sum_i w_i e_i^2/n^2`, ``"HC1"`` that
      times :math:`n/(n-1)`, ``"cluster"``
      :math:`\frac{G}{G-1}\sum_g (\sum_{i\in g} w_ie_i)^2/n^2`, and ``"HAC"``
      the Newey-West long-run variance of :math:`e_i` over :math:`n^2` (rows in
      time order): statsmodels ``OLS(x, 1)`` with the same ``cov_type``.

    Intervals and p-values use Student's t with :math:`n-1` degrees of freedom
    (:math:`G - 1` for ``"cluster"``; ``use_t=False``: z).

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`.

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
    cov_type : ``"nonrobust"`` (default), ``"HC0"``, ``"HC1"``, ``"cluster"``
        (labels from ``fit(..., groups=...)``) or ``"HAC"``.
    use_t : None (t), True or False (z).
    cov_options : None or ``{"maxlags": L}`` for ``"HAC"`` (default
        :math:`\lfloor 4(n/100)^{2/9}\rfloor`).

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
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    _cov_types = ("nonrobust", "HC0", "HC1", "cluster", "HAC")

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        unit_weights = inputs.sample_weight is None  # weights all 1: not read
        fused = None
        if (
            unit_weights
            and self.dtype == "float64"
            and sample.values.size >= UNIT_MOMENTS_MIN_ROWS
        ):
            fused = unit_moments(sample.values)  # range and moments in one pass
        if fused is None:
            ref, scale = center_and_scale(sample.values)
            moments = centred_moments(sample.values, sample.weights, ref, scale, unit_weights)
        else:
            ref, scale, moments = fused
        delta0 = 0.0 if self.start is None else (float(self.start) - ref) / scale
        if self.dtype == "float64" and active_mesh() is None:
            # The loss through its sufficient statistics: O(1) an evaluation.
            loss, args = moment_squared_deviation, (np.array(moments[1:]),)
        else:
            # float32 (the rows' sums in float32 are what that option means) and
            # sharded fits (rows split over the devices) keep the row-wise loss.
            c = (sample.values - ref) / scale
            loss, args = mean_squared_deviation, _on_devices(c, sample.weights, self.dtype)
        solution = minimize(
            loss,
            {"mean": delta0},
            *args,
            solver=self.solver,
            tol=self.tol**2 / sample.nobs,
            max_iter=self.max_iter,
            dtype=self.dtype,
            learning_rate=self.learning_rate,
        )
        self._check_solution(solution)
        delta = float(solution.params["mean"])
        variance_scaled, cov_note = self._variance(sample, moments, delta)
        with np.errstate(over="ignore"):  # data near 1e300: the variance itself overflows
            variance = variance_scaled * np.float64(scale) ** 2
        self._store_estimate(
            sample,
            "mean",
            ref + scale * delta,
            scale * np.sqrt(variance_scaled),
            variance=variance,
            solution=solution,
            # back to data units: f(beta) = s^2 f_c(delta), f'(beta) = s f_c'(delta)
            history=scaled_history(solution.trace, scale, loss_power=2, grad_power=1),
            df_resid=sample.nobs - 1 if sample.nobs > 1 else None,
            sandwich=self._sandwich_of(sample, ref, delta, scale),
            groups=inputs.groups,
            cov_note=cov_note,
        )

    def _sandwich_of(self, sample: Sample, ref: float, delta: float, scale: float):
        r"""The sandwich of :math:`\sum_i w_i (x_i - m)^2` in data units.

        Bread: the inverse of its Hessian :math:`2\sum_i w_i` (exact: the loss is
        quadratic). Scores: autodiff of the rows' terms in the scaled coordinates
        :math:`c_i = (x_i - x_{ref})/s`, formed on first use. With
        :math:`m = x_{ref} + s\delta` each term is :math:`s^2` times its scaled
        form and :math:`d/dm = s^{-1} d/d\delta`, so the scores are :math:`s`
        times the scaled ones.
        """

        def scores() -> np.ndarray:
            c = (sample.values - ref) / scale
            scaled, _ = inference.m_estimation_sandwich(
                _squared_deviation_rows,
                np.array([delta]),
                c,
                sample.weights,
                nobs=sample.nobs,
                dtype=self.dtype,
            )
            with np.errstate(over="ignore"):  # data near 1e300: the robust variance overflows
                return scaled.scores * np.float64(scale)

        bread = np.array([[0.5 / sample.nobs]])
        return Sandwich(bread, scores, sample.nobs, sample.weights)

    def _variance(
        self, sample: Sample, moments: tuple[float, float, float], delta: float
    ) -> tuple[float, str | None]:
        r"""Variance of the estimate in the scaled coordinates, or NaN and the reason.

        The Hessian of the mean squared deviation is exactly 2 (the loss is
        quadratic), and the residual sum of squares at :math:`\delta` is
        :math:`n\,(V + (\delta - \bar c)^2)` from the moments: no pass over the rows.
        """
        if sample.nobs <= 1:
            return np.nan, (
                f"{sample.name} has a single observation and the standard error of the mean "
                "needs at least two"
            )
        total, mean, second = moments
        residual_variance = total * (second + (delta - mean) ** 2) / (sample.nobs - 1)
        hessian = np.array([[2.0]])
        variance = inference.least_squares_cov(hessian, residual_variance, sample.nobs)[0, 0]
        return float(variance), None


def _on_devices(c: np.ndarray, w: np.ndarray, dtype: str) -> tuple:
    """Centred data and weights as :func:`minimize` takes them, sharded inside ``sharded()``.

    Outside a :func:`estimators.sharding.sharded` block they are returned as
    they are. Inside one they are padded to a multiple of the device count
    (``c = 0``, a value of the centred data, with weight 0: no change to any
    weighted sum) and split by rows over the devices; the whole-array losses
    below are then partitioned by XLA (partial sums and one all-reduce).
    """
    if active_mesh() is None:
        return c, w
    c, w = pad_rows(c, w, fill=0.0, length=device_multiple(len(c)))
    with x64_context(dtype):
        return put_rows(np.asarray(c, dtype)), put_rows(np.asarray(w, dtype))


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
       centred, scaled data (:func:`~estimators.numerics.center_and_scale`,
       zero-weight padding to a compile bucket). The loss is piecewise linear; L-BFGS's zoom line
       search brackets the kink, so it ends at or next to the minimiser.
    2. :func:`~estimators.order_statistics.quantile_minimizers` turns that estimate into the exact
       minimiser set ``[low, high]`` by an O(n) local search, and the
       reported estimate is ``low`` if the minimiser is unique, else the
       midpoint ``(low + high) / 2`` (numpy's median for even n).
    """
    ref, scale = center_and_scale(x)
    c, w = pad_rows((x - ref) / scale, weights)
    delta0 = 0.0 if start is None else (float(start) - ref) / scale
    c, w = _on_devices(c, w, dtype)
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
    estimate = low if low == high else midpoint(low, high)
    return QuantileFit(estimate, low, high, solution, ref, scale)


def quantile_variance(
    x: np.ndarray,
    weights: np.ndarray,
    q: float,
    estimate: float,
    cov_type: str = "kernel",
    options: dict | None = None,
) -> tuple[float, str | None]:
    r"""Variance of a sample quantile by ``cov_type``: a quantile regression on a constant.

    Each type is the one of :class:`~estimators.quantile.QuantileRegression`
    (:mod:`estimators.quantile_inference`) with :math:`X` a column of ones, so
    an intercept-only quantile regression gives the same standard errors
    wherever the two estimates coincide (a unique minimiser). With
    :math:`n = \sum w_i`:

    - ``"kernel"``: statsmodels ``QuantReg(x, 1).fit(q)`` (``vcov="robust"``),
      :math:`[q^2 W(x > \hat\beta) + (1-q)^2 W(x \le \hat\beta)] / (n\hat f)^2`,
      :math:`\hat f` the Epanechnikov density of the data at :math:`\hat\beta`
      (at :math:`q = 1/2` this is :math:`1/(4n\hat f^2)`);
    - ``"iid"``: quantreg's sparsity estimate :math:`s`, :math:`s^2 q(1-q)/n`;
    - ``"nid"``: :math:`f = 2h/(\hat Q(q+h) - \hat Q(q-h))`,
      :math:`q(1-q)/(n f^2)` (Siddiqui's difference quotient);
    - ``"bootstrap"``: the variance of the quantile over resamples.

    Call it on centred, scaled data (every type is equivariant); ``options``
    are the estimator's ``cov_options``. Returns ``(variance, None)`` or
    ``(nan, reason)``.
    """
    options = options or {}
    used = weights > 0
    x, weights = x[used], weights[used]
    ones = np.ones((x.size, 1))
    band = options.get("bandwidth", "hall-sheather")
    if cov_type == "kernel":
        cov, reason = kernel_cov(ones, x, x - estimate, q, weights, band)
    elif cov_type == "iid":
        cov, reason = iid_cov(ones, x - estimate, q, weights, band)
    elif cov_type == "nid":

        def at_level(level):
            low, high = quantile_minimizers(x, weights, level, estimate)
            return np.array([low if low == high else midpoint(low, high)])

        cov, _, reason = nid_cov(ones, q, weights, at_level, band)
    else:

        def on_weights(resample):
            kept = resample > 0
            low, high = quantile_minimizers(x[kept], resample[kept], q, estimate)
            return np.array([low if low == high else midpoint(low, high)])

        cov, _, reason = bootstrap_cov(
            on_weights,
            weights,
            options.get("n_bootstrap", DEFAULT_N_BOOTSTRAP),
            options.get("seed", 0),
        )
    return float(cov[0, 0]), reason


class _SampleQuantile(SampleEstimator):
    """Shared fit of :class:`Quantile` and :class:`Median` (they differ in settings only)."""

    _non_smooth_loss = "the pinball (check) loss"

    def _level(self) -> float:
        raise NotImplementedError

    def _param_name(self) -> str:
        raise NotImplementedError

    # None of these is a sandwich of a smooth loss: each is computed by the fit itself.
    _cov_types = QUANTILE_COV_TYPES
    _native_cov_types = QUANTILE_COV_TYPES
    _cov_options = QUANTILE_COV_OPTIONS

    def _check_settings(self) -> None:
        super()._check_settings()
        if isinstance(self.cov_options, dict):
            check_cov_options(self.cov_type, self.cov_options)

    def _selects(self, sample: Sample, inputs: SampleInputs) -> bool:
        """Whether the solver-free selection applies: unit weights, many rows, default solver."""
        return (
            inputs.sample_weight is None
            and sample.values.size >= SELECTION_MIN_ROWS
            and self.dtype == "float64"
            and (self.solver, self.start, self.max_iter, self.learning_rate)
            == ("lbfgs", None, None, None)
            and active_mesh() is None
        )

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        q = self._level()
        options = self.cov_options or {}
        if self._selects(sample, inputs):
            selected = select_quantile(
                sample.values,
                q,
                kernel=self.cov_type == "kernel",
                bandwidth_name=options.get("bandwidth", "hall-sheather"),
            )
            if selected is not None:
                self._store_quantile(sample, q, selected, selected.optimal)
                return
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
        optimal = is_quantile_minimizer(sample.values, sample.weights, q, found.estimate)
        self._store_quantile(sample, q, found, optimal)

    def _store_quantile(self, sample: Sample, q: float, found, optimal: bool) -> None:
        """Standard error and learned attributes of a quantile ``found`` by either path."""
        variance, reason = getattr(found, "variance_scaled", None), getattr(found, "reason", None)
        if variance is None:
            # on the centred, scaled data (every type is equivariant): no overflow near 1e300
            variance, reason = quantile_variance(
                (sample.values - found.ref) / found.scale,
                sample.weights,
                q,
                (found.estimate - found.ref) / found.scale,
                self.cov_type,
                self.cov_options,
            )
        se = np.sqrt(np.float64(variance)) * found.scale
        self._store_estimate(
            sample,
            self._param_name(),
            found.estimate,
            se,
            solution=found.solution,
            # pinball and absolute loss are homogeneous of degree 1: f(beta) = s f_c(delta),
            # and the gradient in data units equals the one in scaled units.
            history=scaled_history(found.solution.trace, found.scale, loss_power=1, grad_power=0),
            df_resid=sample.nobs - 1 if sample.nobs > 1 else None,
            cov_note=None if reason is None else f"{sample.name}: {reason}",
        )
        self.converged_ = optimal
        self.minimizer_set_ = (found.low, found.high)


class Quantile(_SampleQuantile):
    r"""The ``q``-quantile of a sample as the minimiser of the pinball loss.

    .. math::  \hat\beta \in \arg\min_\beta \frac{\sum_i w_i\,\rho_q(x_i - \beta)}{\sum_i w_i},
               \qquad \rho_q(r) = r\,(q - 1\{r < 0\}),

    located by ``solver`` through :func:`estimators.minimize` and finished
    exactly (:func:`fit_quantile`,
    :func:`~estimators.order_statistics.quantile_minimizers`). The minimiser is
    an order statistic, so for unit weights, at least
    :data:`~estimators.quantile_selection.SELECTION_MIN_ROWS` values and the
    default solver settings, it is selected directly instead (Floyd-Rivest,
    :func:`~estimators.quantile_selection.select_quantile`: one pass over the
    data, the kernel standard error from the same pass); ``n_iter_`` is then 0,
    ``history_`` one row (the loss at the estimate, subgradient norm 0) and
    ``converged_`` the optimality condition checked by exact counts.

    Convention. The minimisers are the values :math:`b` with :math:`W(x<b) \le
    qW \le W(x \le b)` (:math:`W` the summed weights). That is one order
    statistic, ``low`` = ``np.quantile(x, q, weights=w,
    method="inverted_cdf")``, unless :math:`W(x \le \mathrm{low}) = qW`
    (within :data:`~estimators.order_statistics.TIE_RTOL`), when it is the
    interval from ``low`` to the next larger value ``high``; the estimate is
    then the midpoint
    ``(low + high) / 2``. For ``q = 0.5`` this is ``np.median``. Both ends are
    kept in ``minimizer_set_ = (low, high)``. Integer weights give the same
    answer as repeated rows.

    Standard errors by ``cov_type`` (:func:`quantile_variance`): ``"kernel"``
    (default; statsmodels ``QuantReg(x, 1).fit(q)``), ``"iid"`` and ``"nid"``
    (R quantreg's sparsity estimates), ``"bootstrap"``; the same as an
    intercept-only :class:`~estimators.quantile.QuantileRegression` where the
    minimiser is unique. NaN with an :class:`InferenceWarning` where they
    cannot be computed; t intervals with ``n - 1`` degrees of freedom.

    ``converged_`` is True when the estimate satisfies the optimality
    condition above (the exact finish makes sure of it, whatever the
    solver's own status, which is kept in ``solution_``); ``history_`` is the
    solver's trace of the loss, in data units.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`. No ``cov_type`` of a
    quantile uses cluster labels, so ``fit`` takes no ``groups`` (passing them
    is a SettingsError).

    Parameters
    ----------
    q : quantile level in (0, 1); default 0.5.
    solver : as for :class:`Mean` (default ``"lbfgs"``); it only has to land
        near the answer, the finish is exact whatever it does.
    max_iter : iteration limit of the solver (default :data:`LOCATE_MAX_ITER`).
    start, learning_rate, dtype, missing : as for :class:`Mean`.
    cov_type : ``"kernel"`` (default), ``"iid"``, ``"nid"`` or ``"bootstrap"``.
    use_t : None (t with ``n - 1`` degrees of freedom), True or False (z).
    cov_options : None or a dict with ``"bandwidth"`` (``"hall-sheather"``,
        default, or ``"bofinger"``; ``"chamberlain"`` for ``"kernel"``),
        ``"n_bootstrap"`` (default 200) and ``"seed"`` (default 0).

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
        cov_type: str = "kernel",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    def _level(self) -> float:
        return self.q

    def _param_name(self) -> str:
        return f"quantile_{self.q:g}"

    def _check_settings(self) -> None:
        super()._check_settings()
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

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`; as for :class:`Quantile`,
    ``fit`` takes no ``groups``.

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
        cov_type: str = "kernel",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    def _level(self) -> float:
        return 0.5

    def _param_name(self) -> str:
        return "median"
