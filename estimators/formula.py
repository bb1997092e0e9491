r"""Model formulas (``"y ~ x1 + C(g) + np.log(x2)"``) through formulaic, kept in this one module.

A formula turns a DataFrame into the response ``y`` and the design matrix
``X`` (columns named as formulaic names them: ``Intercept``, ``x1``,
``C(g)[T.b]``, ``x1:x2``, ``np.log(x2)``); the *model spec* it leaves behind
rebuilds the same columns (same category levels, same contrasts) for new data
at predict time. formulaic's errors become :class:`~estimators.errors.DataError`
messages that show the formula and name the column; rows with missing values
follow the library's ``missing`` policy (``"raise"``, the default, or
``"drop"``), not formulaic's or statsmodels' (which drop silently).

``offset(expr)`` is R's offset: a term whose values enter the linear predictor
with coefficient one, :math:`\eta_i = x_i^\top\beta + \text{expr}_i`, so
``"deaths ~ age + offset(np.log(person_years))"`` is a Poisson rate model. It is
a formulaic stateful transform in the evaluation context that marks its own
state; the columns of the terms so marked are taken out of the design and
summed into the offset (several ``offset()`` terms add up, as in R), and the
spec recomputes them from new data at predict time.

>>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 2.0], "g": ["a", "b", "a"]})
>>> X, y, spec = design_from_formula(df, "y ~ x + C(g)", missing="raise")
>>> list(X.columns), y.name
(['Intercept', 'x', 'C(g)[T.b]'], 'y')
>>> apply_spec(spec, pd.DataFrame({"x": [5.0], "g": ["b"]})).to_numpy().tolist()
[[1.0, 5.0, 1.0]]
>>> expanded = formula_rows(df.assign(t=[1.0, 2.0, 4.0]), "y ~ x + offset(np.log2(t))")
>>> list(expanded.X.columns), expanded.offset.tolist()
(['Intercept', 'x'], [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .frame import format_rows
from .interop import as_pandas

__all__ = [
    "FormulaFrame",
    "apply_spec",
    "apply_spec_with_offset",
    "design_from_formula",
    "formula_rows",
    "offset_terms",
]

OFFSET = "offset"  # the name of R's offset() inside formulas


@dataclasses.dataclass(frozen=True)
class FormulaFrame:
    """A formula expanded on a DataFrame: what :func:`formula_rows` returns.

    ``X`` is the design (formulaic's column names, ``data``'s row labels)
    without the ``offset()`` columns; ``offset`` is their sum per row (None
    when the formula has no ``offset()`` term); ``rows`` are the positions in
    ``data`` of the rows kept.
    """

    X: pd.DataFrame
    y: pd.Series
    spec: Any
    rows: np.ndarray
    offset: np.ndarray | None = None


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
    expanded = formula_rows(data, formula, missing=missing)
    return expanded.X, expanded.y, expanded.spec


def formula_rows(data: pd.DataFrame, formula: str, *, missing: str = "raise") -> FormulaFrame:
    """:func:`design_from_formula` plus the rows kept and the ``offset()`` terms' values.

    The positions of the rows kept let the caller subset per-row arguments
    given beside the formula (``sample_weight``, ``offset``, ``exposure``) to
    the same rows. A row whose ``offset()`` value is missing follows
    ``missing`` like any other; an infinite one is a :class:`DataError`.
    """
    from formulaic import model_matrix

    data = as_pandas(data)
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
            matrices = model_matrix(formula, positional, na_action="drop", context=_context())
    except Exception as err:  # noqa: BLE001 -- formulaic's errors, translated below
        raise _translate(err, formula, data) from None
    lhs, rhs, spec = matrices.lhs, matrices.rhs, matrices.model_spec
    if _offset_factors(spec.lhs):
        raise DataError(
            f"formula {formula!r} has offset() in its response; offset() is a term on the "
            "right of '~'"
        )
    terms = offset_terms(spec.rhs)
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
    X, offset = _split_offset(X, terms)
    y = pd.Series(np.asarray(lhs, dtype=np.float64)[:, 0], index=X.index, name=lhs.columns[0])
    return FormulaFrame(X, y, spec, rows, offset)


def apply_spec(spec: Any, new_data: pd.DataFrame) -> pd.DataFrame:
    """The design matrix of ``new_data`` under a fitted formula's spec (for ``predict``).

    Rows with missing values are kept (their predictions are NaN). A category
    the model was not fitted on is a :class:`DataError` naming the column and
    the level; formulaic itself only warns and fills zeros, which would predict
    as the reference level. ``offset()`` columns are left out (see
    :func:`apply_spec_with_offset`).
    """
    return apply_spec_with_offset(spec, new_data)[0]


def apply_spec_with_offset(
    spec: Any, new_data: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`apply_spec` and the formula's offset recomputed from ``new_data``.

    The offset is the sum of the ``offset()`` terms (None when the formula has
    none); a column it needs that ``new_data`` lacks is a :class:`DataError`
    naming the column and the term.
    """
    new_data = as_pandas(new_data)
    if not isinstance(new_data, pd.DataFrame):
        raise DataError(
            "a model fitted with a formula predicts from a DataFrame, "
            f"got {type(new_data).__name__}"
        )
    rhs_spec = spec.rhs
    terms = offset_terms(rhs_spec)
    for term in terms:
        absent = [c for c in term.variables if c not in new_data.columns]
        if absent:
            raise DataError(
                f"new data lacks column(s) {absent}, needed by the formula's offset term "
                f"{term.name!r}: the offset is part of the model and is recomputed from the "
                f"new rows (columns: {list(new_data.columns)[:20]})"
            )
    _check_levels(rhs_spec, new_data)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matrix = rhs_spec.get_model_matrix(new_data, na_action="ignore", context=_context())
    except Exception as err:  # noqa: BLE001 -- formulaic's errors, translated below
        raise _translate(err, " + ".join(rhs_spec.column_names), new_data) from None
    for warning in caught:
        if issubclass(warning.category, _mismatch_warning()):
            raise DataError(
                f"new data has categories the model was not fitted on: {warning.message}"
            )
    X = pd.DataFrame(np.asarray(matrix, dtype=np.float64), columns=list(matrix.columns))
    X.index = new_data.index
    return _split_offset(X, terms)


# --------------------------------------------------------------------------- offset()


@dataclasses.dataclass(frozen=True)
class OffsetTerm:
    """One ``offset(expr)`` term: its name, its design column and the data columns it reads."""

    name: str
    column: str
    variables: list[str]


def offset_terms(rhs_spec: Any) -> list[OffsetTerm]:
    """The ``offset()`` terms of a materialised right-hand-side spec, from formulaic's metadata.

    A term is an offset when its one factor is a call of the ``offset``
    transform, which marks its state in the spec's ``transform_state``; an
    ``offset()`` anywhere else (inside another call, in an interaction) is a
    :class:`DataError`, since it would not be an offset any more.
    """
    marked = _offset_state(rhs_spec)
    if not marked:
        return []
    terms, used = [], set()
    for row in rhs_spec.structure:
        factors = [str(f.expr) for f in row.term.factors]
        if not any(f in marked for f in factors):
            continue
        if len(factors) != 1 or len(row.columns) != 1:
            raise DataError(
                f"offset() must be a term of its own with one numeric column; the formula "
                f"has the term {str(row.term)!r} (columns {list(row.columns)})"
            )
        variables = rhs_spec.term_variables[row.term]
        data = sorted({str(v.root) for v in variables if v.source == "data"})
        terms.append(OffsetTerm(str(row.term), row.columns[0], data))
        used.add(factors[0])
    nested = sorted(set(marked) - used)
    if nested:
        raise DataError(
            f"offset() must be a term of its own, not inside another expression: {nested}"
        )
    return terms


def _offset(values: Any, _state: dict | None = None) -> np.ndarray:
    """R's ``offset(expr)``: ``expr`` as float64 values, the term marked as an offset.

    The mark (``_state["offset"]``) is kept by formulaic in the spec's
    ``transform_state`` under the term's expression, which is how
    :func:`offset_terms` finds the term again, at fit and at predict time.
    """
    if _state is not None:
        _state[OFFSET] = True
    if isinstance(values, pd.Series):
        if values.dtype.kind not in "biuf":
            raise DataError(f"offset() needs numbers, got dtype {values.dtype}")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    raw = np.asarray(values)
    if raw.dtype.kind not in "biuf":
        raise DataError(f"offset() needs numbers, got dtype {raw.dtype}")
    return raw.astype(np.float64)


@functools.cache
def _context() -> dict[str, Any]:
    """The names formulas see besides the data and formulaic's transforms (np, C, ...)."""
    from formulaic.utils.stateful_transforms import stateful_transform

    return {OFFSET: stateful_transform(_offset)}


def _offset_state(spec: Any) -> dict[str, Any]:
    """Expressions of the ``offset()`` calls that ``spec`` evaluated."""
    state = getattr(spec, "transform_state", None) or {}
    return {expr: s for expr, s in state.items() if isinstance(s, dict) and s.get(OFFSET)}


def _offset_factors(spec: Any) -> list[str]:
    """The factors of ``spec``'s terms that are ``offset()`` calls."""
    marked = _offset_state(spec)
    return [str(f.expr) for row in spec.structure for f in row.term.factors if f.expr in marked]


def _split_offset(
    X: pd.DataFrame, terms: list[OffsetTerm]
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The design without the offset columns, and their row sums (None without any)."""
    if not terms:
        return X, None
    columns = [t.column for t in terms]
    values = X[columns].to_numpy()
    infinite = np.isinf(values).any(axis=1)
    if infinite.any():
        names = [t.name for i, t in enumerate(terms) if np.isinf(values[:, i]).any()]
        raise DataError(
            f"the offset term(s) {names} have {int(infinite.sum())} infinite value(s) out of "
            f"{len(X)} rows (rows {format_rows(X.index, infinite)})"
        )
    return X.drop(columns=columns), values.sum(axis=1)


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
        if OFFSET in data.columns and f"{OFFSET}(" in text and "not callable" in text:
            return DataError(
                f"formula {formula!r}: the data has a column named {OFFSET!r}, which hides "
                "offset(); rename the column to use offset() in a formula"
            )
        return DataError(f"formula {formula!r}: {text}")
    return DataError(f"formula {formula!r} could not be evaluated on the data: {text}")


def _plain(text: str) -> str:
    """Drop the ANSI colour codes formulaic puts around the failing token."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
