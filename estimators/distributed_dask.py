r"""Grouped fits on a Dask cluster: :func:`~estimators.batch.fit_groups` partition by partition.

Many independent fits (a regression per firm, per store, per sensor) need no
communication at all between groups, so the engine for them is a cluster
scheduler, not collectives. A Dask DataFrame is

1. shuffled on the ``by`` keys (``DataFrame.shuffle(on=by)``): every row of a
   group lands in the same partition, so each group is fitted whole, once;
2. mapped partition by partition (``map_partitions``) through the in-memory
   :func:`~estimators.batch.fit_groups`, which fits all the groups of a
   partition in vmapped, compiled calls on the worker that holds it;
3. returned as the same tidy table: lazily as a Dask DataFrame
   (``compute=False``; partitions in the shuffle's order), or computed into
   pandas with the groups in sorted key order, as the in-memory call.

No scheduler of ours: Dask (``dask.distributed`` on a cluster, or its local
schedulers) moves the partitions and runs the tasks. Each worker process
compiles the kernels once per size bucket (JAX's persistent compilation
cache, on by default, shares them between workers on one machine).

What is per partition and what is global: the missing-value policy is
per row, so the same; the design is built per partition, so with a
``formula`` containing categorical terms give the key's categories to the
column beforehand (``ddf = ddf.categorize(columns=[...])``, pandas
``Categorical`` with fixed categories): formulaic then expands every
partition to the same columns, as the in-memory call does for the whole frame.

Spark users: the same pattern is ``df.groupBy(keys).applyInPandas(fn,
schema)`` with ``fn`` calling ``fit_groups`` on its pandas batch (see
``docs/distributed.md``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from .batch_inputs import check_column
from .errors import DataError, SettingsError

__all__ = ["fit_groups_dask", "is_dask_frame"]

FLOAT_COLUMNS = ("estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper")


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (without importing dask when it is not loaded)."""
    if "dask.dataframe" not in sys.modules:
        return False
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)


def result_meta(keys: pd.DataFrame) -> pd.DataFrame:
    """The empty tidy table of :func:`~estimators.batch.fit_groups` for key columns like ``keys``.

    The dtypes of the lazy result (``compute=False``): floats, ``int64``
    counts, ``bool`` and pandas strings for ``term`` and ``note``, built from
    one example row so that pandas infers them as ``fit_groups`` does.
    """
    example = pd.DataFrame(index=pd.RangeIndex(1))
    columns = {
        "term": pd.array(np.asarray(["x"], dtype=object)),
        **{name: np.zeros(1) for name in FLOAT_COLUMNS},
        "n_obs": np.zeros(1, dtype=np.int64),
        "converged": np.ones(1, dtype=bool),
        "note": pd.array(np.asarray([""], dtype=object)),
    }
    for name, values in columns.items():
        example[name] = values
    keys = keys.iloc[:0].reset_index(drop=True)
    return pd.concat([keys, example.iloc[:0]], axis=1)


def _fit_partition(
    part: pd.DataFrame,
    estimator: Any,
    by: list[str],
    meta: pd.DataFrame,
    options: dict,
    cast: bool,
) -> pd.DataFrame:
    """``fit_groups`` on one partition (all its groups are whole after the shuffle).

    ``cast``: give the table the dtypes of ``meta`` (the lazy frame's promise);
    otherwise it keeps ``fit_groups``'s own (the computed path concatenates the
    non-empty tables, so its dtypes are those of the in-memory call).
    """
    from .batch import fit_groups

    if len(part) == 0 or part[by].isna().any(axis=1).all():
        return meta.copy()
    table = fit_groups(estimator, part, by, **options)
    return table[list(meta.columns)].astype(meta.dtypes.to_dict()) if cast else table


def fit_groups_dask(
    estimator: Any,
    data: Any,
    by: str | list[str],
    *,
    formula: str | None = None,
    columns: str | list[str] | None = None,
    response: str | None = None,
    sample_weight: str | None = None,
    alpha: float = 0.05,
    shuffle: bool = True,
    compute: bool = True,
) -> pd.DataFrame | Any:
    """:func:`~estimators.batch.fit_groups` of a Dask DataFrame ``data``, a partition a task.

    Arguments as ``fit_groups``. ``shuffle=True`` (default) first moves every
    group into one partition (``data.shuffle(on=by)``); pass False only when
    ``data`` is already partitioned by the keys (e.g. read from files
    partitioned by them). ``compute=True`` (default): the table as pandas,
    groups in sorted key order, equal to the in-memory ``fit_groups`` on the
    same rows; a group found in two partitions (``shuffle=False`` on data not
    partitioned by the keys) is a :class:`~estimators.errors.DataError`.
    ``compute=False``: the lazy Dask DataFrame (one partition of results per
    partition of data, in no particular group order). Runs on the current
    Dask scheduler (a ``dask.distributed.Client`` if one is active).
    """
    import dask.dataframe as dd

    if not isinstance(data, dd.DataFrame):
        raise DataError(f"data must be a Dask DataFrame, got {type(data).__name__}")
    by = list(by) if isinstance(by, list | tuple) else [by]
    if not by:
        raise SettingsError("by must name at least one column")
    for name in by:  # the in-memory fit_groups' own check, hence its message
        check_column(data._meta, name, "by")
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha!r}")
    options = {
        "formula": formula,
        "columns": columns,
        "response": response,
        "sample_weight": sample_weight,
        "alpha": alpha,
    }
    meta = result_meta(data._meta[by])
    frame = data.shuffle(on=by) if shuffle else data
    if not compute:
        return frame.map_partitions(_fit_partition, estimator, by, meta, options, True, meta=meta)
    import dask

    tables = frame.map_partitions(_fit_partition, estimator, by, meta, options, False, meta=meta)
    parts = [t for t in dask.compute(*tables.to_delayed()) if len(t)]
    if not parts:
        return meta
    return _in_key_order(pd.concat(parts, ignore_index=True), by)


def _in_key_order(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Groups in sorted key order, each group's terms in the fit's order; split groups refused."""
    if table.empty:
        return table.reset_index(drop=True)
    # A group's rows are consecutive within its partition; a new run of the same key
    # later in the table means the group was split over partitions.
    keys = table[by].astype(object).apply(tuple, axis=1)
    starts = keys.ne(keys.shift())
    runs = keys[starts]
    if runs.duplicated().any():
        split = runs[runs.duplicated()].tolist()
        raise DataError(
            f"{len(split)} group(s) were found in several partitions (first: {split[0]}), so "
            "each was fitted on part of its rows: use shuffle=True, or partition the data "
            "by the keys"
        )
    position = "_estimators_position"  # ties (a group's terms) keep the fit's order
    ordered = table.assign(**{position: np.arange(len(table))}).sort_values([*by, position])
    return ordered.drop(columns=position).reset_index(drop=True)
