"""Shared numerics: power-of-two scaling, bucket padding, weighted order statistics."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.regression.quantile_regression import hall_sheather as sm_hall_sheather
from statsmodels.robust.scale import mad as sm_mad

from estimators import numerics
from estimators.errors import DataError

# --------------------------------------------------------------------------- rescaling


def test_power_of_two_scale_is_the_power_of_two_just_above_the_largest_magnitude():
    rng = np.random.default_rng(1)
    for x in (rng.normal(size=50) * 10.0 ** rng.integers(-300, 300), np.array([-3.0, 1.0])):
        s = float(numerics.power_of_two_scale(x))
        assert np.frexp(s)[0] == 0.5  # a power of two: division by it is exact
        assert s / 2 <= np.max(np.abs(x)) < s
    assert float(numerics.power_of_two_scale(np.array([4.0]))) == 8.0  # strictly above
    for degenerate in (0.0, np.inf, np.nan):
        assert float(numerics.power_of_two_scale(np.array([degenerate]))) == 1.0
    columns = numerics.power_of_two_scale(np.array([[1.0, -300.0, 0.0], [0.3, 2.0, 0.0]]), axis=0)
    np.testing.assert_array_equal(columns, [2.0, 512.0, 1.0])


def test_center_and_scale_keeps_every_digit_of_a_large_offset():
    x = 1e9 + np.array([0.1, 0.2, 0.7, 1.3])
    ref, scale = numerics.center_and_scale(x)
    assert ref == 0.5 * x.min() + 0.5 * x.max() and np.frexp(scale)[0] == 0.5
    c = (x - ref) / scale
    assert np.all(np.abs(c) <= 1)
    np.testing.assert_array_equal(ref + scale * c, x)  # exact round trip
    assert numerics.center_and_scale(np.array([5.0, 5.0])) == (5.0, 1.0)
    # a half-range beyond 2**1023 (where 2**1024 would overflow): the largest power of two
    x = np.array([-1.7e308, 1.0, 1.7e308])
    ref, scale = numerics.center_and_scale(x)
    assert ref == 0.0 and scale == 2.0**1023
    np.testing.assert_array_equal((x - ref) / scale * scale, x)


# --------------------------------------------------------------------------- padding


def test_bucket_size_rule():
    sizes = np.r_[1:5000, np.geomspace(5000, 10**7, 400).astype(int)]
    buckets = np.array([numerics.bucket_size(int(n)) for n in sizes])
    assert np.all(buckets >= sizes) and np.all(np.diff(buckets) >= 0)
    assert len(set(buckets[sizes <= 1024])) == 1  # one compiled kernel for every small sample
    assert np.all(buckets[sizes > 1024] <= 2 * sizes[sizes > 1024])
    assert np.all(buckets[sizes > 4096] <= 1.125 * sizes[sizes > 4096])  # padding <= 12.5%
    # eight buckets an octave above 4096
    assert len(set(buckets[(sizes > 2**20) & (sizes <= 2**21)])) == 8


def test_pad_rows_appends_fill_rows_and_keeps_weighted_means():
    rng = np.random.default_rng(2)
    X, y, w = rng.normal(size=(1500, 3)), rng.normal(size=1500), rng.uniform(size=1500)
    Xp, yp, wp = numerics.pad_rows(X, y, w)
    assert Xp.shape == (2048, 3) and yp.shape == wp.shape == (2048,)
    np.testing.assert_array_equal(Xp[:1500], X)
    assert not Xp[1500:].any() and not yp[1500:].any() and not wp[1500:].any()
    assert np.sum(wp * yp) / np.sum(wp) == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-15)
    (x,) = numerics.pad_rows(np.array([3.0, 4.0]), fill=3.0)  # a value inside the support
    assert x.shape == (1024,) and np.all(x[2:] == 3.0)
    exact = np.ones(1024)
    assert numerics.pad_rows(exact)[0] is exact  # already a bucket: no copy


# --------------------------------------------------------------------------- order statistics


def test_weighted_median_and_percentile_equal_numpy_on_repeated_rows():
    """Reference: np.median / np.percentile of the sample with row i repeated w_i times."""
    rng = np.random.default_rng(3)
    for trial in range(80):
        n = int(rng.integers(1, 60))
        x = rng.normal(size=n) if trial % 2 else rng.integers(0, 5, n).astype(float)
        w = rng.integers(0, 4, n).astype(float)
        w[0] += w.sum() == 0
        repeated = np.repeat(x, w.astype(int))
        assert numerics.weighted_median(x, w) == np.median(repeated)
        percent = np.array([0.0, 10.0, 25.0, 50.0, 75.0, 99.0, 100.0])
        np.testing.assert_array_equal(
            numerics.weighted_percentile(x, percent, w), np.percentile(repeated, percent)
        )
        assert numerics.weighted_percentile(x, 30.0, w) == np.percentile(repeated, 30.0)
        assert numerics.weighted_median(x) == np.median(x)  # unit weights
        any_guess = float(x[-1])
        assert numerics.weighted_median(x, w, guess=any_guess) == np.median(repeated)


def test_weighted_median_of_fractional_weights_treats_rounded_ties_as_ties():
    # 0.1 + 0.2 is not 0.3 in binary; the weight below 2.0 is still half the total
    x, w = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.2, 0.1, 0.2])
    assert numerics.weighted_median(x, w) == 2.5


def test_mad_about_matches_statsmodels_and_scipy():
    """References: statsmodels.robust.scale.mad and scipy.stats.median_abs_deviation."""
    rng = np.random.default_rng(4)
    x = rng.standard_t(3, size=301)
    assert numerics.mad_about(x) == pytest.approx(sm_mad(x, center=0), rel=1e-15)
    center = float(np.median(x))
    assert numerics.mad_about(x, center=center) == pytest.approx(sm_mad(x), rel=1e-15)
    scipy_mad = stats.median_abs_deviation(x, scale="normal")
    assert numerics.mad_about(x, center=center) == pytest.approx(scipy_mad, rel=1e-15)
    w = rng.integers(0, 3, 301).astype(float)
    repeated = np.repeat(x, w.astype(int))
    assert numerics.mad_about(x, w, center=1.0) == pytest.approx(
        sm_mad(repeated, center=1.0), rel=1e-15
    )
    assert numerics.NORMAL_MAD == 0.6744897501960817  # scipy.special.ndtri(0.75)


# --------------------------------------------------------------------------- sparsity


def test_hall_sheather_and_epanechnikov_density():
    """References: statsmodels' hall_sheather; the kernel density by its definition."""
    for n, q in ((50, 0.5), (1000, 0.1), (237, 0.83)):
        assert numerics.hall_sheather(n, q) == pytest.approx(sm_hall_sheather(n, q), rel=1e-14)
    r = np.array([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 3.0, 1.0])
    by_hand = (2 * 0.75 * 0.75 + 0.75 + 0.75 * (1 - 0.0625) + 0) / (9 * 1.0)
    assert numerics.epanechnikov_density(r, w, 1.0) == pytest.approx(by_hand, rel=1e-15)
    assert np.isnan(numerics.epanechnikov_density(r, w, np.nan))


# --------------------------------------------------------------------------- least squares


def test_weighted_least_squares_matches_statsmodels_wls_and_names_collinear_columns():
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(40), rng.normal(size=(40, 2))])
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=40)
    w = rng.integers(0, 3, 40).astype(float)
    reference = sm.WLS(y, X, weights=w).fit().params  # statsmodels 0.15
    beta = numerics.weighted_least_squares(X, y, w, ["a", "b", "c"])
    np.testing.assert_allclose(beta, reference, rtol=1e-12)
    collinear = np.column_stack([X, X[:, 1] + X[:, 2]])
    with pytest.raises(DataError, match=r"column\(s\) \['d'\] are linear combinations"):
        numerics.weighted_least_squares(collinear, y, w, ["a", "b", "c", "d"])
