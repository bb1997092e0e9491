r"""The exact minimiser set of the weighted pinball loss: quantiles as order statistics.

For a sample :math:`x_i` with frequency weights :math:`w_i \ge 0` and total
weight :math:`W`, the weighted pinball loss

.. math::  f(b) = \sum_i w_i\,\rho_q(x_i - b), \qquad \rho_q(r) = r\,(q - 1\{r < 0\}),

is convex and piecewise linear, with kinks at the data. Its minimisers are the
:math:`b` with :math:`W(x < b) \le qW \le W(x \le b)`: one order statistic, or
the interval between two neighbouring ones. :func:`quantile_minimizers` finds
that set exactly in O(n) passes from a guess (a solver's estimate, which lands
next to it); :func:`is_quantile_minimizer` checks the condition. Plain numpy.
"""

from __future__ import annotations

import numpy as np

# Cumulative weights within this many machine epsilons of q * sum(w) count as
# equal to it: q = 0.3 then behaves as 3/10 (n = 10 gives the interval [x_(3), x_(4)])
# instead of as the binary number just below 0.3.
TIE_RTOL = 64 * np.finfo(float).eps


def midpoint(low: float, high: float) -> float:
    """(low + high) / 2 as numpy's median computes it, without overflow near the largest floats."""
    mid = (low + high) / 2
    return mid if np.isfinite(mid) else 0.5 * low + 0.5 * high


def _first_group_passing(
    values: np.ndarray, weights: np.ndarray, budget: float, *, descending: bool, strict: bool
) -> float:
    """Walk the distinct values in order, accumulating weight; return where it passes ``budget``.

    Only the ``k`` values nearest the start of the walk are selected
    (``np.argpartition``, O(n)) and sorted; ``k`` grows eightfold until the
    crossing is inside them. A tie group cut by the selection can only be
    short of weight, so a crossing seen inside the selection is a true one.
    ``strict`` asks for ``running > budget`` instead of ``>=``.
    """
    key = -values if descending else values
    k, n = 8, values.size
    while True:
        if k >= n:
            idx = np.argsort(key, kind="stable")
        else:
            idx = np.argpartition(key, k - 1)[:k]
            idx = idx[np.argsort(key[idx], kind="stable")]
        v, wv = values[idx], weights[idx]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        running = np.cumsum(np.add.reduceat(wv, starts))
        passed = running > budget if strict else running >= budget
        if passed.any():
            return float(v[starts[int(np.argmax(passed))]])
        if k >= n:  # the whole side is below the budget: the walk ends at its last value
            return float(v[-1])
        k *= 8


def quantile_minimizers(
    x: np.ndarray, weights: np.ndarray, q: float, guess: float | None = None
) -> tuple[float, float]:
    r"""The exact set of minimisers ``[low, high]`` of the weighted pinball loss.

    .. math::  f(b) = \sum_i w_i\,\rho_q(x_i - b), \qquad
               0 \in \partial f(b) \iff W(x < b) \le qW \le W(x \le b),

    with :math:`W(A) = \sum_{x_i \in A} w_i` and :math:`W` the total weight. The
    minimiser set is a single order statistic ``low == high`` (the smallest
    value with :math:`W(x \le v) \ge qW`, which is ``np.quantile(x, q,
    weights=w, method="inverted_cdf")``), or, when :math:`W(x \le
    \mathrm{low}) = qW` exactly (up to :data:`TIE_RTOL`), the whole interval
    from ``low`` to the next larger value.

    ``guess`` (e.g. the solver's estimate) only says where to start looking:
    the values between it and the answer are selected in O(n) passes, so a
    guess within a few order statistics costs about three passes over the
    data; any guess gives the same, exact answer. Rows of zero weight are
    ignored.

    >>> quantile_minimizers(np.arange(1.0, 11.0), np.ones(10), 0.3)  # nq = 3: a tie
    (3.0, 4.0)
    >>> quantile_minimizers(np.arange(1.0, 11.0), np.ones(10), 0.35)
    (4.0, 4.0)
    """
    x = np.asarray(x, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if x.size > 1 and np.all(weights == 1.0):
        found = _unit_weight_minimizers(x, q)
        if found is not None:
            return found
    positive = weights > 0
    if not positive.all():
        x, weights = x[positive], weights[positive]
    total = float(weights.sum())
    target = q * total
    slack = TIE_RTOL * total
    guess = float(np.median(x)) if guess is None or not np.isfinite(guess) else float(guess)
    below = x <= guess
    weight_below = float(weights[below].sum())
    if weight_below >= target - slack:
        # low <= guess: drop values from the top while W(x <= v) stays >= qW.
        low = _first_group_passing(
            x[below], weights[below], weight_below - (target - slack), descending=True, strict=True
        )
    else:
        above = ~below
        low = _first_group_passing(
            x[above], weights[above], target - slack - weight_below, descending=False, strict=False
        )
    if float(weights[x <= low].sum()) <= target + slack:
        larger = x[x > low]
        high = float(larger.min()) if larger.size else low
    else:
        high = low
    return low, high


def _unit_weight_minimizers(x: np.ndarray, q: float) -> tuple[float, float] | None:
    r""":func:`quantile_minimizers` for unit weights by one ``np.partition`` (as ``np.median``).

    With counts for weights, ``low`` is the order statistic :math:`x_{(m)}`,
    :math:`m = \max(\lceil qn - \text{slack} \rceil, 1)`: the smallest value
    with at least :math:`qn - \text{slack}` values at or below it. Partitioning
    at :math:`m` and :math:`m + 1` also gives the next larger value when the
    two differ: then exactly :math:`m` values are :math:`\le x_{(m)}`, and the
    minimisers are the interval up to :math:`x_{(m+1)}` if :math:`m \le qn +
    \text{slack}`. A tie at :math:`x_{(m)} = x_{(m+1)}` returns None (the
    caller's general walk handles it). The same decisions as the walk, in one
    O(n) selection instead of several masked copies.

    >>> _unit_weight_minimizers(np.array([4.0, 1.0, 3.0, 2.0]), 0.5)
    (2.0, 3.0)
    >>> _unit_weight_minimizers(np.array([1.0, 2.0, 2.0, 3.0]), 0.5) is None
    True
    """
    n = x.size
    target, slack = q * n, TIE_RTOL * n
    m = max(int(np.ceil(target - slack)), 1)
    if m >= n:
        return float(np.max(x)), float(np.max(x))
    low, following = np.partition(x, [m - 1, m])[m - 1 : m + 1]
    if following == low:
        return None
    high = float(following) if m <= target + slack else float(low)
    return float(low), high


def is_quantile_minimizer(x: np.ndarray, weights: np.ndarray, q: float, b: float) -> bool:
    """The subgradient optimality condition W(x < b) <= qW <= W(x <= b), up to TIE_RTOL."""
    total = float(weights.sum())
    slack = TIE_RTOL * total
    if total == weights.size and np.all(weights == 1.0):  # counts: no masked copies
        below, at_or_below = np.count_nonzero(x < b), np.count_nonzero(x <= b)
    else:
        below, at_or_below = weights[x < b].sum(), weights[x <= b].sum()
    return bool(below <= q * total + slack and at_or_below >= q * total - slack)
