"""QuantileRegression: the exact LP minimiser, the fit's path, bad input.

References, computed live in the tests:
- scipy 1.17 ``linprog(method="highs")`` on the quantile-regression LP
  (min q 1'u + (1-q) 1'v  s.t.  X b + u - v = y, u, v >= 0): the exact minimiser;
- statsmodels 0.15 ``QuantReg(y, X).fit(q, max_iter=5000, p_tol=1e-12)`` (IRLS: an
  approximation, which the exact fit must beat).

The standard errors (every cov_type) are tested in tests/test_quantile_inference.py
against stored statsmodels and published R quantreg numbers.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse
import statsmodels.api as sm
from estimators.datasets import load_dataset
from scipy.optimize import linprog

from estimators.errors import ConvergenceWarning, InferenceWarning, SettingsError
from estimators.quantile import QuantileRegression

LEVELS = [0.1, 0.25, 0.5, 0.75, 0.9]
DATA = {
    "stackloss": ("stackloss", ["airflow", "watertemp", "acidconc"]),
    "engel": ("foodexp", ["income"]),
}


def linprog_fit(X, y, q, weights=None):
    """The LP solved by HiGHS: (coefficients, mean pinball loss)."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    cost = np.concatenate([np.zeros(p), q * w, (1 - q) * w])
    constraints = sparse.hstack([sparse.csr_matrix(X), sparse.eye(n), -sparse.eye(n)])
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    res = linprog(cost, A_eq=constraints, b_eq=y, bounds=bounds, method="highs")
    assert res.status == 0
    return res.x[:p], res.fun / w.sum()


def mean_pinball(residual, q, weights=None):
    residual = np.asarray(residual, float)
    return np.average(residual * (q - (residual < 0)), weights=weights)


def statsmodels_quantreg(X, y, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its IRLS iteration-limit and NaN-bandwidth warnings
        return sm.QuantReg(np.asarray(y, float), X).fit(q=q, max_iter=5000, p_tol=1e-12)


def with_constant(X):
    return sm.add_constant(np.asarray(X, float), has_constant="add")


def quiet_fit(model, X, y, **kwargs):
    """Fit, ignoring the InferenceWarning of tiny samples at extreme q (tested separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        return model.fit(X, y, **kwargs)


@pytest.fixture(scope="module", params=sorted(DATA))
def dataset(request):
    response, features = DATA[request.param]
    df = load_dataset(request.param)
    return request.param, df[features], df[response]


@pytest.mark.parametrize("q", LEVELS)
def test_matches_the_exact_lp_solution_and_beats_statsmodels_irls(dataset, q):
    name, X, y = dataset
    fit = quiet_fit(QuantileRegression(q=q), X, y)
    assert fit.converged_  # optimality proven by the subgradient condition
    exog = with_constant(X)
    beta, value = linprog_fit(exog, y, q)
    # These LPs have unique solutions, so the coefficients agree, not just the loss.
    np.testing.assert_allclose(
        fit.params_.to_numpy(), beta, rtol=1e-8, atol=1e-8 * np.abs(beta).max()
    )
    assert fit.loss_ == pytest.approx(value, rel=1e-8)
    assert fit.loss_ == pytest.approx(mean_pinball(y - fit.predict(X), q), rel=1e-13)
    irls = statsmodels_quantreg(exog, y, q)
    assert fit.loss_ <= mean_pinball(y - exog @ irls.params, q) * (1 + 1e-12)
    # The interpolated rows: p of them, residual exactly 0.
    assert len(fit.basis_) == exog.shape[1]
    assert (fit.residuals_.loc[fit.basis_] == 0).all()


@pytest.mark.parametrize("q", [0.1, 0.9])
def test_small_sample_extreme_quantile_has_nan_errors_with_a_warning(q):
    """n = 21 at q = 0.1: the Hall-Sheather bandwidth leaves (0, 1); statsmodels'
    standard errors are NaN as well."""
    df = load_dataset("stackloss")
    X, y = df[DATA["stackloss"][1]], df["stackloss"]
    with pytest.warns(InferenceWarning, match=r"bandwidth .* leaves \(0, 1\) at q=0.[19] with 21"):
        fit = QuantileRegression(q=q).fit(X, y)
    assert fit.std_errors_.isna().all() and "Hall-Sheather" in fit.cov_note_
    assert np.isnan(statsmodels_quantreg(with_constant(X), y, q).bse).all()
    assert fit.converged_ and np.isfinite(fit.params_).all()


def outlier_data(n, seed, p=3):
    """Heteroscedastic t(2) errors and 15% gross outliers: quantiles differ in slope."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = 1.0 + X @ np.linspace(0.5, -0.5, p) + rng.standard_t(2, n) * (1 + np.abs(X[:, 0]))
    y[rng.random(n) < 0.15] += 50.0
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(p)]), pd.Series(y, name="y")


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_simulated_outliers_match_linprog(q):
    X, y = outlier_data(500, seed=7)
    fit = QuantileRegression(q=q).fit(X, y)
    assert fit.converged_
    beta, value = linprog_fit(with_constant(X), y, q)
    np.testing.assert_allclose(fit.params_.to_numpy(), beta, rtol=1e-8, atol=1e-8)
    assert fit.loss_ == pytest.approx(value, rel=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_degenerate_integer_data_reach_the_lp_minimum(seed):
    """Integer data: many more than p residuals are exactly 0 at the optimum, and the
    minimiser need not be unique; the loss must still be the LP's."""
    rng = np.random.default_rng(100 + seed)
    X = np.round(rng.normal(size=(30, 3)) * 2)
    y = np.round(X @ np.array([1.0, -1.0, 0.0]) + 2 * rng.normal(size=30))
    q = [0.2, 0.5, 0.5, 0.8][seed]
    fit = quiet_fit(QuantileRegression(q=q), X, y)
    assert fit.converged_
    _, value = linprog_fit(with_constant(X), y, q)
    assert fit.loss_ == pytest.approx(value, rel=1e-12)
    assert (fit.residuals_ == 0).sum() >= 4


def test_integer_weights_equal_repeated_rows_and_zero_weights_drop_rows():
    df = load_dataset("stackloss")
    X, y = df[DATA["stackloss"][1]], df["stackloss"]
    counts = np.tile([1, 0, 2], 7)  # 21 rows repeated to 21, 7 of them left out
    weighted = QuantileRegression(q=0.5).fit(X, y, sample_weight=counts)
    repeated = QuantileRegression(q=0.5).fit(
        X.loc[X.index.repeat(counts)], y.loc[y.index.repeat(counts)]
    )
    pd.testing.assert_series_equal(weighted.params_, repeated.params_, rtol=1e-10)
    pd.testing.assert_series_equal(weighted.std_errors_, repeated.std_errors_, rtol=1e-10)
    beta, value = linprog_fit(with_constant(X), y, 0.5, weights=counts)
    assert weighted.loss_ == pytest.approx(value, rel=1e-12)
    assert weighted.nobs_ == 21


def test_the_smoothing_bandwidth_changes_the_path_not_the_answer():
    df = load_dataset("engel")
    X, y = df[["income"]], df["foodexp"]
    default = QuantileRegression(q=0.25).fit(X, y)
    for bandwidth in (0.01, 1000.0):
        other = QuantileRegression(q=0.25, bandwidth=bandwidth).fit(X, y)
        pd.testing.assert_series_equal(other.params_, default.params_, rtol=1e-12)


def test_history_descends_to_a_zero_subgradient():
    df = load_dataset("engel")
    fit = QuantileRegression(q=0.1).fit(df[["income"]], df["foodexp"])
    history = fit.history_
    assert list(history.columns) == ["loss", "grad_norm", "stage"]
    assert list(history["stage"].iloc[:2]) == ["ols", "smoothed"]
    vertices = history[history["stage"] == "vertex"]
    assert len(vertices) >= 2  # this fit needs at least one descent step
    assert np.all(np.diff(vertices["loss"].to_numpy()) < 0)
    assert history["grad_norm"].iloc[-1] <= 1e-12 < history["grad_norm"].iloc[-2]
    assert history["loss"].iloc[-1] == fit.loss_
    assert fit.n_iter_ == len(history) - 1


def test_too_few_descent_steps_warn_and_flag_non_convergence():
    df = load_dataset("engel")
    X, y = df[["income"]], df["foodexp"]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = QuantileRegression(q=0.1, max_iter=0).fit(X, y)
    assert fit.converged_ is False
    assert fit.loss_ > QuantileRegression(q=0.1).fit(X, y).loss_


def test_predict_and_names():
    df = load_dataset("engel")
    fit = QuantileRegression(q=0.9).fit(df[["income"]], df["foodexp"])
    assert list(fit.params_.index) == ["Intercept", "income"]
    new = pd.DataFrame({"income": [500.0, 1000.0]}, index=["a", "b"])
    predicted = fit.predict(new)
    assert list(predicted.index) == ["a", "b"]
    expected = fit.params_["Intercept"] + fit.params_["income"] * new["income"]
    np.testing.assert_allclose(predicted.to_numpy(), expected.to_numpy(), rtol=1e-14)


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"q": 0.0}, r"q must be a quantile level in \(0, 1\), got q=0.0"),
        ({"q": 1}, r"got q=1"),
        ({"q": -0.5}, r"got q=-0.5"),
        ({"q": 1.5}, r"got q=1.5"),
        ({"q": math.nan}, r"got q=nan"),
        ({"q": "median"}, r"got q='median'"),
        ({"bandwidth": -1.0}, r"bandwidth must be a positive number or None, got bandwidth=-1.0"),
        ({"max_iter": -1}, r"max_iter must be an integer >= 0"),
    ],
)
def test_bad_settings_are_settings_errors(settings, pattern):
    with pytest.raises(SettingsError, match=pattern):
        QuantileRegression(**settings).fit([[1.0], [2.0], [3.0]], [1.0, 2.0, 4.0])


def test_settings_api_and_a_clean_fit_gives_no_warnings():
    from sklearn.base import clone

    model = QuantileRegression(q=0.75)
    assert model.get_params() == {
        "q": 0.75,
        "fit_intercept": True,
        "missing": "raise",
        "bandwidth": None,
        "max_iter": 1000,
        "cov_type": "kernel",
        "use_t": None,
        "cov_options": None,
    }
    assert repr(model) == "QuantileRegression(q=0.75)"
    assert clone(model).get_params() == model.get_params()
    df = load_dataset("engel")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.fit(df[["income"]], df["foodexp"]) is model


def test_docstring_examples_run():
    import doctest

    import estimators.quantile

    assert doctest.testmod(estimators.quantile).failed == 0


def test_as_many_parameters_as_rows_gives_nan_errors_with_the_reason():
    with pytest.warns(InferenceWarning, match="interpolates every row"):
        fit = QuantileRegression().fit([[1.0], [2.0]], [1.0, 3.0])
    assert fit.std_errors_.isna().all() and fit.df_resid_ is None
    np.testing.assert_allclose(fit.params_.to_numpy(), [-1.0, 2.0])


def test_use_t_false_gives_z_statistics():
    df = load_dataset("engel")
    t_fit = QuantileRegression().fit(df[["income"]], df["foodexp"])
    z_fit = QuantileRegression(use_t=False).fit(df[["income"]], df["foodexp"])
    pd.testing.assert_series_equal(t_fit.std_errors_, z_fit.std_errors_)
    half_width = z_fit.conf_int()["ci_upper"] - z_fit.params_
    expected = 1.959963984540054 * z_fit.std_errors_  # scipy.stats.norm.ppf(0.975)
    np.testing.assert_allclose(half_width.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (t_fit.conf_int()["ci_upper"] > z_fit.conf_int()["ci_upper"]).all()
