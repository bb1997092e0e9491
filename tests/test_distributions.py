"""estimators.distributions: the weighted moments behind the starts and statistics.

References are numpy's own ``np.average`` and ``np.var`` on the same values,
computed live.
"""

from __future__ import annotations

import numpy as np
import pytest

from estimators.distributions import FAMILIES, _wmean, _wvar


def _x(n=10_001):
    return np.random.default_rng(3).gamma(2.0, 3.0, size=n)


def test_wmean_with_the_broadcast_unit_weights_of_an_unweighted_sample():
    x = _x()
    ones = np.broadcast_to(np.float64(1.0), x.shape)  # what frame.as_sample passes
    assert _wmean(x, ones) == pytest.approx(np.average(x), rel=1e-15)
    assert _wvar(x, ones) == pytest.approx(np.var(x), rel=1e-13)


def test_wmean_with_a_constant_broadcast_weight_is_the_plain_mean():
    x = _x()
    threes = np.broadcast_to(np.float64(3.0), x.shape)
    assert _wmean(x, threes) == pytest.approx(np.average(x, weights=np.full(x.size, 3.0)))


def test_wmean_with_weights_equals_numpys_average():
    x = _x()
    w = np.random.default_rng(4).uniform(0.0, 2.0, size=x.size)
    assert _wmean(x, w) == pytest.approx(np.average(x, weights=w), rel=1e-14)
    assert _wvar(x, w) == pytest.approx(np.cov(x, aweights=w, ddof=0), rel=1e-12)


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if f.statistics is not None])
def test_statistics_do_not_depend_on_how_unit_weights_are_stored(name):
    family = FAMILIES[name]
    x = np.floor(_x()) if family.support == "count" else _x()
    if family.support == "unit":
        x = x / (x.max() + 1.0)
    ones = np.ones(x.size)
    view = np.broadcast_to(np.float64(1.0), x.shape)
    a, b = family.statistics(x, ones), family.statistics(x, view)
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-13, abs=1e-15)
