r"""One fit across processes (``jax.distributed``): start-up, host collectives, file shares.

When the rows outgrow one machine, the same program runs once per host
(SPMD, JAX's multi-controller runtime): every process reads its own share
of the rows, the shares are assembled into ONE globally sharded array
(``jax.make_array_from_process_local_data`` over a :func:`~estimators.sharding.row_mesh`
spanning every process's devices), and the loss, gradient and Hessian
reductions of the Newton loop run as XLA collectives (an all-reduce of a
scalar, a p-vector and a p x p matrix per iteration, whatever the number of
rows). No scheduler, RPC or socket code of ours: JAX's coordinator service
starts the processes' runtime, XLA's collectives (NCCL on GPUs, gloo on
CPUs) move the partial sums.

.. code-block:: python

    import estimators as est
    from estimators import distributed

    distributed.initialize("10.0.0.1:4321", num_processes=4, process_id=rank)
    frame = distributed.parquet_share("s3://bucket/flows/")   # this process's rows
    fit = distributed.fit(est.LogisticRegression(), frame, formula="y ~ x1 + x2")
    fit.summary()                                             # the same on every process

:func:`fit` lives in :mod:`estimators.distributed_glm` (GLMs); grouped fits on a
Dask cluster in :mod:`estimators.distributed_dask`. This module holds the
plumbing shared by both: :func:`initialize`, the host-value collectives
(:func:`allgather`, :func:`global_sum`, :func:`global_max`), the agreement on
errors (:func:`agreed`: a data error on one process is raised on every
process instead of leaving the others waiting in the next collective), and
:func:`parquet_share`. :func:`estimators.distributed_local.run_local` runs a
program as several local processes (loopback), for trying and testing.

Every function also works in an ordinary single process (one process, its
rows are all the rows), so a program written for a cluster runs unchanged on
a laptop.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import jax
import numpy as np
import pandas as pd

from . import errors
from .errors import DataError, EstimationError, SettingsError

T = TypeVar("T")

MESSAGE_BYTES = 4096  # an error message travels as a fixed-size byte buffer
ENV_PROCESS_ID = "ESTIMATORS_PROCESS_ID"  # set by distributed_local.run_local
ENV_NUM_PROCESSES = "ESTIMATORS_NUM_PROCESSES"


class DistributedError(EstimationError, RuntimeError):
    """The processes of a multi-process program cannot reach each other, or one is gone.

    Raised where Python still has control: a coordinator that cannot be
    reached within ``initialization_timeout``, and a collective whose
    connection to another process broke (that process exited). JAX itself
    ends a process (``SIGABRT``, a fatal log line) when its coordination
    service gives up; see ``docs/distributed.md``.
    """


_PROCESS_ROWS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "estimators_process_rows", default=False
)


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    cpu_collectives: str | None = "gloo",
    initialization_timeout: int = 300,
    heartbeat_timeout: int = 100,
    coordinator_bind_address: str | None = None,
) -> None:
    """Join this process to a multi-process JAX program (``jax.distributed.initialize``).

    Call it once per process, first thing, before any JAX computation (JAX
    enforces this). ``coordinator_address`` is ``"host:port"`` of process 0
    (all processes pass the same); ``num_processes`` and ``process_id`` (0 ...
    ``num_processes - 1``) as for ``jax.distributed.initialize``; on Cloud
    TPU, SLURM, Open MPI and Kubernetes JobSets all three may be left None
    and JAX detects them. After it, ``jax.devices()`` lists the devices of
    every process, so :func:`estimators.sharding.row_mesh` is the global mesh.

    ``cpu_collectives``: on CPU-only hosts the cross-process collectives run
    over ``"gloo"`` (TCP; the default) or ``"mpi"``; this sets JAX's
    ``jax_cpu_collectives_implementation`` (a process-wide setting, like
    everything ``jax.distributed`` does; None leaves it alone). GPUs use NCCL
    whatever this says.

    Called without arguments in a program started by
    :func:`estimators.distributed_local.run_local`, it reads the address,
    count and index that ``run_local`` set.

    A loopback coordinator (``127.x.x.x``, e.g. several processes on one
    machine) also binds the coordinator service and the gloo transport to
    that address only, so that nothing listens on another interface (JAX's
    defaults bind the service to all interfaces and gloo to the address of
    the host name).

    Bounded waits (seconds), so that a missing process ends the program
    instead of hanging it:

    - ``initialization_timeout``: a process other than 0 first waits this
      long for the coordinator's port to accept a TCP connection, then
      raises :class:`DistributedError` naming the address, its process id
      and the timeout (before any JAX state is touched). Once connected,
      JAX waits up to as long again for all ``num_processes`` to register;
      if some never do, JAX ends every waiting process (``SIGABRT``, a log
      line ``DEADLINE_EXCEEDED ... RegisterTask``): a fatal C++ error,
      not a Python exception.
    - ``heartbeat_timeout`` (JAX's ``heartbeat_timeout_seconds``): a process
      that dies later (exits, is killed, loses its network) stops sending
      heartbeats; after this long the coordination service ends every other
      process (``SIGABRT``, ``UNAVAILABLE: The following tasks are unhealthy
      (stopped sending heartbeats): k``). A collective that was already
      connected to the dead process usually fails first, at once, with a
      :class:`DistributedError` from :func:`allgather`.
    """
    for name, value in (
        ("initialization_timeout", initialization_timeout),
        ("heartbeat_timeout", heartbeat_timeout),
    ):
        if not isinstance(value, int | np.integer) or value < 1:
            raise SettingsError(f"{name} must be a whole number of seconds >= 1, got {value!r}")
    if cpu_collectives is not None:
        if cpu_collectives not in ("gloo", "mpi"):
            raise SettingsError(
                f"unknown cpu_collectives {cpu_collectives!r}; valid values are 'gloo', "
                "'mpi' or None"
            )
    if coordinator_address is None and ENV_PROCESS_ID in os.environ:  # run_local's copies
        coordinator_address = os.environ.get("JAX_COORDINATOR_ADDRESS")
        num_processes = int(os.environ[ENV_NUM_PROCESSES])
        process_id = int(os.environ[ENV_PROCESS_ID])
    if coordinator_address and process_id not in (None, 0):
        _wait_for_coordinator(
            coordinator_address, process_id, num_processes, initialization_timeout
        )
    loopback = _loopback_host(coordinator_address)
    if loopback is not None and coordinator_bind_address is None:
        coordinator_bind_address = coordinator_address
    if cpu_collectives is not None:  # only now: a failed wait leaves JAX's settings alone
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
        initialization_timeout=int(initialization_timeout),
        heartbeat_timeout_seconds=int(heartbeat_timeout),
        coordinator_bind_address=coordinator_bind_address,
    )
    if loopback is not None and cpu_collectives == "gloo":
        _gloo_on(loopback)


def _wait_for_coordinator(
    address: str, process_id: int, num_processes: int | None, timeout: float
) -> None:
    """Wait until ``address`` accepts TCP connections; :class:`DistributedError` after ``timeout``.

    JAX's own wait for an unreachable coordinator ends the process with a
    fatal error (no Python exception); probing the port first turns the
    commonest failure (wrong address, closed port, coordinator not started)
    into an error the program can catch and read. The probe connects and
    closes at once (gRPC servers ignore such connections).
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        port_number = int(port)
    except ValueError:
        raise SettingsError(f"coordinator_address must be 'host:port', got {address!r}") from None
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while True:
        try:
            with socket.create_connection((host, port_number), timeout=min(5.0, timeout)):
                return
        except OSError as error:
            last = error
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.25, max(deadline - time.monotonic(), 0.0)))
    count = "?" if num_processes is None else num_processes
    raise DistributedError(
        f"process {process_id} of {count} could not reach the coordinator at {address} "
        f"within initialization_timeout={timeout:g} s (last error: {last}); check that "
        f"process 0 is running with the same coordinator_address, that {host} resolves "
        f"to process 0's host from this host, and that port {port_number} is open between "
        "the hosts"
    )


def _loopback_host(address: str | None) -> str | None:
    """The host of ``"host:port"`` when it is an IPv4 loopback address, else None."""
    if not address or ":" not in address:
        return None
    host = address.rsplit(":", 1)[0]
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def _gloo_on(host: str) -> None:
    """Make JAX's CPU client create its gloo transport on ``host``.

    JAX builds its CPU client lazily with ``make_gloo_tcp_collectives(client)``,
    whose transport binds to the address of the machine's host name. Its
    factory takes a ``hostname``, which JAX's public API does not expose, so
    the CPU backend factory is registered again with it (before any
    computation, which ``initialize`` guarantees). Private JAX names: on a
    JAX without them this does nothing, and gloo keeps its default address.
    """
    try:
        from jax._src import distributed as jax_distributed
        from jax._src import xla_bridge
        from jax._src.lib import _jax
    except ImportError:  # pragma: no cover - another JAX layout
        return
    make_collectives = getattr(_jax, "make_gloo_tcp_collectives", None)
    register = getattr(xla_bridge, "register_backend_factory", None)
    make_client = getattr(xla_bridge, "make_cpu_client", None)
    if make_collectives is None or register is None or make_client is None:
        return  # pragma: no cover

    def cpu_backend():
        client = jax_distributed.global_state.client
        return make_client(collectives=make_collectives(distributed_client=client, hostname=host))

    register("cpu", cpu_backend, priority=0)


def process_index() -> int:
    """This process's index (0 ... ``process_count() - 1``); 0 without ``jax.distributed``."""
    return jax.process_index()


def process_count() -> int:
    """The number of processes of the program; 1 without ``jax.distributed``."""
    return jax.process_count()


@contextlib.contextmanager
def process_rows() -> Iterator[None]:
    """Within the block, a GLM's ordinary ``fit`` takes its data as this process's rows.

    ``with distributed.process_rows(): model.fit(local_frame, formula=...)``
    is :func:`estimators.distributed_glm.fit`: the fit on the rows of all
    processes. Estimators honour it where their ``fit`` asks
    :func:`process_rows_active` (the GLMs); see :mod:`estimators.distributed_glm`.
    """
    token = _PROCESS_ROWS.set(True)
    try:
        yield
    finally:
        _PROCESS_ROWS.reset(token)


def process_rows_active() -> bool:
    """Whether the caller is inside a :func:`process_rows` block."""
    return _PROCESS_ROWS.get()


@contextlib.contextmanager
def _ordinary_rows() -> Iterator[None]:
    """Leave a :func:`process_rows` block for the duration (the one-process fit itself)."""
    token = _PROCESS_ROWS.set(False)
    try:
        yield
    finally:
        _PROCESS_ROWS.reset(token)


def __getattr__(name: str) -> Any:
    """``distributed.fit``, ``fit_groups_dask`` and ``run_local``, imported on first use.

    They live in :mod:`estimators.distributed_glm`,
    :mod:`estimators.distributed_dask` and :mod:`estimators.distributed_local`;
    importing them lazily keeps this module free of the estimators (so that
    ``glm.py`` may import it) and of dask.
    """
    if name == "fit":
        from .distributed_glm import fit

        return fit
    if name == "fit_groups_dask":
        from .distributed_dask import fit_groups_dask

        return fit_groups_dask
    if name == "run_local":
        from .distributed_local import run_local

        return run_local
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- collectives


def allgather(value: Any) -> np.ndarray:
    """``value`` (same shape and dtype on every process) from every process, stacked.

    Row ``k`` of the result is process ``k``'s value, identical on every
    process, so any reduction of it in numpy gives the same bits everywhere.
    One XLA all-gather (``jax.experimental.multihost_utils.process_allgather``).

    >>> allgather(np.array([1.0, 2.0])).tolist()  # one process
    [[1.0, 2.0]]
    """
    array = np.asarray(value)
    if jax.process_count() == 1:
        return array[None]
    from jax.experimental import multihost_utils

    # float64 values must not be rounded to float32 on the way (x64 off globally).
    try:
        with jax.enable_x64(True):
            gathered = multihost_utils.process_allgather(array, tiled=False)
    except (jax.errors.JaxRuntimeError, ValueError) as error:
        if is_collective_failure(error):
            raise collective_failed(error) from error
        raise
    return np.asarray(gathered, dtype=array.dtype)


_RUNTIME_STATUS = ("UNKNOWN:", "UNAVAILABLE:", "INTERNAL:", "DEADLINE_EXCEEDED:", "ABORTED:",
                   "CANCELLED:", "FAILED_PRECONDITION:")  # fmt: skip


def is_collective_failure(error: BaseException) -> bool:
    """Whether ``error`` comes from the runtime of a collective, not from our own checks.

    XLA reports a broken gloo connection as a ``JaxRuntimeError`` or, from
    some call paths, a ``ValueError`` whose text starts with an absl status
    (``UNKNOWN: Gloo AllGather failed: ... Connection reset by peer``).
    """
    if isinstance(error, EstimationError):
        return False
    if isinstance(error, jax.errors.JaxRuntimeError):
        return True
    text = str(error).lstrip()
    return isinstance(error, ValueError) and (
        text.startswith(_RUNTIME_STATUS) or "Gloo" in text or "NCCL" in text
    )


def collective_failed(error: BaseException) -> DistributedError:
    """The :class:`DistributedError` for a collective that failed in the runtime (gloo, NCCL).

    Typically another process exited or was killed: its peers' connections
    to it are reset, and the collective fails at once on them.
    """
    first = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
    return DistributedError(
        f"process {jax.process_index()} of {jax.process_count()}: a collective across the "
        f"processes failed ({first}); another process probably exited or lost its "
        "connection: see its output. JAX's coordination service ends the remaining "
        "processes within heartbeat_timeout seconds"
    )


def global_sum(value: Any) -> np.ndarray | float:
    r""":math:`\sum_k v_k` over the processes (in process order: the same bits on each).

    >>> global_sum(2.5)
    2.5
    """
    total = allgather(np.asarray(value, dtype=np.float64)).sum(axis=0)
    return float(total) if np.ndim(total) == 0 else total


def global_max(value: Any) -> np.ndarray | float:
    """The elementwise maximum over the processes.

    >>> global_max([1.0, 3.0]).tolist()
    [1.0, 3.0]
    """
    top = allgather(np.asarray(value, dtype=np.float64)).max(axis=0)
    return float(top) if np.ndim(top) == 0 else top


def agreed(step: Callable[[], T]) -> T:
    """Run ``step`` on every process; an estimators error on any process is raised on all.

    Validation runs on each process's own rows. An error on one process must
    stop all of them: the others would otherwise wait forever in the next
    collective. The error (class and message) of the first failing process
    is raised on every process, its message prefixed with ``process k of P``
    and the number of processes that failed.

    >>> agreed(lambda: 3)
    3
    """
    failure: EstimationError | None = None
    result = None
    try:
        result = step()
    except EstimationError as error:
        failure = error
    if jax.process_count() == 1:
        if failure is not None:
            raise failure
        return result
    encoded = np.zeros(MESSAGE_BYTES, dtype=np.uint8)
    if failure is not None:
        text = f"{type(failure).__name__}\n{failure}".encode()[: MESSAGE_BYTES - 1]
        encoded[: len(text)] = np.frombuffer(text, dtype=np.uint8)
    gathered = allgather(encoded)
    failed = [k for k in range(len(gathered)) if gathered[k].any()]
    if not failed:
        return result
    first = failed[0]
    kind, _, message = bytes(gathered[first]).rstrip(b"\0").decode().partition("\n")
    cls = getattr(errors, kind, EstimationError)
    if not (isinstance(cls, type) and issubclass(cls, EstimationError)):
        cls = EstimationError
    others = f" ({len(failed)} of {len(gathered)} processes failed)" if len(failed) > 1 else ""
    raise cls(f"process {first} of {len(gathered)}{others}: {message}") from failure


# --------------------------------------------------------------------------- data shares


def _parquet_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if os.path.isdir(path):
            files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
        else:
            files = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    else:
        files = [os.fspath(p) for p in source]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise DataError(f"{len(missing)} Parquet file(s) do not exist: {missing[:3]}")
    if not files:
        raise DataError(f"no Parquet files found in {source!r}")
    return files


def share_bounds(sizes: Sequence[int], count: int) -> list[tuple[int, int]]:
    """Split consecutive pieces of ``sizes`` rows into ``count`` runs of about equal rows.

    Piece ``j`` goes to the process whose equal share of the total contains
    the piece's middle row: every piece to exactly one process, in order.
    Returns ``(first, stop)`` piece indices per process.

    >>> share_bounds([100, 100, 100, 100], 2)
    [(0, 2), (2, 4)]
    >>> share_bounds([5, 1, 1, 1], 2)
    [(0, 1), (1, 4)]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    middles = np.cumsum(sizes) - sizes / 2
    total = sizes.sum()
    owner = np.minimum((middles * count / max(total, 1)).astype(int), count - 1)
    bounds = []
    for k in range(count):
        mine = np.flatnonzero(owner == k)
        first = int(mine[0]) if mine.size else int(np.searchsorted(owner, k))
        bounds.append((first, first + int(mine.size)))
    return bounds


def parquet_share(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    columns: Sequence[str] | None = None,
    *,
    process: int | None = None,
    count: int | None = None,
) -> pd.DataFrame:
    """This process's share of the rows of Parquet files: whole row groups, about equal rows.

    ``source``: a file, a directory (its ``*.parquet`` files, recursively), a
    glob, or a list of files. The row groups of all files, in sorted file
    order, are split into ``count`` consecutive runs of about equal rows
    (:func:`share_bounds`); process ``process`` reads its run only (pyarrow,
    reading the footers of all files and the data of its own row groups).
    Every row is read by exactly one process. ``process`` / ``count`` default
    to :func:`process_index` / :func:`process_count`.

    Write files with several row groups (``row_group_size``) so that the
    shares can be even; a process whose share is empty gets an empty frame
    (a fit then says so).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    process = process_index() if process is None else int(process)
    count = process_count() if count is None else int(count)
    if not 0 <= process < count:
        raise SettingsError(f"process must be in 0 ... {count - 1}, got {process}")
    files = _parquet_files(source)
    pieces = []
    for path in files:
        meta = pq.ParquetFile(path).metadata
        pieces += [(path, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    first, stop = share_bounds([rows for _, _, rows in pieces], count)[process]
    tables = []
    for path in dict.fromkeys(p for p, _, _ in pieces[first:stop]):
        groups = [g for p, g, _ in pieces[first:stop] if p == path]
        tables.append(pq.ParquetFile(path).read_row_groups(groups, columns=columns))
    if not tables:
        schema = pq.read_schema(files[0])
        names = schema.names if columns is None else list(columns)
        return pa.schema([schema.field(c) for c in names]).empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()
