"""``Estimator``: scikit-learn conventions and the fitted attributes every estimator shares.

Constructor arguments are settings only (keyword arguments stored as given);
``fit`` validates, solves, sets the learned attributes ending in ``_`` and
returns ``self``. ``get_params`` reads the ``__init__`` signature, so
``set_params`` and :func:`clone` (and scikit-learn's own ``clone``) work.

scikit-learn compatibility lives here, not in each estimator, and never
imports scikit-learn at import time: ``__sklearn_tags__`` imports it only when
scikit-learn asks, and the errors raised where scikit-learn's checks expect
its own classes (:class:`NotFittedError`, the column-vector ``y`` warning) are
combined with them only once scikit-learn is loaded
(:func:`~estimators.errors.sklearn_flavour`). Every regressor passes
``sklearn.utils.estimator_checks`` except the checks listed, with their
reasons, in ``tests/test_sklearn.py``.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import covariance, inference
from .covariance import Sandwich
from .errors import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    FitError,
    SettingsError,
    sklearn_flavour,
    user_stacklevel,
)
from .fit_inputs import FormulaInputs, cut_groups, formula_inputs
from .frame import Design, as_design, as_float_vector, as_weights, predict_matrix
from .solve import Solution, Status


class NotFittedError(EstimationError, AttributeError):
    """A fitted attribute or method was used before ``fit``."""


class Estimator:
    """Base class: settings handling, and the results shared by every fitted estimator.

    Learned attributes (after ``fit``): ``params_`` (Series), ``cov_`` (DataFrame),
    ``std_errors_`` (Series), ``converged_``, ``n_iter_``, ``history_`` (DataFrame
    of ``loss`` and ``grad_norm`` per iteration), ``solution_`` (the engine's
    :class:`~estimators.Solution`), ``nobs_``, ``df_resid_``, ``cov_type_``,
    ``cov_note_`` (None, or why the standard errors are NaN) and, for cluster
    covariances, ``n_groups_``; for HAC, ``hac_maxlags_``.

    Inference settings (constructor arguments of every estimator):

    - ``cov_type``: one of the estimator's ``_cov_types`` (see
      :mod:`estimators.covariance`); ``"cluster"`` takes the labels from
      ``fit(..., groups=...)``.
    - ``use_t``: None (default: t statistics with ``df_resid_`` where the
      estimator has residual degrees of freedom, i.e. least squares, else z),
      True (t; ``nobs - p`` degrees of freedom when the estimator has none)
      or False (z). Cluster covariances of t-based fits use :math:`G - 1`
      degrees of freedom, as statsmodels.
    - ``cov_options``: None or a dict of the covariance's own options
      (``{"maxlags": 4}`` for HAC; see the estimator for its others).
    """

    # The covariance types an estimator offers, and those it computes itself
    # (the others come from the Sandwich its fit hands to _store_fit).
    _cov_types: tuple[str, ...] = covariance.COV_TYPES
    _native_cov_types: tuple[str, ...] = ("nonrobust",)
    _cov_options: tuple[str, ...] = ("maxlags",)
    # The non-differentiable loss an estimator minimises (None: smooth). Such
    # estimators have no Hessian, so no sandwich and no influence functions.
    _non_smooth_loss: str | None = None

    # ------------------------------------------------------------ settings
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def _set_settings(self, settings: dict[str, Any]) -> None:
        """Store the constructor's arguments (pass ``locals()``) under their names.

        ``__init__`` keeps its explicit signature (``get_params`` reads it) and
        calls ``self._set_settings(locals())`` instead of one assignment a setting.
        """
        for name in self._param_names():
            setattr(self, name, settings[name])

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor settings, by name (scikit-learn's contract)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Change settings by name; returns ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise SettingsError(
                    f"{type(self).__name__} has no setting {name!r}; its settings are {valid}"
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (scikit-learn >= 1.6; imported only when asked)."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state: the lazily formed sandwich (closures over the data) made concrete.

        A fit keeps its scores and leverages as functions until a covariance or
        :meth:`influence` asks for them; functions defined inside a fit cannot
        be pickled, so pickling forms them (the cost of one robust covariance).
        """
        state = self.__dict__.copy()
        sandwich = state.get("_sandwich")
        if sandwich is not None:
            state["_sandwich"] = Sandwich(
                sandwich.bread,
                sandwich.scores,
                sandwich.nobs,
                sandwich.frequency_weights,
                sandwich.leverage,
            )
        return state

    def __repr__(self) -> str:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults.get(name, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # ------------------------------------------------------------ inference settings
    def _check_inference_settings(self, groups: Any = None) -> None:
        """Validate ``cov_type``, ``use_t``, ``cov_options`` and ``groups`` before fitting."""
        name = type(self).__name__
        cov_type = getattr(self, "cov_type", "nonrobust")
        if cov_type not in self._cov_types:
            raise SettingsError(
                f"unknown cov_type {cov_type!r} for {name}; valid values are "
                f"{list(self._cov_types)}"
            )
        use_t = getattr(self, "use_t", None)
        if use_t is not None and not isinstance(use_t, bool):
            raise SettingsError(f"use_t must be None, True or False, got {use_t!r}")
        options = getattr(self, "cov_options", None)
        if options is not None:
            if not isinstance(options, dict):
                raise SettingsError(
                    f"cov_options must be None or a dict, got {type(options).__name__}"
                )
            unknown = sorted(set(options) - set(self._cov_options))
            if unknown:
                raise SettingsError(
                    f"unknown cov_options {unknown} for {name}; valid keys are "
                    f"{list(self._cov_options)}"
                )
            maxlags = options.get("maxlags")
            if maxlags is not None and not (
                isinstance(maxlags, int | np.integer)
                and not isinstance(maxlags, bool)
                and maxlags >= 0
            ):
                raise SettingsError(
                    f"cov_options['maxlags'] must be an integer >= 0, got {maxlags!r}"
                )
        if cov_type == "cluster" and groups is None:
            raise SettingsError(
                f"{name}(cov_type='cluster') needs cluster labels: pass groups= to fit"
            )
        if groups is not None and cov_type != "cluster":
            raise SettingsError(
                f"groups= is used only with cov_type='cluster' (this {name} has "
                f"cov_type={cov_type!r})"
            )

    def _cov_option(self, key: str, default: Any = None) -> Any:
        options = getattr(self, "cov_options", None) or {}
        return options.get(key, default)

    # ------------------------------------------------------------ fitted state
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise sklearn_flavour(NotFittedError, "NotFittedError")(
                f"this {type(self).__name__} is not fitted yet: call .fit(...) first"
            )

    def _store_fit(
        self,
        *,
        params: pd.Series,
        cov: pd.DataFrame,
        solution: Solution,
        history: pd.DataFrame,
        nobs: float,
        df_resid: float | None,
        std_errors: np.ndarray | None = None,
        sandwich: Sandwich | None = None,
        free: np.ndarray | None = None,
        groups: list[np.ndarray] | None = None,
        cov_note: str | None = None,
        row_index: pd.Index | None = None,
    ) -> None:
        """Set the learned attributes; ``std_errors`` defaults to sqrt(diag(cov)).

        ``cov`` is the estimator's own covariance for its ``cov_type`` when that
        is one of ``_native_cov_types``; any other type is computed here from
        ``sandwich`` (over the parameters marked in ``free``, default all; the
        others get NaN) and the cluster label codes ``groups``. ``cov_note``
        says why the covariance is NaN (warned once, shown in the summary).
        ``row_index`` labels the sandwich's rows (for :meth:`influence`).
        """
        cov_type = getattr(self, "cov_type", "nonrobust")
        self.cov_type_ = cov_type
        self.n_groups_ = self.hac_maxlags_ = None
        if cov_type not in self._native_cov_types:
            if sandwich is None:
                raise EstimationError(
                    f"{type(self).__name__} computed no sandwich for cov_type={cov_type!r}"
                )
            p = len(params)
            matrix = np.full((p, p), np.nan)
            keep = np.ones(p, dtype=bool) if free is None else np.asarray(free, dtype=bool)
            if cov_note is None:
                robust = covariance.robust_cov(
                    cov_type, sandwich, groups=groups, maxlags=self._cov_option("maxlags")
                )
                matrix[np.ix_(keep, keep)] = robust.matrix
                self.n_groups_, self.hac_maxlags_ = robust.n_groups, robust.maxlags
            cov = pd.DataFrame(matrix, index=cov.index, columns=cov.columns)
            std_errors = None
        if cov_note is not None:
            inference.warn_no_covariance(type(self).__name__, cov_note)
        self.cov_note_ = cov_note
        self._sandwich, self._sandwich_free, self._row_index = sandwich, free, row_index
        self.params_ = params
        self.cov_ = cov
        if std_errors is None:
            with np.errstate(invalid="ignore"):
                std_errors = np.sqrt(np.diag(cov.to_numpy()))
        self.std_errors_ = pd.Series(std_errors, index=params.index, name="std_error")
        self.solution_ = solution
        self.converged_ = solution.converged
        self.n_iter_ = solution.n_iter
        self.history_ = history
        self.nobs_ = nobs
        self.df_resid_ = df_resid

    @property
    def _df_inference(self) -> float | None:
        """Degrees of freedom of the t statistics, or None for z (see ``use_t``)."""
        use_t = getattr(self, "use_t", None)
        if use_t is False:
            return None
        df = self.df_resid_
        if df is None and use_t:
            df = self.nobs_ - int(np.sum(np.isfinite(self.std_errors_.to_numpy())))
        if df is not None and self.n_groups_ is not None:
            df = self.n_groups_ - 1
        return df

    # What to suggest when a fit fails or does not converge; estimators whose
    # solver is not minimize()'s (Levenberg-Marquardt, exact finishes) override it.
    _failure_hint = (
        "with solver='sgd' or 'adam' lower the learning_rate; otherwise check the scale "
        "of the data or try solver='newton'"
    )
    _convergence_hint = "raise max_iter or use solver='newton'"

    def _check_solution(self, solution: Solution) -> None:
        """Raise on a failed fit (NaN / inf); warn, visibly, on non-convergence."""
        if solution.status == Status.NONFINITE:
            raise FitError(
                f"{type(self).__name__} fit failed after {solution.n_iter} iterations: "
                f"{solution.message}. Hint: {self._failure_hint}."
            )
        if not solution.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge ({solution.message}; "
                f"{solution.n_iter} iterations, gradient norm {solution.grad_norm:.3g}). "
                f"The estimate is flagged with converged_ = False; {self._convergence_hint}.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row a parameter: estimate, std_error, statistic, p_value, ci_lower, ci_upper.

        The statistic tests ``parameter = 0``; it is a t statistic with
        ``df_resid_`` degrees of freedom where the estimator has them, else z
        (see ``use_t``). :meth:`summary_text` prints this table under a header.
        """
        self._check_fitted()
        return inference.summary_frame(self.params_, self.std_errors_, self._df_inference, alpha)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """The summary as a long table with a ``term`` column and a plain RangeIndex.

        Columns ``term, estimate, std_error, statistic, p_value, ci_lower,
        ci_upper`` (broom's ``tidy`` layout), ready to stack with
        ``pd.concat(..., keys=...)`` across many fits.
        """
        frame = self.summary(alpha)
        return frame.rename_axis("term").reset_index()

    def summary_text(self, alpha: float = 0.05) -> str:
        """The summary as text: a header (model, data, solver, fit statistics) over the table."""
        from .report import summary_text

        self._check_fitted()
        return summary_text(self, alpha)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Two-sided ``1 - alpha`` confidence intervals, columns ``ci_lower``, ``ci_upper``."""
        return self.summary(alpha)[["ci_lower", "ci_upper"]]

    def wald_test(self, hypothesis: Any, value: Any = None):
        """Joint Wald test of linear hypotheses ``R theta = q`` with this fit's ``cov_``.

        ``hypothesis`` is a string (``"x1 = x2, x3 = 0"``, parameter names as in
        ``params_``) or a matrix ``R`` with ``value`` the vector ``q`` (default
        0). F with ``(rank R, df)`` degrees of freedom where the fit reports t
        statistics, else chi-squared. See :func:`estimators.hypothesis.wald_test`.
        """
        from .hypothesis import wald_test

        self._check_fitted()
        return wald_test(
            self.params_,
            self.cov_,
            hypothesis,
            value,
            df_denom=self._df_inference,
            cov_note=self.cov_note_,
        )

    def influence(self) -> pd.DataFrame:
        r"""Per-observation influence functions :math:`-n A^{-1} s_i`, a row an observation.

        See :func:`estimators.influence.influence_functions`.
        """
        from .influence import influence_functions

        self._check_fitted()
        return influence_functions(self)

    def dfbeta(self) -> pd.DataFrame:
        r"""Change in each parameter from leaving out each observation (one-step DFBETA).

        See :func:`estimators.influence.dfbeta`.
        """
        from .influence import dfbeta

        self._check_fitted()
        return dfbeta(self)


@dataclasses.dataclass(frozen=True)
class DesignInfo:
    """What ``predict`` needs to rebuild a design matrix: names, not data."""

    names: list[str]
    features: list[str]
    response: str
    fit_intercept: bool


@dataclasses.dataclass
class FitResult:
    """What a regression family's ``_fit_design`` returns to the shared pipeline.

    ``params`` and ``cov`` are in the order of ``design.names``; ``df_resid`` is
    the t statistics' degrees of freedom (``None``: z statistics); ``history``
    defaults to the solution's trace; ``attributes`` become learned attributes
    (names ending in ``_``, e.g. ``{"scale_": 1.3}``). ``cov`` is the
    ``nonrobust`` covariance (or the estimator's own ``cov_type``); ``sandwich``
    gives the robust ones; ``cov_note`` says why the covariance is NaN.
    """

    params: np.ndarray
    cov: np.ndarray
    solution: Solution
    df_resid: float | None
    history: pd.DataFrame | None = None
    std_errors: np.ndarray | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    sandwich: Sandwich | None = None
    cov_note: str | None = None


class RegressionEstimator(Estimator):
    """Shared ``fit(X, y)`` / ``predict(X)`` pipeline of the regression families.

    Subclasses define settings in ``__init__`` (including ``fit_intercept`` and
    ``missing`` where they apply) and implement ``_fit_design(design) ->
    FitResult``; they may override ``_check_response(design)`` (domain checks of
    y, raising :class:`DataError`) and ``_predict_mean(matrix)`` (default: the
    linear predictor ``X @ params``).

    scikit-learn: the estimators are regressors (``__sklearn_tags__``) whose
    ``predict`` is the fitted mean response (a probability for the binomial
    family), ``score`` is the :math:`R^2` of ``predict`` as
    ``RegressorMixin.score``, and fits on arrays or DataFrames (not formulas)
    set ``n_features_in_`` and, for string column names, ``feature_names_in_``.
    Penalised estimators set ``_needs_rows_per_parameter = False``: they are
    well posed with fewer rows than parameters.
    """

    _needs_rows_per_parameter = True

    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        formula: str | None = None,
        groups: Any = None,
    ) -> RegressionEstimator:
        """Fit to a design ``X`` (array or DataFrame) and a response ``y`` (array or Series).

        With ``formula="y ~ x1 + C(g)"``, ``X`` is a DataFrame holding every
        variable of the formula and ``y`` must be None; see :func:`formula_inputs`.
        ``groups``: cluster labels for ``cov_type="cluster"``, one per row (or
        two columns for two-way clustering); column names of the DataFrame
        ``X`` are accepted (``groups="firm"``, ``groups=["firm", "year"]``).
        """
        design, inputs = self._validated_design(
            X, y, sample_weight, formula=formula, groups=groups
        )
        result = self._fit_design(design)
        self._check_solution(result.solution)
        self._store_design_fit(design, result, inputs, design.names)
        return self

    def _validated_design(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        formula: str | None = None,
        groups: Any = None,
    ) -> tuple[Design, FormulaInputs]:
        """Check the settings and the data of a fit: the design and the formula's inputs.

        Everything ``fit`` does before solving; also used by the batched fits
        (:func:`estimators.bootstrap.bootstrap`) so that they validate alike.
        """
        self._check_settings()
        self._check_inference_settings(groups)
        missing = getattr(self, "missing", "raise")
        per_row = {"sample_weight": sample_weight, "groups": groups}
        inputs = formula_inputs(X, y, formula, per_row, missing=missing, owner=self)
        design = as_design(
            inputs.X,
            inputs.y,
            sample_weight=inputs.per_row["sample_weight"],
            missing=missing,
            fit_intercept=inputs.fit_intercept,
            check_rows=self._needs_rows_per_parameter,
        )
        design = inputs.count_dropped(design)
        self._check_response(design)
        return design, inputs

    def _store_design_fit(
        self, design: Design, result: FitResult, inputs: FormulaInputs, names: list[str]
    ) -> None:
        """Set the learned attributes of a regression fit (``names``: one per parameter)."""
        groups = inputs.per_row.get("groups")
        self._store_fit(
            params=pd.Series(np.asarray(result.params, dtype=float), index=names, name="estimate"),
            cov=pd.DataFrame(np.asarray(result.cov, dtype=float), index=names, columns=names),
            solution=result.solution,
            history=result.solution.trace if result.history is None else result.history,
            nobs=design.nobs,
            df_resid=result.df_resid,
            std_errors=result.std_errors,
            sandwich=result.sandwich,
            groups=None if groups is None else cut_groups(groups, design.keep),
            cov_note=result.cov_note,
            row_index=design.index,
        )
        self.design_info_ = DesignInfo(
            list(design.names), design.features, design.response, design.fit_intercept
        )
        self.n_dropped_ = design.n_dropped
        self._store_feature_names(inputs, design.features)
        inputs.record(self)
        for name, value in result.attributes.items():
            setattr(self, name, value)

    def _store_feature_names(self, inputs: FormulaInputs, features: list[str]) -> None:
        """scikit-learn's ``n_features_in_`` and ``feature_names_in_``: what ``predict`` takes.

        Set for fits on arrays and DataFrames; a formula fit reads its variables
        by name from any DataFrame, so it has neither (stale ones are removed).
        ``feature_names_in_`` only when the columns are strings, as scikit-learn.
        """
        for name in ("n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)
        if inputs.formula is not None:
            return
        self.n_features_in_ = len(features)
        columns = getattr(inputs.X, "columns", None)
        if columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(features, dtype=object)

    def __sklearn_tags__(self):
        """A regressor; a positive response for the count and gamma GLM families;
        NaN accepted in X when rows with NaN are dropped (``missing="drop"``)."""
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, positive_only=self._positive_response()),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(allow_nan=getattr(self, "missing", "raise") == "drop"),
        )

    def _positive_response(self) -> bool:
        """Whether the response must be >= 0: the poisson, negative binomial and gamma GLMs."""
        return getattr(self, "family", None) in ("poisson", "negative_binomial", "gamma")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        r"""Coefficient of determination :math:`R^2` of :meth:`predict` on ``X`` against ``y``.

        .. math::  R^2 = 1 - \frac{\sum_i w_i (y_i - \hat y_i)^2}{\sum_i w_i (y_i - \bar y_w)^2},
                   \qquad \bar y_w = \frac{\sum_i w_i y_i}{\sum_i w_i},

        scikit-learn's ``RegressorMixin.score`` (``r2_score``): 1 for a perfect
        fit, 0 for the weighted mean, negative when worse; with a constant ``y``
        it is 1 if every prediction is exact, else 0. Rows are matched by
        position; a row that predicts NaN (missing values in ``X``) makes the
        score NaN. For a formula fit pass ``y`` as the formula's response.
        """
        self._check_fitted()
        predicted = self.predict(X).to_numpy()
        actual, index = as_float_vector(y, "y")
        if actual.size != predicted.size:
            raise DataError(f"X has {predicted.size} rows but y has {actual.size}")
        w = as_weights(sample_weight, actual.size, index, against="y")
        mean = np.sum(w * actual) / np.sum(w)
        residual = float(np.sum(w * (actual - predicted) ** 2))
        total = float(np.sum(w * (actual - mean) ** 2))
        if total == 0.0:
            return 1.0 if residual == 0.0 else 0.0
        return 1.0 - residual / total

    def predict(self, X: Any) -> pd.Series:
        """Predicted mean response for new ``X``, a Series aligned to its index."""
        self._check_fitted()
        matrix, index = self._predict_matrix(X)
        return pd.Series(
            self._predict_mean(matrix), index=index, name=f"predicted_{self.design_info_.response}"
        )

    def predict_frame(self, X: Any, alpha: float = 0.05) -> pd.DataFrame:
        """Predictions with uncertainty for new ``X``, a row per row of ``X`` (same index).

        Columns ``mean``, ``mean_se``, ``mean_ci_lower``, ``mean_ci_upper`` and,
        for least squares, ``obs_ci_lower``, ``obs_ci_upper`` (prediction
        intervals for a new observation); see
        :func:`estimators.prediction.prediction_frame`.
        """
        self._check_fitted()
        matrix, index = self._predict_matrix(X)
        return self._prediction_table(matrix, index, alpha)

    def _prediction_table(
        self,
        matrix: np.ndarray,
        index: pd.Index,
        alpha: float,
        *,
        inverse_link: Any = None,
        offset: Any = None,
    ) -> pd.DataFrame:
        """:func:`~estimators.prediction.prediction_frame` with this fit's estimates."""
        from .prediction import prediction_frame

        names = self.design_info_.names
        return prediction_frame(
            matrix,
            self.params_[names].to_numpy(),
            self.cov_.loc[names, names].to_numpy(),
            index=index,
            alpha=alpha,
            df=self._df_inference,
            inverse_link=inverse_link,
            offset=offset,
            obs_variance=self._observation_variance(),
        )

    def _observation_variance(self) -> float | None:
        """Variance of a new observation about its mean (least squares: ``scale_``), or None."""
        return None

    def _predict_matrix(self, X: Any) -> tuple[np.ndarray, pd.Index]:
        """The design matrix of new data: the formula's spec reapplied, else the columns."""
        spec = getattr(self, "formula_spec_", None)
        if spec is None:
            return predict_matrix(X, self.design_info_, owner=type(self).__name__)
        from .formula import apply_spec

        frame = apply_spec(spec, X)
        return frame.to_numpy(), frame.index

    # ------------------------------------------------------------ for subclasses
    def _check_settings(self) -> None:
        """Validate settings before fitting; raise SettingsError. Default: nothing."""

    def _check_response(self, design: Design) -> None:
        """Domain checks of the response; raise DataError. Default: nothing."""

    def _fit_design(self, design: Design) -> FitResult:
        raise NotImplementedError

    def _predict_mean(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.params_.to_numpy()


def clone(estimator: Estimator) -> Estimator:
    """A new, unfitted estimator with the same settings."""
    return type(estimator)(**estimator.get_params())


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
