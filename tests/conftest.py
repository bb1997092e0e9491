"""Shared test setup.

Every test runs with JAX's global configuration as the user would have it
(x64 off) and checks that the library did not change it: the library must
switch float64 on only around its own work.
"""

import jax
import pytest


def pytest_configure(config):
    """The test process runs without the persistent compilation cache.

    In two cold CI runs of the whole suite (one process, thousands of compiles),
    JAX 0.10.2 crashed inside ``executable.serialize()`` while writing a new
    entry to that cache (an abort, then a segmentation fault, at different
    kernels; neither reproduced in smaller runs). A fresh CI machine starts with
    an empty cache anyway. The cache itself is tested in subprocesses
    (tests/test_compile_reuse.py), which still switch it on as ``import
    estimators`` does.
    """
    import estimators

    estimators.disable_compilation_cache()


@pytest.fixture(autouse=True)
def global_jax_config_untouched():
    before = bool(jax.config.jax_enable_x64)
    yield
    assert bool(jax.config.jax_enable_x64) == before, "the library changed the global x64 flag"


# Fixtures that start other processes (four simulated devices, two JAX processes
# on loopback, a Dask cluster) and compile everything afresh there: 10-30 s each
# on 2 cores. The tests that use them are slow tests (`pytest -m slow`, which CI
# also runs), so the default suite stays within its time budget.
SLOW_FIXTURES = {"four_devices", "two_processes", "client"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark slow every test that uses one of :data:`SLOW_FIXTURES`.

    ``tryfirst`` so that the mark is in place before ``-m "not slow"`` deselects.
    """
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
