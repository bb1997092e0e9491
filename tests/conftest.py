"""Shared test setup.

Every test runs with JAX's global configuration as the user would have it
(x64 off) and checks that the library did not change it: the library must
switch float64 on only around its own work.
"""

import jax
import pytest


def pytest_configure(config):
    """The test process runs without the persistent compilation cache.

    Tests must not depend on what an earlier run left on disk, and a fresh CI
    machine starts with an empty cache anyway. The cache itself is tested in
    fresh subprocesses (tests/test_compile_reuse.py, test_compile_cache.py),
    which switch it on as ``import estimators`` does.
    """
    import estimators

    estimators.disable_compilation_cache()


# Half the per-process limit on memory maps (vm.max_map_count, 65,530 by default).
MAP_BUDGET = 32_000


def _memory_maps() -> int:
    try:
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps)
    except OSError:  # not Linux: no such limit to guard
        return 0


@pytest.fixture(autouse=True, scope="module")
def release_compiled_kernels():
    """Drop JAX's compiled kernels after a test module once they hold many memory maps.

    Every kernel XLA:CPU compiles stays mapped in the process (about three
    memory maps each; measured with /proc/self/maps), and Linux allows 65,530
    maps per process (``vm.max_map_count``). The whole suite compiles many
    thousands of kernels in one process (the bad-input matrix alone leaves
    7,300 maps), and three long cold CI runs aborted inside XLA, in compilation
    or in executable serialization, at different kernels late in the run: the
    signature of a failed allocation, which this limit explains (not reproduced
    to the limit itself: a fresh process compiles about 20 kernels a second).
    ``jax.clear_caches()`` unmaps them (1,391 maps back to 510 after 300
    kernels). Clearing after every module would make later modules recompile
    the kernels they share, so it happens only past :data:`MAP_BUDGET`.
    """
    yield
    if _memory_maps() > MAP_BUDGET:
        jax.clear_caches()


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
