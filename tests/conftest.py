"""Shared test setup.

Every test runs with JAX's global configuration as the user would have it
(x64 off) and checks that the library did not change it: the library must
switch float64 on only around its own work.
"""

import jax
import pytest


@pytest.fixture(autouse=True)
def global_jax_config_untouched():
    before = bool(jax.config.jax_enable_x64)
    yield
    assert bool(jax.config.jax_enable_x64) == before, "the library changed the global x64 flag"
