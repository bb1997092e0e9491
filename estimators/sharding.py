r"""One fit across several devices: the observation axis sharded with ``jax.sharding``.

Every loss in the library is a weighted sum over rows,

.. math::  f(\theta) = \sum_{i=1}^n w_i\,\rho(x_i; \theta)
           = \sum_{d=1}^{D} \Bigl[\sum_{i \in S_d} w_i\,\rho(x_i; \theta)\Bigr],

and so are its gradient :math:`\sum_i w_i \nabla\rho` and (structured) Hessian
:math:`X^\top \operatorname{diag}(w_i \ell''_i) X`. Split the rows into
:math:`D` blocks :math:`S_d`, one a device: each device reduces its own rows
and one all-reduce of a scalar, a p-vector or a p x p matrix adds the
partial sums. Only the reductions cross devices; the parameters (a few
numbers) are replicated, and the whole optimisation stays ONE compiled
``lax.while_loop`` (:func:`estimators.minimize`).

How
---
1. :func:`row_mesh` makes a 1-D :class:`jax.sharding.Mesh` over the devices
   with the axis ``"rows"``.
2. :func:`shard_rows` pads the arrays to a multiple of the device count (rows
   of ``fill`` with weight 0, which drop out of every weighted sum) and places
   them with ``NamedSharding(mesh, P("rows"))``: device ``d`` holds rows
   :math:`S_d`.
3. Pass the sharded arrays to :func:`estimators.minimize` as its ``*args``.
   ``jax.jit`` sees committed, sharded inputs and XLA's SPMD partitioner
   (GSPMD) splits every elementwise operation and inserts the all-reduce
   after each reduction over rows. Nothing in the engine changes.

   That automatic path partitions losses written as whole-array ``jnp``
   expressions (``w @ rho(X @ b, y)``). Kernels that walk the rows in blocks
   with ``dynamic_slice`` inside a loop (``glm_kernels.row_chunks``, the
   chunked GEMMs of the structured Newton) are NOT partitioned by GSPMD: the
   loop indexes the sharded axis, so XLA all-gathers the whole design onto
   every device first (the result is right, the work is not split). For them
   :func:`sharded_row_chunks` is a drop-in replacement for ``row_chunks``
   that runs the blocked loop on each device's own rows under
   ``jax.shard_map`` and adds the partial sums with one ``psum``.
   Its block function takes the parameters as explicit trailing arguments
   (``reduce(fn, arrays, weights, *params)``), because ``shard_map`` cannot
   take values closed over from the enclosing jit.

.. code-block:: python

    mesh = row_mesh()                                  # all local devices
    data = shard_rows(X, y, weights=w, mesh=mesh)      # padded + sharded
    sol = minimize(loss, params0, *data.arrays, data.weights, solver="newton")

The estimate is the single-device estimate up to the order of floating-point
additions (partial sums per device, then their sum): measured on 4 host
devices (logistic, n = 10,003, p = 5) estimates and standard errors agree
to 4e-16 relative with Newton and 4e-15 with L-BFGS (``tests/test_sharding.py``).

Estimators take pandas / numpy input and place their arrays themselves.
Inside a :func:`sharded` block these fit with their rows split over the
devices (padded with zero weights to a multiple of the device count,
:func:`device_multiple`, then :func:`put_rows`):

- ``GLM``, ``LogisticRegression``, ``PoissonRegression``: the structured
  Newton's loss, gradient and Hessian reduce through
  :func:`sharded_row_chunks` (``glm_kernels.loss_and_hessian(..., mesh)``);
- ``Mean``, ``Median``, ``Quantile``: whole-array losses, partitioned by GSPMD;
- ``MaximumLikelihood`` / ``MEstimator`` on rows (families without
  sufficient statistics, user losses); families with sufficient statistics
  (``"normal"``, ...) minimise over a few scalars, and only the rows of the
  per-row scores are sharded.

Measured on 4 host devices (``tests/test_sharding.py``): estimates and
standard errors of these fits inside ``sharded()`` equal the single-device
ones to 1e-12 relative. Outside a :func:`sharded` block nothing changes (same
arrays, same kernels, the same bits).

Not sharded: ``LinearRegression`` (``lstsq.py``: its factorisation runs on
one device), and the post-fit GLM covariance kernels
(``glm_kernels.information_matrix``: their blocked loop all-gathers the design,
so the result is right but the work is not split); ``with sharded():`` leaves
them on one device / gathered.

Several GPUs, several hosts
---------------------------
*Several GPUs in one process*: the same code; ``jax.devices()`` lists the
GPUs, :func:`row_mesh` spans them, and the all-reduce runs over NVLink / PCIe
(NCCL). Tested here only with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
on CPU, which exercises the same partitioner and collectives.

*Several processes or hosts*: start every process with
``jax.distributed.initialize(coordinator_address=..., num_processes=...,
process_id=...)`` (:func:`estimators.distributed.initialize`; automatic on
Cloud TPU and SLURM). ``jax.devices()`` then lists the devices of ALL
processes, so :func:`row_mesh` is the global mesh. Each process reads only
its own rows and builds the global array with
``jax.make_array_from_process_local_data(row_sharding(mesh), local_rows)``
(:func:`shard_rows` with ``process_local=True``; every process must hold the
same number of rows, padded with zero weights); every process then runs the
same ``minimize`` call (SPMD), and each gets the replicated parameters back.
:func:`estimators.distributed_glm.fit` does all of this for the GLMs (global
validation counts, column scales, starting values and padding by
collectives); tested with 2 and 4 processes on loopback with gloo CPU
collectives (``tests/test_distributed.py``): estimates and standard errors
equal the one-process fit to 1e-12 relative.

Precision: float64 throughout (the placement runs under
``jax.enable_x64(True)``, the global configuration is untouched); on GPUs
float32 is faster but see PERFORMANCE.md item 10.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .errors import DataError, SettingsError
from .numerics import bucket_size
from .solve import DTYPES, x64_context

ROWS = "rows"  # the mesh axis of the observations

_ACTIVE_MESH: contextvars.ContextVar[Mesh | None] = contextvars.ContextVar(
    "estimators_row_mesh", default=None
)


def row_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis ``"rows"`` over ``devices`` (default: ``jax.devices()``).

    After ``jax.distributed.initialize`` ``jax.devices()`` spans every host, so
    the default mesh is the global one.

    >>> row_mesh(jax.devices()[:1]).shape["rows"]
    1
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise SettingsError("devices is empty: pass at least one jax device, or None for all")
    if not all(isinstance(d, jax.Device) for d in devices):
        kinds = sorted({type(d).__name__ for d in devices if not isinstance(d, jax.Device)})
        raise SettingsError(f"devices must be jax devices (jax.devices()), got {kinds}")
    return Mesh(np.array(devices), (ROWS,))


def row_sharding(mesh: Mesh) -> NamedSharding:
    """Rows (axis 0) split over the mesh axis ``"rows"``, other axes whole."""
    return NamedSharding(mesh, P(ROWS))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (parameters, small statistics)."""
    return NamedSharding(mesh, P())


def padded_rows(n: int, n_devices: int, *, bucket: bool = False) -> int:
    """Rows after padding: a multiple of ``n_devices`` (of a :func:`bucket_size` if ``bucket``).

    >>> padded_rows(10, 4), padded_rows(10, 4, bucket=True)
    (12, 1024)
    """
    base = bucket_size(n) if bucket else n
    return max(n_devices, -(-base // n_devices) * n_devices)


class RowShards(NamedTuple):
    """Arrays padded and sharded over rows by :func:`shard_rows`.

    ``arrays``: the data arrays, in the order given; ``weights``: the weights
    (0 on the padding rows); ``n_rows``: the rows before padding; ``mesh``.
    """

    arrays: tuple[jax.Array, ...]
    weights: jax.Array
    n_rows: int
    mesh: Mesh


def _check_rows(arrays: Sequence[np.ndarray], weights: np.ndarray | None) -> int:
    if not arrays:
        raise SettingsError("shard_rows needs at least one data array")
    n = arrays[0].shape[0] if arrays[0].ndim else None
    for position, a in enumerate(arrays):
        if a.ndim == 0:
            raise DataError(f"array {position} is a scalar: shard_rows splits arrays by rows")
        if a.shape[0] != n:
            raise DataError(
                f"array {position} has {a.shape[0]} rows, array 0 has {n}: all arrays "
                "must have one row an observation"
            )
        if np.issubdtype(a.dtype, np.floating):
            bad = ~np.isfinite(a).reshape(n, -1).all(axis=1)
            if bad.any():
                raise DataError(
                    f"array {position} has {int(bad.sum())} row(s) with NaN or infinite "
                    "values; drop or impute them before sharding"
                )
    if weights is not None:
        if weights.shape != (n,):
            raise DataError(f"weights has shape {weights.shape}, expected ({n},)")
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            raise DataError(
                f"weights has {int(bad.sum())} negative, NaN or infinite value(s); "
                "weights must be finite and >= 0"
            )
    return n


def shard_rows(
    *arrays: Any,
    weights: Any = None,
    mesh: Mesh | None = None,
    fill: float = 0.0,
    bucket: bool = False,
    dtype: str = "float64",
    process_local: bool = False,
) -> RowShards:
    r"""Pad ``arrays`` and their ``weights`` over rows and place them sharded by rows.

    Rows are padded with ``fill`` up to a multiple of the number of devices
    (with ``bucket=True``, of :func:`estimators.numerics.bucket_size`, so that
    one compile serves every n in a bucket); the padding rows get weight 0 and
    so drop out of every weighted sum. ``weights`` default to 1. ``fill``
    should be a value where the loss is finite (the weight 0 multiplies it).
    Floating arrays are cast to ``dtype``; integer arrays keep theirs.

    ``process_local=True`` (several processes, :mod:`estimators.distributed`):
    the arrays are this process's rows only, and the global array is
    assembled with ``jax.make_array_from_process_local_data``; every process
    must pass the same number of rows (tested with 2 and 4 processes).

    >>> data = shard_rows(np.arange(3.0), mesh=row_mesh(jax.devices()[:1]))
    >>> data.n_rows, data.weights.shape
    (3, (3,))
    """
    mesh = row_mesh() if mesh is None else mesh
    if dtype not in DTYPES:
        raise SettingsError(f"unknown dtype {dtype!r}; valid dtypes are {list(DTYPES)}")
    hosts = [np.asarray(a) for a in arrays]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    n = _check_rows(hosts, w)
    w = np.ones(n) if w is None else w
    n_devices = mesh.devices.size
    if process_local:
        n_devices = max(1, n_devices // jax.process_count())
    total = padded_rows(n, n_devices, bucket=bucket)
    float_type = np.dtype(dtype)

    def pad(a: np.ndarray, value: float) -> np.ndarray:
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(float_type, copy=False)
        extra = np.full((total - n, *a.shape[1:]), value, dtype=a.dtype)
        # C-contiguous, so that the per-device slices are zero-copy views on CPU.
        return np.ascontiguousarray(np.concatenate([a, extra]) if total > n else a)

    sharding = row_sharding(mesh)
    with x64_context(dtype):
        if process_local:
            place = lambda a: jax.make_array_from_process_local_data(sharding, a)  # noqa: E731
        else:
            place = lambda a: jax.device_put(a, sharding)  # noqa: E731
        placed = tuple(place(pad(a, fill)) for a in hosts)
        placed_w = place(pad(w.astype(float_type), 0.0))
    return RowShards(placed, placed_w, n, mesh)


def is_row_sharded(array: jax.Array, mesh: Mesh | None = None) -> bool:
    """Whether ``array`` is split by rows over every device of ``mesh`` (default: its own)."""
    sharding = getattr(array, "sharding", None)
    if not isinstance(sharding, NamedSharding):
        return False
    mesh = sharding.mesh if mesh is None else mesh
    spec = tuple(sharding.spec) + (None,) * array.ndim
    return (
        sharding.mesh == mesh
        and spec[0] in (ROWS, (ROWS,))
        and all(axis is None for axis in spec[1 : array.ndim])
        and len(sharding.device_set) == mesh.devices.size > 0
    )


# --------------------------------------------------------------------------- blocked kernels


def sharded_row_chunks(mesh: Mesh, chunk: int | None = None) -> Callable:
    r"""``row_chunks(fn, arrays, weights)`` run on each device's own rows, then summed.

    ``glm_kernels.row_chunks`` folds :math:`\sum_b fn(\text{block}_b)` over row
    blocks with ``dynamic_slice`` in a ``fori_loop``; GSPMD cannot split such
    a loop over a sharded axis and gathers the whole design on every device.
    This wrapper runs the same fold under ``jax.shard_map`` on the local rows
    :math:`S_d` of each device and adds the per-device sums with ``psum``:

    .. math::  \sum_b fn(\text{block}_b) = \sum_d \sum_{b \subset S_d} fn(\text{block}_b).

    Call it as ``reduce(fn, arrays, weights, *replicated)``: ``fn(*block,
    block_weights, *replicated)`` gets the replicated values (the parameters)
    as explicit arguments; it must not close over traced values. The arrays and
    weights must be sharded by rows over ``mesh`` (:func:`shard_rows`).
    ``chunk``: rows a block, as ``row_chunks``'s (default ``glm_kernels.CHUNK``).
    """
    from .glm_kernels import CHUNK, row_chunks

    chunk = CHUNK if chunk is None else int(chunk)

    def reduce(fn: Callable, arrays: Sequence[jax.Array], weights: jax.Array, *replicated: Any):
        # fn takes the replicated values (the parameters) as explicit trailing
        # arguments rather than closing over them: tracers of the enclosing jit
        # live on the outer (Auto) mesh and cannot enter the per-device region.
        def local(local_arrays, local_weights, *local_replicated):
            partial = row_chunks(
                lambda *block: fn(*block, *local_replicated), local_arrays, local_weights, chunk
            )
            return jax.tree.map(lambda s: jax.lax.psum(s, ROWS), partial)

        split = P(ROWS)
        return jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(tuple(split for _ in arrays), split, *(P() for _ in replicated)),
            out_specs=P(),
        )(tuple(arrays), weights, *replicated)

    return reduce


# --------------------------------------------------------------------------- estimator hook


@contextlib.contextmanager
def sharded(devices: Sequence[jax.Device] | None = None) -> Iterator[Mesh]:
    """Within the block, :func:`put_rows` places row arrays sharded over ``devices``.

    Yields the mesh. Estimators honour it only where they place their row
    arrays through :func:`put_rows` (see the module docstring).
    """
    token = _ACTIVE_MESH.set(row_mesh(devices))
    try:
        yield _ACTIVE_MESH.get()
    finally:
        _ACTIVE_MESH.reset(token)


def active_mesh() -> Mesh | None:
    """The mesh of the enclosing :func:`sharded` block, or None."""
    return _ACTIVE_MESH.get()


def device_multiple(n: int) -> int:
    """``n`` rounded up to a multiple of the device count of the active :func:`sharded` block.

    ``n`` itself outside one: the length an estimator pads its rows to before
    :func:`put_rows` (with zero weights on the extra rows).

    >>> device_multiple(10)
    10
    """
    mesh = active_mesh()
    if mesh is None:
        return n
    devices = mesh.devices.size
    return max(devices, -(-n // devices) * devices)


def put_rows(array: Any) -> jax.Array:
    """``jax.device_put`` of a row array: sharded by rows inside :func:`sharded`, else plain.

    The hook for estimators: they pad their rows (``numerics.pad_rows``, whose
    buckets of 1024 rows and more are multiples of 64) and replace
    ``jax.device_put(a)`` by ``put_rows(a)``. A row count that the devices do
    not divide is a :class:`SettingsError` (pad with zero weights first).
    Call it inside the estimator's ``x64_context``.
    """
    mesh = active_mesh()
    if mesh is None:
        return jax.device_put(array)
    rows = np.shape(array)[0] if np.ndim(array) else 0
    n_devices = mesh.devices.size
    if rows % n_devices:
        raise SettingsError(
            f"{rows} rows cannot be split evenly over {n_devices} devices: pad the rows "
            f"to a multiple of {n_devices} with zero weights (shard_rows does)"
        )
    return jax.device_put(array, row_sharding(mesh))
