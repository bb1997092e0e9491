"""Inputs of :func:`estimators.batch.fit_groups`: validation and group codes.

The ``columns=`` path converts each column once and checks it with one finite
test; only when that fails (missing or infinite values, other dtypes, bad
weights) does :func:`~estimators.frame.as_design` run, for its full messages
(column names and row counts) and the ``missing`` policy. Group codes come from
one comparison pass when the key is sorted, else ``groupby(...).ngroup()``.
The padded blocks of the groups' rows are :mod:`estimators.batch_gather`'s.
"""

from __future__ import annotations

import difflib
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError
from .frame import INTERCEPT, MISSING_POLICIES, as_design

__all__ = [
    "Inputs",
    "check_column",
    "group_codes",
    "intercept_index",
    "validated_inputs",
]


def check_column(data: pd.DataFrame, name: Any, argument: str) -> None:
    if name not in data.columns:
        close = difflib.get_close_matches(str(name), [str(c) for c in data.columns], n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise DataError(
            f"{argument}={name!r} is not a column of the data{hint} "
            f"(columns: {list(data.columns)[:20]})"
        )
    copies = int(np.sum(data.columns == name))
    if copies > 1:
        raise DataError(f"{argument}={name!r} names {copies} columns of the data; rename them")


# --------------------------------------------------------------------------- inputs


class Inputs(SimpleNamespace):
    """The validated problem: columns (None for the intercept), y, weights, names, the
    response's name, the kept rows' index and positions (into the frame given)."""


def _plain_float(series: pd.Series) -> np.ndarray | None:
    """The values as float64 without a copy where possible; None for anything but
    plain numpy numbers (extension, object, bool, datetime: as_design judges those)."""
    dtype = series.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
        return None
    return series.to_numpy(dtype=np.float64, copy=False)


def _fast_columns(data, columns, response, sample_weight, fit_intercept) -> Inputs | None:
    """The ``columns=`` problem with one float conversion and one finite test per column;
    None when anything is off (missing or infinite values, other dtypes, negative
    weights), so that :func:`~estimators.frame.as_design` gives its full messages."""
    if fit_intercept and INTERCEPT in columns:
        return None
    values = [_plain_float(data[name]) for name in [*columns, response]]
    w = None if sample_weight is None else _plain_float(data[sample_weight])
    if any(v is None for v in values) or (sample_weight is not None and w is None):
        return None
    if not all(np.isfinite(v).all() for v in values):
        return None
    if w is not None and not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        return None
    cols = ([None] if fit_intercept else []) + values[:-1]
    names = ([INTERCEPT] if fit_intercept else []) + [str(c) for c in columns]
    if not cols:
        return None
    return Inputs(
        cols=cols, y=values[-1], w=w, names=names, response=str(response),
        index=data.index, rows=None,
    )  # fmt: skip


def validated_inputs(estimator, data, formula, columns, response, sample_weight) -> Inputs:
    """The validated problem (missing policy applied) and the positions of its rows."""
    if estimator.missing not in MISSING_POLICIES:
        raise SettingsError(
            f"unknown missing={estimator.missing!r}; valid values are {list(MISSING_POLICIES)}"
        )
    weights = None if sample_weight is None else data[sample_weight]
    if formula is not None:
        if columns is not None or response is not None:
            raise SettingsError("give either formula= or columns= and response=, not both")
        from .formula import formula_rows

        expanded = formula_rows(data, formula, missing=estimator.missing)
        if expanded.offset is not None:
            raise SettingsError(f"fit_groups does not support offset() terms ({formula!r})")
        rows = expanded.rows
        X, y, fit_intercept = expanded.X, expanded.y, False
    else:
        if columns is None or response is None:
            raise SettingsError("give formula=, or columns= (a list of names) and response=")
        columns = [columns] if isinstance(columns, str) else list(columns)
        for name in columns:
            check_column(data, name, "columns")
        check_column(data, response, "response")
        fit_intercept = bool(estimator.fit_intercept)
        fast = _fast_columns(data, columns, response, sample_weight, fit_intercept)
        if fast is not None:
            return fast
        rows = np.arange(len(data))
        X, y = data[columns], data[response]
    w = None if weights is None else weights.iloc[rows].set_axis(X.index)
    design = as_design(
        X, y, sample_weight=w, missing=estimator.missing, fit_intercept=fit_intercept,
        check_rows=False,
    )  # fmt: skip
    if design.keep is not None:
        rows = rows[design.keep]
    weights_given = weights is not None
    return Inputs(
        cols=[design.X[:, j] for j in range(design.X.shape[1])],
        y=design.y,
        w=design.weights if weights_given else None,
        names=list(design.names),
        response=design.response,
        index=design.index,
        rows=rows,
    )


def group_codes(keys: pd.DataFrame, by: list) -> tuple[np.ndarray, pd.DataFrame]:
    """Group number of every row (groups in sorted key order) and the groups' keys.

    One key whose values are already sorted (the common layout of panel data)
    needs one comparison pass; otherwise ``groupby(...).ngroup()``.
    """
    if len(by) == 1 and keys[by[0]].is_monotonic_increasing:
        values = keys[by[0]].to_numpy()
        change = np.empty(len(values), dtype=bool)
        change[0] = True
        np.not_equal(values[1:], values[:-1], out=change[1:])
        codes = np.cumsum(change) - 1
        first = np.flatnonzero(change)
    else:
        codes = keys.groupby(by, sort=True, dropna=True).ngroup().to_numpy()
        first = np.full(int(codes.max()) + 1, -1)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
    return codes, keys.iloc[first].reset_index(drop=True)


def intercept_index(cols: list, names: list[str]) -> int | None:
    """The intercept column (named, or any column of ones) to centre the others about."""
    if INTERCEPT in names:
        return names.index(INTERCEPT)
    for j, col in enumerate(cols):
        if col is None or np.all(col == 1.0):
            return j
    return None
