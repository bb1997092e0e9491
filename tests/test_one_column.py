"""One-column estimators on a DataFrame: ``fit(df, column="c")``, names for weights and groups.

Every reference here is the same estimator fitted on the values themselves
(``fit(df["c"], weights, labels)``), computed live: selecting by name must
change nothing, to the last bit. The nine estimators share one sample size
(40 rows, 37 after dropping), so each compiles its kernel once or twice.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from estimators.errors import DataError, SettingsError
from estimators.likelihood import MaximumLikelihood, MEstimator
from estimators.location import Mean, Median, Quantile
from estimators.robust_location import Huber, TukeyBiweight
from estimators.scale import MAD, StandardDeviation
from estimators.univariate import select_column


def squared_loss(params, x):
    return (x - params["m"]) ** 2


def pseudo_huber(params, x):  # a smooth robust loss: the M-estimator is not a plain mean
    return jnp.sqrt(1.0 + (x - params["m"]) ** 2)


FACTORIES = {
    "Mean": Mean,
    "Median": Median,
    "Quantile": lambda **kw: Quantile(q=0.3, **kw),
    "Huber": Huber,
    "TukeyBiweight": TukeyBiweight,
    "StandardDeviation": StandardDeviation,
    "MAD": MAD,
    "MaximumLikelihood": lambda **kw: MaximumLikelihood("gamma", **kw),
    "MEstimator": lambda **kw: MEstimator(loss=pseudo_huber, params0={"m": 1.0}, **kw),
}
CLUSTERED = ["Mean", "Huber", "TukeyBiweight", "MaximumLikelihood", "MEstimator"]
NOT_CLUSTERED = sorted(set(FACTORIES) - set(CLUSTERED))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """40 positive values (gamma, so every estimator applies), weights, two label columns."""
    rng = np.random.default_rng(5)
    n = 40
    return pd.DataFrame(
        {
            "income": rng.gamma(2.0, 1.5, n),
            "w": rng.integers(1, 4, n).astype(float),
            "firm": np.repeat([f"f{k}" for k in range(8)], 5),
            "year": np.tile([2001, 2002, 2003, 2004], 10),
            "label": "a",
        },
        index=pd.Index([f"r{i}" for i in range(n)], name="row"),
    )


def same_fit(a, b) -> None:
    """Two fits agree exactly: estimates, standard errors, covariance, nobs."""
    pd.testing.assert_series_equal(a.params_, b.params_, check_exact=True)
    pd.testing.assert_series_equal(a.std_errors_, b.std_errors_, check_exact=True)
    pd.testing.assert_frame_equal(a.cov_, b.cov_, check_exact=True)
    assert a.nobs_ == b.nobs_
    assert a.n_dropped_ == b.n_dropped_


def values(fitted) -> tuple[np.ndarray, np.ndarray]:
    return fitted.params_.to_numpy().copy(), fitted.std_errors_.to_numpy().copy()


@pytest.mark.parametrize("name", FACTORIES)
def test_column_equals_the_series_exactly(name, frame):
    by_name = FACTORIES[name]().fit(frame, column="income")
    by_series = FACTORIES[name]().fit(frame["income"])
    same_fit(by_name, by_series)
    assert by_name.variable_ == by_series.variable_ == "income"
    assert np.all(np.isfinite(by_name.std_errors_.to_numpy()))
    # the one-column DataFrame, as before, is the same sample
    same_fit(FACTORIES[name]().fit(frame[["income"]]), by_name)


@pytest.mark.parametrize("name", FACTORIES)
def test_weights_by_column_name_equal_the_weight_array(name, frame):
    by_name = FACTORIES[name]().fit(frame, column="income", sample_weight="w")
    by_array = FACTORIES[name]().fit(frame["income"], frame["w"].to_numpy())
    same_fit(by_name, by_array)
    assert by_name.nobs_ == frame["w"].sum()
    unweighted = FACTORIES[name]().fit(frame, column="income")
    assert not np.array_equal(values(by_name)[1], values(unweighted)[1])  # the weights matter
    # weights given as values still work beside column=
    same_fit(FACTORIES[name]().fit(frame, column="income", sample_weight=frame["w"]), by_name)


@pytest.mark.parametrize("name", CLUSTERED)
def test_groups_by_column_name_equal_the_label_array(name, frame):
    by_name = FACTORIES[name](cov_type="cluster").fit(
        frame, column="income", sample_weight="w", groups="firm"
    )
    by_array = FACTORIES[name](cov_type="cluster").fit(
        frame["income"], frame["w"].to_numpy(), frame["firm"].to_numpy()
    )
    same_fit(by_name, by_array)
    assert by_name.n_groups_ == 8
    nonrobust = FACTORIES[name]().fit(frame, column="income", sample_weight="w")
    assert values(by_name)[1][0] != values(nonrobust)[1][0]


def test_two_way_groups_by_two_column_names(frame):
    by_name = Mean(cov_type="cluster").fit(frame, column="income", groups=["firm", "year"])
    by_array = Mean(cov_type="cluster").fit(
        frame["income"], groups=frame[["firm", "year"]].to_numpy()
    )
    same_fit(by_name, by_array)
    one_way = Mean(cov_type="cluster").fit(frame, column="income", groups="firm")
    assert by_name.std_errors_["mean"] != one_way.std_errors_["mean"]


@pytest.mark.parametrize("name", NOT_CLUSTERED)
def test_groups_by_name_refused_where_no_cov_type_clusters(name, frame):
    for groups in ("firm", frame["firm"].to_numpy()):  # the same answer for names and values
        with pytest.raises(SettingsError, match="groups= is used only with cov_type='cluster'"):
            FACTORIES[name]().fit(frame, column="income", groups=groups)


def with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """NaN in three rows that carry the largest weight and a firm of their own.

    Cutting the weights or labels at the wrong rows would change every estimate.
    """
    frame = frame.copy()
    rows = ["r3", "r17", "r30"]
    frame.loc[rows, "income"] = np.nan
    frame.loc[rows, "w"] = 50.0
    frame.loc[rows, "firm"] = "dropped"
    return frame


@pytest.mark.parametrize("name", FACTORIES)
def test_missing_drop_cuts_weights_and_groups_with_the_column(name, frame):
    data = with_missing(frame)
    kept = data.dropna(subset=["income"])
    settings = {"missing": "drop"}
    if name in CLUSTERED:
        settings["cov_type"] = "cluster"
    groups = "firm" if name in CLUSTERED else None
    fitted = FACTORIES[name](**settings).fit(
        data, column="income", sample_weight="w", groups=groups
    )
    reference = FACTORIES[name](**settings).fit(
        kept["income"].to_numpy(),
        kept["w"].to_numpy(),
        None if groups is None else kept["firm"].to_numpy(),
    )
    np.testing.assert_array_equal(values(fitted)[0], values(reference)[0])
    np.testing.assert_array_equal(values(fitted)[1], values(reference)[1])
    assert fitted.n_dropped_ == 3 and reference.n_dropped_ == 0
    assert fitted.nobs_ == kept["w"].sum()
    if groups is not None:
        assert fitted.n_groups_ == 8  # the firm of the dropped rows is gone
    if name == "Mean":  # the rows of the influence functions are the rows kept, by label
        assert list(fitted.influence().index) == list(kept.index)


def test_polars_and_pyarrow_frames_with_column_names(frame):
    reference = Mean(cov_type="cluster").fit(frame["income"], frame["w"], frame["firm"].to_numpy())
    for other in (pl.from_pandas(frame.reset_index()), pa.Table.from_pandas(frame)):
        fitted = Mean(cov_type="cluster").fit(
            other, column="income", sample_weight="w", groups="firm"
        )
        np.testing.assert_array_equal(values(fitted)[0], values(reference)[0])
        np.testing.assert_array_equal(values(fitted)[1], values(reference)[1])
        assert fitted.variable_ == "income"


def test_polars_nulls_are_missing_values(frame):
    data = pl.from_pandas(with_missing(frame).reset_index()).with_columns(
        pl.col("income").fill_nan(None)
    )
    assert data["income"].null_count() == 3
    with pytest.raises(DataError, match=r"3 missing \(NaN\) value\(s\) out of 40 rows"):
        MaximumLikelihood("gamma").fit(data, column="income")
    fitted = MaximumLikelihood("gamma", missing="drop").fit(
        data, column="income", sample_weight="w"
    )
    kept = with_missing(frame).dropna(subset=["income"])
    reference = MaximumLikelihood("gamma").fit(kept["income"], kept["w"])
    np.testing.assert_array_equal(values(fitted)[0], values(reference)[0])
    assert fitted.n_dropped_ == 3


# ------------------------------------------------------------------ bad input
# The selection runs before any fitting, so each error costs no compilation.


@pytest.mark.parametrize("name", FACTORIES)
def test_unknown_column_names_it_and_close_matches(name, frame):
    with pytest.raises(DataError, match=r"column='incme' is not a column .* \['income'\]"):
        FACTORIES[name]().fit(frame, column="incme")
    with pytest.raises(DataError, match=r"sample_weight='wt' .*close matches: \['w'\]"):
        FACTORIES[name]().fit(frame, column="income", sample_weight="wt")


def test_unknown_column_without_close_match_lists_the_columns(frame):
    with pytest.raises(DataError, match=r"its columns are \['income', 'w', 'firm'"):
        Mean().fit(frame, column="zzz")
    with pytest.raises(DataError, match=r"groups='company' is not a column"):
        Mean(cov_type="cluster").fit(frame, column="income", groups="company")
    with pytest.raises(DataError, match=r"groups='yr' .*\['year'\]"):
        Mean(cov_type="cluster").fit(frame, column="income", groups=["firm", "yr"])


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("kind", ["Series", "ndarray", "list"])
def test_column_with_anything_but_a_dataframe_is_a_settings_error(name, kind, frame):
    data = {
        "Series": frame["income"],
        "ndarray": frame["income"].to_numpy(),
        "list": list(frame["income"]),
    }[kind]
    with pytest.raises(SettingsError, match=rf"column='income' .* x is a {kind}"):
        FACTORIES[name]().fit(data, column="income")


@pytest.mark.parametrize("name", FACTORIES)
def test_several_columns_without_column_say_to_pass_column(name, frame):
    with pytest.raises(
        DataError, match=r"DataFrame with 5 columns .*pass column=.*fit\(df, column='income'\)"
    ):
        FACTORIES[name]().fit(frame)
    with pytest.raises(DataError, match="pass column="):
        FACTORIES[name]().fit(pl.from_pandas(frame))


@pytest.mark.parametrize("name", FACTORIES)
def test_non_numeric_column_names_the_column_and_its_dtype(name, frame):
    with pytest.raises(DataError, match=r"column 'firm' is not numeric \(dtype (str|object)\)"):
        FACTORIES[name]().fit(frame, column="firm")
    dated = frame.assign(when=pd.Timestamp("2020-01-01"))
    with pytest.raises(DataError, match=r"column 'when' has dtype datetime64\[\w+\], not numeric"):
        FACTORIES[name]().fit(dated, column="when")


def test_other_non_numeric_columns_and_weights(frame):
    coded = frame.assign(kind=pd.Categorical(frame["firm"]))
    with pytest.raises(DataError, match=r"column 'kind' is categorical \(dtype category"):
        Mean().fit(coded, column="kind")
    with pytest.raises(DataError, match=r"column 'label' \(sample_weight\) is not numeric"):
        Mean().fit(frame, column="income", sample_weight="label")
    # the same check for a Series passed as the values: no silent nanoseconds
    with pytest.raises(DataError, match=r"'when' has dtype timedelta64"):
        Mean().fit(pd.Series(pd.to_timedelta(np.arange(3), unit="D"), name="when"))
    # numbers written as text are numbers, as for a Series
    text = frame.assign(digits=frame["income"].map(repr))
    same_fit(
        StandardDeviation().fit(text, column="digits"),
        StandardDeviation().fit(text["digits"]),
    )


def test_column_names_without_column_are_a_settings_error(frame):
    with pytest.raises(SettingsError, match=r"sample_weight='w' names a column.*column="):
        Mean().fit(frame[["income"]], sample_weight="w")
    with pytest.raises(SettingsError, match=r"groups='firm' names a column.*column="):
        Mean(cov_type="cluster").fit(frame["income"], groups="firm")


def test_duplicated_column_name_is_a_data_error(frame):
    doubled = pd.concat([frame[["income"]], frame[["income"]]], axis=1)
    with pytest.raises(DataError, match=r"column='income' names 2 columns"):
        Mean().fit(doubled, column="income")


def test_select_column_returns_values_not_names(frame):
    inputs = select_column(frame, "income", sample_weight="w", groups=["firm", "year"])
    assert inputs.data.name == "income"
    pd.testing.assert_series_equal(inputs.sample_weight, frame["w"])
    pd.testing.assert_frame_equal(inputs.groups, frame[["firm", "year"]])
    untouched = select_column(frame["income"], sample_weight=frame["w"].to_numpy())
    assert untouched.data is frame["income"] or untouched.data.equals(frame["income"])


def test_pyarrow_backed_and_nullable_columns_equal_numpy_floats(frame):
    data = with_missing(frame)
    arrow = data.assign(income=data["income"].astype(pd.ArrowDtype(pa.float64())))
    assert arrow["income"].isna().sum() == 3
    reference = Mean(missing="drop").fit(data, column="income", sample_weight="w")
    same_fit(Mean(missing="drop").fit(arrow, column="income", sample_weight="w"), reference)
    counts = frame.assign(n=pd.array([1, None] * 20, dtype="Int64"))
    fitted = Mean(missing="drop").fit(counts, column="n")
    assert fitted.params_["mean"] == 1.0 and fitted.n_dropped_ == 20
