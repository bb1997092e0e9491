"""The torch vocabulary in JAX: detach, no_grad, show_graph, holding parameters fixed."""

import jax
import jax.numpy as jnp
import pytest

from estimators import autodiff
from estimators.errors import SettingsError


def test_detach_passes_the_value_and_blocks_the_gradient():
    f = lambda b: autodiff.detach(b**2) * b  # noqa: E731
    assert float(f(3.0)) == 27.0
    assert float(jax.grad(f)(3.0)) == 9.0  # only the outer factor b is differentiated


def test_detach_maps_over_pytrees():
    tree = {"a": jnp.ones(2), "b": (jnp.zeros(1),)}
    g = jax.grad(lambda t: jnp.sum(autodiff.detach(t)["a"]) + jnp.sum(t["a"]))(tree)
    assert g["a"].tolist() == [1.0, 1.0]


def test_no_grad_makes_the_result_a_constant():
    square = autodiff.no_grad(lambda b: b**2)
    assert float(square(3.0)) == 9.0
    assert float(jax.grad(lambda b: square(b) + b)(3.0)) == 1.0


def test_show_graph_is_the_jaxpr():
    text = autodiff.show_graph(lambda a: jnp.sum(a * a), jnp.ones((2, 2)))
    assert "mul" in text and "reduce_sum" in text


def test_split_fixed_by_names_and_by_values():
    params = {"mu": 1.0, "sigma": 2.0}
    assert autodiff.split_fixed(params, {"sigma"}) == ({"mu": 1.0}, {"sigma": 2.0})
    assert autodiff.split_fixed(params, {"sigma": 5.0}) == ({"mu": 1.0}, {"sigma": 5.0})
    with pytest.raises(SettingsError, match="dict of named parameters"):
        autodiff.split_fixed([1.0, 2.0], {"a"})


def test_with_fixed_is_hashable_and_keeps_the_order():
    def fun(p):
        return list(p)

    a = autodiff.with_fixed(fun, ("mu", "sigma"))
    assert hash(a) == hash(autodiff.with_fixed(fun, ("mu", "sigma")))
    assert a({"mu": 1.0}, {"sigma": 2.0}) == ["mu", "sigma"]
