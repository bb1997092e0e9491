"""Other data frames in, pandas inside: polars, pyarrow and anything narwhals knows.

The library works on pandas (names, indexes, formulaic) and numpy. Data from
other frame libraries are converted once, at the edge, through narwhals (a
dependency of formulaic), so users never convert by hand: a polars DataFrame
or Series, a pyarrow Table, or pandas columns backed by pyarrow all work.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_pandas(data: Any) -> Any:
    """``data`` as a pandas DataFrame or Series if it is a frame of another library.

    pandas objects, numpy arrays, lists and scalars are returned unchanged.

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
    if isinstance(native, nw.DataFrame | nw.Series):
        return native.to_pandas()
    return data
