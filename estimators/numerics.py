r"""Shared numerics: exact rescaling, padding to compile buckets, weighted order statistics.

Plain numpy, no JAX: these run on the data before and after a fit.

- :func:`power_of_two_scale` and :func:`center_and_scale`: divide the data by
  a power of two (exact in floating point) so that every quantity the solver
  sees is of order one, whatever the units.
- :func:`bucket_size` and :func:`pad_rows`: zero-weight padding, so that one
  compiled kernel serves every sample size in a bucket (a compile costs about
  a second, padding a small sample microseconds).
- :func:`weighted_median`, :func:`weighted_percentile`, :func:`mad_about`:
  order statistics of the sample in which row :math:`i` is repeated
  :math:`w_i` times (frequency weights), each with numpy's convention for
  unit weights. The median is the exact minimiser of the absolute deviation
  (:func:`estimators.order_statistics.quantile_minimizers`).
- :func:`hall_sheather` and :func:`epanechnikov_density`: the sparsity estimate
  behind the standard errors of sample and regression quantiles.
- :func:`weighted_least_squares`: the least-squares start of the robust and
  quantile regressions.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .errors import DataError
from .frame import collinear_columns
from .order_statistics import midpoint, quantile_minimizers

# 0.67449...: the MAD of N(0, 1), Phi^{-1}(3/4) (scipy.stats.norm.ppf is this ndtri)
NORMAL_MAD = float(special.ndtri(0.75))


# --------------------------------------------------------------------------- exact rescaling


def power_of_two_scale(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The power of two just above ``max |values|`` (1 where that is 0 or not finite).

    Dividing by a power of two is exact in floating point. ``axis`` as in
    ``np.max`` (e.g. ``axis=0`` for one scale a column). Above :math:`2^{1023}`
    the largest power of two a float holds, :math:`2^{1023}`, is used (the
    scaled values are then at most 2 in magnitude).

    >>> power_of_two_scale(np.array([-3.0, 1.0])).item(), power_of_two_scale(0.25).item()
    (4.0, 0.5)
    """
    top = np.max(np.abs(values), axis=axis)
    usable = (top > 0) & np.isfinite(top)
    _, exponent = np.frexp(np.where(usable, top, 1.0))
    return np.where(usable, np.ldexp(1.0, np.minimum(exponent, 1023)), 1.0)


def center_and_scale(values: np.ndarray) -> tuple[float, float]:
    r"""A reference point and a power-of-two scale that make the problem well posed.

    The fit is carried out in :math:`\delta = (\beta - x_{\mathrm{ref}})/s` on the
    data :math:`c_i = (x_i - x_{\mathrm{ref}})/s` with :math:`x_{\mathrm{ref}}` the
    midrange and :math:`s` the power of two just above the half-range, so every
    :math:`|c_i| \le 1` whatever the units. Why:

    - for data with a large common offset (values near :math:`10^9` differing in
      the 8th digit) :math:`x_i - x_{\mathrm{ref}}` is exact (Sterbenz' lemma), so
      the offset costs no digits, and :math:`\hat\beta = x_{\mathrm{ref}} +
      s\hat\delta` is rounded once at the very end;
    - dividing by a power of two is exact, and brings data of any magnitude
      (:math:`10^{300}` or :math:`10^{-300}`) to order one, so the squared
      deviations neither overflow nor underflow and step sizes such as a
      learning rate mean the same thing for every data set.

    >>> center_and_scale(np.array([1e9 + 1.0, 1e9 + 4.0]))
    (1000000002.5, 2.0)
    """
    low, high = float(values.min()), float(values.max())
    ref = 0.5 * low + 0.5 * high  # no overflow near the largest floats
    half_range = 0.5 * high - 0.5 * low
    return ref, float(power_of_two_scale(half_range))


# --------------------------------------------------------------------------- padding


def bucket_size(n: int) -> int:
    """The padded length of ``n`` rows: one compiled kernel per bucket, not per ``n``.

    The one rule every padded fit uses: 1024 at least (an iteration over 1024
    rows costs microseconds, a compile 0.2 to 1 second, so every small sample
    shares one kernel), powers of two up to 4096, then multiples of
    :math:`2^{k-4}` for :math:`n \\in (2^{k-1}, 2^k]`, i.e. eight buckets an
    octave, so the zero-weight padding costs at most 12.5% of the work on
    large samples.

    >>> [bucket_size(n) for n in (1, 1500, 5000, 70_000)]
    [1024, 2048, 5120, 73728]
    """
    if n <= 1024:
        return 1024
    if n <= 4096:
        return 1 << (n - 1).bit_length()
    step = 1 << ((n - 1).bit_length() - 4)
    return -(-n // step) * step


# Padding copies the data; above this many values (64 MB of float64) the copy
# costs about as much as the compile it saves (a Newton loop compiles in 0.15 to
# 0.2 s, a fit on 1e6 x 21 values runs in about 0.15 s), so such designs keep
# their own shape.
PAD_MAX_VALUES = 1 << 23


def padded_length(n: int, width: int = 1) -> int:
    """The row count a fit on ``n`` rows of ``width`` values pads to.

    :func:`bucket_size` up to :data:`PAD_MAX_VALUES` values, ``n`` itself beyond.

    >>> padded_length(300, 4), padded_length(3_000_000, 4)
    (1024, 3000000)
    """
    return bucket_size(n) if bucket_size(n) * max(width, 1) <= PAD_MAX_VALUES else n


def pad_rows(
    *arrays: np.ndarray, fill: float | str = 0.0, length: int | None = None
) -> tuple[np.ndarray, ...]:
    r"""The arrays with rows of ``fill`` appended along axis 0 up to :func:`bucket_size`.

    (Or up to ``length`` rows, e.g. :func:`padded_length`; never shortened.)

    All arrays have the same number of rows (values, a design matrix, the
    weights). Padded with weight 0, a row drops out of every weighted mean,
    gradient and Hessian, so the fit is unchanged; ``fill`` should be a value
    at which the loss is finite (0 for centred data; a data value for a
    log-density on a restricted support), or ``"first"``: copies of each
    array's first row, where every per-row quantity is as finite as at a real
    row whatever the model (a GLM's inverse link at :math:`\eta = 0` may be
    infinite, and :math:`0 \cdot \infty` is NaN). Pad the weights with 0
    separately. Arrays already of bucket length are returned as they are.

    >>> x, w = pad_rows(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    >>> x.shape, float(w.sum())
    ((1024,), 2.0)
    """
    n = len(arrays[0])
    extra = (bucket_size(n) if length is None else length) - n
    if extra <= 0:
        return arrays
    if isinstance(fill, str):
        if fill != "first":
            raise ValueError(f"fill must be a number or 'first', got {fill!r}")
        return tuple(np.concatenate([a, np.repeat(a[:1], extra, axis=0)]) for a in arrays)
    return tuple(
        np.concatenate([a, np.full((extra, *np.shape(a)[1:]), fill, dtype=np.result_type(a))])
        for a in arrays
    )


# --------------------------------------------------------------------------- order statistics


def weighted_median(
    values: np.ndarray, weights: np.ndarray | None = None, *, guess: float | None = None
) -> float:
    """The median of the sample in which row ``i`` is repeated ``weights[i]`` times.

    The exact minimiser of the mean absolute deviation
    (:func:`~estimators.order_statistics.quantile_minimizers` with ``q = 0.5``):
    the middle value, or the midpoint of the two middle values where every
    value between them is a minimiser, so that integer weights give
    ``np.median`` of the repeated rows. ``guess`` only speeds up the search.

    >>> weighted_median(np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 2.0]))
    6.0
    """
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    low, high = quantile_minimizers(values, weights, 0.5, guess)
    return low if low == high else midpoint(low, high)


def mad_about(
    values: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    center: float = 0.0,
    guess: float | None = None,
) -> float:
    r"""The normalised median absolute deviation about ``center``.

    .. math::  \mathrm{MAD} = \frac{\operatorname{median}_i |x_i - c|}{\Phi^{-1}(3/4)},
               \qquad c = \mathrm{center},

    a consistent estimate of :math:`\sigma` for normal data: statsmodels'
    ``mad(x, center=center)`` (``center=0``: the scale of residuals, as RLM).
    ``weights`` are frequency weights (:func:`weighted_median`); ``guess`` is
    a guess of the median of :math:`|x_i - \mathrm{center}|` (e.g. the last
    MAD times :data:`NORMAL_MAD`) and only speeds up the search.

    >>> round(mad_about(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), center=3.0), 6)
    1.482602
    """
    values = np.asarray(values, dtype=float)
    deviations = np.abs(values - center) if center != 0 else np.abs(values)
    return weighted_median(deviations, weights, guess=guess) / NORMAL_MAD


def weighted_percentile(
    values: np.ndarray, percent: float | np.ndarray, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """``np.percentile`` (linear interpolation) of the sample, row ``i`` repeated ``w_i`` times.

    Position :math:`h = (N - 1)\\,p/100` in the expanded sorted sample
    (:math:`N = \\sum_i w_i`) is read through the cumulative weights, so integer
    weights equal repeated rows exactly (numpy's interpolation formula
    included); unit weights go straight to ``np.percentile``. ``percent`` is a
    number or an array of numbers in [0, 100].

    >>> weighted_percentile(np.array([1.0, 2.0, 4.0]), 75, np.array([1.0, 2.0, 1.0]))
    2.5
    """
    values = np.asarray(values, dtype=float)
    if weights is None or np.all(weights == 1):
        return np.percentile(values, percent)
    keep = weights > 0
    values, weights = values[keep], np.asarray(weights, dtype=float)[keep]
    order = np.argsort(values, kind="stable")
    sorted_values, cumulative = values[order], np.cumsum(weights[order])
    position = (cumulative[-1] - 1) * (np.asarray(percent, dtype=float) / 100.0)
    lower = np.floor(position)

    def element(k):  # the k-th (0-based) value of the repeated, sorted sample
        index = np.searchsorted(cumulative, k, side="right")
        return sorted_values[np.minimum(index, sorted_values.size - 1)]

    a, b, t = element(lower), element(lower + 1), position - lower
    result = np.where(t < 0.5, a + t * (b - a), b - (b - a) * (1 - t))  # numpy's _lerp
    return float(result) if result.ndim == 0 else result


# --------------------------------------------------------------------------- sparsity


def hall_sheather(n: float, q: float, alpha: float = 0.05) -> float:
    r"""Hall and Sheather's (1988) bandwidth, on the probability scale.

    .. math::  h = n^{-1/3}\, z_{1-\alpha/2}^{2/3}
               \left[\frac{1.5\,\phi(\Phi^{-1}(q))^2}{2\,\Phi^{-1}(q)^2 + 1}\right]^{1/3}

    (as ``statsmodels.regression.quantile_regression.hall_sheather``).

    >>> round(hall_sheather(100, 0.5), 6)
    0.209316
    """
    z = special.ndtri(q)
    ratio = 1.5 * normal_pdf(z) ** 2 / (2 * z**2 + 1)
    return float(n ** (-1 / 3) * special.ndtri(1 - alpha / 2) ** (2 / 3) * ratio ** (1 / 3))


def normal_pdf(x):
    r"""The standard normal density :math:`\varphi(x) = e^{-x^2/2} / \sqrt{2\pi}`.

    Written as ``scipy.stats.norm.pdf`` computes it (the same operations, so
    the same bits) without importing scipy.stats, which costs about a second.

    >>> bool(normal_pdf(0.0) == 1 / np.sqrt(2 * np.pi))
    True
    """
    return np.exp(-(x**2) / 2.0) / np.sqrt(2 * np.pi)


def epanechnikov_density(residual: np.ndarray, weights: np.ndarray, h: float) -> float:
    r"""Kernel density of the residuals at 0: :math:`\frac{1}{nh}\sum_i w_i K(r_i/h)`.

    :math:`K(u) = \tfrac34 (1 - u^2)_+`, :math:`n = \sum_i w_i` (statsmodels
    QuantReg's ``kernel="epa"``). NaN where ``h`` is NaN.

    >>> epanechnikov_density(np.array([0.0, 0.5, 3.0]), np.ones(3), 1.0)
    0.4375
    """
    n = np.sum(weights, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = residual / h
        kernel = 0.75 * (1 - u**2) * (np.abs(u) <= 1)
        return float(np.sum(weights * kernel) / (n * h))


# --------------------------------------------------------------------------- least squares


def weighted_least_squares(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, names: list[str]
) -> np.ndarray:
    r"""The weighted least-squares coefficients :math:`(X^\top W X)^{-1} X^\top W y`.

    By ``np.linalg.lstsq`` on the rows of positive weight scaled by
    :math:`\sqrt{w_i}`; a rank-deficient design is a :class:`DataError` naming
    the collinear columns (``names`` are the columns of ``X``).

    >>> weighted_least_squares(np.ones((3, 1)), np.array([1.0, 2.0, 6.0]), np.ones(3), ["a"])
    array([3.])
    """
    used = weights > 0
    if not used.all():
        X, y, weights = X[used], y[used], weights[used]
    root = np.sqrt(weights)
    beta, _, rank, _ = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)
    if rank < X.shape[1]:
        raise DataError(
            f"the design is singular: column(s) {collinear_columns(X, names)} are linear "
            "combinations of the others; drop them"
        )
    return beta
