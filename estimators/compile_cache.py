r"""Compile reuse: JAX's persistent compilation cache, and a counter of compilations.

A fit compiles its kernels (the solver's loop, the information matrix, ...)
the first time it meets a shape: 0.15 to 0.9 s on a 2-core machine, often more
than the fit itself (PERFORMANCE.md, item 9). Two things keep that cost from
being paid again:

- **within a process**, sample sizes are padded with zero-weight rows to size
  buckets (:func:`estimators.numerics.bucket_size`), so a new ``n`` inside a
  bucket reuses the kernels already compiled;
- **across processes**, JAX's persistent compilation cache keeps compiled
  kernels on disk. ``import estimators`` switches it on
  (:func:`enable_compilation_cache`) in a per-user cache directory,
  ``$XDG_CACHE_HOME/estimators/jax``, or ``~/.cache/estimators/jax`` when
  ``XDG_CACHE_HOME`` is not set, so a fresh process's first fit loads its
  kernels rather than compiling them.

**The one global JAX setting the library touches.** Everything else the
library does runs inside ``jax.enable_x64`` contexts and leaves the user's JAX
configuration as it found it. The persistent cache cannot be scoped that way:
it is a process-wide setting (``jax_compilation_cache_dir``), so switching it
on changes the configuration of the whole process, the user's own ``jax.jit``
functions included (their kernels are cached too). It is done only where the
user has expressed no wish of their own:

- not when ``jax_compilation_cache_dir`` is already set (by
  ``jax.config.update``, ``jax.experimental.compilation_cache.set_cache_dir``
  or the ``JAX_COMPILATION_CACHE_DIR`` environment variable): the user's
  directory and thresholds stay as they are;
- not when the user switched the cache off (``jax_enable_compilation_cache``
  False);
- not when the environment variable ``ESTIMATORS_COMPILATION_CACHE`` is
  ``0``, ``false``, ``no`` or ``off`` (the opt-out; read at import);
- not when the directory cannot be created (a read-only home): the cache is
  an optimisation, and a fit never fails for want of it.

:func:`disable_compilation_cache` switches it off again in a running process
(only if this module switched it on) and restores the thresholds it set.

Thresholds, set only together with the directory, and only where they still
have JAX's default values:

- ``jax_persistent_cache_min_compile_time_secs`` = :data:`MIN_COMPILE_TIME_SECS`
  (0.01 s; JAX's default is 1 s): every kernel whose compilation takes longer
  than reading it back from disk. JAX looks every kernel up in the cache
  whatever this threshold; the threshold only decides which ones are written.
  Measured on the 2-core machine (load average 7 to 9, so absolute times are
  inflated; ratios hold), JAX 0.10.2, counted with ``jax.monitoring`` events:

  - a fresh process's ``LogisticRegression().fit`` on 1000 x 5 (the cold-start
    benchmark): threshold 0.1 s writes 2 entries (52 kB) and the next process
    compiles the other 4 kernels again; 0.01 s writes all 6 (64 kB) and the
    next process compiles none;
  - a session of 7 estimators with ``summary()`` (logistic, OLS, Poisson,
    Huber regression, mean, median, gamma MLE; 20 kernels): 0.1 s writes 11
    entries (452 kB), 0.01 s or 0 write 20 (488 kB); a later process spends
    1.16-1.38 s, 0.97-1.05 s and 0.76-1.00 s compiling or loading kernels.

  The logistic fit's six kernels took 2.44, 0.14, 0.07, 0.07, 0.016 and
  0.016 s to compile and 0.001 to 0.007 s each to load (0.06 s for the
  largest): the small ones add 3 kB each on disk and save 0.01 to 0.06 s each
  in every later process. Below 0.01 s a compile costs about what a load does,
  so those (most of them eager element-wise operations, also in the user's
  own code) are not written.
- no size limit (JAX's default). JAX's least-recently-used eviction
  (``jax_compilation_cache_max_size``) keeps per-entry access-time files that
  raced with reads and writes in our test runs (``FileNotFoundError`` on an
  ``-atime`` file, JAX 0.10), so it is left off. A compiled solver loop takes
  some hundreds of kB and the entries are per shape bucket, so the directory
  stays small in practice; delete it (:func:`cache_directory`) to clear it.

Entries are keyed by the computation, the shapes, the JAX / jaxlib versions
and the device, so a stale entry is never used: an upgrade simply compiles
afresh. (As JAX warns, a cache directory is trusted code: do not share one
with users you do not trust.)

:func:`count_compilations` counts the kernels compiled (or loaded from the
persistent cache) inside a ``with`` block, through ``jax.monitoring``: the way
to check that a new sample size recompiles nothing, without timing.

>>> import jax, jax.numpy as jnp
>>> f, a, b = jax.jit(lambda x: 2 * x), jnp.ones(3), jnp.ones(4)
>>> with count_compilations() as counter:
...     _ = f(a), f(a), f(b)
>>> counter.count
2
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = [
    "ENV_VAR",
    "MIN_COMPILE_TIME_SECS",
    "CompileCounter",
    "cache_directory",
    "compilation_cache_enabled",
    "count_compilations",
    "default_cache_directory",
    "disable_compilation_cache",
    "enable_compilation_cache",
    "enable_from_environment",
]

ENV_VAR = "ESTIMATORS_COMPILATION_CACHE"
OFF_VALUES = ("0", "false", "no", "off")
MIN_COMPILE_TIME_SECS = 0.01  # measured: see the module docstring

_MIN_TIME_OPTION = "jax_persistent_cache_min_compile_time_secs"
_JAX_DEFAULTS = {_MIN_TIME_OPTION: 1.0}
_OURS = {_MIN_TIME_OPTION: MIN_COMPILE_TIME_SECS}

# What this module changed, so that disable_compilation_cache undoes exactly that.
_state: dict = {"directory": None, "restore": {}}


def default_cache_directory() -> Path:
    """``$XDG_CACHE_HOME/estimators/jax``, or ``~/.cache/estimators/jax`` (no new dependency).

    >>> default_cache_directory().parts[-2:]
    ('estimators', 'jax')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "estimators" / "jax"


def cache_directory() -> Path | None:
    """The persistent cache directory in use in this process (the user's or ours), or None."""
    path = jax.config.jax_compilation_cache_dir
    return None if path is None or not jax.config.jax_enable_compilation_cache else Path(path)


def compilation_cache_enabled() -> bool:
    """True when this module switched the persistent cache on (and has not switched it off)."""
    return _state["directory"] is not None


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path | None:
    """Switch JAX's persistent compilation cache on, unless the user has their own setting.

    ``directory`` defaults to :func:`default_cache_directory`. Returns the
    directory this module set, or None when it left the configuration alone
    (the user already set ``jax_compilation_cache_dir`` or switched the cache
    off, or the directory cannot be created). Calling it again moves the cache
    this module set to the new ``directory``. See the module docstring for the
    thresholds and why this is the one global setting the library touches.
    """
    if not jax.config.jax_enable_compilation_cache:
        return None
    if jax.config.jax_compilation_cache_dir is not None and not compilation_cache_enabled():
        return None  # the user's own cache: never overridden
    path = Path(directory) if directory is not None else default_cache_directory()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if compilation_cache_enabled():
        compilation_cache.reset_cache()  # a new directory: drop the open one
    else:
        restore = {}
        for option, ours in _OURS.items():
            if getattr(jax.config, option) == _JAX_DEFAULTS[option]:
                restore[option] = _JAX_DEFAULTS[option]
                jax.config.update(option, ours)
        _state["restore"] = restore
    compilation_cache.set_cache_dir(str(path))
    _state["directory"] = path
    return path


def disable_compilation_cache() -> bool:
    """Switch off the persistent cache that :func:`enable_compilation_cache` switched on.

    Restores ``jax_compilation_cache_dir`` (None) and the thresholds it set;
    kernels already compiled in this process stay usable. A cache the user
    configured is left alone. Returns True when something was switched off.
    For a whole process, set ``ESTIMATORS_COMPILATION_CACHE=0`` instead: then
    ``import estimators`` does not switch it on at all.
    """
    if not compilation_cache_enabled():
        return False
    jax.config.update("jax_compilation_cache_dir", None)
    for option, value in _state["restore"].items():
        jax.config.update(option, value)
    compilation_cache.reset_cache()
    _state.update(directory=None, restore={})
    return True


def enable_from_environment() -> Path | None:
    """What ``import estimators`` calls: :func:`enable_compilation_cache` unless opted out.

    ``ESTIMATORS_COMPILATION_CACHE`` set to ``0``, ``false``, ``no`` or ``off``
    (any case) opts out; unset or anything else leaves the cache on.
    """
    if os.environ.get(ENV_VAR, "").strip().lower() in OFF_VALUES:
        return None
    return enable_compilation_cache()


# --------------------------------------------------------------------------- counting

# One event per kernel JAX compiles, or loads from the persistent cache: it is
# recorded when a traced function is lowered, which happens exactly when jit's
# in-memory cache misses.
_LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"


class CompileCounter:
    """The number of kernels compiled (or loaded from disk) since the ``with`` block began."""

    def __init__(self) -> None:
        self.count = 0

    def _listener(self, event: str, duration_secs: float, **kwargs) -> None:
        if event == _LOWERING_EVENT:
            self.count += 1

    def __repr__(self) -> str:
        return f"CompileCounter(count={self.count})"


@contextlib.contextmanager
def count_compilations() -> Iterator[CompileCounter]:
    """Count the kernels JAX compiles inside the block (see :class:`CompileCounter`).

    A ``jax.monitoring`` listener, removed on exit; it does not change any JAX
    setting. Counts every thread's compilations, so keep the block to the work
    being checked.
    """
    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter._listener)
    try:
        yield counter
    finally:
        jax.monitoring.unregister_event_duration_listener(counter._listener)
