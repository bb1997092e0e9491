"""Predictions with uncertainty for least squares: estimators.prediction and predict_frame.

References computed live with statsmodels (OLS/WLS ``get_prediction(...).summary_frame``);
the GLM delta-method frames are tested in test_glm_inference.py.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from estimators.datasets import load_dataset

from estimators.errors import SettingsError
from estimators.prediction import prediction_frame
from estimators.regression import LinearRegression

COLUMNS = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]


@pytest.fixture(scope="module")
def stackloss():
    data = load_dataset("stackloss")
    return data[["airflow", "watertemp", "acidconc"]], data["stackloss"]


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC3"])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_least_squares_prediction_frame_matches_statsmodels(stackloss, cov_type, alpha):
    X, y = stackloss
    fit = LinearRegression(cov_type=cov_type).fit(X, y)
    new = X.iloc[[0, 5, 20]] + 0.5
    ours = fit.predict_frame(new, alpha=alpha)
    reference = (
        sm.OLS(y, sm.add_constant(X))
        .fit(cov_type=cov_type, use_t=True)
        .get_prediction(sm.add_constant(new, has_constant="add"))
        .summary_frame(alpha=alpha)
    )
    assert list(ours.columns) == COLUMNS and ours.index.equals(new.index)
    np.testing.assert_allclose(ours.to_numpy(), reference[COLUMNS].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours["mean"], fit.predict(new), rtol=0, atol=0)


def test_weighted_least_squares_mean_interval_matches_statsmodels(stackloss):
    X, y = stackloss
    w = np.linspace(0.5, 2.0, len(y))
    fit = LinearRegression().fit(X, y, sample_weight=w)
    ours = fit.predict_frame(X)
    # exog given: statsmodels then takes the new rows' weights as 1 (None would reuse w)
    reference = (
        sm.WLS(y, sm.add_constant(X), weights=w)
        .fit()
        .get_prediction(sm.add_constant(X))
        .summary_frame()
    )
    mean_columns = COLUMNS[:4]
    np.testing.assert_allclose(
        ours[mean_columns].to_numpy(), reference[mean_columns].to_numpy(), rtol=1e-12
    )
    # A new observation of unit weight: statsmodels' default (weights=1 at prediction).
    np.testing.assert_allclose(
        ours[COLUMNS[4:]].to_numpy(), reference[COLUMNS[4:]].to_numpy(), rtol=1e-12
    )


def test_rows_with_missing_values_predict_nan_in_every_column(stackloss):
    X, y = stackloss
    fit = LinearRegression().fit(X, y)
    new = X.iloc[:4].copy()
    new.iloc[1, 0] = np.nan
    frame = fit.predict_frame(new)
    assert frame.iloc[1].isna().all()
    assert frame.drop(index=new.index[1]).notna().all().all()


def test_formula_fit_predicts_a_frame_from_new_data(stackloss):
    X, y = stackloss
    data = X.assign(stackloss=y)
    by_formula = LinearRegression().fit(data, formula="stackloss ~ airflow + np.log(acidconc)")
    by_arrays = LinearRegression().fit(X[["airflow"]].assign(log_acid=np.log(X["acidconc"])), y)
    new = data.iloc[3:7]
    expected = by_arrays.predict_frame(new[["airflow"]].assign(log_acid=np.log(new["acidconc"])))
    np.testing.assert_allclose(by_formula.predict_frame(new), expected, rtol=1e-13)


def test_identity_and_monotone_links_and_bad_alpha():
    matrix = np.array([[1.0, -1.0], [1.0, 2.0]])
    params, cov = np.array([0.3, 0.7]), np.array([[0.04, 0.01], [0.01, 0.09]])
    index = pd.Index(["a", "b"])
    plain = prediction_frame(matrix, params, cov, index=index)
    se = np.sqrt(np.einsum("ij,jk,ik->i", matrix, cov, matrix))
    np.testing.assert_allclose(plain["mean_se"], se, rtol=1e-15)
    # A decreasing inverse link: the interval ends are swapped back into order.
    flipped = prediction_frame(matrix, params, cov, index=index, inverse_link=lambda e: -e)
    np.testing.assert_allclose(flipped["mean_ci_lower"], -plain["mean_ci_upper"], rtol=1e-15)
    assert (flipped["mean_ci_lower"] < flipped["mean_ci_upper"]).all()
    with pytest.raises(SettingsError, match="alpha must be in"):
        prediction_frame(matrix, params, cov, index=index, alpha=1.5)
