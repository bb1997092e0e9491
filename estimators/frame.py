"""The edge between user data (lists, numpy, pandas) and the float arrays the engine fits.

Validation happens here, once, with messages that name the argument and count
the offending rows, so that bad input never reaches JAX as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError

MISSING_POLICIES = ("raise", "drop")


@dataclass(frozen=True)
class Sample:
    """A validated 1-D sample: float64 values, weights, its name and index."""

    values: np.ndarray
    weights: np.ndarray
    name: str
    index: pd.Index
    n_dropped: int

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the (frequency) weights."""
        return float(self.weights.sum())


def _rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    labels = list(index[mask][:limit])
    more = ", ..." if mask.sum() > limit else ""
    return ", ".join(repr(label) for label in labels) + more


def _as_float_vector(data: Any, name: str) -> tuple[np.ndarray, pd.Index]:
    """Coerce to a 1-D float64 array, keeping the pandas index (or a RangeIndex)."""
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
        return raw.astype(np.float64), index
    if raw.dtype.kind == "c":
        raise DataError(f"{name} has complex values (dtype {raw.dtype}); estimators need reals")
    # Object or string data: find exactly which entries are not numbers.
    as_series = pd.Series(raw, index=index)
    coerced = pd.to_numeric(as_series, errors="coerce")
    bad = (coerced.isna() & as_series.notna()).to_numpy()
    if bad.any():
        first = as_series[bad].iloc[0]
        raise DataError(
            f"{name} has {int(bad.sum())} non-numeric value(s) out of {len(raw)} rows "
            f"(dtype {raw.dtype}; rows {_rows(index, bad)}; first value {first!r})"
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
    values, index = _as_float_vector(data, name)
    if values.size == 0:
        raise DataError(f"{name} is empty (0 rows): a sample needs at least one value")

    if sample_weight is None:
        weights = np.ones_like(values)
    else:
        weights, _ = _as_float_vector(sample_weight, "sample_weight")
        if weights.shape != values.shape:
            raise DataError(f"sample_weight has {weights.size} rows but {name} has {values.size}")
        _check_weights(weights, index)

    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(
            f"{name} has {int(infinite.sum())} infinite value(s) out of {values.size} rows "
            f"(rows {_rows(index, infinite)})"
        )
    nan = np.isnan(values)
    n_dropped = 0
    if nan.any():
        if missing == "raise":
            raise DataError(
                f"{name} has {int(nan.sum())} missing (NaN) value(s) out of {values.size} rows "
                f"(rows {_rows(index, nan)}); pass missing='drop' to leave them out"
            )
        n_dropped = int(nan.sum())
        keep = ~nan
        values, weights, index = values[keep], weights[keep], index[keep]
        if values.size == 0:
            raise DataError(f"{name} has no values left: all {n_dropped} rows are missing (NaN)")
    if not weights.sum() > 0:
        raise DataError(f"sample_weight is zero for all {values.size} rows: nothing to fit")
    return Sample(values, weights, name, index, n_dropped)


def _check_weights(weights: np.ndarray, index: pd.Index) -> None:
    bad = ~np.isfinite(weights)
    if bad.any():
        raise DataError(
            f"sample_weight has {int(bad.sum())} NaN or infinite value(s) "
            f"(rows {_rows(index, bad)})"
        )
    negative = weights < 0
    if negative.any():
        raise DataError(
            f"sample_weight has {int(negative.sum())} negative value(s) "
            f"(rows {_rows(index, negative)}); weights must be >= 0"
        )
