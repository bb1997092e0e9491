r"""Scale estimators of a 1-D sample: the standard deviation and the MAD.

Both are built from location fits: the standard deviation from the minimum of
the mean squared deviation (the loss :class:`~estimators.location.Mean`
minimises), the MAD from two exact medians (the minimisers of mean absolute
deviations, :func:`~estimators.location.fit_quantile`).
"""

from __future__ import annotations

import decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError
from .frame import Sample
from .location import fit_quantile, mean_squared_deviation
from .numerics import NORMAL_MAD, center_and_scale, normal_pdf, pad_rows, power_of_two_scale
from .order_statistics import is_quantile_minimizer
from .solve import Status, minimize
from .univariate import SampleEstimator, SampleInputs, scaled_history

# ------------------------------------------------------------------ exact centring


def _raw_entries(data: Any) -> np.ndarray | None:
    """The entries of a 1-D input as given, when they are text or Python objects, else None."""
    if isinstance(data, pd.DataFrame) and data.shape[1] == 1:
        data = data.iloc[:, 0]
    raw = data.to_numpy() if isinstance(data, pd.Series) else np.asarray(data)
    if raw.ndim == 2 and 1 in raw.shape:
        raw = raw.reshape(-1)
    return raw if raw.ndim == 1 and raw.dtype.kind in "OUS" else None


def _exact(value: Any, fallback: float) -> Fraction:
    try:
        return Fraction(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):  # a spelling pandas reads but Fraction does not
        return Fraction(fallback)


def _decimal_deviations(entries: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Midrange, half-range and deviations from it, in exact decimal arithmetic.

    The C ``decimal`` module is about 20 times faster than ``Fraction``; with the
    ``Inexact`` trap set, any rounding raises, and the caller falls back to
    ``Fraction``. ``float(Decimal)`` rounds correctly.
    """
    with decimal.localcontext() as context:
        context.prec = 10_000
        context.traps[decimal.Inexact] = True
        values = [decimal.Decimal(v) for v in entries]  # str, int, float, Decimal: exact
        low, high = min(values), max(values)
        ref = (low + high) / 2
        deviations = np.array([float(v - ref) for v in values])
        return float(ref), float((high - low) / 2), deviations


def _fraction_deviations(
    entries: np.ndarray, coerced: np.ndarray
) -> tuple[float, float, np.ndarray]:
    exact = [_exact(v, f) for v, f in zip(entries, coerced, strict=True)]
    low, high = min(exact), max(exact)
    ref = (low + high) / 2
    return float(ref), float((high - low) / 2), np.array([float(v - ref) for v in exact])


def centered_sample(data: Any, sample: Sample) -> tuple[float, float, np.ndarray]:
    r"""``(ref, unit, c)`` with :math:`c_i = (x_i - \mathrm{ref})/\mathrm{unit}`, as in Mean.

    ``ref`` is the midrange and ``unit`` a power of two
    (:func:`~estimators.numerics.center_and_scale`). When the data were given
    as text (decimal strings such as ``"10000000.2"``) or as Python numbers
    (``Decimal``, ``int`` beyond 2**53), the deviations are computed in exact
    decimal arithmetic from the digits given and rounded once, so a large
    common offset costs no digits: float64 would round ``10000000.2`` by
    :math:`4 \times 10^{-10}`, a relative error of :math:`4 \times 10^{-9}`
    in a deviation of 0.1. (A few microseconds a value.)
    ``sample`` is the validated sample of :func:`~estimators.frame.as_sample`
    for the same ``data``.
    """
    raw = _raw_entries(data)
    if raw is None:
        ref, unit = center_and_scale(sample.values)
        return ref, unit, (sample.values - ref) / unit
    coerced = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float)
    keep = ~np.isnan(coerced)  # as_sample dropped exactly these (it raised on anything else)
    entries = [v.strip() if isinstance(v, str) else v for v in raw[keep]]
    try:
        ref, half_range, deviations = _decimal_deviations(entries)
    except (TypeError, ValueError, ArithmeticError):  # numpy integers, odd spellings
        ref, half_range, deviations = _fraction_deviations(raw[keep], coerced[keep])
    unit = float(power_of_two_scale(half_range))
    return ref, unit, deviations / unit  # dividing by a power of two is exact


# ------------------------------------------------------------------ estimators


class StandardDeviation(SampleEstimator):
    r"""The sample standard deviation, from the minimum of the mean squared deviation.

    .. math::  s = \sqrt{\frac{n}{n - \mathrm{ddof}}\ \min_\beta
               \frac{\sum_i w_i (x_i - \beta)^2}{n}}, \qquad n = \sum_i w_i

    ``ddof=1`` (default) is the usual sample standard deviation (NIST's
    certified value, ``np.std(x, ddof=1)``); ``ddof=0`` the maximum-likelihood
    one under normality. The minimiser :math:`\bar x` is found by ``solver``
    through :func:`estimators.minimize` on the centred, scaled data (as
    :class:`~estimators.location.Mean`), and the minimum is then evaluated
    without losing digits: with :math:`r_i = c_i - \hat\delta`,

    .. math::  \mathrm{SS} = \sum_i w_i r_i^2 - \Big(\sum_i w_i r_i\Big)^2 / n,

    the corrected two-pass sum (Chan, Golub and LeVeque 1983), whose second
    term removes the first-order effect of any error in :math:`\hat\delta`.
    Text input (decimal strings) is centred exactly (:func:`centered_sample`).

    Standard error under normality: the delta method on
    :math:`\mathrm{Var}(\mathrm{SS}) = 2(n-1)\sigma^4` with
    :math:`\sigma^2 \approx s^2 (n-\mathrm{ddof})/(n-1)` gives
    :math:`\mathrm{se}(s) = s/\sqrt{2(n - \mathrm{ddof})}` (:math:`s /
    \sqrt{2(n-1)}` for ``ddof=1``; the inverse Fisher information
    :math:`s/\sqrt{2n}` for ``ddof=0``); intervals are z intervals. It
    assumes normal data: for heavy tails it is too small.

    ``sample_weight`` are frequency weights. ``mean_`` holds the fitted mean.

    Only ``cov_type="nonrobust"`` (the normal-theory standard error above) is
    offered: the SD is not the minimiser of a per-observation loss of its own
    (it is a function of the minimum of the mean's loss), so the sandwich
    machinery of :mod:`estimators.covariance` does not apply as it stands. A
    robust alternative is ``MaximumLikelihood("normal", cov_type="HC0")``,
    whose ``sd`` (divisor :math:`n`) has the sandwich variance
    :math:`(m_4 - m_2^2)/(4 m_2 n)`.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`. With ``"nonrobust"``
    the only ``cov_type``, ``fit`` takes no ``groups`` (passing them is a
    SettingsError).

    Parameters
    ----------
    ddof : degrees of freedom subtracted from :math:`n` in the divisor; >= 0 and < n.
    cov_type : ``"nonrobust"`` only (see above).
    use_t, cov_options : as for every estimator; ``use_t=True`` gives t with
        :math:`n - 1` degrees of freedom.
    solver, tol, max_iter, dtype, missing : as for :class:`~estimators.location.Mean`
        (default solver ``"newton"``: one exact step for this quadratic loss).

    Examples
    --------
    >>> float(StandardDeviation().fit([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).params_["std"])
    2.138089935299395
    """

    _cov_types = ("nonrobust",)

    def __init__(
        self,
        ddof: float = 1,
        *,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict[str, Any] | None = None,
        solver: Any = "newton",
        tol: float = 1e-8,
        max_iter: int | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        n = sample.nobs
        if not self.ddof < n:
            raise DataError(
                f"{sample.name} has n = {n:g} observation(s) (sum of weights): ddof={self.ddof} "
                f"needs n > ddof, i.e. at least {int(np.floor(self.ddof)) + 1}"
            )
        ref, unit, c = centered_sample(inputs.data, sample)
        padded, padded_weights = pad_rows(c, sample.weights)
        solution = minimize(
            mean_squared_deviation,
            {"mean": 0.0},
            padded,
            padded_weights,
            solver=self.solver,
            tol=self.tol**2 / n,
            max_iter=self.max_iter,
            dtype=self.dtype,
        )
        self._check_solution(solution)
        delta = float(solution.params["mean"])
        w = sample.weights
        r = c - delta
        sum_squares = float(np.sum(w * r * r)) - float(np.sum(w * r)) ** 2 / n
        sd_scaled = np.sqrt(max(sum_squares, 0.0) / (n - self.ddof))
        sd = unit * sd_scaled
        se = sd / np.sqrt(2 * (n - self.ddof))
        self._store_estimate(
            sample,
            "std",
            sd,
            se,
            solution=solution,
            history=scaled_history(solution.trace, unit, loss_power=2, grad_power=1),
            df_resid=None,
        )
        self.mean_ = ref + unit * delta

    def _check_settings(self) -> None:
        super()._check_settings()
        ddof = self.ddof
        if not (isinstance(ddof, int | float | np.integer | np.floating) and ddof >= 0):
            raise SettingsError(f"ddof must be a number >= 0, got {ddof!r}")


# se(MAD) = MAD / (4 phi(m) m sqrt(n)) under normality, m = Phi^{-1}(3/4): about 1.1664 MAD/sqrt(n)
MAD_SE_FACTOR = float(1 / (4 * normal_pdf(NORMAL_MAD) * NORMAL_MAD))


class MAD(SampleEstimator):
    r"""The median absolute deviation about the median, scaled to estimate a normal SD.

    .. math::  \mathrm{MAD} = \frac{\operatorname{median}_i |x_i - \operatorname{median}_j x_j|}
                                   {\Phi^{-1}(3/4)}
               \approx 1.4826\, \operatorname{median}_i |x_i - \tilde x|,

    ``scipy.stats.median_abs_deviation(x, scale="normal")``. Both medians
    are exact minimisers of a mean absolute deviation
    (:func:`~estimators.location.fit_quantile`: a solver locates, an exact
    finish picks the order statistic), with numpy's convention (mean of the
    two middle values for an even count); ``center_`` is the first median.

    Standard error under normality: for a symmetric distribution the
    estimated centre does not affect the asymptotic variance of the MAD
    (Hall and Welsh 1985), and the median of :math:`|X - \mu|`, whose density
    at :math:`m\sigma` is :math:`2\phi(m)/\sigma`, gives

    .. math::  \mathrm{se} = \frac{\mathrm{MAD}}{4\,\phi(m)\, m\,\sqrt n}
               \approx 1.1664\,\frac{\mathrm{MAD}}{\sqrt n}, \qquad m = \Phi^{-1}(3/4)

    (asymptotic variance :math:`1.3605\,\sigma^2/n`, efficiency 37% of the
    SD's); z intervals. ``sample_weight`` are frequency weights.

    Only ``cov_type="nonrobust"`` (the normal-theory standard error above) is
    offered: the MAD's estimating function is a step function, with no
    derivative to build a sandwich from (its robust variance needs density
    estimates at :math:`\tilde x \pm \mathrm{MAD}`, as the median's does).

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`. With ``"nonrobust"``
    the only ``cov_type``, ``fit`` takes no ``groups`` (passing them is a
    SettingsError).

    Parameters
    ----------
    cov_type : ``"nonrobust"`` only (see above).
    use_t, cov_options : as for every estimator.
    solver, max_iter, dtype, missing : as for :class:`~estimators.location.Median`.

    Examples
    --------
    >>> round(float(MAD().fit([1.0, 2.0, 3.0, 4.0, 100.0]).params_["mad"]), 6)
    1.482602
    """

    _non_smooth_loss = "absolute deviations from the median"

    _cov_types = ("nonrobust",)

    def __init__(
        self,
        *,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict[str, Any] | None = None,
        solver: Any = "lbfgs",
        max_iter: int | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        w = sample.weights
        settings = {"solver": self.solver, "max_iter": self.max_iter, "dtype": self.dtype}
        center = fit_quantile(sample.values, w, 0.5, **settings)
        deviations = np.abs(sample.values - center.estimate)
        spread = fit_quantile(deviations, w, 0.5, **settings)
        for found in (center, spread):
            if found.solution.status == Status.NONFINITE:
                self._check_solution(found.solution)  # raises FitError with a hint
        mad = spread.estimate / NORMAL_MAD
        se = MAD_SE_FACTOR * mad / np.sqrt(sample.nobs)
        cov_note = None
        if sample.nobs <= 1:
            # One value has MAD 0 whatever its distribution: a standard error of 0
            # would claim a certainty that one observation cannot give.
            se, cov_note = (
                np.nan,
                (
                    f"{sample.name} has a single observation and the standard error of the MAD "
                    "needs at least two"
                ),
            )
        self._store_estimate(
            sample,
            "mad",
            mad,
            se,
            solution=spread.solution,
            # the loss of the second median, mean |d_i - b|, in data units
            history=scaled_history(
                spread.solution.trace, spread.scale, loss_power=1, grad_power=0
            ),
            df_resid=None,
            cov_note=cov_note,
        )
        self.converged_ = is_quantile_minimizer(
            sample.values, w, 0.5, center.estimate
        ) and is_quantile_minimizer(deviations, w, 0.5, spread.estimate)
        self.center_ = center.estimate
