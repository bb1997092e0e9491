"""Quantiles by Floyd-Rivest selection (estimators.selection, estimators.quantile_selection).

Every reference is computed live: numpy's np.partition / np.percentile, and this
library's general path (the solver, the exact finish of
order_statistics.quantile_minimizers and the kernel standard error of
location.quantile_variance / quantile_inference.kernel_cov), which the fast path
must reproduce.
"""

import warnings

import numpy as np
import pytest

from estimators import quantile_selection
from estimators.errors import DataError, InferenceWarning
from estimators.location import Median, Quantile, quantile_variance
from estimators.numerics import center_and_scale
from estimators.order_statistics import quantile_minimizers
from estimators.quantile_selection import SELECTION_MIN_ROWS, select_quantile
from estimators.selection import Bracket, scan, select

LEVELS = [0.5, 0.1, 0.25, 0.3, 0.75, 0.9, 0.01, 0.999]


def samples(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(n)
    return {
        "normal": normal,
        "sorted": np.sort(normal),
        "reversed": np.sort(normal)[::-1].copy(),
        "ties": rng.integers(0, 7, n).astype(float),
        "heavy": rng.standard_cauchy(n),
        "offset": 1e9 + rng.random(n),
    }


# ----------------------------------------------------------------- selection


@pytest.mark.parametrize("n", [10, 17_000, 50_001, 200_000])
def test_select_equals_np_partition(n):
    for name, x in samples(n, n).items():
        ranks = sorted({0, n // 4, n // 2, (n - 1) // 2, n - 1, int(0.999 * n)})
        copy = x.copy()
        expected = np.partition(x, ranks)[ranks]
        assert select(x, ranks) == expected.tolist(), name
        np.testing.assert_array_equal(x, copy)  # the input is left alone


def test_select_falls_back_when_the_subsample_misleads():
    # every subsampled position holds a huge value: no bracket can hold the median
    n = 1 << 17
    x = np.random.default_rng(1).standard_normal(n)
    stride = n // min(quantile_selection.SUBSAMPLE_SIZE, n // 16)
    x[stride // 2 :: stride] = 1e6
    assert select(x, [n // 2]) == [np.partition(x, n // 2)[n // 2]]
    assert select_quantile(x, 0.5) is None  # the fit then takes the general path


def test_scan_counts_collects_and_sums():
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, 100_003)
    bracket = Bracket(2.5, 3.5)
    found = scan(x, [bracket], shift=3.0)
    assert bracket.below == np.count_nonzero(x < 2.5)
    np.testing.assert_array_equal(np.sort(bracket.values), np.sort(x[(x >= 2.5) & (x <= 3.5)]))
    assert (found.minimum, found.maximum) == (x.min(), x.max())
    assert found.variance() == pytest.approx(np.var(x), rel=1e-13)
    assert found.sum_abs == pytest.approx(np.abs(x - 3.0).sum(), rel=1e-13)
    x[7] = np.nan
    assert not scan(x, [], shift=3.0).finite


# ----------------------------------------------------------------- the estimate


@pytest.mark.parametrize("n", [16, 99, 1000, 4096, 70_001, 131_072])
def test_selected_quantile_equals_the_exact_minimizer_set(n):
    for name, x in samples(n, 10 + n).items():
        for q in LEVELS:
            selected = select_quantile(x, q)
            low, high = quantile_minimizers(x, np.ones(n), q)
            if selected is None:  # q n past the last order statistic: the general path
                assert q * n > n - 1, (name, q)
                continue
            assert (selected.low, selected.high) == (low, high), (name, q)
            assert selected.optimal
            if q == 0.5:
                assert selected.estimate == np.median(x), name


def test_selected_quantile_is_numpys_inverted_cdf_and_median():
    x = np.random.default_rng(3).standard_normal(100_000)  # even n: a midpoint
    assert select_quantile(x, 0.5).estimate == np.median(x)
    for q in (0.123, 0.77):
        assert select_quantile(x, q).low == np.quantile(x, q, method="inverted_cdf")


# ----------------------------------------------------------------- the kernel SE


@pytest.mark.parametrize("n", [5000, 70_001, 200_000])
def test_kernel_variance_equals_the_general_path(n):
    """The same formula as kernel_cov, summed over the non-zero terms only: equal to
    rounding (kernel_cov's X'DX is a BLAS sum over all n rows, about 1e-13 at 1e6)."""
    for name, x in samples(n, 20 + n).items():
        for q in (0.5, 0.1, 0.25, 0.9):
            selected = select_quantile(x, q, kernel=True)
            ref, scale = center_and_scale(x)
            assert (selected.ref, selected.scale) == (ref, scale)
            expected, reason = quantile_variance(
                (x - ref) / scale, np.ones(n), q, (selected.estimate - ref) / scale
            )
            assert selected.reason == reason, (name, q)
            if reason is None:
                assert selected.variance_scaled == pytest.approx(expected, rel=1e-12), (name, q)
            else:
                assert np.isnan(selected.variance_scaled)


def test_kernel_window_outside_the_bracket_takes_a_second_pass(monkeypatch):
    x = np.random.default_rng(4).standard_normal(200_000)
    expected = select_quantile(x, 0.3, kernel=True).variance_scaled
    calls = []
    real_scan = quantile_selection.scan
    monkeypatch.setattr(quantile_selection, "WINDOW_MARGIN", 0.0)
    monkeypatch.setattr(quantile_selection, "WINDOW_SIGMAS", 0.0)
    monkeypatch.setattr(
        quantile_selection, "scan", lambda *a, **k: calls.append(k) or real_scan(*a, **k)
    )
    narrow = select_quantile(x, 0.3, kernel=True)
    assert any(call.get("moments") is False for call in calls)  # the second pass ran
    assert narrow.variance_scaled == pytest.approx(expected, rel=1e-14)


# ----------------------------------------------------------------- the public fits


def general(estimator):
    """The same estimator forced onto the solver path (an explicit max_iter)."""
    return estimator.set_params(max_iter=100)


@pytest.mark.parametrize("q", [0.5, 0.2, 0.9])
def test_fit_by_selection_equals_the_solver_path(q):
    n = SELECTION_MIN_ROWS + 5
    x = np.random.default_rng(5).lognormal(size=n)
    fast = Quantile(q=q).fit(x)
    slow = general(Quantile(q=q)).fit(x)
    assert fast.n_iter_ == 0 and slow.n_iter_ > 0  # the two paths really differ
    assert fast.params_.iloc[0] == slow.params_.iloc[0]
    assert fast.minimizer_set_ == slow.minimizer_set_
    assert fast.converged_ and slow.converged_
    assert fast.std_errors_.iloc[0] == pytest.approx(slow.std_errors_.iloc[0], rel=1e-12)
    assert fast.solution_.message == quantile_selection.SELECTION_MESSAGE
    # the one-row history is the loss at the estimate, in data units
    b = fast.params_.iloc[0]
    r = x - b
    pinball = np.mean(np.abs(r)) if q == 0.5 else np.mean(r * (q - (r < 0)))
    assert len(fast.history_) == 1
    assert fast.history_["loss"].iloc[0] == pytest.approx(pinball, rel=1e-12)
    assert fast.history_["loss"].iloc[0] <= slow.history_["loss"].min() * (1 + 1e-12)


def test_median_equals_np_median_on_hard_large_samples():
    n = SELECTION_MIN_ROWS * 2
    for name, x in samples(n, 6).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InferenceWarning)  # ties: no kernel density
            fitted = Median().fit(x)
        assert fitted.params_["median"] == np.median(x), name
        assert fitted.n_iter_ == 0 and fitted.converged_


def test_other_cov_types_and_bandwidths_by_selection():
    n = SELECTION_MIN_ROWS + 1
    x = np.random.default_rng(7).standard_normal(n)
    for settings in (
        {"cov_type": "iid"},
        {"cov_type": "nid", "cov_options": {"bandwidth": "bofinger"}},
        {"cov_type": "kernel", "cov_options": {"bandwidth": "chamberlain"}},
    ):
        fast = Quantile(q=0.4, **settings).fit(x)
        slow = general(Quantile(q=0.4, **settings)).fit(x)
        assert fast.n_iter_ == 0
        assert fast.params_.iloc[0] == slow.params_.iloc[0]
        assert fast.std_errors_.iloc[0] == pytest.approx(slow.std_errors_.iloc[0], rel=1e-12)


def test_heavy_ties_give_the_same_nan_and_reason():
    x = np.r_[np.zeros(SELECTION_MIN_ROWS), 1.0]
    with pytest.warns(InferenceWarning, match="interquartile range of the residuals is 0"):
        fitted = Median().fit(x)
    assert fitted.params_["median"] == 0.0 and np.isnan(fitted.std_errors_["median"])
    assert fitted.n_iter_ == 0


def test_bad_values_are_the_same_data_errors_on_large_samples():
    x = np.random.default_rng(8).standard_normal(SELECTION_MIN_ROWS + 3)
    x[[5, 9]] = np.nan
    with pytest.raises(DataError, match=r"x has 2 missing \(NaN\) value"):
        Median().fit(x)
    dropped = Median(missing="drop").fit(x)
    assert dropped.params_["median"] == np.nanmedian(x) and dropped.n_dropped_ == 2
    x[5] = np.inf
    with pytest.raises(DataError, match="1 infinite value"):
        Median().fit(x)


def test_weights_and_solver_settings_keep_the_solver_path():
    n = SELECTION_MIN_ROWS + 1
    x = np.random.default_rng(9).standard_normal(n)
    assert Median(solver="adam").fit(x).n_iter_ > 0
    assert Median().fit(x, sample_weight=np.ones(n)).n_iter_ > 0
    assert Median().fit(x).n_iter_ == 0


def test_extreme_magnitudes_take_the_general_path_with_the_same_answer():
    x = np.random.default_rng(10).standard_normal(SELECTION_MIN_ROWS + 1)
    for scale in (1e300, 1e-300):
        y = scale * x
        assert select_quantile(y, 0.5, kernel=True) is None  # squares would leave float64
        fitted = Median().fit(y)
        assert fitted.params_["median"] == np.median(y)
        assert fitted.std_errors_["median"] == pytest.approx(
            scale * Median().fit(x).std_errors_["median"], rel=1e-12
        )
