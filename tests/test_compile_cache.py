"""The persistent compilation cache: its threshold, and that loaded kernels give the same fit.

Each check runs in fresh subprocesses with their own ``XDG_CACHE_HOME``, so this
process's JAX configuration is never touched. Kernel loads and compiles are
counted with ``jax.monitoring`` events (``/jax/compilation_cache/cache_hits``,
``cache_misses``), never timed. The reference for "the cache changes nothing" is
the same fit in a process with the cache switched off
(``ESTIMATORS_COMPILATION_CACHE=0``): estimates and standard errors are
bit-identical.
"""

from __future__ import annotations

import textwrap

import numpy as np
from fresh_process import run_script

from estimators.compile_cache import MIN_COMPILE_TIME_SECS

_CHILD = textwrap.dedent(
    """
    import collections, json, sys
    import jax
    events = collections.Counter()
    jax.monitoring.register_event_listener(lambda event, **kw: events.update([event]))
    import numpy as np
    import estimators as est
    from estimators import compile_cache

    report = {
        "min_time": jax.config.jax_persistent_cache_min_compile_time_secs,
        "ours": compile_cache.compilation_cache_enabled(),
    }
    if "fit" in sys.argv:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1000, 5))
        eta = X @ np.array([0.5, -0.5, 0.2, 0.0, 0.1])
        y = (rng.random(1000) < 1 / (1 + np.exp(-eta))).astype(float)
        events.clear()
        fit = est.LogisticRegression().fit(X, y)
        report.update(
            params=fit.params_.tolist(),
            std_errors=fit.std_errors_.tolist(),
            hits=events["/jax/compilation_cache/cache_hits"],
            misses=events["/jax/compilation_cache/cache_misses"],
        )
    report["disabled"] = compile_cache.disable_compilation_cache()
    report["min_time_after"] = jax.config.jax_persistent_cache_min_compile_time_secs
    print(json.dumps(report))
    """
)


def _child(xdg, *args, **env_overrides) -> dict:
    return run_script(_CHILD, xdg, *args, **env_overrides)


def _entries(xdg) -> list:
    cache = xdg / "estimators" / "jax"
    return sorted(p.name for p in cache.glob("*-cache")) if cache.exists() else []


def test_threshold_is_ours_and_is_restored(tmp_path):
    report = _child(tmp_path / "xdg")
    assert report["ours"] and report["min_time"] == MIN_COMPILE_TIME_SECS
    assert report["disabled"] and report["min_time_after"] == 1.0  # JAX's default again


def test_users_threshold_is_left_alone(tmp_path):
    report = _child(tmp_path / "xdg", JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5")
    assert report["ours"] and report["min_time"] == 0.5
    assert report["disabled"] and report["min_time_after"] == 0.5


def test_threshold_is_below_the_small_kernels_compile_time():
    # The fit's small kernels compile in 0.016-0.14 s on the 2-core machine (see the
    # module docstring); the threshold must keep them, JAX's default (1 s) does not.
    assert 0 < MIN_COMPILE_TIME_SECS <= 0.015


def test_loaded_kernels_give_the_same_fit_as_compiled_ones(tmp_path):
    plain = _child(tmp_path / "off", "fit", ESTIMATORS_COMPILATION_CACHE="0")
    assert _entries(tmp_path / "off") == [] and plain["hits"] == 0

    xdg = tmp_path / "xdg"
    first = _child(xdg, "fit")  # empty cache: compiles and writes
    written = _entries(xdg)
    assert first["hits"] == 0 and first["misses"] >= len(written) >= 1

    warm = _child(xdg, "fit")  # a fresh process: every entry written is found and used
    assert warm["hits"] == len(written)
    assert warm["hits"] + warm["misses"] == first["misses"]

    for report in (first, warm):  # bit-identical to the fit without any cache
        np.testing.assert_array_equal(report["params"], plain["params"])
        np.testing.assert_array_equal(report["std_errors"], plain["std_errors"])
