"""bootstrap: resampled estimates, intervals against scipy, determinism, chunking, bad input.

The generic path (vmap of ``as_function``'s pure fit) is checked estimator by estimator
against the estimators' own weighted fits; its tests share shapes (n = 200, 20 resamples)
so that each estimator's vmapped fit compiles once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from estimators.bootstrap import bootstrap
from estimators.errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.likelihood import MaximumLikelihood, MEstimator
from estimators.location import Mean, Median, Quantile
from estimators.quantile import QuantileRegression
from estimators.regression import LinearRegression, Ridge
from estimators.robust import HuberRegression
from estimators.robust_location import Huber, TukeyBiweight
from estimators.scale import StandardDeviation


def resample_counts(seed: int, n_resamples: int, n: int) -> np.ndarray:
    """The multinomial counts bootstrap draws (its documented generator), independently."""
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = (rng.random((n_resamples, n)) * n).astype(np.int64)
    return np.array([np.bincount(r, minlength=n) for r in rows], dtype=float)


@pytest.fixture(scope="module")
def skewed():
    return np.random.default_rng(0).exponential(size=300)


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(1)
    n = 4000
    X = rng.normal(size=(n, 3))
    # heteroskedastic errors: the pairs bootstrap estimates the HC0 (sandwich) variance
    y = 1.0 + X @ [1.0, 2.0, 3.0] + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    return X, y


# ------------------------------------------------------------------ against scipy
@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_mean_intervals_agree_with_scipy_within_monte_carlo_error(skewed, method):
    # Reference: scipy 1.17 stats.bootstrap(np.mean) on the same data, computed live.
    # Tolerance: an endpoint is the empirical 2.5% (97.5%) quantile of B resampled
    # means, nearly normal with sd sigma (the standard error), so its Monte Carlo
    # sd is sqrt(0.025 * 0.975 / B) / phi(1.96) * sigma = 0.042 sigma for B = 4000;
    # two independent runs differ by sd 0.06 sigma; 0.25 sigma is four of those
    # (BCa's bias estimate adds about 0.02 sigma more).
    B = 4000
    ours = bootstrap(Mean(), skewed, n_resamples=B, method=method, seed=0)
    ref = stats.bootstrap((skewed,), np.mean, n_resamples=B, method=method, random_state=1)
    sigma = ref.standard_error
    assert abs(ours.confidence_interval.loc["mean", "low"] - ref.confidence_interval.low) < (
        0.25 * sigma
    )
    assert abs(ours.confidence_interval.loc["mean", "high"] - ref.confidence_interval.high) < (
        0.25 * sigma
    )
    # the standard error: the sd of B normal-ish values has relative MC sd 1/sqrt(2B) = 1.1%
    assert abs(ours.standard_error["mean"] / sigma - 1) < 0.06


def test_bca_shifts_the_interval_of_a_skewed_mean_the_way_scipy_does(skewed):
    # Exponential data: the mean's sampling distribution is right-skewed, so BCa moves
    # both endpoints up relative to the percentile interval (scipy does the same).
    kw = {"n_resamples": 4000, "seed": 3}
    pct = bootstrap(Mean(), skewed, method="percentile", **kw).confidence_interval.loc["mean"]
    bca = bootstrap(Mean(), skewed, method="bca", **kw).confidence_interval.loc["mean"]
    assert bca["low"] > pct["low"] and bca["high"] > pct["high"]


def test_basic_interval_reflects_the_percentile_interval_about_the_estimate(skewed):
    kw = {"n_resamples": 500, "seed": 2}
    pct = bootstrap(Mean(), skewed, method="percentile", **kw)
    basic = bootstrap(Mean(), skewed, method="basic", **kw)
    theta = skewed.mean()
    assert basic.estimate["mean"] == pytest.approx(theta, rel=1e-15)
    assert basic.confidence_interval.loc["mean", "low"] == pytest.approx(
        2 * theta - pct.confidence_interval.loc["mean", "high"], rel=1e-14
    )


# ------------------------------------------------------------------ standard errors
@pytest.mark.parametrize("bayesian", [False, True])
def test_standard_error_of_the_mean_is_the_plug_in_formula(bayesian):
    # Nonparametric bootstrap: Var* = s_0^2 / n with the ddof=0 variance; Bayesian
    # bootstrap (Rubin 1981): Var = s_0^2 / (n + 1). Relative MC sd of the sd of B draws
    # is 1/sqrt(2B) = 1.1% for B = 4000: 5% is 4.5 of them.
    x = np.random.default_rng(4).normal(loc=1e6, scale=3.0, size=400)
    n = x.size
    res = bootstrap(Mean(), x, n_resamples=4000, seed=5, bayesian=bayesian)
    expected = x.std(ddof=0) / np.sqrt(n + 1 if bayesian else n)
    assert abs(res.standard_error["mean"] / expected - 1) < 0.05
    assert res.bayesian is bayesian


def test_least_squares_bootstrap_se_is_close_to_hc0(regression_data):
    # Reference: HC0 standard errors of this package's LinearRegression (checked against
    # statsmodels in tests/test_regression_inference.py). The pairs bootstrap estimates
    # the same variance up to O(1/n); MC relative sd 1/sqrt(2 * 2000) = 1.6%, 7% is 4.4 of
    # them.
    X, y = regression_data
    res = bootstrap(LinearRegression(), (X, y), n_resamples=2000, seed=0)
    hc0 = LinearRegression(cov_type="HC0").fit(X, y)
    np.testing.assert_allclose(res.estimate, hc0.params_, rtol=1e-12)
    assert list(res.standard_error.index) == list(hc0.params_.index)
    np.testing.assert_allclose(res.standard_error / hc0.std_errors_, 1.0, atol=0.07)


def test_logistic_bootstrap_se_is_close_to_hc0():
    # As above, for the maximum-likelihood logistic fit (its HC0 sandwich).
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 2))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(0.5 + X @ [1.0, -1.0])))).astype(float)
    res = bootstrap(LogisticRegression(), (X, y), n_resamples=1000, seed=0)
    hc0 = LogisticRegression(cov_type="HC0").fit(X, y)
    np.testing.assert_allclose(res.estimate, hc0.params_, rtol=1e-8)
    np.testing.assert_allclose(res.standard_error / hc0.std_errors_, 1.0, atol=0.1)
    assert res.n_failed == 0


# ------------------------------------------------------------------ each resample is a fit
def test_each_least_squares_resample_is_the_weighted_fit(regression_data):
    X, y = regression_data[0][:200], regression_data[1][:200]
    res = bootstrap(LinearRegression(), (X, y), n_resamples=5, seed=7)
    counts = resample_counts(7, 5, 200)
    for b in range(5):
        fit = LinearRegression().fit(X, y, sample_weight=counts[b])
        np.testing.assert_allclose(res.bootstrap_distribution.iloc[b], fit.params_, rtol=1e-10)


def test_each_logistic_resample_is_the_weighted_fit():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-X @ [1.0, 0.5]))).astype(float)
    res = bootstrap(LogisticRegression(), (X, y), n_resamples=4, seed=9)
    counts = resample_counts(9, 4, 300)
    for b in range(4):
        fit = LogisticRegression(tol=1e-10).fit(X, y, sample_weight=counts[b])
        np.testing.assert_allclose(res.bootstrap_distribution.iloc[b], fit.params_, rtol=1e-8)


@pytest.mark.parametrize("n", [301, 300])  # odd and even: a unique median and a tie
def test_each_median_resample_is_the_median_of_the_resampled_rows(n):
    x = np.round(np.random.default_rng(10).normal(size=n), 1)  # with repeated values
    res = bootstrap(Median(), x, n_resamples=50, seed=11)
    rng = np.random.Generator(np.random.PCG64(11))
    rows = (rng.random((50, n)) * n).astype(np.int64)
    expected = np.median(x[rows], axis=1)  # numpy 2.4
    np.testing.assert_array_equal(res.bootstrap_distribution["median"], expected)


def test_each_quantile_resample_is_the_quantile_fit():
    x = np.random.default_rng(12).integers(0, 20, size=100).astype(float)
    res = bootstrap(Quantile(q=0.3), x, n_resamples=20, seed=13)
    counts = resample_counts(13, 20, 100)
    for b in range(20):
        fit = Quantile(q=0.3).fit(x, sample_weight=counts[b])
        assert res.bootstrap_distribution["quantile_0.3"].iloc[b] == fit.params_.iloc[0]


# ------------------------------------------------------------------ determinism, chunking
def test_same_seed_same_result_and_another_seed_another(skewed):
    a = bootstrap(Mean(), skewed, n_resamples=200, seed=42)
    b = bootstrap(Mean(), skewed, n_resamples=200, seed=42)
    c = bootstrap(Mean(), skewed, n_resamples=200, seed=43)
    pd.testing.assert_frame_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    pd.testing.assert_frame_equal(a.confidence_interval, b.confidence_interval)
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)


@pytest.mark.parametrize(
    ("estimator", "kind"),
    [(Mean(), "sample"), (Median(), "sample"), (LinearRegression(), "xy")],
)
@pytest.mark.parametrize("bayesian", [False, True])
def test_chunking_gives_identical_results(regression_data, estimator, kind, bayesian):
    X, y = regression_data[0][:150], regression_data[1][:150]
    data = y if kind == "sample" else (X, y)
    kw = {"n_resamples": 103, "seed": 1, "method": "bca", "bayesian": bayesian}
    whole = bootstrap(estimator, data, **kw)
    chunked = bootstrap(estimator, data, batch_size=10, **kw)
    pd.testing.assert_frame_equal(whole.bootstrap_distribution, chunked.bootstrap_distribution)
    pd.testing.assert_frame_equal(whole.confidence_interval, chunked.confidence_interval)


# ------------------------------------------------------------------ inputs
def test_formula_data_frame_and_column_inputs():
    rng = np.random.default_rng(14)
    df = pd.DataFrame({"x": rng.normal(size=100), "z": rng.normal(size=100)})
    df["y"] = 2 * df["x"] + rng.normal(size=100)
    by_formula = bootstrap(LinearRegression(), df, formula="y ~ x + z", n_resamples=30)
    by_arrays = bootstrap(LinearRegression(), (df[["x", "z"]], df["y"]), n_resamples=30)
    assert list(by_formula.estimate.index) == ["Intercept", "x", "z"]
    np.testing.assert_allclose(
        by_formula.bootstrap_distribution, by_arrays.bootstrap_distribution, rtol=1e-12
    )
    by_column = bootstrap(Mean(), df, column="y", n_resamples=30)
    by_values = bootstrap(Mean(), df["y"].to_numpy(), n_resamples=30)
    pd.testing.assert_frame_equal(
        by_column.bootstrap_distribution, by_values.bootstrap_distribution
    )


def test_failed_resamples_are_counted_warned_and_left_out():
    # A regressor nonzero in one row only: every resample without that row is singular.
    rng = np.random.default_rng(15)
    X = np.c_[rng.normal(size=40), np.r_[1.0, np.zeros(39)]]
    y = X[:, 0] + rng.normal(size=40)
    with pytest.warns(InferenceWarning, match="resamples of LinearRegression failed"):
        res = bootstrap(LinearRegression(), (X, y), n_resamples=100, seed=0)
    dist = res.bootstrap_distribution.to_numpy()
    failed = ~np.isfinite(dist).all(axis=1)
    # P(row 0 left out) = (1 - 1/40)^40 = 0.36: about 36 of 100 fail
    assert res.n_failed == failed.sum() and 15 < res.n_failed < 60
    assert np.isfinite(res.standard_error["x0"])


def test_separated_logistic_resamples_warn_convergence():
    # Separable unless the resample keeps the lone overlapping row: many resamples separate.
    x = np.r_[np.linspace(-3, -0.1, 15), np.linspace(0.1, 3, 15), 0.5]
    y = np.r_[np.zeros(15), np.ones(15), 0.0]
    with pytest.warns(ConvergenceWarning, match="failed"):
        res = bootstrap(LogisticRegression(max_iter=30), (x[:, None], y), n_resamples=20)
    assert res.n_failed > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 1}, "n_resamples must be an integer >= 2"),
        ({"n_resamples": 10.0}, "n_resamples must be an integer >= 2"),
        ({"method": "studentized"}, "unknown method 'studentized'"),
        ({"confidence_level": 95}, "confidence_level"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"bayesian": "yes"}, "bayesian"),
        ({"groups": [1, 2]}, "does not take \\['groups'\\]"),
    ],
)
def test_bad_settings(skewed, kwargs, match):
    with pytest.raises(SettingsError, match=match):
        bootstrap(Mean(), skewed, **kwargs)


@pytest.mark.parametrize("estimator", [QuantileRegression(), StandardDeviation()])
def test_unsupported_estimator_lists_the_supported_ones(estimator):
    # the list: as_function's supported classes and the fast paths
    with pytest.raises(SettingsError, match="supported estimators are .*LinearRegression") as info:
        bootstrap(estimator, np.ones(5))
    for name in ("Huber", "HuberRegression", "MaximumLikelihood", "Median", "Ridge"):
        assert repr(name) in str(info.value)


def test_glm_without_a_pure_fit_is_a_settings_error():
    with pytest.raises(SettingsError, match="no pure fit for GLM with family='gamma'"):
        bootstrap(GLM("gamma"), (np.ones((5, 1)), np.ones(5)))


def test_bad_data_is_the_fit_s_data_error():
    with pytest.raises(DataError, match="1 missing"):
        bootstrap(Mean(), [1.0, np.nan, 3.0])
    with pytest.raises(DataError, match="must be in \\[0, 1\\]"):
        bootstrap(LogisticRegression(), (np.ones((3, 1)), [0.0, 2.0, 1.0]))


# ------------------------------------------------------------------ the generic path
N_GENERIC, B_GENERIC = 200, 20


def _logpdf_normal(params, x):
    import jax.numpy as jnp

    return -0.5 * ((x - params["mu"]) / params["sigma"]) ** 2 - jnp.log(params["sigma"])


def _squared(params, x):
    return (x - params["m"]) ** 2


@pytest.fixture(scope="module")
def generic_data():
    rng = np.random.default_rng(20)
    n = N_GENERIC
    X = rng.normal(size=(n, 3))
    return {
        "sample": rng.standard_t(3, size=n),  # heavy tails: the robust weights matter
        "positive": rng.gamma(2.0, 1.5, size=n),
        "regression": (X, 1.0 + X @ [1.0, 2.0, 3.0] + rng.standard_t(3, size=n)),
        "counts": (X, rng.poisson(np.exp(0.2 + X @ [0.3, -0.2, 0.1])).astype(float)),
    }


# (make the estimator, its data, the tolerance in standard errors and why). Every one of
# these reads sample_weight as frequency weights, except Ridge (precision weights, whose
# point estimate with integer weights is the fit to the repeated rows all the same).
GENERIC_CASES = {
    # iterative fits stop within tol (1e-8; HuberRegression 1e-10) standard errors of the
    # exact minimiser, so two fits by the same rounds differ by at most 2 tol SE
    # (measured: <= 1.3e-11 SE, HuberRegression)
    "Huber": (Huber, "sample", 2e-8),
    "TukeyBiweight": (TukeyBiweight, "sample", 2e-8),
    "MaximumLikelihood(gamma)": (lambda: MaximumLikelihood("gamma"), "positive", 2e-8),
    "MaximumLikelihood(logpdf)": (
        lambda: MaximumLikelihood(
            logpdf=_logpdf_normal, params0={"mu": 0.0, "sigma": 1.0}, transforms={"sigma": "log"}
        ),
        "sample",
        2e-8,
    ),
    "MEstimator": (lambda: MEstimator(loss=_squared, params0={"m": 0.0}), "sample", 2e-8),
    "HuberRegression": (HuberRegression, "regression", 2e-10),
    "PoissonRegression": (PoissonRegression, "counts", 2e-8),
    "GLM(poisson)": (lambda: GLM("poisson"), "counts", 2e-8),
    # closed form: the two solves differ by rounding only (measured 3e-15 SE)
    "Ridge": (lambda: Ridge(alpha=2.0), "regression", 1e-10),
}


# Paths another case already runs (TukeyBiweight: Huber's rounds; GLM(poisson):
# PoissonRegression's fit; the logpdf likelihood: the family's Newton) are slow tests:
# each case compiles its own vmapped fit (3-5 s on a cold compilation cache).
SLOW_CASES = ("TukeyBiweight", "GLM(poisson)", "MaximumLikelihood(logpdf)")


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in GENERIC_CASES],
)
def test_each_generic_resample_is_the_weighted_fit(generic_data, case):
    # Reference: the estimator's own fit with sample_weight = the resample's counts
    # (drawn independently by resample_counts from the documented generator).
    make, kind, tol_se = GENERIC_CASES[case]
    data = generic_data[kind]
    res = bootstrap(make(), data, n_resamples=B_GENERIC, seed=3)
    counts = resample_counts(3, B_GENERIC, N_GENERIC)
    args = data if isinstance(data, tuple) else (data,)
    full = make().fit(*args)
    assert list(res.estimate.index) == list(full.params_.index)
    diff = np.abs(res.estimate.to_numpy() - full.params_.to_numpy())
    assert np.all(diff <= tol_se * full.std_errors_.to_numpy()), diff
    assert res.n_failed == 0
    for b in range(B_GENERIC):
        fit = make().fit(*args, sample_weight=counts[b])
        assert fit.converged_
        diff = np.abs(res.bootstrap_distribution.iloc[b].to_numpy() - fit.params_.to_numpy())
        assert np.all(diff <= tol_se * fit.std_errors_.to_numpy()), (b, diff)


def test_bayesian_generic_resamples_are_the_dirichlet_weighted_fits(generic_data):
    # Reference: Huber's own fit with the documented Bayesian weights n * Dirichlet(1),
    # drawn independently (standard exponentials over their sum, one PCG64 stream).
    x = generic_data["sample"]
    res = bootstrap(Huber(), x, n_resamples=B_GENERIC, seed=5, bayesian=True)
    e = np.random.Generator(np.random.PCG64(5)).standard_exponential((B_GENERIC, N_GENERIC))
    weights = e * (N_GENERIC / e.sum(axis=1, keepdims=True))
    for b in range(0, B_GENERIC, 4):
        fit = Huber().fit(x, sample_weight=weights[b])
        # within 2 tol standard errors, as test_each_generic_resample_is_the_weighted_fit
        assert abs(res.bootstrap_distribution.iloc[b, 0] - fit.params_.iloc[0]) <= (
            2e-8 * fit.std_errors_.iloc[0]
        )


def test_generic_same_seed_same_result_and_another_seed_another(generic_data):
    x = generic_data["sample"]
    a = bootstrap(Huber(), x, n_resamples=B_GENERIC, seed=42)
    b = bootstrap(Huber(), x, n_resamples=B_GENERIC, seed=42)
    c = bootstrap(Huber(), x, n_resamples=B_GENERIC, seed=43)
    pd.testing.assert_frame_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    pd.testing.assert_frame_equal(a.confidence_interval, b.confidence_interval)
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)


@pytest.mark.parametrize("bayesian", [False, True])
def test_generic_batch_size_does_not_change_the_result(generic_data, bayesian):
    # The same resamples whatever the chunking (one generator stream). The estimates may
    # differ in the last bit: XLA vectorises the vmapped fit differently for another lane
    # count, which reorders the sums (measured: <= 1.1e-16 absolute); 1e-12 relative.
    kw = {"n_resamples": B_GENERIC, "seed": 1, "method": "bca", "bayesian": bayesian}
    whole = bootstrap(PoissonRegression(), generic_data["counts"], **kw)
    chunked = bootstrap(PoissonRegression(), generic_data["counts"], batch_size=7, **kw)
    np.testing.assert_allclose(
        chunked.bootstrap_distribution, whole.bootstrap_distribution, rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        chunked.confidence_interval, whole.confidence_interval, rtol=1e-12, atol=0
    )


def test_generic_failed_resamples_are_counted_warned_and_left_out(generic_data):
    # A regressor nonzero in one row only: every resample without that row is singular.
    X, y = generic_data["counts"]
    X = np.c_[X[:, :2], np.r_[1.0, np.zeros(N_GENERIC - 1)]]
    with pytest.warns(ConvergenceWarning, match="resamples of PoissonRegression failed"):
        res = bootstrap(PoissonRegression(), (X, y), n_resamples=B_GENERIC, seed=0)
    failed = ~np.isfinite(res.bootstrap_distribution.to_numpy()).all(axis=1)
    # the row is left out with probability (1 - 1/200)^200 = 0.37: about 7 of 20
    counts = resample_counts(0, B_GENERIC, N_GENERIC)
    np.testing.assert_array_equal(failed, counts[:, 0] == 0)
    assert res.n_failed == failed.sum() > 0
    assert np.isfinite(res.standard_error).all()


def test_a_resample_with_a_zero_mad_fails(generic_data):
    # Huber's scale is the MAD: a resample with more than half its weight on one value has
    # MAD 0 and no Huber estimate; the data themselves have 47% zeros. Reference: Huber.fit
    # with the resample's counts refuses exactly those resamples (DataError).
    x = generic_data["sample"].copy()
    x[: int(0.47 * N_GENERIC)] = 0.0
    with pytest.warns(ConvergenceWarning, match="resamples of Huber failed"):
        res = bootstrap(Huber(), x, n_resamples=B_GENERIC, seed=0)
    refused = []
    for w in resample_counts(0, B_GENERIC, N_GENERIC):
        try:
            Huber().fit(x, sample_weight=w)
            refused.append(False)
        except DataError as error:
            assert "the MAD scale is 0" in str(error)
            refused.append(True)
    failed = res.bootstrap_distribution["location"].isna().to_numpy()
    np.testing.assert_array_equal(failed, refused)
    assert res.n_failed == failed.sum() > 0


def test_data_the_estimator_refuses_is_its_own_data_error():
    # The pure fit on the data as given fails; the estimator's fit says why.
    with pytest.raises(DataError, match="the MAD scale is 0"):
        bootstrap(Huber(), [1.0, 1.0, 1.0, 1.0, 2.0], n_resamples=B_GENERIC)


@pytest.mark.slow
def test_data_outside_the_family_s_support_is_its_data_error():
    with pytest.raises(DataError, match="1 non-positive value"):
        bootstrap(MaximumLikelihood("gamma"), [1.0, -1.0, 2.0], n_resamples=B_GENERIC)


def test_cov_type_does_not_matter(generic_data):
    # the pure fit computes only the nonrobust covariance; the bootstrap needs none
    a = bootstrap(Ridge(alpha=2.0, cov_type="HC3"), generic_data["regression"], n_resamples=20)
    b = bootstrap(Ridge(alpha=2.0), generic_data["regression"], n_resamples=20)
    pd.testing.assert_frame_equal(a.bootstrap_distribution, b.bootstrap_distribution)


def test_generic_formula_decides_the_intercept_and_offsets_are_refused(generic_data):
    X, y = generic_data["regression"]
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y, "t": np.exp(X[:, 2])})
    kw = {"n_resamples": B_GENERIC, "seed": 0}
    by_formula = bootstrap(Ridge(alpha=2.0), df, formula="y ~ a + b - 1", **kw)
    by_arrays = bootstrap(Ridge(alpha=2.0, fit_intercept=False), (df[["a", "b"]], y), **kw)
    assert list(by_formula.estimate.index) == ["a", "b"]
    np.testing.assert_allclose(
        by_formula.bootstrap_distribution, by_arrays.bootstrap_distribution, rtol=1e-13
    )
    df["count"] = generic_data["counts"][1]
    with pytest.raises(SettingsError, match="does not take offsets"):
        bootstrap(PoissonRegression(), df, formula="count ~ a + offset(np.log(t))", **kw)
