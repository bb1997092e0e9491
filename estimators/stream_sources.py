"""Sources for :func:`~estimators.stream.fit_stream`: Parquet, CSV or DataFrames, cut into blocks.

A :class:`Source` yields column pieces ``(where, {name: float64 array})`` each
pass; :class:`Blocks` copies them into fixed-size blocks ``Z = [X, y, w]`` of
``batch_size`` rows (the last one padded with zero rows of weight 0), counting
non-finite values and negative weights for the error raised after the pass.

Memory: Parquet is read one row group at a time
(``ParquetFile.iter_batches(row_groups=[i])``). Reading a whole file with one
``iter_batches`` call or a ``pyarrow.dataset`` scan keeps decoded row groups
in Arrow's memory pool until the end of the file: measured on 2e6 rows x 11
float64 columns (16 row groups of 12.9 MB), the pool's peak was 224-237 MB, and
81 MB at 5e5 rows, i.e. growing with the file; one row group at a time peaks
at 45 MB at both sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError

__all__ = ["Blocks", "Source", "open_source"]


def _numeric(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


class Source:
    """A re-readable source of column pieces: ``pieces()`` yields ``(where, {name: array})``.

    ``where`` names the file (or DataFrame) a piece came from, for error messages.
    """

    def __init__(self, pieces: Callable[[], Iterator[tuple[str, dict]]], one_shot: bool):
        self._pieces, self._one_shot, self._used = pieces, one_shot, False

    def pieces(self) -> Iterator[tuple[str, dict]]:
        if self._one_shot and self._used:
            raise SettingsError(
                "the source is a one-shot iterator, but this fit reads the data several "
                "times: pass a list of DataFrames or a function returning a new iterator"
            )
        self._used = True
        return self._pieces()


def _parquet_source(path: str, names: list[str], batch_size: int) -> Source:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        files = ds.dataset(path, format="parquet").files
    except Exception as error:  # pyarrow raises several types for unreadable input
        raise DataError(f"cannot read Parquet data at {path!r}: {error}") from None
    if not files:
        raise DataError(f"no Parquet files found at {path!r}")
    types: dict[str, tuple[Any, str]] = {}
    for file in files:  # schemas first: a mismatch fails before any work
        try:
            schema = ds.dataset(file, format="parquet").schema
        except Exception as error:
            raise DataError(f"cannot read Parquet file {file!r}: {error}") from None
        for name in names:
            if name not in schema.names:
                raise DataError(
                    f"Parquet file {file!r} has no column {name!r} (its columns: {schema.names})"
                )
            kind = schema.field(name).type
            if not _numeric(kind):
                raise DataError(f"column {name!r} of Parquet file {file!r} is {kind}, not numeric")
            first = types.setdefault(name, (kind, file))
            if first[0] != kind:
                raise DataError(
                    f"schema mismatch in column {name!r}: {kind} in {file!r} but "
                    f"{first[0]} in {first[1]!r}"
                )

    def pieces():
        for file in files:
            try:
                # One row group at a time: a single iter_batches call over the
                # file (or a dataset scan) holds decoded row groups in Arrow's
                # pool until the file ends (see the module docstring).
                with pq.ParquetFile(file) as reader:
                    for group in range(reader.num_row_groups):
                        for batch in reader.iter_batches(
                            batch_size=batch_size, row_groups=[group], columns=names
                        ):
                            yield file, _arrow_columns(batch, names)
            except DataError:
                raise
            except Exception as error:
                raise DataError(f"cannot read Parquet file {file!r}: {error}") from None

    return Source(pieces, one_shot=False)


def _arrow_columns(batch: Any, names: list[str]) -> dict[str, np.ndarray]:
    import pyarrow as pa

    out = {}
    for name in names:
        column = batch.column(name).cast(pa.float64())  # nulls become NaN below
        out[name] = column.to_numpy(zero_copy_only=False)
    return out


def _csv_source(path: str, names: list[str], batch_size: int) -> Source:
    import csv

    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, StopIteration) as error:
        raise DataError(f"cannot read CSV file {path!r}: {error}") from None
    for name in names:
        if name not in header:
            raise DataError(f"CSV file {path!r} has no column {name!r} (its columns: {header})")
    # Every column read as float64: a non-numeric value is an error naming its column.
    convert = pcsv.ConvertOptions(
        include_columns=names, column_types={name: pa.float64() for name in names}
    )
    # Blocks of about batch_size rows (bytes a row estimated from the header).
    read = pcsv.ReadOptions(block_size=max(1 << 20, batch_size * 12 * len(header)))

    def pieces():
        try:
            reader = pcsv.open_csv(path, read_options=read, convert_options=convert)
            for batch in reader:
                yield path, _arrow_columns(batch, names)
        except pa.ArrowInvalid as error:
            raise DataError(f"cannot read CSV file {path!r}: {error}") from None

    return Source(pieces, one_shot=False)


def _frames_source(source: Any, names: list[str]) -> Source:
    if isinstance(source, pd.DataFrame):
        source = [source]
    if callable(source):
        make, one_shot = source, False
    elif isinstance(source, Iterator):
        make, one_shot = (lambda: source), True
    elif isinstance(source, Iterable):
        make, one_shot = (lambda: iter(source)), False
    else:
        raise SettingsError(
            "source must be a path (Parquet file or directory, CSV file), a DataFrame, an "
            f"iterable of DataFrames or a function returning one; got {type(source).__name__}"
        )

    def pieces():
        for k, frame in enumerate(make()):
            where = f"DataFrame #{k}"
            if not isinstance(frame, pd.DataFrame):
                raise DataError(
                    f"{where} of the source is a {type(frame).__name__}, not a DataFrame"
                )
            out = {}
            for name in names:
                if name not in frame.columns:
                    raise DataError(f"{where} has no column {name!r}")
                try:
                    out[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError):
                    column = frame[name]
                    bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
                    raise DataError(
                        f"column {name!r} of {where} is not numeric ({column.dtype}): "
                        f"{int(bad.sum())} of {len(column)} rows are not numbers, the first "
                        f"{column[bad].iloc[0]!r}"
                    ) from None
            yield where, out

    return Source(pieces, one_shot)


def open_source(source: Any, names: list[str], batch_size: int) -> Source:
    import os

    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise DataError(f"cannot read {path!r}: no such file or directory")
        lower = path.lower()
        if lower.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt")):
            return _csv_source(path, names, batch_size)
        return _parquet_source(path, names, batch_size)
    return _frames_source(source, names)


class Blocks:
    """Cut a source's pieces into blocks ``Z`` of ``batch_size`` rows: [X, y, w].

    X holds the intercept (if any) and the feature columns; padding rows are all
    zero (weight 0). Rows with a NaN or an infinite value are counted (and
    dropped with ``missing="drop"``); the counts are checked after a whole pass,
    so that the error gives the totals.
    """

    def __init__(self, source, features, response, weights, intercept, batch_size, missing):
        self.source, self.features, self.response = source, features, response
        self.weights, self.intercept, self.batch_size = weights, intercept, batch_size
        self.missing = missing
        self.names = features + [response] + ([weights] if weights else [])
        self.p = len(features) + int(intercept)

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        """Blocks and their numbers of real rows; the counts in ``self.bad`` after the pass."""
        self.bad: dict[str, list] = {}
        self.negative: dict[str, list] = {}
        self.n_rows = self.n_dropped = 0
        block, filled = self._new_block(), 0
        for where, columns in self.source.pieces():
            columns = self._checked(where, columns)
            n = len(columns[self.response])
            start = 0
            while start < n:
                take = min(n - start, self.batch_size - filled)
                rows = slice(filled, filled + take)
                part = slice(start, start + take)
                offset = int(self.intercept)
                for j, name in enumerate(self.features):
                    block[rows, offset + j] = columns[name][part]
                block[rows, self.p] = columns[self.response][part]
                block[rows, self.p + 1] = columns[self.weights][part] if self.weights else 1.0
                if self.intercept:
                    block[rows, 0] = 1.0
                filled += take
                start += take
                if filled == self.batch_size:
                    yield block, filled
                    block, filled = self._new_block(), 0
        if filled:
            yield block, filled

    def _new_block(self) -> np.ndarray:
        # A new array a block: the previous one may still be read by an
        # asynchronous JAX computation (device_put can be zero-copy).
        return np.zeros((self.batch_size, self.p + 2))

    def _checked(self, where: str, columns: dict) -> dict:
        finite = np.ones(len(columns[self.response]), dtype=bool)
        for name in self.names:
            ok = np.isfinite(columns[name])
            if name == self.weights and np.any(columns[name] < 0):
                entry = self.negative.setdefault(name, [0, where])
                entry[0] += int(np.sum(columns[name] < 0))
            if not ok.all():
                entry = self.bad.setdefault(name, [0, where])
                entry[0] += int((~ok).sum())
            finite &= ok
        self.n_rows += len(finite)
        if self.missing == "drop" and not finite.all():
            self.n_dropped += int((~finite).sum())
            columns = {name: values[finite] for name, values in columns.items()}
        return columns

    def check(self) -> None:
        """Raise the DataError for the bad values counted in the last pass, if any."""
        for name, (count, where) in self.negative.items():
            raise DataError(
                f"weights column {name!r} has {count} negative values in {self.n_rows} rows "
                f"(first in {where})"
            )
        if self.missing == "drop" or not self.bad:
            return
        parts = [
            f"column {name!r}: {count} of {self.n_rows} rows (first in {where})"
            for name, (count, where) in self.bad.items()
        ]
        raise DataError(
            "missing or infinite values in "
            + "; ".join(parts)
            + "; fit an estimator with missing='drop' to skip those rows"
        )
