"""Other data frames in, pandas inside: polars, pyarrow and anything narwhals knows.

The library works on pandas (names, indexes, formulaic) and numpy. Data from
other frame libraries are converted once, at the edge, through narwhals (a
dependency of formulaic), so users never convert by hand: a polars DataFrame,
LazyFrame or Series, a pyarrow Table, ChunkedArray or Array all work. Frames
without an index (polars, pyarrow) get a RangeIndex, so predictions on them
are labelled by row position.

pandas columns backed by pyarrow (``"float64[pyarrow]"``, ``"int64[pyarrow]"``)
and pandas' nullable dtypes (``"Int64"``, ``"Float64"``) stay as they are: the
numeric readers of :mod:`estimators.frame` turn their missing values
(``pd.NA``) into NaN, so they follow the ``missing`` policy exactly as NaN does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_pandas(data: Any) -> Any:
    """``data`` as a pandas DataFrame or Series if it is a frame of another library.

    pandas objects, numpy arrays, lists and scalars are returned unchanged; a
    polars LazyFrame is collected first. Polars nulls become NaN (numeric
    columns) or None.

    >>> import pandas as pd
    >>> as_pandas(pd.Series([1.0], name="x")).name
    'x'
    """
    if data is None or isinstance(data, pd.DataFrame | pd.Series):
        return data
    module = type(data).__module__.split(".")[0]
    if module in ("numpy", "builtins"):
        return data
    import narwhals as nw

    native = nw.from_native(data, pass_through=True, allow_series=True)
    if isinstance(native, nw.LazyFrame):
        native = native.collect()
    if isinstance(native, nw.DataFrame | nw.Series):
        return native.to_pandas()
    if module == "pyarrow" and hasattr(data, "to_pandas"):
        # A plain pyarrow.Array, which narwhals takes only as part of a table.
        return data.to_pandas()
    return data
