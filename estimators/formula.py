"""Model formulas (``"y ~ x1 + C(g) + np.log(x2)"``) through formulaic, kept in this one module.

A formula turns a DataFrame into the response ``y`` and the design matrix
``X`` (columns named as formulaic names them: ``Intercept``, ``x1``,
``C(g)[T.b]``, ``x1:x2``, ``np.log(x2)``); the *model spec* it leaves behind
rebuilds the same columns (same category levels, same contrasts) for new data
at predict time. formulaic's errors become :class:`~estimators.errors.DataError`
messages that show the formula and name the column; rows with missing values
follow the library's ``missing`` policy (``"raise"``, the default, or
``"drop"``), not formulaic's or statsmodels' (which drop silently).

>>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 2.0], "g": ["a", "b", "a"]})
>>> X, y, spec = design_from_formula(df, "y ~ x + C(g)", missing="raise")
>>> list(X.columns), y.name
(['Intercept', 'x', 'C(g)[T.b]'], 'y')
>>> apply_spec(spec, pd.DataFrame({"x": [5.0], "g": ["b"]})).to_numpy().tolist()
[[1.0, 5.0, 1.0]]
"""

from __future__ import annotations

import difflib
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .frame import format_rows

__all__ = ["apply_spec", "design_from_formula", "formula_rows"]


def design_from_formula(
    data: pd.DataFrame, formula: str, *, missing: str = "raise"
) -> tuple[pd.DataFrame, pd.Series, Any]:
    """The design ``X``, the response ``y`` and formulaic's model spec for ``formula`` on ``data``.

    ``X`` keeps formulaic's column names (with ``Intercept`` unless the formula
    says ``- 1`` or ``0 +``) and ``data``'s row labels; ``y`` is named by the
    response term. With ``missing="drop"`` rows with a missing value in any
    variable the formula uses are left out; with ``"raise"`` they are a
    :class:`DataError` counting them per column.
    """
    X, y, spec, _ = formula_rows(data, formula, missing=missing)
    return X, y, spec


def formula_rows(
    data: pd.DataFrame, formula: str, *, missing: str = "raise"
) -> tuple[pd.DataFrame, pd.Series, Any, np.ndarray]:
    """:func:`design_from_formula` plus the positions (in ``data``) of the rows kept.

    The positions let the caller subset per-row arguments given beside the
    formula (``sample_weight``, ``offset``, ``exposure``) to the same rows.
    """
    from formulaic import model_matrix

    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"with formula= the data must be a pandas DataFrame, got {type(data).__name__}"
        )
    if not isinstance(formula, str) or "~" not in formula:
        raise DataError(
            f"formula must be a string 'response ~ terms', got {formula!r}: "
            "it needs a response on the left of '~'"
        )
    # Positions as row labels, so that the rows formulaic keeps are known even
    # when data's own index has duplicates; the labels are put back below.
    positional = data.set_axis(pd.RangeIndex(len(data)), axis=0)
    try:
        with warnings.catch_warnings():
            # formulaic warns on categories it sees for the first time; at fit
            # time that is every category, so the warning says nothing here.
            warnings.simplefilter("ignore", category=_mismatch_warning())
            matrices = model_matrix(formula, positional, na_action="drop")
    except Exception as err:  # noqa: BLE001 -- formulaic's errors, translated below
        raise _translate(err, formula, data) from None
    lhs, rhs, spec = matrices.lhs, matrices.rhs, matrices.model_spec
    if lhs.shape[1] != 1:
        raise DataError(
            f"the response of formula {formula!r} expands to {lhs.shape[1]} columns "
            f"{list(lhs.columns)}; it must be one numeric column"
        )
    rows = rhs.index.to_numpy()
    n_dropped = len(data) - len(rows)
    if n_dropped and missing == "raise":
        raise DataError(_missing_message(data, spec, rows, formula))
    if len(rows) == 0:
        raise DataError(f"no rows left: all {len(data)} rows have missing values")
    X = pd.DataFrame(np.asarray(rhs, dtype=np.float64), columns=list(rhs.columns))
    X.index = data.index[rows]
    y = pd.Series(np.asarray(lhs, dtype=np.float64)[:, 0], index=X.index, name=lhs.columns[0])
    return X, y, spec, rows


def apply_spec(spec: Any, new_data: pd.DataFrame) -> pd.DataFrame:
    """The design matrix of ``new_data`` under a fitted formula's spec (for ``predict``).

    Rows with missing values are kept (their predictions are NaN). A category
    the model was not fitted on is a :class:`DataError` naming the column and
    the level; formulaic itself only warns and fills zeros, which would predict
    as the reference level.
    """
    if not isinstance(new_data, pd.DataFrame):
        raise DataError(
            "a model fitted with a formula predicts from a DataFrame, "
            f"got {type(new_data).__name__}"
        )
    rhs_spec = spec.rhs
    _check_levels(rhs_spec, new_data)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matrix = rhs_spec.get_model_matrix(new_data, na_action="ignore")
    except Exception as err:  # noqa: BLE001 -- formulaic's errors, translated below
        raise _translate(err, " + ".join(rhs_spec.column_names), new_data) from None
    for warning in caught:
        if issubclass(warning.category, _mismatch_warning()):
            raise DataError(
                f"new data has categories the model was not fitted on: {warning.message}"
            )
    X = pd.DataFrame(np.asarray(matrix, dtype=np.float64), columns=list(matrix.columns))
    X.index = new_data.index
    return X


# --------------------------------------------------------------------------- helpers


def _mismatch_warning() -> type[Warning]:
    from formulaic.errors import DataMismatchWarning

    return DataMismatchWarning


_FACTOR_COLUMN = re.compile(r"^(?:C\(\s*)?`?([A-Za-z_][A-Za-z0-9_. ]*?)`?\s*(?:[,)].*)?$")


def _check_levels(rhs_spec: Any, new_data: pd.DataFrame) -> None:
    """Each categorical factor's levels in ``new_data`` must be among those fitted."""
    for factor, (kind, state) in rhs_spec.encoder_state.items():
        if getattr(kind, "value", kind) != "categorical" or "categories" not in state:
            continue
        match = _FACTOR_COLUMN.match(factor)
        column = match.group(1) if match else None
        if column not in new_data.columns:
            continue  # an expression: left to formulaic's warning, turned into an error
        values = new_data[column]
        unseen = values.notna() & ~values.isin(state["categories"])
        if unseen.any():
            levels = list(dict.fromkeys(values[unseen]))
            raise DataError(
                f"column {column!r} has {int(unseen.sum())} row(s) with level(s) "
                f"{levels[:5]} the model was not fitted on (rows "
                f"{format_rows(new_data.index, unseen.to_numpy())}); its levels are "
                f"{list(state['categories'])}"
            )


def _missing_message(data: pd.DataFrame, spec: Any, rows: np.ndarray, formula: str) -> str:
    bad = np.ones(len(data), dtype=bool)
    bad[rows] = False
    used = [c for c in data.columns if c in spec.required_variables]
    counts = {c: int(data[c].isna().sum()) for c in used}
    counts = ", ".join(f"{c!r}: {k} row(s)" for c, k in counts.items() if k)
    return (
        f"{int(bad.sum())} of {len(data)} rows have missing values in the variables of "
        f"formula {formula!r} ({counts or 'after evaluating its terms'}; rows "
        f"{format_rows(data.index, bad)}); pass missing='drop' to leave them out"
    )


def _translate(err: Exception, formula: str, data: pd.DataFrame) -> DataError:
    """formulaic's exception as a DataError that shows the formula and the culprit."""
    from formulaic.errors import FactorEvaluationError, FormulaParsingError

    text = _plain(str(err))
    if isinstance(err, FormulaParsingError):
        return DataError(f"formula {formula!r} could not be parsed: {text}")
    if isinstance(err, FactorEvaluationError):
        name = re.search(r"`([^`]+)` is not present", text)
        if name:
            column = name.group(1)
            close = difflib.get_close_matches(column, [str(c) for c in data.columns])
            hint = f"; did you mean {close}?" if close else ""
            return DataError(
                f"formula {formula!r} uses {column!r}, which is not a column of the data"
                f"{hint} (columns: {list(data.columns)[:20]})"
            )
        return DataError(f"formula {formula!r}: {text}")
    return DataError(f"formula {formula!r} could not be evaluated on the data: {text}")


def _plain(text: str) -> str:
    """Drop the ANSI colour codes formulaic puts around the failing token."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
