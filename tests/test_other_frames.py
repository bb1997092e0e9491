"""Data from other frame libraries, and pandas columns backed by pyarrow, fit as pandas does.

Reference for every fit here: the same estimator on the same data as a plain
pandas DataFrame / Series of float64 and str columns with NaN for missing
values (the path checked against statsmodels in the other test files).
Equality is exact (``assert_array_equal``): the conversion at the edge
(:func:`estimators.interop.as_pandas`, pandas' own readers of pyarrow-backed
columns) must hand the engine the very same numbers. polars and pyarrow frames
have no index, so their results are labelled by row position (RangeIndex).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from numpy.testing import assert_array_equal

from estimators.errors import DataError
from estimators.glm import GLM, PoissonRegression
from estimators.interop import as_pandas
from estimators.location import Mean
from estimators.regression import LinearRegression

N = 80
FORMULA = "y ~ x1 + x2 + np.log(t) + C(g)"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Plain pandas: float64 and int64 columns, a str factor, cluster labels, a count."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=N),
            "x2": rng.integers(0, 6, size=N),
            "t": rng.uniform(0.5, 4.0, size=N),
            "g": rng.choice(["a", "b", "c"], size=N),
            "firm": rng.integers(0, 12, size=N),
        }
    )
    df["y"] = 1.0 + df["x1"] - 0.2 * df["x2"] + rng.normal(size=N)
    df["count"] = rng.poisson(np.exp(0.3 * df["x1"]) * df["t"]).astype(float)
    return df


@pytest.fixture(scope="module")
def polars_data(data) -> pl.DataFrame:
    return pl.from_pandas(data)


@pytest.fixture(scope="module")
def arrow_backed(data) -> pd.DataFrame:
    """The same frame with pyarrow-backed columns and a non-default index."""
    frame = data.astype(
        {
            "x1": "float64[pyarrow]",
            "x2": "int64[pyarrow]",
            "t": "float64[pyarrow]",
            "y": "float64[pyarrow]",
            "g": "string[pyarrow]",
        }
    )
    return frame.set_axis(np.arange(1000, 1000 + N))


def assert_same_fit(fit, ref) -> None:
    assert list(fit.params_.index) == list(ref.params_.index)
    assert_array_equal(fit.params_.to_numpy(), ref.params_.to_numpy())
    assert_array_equal(fit.std_errors_.to_numpy(), ref.std_errors_.to_numpy())
    assert fit.nobs_ == ref.nobs_ and fit.n_dropped_ == ref.n_dropped_


# --------------------------------------------------------------------------- polars


def test_polars_dataframe_and_series_fit_like_pandas(data, polars_data):
    fit = LinearRegression().fit(polars_data.select("x1", "x2"), polars_data["y"])
    ref = LinearRegression().fit(data[["x1", "x2"]], data["y"])
    assert_same_fit(fit, ref)
    assert fit.design_info_.response == "y"


def test_polars_formula_fit_like_pandas(data, polars_data):
    fit = LinearRegression().fit(polars_data, formula=FORMULA)
    ref = LinearRegression().fit(data, formula=FORMULA)
    assert_same_fit(fit, ref)
    assert "C(g)[T.c]" in fit.params_.index


def test_predict_and_predict_frame_on_polars_are_labelled_by_position(data, polars_data):
    array_fit = LinearRegression().fit(data[["x1", "x2"]], data["y"])
    formula_fit = LinearRegression().fit(data, formula=FORMULA)
    new = polars_data.tail(5)  # positions 0..4 of the new frame, not 75..79
    new_pandas = data.tail(5).reset_index(drop=True)
    columns = ["x1", "t", "x2"]  # taken by name: an extra column and another order
    cases = ((array_fit, new.select(columns), new_pandas[columns]), (formula_fit, new, new_pandas))
    for fit, frame, reference in cases:
        pred = fit.predict(frame)
        assert pred.index.equals(pd.RangeIndex(5))
        assert_array_equal(pred.to_numpy(), fit.predict(reference).to_numpy())
        table = fit.predict_frame(frame)
        assert table.index.equals(pd.RangeIndex(5))
        assert_array_equal(table.to_numpy(), fit.predict_frame(reference).to_numpy())


def test_polars_nulls_behave_as_nan(data, polars_data):
    holes = polars_data.with_columns(
        pl.when(pl.int_range(N).is_in([3, 8])).then(None).otherwise(pl.col("x1")).alias("x1")
    )
    with pytest.raises(DataError, match=r"2 of 80 rows.*'x1': 2 row\(s\); rows 3, 8"):
        LinearRegression().fit(holes.select("x1", "x2"), holes["y"])
    nan = data.copy()
    nan.loc[[3, 8], "x1"] = np.nan
    fit = LinearRegression(missing="drop").fit(holes, formula=FORMULA)
    assert_same_fit(fit, LinearRegression(missing="drop").fit(nan, formula=FORMULA))
    assert fit.n_dropped_ == 2


def test_glm_with_polars_exposure_and_polars_column_names(data, polars_data):
    ref = GLM("poisson").fit(data[["x1"]], data["count"], exposure=data["t"].to_numpy())
    series = GLM("poisson").fit(
        polars_data.select("x1"), polars_data["count"], exposure=polars_data["t"]
    )
    assert_same_fit(series, ref)
    named = PoissonRegression().fit(polars_data, formula="count ~ x1", exposure="t")
    assert_same_fit(named, ref)
    assert_array_equal(
        named.predict(polars_data.head(4)).to_numpy(),
        ref.predict(data[["x1"]].head(4), exposure=data["t"].head(4)).to_numpy(),
    )


def test_cluster_groups_as_a_polars_column(data, polars_data):
    ref = LinearRegression(cov_type="cluster").fit(data, formula=FORMULA, groups=data["firm"])
    series = LinearRegression(cov_type="cluster").fit(
        polars_data, formula=FORMULA, groups=polars_data["firm"]
    )
    named = LinearRegression(cov_type="cluster").fit(polars_data, formula=FORMULA, groups="firm")
    for fit in (series, named):
        assert_same_fit(fit, ref)
        assert fit.n_groups_ == ref.n_groups_ == 12


def test_mean_of_a_polars_series(data, polars_data):
    fit = Mean().fit(polars_data["y"])
    ref = Mean().fit(data["y"])
    assert_same_fit(fit, ref)
    assert fit.variable_ == "y"


def test_a_polars_lazyframe_is_collected(data, polars_data):
    fit = LinearRegression().fit(polars_data.lazy(), formula=FORMULA)
    assert_same_fit(fit, LinearRegression().fit(data, formula=FORMULA))


# --------------------------------------------------------------------------- pyarrow


def test_pyarrow_backed_columns_fit_like_numpy_columns(data, arrow_backed):
    ref_index = data.set_axis(arrow_backed.index)
    fit = LinearRegression().fit(arrow_backed[["x1", "x2"]], arrow_backed["y"])
    ref = LinearRegression().fit(ref_index[["x1", "x2"]], ref_index["y"])
    assert_same_fit(fit, ref)
    formula_fit = LinearRegression().fit(arrow_backed, formula=FORMULA)
    assert_same_fit(formula_fit, LinearRegression().fit(ref_index, formula=FORMULA))
    pred = formula_fit.predict(arrow_backed.iloc[:3])
    assert list(pred.index) == [1000, 1001, 1002]  # the input's index is kept
    glm = GLM("poisson").fit(arrow_backed, formula="count ~ x1 + offset(np.log(t))")
    ref_glm = GLM("poisson").fit(ref_index[["x1"]], ref_index["count"], offset=np.log(data["t"]))
    assert_same_fit(glm, ref_glm)


def test_pd_na_in_pyarrow_columns_is_exactly_nan(data, arrow_backed):
    holes = arrow_backed.copy()
    holes.loc[[1002, 1005], "x1"] = pd.NA
    holes.loc[1007, "x2"] = pd.NA  # an int64[pyarrow] column
    nan = data.set_axis(arrow_backed.index).astype({"x2": "float64"})
    nan.loc[[1002, 1005], "x1"] = np.nan
    nan.loc[1007, "x2"] = np.nan
    message = r"3 of 80 rows .*'x1': 2 row\(s\), 'x2': 1 row\(s\); rows 1002, 1005, 1007"
    with pytest.raises(DataError, match=message):
        LinearRegression().fit(holes[["x1", "x2"]], holes["y"])
    with pytest.raises(DataError, match=r"3 of 80 rows.*'x1': 2 row\(s\), 'x2': 1 row"):
        LinearRegression().fit(holes, formula=FORMULA)
    for fit_args in (
        lambda d: (d[["x1", "x2"]], d["y"]),
        lambda d: (d,),
    ):
        kwargs = {} if len(fit_args(holes)) == 2 else {"formula": FORMULA}
        fit = LinearRegression(missing="drop").fit(*fit_args(holes), **kwargs)
        ref = LinearRegression(missing="drop").fit(*fit_args(nan), **kwargs)
        assert_same_fit(fit, ref)
        assert fit.n_dropped_ == 3
    pred = LinearRegression(missing="drop").fit(holes, formula=FORMULA).predict(holes)
    assert np.isnan(pred.loc[[1002, 1005, 1007]]).all() and pred.notna().sum() == N - 3


def test_pd_na_in_a_pyarrow_series_for_mean(data, arrow_backed):
    y = arrow_backed["y"].copy()
    y.loc[[1001, 1040]] = pd.NA
    with pytest.raises(DataError, match=r"2 missing \(NaN\) value\(s\) out of 80 rows"):
        Mean().fit(y)
    ref = data["y"].set_axis(arrow_backed.index).astype(float)
    ref.loc[[1001, 1040]] = np.nan
    assert_same_fit(Mean(missing="drop").fit(y), Mean(missing="drop").fit(ref))


def test_pyarrow_table_and_chunked_arrays(data):
    table = pa.Table.from_pandas(data, preserve_index=False)
    fit = LinearRegression().fit(table.select(["x1", "x2"]), table["y"])
    assert_same_fit(fit, LinearRegression().fit(data[["x1", "x2"]], data["y"]))
    formula_fit = LinearRegression().fit(table, formula=FORMULA)
    assert_same_fit(formula_fit, LinearRegression().fit(data, formula=FORMULA))
    assert formula_fit.predict(table.slice(0, 3)).index.equals(pd.RangeIndex(3))
    plain = pa.array(data["y"].to_numpy())
    assert_same_fit(Mean().fit(plain), Mean().fit(data["y"].to_numpy()))


def test_as_pandas_leaves_pandas_and_numpy_alone(data):
    assert as_pandas(data) is data
    values = data["y"].to_numpy()
    assert as_pandas(values) is values
    converted = as_pandas(pl.Series("z", [1.0, None]))
    assert converted.name == "z" and np.isnan(converted.iloc[1])
