r"""Inference for a fitted GLM: the covariance of the estimates and the fit statistics.

Both follow statsmodels 0.15 (``GLM`` and ``discrete_model.NegativeBinomial``):
the covariance is :math:`\hat\phi` times the inverse of the information (the
Hessian of the total negative log-likelihood, observed or expected), and
``llf_``, ``deviance_``, ``pearson_chi2_``, ``scale_``, ``aic_`` and ``bic_``
use statsmodels' definitions.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import DataError, InferenceWarning
from .families import Family, Link
from .frame import Design, collinear_columns


def goodness_of_fit(
    family: Family,
    link: Link,
    y: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    alpha: float | None,
    n_params: int,
) -> dict[str, float]:
    r"""``llf_``, ``deviance_``, ``pearson_chi2_``, ``scale_``, ``aic_``, ``bic_`` as statsmodels.

    - deviance :math:`D = \sum_i w_i d_i`; Pearson :math:`\chi^2 = \sum_i w_i
      (y_i - \mu_i)^2 / V(\mu_i)`;
    - scale :math:`\hat\phi = \chi^2 / (n - p)` (gaussian, gamma) or 1;
    - llf at :math:`\hat\phi`, except the gaussian identity model, whose llf is
      the concentrated one, at the ML variance :math:`\sum_i w_i (y_i-\mu_i)^2/n`;
    - aic :math:`= -2\,\text{llf} + 2k`, bic :math:`= -2\,\text{llf} + k\log n`
      (statsmodels' ``bic_llf``), :math:`k` = ``n_params`` (the dispersion is
      not counted), :math:`n = \sum_i w_i`.

    >>> from estimators.families import FAMILIES, LINKS
    >>> y, mu = np.array([0.0, 2.0]), np.array([1.0, 1.0])
    >>> stats = goodness_of_fit(FAMILIES["poisson"], LINKS["log"], y, np.ones(2), mu, None, 1)
    >>> # Pearson 1 + 1; deviance 2 (0 - (0 - 1)) + 2 (2 log 2 - (2 - 1))
    >>> round(stats["pearson_chi2_"], 12), round(stats["deviance_"], 6)
    (2.0, 2.772589)
    """
    nobs = float(np.sum(w))
    with np.errstate(divide="ignore", invalid="ignore"):  # mu at 0 or 1 under separation
        pearson = float(np.sum(w * (y - mu) ** 2 / family.variance(mu, alpha)))
        deviance = float(np.sum(w * family.deviance_obs(y, mu, alpha)))
        scale = 1.0
        if family.estimates_scale:  # n_params = p here: no alpha
            scale = pearson / (nobs - n_params) if nobs > n_params else np.nan
        scale_llf = scale
        if family.name == "gaussian" and link.name == "identity":
            scale_llf = float(np.sum(w * (y - mu) ** 2) / nobs)
        llf = float(np.sum(w * family.loglike_obs(y, mu, scale_llf, alpha)))
    return {
        "llf_": llf,
        "deviance_": deviance,
        "pearson_chi2_": pearson,
        "scale_": float(scale),
        "aic_": -2 * llf + 2 * n_params,
        "bic_": -2 * llf + n_params * np.log(nobs),
    }


def covariance(
    information: np.ndarray,
    scale: float,
    alpha: float | None,
    design: Design,
    separated: bool,
) -> np.ndarray:
    r"""Covariance :math:`\hat\phi\,J I^{-1} J` of the reported parameters.

    ``information`` is the Hessian of the total negative log-likelihood in
    :math:`(\beta, \log\alpha)`; it is inverted after scaling to unit
    diagonal (equilibration), and :math:`J = \operatorname{diag}(1, \dots,
    1, \alpha)` maps :math:`\log\alpha` to :math:`\alpha` (the delta method,
    exact for the Hessian at a stationary point). A singular information is a
    :class:`~estimators.errors.DataError` naming the collinear columns when
    there are some, else NaN with an :class:`~estimators.errors.InferenceWarning`
    (silently NaN under separation, which has its own warning).
    Called from ``GLM._fit_design`` (the warning's ``stacklevel`` counts on it).
    """
    k = information.shape[0]
    diag = np.diag(information)
    if not np.all(np.isfinite(information)) or np.any(diag <= 0):
        return _singular(design, separated, k)
    d = 1 / np.sqrt(diag)
    unit = d[:, None] * information * d[None, :]
    eigenvalues = np.linalg.eigvalsh(unit)
    if eigenvalues[0] <= 1e3 * np.finfo(float).eps * eigenvalues[-1]:
        return _singular(design, separated, k)
    inverse = d[:, None] * np.linalg.inv(unit) * d[None, :]
    inverse = (inverse + inverse.T) / 2
    jac = np.ones(k)
    if k > design.X.shape[1]:
        jac[-1] = alpha
    return scale * jac[:, None] * inverse * jac[None, :]


def _singular(design: Design, separated: bool, k: int) -> np.ndarray:
    if not separated:
        dependent = collinear_columns(design.X, list(design.names))
        if dependent:
            raise DataError(
                f"the design is singular: column(s) {dependent} are (numerically) linear "
                "combinations of the others; drop them"
            )
        warnings.warn(
            "the information matrix is singular at the estimate: standard errors are "
            "reported as NaN",
            InferenceWarning,
            stacklevel=5,
        )
    return np.full((k, k), np.nan)
