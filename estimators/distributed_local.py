"""Several processes of one JAX program on this machine (loopback): trying and testing.

:func:`run_local` starts copies of a program with the coordinator address,
process count and index in the environment, which
:func:`estimators.distributed.initialize` reads when called without
arguments; everything listens on 127.0.0.1 only. The tests
(``tests/test_distributed.py``) and ``benchmarks/distributed.py`` use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .distributed import ENV_NUM_PROCESSES, ENV_PROCESS_ID, DistributedError
from .errors import SettingsError

__all__ = ["LocalRunTimeout", "free_loopback_port", "run_local"]

TAIL = 2000  # characters of each process's stderr quoted in a timeout's message


class LocalRunTimeout(DistributedError, TimeoutError):
    """:func:`run_local`'s processes did not all finish in time (they were killed).

    The message says, per process, whether it was still running or how it
    ended (its exit code; a negative code is the signal, -6 the ``SIGABRT``
    with which JAX ends a process whose peer died), and quotes the tail of
    the stderr of those that failed or hung.
    """


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_local(
    argv: Sequence[str],
    num_processes: int,
    *,
    timeout: float = 300.0,
    devices_per_process: int = 1,
    env: dict[str, str] | None = None,
) -> list[tuple[int, str, str]]:
    """Run ``num_processes`` copies of a program on this machine as one JAX program (loopback).

    For trying a multi-host program on one machine, and for the tests: each
    copy of ``argv`` (e.g. ``[sys.executable, "fit.py"]``) is started with
    ``JAX_COORDINATOR_ADDRESS=127.0.0.1:<free port>``, ``ESTIMATORS_PROCESS_ID``
    and ``ESTIMATORS_NUM_PROCESSES`` set, which
    :func:`estimators.distributed.initialize` reads when called without
    arguments; ``JAX_PLATFORMS=cpu`` and
    ``devices_per_process`` host devices each. Returns ``(returncode,
    stdout, stderr)`` per process. Every process is killed when ``timeout``
    seconds have passed (a :class:`LocalRunTimeout`, also a
    :class:`TimeoutError`, naming which processes were still running, which
    had failed, and the tail of their stderr) or when this call fails.
    """
    import subprocess
    import tempfile
    import time

    if num_processes < 1:
        raise SettingsError(f"num_processes must be >= 1, got {num_processes}")
    base = dict(os.environ if env is None else env)
    base.update(
        JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{free_loopback_port()}",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={int(devices_per_process)}",
    )
    base[ENV_NUM_PROCESSES] = str(num_processes)
    processes, outputs = [], []
    with tempfile.TemporaryDirectory() as folder:
        try:
            for k in range(num_processes):
                out = open(os.path.join(folder, f"{k}.out"), "w+")  # noqa: SIM115
                err = open(os.path.join(folder, f"{k}.err"), "w+")  # noqa: SIM115
                outputs.append((out, err))
                process_env = dict(base)
                process_env[ENV_PROCESS_ID] = str(k)
                processes.append(
                    subprocess.Popen(list(argv), env=process_env, stdout=out, stderr=err)
                )
            deadline = time.monotonic() + timeout
            for process in processes:
                remaining = deadline - time.monotonic()
                try:
                    process.wait(timeout=max(remaining, 0.01))
                except subprocess.TimeoutExpired as expired:
                    raise LocalRunTimeout(
                        _timeout_report(processes, outputs, timeout)
                    ) from expired
            results = []
            for process, (out, err) in zip(processes, outputs, strict=True):
                out.seek(0)
                err.seek(0)
                results.append((process.returncode, out.read(), err.read()))
            return results
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
            for out, err in outputs:
                out.close()
                err.close()


def _timeout_report(processes, outputs, timeout: float) -> str:
    """Which processes hung or failed, with the tail of their stderr (read before the kill)."""
    running = [k for k, p in enumerate(processes) if p.poll() is None]
    lines = [
        f"{len(running)} of {len(processes)} local processes did not finish in {timeout:g} s "
        f"(still running: {running}; all are killed)"
    ]
    for k, (process, (_, err)) in enumerate(zip(processes, outputs, strict=True)):
        code = process.poll()
        if code == 0:
            continue
        state = "still running" if code is None else f"exited with code {code}"
        err.flush()
        with open(err.name, errors="replace") as f:
            tail = f.read()[-TAIL:].strip()
        lines.append(f"process {k}: {state}; stderr tail:\n{tail or '(empty)'}")
    return "\n".join(lines)
