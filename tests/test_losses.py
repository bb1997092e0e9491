"""The per-observation losses: values, the tutorial's hand derivative, the weighted mean."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from estimators import losses

R = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])


def test_squared_and_absolute_deviation():
    np.testing.assert_array_equal(losses.squared_deviation(R), R**2)
    np.testing.assert_array_equal(losses.absolute_deviation(R), np.abs(R))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_pinball_equals_its_textbook_form(q):
    textbook = np.where(R < 0, (q - 1) * R, q * R)
    np.testing.assert_allclose(losses.pinball(R, q=q), textbook, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("c", [0.5, 1.345, 10.0])
def test_huber_equals_its_piecewise_definition(c):
    textbook = np.where(np.abs(R) <= c, 0.5 * R**2, c * np.abs(R) - 0.5 * c**2)
    np.testing.assert_allclose(losses.huber(R, c=c), textbook, rtol=1e-7)


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
