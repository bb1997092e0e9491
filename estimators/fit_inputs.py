"""The per-row inputs of ``fit`` beside the data: formula expansion, offsets and cluster labels.

A formula turns a DataFrame into a design and a response and may drop rows;
every per-row argument given beside the data (sample weights, offsets, cluster
labels) must then be cut to the same rows. This module does that cutting, for
:class:`~estimators.base.RegressionEstimator` and the one-sample estimators.

Offsets reach a fit three ways, all ending in ``per_row["offset"]`` /
``per_row["exposure"]``: values (``offset=np.log(t)``), a column name of the
DataFrame ``X`` (``exposure="t"``; without a formula that column is then not a
regressor), or ``offset(expr)`` terms of the formula (R's convention). Only
estimators whose ``fit`` takes an offset (those in :data:`OFFSET_ESTIMATORS`)
pass these keys; for the others an ``offset()`` term is a
:class:`~estimators.errors.SettingsError`.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import covariance
from .errors import DataError, SettingsError
from .frame import INTERCEPT, Design
from .interop import as_pandas

if TYPE_CHECKING:
    from .base import Estimator

# The estimators whose fit takes an offset (and exposure); named in the error
# an offset() term gives any other estimator.
OFFSET_ESTIMATORS = ("GLM", "PoissonRegression", "LogisticRegression")
OFFSET_ARGUMENTS = ("offset", "exposure")


@dataclasses.dataclass
class FormulaInputs:
    """``fit``'s arguments after a formula (if any) has been expanded.

    ``per_row`` holds the per-row arguments given beside the data (sample
    weights, offsets), already cut to the rows the formula kept, with the
    formula's ``offset()`` terms in ``per_row["offset"]``. ``offset_columns``
    maps ``"offset"`` / ``"exposure"`` to the column of ``X`` they were given
    by name (``predict`` reads the same column from new data).
    """

    X: Any
    y: Any
    fit_intercept: bool
    per_row: dict[str, Any]
    n_dropped: int = 0
    formula: str | None = None
    spec: Any = None
    offset_columns: dict[str, str] = dataclasses.field(default_factory=dict)

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

    ``offset`` / ``exposure`` / ``groups`` in ``per_row`` may name columns of
    the DataFrame ``X``. Without a formula an offset's column is taken out of
    the regressors (it is never one), while a cluster label's column stays: ``X``
    is the regressors as given, and clustering on a regressor is legitimate;
    pass ``X`` without the label column to leave it out.
    The formula's ``offset()`` terms become ``per_row["offset"]``: a
    :class:`SettingsError` if ``offset`` was given too (which to use would be
    a guess) or if ``owner`` takes no offset.
    """
    X, y = as_pandas(X), as_pandas(y)
    per_row = dict(per_row)
    named = {}
    for argument in OFFSET_ARGUMENTS:
        if isinstance(per_row.get(argument), str):
            named[argument] = per_row[argument]
            per_row[argument] = named_column(X, per_row[argument], argument)
    if "groups" in per_row:
        per_row["groups"] = group_labels(per_row["groups"], X)
    if formula is None:
        if y is None:
            raise SettingsError(
                # scikit-learn's checks look for "requires y to be passed"
                f"{type(owner).__name__} requires y to be passed, but the target y is None: "
                "the fit needs a response; pass y, or a DataFrame with "
                "formula='response ~ terms'"
            )
        if named:  # an offset's column is not a regressor as well
            X = X.drop(columns=list(dict.fromkeys(named.values())))
        fit_intercept = getattr(owner, "fit_intercept", True)
        return FormulaInputs(X, y, fit_intercept, per_row, offset_columns=named)
    from .formula import formula_rows

    if y is not None:
        raise SettingsError(
            "pass either y or formula=, not both: the formula names the response "
            f"(got formula={formula!r} and a y of type {type(y).__name__})"
        )
    if missing not in ("raise", "drop"):
        raise SettingsError(f"unknown missing={missing!r}; valid values are ['raise', 'drop']")
    expanded = formula_rows(X, formula, missing=missing)
    frame, rows = expanded.X, expanded.rows
    fit_intercept = len(frame.columns) > 0 and frame.columns[0] == INTERCEPT
    if fit_intercept:
        frame = frame.drop(columns=INTERCEPT)
    n = len(X)
    cut = {name: _take_rows(value, rows, n, name) for name, value in per_row.items()}
    if expanded.offset is not None:
        _check_formula_offset(owner, formula, per_row)
        cut["offset"] = expanded.offset
    return FormulaInputs(
        frame,
        expanded.y,
        fit_intercept,
        cut,
        n - len(rows),
        formula,
        expanded.spec,
        offset_columns=named,
    )


def _check_formula_offset(owner: Estimator, formula: str, per_row: dict[str, Any]) -> None:
    """A formula's offset() needs an estimator with an offset, and no offset= beside it."""
    name = type(owner).__name__
    if "offset" not in per_row:
        raise SettingsError(
            f"{name} has no offset, but formula {formula!r} has an offset() term; offsets "
            f"are accepted by {', '.join(OFFSET_ESTIMATORS)}"
        )
    if per_row["offset"] is not None:
        raise SettingsError(
            f"formula {formula!r} has an offset() term and offset= was given too; pass the "
            "offset one way only (exposure= may be given beside the formula's offset)"
        )


def named_column(X: Any, name: str, argument: str) -> pd.Series:
    """The column ``name`` of the DataFrame ``X``, for a per-row argument given by name."""
    X = as_pandas(X)
    if not isinstance(X, pd.DataFrame):
        raise SettingsError(
            f"{argument}={name!r} names a column, but X is a {type(X).__name__}, not a "
            "DataFrame: pass the values themselves"
        )
    if name not in X.columns:
        close = difflib.get_close_matches(name, [str(c) for c in X.columns])
        hint = f"; did you mean {close}?" if close else ""
        raise DataError(
            f"{argument}={name!r} is not a column of the data{hint} "
            f"(columns: {list(X.columns)[:20]})"
        )
    return X[name]


def _label_columns(groups: Any) -> list[str]:
    """The column names ``groups`` gives (``"firm"`` or ``["firm", "year"]``), else []."""
    names = [groups] if isinstance(groups, str) else groups
    if isinstance(names, list) and names and all(isinstance(g, str) for g in names):
        return names
    return []


def group_labels(groups: Any, X: Any) -> Any:
    """Cluster labels: column names of the DataFrame ``X`` looked up, anything else as given."""
    X, groups = as_pandas(X), as_pandas(groups)
    names = _label_columns(groups)
    if not names:
        return groups
    columns = [named_column(X, name, "groups") for name in names]
    return columns[0] if len(columns) == 1 else pd.concat(columns, axis=1)


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
