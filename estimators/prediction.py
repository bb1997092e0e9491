r"""Predictions with uncertainty: the mean, its standard error and intervals, row by row.

For a new row :math:`x` the linear predictor :math:`\eta = x^\top\hat\beta + o`
(:math:`o` an offset) has variance :math:`x^\top \hat V x`, :math:`\hat V` the
fit's ``cov_`` (whatever its ``cov_type``). The mean is :math:`\mu = g^{-1}(\eta)`
(the identity for least squares); by the delta method

.. math::  \mathrm{se}(\hat\mu) = \left|\frac{d g^{-1}}{d\eta}\right|
           \sqrt{x^\top \hat V x},

the derivative taken by autodiff. The interval for the mean is formed on the
scale of :math:`\eta` and mapped through :math:`g^{-1}` (statsmodels' GLM
``get_prediction``; it stays inside the mean's range, e.g. (0, 1) for a
probability): :math:`g^{-1}(\hat\eta \pm q\, \mathrm{se}(\hat\eta))`, :math:`q`
the t (with the fit's degrees of freedom) or normal quantile.

For least squares the interval for a new observation adds the residual
variance :math:`s^2`: :math:`\hat\mu \pm q \sqrt{\mathrm{se}(\hat\mu)^2 + s^2}`.
Rows with missing values get NaN in every column (R's ``na.exclude``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import SettingsError
from .inference import t_or_normal_ppf


def prediction_frame(
    matrix: np.ndarray,
    params: np.ndarray,
    cov: np.ndarray,
    *,
    index: pd.Index,
    alpha: float = 0.05,
    df: float | None = None,
    inverse_link: Callable | None = None,
    offset: np.ndarray | float | None = None,
    obs_variance: float | None = None,
) -> pd.DataFrame:
    """The prediction table: ``mean``, ``mean_se``, ``mean_ci_lower``, ``mean_ci_upper``
    and, when ``obs_variance`` is given, ``obs_ci_lower``, ``obs_ci_upper``.

    ``inverse_link`` is a JAX-differentiable, increasing or decreasing function
    of the linear predictor (None: the identity).

    >>> import numpy as np, pandas as pd
    >>> frame = prediction_frame(np.array([[1.0, 2.0]]), np.array([1.0, 0.5]),
    ...                          np.diag([0.04, 0.01]), index=pd.RangeIndex(1))
    >>> frame[["mean", "mean_se"]].round(6).values.tolist()
    [[2.0, 0.282843]]
    """
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha}")
    matrix = np.asarray(matrix, dtype=float)
    eta = matrix @ params + (0.0 if offset is None else np.asarray(offset, dtype=float))
    with np.errstate(invalid="ignore"):
        eta_se = np.sqrt(np.einsum("ij,jk,ik->i", matrix, cov, matrix))
    quantile = t_or_normal_ppf(1 - alpha / 2, df)
    lower, upper = eta - quantile * eta_se, eta + quantile * eta_se
    if inverse_link is None:
        mean, mean_se = eta, eta_se
    else:
        mean, slope = _mean_and_slope(inverse_link, eta)
        mean_se = np.abs(slope) * eta_se
        lower, upper = (
            _mean_and_slope(inverse_link, lower)[0],
            _mean_and_slope(inverse_link, upper)[0],
        )
        lower, upper = np.fmin(lower, upper), np.fmax(lower, upper)
    columns = {"mean": mean, "mean_se": mean_se, "mean_ci_lower": lower, "mean_ci_upper": upper}
    if obs_variance is not None:
        with np.errstate(invalid="ignore"):
            obs_se = np.sqrt(mean_se**2 + obs_variance)
        columns["obs_ci_lower"] = mean - quantile * obs_se
        columns["obs_ci_upper"] = mean + quantile * obs_se
    return pd.DataFrame(columns, index=index)


def _mean_and_slope(inverse_link: Callable, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`g^{-1}(\\eta)` and its derivative, element-wise, by forward-mode autodiff."""
    import jax
    import jax.numpy as jnp

    from .solve import x64_context

    with x64_context("float64"):
        value, slope = jax.jvp(inverse_link, (jnp.asarray(eta),), (jnp.ones_like(eta),))
        return np.asarray(value, dtype=float), np.asarray(slope, dtype=float)
