r"""Generalised linear models fitted by structured Newton: :class:`GLM` and its thin cousins.

Model: :math:`g(\mu_i) = \eta_i = x_i^\top\beta + o_i` for a family of
:mod:`estimators.families` (gaussian, binomial, poisson, gamma, negative
binomial), with link :math:`g` and offset :math:`o_i` (``offset=``, or
``exposure=`` for :math:`o_i = \log t_i` under a log link). The estimate
minimises the weighted mean per-row negative log-likelihood

.. math::  f(\beta) = \frac{\sum_i w_i\,\ell(\eta_i, y_i)}{\sum_i w_i}
           \;-\; \text{const},

(the constant makes :math:`f` half the mean deviance; see
:func:`estimators.families.saturated_nll`) by Newton's method in one compiled
loop (:func:`estimators.minimize` with ``solver="newton"``). Value and gradient
:math:`\sum_i w_i \ell'(\eta_i) x_i / \sum_i w_i` come from one pass over row
blocks of X; the Hessian is assembled from its structure,

.. math::  \nabla^2 f = \frac{X^\top \operatorname{diag}(w_i\,\ell''(\eta_i))\,X}{\sum_i w_i},
           \qquad \ell''(\eta) = \partial^2 \ell / \partial\eta^2

with :math:`\ell'` and :math:`\ell''` by autodiff of the scalar per-row loss
(``jax.grad`` once and twice, vmapped) and the product accumulated over row
blocks (one small GEMM per block) rather than ``jax.hessian`` of the whole loss.
Columns are scaled by powers of two (exact) so that every column's largest
absolute value lies in [1/2, 1): Newton does not care in exact arithmetic,
but the eigenvalue floor of the solver and the final matrix inverse do.

Inference follows statsmodels' ``GLM``: the covariance is the inverse of the
Hessian of the total negative log-likelihood (``information="observed"``,
statsmodels' ``method="newton"`` fits) or of its expectation
(``information="expected"``, statsmodels' default IRLS fits; the two agree for
canonical links), times the dispersion :math:`\hat\phi = \chi^2_{\text{Pearson}}
/ (n - p)` for the gaussian and gamma families; statistics are z.

The pieces live in small modules: :mod:`estimators.glm_kernels` (the compiled
loss, structured Hessian and information), :mod:`estimators.glm_design`
(offset and exposure), :mod:`estimators.separation` (perfect separation) and
:mod:`estimators.glm_inference` (covariance and fit statistics).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pandas as pd

from .base import FitResult, RegressionEstimator, formula_inputs
from .errors import DataError, SettingsError
from .families import FAMILIES, LINKS, Family, Link, saturated_nll
from .frame import Design, format_rows
from .glm_design import offset_design, total_offset
from .glm_inference import covariance, goodness_of_fit
from .glm_kernels import (
    column_scale,
    information_matrix,
    linear_predictor,
    loss_and_hessian,
    mean_of,
)
from .separation import PerfectSeparationWarning, check_separation
from .solve import Status, minimize, x64_context

__all__ = ["GLM", "LogisticRegression", "PerfectSeparationWarning", "PoissonRegression"]

INFORMATION = ("observed", "expected")


class GLM(RegressionEstimator):
    r"""Generalised linear model, fitted by maximum likelihood with structured Newton.

    .. math::  g(E[y_i]) = x_i^\top\beta + o_i, \qquad
               \hat\beta = \arg\min_\beta \sum_i w_i\,\ell(x_i^\top\beta + o_i,\ y_i)

    Parameters
    ----------
    family : ``"gaussian"`` (default), ``"binomial"``, ``"poisson"``, ``"gamma"``
        or ``"negative_binomial"`` (NB2: :math:`V(\mu) = \mu + \alpha\mu^2`).
    link : ``None`` (the family's default: identity, logit, log, inverse, log)
        or a name: binomial ``"logit"``, ``"probit"``, ``"cloglog"``; gamma
        ``"inverse"``, ``"log"``; poisson and negative binomial ``"log"``;
        gaussian ``"identity"``.
    fit_intercept : add a column of ones named ``Intercept`` (default True).
    alpha : negative binomial only. ``None`` (default): estimated by maximum
        likelihood jointly with :math:`\beta` (statsmodels'
        ``discrete_model.NegativeBinomial``, NB2), reported as the last
        parameter ``alpha`` with its standard error; a positive number: held
        fixed (statsmodels' ``GLM(family=NegativeBinomial(alpha=...))``).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN in X, y,
        offset or exposure.
    tol : accuracy in standard errors: the fit stops when the Newton
        decrement puts the estimate within about ``tol`` standard errors of the
        exact maximiser (``minimize(tol=tol**2 / n)``). Default ``1e-8``.
    max_iter : Newton iteration limit (default 100).
    information : ``"observed"`` (default): covariance from the Hessian of the
        negative log-likelihood, as statsmodels' ``GLM.fit(method="newton")``
        and ``NegativeBinomial``; ``"expected"``: from the Fisher information,
        as statsmodels' default IRLS fit. They coincide for canonical links
        (logit, log for poisson, identity, inverse for gamma).

    The response must be in [0, 1] for the binomial family (0/1 outcomes, or
    proportions of successes with ``sample_weight`` = numbers of trials),
    non-negative integers for poisson and negative binomial, and positive for
    gamma. ``sample_weight`` are frequency weights (:math:`n = \sum_i w_i`).

    Learned attributes (besides those of every regression estimator):
    ``llf_`` (log-likelihood; for the gaussian identity model at the maximum
    likelihood variance, otherwise at ``scale_``: statsmodels' ``llf``),
    ``deviance_`` (:math:`\sum_i w_i d_i`), ``pearson_chi2_``, ``scale_``
    (dispersion :math:`\hat\phi`: Pearson :math:`\chi^2/(n-p)` for gaussian and
    gamma, else 1), ``aic_`` (:math:`-2\,\text{llf} + 2k`), ``bic_``
    (:math:`-2\,\text{llf} + k \log n`, statsmodels' ``bic_llf``, its ``bic``
    since 0.14), with :math:`k` the number of mean parameters (plus one for an
    estimated alpha; the dispersion is not counted, as in statsmodels),
    ``alpha_`` (negative binomial), ``mu_`` (fitted means), ``separated_``
    (True when perfect separation was detected: then a
    :class:`PerfectSeparationWarning` and ``converged_ = False``).
    ``history_`` holds the loss (half the mean deviance; the mean negative
    log-likelihood for the negative binomial with estimated alpha) and the
    gradient norm in the solver's column-scaled coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    >>> y = np.array([1.0, 0.0, 2.0, 4.0, 7.0])
    >>> m = GLM("poisson").fit(x, y)
    >>> m.params_.round(6).tolist()
    [-0.745683, 0.677524]
    """

    # The solver is always Newton, so the base class's hints about solvers and
    # learning rates do not apply.
    _convergence_hint = "raise max_iter, or loosen tol (in standard errors; default 1e-8)"
    _failure_hint = (
        "look for extreme values in the response or the columns (rescale them), or "
        "try another link"
    )

    def __init__(
        self,
        family: str = "gaussian",
        link: str | None = None,
        *,
        fit_intercept: bool = True,
        alpha: float | None = None,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
    ):
        self._set_settings(locals())

    # ------------------------------------------------------------ settings
    def _model(self) -> tuple[Family, Link]:
        if self.family not in FAMILIES:
            raise SettingsError(
                f"unknown family {self.family!r}; valid families are {list(FAMILIES)}"
            )
        family = FAMILIES[self.family]
        link = family.default_link if self.link is None else self.link
        if link not in family.links:
            known = "" if link in LINKS else f"unknown link {link!r}; "
            raise SettingsError(
                f"{known}link {link!r} is not available for the {family.name} family; "
                f"valid links are {list(family.links)}"
            )
        return family, LINKS[link]

    def _check_settings(self) -> None:
        family, _ = self._model()
        if self.alpha is not None:
            if family.name != "negative_binomial":
                raise SettingsError(
                    f"alpha is the negative binomial dispersion; the {family.name} family "
                    "has none (leave alpha=None)"
                )
            if not (isinstance(self.alpha, int | float) and 0 < self.alpha < np.inf):
                raise SettingsError(f"alpha must be a positive number or None, got {self.alpha!r}")
        if self.information not in INFORMATION:
            raise SettingsError(
                f"unknown information={self.information!r}; valid values are {list(INFORMATION)}"
            )
        if self.information == "expected" and self._estimates_alpha(family):
            raise SettingsError(
                "information='expected' needs a fixed alpha for the negative binomial; with "
                "alpha estimated the covariance is the observed information (as statsmodels' "
                "NegativeBinomial)"
            )
        if not (isinstance(self.tol, int | float) and self.tol > 0):
            raise SettingsError(f"tol must be a positive number, got {self.tol!r}")
        if self.max_iter is not None and not (
            isinstance(self.max_iter, int | np.integer) and self.max_iter >= 0
        ):
            raise SettingsError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise SettingsError(f"fit_intercept must be True or False, got {self.fit_intercept!r}")

    def _estimates_alpha(self, family: Family) -> bool:
        return family.name == "negative_binomial" and self.alpha is None

    def _check_response(self, design: Design) -> None:
        family, _ = self._model()
        y, name, n = design.y, design.response, len(design.y)
        if family.name == "binomial":
            bad, rule = (
                (y < 0) | (y > 1),
                (
                    "in [0, 1] for the binomial family (0/1 outcomes, or proportions of "
                    "successes with sample_weight = numbers of trials)"
                ),
            )
        elif family.name in ("poisson", "negative_binomial"):
            bad, rule = (
                (y < 0) | (y != np.floor(y)),
                (f"a non-negative integer (a count) for the {family.name} family"),
            )
        elif family.name == "gamma":
            bad, rule = y <= 0, "positive for the gamma family"
        else:
            return
        if bad.any():
            raise DataError(
                f"{name} must be {rule}: {int(bad.sum())} of {n} rows are not "
                f"(rows {format_rows(design.index, bad)}; first value {y[bad][0]!r})"
            )

    # ------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        offset: Any = None,
        exposure: Any = None,
        *,
        formula: str | None = None,
    ) -> GLM:
        """Fit to ``X`` (array or DataFrame) and ``y``; optional offset / exposure per row.

        ``offset`` is added to the linear predictor; ``exposure`` (log links
        only, > 0) adds ``log(exposure)``, so the mean is proportional to it.
        With ``formula="y ~ x1 + C(g)"``, ``X`` is a DataFrame and ``y`` None
        (see :func:`~estimators.base.formula_inputs`); offset and exposure stay
        arguments, one value per row of ``X``.
        """
        self._check_settings()
        family, link = self._model()
        inputs = formula_inputs(
            X,
            y,
            formula,
            {"sample_weight": sample_weight, "offset": offset, "exposure": exposure},
            missing=self.missing,
            owner=self,
        )
        design = offset_design(
            inputs.X,
            inputs.y,
            sample_weight=inputs.per_row["sample_weight"],
            offset=inputs.per_row["offset"],
            exposure=inputs.per_row["exposure"],
            missing=self.missing,
            fit_intercept=inputs.fit_intercept,
            log_link=link.name == "log",
        )
        design = inputs.count_dropped(design)
        self._check_response(design)
        result = self._fit_design(design)
        separated = bool(result.attributes.get("separated_", False))
        if not separated or result.solution.status == Status.NONFINITE:
            self._check_solution(result.solution)  # separation has its own warning
        names = list(design.names) + (["alpha"] if self._estimates_alpha(family) else [])
        self._store_design_fit(design, result, inputs, names)
        if separated:
            self.converged_ = False
        return self

    def _fit_design(self, design: Design) -> FitResult:
        family, link = self._model()
        estimate_alpha = self._estimates_alpha(family)
        offset = getattr(design, "offset", None)
        offset = np.zeros(len(design.y)) if offset is None else offset
        X, y, w = design.X, design.y, design.weights
        col_scale = column_scale(X)
        wn = w / w.sum()
        alpha_fixed = 1.0 if self.alpha is None else float(self.alpha)
        shift = float(wn @ saturated_nll(family, y, None if estimate_alpha else alpha_fixed))
        params0 = _starting_values(family, link, design, offset, col_scale, estimate_alpha)
        loss, hessian = loss_and_hessian(family.name, link.name, estimate_alpha)
        with x64_context("float64"):
            # device_put of a C-contiguous float64 array is zero-copy on CPU, where
            # the jnp.asarray inside minimize would copy the design on every fit.
            X_dev = jax.device_put(np.ascontiguousarray(X, dtype=np.float64))
            y_dev, wn_dev, offset_dev, *rest = (
                jax.device_put(np.asarray(a, dtype=np.float64))
                for a in (y, wn, offset, col_scale, np.log(alpha_fixed), shift)
            )
        solution = minimize(
            loss,
            params0,
            X_dev,
            y_dev,
            wn_dev,
            offset_dev,
            *rest,
            solver="newton",
            hessian=hessian,
            tol=self.tol**2 / design.nobs,
            max_iter=self.max_iter,
        )
        beta = col_scale * np.asarray(solution.params["coef"], dtype=float)
        log_alpha = float(solution.params["log_alpha"]) if estimate_alpha else np.log(alpha_fixed)
        alpha = float(np.exp(log_alpha)) if family.name == "negative_binomial" else None
        with x64_context("float64"):
            eta = linear_predictor(X_dev, beta, offset_dev)
            information = information_matrix(
                family,
                link,
                X_dev,
                y_dev,
                wn_dev,
                eta,
                log_alpha,
                estimate_alpha=estimate_alpha,
                expected=self.information == "expected",
            )
        information = information * design.nobs  # of the total, not the mean, loss
        mu = mean_of(link, np.asarray(eta))
        separated = check_separation(family, design, mu, solution.converged)
        params = np.append(beta, alpha) if estimate_alpha else beta
        attributes = goodness_of_fit(family, link, y, w, mu, alpha, len(params))
        cov = covariance(information, attributes["scale_"], alpha, design, separated)
        attributes.update(
            mu_=pd.Series(mu, index=design.index, name=f"fitted_{design.response}"),
            family_=family.name,
            link_=link.name,
            separated_=separated,
        )
        if alpha is not None:
            attributes["alpha_"] = alpha
        return FitResult(
            params=params, cov=cov, solution=solution, df_resid=None, attributes=attributes
        )

    # ------------------------------------------------------------ predict
    def predict(self, X: Any, offset: Any = None, exposure: Any = None) -> pd.Series:
        """Predicted mean response :math:`g^{-1}(x^\\top\\hat\\beta + o)` for new ``X``.

        ``offset`` / ``exposure`` for the new rows default to none (0 / 1);
        rows with missing values predict NaN.
        """
        self._check_fitted()
        _, link = self._model()
        matrix, index = self._predict_matrix(X)
        extra = total_offset(
            offset,
            exposure,
            n=matrix.shape[0],
            index=index,
            missing="drop",
            log_link=link.name == "log",
        )
        coef = self.params_[self.design_info_.names].to_numpy()
        return pd.Series(
            mean_of(link, matrix @ coef + extra),
            index=index,
            name=f"predicted_{self.design_info_.response}",
        )

    def _predict_mean(self, matrix: np.ndarray) -> np.ndarray:
        _, link = self._model()
        return mean_of(link, matrix @ self.params_[self.design_info_.names].to_numpy())


def _starting_values(
    family: Family,
    link: Link,
    design: Design,
    offset: np.ndarray,
    col_scale: np.ndarray,
    estimate_alpha: bool,
) -> dict:
    r"""Starting values where statsmodels starts.

    With an intercept and no offset: the intercept-only MLE
    :math:`g(\bar y)` (exact for canonical links). Otherwise one weighted
    least-squares step on the working response :math:`g(\mu_0) - o` from
    statsmodels' starting means :math:`\mu_0 = (y + \bar y)/2`
    (binomial: :math:`(y + 1/2)/2`).
    """
    X, y, w = design.X, design.y, design.weights
    ybar = float(np.sum(w * y) / np.sum(w))
    if family.name == "binomial" and ybar in (0.0, 1.0):
        ybar = 0.25 + 0.5 * ybar  # one outcome only (separated): start inside (0, 1)
    beta = np.zeros(X.shape[1])
    if design.fit_intercept and not np.any(offset):
        beta[0] = float(link.link(np.asarray(ybar)))
    else:
        mu0 = (y + 0.5) / 2 if family.name == "binomial" else (y + ybar) / 2
        z = link.link(mu0) - offset
        root = np.sqrt(w)
        beta = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)[0]
        if not np.all(link.valid(X @ beta + offset)) and design.fit_intercept:
            beta = np.zeros(X.shape[1])
            beta[0] = float(link.link(np.asarray(ybar)))
    params = {"coef": beta / col_scale}
    if estimate_alpha:
        # Method of moments at the starting mean, as statsmodels (floored at 0.05).
        mu = np.exp(X @ beta + offset)
        moment = np.sum(w * ((y - mu) ** 2 - mu) / mu**2) / max(np.sum(w) - X.shape[1], 1)
        params["log_alpha"] = float(np.log(max(moment, 0.05)))
    return params


class _FixedFamilyGLM(GLM):
    """A :class:`GLM` whose family and link are class attributes, not settings.

    The settings are the constructor's keywords (``get_params`` reads the
    signature), so the thin classes below share this one ``__init__``.
    """

    family: str
    link: str
    alpha = None

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
    ):
        self._set_settings(locals())


class LogisticRegression(_FixedFamilyGLM):
    """Logistic regression: :class:`GLM` with the binomial family and logit link.

    Unpenalised maximum likelihood with statsmodels' standard errors (not
    scikit-learn's default L2 penalty). ``predict`` returns probabilities.
    Under perfect separation the MLE does not exist: see
    :class:`PerfectSeparationWarning`.
    """

    family = "binomial"
    link = "logit"


class PoissonRegression(_FixedFamilyGLM):
    """Poisson regression: :class:`GLM` with the poisson family and log link."""

    family = "poisson"
    link = "log"
