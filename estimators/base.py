"""``Estimator``: scikit-learn conventions and the fitted attributes every estimator shares.

Constructor arguments are settings only (keyword arguments stored as given);
``fit`` validates, solves, sets the learned attributes ending in ``_`` and
returns ``self``. ``get_params`` reads the ``__init__`` signature, so
``set_params`` and :func:`clone` (and scikit-learn's own ``clone``) work.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import inference
from .errors import ConvergenceWarning, DataError, EstimationError, FitError, SettingsError
from .frame import INTERCEPT, Design, as_design, predict_matrix
from .solve import Solution, Status


class NotFittedError(EstimationError, AttributeError):
    """A fitted attribute or method was used before ``fit``."""


class Estimator:
    """Base class: settings handling, and the results shared by every fitted estimator.

    Learned attributes (after ``fit``): ``params_`` (Series), ``cov_`` (DataFrame),
    ``std_errors_`` (Series), ``converged_``, ``n_iter_``, ``history_`` (DataFrame
    of ``loss`` and ``grad_norm`` per iteration), ``solution_`` (the engine's
    :class:`~estimators.Solution`), ``nobs_`` and ``df_resid_``.
    """

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

    # ------------------------------------------------------------ fitted state
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
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
    ) -> None:
        """Set the learned attributes; ``std_errors`` defaults to sqrt(diag(cov))."""
        self.params_ = params
        self.cov_ = cov
        if std_errors is None:
            std_errors = np.sqrt(np.diag(cov.to_numpy()))
        self.std_errors_ = pd.Series(std_errors, index=params.index, name="std_error")
        self.solution_ = solution
        self.converged_ = solution.converged
        self.n_iter_ = solution.n_iter
        self.history_ = history
        self.nobs_ = nobs
        self.df_resid_ = df_resid

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
                stacklevel=3,  # the user's call to fit()
            )

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row a parameter: estimate, std_error, statistic, p_value, ci_lower, ci_upper.

        The statistic tests ``parameter = 0``; it is a t statistic with
        ``df_resid_`` degrees of freedom where the estimator has them, else z.
        """
        self._check_fitted()
        return inference.summary_frame(self.params_, self.std_errors_, self.df_resid_, alpha)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Two-sided ``1 - alpha`` confidence intervals, columns ``ci_lower``, ``ci_upper``."""
        return self.summary(alpha)[["ci_lower", "ci_upper"]]


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
    (names ending in ``_``, e.g. ``{"scale_": 1.3}``).
    """

    params: np.ndarray
    cov: np.ndarray
    solution: Solution
    df_resid: float | None
    history: pd.DataFrame | None = None
    std_errors: np.ndarray | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


class RegressionEstimator(Estimator):
    """Shared ``fit(X, y)`` / ``predict(X)`` pipeline of the regression families.

    Subclasses define settings in ``__init__`` (including ``fit_intercept`` and
    ``missing`` where they apply) and implement ``_fit_design(design) ->
    FitResult``; they may override ``_check_response(design)`` (domain checks of
    y, raising :class:`DataError`) and ``_predict_mean(matrix)`` (default: the
    linear predictor ``X @ params``).
    """

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, formula: str | None = None
    ) -> RegressionEstimator:
        """Fit to a design ``X`` (array or DataFrame) and a response ``y`` (array or Series).

        With ``formula="y ~ x1 + C(g)"``, ``X`` is a DataFrame holding every
        variable of the formula and ``y`` must be None; see :func:`formula_inputs`.
        """
        self._check_settings()
        missing = getattr(self, "missing", "raise")
        inputs = formula_inputs(
            X, y, formula, {"sample_weight": sample_weight}, missing=missing, owner=self
        )
        design = as_design(
            inputs.X,
            inputs.y,
            sample_weight=inputs.per_row["sample_weight"],
            missing=missing,
            fit_intercept=inputs.fit_intercept,
        )
        design = inputs.count_dropped(design)
        self._check_response(design)
        result = self._fit_design(design)
        self._check_solution(result.solution)
        self._store_design_fit(design, result, inputs, design.names)
        return self

    def _store_design_fit(
        self, design: Design, result: FitResult, inputs: FormulaInputs, names: list[str]
    ) -> None:
        """Set the learned attributes of a regression fit (``names``: one per parameter)."""
        self._store_fit(
            params=pd.Series(np.asarray(result.params, dtype=float), index=names, name="estimate"),
            cov=pd.DataFrame(np.asarray(result.cov, dtype=float), index=names, columns=names),
            solution=result.solution,
            history=result.solution.trace if result.history is None else result.history,
            nobs=design.nobs,
            df_resid=result.df_resid,
            std_errors=result.std_errors,
        )
        self.design_info_ = DesignInfo(
            list(design.names), design.features, design.response, design.fit_intercept
        )
        self.n_dropped_ = design.n_dropped
        inputs.record(self)
        for name, value in result.attributes.items():
            setattr(self, name, value)

    def predict(self, X: Any) -> pd.Series:
        """Predicted mean response for new ``X``, a Series aligned to its index."""
        self._check_fitted()
        matrix, index = self._predict_matrix(X)
        return pd.Series(
            self._predict_mean(matrix), index=index, name=f"predicted_{self.design_info_.response}"
        )

    def _predict_matrix(self, X: Any) -> tuple[np.ndarray, pd.Index]:
        """The design matrix of new data: the formula's spec reapplied, else the columns."""
        spec = getattr(self, "formula_spec_", None)
        if spec is None:
            return predict_matrix(X, self.design_info_)
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


@dataclasses.dataclass
class FormulaInputs:
    """``fit``'s arguments after a formula (if any) has been expanded.

    ``per_row`` holds the per-row arguments given beside the data (sample
    weights, offsets), already cut to the rows the formula kept.
    """

    X: Any
    y: Any
    fit_intercept: bool
    per_row: dict[str, Any]
    n_dropped: int = 0
    formula: str | None = None
    spec: Any = None

    def record(self, owner: Estimator) -> None:
        """Store the formula and its spec on a successfully fitted ``owner`` (for predict)."""
        owner.formula_, owner.formula_spec_ = self.formula, self.spec

    def count_dropped(self, design: Design) -> Design:
        """``design`` with the rows the formula dropped added to ``n_dropped``."""
        if not self.n_dropped:
            return design
        return dataclasses.replace(design, n_dropped=design.n_dropped + self.n_dropped)


def formula_inputs(
    X: Any,
    y: Any,
    formula: str | None,
    per_row: dict[str, Any],
    *,
    missing: str,
    owner: Estimator,
) -> FormulaInputs:
    """Expand ``formula`` on the DataFrame ``X`` (arrays pass through); record it on ``owner``.

    The formula decides the intercept: formulaic's ``Intercept`` column (first)
    is taken out and the design is built with ``fit_intercept=True``, so that
    a formula fit runs exactly the computation of the equivalent array fit
    (estimators that centre or test against an intercept-only model see it);
    ``"y ~ x - 1"`` or ``"y ~ 0 + x"`` fits without one, whatever the
    estimator's ``fit_intercept`` setting. The caller stores the formula and its
    spec with :meth:`FormulaInputs.record` once the fit has succeeded, so a
    failed refit leaves the earlier fit whole.
    """
    if formula is None:
        if y is None:
            raise SettingsError(
                f"{type(owner).__name__}.fit needs a response: pass y, or a DataFrame "
                "with formula='response ~ terms'"
            )
        return FormulaInputs(X, y, getattr(owner, "fit_intercept", True), dict(per_row))
    from .formula import formula_rows

    if y is not None:
        raise SettingsError(
            "pass either y or formula=, not both: the formula names the response "
            f"(got formula={formula!r} and a y of type {type(y).__name__})"
        )
    if missing not in ("raise", "drop"):
        raise SettingsError(f"unknown missing={missing!r}; valid values are ['raise', 'drop']")
    frame, response, spec, rows = formula_rows(X, formula, missing=missing)
    fit_intercept = len(frame.columns) > 0 and frame.columns[0] == INTERCEPT
    if fit_intercept:
        frame = frame.drop(columns=INTERCEPT)
    n = len(X)
    cut = {name: _take_rows(value, rows, n, name) for name, value in per_row.items()}
    return FormulaInputs(frame, response, fit_intercept, cut, n - len(rows), formula, spec)


def _take_rows(value: Any, rows: np.ndarray, n: int, name: str) -> Any:
    """A per-row argument cut to the rows the formula kept (checked against the data's length)."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return value  # a scalar (e.g. exposure=1.0) applies to every row
    length = len(value)
    if length != n:
        raise DataError(f"{name} has {length} rows but the data has {n}")
    if isinstance(value, pd.Series | pd.DataFrame):
        return value.iloc[rows]
    return np.asarray(value)[rows]


def clone(estimator: Estimator) -> Estimator:
    """A new, unfitted estimator with the same settings."""
    return type(estimator)(**estimator.get_params())


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
