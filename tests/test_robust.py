"""HuberRegression and TukeyRegression: statsmodels RLM's fixed point, H1 errors, bad input.

Reference: statsmodels 0.15 ``RLM(y, X, M=HuberT(t=c) | TukeyBiweight(c=c))`` with its
defaults (MAD scale updated every iteration, ``cov="H1"``), run live in each test with
``tol=1e-14, maxiter=1000`` so that its IRLS is converged to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from estimators.datasets import load_dataset
from statsmodels.robust import norms

from estimators.errors import ConvergenceWarning, DataError, SettingsError
from estimators.losses import tukey_biweight
from estimators.numerics import mad_about
from estimators.robust import HuberRegression, TukeyRegression

FEATURES = ["airflow", "watertemp", "acidconc"]
FAMILIES = {
    "huber": (HuberRegression, lambda c: norms.HuberT(t=c), 1.345),
    "tukey": (TukeyRegression, lambda c: norms.TukeyBiweight(c=c), 4.685),
}


def statsmodels_rlm(X, y, norm, fit_intercept=True):
    exog = sm.add_constant(np.asarray(X, float), has_constant="add") if fit_intercept else X
    return sm.RLM(np.asarray(y, float), np.asarray(exog, float), M=norm).fit(
        tol=1e-14, maxiter=1000
    )


def assert_matches_rlm(fit, ref):
    """The agreement the module promises: params and scale 1e-8, H1 standard errors 1e-6."""
    np.testing.assert_allclose(fit.params_.to_numpy(), ref.params, rtol=1e-8, atol=0)
    assert fit.scale_ == pytest.approx(ref.scale, rel=1e-8)
    np.testing.assert_allclose(fit.std_errors_.to_numpy(), ref.bse, rtol=1e-6, atol=0)
    np.testing.assert_allclose(fit.cov_.to_numpy(), ref.cov_params(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(fit.weights_.to_numpy(), ref.weights, rtol=0, atol=1e-8)


def outlier_data(n, seed, p=2, fraction=0.2, leverage=True):
    """Heavy-tailed regression with a fraction of shifted responses, some at high leverage."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = 1.0 + X @ (np.arange(1, p + 1) / p) + rng.standard_t(3, size=n)
    outlier = rng.random(n) < fraction
    y[outlier] += rng.normal(20, 5, size=outlier.sum())
    if leverage:
        X[outlier & (rng.random(n) < 0.3), 0] += 10
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(p)]), pd.Series(y, name="y")


@pytest.fixture(scope="module")
def stackloss():
    df = load_dataset("stackloss")
    return df[FEATURES], df["stackloss"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_stackloss_matches_statsmodels_rlm(stackloss, family):
    cls, norm, _ = FAMILIES[family]
    X, y = stackloss
    fit = cls().fit(X, y)
    assert fit.converged_
    assert list(fit.params_.index) == ["Intercept", *FEATURES]
    assert_matches_rlm(fit, statsmodels_rlm(X, y, norm(cls().c)))
    assert fit.df_resid_ is None  # z statistics, as RLM's pvalues


@pytest.mark.parametrize(
    "family, c", [("huber", 1.345), ("huber", 0.9), ("tukey", 4.685), ("tukey", 3.5)]
)
def test_simulated_outliers_match_statsmodels_rlm(family, c):
    cls, norm, _ = FAMILIES[family]
    X, y = outlier_data(200, seed=3, p=3)
    fit = cls(c=c).fit(X, y)
    assert fit.converged_
    assert_matches_rlm(fit, statsmodels_rlm(X, y, norm(c)))


def test_tukey_finds_statsmodels_local_solution_not_another_one():
    """Tukey's loss is not convex. On this sample, minimising fully at each scale from
    the OLS scale on (no IRLS phase; measured during development) found another local
    solution, 65% away in the coefficients; following statsmodels' IRLS path until it
    settles lands on statsmodels' fixed point."""
    X, y = outlier_data(50, seed=0, p=2, fraction=0.1)
    fit = TukeyRegression().fit(X, y)
    assert_matches_rlm(fit, statsmodels_rlm(X, y, norms.TukeyBiweight()))
    assert (fit.history_["phase"] == "irls").sum() >= 5


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_robust_fits_resist_vertical_outliers_that_move_ols(family):
    """10% of responses shifted by about +20 (no leverage points, where M-estimators
    of regression do break down): OLS is off by 2 in the intercept, the robust fits
    stay within 3 of their standard errors of the truth."""
    cls = FAMILIES[family][0]
    X, y = outlier_data(200, seed=3, p=3, fraction=0.1, leverage=False)
    truth = np.array([1.0, 1 / 3, 2 / 3, 1.0])
    ols = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]
    assert np.abs(ols - truth).max() > 1.5
    fit = cls().fit(X, y)
    assert np.all(np.abs(fit.params_.to_numpy() - truth) < 3 * fit.std_errors_.to_numpy())
    # The shifted rows get small weights.
    assert fit.weights_[y > y.median() + 12].max() < 0.3


def test_no_intercept_matches_statsmodels(stackloss):
    X, y = stackloss
    fit = HuberRegression(fit_intercept=False).fit(X, y)
    assert list(fit.params_.index) == FEATURES
    assert_matches_rlm(fit, statsmodels_rlm(X, y, norms.HuberT(), fit_intercept=False))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_integer_weights_equal_repeated_rows(stackloss, family):
    cls = FAMILIES[family][0]
    X, y = stackloss
    counts = np.tile([1, 2, 1], 7)  # 28 rows when repeated
    weighted = cls().fit(X, y, sample_weight=counts)
    repeated = cls().fit(X.loc[X.index.repeat(counts)], y.loc[y.index.repeat(counts)])
    pd.testing.assert_series_equal(weighted.params_, repeated.params_, rtol=1e-10)
    pd.testing.assert_series_equal(weighted.std_errors_, repeated.std_errors_, rtol=1e-10)
    assert weighted.scale_ == pytest.approx(repeated.scale_, rel=1e-10)
    assert weighted.nobs_ == 28


def test_missing_rows_dropped_and_weights_aligned_to_the_index(stackloss):
    X, y = stackloss
    X = X.set_axis([f"day{i}" for i in range(len(X))])
    y = y.set_axis(X.index)
    X_missing = X.copy()
    X_missing.loc["day3", "airflow"] = np.nan
    with pytest.raises(DataError, match=r"1 of 21 rows have missing"):
        HuberRegression().fit(X_missing, y)
    fit = HuberRegression(missing="drop").fit(X_missing, y)
    assert fit.n_dropped_ == 1
    assert list(fit.weights_.index) == [label for label in X.index if label != "day3"]
    ref = HuberRegression().fit(X.drop(index="day3"), y.drop(index="day3"))
    pd.testing.assert_series_equal(fit.params_, ref.params_, rtol=1e-12)
    # Outlying days get weight < 1 (the known outliers of the stack loss data: 1, 3, 4, 21).
    assert set(fit.weights_[fit.weights_ < 1].index) >= {"day0", "day20"}


def test_history_is_the_loss_in_data_units(stackloss):
    X, y = stackloss
    fit = TukeyRegression().fit(X, y)
    history = fit.history_
    assert list(history.columns) == ["loss", "grad_norm", "scale", "inner_iterations", "phase"]
    assert len(history) == fit.n_iter_ + 1
    assert list(history["phase"].unique()) == ["ols", "irls", "newton"]
    # Last row: s^2 * mean(rho_c(r/s)) at the fitted coefficients and the scale they
    # were fitted at, by statsmodels' own TukeyBiweight.rho.
    last = history.iloc[-1]
    residual = y - fit.predict(X)
    expected = last["scale"] ** 2 * np.mean(norms.TukeyBiweight().rho(residual / last["scale"]))
    assert last["loss"] == pytest.approx(expected, rel=1e-12)
    assert last["scale"] == pytest.approx(fit.scale_, rel=1e-9)
    assert last["grad_norm"] < 1e-10


def test_scale_is_the_mad_of_the_residuals(stackloss):
    X, y = stackloss
    fit = HuberRegression().fit(X, y)
    residual = y - fit.predict(X)
    from statsmodels.robust.scale import mad  # reference: statsmodels 0.15

    assert fit.scale_ == pytest.approx(mad(residual, center=0), rel=1e-9)
    assert mad_about(residual.to_numpy()) == pytest.approx(mad(residual, center=0), rel=1e-15)


def test_tukey_biweight_and_its_autodiff_derivatives_match_statsmodels():
    import jax

    z = np.linspace(-7, 7, 281)
    z = z[np.abs(np.abs(z) - 4.685) > 1e-6]
    ref = norms.TukeyBiweight(c=4.685)
    with jax.enable_x64(True):
        rho = np.asarray(tukey_biweight(z, c=4.685))
        psi = np.asarray(jax.vmap(jax.grad(lambda t: tukey_biweight(t, c=4.685)))(z))
        dpsi = np.asarray(jax.vmap(jax.grad(jax.grad(lambda t: tukey_biweight(t, c=4.685))))(z))
    np.testing.assert_allclose(rho, ref.rho(z), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(psi, ref.psi(z), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dpsi, ref.psi_deriv(z), rtol=1e-11, atol=1e-13)


def test_predict_is_the_linear_predictor(stackloss):
    X, y = stackloss
    fit = HuberRegression().fit(X, y)
    predicted = fit.predict(X.iloc[:3])
    expected = fit.params_["Intercept"] + X.iloc[:3] @ fit.params_[FEATURES]
    np.testing.assert_allclose(predicted.to_numpy(), expected.to_numpy(), rtol=1e-14)
    assert predicted.name == "predicted_stackloss"


@pytest.mark.parametrize("cls", [HuberRegression, TukeyRegression])
def test_exactly_linear_data_is_a_clear_data_error(cls):
    """A zero MAD (at least half the residuals exactly 0) leaves the scale undefined;
    statsmodels warns and stops, we raise and say why."""
    x = np.arange(12.0)
    with pytest.raises(DataError, match=r"MAD of the residuals\) is 0: \d+ of 12 rows of y"):
        cls().fit(x, 2.0 * x + 1.0)


def test_collinear_columns_are_named():
    X, y = outlier_data(50, seed=1, p=2)
    X["copy"] = 2 * X["x0"]
    with pytest.raises(DataError, match=r"singular: column\(s\) \['copy'\]"):
        TukeyRegression().fit(X, y)


def test_too_few_iterations_warn_and_flag_non_convergence(stackloss):
    X, y = stackloss
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = HuberRegression(max_iter=3).fit(X, y)
    assert fit.converged_ is False and fit.n_iter_ == 3


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"c": 0}, r"c must be a positive number, got c=0"),
        ({"c": -1.345}, r"got c=-1.345"),
        ({"c": float("nan")}, r"got c=nan"),
        ({"c": "large"}, r"got c='large'"),
        ({"tol": 0.0}, r"tol must be a positive number"),
        ({"max_iter": 0}, r"max_iter must be a positive integer"),
        ({"missing": "ignore"}, r"valid values"),
    ],
)
@pytest.mark.parametrize("cls", [HuberRegression, TukeyRegression])
def test_bad_settings_are_settings_errors(stackloss, cls, settings, pattern):
    X, y = stackloss
    with pytest.raises(SettingsError, match=pattern):
        cls(**settings).fit(X, y)


def test_settings_api_and_a_clean_fit_gives_no_warnings(stackloss):
    from sklearn.base import clone

    X, y = stackloss
    model = TukeyRegression(c=4.0, tol=1e-9)
    assert model.get_params() == {
        "c": 4.0,
        "fit_intercept": True,
        "missing": "raise",
        "tol": 1e-9,
        "max_iter": 200,
        "cov_type": "nonrobust",
        "use_t": None,
        "cov_options": None,
    }
    assert repr(model) == "TukeyRegression(c=4.0, tol=1e-09)"
    assert clone(model).get_params() == model.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.fit(X, y) is model


def test_docstring_examples_run():
    import doctest

    import estimators.robust

    assert doctest.testmod(estimators.robust).failed == 0
