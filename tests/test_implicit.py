"""Implicit differentiation of fits (estimators/implicit.py) and the derivatives of pure fits.

References, all computed live:
- closed forms: a local pure ridge fit, whose derivatives are exact matrix formulas
  (d beta/d alpha = -(X'X + alpha I)^-1 beta, d beta/d y = (X'X + alpha I)^-1 X');
- central finite differences of the pure fits themselves (step and tolerance in each test);
- the population derivative of the normal quantile, dQ/dq = 1 / phi(Phi^-1(q));
- ``estimators.influence.influence_functions`` of the ordinary ``.fit``.
"""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import estimators.implicit as implicit_module
from estimators.functional import FitArrays
from estimators.functional_smooth import pure_fit
from estimators.implicit import implicit_argmin, implicit_root
from estimators.influence import influence_functions
from estimators.likelihood import MaximumLikelihood
from estimators.location import Mean, Quantile
from estimators.robust_location import Huber, TukeyBiweight


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


# --------------------------------------------------------------------------- a closed form


def ridge_loss(beta, arrays, weights, hyper):
    X, y = arrays
    w = jnp.ones(y.shape) if weights is None else weights
    return 0.5 * jnp.sum(w * (y - X @ beta) ** 2) + 0.5 * hyper["alpha"] * beta @ beta


def ridge_solve(arrays, weights, hyper):
    """Closed form; stop_gradient makes sure no derivative comes from the solve itself."""
    X, y = jax.lax.stop_gradient(arrays)
    w = jnp.ones(y.shape) if weights is None else jax.lax.stop_gradient(weights)
    alpha = jax.lax.stop_gradient(hyper["alpha"])
    A = (X * w[:, None]).T @ X + alpha * jnp.eye(X.shape[1])
    beta = jnp.linalg.solve(A, (w * y) @ X)
    return FitArrays(beta, jnp.linalg.inv(A), jnp.isfinite(beta[0]), jnp.asarray(1, jnp.int32))


RIDGE = implicit_argmin(ridge_solve, ridge_loss)


def ridge_data(seed=0, n=30, p=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X @ np.arange(1.0, p + 1) + rng.normal(size=n)


def test_ridge_derivative_in_alpha_is_the_exact_formula_both_modes():
    X, y = ridge_data()
    alpha = 0.7
    beta = RIDGE((X, y), None, {"alpha": alpha}).params
    exact = -np.linalg.solve(X.T @ X + alpha * np.eye(3), beta)

    def fit(a):
        return RIDGE((X, y), None, {"alpha": a}).params

    np.testing.assert_allclose(jax.jacrev(fit)(alpha), exact, rtol=1e-12)
    np.testing.assert_allclose(jax.jacfwd(fit)(alpha), exact, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(jax.jacrev(fit))(alpha), exact, rtol=1e-12)


def test_ridge_derivative_in_the_data_is_the_exact_formula():
    X, y = ridge_data()
    alpha = 0.7
    jac = jax.jacrev(lambda yy: RIDGE((X, yy), None, {"alpha": alpha}).params)(y)
    np.testing.assert_allclose(jac, np.linalg.solve(X.T @ X + alpha * np.eye(3), X.T), rtol=1e-11)


def test_ridge_derivatives_match_central_differences_in_x_and_weights():
    """Step 1e-6: the fit is smooth (a rational function), so the central difference's
    truncation error is O(h^2) ~ 1e-12 and its rounding error ~ eps / h ~ 1e-10 relative;
    tolerance 1e-7."""
    X, y = ridge_data(1)
    w = np.linspace(0.5, 1.5, 30)
    h = 1e-6

    def fit(X_, w_):
        return RIDGE((X_, y), w_, {"alpha": 0.3}).params

    g_x = jax.jacrev(fit, argnums=0)(X, w)  # (p, n, p)
    g_w = jax.jacfwd(fit, argnums=1)(X, w)  # (p, n)
    for i, j in [(0, 0), (7, 2), (29, 1)]:
        e = np.zeros_like(X)
        e[i, j] = h
        fd = (fit(X + e, w) - fit(X - e, w)) / (2 * h)
        np.testing.assert_allclose(g_x[:, i, j], fd, rtol=1e-7, atol=1e-9)
    for i in (0, 13):
        e = np.zeros_like(w)
        e[i] = h
        fd = (fit(X, w + e) - fit(X, w - e)) / (2 * h)
        np.testing.assert_allclose(g_w[:, i], fd, rtol=1e-7, atol=1e-9)


@pytest.mark.slow  # compiles its own kernels: 5-12 s on 2 cores; CI runs it with -m slow
def test_vmap_of_grad_equals_a_loop_and_other_outputs_get_zero_tangents():
    X, y = ridge_data(2)
    alphas = jnp.array([0.1, 1.0, 10.0])

    def first(a):
        return RIDGE((X, y), None, {"alpha": a}).params[0]

    batched = jax.vmap(jax.grad(first))(alphas)
    looped = [jax.grad(first)(a) for a in alphas]
    np.testing.assert_allclose(batched, looped, rtol=1e-13)
    # cov is not differentiated: a gradient through it is exactly 0
    assert float(jax.grad(lambda a: RIDGE((X, y), None, {"alpha": a}).cov[0, 0])(1.0)) == 0.0
    tangent = jax.jvp(lambda a: RIDGE((X, y), None, {"alpha": a}), (1.0,), (1.0,))[1]
    assert tangent.converged.dtype == jax.dtypes.float0
    assert tangent.n_iter.dtype == jax.dtypes.float0


def test_implicit_root_of_a_non_gradient_equation_solved_by_a_while_loop():
    """theta^3 + a theta = b solved by Newton in lax.while_loop (reverse mode could not go
    through it); d theta/d b = 1 / (3 theta^2 + a), d theta/d a = -theta / (3 theta^2 + a)."""

    def equation(theta, arrays, weights, hyper):
        return theta**3 + hyper["a"] * theta - arrays[0]

    def solve(arrays, weights, hyper):
        def step(t):
            return t - equation(t, arrays, weights, hyper) / (3 * t**2 + hyper["a"])

        theta = jax.lax.fori_loop(0, 60, lambda i, t: step(t), jnp.ones(1))
        return FitArrays(theta, jnp.full((1, 1), jnp.nan), jnp.asarray(True), jnp.asarray(60))

    fit = implicit_root(solve, equation)
    b, a = jnp.array([2.0]), 1.5
    theta = float(fit((b,), None, {"a": a}).params[0])
    np.testing.assert_allclose(theta**3 + a * theta, 2.0, rtol=1e-14)
    grad_b = jax.grad(lambda bb: fit((bb,), None, {"a": a}).params[0])(b)
    grad_a = jax.grad(lambda aa: fit((b,), None, {"a": aa}).params[0])(a)
    np.testing.assert_allclose(grad_b, [1 / (3 * theta**2 + a)], rtol=1e-13)
    np.testing.assert_allclose(grad_a, -theta / (3 * theta**2 + a), rtol=1e-13)


def test_doctests():
    assert doctest.testmod(implicit_module).failed == 0


# --------------------------------------------------------------------------- hyperparameters


def contaminated(seed=3, n=60):
    """A normal sample with a one-sided block of outliers: the Huber estimate then moves with c
    (with outliers balanced on both sides its derivative in c is exactly 0)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(10.0, 2.0, n - 8), rng.normal(25.0, 3.0, 8)])


@pytest.mark.parametrize(
    "estimator",
    [Huber(tol=1e-10), pytest.param(TukeyBiweight(tol=1e-10), marks=pytest.mark.slow)],  # ~6 s
    ids=str,
)
def test_robust_location_derivatives_match_central_differences(estimator):
    """The fit is smooth in c and x between the points where a residual crosses c*s or the
    MAD selects another order statistic; step 1e-5 stays clear of them (checked: the FD
    quotients at 1e-5 and 1e-4 agree). The fits converge to 1e-10 standard errors
    (about 3e-11 here), so the quotient carries ~1e-6 relative noise; tolerance 1e-5."""
    x = contaminated()
    fit = pure_fit(estimator)
    c0, h = float(estimator.c), 1e-5
    location = jax.jit(lambda c, data: fit(data, c=c).params[0])
    derivative = float(jax.jit(jax.grad(location))(c0, x))
    fd = float((location(c0 + h, x) - location(c0 - h, x)) / (2 * h))
    assert abs(derivative) > 1e-3  # a real test: the estimate moves with c
    np.testing.assert_allclose(derivative, fd, rtol=1e-5)
    grad_x = jax.jit(jax.grad(location, argnums=1))(c0, x)
    for i in (0, 20, 55):
        e = np.zeros_like(x)
        e[i] = h
        fd = float((location(c0, x + e) - location(c0, x - e)) / (2 * h))
        np.testing.assert_allclose(grad_x[i], fd, rtol=1e-5, atol=1e-9)
    # translation equivariance: the derivatives in the data sum to 1
    np.testing.assert_allclose(np.sum(grad_x), 1.0, rtol=1e-10)


def test_quantile_derivative_in_q_is_the_reciprocal_density_of_a_normal_sample():
    """dQ/dq = 1 / phi(Phi^-1(q)) for N(0, 1). On n = 10^6 draws the smoothed derivative
    1 / f_h(Q) has a relative sampling error sqrt(R(K) / (n h f)) ~ 0.5 % (R(K) = 0.28,
    h = 0.05) and a smoothing bias h^2 |z^2 - 1| / 2 < 0.2 %; tolerance 2.5 %, about five
    standard errors."""
    x = np.random.default_rng(11).normal(size=1_000_000)
    fit = pure_fit(Quantile(q=0.5))
    levels = jnp.array([0.1, 0.3, 0.5, 0.8])
    derivative = jax.jit(jax.vmap(jax.grad(lambda q, d: fit(d, q=q).params[0]), (0, None)))(
        levels, x
    )
    expected = 1 / stats.norm.pdf(stats.norm.ppf(np.asarray(levels)))
    np.testing.assert_allclose(derivative, expected, rtol=0.025)


def test_quantile_derivative_in_the_weights_is_its_influence_function():
    r"""With the normalised smoothed loss L = sum w l_h / sum w and g = dL/dQ at the exact
    quantile (not exactly 0: Q is the pinball minimiser, not the smoothed one),
    n dQ/dw_j = (q - Phi((Q - x_j)/h) - g) / f_h(Q): the quantile's influence function
    (q - 1{x_j <= Q}) / f(Q), smoothed, less a constant g / f_h that makes the
    derivatives sum to 0 (rescaling all weights does not move the quantile). Rows far
    from Q (|x - Q| > 10 h) take two values, 1 / f_h apart, within |g| / f_h of the
    unsmoothed influence function."""
    x = np.random.default_rng(5).normal(size=400)
    q = 0.3
    fit = pure_fit(Quantile(q=q))
    quantile = jax.jit(lambda qq, w: fit(x, weights=w, q=qq).params[0])
    ones = np.ones(400)
    grad_w = 400 * np.asarray(jax.grad(quantile, argnums=1)(q, ones))
    estimate = float(quantile(q, ones))
    density = 1 / float(jax.grad(quantile)(q, ones))
    below, above = x < estimate - 2.0, x > estimate + 2.0
    np.testing.assert_allclose(grad_w[below], grad_w[below][0], rtol=1e-9)
    np.testing.assert_allclose(grad_w[above], grad_w[above][0], rtol=1e-9)
    np.testing.assert_allclose(grad_w[above][0] - grad_w[below][0], 1 / density, rtol=1e-9)
    np.testing.assert_allclose(grad_w[above][0], q / density, rtol=0.02)
    assert abs(np.sum(grad_w)) < 1e-9


# --------------------------------------------------------------------------- influence


def test_weight_derivative_of_the_mean_is_its_influence_function():
    r"""The weighted estimate solves sum_i w_i psi(x_i; theta) = 0. Differentiating in w_j
    at w = 1: psi_j + (sum_i d psi_i / d theta) d theta / d w_j = 0, i.e.
    d theta / d w_j = -A^{-1} s_j with A the Hessian of the total loss and s_j row j's
    score. The empirical influence function (estimators.influence) is
    IF_j = -n A^{-1} s_j, so IF_j = n d theta / d w_j. For the mean, (x_j - xbar)."""
    x = np.random.default_rng(7).normal(3.0, 2.0, size=25)
    fit = pure_fit(Mean())
    grad_w = jax.jit(jax.grad(lambda w: fit(x, weights=w).params[0]))(np.ones(25))
    expected = influence_functions(Mean().fit(x))["mean"].to_numpy()
    np.testing.assert_allclose(25 * np.asarray(grad_w), expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(expected, x - x.mean(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "family",
    ["gamma", pytest.param("student_t", marks=pytest.mark.slow)],  # student_t: ~9 s
)
def test_weight_derivative_of_an_mle_is_its_influence_function(family):
    """As for the mean (previous test): IF_j = n d theta / d w_j at w = 1, for every
    parameter, in the reported (natural) parametrisation."""
    rng = np.random.default_rng(8)
    x = rng.gamma(3.0, 2.0, size=60) if family == "gamma" else rng.standard_t(4, size=60)
    estimator = MaximumLikelihood(family)
    fit = pure_fit(estimator)
    jac = jax.jit(jax.jacrev(lambda w: fit(x, weights=w).params))(np.ones(60))  # (p, n)
    expected = influence_functions(estimator.fit(x)).to_numpy()  # (n, p)
    scale = np.max(np.abs(expected), axis=0)
    np.testing.assert_allclose(60 * np.asarray(jac).T / scale, expected / scale, atol=1e-9)


@pytest.mark.slow
def test_huber_regression_derivatives_match_central_differences_both_modes():
    """The joint (coefficients, MAD scale) fixed point, differentiated in c and y by
    reverse and forward mode, against central differences with step 1e-5 (the fit is
    piecewise smooth; its breakpoints, where a residual crosses c*s or the MAD selects
    another residual, are not within 1e-5 of these inputs: the quotients at 1e-4 agree).
    The fits converge to 1e-10 standard errors; tolerance 1e-5 relative."""
    from estimators.robust import HuberRegression

    rng = np.random.default_rng(16)
    X = np.c_[np.ones(40), rng.normal(size=(40, 2))]
    y = X @ [0.5, 1.0, 2.0] + rng.standard_t(2, size=40)
    fit = pure_fit(HuberRegression())
    coefficients = jax.jit(lambda c, yy: fit(X, yy, c=c).params)
    h = 1e-5
    fd_c = (coefficients(1.345 + h, y) - coefficients(1.345 - h, y)) / (2 * h)
    np.testing.assert_allclose(jax.jacrev(coefficients)(1.345, y), fd_c, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(jax.jacfwd(coefficients)(1.345, y), fd_c, rtol=1e-5, atol=1e-9)
    jac_y = jax.jit(jax.jacrev(coefficients, argnums=1))(1.345, y)
    for i in (0, 17, 39):
        e = np.zeros(40)
        e[i] = h
        fd = (coefficients(1.345, y + e) - coefficients(1.345, y - e)) / (2 * h)
        np.testing.assert_allclose(jac_y[:, i], fd, rtol=1e-5, atol=1e-9)
