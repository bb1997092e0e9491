"""The per-row inputs of ``fit`` beside the data: formula expansion and cluster labels.

A formula turns a DataFrame into a design and a response and may drop rows;
every per-row argument given beside the data (sample weights, offsets, cluster
labels) must then be cut to the same rows. This module does that cutting, for
:class:`~estimators.base.RegressionEstimator` and the one-sample estimators.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import covariance
from .errors import DataError, SettingsError
from .frame import INTERCEPT, Design
from .interop import as_pandas

if TYPE_CHECKING:
    from .base import Estimator


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
    X, y = as_pandas(X), as_pandas(y)
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


def group_labels(groups: Any, X: Any) -> Any:
    """Cluster labels: column names of the DataFrame ``X`` looked up, anything else as given."""
    X, groups = as_pandas(X), as_pandas(groups)
    if groups is None:
        return None
    names = [groups] if isinstance(groups, str) else groups
    if isinstance(names, list) and names and all(isinstance(g, str) for g in names):
        if not isinstance(X, pd.DataFrame):
            raise SettingsError(
                f"groups={groups!r} names columns, but X is a {type(X).__name__}, not a "
                "DataFrame: pass the labels themselves"
            )
        absent = [g for g in names if g not in X.columns]
        if absent:
            raise DataError(f"groups names columns {absent} that are not in the data")
        return X[names[0]] if len(names) == 1 else X[names]
    return groups


def cut_groups(groups: Any, keep: np.ndarray | None) -> list[np.ndarray]:
    """Cluster label codes of the rows kept (``keep``: a mask over the input rows, None for
    all), validated: one label per input row (the covariance checks the count again
    against the rows fitted, which also covers ``keep=None``)."""
    n = _n_rows(groups)
    if keep is not None:
        groups = _take_rows(groups, np.flatnonzero(keep), len(keep), "groups")
        n = int(np.sum(keep))
    return covariance.cluster_codes(groups, n)


def _n_rows(value: Any) -> int:
    return len(value[0]) if isinstance(value, tuple) else len(value)


def _take_rows(value: Any, rows: np.ndarray, n: int, name: str) -> Any:
    """A per-row argument cut to the rows the formula kept (checked against the data's length)."""
    if value is None:
        return None
    if isinstance(value, tuple):  # two-way cluster labels given as a pair
        return tuple(_take_rows(v, rows, n, f"{name}[{k}]") for k, v in enumerate(value))
    if np.ndim(value) == 0:
        return value  # a scalar (e.g. exposure=1.0) applies to every row
    length = len(value)
    if length != n:
        raise DataError(f"{name} has {length} rows but the data has {n}")
    if isinstance(value, pd.Series | pd.DataFrame):
        return value.iloc[rows]
    return np.asarray(value)[rows]
