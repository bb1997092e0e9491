r"""Pure, differentiable fits of the one-sample estimators and of Huber regression.

The provider of :func:`estimators.functional.as_function` for :class:`Mean`,
:class:`Median`, :class:`Quantile`, :class:`Huber`, :class:`TukeyBiweight`,
:class:`MaximumLikelihood`, :class:`MEstimator` and :class:`HuberRegression`.
Each pure fit ``fn(arrays, weights, hyper) -> FitArrays`` computes what the
estimator's ``.fit`` computes, with JAX only (``jit``, ``vmap``), and its
``params`` are differentiable in the data, the weights and the
hyperparameters by the implicit function theorem
(:mod:`estimators.implicit`), never through the solver's iterations.

=====================  ===========  ==========================================================
estimator              hyper        solve; derivative
=====================  ===========  ==========================================================
Mean                   --           closed form (two-pass weighted mean); plain autodiff
Median, Quantile       q            exact order statistic (numpy's convention, midpoint
                                    of a tie); the conquer-smoothed pinball loss (below)
Huber, TukeyBiweight   c            the estimator's rounds (MAD about the current point,
                                    damped Newton at that scale, secant on T(b) - b);
                                    root of the joint equation with the MAD scale
MaximumLikelihood,     --           damped Newton (the engine's own loop) on the
MEstimator                          unconstrained parameters; argmin of the mean loss
HuberRegression        c            IRLS then Newton, alternating with the MAD scale;
                                    root of the joint equation with the MAD scale
=====================  ===========  ==========================================================

The concomitant scale. ``Huber``, ``TukeyBiweight`` and ``HuberRegression``
estimate the scale *jointly* (statsmodels RLM's fixed point): the estimate
solves

.. math::  F(\theta) = \frac{\partial}{\partial\vartheta}
           \frac{\sum_i w_i\,\rho_c\big(r_i(\vartheta)/s(\theta)\big)}{\sum_i w_i}
           \Big|_{\vartheta=\theta} = 0, \qquad
           s(\theta) = \frac{\operatorname{median}_w |r_i(\theta)|}{\Phi^{-1}(3/4)},

so the derivative differentiates the scale too: :math:`J = dF/d\theta`
includes :math:`ds/d\theta`, and :math:`\partial F/\partial z` the change
of the MAD with the data (through the order statistic it selects; the MAD
does not change with the weights, almost everywhere).

Quantiles. The estimate is the exact order statistic, whose derivative in
``q`` and in the weights is 0 almost everywhere (it is piecewise constant).
The derivative reported instead is the implicit derivative of the
convolution-smoothed pinball loss :math:`\ell_h` ("conquer",
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

Precision. The fits compute in the dtype of their inputs: call them under
``jax.enable_x64(True)`` for float64 (the estimators' default); under JAX's
default float32 the loops stop at float32 tolerances. Pure functions cannot
raise on traced data: a sample the estimator would refuse (outside a
family's support, a zero MAD) gives NaN and ``converged = False`` instead.
Zero-weight rows are ignored (padding), whatever their values.

HuberRegression takes the design as given, as
:mod:`estimators.functional_regression` does: with ``fit_intercept=True``
(the default) column 0 of ``X`` must be the column of ones (a lane where it is
not returns ``converged = False``); ``param_names(p)`` counts that column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from scipy import stats

from .errors import SettingsError
from .functional import FitArrays, PureFit
from .implicit import implicit_argmin, implicit_root
from .likelihood import MaximumLikelihood, MEstimator, _Objective
from .location import Mean, Median, Quantile
from .losses import huber, smoothed_pinball, tukey_biweight, weighted_mean
from .numerics import NORMAL_MAD
from .order_statistics import TIE_RTOL
from .robust import SETTLED, HuberRegression
from .robust_location import Huber, TukeyBiweight
from .solve import DEFAULT_MAX_ITER, Status, _Newton, _run, default_tol

_Z_975 = float(stats.norm.ppf(0.975))  # Hall-Sheather's z_{1 - alpha/2}, alpha = 0.05

SUPPORTED = (
    "Mean",
    "Median",
    "Quantile",
    "Huber",
    "TukeyBiweight",
    "MaximumLikelihood",
    "MEstimator",
    "HuberRegression",
)


# --------------------------------------------------------------------------- helpers


# float32 cannot reach the float64 accuracies the estimators promise (1e-8 or 1e-10
# standard errors): their tolerances are floored at these (``solve.default_tol``'s
# float32 value is 1e-6 = (1e-3)^2 for the decrement test).
FLOAT32_TOL_SE = 1e-3


def _tol_se(tol: float, dtype: Any) -> float:
    """The accuracy in standard errors a loop can reach in ``dtype``."""
    return tol if dtype == jnp.float64 else max(tol, FLOAT32_TOL_SE)


def _decrement_floor(dtype: Any) -> float:
    return default_tol("float64" if dtype == jnp.float64 else "float32")


def _floats(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _weights(weights: Any, like: jax.Array) -> jax.Array:
    if weights is None:
        return jnp.ones(like.shape[0], like.dtype)
    return jnp.asarray(weights, like.dtype)


def _power_of_two_above(value: jax.Array) -> jax.Array:
    """The power of two just above ``value`` > 0 (1 where it is 0 or not finite)."""
    usable = (value > 0) & jnp.isfinite(value)
    _, exponent = jnp.frexp(jnp.where(usable, value, 1.0))
    return jnp.where(usable, jnp.ldexp(jnp.ones_like(value), exponent), 1.0)


def weighted_order_statistic(x: jax.Array, w: jax.Array, q: Any) -> jax.Array:
    r"""The exact weighted ``q``-quantile, the convention of :class:`~estimators.Quantile`.

    ``low`` is the smallest value with :math:`W(x \le v) \ge qW`; where
    :math:`W(x \le \mathrm{low}) = qW` (up to
    :data:`~estimators.order_statistics.TIE_RTOL`) every point up to the next
    larger value minimises the pinball loss and the midpoint is returned
    (``q = 0.5``: ``np.median``). Rows of weight 0 are ignored. Autodiff
    passes through the selected value(s) (derivative 1 in ``x`` there, 0 in
    ``w`` and ``q``).
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


def _mad(r: jax.Array, w: jax.Array) -> jax.Array:
    """Normalised MAD about 0: weighted median of |r| over Phi^{-1}(3/4)."""
    return weighted_order_statistic(jnp.abs(r), w, 0.5) / NORMAL_MAD


def _psi_dpsi(rho: Callable, z: jax.Array, c: Any) -> tuple[jax.Array, jax.Array]:
    first = jax.grad(lambda t: rho(t, c=c))
    return jax.vmap(first)(z), jax.vmap(jax.grad(first))(z)


def _check_cov_type(estimator: Any, allowed: tuple[str, ...]) -> str:
    cov_type = getattr(estimator, "cov_type", "nonrobust")
    if cov_type not in allowed:
        raise SettingsError(
            f"as_function({type(estimator).__name__}) computes cov_type in {list(allowed)}, "
            f"not {cov_type!r} (it needs more than the arrays and the weights)"
        )
    return cov_type


def _df_resid(estimator: Any, default_t: bool) -> Callable[[int, int], int | None]:
    """t with n - p degrees of freedom where the estimator reports t (its ``use_t``, or t by
    default for Mean / Median / Quantile, whose fits set ``df_resid_ = n - 1``), else z."""
    use_t = default_t if estimator.use_t is None else bool(estimator.use_t)
    return (lambda n, p: n - p) if use_t else (lambda n, p: None)


def _hc_factor(cov_type: str, n: jax.Array, k: int) -> Any:
    return n / (n - k) if cov_type == "HC1" else 1.0


def _concomitant_equations(rho: Callable, residuals_of: Callable) -> Callable:
    r"""F(theta) of the module docstring for ``residuals_of(theta, arrays) -> r``."""

    def equations(theta, arrays, weights, hyper):
        r_theta = residuals_of(theta, arrays)
        w = _weights(weights, r_theta)
        scale = _mad(r_theta, w)

        def loss_at_scale(vartheta):
            return weighted_mean(rho(residuals_of(vartheta, arrays) / scale, c=hyper["c"]), w)

        return jax.grad(loss_at_scale)(theta)

    return equations


# --------------------------------------------------------------------------- Mean


def _mean_fit(cov_type: str) -> Callable:
    def fit(arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
        n = jnp.sum(w)
        first = jnp.sum(w * x) / n
        mean = first + jnp.sum(w * (x - first)) / n  # second pass: the rounding error of the first
        ss = jnp.sum(w * (x - mean) ** 2)
        if cov_type == "nonrobust":
            variance = ss / (n - 1) / n  # s^2 / n, ddof = 1
        else:
            variance = ss / (n * n) * _hc_factor(cov_type, n, 1)
        return FitArrays(
            mean[None], variance.reshape(1, 1), jnp.isfinite(mean), jnp.asarray(0, jnp.int32)
        )

    return fit


# --------------------------------------------------------------------------- quantiles


def _conquer_bandwidth(x: jax.Array, w: jax.Array) -> jax.Array:
    """conquer's rule, one column: max(0.05, ((log n + 1)/n)^0.4) * MAD (held fixed)."""
    x, w = jax.lax.stop_gradient((x, w))
    n = jnp.sum(w)
    sigma = _mad(x - weighted_order_statistic(x, w, 0.5), w)
    spread = jnp.max(jnp.where(w > 0, jnp.abs(x - jnp.median(x)), 0.0))
    sigma = jnp.where(sigma > 0, sigma, jnp.where(spread > 0, spread, 1.0))
    return jnp.maximum(0.05, ((jnp.log(jnp.maximum(n, 2.0)) + 1.0) / n) ** 0.4) * sigma


def _quantile_loss(q_fixed: float | None) -> Callable:
    def loss(theta, arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
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
    def solve(arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
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


# --------------------------------------------------------------------------- robust location


def _robust_location_solve(estimator: Any, rho: Callable) -> Callable:
    """The rounds of :class:`~estimators.robust_location._RobustLocation`, in JAX."""
    max_rounds = int(estimator.max_scale_iter)
    max_iter = DEFAULT_MAX_ITER["newton"] if estimator.max_iter is None else estimator.max_iter
    start = estimator.start

    def objective(params, data, w, scale, c):
        return weighted_mean(rho((data - params["location"]) / scale, c=c), w)

    def solve(arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
        c = jnp.asarray(hyper["c"], x.dtype)
        n = jnp.sum(w)
        tol = _tol_se(float(estimator.tol), x.dtype)
        # the estimator passes its inner tol unfloored; float32 needs the floor
        inner_floor = 0.0 if x.dtype == jnp.float64 else _decrement_floor(x.dtype)
        # centred at the median, in units of a power of two near the MAD (as the estimator)
        median = weighted_order_statistic(x, w, 0.5)
        unit = _power_of_two_above(weighted_order_statistic(jnp.abs(x - median), w, 0.5))
        data = jnp.where(w > 0, (x - median) / unit, 0.0)
        delta0 = jnp.zeros((), x.dtype) if start is None else (start - median) / unit

        def round_(s):
            delta = s["delta"]
            scale = _mad(data - delta, w)
            z = (data - delta) / scale
            psi, dpsi = _psi_dpsi(rho, z, c)
            mean_loss = jnp.sum(w * rho(z, c=c)) / n
            mean_psi2, mean_dpsi = jnp.sum(w * psi * psi) / n, jnp.sum(w * dpsi) / n
            good = (mean_dpsi > 0) & (mean_psi2 > 0) & (mean_loss > 0)
            inner_tol = jnp.where(
                good, tol**2 * mean_psi2 / (2 * n * mean_dpsi * mean_loss), tol**2 / n
            )
            inner_tol = jnp.maximum(inner_tol, inner_floor)
            out = _run(
                objective, _Newton(), {"location": delta}, (data, w, scale, c),
                inner_tol, 0.0, 0.0, max_iter,
            )  # fmt: skip
            moved = out.params["location"]
            step = moved - delta
            settled = jnp.abs(step) <= tol * scale / jnp.sqrt(n)
            pos = jnp.where(~settled & (step > 0), delta, s["pos"])
            has_pos = s["has_pos"] | (~settled & (step > 0))
            neg = jnp.where(~settled & (step <= 0), delta, s["neg"])
            has_neg = s["has_neg"] | (~settled & (step <= 0))
            # secant through the last two points, kept inside the bracket (_secant)
            secant = s["has_prev"] & (step != s["prev_h"])
            denominator = jnp.where(secant, step - s["prev_h"], 1.0)
            following = jnp.where(
                secant, delta - step * (delta - s["prev_b"]) / denominator, delta + step
            )
            lo, hi = jnp.minimum(pos, neg), jnp.maximum(pos, neg)
            outside = has_pos & has_neg & ~((lo < following) & (following < hi))
            following = jnp.where(outside, 0.5 * (lo + hi), following)
            converged = (out.status == Status.CONVERGED) | (out.status == Status.LOSS_CHANGE)
            return {
                "delta": jnp.where(settled, delta, following),
                "moved": moved,
                "rounds": s["rounds"] + 1,
                "settled": settled | ~jnp.isfinite(step),
                "ok": converged & settled,
                "n_iter": s["n_iter"] + out.k,
                "prev_b": delta,
                "prev_h": step,
                "has_prev": jnp.asarray(True),
                "pos": pos,
                "has_pos": has_pos,
                "neg": neg,
                "has_neg": has_neg,
            }

        zero, false = jnp.zeros((), x.dtype), jnp.asarray(False)
        state = {
            "delta": delta0, "moved": delta0, "rounds": jnp.asarray(0, jnp.int32),
            "settled": false, "ok": false, "n_iter": jnp.asarray(0, jnp.int32),
            "prev_b": zero, "prev_h": zero, "has_prev": false,
            "pos": zero, "has_pos": false, "neg": zero, "has_neg": false,
        }  # fmt: skip
        state = jax.lax.while_loop(
            lambda s: (s["rounds"] < max_rounds) & ~s["settled"], round_, state
        )
        delta = state["moved"]
        scale = _mad(data - delta, w)
        variance = _location_variance(estimator, rho, c, (data - delta) / scale, w, n)
        location = median + unit * delta
        ok = state["ok"] & jnp.isfinite(location) & (scale > 0)
        cov = (variance * (scale * unit) ** 2).reshape(1, 1)
        return FitArrays(location[None], cov, ok, state["n_iter"])

    return solve


def _location_variance(estimator, rho, c, z, w, n):
    """Var / s^2 of the location: H1 (m_location_cov) or the HC0 / HC1 sandwich."""
    psi, dpsi = _psi_dpsi(rho, z, c)
    m = jnp.sum(w * dpsi) / n
    if estimator.cov_type == "nonrobust":
        k = 1 + jnp.sum(w * (dpsi - m) ** 2) / n / (n * m * m)
        variance = k * k * jnp.sum(w * psi * psi) / (n - 1) / (m * m * n)
    else:
        variance = jnp.sum(w * psi * psi) / (n * m) ** 2 * _hc_factor(estimator.cov_type, n, 1)
    return jnp.where(m > 0, variance, jnp.nan)


def _location_residuals(theta, arrays):
    return _floats(arrays[0]) - theta[0]


# --------------------------------------------------------------------------- Huber regression


def _design(X: Any) -> jax.Array:
    """The design as given, 2-D: with ``fit_intercept`` its column 0 is the column of ones
    (the convention of :mod:`estimators.functional_regression`)."""
    X = _floats(X)
    return X[:, None] if X.ndim == 1 else X


def _huber_regression_solve(estimator: Any) -> Callable:
    r"""IRLS with MAD updates until settled (statsmodels' path), then exact Newton steps
    at the current MAD, alternating, until the scale moves by <= tol (relative) and the
    coefficients by <= tol standard errors (:class:`~estimators.robust.HuberRegression`)."""
    tol, max_iter, intercept = (
        float(estimator.tol),
        int(estimator.max_iter),
        estimator.fit_intercept,
    )

    def solve(arrays, weights, hyper):
        X, y = _design(arrays[0]), _floats(arrays[1])
        w = _weights(weights, y)
        c = jnp.asarray(hyper["c"], y.dtype)
        n, p = jnp.sum(w), X.shape[1]
        used = (w > 0)[:, None]
        col_scale = _power_of_two_above(jnp.max(jnp.where(used, jnp.abs(X), 0.0), axis=0))
        y_scale = _power_of_two_above(jnp.max(jnp.where(w > 0, jnp.abs(y), 0.0)))
        Xs, ys = jnp.where(used, X / col_scale, 0.0), jnp.where(w > 0, y / y_scale, 0.0)
        root_w = jnp.sqrt(w)
        beta0 = jnp.linalg.lstsq(Xs * root_w[:, None], ys * root_w)[0]

        def step(s):
            beta, irls = s["beta"], s["irls"]
            r = ys - Xs @ beta
            scale = _mad(r, w)
            z = r / scale
            psi, dpsi = _psi_dpsi(huber, z, c)
            irls_w = jnp.where(z != 0, psi / jnp.where(z != 0, z, 1.0), dpsi)
            curvature = w * jnp.where(irls, irls_w, dpsi)
            A = (Xs * curvature[:, None]).T @ Xs
            new = beta + scale * jnp.linalg.solve(A, (w * psi) @ Xs)
            moved = new - beta
            r_new = ys - Xs @ new
            psi_n, dpsi_n = _psi_dpsi(huber, r_new / scale, c)
            kappa = (jnp.sum(w * psi_n**2) / n) / jnp.maximum(
                jnp.abs(jnp.sum(w * dpsi_n)) / n, 1e-300
            ) ** 2
            quad = moved @ ((Xs * w[:, None]).T @ (Xs @ moved))
            in_se = jnp.sqrt(jnp.maximum(quad, 0.0) / (kappa * scale**2))
            gap = _mad(r_new, w) - scale
            limit = jnp.where(irls, SETTLED, _tol_se(tol, y.dtype))
            settled = (jnp.abs(gap) <= limit * scale) & (in_se <= limit)
            finite = jnp.all(jnp.isfinite(new))
            return {
                "beta": new,
                "irls": irls & ~settled,
                "done": (~irls & settled) | ~finite,
                "ok": ~irls & settled & finite,
                "k": s["k"] + 1,
            }

        state = {"beta": beta0, "irls": jnp.asarray(True), "done": jnp.asarray(False),
                 "ok": jnp.asarray(False), "k": jnp.asarray(0, jnp.int32)}  # fmt: skip
        state = jax.lax.while_loop(lambda s: ~s["done"] & (s["k"] < max_iter), step, state)
        beta_s = state["beta"]
        r = ys - Xs @ beta_s
        scale = _mad(r, w)
        psi, dpsi = _psi_dpsi(huber, r / scale, c)
        # H1 (robust.h1_covariance) in the scaled units, then to data units
        m = jnp.sum(w * dpsi) / n
        k = 1.0 + p / n * (jnp.sum(w * (dpsi - m) ** 2) / n) / m**2
        factor = k**2 * (jnp.sum(w * psi**2) * scale**2 / (n - p)) / m**2
        cov_s = factor * jnp.linalg.inv((Xs * w[:, None]).T @ Xs)
        to_data = y_scale / col_scale
        beta = beta_s * to_data
        ok = state["ok"] & jnp.all(jnp.isfinite(beta)) & (scale > 0)
        if intercept:  # a declared intercept column that is not all ones: not this model
            ok = ok & ~jnp.any((w > 0) & (X[:, 0] != 1.0))
        return FitArrays(beta, cov_s * jnp.outer(to_data, to_data), ok, state["k"])

    return solve


# --------------------------------------------------------------------------- likelihood


# JAX starting values of the named families (closed forms or moments: estimators.distributions).
def _wm(v, w):
    return jnp.sum(w * v) / jnp.sum(w)


def _wv(v, w):
    return _wm((v - _wm(v, w)) ** 2, w)


def _student_t_start(c, w):
    loc = weighted_order_statistic(c, w, 0.5)
    mad = 1.4826 * weighted_order_statistic(jnp.abs(c - loc), w, 0.5)
    v = _wv(c, w)
    kurt = _wm((c - _wm(c, w)) ** 4, w) / (v * v) - 3.0
    df = jnp.where(kurt > 0, 4.0 + 6.0 / jnp.where(kurt > 0, kurt, 1.0), 30.0)
    return {
        "loc": loc,
        "scale": jnp.where(mad > 0, mad, jnp.sqrt(v)),
        "df": jnp.clip(df, 2.5, 30.0),
    }


def _gamma_start(c, w):
    m = _wm(c, w)
    s = jnp.log(m) - _wm(jnp.log(c), w)
    k = (3.0 - s + jnp.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    return {"shape": k, "scale": m / k}


def _beta_start(c, w):
    m, v = _wm(c, w), _wv(c, w)
    common = m * (1.0 - m) / v - 1.0
    return {"a": m * common, "b": (1.0 - m) * common}


def _weibull_start(c, w):
    logc = jnp.log(c)
    k = math.pi / jnp.sqrt(6.0 * _wv(logc, w))
    return {"shape": k, "scale": jnp.exp(_wm(logc, w) + 0.5772156649015329 / k)}


def _negative_binomial_start(c, w):
    m, v = _wm(c, w), _wv(c, w)
    return {"mean": m, "alpha": jnp.maximum((v - m) / (m * m), 1e-2)}


STARTS: dict[str, Callable] = {
    "normal": lambda c, w: {"mean": _wm(c, w), "sd": jnp.sqrt(_wv(c, w))},
    "exponential": lambda c, w: {"scale": _wm(c, w)},
    "gamma": _gamma_start,
    "beta": _beta_start,
    "weibull": _weibull_start,
    "lognormal": lambda c, w: {
        "meanlog": _wm(jnp.log(c), w),
        "sdlog": jnp.sqrt(_wv(jnp.log(c), w)),
    },
    "student_t": _student_t_start,
    "poisson": lambda c, w: {"mean": _wm(c, w)},
    "negative_binomial": _negative_binomial_start,
    "geometric": lambda c, w: {"p": 1.0 / (1.0 + _wm(c, w))},
}

_TO_UNCONSTRAINED = {
    "identity": lambda t: t,
    "log": jnp.log,
    "softplus": lambda t: t + jnp.log(-jnp.expm1(-t)),
    "logit": lambda t: jnp.log(t) - jnp.log1p(-t),
}


def _scaling(support: str | None, x: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(ref, s) of likelihood._scaling over the rows of positive weight, in JAX."""
    one, zero = jnp.ones((), x.dtype), jnp.zeros((), x.dtype)
    used = w > 0
    low = jnp.min(jnp.where(used, x, jnp.inf))
    high = jnp.max(jnp.where(used, x, -jnp.inf))
    if support == "real":
        return 0.5 * low + 0.5 * high, _power_of_two_above(0.5 * high - 0.5 * low)
    if support == "positive":
        e_low, e_high = jnp.frexp(low)[1], jnp.frexp(high)[1]
        return zero, jnp.ldexp(one, (e_low + e_high) // 2)
    return zero, one


def _likelihood_parts(estimator: Any):
    spec = estimator._spec()
    if estimator.fixed is not None:
        raise SettingsError(f"as_function({type(estimator).__name__}) does not support fixed=")
    shapes = {}
    for name in spec.names:
        given = (estimator.params0 or {}).get(name)
        shapes[name] = () if given is None else np.shape(given)
    labels = []
    for name in spec.names:
        size = math.prod(shapes[name])
        labels += [name] if shapes[name] == () else [f"{name}[{j}]" for j in range(size)]
    return spec, shapes, labels


def _flatten(theta: Mapping[str, Any], names) -> jax.Array:
    return jnp.concatenate([jnp.ravel(theta[n]) for n in names])


def _unflatten(vector: jax.Array, names, shapes) -> dict[str, jax.Array]:
    out, i = {}, 0
    for name in names:
        size = math.prod(shapes[name])
        out[name] = vector[i : i + size].reshape(shapes[name])
        i += size
    return out


def _safe_rows(x: jax.Array, w: jax.Array) -> jax.Array:
    """Zero-weight rows (padding) take the first used row's value: inside the support."""
    return jnp.where(w > 0, x, x[jnp.argmax(w > 0)])


def _likelihood_loss(spec, shapes) -> Callable:
    def loss(theta, arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
        params = _unflatten(theta, spec.names, shapes)
        return weighted_mean(spec.per_obs(params, _safe_rows(x, w)), w)

    return loss


def _likelihood_solve(estimator: Any, spec, shapes) -> Callable:
    family = spec.family
    likelihood = isinstance(estimator, MaximumLikelihood)
    cov_type = estimator.cov_type
    max_iter = DEFAULT_MAX_ITER["newton"] if estimator.max_iter is None else estimator.max_iter
    objective = _Objective(spec.names, spec.transforms, spec.per_obs)
    units = dict(zip(spec.names, spec.units, strict=True))
    params0 = dict(estimator.params0 or {})

    def to_scaled(unit, value, ref, s):
        if unit == "location":
            return (value - ref) / s
        if unit == "scale":
            return value / s
        return value - jnp.log(s) if unit == "log_location" else value

    def to_data(unit, value, ref, s):
        if unit == "location":
            return ref + s * value
        if unit == "scale":
            return s * value
        return value + jnp.log(s) if unit == "log_location" else value

    def solve(arrays, weights, hyper):
        x = _floats(arrays[0])
        w = _weights(weights, x)
        x = _safe_rows(x, w)
        n = jnp.sum(w)
        ref, s = _scaling(family.support if family is not None else None, x, w)
        c = (x - ref) / s
        theta0 = dict(STARTS[family.name](c, w)) if family is not None else {}
        for name, value in params0.items():
            theta0[name] = to_scaled(units[name], jnp.asarray(value, x.dtype), ref, s)
        u0 = {
            name: _TO_UNCONSTRAINED[t](jnp.asarray(theta0[name], x.dtype))
            for name, t in zip(spec.names, spec.transforms, strict=True)
        }
        t = (estimator.tol**2 / (2.0 * n)) if likelihood else (estimator.tol**2 / n)
        t = jnp.maximum(t, _decrement_floor(x.dtype))  # as _LossEstimator._tolerance
        loss_scale = 1.0 if likelihood else 0.0
        out = _run(objective, _Newton(), u0, ({"x": c, "w": w},), t, 0.0, loss_scale, max_iter)
        theta_c = objective.natural(out.params)
        flat_c = _flatten(theta_c, spec.names)
        factors = jnp.concatenate(
            [jnp.full(math.prod(shapes[m]), s if units[m] in ("location", "scale") else 1.0)
             for m in spec.names]
        )  # fmt: skip

        def mean_loss(v):
            return objective.mean_loss(_unflatten(v, spec.names, shapes), {"x": c, "w": w})

        hessian = n * jax.hessian(mean_loss)(flat_c)
        evals = jnp.linalg.eigvalsh(hessian)
        positive = evals[0] > evals[-1] * hessian.shape[0] * jnp.finfo(x.dtype).eps
        inverse = jnp.linalg.inv(hessian)
        bread = jnp.where(positive, 0.5 * (inverse + inverse.T), jnp.nan)
        if cov_type != "nonrobust":
            psi = jax.vmap(
                jax.grad(lambda v, xi: spec.per_obs(_unflatten(v, spec.names, shapes), xi)),
                in_axes=(None, 0),
            )(flat_c, c)
            meat = (psi * w[:, None]).T @ psi
            bread = bread @ meat @ bread * _hc_factor(cov_type, n, flat_c.size)
        params = jnp.concatenate(
            [jnp.ravel(to_data(units[m], theta_c[m], ref, s)) for m in spec.names]
        )
        ok = (out.status == Status.CONVERGED) | (out.status == Status.LOSS_CHANGE)
        ok = ok & jnp.all(jnp.isfinite(params))
        if family is not None and family.name == "student_t":
            ok = ok & (theta_c["df"] <= 1e6)  # distributions._df_ran_off
        return FitArrays(params, bread * jnp.outer(factors, factors), ok, out.k)

    return solve


# --------------------------------------------------------------------------- provider


def pure_fit(estimator: Any) -> PureFit | None:
    r"""The pure fit of ``estimator`` if this module provides it, else None.

    The estimator's settings are checked (SettingsError), and so is its
    ``cov_type``: the pure fits compute the covariances that need only the
    arrays and the weights (Mean, Huber, TukeyBiweight, MaximumLikelihood,
    MEstimator: ``"nonrobust"``, ``"HC0"``, ``"HC1"``; Median, Quantile:
    ``"kernel"``; HuberRegression: ``"nonrobust"``, Huber's H1).

    The derivative of the mean in the weight of one row is its influence
    function over n, :math:`(x_j - \bar x)/n`:

    >>> import jax, numpy as np
    >>> fit = pure_fit(Mean())
    >>> x = np.array([1.0, 2.0, 6.0])
    >>> with jax.enable_x64(True):
    ...     slopes = jax.grad(lambda w: fit(x, weights=w).params[0])(np.ones(3))
    >>> [round(float(s), 12) for s in slopes]
    [-0.666666666667, -0.333333333333, 1.0]
    """
    kind = type(estimator)
    if kind not in (Mean, Median, Quantile, Huber, TukeyBiweight, MaximumLikelihood,
                    MEstimator, HuberRegression):  # fmt: skip
        return None
    estimator._check_settings()
    if kind is Mean:
        cov_type = _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
        return PureFit(
            _mean_fit(cov_type), ("x",), lambda p: ["mean"], {}, _df_resid(estimator, True)
        )
    if kind in (Median, Quantile):
        _check_cov_type(estimator, ("kernel",))
        q_fixed = 0.5 if kind is Median else None
        fn = implicit_argmin(_quantile_solve(q_fixed), _quantile_loss(q_fixed))
        name = "median" if kind is Median else f"quantile_{estimator.q:g}"
        hyper = {} if kind is Median else {"q": float(estimator.q)}
        return PureFit(fn, ("x",), lambda p: [name], hyper, _df_resid(estimator, True))
    if kind in (Huber, TukeyBiweight):
        _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
        rho = huber if kind is Huber else tukey_biweight
        equations = _concomitant_equations(rho, _location_residuals)
        fn = implicit_root(_robust_location_solve(estimator, rho), equations)
        hyper = {"c": float(estimator.c)}
        return PureFit(fn, ("x",), lambda p: ["location"], hyper, _df_resid(estimator, False))
    if kind is HuberRegression:
        _check_cov_type(estimator, ("nonrobust",))
        intercept = bool(estimator.fit_intercept)

        def residuals_of(theta, arrays):
            return _floats(arrays[1]) - _design(arrays[0]) @ theta

        def names(p: int) -> list[str]:
            return ["Intercept"] * intercept + [f"x{j}" for j in range(p - intercept)]

        fn = implicit_root(
            _huber_regression_solve(estimator), _concomitant_equations(huber, residuals_of)
        )
        return PureFit(
            fn, ("X", "y"), names,
            {"c": float(estimator.c)}, _df_resid(estimator, False),
        )  # fmt: skip
    _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
    spec, shapes, labels = _likelihood_parts(estimator)
    fn = implicit_argmin(
        _likelihood_solve(estimator, spec, shapes), _likelihood_loss(spec, shapes)
    )
    return PureFit(fn, ("x",), lambda p: list(labels), {}, _df_resid(estimator, False))
