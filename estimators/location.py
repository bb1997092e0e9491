r"""Location estimators of a 1-D sample, each the minimiser of a mean loss.

:class:`Mean` minimises the mean squared deviation
:math:`f(\beta) = \frac1n\sum_i (x_i - \beta)^2` with an optax optimizer, the
story of the tutorial this project grew from, rather than calling ``jnp.mean``.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pandas as pd

from . import inference
from .base import Estimator
from .errors import InferenceWarning, SettingsError
from .frame import Sample, as_sample
from .losses import squared_deviation, weighted_mean
from .solve import DTYPES, minimize


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
