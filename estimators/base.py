"""``Estimator``: scikit-learn conventions and the fitted attributes every estimator shares.

Constructor arguments are settings only (keyword arguments stored as given);
``fit`` validates, solves, sets the learned attributes ending in ``_`` and
returns ``self``. ``get_params`` reads the ``__init__`` signature, so
``set_params`` and :func:`clone` (and scikit-learn's own ``clone``) work.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from . import inference
from .errors import EstimationError, SettingsError
from .solve import Solution


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


def clone(estimator: Estimator) -> Estimator:
    """A new, unfitted estimator with the same settings."""
    return type(estimator)(**estimator.get_params())


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
