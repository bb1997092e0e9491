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
loop (:func:`estimators.glm_newton.fused_newton`: the rules of
:func:`estimators.minimize` with ``solver="newton"``, one pass over X an
iteration). Value and gradient
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
/ (n - p)` for the gaussian and gamma families; statistics are z (``use_t``
for t). Robust covariances (``cov_type`` HC0, HC1, cluster, HAC) are
sandwiches of the observed Hessian and the per-row scores, both from autodiff
of the per-row negative log-likelihood, as statsmodels' GLM
``fit(cov_type=...)``.

The pieces live in small modules: :mod:`estimators.glm_kernels` (the compiled
loss, structured Hessian and information), :mod:`estimators.glm_newton` (the
Newton loop), :mod:`estimators.glm_start` (its starting values), :mod:`estimators.glm_design`
(offset and exposure), :mod:`estimators.separation` (perfect separation) and
:mod:`estimators.glm_inference` (covariance and fit statistics).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import numpy as np
import pandas as pd

from .base import FitResult, RegressionEstimator
from .distributed import process_rows_active
from .errors import DataError, SettingsError
from .families import FAMILIES, LINKS, Family, Link
from .fit_inputs import OFFSET_ARGUMENTS, formula_inputs, named_column
from .frame import INTERCEPT, Design, format_rows
from .glm_design import offset_design, padded_inputs, total_offset
from .glm_inference import (
    alpha_jacobian,
    check_dispersion,
    covariance,
    glm_sandwich,
    goodness_of_fit,
    intercept_only_eta,
    inverse_information,
    negative_binomial_null_alpha,
    null_loglike,
    pseudo_rsquared,
)
from .glm_kernels import (
    device_column_scale,
    device_mean,
    information_matrix,
    linear_predictor,
    mean_of,
    row_curvature,
    row_slopes,
)
from .glm_newton import fused_newton
from .glm_start import Start, default_start, saturated_shift, subsample_start
from .interop import as_pandas
from .separation import (
    PerfectSeparationWarning,
    boundary_direction,
    check_separation,
    separating_direction,
)
from .sharding import active_mesh, put_rows
from .solve import Status, x64_context

__all__ = ["GLM", "LogisticRegression", "PerfectSeparationWarning", "PoissonRegression"]

INFORMATION = ("observed", "expected")
SEPARATED_NOTE = (
    "the responses are perfectly separated: the maximum likelihood estimate does not exist"
)


class _NewtonFit(NamedTuple):
    """A solved GLM: the Solution, coefficients in data units, and the device arrays.

    The device arrays are padded to a size bucket
    (:func:`~estimators.glm_design.padded_inputs`): rows ``n:`` are copies of row 0
    with weight 0. Per-row results computed from them are cut back to the ``n``
    real rows.
    """

    solution: Any
    beta: np.ndarray
    log_alpha: float
    X: jax.Array
    y: jax.Array
    wn: jax.Array
    eta: jax.Array
    n: int
    observed: np.ndarray  # Hessian of the mean loss at the estimate, data units
    start: Start  # where the Newton iterations started (estimators.glm_start)


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
        (logit, log for poisson, identity, inverse for gamma). Used by the
        ``"nonrobust"`` covariance only: the robust ones take the observed
        Hessian, as statsmodels.
    cov_type : ``"nonrobust"`` (default: :math:`\hat\phi` times the inverse
        information), or a sandwich :math:`c\,A^{-1} B A^{-1}` with :math:`A`
        the observed Hessian of :math:`\sum_i w_i \ell_i` and the scores
        :math:`s_i = w_i \ell'(\eta_i) x_i` (by autodiff of the per-row
        negative log-likelihood; with :math:`\alpha` when it is estimated):
        ``"HC0"`` (:math:`B = \sum_i s_i s_i^\top / w_i`, :math:`c = 1`;
        statsmodels' ``cov_type="HC0"``), ``"HC1"`` (HC0 times
        :math:`n/(n-k)`; statsmodels' GLM gives HC0 for ``"HC1"``),
        ``"cluster"`` (:math:`B = \sum_g S_g S_g^\top`, :math:`c =
        \frac{G}{G-1}\frac{n-1}{n-k}`; labels from ``fit(groups=...)``, two
        columns for two-way clustering) or ``"HAC"`` (Newey-West, Bartlett
        weights, no finite-sample factor, ``cov_options={"maxlags": L}``,
        default :math:`\lfloor 4 (n/100)^{2/9} \rfloor`). :math:`n = \sum_i
        w_i`, :math:`k` the number of parameters; see
        :mod:`estimators.covariance`. HC2 and HC3 (least squares) are not
        offered. The sandwich does not depend on the dispersion.
    use_t : None or False (default: z statistics, as statsmodels' GLM), True
        (t with :math:`n - k` degrees of freedom; :math:`G - 1` for cluster).
    cov_options : None or ``{"maxlags": L}`` for ``"HAC"``.

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
    ``llnull_`` (log-likelihood of the intercept-only model with the same
    offset, exposure and weights, at ``scale_``: statsmodels' ``llnull``),
    ``pseudo_rsquared_`` (McFadden's :math:`1 - \text{llf}/\text{llnull}`),
    ``alpha_`` (negative binomial), ``mu_`` (fitted means), ``separated_``
    (True when perfect separation was detected: then a
    :class:`PerfectSeparationWarning` and ``converged_ = False``),
    ``offset_columns_`` (``{"exposure": "t"}`` when ``offset`` / ``exposure``
    were given as column names: ``predict`` reads the same columns).
    ``history_`` holds the loss (half the mean deviance; the mean negative
    log-likelihood for the negative binomial with estimated alpha) and the
    gradient norm in the solver's column-scaled coordinates. ``n_iter_`` counts
    the Newton iterations on the full data (each one pass over X; ``history_``
    has one row more, the start). From 200,000 rows on the iterations start
    from the same model fitted on every k-th row (at least 32,768 rows;
    :mod:`estimators.glm_start`), whose iterations are not counted there:
    ``start_`` says how the fit started (``{"method": "subsample", "rows": m,
    "n_iter": k}``, or ``"default"``: statsmodels' start). The estimate is the
    full-data problem's either way (same tolerance and stopping rule).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    >>> y = np.array([1.0, 0.0, 2.0, 4.0, 7.0])
    >>> m = GLM("poisson").fit(x, y)
    >>> m.params_.round(6).tolist()
    [-0.745683, 0.677524]
    """

    # HC2 / HC3 need least-squares leverages: not offered (an informative SettingsError).
    _cov_types = ("nonrobust", "HC0", "HC1", "cluster", "HAC")

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
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
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
        if self._alpha_setting is not None:
            if family.name != "negative_binomial":
                raise SettingsError(
                    f"alpha is the negative binomial dispersion; the {family.name} family "
                    "has none (leave alpha=None)"
                )
            if not (
                isinstance(self._alpha_setting, int | float) and 0 < self._alpha_setting < np.inf
            ):
                raise SettingsError(
                    f"alpha must be a positive number or None, got {self._alpha_setting!r}"
                )
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

    @property
    def _alpha_setting(self) -> float | None:
        """The ``alpha`` setting; the fixed-family subclasses have none (not an attribute,
        so that scikit-learn's checks do not mistake it for a penalty to set)."""
        return getattr(self, "alpha", None)

    def _estimates_alpha(self, family: Family) -> bool:
        return family.name == "negative_binomial" and self._alpha_setting is None

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
        elif family.name == "poisson":
            # Non-integer y >= 0 is the Poisson pseudo-likelihood (PPML, e.g. rates
            # or trade flows): consistent for the mean, as statsmodels and sklearn allow.
            bad, rule = y < 0, "non-negative for the poisson family"
        elif family.name == "negative_binomial":
            bad, rule = (
                (y < 0) | (y != np.floor(y)),
                "a non-negative integer (a count) for the negative_binomial family",
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
    def _inputs_and_design(self, X, y, formula, per_row, link):
        """The fit's inputs (formula expanded, per-row arguments cut to the kept rows) and
        its validated design with the offset (``exposure`` logged for log links)."""
        inputs = formula_inputs(X, y, formula, per_row, missing=self.missing, owner=self)
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
        return inputs, design

    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        offset: Any = None,
        exposure: Any = None,
        *,
        formula: str | None = None,
        groups: Any = None,
    ) -> GLM:
        """Fit to ``X`` (array or DataFrame) and ``y``; optional offset / exposure per row.

        ``offset`` is added to the linear predictor; ``exposure`` (log links
        only, > 0) adds ``log(exposure)``, so the mean is proportional to it.
        Each is one value per row of ``X``, or the name of a column of the
        DataFrame ``X`` (``exposure="t"``: without a formula that column is
        then not a regressor; ``predict`` reads the same column from new data).
        With ``formula="y ~ x1 + C(g)"``, ``X`` is a DataFrame and ``y`` None
        (see :func:`~estimators.fit_inputs.formula_inputs`); the formula may
        carry the offset as R does, ``"y ~ x1 + offset(np.log(t))"`` (then
        ``offset=`` must not be given too; ``exposure=`` may). ``groups``:
        cluster labels for ``cov_type="cluster"`` (one per row, two columns for
        two-way clustering, or column names of the DataFrame ``X``).

        Inside :func:`estimators.distributed.process_rows` (a multi-process
        program), ``X``, ``y``, ... are this process's share of the rows and the
        fit is one fit over every process's rows
        (:func:`estimators.distributed_glm.fit`).
        """
        if process_rows_active():
            from .distributed_glm import fit as fit_across_processes

            return fit_across_processes(self, X, y, sample_weight, offset, exposure,
                                        formula=formula, groups=groups)  # fmt: skip
        self._check_settings()
        self._check_inference_settings(groups)
        family, link = self._model()
        per_row = {
            "sample_weight": sample_weight,
            "offset": offset,
            "exposure": exposure,
            "groups": groups,
        }
        inputs, design = self._inputs_and_design(X, y, formula, per_row, link)
        _check_one_outcome(family, design)
        result = self._fit_design(design)
        separated = bool(result.attributes.get("separated_", False))
        if not separated or result.solution.status == Status.NONFINITE:
            self._check_solution(result.solution)  # separation has its own warning
        names = list(design.names) + (["alpha"] if self._estimates_alpha(family) else [])
        self._store_design_fit(design, result, inputs, names)
        self.offset_columns_ = dict(inputs.offset_columns)
        if separated:
            self.converged_ = False
            if not np.all(np.isfinite(self.std_errors_)):
                self.cov_note_ = SEPARATED_NOTE
        return self

    def _newton(
        self,
        design: Design,
        family: Family,
        link: Link,
        estimate_alpha: bool,
        cache: dict | None = None,
    ):
        """Minimise the mean negative log-likelihood by structured Newton; arrays on the device.

        ``cache``: per-row terms of ``design.y`` shared with the fit statistics
        (:func:`~estimators.glm_inference.poisson_terms`)."""
        offset = getattr(design, "offset", None)
        offset = np.zeros(len(design.y)) if offset is None else offset
        X, y, w = design.X, design.y, design.weights
        n = len(y)
        wn = w / w.sum()
        alpha_fixed = 1.0 if self._alpha_setting is None else float(self._alpha_setting)
        shift = saturated_shift(family, y, wn, None if estimate_alpha else alpha_fixed, cache)
        # Inside `with sharded():` the row arrays are split over the devices and the
        # kernels reduce each device's rows (estimators.sharding); else one device.
        mesh = active_mesh()
        multiple = 1 if mesh is None else mesh.devices.size
        X_pad, y_pad, wn_pad, offset_pad = padded_inputs(X, y, wn, offset, multiple)
        with x64_context("float64"):
            # device_put of a C-contiguous float64 array is zero-copy on CPU, where
            # the jnp.asarray inside minimize would copy the design on every fit.
            X_dev = put_rows(np.ascontiguousarray(X_pad, dtype=np.float64))
            y_dev, wn_dev, offset_dev = (
                put_rows(np.asarray(a, dtype=np.float64)) for a in (y_pad, wn_pad, offset_pad)
            )
        col_scale = device_column_scale(X_dev)  # one pass on the device, not two in numpy
        start_args = (family, link, X, y, w, offset, design.fit_intercept, col_scale)
        # Large n: start from the same model fitted on a strided subsample (a pass or two
        # fewer over the full data); not inside sharded(), whose loop is the devices'.
        start = None
        if mesh is None:
            start = subsample_start(
                *start_args, estimate_alpha, alpha_fixed, max_iter=self.max_iter
            )
        if start is None:
            start = Start(default_start(*start_args, estimate_alpha), "default", 0, 0)
        with x64_context("float64"):
            rest = [
                jax.device_put(np.asarray(a, dtype=np.float64))
                for a in (col_scale, np.log(alpha_fixed), shift)
            ]
        solution, hessian = fused_newton(
            family.name,
            link.name,
            estimate_alpha,
            start.params,
            (X_dev, y_dev, wn_dev, offset_dev, *rest),
            tol=self.tol**2 / design.nobs,
            max_iter=self.max_iter,
            mesh=mesh,
        )
        beta = col_scale * np.asarray(solution.params["coef"], dtype=float)
        log_alpha = float(solution.params["log_alpha"]) if estimate_alpha else np.log(alpha_fixed)
        with x64_context("float64"):
            eta = linear_predictor(X_dev, beta, offset_dev)
        # The Hessian of the mean loss at the estimate, in data units (the column scales
        # are powers of two: exact), from the solver's last pass.
        scales = np.append(col_scale, 1.0) if estimate_alpha else col_scale
        observed = hessian / (scales[:, None] * scales[None, :])
        return _NewtonFit(solution, beta, log_alpha, X_dev, y_dev, wn_dev, eta, n, observed, start)

    def _fit_design(self, design: Design) -> FitResult:
        family, link = self._model()
        estimate_alpha = self._estimates_alpha(family)
        cache: dict = {}  # per-row terms of y shared by the shift and the fit statistics
        fit = self._newton(design, family, link, estimate_alpha, cache)
        solution, beta, log_alpha, eta = fit.solution, fit.beta, fit.log_alpha, fit.eta
        alpha = float(np.exp(log_alpha)) if family.name == "negative_binomial" else None
        y, w = design.y, design.weights

        def information(expected: bool) -> np.ndarray:
            matrix = information_matrix(
                family,
                link,
                fit.X,
                fit.y,
                fit.wn,
                eta,
                log_alpha,
                estimate_alpha=estimate_alpha,
                expected=expected,
            )
            return matrix * design.nobs  # of the total, not the mean, loss

        # The solver's last pass gave the Hessian at the estimate; recomputed only if
        # it is not finite (a failed fit), where the separate kernel says why.
        observed = fit.observed * design.nobs
        if not np.all(np.isfinite(observed)):
            observed = information(expected=False)
        n = fit.n  # the real rows; the device arrays are padded
        mu = device_mean(link, eta)[:n]
        separated = check_separation(family, design, mu, solution.converged)
        params = np.append(beta, alpha) if estimate_alpha else beta
        check_dispersion(family, design, mu)
        attributes = goodness_of_fit(family, link, y, w, mu, alpha, len(params), cache)
        jac = alpha_jacobian(len(params), design.X.shape[1], alpha)
        inverse_observed, reason_observed = inverse_information(observed, design, separated)
        if self.information == "expected":
            inverse, reason = inverse_information(information(expected=True), design, separated)
        else:
            inverse, reason = inverse_observed, reason_observed
        cov = covariance(inverse, attributes["scale_"], jac)

        def slopes() -> np.ndarray:  # a pass over the rows, only for the scores
            return row_slopes(family, link, fit.y, eta, log_alpha, estimate_alpha=estimate_alpha)[
                :n
            ]

        curvature = None
        if not estimate_alpha:
            curvature = lambda: row_curvature(family, link, fit.y, eta, log_alpha)[:n]  # noqa: E731
        sandwich = glm_sandwich(design.X, w, slopes, inverse_observed, jac, curvature)
        if self.cov_type != "nonrobust":
            reason = reason_observed
        mu_null, alpha_null = self._null_means(design, family, link, estimate_alpha, alpha)
        llnull = null_loglike(family, y, w, mu_null, attributes["scale_"], alpha_null, cache)
        attributes.update(
            llnull_=llnull,
            pseudo_rsquared_=pseudo_rsquared(attributes["llf_"], llnull),
            mu_=pd.Series(mu, index=design.index, name=f"fitted_{design.response}"),
            family_=family.name,
            link_=link.name,
            separated_=separated,
            start_=fit.start.record(),
        )
        if alpha is not None:
            attributes["alpha_"] = alpha
        return FitResult(
            params=params,
            cov=cov,
            solution=solution,
            df_resid=None,
            attributes=attributes,
            sandwich=sandwich,
            # Under separation the PerfectSeparationWarning says it all; fit() records the note.
            cov_note=None if separated else reason,
        )

    def _null_means(
        self, design: Design, family: Family, link: Link, estimate_alpha: bool, alpha: float | None
    ) -> tuple[np.ndarray, float | None]:
        r"""Fitted means (and alpha) of the intercept-only model, for ``llnull_``.

        Without an offset the null MLE of the mean is the weighted mean
        :math:`\bar y` for every link (the score equation :math:`\sum_i w_i
        (y_i - \mu)\,\mu'/V(\mu) = 0` with one :math:`\mu`), as statsmodels
        computes it, and an estimated NB alpha is a one-dimensional MLE at
        that mean. With an offset: the one intercept by a safeguarded Newton
        iteration on kernels already compiled for the fit; a negative binomial
        with both an offset and an estimated alpha refits the one-column
        design. NaN when the null MLE does not exist.
        """
        offset = design.offset
        y, w, n = design.y, design.weights, len(design.y)
        nan = np.full(n, np.nan)
        if not np.any(offset):
            ybar = float(np.sum(w * y) / np.sum(w))
            if estimate_alpha:
                return np.full(n, ybar), negative_binomial_null_alpha(y, w, ybar)
            return np.full(n, ybar), alpha
        if not estimate_alpha:
            log_alpha = 0.0 if alpha is None else float(np.log(alpha))
            # Padded as the fit's arrays, so these kernels are the fit's, already compiled.
            y_pad, w_pad, offset_pad = padded_inputs(None, y, w, offset)
            y_pad = np.asarray(y_pad, dtype=np.float64)
            b = intercept_only_eta(
                lambda eta: row_slopes(family, link, y_pad, eta, log_alpha, estimate_alpha=False),
                lambda eta: row_curvature(family, link, y_pad, eta, log_alpha),
                w_pad,
                offset_pad,
                start=_null_start(family, link, y, w, offset),
            )
            return (nan, alpha) if b is None else (mean_of(link, b + offset_pad)[:n], alpha)
        null = dataclasses.replace(
            design, X=np.ones((n, 1)), names=[INTERCEPT], features=[], fit_intercept=True
        )
        fit = self._newton(null, family, link, estimate_alpha)
        if not fit.solution.converged:
            return nan, alpha
        return device_mean(link, fit.eta)[:n], float(np.exp(fit.log_alpha))

    # ------------------------------------------------------------ predict
    def predict(self, X: Any, offset: Any = None, exposure: Any = None) -> pd.Series:
        """Predicted mean response :math:`g^{-1}(x^\\top\\hat\\beta + o)` for new ``X``.

        The offset :math:`o` of the new rows is what the fit had, recomputed
        from ``X``: the formula's ``offset()`` terms, and the columns named by
        ``offset=`` / ``exposure=`` at fit time. Otherwise ``offset`` /
        ``exposure`` (values, or column names of ``X``) default to none (0 /
        1). Rows with missing values predict NaN.
        """
        _, link = self._model()
        matrix, index, extra = self._predict_inputs(X, offset, exposure)
        coef = self.params_[self.design_info_.names].to_numpy()
        mean = mean_of(link, matrix @ coef + extra)
        _check_mean_range(link, mean, matrix, extra, index, coef, self.design_info_.names)
        return pd.Series(mean, index=index, name=f"predicted_{self.design_info_.response}")

    def predict_frame(
        self, X: Any, offset: Any = None, exposure: Any = None, alpha: float = 0.05
    ) -> pd.DataFrame:
        r"""Predicted means with standard errors and confidence intervals, a row per row of ``X``.

        Columns ``mean`` (:math:`g^{-1}(\hat\eta)`, :math:`\hat\eta =
        x^\top\hat\beta + o`), ``mean_se`` (delta method: :math:`|d g^{-1}/d\eta|
        \sqrt{x^\top \hat V x}`, :math:`\hat V` = ``cov_`` of the mean
        parameters, whatever ``cov_type``), ``mean_ci_lower`` / ``mean_ci_upper``
        (the interval for :math:`\eta` mapped through :math:`g^{-1}`, so it stays
        in the mean's range), as statsmodels' ``GLMResults.get_prediction(...)
        .summary_frame()``; z quantiles unless ``use_t``. The offset as in
        :meth:`predict`. See :func:`estimators.prediction.prediction_frame`.
        """
        _, link = self._model()
        matrix, index, extra = self._predict_inputs(X, offset, exposure)
        coef = self.params_[self.design_info_.names].to_numpy()
        mean = mean_of(link, matrix @ coef + extra)  # checked first: the SEs would overflow too
        _check_mean_range(link, mean, matrix, extra, index, coef, self.design_info_.names)
        return self._prediction_table(matrix, index, alpha, inverse_link=link.mean, offset=extra)

    def _predict_inputs(
        self, X: Any, offset: Any, exposure: Any
    ) -> tuple[np.ndarray, pd.Index, np.ndarray]:
        """The design matrix, row labels and total offset of new data ``X``."""
        from .formula import apply_spec_with_offset

        self._check_fitted()
        _, link = self._model()
        X = as_pandas(X)
        spec = getattr(self, "formula_spec_", None)
        formula_offset = None
        if spec is None:
            matrix, index = self._predict_matrix(X)
        else:
            frame, formula_offset = apply_spec_with_offset(spec, X)
            matrix, index = frame.to_numpy(), frame.index
        given = {"offset": offset, "exposure": exposure}
        for argument in OFFSET_ARGUMENTS:
            name = getattr(self, "offset_columns_", {}).get(argument)
            if given[argument] is None and name is not None:
                given[argument] = _refitted_column(X, name, argument)
            elif isinstance(given[argument], str):
                given[argument] = named_column(X, given[argument], argument)
        if formula_offset is not None and given["offset"] is not None:
            raise SettingsError(
                f"the offset of formula {self.formula_!r} is recomputed from X; pass no "
                "offset= to predict (exposure= may be given)"
            )
        extra = total_offset(
            given["offset"],
            given["exposure"],
            n=matrix.shape[0],
            index=index,
            missing="drop",
            log_link=link.name == "log",
        )
        if formula_offset is not None:
            extra = extra + formula_offset
        return matrix, index, extra

    def _predict_mean(self, matrix: np.ndarray) -> np.ndarray:
        _, link = self._model()
        return mean_of(link, matrix @ self.params_[self.design_info_.names].to_numpy())


def _check_mean_range(
    link: Link,
    mean: np.ndarray,
    matrix: np.ndarray,
    offset: np.ndarray,
    index: pd.Index,
    coef: np.ndarray,
    names: list[str],
) -> None:
    """A :class:`DataError` counting the rows whose predicted mean is beyond float64's range.

    ``exp(eta)`` overflows to infinity for eta above about 709.8 (new X far
    outside the data the model was fitted on, say X near 1e300); an infinite
    prediction would pass silently into whatever uses it. Rows with missing
    values predict NaN, as documented, and are not counted.
    """
    missing = np.isnan(matrix).any(axis=1) | np.isnan(np.broadcast_to(offset, mean.shape))
    bad = ~missing & ~np.isfinite(mean)
    if not bad.any():
        return
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.abs(matrix[bad] * coef)  # which column's term x_j b_j is largest
    column = names[int(np.nanargmax(np.nanmax(terms, axis=0)))] if terms.size else None
    largest = "" if column is None else f"; column {column!r} gives the largest term"
    raise DataError(
        f"the predicted mean overflows float64 on {int(bad.sum())} of {len(mean)} rows of X "
        f"(rows {format_rows(index, bad)}): their linear predictor is beyond the range of "
        f"the {link.name} link's inverse{largest}; these X are far outside the fitted data "
        "(rescale them as the fit's columns were)"
    )


def _check_one_outcome(family: Family, design: Design) -> None:
    r"""A :class:`DataError` when every response is at the family's boundary and the MLE is lost.

    Logistic regression with :math:`y_i = 1` on every row (or 0), or a count
    model with :math:`y_i = 0` on every row: the likelihood increases for ever
    as the fitted means run to the boundary (for the intercept,
    :math:`\hat\beta_0 \to \pm\infty`), so no coefficient is estimated at
    all. This is separation in its extreme form, but unlike partial separation
    (a :class:`PerfectSeparationWarning`, with the other rows still
    informative) the data hold no information on any parameter, so it is an
    error, as scikit-learn's "needs samples of at least 2 classes". Checked
    here and not in ``_check_response``, which also sees one process's or one
    group's rows only. Without a constant column the MLE may exist (one
    column of both signs and no intercept): the linear program of
    :func:`~estimators.separation.separating_direction` decides.
    """
    if family.boundary is None:
        return
    used = design.weights > 0
    y = design.y if used.all() else design.y[used]
    # Two different responses point to different boundaries, or both to none (two
    # proportions): the usual case, decided by two reductions.
    if y.size == 0 or np.min(y) != np.max(y) or not boundary_direction(family, y[:1])[0]:
        return
    direction = boundary_direction(family, design.y)
    if separating_direction(design.X, direction, design.weights) is None:
        return
    n, total = int(used.sum()), len(design.y)
    rows = f"all {n} rows" if n == total else f"all {n} rows with a positive weight"
    value = float(design.y[used][0])
    by = " by the intercept" if design.fit_intercept else ""
    if family.boundary == "both":
        why = (
            "the binomial family needs both outcomes: with one, the fitted probabilities "
            f"run to exactly {value:g} as the coefficients grow without bound (perfect "
            f"separation{by})"
        )
    else:
        why = (
            f"the fitted means of the {family.name} family run to exactly 0 as the "
            f"coefficients grow without bound (perfect separation{by})"
        )
    raise DataError(
        f"{design.response} is {value:g} on {rows}: {why}, so the maximum likelihood "
        "estimate does not exist"
    )


def _refitted_column(X: Any, name: str, argument: str) -> pd.Series:
    """The column of new data that the fit took ``argument`` from (a clear error if absent)."""
    if not isinstance(X, pd.DataFrame) or name not in X.columns:
        raise DataError(
            f"the model was fitted with {argument}={name!r}, a column of the data; the new "
            f"data has no column {name!r}: include it, or pass {argument}= values"
        )
    return X[name]


def _null_start(family: Family, link: Link, y: np.ndarray, w: np.ndarray, offset) -> float:
    """A finite start for the intercept-only fit: g(ybar) less the mean offset, else 0."""
    ybar = float(np.sum(w * y) / np.sum(w))
    if family.name == "binomial":
        ybar = min(max(ybar, 1e-3), 1 - 1e-3)
    with np.errstate(divide="ignore", invalid="ignore"):
        start = float(link.link(np.asarray(max(ybar, 1e-3))))
    if link.name == "log":
        start -= float(np.sum(w * offset) / np.sum(w))
    return start if np.isfinite(start) else 0.0


class _FixedFamilyGLM(GLM):
    """A :class:`GLM` whose family and link are class attributes, not settings.

    The settings are the constructor's keywords (``get_params`` reads the
    signature), so the thin classes below share this one ``__init__``.
    """

    family: str
    link: str

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-8,
        max_iter: int | None = None,
        information: str = "observed",
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
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
