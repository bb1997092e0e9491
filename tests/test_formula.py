"""Formula fits (``fit(df, formula="y ~ ...")``): identical to the equivalent array fits.

Reference for every fit here: the same estimator fitted on the design matrix
built by hand with numpy / pandas (the array path, itself checked against
statsmodels in test_regression.py, test_glm.py and test_robust.py), and, for
the expanded columns, formulaic 1.2's own ``model_matrix``. Equality is exact
(``assert_array_equal``): the formula path must run the same computation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset
from numpy.testing import assert_array_equal

from estimators.errors import DataError, SettingsError
from estimators.formula import apply_spec, design_from_formula
from estimators.glm import GLM, LogisticRegression
from estimators.regression import LinearRegression
from estimators.robust import HuberRegression

ANES_COLUMNS = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income"]


@pytest.fixture(scope="module")
def stackloss() -> pd.DataFrame:
    return load_dataset("stackloss")


@pytest.fixture(scope="module")
def anes() -> pd.DataFrame:
    return load_dataset("anes96")


@pytest.fixture(scope="module")
def groups() -> pd.DataFrame:
    """A small data set with a 3-level factor, labels that are not positions."""
    rng = np.random.default_rng(7)
    n = 60
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(1.0, 5.0, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
        },
        index=[f"r{i}" for i in range(n)],
    )
    effect = df["g"].map({"a": 0.0, "b": 1.0, "c": -0.5})
    df["y"] = 1.0 + 2.0 * df["x1"] - np.log(df["x2"]) + effect + rng.normal(size=n)
    return df


def assert_same_fit(formula_fit, array_fit) -> None:
    assert list(formula_fit.params_.index) == list(array_fit.params_.index)
    assert_array_equal(formula_fit.params_.to_numpy(), array_fit.params_.to_numpy())
    assert_array_equal(formula_fit.std_errors_.to_numpy(), array_fit.std_errors_.to_numpy())
    assert formula_fit.converged_ and array_fit.converged_


# --------------------------------------------------------------------------- equality


def test_linear_regression_formula_equals_array_fit(stackloss):
    fit = LinearRegression().fit(stackloss, formula="stackloss ~ airflow + watertemp + acidconc")
    ref = LinearRegression().fit(
        stackloss[["airflow", "watertemp", "acidconc"]], stackloss["stackloss"]
    )
    assert_same_fit(fit, ref)
    assert fit.formula_ == "stackloss ~ airflow + watertemp + acidconc"
    assert_array_equal(fit.predict(stackloss).to_numpy(), ref.predict(stackloss).to_numpy())


def test_logistic_regression_formula_equals_array_fit(anes):
    fit = LogisticRegression().fit(anes, formula="vote ~ " + " + ".join(ANES_COLUMNS))
    ref = LogisticRegression().fit(anes[ANES_COLUMNS], anes["vote"])
    assert_same_fit(fit, ref)
    assert_array_equal(fit.predict(anes).to_numpy(), ref.predict(anes[ANES_COLUMNS]).to_numpy())


def test_huber_regression_formula_equals_array_fit(stackloss):
    fit = HuberRegression().fit(stackloss, formula="stackloss ~ airflow + watertemp + acidconc")
    ref = HuberRegression().fit(
        stackloss[["airflow", "watertemp", "acidconc"]], stackloss["stackloss"]
    )
    assert_same_fit(fit, ref)
    assert fit.scale_ == ref.scale_


def test_no_intercept_formula_equals_fit_intercept_false(stackloss):
    X, y = stackloss[["airflow", "watertemp"]], stackloss["stackloss"]
    ref = LinearRegression(fit_intercept=False).fit(X, y)
    for formula in ("stackloss ~ airflow + watertemp - 1", "stackloss ~ 0 + airflow + watertemp"):
        fit = LinearRegression().fit(stackloss, formula=formula)
        assert_same_fit(fit, ref)
        assert fit.rsquared_ == ref.rsquared_  # uncentred, as without an intercept


def test_categorical_interaction_and_transform_terms(groups):
    formula = "y ~ x1 + C(g) + x1:x2 + np.log(x2)"
    fit = LinearRegression().fit(groups, formula=formula)
    # The design built by hand: treatment coding with the first level ("a") as base.
    X = pd.DataFrame(
        {
            "x1": groups["x1"],
            "C(g)[T.b]": (groups["g"] == "b").astype(float),
            "C(g)[T.c]": (groups["g"] == "c").astype(float),
            "np.log(x2)": np.log(groups["x2"]),
            "x1:x2": groups["x1"] * groups["x2"],  # formulaic orders terms by degree
        }
    )
    ref = LinearRegression().fit(X, groups["y"])
    assert list(fit.params_.index) == ["Intercept", *X.columns]
    assert_same_fit(fit, ref)


def test_glm_formula_with_offset_and_weights(groups):
    df = groups.assign(count=np.round(np.exp(0.3 * groups["x1"])) + 1)
    exposure = groups["x2"].to_numpy()
    weights = np.linspace(0.5, 2.0, len(df))
    fit = GLM("poisson").fit(
        df, formula="count ~ x1 + C(g)", exposure=exposure, sample_weight=weights
    )
    X = pd.DataFrame(
        {"x1": df["x1"], "C(g)[T.b]": (df["g"] == "b") * 1.0, "C(g)[T.c]": (df["g"] == "c") * 1.0}
    )
    ref = GLM("poisson").fit(X, df["count"], exposure=exposure, sample_weight=weights)
    assert_same_fit(fit, ref)


# --------------------------------------------------------------------------- missing values


def test_missing_rows_raise_by_default_and_drop_on_request(groups):
    df = groups.copy()
    df.loc[["r3", "r10"], "x1"] = np.nan
    df.loc["r20", "g"] = None
    with pytest.raises(DataError, match=r"3 of 60 rows.*'x1': 2 row\(s\).*'g': 1 row") as err:
        LinearRegression().fit(df, formula="y ~ x1 + C(g)")
    assert "missing='drop'" in str(err.value)

    weights = np.arange(1.0, 61.0)
    fit = LinearRegression(missing="drop").fit(df, formula="y ~ x1 + C(g)", sample_weight=weights)
    kept = df.dropna(subset=["x1", "g"])
    X = pd.DataFrame(
        {
            "x1": kept["x1"],
            "C(g)[T.b]": (kept["g"] == "b") * 1.0,
            "C(g)[T.c]": (kept["g"] == "c") * 1.0,
        }
    )
    ref = LinearRegression().fit(
        X, kept["y"], sample_weight=weights[df.index.get_indexer(kept.index)]
    )
    assert_same_fit(fit, ref)
    assert fit.n_dropped_ == 3


# --------------------------------------------------------------------------- predict


def test_predict_reapplies_the_formula_aligned_to_the_new_index(groups):
    fit = LinearRegression().fit(groups, formula="y ~ x1 + C(g) + np.log(x2)")
    new = pd.DataFrame(
        {"x1": [0.5, np.nan, -1.0], "x2": [2.0, 3.0, 4.0], "g": ["c", "a", "b"]},
        index=[30, 10, 20],
    )
    pred = fit.predict(new)
    assert list(pred.index) == [30, 10, 20]
    b = fit.params_
    expected_first = (
        b["Intercept"] + 0.5 * b["x1"] + b["C(g)[T.c]"] + np.log(2.0) * b["np.log(x2)"]
    )
    assert pred[30] == pytest.approx(expected_first, rel=1e-14)
    assert np.isnan(pred[10])  # a missing value predicts NaN (R's na.exclude)
    # One row alone: the levels come from the fit, not from the new data.
    alone = fit.predict(new.loc[[20]])
    assert alone[20] == pytest.approx(pred[20], rel=1e-15)


def test_unseen_category_at_predict_is_an_error(groups):
    fit = LinearRegression().fit(groups, formula="y ~ x1 + C(g)")
    new = pd.DataFrame({"x1": [0.0, 1.0, 2.0], "g": ["a", "z", "z"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no formulaic warning escapes
        with pytest.raises(DataError, match=r"column 'g' has 2 row\(s\) with level\(s\) \['z'\]"):
            fit.predict(new)


def test_apply_spec_matches_formulaic_on_the_fitted_data(groups):
    X, y, spec = design_from_formula(groups, "y ~ x1 * x2 + C(g)", missing="raise")
    assert y.name == "y" and list(y.index) == list(groups.index)
    assert_array_equal(apply_spec(spec, groups).to_numpy(), X.to_numpy())
    assert list(X.columns) == ["Intercept", "x1", "x2", "C(g)[T.b]", "C(g)[T.c]", "x1:x2"]


# --------------------------------------------------------------------------- errors


def test_bad_formula_is_a_data_error_showing_the_formula(groups):
    with pytest.raises(DataError, match=r"formula 'y ~ x1 \+' could not be parsed.*misplaced"):
        LinearRegression().fit(groups, formula="y ~ x1 +")
    with pytest.raises(DataError, match="needs a response"):
        LinearRegression().fit(groups, formula="x1 + x2")


def test_unknown_column_names_close_matches(groups):
    with pytest.raises(DataError, match=r"uses 'x_1', which is not a column.*did you mean \['x1'"):
        LinearRegression().fit(groups, formula="y ~ x_1 + x2")


def test_y_together_with_formula_is_a_settings_error(groups):
    with pytest.raises(SettingsError, match="either y or formula"):
        LinearRegression().fit(groups, groups["y"], formula="y ~ x1")
    with pytest.raises(SettingsError, match="either y or formula"):
        LogisticRegression().fit(groups, groups["y"] > 0, formula="y ~ x1")
    with pytest.raises(SettingsError, match="needs a response"):
        LinearRegression().fit(groups[["x1"]])


def test_per_row_argument_of_the_wrong_length(groups):
    with pytest.raises(DataError, match="sample_weight has 3 rows but the data has 60"):
        LinearRegression().fit(groups, formula="y ~ x1", sample_weight=[1.0, 2.0, 3.0])


def test_array_fit_after_formula_fit_forgets_the_formula(stackloss):
    model = LinearRegression().fit(stackloss, formula="stackloss ~ airflow")
    model.fit(stackloss[["airflow", "watertemp"]], stackloss["stackloss"])
    assert model.formula_spec_ is None
    assert len(model.predict(stackloss[["airflow", "watertemp"]])) == len(stackloss)


def test_a_failed_refit_leaves_the_earlier_formula_fit_whole():
    data = load_dataset("stackloss")
    model = LinearRegression().fit(data, formula="stackloss ~ airflow + watertemp")
    params = model.params_.copy()
    with pytest.raises(DataError):
        model.fit(data, formula="stackloss ~ airflow + no_such_column")
    assert model.formula_ == "stackloss ~ airflow + watertemp"
    pd.testing.assert_series_equal(model.params_, params)
    assert len(model.predict(data.iloc[:3])) == 3
