"""The sufficient-statistic path of MaximumLikelihood (estimators.likelihood_statistics).

The fused path (one block-wise pass, one jitted solve) must give the answers of
the row path it replaces: every comparison below fits the same data twice, once
as users do and once with ``MaximumLikelihood._fused`` switched off (the plain
row path: ``check_support``, ``family.statistics``, ``minimize``, ``_inference``).
External references are computed live: scipy 1.17 ``stats.gamma.fit(floc=0)``
and ``stats.<dist>.logpdf`` for the log-likelihood.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from estimators import likelihood_statistics
from estimators.distributions import FAMILIES
from estimators.errors import DataError
from estimators.likelihood import MaximumLikelihood
from estimators.likelihood_statistics import BLOCK, fused_statistics, scaling_of

FUSED = ("gamma", "exponential", "lognormal")


def _data(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 3.0, size=n)


def _row_path(monkeypatch, family, x, fit_kwargs=None, **settings):
    with monkeypatch.context() as m:
        m.setattr(MaximumLikelihood, "_fused", lambda *a, **k: False)
        return MaximumLikelihood(family, **settings).fit(x, **(fit_kwargs or {}))


def _fused_path(family, x, fit_kwargs=None, **settings):
    calls = []
    original = likelihood_statistics.solve_statistics

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr("estimators.likelihood.solve_statistics", spy)
        fitted = MaximumLikelihood(family, **settings).fit(x, **(fit_kwargs or {}))
    assert calls, "the fused path was not taken"
    return fitted


def _assert_same(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.params_.to_numpy(), b.params_.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(a.std_errors_.to_numpy(), b.std_errors_.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(a.cov_.to_numpy(), b.cov_.to_numpy(), rtol=rtol)
    assert a.llf_ == pytest.approx(b.llf_, rel=1e-13)
    assert a.converged_ and b.converged_
    assert list(a.params_.index) == list(b.params_.index)
    assert list(a.history_.columns) == list(b.history_.columns)


def test_doctests():
    result = doctest.testmod(likelihood_statistics)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("family", FUSED)
@pytest.mark.parametrize("n", [5, 1000, 3 * BLOCK + 17])
def test_fused_path_equals_the_row_path(monkeypatch, family, n):
    x = _data(n)
    _assert_same(_fused_path(family, x), _row_path(monkeypatch, family, x))


@pytest.mark.parametrize("family", FUSED)
def test_frequency_weights_with_zeros_equal_the_row_path(monkeypatch, family):
    x = _data(2 * BLOCK + 5, seed=3)
    w = np.random.default_rng(4).integers(0, 4, size=x.size).astype(float)
    kwargs = {"sample_weight": w}
    fused = _fused_path(family, x, kwargs)
    _assert_same(fused, _row_path(monkeypatch, family, x, kwargs))
    assert fused.nobs_ == w.sum()


def test_frequency_weights_are_repeated_rows():
    x = _data(800, seed=5)
    w = np.random.default_rng(6).integers(1, 5, size=x.size)
    weighted = _fused_path("gamma", x, {"sample_weight": w.astype(float)})
    repeated = _fused_path("gamma", np.repeat(x, w))
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-10)
    np.testing.assert_allclose(weighted.std_errors_, repeated.std_errors_, rtol=1e-10)
    assert weighted.llf_ == pytest.approx(repeated.llf_, rel=1e-12)


@pytest.mark.parametrize("family", FUSED)
@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HAC"])
def test_robust_covariances_use_the_rows_scores(monkeypatch, family, cov_type):
    x = _data(1500, seed=8)
    w = np.random.default_rng(9).integers(0, 3, size=x.size).astype(float)
    for kwargs in ({}, {"sample_weight": w}):
        fused = _fused_path(family, x, kwargs, cov_type=cov_type)
        _assert_same(fused, _row_path(monkeypatch, family, x, kwargs, cov_type=cov_type))


@pytest.mark.parametrize("family", FUSED)
def test_cluster_covariance_and_influence(monkeypatch, family):
    x = _data(600, seed=10)
    groups = np.arange(x.size) % 37
    kwargs = {"groups": groups}
    fused = _fused_path(family, x, kwargs, cov_type="cluster")
    row = _row_path(monkeypatch, family, x, kwargs, cov_type="cluster")
    _assert_same(fused, row)
    np.testing.assert_allclose(fused.influence(), row.influence(), rtol=1e-9, atol=1e-12)


def test_fixed_parameters_and_params0(monkeypatch):
    x = _data(900, seed=11)
    for settings in ({"fixed": {"shape": 2.0}}, {"params0": {"shape": 5.0, "scale": 0.5}}):
        fused = _fused_path("gamma", x, **settings)
        row = _row_path(monkeypatch, "gamma", x, **settings)
        np.testing.assert_allclose(fused.params_, row.params_, rtol=1e-10)
        np.testing.assert_allclose(fused.std_errors_, row.std_errors_, rtol=1e-10, equal_nan=True)
    assert np.isnan(fused.std_errors_["shape"]) is np.False_


def test_gamma_reaches_scipys_optimum():
    x = _data(200_000, seed=12)
    fitted = _fused_path("gamma", x)
    a, _, scale = stats.gamma.fit(x, floc=0)  # scipy 1.17, live

    def loglik(shape, theta):
        return float(np.sum(stats.gamma.logpdf(x, shape, scale=theta)))

    ours = loglik(fitted.params_["shape"], fitted.params_["scale"])
    scipys = loglik(a, scale)
    assert (scipys - ours) / abs(scipys) <= 1e-10
    assert fitted.llf_ == pytest.approx(ours, rel=1e-12)


def test_statistics_equal_the_familys_own(monkeypatch):
    x = _data(3 * BLOCK + 1, seed=13) * 1e5
    w = np.random.default_rng(14).uniform(0.5, 2.0, size=x.size)
    for name in FUSED:
        family = FAMILIES[name]
        for weights in (np.broadcast_to(1.0, x.shape), w):
            scaling, got = fused_statistics(family, x, weights)
            assert scaling == scaling_of(family.support, x)
            c = (x - scaling.ref) / scaling.scale
            want = family.statistics(c, np.asarray(weights))
            assert set(got) == set(want)
            for key in want:
                assert got[key] == pytest.approx(want[key], rel=1e-13, abs=1e-15)


def test_the_row_path_takes_over_where_the_pass_cannot(monkeypatch):
    gamma = FAMILIES["gamma"]
    ones = np.ones(4)
    assert fused_statistics(gamma, np.array([1.0, 2.0, 0.0, 3.0]), ones) is None
    assert fused_statistics(gamma, np.array([2.0, 2.0, 2.0, 2.0]), ones) is None
    assert fused_statistics(gamma, np.array([1e-200, 1.0, 1e200, 2.0]), ones) is None
    assert fused_statistics(FAMILIES["weibull"], np.array([1.0, 2.0, 3.0, 4.0]), ones) is None
    assert fused_statistics(FAMILIES["poisson"], np.array([1.0, 2.0, 3.0, 4.0]), ones) is None
    # extreme but valid data are fitted as before, by the row path
    x = np.r_[_data(BLOCK + 10, seed=16), 1e125]  # 2^415 times the first block's scale
    assert fused_statistics(gamma, x, np.ones(x.size)) is None
    fitted, row = MaximumLikelihood("gamma").fit(x), _row_path(monkeypatch, "gamma", x)
    np.testing.assert_array_equal(fitted.params_, row.params_)
    np.testing.assert_array_equal(fitted.std_errors_, row.std_errors_)


_BAD_SAMPLES = [
    (np.r_[_data(BLOCK + 10), -1.0, 0.0], None),  # non-positive values in a later block
    (np.r_[-2.0, _data(50)], None),  # in the first block
    (np.full(20, 3.0), None),  # constant: no MLE
    (np.r_[_data(30), -1.0], np.r_[np.ones(30), 0.0]),  # zero weight, still checked
    (np.r_[np.full(30, 2.0), 5.0], np.r_[np.ones(30), 0.0]),  # constant where weighted
]
_CASES = [(family, x, w) for family in ("gamma", "lognormal") for x, w in _BAD_SAMPLES]


@pytest.mark.parametrize("family, x, weights", _CASES)
def test_data_errors_are_the_row_paths(monkeypatch, family, x, weights):
    kwargs = {} if weights is None else {"sample_weight": weights}
    with pytest.raises(DataError) as fused:
        MaximumLikelihood(family).fit(x, **kwargs)
    with pytest.raises(DataError) as row:
        _row_path(monkeypatch, family, x, kwargs)
    assert str(fused.value) == str(row.value)
    assert "rows" in str(fused.value) or "distinct" in str(fused.value)


def test_one_compiled_call_per_fit():
    """The fused fit runs one jitted kernel and no eager JAX operations (the row path
    ran two kernels, six eager primitives and four device_puts)."""
    import jax._src.dispatch as dispatch

    x = _data(2000, seed=15)
    MaximumLikelihood("gamma").fit(x)  # compile
    calls = []
    original = dispatch.apply_primitive

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(dispatch, "apply_primitive", counting)
        fitted = _fused_path("gamma", x)
    assert fitted.converged_
    assert calls == []
