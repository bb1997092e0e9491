r"""Order statistics of a large sample by Floyd-Rivest selection, moments in the same pass.

``np.partition`` (introselect) moves every value several times. Floyd and
Rivest (1975) select from a small sample first: the order statistics of a
subsample of :math:`m` values bracket the wanted one, and one pass over the
data then only has to *count* the values below the bracket and *collect* the
few inside it; the selection itself runs on the collected values.

For a rank :math:`k` of :math:`n` (0-based), :math:`p = k/(n-1)`, the
subsample's order statistic at :math:`j = p(m-1)` estimates it; the number of
subsample values below the true :math:`x_{(k)}` is about binomial with
standard deviation :math:`\sqrt{m p(1-p)}`, so the subsample's order statistics
at :math:`j \mp (6\sqrt{m p(1-p)} + 2)` bracket it except with probability of
the order of :math:`10^{-9}` for data in random order. The pass checks the
bracket exactly (``below <= k < below + collected``); when it fails (data
ordered adversarially against the stride) the caller falls back to a full
selection, so the answer never depends on the subsample, only the speed does.

:func:`scan` is that pass. It reads each block of :data:`SELECTION_BLOCK`
values once from memory and, while the block is in cache, also accumulates
the minimum, maximum, :math:`\sum d`, :math:`\sum d^2` and :math:`\sum |d|` of
:math:`d = x - s` (``shift`` :math:`s`, chosen near the data's centre so that
the variance :math:`\sum d^2/n - (\sum d/n)^2` does not cancel). NaN
propagates through the minimum and maximum, so ``finite`` also checks the data.
Plain numpy ufuncs (no BLAS: OpenBLAS ``dot`` on cache-sized blocks was
10-50x slower on the shared 2-core machine); ``np.einsum`` fuses the square
and the sum.

:func:`select` puts it together: the order statistics at given ranks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# Values a block of the pass: 256 KiB, so the block, its shifted copy and the masks
# stay in a core's 1 MiB L2 cache while they are read again.
SELECTION_BLOCK = 1 << 15
# Size of the strided subsample: its selection costs about 1 ms; the brackets it
# gives hold about 12 / sqrt(SUBSAMPLE_SIZE) = 5% of the data at the median.
SUBSAMPLE_SIZE = 1 << 16
# Half-width of a bracket in binomial standard deviations of the subsample count.
BRACKET_SIGMAS = 6.0


@dataclasses.dataclass
class Bracket:
    """An interval ``[low, high]``: the pass counts the values below it, collects those in it."""

    low: float
    high: float
    below: int = 0
    values: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))

    def holds(self, rank: int) -> bool:
        """Whether the order statistic of 0-based ``rank`` is among the collected values."""
        return self.below <= rank < self.below + self.values.size

    def order_statistics(self, ranks: list[int]) -> list[float]:
        """The order statistics of the given 0-based ranks (each must be held)."""
        local = [r - self.below for r in ranks]
        self.values.partition(sorted(set(local)))  # in place: the collected copy is ours
        return [float(self.values[k]) for k in local]


@dataclasses.dataclass(frozen=True)
class Scan:
    """What :func:`scan` read: size, range, moments of ``d = x - shift``; brackets filled in."""

    n: int
    minimum: float
    maximum: float
    shift: float
    sum: float  # sum of d
    sum_squares: float  # sum of d^2
    sum_abs: float  # sum of |d|
    brackets: list[Bracket]

    @property
    def finite(self) -> bool:
        """Whether every value is finite (NaN propagates through min and max)."""
        return math.isfinite(self.minimum) and math.isfinite(self.maximum)

    def variance(self) -> float:
        r"""The ``ddof=0`` variance :math:`\sum d^2/n - (\sum d/n)^2` (NaN where it overflowed)."""
        mean = self.sum / self.n
        return max(self.sum_squares / self.n - mean * mean, 0.0)


def subsample(x: np.ndarray, size: int = SUBSAMPLE_SIZE) -> np.ndarray:
    """A deterministic strided subsample of about ``size`` values (a copy, unsorted).

    The stride starts at its middle, so that sorted data are sampled evenly.
    """
    stride = max(x.size // size, 1)
    return np.array(x[stride // 2 :: stride][:size])


def bracket_indices(rank: int, n: int, m: int, sigmas: float = BRACKET_SIGMAS) -> tuple[int, int]:
    """Subsample indices ``(lo, hi)`` whose values bracket the 0-based ``rank`` of ``n``.

    Either may fall outside ``[0, m - 1]``: the bracket is then open on that side.
    """
    p = rank / (n - 1) if n > 1 else 0.5
    centre = p * (m - 1)
    half = sigmas * math.sqrt(m * p * (1 - p)) + 2
    return math.floor(centre - half), math.ceil(centre + half)


def bracket_from(sorted_at: dict[int, float], lo: int, hi: int, m: int) -> Bracket:
    """The :class:`Bracket` between the subsample values ``lo`` and ``hi`` (open past the ends)."""
    low = -math.inf if lo < 0 else sorted_at[lo]
    high = math.inf if hi > m - 1 else sorted_at[hi]
    return Bracket(low, high)


def merge(brackets: list[Bracket]) -> tuple[list[Bracket], list[int]]:
    """Overlapping brackets merged; returns the merged list and each input's place in it."""
    order = sorted(range(len(brackets)), key=lambda i: brackets[i].low)
    merged: list[Bracket] = []
    place = [0] * len(brackets)
    for i in order:
        b = brackets[i]
        if merged and b.low <= merged[-1].high:
            merged[-1].high = max(merged[-1].high, b.high)
        else:
            merged.append(Bracket(b.low, b.high))
        place[i] = len(merged) - 1
    return merged, place


def scan(
    x: np.ndarray,
    brackets: list[Bracket],
    shift: float,
    moments: bool = True,
    absolute: bool = True,
) -> Scan:
    r"""One pass over ``x``: fills the brackets (count below, values inside) and the moments.

    Brackets must not overlap (:func:`merge`). Block results are combined with
    :func:`math.fsum`, so the order of the blocks costs no accuracy. Without
    ``moments`` only the brackets are filled (the moments are NaN); without
    ``absolute``, :math:`\sum |d|` is not accumulated (NaN).
    """
    n = x.size
    block = min(SELECTION_BLOCK, n)
    buffer = np.empty(block)
    below_mask, inside_mask = np.empty(block, bool), np.empty(block, bool)
    minima, maxima, sums, squares, absolutes = [], [], [], [], []
    counts = [0] * len(brackets)
    pieces: list[list[np.ndarray]] = [[] for _ in brackets]
    for start in range(0, n, block):
        b = x[start : start + block]
        k = b.size
        for j, bracket in enumerate(brackets):
            below = np.less(b, bracket.low, out=below_mask[:k])
            counts[j] += int(np.count_nonzero(below))
            inside = np.less_equal(b, bracket.high, out=inside_mask[:k])
            np.greater(inside, below, out=inside)  # <= high and not < low
            pieces[j].append(b[inside])
        if not moments:
            continue
        minima.append(b.min())
        maxima.append(b.max())
        # shift 0: the values themselves (one subtraction less a block)
        d = b if shift == 0.0 else np.subtract(b, shift, out=buffer[:k])
        sums.append(d.sum())
        squares.append(np.einsum("i,i->", d, d))
        if absolute:
            absolutes.append(np.abs(d, out=buffer[:k]).sum())
    for j, bracket in enumerate(brackets):
        bracket.below = counts[j]
        bracket.values = np.concatenate(pieces[j]) if pieces[j] else np.empty(0)
    if not moments:
        return Scan(n, math.nan, math.nan, float(shift), math.nan, math.nan, math.nan, brackets)
    with np.errstate(over="ignore", invalid="ignore"):
        return Scan(
            n=n,
            minimum=float(np.min(minima)),
            maximum=float(np.max(maxima)),
            shift=float(shift),
            sum=math.fsum(sums),
            sum_squares=_fsum(squares),
            sum_abs=_fsum(absolutes) if absolute else math.nan,
            brackets=brackets,
        )


def _fsum(values: list) -> float:
    """:func:`math.fsum`, or inf / NaN where a block's sum overflowed (fsum raises then)."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return float(np.sum(values))


def select(x: np.ndarray, ranks: list[int]) -> list[float]:
    """The order statistics of 0-based ``ranks`` of ``x``: ``np.partition(x, ranks)[ranks]``.

    Floyd-Rivest selection (module docstring) for large ``x``, ``np.partition``
    of a copy where a bracket misses or ``x`` is small. ``x`` is not modified.

    >>> x = np.random.default_rng(0).permutation(200_000).astype(float)
    >>> select(x, [0, 99_999, 199_999])
    [0.0, 99999.0, 199999.0]
    """
    n = x.size
    if n < 16 * 1024:
        part = np.partition(x, sorted(set(ranks)))
        return [float(part[r]) for r in ranks]
    sample = subsample(x, min(SUBSAMPLE_SIZE, n // 16))
    m = sample.size
    spans = [bracket_indices(r, n, m) for r in ranks]
    wanted = sorted({i for span in spans for i in span if 0 <= i < m})
    sample.partition(wanted)
    at = {i: float(sample[i]) for i in wanted}
    brackets, place = merge([bracket_from(at, lo, hi, m) for lo, hi in spans])
    scan(x, brackets, shift=0.0, moments=False)
    if not all(brackets[place[i]].holds(r) for i, r in enumerate(ranks)):
        part = np.partition(x, sorted(set(ranks)))
        return [float(part[r]) for r in ranks]
    return [brackets[place[i]].order_statistics([r])[0] for i, r in enumerate(ranks)]
