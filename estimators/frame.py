"""The edge between user data (lists, numpy, pandas) and the float arrays the engine fits.

Validation happens here, once, with messages that name the argument and count
the offending rows, so that bad input never reaches JAX as a traceback.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import (
    DataConversionWarning,
    DataError,
    DataTypeError,
    SettingsError,
    sklearn_flavour,
    user_stacklevel,
)
from .interop import as_pandas

MISSING_POLICIES = ("raise", "drop")


def _reject_sparse(data: Any, name: str) -> None:
    """DataError for scipy sparse matrices and arrays: the estimators fit dense designs."""
    if type(data).__module__.startswith("scipy.sparse"):
        raise DataError(
            f"{name} is a sparse {type(data).__name__} of shape {data.shape}: sparse input is "
            f"not supported; pass a dense array ({name}.toarray())"
        )


def _complex_error(what: str, dtype: Any) -> DataError:
    return DataError(
        f"{what} has complex values (dtype {dtype}): Complex data not supported; "
        "estimators need real numbers"
    )


def _non_numeric_error(message: str, first: Any) -> DataError:
    """DataError for strings (as numpy's ValueError), DataTypeError for other objects."""
    if isinstance(first, str | bytes):
        return DataError(message)
    return DataTypeError(
        f"{message} (a {type(first).__name__}: float() argument must be a string or a real number)"
    )


@dataclass(frozen=True)
class Sample:
    """A validated 1-D sample: float64 values, weights, its name and index."""

    values: np.ndarray
    weights: np.ndarray
    name: str
    index: pd.Index
    n_dropped: int
    keep: np.ndarray | None = None  # rows of the input kept (None: all), to cut per-row inputs

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the (frequency) weights."""
        w = self.weights
        if w.ndim == 1 and w.size and w.strides[0] == 0:  # unit weights: one value, a view
            return float(w[0]) * w.size
        return float(w.sum())


def format_rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    """The first ``limit`` row labels where ``mask`` is true, for error messages."""
    labels = list(index[mask][:limit])
    more = ", ..." if mask.sum() > limit else ""
    return ", ".join(repr(label) for label in labels) + more


# Rows of a finiteness check at a time: about 512 KiB of values, so the boolean
# temporary stays in cache instead of being an n x k array of its own (a 1e7 x 21
# design's np.isfinite(matrix) was a 0.21 GB temporary, page-fault bound).
FINITE_BLOCK_VALUES = 1 << 16


def all_finite(a: np.ndarray) -> bool:
    """Whether every value of the float array ``a`` is finite, checked block by block.

    The same answer as ``np.isfinite(a).all()`` without its ``a``-sized boolean
    temporary; it stops at the first block with a NaN or an infinity. Callers
    count the offending values per column only when this says something is off.

    >>> all_finite(np.array([[1.0, 2.0], [3.0, np.nan]]))
    False
    """
    if a.ndim == 0 or a.size == 0:
        return bool(np.isfinite(a).all())
    # One reduction settles the common case: a NaN or an infinity makes the sum
    # non-finite, so a finite sum proves every value finite. A sum that overflows
    # on finite values only sends the check on to the exact block-wise path.
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: no warning
        total = float(np.sum(a))
    if math.isfinite(total):
        return True
    row_values = max(1, a.size // max(1, a.shape[0]))
    block = max(1, FINITE_BLOCK_VALUES // row_values)
    return all(np.isfinite(a[s : s + block]).all() for s in range(0, a.shape[0], block))


def as_float_vector(data: Any, name: str) -> tuple[np.ndarray, pd.Index]:
    """Coerce to a 1-D float64 array, keeping the pandas index (or a RangeIndex)."""
    data = as_pandas(data)
    _reject_sparse(data, name)
    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            raise DataError(
                f"{name} is a DataFrame with {data.shape[1]} columns {list(data.columns)[:5]}; "
                "pass one column as a Series, e.g. df['x']"
            )
        data = data.iloc[:, 0]
    if isinstance(data, pd.Series):
        index, raw = data.index, data.to_numpy()
    else:
        try:
            raw = np.asarray(data)
        except (ValueError, TypeError) as err:
            raise DataError(f"{name} could not be read as a 1-D array: {err}") from None
        if raw.ndim == 2 and 1 in raw.shape:
            raw = raw.reshape(-1)
        if raw.ndim != 1:
            raise DataError(f"{name} must be 1-D (one value per row), got shape {raw.shape}")
        index = pd.RangeIndex(len(raw))
    if raw.dtype.kind in "biuf":
        # float64 data are used as they are (no copy: nothing downstream writes to them).
        return raw.astype(np.float64, copy=False), index
    if raw.dtype.kind == "c":
        raise _complex_error(name, raw.dtype)
    # Object or string data: find exactly which entries are not numbers.
    as_series = pd.Series(raw, index=index)
    coerced = pd.to_numeric(as_series, errors="coerce")
    bad = (coerced.isna() & as_series.notna()).to_numpy()
    if bad.any():
        first = as_series[bad].iloc[0]
        raise _non_numeric_error(
            f"{name} has {int(bad.sum())} non-numeric value(s) out of {len(raw)} rows "
            f"(dtype {raw.dtype}; rows {format_rows(index, bad)}; first value {first!r})",
            first,
        )
    return coerced.to_numpy(dtype=np.float64), index


def as_sample(
    data: Any,
    *,
    sample_weight: Any = None,
    missing: str = "raise",
    default_name: str = "x",
) -> Sample:
    """Validate a 1-D sample (list, numpy array, pandas Series or one-column DataFrame).

    - empty data, non-numeric entries and infinite values are a :class:`DataError`;
    - NaN values are a :class:`DataError` with ``missing="raise"`` (the default)
      and are dropped, and counted in ``n_dropped``, with ``missing="drop"``;
    - ``sample_weight`` (frequency weights) must be finite, non-negative, of the
      same length, and not all zero.
    """
    if missing not in MISSING_POLICIES:
        raise SettingsError(
            f"unknown missing={missing!r}; valid values are {list(MISSING_POLICIES)}"
        )
    name = (
        str(data.name) if isinstance(data, pd.Series) and data.name is not None else default_name
    )
    labelled = isinstance(as_pandas(data), pd.Series | pd.DataFrame)
    values, index = as_float_vector(data, name)
    if values.size == 0:
        raise DataError(f"{name} is empty (0 rows): a sample needs at least one value")

    if sample_weight is None:
        # Unit weights as a read-only view of one value: np.ones(n) was the largest
        # cost of a Mean fit on 1e7 values (80 MB of fresh, page-faulted memory, about
        # 100 np.sum passes' worth); the view reads as ones and any write raises.
        weights = np.broadcast_to(np.float64(1.0), values.shape)
    else:
        weights = as_weights(sample_weight, values.size, index, against=name, labelled=labelled)

    n_dropped, keep = 0, None
    # One block-wise pass decides the common case; the counts only when it fails.
    nan = None if all_finite(values) else np.isnan(values)
    if nan is not None:
        infinite = np.isinf(values)
        if infinite.any():
            raise DataError(
                f"{name} has {int(infinite.sum())} infinite value(s) out of {values.size} rows "
                f"(rows {format_rows(index, infinite)})"
            )
    if nan is not None and nan.any():
        if missing == "raise":
            raise DataError(
                f"{name} has {int(nan.sum())} missing (NaN) value(s) out of {values.size} rows "
                f"(rows {format_rows(index, nan)}); pass missing='drop' to leave them out"
            )
        n_dropped = int(nan.sum())
        keep = ~nan
        values, weights, index = values[keep], weights[keep], index[keep]
        if values.size == 0:
            raise DataError(f"{name} has no values left: all {n_dropped} rows are missing (NaN)")
    # Unit weights (sample_weight None) sum to n > 0: no pass over them.
    if sample_weight is not None and not weights.sum() > 0:
        raise DataError(f"sample_weight is zero for all {values.size} rows: nothing to fit")
    return Sample(values, weights, name, index, n_dropped, keep)


def as_weights(
    sample_weight: Any, n: int, index: pd.Index, against: str = "X", labelled: bool = False
) -> np.ndarray:
    """Validated sample weights for ``n`` rows (ones when ``sample_weight`` is None).

    With ``labelled`` (the data came with a pandas index), weights given as a
    pandas Series must carry the same index: pandas users expect alignment by
    label, and silently pairing rows by position would weight the wrong rows.
    """
    if sample_weight is None:
        return np.ones(n)
    weights, weight_index = as_float_vector(sample_weight, "sample_weight")
    if weights.size != n:
        raise DataError(f"sample_weight has {weights.size} rows but {against} has {n}")
    if labelled and isinstance(as_pandas(sample_weight), pd.Series | pd.DataFrame):
        if not weight_index.equals(index):
            raise DataError(
                f"{against} and sample_weight have different indexes "
                f"({_index_difference(index, weight_index, against, 'sample_weight')}); "
                f"align them (e.g. sample_weight.reindex({against}.index)) or pass numpy arrays"
            )
    check_weights(weights, index)
    return weights


def check_weights(weights: np.ndarray, index: pd.Index) -> None:
    """Sample weights must be finite and non-negative (DataError naming the rows)."""
    bad = ~np.isfinite(weights)
    if bad.any():
        raise DataError(
            f"sample_weight has {int(bad.sum())} NaN or infinite value(s) "
            f"(rows {format_rows(index, bad)})"
        )
    negative = weights < 0
    if negative.any():
        raise DataError(
            f"sample_weight has {int(negative.sum())} negative value(s) "
            f"(rows {format_rows(index, negative)}); weights must be >= 0"
        )


# --------------------------------------------------------------------------- regression


@dataclass(frozen=True)
class Design:
    """A validated regression problem: design matrix, response, weights and names.

    ``X`` includes the intercept column (named ``intercept_name``, first) when
    ``fit_intercept`` is true. ``features`` are the input columns, which
    ``predict`` expects again.
    """

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    names: list[str]
    response: str
    index: pd.Index
    n_dropped: int
    features: list[str]
    fit_intercept: bool
    keep: np.ndarray | None = None  # rows of the input kept (None: all), to cut per-row inputs

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the (frequency) weights."""
        return float(self.weights.sum())


INTERCEPT = "Intercept"  # formulaic's name for it, so formula and array fits agree


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array whose data start on a 64-byte boundary.

    ``jax.device_put`` of a 64-byte-aligned C-contiguous array is zero-copy on
    CPU; numpy's own allocations are only 16-byte aligned, which costs a full
    copy of the design (PERFORMANCE.md, item 5).
    """
    n_bytes = int(np.prod(shape)) * 8
    buffer = np.empty(n_bytes + 64, dtype=np.uint8)
    offset = (-buffer.ctypes.data) % 64
    return buffer[offset : offset + n_bytes].view(np.float64).reshape(shape)


def _numeric_column(name: str, col: pd.Series) -> np.ndarray:
    kind = col.dtype.kind
    if kind in "biuf":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "c":
        raise _complex_error(f"column {name!r} of X", col.dtype)
    if kind != "O":
        raise DataError(
            f"column {name!r} of X has dtype {col.dtype}, not numeric; encode it "
            "as numbers or indicator columns"
        )
    coerced = pd.to_numeric(col, errors="coerce")
    bad = (coerced.isna() & col.notna()).to_numpy()
    if bad.any():
        first = col[bad].iloc[0]
        raise _non_numeric_error(
            f"column {name!r} of X is not numeric (dtype {col.dtype}): "
            f"{int(bad.sum())} of {len(col)} rows are not numbers, the first "
            f"{first!r} at row {col.index[bad][0]!r}; encode categorical "
            "columns as numbers or indicator columns",
            first,
        )
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


def as_float_matrix(
    X: Any, *, leading_ones: bool = False
) -> tuple[np.ndarray, list[str], pd.Index | None]:
    """Coerce X to a float64 (n, k) array with column names; name non-numeric columns.

    With ``leading_ones`` the result has an extra first column of ones (the
    intercept), written into the same 64-byte-aligned buffer: the design is
    copied exactly once. Without it, a float64 C-contiguous array is returned
    as it is (it shares memory with ``X``: no copy). Returns the matrix, the
    column names of ``X`` and its pandas index (``None`` for arrays).
    """
    X = as_pandas(X)
    _reject_sparse(X, "X")
    lead = int(leading_ones)
    if isinstance(X, pd.Series):
        X = X.to_frame(name=X.name if X.name is not None else "x0")
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"X has duplicated column names {dupes}")
        matrix = aligned_empty((len(X), len(names) + lead))
        for j, (name, col) in enumerate(X.items()):
            matrix[:, j + lead] = _numeric_column(str(name), col)
        if lead:
            matrix[:, 0] = 1.0
        return matrix, names, X.index
    try:
        raw = np.asarray(X)
    except (ValueError, TypeError) as err:
        raise DataError(f"X could not be read as a 2-D array: {err}") from None
    if raw.ndim == 1:
        raw = raw.reshape(-1, 1)
    if raw.ndim != 2:
        raise DataError(f"X must be 2-D (rows x columns), got shape {raw.shape}")
    if raw.dtype.kind not in "biuf":
        frame = pd.DataFrame(raw, columns=[f"x{j}" for j in range(raw.shape[1])])
        return as_float_matrix(frame.infer_objects(), leading_ones=leading_ones)[:2] + (None,)
    names = [f"x{j}" for j in range(raw.shape[1])]
    if not lead:
        # Already float64 and C-contiguous: the user's array itself (no copy, no new
        # memory); other numeric arrays are converted once, into an aligned buffer.
        if raw.dtype == np.float64 and raw.flags.c_contiguous:
            return raw, names, None
    matrix = aligned_empty((raw.shape[0], raw.shape[1] + lead))
    matrix[:, lead:] = raw
    if lead:
        matrix[:, 0] = 1.0
    return matrix, names, None


def as_design(
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    missing: str = "raise",
    fit_intercept: bool = True,
    check_rows: bool = True,
) -> Design:
    """Validate a regression problem given as arrays or as a DataFrame and a Series.

    Names come from DataFrame columns (``x0, x1, ...`` for arrays) and the
    Series name (``y`` otherwise). Rows with a NaN in X or y raise (default) or
    are dropped (``missing="drop"``, counted in ``n_dropped``); infinite values,
    non-numeric columns, complex or sparse data, misaligned indexes, mismatched
    lengths and (with ``check_rows``, for unpenalised fits) fewer rows than
    parameters are :class:`DataError` naming the column and the rows. A 1-D
    ``X`` is one regressor; a column-vector ``y`` of shape (n, 1) is read as
    1-D with a :class:`DataConversionWarning`, as scikit-learn does.
    """
    if missing not in MISSING_POLICIES:
        raise SettingsError(
            f"unknown missing={missing!r}; valid values are {list(MISSING_POLICIES)}"
        )
    lead = int(fit_intercept)
    matrix, features, x_index = as_float_matrix(X, leading_ones=fit_intercept)
    if fit_intercept and INTERCEPT in features:
        raise DataError(f"X already has a column named {INTERCEPT!r}; pass fit_intercept=False")
    y = as_pandas(y)
    response = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y"
    if not isinstance(y, pd.DataFrame) and _shape(y)[1:] == (1,):
        # A DataFrame column is named and explicit; a bare (n, 1) array is often a slip.
        warnings.warn(
            f"A column-vector y was passed when a 1d array was expected: y of shape "
            f"{_shape(y)} is read as 1-D; pass y.ravel() to silence this warning",
            sklearn_flavour(DataConversionWarning, "DataConversionWarning"),
            stacklevel=user_stacklevel(),
        )
    y_values, y_index = as_float_vector(y, response)
    n = matrix.shape[0]
    if y_values.size != n:
        raise DataError(f"X has {n} rows but {response} has {y_values.size}")
    if x_index is not None and isinstance(y, pd.Series | pd.DataFrame):
        if not x_index.equals(y_index):
            raise DataError(
                f"X and {response} have different indexes "
                f"({_index_difference(x_index, y_index)}); "
                "align them (e.g. y.reindex(X.index)) or pass numpy arrays"
            )
    index = x_index if x_index is not None else y_index
    if n == 0:
        raise DataError("X and y are empty (0 rows)")

    weights = as_weights(sample_weight, n, index, labelled=x_index is not None)

    n_dropped, keep = 0, None
    # One pass decides the common case; per-column counts only when something is off.
    if not (all_finite(matrix) and all_finite(y_values)):
        columns = {**{f: matrix[:, j + lead] for j, f in enumerate(features)}, response: y_values}
        infinite = {name: int(np.isinf(col).sum()) for name, col in columns.items()}
        infinite = {k: v for k, v in infinite.items() if v}
        if infinite:
            raise DataError(f"infinite values in {_counts(infinite)}; remove or cap them")
        nan_counts = {name: int(np.isnan(col).sum()) for name, col in columns.items()}
        nan_counts = {k: v for k, v in nan_counts.items() if v}
        bad_rows = np.isnan(matrix).any(axis=1) | np.isnan(y_values)
        if missing == "raise":
            raise DataError(
                f"{int(bad_rows.sum())} of {n} rows have missing (NaN) values "
                f"({_counts(nan_counts)}; rows {format_rows(index, bad_rows)}); "
                "pass missing='drop' to leave them out"
            )
        n_dropped = int(bad_rows.sum())
        keep = ~bad_rows
        kept = aligned_empty((int(keep.sum()), matrix.shape[1]))  # stay zero-copy for JAX
        np.compress(keep, matrix, axis=0, out=kept)
        matrix, y_values, weights, index = kept, y_values[keep], weights[keep], index[keep]
        if matrix.shape[0] == 0:
            raise DataError(f"no rows left: all {n_dropped} rows have missing (NaN) values")
    if not weights.sum() > 0:
        raise DataError(f"sample_weight is zero for all {len(weights)} rows: nothing to fit")

    names = [INTERCEPT, *features] if fit_intercept else list(features)
    n_rows, p = matrix.shape
    if p == 0:
        raise DataError(
            f"the model has no parameters: X has 0 feature(s) (shape={(n_rows, 0)}) while a "
            "minimum of 1 is required with fit_intercept=False"
        )
    n_used = int((weights > 0).sum())
    if check_rows and n_used < p:
        raise DataError(
            f"{n_used} rows with positive weight but {p} parameters ({names}): "
            f"need at least as many rows as parameters (n_samples = {n_used})"
        )
    return Design(
        matrix, y_values, weights, names, response, index, n_dropped, features, fit_intercept, keep
    )


def predict_matrix(
    X: Any, design: Design, owner: str = "the model"
) -> tuple[np.ndarray, pd.Index]:
    """The design matrix for new data, checked against the columns the model was fitted on.

    A DataFrame's columns are taken by name (extra columns are ignored); an
    array must have exactly the fitted number of columns (``owner``, the
    estimator's name, is quoted when it has not). Rows with missing values are
    kept (their predictions are NaN, R's na.exclude); infinite values are a
    :class:`DataError` naming the columns and counting the rows.
    """
    X = as_pandas(X)
    one_d = not isinstance(X, pd.Series | pd.DataFrame) and len(_shape(X)) == 1
    matrix, names, index = as_float_matrix(X)
    if isinstance(X, pd.DataFrame):
        missing_cols = [f for f in design.features if f not in names]
        if missing_cols:
            raise DataError(
                f"X is missing column(s) {missing_cols} that the model was fitted on "
                f"(it has {names})"
            )
        matrix = matrix[:, [names.index(f) for f in design.features]]
    elif matrix.shape[1] != len(design.features):
        # scikit-learn's wording, which its conformance checks look for.
        hint = (
            "; X is 1-D: Reshape your data with X.reshape(1, -1) for a single row" if one_d else ""
        )
        raise DataError(
            f"X has {matrix.shape[1]} features, but {owner} is expecting "
            f"{len(design.features)} features as input ({design.features}){hint}"
        )
    if index is None:
        index = pd.RangeIndex(matrix.shape[0])
    infinite = None if all_finite(matrix) else np.isinf(matrix)
    if infinite is not None and infinite.any():
        # A missing value predicts NaN (documented); an infinite one would predict an
        # infinite or saturated mean that looks like an answer, so it is an error.
        features = zip(design.features, infinite.sum(axis=0), strict=True)
        counts = {f: int(c) for f, c in features if c}
        raise DataError(
            f"infinite values in {_counts(counts)} of X "
            f"(rows {format_rows(index, infinite.any(axis=1))}); remove or cap them"
        )
    if design.fit_intercept:
        matrix = np.column_stack([np.ones(matrix.shape[0]), matrix])
    return matrix, index


def collinear_columns(X: np.ndarray, names: list[str], rtol: float | None = None) -> list[str]:
    """Columns that are (numerically) linear combinations of earlier ones.

    Pivoted QR of the column-normalised design (LAPACK geqp3): a column whose
    diagonal entry of R is below ``rtol`` times the largest is dependent.
    Called only when a fit finds the design singular, to name the culprits.
    """
    from scipy.linalg import qr

    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    _, r, pivots = qr(X / norms, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rtol = X.shape[1] * np.finfo(float).eps * max(X.shape) if rtol is None else rtol
    rank = int(np.sum(diag > rtol * diag[0])) if diag.size else 0
    return [names[j] for j in sorted(pivots[rank:])]


def _shape(data: Any) -> tuple[int, ...]:
    """The shape of an array or a nested list, without converting an array-like object
    (whose ``__array_function__`` may refuse numpy's functions); () if it has none."""
    if isinstance(data, list | tuple):
        return np.shape(data)
    shape = getattr(data, "shape", ())
    return tuple(shape) if isinstance(shape, tuple) else ()


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k!r}: {v} row(s)" for k, v in counts.items())


def _index_difference(a: pd.Index, b: pd.Index, name_a: str = "X", name_b: str = "y") -> str:
    only_a, only_b = a.difference(b), b.difference(a)
    if len(a) == len(b) and not len(only_a):
        return "same labels in a different order"
    return f"{len(only_a)} labels only in {name_a}, {len(only_b)} only in {name_b}"


# Private spellings used before these helpers were public.
_rows = format_rows
_as_float_vector = as_float_vector
_as_float_matrix = as_float_matrix
_check_weights = check_weights
