"""Run a script in a fresh Python interpreter: what the compile-cache tests share.

A fresh process is the only honest test of the persistent compilation cache:
``import estimators`` switches it on at import, and a warm cache shows only in
a process that did not compile the kernels itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Settings of the parent (the developer's shell, CI) that would decide the child's cache.
_CACHE_SETTINGS = ("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE", "ESTIMATORS_COMPILATION_CACHE")


def run_script(script: str, xdg: Path, *args: str, **env_overrides: str) -> dict:
    """Run ``script`` with ``XDG_CACHE_HOME=xdg``; its last line of output, read as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CACHE_SETTINGS)}
    env.update(XDG_CACHE_HOME=str(xdg), **env_overrides)
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
