"""order_statistics: the unit-weight fast path (one np.partition) equals the general walk.

The reference is the module's own general walk (``_first_group_passing`` over
masked copies), run by switching the fast path off, and numpy's
``np.quantile(..., method="inverted_cdf")`` for the lower end (numpy 2.4).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import estimators.order_statistics as order_statistics
from estimators.order_statistics import quantile_minimizers

LEVELS = [0.5, 0.3, 0.25, 0.1, 0.9, 1 / 3]


def general_walk(x, q, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(order_statistics, "_unit_weight_minimizers", lambda x, q: None)
        return quantile_minimizers(x, np.ones(x.size), q)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-5, 5) | st.floats(-1e3, 1e3), min_size=2, max_size=40),
    st.sampled_from(LEVELS) | st.floats(0.01, 0.99),
)
def test_fast_path_equals_the_general_walk(values, q):
    x = np.asarray(values, dtype=float)
    mp = pytest.MonkeyPatch()
    try:
        expected = general_walk(x, q, mp)
    finally:
        mp.undo()
    assert quantile_minimizers(x, np.ones(x.size), q) == expected
    low = float(np.quantile(x, q, method="inverted_cdf"))
    assert expected[0] == low or expected[0] < low  # a tie within TIE_RTOL may end lower


def test_fast_path_is_taken_on_distinct_values_and_declines_ties():
    x = np.random.default_rng(0).standard_normal(10_001)
    assert order_statistics._unit_weight_minimizers(x, 0.5) == (np.median(x), np.median(x))
    even = x[:-1]
    low, high = order_statistics._unit_weight_minimizers(even, 0.5)
    assert (low + high) / 2 == np.median(even)
    assert order_statistics._unit_weight_minimizers(np.array([1.0, 2.0, 2.0, 3.0]), 0.5) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
    st.sampled_from(LEVELS),
    st.integers(-6, 6),
)
def test_minimizer_check_by_counts_equals_the_weighted_sums(values, q, b):
    """Unit weights take counts; the general path sums the masked weights: same verdict."""
    x = np.asarray(values, dtype=float)
    ones = np.ones(x.size)
    by_counts = order_statistics.is_quantile_minimizer(x, ones, q, float(b))
    total, slack = float(x.size), order_statistics.TIE_RTOL * x.size
    by_sums = bool(
        ones[x < b].sum() <= q * total + slack and ones[x <= b].sum() >= q * total - slack
    )
    assert by_counts == by_sums
