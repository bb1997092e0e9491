"""Tests of estimators.functional_regression: each pure fit equals the estimator's own
``fit`` on the same arrays (the reference, computed live: least squares to 1e-10,
GLMs fitted at tol=1e-12 to 1e-8), weights behave as the estimators' weights, the
fits compose with jit / vmap / grad, and bad calls are clear errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from estimators.errors import DataError, SettingsError
from estimators.functional_regression import SUPPORTED, pure_fit, regression_loss
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.location import Mean
from estimators.regression import LinearRegression, Ridge

N = 60


def data(seed=0, n=N):
    """A design with a large common offset in x0 (centring matters), and three responses."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[:, 0] += 1000.0
    y = X @ np.array([1.0, 2.0, -0.5]) + rng.normal(size=n)
    eta = -0.3 + 0.8 * X[:, 1] - 0.4 * X[:, 2]
    b = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    k = rng.poisson(np.exp(0.5 * eta)).astype(float)
    return X, {"y": y, "b": b, "k": k}, rng.uniform(0.5, 2.0, n)


CASES = [  # (estimator, response, relative tolerance)
    (LinearRegression(), "y", 1e-10),
    (LinearRegression(fit_intercept=False), "y", 1e-10),
    (Ridge(alpha=2.5), "y", 1e-10),
    (Ridge(alpha=2.5, fit_intercept=False), "y", 1e-10),
    (LogisticRegression(tol=1e-12), "b", 1e-8),
    (PoissonRegression(tol=1e-12), "k", 1e-8),
    (GLM("binomial", tol=1e-12), "b", 1e-8),
    (GLM("poisson", tol=1e-12), "k", 1e-8),
]
IDS = [f"{type(e).__name__}-{e.fit_intercept}" for e, _, _ in CASES]


def with_intercept(estimator, X):
    return np.column_stack([np.ones(len(X)), X]) if estimator.fit_intercept else X


def reference(estimator, X, y, w=None):
    """The estimator's own fit (a fresh clone) on the same arrays."""
    fresh = type(estimator)(**estimator.get_params())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fresh.fit(X, y, sample_weight=w)


def assert_fit_equal(out, ref, rtol):
    np.testing.assert_allclose(np.asarray(out.params), ref.params_.to_numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(np.asarray(out.cov), ref.cov_.to_numpy(), rtol=rtol, atol=0)
    assert bool(out.converged)


@pytest.mark.parametrize(("estimator", "response", "rtol"), CASES, ids=IDS)
def test_pure_fit_equals_estimator_fit(estimator, response, rtol):
    X, ys, w = data()
    fit = pure_fit(estimator)
    assert fit.inputs == ("X", "y")
    Xd = with_intercept(estimator, X)
    # No weights for one model (the None branch), precision / frequency weights for all.
    for weights in [w] if estimator.fit_intercept else [None, w]:
        out = fit(Xd, ys[response], weights=weights)
        assert out.params.dtype == jnp.float64
        assert_fit_equal(out, reference(estimator, X, ys[response], weights), rtol)
    expected_names = list(reference(estimator, X, ys[response]).params_.index)
    assert fit.param_names(Xd.shape[1]) == expected_names


SOME = [CASES[0], CASES[4]]  # one closed form, one Newton: each new shape is a compile
SOME_IDS = [IDS[0], IDS[4]]


@pytest.mark.parametrize(("estimator", "response", "rtol"), SOME, ids=SOME_IDS)
def test_zero_weight_is_a_dropped_row(estimator, response, rtol):
    X, ys, _ = data(seed=1)
    w = np.ones(N)
    w[[3, 17, 40]] = 0.0
    keep = w > 0
    fit = pure_fit(estimator)
    Xd = with_intercept(estimator, X)
    zeroed = fit(Xd, ys[response], weights=w)
    dropped = fit(Xd[keep], ys[response][keep])
    np.testing.assert_allclose(zeroed.params, dropped.params, rtol=rtol, atol=0)
    np.testing.assert_allclose(zeroed.cov, dropped.cov, rtol=rtol, atol=0)


@pytest.mark.parametrize(("estimator", "response", "rtol"), SOME, ids=SOME_IDS)
def test_integer_weights_are_repeated_rows(estimator, response, rtol):
    X, ys, _ = data(seed=2)
    counts = np.random.default_rng(2).integers(1, 4, N)
    fit = pure_fit(estimator)
    Xd = with_intercept(estimator, X)
    weighted = fit(Xd, ys[response], weights=counts.astype(float))
    repeated = fit(np.repeat(Xd, counts, axis=0), np.repeat(ys[response], counts))
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=rtol, atol=0)
    if isinstance(estimator, GLM):  # frequency weights: the same likelihood
        np.testing.assert_allclose(weighted.cov, repeated.cov, rtol=rtol, atol=0)
    else:
        # Least squares takes precision weights (statsmodels' WLS): the residual
        # degrees of freedom count rows, not weights, so s^2 and cov differ from
        # the repeated rows'; they equal the estimator's own weighted fit.
        ref = reference(estimator, X, ys[response], counts.astype(float))
        np.testing.assert_allclose(weighted.cov, ref.cov_.to_numpy(), rtol=rtol, atol=0)
        assert not np.allclose(weighted.cov, repeated.cov, rtol=1e-3)


@pytest.mark.parametrize(
    ("estimator", "response", "rtol"), [CASES[2], CASES[5]], ids=[IDS[2], IDS[5]]
)
def test_jit_and_vmap_equal_separate_fits(estimator, response, rtol):
    X, ys, w = data(seed=3)
    fit = pure_fit(estimator)
    Xd, y = with_intercept(estimator, X), ys[response]
    W = np.stack([w, np.ones(N), w[::-1]])
    separate = [fit(Xd, y, weights=wi) for wi in W]
    # Inside the user's own jit, float64 needs x64 on around the call (module docstring).
    with jax.enable_x64(True):
        batched = jax.jit(jax.vmap(lambda wi: fit(Xd, y, weights=wi)))(W)
        jitted = jax.jit(lambda wi: fit(Xd, y, weights=wi))(W[0])
    assert batched.params.shape == (3, Xd.shape[1]) and batched.params.dtype == jnp.float64
    for i, one in enumerate(separate):
        np.testing.assert_allclose(batched.params[i], one.params, rtol=rtol, atol=0)
        np.testing.assert_allclose(batched.cov[i], one.cov, rtol=rtol, atol=0)
        assert bool(batched.converged[i]) and int(batched.n_iter[i]) == int(one.n_iter)
    np.testing.assert_allclose(jitted.params, separate[0].params, rtol=rtol, atol=0)


def test_ridge_alpha_is_a_hyperparameter_and_differentiable():
    X, ys, w = data(seed=4)
    fit = pure_fit(Ridge(alpha=1.0))
    Xd = with_intercept(Ridge(), X)
    out = fit(Xd, ys["y"], weights=w, alpha=7.0)
    assert_fit_equal(out, reference(Ridge(alpha=7.0), X, ys["y"], w), 1e-10)

    def slope(alpha):
        return fit(Xd, ys["y"], weights=w, alpha=alpha).params[2]

    with jax.enable_x64(True):
        grad = float(jax.grad(slope)(7.0))
    h = 1e-4  # central difference of the estimator's own fits
    upper = reference(Ridge(alpha=7.0 + h), X, ys["y"], w).params_.iloc[2]
    lower = reference(Ridge(alpha=7.0 - h), X, ys["y"], w).params_.iloc[2]
    np.testing.assert_allclose(grad, (upper - lower) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize(("estimator", "response", "rtol"), CASES, ids=IDS)
def test_loss_is_minimised_by_the_fit(estimator, response, rtol):
    X, ys, w = data(seed=5)
    fit = pure_fit(estimator)
    Xd, y = with_intercept(estimator, X), ys[response]
    out = fit(Xd, y, weights=w)
    loss = regression_loss(estimator)
    with jax.enable_x64(True):
        grad = np.asarray(jax.grad(loss)(out.params, (Xd, y), jnp.asarray(w), fit.hyper))
        hess = np.asarray(jax.hessian(loss)(out.params, (Xd, y), jnp.asarray(w), fit.hyper))
    # The Newton decrement g' H^-1 g: the distance to the argmin in standard errors^2.
    decrement = float(grad @ np.linalg.solve(hess, grad))
    assert decrement < 1e-14
    with jax.enable_x64(True):
        moved = loss(out.params + 1e-3 * np.sign(out.params), (Xd, y), w, fit.hyper)
        assert moved > loss(out.params, (Xd, y), w, fit.hyper)


def test_failures_are_nan_and_not_converged():
    # One shape throughout (rows of weight 0 are dropped rows): one compile.
    X, ys, _ = data(seed=6, n=10)
    fit = pure_fit(LinearRegression())
    Xd = with_intercept(LinearRegression(), X)
    ones = np.ones(10)
    few = fit(Xd, ys["y"], weights=np.r_[np.ones(3), np.zeros(7)])
    assert not bool(few.converged) and np.isnan(few.params).all()
    exact = fit(Xd, ys["y"], weights=np.r_[np.ones(4), np.zeros(6)])  # 4 rows, 4 parameters
    assert bool(exact.converged) and np.isfinite(exact.params).all()
    assert np.isnan(exact.cov).all()
    collinear = Xd.copy()
    collinear[:, 3] = 2 * collinear[:, 2]
    assert not bool(fit(collinear, ys["y"], weights=ones).converged)
    not_ones = Xd.copy()
    not_ones[0, 0] = 2.0  # column 0 declared the intercept but is not all ones
    bad = fit(not_ones, ys["y"], weights=ones)
    assert not bool(bad.converged) and np.isnan(bad.params).all()
    # Ridge with a positive penalty is well posed on the collinear design.
    assert bool(pure_fit(Ridge(alpha=1.0))(collinear, ys["y"]).converged)
    logit = pure_fit(LogisticRegression(max_iter=2))(Xd, ys["b"])
    assert not bool(logit.converged) and np.isnan(logit.cov).all()


def test_bad_calls_are_clear_errors():
    X, ys, _ = data()
    fit = pure_fit(LinearRegression())
    Xd = with_intercept(LinearRegression(), X)
    with pytest.raises(SettingsError, match=r"takes 2 data array\(s\) \(X, y\), got 1"):
        fit(Xd)
    with pytest.raises(SettingsError, match=r"unknown hyperparameter\(s\) \['alpha'\]"):
        fit(Xd, ys["y"], alpha=1.0)
    with pytest.raises(SettingsError, match=r"unknown hyperparameter\(s\) \['lam'\].*alpha"):
        pure_fit(Ridge())(Xd, ys["y"], lam=1.0)
    with pytest.raises(DataError, match="y must be 1-D with one value per row"):
        fit(Xd, ys["y"][:-1])
    with pytest.raises(DataError, match="weights must have one value per row"):
        fit(Xd, ys["y"], weights=np.ones(3))
    with pytest.raises(DataError, match="X must be 2-D"):
        fit(ys["y"], ys["y"])
    with pytest.raises(SettingsError, match="nonrobust"):
        pure_fit(LinearRegression(cov_type="HC1"))
    with pytest.raises(SettingsError, match="GLM with family='gamma'"):
        pure_fit(GLM("gamma"))
    with pytest.raises(SettingsError, match="regression_loss does not support Mean"):
        regression_loss(Mean())
    assert pure_fit(Mean()) is None
    assert set(SUPPORTED) >= {"LinearRegression", "Ridge", "LogisticRegression"}


def test_glm_gradient_through_the_optimum_is_the_implicit_derivative():
    """d(beta)/d(weight of row 0) by implicit differentiation (estimators.implicit)
    equals its closed form -H^-1 x_0 (mu_0 - y_0) and a central difference of the
    pure fit itself (Newton to the last digit: LogisticRegression's own fits at
    tol=1e-12 move by about 1e-8 between nearby weights, too much for h=1e-4)."""
    X, ys, w = data(seed=7)
    estimator = LogisticRegression(tol=1e-12)
    fit = pure_fit(estimator)
    Xd, y = with_intercept(estimator, X), ys["b"]

    def params(w0):
        return fit(Xd, y, weights=jnp.asarray(w).at[0].set(w0)).params

    with jax.enable_x64(True):
        jac = np.asarray(jax.jacrev(params)(w[0]))
        grad = float(jax.grad(lambda w0: params(w0)[2])(w[0]))
        h = 1e-4  # (x64 on: jnp.asarray(w) would otherwise round the weights to float32)
        upper, lower = (np.asarray(params(w[0] + s)) for s in (h, -h))
    beta = np.asarray(fit(Xd, y, weights=w).params)
    mu = 1 / (1 + np.exp(-Xd @ beta))
    hessian = (Xd * (w * mu * (1 - mu))[:, None]).T @ Xd
    closed = -np.linalg.solve(hessian, Xd[0] * (mu[0] - y[0]))
    np.testing.assert_allclose(jac, closed, rtol=1e-9)
    np.testing.assert_allclose(grad, (upper[2] - lower[2]) / (2 * h), rtol=1e-7)


def test_separated_data_are_not_converged():
    """No finite MLE. Logistic: x > 0 exactly where y = 1. Poisson: every row with z = 1
    has y = 0, so the coefficient of z runs to minus infinity. Newton's decrement test
    passes as the loss flattens towards its infimum; the pure fit must flag the fitted
    means at the boundary instead of reporting an optimum."""
    x = np.linspace(-2.0, 2.0, 20)
    X = np.column_stack([np.ones(20), x])
    out = pure_fit(LogisticRegression())(X, (x > 0).astype(float))
    assert not bool(out.converged) and np.all(np.isnan(np.asarray(out.cov)))
    z = (np.arange(20) % 4 == 0).astype(float)
    y = np.where(z == 1, 0.0, 1.0 + np.arange(20) % 3)
    out = pure_fit(PoissonRegression())(np.column_stack([np.ones(20), z]), y)
    assert not bool(out.converged) and np.all(np.isnan(np.asarray(out.cov)))


def test_zero_weight_rows_far_out_drop_exactly_from_newton():
    """Rows of weight 0 whose x is far out (exp(eta) would overflow to inf, and 0 * inf
    is NaN) drop out of the Poisson Newton fit: it equals the fit without them."""
    X, ys, _ = data(seed=5)
    w = np.ones(N)
    far = [4, 21, 33]
    w[far] = 0.0
    X[far, 1] = 1e4
    keep = w > 0
    fit = pure_fit(PoissonRegression(tol=1e-12))
    Xd = with_intercept(PoissonRegression(), X)
    zeroed = fit(Xd, ys["k"], weights=w)
    dropped = fit(Xd[keep], ys["k"][keep])
    assert bool(zeroed.converged) and np.isfinite(np.asarray(zeroed.cov)).all()
    np.testing.assert_allclose(zeroed.params, dropped.params, rtol=1e-12, atol=0)
    np.testing.assert_allclose(zeroed.cov, dropped.cov, rtol=1e-12, atol=0)
