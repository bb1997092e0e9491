r"""Inference from the loss: covariances, test statistics, p-values and intervals.

Small pure functions over arrays; the estimators call them after the fit.
Everything is derived from the same loss the estimator minimises, through
autodiff (the Hessian) rather than a formula per estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .errors import SettingsError


def least_squares_cov(hessian: np.ndarray, residual_variance: float, nobs: float) -> np.ndarray:
    r"""Classical covariance of a least-squares estimate from the Hessian of its mean loss.

    For :math:`f(\beta) = \frac1n \sum_i w_i r_i(\beta)^2` with :math:`n = \sum w_i`,
    the Hessian at the minimum is :math:`H = \frac2n X^\top W X` (with :math:`X`
    the Jacobian of the fitted values), so the textbook
    :math:`\hat\sigma^2 (X^\top W X)^{-1}` is

    .. math::  \widehat{\mathrm{Cov}}(\hat\beta) = \frac{2\hat\sigma^2}{n}\, H^{-1},
               \qquad \hat\sigma^2 = \frac{\sum_i w_i r_i^2}{n - p}.

    For the sample mean (:math:`H = 2`, :math:`p = 1`) this is :math:`s^2/n` with
    the ``ddof=1`` sample variance :math:`s^2`.
    """
    hessian = np.atleast_2d(np.asarray(hessian, dtype=float))
    return 2.0 * residual_variance / nobs * np.linalg.inv(hessian)


def summary_frame(
    params: pd.Series, std_errors: pd.Series, df_resid: float | None, alpha: float = 0.05
) -> pd.DataFrame:
    r"""The coefficient table: estimate, std_error, statistic, p_value, ci_lower, ci_upper.

    statistic :math:`= \hat\theta / \mathrm{se}`, tested against :math:`\theta = 0`;
    Student's t with ``df_resid`` degrees of freedom when given, else standard
    normal. The interval is :math:`\hat\theta \pm q_{1-\alpha/2}\,\mathrm{se}`.
    """
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha}")
    dist = stats.norm if df_resid is None else stats.t(df_resid)
    estimate = params.to_numpy(dtype=float)
    se = std_errors.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / se
    quantile = dist.ppf(1 - alpha / 2)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": se,
            "statistic": statistic,
            "p_value": 2 * dist.sf(np.abs(statistic)),
            "ci_lower": estimate - quantile * se,
            "ci_upper": estimate + quantile * se,
        },
        index=params.index,
    )


def loss_hessian(fun, params: dict, *args, dtype: str = "float64") -> np.ndarray:
    """Hessian of ``fun(params, *args)`` over the flattened ``params``, by autodiff.

    Evaluated in the library's precision context (float64 by default) and
    returned as a numpy matrix, parameters in the order of ``params``.
    """
    import jax
    from jax.flatten_util import ravel_pytree

    from .solve import x64_context

    with x64_context(dtype):
        flat, unravel = ravel_pytree(jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), params))
        hessian = jax.hessian(lambda theta: fun(unravel(theta), *args))(flat)
        return np.asarray(hessian, dtype=float)
