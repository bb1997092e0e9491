"""GLM: agreement with statsmodels on the shipped data, offsets, separation, bad input, the API.

Every reference is computed live with statsmodels 0.15 (``GLM.fit(method="newton",
tol=1e-13)``: Newton with the observed information, the same estimator and
covariance as ours; ``cov_type="eim"`` for the expected information;
``discrete_model.NegativeBinomial`` for NB2 with alpha estimated).
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from estimators.datasets import load_dataset
from statsmodels.discrete.discrete_model import NegativeBinomial

import estimators.families
import estimators.glm
import estimators.glm_design
import estimators.glm_inference
import estimators.glm_kernels
import estimators.glm_start
import estimators.separation
from estimators.errors import ConvergenceWarning, DataError, FitError, SettingsError
from estimators.glm import GLM, LogisticRegression, PerfectSeparationWarning, PoissonRegression

RTOL = 1e-8  # params and standard errors vs statsmodels (observed: about 1e-13)
LINKS = sm.families.links
ANES_COLUMNS = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income"]


def sm_newton(y, X, family, **fit_kwargs):
    """statsmodels 0.15 GLM by Newton (observed information), tight tolerance."""
    model = sm.GLM(y, sm.add_constant(X), family=family, **fit_kwargs.pop("model", {}))
    return model.fit(method="newton", tol=1e-13, maxiter=200, **fit_kwargs)


def assert_agrees(fitted, ref, rtol=RTOL):
    """Params, SEs, z statistics and the fit statistics agree with a statsmodels result."""
    np.testing.assert_allclose(fitted.params_.to_numpy(), np.asarray(ref.params), rtol=rtol)
    np.testing.assert_allclose(fitted.std_errors_.to_numpy(), np.asarray(ref.bse), rtol=rtol)
    table = fitted.summary()
    np.testing.assert_allclose(table["statistic"], np.asarray(ref.tvalues), rtol=rtol)
    np.testing.assert_allclose(table["p_value"], np.asarray(ref.pvalues), rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(fitted.llf_, ref.llf, rtol=1e-11)
    np.testing.assert_allclose(fitted.aic_, ref.aic, rtol=1e-11)
    bic = ref.bic_llf if hasattr(ref, "bic_llf") else ref.bic
    np.testing.assert_allclose(fitted.bic_, bic, rtol=1e-11)
    if hasattr(ref, "deviance"):  # GLM results (not discrete NegativeBinomial)
        np.testing.assert_allclose(fitted.deviance_, ref.deviance, rtol=1e-10)
        np.testing.assert_allclose(fitted.pearson_chi2_, ref.pearson_chi2, rtol=1e-10)
        np.testing.assert_allclose(fitted.scale_, ref.scale, rtol=1e-10)
    assert fitted.converged_ and not fitted.separated_


def fit_quietly(estimator, *args, **kwargs):
    """Fit and fail on any warning (none is expected on well-posed data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def anes():
    data = load_dataset("anes96")
    return data[ANES_COLUMNS], data["vote"]


@pytest.fixture(scope="module")
def randhie():
    data = load_dataset("randhie")
    return data.drop(columns="mdvis"), data["mdvis"]


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    "link, sm_link", [("logit", LINKS.Logit), ("probit", LINKS.Probit), ("cloglog", LINKS.CLogLog)]
)
def test_binomial_links_match_statsmodels_on_anes96(anes, link, sm_link):
    X, y = anes
    fitted = fit_quietly(GLM("binomial", link), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Binomial(sm_link())))
    assert list(fitted.params_.index) == ["Intercept", *ANES_COLUMNS]


def test_expected_information_matches_statsmodels_eim(anes):
    """Probit and the gamma log link are not canonical: observed and expected
    information differ, and each matches statsmodels."""
    X, y = anes
    fitted = fit_quietly(GLM("binomial", "probit", information="expected"), X, y)
    ref = sm_newton(y, X, sm.families.Binomial(LINKS.Probit()), cov_type="eim")
    assert_agrees(fitted, ref)
    observed = GLM("binomial", "probit").fit(X, y).std_errors_
    assert np.max(np.abs(observed / fitted.std_errors_ - 1)) > 1e-4
    strikes = load_dataset("strikes")
    X, y = strikes[["iprod"]], strikes["duration"]
    fitted = fit_quietly(GLM("gamma", "log", information="expected"), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Gamma(LINKS.Log()), cov_type="eim"))


def test_poisson_matches_statsmodels_on_randhie(randhie):
    X, y = randhie
    fitted = fit_quietly(GLM("poisson"), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Poisson()))
    again = PoissonRegression().fit(X, y)  # the thin subclass is the same model
    np.testing.assert_array_equal(again.params_, fitted.params_)


def test_negative_binomial_with_estimated_alpha_matches_statsmodels_nb2(randhie):
    X, y = randhie
    fitted = fit_quietly(GLM("negative_binomial"), X, y)
    ref = NegativeBinomial(y, sm.add_constant(X)).fit(
        method="newton", tol=1e-13, maxiter=200, disp=0
    )
    assert fitted.params_.index[-1] == "alpha" and fitted.alpha_ == fitted.params_["alpha"]
    assert_agrees(fitted, ref)


def test_negative_binomial_with_fixed_alpha_matches_statsmodels_glm(randhie):
    X, y = randhie
    fitted = fit_quietly(GLM("negative_binomial", alpha=1.2), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.NegativeBinomial(alpha=1.2)))
    assert "alpha" not in fitted.params_.index and fitted.alpha_ == 1.2


def test_gamma_log_link_matches_statsmodels_on_strikes():
    data = load_dataset("strikes")
    X, y = data[["iprod"]], data["duration"]
    fitted = fit_quietly(GLM("gamma", "log"), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Gamma(LINKS.Log())))


@pytest.mark.filterwarnings("ignore:The InversePower link function does not respect")
def test_gamma_inverse_link_matches_statsmodels_from_a_valid_start():
    """statsmodels' default start (IRLS from mu = (y + ybar)/2) lands on a root of the
    score with negative fitted means (params 0.0256, 0.358; fitted mean -84.8 for the
    strike with iprod = -0.104): not a likelihood maximum. Started where we start
    (intercept 1/ybar, slope 0) it finds the valid maximum, which is ours."""
    data = load_dataset("strikes")
    X, y = data[["iprod"]], data["duration"]
    fitted = fit_quietly(GLM("gamma"), X, y)
    ref = sm_newton(y, X, sm.families.Gamma(LINKS.InversePower()), start_params=[1 / y.mean(), 0])
    assert_agrees(fitted, ref)
    assert fitted.link_ == "inverse" and (fitted.mu_ > 0).all()


def test_gaussian_matches_statsmodels_on_engel():
    data = load_dataset("engel")
    X, y = data[["income"]], data["foodexp"]
    fitted = fit_quietly(GLM(), X, y)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Gaussian()), rtol=1e-10)
    # the loss history is half the mean deviance: here SSR / (2 n)
    assert fitted.history_["loss"].iloc[-1] == pytest.approx(fitted.deviance_ / (2 * 235), 1e-12)


def test_frequency_weights_match_statsmodels_freq_weights(anes):
    X, y = anes
    weights = 1 + np.arange(len(y)) % 3
    fitted = fit_quietly(LogisticRegression(), X, y, sample_weight=weights)
    ref = sm_newton(y, X, sm.families.Binomial(), model={"freq_weights": weights})
    assert_agrees(fitted, ref)
    assert fitted.nobs_ == weights.sum()


def test_binomial_proportions_with_trials_as_weights_match_statsmodels_counts():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    trials = rng.integers(1, 30, size=40)
    successes = rng.binomial(trials, 1 / (1 + np.exp(-(0.3 + 0.8 * x))))
    fitted = fit_quietly(GLM("binomial"), x, successes / trials, sample_weight=trials)
    ref = sm_newton(np.column_stack([successes, trials - successes]), x, sm.families.Binomial())
    np.testing.assert_allclose(fitted.params_, ref.params, rtol=RTOL)
    np.testing.assert_allclose(fitted.std_errors_, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(fitted.deviance_, ref.deviance, rtol=1e-10)


# --------------------------------------------------------------------------- offsets


@pytest.fixture(scope="module")
def exposure_data():
    rng = np.random.default_rng(7)
    n = 500
    X = pd.DataFrame({"age": rng.uniform(20, 70, n), "smoker": rng.integers(0, 2, n)})
    exposure = rng.uniform(0.5, 10.0, n)
    offset = rng.normal(0, 0.1, n)
    mu = exposure * np.exp(offset - 3 + 0.03 * X["age"] + 0.5 * X["smoker"])
    return X, pd.Series(rng.poisson(mu), name="events"), exposure, offset


def test_offset_and_exposure_match_statsmodels(exposure_data):
    X, y, exposure, offset = exposure_data
    fitted = fit_quietly(GLM("poisson"), X, y, exposure=exposure, offset=offset)
    ref = sm_newton(y, X, sm.families.Poisson(), model={"exposure": exposure, "offset": offset})
    assert_agrees(fitted, ref)
    new = X.iloc[:5]
    np.testing.assert_allclose(
        fitted.predict(new, exposure=np.full(5, 2.0), offset=np.zeros(5)),
        ref.predict(
            sm.add_constant(new, has_constant="add"), exposure=np.full(5, 2.0), offset=np.zeros(5)
        ),
        rtol=1e-12,
    )


def test_offset_on_a_logit_matches_statsmodels(anes):
    X, y = anes
    offset = 0.05 * X["income"].to_numpy() - 0.5
    fitted = fit_quietly(LogisticRegression(), X, y, offset=offset)
    assert_agrees(fitted, sm_newton(y, X, sm.families.Binomial(), model={"offset": offset}))


def test_missing_offset_rows_are_dropped_with_the_rest(exposure_data):
    X, y, exposure, offset = exposure_data
    exposure = exposure.copy()
    exposure[10] = np.nan
    with pytest.raises(DataError, match=r"exposure has 1 missing \(NaN\) value"):
        GLM("poisson").fit(X, y, exposure=exposure)
    X = X.copy()
    X.iloc[3, 0] = np.nan
    fitted = GLM("poisson", missing="drop").fit(X, y, exposure=exposure)
    keep = np.ones(len(y), bool)
    keep[[3, 10]] = False
    ref = sm_newton(y[keep], X[keep], sm.families.Poisson(), model={"exposure": exposure[keep]})
    assert fitted.n_dropped_ == 2 and fitted.nobs_ == keep.sum()
    np.testing.assert_allclose(fitted.params_, ref.params, rtol=RTOL)
    np.testing.assert_allclose(fitted.std_errors_, ref.bse, rtol=RTOL)


# --------------------------------------------------------------------------- separation


def _separated(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.normal(0, 2, n))
    return x, (x > 0).astype(float)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_complete_separation_warns_and_is_flagged(link):
    x, y = _separated()
    with pytest.warns(PerfectSeparationWarning, match=r"perfect separation in y.*'x0'"):
        fitted = GLM("binomial", link).fit(x, y)
    assert issubclass(PerfectSeparationWarning, ConvergenceWarning)
    assert fitted.separated_ and not fitted.converged_
    assert np.all(np.isfinite(fitted.params_))
    assert fitted.n_iter_ <= 100  # stops; no endless loop


def test_quasi_complete_separation_warns():
    x, y = _separated()
    x[:6], y[:6] = 0.0, [0, 1, 0, 1, 0, 1]  # ties at x = 0 with both outcomes
    with pytest.warns(PerfectSeparationWarning, match="predicts 54 of 60 rows"):
        fitted = LogisticRegression().fit(x, y)
    assert fitted.separated_ and not fitted.converged_


def test_extreme_but_finite_fit_is_not_called_separated():
    """Fitted probabilities within 1e-8 of 0 and 1 trigger the exact check, which clears them."""
    x = np.r_[np.linspace(-60, -3, 29), -2.0, 2.0, np.linspace(3, 60, 29)]
    y = (x > 0).astype(float)
    y[[29, 30]] = [1.0, 0.0]  # overlap at -2 and 2: the MLE exists
    fitted = fit_quietly(LogisticRegression(), x, y)
    assert fitted.converged_ and not fitted.separated_
    assert fitted.mu_.min() < 1e-8 and fitted.mu_.max() > 1 - 1e-8
    ref = sm_newton(y, x, sm.families.Binomial())
    # the true intercept is 0 by symmetry: compare in standard-error units
    assert np.all(np.abs(fitted.params_ - ref.params) <= 1e-8 * ref.bse)
    np.testing.assert_allclose(fitted.std_errors_, ref.bse, rtol=RTOL)


def test_poisson_zero_separation_warns():
    x, _ = _separated()
    rng = np.random.default_rng(1)
    zero_group = (x < -1).astype(float)  # the only rows with y = 0
    y = np.where(zero_group == 1, 0.0, rng.poisson(3.0, len(x)) + 1.0)
    with pytest.warns(PerfectSeparationWarning, match="fitted means of exactly 0"):
        fitted = PoissonRegression().fit(np.column_stack([zero_group, x]), y)
    assert fitted.separated_ and not fitted.converged_


@pytest.mark.parametrize(
    "make, value, pattern",
    [
        (LogisticRegression, 1.0, "y is 1 on all 60 rows: the binomial family needs both"),
        (LogisticRegression, 0.0, "y is 0 on all 60 rows: the binomial family needs both"),
        (PoissonRegression, 0.0, "y is 0 on all 60 rows: the fitted means of the poisson"),
        (lambda: GLM("negative_binomial"), 0.0, "y is 0 on all 60 rows: the fitted means"),
    ],
)
def test_one_outcome_on_every_row_is_a_data_error(make, value, pattern):
    """The intercept separates a response at its boundary on every row: no MLE at all."""
    x, _ = _separated()
    with pytest.raises(DataError, match=pattern):
        make().fit(x, np.full(len(x), value))
    weights = np.ones(len(x))
    weights[:2] = 0.0  # rows without weight do not count (their y may differ)
    y = np.full(len(x), value)
    y[:2] = 1.0 - value if value in (0.0, 1.0) else 0.0
    with pytest.raises(DataError, match="on all 58 rows with a positive weight"):
        make().fit(x, y, sample_weight=weights)


def test_one_outcome_without_an_intercept_is_fitted_when_the_mle_exists():
    """No intercept and one column of both signs: y = 1 everywhere has a finite MLE
    (the loss sum log(1 + exp(-x b)) grows in both directions of b); statsmodels 0.15
    GLM (Newton, tol 1e-13) is the reference."""
    x, _ = _separated()
    y = np.ones(len(x))
    fitted = fit_quietly(LogisticRegression(fit_intercept=False), x, y)
    ref = sm.GLM(y, x[:, None], family=sm.families.Binomial())
    ref = ref.fit(method="newton", tol=1e-13, maxiter=200)
    np.testing.assert_allclose(fitted.params_, ref.params, rtol=RTOL)
    np.testing.assert_allclose(fitted.std_errors_, ref.bse, rtol=RTOL)


@pytest.mark.parametrize("link", ["log", "inverse"])
@pytest.mark.parametrize("value", [2.0, 3.7])
def test_gamma_fitted_exactly_is_a_data_error(link, value):
    """A constant y (fitted exactly by the intercept) makes the gamma dispersion 0:
    an infinite log-likelihood; a DataError, never a ZeroDivisionError."""
    x, _ = _separated()
    pattern = rf"y is fitted exactly on all 60 rows \(every y is {value:g}.*dispersion"
    with pytest.raises(DataError, match=pattern):
        GLM("gamma", link).fit(x, np.full(len(x), value))


def test_gamma_exact_fit_threshold_is_rounding_not_data():
    """check_dispersion: relative residuals of 2**-41 are rounding (an error), 1e-10 data."""
    from estimators.frame import Design

    y = np.array([1.0, 2.0, 3.0])
    design = Design(np.ones((3, 1)), y, np.ones(3), ["Intercept"], "y", pd.RangeIndex(3),
                    0, [], True)  # fmt: skip
    gamma = estimators.families.FAMILIES["gamma"]
    with pytest.raises(DataError, match="y is fitted exactly on all 3 rows"):
        estimators.glm_inference.check_dispersion(gamma, design, y * (1 + 2.0**-41))
    estimators.glm_inference.check_dispersion(gamma, design, y * (1 + 1e-10))
    poisson = estimators.families.FAMILIES["poisson"]  # dispersion 1: nothing to check
    estimators.glm_inference.check_dispersion(poisson, design, y)


def test_gamma_with_a_tiny_dispersion_matches_statsmodels():
    """Relative noise of 1e-6 is data, not rounding: fitted as statsmodels 0.15 does
    (scale_ about 1.2e-12)."""
    x, _ = _separated()
    noise = np.random.default_rng(3).normal(size=len(x))
    y = np.exp(0.3 + 0.2 * x) * (1 + 1e-6 * noise)
    fitted = fit_quietly(GLM("gamma", "log"), x, y)
    ref = sm_newton(y, x, sm.families.Gamma(LINKS.Log()))
    np.testing.assert_allclose(fitted.params_, ref.params, rtol=RTOL)
    # measured: scale_ and the SEs agree to 5e-12 (the scale is a sum of squares of 1e-6)
    np.testing.assert_allclose(fitted.scale_, ref.scale, rtol=1e-10)
    np.testing.assert_allclose(fitted.std_errors_, ref.bse, rtol=1e-10)
    assert 1e-12 < fitted.scale_ < 2e-12


@pytest.mark.parametrize("family", ["poisson", "gamma"])
def test_predicted_mean_overflow_is_a_data_error(family):
    """exp(eta) beyond float64 on new X near 1e300: the rows are counted, never inf."""
    x = np.arange(1.0, 7.0)
    y = [1.0, 2.0, 2.0, 3.0, 5.0, 6.0]
    fitted = GLM(family, "log").fit(x, y)
    new = pd.DataFrame({"x0": [1.0, 1e300, np.nan, 2e300, -1e300]})
    pattern = r"overflows float64 on 2 of 5 rows of X \(rows 1, 3\).*column 'x0'"
    with pytest.raises(DataError, match=pattern):
        fitted.predict(new)
    with pytest.raises(DataError, match=pattern):
        fitted.predict_frame(new)
    ok = fitted.predict(new.iloc[[0, 2, 4]])  # NaN where missing, 0 where eta is -1e300
    assert ok.iloc[0] > 0 and np.isnan(ok.iloc[1]) and ok.iloc[2] == 0.0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "family, y, pattern",
    [
        ("binomial", [0, 1, 2, -1, 1, 0], r"y must be in \[0, 1\].*2 of 6 rows"),
        ("poisson", [0, 1, 2.5, -1, 1, 0], r"non-negative for the poisson.*1 of 6 rows"),
        ("negative_binomial", [0, 1, 2.5, 1, 1, 0], r"non-negative integer.*1 of 6 rows"),
        ("gamma", [1.0, 0.0, 2.0, -1.0, 1.0, 3.0], r"positive for the gamma.*2 of 6 rows"),
    ],
)
def test_response_outside_the_family_domain_is_a_data_error(family, y, pattern):
    with pytest.raises(DataError, match=pattern):
        GLM(family).fit(np.arange(6.0), y)


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"family": "tweedie"}, r"unknown family 'tweedie'; valid families are \['gaussian'"),
        ({"family": "poisson", "link": "logit"}, r"valid links are \['log'\]"),
        ({"family": "binomial", "link": "sqrt"}, r"unknown link 'sqrt'.*'probit', 'cloglog'"),
        ({"family": "poisson", "alpha": 1.0}, "poisson family has none"),
        ({"family": "negative_binomial", "alpha": -1.0}, "positive number"),
        ({"family": "negative_binomial", "information": "expected"}, "fixed alpha"),
        ({"information": "fisher"}, "valid values"),
        ({"tol": 0.0}, "positive"),
    ],
)
def test_bad_settings_are_settings_errors(settings, pattern):
    with pytest.raises(SettingsError, match=pattern):
        GLM(**settings).fit(np.arange(6.0), [0, 1, 0, 1, 1, 0])


def test_bad_offsets_and_exposures_are_named():
    x, y = np.arange(6.0), [0, 1, 0, 3, 1, 0]
    with pytest.raises(SettingsError, match="log link"):
        GLM().fit(x, y, exposure=np.ones(6))
    with pytest.raises(DataError, match=r"exposure has 2 value\(s\) <= 0 out of 6 rows"):
        GLM("poisson").fit(x, y, exposure=[1, 0, -1, 1, 1, 1])
    with pytest.raises(DataError, match="offset has 5 rows but X has 6"):
        GLM("poisson").fit(x, y, offset=np.zeros(5))
    with pytest.raises(DataError, match=r"offset has 1 non-numeric"):
        GLM("poisson").fit(x, y, offset=[0, 0, "a", 0, 0, 0])
    with pytest.raises(DataError, match=r"offset has 1 infinite"):
        GLM("poisson").fit(x, y, offset=[0, 0, np.inf, 0, 0, 0])


def test_collinear_columns_are_named():
    x, y = _separated()
    y[::7] = 1 - y[::7]
    X = pd.DataFrame({"a": x, "b": np.sin(x), "a_twice": 2 * x})
    with pytest.raises(DataError, match=r"\['a_twice'\].*linear combinations"):
        LogisticRegression().fit(X, y)


# --------------------------------------------------------------------------- API


def test_estimator_api_and_prediction(anes):
    X, y = anes
    model = LogisticRegression(tol=1e-6)
    assert model.get_params() == {
        "fit_intercept": True,
        "missing": "raise",
        "tol": 1e-6,
        "max_iter": None,
        "information": "observed",
        "cov_type": "nonrobust",
        "use_t": None,
        "cov_options": None,
    }
    assert repr(model) == "LogisticRegression(tol=1e-06)"
    from sklearn.base import clone

    assert clone(model).get_params() == model.get_params()
    fitted = model.fit(X, y)
    ref = sm_newton(y, X, sm.families.Binomial())
    predicted = fitted.predict(X.iloc[:10])
    assert predicted.name == "predicted_vote" and predicted.index.equals(X.index[:10])
    np.testing.assert_allclose(predicted, ref.fittedvalues.iloc[:10], rtol=1e-8)
    np.testing.assert_allclose(fitted.mu_, ref.fittedvalues, rtol=1e-8)
    assert GLM("gamma").get_params()["family"] == "gamma"


def test_max_iter_zero_is_a_flagged_non_converged_fit(anes):
    X, y = anes
    with pytest.warns(ConvergenceWarning, match="did not converge") as caught:
        fitted = GLM("binomial", max_iter=0).fit(X, y)
    assert not fitted.converged_ and fitted.n_iter_ == 0
    # GLM's own hint: it always runs Newton, so no advice about solvers
    message = str(caught[0].message)
    assert "raise max_iter, or loosen tol" in message and "solver" not in message


def test_non_finite_fit_is_a_fit_error_with_a_glm_hint():
    # mu = 1/eta with y spanning 1e-300 .. 1e300: the gamma loss overflows at the start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow and singular-information warnings on the way
        with pytest.raises(FitError, match="Hint: look for extreme values") as raised:
            GLM("gamma").fit(np.arange(6.0), [1e300, 1, 1e-300, 3, 1, 2])
    assert "solver" not in str(raised.value)


def test_predict_checks_offsets_and_exposures():
    x, y = np.arange(6.0), [0, 1, 0, 3, 1, 0]
    fitted = PoissonRegression().fit(x, y)
    with pytest.raises(
        DataError, match=r"exposure has 2 value\(s\) <= 0 out of 3 rows \(rows 0, 2\)"
    ):
        fitted.predict(np.arange(3.0), exposure=[0.0, 1.0, -2.0])
    with pytest.raises(DataError, match="offset has 2 rows but X has 3"):
        fitted.predict(np.arange(3.0), offset=[0.0, 1.0])
    with pytest.raises(SettingsError, match="log link"):
        GLM().fit(x, y).predict(np.arange(3.0), exposure=np.ones(3))
    # exposure multiplies the predicted mean; a NaN exposure predicts NaN
    base = fitted.predict(np.arange(3.0))
    doubled = fitted.predict(np.arange(3.0), exposure=[2.0, 2.0, np.nan])
    np.testing.assert_allclose(doubled[:2], 2 * base[:2], rtol=1e-14)  # log 2 and exp round
    assert np.isnan(doubled[2])


def test_thin_classes_share_settings_but_not_family():
    for cls, family, link in [
        (LogisticRegression, "binomial", "logit"),
        (PoissonRegression, "poisson", "log"),
    ]:
        model = cls(max_iter=7)
        assert "family" not in model.get_params() and model.get_params()["max_iter"] == 7
        assert (model.family, model.link, model._alpha_setting) == (family, link, None)
        assert not hasattr(model, "alpha")  # not a setting: sklearn must not set it
        with pytest.raises(SettingsError, match="has no setting 'family'"):
            model.set_params(family="gamma")


@pytest.mark.parametrize(
    "module",
    [
        estimators.glm,
        estimators.families,
        estimators.glm_kernels,
        estimators.glm_design,
        estimators.glm_inference,
        estimators.glm_start,
        estimators.separation,
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- fast path


@pytest.mark.parametrize(
    ("family", "link", "estimate_alpha"),
    [
        ("binomial", "logit", False),
        # compiles both loops afresh for the alpha-augmented model: ~10 s on 2 cores
        pytest.param("negative_binomial", "log", True, marks=pytest.mark.slow),
    ],
)
def test_fused_newton_equals_the_plain_minimize_path(randhie, family, link, estimate_alpha):
    """The one-pass-an-iteration loop (the fit's) = minimize(solver="newton") on the same loss.

    Same iterates (to rounding), the same number of iterations and status, and its
    final Hessian equals the separately computed observed information.
    """
    import jax

    from estimators.families import FAMILIES, LINKS
    from estimators.glm_kernels import column_scale, information_matrix, loss_and_hessian
    from estimators.glm_newton import fused_newton
    from estimators.solve import minimize

    X, y = randhie
    X = sm.add_constant(X.to_numpy())
    y = y.to_numpy(dtype=float)
    if family == "binomial":
        y = (y > 0).astype(float)
    n = len(y)
    scale = column_scale(X)
    params0 = {"coef": np.zeros(X.shape[1])}
    params0["coef"][0] = np.log(y.mean()) if family != "binomial" else 0.0
    if estimate_alpha:
        params0["log_alpha"] = 0.0
    with jax.enable_x64(True):
        args = tuple(
            jax.device_put(np.asarray(a, dtype=np.float64))
            for a in (X, y, np.full(n, 1 / n), np.zeros(n), scale, 0.0, 0.0)
        )
        loss, hessian = loss_and_hessian(family, link, estimate_alpha)
        plain = minimize(
            loss, params0, *args, solver="newton", hessian=hessian, tol=1e-20, max_iter=None
        )
    fused, hess = fused_newton(
        family, link, estimate_alpha, params0, args, tol=1e-20, max_iter=None
    )
    assert fused.status == plain.status and fused.n_iter == plain.n_iter
    for name in params0:
        np.testing.assert_allclose(fused.params[name], plain.params[name], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fused.trace["loss"], plain.trace["loss"], rtol=1e-13)
    beta = scale * fused.params["coef"]
    log_alpha = float(fused.params.get("log_alpha", 0.0))
    with jax.enable_x64(True):
        eta = args[0] @ beta
        info = information_matrix(
            FAMILIES[family],
            LINKS[link],
            args[0],
            args[1],
            args[2],
            eta,
            log_alpha,
            estimate_alpha=estimate_alpha,
            expected=False,
        )
    scales = np.append(scale, 1.0) if estimate_alpha else scale
    np.testing.assert_allclose(hess / np.outer(scales, scales), info, rtol=1e-12, atol=1e-15)
