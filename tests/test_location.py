"""Mean: agreement with the exact sample mean, inference, weights, the estimator API, bad input."""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import normal_sample, seed_sample
from scipy import stats

import estimators as est

NIST_UNIVARIATE = Path(__file__).parent / "data" / "nist" / "univariate"


def exact_mean(values) -> float:
    """The correctly rounded sample mean, by exact rational arithmetic."""
    values = [Fraction(v) for v in values]
    return float(sum(values) / len(values))


def lre(estimate: float, certified: float) -> float:
    """Log relative error (correct significant digits), capped at 15."""
    if estimate == certified:
        return 15.0
    return min(15.0, -math.log10(abs(estimate - certified) / abs(certified)))


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_mean_matches_the_correctly_rounded_mean_with_a_large_offset(solver):
    rng = np.random.default_rng(0)
    x = 1e9 + np.round(rng.uniform(0, 1, 1000), 6)  # ~1e9, differing from the 8th digit on
    fitted = est.Mean(solver=solver).fit(x).params_["mean"]
    assert abs(fitted - exact_mean(x)) <= 1e-15 * exact_mean(x)
    assert fitted == exact_mean(x)  # in fact correctly rounded


@pytest.mark.parametrize("name", sorted(p.stem for p in NIST_UNIVARIATE.glob("*.json")))
def test_mean_nist_univariate_lre_at_least_14(name):
    """NIST StRD certified means (../shared/nist, copied to tests/data/nist)."""
    data = json.loads((NIST_UNIVARIATE / f"{name}.json").read_text())
    # NumAcc1-4 keep their digits as decimal strings; float() rounds each value once.
    y = np.array([float(v) for v in data["y"]])
    certified = float(Fraction(data["certified"]["mean"]))
    fitted = est.Mean().fit(y).params_["mean"]
    assert lre(fitted, certified) >= 14, (name, fitted, certified)


SOLVER_TOLERANCES = {  # |estimate - mean| / standard error reached with default settings
    "newton": 1e-12,
    "lbfgs": 1e-12,
}


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
@pytest.mark.parametrize("start", [-1e6, -3.0, 0.0, 3.34151, 10.0, 1e8])
def test_mean_reaches_np_mean_from_many_starts(solver, start):
    x = seed_sample()["x"]
    fitted = est.Mean(solver=solver, start=start).fit(x)
    assert fitted.converged_
    assert abs(fitted.params_["mean"] - exact_mean(x)) <= 1e-15 * 3.34151


@pytest.mark.parametrize("solver, lr", [("adam", 0.01), ("sgd", 0.1)])
def test_first_order_solvers_reach_the_documented_tolerance(solver, lr):
    """adam and sgd stop by the (estimated) decrement: within about tol standard errors."""
    x = seed_sample()["x"]
    tol = 1e-6
    fitted = est.Mean(solver=solver, learning_rate=lr, tol=tol).fit(x)
    assert fitted.converged_
    se = fitted.std_errors_["mean"]
    assert abs(fitted.params_["mean"] - np.mean(x)) <= 10 * tol * se


def test_newton_lands_on_the_mean_in_one_step():
    x = seed_sample()["x"]
    fitted = est.Mean(solver="newton").fit(x)
    history = fitted.history_["loss"]
    assert history.iloc[1] == pytest.approx(np.var(x), rel=1e-15)  # step 1 is the minimum
    assert fitted.n_iter_ == 2  # step 2: the final full step after the decrement test passed
    with pytest.warns(est.ConvergenceWarning):  # one step only: exact, but the test never ran
        one_step = est.Mean(solver="newton", max_iter=1).fit(x)
    assert one_step.params_["mean"] == exact_mean(x)


def test_summary_matches_scipy_t_test_and_interval():
    x = seed_sample()["x"]
    fitted = est.Mean().fit(x)
    table = fitted.summary()
    assert list(table.columns) == [
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "ci_lower",
        "ci_upper",
    ]
    assert list(table.index) == ["mean"]
    test = stats.ttest_1samp(x, 0.0)  # reference: scipy 1.17
    row = table.loc["mean"]
    assert row["std_error"] == pytest.approx(stats.sem(x), rel=1e-13)
    assert row["statistic"] == pytest.approx(test.statistic, rel=1e-13)
    assert row["p_value"] == pytest.approx(test.pvalue, rel=1e-10)
    ci = test.confidence_interval(0.95)
    assert row["ci_lower"] == pytest.approx(ci.low, rel=1e-12)
    assert row["ci_upper"] == pytest.approx(ci.high, rel=1e-12)
    assert fitted.conf_int(alpha=0.1).shape == (1, 2)
    assert fitted.cov_.loc["mean", "mean"] == pytest.approx(stats.sem(x) ** 2, rel=1e-13)


def test_summary_matches_statsmodels_descrstats_with_weights():
    from statsmodels.stats.weightstats import DescrStatsW  # reference: statsmodels 0.15

    x = np.array([2.0, 3.5, 1.0, 8.0, 4.0])
    w = np.array([1.0, 2.0, 3.0, 1.0, 4.0])
    fitted = est.Mean().fit(x, sample_weight=w)
    ref = DescrStatsW(x, weights=w, ddof=0)
    assert fitted.params_["mean"] == pytest.approx(ref.mean, rel=1e-15)
    assert fitted.std_errors_["mean"] == pytest.approx(ref.std_mean, rel=1e-13)
    assert fitted.nobs_ == 11


def test_integer_weights_equal_repeated_rows():
    x = np.array([2.0, 3.5, 1.0])
    w = np.array([1, 3, 2])
    weighted = est.Mean().fit(x, sample_weight=w)
    repeated = est.Mean().fit(np.repeat(x, w))
    pd.testing.assert_frame_equal(weighted.summary(), repeated.summary(), rtol=1e-13)


def test_history_is_the_tutorial_loss_in_data_units():
    x = seed_sample()["x"]
    fitted = est.Mean(solver="lbfgs", start=0.7837080359458923).fit(x)
    assert list(fitted.history_.columns) == ["loss", "grad_norm"]
    assert fitted.history_["loss"].iloc[0] == pytest.approx(11.8199, abs=1e-4)
    assert fitted.history_["grad_norm"].iloc[0] == pytest.approx(5.1156, abs=1e-4)
    assert fitted.history_["loss"].iloc[-1] == pytest.approx(np.var(x), rel=1e-14)
    assert len(fitted.history_) == fitted.n_iter_ + 1


def test_series_name_list_and_dataframe_inputs():
    s = pd.Series([1.0, 2.0, 6.0], name="height", index=["a", "b", "c"])
    assert est.Mean().fit(s).variable_ == "height"
    assert est.Mean().fit([1, 2, 6]).params_["mean"] == 3.0
    assert est.Mean().fit(np.array([[1.0], [2.0], [6.0]])).params_["mean"] == 3.0
    assert est.Mean().fit(s.to_frame()).params_["mean"] == 3.0
    assert est.Mean().fit(np.array([True, False, True, True])).params_["mean"] == 0.75


def test_missing_values_raise_or_drop():
    x = pd.Series([1.0, np.nan, 3.0, np.nan], name="x")
    with pytest.raises(est.DataError, match=r"x has 2 missing \(NaN\) value\(s\) out of 4 rows"):
        est.Mean().fit(x)
    fitted = est.Mean(missing="drop").fit(x)
    assert fitted.params_["mean"] == 2.0 and fitted.n_dropped_ == 2 and fitted.nobs_ == 2


@pytest.mark.parametrize(
    "data, pattern",
    [
        ([], r"empty \(0 rows\)"),
        (pd.Series([], dtype=float), "empty"),
        (["1.5", "abc", 2.0, "x"], r"2 non-numeric value\(s\) out of 4 rows"),
        ([1.0, np.inf, -np.inf], r"2 infinite value\(s\) out of 3 rows"),
        (np.ones((3, 2)), r"must be 1-D .* shape \(3, 2\)"),
        (pd.DataFrame({"a": [1.0], "b": [2.0]}), "2 columns"),
        ([np.nan, np.nan], r"2 missing"),
        ([1 + 2j], "complex"),
    ],
)
def test_bad_data_is_a_data_error_that_names_the_problem(data, pattern):
    with pytest.raises(est.DataError, match=pattern):
        est.Mean().fit(data)


@pytest.mark.parametrize(
    "weights, pattern",
    [
        ([1.0, -1.0, 2.0], r"1 negative value"),
        ([1.0, np.nan, 2.0], r"1 NaN or infinite"),
        ([0.0, 0.0, 0.0], "zero for all 3 rows"),
        ([1.0, 2.0], "sample_weight has 2 rows but x has 3"),
    ],
)
def test_bad_weights_are_data_errors(weights, pattern):
    with pytest.raises(est.DataError, match=pattern):
        est.Mean().fit([1.0, 2.0, 3.0], sample_weight=weights)


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"solver": "bfgs"}, "valid solvers"),
        ({"dtype": "float16"}, "valid dtypes"),
        ({"missing": "ignore"}, "valid values"),
        ({"tol": -1.0}, "positive"),
    ],
)
def test_bad_settings_are_settings_errors(settings, pattern):
    with pytest.raises(est.SettingsError, match=pattern):
        est.Mean(**settings).fit([1.0, 2.0])


def test_extreme_magnitudes_fit_without_overflow():
    for scale in (1e300, 1e-300):
        x = scale * np.array([1.0, 2.0, 6.0])
        fitted = est.Mean().fit(x)
        assert fitted.params_["mean"] == pytest.approx(3 * scale, rel=1e-15)
        assert np.isfinite(fitted.std_errors_["mean"])


def test_single_observation_gives_nan_standard_error_with_a_warning():
    with pytest.warns(est.InferenceWarning, match="single observation"):
        fitted = est.Mean().fit([4.2])
    assert fitted.params_["mean"] == 4.2
    assert np.isnan(fitted.std_errors_["mean"])


def test_constant_data_fit_exactly():
    fitted = est.Mean().fit([5.0, 5.0, 5.0])
    assert fitted.params_["mean"] == 5.0 and fitted.std_errors_["mean"] == 0.0


def test_divergent_learning_rate_is_a_fit_error_with_a_hint():
    with pytest.raises(est.FitError, match="learning_rate"):
        est.Mean(solver="sgd", learning_rate=1e3).fit(seed_sample()["x"])


def test_non_convergence_warns_and_is_visible():
    with pytest.warns(est.ConvergenceWarning, match="did not converge"):
        fitted = est.Mean(solver="adam", max_iter=5).fit(seed_sample()["x"])
    assert fitted.converged_ is False and fitted.n_iter_ == 5


def test_float32_is_an_explicit_option():
    x = normal_sample(1000, mean=10.0, seed=1).data["x"]
    fitted = est.Mean(dtype="float32", tol=1e-3).fit(x)
    assert fitted.params_["mean"] == pytest.approx(np.mean(x), rel=1e-6)


def test_scikit_learn_style_settings_and_clone():
    m = est.Mean(solver="newton", tol=1e-6)
    assert m.get_params()["solver"] == "newton"
    assert m.set_params(tol=1e-9) is m and m.tol == 1e-9
    twin = est.clone(m)
    assert twin is not m and twin.get_params() == m.get_params()
    assert repr(m) == "Mean(solver='newton', tol=1e-09)"
    with pytest.raises(est.SettingsError, match="no setting"):
        m.set_params(alpha=1)
    with pytest.raises(est.NotFittedError):
        m.summary()
    from sklearn.base import clone as sk_clone

    assert sk_clone(m).get_params() == m.get_params()


def test_fit_returns_self_and_no_warnings_on_a_clean_fit():
    m = est.Mean()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.fit(seed_sample()["x"]) is m


# --------------------------------------------------------------------------- robust covariances

QUANTILE_REFERENCE = Path(__file__).parent / "reference" / "quantile.json"


@pytest.mark.parametrize("case", ["HC0", "HC1", "cluster", "HAC_2", "HAC_4"])
def test_robust_standard_errors_match_statsmodels_ols_on_a_constant(case):
    """statsmodels 0.15 OLS(foodexp, 1).fit(cov_type=..., use_t=True), stored in
    tests/reference/quantile.json by tests/reference/make_quantile.py."""
    from estimators.datasets import load_dataset

    ref = json.loads(QUANTILE_REFERENCE.read_text())["cases"]["mean"][case]
    x = load_dataset("engel")["foodexp"]
    cov_type, _, lags = case.partition("_")
    groups = np.arange(len(x)) // 10 if cov_type == "cluster" else None
    options = {"maxlags": int(lags)} if lags else None
    fitted = est.Mean(cov_type=cov_type, cov_options=options).fit(x, groups=groups)
    assert fitted.params_["mean"] == pytest.approx(ref["params"][0], rel=1e-14)
    assert fitted.std_errors_["mean"] == pytest.approx(ref["bse"][0], rel=1e-12)
    assert fitted.summary()["p_value"].iloc[0] == pytest.approx(ref["pvalues"][0], rel=1e-9)
    assert fitted._df_inference == ref["df_inference"]  # n - 1, or G - 1 for cluster
    assert fitted.cov_type_ == cov_type


def test_robust_standard_errors_equal_their_closed_forms_with_weights():
    """HC0 = sum w e^2 / n^2, HC1 = HC0 n / (n - 1), cluster = G/(G-1) sum_g (sum w e)^2 / n^2,
    n = sum w; integer weights give the repeated rows' answers."""
    rng = np.random.default_rng(31)
    x = rng.normal(3.0, 2.0, 60)
    w = rng.integers(1, 4, 60).astype(float)
    g = np.arange(60) % 7
    n = w.sum()
    e = x - np.sum(w * x) / n
    hc0 = np.sum(w * e**2) / n**2
    sums = np.bincount(g, weights=w * e)
    closed = {"HC0": hc0, "HC1": hc0 * n / (n - 1), "cluster": 7 / 6 * np.sum(sums**2) / n**2}
    for cov_type, variance in closed.items():
        groups = g if cov_type == "cluster" else None
        weighted = est.Mean(cov_type=cov_type).fit(x, sample_weight=w, groups=groups)
        assert weighted.cov_.iloc[0, 0] == pytest.approx(variance, rel=1e-12)
        reps = w.astype(int)
        repeated = est.Mean(cov_type=cov_type).fit(
            np.repeat(x, reps), groups=None if groups is None else np.repeat(g, reps)
        )
        assert repeated.cov_.iloc[0, 0] == pytest.approx(variance, rel=1e-12)
    assert weighted.n_groups_ == 7


def test_cluster_labels_are_cut_to_the_values_kept_and_validated():
    x = pd.Series([1.0, np.nan, 3.0, 4.0, 8.0, np.nan], name="x")
    g = np.array([0, 0, 0, 1, 1, 1])
    fitted = est.Mean(cov_type="cluster", missing="drop").fit(x, groups=g)
    e = np.array([1.0, 3.0, 4.0, 8.0]) - 4.0
    expected = 2 * ((e[0] + e[1]) ** 2 + (e[2] + e[3]) ** 2) / 16
    assert fitted.cov_.iloc[0, 0] == pytest.approx(expected, rel=1e-13)
    with pytest.raises(est.SettingsError, match="needs cluster labels: pass groups="):
        est.Mean(cov_type="cluster").fit([1.0, 2.0, 3.0])
    with pytest.raises(est.SettingsError, match="groups= is used only with cov_type='cluster'"):
        est.Mean().fit([1.0, 2.0, 3.0], groups=[0, 1, 1])
    with pytest.raises(est.DataError, match="1 missing cluster labels"):
        est.Mean(cov_type="cluster").fit([1.0, 2.0, 3.0], groups=[0.0, np.nan, 1.0])
    with pytest.raises(est.DataError, match="at least two clusters"):
        est.Mean(cov_type="cluster").fit([1.0, 2.0, 3.0], groups=[1, 1, 1])
    with pytest.raises(est.SettingsError, match=r"valid values are \['nonrobust', 'HC0', 'HC1'"):
        est.Mean(cov_type="HC3").fit([1.0, 2.0, 3.0])


# --------------------------------------------------------------------------- the mean's loss
# through its sufficient statistics (issue 7: Mean copied its rows into JAX and ran autodiff
# over them on every fit)


def test_centred_moments_equal_numpy_weighted_mean_and_variance_across_blocks():
    from estimators.location import MOMENT_BLOCK, centred_moments

    rng = np.random.default_rng(5)
    n = 2 * MOMENT_BLOCK + 123  # three blocks, the last one short
    x = 1e6 + rng.standard_normal(n)
    w = rng.integers(0, 4, n).astype(float)
    ref, scale = 1e6, 8.0
    c = (x - ref) / scale
    for weights, unit in ((np.ones(n), True), (np.ones(n), False), (w, False)):
        total, mean, second = centred_moments(x, weights, ref, scale, unit)
        # reference: numpy 2.4 np.average (pairwise sums), same centred data
        expected_mean = np.average(c, weights=weights)
        assert total == weights.sum()
        assert mean == pytest.approx(expected_mean, rel=1e-14, abs=1e-16)
        assert second == pytest.approx(
            np.average((c - expected_mean) ** 2, weights=weights), rel=1e-12
        )


def test_the_moment_loss_is_the_same_function_as_the_rows_loss():
    """Value, gradient and Hessian at several points, by autodiff of both forms."""
    import jax
    import jax.numpy as jnp

    from estimators.location import (
        centred_moments,
        mean_squared_deviation,
        moment_squared_deviation,
    )

    rng = np.random.default_rng(6)
    x = rng.uniform(-1.0, 1.0, 5000)
    w = rng.uniform(0.0, 2.0, 5000)
    _, mean, second = centred_moments(x, w, 0.0, 1.0)
    with jax.enable_x64(True):
        moments = jnp.array([mean, second])
        xs, ws = jnp.asarray(x), jnp.asarray(w)
        for delta in (-3.0, -0.2, 0.0, mean, 0.7):
            params = {"mean": jnp.float64(delta)}
            rows = mean_squared_deviation(params, xs, ws)
            stats_value = moment_squared_deviation(params, moments)
            assert float(stats_value) == pytest.approx(float(rows), rel=1e-13)
            g_rows = jax.grad(mean_squared_deviation)(params, xs, ws)["mean"]
            g_stats = jax.grad(moment_squared_deviation)(params, moments)["mean"]
            assert float(g_stats) == pytest.approx(float(g_rows), rel=1e-12, abs=1e-15)
            h = jax.hessian(lambda d: moment_squared_deviation({"mean": d}, moments))(delta)
            assert float(h) == 2.0


def test_float64_mean_hands_the_optimiser_two_numbers_not_the_rows(monkeypatch):
    import estimators.location as location

    calls = []
    original = location.minimize

    def recording(fun, params0, *args, **kwargs):
        calls.append((fun, [np.shape(a) for a in args]))
        return original(fun, params0, *args, **kwargs)

    monkeypatch.setattr(location, "minimize", recording)
    rng = np.random.default_rng(7)
    x = 50.0 + rng.standard_normal(3 * location.MOMENT_BLOCK)
    w = rng.integers(1, 5, x.size)
    fitted = est.Mean(solver="newton").fit(x, sample_weight=w)
    assert calls == [(location.moment_squared_deviation, [(2,)])]
    exact = float(sum(Fraction(v) * int(k) for v, k in zip(x, w, strict=True)) / int(w.sum()))
    assert abs(fitted.params_["mean"] - exact) <= 2e-16 * abs(exact)
    # reference: statsmodels 0.15 DescrStatsW (weighted mean's standard error)
    from statsmodels.stats.weightstats import DescrStatsW

    assert fitted.std_errors_["mean"] == pytest.approx(
        DescrStatsW(x, weights=w).std_mean, rel=1e-12
    )
    calls.clear()
    est.Mean(dtype="float32", tol=1e-3).fit(x)  # float32 keeps the rows' loss
    assert calls[0][0] is location.mean_squared_deviation and calls[0][1] == [(x.size,)] * 2


# --------------------------------------------------------------------------- the one-pass
# moments of unit-weight samples (issue 7: range and moments from one block-wise pass)


def _unit_moment_cases(n):
    rng = np.random.default_rng(11)
    stride = n // 1024
    misleading = 1e6 + rng.random(n)  # the subsample looks centred at 0; the data are not
    misleading[stride // 2 :: stride] = np.resize(
        [-2e6, 2e6], misleading[stride // 2 :: stride].size
    )
    return {
        "normal": rng.standard_normal(n),
        "offset": 1e9 + rng.random(n),
        "cauchy": rng.standard_cauchy(n),
        "positive": rng.exponential(size=n),
        "misleading": misleading,
    }


def test_unit_moments_equal_the_two_pass_moments():
    from estimators.location import MOMENT_BLOCK, center_and_scale, centred_moments
    from estimators.moments import unit_moments

    n = 3 * MOMENT_BLOCK + 17
    for name, x in _unit_moment_cases(n).items():
        ref, scale, (total, mean, second) = unit_moments(x)
        # reference: this library's two-pass path (center_and_scale, then centred_moments)
        expected_ref, expected_scale = center_and_scale(x)
        _, expected_mean, expected_second = centred_moments(
            x, np.ones(n), expected_ref, expected_scale, True
        )
        assert (ref, scale, total) == (expected_ref, expected_scale, n), name
        assert mean == pytest.approx(expected_mean, rel=1e-14, abs=1e-16), name
        assert second == pytest.approx(expected_second, rel=1e-12), name
    bad = np.r_[1.0, np.nan, np.zeros(10)]
    assert unit_moments(bad) is None


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_one_pass_mean_equals_the_two_pass_mean(monkeypatch, cov_type):
    import estimators.location as location

    n = location.UNIT_MOMENTS_MIN_ROWS + 3
    for name, x in _unit_moment_cases(n).items():
        fast = est.Mean(cov_type=cov_type).fit(x)
        monkeypatch.setattr(location, "UNIT_MOMENTS_MIN_ROWS", 1 << 60)  # the two-pass path
        plain = est.Mean(cov_type=cov_type).fit(x)
        monkeypatch.undo()
        assert fast.params_["mean"] == pytest.approx(plain.params_["mean"], rel=2e-16), name
        assert fast.std_errors_["mean"] == pytest.approx(plain.std_errors_["mean"], rel=1e-12)
        assert fast.n_iter_ == plain.n_iter_ and fast.converged_
        # reference: math.fsum (the correctly rounded sum) over n; with a large common
        # offset the mean is correctly rounded, otherwise within the promised tol = 1e-8
        # standard errors
        exact = math.fsum(x) / n
        error = abs(fast.params_["mean"] - exact)
        if name == "offset":
            assert error <= np.spacing(exact), name
        else:
            assert error <= 1e-8 * fast.std_errors_["mean"], name


def test_one_pass_mean_reports_bad_values_as_before():
    x = np.random.default_rng(12).standard_normal(1 << 17)
    x[[3, 4]] = np.nan
    with pytest.raises(est.DataError, match=r"x has 2 missing \(NaN\) value"):
        est.Mean().fit(x)
    assert est.Mean(missing="drop").fit(x).params_["mean"] == pytest.approx(
        np.nanmean(x), rel=1e-13
    )


def test_unit_moments_repeat_the_pass_about_the_mean_when_the_subsample_misleads(monkeypatch):
    import estimators.moments as moments

    shifts = []
    real_scan = moments.scan
    monkeypatch.setattr(
        moments,
        "scan",
        lambda x, b, shift, **k: shifts.append(shift) or real_scan(x, b, shift, **k),
    )
    cases = _unit_moment_cases(3 * (1 << 15) + 17)
    moments.unit_moments(cases["normal"])
    moments.unit_moments(cases["offset"])
    moments.unit_moments(cases["misleading"])
    assert shifts[0] == 0.0  # centred data: one pass, no subtraction
    assert shifts[1] == pytest.approx(1e9, rel=1e-9)  # offset seen in the subsample: one pass
    assert shifts[2:3] == [0.0] and shifts[3] == pytest.approx(1e6, rel=0.1)  # a second pass
    assert len(shifts) == 4
