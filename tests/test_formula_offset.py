"""Offsets and exposures through the formula (R's ``offset(expr)``) and by column name.

References: the same GLM fitted with ``offset=`` / ``exposure=`` given as
arrays (the array path, itself checked against statsmodels in test_glm.py),
with which the formula fit must agree exactly (``assert_array_equal``); and
statsmodels 0.15 ``smf.glm(formula, data, offset=...)``, fitted live by Newton
(``method="newton", tol=1e-13``, the same estimator), with which it must agree
to the tolerances of test_glm.py (observed: about 1e-14 relative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose, assert_array_equal

from estimators.errors import DataError, SettingsError
from estimators.formula import apply_spec, design_from_formula
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.regression import LinearRegression
from estimators.robust import HuberRegression

RTOL = 1e-8  # params and standard errors vs statsmodels, as test_glm.py
FORMULA = "claims ~ x + C(region)"
N = 400


@pytest.fixture(scope="module")
def claims() -> pd.DataFrame:
    """Simulated claim counts over policy years ``t``: log E[claims] = b'x + log t."""
    rng = np.random.default_rng(20240605)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "region": rng.choice(["north", "south", "west"], size=N),
            "t": rng.uniform(0.2, 5.0, size=N),
            "z": rng.normal(scale=0.1, size=N),
        },
        index=[f"p{i}" for i in range(N)],
    )
    effect = df["region"].map({"north": 0.0, "south": 0.4, "west": -0.3})
    rate = np.exp(-1.0 + 0.5 * df["x"] + effect)
    df["claims"] = rng.poisson(rate * df["t"]).astype(float)
    df["bought"] = (rng.uniform(size=N) < 1 / (1 + np.exp(-(df["x"] + df["z"])))).astype(float)
    return df


@pytest.fixture(scope="module")
def array_fit(claims) -> GLM:
    """The reference: the formula's design by hand, the offset as an array."""
    X = pd.DataFrame(
        {
            "x": claims["x"],
            "C(region)[T.south]": (claims["region"] == "south") * 1.0,
            "C(region)[T.west]": (claims["region"] == "west") * 1.0,
        }
    )
    return GLM("poisson").fit(X, claims["claims"], offset=np.log(claims["t"]))


@pytest.fixture(scope="module")
def formula_fit(claims) -> GLM:
    return GLM("poisson").fit(claims, formula=FORMULA + " + offset(np.log(t))")


def assert_identical(fit, ref) -> None:
    """The same computation: parameters, standard errors and likelihoods bit for bit."""
    assert list(fit.params_.index) == list(ref.params_.index)
    assert_array_equal(fit.params_.to_numpy(), ref.params_.to_numpy())
    assert_array_equal(fit.std_errors_.to_numpy(), ref.std_errors_.to_numpy())
    assert fit.llf_ == ref.llf_ and fit.llnull_ == ref.llnull_
    assert fit.deviance_ == ref.deviance_
    assert fit.converged_ and ref.converged_


def statsmodels_fit(data: pd.DataFrame, formula: str, family, **kwargs):
    """statsmodels 0.15 formula GLM by Newton (observed information), tight tolerance."""
    model = smf.glm(formula, data=data, family=family, **kwargs)
    return model.fit(method="newton", tol=1e-13, maxiter=200)


# --------------------------------------------------------------------------- fit


def test_formula_offset_equals_the_offset_argument_exactly(formula_fit, array_fit):
    assert_identical(formula_fit, array_fit)
    assert "offset(np.log(t))" not in formula_fit.params_.index


def test_formula_offset_matches_statsmodels_glm_with_offset(claims, formula_fit):
    ref = statsmodels_fit(claims, FORMULA, sm.families.Poisson(), offset=np.log(claims["t"]))
    names = list(formula_fit.params_.index)  # patsy orders the terms differently
    assert sorted(names) == sorted(ref.params.index)
    assert_allclose(formula_fit.params_.to_numpy(), ref.params[names].to_numpy(), rtol=RTOL)
    assert_allclose(formula_fit.std_errors_.to_numpy(), ref.bse[names].to_numpy(), rtol=RTOL)
    assert_allclose(formula_fit.llf_, ref.llf, rtol=1e-11)
    assert_allclose(formula_fit.llnull_, ref.llnull, rtol=1e-11)
    assert_allclose(formula_fit.deviance_, ref.deviance, rtol=1e-10)


def test_exposure_by_column_name_equals_the_formula_offset(claims, formula_fit):
    with_formula = GLM("poisson").fit(claims, formula=FORMULA, exposure="t")
    assert_identical(with_formula, formula_fit)
    assert with_formula.offset_columns_ == {"exposure": "t"}
    # Without a formula the named column is the exposure, not also a regressor.
    X = claims[["x", "t"]]
    by_name = PoissonRegression().fit(X, claims["claims"], exposure="t")
    by_value = PoissonRegression().fit(claims[["x"]], claims["claims"], exposure=claims["t"])
    assert_identical(by_name, by_value)
    assert list(by_name.params_.index) == ["Intercept", "x"]


def test_offset_by_column_name_equals_the_offset_argument(claims, array_fit):
    data = claims.assign(log_t=np.log(claims["t"]))
    fit = GLM("poisson").fit(data, formula=FORMULA, offset="log_t")
    assert_identical(fit, array_fit)


def test_several_offset_terms_add_up_and_exposure_may_join_them(claims):
    total = np.log(claims["t"]) + claims["z"]
    ref = GLM("poisson").fit(claims[["x"]], claims["claims"], offset=total)
    two_terms = GLM("poisson").fit(claims, formula="claims ~ x + offset(np.log(t)) + offset(z)")
    assert_identical(two_terms, ref)
    with_exposure = GLM("poisson").fit(claims, formula="claims ~ x + offset(z)", exposure="t")
    assert_identical(with_exposure, ref)


def test_logistic_regression_takes_a_formula_offset(claims):
    fit = LogisticRegression().fit(claims, formula="bought ~ x + offset(z)")
    ref = LogisticRegression().fit(claims[["x"]], claims["bought"], offset=claims["z"])
    assert_identical(fit, ref)
    sm_ref = statsmodels_fit(claims, "bought ~ x", sm.families.Binomial(), offset=claims["z"])
    assert_allclose(fit.params_.to_numpy(), sm_ref.params.to_numpy(), rtol=RTOL)
    assert_allclose(fit.std_errors_.to_numpy(), sm_ref.bse.to_numpy(), rtol=RTOL)


def test_missing_offset_values_raise_or_drop_like_any_missing_value(claims):
    data = claims.copy()
    data.loc[["p1", "p7", "p9"], "t"] = np.nan
    with pytest.raises(DataError, match=r"3 of 400 rows.*'t': 3 row\(s\).*'p1', 'p7', 'p9'"):
        GLM("poisson").fit(data, formula=FORMULA + " + offset(np.log(t))")
    fit = GLM("poisson", missing="drop").fit(data, formula=FORMULA + " + offset(np.log(t))")
    kept = data.dropna(subset=["t"])
    ref = GLM("poisson").fit(kept, formula=FORMULA + " + offset(np.log(t))")
    assert_identical(fit, ref)
    assert fit.n_dropped_ == 3 and ref.n_dropped_ == 0


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # numpy's log(0)
def test_an_infinite_offset_is_a_data_error_naming_the_term(claims):
    data = claims.assign(t=claims["t"].where(claims.index != "p4", 0.0))
    with pytest.raises(DataError, match=r"offset term\(s\) \['offset\(np.log\(t\)\)'\].*'p4'"):
        GLM("poisson").fit(data, formula=FORMULA + " + offset(np.log(t))")


# --------------------------------------------------------------------------- predict


def test_predict_recomputes_the_offset_from_the_new_rows(claims, formula_fit, array_fit):
    new = pd.DataFrame(
        {"x": [0.3, -1.2, np.nan], "region": ["west", "north", "south"], "t": [2.0, 0.5, 1.0]},
        index=["a", "b", "c"],
    )
    pred = formula_fit.predict(new)
    assert list(pred.index) == ["a", "b", "c"]
    b = formula_fit.params_
    by_hand = np.exp(b["Intercept"] + 0.3 * b["x"] + b["C(region)[T.west]"] + np.log(2.0))
    assert pred["a"] == pytest.approx(by_hand, rel=1e-14)
    assert np.isnan(pred["c"])  # a missing regressor predicts NaN
    design = apply_spec(formula_fit.formula_spec_, new)
    ref = array_fit.predict(design.drop(columns="Intercept"), offset=np.log(new["t"]))
    assert_array_equal(pred.to_numpy(), ref.to_numpy())
    # statsmodels' predict with the offset of the new rows
    sm_fit = statsmodels_fit(claims, FORMULA, sm.families.Poisson(), offset=np.log(claims["t"]))
    sm_pred = sm_fit.predict(new.iloc[:2], offset=np.log(new["t"].iloc[:2]))
    assert_allclose(pred.iloc[:2].to_numpy(), np.asarray(sm_pred), rtol=1e-10)


def test_predict_frame_uses_the_formula_offset(claims, formula_fit):
    new = claims.iloc[:5]
    frame = formula_fit.predict_frame(new)
    assert list(frame.index) == list(new.index)
    assert_array_equal(frame["mean"].to_numpy(), formula_fit.predict(new).to_numpy())
    sm_fit = statsmodels_fit(claims, FORMULA, sm.families.Poisson(), offset=np.log(claims["t"]))
    sm_frame = sm_fit.get_prediction(new, offset=np.log(new["t"])).summary_frame()
    assert_allclose(frame["mean"], sm_frame["mean"], rtol=1e-10)
    assert_allclose(frame["mean_se"], sm_frame["mean_se"], rtol=1e-10)
    assert_allclose(frame["mean_ci_lower"], sm_frame["mean_ci_lower"], rtol=1e-10)


def test_predict_reads_the_exposure_column_the_fit_named(claims):
    fit = PoissonRegression().fit(claims[["x", "t"]], claims["claims"], exposure="t")
    new = claims[["x", "t"]].iloc[:4]
    expected = fit.predict(new[["x"]], exposure=new["t"])
    assert_array_equal(fit.predict(new).to_numpy(), expected.to_numpy())
    assert_array_equal(fit.predict_frame(new)["mean"].to_numpy(), expected.to_numpy())
    with pytest.raises(DataError, match=r"fitted with exposure='t'.*no column 't'"):
        fit.predict(new[["x"]])


def test_predict_without_the_offset_column_is_a_data_error(formula_fit, claims):
    with pytest.raises(DataError, match=r"lacks column\(s\) \['t'\].*offset term 'offset"):
        formula_fit.predict(claims[["x", "region"]])


def test_apply_spec_leaves_the_offset_out_of_the_design(claims):
    X, y, spec = design_from_formula(claims, "claims ~ x + offset(np.log(t))", missing="raise")
    assert list(X.columns) == ["Intercept", "x"] and y.name == "claims"
    assert list(apply_spec(spec, claims.iloc[:3]).columns) == ["Intercept", "x"]


# --------------------------------------------------------------------------- errors


def test_offset_argument_and_formula_offset_together_are_ambiguous(claims, formula_fit):
    with pytest.raises(SettingsError, match="offset one way only"):
        GLM("poisson").fit(claims, formula=FORMULA + " + offset(np.log(t))", offset=np.zeros(N))
    with pytest.raises(SettingsError, match="recomputed from X; pass no offset="):
        formula_fit.predict(claims.iloc[:2], offset=[0.0, 0.0])


@pytest.mark.parametrize("estimator", [LinearRegression(), HuberRegression()])
def test_estimators_without_an_offset_refuse_offset_terms(claims, estimator):
    with pytest.raises(
        SettingsError, match=r"has no offset.*accepted by GLM, PoissonRegression, Logistic"
    ):
        estimator.fit(claims, formula="claims ~ x + offset(np.log(t))")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("claims ~ x + x:offset(t)", "term of its own"),
        ("claims ~ x + np.exp(offset(t))", "not inside another expression"),
        ("offset(claims) ~ x", "offset\\(\\) in its response"),
    ],
)
def test_misplaced_offset_is_a_data_error(claims, formula, message):
    with pytest.raises(DataError, match=message):
        GLM("poisson").fit(claims, formula=formula)


def test_a_data_column_named_offset_is_a_regressor_and_hides_offset(claims):
    data = claims.assign(offset=claims["z"])
    fit = GLM("poisson").fit(data, formula="claims ~ x + offset")
    assert list(fit.params_.index) == ["Intercept", "x", "offset"]
    with pytest.raises(DataError, match="column named 'offset', which hides offset"):
        GLM("poisson").fit(data, formula="claims ~ x + offset(np.log(t))")


def test_offset_column_names_are_checked(claims):
    with pytest.raises(DataError, match=r"exposure='tt' is not a column.*did you mean \['t'\]"):
        GLM("poisson").fit(claims, formula=FORMULA, exposure="tt")
    with pytest.raises(SettingsError, match="names a column, but X is a ndarray"):
        GLM("poisson").fit(claims[["x"]].to_numpy(), claims["claims"], exposure="t")
