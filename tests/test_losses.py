"""The per-observation losses: values against their textbook forms, derivatives by autodiff
against the known psi and psi', the weighted mean."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.robust import norms

from estimators import losses

R = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])


def derivatives(rho, r, **hyper):
    """rho, rho' and rho'' element-wise by plain autodiff (vmap of grad), in float64."""
    with jax.enable_x64(True):
        r = jnp.asarray(r, jnp.float64)
        first = jax.grad(lambda t: rho(t, **hyper))
        second = jax.grad(first)
        return tuple(
            np.asarray(a) for a in (rho(r, **hyper), jax.vmap(first)(r), jax.vmap(second)(r))
        )


def test_squared_and_absolute_deviation():
    np.testing.assert_array_equal(losses.squared_deviation(R), R**2)
    np.testing.assert_array_equal(losses.absolute_deviation(R), np.abs(R))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_pinball_equals_its_textbook_form(q):
    textbook = np.where(R < 0, (q - 1) * R, q * R)
    np.testing.assert_allclose(losses.pinball(R, q=q), textbook, rtol=1e-7, atol=1e-7)


# --------------------------------------------------------------------------- Huber


def exact_huber(r: float, c: float) -> float:
    """Huber's rho in exact rational arithmetic, rounded once."""
    r, c = Fraction(r), Fraction(c)
    return float(r * r / 2 if abs(r) <= c else c * abs(r) - c * c / 2)


@pytest.mark.parametrize("c", [0.5, 1.345, 10.0])
def test_huber_equals_its_piecewise_definition(c):
    textbook = np.where(np.abs(R) <= c, 0.5 * R**2, c * np.abs(R) - 0.5 * c**2)
    np.testing.assert_allclose(losses.huber(R, c=c), textbook, rtol=1e-7)


@pytest.mark.parametrize("c", [0.7, 1.345, 2.0])
def test_huber_value_psi_and_psi_prime_at_zero_kinks_and_beyond(c):
    """psi = r clipped to [-c, c]; psi' = 1 on the closed interval |r| <= c (statsmodels'
    HuberT convention), 0 beyond; r = 0 and r = +-c exactly included."""
    rng = np.random.default_rng(0)
    r = np.r_[0.0, c, -c, np.nextafter(c, 9), -np.nextafter(c, 9), 1e-300, -1e-12]
    r = np.r_[r, rng.normal(size=200) * 2 * c, rng.normal(size=20) * 1e6]
    rho, psi, dpsi = derivatives(losses.huber, r, c=c)
    # values within an ulp of the exact value, outliers included
    np.testing.assert_allclose(rho, [exact_huber(v, c) for v in r], rtol=2.3e-16, atol=0)
    np.testing.assert_array_equal(psi, np.clip(r, -c, c))
    np.testing.assert_array_equal(dpsi, (np.abs(r) <= c).astype(float))
    assert dpsi[0] == 1.0 and dpsi[1] == dpsi[2] == 1.0 and dpsi[3] == dpsi[4] == 0.0
    reference = norms.HuberT(t=c)  # statsmodels 0.15
    np.testing.assert_allclose(rho, reference.rho(r), rtol=1e-14)
    np.testing.assert_array_equal(psi, reference.psi(r))
    np.testing.assert_array_equal(dpsi, reference.psi_deriv(r))


def test_huber_derivatives_agree_across_autodiff_modes_and_in_c():
    c = 1.345
    with jax.enable_x64(True):
        r = jnp.array([-4.0, -1.345, -0.3, 0.0, 0.9, 1.345, 7.0])
        mean_loss = lambda b: jnp.mean(losses.huber(r - b, c=c))  # noqa: E731
        # forward-over-reverse (jax.hessian) and reverse-over-reverse give psi' too
        inside = np.mean(np.abs(np.asarray(r) - 0.2) <= c)
        assert float(jax.hessian(mean_loss)(0.2)) == pytest.approx(inside, rel=1e-15)
        assert float(jax.grad(jax.grad(mean_loss))(0.2)) == pytest.approx(inside, rel=1e-15)
        # d rho / dc = |r| - c beyond the threshold, 0 inside
        d_c = jax.vmap(jax.grad(lambda cc, t: losses.huber(t, c=cc)), in_axes=(None, 0))(c, r)
        expected = np.where(np.abs(r) > c, np.abs(r) - c, 0.0)
        np.testing.assert_allclose(d_c, expected, rtol=1e-15, atol=0)
        # under jit, with c traced, as the estimators call it
        scalar = lambda t, cc: losses.huber(t, c=cc)  # noqa: E731
        traced = jax.jit(jax.vmap(jax.grad(jax.grad(scalar)), in_axes=(0, None)))
        np.testing.assert_array_equal(traced(r, jnp.float64(c)), np.abs(r) <= c)


def test_huber_keeps_the_input_precision():
    assert losses.huber(jnp.array([0.5, 3.0], jnp.float32), c=1.0).dtype == jnp.float32
    assert jnp.issubdtype(losses.huber(jnp.array([1, 3]), c=1.0).dtype, jnp.floating)


# --------------------------------------------------------------------------- Tukey


def exact_biweight(r: float, c: float) -> tuple[float, float, float]:
    """Tukey's rho, psi and psi' in exact rational arithmetic, each rounded once."""
    r, c = Fraction(r), Fraction(c)
    if abs(r) >= c:
        return float(c * c / 6), 0.0, 0.0
    t = 1 - r * r / (c * c)
    return float(c * c / 6 * (1 - t**3)), float(r * t * t), float(t * (5 * t - 4))


@pytest.mark.parametrize("c", [1.0, 4.685])
def test_tukey_biweight_value_psi_and_psi_prime(c):
    """rho accurate to an ulp (also for tiny r, where 1 - (1 - u)^3 cancels); psi and psi'
    by autodiff against statsmodels' TukeyBiweight, at 0 and at +-c included."""
    rng = np.random.default_rng(1)
    r = np.r_[0.0, c, -c, 1e-9, -1e-150, rng.normal(size=200) * c, rng.normal(size=20) * 1e3]
    rho, psi, dpsi = derivatives(losses.tukey_biweight, r, c=c)
    exact = np.array([exact_biweight(v, c) for v in r])
    np.testing.assert_allclose(rho, exact[:, 0], rtol=4.5e-16, atol=0)
    # psi and psi' vanish at |r| = c, where 1 - r^2/c^2 cancels: a few rounding errors of
    # the terms (of size c and 1) in absolute terms, relative elsewhere
    eps = np.finfo(float).eps
    np.testing.assert_allclose(psi, exact[:, 1], rtol=1e-14, atol=8 * eps * c)
    np.testing.assert_allclose(dpsi, exact[:, 2], rtol=1e-14, atol=16 * eps)
    assert psi[1] == psi[2] == 0.0 and dpsi[1] == dpsi[2] == 0.0  # continuous at +-c
    reference = norms.TukeyBiweight(c=c)  # statsmodels 0.15
    np.testing.assert_allclose(psi, reference.psi(r), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dpsi, reference.psi_deriv(r), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- smoothed pinball


def test_smoothed_pinball_is_the_gaussian_convolution_of_the_pinball_loss():
    q, h = 0.3, 0.7
    r = np.array([-2.0, -0.1, 0.0, 0.4, 3.0])
    value, slope, curvature = derivatives(losses.smoothed_pinball, r, q=q, h=h)
    for i, ri in enumerate(r):
        # Reference: E rho_q(r + hZ) by adaptive quadrature (scipy.integrate.quad).
        expected = integrate.quad(
            lambda z, ri=ri: (ri + h * z) * (q - (ri + h * z < 0)) * stats.norm.pdf(z),
            -12,
            12,
            points=[-ri / h],
            epsabs=1e-13,
        )[0]
        assert value[i] == pytest.approx(expected, rel=1e-10, abs=1e-13)
    np.testing.assert_allclose(slope, q - stats.norm.cdf(-r / h), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(curvature, stats.norm.pdf(r / h) / h, rtol=1e-12)


# --------------------------------------------------------------------------- shared helpers


def test_loss_derivatives_pads_and_matches_plain_autodiff():
    r = np.random.default_rng(2).normal(size=1500) * 3  # padded to 2048 rows inside
    for rho, c in ((losses.huber, 1.345), (losses.tukey_biweight, 4.685)):
        got = losses.loss_derivatives(rho, r, c=c)
        # the padding does not change a value: same kernel on a longer array
        longer = losses.loss_derivatives(rho, np.r_[r, r], c=c)
        # op-by-op autodiff rounds each operation, the compiled kernel fuses them
        # (possibly with FMA): equal up to a few ulps
        eager = derivatives(rho, r, c=c)
        for a, b, e in zip(got, longer, eager, strict=True):
            assert a.shape == r.shape
            np.testing.assert_array_equal(a, b[: r.size])
            np.testing.assert_allclose(a, e, rtol=4 * np.finfo(float).eps, atol=1e-15 * c)


def test_hand_derivative_of_the_mean_squared_deviation_equals_autodiff():
    """The tutorial's check: f'(beta) = -(2/n) sum (x_i - beta)."""
    with jax.enable_x64(True):
        x = jnp.array([0.2898, 4.0190, 2.5984, 3.6664, 0.5830, 7.0064, 0.5180, 4.6814])
        for beta in (-2.0, 0.7837080359458923, 3.0, 10.0):
            auto = jax.grad(lambda b: losses.weighted_mean(losses.squared_deviation(x - b)))(beta)
            hand = -2.0 / x.size * jnp.sum(x - beta)
            assert float(auto) == pytest.approx(float(hand), rel=1e-14)


def test_weighted_mean_with_zero_weights_drops_rows():
    values = np.array([1.0, 100.0, 3.0])
    assert float(losses.weighted_mean(values, np.array([1.0, 0.0, 1.0]))) == 2.0
    assert float(losses.weighted_mean(values)) == pytest.approx(104 / 3)
