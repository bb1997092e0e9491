r"""The sufficient-statistic path of :class:`~estimators.likelihood.MaximumLikelihood`.

Families whose log-likelihood depends on the data only through a few weighted
means (gamma: :math:`\bar c` and :math:`\overline{\log c}`; exponential:
:math:`\bar c`; lognormal: the mean and variance of :math:`\log c`) are fitted
in two steps whose cost does not grow with the fixed overheads of the row path:

1. :func:`fused_statistics`: **one block-wise pass** over the sample. Each block
   of :data:`BLOCK` values is read once and, while it is in cache, gives its
   minimum and maximum (the support check :math:`x > 0`, the data's scale and
   the constant-sample check), its weight, and its sums of :math:`c` and
   :math:`\log c` (with the centred sum of squares of :math:`\log c` where the
   family needs it). No n-sized temporary is made. When anything is off (a
   value outside the support, a constant sample, values or weights so extreme
   that the sums could leave float64's normal range), it returns ``None`` and
   the caller takes the row path, which words the same
   :class:`~estimators.errors.DataError` as before (counts of the offending
   rows only then).
2. :func:`solve_statistics`: **one jitted call** runs the damped Newton loop of
   :func:`estimators.solve.newton_loop` on the mean negative log-likelihood
   through the statistics, maps the estimate to the natural parameters and
   takes the autodiff Hessian of the same loss there, and returns everything in
   one packed vector (one transfer to the host).

Scaled coordinates
------------------
The row path fits :math:`c = x/s` with :math:`s = 2^k`, :math:`k = \lfloor
(e_{min} + e_{max})/2 \rfloor` from the binary exponents of the smallest and
largest value (:func:`scaling_of`). The fused pass cannot know :math:`k` before
it has seen every block, so it scales by :math:`2^{-k_0}` from the first block
and corrects at the end: with :math:`d = k_0 - k`,

.. math::  \sum_i w_i c_i = 2^{d} \sum_i w_i c^{(0)}_i \ \text{(exact)},\qquad
           \sum_i w_i \log c_i = \sum_i w_i \log c^{(0)}_i + d \log 2 \sum_i w_i,

and the centred second moment of :math:`\log c` does not change. Blocks are
combined with :func:`math.fsum` and, for the centred moment, Chan, Golub and
LeVeque's rule (as :func:`estimators.location.centred_moments`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .autodiff import with_fixed
from .distributions import (
    Family,
    _log_statistics,
    _lognormal_statistics,
    _mean_statistics,
    _needs_two_values,
)
from .numerics import center_and_scale
from .solve import Solution, Status, newton_loop, x64_context

# Values in a block of the fused pass: 512 KiB, so that a block and its scaled copy
# stay in the core's cache between the reductions (measured, n = 1e6 gamma sums:
# 16K-value blocks 2.5 ms CPU, 64K 1.7 ms; np.log(x).sum() alone 1.2 ms).
BLOCK = 1 << 16

# The statistics each supported family needs, keyed by its statistics function (a
# user's Family reusing one of these gets the same path): what the pass must sum.
_NEEDS = {
    _mean_statistics: ("mean",),
    _log_statistics: ("mean", "mean_log"),
    _lognormal_statistics: ("mean_log", "var_log"),
}

# Scaled values c0 = x 2^-k0 and weights are kept inside [2^-LIMIT, 2^LIMIT]: then no
# product w c0 or log underflows to a subnormal or overflows, whatever n.
_LIMIT = 400.0


@dataclasses.dataclass(frozen=True)
class _Scaling:
    r"""Data coordinates :math:`c = (x - \mathrm{ref})/s`; ``units`` say how parameters map."""

    ref: float = 0.0
    scale: float = 1.0

    def to_data(self, unit: str, value: float) -> float:
        if unit == "location":
            return self.ref + self.scale * value
        if unit == "scale":
            return self.scale * value
        if unit == "log_location":
            return value + math.log(self.scale)
        return value

    def to_scaled(self, unit: str, value: float) -> float:
        if unit == "location":
            return (value - self.ref) / self.scale
        if unit == "scale":
            return value / self.scale
        if unit == "log_location":
            return value - math.log(self.scale)
        return value

    def derivative(self, unit: str) -> float:
        """d(data-unit parameter) / d(scaled parameter)."""
        return self.scale if unit in ("location", "scale") else 1.0


def _positive_exponent(low: float, high: float) -> int:
    """The exponent k of the power of two between ``low`` and ``high`` (their binary
    exponents' floor-midpoint): the scale of positive data."""
    return (int(np.frexp(low)[1]) + int(np.frexp(high)[1])) // 2


def scaling_of(support: str, values: np.ndarray) -> _Scaling:
    """Real data: midrange and power-of-two half-range; positive data: a power of two
    between the smallest and largest value (exact divisions, no overflow); others: none."""
    if support == "real":
        ref, scale = center_and_scale(values)
        return _Scaling(ref, scale)
    if support == "positive":
        # the geometric midpoint of min and max: no pass of logs over the data,
        # and min/s, max/s stay normal numbers for any positive float64 sample
        k = _positive_exponent(values.min(), values.max())
        return _Scaling(0.0, float(np.ldexp(1.0, k)))
    return _Scaling()


# --------------------------------------------------------------------------- the fused pass


def is_unit(weights: np.ndarray) -> bool:
    """Whether ``weights`` are the read-only broadcast ones of an unweighted sample."""
    return weights.ndim == 1 and weights.size > 0 and weights.strides[0] == 0 and weights[0] == 1


def fused_statistics(
    family: Family, values: np.ndarray, weights: np.ndarray
) -> tuple[_Scaling, dict[str, float]] | None:
    r"""The scaling and the sufficient statistics of ``family`` from one block-wise pass.

    Returns ``(scaling, stats)`` with ``stats`` as ``family.statistics`` gives
    them on :math:`c = x/s` (the same numbers to rounding), or ``None`` when the
    family has no fused pass or the sample needs the row path: a value outside
    the support (or NaN), a constant sample (``_needs_two_values``), or values
    or weights outside :math:`[2^{-400}, 2^{400}]` after scaling. Rows of zero
    weight are checked for the support, then left out, as in the row path.

    >>> from estimators.distributions import FAMILIES
    >>> x = np.array([1.0, 2.0, 4.0])
    >>> scaling, stats = fused_statistics(FAMILIES["gamma"], x, np.ones(3))
    >>> scaling.scale, stats["mean"], round(stats["mean_log"], 12)
    (4.0, 0.5833333333333334, -0.69314718056)
    """
    needs = _NEEDS.get(family.statistics) if family.support == "positive" else None
    if needs is None or values.size == 0:
        return None
    if family.check_sample not in (None, _needs_two_values):
        return None  # a user's own check reads the rows
    unit = is_unit(weights)
    w = None
    if not unit:
        positive = weights > 0
        if not positive.all():
            if not values.min() > 0:  # zero-weight rows must be in the support too
                return None
            values, weights = values[positive], weights[positive]
        w_low, w_high = float(weights.min()), float(weights.max())
        if not (2.0**-_LIMIT <= w_low and w_high <= 2.0**_LIMIT):
            return None
        w = weights
    sums = _positive_pass(values, w, "mean_log" in needs, "var_log" in needs)
    if sums is None:
        return None
    low, high, k0, total, sum_c, sum_log, centred = sums
    k = _positive_exponent(low, high)
    if family.check_sample is _needs_two_values and low == high:
        return None  # constant: the row path raises the family's DataError
    d = k0 - k
    stats: dict[str, float] = {}
    if "mean" in needs:
        stats["mean"] = math.ldexp(sum_c / total, d)
    if "mean_log" in needs:
        stats["mean_log"] = sum_log / total + d * math.log(2.0)
    if "var_log" in needs:
        stats["var_log"] = centred / total
    return _Scaling(0.0, math.ldexp(1.0, k)), stats


def _positive_pass(x: np.ndarray, w: np.ndarray | None, logs: bool, centred: bool):
    """(min, max, k0, sum w, sum w c0, sum w log c0, centred SS of log c0) over ``x``,
    block by block (``w`` None: unit weights, not read), or None at the first block
    with a value that is not positive (or NaN), or out of the safe range."""
    buffer = np.empty(min(BLOCK, x.size))
    product = None if w is None else np.empty_like(buffer)
    low, high = math.inf, -math.inf
    k0 = 0
    inverse = 1.0
    weights, sums, logsums, blocks = [], [], [], []
    for start in range(0, x.size, BLOCK):
        block = x[start : start + BLOCK]
        b_low, b_high = float(block.min()), float(block.max())
        if not b_low > 0:  # non-positive or NaN: the row path counts and names them
            return None
        if start == 0:
            k0 = _positive_exponent(b_low, b_high)
            inverse = math.ldexp(1.0, -k0)
        low, high = min(low, b_low), max(high, b_high)
        c = buffer[: block.size]
        np.multiply(block, inverse, out=c)  # x / 2^k0, exact for normal results
        w_b = None if w is None else w[start : start + BLOCK]
        n_b = float(block.size) if w_b is None else float(w_b.sum())
        weights.append(n_b)
        sums.append(_weighted_sum(c, w_b, product))
        if logs:
            np.log(c, out=c)
            s_b = _weighted_sum(c, w_b, product)
            logsums.append(s_b)
            if centred:
                np.subtract(c, s_b / n_b, out=c)
                np.multiply(c, c, out=c)
                blocks.append((n_b, s_b, _weighted_sum(c, w_b, product)))
    lowest, highest = math.ldexp(low, -k0), math.ldexp(high, -k0)
    if not (2.0**-_LIMIT <= lowest and highest <= 2.0**_LIMIT):
        return None  # far from the first block's scale: the row path rescales exactly
    total = float(x.size) if w is None else math.fsum(weights)
    sum_log = math.fsum(logsums) if logs else math.nan
    spread = math.nan
    if centred:
        mean = sum_log / total
        spread = math.fsum(m + n * (s / n - mean) ** 2 for n, s, m in blocks)
    return low, high, k0, total, math.fsum(sums), sum_log, spread


def _weighted_sum(c: np.ndarray, w: np.ndarray | None, product: np.ndarray | None) -> float:
    if w is None:
        return float(c.sum())
    return float(np.multiply(c, w, out=product[: c.size]).sum())


# --------------------------------------------------------------------------- one jitted solve


def solve_statistics(
    objective: Any,
    layout: Any,
    u0: Mapping[str, Any],
    fixed: tuple[str, ...],
    stats: Mapping[str, float],
    *,
    tol: float,
    max_iter: int,
) -> tuple[Solution, dict[str, np.ndarray], np.ndarray]:
    r"""Newton on the mean loss through ``stats``, the natural estimate and its Hessian: one
    compiled call.

    ``objective`` is :class:`estimators.likelihood._Objective` (a mean loss of
    unconstrained parameters with ``mean_nll``), ``layout`` its free parameters
    (scalars), ``u0`` every parameter's unconstrained start, ``fixed`` the names
    held at their ``u0``. The loop is :func:`~estimators.solve.minimize`'s
    ``solver="newton"`` (the same stopping rules, with ``loss_scale=1``); the
    Hessian is that of :math:`\theta \mapsto \bar\ell(\theta)` over the free
    natural parameters, in ``layout`` order. Returns the :class:`Solution`
    (unconstrained ``params``), the natural parameters and the Hessian of the
    *mean* loss.
    """
    names = objective.names
    statistic_names = tuple(stats)
    packed = np.array(
        [*(float(u0[n]) for n in names), *(float(stats[s]) for s in statistic_names), tol]
    )
    with x64_context("float64"):
        out = np.asarray(_kernel(objective, layout, fixed, statistic_names, int(max_iter), packed))
    p, k, free = len(names), int(max_iter), len(layout.names)
    u, theta, (value, steps, status, decrement) = out[:p], out[p : 2 * p], out[2 * p : 2 * p + 4]
    rest = out[2 * p + 4 :]
    hessian = rest[: free * free].reshape(free, free)
    n_iter = int(steps)
    # (loss, grad_norm) rows 0..n_iter of the two trace buffers, as solution_from_loop
    # lays them out, built as one block under a cached column Index
    trace = rest[free * free :].reshape(2, k + 1)[:, : n_iter + 1].T
    solution = Solution(
        params={n: np.asarray(u[i]) for i, n in enumerate(names)},
        value=float(value),
        grad_norm=float(trace[n_iter, 1]),
        n_iter=n_iter,
        status=Status(int(status)),
        decrement=float(decrement),
        trace=pd.DataFrame(
            trace, index=pd.RangeIndex(n_iter + 1, name="iteration"), columns=_TRACE_COLUMNS
        ),
    )
    return solution, {n: np.asarray(theta[i]) for i, n in enumerate(names)}, hessian


_TRACE_COLUMNS = pd.Index(["loss", "grad_norm"])


@functools.partial(
    jax.jit, static_argnames=("objective", "layout", "fixed", "statistic_names", "max_iter")
)
def _kernel(objective, layout, fixed, statistic_names, max_iter, packed):
    """The packed inputs ``[u0 (every parameter), stats, tol]`` to the packed outputs
    ``[u, theta, value, k, status, decrement, hessian, trace_loss, trace_grad_norm]``."""
    names = objective.names
    p = len(names)
    u0 = {n: packed[i] for i, n in enumerate(names)}
    stats = {s: packed[p + j] for j, s in enumerate(statistic_names)}
    tol = packed[-1]
    free0 = {n: v for n, v in u0.items() if n not in fixed}
    held = {n: v for n, v in u0.items() if n in fixed}
    out = newton_loop(
        with_fixed(objective, names),
        free0,
        (held, stats),
        tol=tol,
        loss_scale=1.0,
        max_iter=max_iter,
    )
    u = {**held, **out.params}
    theta = objective.natural(u)
    constant = {n: v for n, v in theta.items() if n not in layout.names}

    def mean_loss(vector):
        return objective.mean_loss({**constant, **layout.unflatten(vector)}, stats)

    hessian = jax.hessian(mean_loss)(layout.flatten(theta))
    dtype = packed.dtype
    head = jnp.stack(
        [
            *(u[n] for n in names),
            *(theta[n] for n in names),
            out.value,
            out.k.astype(dtype),
            out.status.astype(dtype),
            out.decrement,
        ]
    )
    return jnp.concatenate(
        [head, jnp.ravel(hessian), out.trace_loss, out.trace_grad_norm.astype(dtype)]
    )
