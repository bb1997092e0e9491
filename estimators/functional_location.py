r"""Pure fits of the mean and the quantiles, and the helpers every one-sample pure fit shares.

The fits that :mod:`estimators.functional_smooth` hands to
:func:`estimators.functional.as_function` for :class:`~estimators.Mean`,
:class:`~estimators.Median` and :class:`~estimators.Quantile`:
``fn(arrays, weights, hyper) -> FitArrays`` in JAX only (``jit``, ``vmap``).

Mean. The closed form, in two passes (the second removes the rounding error of
the first), :math:`\bar x = \sum_i w_i x_i / W`; its variance
:math:`s^2/W` (``"nonrobust"``, ``ddof = 1``) or
:math:`\sum_i w_i (x_i - \bar x)^2 / W^2` (``"HC0"``, times :math:`W/(W-1)` for
``"HC1"``). Plain autodiff gives its derivatives.

Quantiles. The estimate is the exact order statistic
(:func:`weighted_order_statistic`), whose derivative in ``q`` and in the
weights is 0 almost everywhere (it is piecewise constant). The derivative
reported instead is the implicit derivative of the convolution-smoothed
pinball loss :math:`\ell_h` ("conquer",
:func:`estimators.losses.smoothed_pinball`) at the exact estimate
:math:`\hat Q`:

.. math::  \frac{d\hat Q}{dq} = \frac{1}{\hat f_h(\hat Q)}, \qquad
           \frac{\partial\hat Q}{\partial w_j} = \frac{q - \Phi((\hat Q - x_j)/h)}
           {W\,\hat f_h(\hat Q)}, \qquad
           \frac{\partial\hat Q}{\partial x_j} = \frac{w_j\,\varphi_h(x_j - \hat Q)}
           {W\,\hat f_h(\hat Q)},

with :math:`\hat f_h` the Gaussian kernel density of the data: the textbook
:math:`dQ/dq = 1/f(Q)` and the quantile's influence function
:math:`(q - 1\{x \le Q\})/f(Q)`, smoothed. The bandwidth is conquer's rule
(as :class:`~estimators.quantile.QuantileRegression`'s first stage, one
column): :math:`h = \max\{0.05,\ ((\log n + 1)/n)^{2/5}\}\,\hat\sigma`,
:math:`\hat\sigma` the normalised MAD; it is held fixed (not differentiated).
The covariance is :func:`~estimators.location.quantile_variance`'s
``"kernel"`` (statsmodels QuantReg on a constant).

Shared helpers (used by :mod:`estimators.functional_robust` and
:mod:`estimators.functional_likelihood` too): the inputs as floating arrays
and weights (:func:`as_floats`, :func:`weights_or_ones`), the exact weighted
order statistic and the normalised MAD, power-of-two units, the HC1 factor and
the tolerances a dtype can reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri
from scipy import special

from .functional import FitArrays
from .implicit import implicit_argmin
from .losses import smoothed_pinball, weighted_mean
from .numerics import NORMAL_MAD
from .order_statistics import TIE_RTOL
from .solve import default_tol

__all__ = [
    "FLOAT32_TOL_SE",
    "as_floats",
    "decrement_floor",
    "hc_factor",
    "mean_fit",
    "normalised_mad",
    "power_of_two_above",
    "quantile_fit",
    "tol_in_se",
    "weighted_order_statistic",
    "weights_or_ones",
]

# Hall-Sheather's z_{1 - alpha/2}, alpha = 0.05 (ndtri: what scipy.stats.norm.ppf calls)
_Z_975 = float(special.ndtri(0.975))

# float32 cannot reach the float64 accuracies the estimators promise (1e-8 or 1e-10
# standard errors): their tolerances are floored at these (``solve.default_tol``'s
# float32 value is 1e-6 = (1e-3)^2 for the decrement test).
FLOAT32_TOL_SE = 1e-3


# --------------------------------------------------------------------------- shared helpers


def tol_in_se(tol: float, dtype: Any) -> float:
    """The accuracy in standard errors a loop can reach in ``dtype``."""
    return tol if dtype == jnp.float64 else max(tol, FLOAT32_TOL_SE)


def decrement_floor(dtype: Any) -> float:
    """The smallest decrement tolerance (relative to the loss) worth asking for in ``dtype``."""
    return default_tol("float64" if dtype == jnp.float64 else "float32")


def as_floats(x: Any) -> jax.Array:
    """``x`` as a JAX array, integers converted to the default floating dtype."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def weights_or_ones(weights: Any, like: jax.Array) -> jax.Array:
    """The observation weights in the dtype of ``like``; ones where ``weights`` is None."""
    if weights is None:
        return jnp.ones(like.shape[0], like.dtype)
    return jnp.asarray(weights, like.dtype)


def power_of_two_above(value: jax.Array) -> jax.Array:
    """The power of two just above ``value`` > 0 (1 where it is 0 or not finite).

    Dividing by it rescales data exactly (no rounding), so the solvers see numbers
    near 1 whatever the units.
    """
    usable = (value > 0) & jnp.isfinite(value)
    _, exponent = jnp.frexp(jnp.where(usable, value, 1.0))
    return jnp.where(usable, jnp.ldexp(jnp.ones_like(value), exponent), 1.0)


def hc_factor(cov_type: str, n: jax.Array, k: int) -> Any:
    """The small-sample factor n / (n - k) of ``"HC1"`` (1 otherwise)."""
    return n / (n - k) if cov_type == "HC1" else 1.0


def weighted_order_statistic(x: jax.Array, w: jax.Array, q: Any) -> jax.Array:
    r"""The exact weighted ``q``-quantile, the convention of :class:`~estimators.Quantile`.

    ``low`` is the smallest value with :math:`W(x \le v) \ge qW`; where
    :math:`W(x \le \mathrm{low}) = qW` (up to
    :data:`~estimators.order_statistics.TIE_RTOL`) every point up to the next
    larger value minimises the pinball loss and the midpoint is returned
    (``q = 0.5``: ``np.median``). Rows of weight 0 are ignored. Autodiff
    passes through the selected value(s) (derivative 1 in ``x`` there, 0 in
    ``w`` and ``q``).

    >>> import jax.numpy as jnp
    >>> float(weighted_order_statistic(jnp.array([4.0, 1.0, 3.0, 2.0]), jnp.ones(4), 0.5))
    2.5
    """
    key = jnp.where(w > 0, x, jnp.inf)
    order = jnp.argsort(key)
    values, sorted_w = key[order], w[order]
    total = jnp.sum(w)
    slack = TIE_RTOL * total
    k = jnp.argmax(jnp.cumsum(sorted_w) >= q * total - slack)
    low = values[k]
    weight_le = jnp.sum(jnp.where(values <= low, sorted_w, 0.0))
    high = jnp.min(jnp.where(values > low, values, jnp.inf))
    tie = (weight_le <= q * total + slack) & jnp.isfinite(high)
    safe_high = jnp.where(tie, high, low)
    mid = (low + safe_high) / 2
    mid = jnp.where(jnp.isfinite(mid), mid, 0.5 * low + 0.5 * safe_high)
    return jnp.where(tie, mid, low)


def normalised_mad(r: jax.Array, w: jax.Array) -> jax.Array:
    r"""Normalised MAD about 0: :math:`\operatorname{median}_w |r_i| / \Phi^{-1}(3/4)`."""
    return weighted_order_statistic(jnp.abs(r), w, 0.5) / NORMAL_MAD


# --------------------------------------------------------------------------- Mean


def mean_fit(cov_type: str) -> Callable:
    """The pure fit of :class:`~estimators.Mean` with covariance ``cov_type``
    (``"nonrobust"``, ``"HC0"`` or ``"HC1"``)."""

    def fit(arrays, weights, hyper):
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
        n = jnp.sum(w)
        first = jnp.sum(w * x) / n
        mean = first + jnp.sum(w * (x - first)) / n  # second pass: the rounding error of the first
        ss = jnp.sum(w * (x - mean) ** 2)
        if cov_type == "nonrobust":
            variance = ss / (n - 1) / n  # s^2 / n, ddof = 1
        else:
            variance = ss / (n * n) * hc_factor(cov_type, n, 1)
        return FitArrays(
            mean[None], variance.reshape(1, 1), jnp.isfinite(mean), jnp.asarray(0, jnp.int32)
        )

    return fit


# --------------------------------------------------------------------------- quantiles


def _conquer_bandwidth(x: jax.Array, w: jax.Array) -> jax.Array:
    """conquer's rule, one column: max(0.05, ((log n + 1)/n)^0.4) * MAD (held fixed)."""
    x, w = jax.lax.stop_gradient((x, w))
    n = jnp.sum(w)
    sigma = normalised_mad(x - weighted_order_statistic(x, w, 0.5), w)
    spread = jnp.max(jnp.where(w > 0, jnp.abs(x - jnp.median(x)), 0.0))
    sigma = jnp.where(sigma > 0, sigma, jnp.where(spread > 0, spread, 1.0))
    return jnp.maximum(0.05, ((jnp.log(jnp.maximum(n, 2.0)) + 1.0) / n) ** 0.4) * sigma


def _quantile_loss(q_fixed: float | None) -> Callable:
    """The smoothed pinball loss ``loss(theta, arrays, weights, hyper)`` whose implicit
    derivative the quantile fits report (``q_fixed``, or ``hyper["q"]`` where None)."""

    def loss(theta, arrays, weights, hyper):
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
        q = q_fixed if q_fixed is not None else hyper["q"]
        h = _conquer_bandwidth(x, w)
        return weighted_mean(smoothed_pinball(x - theta[0], q=q, h=h), w)

    return loss


def _weighted_percentiles(x: jax.Array, w: jax.Array, percent: jax.Array) -> jax.Array:
    """numerics.weighted_percentile in JAX: numpy's linear rule on the repeated sample."""
    order = jnp.argsort(jnp.where(w > 0, x, jnp.inf))
    values, cumulative = x[order], jnp.cumsum(w[order])
    position = (cumulative[-1] - 1) * percent / 100.0
    lower = jnp.floor(position)

    def element(k):
        index = jnp.searchsorted(cumulative, k, side="right")
        return values[jnp.minimum(index, values.size - 1)]

    a, b, t = element(lower), element(lower + 1), position - lower
    return jnp.where(t < 0.5, a + t * (b - a), b - (b - a) * (1 - t))  # numpy's _lerp


def _quantile_kernel_variance(x, w, q, estimate):
    r"""location.quantile_variance(cov_type="kernel") in JAX: statsmodels QuantReg on a
    constant, Epanechnikov density with the Hall-Sheather bandwidth (see kernel_cov)."""
    n = jnp.sum(w)
    z = ndtri(q)
    ratio = 1.5 * jnp.exp(-z * z) / (2 * math.pi) / (2 * z * z + 1)  # 1.5 phi(z)^2 / (2z^2 + 1)
    h_q = n ** (-1 / 3) * _Z_975 ** (2 / 3) * ratio ** (1 / 3)
    sd = jnp.sqrt(jnp.sum(w * (x - jnp.sum(w * x) / n) ** 2) / n)
    residual = x - estimate
    q25, q75 = _weighted_percentiles(residual, w, jnp.array([25.0, 75.0]))
    h = jnp.minimum(sd, (q75 - q25) / 1.34) * (ndtri(q + h_q) - ndtri(q - h_q))
    u = residual / h
    density = jnp.sum(w * 0.75 * (1 - u * u) * (jnp.abs(u) <= 1)) / (n * h)
    d = jnp.where(residual > 0, (q / density) ** 2, ((1 - q) / density) ** 2)
    valid = (q - h_q > 0) & (q + h_q < 1) & (h > 0) & (density > 0)
    return jnp.where(valid, jnp.sum(w * d) / (n * n), jnp.nan)


def _quantile_solve(q_fixed: float | None) -> Callable:
    """The exact weighted order statistic and its kernel variance, as a pure fit whose
    derivatives are stopped (:func:`_quantile_loss` supplies them, through
    :func:`~estimators.implicit.implicit_argmin`)."""

    def solve(arrays, weights, hyper):
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
        q = q_fixed if q_fixed is not None else hyper["q"]
        x, w, q = jax.lax.stop_gradient((x, w, q))  # derivatives: the smoothed loss
        estimate = weighted_order_statistic(x, w, q)
        variance = _quantile_kernel_variance(x, w, q, estimate)
        return FitArrays(
            estimate[None],
            variance.reshape(1, 1),
            jnp.isfinite(estimate),
            jnp.asarray(0, jnp.int32),
        )

    return solve


def quantile_fit(q_fixed: float | None) -> Callable:
    """The pure fit of :class:`~estimators.Median` (``q_fixed=0.5``) or
    :class:`~estimators.Quantile` (``q_fixed=None``: ``q`` is the hyperparameter
    ``hyper["q"]``): the exact order statistic, derivatives of the smoothed loss."""
    return implicit_argmin(_quantile_solve(q_fixed), _quantile_loss(q_fixed))
