"""Grouped fits on Dask: a LocalCluster of 2 worker processes equals the in-memory fit_groups.

Reference: :func:`estimators.batch.fit_groups` on the same pandas rows in this
process (computed live). The cluster listens on 127.0.0.1 only, is started
once for the module and closed in the fixture's ``finally``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

from estimators.batch import fit_groups  # noqa: E402
from estimators.distributed_dask import fit_groups_dask, is_dask_frame, result_meta  # noqa: E402
from estimators.errors import DataError, SettingsError  # noqa: E402
from estimators.glm import LogisticRegression, PoissonRegression  # noqa: E402
from estimators.regression import LinearRegression  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    try:
        with distributed.Client(cluster, timeout=60) as client:
            yield client
    finally:
        cluster.close(timeout=60)


def make_panel(n_groups: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(33, 65, size=n_groups)  # ragged, in one size bucket (64): one compile
    firm = np.repeat([f"f{j:03d}" for j in range(n_groups)], sizes)
    n = len(firm)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    eta = 0.2 + 0.5 * x1 - 0.3 * x2
    frame = pd.DataFrame(
        {
            "firm": firm,
            "year": np.tile([2020, 2021], n // 2 + 1)[:n],
            "x1": x1,
            "x2": x2,
            "y": eta + rng.normal(size=n),
            "b": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
            "c": rng.poisson(np.exp(eta)).astype(float),
            "w": rng.integers(1, 3, size=n).astype(float),
        }
    )
    # Rows in random order: every partition of the Dask frame holds parts of many groups.
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


CASES = {
    "ols": (LinearRegression, {"columns": ["x1", "x2"], "response": "y"}),
    "logistic_formula": (LogisticRegression, {"formula": "b ~ x1 + x2"}),
    "poisson_weighted": (
        PoissonRegression,
        {"columns": ["x1", "x2"], "response": "c", "sample_weight": "w"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dask_fit_groups_equals_in_memory(client, case):
    make, options = CASES[case]
    ddf = dd.from_pandas(make_panel(), npartitions=4)
    # The reference fits the rows as Dask holds them (Dask stores strings as pyarrow
    # strings, so the key column's dtype is Dask's).
    expected = fit_groups(make(), ddf.compute(), "firm", **options)
    got = fit_groups_dask(make(), ddf, "firm", **options)
    assert got.columns.tolist() == expected.columns.tolist()
    assert got.dtypes.tolist() == expected.dtypes.tolist()
    assert got[["firm", "term", "n_obs", "converged", "note"]].equals(
        expected[["firm", "term", "n_obs", "converged", "note"]]
    )
    for name in ("estimate", "std_error", "p_value", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=0)
    # The work ran on both worker processes of the cluster.
    assert len(client.scheduler_info()["workers"]) == 2


def test_two_keys_and_lazy_result(client):
    ddf = dd.from_pandas(make_panel(40, seed=5), npartitions=3)
    expected = fit_groups(
        LinearRegression(), ddf.compute(), ["firm", "year"], columns="x1", response="y"
    )
    lazy = fit_groups_dask(
        LinearRegression(),
        ddf,
        ["firm", "year"],
        columns="x1",
        response="y",
        compute=False,
    )
    assert is_dask_frame(lazy)
    got = lazy.compute().sort_values(["firm", "year", "term"]).reset_index(drop=True)
    ref = expected.sort_values(["firm", "year", "term"]).reset_index(drop=True)
    # The lazy frame has the dtypes it promised (result_meta); the values are fit_groups's.
    assert got.dtypes.tolist() == lazy.dtypes.tolist()
    assert (
        got[["firm", "year", "term"]]
        .astype(object)
        .equals(ref[["firm", "year", "term"]].astype(object))
    )
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], rtol=1e-12)


def test_groups_split_over_partitions_are_refused_without_shuffle(client):
    ddf = dd.from_pandas(make_panel(30, seed=7), npartitions=4)
    with pytest.raises(DataError, match="found in several partitions"):
        fit_groups_dask(LinearRegression(), ddf, "firm", columns="x1", response="y", shuffle=False)


def test_bad_arguments_are_clear_errors():
    ddf = dd.from_pandas(make_panel(5), npartitions=2)
    with pytest.raises(DataError, match=r"by='region' is not a column of the data"):
        fit_groups_dask(LinearRegression(), ddf, "region", columns="x1", response="y")
    with pytest.raises(DataError, match="must be a Dask DataFrame"):
        fit_groups_dask(LinearRegression(), make_panel(5), "firm")
    with pytest.raises(SettingsError, match="alpha"):
        fit_groups_dask(LinearRegression(), ddf, "firm", alpha=2.0)
    assert not is_dask_frame(make_panel(5))


@pytest.mark.parametrize("by", ["region", ["firm", "frim"]])
def test_a_missing_by_column_is_the_same_error_as_for_pandas(by):
    """Reference: the in-memory fit_groups' DataError on the same (pandas) rows."""
    panel = make_panel(5)
    ddf = dd.from_pandas(panel, npartitions=2)
    options = {"columns": "x1", "response": "y"}
    with pytest.raises(DataError) as in_memory:
        fit_groups(LinearRegression(), panel, by, **options)
    with pytest.raises(DataError) as on_dask:
        fit_groups(LinearRegression(), ddf, by, **options)
    with pytest.raises(DataError) as direct:
        fit_groups_dask(LinearRegression(), ddf, by, **options)
    assert str(on_dask.value) == str(in_memory.value) == str(direct.value)
    missing = by if isinstance(by, str) else by[1]
    assert f"by={missing!r} is not a column of the data" in str(in_memory.value)


def test_result_meta_matches_fit_groups_columns():
    panel = make_panel(4)
    table = fit_groups(LinearRegression(), panel, "firm", columns="x1", response="y")
    meta = result_meta(panel[["firm"]])
    assert meta.columns.tolist() == table.columns.tolist()
    strings = ["firm", "term", "note"]  # pandas' string dtypes (NA flavour may differ)
    numbers = [c for c in table.columns if c not in strings]
    assert meta[numbers].dtypes.tolist() == table[numbers].dtypes.tolist()
    assert all(pd.api.types.is_string_dtype(meta[c]) for c in strings)
    assert all(pd.api.types.is_string_dtype(table[c]) for c in strings)


def test_fit_groups_hands_a_dask_frame_to_the_cluster(client):
    """The public fit_groups takes a Dask DataFrame as it is and returns the same table."""
    ddf = dd.from_pandas(make_panel(n_groups=30), npartitions=3)
    options = {"columns": ["x1", "x2"], "response": "y"}
    got = fit_groups(LinearRegression(), ddf, "firm", **options)
    expected = fit_groups(LinearRegression(), ddf.compute(), "firm", **options)
    assert isinstance(got, pd.DataFrame)
    np.testing.assert_allclose(got["estimate"], expected["estimate"], rtol=1e-12, atol=0)
