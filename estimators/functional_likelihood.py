r"""Pure fits of :class:`~estimators.likelihood.MaximumLikelihood` and
:class:`~estimators.likelihood.MEstimator`.

The fits that :mod:`estimators.functional_smooth` hands to
:func:`estimators.functional.as_function`: ``fn(arrays, weights, hyper) ->
FitArrays`` in JAX only (``jit``, ``vmap``). The estimate is

.. math::  \hat\theta = \arg\min_\theta \frac{\sum_i w_i\,\rho(x_i; \theta)}{\sum_i w_i},

:math:`\rho` the negative log-density of the family (or the user's
``logpdf``) or the user's loss, solved as the estimators do: the data
rescaled exactly (the family's support: centred and divided by a power of two
for the real line, divided by a power of two for the positive half-line), the
parameters moved to their unconstrained space (log / softplus / logit), the
family's closed-form or moment starting values, then damped Newton
(:func:`estimators.solve.newton_loop`, the engine's own loop) with the
estimator's decrement tolerance :math:`\text{tol}^2/(2n)` relative to the loss
(likelihoods; ``loss_scale = 1``) or :math:`\text{tol}^2/n` (M-estimators).
Its derivative is the implicit derivative of the argmin
(:func:`estimators.implicit.implicit_argmin`), never through the iterations.

The covariance, from the exact Hessian :math:`H = n\,\nabla^2 \bar\rho` at the
estimate in the scaled units (then back to the data's): :math:`H^{-1}`
(``"nonrobust"``; NaN where :math:`H` is not positive definite) or the
sandwich :math:`H^{-1} \big(\sum_i w_i \psi_i \psi_i^\top\big) H^{-1}`,
:math:`\psi_i = \nabla_\theta \rho(x_i; \hat\theta)` (``"HC0"``, times
:math:`n/(n-p)` for ``"HC1"``).

Rows of weight 0 (padding) take the first used row's value, inside the
family's support, so they never turn the loss into NaN. A sample outside the
support gives NaN and ``converged = False`` (a pure function cannot raise on
traced data); ``fixed=`` is not supported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .errors import SettingsError
from .functional import FitArrays
from .functional_location import (
    as_floats,
    decrement_floor,
    hc_factor,
    power_of_two_above,
    weighted_order_statistic,
    weights_or_ones,
)
from .implicit import implicit_argmin
from .likelihood import MaximumLikelihood, _Objective
from .losses import weighted_mean
from .solve import DEFAULT_MAX_ITER, Status, newton_loop

__all__ = ["STARTS", "likelihood_fit"]


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
    """(ref, s) of likelihood_statistics.scaling_of over the rows of positive weight, in JAX."""
    one, zero = jnp.ones((), x.dtype), jnp.zeros((), x.dtype)
    used = w > 0
    low = jnp.min(jnp.where(used, x, jnp.inf))
    high = jnp.max(jnp.where(used, x, -jnp.inf))
    if support == "real":
        return 0.5 * low + 0.5 * high, power_of_two_above(0.5 * high - 0.5 * low)
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
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
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
        x = as_floats(arrays[0])
        w = weights_or_ones(weights, x)
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
        t = jnp.maximum(t, decrement_floor(x.dtype))  # as _LossEstimator._tolerance
        loss_scale = 1.0 if likelihood else 0.0
        out = newton_loop(
            objective, u0, ({"x": c, "w": w},), tol=t, loss_scale=loss_scale, max_iter=max_iter
        )
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
            bread = bread @ meat @ bread * hc_factor(cov_type, n, flat_c.size)
        params = jnp.concatenate(
            [jnp.ravel(to_data(units[m], theta_c[m], ref, s)) for m in spec.names]
        )
        ok = (out.status == Status.CONVERGED) | (out.status == Status.LOSS_CHANGE)
        ok = ok & jnp.all(jnp.isfinite(params))
        if family is not None and family.name == "student_t":
            ok = ok & (theta_c["df"] <= 1e6)  # distributions._df_ran_off
        return FitArrays(params, bread * jnp.outer(factors, factors), ok, out.k)

    return solve


def likelihood_fit(estimator: Any) -> tuple[Callable, list[str]]:
    """The pure fit of a MaximumLikelihood or MEstimator and the names of its parameters
    (``name`` for a scalar, ``name[j]`` for the entries of a vector)."""
    spec, shapes, labels = _likelihood_parts(estimator)
    fn = implicit_argmin(
        _likelihood_solve(estimator, spec, shapes), _likelihood_loss(spec, shapes)
    )
    return fn, labels
