r"""The sufficient statistics of the mean squared deviation, in as few passes as possible.

:class:`~estimators.location.Mean` minimises
:math:`f(\delta) = \sum_i w_i (c_i - \delta)^2 / \sum_i w_i` on the centred,
scaled data :math:`c = (x - x_{ref})/s`; by the parallel-axis theorem that is
:math:`V + (\delta - \bar c)^2` exactly (:func:`moment_squared_deviation`), so
the optimiser needs only :math:`(n, \bar c, V)`:

- :func:`centred_moments`: any weights, given :math:`x_{ref}` and :math:`s`
  (which :func:`~estimators.numerics.center_and_scale` finds by a min and a
  max pass), one block-wise pass;
- :func:`unit_moments`: unit weights, everything (the minimum and maximum that
  give :math:`x_{ref}` and :math:`s`, and the moments) from ONE block-wise
  pass, :func:`estimators.selection.scan`, about a shift near the data's centre.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .losses import squared_deviation
from .numerics import power_of_two_scale
from .selection import scan

__all__ = [
    "MOMENT_BLOCK",
    "UNIT_MOMENTS_MIN_ROWS",
    "centred_moments",
    "moment_squared_deviation",
    "unit_moments",
]

# Data whose range needs a scale beyond 2**+-400 take the two-pass path, whose
# centred, scaled squares cannot overflow or underflow.
UNIT_SCALE_LIMIT = 2.0**400
# Below this many values the two-pass path (center_and_scale, centred_moments) is kept:
# it costs microseconds there, and small samples keep their answers to the last bit.
UNIT_MOMENTS_MIN_ROWS = 1 << 16
# A pass about 0 is repeated about the mean where mean^2 > OFFSET_LIMIT * variance.
OFFSET_LIMIT = 4.0
# Values of the strided subsample whose median is the shift of the one-pass moments.
SHIFT_SAMPLE = 1024


def unit_moments(x: np.ndarray) -> tuple[float, float, tuple[float, float, float]] | None:
    r"""``center_and_scale(x)`` and ``centred_moments(x, 1, ref, scale)`` from one pass.

    The pass (:func:`~estimators.selection.scan`) reads each block once and
    gives its minimum, maximum, :math:`\sum d` and :math:`\sum d^2` for
    :math:`d = x - t`, :math:`t` the median of a strided subsample of
    :data:`SHIFT_SAMPLE` values (near the centre of the data, so that
    :math:`V = \sum d^2/n - (\sum d/n)^2` loses no digits: its relative error
    is about :math:`\epsilon(1 + (\bar x - t)^2/V)`), or :math:`t = 0` where
    the subsample's median is within its range of 0 (one subtraction a block
    less; should the pass find :math:`\bar x^2 > 4V` after all, it is repeated
    about :math:`\bar x`). Then
    :math:`x_{ref}` and :math:`s` are those of
    :func:`~estimators.numerics.center_and_scale`, and

    .. math::  \bar c = \frac{(t - x_{ref}) + \sum d / n}{s}, \qquad V_c = V / s^2,

    with :math:`t - x_{ref}` carried exactly (Knuth's two-sum), so that the
    offset costs no digits. Returns ``(ref, scale, (n, c_bar, V_c))``, or None
    where the data are not all finite or their scale is extreme (the caller
    then takes the two-pass path).

    >>> ref, scale, moments = unit_moments(np.array([1.0, 2.0, 6.0]))
    >>> ref, scale, [round(m, 15) for m in moments]  # centred_moments' to rounding
    (3.5, 4.0, [3.0, -0.125, 0.291666666666667])
    """
    n = x.size
    stride = max(n // SHIFT_SAMPLE, 1)
    sample = np.sort(x[stride // 2 :: stride])
    shift = float(sample[sample.size // 2])
    if abs(shift) <= float(sample[-1] - sample[0]):
        shift = 0.0  # centred enough already: no subtraction needed
    found = scan(x, [], shift, absolute=False)
    if not found.finite:
        return None
    if shift == 0.0 and (found.sum / n) ** 2 > OFFSET_LIMIT * found.variance():
        # the subsample missed an offset: again about the mean (rare)
        found = scan(x, [], found.sum / n, absolute=False)
        shift = found.shift
    low, high = found.minimum, found.maximum
    ref = 0.5 * low + 0.5 * high  # as center_and_scale
    scale = float(power_of_two_scale(0.5 * high - 0.5 * low))
    if not (
        1.0 / UNIT_SCALE_LIMIT < scale < UNIT_SCALE_LIMIT and math.isfinite(found.sum_squares)
    ):
        return None
    # t - ref = offset + error exactly (two-sum), then one rounding for c_bar
    offset = shift - ref
    back = offset - shift
    error = (shift - (offset - back)) + (-ref - back)
    mean_d = found.sum / n
    c_bar = (offset + (error + mean_d)) / scale
    return ref, scale, (float(n), c_bar, found.variance() / scale**2)


# Values in a block of the moments' pass: 256 KiB, so a block's centred copy stays in
# the core's cache for its second look instead of being an n-sized temporary.
MOMENT_BLOCK = 1 << 15


def centred_moments(
    x: np.ndarray, w: np.ndarray, ref: float, scale: float, unit_weights: bool = False
) -> tuple[float, float, float]:
    r"""The sufficient statistics of the mean squared deviation of :math:`c = (x - x_{ref})/s`.

    Returns :math:`(n, \bar c, V)` with :math:`n = \sum_i w_i`,
    :math:`\bar c = \sum_i w_i c_i / n` and the centred second moment
    :math:`V = \sum_i w_i (c_i - \bar c)^2 / n`, in one pass over ``x`` from
    memory: each block of :data:`MOMENT_BLOCK` values is read once and, while it
    is in cache, gives its weight :math:`n_b`, mean :math:`\bar c_b` and
    centred sum of squares :math:`M_b` (the textbook two-pass variance: no
    cancellation between :math:`\sum w c^2` and :math:`n\bar c^2`). The
    blocks are combined exactly (Chan, Golub and LeVeque's parallel-axis rule)

    .. math::  nV = \sum_b \big(M_b + n_b(\bar c_b - \bar c)^2\big),

    with :func:`math.fsum` over the blocks. numpy's ufuncs only (pairwise sums),
    no BLAS: OpenBLAS's ``dot`` on cache-sized blocks was 3-20x slower and
    erratic on the shared 2-core machine. ``unit_weights`` (all weights 1)
    skips reading ``w``.

    >>> centred_moments(np.array([1.0, 2.0, 6.0]), np.ones(3), 3.5, 4.0)
    (3.0, -0.125, 0.2916666666666667)
    """
    inverse = 1.0 / scale
    # A power of two's reciprocal is exact unless it overflows; then x * (1/s) is
    # x / s to the last bit, and a multiplication is cheaper than a division.
    exact_inverse = bool(np.isfinite(inverse)) and inverse * scale == 1.0
    sums, weights, squares = [], [], []
    for start in range(0, x.size, MOMENT_BLOCK):
        c = np.subtract(x[start : start + MOMENT_BLOCK], ref)
        if exact_inverse:
            np.multiply(c, inverse, out=c)
        else:
            np.divide(c, scale, out=c)
        if unit_weights:
            w_b = None
            n_b = float(c.size)
            s_b = float(c.sum())
        else:
            w_b = w[start : start + MOMENT_BLOCK]
            n_b = float(w_b.sum())
            s_b = float(np.multiply(c, w_b).sum())
        if n_b == 0.0:  # a block of zero weights adds nothing
            continue
        np.subtract(c, s_b / n_b, out=c)
        np.multiply(c, c, out=c)
        if w_b is not None:
            np.multiply(c, w_b, out=c)
        sums.append(s_b)
        weights.append(n_b)
        squares.append(float(c.sum()))
    total = float(x.size) if unit_weights else math.fsum(weights)
    mean = math.fsum(sums) / total
    spread = (n_b * (s_b / n_b - mean) ** 2 for s_b, n_b in zip(sums, weights, strict=True))
    second = math.fsum([*squares, *spread]) / total
    return total, mean, second


def moment_squared_deviation(params: dict, moments: jnp.ndarray) -> jnp.ndarray:
    r"""The mean squared deviation through its sufficient statistics (``moments = [c_bar, V]``).

    .. math::  f(\delta) = \frac{\sum_i w_i (c_i - \delta)^2}{\sum_i w_i}
               = V + (\delta - \bar c)^2

    exactly (the parallel-axis theorem): the same function of :math:`\delta` as
    :func:`mean_squared_deviation`, with the same value, gradient and Hessian,
    evaluated in O(1) instead of a pass over the rows. The optimiser still
    finds the minimiser of the loss by its own iterations; the statistics only
    make each evaluation cheap.
    """
    return moments[1] + squared_deviation(params["mean"] - moments[0])
