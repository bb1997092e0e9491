"""Median, Quantile, Huber and TukeyBiweight: numpy, statsmodels, exact minimisers, bad input."""

from __future__ import annotations

import warnings
from fractions import Fraction

import jax
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from estimators.datasets import load_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.robust import norms

from estimators.base import NotFittedError, clone
from estimators.errors import (
    ConvergenceWarning,
    DataError,
    InferenceWarning,
    SettingsError,
)
from estimators.location import Median, Quantile
from estimators.losses import huber, loss_derivatives, tukey_biweight
from estimators.numerics import NORMAL_MAD
from estimators.order_statistics import quantile_minimizers
from estimators.robust_location import Huber, TukeyBiweight


def random_sample(rng: np.random.Generator, kind: int, n: int) -> np.ndarray:
    """Continuous, heavily tied, rounded heavy-tailed, and large-offset samples."""
    if kind == 0:
        return rng.normal(size=n)
    if kind == 1:
        return rng.integers(0, 5, n).astype(float)
    if kind == 2:
        return np.round(rng.standard_cauchy(n), 1)
    return 1e9 + rng.integers(0, 10, n) * 0.5


# Small random samples have no density estimate for the standard error: NaN plus
# an InferenceWarning (tested on its own below), not the subject of the loops.
small_samples = pytest.mark.filterwarnings("ignore::estimators.errors.InferenceWarning")


def pinball_loss(x, w, q, b):
    r = x - b
    return float(np.sum(w * r * (q - (r < 0))) / np.sum(w))


# --------------------------------------------------------------------------- Median, Quantile


@small_samples
def test_median_matches_np_median_on_many_samples():
    """Reference: numpy 2.4 np.median (mean of the two middle values for even n)."""
    rng = np.random.default_rng(20)
    for trial in range(120):
        x = random_sample(rng, trial % 4, int(rng.integers(1, 120)))
        fitted = Median().fit(x)
        assert fitted.params_["median"] == np.median(x), (trial, x)
        assert fitted.converged_


@small_samples
def test_quantile_lower_end_is_numpy_inverted_cdf_and_interval_midpoint():
    """Reference: np.quantile(method="inverted_cdf"), the smallest x with F_n(x) >= q."""
    rng = np.random.default_rng(21)
    for trial in range(50):
        x = random_sample(rng, trial % 4, int(rng.integers(1, 120)))
        for q in (0.1, 0.25, 0.37, 0.75, 0.9, float(rng.uniform(0.01, 0.99))):
            fitted = Quantile(q=q).fit(x)
            low, high = fitted.minimizer_set_
            assert low == np.quantile(x, q, method="inverted_cdf"), (trial, q)
            expected = low if low == high else (low + high) / 2
            assert fitted.params_.iloc[0] == expected
            # an interval of minimisers only where n q is (up to rounding) a whole number
            if low != high:
                assert abs(q * x.size - round(q * x.size)) < 1e-12


@small_samples
def test_even_n_interval_and_exact_dyadic_levels():
    x = np.array([4.0, 1.0, 3.0, 2.0, 8.0, 6.0, 5.0, 7.0])
    fitted = Quantile(q=0.25).fit(x)
    assert fitted.minimizer_set_ == (2.0, 3.0) and fitted.params_.iloc[0] == 2.5
    fitted = Quantile(q=0.3).fit(np.arange(1.0, 11.0))  # 0.3 * 10 is 3 up to rounding
    assert fitted.minimizer_set_ == (3.0, 4.0)
    assert Quantile(q=0.31).fit(np.arange(1.0, 11.0)).minimizer_set_ == (4.0, 4.0)


@small_samples
def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(22)
    for trial in range(60):
        n = int(rng.integers(1, 60))
        x = random_sample(rng, trial % 4, n)
        w = rng.integers(0, 4, n)
        if w.sum() == 0:
            w[0] = 1
        repeated = np.repeat(x, w)
        assert Median().fit(x, sample_weight=w).params_["median"] == np.median(repeated)
        q = float(rng.uniform(0.05, 0.95))
        low, _ = Quantile(q=q).fit(x, sample_weight=w).minimizer_set_
        assert low == np.quantile(repeated, q, method="inverted_cdf")


@small_samples
def test_fractional_weights_lower_end_is_numpy_weighted_inverted_cdf():
    """Reference: np.quantile(x, q, weights=w, method="inverted_cdf") (numpy >= 2.0)."""
    rng = np.random.default_rng(23)
    for trial in range(60):
        n = int(rng.integers(1, 80))
        x = random_sample(rng, trial % 4, n)
        w = rng.uniform(0.0, 3.0, n)
        q = float(rng.uniform(0.05, 0.95))
        fitted = Quantile(q=q).fit(x, sample_weight=w)
        low, high = fitted.minimizer_set_
        assert low == np.quantile(x, q, weights=w, method="inverted_cdf")
        # the estimate minimises the loss: no data value does better
        best = min(pinball_loss(x, w, q, v) for v in x)
        assert pinball_loss(x, w, q, fitted.params_.iloc[0]) <= best * (1 + 1e-12)


@small_samples
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-6, 6), min_size=1, max_size=40),
    st.sampled_from([0.5, 0.25, 0.75, 0.125, 0.2, 0.6, 0.9]),
)
def test_exact_minimizer_set_on_tied_integer_data(values, q):
    """The minimiser set by brute force over a grid: every point of it has the minimum loss."""
    x = np.array(values, dtype=float)
    w = np.ones_like(x)
    low, high = quantile_minimizers(x, w, q)
    grid = np.arange(-6.5, 6.51, 0.25)
    losses = np.array([pinball_loss(x, w, q, b) for b in grid])
    minimal = grid[losses <= losses.min() + 1e-12]
    assert low == minimal.min() and high == minimal.max()


def test_any_guess_gives_the_same_exact_answer():
    rng = np.random.default_rng(24)
    x = rng.normal(size=1000)
    w = rng.integers(1, 3, 1000).astype(float)
    expected = quantile_minimizers(x, w, 0.3)
    for guess in (-1e9, -3.0, -0.52, 0.0, 2.5, 1e9, None):
        assert quantile_minimizers(x, w, 0.3, guess) == expected


def test_median_of_michelson_speed_of_light():
    speed = load_dataset("michelson")["speed"]
    fitted = Median().fit(speed)
    assert fitted.params_["median"] == np.median(speed)  # numpy 2.4
    assert fitted.variable_ == "speed"


@small_samples
def test_large_offset_and_extreme_magnitudes_are_exact():
    x = 1e9 + np.array([0.1, 0.3, 0.2, 0.7])
    assert Median().fit(x).params_["median"] == np.median(x)
    for scale in (1e300, 1e-300):
        y = scale * np.array([1.0, 2.0, 6.0, 7.0])
        assert Median().fit(y).params_["median"] == np.median(y)


def test_quantile_standard_error_matches_statsmodels_quantreg_default():
    """Reference: statsmodels 0.15 QuantReg(x, 1).fit(q) with its default vcov="robust"
    (Powell's kernel sandwich, Epanechnikov, Hall-Sheather bandwidth), which is our
    default cov_type="kernel"; with n = 201 its IRLS lands on the same order statistic."""
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 2.0, 201)
    for q in (0.5, 0.1, 0.75, 0.9):
        fitted = Quantile(q=q).fit(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sm.QuantReg(x, np.ones_like(x)).fit(q=q, p_tol=1e-12, max_iter=5000)
        assert fitted.params_.iloc[0] == pytest.approx(ref.params[0], rel=1e-14)
        assert fitted.std_errors_.iloc[0] == pytest.approx(ref.bse[0], rel=1e-12)
        lower, upper = ref.conf_int()[0]  # t intervals with n - 1 degrees of freedom
        assert fitted.summary()["ci_lower"].iloc[0] == pytest.approx(lower, rel=1e-12)
        assert fitted.summary()["ci_upper"].iloc[0] == pytest.approx(upper, rel=1e-12)


def test_weighted_standard_error_equals_repeated_rows():
    rng = np.random.default_rng(25)
    x = rng.normal(size=80)
    w = rng.integers(1, 4, 80)
    weighted = Quantile(q=0.3).fit(x, sample_weight=w).summary()
    repeated = Quantile(q=0.3).fit(np.repeat(x, w)).summary()
    pd.testing.assert_frame_equal(weighted, repeated, rtol=1e-12)


def test_standard_error_is_nan_with_a_reason_for_tiny_samples():
    with pytest.warns(InferenceWarning, match="Hall-Sheather bandwidth"):
        fitted = Median().fit([3.0, 1.0, 2.0])
    assert fitted.params_["median"] == 2.0 and np.isnan(fitted.std_errors_["median"])
    with pytest.warns(InferenceWarning, match="interquartile range of the residuals is 0"):
        Median().fit(np.r_[np.zeros(50), 1.0])


def test_history_is_the_loss_in_data_units():
    rng = np.random.default_rng(26)
    x = 100.0 + 7.0 * rng.normal(size=200)
    fitted = Quantile(q=0.8).fit(x)
    assert list(fitted.history_.columns) == ["loss", "grad_norm"]
    assert len(fitted.history_) == fitted.n_iter_ + 1
    w = np.ones_like(x)
    at_estimate = pinball_loss(x, w, 0.8, fitted.params_.iloc[0])
    assert fitted.history_["loss"].min() == pytest.approx(at_estimate, rel=1e-9)
    start = pinball_loss(x, w, 0.8, 0.5 * x.min() + 0.5 * x.max())  # the midrange start
    assert fitted.history_["loss"].iloc[0] == pytest.approx(start, rel=1e-12)


def test_any_solver_ends_on_the_exact_median():
    x = np.random.default_rng(27).exponential(size=99)
    fitted = Median(solver="adam").fit(x)  # adam does not land on the kink; the finish does
    assert fitted.params_["median"] == np.median(x) and fitted.converged_


def test_median_api_settings_missing_and_float32():
    m = Median(solver="adam")
    assert "q" not in m.get_params() and repr(m) == "Median(solver='adam')"
    assert clone(Quantile(q=0.9)).get_params()["q"] == 0.9
    with pytest.raises(NotFittedError):
        Median().summary()
    x = pd.Series([1.0, np.nan, 3.0, 10.0], name="y")
    with pytest.raises(DataError, match=r"y has 1 missing \(NaN\) value"):
        Median().fit(x)
    with pytest.warns(InferenceWarning):
        fitted = Median(missing="drop").fit(x)
    assert fitted.params_["median"] == 3.0 and fitted.n_dropped_ == 1
    y = np.random.default_rng(28).normal(size=101)
    assert Median(dtype="float32").fit(y).params_["median"] == np.median(y)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, np.nan, "0.5", None])
def test_bad_quantile_level_is_a_settings_error(q):
    with pytest.raises(SettingsError, match="q must be a number strictly between 0 and 1"):
        Quantile(q=q).fit([1.0, 2.0, 3.0])


# --------------------------------------------------------------------------- Huber, Tukey


def contaminated(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 2.0, n)
    x[: max(1, n // 10)] += 15.0
    return x


def rlm(x, norm, **fit_options):
    """Reference: statsmodels 0.15 RLM on a column of ones, run to |step| < 1e-14."""
    return sm.RLM(x, np.ones_like(x), M=norm).fit(
        conv="coefs", tol=1e-14, maxiter=1000, **fit_options
    )


CASES = [(7, 1), (20, 2), (101, 3), (250, 4)]


@pytest.mark.parametrize("n, seed", CASES)
def test_huber_matches_statsmodels_rlm_huber_t(n, seed):
    x = contaminated(n, seed)
    fitted = Huber(c=1.345, tol=1e-12).fit(x)
    ref = rlm(x, norms.HuberT(t=1.345))
    assert fitted.converged_
    assert fitted.params_["location"] == pytest.approx(ref.params[0], rel=1e-13)
    assert fitted.scale_ == pytest.approx(ref.scale, rel=1e-12)
    assert fitted.std_errors_["location"] == pytest.approx(ref.bse[0], rel=1e-12)
    p_value = fitted.summary()["p_value"].iloc[0]  # z test, as RLM
    assert p_value == pytest.approx(ref.pvalues[0], rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("n, seed", CASES)
def test_tukey_biweight_matches_statsmodels_rlm_started_at_the_median(n, seed):
    """n = 7 is a case where the plain iteration b <- argmin at s(b) cycles (checked below)."""
    x = contaminated(n, seed)
    fitted = TukeyBiweight(c=4.685, tol=1e-12).fit(x)
    ref = rlm(x, norms.TukeyBiweight(c=4.685), start_params=[np.median(x)])
    assert fitted.converged_
    assert fitted.params_["location"] == pytest.approx(ref.params[0], rel=1e-13)
    assert fitted.scale_ == pytest.approx(ref.scale, rel=1e-12)
    assert fitted.std_errors_["location"] == pytest.approx(ref.bse[0], rel=1e-12)


@pytest.mark.parametrize(
    "estimator, norm", [(Huber, norms.HuberT), (TukeyBiweight, norms.TukeyBiweight)]
)
def test_default_tol_is_within_tol_standard_errors_of_statsmodels(estimator, norm):
    """The documented promise of tol (default 1e-8): the distance in standard errors."""
    for n, seed in CASES:
        x = contaminated(n, seed)
        fitted = estimator().fit(x)
        ref = rlm(x, norm(), start_params=[np.median(x)])
        distance = abs(fitted.params_["location"] - ref.params[0])
        assert distance <= 1e-8 * fitted.std_errors_["location"]
        assert distance <= 1e-8 * abs(ref.params[0])


def test_rlm_default_start_from_the_mean_is_the_start_setting():
    x = contaminated(60, 5)
    for estimator, norm in ((Huber(), norms.HuberT()), (TukeyBiweight(), norms.TukeyBiweight())):
        fitted = estimator.set_params(start=float(np.mean(x))).fit(x)
        ref = rlm(x, norm)  # RLM's default: start from OLS, i.e. the mean
        assert fitted.params_["location"] == pytest.approx(ref.params[0], rel=1e-12)


def test_plain_scale_iteration_would_cycle_on_the_small_sample():
    """Why the scale rounds use a safeguarded secant: alternating steps do not settle."""
    x = contaminated(7, 1)
    with pytest.warns(ConvergenceWarning, match="max_scale_iter=2"):
        rough = TukeyBiweight(max_scale_iter=2).fit(x)
    assert rough.converged_ is False
    fitted = TukeyBiweight().fit(x)
    assert fitted.n_scale_iter_ > 2 and fitted.converged_


def huber_equation(x: np.ndarray, beta: float, c: float = 1.345) -> float:
    """sum psi((x - beta) / s(beta)), s the MAD about beta, in exact rational arithmetic."""
    b, c = Fraction(beta), Fraction(c)
    values = [Fraction(v) for v in x]
    deviations = sorted(abs(v - b) for v in values)
    s = deviations[len(values) // 2] / Fraction(NORMAL_MAD)  # odd n: the middle one
    return float(sum(max(-c, min(c, (v - b) / s)) for v in values))


def test_huber_with_far_outliers_solves_its_equation_to_the_last_bit():
    """Outliers 1e12 away: the estimate is the root of the estimating equation to one ulp
    (exact arithmetic); statsmodels' IRLS, whose weights c s / |r| are 1e-12 there, is
    off by about 1e-10 standard errors."""
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, 101)
    x[:10] += 1e12 * rng.uniform(1.0, 2.0, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        fitted = Huber(tol=1e-12).fit(x)
    beta = fitted.params_["location"]
    below, above = np.nextafter(beta, -np.inf), np.nextafter(beta, np.inf)
    assert huber_equation(x, below) * huber_equation(x, above) <= 0
    ref = rlm(x, norms.HuberT())
    assert abs(beta - ref.params[0]) <= 1e-9 * fitted.std_errors_["location"]
    tukey = TukeyBiweight(tol=1e-12).fit(x).params_["location"]
    ref = rlm(x, norms.TukeyBiweight(), start_params=[np.median(x)])
    assert tukey == pytest.approx(ref.params[0], rel=1e-13)


def test_extreme_magnitudes_scale_exactly():
    """Every estimate and standard error is equivariant under x -> 2^k x, and 1e+-300 fit."""
    x = contaminated(301, 10)
    for estimator in (Median(), Quantile(q=0.2), Huber(), TukeyBiweight()):
        base = clone(estimator).fit(x)
        for factor in (2.0**900, 2.0**-900):
            scaled = clone(estimator).fit(factor * x)
            estimate, se = scaled.params_.iloc[0], scaled.std_errors_.iloc[0]
            assert estimate == pytest.approx(factor * base.params_.iloc[0], rel=1e-13)
            assert se == pytest.approx(factor * base.std_errors_.iloc[0], rel=1e-12)


def test_huber_with_a_huge_threshold_is_the_mean():
    x = contaminated(50, 6)
    fitted = Huber(c=1e6).fit(x)
    assert fitted.params_["location"] == pytest.approx(np.mean(x), rel=1e-14)


def test_robust_fits_are_equivariant_and_resist_outliers():
    x = contaminated(101, 7)
    for estimator in (Huber(), TukeyBiweight()):
        base = estimator.fit(x).params_["location"]
        shifted = clone(estimator).fit(3.0 * x - 1e6).params_["location"]
        assert shifted == pytest.approx(3.0 * base - 1e6, rel=1e-14)
        moved = x.copy()
        moved[:10] += 1e6  # the outliers go much further out
        assert abs(clone(estimator).fit(moved).params_["location"] - base) < 0.5
    # Tukey gives far outliers no weight at all: moving them changes nothing
    tukey = TukeyBiweight().fit(x).params_["location"]
    assert TukeyBiweight().fit(moved).params_["location"] == pytest.approx(tukey, rel=1e-12)


def test_robust_integer_weights_equal_repeated_rows():
    x = contaminated(40, 8)
    w = np.random.default_rng(8).integers(1, 4, 40)
    for estimator in (Huber(), TukeyBiweight()):
        weighted = clone(estimator).fit(x, sample_weight=w)
        repeated = clone(estimator).fit(np.repeat(x, w))
        pd.testing.assert_frame_equal(weighted.summary(), repeated.summary(), rtol=1e-10)
        assert weighted.scale_ == pytest.approx(repeated.scale_, rel=1e-12)


def test_psi_functions_match_statsmodels_norms():
    """Reference: statsmodels.robust.norms HuberT / TukeyBiweight rho, psi and psi_deriv;
    rho also against exact rational arithmetic (statsmodels' biweight rho,
    c^2/6 - c^2/6 (1 - u)^3, loses a few ulps of c^2/6 to cancellation near 0)."""
    z = np.array([-7.0, -4.685, -2.0, -1.345, -0.5, 0.0, 0.3, 1.345, 1.5, 4.0, 9.0])
    for rho, norm, c in (
        (huber, norms.HuberT(t=1.345), 1.345),
        (tukey_biweight, norms.TukeyBiweight(c=4.685), 4.685),
    ):
        _, psi, dpsi = loss_derivatives(rho, z, c=c)  # autodiff, as used for the standard errors
        np.testing.assert_allclose(psi, norm.psi(z), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(dpsi, norm.psi_deriv(z), rtol=1e-14, atol=1e-15)
        with jax.enable_x64(True):
            values = np.asarray(rho(z, c=c))
        np.testing.assert_allclose(values, norm.rho(z), rtol=1e-14, atol=8 * 2.2e-16 * c * c)
        np.testing.assert_allclose(values, [exact_rho(rho, v, c) for v in z], rtol=4e-16)
    assert NORMAL_MAD == 0.6744897501960817  # scipy.special.ndtri(0.75)


def exact_rho(rho, z: float, c: float) -> float:
    """Huber's and Tukey's rho in exact rational arithmetic."""
    z, c = Fraction(z), Fraction(c)
    if rho is huber:
        return float(z * z / 2 if abs(z) <= c else c * abs(z) - c * c / 2)
    u = min(z * z / (c * c), Fraction(1))
    return float(c * c / 6 * (1 - (1 - u) ** 3))


def test_zero_mad_is_a_data_error_that_counts_the_rows():
    with pytest.raises(DataError, match=r"MAD scale is 0 \(3 of 5 rows equal 2.0"):
        Huber().fit([2.0, 2.0, 2.0, 5.0, -1.0])
    with pytest.raises(DataError, match="MAD scale is 0"):
        TukeyBiweight().fit([4.2])


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"c": 0.0}, "c .* must be a positive number"),
        ({"c": -1.0}, "c .* must be a positive number"),
        ({"c": np.inf}, "c .* must be a positive number"),
        ({"tol": 0.0}, "tol must be a positive number"),
        ({"max_scale_iter": 0}, "max_scale_iter must be a positive integer"),
        ({"solver": "bfgs"}, "valid solvers"),
        ({"dtype": "float16"}, "valid dtypes"),
    ],
)
def test_bad_robust_settings_are_settings_errors(settings, pattern):
    for estimator in (Huber, TukeyBiweight):
        with pytest.raises(SettingsError, match=pattern):
            estimator(**settings).fit([1.0, 2.0, 3.0, 4.0])


def test_robust_bad_data_and_single_nan():
    with pytest.raises(DataError, match=r"2 non-numeric value\(s\)"):
        Huber().fit(["1", "a", "b", 2.0])
    with pytest.raises(DataError, match=r"sample_weight has 1 negative value"):
        TukeyBiweight().fit([1.0, 2.0, 3.0], sample_weight=[1.0, -1.0, 1.0])


def test_clean_robust_fits_raise_no_warnings():
    x = contaminated(120, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Huber().fit(x).converged_ and TukeyBiweight().fit(x).converged_
