r"""Robust M-estimators of location with a MAD scale: :class:`Huber` and :class:`TukeyBiweight`.

Both are the fixed point of statsmodels' ``RLM`` with an intercept only: the
minimiser of a mean loss of standardised residuals, at the scale given by the
MAD of those residuals (:class:`_RobustLocation` explains the iteration), with
Huber's (1981) "H1" standard error (:func:`m_location_cov`, ``cov_type="nonrobust"``)
or the sandwich of the loss at the fitted scale (:func:`location_sandwich`:
``"HC0"``, ``"HC1"``, ``"cluster"``, ``"HAC"``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from .covariance import Sandwich
from .errors import ConvergenceWarning, DataError, SettingsError, user_stacklevel
from .frame import Sample
from .inference import invert_hessian
from .losses import huber, loss_derivatives, tukey_biweight, weighted_mean
from .numerics import (
    NORMAL_MAD,
    center_and_scale,
    mad_about,
    pad_rows,
    power_of_two_scale,
    weighted_median,
)
from .solve import Solution, minimize
from .univariate import SampleEstimator, SampleInputs, scaled_history


@functools.cache
def _objective(rho: Callable[..., jnp.ndarray]) -> Callable[..., jnp.ndarray]:
    """The mean loss of standardised residuals; one function object a loss, so that the
    engine's compiled loop (keyed on the function) is reused across fits."""

    def objective(params: dict, data, w, scale, c) -> jnp.ndarray:
        return weighted_mean(rho((data - params["location"]) / scale, c=c), w)

    return objective


def m_location_cov(
    rho: Callable[..., Any], c: float, residuals: np.ndarray, weights: np.ndarray, scale: float
) -> tuple[float, str | None]:
    r"""Huber's covariance of an M-estimate of location, statsmodels RLM's ``"H1"``.

    With :math:`z_i = r_i / s`, :math:`n = \sum w_i`, :math:`m = \overline{\psi'(z)}`:

    .. math::  \widehat{\mathrm{Var}}(\hat\beta) = K^2\,
               \frac{\sum_i w_i \psi(z_i)^2\, s^2 / (n-1)}{m^2\, n}, \qquad
               K = 1 + \frac{1}{n}\,\frac{\widehat{\mathrm{Var}}(\psi'(z))}{m^2}

    (Huber 1981, sec. 7.6: the sandwich :math:`E\psi^2 / (E\psi')^2` with a
    small-sample correction :math:`K`); :math:`\psi` and :math:`\psi'` by
    autodiff of ``rho`` (:func:`estimators.losses.loss_derivatives`). Returns
    ``(nan, reason)`` when :math:`n \le 1` or :math:`m \le 0`.
    """
    n = float(weights.sum())
    if n <= 1:
        return np.nan, "a single observation: the standard error needs at least two"
    _, psi, dpsi = loss_derivatives(rho, residuals / scale, c=c)
    m = float(np.sum(weights * dpsi) / n)
    if not m > 0:
        return np.nan, f"the mean of psi' is {m:.3g} <= 0: the loss is not locally convex"
    var_dpsi = float(np.sum(weights * (dpsi - m) ** 2) / n)
    k = 1 + var_dpsi / (n * m * m)
    return k * k * float(np.sum(weights * psi * psi)) * scale**2 / (n - 1) / (m * m * n), None


def location_sandwich(
    rho: Callable[..., Any],
    c: float,
    residuals: np.ndarray,
    weights: np.ndarray,
    scale: float,
    unit: float = 1.0,
) -> tuple[Sandwich, str | None]:
    r"""Sandwich ingredients of :math:`\sum_i w_i \rho_c((x_i - \beta)/s)` at a fixed scale.

    ``residuals`` :math:`x_i - \hat\beta` and ``scale`` :math:`s` in the same
    units, ``unit`` data units each (the fit's centred, scaled coordinates);
    the sandwich is in data units. With
    :math:`z_i = r_i/s`: scores :math:`s_i = -w_i \psi(z_i)/s`, Hessian
    :math:`\sum_i w_i \psi'(z_i)/s^2`, so HC0 is

    .. math::  \widehat{\mathrm{Var}}(\hat\beta) = s^2\,
               \frac{\sum_i w_i \psi(z_i)^2}{\bigl(\sum_i w_i \psi'(z_i)\bigr)^2},

    Huber's H1 without its factor :math:`K^2 n/(n-1)`. The scale is
    treated as known (its estimation is ignored, as in RLM's covariances:
    for a symmetric distribution it does not change the location's
    asymptotic variance). Returns the reason when the Hessian is not positive.
    """
    _, psi, dpsi = loss_derivatives(rho, residuals / scale, c=c)
    # inverted in the scaled units (data near 1e300 or 1e-300 would overflow s^2),
    # then mapped to data units, which may over- or underflow like the variance
    bread, reason = invert_hessian(np.array([[float(np.sum(weights * dpsi))]]) / scale**2)
    with np.errstate(over="ignore", under="ignore"):
        bread = bread * np.float64(unit) ** 2
        scores = (-weights * psi / (scale * np.float64(unit)))[:, None]
    return Sandwich(bread, scores, float(weights.sum()), frequency_weights=weights), reason


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


class _RobustLocation(SampleEstimator):
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

    Subclasses set ``_rho``, a loss of :mod:`estimators.losses` (``rho(z, *, c)``),
    and define ``__init__`` with the settings of :class:`Huber` and their default ``c``.
    """

    _rho: Callable[..., Any]
    _cov_types = ("nonrobust", "HC0", "HC1", "cluster", "HAC")

    def _check_settings(self) -> None:
        super()._check_settings()
        c = self.c
        if not (isinstance(c, int | float | np.floating) and np.isfinite(c) and c > 0):
            raise SettingsError(f"c (the tuning constant) must be a positive number, got {c!r}")
        if not (isinstance(self.max_scale_iter, int) and self.max_scale_iter >= 1):
            raise SettingsError(
                f"max_scale_iter must be a positive integer, got {self.max_scale_iter!r}"
            )

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        weights, n = sample.weights, sample.nobs
        ref, unit, data = self._robust_centering(sample)
        padded, padded_weights = pad_rows(data, weights)
        delta = 0.0 if self.start is None else (float(self.start) - ref) / unit
        # Root of h(b) = T(b) - b, T(b) the minimiser at scale s(b) started from b:
        # secant steps, kept inside the bracket once h has changed sign (else bisection).
        # Plain iteration b <- T(b) can be slow, and it cycles when T'(b) < -1
        # (a redescending loss on a small sample).
        previous, positive, negative = None, None, None
        scale, rounds, settled = None, 0, False
        while rounds < self.max_scale_iter and not settled:
            guess = None if scale is None else scale * NORMAL_MAD
            scale = mad_about(data, weights, center=delta, guess=guess)
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
                stacklevel=user_stacklevel(),
            )
        scale = mad_about(data, weights, center=delta, guess=scale * NORMAL_MAD)
        if scale == 0:
            self._zero_scale(sample, ref + unit * delta)
        variance, reason = m_location_cov(type(self)._rho, self.c, data - delta, weights, scale)
        sandwich, bread_reason = location_sandwich(
            type(self)._rho, self.c, data - delta, weights, scale, unit
        )
        with np.errstate(over="ignore"):  # data near 1e300: the variance overflows, the SE not
            cov = np.float64(variance) * np.float64(unit) ** 2
        self._store_estimate(
            sample,
            "location",
            ref + unit * delta,
            np.sqrt(variance) * unit,
            variance=cov,
            solution=solution,
            # rho((x - beta)/s) is unit-free; d/dbeta = (1/unit) d/ddelta
            history=scaled_history(solution.trace, unit, loss_power=0, grad_power=-1),
            df_resid=None,
            sandwich=sandwich,
            groups=inputs.groups,
            cov_note=reason or bread_reason,
        )
        self.converged_ = bool(solution.converged and settled)
        self.scale_ = scale * unit
        self.n_scale_iter_ = rounds

    def _robust_centering(self, sample: Sample) -> tuple[float, float, np.ndarray]:
        """``(ref, unit, c)``: ``c = (x - median) / unit``, ``unit`` a power of two near the MAD.

        Not the midrange of :func:`~estimators.numerics.center_and_scale`: far
        outliers would stretch it and leave the bulk of the data, which decides
        the fit, a few ulps of the range wide. Centred at the median (an exact
        order statistic), the bulk keeps its digits and has ``|c|`` of order
        one; outliers may be large.
        """
        median = weighted_median(sample.values, sample.weights)
        with np.errstate(over="ignore", invalid="ignore"):
            deviations = sample.values - median
        spread = weighted_median(np.abs(deviations), sample.weights)
        if spread == 0:
            self._zero_scale(sample, median)
        if not np.all(np.isfinite(deviations)):  # values of both signs near the largest float
            ref, unit = center_and_scale(sample.values)
            return ref, unit, (sample.values - ref) / unit
        unit = float(power_of_two_scale(spread))
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
        rho, psi, dpsi = loss_derivatives(type(self)._rho, z, c=self.c)
        loss = float(np.sum(padded_weights * rho)) / n
        mean_psi2 = float(np.sum(padded_weights * psi * psi)) / n
        mean_dpsi = float(np.sum(padded_weights * dpsi)) / n
        tol = self.tol**2 / n
        if mean_dpsi > 0 and mean_psi2 > 0 and loss > 0:
            tol = self.tol**2 * mean_psi2 / (2 * n * mean_dpsi * loss)
        solution = minimize(
            _objective(type(self)._rho),
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

    jointly (see :class:`_RobustLocation` for the iteration): the same
    estimate as statsmodels ``RLM(x, np.ones(n), M=HuberT(t=c)).fit()``, with
    ``scale_`` its ``scale``. (This is not Huber's "proposal 2", which
    estimates the scale from the same :math:`\psi`:
    ``statsmodels.robust.scale.Huber``.) ``c = 1.345`` gives 95% efficiency at
    the normal. The loss (:func:`estimators.losses.huber`) is
    convex in :math:`\beta` at a fixed scale, so each round has one minimiser.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`.

    Parameters
    ----------
    c : the tuning constant, > 0 (in units of the scale ``s``).
    cov_type : ``"nonrobust"`` (default, Huber's H1), ``"HC0"``, ``"HC1"``,
        ``"cluster"`` or ``"HAC"`` (see below).
    use_t, cov_options : as for every estimator (:class:`~estimators.base.Estimator`).
    tol : accuracy in standard errors, as for :class:`~estimators.location.Mean`;
        also ends the scale rounds (default ``1e-8``).
    max_iter : iteration limit of each minimisation (solver default if ``None``).
    max_scale_iter : limit on the scale rounds (default 100).
    start : starting location in data units (default: the median).
    solver : as for :class:`~estimators.location.Mean`; default ``"newton"``
        (one parameter, exact Hessian).
    dtype, missing : as for :class:`~estimators.location.Mean`.

    Standard error (``cov_type="nonrobust"``): :func:`m_location_cov`
    (RLM's ``"H1"``), z intervals. ``"HC0"``, ``"HC1"``, ``"cluster"``
    (labels from ``fit(x, groups=...)``) and ``"HAC"``
    (``cov_options={"maxlags": L}``) are the sandwich of
    :func:`location_sandwich` with the factors of :mod:`estimators.covariance`
    (HC1: :math:`n/(n-1)`). ``use_t=True`` gives t with :math:`n - 1`
    degrees of freedom. ``sample_weight`` are frequency weights (integer
    weights equal repeated rows).

    Examples
    --------
    >>> round(float(Huber().fit([1.0, 2.0, 3.0, 4.0, 100.0]).params_["location"]), 6)
    3.0
    """

    _rho = staticmethod(huber)

    def __init__(
        self,
        c: float = 1.345,
        *,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict[str, Any] | None = None,
        tol: float = 1e-8,
        max_iter: int | None = None,
        max_scale_iter: int = 100,
        start: float | None = None,
        solver: Any = "newton",
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())


class TukeyBiweight(_RobustLocation):
    r"""Tukey's biweight M-estimator of location with a MAD scale (statsmodels RLM).

    .. math::  \hat\beta = \arg\min_\beta \sum_i w_i\,\rho_c\!\left(\frac{x_i - \beta}{s}\right),
               \quad \rho_c(z) = \frac{c^2}{6}\left[1 - \left(1 - \min(z^2/c^2, 1)\right)^3\right]

    with :math:`s` the MAD about :math:`\hat\beta`, jointly (see
    :class:`_RobustLocation`). The loss
    (:func:`estimators.losses.tukey_biweight`) redescends: observations more
    than :math:`c s` away have no influence, and it is not convex, so the
    answer is the local minimum reached from the start, the median by default
    (as statsmodels ``RLM(x, ones, M=TukeyBiweight(c)).fit(start_params=[median])``;
    RLM's own default starts from the mean, which lands on the same fixed
    point unless outliers pull the mean into another basin). ``c = 4.685``
    gives 95% efficiency at the normal.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`.

    Standard errors and parameters as for :class:`Huber`.

    Examples
    --------
    >>> round(float(TukeyBiweight().fit([1.0, 2.0, 3.0, 4.0, 100.0]).params_["location"]), 6)
    2.5
    """

    _rho = staticmethod(tukey_biweight)

    def __init__(
        self,
        c: float = 4.685,
        *,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict[str, Any] | None = None,
        tol: float = 1e-8,
        max_iter: int | None = None,
        max_scale_iter: int = 100,
        start: float | None = None,
        solver: Any = "newton",
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())
