r"""Pure fits of the robust estimators with a concomitant MAD scale.

The fits that :mod:`estimators.functional_smooth` hands to
:func:`estimators.functional.as_function` for
:class:`~estimators.robust_location.Huber`,
:class:`~estimators.robust_location.TukeyBiweight` and
:class:`~estimators.robust.HuberRegression`: ``fn(arrays, weights, hyper) ->
FitArrays`` in JAX only (``jit``, ``vmap``), differentiable in the data, the
weights and the tuning constant ``c`` by the implicit function theorem
(:func:`estimators.implicit.implicit_root`), never through the iterations.

The concomitant scale. These estimators estimate the scale *jointly*
(statsmodels RLM's fixed point): the estimate solves

.. math::  F(\theta) = \frac{\partial}{\partial\vartheta}
           \frac{\sum_i w_i\,\rho_c\big(r_i(\vartheta)/s(\theta)\big)}{\sum_i w_i}
           \Big|_{\vartheta=\theta} = 0, \qquad
           s(\theta) = \frac{\operatorname{median}_w |r_i(\theta)|}{\Phi^{-1}(3/4)},

so the derivative differentiates the scale too: :math:`J = dF/d\theta`
includes :math:`ds/d\theta`, and :math:`\partial F/\partial z` the change
of the MAD with the data (through the order statistic it selects; the MAD
does not change with the weights, almost everywhere).

The solves follow the estimators' own paths. Location (``Huber``,
``TukeyBiweight``): rounds of a MAD about the current point, damped Newton at
that scale (:func:`estimators.solve.newton_loop`, the engine's own loop) and a
secant step on :math:`T(b) - b`, kept inside the bracket; covariance Huber's
H1 (``"nonrobust"``) or the HC0 / HC1 sandwich. ``HuberRegression``: IRLS
with MAD updates until settled (statsmodels' path), then exact Newton steps at
the current MAD, alternating, until the scale moves by at most ``tol``
(relative) and the coefficients by at most ``tol`` standard errors;
covariance H1.

HuberRegression takes the design as given, as
:mod:`estimators.functional_regression` does: with ``fit_intercept=True``
(the default) column 0 of ``X`` must be the column of ones (a lane where it is
not returns ``converged = False``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .functional import FitArrays
from .functional_location import (
    as_floats,
    decrement_floor,
    hc_factor,
    normalised_mad,
    power_of_two_above,
    tol_in_se,
    weighted_order_statistic,
    weights_or_ones,
)
from .implicit import implicit_root
from .losses import huber, weighted_mean
from .robust import SETTLED
from .solve import DEFAULT_MAX_ITER, Status, newton_loop

__all__ = [
    "concomitant_equations",
    "huber_regression_fit",
    "psi_dpsi",
    "robust_location_fit",
]


# --------------------------------------------------------------------------- shared


def psi_dpsi(rho: Callable, z: jax.Array, c: Any) -> tuple[jax.Array, jax.Array]:
    """psi = rho' and psi' at every ``z`` (by autodiff of the per-observation ``rho``)."""
    first = jax.grad(lambda t: rho(t, c=c))
    return jax.vmap(first)(z), jax.vmap(jax.grad(first))(z)


def concomitant_equations(rho: Callable, residuals_of: Callable) -> Callable:
    r"""F(theta) of the module docstring for ``residuals_of(theta, arrays) -> r``."""

    def equations(theta, arrays, weights, hyper):
        r_theta = residuals_of(theta, arrays)
        w = weights_or_ones(weights, r_theta)
        scale = normalised_mad(r_theta, w)

        def loss_at_scale(vartheta):
            return weighted_mean(rho(residuals_of(vartheta, arrays) / scale, c=hyper["c"]), w)

        return jax.grad(loss_at_scale)(theta)

    return equations


# --------------------------------------------------------------------------- robust location


def _robust_location_solve(estimator: Any, rho: Callable) -> Callable:
    """The rounds of :class:`~estimators.robust_location._RobustLocation`, in JAX."""
    max_rounds = int(estimator.max_scale_iter)
    max_iter = DEFAULT_MAX_ITER["newton"] if estimator.max_iter is None else estimator.max_iter
    start = estimator.start

    def objective(params, data, w, scale, c):
        return weighted_mean(rho((data - params["location"]) / scale, c=c), w)

    def solve(arrays, weights, hyper):
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
        c = jnp.asarray(hyper["c"], x.dtype)
        n = jnp.sum(w)
        tol = tol_in_se(float(estimator.tol), x.dtype)
        # the estimator passes its inner tol unfloored; float32 needs the floor
        inner_floor = 0.0 if x.dtype == jnp.float64 else decrement_floor(x.dtype)
        # centred at the median, in units of a power of two near the MAD (as the estimator)
        median = weighted_order_statistic(x, w, 0.5)
        unit = power_of_two_above(weighted_order_statistic(jnp.abs(x - median), w, 0.5))
        data = jnp.where(w > 0, (x - median) / unit, 0.0)
        delta0 = jnp.zeros((), x.dtype) if start is None else (start - median) / unit

        def round_(s):
            delta = s["delta"]
            scale = normalised_mad(data - delta, w)
            z = (data - delta) / scale
            psi, dpsi = psi_dpsi(rho, z, c)
            mean_loss = jnp.sum(w * rho(z, c=c)) / n
            mean_psi2, mean_dpsi = jnp.sum(w * psi * psi) / n, jnp.sum(w * dpsi) / n
            good = (mean_dpsi > 0) & (mean_psi2 > 0) & (mean_loss > 0)
            inner_tol = jnp.where(
                good, tol**2 * mean_psi2 / (2 * n * mean_dpsi * mean_loss), tol**2 / n
            )
            inner_tol = jnp.maximum(inner_tol, inner_floor)
            out = newton_loop(
                objective, {"location": delta}, (data, w, scale, c),
                tol=inner_tol, max_iter=max_iter,
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
        scale = normalised_mad(data - delta, w)
        variance = _location_variance(estimator, rho, c, (data - delta) / scale, w, n)
        location = median + unit * delta
        ok = state["ok"] & jnp.isfinite(location) & (scale > 0)
        cov = (variance * (scale * unit) ** 2).reshape(1, 1)
        return FitArrays(location[None], cov, ok, state["n_iter"])

    return solve


def _location_variance(estimator, rho, c, z, w, n):
    """Var / s^2 of the location: H1 (m_location_cov) or the HC0 / HC1 sandwich."""
    psi, dpsi = psi_dpsi(rho, z, c)
    m = jnp.sum(w * dpsi) / n
    if estimator.cov_type == "nonrobust":
        k = 1 + jnp.sum(w * (dpsi - m) ** 2) / n / (n * m * m)
        variance = k * k * jnp.sum(w * psi * psi) / (n - 1) / (m * m * n)
    else:
        variance = jnp.sum(w * psi * psi) / (n * m) ** 2 * hc_factor(estimator.cov_type, n, 1)
    return jnp.where(m > 0, variance, jnp.nan)


def _location_residuals(theta, arrays):
    return as_floats(arrays[0]) - theta[0]


# --------------------------------------------------------------------------- Huber regression


def _design(X: Any) -> jax.Array:
    """The design as given, 2-D: with ``fit_intercept`` its column 0 is the column of ones
    (the convention of :mod:`estimators.functional_regression`)."""
    X = as_floats(X)
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
        X, y = _design(arrays[0]), as_floats(arrays[1])
        w = weights_or_ones(weights, y)
        c = jnp.asarray(hyper["c"], y.dtype)
        n, p = jnp.sum(w), X.shape[1]
        used = (w > 0)[:, None]
        col_scale = power_of_two_above(jnp.max(jnp.where(used, jnp.abs(X), 0.0), axis=0))
        y_scale = power_of_two_above(jnp.max(jnp.where(w > 0, jnp.abs(y), 0.0)))
        Xs, ys = jnp.where(used, X / col_scale, 0.0), jnp.where(w > 0, y / y_scale, 0.0)
        root_w = jnp.sqrt(w)
        beta0 = jnp.linalg.lstsq(Xs * root_w[:, None], ys * root_w)[0]

        def step(s):
            beta, irls = s["beta"], s["irls"]
            r = ys - Xs @ beta
            scale = normalised_mad(r, w)
            z = r / scale
            psi, dpsi = psi_dpsi(huber, z, c)
            irls_w = jnp.where(z != 0, psi / jnp.where(z != 0, z, 1.0), dpsi)
            curvature = w * jnp.where(irls, irls_w, dpsi)
            A = (Xs * curvature[:, None]).T @ Xs
            new = beta + scale * jnp.linalg.solve(A, (w * psi) @ Xs)
            moved = new - beta
            r_new = ys - Xs @ new
            psi_n, dpsi_n = psi_dpsi(huber, r_new / scale, c)
            kappa = (jnp.sum(w * psi_n**2) / n) / jnp.maximum(
                jnp.abs(jnp.sum(w * dpsi_n)) / n, 1e-300
            ) ** 2
            quad = moved @ ((Xs * w[:, None]).T @ (Xs @ moved))
            in_se = jnp.sqrt(jnp.maximum(quad, 0.0) / (kappa * scale**2))
            gap = normalised_mad(r_new, w) - scale
            limit = jnp.where(irls, SETTLED, tol_in_se(tol, y.dtype))
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
        scale = normalised_mad(r, w)
        psi, dpsi = psi_dpsi(huber, r / scale, c)
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


# --------------------------------------------------------------------------- the fits


def robust_location_fit(estimator: Any, rho: Callable) -> Callable:
    """The pure fit of a robust location estimator (``Huber``: ``rho = losses.huber``,
    ``TukeyBiweight``: ``losses.tukey_biweight``), its settings read from ``estimator``."""
    equations = concomitant_equations(rho, _location_residuals)
    return implicit_root(_robust_location_solve(estimator, rho), equations)


def huber_regression_fit(estimator: Any) -> Callable:
    """The pure fit of :class:`~estimators.robust.HuberRegression` on ``(X, y)``."""

    def residuals_of(theta, arrays):
        return as_floats(arrays[1]) - _design(arrays[0]) @ theta

    return implicit_root(
        _huber_regression_solve(estimator), concomitant_equations(huber, residuals_of)
    )
