r"""A GLM's design: :func:`~estimators.frame.as_design` plus a validated offset.

The linear predictor of a GLM is :math:`\eta_i = x_i^\top\beta + o_i` with
:math:`o_i` = ``offset`` :math:`+ \log(\text{exposure}_i)`. Exposure needs a
log link (only there does it multiply the mean, :math:`\mu_i \propto t_i`) and
must be > 0; both must be finite, and NaN follows the ``missing`` policy like
a NaN in X or y.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError
from .frame import Design, as_design, as_float_matrix, as_float_vector, format_rows
from .numerics import pad_rows, padded_length


@dataclasses.dataclass(frozen=True)
class OffsetDesign(Design):
    """A :class:`~estimators.frame.Design` with an offset (zeros when none was given)."""

    offset: np.ndarray | None = None


def _offset_values(values: Any, name: str, n: int, missing: str) -> np.ndarray:
    """A numeric vector of length n without infinities; NaN only with missing='drop'."""
    if values is None:
        return np.zeros(n)
    raw, _ = as_float_vector(values, name)
    if raw.size != n:
        raise DataError(f"{name} has {raw.size} rows but X has {n}")
    infinite = np.isinf(raw)
    if infinite.any():
        raise DataError(f"{name} has {int(infinite.sum())} infinite value(s) out of {n} rows")
    nan = np.isnan(raw)
    if nan.any() and missing == "raise":
        raise DataError(
            f"{name} has {int(nan.sum())} missing (NaN) value(s) out of {n} rows; "
            "pass missing='drop' to leave those rows out"
        )
    return raw


def _check_exposure_link(exposure: Any, log_link: bool) -> None:
    if exposure is not None and not log_link:
        raise SettingsError(
            "exposure= multiplies the mean only under a log link; use link='log' or "
            "pass an offset on the scale of the linear predictor instead"
        )


def total_offset(
    offset: Any, exposure: Any, *, n: int, index: pd.Index, missing: str, log_link: bool
) -> np.ndarray:
    """``offset + log(exposure)`` per row (zeros for none), validated; NaN only if missing='drop'.

    >>> total_offset([0.5, 0.0], [1.0, np.e], n=2, index=pd.RangeIndex(2),
    ...              missing="raise", log_link=True).tolist()
    [0.5, 1.0]
    """
    _check_exposure_link(exposure, log_link)
    total = _offset_values(offset, "offset", n, missing)
    if exposure is None:
        return total
    raw = _offset_values(exposure, "exposure", n, missing)
    bad = raw <= 0
    if bad.any():
        raise DataError(
            f"exposure has {int(bad.sum())} value(s) <= 0 out of {n} rows "
            f"(rows {format_rows(index, bad)}); exposure must be > 0"
        )
    return total + np.log(raw)


def _input_index(X: Any, y: Any, n: int) -> pd.Index:
    """The row labels as_design uses: X's index, else y's, else positions."""
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.index
    if isinstance(y, pd.Series | pd.DataFrame):
        return y.index
    return pd.RangeIndex(n)


def _kept_positions(X: Any, y: Any, design: Design, n: int) -> np.ndarray:
    """Positions (in the input) of the rows as_design kept: those without a NaN in X or y."""
    if design.n_dropped == 0:
        return np.arange(n)
    matrix = as_float_matrix(X)[0]
    y_values, _ = as_float_vector(y, design.response)
    return np.flatnonzero(~(np.isnan(matrix).any(axis=1) | np.isnan(y_values)))


def _fields(design: Design) -> dict[str, Any]:
    return {f.name: getattr(design, f.name) for f in dataclasses.fields(Design)}


def offset_design(
    X: Any,
    y: Any,
    *,
    sample_weight: Any,
    offset: Any,
    exposure: Any,
    missing: str,
    fit_intercept: bool,
    log_link: bool,
) -> OffsetDesign:
    r"""Validate a GLM problem: :func:`~estimators.frame.as_design` plus offset and exposure.

    The offset used is ``offset + log(exposure)``; ``exposure`` must be finite
    and > 0 and needs a log link (only there does it multiply the mean).
    Rows whose offset or exposure is NaN follow the ``missing`` policy, like
    rows with a NaN in X or y.

    >>> d = offset_design([[1.0], [2.0], [3.0]], [0.0, 1.0, 4.0], sample_weight=None,
    ...                   offset=None, exposure=[1.0, 2.0, np.nan], missing="drop",
    ...                   fit_intercept=True, log_link=True)
    >>> d.offset.round(6).tolist(), d.n_dropped
    ([0.0, 0.693147], 1)
    """
    _check_exposure_link(exposure, log_link)  # a settings error before any data error
    design = as_design(
        X, y, sample_weight=sample_weight, missing=missing, fit_intercept=fit_intercept
    )
    if offset is None and exposure is None:
        return OffsetDesign(**_fields(design), offset=np.zeros(len(design.y)))
    n = len(design.y) + design.n_dropped
    total = total_offset(
        offset, exposure, n=n, index=_input_index(X, y, n), missing=missing, log_link=log_link
    )
    total = total[_kept_positions(X, y, design, n)]
    nan = np.isnan(total)
    if nan.any():  # missing == "drop" here (otherwise _offset_values raised)
        keep = ~nan
        if not keep.any():
            raise DataError(f"no rows left: all {len(total)} rows have a missing offset")
        # Rows of the input kept, for cutting per-row inputs (cluster labels) alike.
        kept_input = np.ones(n, dtype=bool) if design.keep is None else design.keep.copy()
        kept_input[np.flatnonzero(kept_input)[nan]] = False
        design = dataclasses.replace(
            design,
            X=design.X[keep],
            y=design.y[keep],
            weights=design.weights[keep],
            index=design.index[keep],
            n_dropped=design.n_dropped + int(nan.sum()),
            keep=kept_input,
        )
        total = total[keep]
    return OffsetDesign(**_fields(design), offset=total)


def padded_inputs(X, y, w, offset, multiple: int = 1) -> tuple:
    """``X``, ``y``, ``w``, ``offset`` padded to a size bucket, so a new n recompiles nothing.

    The padding rows copy row 0 (where the loss and its derivatives are finite
    whatever the family and link) and get weight 0, so every weighted sum, the
    loss, gradient, Hessian and information, is that of the real rows. Above
    :data:`~estimators.numerics.PAD_MAX_VALUES` the arrays keep their shape (the
    copy would cost about as much as the compile). ``X`` may be None. The
    length is rounded up to a multiple of ``multiple`` (the device count of a
    sharded fit; buckets are multiples of 64 already).
    """
    width = 1 if X is None else X.shape[1]
    length = -(-padded_length(len(y), width) // multiple) * multiple
    if length == len(y):  # nothing to pad (large designs): no copies of the row vectors
        return (y, w, offset) if X is None else (X, y, w, offset)
    (w,) = pad_rows(w, length=length)
    if X is None:
        y, offset = pad_rows(y, offset, fill="first", length=length)
    else:
        X, y, offset = pad_rows(X, y, offset, fill="first", length=length)
    return (y, w, offset) if X is None else (X, y, w, offset)
