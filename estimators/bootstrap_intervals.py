r"""The bootstrap's intervals and standard errors from its resampled estimates.

Given the estimate :math:`\hat\theta` and the resampled estimates
:math:`\hat\theta^*_1, \dots, \hat\theta^*_B` of each parameter, as
``scipy.stats.bootstrap`` (:math:`\alpha = (1 - \text{level})/2`, percentiles
with numpy's linear interpolation):

- ``"percentile"``: the :math:`\alpha` and :math:`1-\alpha` percentiles of
  :math:`\hat\theta^*`;
- ``"basic"``: :math:`2\hat\theta` minus those (reversed);
- ``"bca"`` (Efron, 1987): the percentiles at
  :math:`\Phi\bigl(z_0 + \frac{z_0 + z_\alpha}{1 - a(z_0 + z_\alpha)}\bigr)`,
  with bias :math:`z_0 = \Phi^{-1}\bigl(\tfrac12[\#(\hat\theta^* < \hat\theta) +
  \#(\hat\theta^* \le \hat\theta)]/B\bigr)` and acceleration from the jackknife
  estimates :math:`\theta_{(i)}` (each row left out in turn: the weight vectors
  of :func:`jackknife_weights`, fitted as a batch like the resamples):
  :math:`a = \sum_i (\bar\theta_{(\cdot)} - \theta_{(i)})^3 /
  \bigl(6\,[\sum_i (\bar\theta_{(\cdot)} - \theta_{(i)})^2]^{3/2}\bigr)`.

The standard error (:func:`spread`) is the standard deviation of the
resampled estimates (``ddof=1``).

>>> import numpy as np
>>> theta_b = np.arange(1.0, 102.0)[:, None]  # 101 resampled estimates of one parameter
>>> confidence_interval(theta_b, np.array([50.0]), "percentile", 0.9)
(array([6.]), array([96.]))
>>> confidence_interval(theta_b, np.array([50.0]), "basic", 0.9)
(array([4.]), array([94.]))
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import special

from .bootstrap_kernels import pad
from .numerics import power_of_two_scale

__all__ = [
    "BOOTSTRAP_METHODS",
    "bca_levels",
    "confidence_interval",
    "jackknife_weights",
    "percentile",
    "spread",
]

BOOTSTRAP_METHODS = ("percentile", "basic", "bca")


def spread(values: np.ndarray) -> np.ndarray:
    """Standard deviation (ddof=1) per column, scaled by a power of two first: the squares
    of estimates near 1e300 (or 1e-300) would overflow (underflow) in np.std."""
    scale = power_of_two_scale(values, axis=0)
    return scale * np.std(values / scale, axis=0, ddof=1)


def percentile(values: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Percentile of each column at its own level in [0, 1] (numpy's linear method)."""
    return np.array([np.percentile(values[:, j], 100 * level[j]) for j in range(values.shape[1])])


def bca_levels(
    theta_b: np.ndarray, theta: np.ndarray, jackknife: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """The BCa percentile levels for each parameter (scipy.stats.bootstrap's formulas).

    ``jackknife``: the leave-one-out estimates, a row a left-out row; NaN rows (failed
    fits) are left out of the acceleration.
    """
    below = np.mean(theta_b < theta, axis=0)
    at_most = np.mean(theta_b <= theta, axis=0)
    z0 = special.ndtri((below + at_most) / 2)
    dev = np.nanmean(jackknife, axis=0) - jackknife
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.nansum(dev**3, axis=0) / (6 * np.nansum(dev**2, axis=0) ** 1.5)
    levels = []
    for z_alpha in (special.ndtri(alpha), special.ndtri(1 - alpha)):
        shifted = z0 + z_alpha
        levels.append(special.ndtr(z0 + shifted / (1 - a * shifted)))
    return levels[0], levels[1]


def confidence_interval(
    theta_b: np.ndarray,
    theta: np.ndarray,
    method: str,
    confidence_level: float,
    jackknife: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``method`` interval's (low, high) of each column of ``theta_b`` (the resampled
    estimates, failed ones left out) around ``theta``; ``"bca"`` needs ``jackknife``."""
    alpha = (1 - confidence_level) / 2
    p = theta_b.shape[1]
    if method == "bca":
        low_level, high_level = bca_levels(theta_b, theta, jackknife, alpha)
    else:
        low_level, high_level = np.full(p, alpha), np.full(p, 1 - alpha)
    low, high = percentile(theta_b, low_level), percentile(theta_b, high_level)
    if method == "basic":
        low, high = 2 * theta - high, 2 * theta - low
    return low, high


def jackknife_weights(
    base: np.ndarray, batch: int, order: np.ndarray | None
) -> Iterator[np.ndarray]:
    """Chunks of the leave-one-row-out weight vectors ``base`` with row ``i`` set to 0,
    ``batch`` rows each (the last padded with ``base``), their columns in ``order`` of the
    rows (None: as given), as :func:`estimators.bootstrap._resample_weights` arranges them."""
    n = base.size
    rank = np.arange(n) if order is None else np.argsort(order)
    base = base if order is None else base[order]
    for start in range(0, n, batch):
        b = min(batch, n - start)
        weights = np.tile(base, (b, 1))
        weights[np.arange(b), rank[start : start + b]] = 0.0
        yield pad(weights, base, batch)
