"""Pure fits of the smooth and one-sample estimators (estimators/functional_smooth.py).

Reference: each estimator's ordinary ``.fit`` on the same data, computed live (itself
tested against numpy, scipy and statsmodels in the estimators' own test files), and
numpy's order statistics (``np.median``, ``np.quantile(method="inverted_cdf")``).
Why the digits agree as they do:
- Mean, Median, Quantile, Huber, TukeyBiweight: the same algorithm on the same
  numbers (closed form / order statistic / the same rounds through the engine's Newton
  loop), so equal to a few ulps (asserted to 1e-13 relative);
- MaximumLikelihood, MEstimator: the same damped Newton to the same optimum, but per-row
  sums where the estimator uses sufficient statistics or collapsed counts, and other
  starting values; Newton's last full step leaves both at the rounding floor of the
  gradient: measured 1e-13 relative (asserted 1e-9), covariances 1e-13 in correlation
  units (asserted 1e-8);
- HuberRegression: another path (alternating Newton steps and MAD updates instead of
  nested minimisations with secant steps on the scale) to the same fixed point, both
  stopped at 1e-10 standard errors: measured 3e-13 relative (asserted 1e-9).
"""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from estimators.datasets import load_dataset

import estimators.functional_smooth as functional_smooth
from estimators.errors import SettingsError
from estimators.functional_location import weighted_order_statistic
from estimators.functional_smooth import SUPPORTED, pure_fit
from estimators.likelihood import MaximumLikelihood, MEstimator
from estimators.location import Mean, Median, Quantile
from estimators.regression import LinearRegression
from estimators.robust import HuberRegression
from estimators.robust_location import Huber, TukeyBiweight


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def assert_cov_close(actual, expected, atol):
    """Covariances compared in correlation units (off-diagonal zeros have no relative digits)."""
    expected = np.asarray(expected)
    sd = np.sqrt(np.diag(expected))
    np.testing.assert_allclose(
        np.asarray(actual) / np.outer(sd, sd), expected / np.outer(sd, sd), atol=atol
    )


def sample(seed=0, n=57):
    return np.random.default_rng(seed).standard_t(3, size=n) * 2.0 + 5.0


# --------------------------------------------------------------------------- provider


def test_provider_contract():
    assert set(SUPPORTED) == {
        "Mean", "Median", "Quantile", "Huber", "TukeyBiweight", "MaximumLikelihood",
        "MEstimator", "HuberRegression",
    }  # fmt: skip
    assert pure_fit(LinearRegression()) is None
    fit = pure_fit(Quantile(q=0.25))
    assert fit.inputs == ("x",) and fit.hyper == {"q": 0.25}
    assert fit.param_names(1) == ["quantile_0.25"]
    # the design as given, its column 0 the intercept (functional_regression's convention)
    assert pure_fit(HuberRegression()).param_names(3) == ["Intercept", "x0", "x1"]
    assert pure_fit(HuberRegression(fit_intercept=False)).param_names(2) == ["x0", "x1"]
    # t or z statistics as each fit reports them (df_resid_ of the ordinary fit)
    x = sample()
    for estimator in (
        Mean(),
        Quantile(q=0.3),
        Huber(),
        Huber(use_t=True),
        MaximumLikelihood("normal"),
    ):
        ref = estimator.fit(x)
        k = len(ref.params_)
        assert pure_fit(estimator).df_resid(x.size, k) == ref._df_inference


@pytest.mark.parametrize(
    "estimator, match",
    [
        (Mean(cov_type="cluster"), "cluster"),
        (Huber(cov_type="HAC"), "HAC"),
        (Quantile(cov_type="nid"), "nid"),
        (HuberRegression(cov_type="HC0"), "HC0"),
        (MaximumLikelihood("normal", fixed={"mean": 0.0}), "fixed"),
        (MaximumLikelihood("nonsense"), "unknown family"),
    ],
    ids=str,
)
def test_unsupported_settings_are_a_settings_error(estimator, match):
    with pytest.raises(SettingsError, match=match):
        pure_fit(estimator)


# --------------------------------------------------------------------------- Mean


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1"])
def test_mean_equals_fit_under_jit_and_vmap(cov_type):
    x = sample()
    weights = np.random.default_rng(1).integers(0, 4, size=(3, x.size)).astype(float)
    fit = pure_fit(Mean(cov_type=cov_type))
    out = jax.jit(jax.vmap(lambda w: fit(x, weights=w)))(weights)
    for b, w in enumerate(weights):
        ref = Mean(cov_type=cov_type).fit(x, sample_weight=w)
        np.testing.assert_allclose(out.params[b], ref.params_.to_numpy(), rtol=1e-14)
        np.testing.assert_allclose(out.cov[b], ref.cov_.to_numpy(), rtol=1e-13)
    assert bool(jnp.all(out.converged)) and int(out.n_iter[0]) == 0


# --------------------------------------------------------------------------- quantiles


def test_order_statistic_follows_numpy_and_the_estimators_convention():
    order_statistic = jax.jit(weighted_order_statistic)
    x = np.arange(1.0, 11.0)
    ones = np.ones(10)
    # q = 0.3 with n = 10: W(x <= 3) = qW exactly, a tie: the midpoint of 3 and 4
    assert float(order_statistic(x, ones, 0.3)) == 3.5
    assert float(order_statistic(x, ones, 0.35)) == 4.0
    y = sample(2, 41)
    for q in (0.1, 0.37, 0.5, 0.9):
        expected = np.quantile(y, q, method="inverted_cdf")
        assert float(order_statistic(y, np.ones(41), q)) == expected
    assert float(order_statistic(y[:40], np.ones(40), 0.5)) == np.median(y[:40])
    # integer weights are repeated rows; zero weights are ignored whatever their value
    w = np.random.default_rng(3).integers(0, 4, size=41).astype(float)
    repeated = np.repeat(y, w.astype(int))
    assert float(order_statistic(y, w, 0.5)) == np.median(repeated)
    padded = np.concatenate([y, [1e9, -1e9]])
    assert float(order_statistic(padded, np.r_[w, 0.0, 0.0], 0.5)) == np.median(repeated)


def test_quantile_and_median_equal_fit_under_vmap_over_q():
    x = sample(4, 60)
    fit = pure_fit(Quantile(q=0.5))
    levels = np.array([0.1, 0.25, 0.5, 0.9])
    out = jax.jit(jax.vmap(lambda q: fit(x, q=q)))(levels)
    for b, q in enumerate(levels):
        ref = Quantile(q=float(q)).fit(x)
        assert float(out.params[b, 0]) == float(ref.params_.iloc[0])
        # the "kernel" variance (the default), equivariant: computed in data units here,
        # on centred scaled data by the estimator
        np.testing.assert_allclose(out.cov[b], ref.cov_.to_numpy(), rtol=1e-11)
    median = pure_fit(Median())
    assert median.hyper == {}
    assert float(median(x).params[0]) == np.median(x)


# --------------------------------------------------------------------------- robust location


@pytest.mark.parametrize(
    "kind, cov_type",
    [
        (Huber, "nonrobust"),
        (TukeyBiweight, "HC1"),
        pytest.param(Huber, "HC0", marks=pytest.mark.slow),
        pytest.param(TukeyBiweight, "nonrobust", marks=pytest.mark.slow),
    ],
)
def test_robust_location_equals_fit_under_jit_and_vmap(kind, cov_type):
    data = np.stack([sample(5), sample(6) + 100.0, sample(7) * 1e-3])
    fit = pure_fit(kind(cov_type=cov_type))
    out = jax.jit(jax.vmap(lambda x: fit(x)))(data)
    for b, x in enumerate(data):
        ref = kind(cov_type=cov_type).fit(x)
        np.testing.assert_allclose(out.params[b], ref.params_.to_numpy(), rtol=1e-13)
        np.testing.assert_allclose(out.cov[b], ref.cov_.to_numpy(), rtol=1e-10)
        assert bool(out.converged[b]) == ref.converged_


# --------------------------------------------------------------------------- likelihood

FAMILY_DATA = {
    "normal": lambda r: r.normal(3.0, 2.0, 80),
    "exponential": lambda r: r.exponential(2.0, 80),
    "gamma": lambda r: r.gamma(2.0, 3.0, 80),
    "beta": lambda r: r.beta(2.0, 5.0, 80),
    "weibull": lambda r: r.weibull(1.5, 80) * 4.0,
    "lognormal": lambda r: r.lognormal(1.0, 0.5, 80),
    "student_t": lambda r: r.standard_t(4, 80) * 2.0 + 1.0,
    "poisson": lambda r: r.poisson(3.0, 80).astype(float),
    "negative_binomial": lambda r: r.negative_binomial(3, 0.4, 80).astype(float),
    "geometric": lambda r: r.geometric(0.3, 80).astype(float) - 1.0,
}


# three families by default (a closed form, a Newton fit, a count family); all in -m slow
QUICK = ("normal", "gamma", "poisson")


@pytest.mark.parametrize(
    "family",
    [f if f in QUICK else pytest.param(f, marks=pytest.mark.slow) for f in FAMILY_DATA],
)
def test_maximum_likelihood_equals_fit(family):
    x = FAMILY_DATA[family](np.random.default_rng(9))
    estimator = MaximumLikelihood(family)
    out = jax.jit(lambda d: pure_fit(estimator)(d))(x)
    ref = estimator.fit(x)
    np.testing.assert_allclose(out.params, ref.params_.to_numpy(), rtol=1e-9)
    assert_cov_close(out.cov, ref.cov_.to_numpy(), atol=1e-8)
    assert bool(out.converged) and ref.converged_


def test_maximum_likelihood_vmap_over_weights_ignores_padding_rows():
    """Zero-weight rows (here 0.0, outside the gamma's support) change nothing."""
    rng = np.random.default_rng(10)
    x = rng.gamma(2.0, 3.0, 50)
    padded = np.r_[x, 0.0, 0.0]
    weights = np.c_[rng.integers(1, 3, size=(2, 50)).astype(float), np.zeros((2, 2))]
    estimator = MaximumLikelihood("gamma", cov_type="HC0")
    fit = pure_fit(estimator)
    out = jax.jit(jax.vmap(lambda w: fit(padded, weights=w)))(weights)
    for b, w in enumerate(weights):
        ref = estimator.fit(x, sample_weight=w[:50])
        np.testing.assert_allclose(out.params[b], ref.params_.to_numpy(), rtol=1e-9)
        assert_cov_close(out.cov[b], ref.cov_.to_numpy(), atol=1e-8)


@pytest.mark.slow  # compiles its own kernels: 5-12 s on 2 cores; CI runs it with -m slow
def test_m_estimator_with_a_user_loss_and_a_vector_parameter():
    rng = np.random.default_rng(12)
    x = rng.normal(1.0, 1.5, 70)

    def loss(params, x):  # log-cosh location and a squared-deviation "moment" in one vector
        return jnp.log(jnp.cosh(x - params["m"][0])) + (x**2 - params["m"][1]) ** 2

    estimator = MEstimator(loss=loss, params0={"m": np.array([0.0, 1.0])})
    fit = pure_fit(estimator)
    assert fit.param_names(1) == ["m[0]", "m[1]"]
    out = jax.jit(lambda d: fit(d))(x)
    ref = estimator.fit(x)
    np.testing.assert_allclose(out.params, ref.params_.to_numpy(), rtol=1e-9)
    assert_cov_close(out.cov, ref.cov_.to_numpy(), atol=1e-8)  # HC0, MEstimator's default


def test_non_convergence_is_flagged_not_raised():
    x = np.random.default_rng(13).gamma(0.5, 3.0, 80)
    fit = pure_fit(MaximumLikelihood("gamma", max_iter=1))
    out = jax.jit(lambda d: fit(d))(x)
    assert not bool(out.converged) and int(out.n_iter) == 1


# --------------------------------------------------------------------------- Huber regression


@pytest.mark.slow  # compiles its own kernels: 5-12 s on 2 cores; CI runs it with -m slow
def test_huber_regression_equals_fit_on_stackloss_under_vmap_over_weights():
    d = load_dataset("stackloss")
    X = d[["airflow", "watertemp", "acidconc"]].to_numpy()
    y = d["stackloss"].to_numpy()
    design = np.c_[np.ones(len(y)), X]
    weights = np.stack([np.ones(len(y)), np.random.default_rng(14).integers(1, 3, len(y))])
    fit = pure_fit(HuberRegression())
    out = jax.jit(jax.vmap(lambda w: fit(design, y, weights=w)))(weights.astype(float))
    for b, w in enumerate(weights):
        ref = HuberRegression().fit(X, y, sample_weight=w.astype(float))
        np.testing.assert_allclose(out.params[b], ref.params_.to_numpy(), rtol=1e-9)
        assert_cov_close(out.cov[b], ref.cov_.to_numpy(), atol=1e-8)
        assert bool(out.converged[b]) and ref.converged_
    # without the column of ones where one is declared: NaN-free but not this model
    assert not bool(jax.jit(lambda: fit(X, y))().converged)
    no_intercept = HuberRegression(fit_intercept=False)
    out = jax.jit(lambda: pure_fit(no_intercept)(X, y))()
    np.testing.assert_allclose(out.params, no_intercept.fit(X, y).params_.to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- float32, doctests


@pytest.mark.slow  # compiles its own kernels: 5-12 s on 2 cores; CI runs it with -m slow
def test_float32_inputs_compute_in_float32_and_converge_at_float32_tolerances():
    """Without x64 the fits run in float32; the tolerances are floored at 1e-3 standard
    errors (FLOAT32_TOL_SE), so each converges and lands within about 1e-4 relative of the
    float64 fit (float32 has 7 digits; the floor allows 1e-3 SE, here about 1e-4 relative)."""
    rng = np.random.default_rng(15)
    x = rng.gamma(2.0, 3.0, 80)
    X = rng.normal(size=(40, 2))
    y = X @ [1.0, 2.0] + rng.standard_t(3, size=40)
    design = np.c_[np.ones(40), X]
    cases = [(Huber(), (x,)), (MaximumLikelihood("gamma"), (x,)), (HuberRegression(), (design, y))]
    for estimator, arrays in cases:
        fit = pure_fit(estimator)
        expected = estimator.fit(*(arrays if len(arrays) == 1 else (X, y))).params_.to_numpy()
        with jax.enable_x64(False):
            single = [np.asarray(a, np.float32) for a in arrays]
            out = jax.jit(lambda *a, fit=fit: fit(*a))(*single)
        assert out.params.dtype == np.float32 and bool(out.converged)
        np.testing.assert_allclose(out.params, expected, rtol=2e-4)


def test_doctests():
    assert doctest.testmod(functional_smooth).failed == 0


def test_user_logpdf_with_a_transform_and_hc1():
    from estimators.distributions import normal_logpdf

    x = np.random.default_rng(17).normal(3.0, 2.0, 50)
    estimator = MaximumLikelihood(
        logpdf=normal_logpdf,
        params0={"mean": 0.0, "sd": 1.0},
        transforms={"sd": "softplus"},
        cov_type="HC1",
    )
    out = jax.jit(lambda d: pure_fit(estimator)(d))(x)
    ref = estimator.fit(x)
    np.testing.assert_allclose(out.params, ref.params_.to_numpy(), rtol=1e-9)
    assert_cov_close(out.cov, ref.cov_.to_numpy(), atol=1e-8)
