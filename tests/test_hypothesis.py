"""Joint Wald tests and likelihood-ratio tests (estimators/hypothesis.py).

Reference numbers: tests/reference/hypothesis.json, written by
tests/reference/make_hypothesis.py with statsmodels (versions recorded in the
JSON; each case records the statsmodels call that produced it).
"""

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset
from formulaic.utils.constraints import LinearConstraints
from scipy import stats

from estimators.errors import DataError, EstimationError, SettingsError
from estimators.glm import GLM, LogisticRegression
from estimators.hypothesis import LRTest, NotNestedWarning, WaldTest, lr_test, wald_test
from estimators.location import Mean
from estimators.quantile import QuantileRegression
from estimators.regression import LinearRegression

REFERENCE = json.loads((Path(__file__).parent / "reference" / "hypothesis.json").read_text())
STACKLOSS = "stackloss ~ airflow + watertemp + acidconc"
ANES_LOGIT = "vote ~ TVnews + selfLR + age + educ + income"
ANES_OLS = "selfLR ~ age + educ + income + TVnews"
# statsmodels and our fits reach the same optimum to about 1e-13 relative
# (measured 2e-15 .. 3e-13 on these cases); 1e-8 is the issue's target.
RTOL = 1e-8


@pytest.fixture(scope="module")
def stackloss():
    return load_dataset("stackloss")


@pytest.fixture(scope="module")
def anes():
    return load_dataset("anes96")


@pytest.fixture(scope="module")
def ols(stackloss):
    return LinearRegression().fit(stackloss, formula=STACKLOSS)


@pytest.fixture(scope="module")
def logit(anes):
    return LogisticRegression().fit(anes, formula=ANES_LOGIT)


def _fit_for(case, stackloss, anes):
    """Our estimator for each reference case (settings mirror the recorded statsmodels call)."""
    if case.startswith("logit"):
        return LogisticRegression().fit(anes, formula=ANES_LOGIT)
    if case == "ols_cluster_F":
        return LinearRegression(cov_type="cluster").fit(anes, formula=ANES_OLS, groups="PID")
    settings = {
        "ols_nonrobust_F": {},
        "ols_nonrobust_q": {},
        "ols_nonrobust_chi2": {"use_t": False},
        "ols_HC1_F": {"cov_type": "HC1"},
        "ols_HAC2_F": {"cov_type": "HAC", "cov_options": {"maxlags": 2}},
    }[case]
    return LinearRegression(**settings).fit(stackloss, formula=STACKLOSS)


# ---------------------------------------------------------------- against statsmodels
@pytest.mark.parametrize("case", sorted(REFERENCE["wald"]))
def test_wald_matches_statsmodels(case, stackloss, anes):
    ref = REFERENCE["wald"][case]
    fit = _fit_for(case, stackloss, anes)
    expected_params = pd.Series(ref["params"])
    np.testing.assert_allclose(fit.params_[expected_params.index], expected_params, rtol=1e-9)
    result = fit.wald_test(ref["hypothesis"])
    assert result.distribution == ref["distribution"]
    assert result.df_num == ref["df_num"]
    assert result.df_denom == ref["df_denom"]
    np.testing.assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    np.testing.assert_allclose(result.p_value, ref["p_value"], rtol=RTOL)


def _lr_fits(case, stackloss, anes, cls):
    ref = REFERENCE["lr"][case]
    data = anes if case.startswith("logit") else stackloss
    restricted = cls().fit(data, formula=ref["restricted"])
    full = cls().fit(data, formula=ref["full"])
    return ref, restricted, full


@pytest.mark.parametrize("cls", [LinearRegression, lambda: GLM("gaussian")])
@pytest.mark.parametrize("case", ["ols_drop_acidconc", "ols_airflow_only"])
def test_lr_test_matches_statsmodels_ols(case, cls, stackloss, anes):
    ref, restricted, full = _lr_fits(case, stackloss, anes, cls)
    result = lr_test(restricted, full)
    assert result.df == ref["df"]
    np.testing.assert_allclose(result.llf_full, ref["llf_full"], rtol=1e-10)
    np.testing.assert_allclose(result.llf_restricted, ref["llf_restricted"], rtol=1e-10)
    np.testing.assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    np.testing.assert_allclose(result.p_value, ref["p_value"], rtol=RTOL)


@pytest.mark.parametrize("case", ["logit_drop_TVnews_age", "logit_null"])
def test_lr_test_matches_statsmodels_logit(case, stackloss, anes):
    ref, restricted, full = _lr_fits(case, stackloss, anes, LogisticRegression)
    result = lr_test(restricted, full)
    assert result.df == ref["df"]
    np.testing.assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    np.testing.assert_allclose(result.p_value, ref["p_value"], rtol=RTOL)
    assert isinstance(result, LRTest)
    if case == "logit_null":  # the intercept-only log-likelihood has a closed form
        y = anes["vote"].to_numpy(dtype=float)
        p = y.mean()
        exact = len(y) * (p * np.log(p) + (1 - p) * np.log(1 - p))
        np.testing.assert_allclose(result.llf_restricted, exact, rtol=1e-13)
    assert "chi2(" in str(result) and f"{result.statistic:.6g}" in str(result)


# ---------------------------------------------------------------- identities
def test_one_restriction_F_is_t_squared(ols):
    table = ols.summary()
    result = ols.wald_test("acidconc = 0")
    t = table.loc["acidconc", "statistic"]
    np.testing.assert_allclose(result.statistic, t**2, rtol=1e-12)
    np.testing.assert_allclose(result.p_value, table.loc["acidconc", "p_value"], rtol=1e-10)


def test_chi2_statistic_is_the_quadratic_form(ols):
    """W = d' (R V R')^-1 d computed here with numpy, independently of the module."""
    R = np.array([[0.0, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    q = np.array([0.5, 0.0])
    d = R @ ols.params_.to_numpy() - q
    W = d @ np.linalg.solve(R @ ols.cov_.to_numpy() @ R.T, d)
    result = wald_test(ols.params_, ols.cov_, R, q, df_denom=None)
    np.testing.assert_allclose(result.statistic, W, rtol=1e-12)
    np.testing.assert_allclose(result.p_value, stats.chi2.sf(W, 2), rtol=1e-12)
    f = wald_test(ols.params_, ols.cov_, R, q, df_denom=17)
    np.testing.assert_allclose(f.statistic, W / 2, rtol=1e-12)
    np.testing.assert_allclose(f.p_value, stats.f.sf(W / 2, 2, 17), rtol=1e-12)


def test_every_form_of_the_hypothesis_gives_the_same_test(ols):
    names = list(ols.params_.index)
    text = ols.wald_test("airflow = watertemp, acidconc = 0.1")
    R = np.array([[0.0, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    frame = pd.DataFrame({"airflow": [1.0, 0.0], "watertemp": [-1.0, 0.0], "acidconc": [0, 1]})
    constraints = LinearConstraints.from_spec((R, [0.0, 0.1]), variable_names=names)
    for other in (
        ols.wald_test(R, [0.0, 0.1]),
        ols.wald_test(frame, np.array([0.0, 0.1])),
        ols.wald_test(constraints),
        ols.wald_test(["airflow = watertemp", "acidconc = 0.1"]),
    ):
        assert other.statistic == pytest.approx(text.statistic, rel=1e-14)
        assert list(other.R.index) == list(text.R.index)
    np.testing.assert_array_equal(text.R.to_numpy(), R)
    assert text.q.tolist() == [0.0, 0.1]
    assert list(text.R.columns) == names
    one_row = ols.wald_test(np.array([0.0, 0.0, 0.0, 1.0]), 0.1)
    assert one_row.statistic == pytest.approx(ols.wald_test("acidconc = 0.1").statistic)


def test_text_of_the_result(ols):
    result = ols.wald_test("2*airflow - watertemp = 1, acidconc")
    assert list(result.R.index) == ["2*airflow - watertemp = 1", "acidconc = 0"]
    text = str(result)
    assert text.splitlines()[0] == (
        f"Wald test of 2 restrictions: F(2, 17) = {result.statistic:.6g}, "
        f"p-value = {result.p_value:.4g}"
    )
    assert "  2*airflow - watertemp = 1" in text
    assert repr(result).startswith("WaldTest(statistic=")
    assert "distribution='F'" in repr(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.statistic = 0.0


def test_names_that_need_backticks(stackloss):
    fit = LinearRegression().fit(stackloss, formula="stackloss ~ np.log(airflow) + watertemp")
    assert "np.log(airflow)" in fit.params_.index
    result = fit.wald_test("`np.log(airflow)` = 0")
    np.testing.assert_allclose(
        result.statistic, fit.summary().loc["np.log(airflow)", "statistic"] ** 2, rtol=1e-12
    )


# ---------------------------------------------------------------- bad input
def test_unknown_name_lists_the_parameters_and_suggests(ols):
    with pytest.raises(SettingsError, match=r"'airflw'.*did you mean 'airflow'.*acidconc"):
        ols.wald_test("airflw = 0")


@pytest.mark.parametrize(
    ("hypothesis", "message"),
    [
        ("airflow = 0, airflow = 0", r"restriction\(s\) \['2 \(airflow = 0\)'\]"),
        ("airflow = watertemp, watertemp = airflow", r"'2 \(-airflow \+ watertemp = 0\)'"),
        ("airflow = airflow", r"involve no parameter"),
        ("airflow = watertemp = 0", r"2 '=' signs.*separate restrictions"),
        ("airflow == 0", r"cannot read the hypothesis"),
        ("airflow * watertemp = 0", r"cannot read the hypothesis"),
    ],
)
def test_bad_restrictions(ols, hypothesis, message):
    with pytest.raises(SettingsError, match=message):
        ols.wald_test(hypothesis)


@pytest.mark.parametrize(
    ("R", "value", "message"),
    [
        (np.ones((1, 3)), None, r"must have 4 columns"),
        (np.ones((2, 4)), [1.0, 2.0, 3.0], r"value has 3 entries but .* 2 rows"),
        (np.zeros((0, 4)), None, r"no rows"),
        (np.array([[np.nan, 1, 0, 0]]), None, r"1 NaN or infinite"),
        (pd.DataFrame({"airflowz": [1.0]}), None, r"columns \['airflowz'\]"),
        ("airflow", 1.0, r"value= is for a matrix hypothesis"),
        ({"airflow"}, None, r"hypothesis must be a string"),
    ],
)
def test_bad_matrices(ols, R, value, message):
    with pytest.raises(SettingsError, match=message):
        ols.wald_test(R, value)


def test_nan_covariance_is_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = Mean().fit([3.0])  # one observation: no standard error
    with pytest.raises(EstimationError, match=r"no covariance for \['mean'\]"):
        fit.wald_test("mean = 0")
    with pytest.raises(EstimationError, match=r"\(NaN\): one row only"):
        wald_test(fit.params_, fit.cov_, "mean = 0", df_denom=None, cov_note="one row only")


def test_singular_restriction_covariance():
    params = pd.Series([1.0, 2.0], index=["a", "b"])
    cov = pd.DataFrame(np.ones((2, 2)), index=params.index, columns=params.index)
    with pytest.raises(EstimationError, match="singular"):
        wald_test(params, cov, "a = 0, b = 0", df_denom=None)


def test_bad_df_denom_and_cov(ols):
    with pytest.raises(SettingsError, match="df_denom must be positive"):
        wald_test(ols.params_, ols.cov_, "airflow = 0", df_denom=0)
    with pytest.raises(SettingsError, match="labelled by the parameters"):
        wald_test(ols.params_, ols.cov_.iloc[:3, :3], "airflow = 0", df_denom=None)


def test_lr_test_needs_likelihoods(stackloss, ols):
    quantile = QuantileRegression().fit(stackloss, formula="stackloss ~ airflow")
    with pytest.raises(SettingsError, match="QuantileRegression, has no likelihood"):
        lr_test(quantile, ols)
    with pytest.raises(SettingsError, match="not fitted"):
        lr_test(LinearRegression(), ols)


def test_lr_test_checks_the_pair(stackloss, ols):
    small = LinearRegression().fit(stackloss, formula="stackloss ~ airflow")
    with pytest.raises(SettingsError, match="must have fewer"):
        lr_test(ols, small)
    fewer_rows = LinearRegression().fit(stackloss.iloc[1:], formula="stackloss ~ airflow")
    with pytest.raises(DataError, match=r"different numbers of observations \(20 restricted"):
        lr_test(fewer_rows, ols)


def test_lr_test_warns_when_not_nested(stackloss, ols):
    other = LinearRegression().fit(stackloss, formula="stackloss ~ I(airflow + watertemp)")
    with pytest.warns(NotNestedWarning, match=r"\['I\(airflow \+ watertemp\)'\]"):
        result = lr_test(other, ols)
    assert result.df == 2
    response = LinearRegression().fit(stackloss, formula="airflow ~ watertemp")
    with pytest.warns(NotNestedWarning, match="different responses"):
        lr_test(response, ols)


def test_wald_result_fields(ols):
    result = ols.wald_test("airflow = 0")
    assert isinstance(result, WaldTest)
    assert result.q.name == "q"
    assert result.R.loc["airflow = 0"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_parameters_not_involved_may_be_nan():
    params = pd.Series([1.0, np.nan], index=["a", "b"])
    cov = pd.DataFrame([[4.0, np.nan], [np.nan, np.nan]], index=params.index, columns=params.index)
    result = wald_test(params, cov, "a = 0", df_denom=None)
    assert result.statistic == pytest.approx(0.25, rel=1e-15)
    with pytest.raises(EstimationError, match=r"estimates of \['b'\] are not finite"):
        wald_test(params, cov, "b = 0", df_denom=None)
