"""Standard errors of QuantileRegression, Quantile and Median: kernel, iid, nid, bootstrap.

References:
- statsmodels 0.15 ``QuantReg`` (``vcov="robust"`` and ``"iid"``, Epanechnikov
  kernel), stored in tests/reference/quantile.json by
  tests/reference/make_quantile.py (versions and calls recorded there);
- R quantreg ``summary.rq(se="nid")`` on engel, as printed in the test file
  of the R package ``parameters`` (see :data:`R_NID_ENGEL`);
- closed forms on constructed data, and a Monte Carlo coverage check (slow).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from estimators.datasets import load_dataset
from scipy import stats

from estimators.errors import DataError, InferenceWarning, SettingsError
from estimators.location import Median, Quantile
from estimators.numerics import hall_sheather
from estimators.quantile import QuantileRegression
from estimators.quantile_inference import (
    bofinger_bandwidth,
    bootstrap_weights,
    chamberlain_bandwidth,
    hall_sheather_bandwidth,
    iid_sparsity,
    kernel_cov,
    nid_bandwidth,
)

REFERENCE = json.loads((Path(__file__).parent / "reference" / "quantile.json").read_text())
QUANTREG = REFERENCE["cases"]["quantreg"]
SAMPLE = REFERENCE["cases"]["quantile_sample"]
DATA = {
    "engel": ("foodexp", ["income"]),
    "stackloss": ("stackloss", ["airflow", "watertemp", "acidconc"]),
}

# R quantreg summary.rq(se = "nid") of rq(foodexp ~ income, tau = 1:9/10, data = engel):
# (intercept, income) estimates and standard errors as printed (5 decimals), from
# https://github.com/easystats/parameters/blob/02b2ab0f68d637d1f9d3b1d9323cc1e438c9e40a/tests/testthat/test-quantreg.R
# (parameters::model_parameters reports summary.rq(covariance = TRUE), whose
# default se is "nid"; the 36 numbers agree with ours to every printed digit).
R_NID_ENGEL = {
    0.1: ([110.14157, 0.40177], [29.39768, 0.04024]),
    0.2: ([102.31388, 0.4469], [21.42836, 0.02997]),
    0.3: ([99.11058, 0.48124], [22.18115, 0.02987]),
    0.4: ([101.95988, 0.5099], [22.06032, 0.02936]),
    0.5: ([81.48225, 0.56018], [19.25066, 0.02828]),
    0.6: ([79.70227, 0.58585], [17.61762, 0.02506]),
    0.7: ([79.28362, 0.60885], [14.25039, 0.02176]),
    0.8: ([58.00666, 0.65951], [19.21719, 0.02635]),
    0.9: ([67.35087, 0.6863], [22.39538, 0.02849]),
}


def design(name):
    response, features = DATA[name]
    df = load_dataset(name)
    return df[features], df[response]


def with_constant(X):
    X = np.asarray(X, dtype=float)
    return np.column_stack([np.ones(len(X)), X])


# --------------------------------------------------------------------------- bandwidths


@pytest.mark.parametrize("n", [21, 235, 10_000])
@pytest.mark.parametrize("q", [0.05, 0.25, 0.5, 0.9])
def test_bandwidths_are_quantregs_closed_forms(n, q):
    """bandwidth.rq (quantreg) with x0 = qnorm(q), f0 = dnorm(x0); Chamberlain as statsmodels."""
    x0, z = stats.norm.ppf(q), stats.norm.ppf(0.975)
    f0 = stats.norm.pdf(x0)
    hs = n ** (-1 / 3) * z ** (2 / 3) * ((1.5 * f0**2) / (2 * x0**2 + 1)) ** (1 / 3)
    bofinger = n ** (-1 / 5) * ((4.5 * f0**4) / (2 * x0**2 + 1) ** 2) ** (1 / 5)
    assert hall_sheather_bandwidth(n, q) == pytest.approx(hs, rel=1e-14)
    assert hall_sheather_bandwidth(n, q) == pytest.approx(hall_sheather(n, q), rel=1e-14)
    assert bofinger_bandwidth(n, q) == pytest.approx(bofinger, rel=1e-14)
    assert chamberlain_bandwidth(n, q) == pytest.approx(z * math.sqrt(q * (1 - q) / n), rel=1e-14)
    h = nid_bandwidth(n, q)  # quantreg halves h until q -+ h lies in [0, 1]
    assert 0 <= q - h and q + h <= 1
    assert h == hs or (h * 2 ** round(math.log2(hs / h)) == pytest.approx(hs, rel=1e-14))


# --------------------------------------------------------------------------- kernel


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize(
    "variant, bandwidth", [("kernel", None), ("kernel_chamberlain", "chamberlain")]
)
def test_kernel_matches_statsmodels_at_the_median(name, variant, bandwidth):
    """At q = 0.5 the sign of a zero residual does not matter: statsmodels' numbers."""
    ref = QUANTREG[f"{name}_q0.5"][variant]
    X, y = design(name)
    options = None if bandwidth is None else {"bandwidth": bandwidth}
    fit = QuantileRegression(q=0.5, cov_options=options).fit(X, y)
    np.testing.assert_allclose(fit.std_errors_.to_numpy(), ref["bse"], rtol=1e-6)
    np.testing.assert_allclose(fit.cov_.to_numpy(), ref["cov"], rtol=1e-6)
    assert fit.df_resid_ == ref["df_resid"] and fit.cov_type_ == "kernel"


@pytest.mark.parametrize("q", [0.25, 0.75])
def test_kernel_away_from_the_median_differs_only_by_the_interpolated_rows(q):
    """statsmodels weights a row by q^2 (residual > 0) or (1-q)^2; its IRLS leaves the p
    interpolated rows at about +-1e-7 with arbitrary signs, ours are exactly 0.
    (1) Our formula at statsmodels' residuals is its covariance; (2) our residuals with
    those p rows given statsmodels' signs give its standard errors."""
    ref = QUANTREG[f"engel_q{q}"]["kernel"]
    X, y = design("engel")
    exog, yv = with_constant(X), y.to_numpy(dtype=float)
    ones = np.ones(len(yv))
    sm_residual = yv - exog @ np.array(ref["params"])
    own, reason = kernel_cov(exog, yv, sm_residual, q, ones)
    assert reason is None
    np.testing.assert_allclose(own, ref["cov"], rtol=1e-9)
    fit = QuantileRegression(q=q).fit(X, y)
    residual = fit.residuals_.to_numpy().copy()
    interpolated = residual == 0
    assert interpolated.sum() == 2
    residual[interpolated] = sm_residual[interpolated]
    mixed, _ = kernel_cov(exog, yv, residual, q, ones)
    np.testing.assert_allclose(np.sqrt(np.diag(mixed)), ref["bse"], rtol=1e-6)
    own_fit, _ = kernel_cov(exog, yv, fit.residuals_.to_numpy(), q, ones)
    np.testing.assert_allclose(fit.cov_.to_numpy(), own_fit, rtol=1e-12)


@pytest.mark.parametrize("q", [0.5, 0.3, 0.8])
def test_sample_quantile_kernel_matches_statsmodels_on_a_constant(q):
    ref = SAMPLE[f"q{q}"]["kernel"]
    x = np.array(SAMPLE["x"])
    fitted = Quantile(q=q).fit(x)
    assert fitted.params_.iloc[0] == pytest.approx(ref["params"][0], rel=1e-12)
    sm_residual = x - ref["params"][0]
    # One interpolated row: here statsmodels' IRLS leaves it <= 0 too, so all agree.
    assert fitted.std_errors_.iloc[0] == pytest.approx(ref["bse"][0], rel=1e-6)
    # statsmodels' covariance from its own residuals, by our formula
    own, _ = kernel_cov(np.ones((x.size, 1)), x, sm_residual, q, np.ones(x.size))
    assert own[0, 0] == pytest.approx(ref["cov"][0][0], rel=1e-9)


def test_statsmodels_iid_is_not_quantregs_iid():
    """statsmodels' vcov="iid" uses its kernel density (equal to its robust covariance at
    q = 0.5); quantreg's iid uses the sparsity from the residuals' ranks: about 10% apart
    on engel. We offer quantreg's."""
    ref = QUANTREG["engel_q0.5"]
    np.testing.assert_allclose(ref["statsmodels_iid"]["bse"], ref["kernel"]["bse"], rtol=1e-9)
    fit = QuantileRegression(q=0.5, cov_type="iid").fit(*design("engel"))
    ratio = fit.std_errors_.to_numpy() / np.array(ref["statsmodels_iid"]["bse"])
    assert np.all(np.abs(ratio - 1) > 0.05), ratio
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)  # one sparsity, one factor


# --------------------------------------------------------------------------- nid


@pytest.mark.parametrize("q", sorted(R_NID_ENGEL))
def test_nid_matches_published_quantreg_output_on_engel(q):
    coef, se = R_NID_ENGEL[q]
    fit = QuantileRegression(q=q, cov_type="nid").fit(*design("engel"))
    # printed to 5 decimals: within half a unit of the last printed digit
    np.testing.assert_allclose(fit.params_.to_numpy(), coef, rtol=0, atol=5.01e-6)
    np.testing.assert_allclose(fit.std_errors_.to_numpy(), se, rtol=0, atol=5.01e-6)


def test_nid_of_a_sample_quantile_is_siddiquis_difference_quotient():
    """Closed form: f = 2h / (Q(q+h) - Q(q-h)), var = q(1-q) / (n f^2), with Q the exact
    sample quantiles (numpy's inverted_cdf) and h quantreg's Hall-Sheather bandwidth."""
    x = np.random.default_rng(11).standard_t(4, 301)
    for q in (0.5, 0.3):
        h = hall_sheather_bandwidth(301, q)
        spread = np.quantile(x, q + h, method="inverted_cdf") - np.quantile(
            x, q - h, method="inverted_cdf"
        )
        expected = math.sqrt(q * (1 - q) / 301) * spread / (2 * h)
        fitted = Quantile(q=q, cov_type="nid").fit(x)
        assert fitted.std_errors_.iloc[0] == pytest.approx(expected, rel=1e-12)


def test_nid_counts_and_warns_about_crossing_quantile_fits():
    """y = |x| e with x on [-1, 2]: the linear fits at q +- h cross near the left end."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 2, 300)
    y = np.abs(x) * rng.normal(size=300)
    with pytest.warns(InferenceWarning, match=r"(\d+) of 300 rows have a non-positive"):
        fit = QuantileRegression(q=0.5, cov_type="nid").fit(x[:, None], y)
    assert np.all(np.isfinite(fit.std_errors_))


# --------------------------------------------------------------------------- iid


def test_iid_sparsity_is_exact_on_an_evenly_spaced_sample():
    """x = 1..n (n even): the median is the midpoint, the residuals are +-0.5, +-1.5, ...,
    and the h + 1 of them nearest 0, sorted, are consecutive values one apart at consecutive
    ranks: the median-regression slope on rank / (n - 1) is exactly n - 1."""
    n = 400
    x = np.arange(1.0, n + 1)
    residual = x - np.median(x)
    sparsity, reason = iid_sparsity(residual, np.ones(n), 0.5, 1)
    assert reason is None and sparsity == pytest.approx(n - 1, rel=1e-9)
    fitted = Median(cov_type="iid").fit(x)
    assert fitted.std_errors_.iloc[0] == pytest.approx((n - 1) * 0.5 / math.sqrt(n), rel=1e-9)


def test_iid_sparsity_skips_zero_residuals_and_uses_weights_as_repeats():
    rng = np.random.default_rng(12)
    residual = np.r_[0.0, 0.0, rng.normal(size=120)]
    w = rng.integers(1, 4, residual.size).astype(float)
    weighted = iid_sparsity(residual, w, 0.3, 2)
    repeated = iid_sparsity(np.repeat(residual, w.astype(int)), np.ones(int(w.sum())), 0.3, 2)
    assert weighted[1] is None and weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    # the zero residuals are skipped: prepending more of them changes nothing but n
    assert np.isfinite(weighted[0]) and weighted[0] > 0


def test_iid_needs_enough_residuals():
    sparsity, reason = iid_sparsity(np.array([0.0, 1.0, -1.0]), np.ones(3), 0.5, 1)
    assert math.isnan(sparsity) and "non-zero residuals" in reason


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_seeded_and_near_the_sandwich():
    X, y = design("engel")
    options = {"n_bootstrap": 40, "seed": 1}
    start = time.perf_counter()
    first = QuantileRegression(cov_type="bootstrap", cov_options=options).fit(X, y)
    elapsed = time.perf_counter() - start
    again = QuantileRegression(cov_type="bootstrap", cov_options=options).fit(X, y)
    other = QuantileRegression(cov_type="bootstrap", cov_options={**options, "seed": 2}).fit(X, y)
    assert first.std_errors_.equals(again.std_errors_)
    assert not first.std_errors_.equals(other.std_errors_)
    nid = QuantileRegression(cov_type="nid").fit(X, y)
    ratio = first.std_errors_ / nid.std_errors_
    assert ratio.between(0.6, 1.6).all(), ratio  # 40 resamples: about 11% relative noise
    assert elapsed < 20  # about 3 ms a refit (235 rows) on a 2-core machine


def test_bootstrap_weights_are_multinomial_resamples():
    w = np.array([1.0, 2.0, 0.0, 3.0])
    draws = list(bootstrap_weights(w, 500, seed=0))
    assert all(d.sum() == 6 and d[2] == 0 for d in draws)  # whole weights: the repeated rows
    np.testing.assert_allclose(np.mean(draws, axis=0), w, atol=0.2)
    fractional = next(bootstrap_weights(np.array([0.5, 1.5, 1.0]), 1, seed=0))
    assert fractional.sum() == pytest.approx(3.0)  # m = 3 rows, counts scaled by 3 / 3


# --------------------------------------------------------------------------- one estimator


@pytest.mark.parametrize("cov_type", ["kernel", "iid", "nid", "bootstrap"])
@pytest.mark.parametrize("q", [0.5, 0.3])
def test_intercept_only_regression_equals_the_sample_quantile(cov_type, q):
    """n = 201 and q = 0.5 or 0.3: a unique minimiser, in every bootstrap resample too."""
    x = np.array(SAMPLE["x"])
    options = {"n_bootstrap": 30} if cov_type == "bootstrap" else None
    sample = Quantile(q=q, cov_type=cov_type, cov_options=options).fit(x)
    regression = QuantileRegression(
        q=q, fit_intercept=False, cov_type=cov_type, cov_options=options
    ).fit(np.ones((x.size, 1)), x)
    assert regression.params_.iloc[0] == sample.params_.iloc[0]
    assert regression.std_errors_.iloc[0] == pytest.approx(sample.std_errors_.iloc[0], rel=1e-12)
    median = Median(cov_type=cov_type, cov_options=options).fit(x)
    if q == 0.5:
        assert median.std_errors_.iloc[0] == sample.std_errors_.iloc[0]


@pytest.mark.parametrize("cov_type", ["kernel", "iid", "nid", "bootstrap"])
def test_every_type_is_equivariant_and_weights_are_repeats(cov_type):
    rng = np.random.default_rng(25)
    x = rng.normal(size=151)
    w = rng.integers(1, 4, 151)
    options = {"n_bootstrap": 20} if cov_type == "bootstrap" else None
    base = Quantile(q=0.3, cov_type=cov_type, cov_options=options).fit(x)
    scaled = Quantile(q=0.3, cov_type=cov_type, cov_options=options).fit(2.0**600 * x)
    assert scaled.std_errors_.iloc[0] == pytest.approx(2.0**600 * base.std_errors_.iloc[0])
    if cov_type != "bootstrap":  # the resamples draw differently from the repeated rows
        weighted = Quantile(q=0.3, cov_type=cov_type).fit(x, sample_weight=w)
        repeated = Quantile(q=0.3, cov_type=cov_type).fit(np.repeat(x, w))
        assert weighted.std_errors_.iloc[0] == pytest.approx(
            repeated.std_errors_.iloc[0], rel=1e-12
        )


@pytest.mark.parametrize(
    "options, cov_type, pattern",
    [
        ({"bandwidth": "silverman"}, "kernel", r"bandwidth.*must be one of"),
        ({"bandwidth": "chamberlain"}, "nid", r"'hall-sheather', 'bofinger'\]"),
        ({"n_bootstrap": 1}, "bootstrap", r"n_bootstrap'\] must be an integer >= 2"),
        ({"seed": -1}, "bootstrap", r"seed'\] must be an integer >= 0"),
        ({"maxlags": 2}, "kernel", r"unknown cov_options \['maxlags'\]"),
    ],
)
def test_bad_cov_options_are_settings_errors(options, cov_type, pattern):
    X, y = design("engel")
    for model in (
        QuantileRegression(cov_type=cov_type, cov_options=options),
        Median(cov_type=cov_type, cov_options=options),
    ):
        with pytest.raises(SettingsError, match=pattern):
            model.fit(X, y) if isinstance(model, QuantileRegression) else model.fit(y)


def test_unknown_cov_type_lists_the_valid_ones_and_groups_are_refused():
    X, y = design("engel")
    with pytest.raises(SettingsError, match=r"\['kernel', 'iid', 'nid', 'bootstrap'\]"):
        QuantileRegression(cov_type="HC0").fit(X, y)
    with pytest.raises(SettingsError, match=r"valid values are \['kernel'"):
        Median(cov_type="cluster").fit(y)
    with pytest.raises(SettingsError, match="groups= is used only with cov_type='cluster'"):
        QuantileRegression().fit(X, y, groups=np.arange(len(y)) % 3)


def test_nan_standard_errors_carry_the_reason():
    with pytest.warns(InferenceWarning, match="Hall-Sheather bandwidth"):
        fitted = Median().fit([3.0, 1.0, 2.0])
    assert np.isnan(fitted.std_errors_.iloc[0]) and "Hall-Sheather" in fitted.cov_note_
    with pytest.warns(InferenceWarning, match="non-zero residuals"):
        fitted = Median(cov_type="iid").fit([3.0, 1.0, 2.0])
    assert np.isnan(fitted.std_errors_.iloc[0])
    with pytest.raises(DataError):
        Median(cov_type="iid").fit([])


# --------------------------------------------------------------------------- coverage


@pytest.mark.slow
@pytest.mark.parametrize("cov_type", ["kernel", "iid", "nid"])
def test_monte_carlo_coverage_is_near_95_percent(cov_type):
    """Median regression with t(5) errors, n = 400, 300 replications: the 95% intervals of
    the slope cover the truth 95% +- 3.8% (three binomial standard errors)."""
    rng = np.random.default_rng(2024)
    covered = 0
    reps = 300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        for _ in range(reps):
            x = rng.uniform(0, 4, 400)
            y = 1.0 + 0.5 * x + rng.standard_t(5, 400)
            ci = QuantileRegression(cov_type=cov_type).fit(x[:, None], y).conf_int()
            covered += ci["ci_lower"].iloc[1] <= 0.5 <= ci["ci_upper"].iloc[1]
    assert abs(covered / reps - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / reps)


def test_docstring_examples_run():
    import doctest

    import estimators.quantile_inference

    assert doctest.testmod(estimators.quantile_inference).failed == 0
