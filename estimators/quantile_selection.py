r"""Sample quantiles of large unit-weight samples by selection, with the kernel standard error.

The minimisers of the pinball loss :math:`\sum_i \rho_q(x_i - b)` are the
:math:`b` with :math:`\#(x < b) \le qn \le \#(x \le b)`: with
:math:`m = \max(\lceil qn - \text{slack}\rceil, 1)`, the order statistic
:math:`x_{(m)}`, or the interval up to :math:`x_{(m+1)}` when :math:`m = qn`
(:mod:`estimators.order_statistics`, whose convention and tie tolerance are
used unchanged). An exact selection of :math:`x_{(m)}, x_{(m+1)}` is
therefore the minimiser itself; no solver has to locate it first.

:func:`select_quantile` selects them by Floyd-Rivest
(:mod:`estimators.selection`): one pass over the data counts the values below
a bracket and collects the values inside it, and the same pass gives the
minimum and maximum (the centring and scale of
:func:`~estimators.numerics.center_and_scale`), the standard deviation and
the loss at the estimate. The optimality condition is then checked from the
pass's exact counts. For ``cov_type="kernel"`` the brackets also hold the
25% and 75% order statistics (the interquartile range of the residuals) and
every value within the kernel's bandwidth of the estimate, so Powell's kernel
sandwich (:func:`~estimators.quantile_inference.kernel_cov` with a column of
ones) is computed from the collected values only: the same formula, summed
over its non-zero terms.

Where a bracket misses (data ordered against the subsample's stride, rare) or
a check fails, it returns None and the caller takes the general path.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .numerics import power_of_two_scale
from .order_statistics import TIE_RTOL, midpoint
from .quantile_inference import (
    NO_DENSITY,
    NO_SPREAD,
    epanechnikov_sum,
    kernel_level_bandwidth,
    kernel_width,
)
from .selection import (
    SUBSAMPLE_SIZE,
    Bracket,
    Scan,
    bracket_from,
    bracket_indices,
    merge,
    scan,
    subsample,
)
from .solve import Solution, Status

# Below this many values the solver path is cheap and keeps its full trace; above
# it the selection is several times faster than the solver over every row.
SELECTION_MIN_ROWS = 1 << 16
# The bracket around the estimate is widened to hold the kernel's window (its
# half-width predicted from the subsample, times WINDOW_MARGIN) about any estimate
# within WINDOW_SIGMAS binomial standard deviations of the subsample's. Where the
# window still sticks out, a second pass collects it (measured: 1 fit in 180 on
# normal samples of 1e6 at q = 0.1, 0.5, 0.9); wider brackets cost every fit more.
WINDOW_MARGIN = 1.1
WINDOW_SIGMAS = 2.0
# Data whose range needs a scale outside 2**+-400 take the general path: the
# squares of the moments would overflow or underflow in data units.
SCALE_LIMIT = 2.0**400

SELECTION_MESSAGE = (
    "exact: the order statistic by selection (Floyd-Rivest), no solver iterations; "
    "the optimality condition checked from exact counts"
)


@dataclasses.dataclass(frozen=True)
class SelectedQuantile:
    """The result of :func:`select_quantile`, in data units unless said otherwise."""

    estimate: float
    low: float
    high: float
    ref: float
    scale: float
    optimal: bool
    variance_scaled: float | None  # the kernel variance in scaled units; None: not computed
    reason: str | None
    solution: Solution


def _percentile_position(n: int, fraction: float) -> tuple[int, int, float]:
    """numpy's linear percentile: the two 0-based ranks and the weight of the upper one."""
    virtual = (n - 1) * fraction
    previous = math.floor(virtual)
    if virtual >= n - 1:
        return n - 1, n - 1, virtual - previous
    return previous, previous + 1, virtual - previous


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's ``_lerp`` (the interpolation of ``np.percentile``), to the last bit."""
    a, b, t = np.float64(a), np.float64(b), np.float64(t)
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def select_quantile(
    x: np.ndarray, q: float, *, kernel: bool = False, bandwidth_name: str = "hall-sheather"
) -> SelectedQuantile | None:
    r"""The exact ``q``-quantile of unit-weight ``x`` (:func:`quantile_minimizers`' convention).

    With ``kernel``, also the ``cov_type="kernel"`` variance of
    :func:`~estimators.location.quantile_variance` on the centred, scaled data
    (``variance_scaled``, or NaN and ``reason``). Returns None where the
    selection cannot certify its answer (the caller then takes the general path).
    """
    n = x.size
    target, slack = q * n, TIE_RTOL * n
    m = max(math.ceil(target - slack), 1)
    if n < 16 or m >= n:
        return None
    sample = subsample(x, min(SUBSAMPLE_SIZE, n // 16))
    size = sample.size
    with np.errstate(over="ignore", invalid="ignore"):
        spread = float(np.max(sample)) - float(np.min(sample))
    if not (spread == 0.0 or 1.0 / SCALE_LIMIT < spread < SCALE_LIMIT):
        return None  # extreme magnitudes: the general path, without a wasted pass
    ranks = {"low": m - 1, "next": m}
    if kernel:
        for name, fraction in (("q25", 0.25), ("q75", 0.75)):
            below, above, _ = _percentile_position(n, fraction)
            ranks[name + "a"], ranks[name + "b"] = below, above
    spans = {k: bracket_indices(r, n, size) for k, r in ranks.items()}
    centre = round(q * (size - 1))
    near = bracket_indices(m - 1, n, size, WINDOW_SIGMAS)
    wanted = {i for span in [*spans.values(), near] for i in span if 0 <= i < size} | {centre}
    quarter = (round(0.25 * (size - 1)), round(0.75 * (size - 1)))
    wanted.update(quarter)
    sample.partition(sorted(wanted))
    at = {i: float(sample[i]) for i in wanted}
    shift = at[centre]
    target_bracket = bracket_from(at, spans["low"][0], spans["next"][1], size)
    h_q, level_reason = kernel_level_bandwidth(bandwidth_name, n, q) if kernel else (0.0, None)
    if kernel and level_reason is None:
        # Widen the bracket to hold the kernel's window about any estimate within
        # WINDOW_SIGMAS of the subsample's; the window's half-width is predicted
        # from the subsample. Where it still misses, a second pass collects it.
        spread = min(float(np.std(sample)), (at[quarter[1]] - at[quarter[0]]) / 1.34)
        predicted = WINDOW_MARGIN * spread * float(kernel_width(1.0, 0.0, 1.34, q, h_q))
        near_values = [float(sample[min(max(i, 0), size - 1)]) for i in near]
        target_bracket.low = min(target_bracket.low, near_values[0] - predicted)
        target_bracket.high = max(target_bracket.high, near_values[1] + predicted)
    brackets = [target_bracket]
    if kernel:
        for name in ("q25", "q75"):
            brackets.append(bracket_from(at, spans[name + "a"][0], spans[name + "b"][1], size))
    merged, place = merge(brackets)
    found = scan(x, merged, shift)
    if not found.finite:
        return None
    held = {
        "low": merged[place[0]],
        "next": merged[place[0]],
    }
    if kernel:
        for k in ("q25a", "q25b", "q75a", "q75b"):
            held[k] = merged[place[1 if k.startswith("q25") else 2]]
    if not all(held[k].holds(r) for k, r in ranks.items()):
        return None
    value: dict[str, float] = {}
    for bracket in {id(b): b for b in held.values()}.values():
        names = [k for k in ranks if held[k] is bracket]
        value.update(zip(names, bracket.order_statistics([ranks[k] for k in names]), strict=True))
    low, following = value["low"], value["next"]
    # A tie at x_(m) = x_(m+1): m + 1 > qn + slack values are <= low, so low is unique.
    high = following if following != low and m <= target + slack else low
    estimate = low if low == high else midpoint(low, high)
    bracket = merged[place[0]]
    inside = bracket.values
    below = bracket.below + int(np.count_nonzero(inside < estimate))
    at_or_below = bracket.below + int(np.count_nonzero(inside <= estimate))
    optimal = below <= target + slack and at_or_below >= target - slack

    ref = 0.5 * found.minimum + 0.5 * found.maximum
    scale = float(power_of_two_scale(0.5 * found.maximum - 0.5 * found.minimum))
    if not 1.0 / SCALE_LIMIT < scale < SCALE_LIMIT:
        return None
    # the solver path minimises mean |x - b| for the median (twice the pinball loss at 1/2)
    loss = _mean_pinball(found, bracket, q, estimate, n) * (2.0 if q == 0.5 else 1.0)
    estimate_scaled = (estimate - ref) / scale
    variance, reason = None, None
    if kernel:
        if level_reason is not None:
            variance, reason = math.nan, level_reason
        else:
            outcome = _kernel_variance(
                x, found, bracket, value, q, h_q, ref, scale, estimate_scaled
            )
            if outcome is None:
                return None
            variance, reason = outcome
    solution = Solution(
        params={"median" if q == 0.5 else "quantile": np.float64(estimate_scaled)},
        value=loss / scale,
        grad_norm=0.0 if optimal else math.nan,
        n_iter=0,
        status=Status.CONVERGED if optimal else Status.STALLED,
        decrement=math.nan,
        trace=pd.DataFrame({"loss": [loss / scale], "grad_norm": [0.0 if optimal else math.nan]}),
        detail=SELECTION_MESSAGE,
    )
    return SelectedQuantile(estimate, low, high, ref, scale, optimal, variance, reason, solution)


def _mean_pinball(found: Scan, bracket: Bracket, q: float, b: float, n: int) -> float:
    r"""The mean pinball loss at ``b`` from the pass's sums, in data units.

    With :math:`d = x - s`: :math:`\sum_i \rho_q(x_i - b) = q\,(\sum d - n(b - s)) +
    \sum_i (b - x_i)_+`, and :math:`\sum (s - x)_+ = (\sum|d| - \sum d)/2`; the
    values below the bracket add :math:`b - s` each to the change from :math:`s`
    to :math:`b` (both lie in the bracket), the collected ones their own terms.
    """
    s = found.shift
    positive_part_at_shift = 0.5 * (found.sum_abs - found.sum)
    # (b - v)_+ - (s - v)_+ is b - s below both, 0 above both, its own value between
    v = bracket.values
    first, last = min(s, b), max(s, b)
    under = bracket.below + int(np.count_nonzero(v < first))
    between = v[(v >= first) & (v < last)]
    change = under * (b - s) + float(
        np.sum(np.maximum(b - between, 0.0) - np.maximum(s - between, 0.0))
    )
    return (q * (found.sum - n * (b - s)) + positive_part_at_shift + change) / n


def _kernel_variance(
    x: np.ndarray,
    found: Scan,
    bracket: Bracket,
    value: dict,
    q: float,
    h_q: float,
    ref: float,
    scale: float,
    estimate_scaled: float,
) -> tuple[float, str | None] | None:
    r"""``kernel_cov`` of a column of ones on :math:`y = (x - x_{ref})/s`, from the bracket.

    :math:`\mathrm{sd}(y)` from the pass's moments; the residual quartiles from
    the selected order statistics (residuals are monotone in :math:`x`, so
    their order statistics are those of :math:`x`); the density and the count
    of positive residuals from the collected values, after checking that every
    value outside the bracket lies at least one bandwidth from the estimate
    (kernel weight 0). None where that check fails.
    """
    n = found.n

    def residual(v):
        return (np.subtract(v, ref) / scale) - estimate_scaled

    sd_y = math.sqrt(found.variance()) / scale
    if not math.isfinite(sd_y):
        return None
    quartiles = []
    for name, fraction in (("q25", 0.25), ("q75", 0.75)):
        *_, t = _percentile_position(n, fraction)
        lower, upper = residual(value[name + "a"]), residual(value[name + "b"])
        quartiles.append(_lerp(lower, upper, t))
    h = kernel_width(sd_y, quartiles[0], quartiles[1], q, h_q)
    if not h > 0:
        return math.nan, NO_SPREAD
    above = n - bracket.below - bracket.values.size
    if (bracket.below and not residual(bracket.low) <= -h) or (
        above and not residual(bracket.high) >= h
    ):
        # The kernel's window is not inside the bracket: collect it in a second pass.
        # x -> residual is monotone; the window in data units, widened by a few ulps.
        centre = ref + scale * estimate_scaled
        reach = 1.001 * scale * h
        bracket = Bracket(centre - reach, centre + reach)
        scan(x, [bracket], 0.0, moments=False)
        above = n - bracket.below - bracket.values.size
        if (bracket.below and not residual(bracket.low) <= -h) or (
            above and not residual(bracket.high) >= h
        ):
            return None
    r = residual(bracket.values)
    density = epanechnikov_sum(r / h) / (n * h)
    if not density > 0:
        return math.nan, NO_DENSITY
    positive = above + int(np.count_nonzero(r > 0))
    variance = (positive * (q / density) ** 2 + (n - positive) * ((1 - q) / density) ** 2) / n**2
    return variance, None
