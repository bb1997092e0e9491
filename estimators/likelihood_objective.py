r"""The objective of :class:`~estimators.likelihood.MaximumLikelihood` and
:class:`~estimators.likelihood.MEstimator`: the mean loss over unconstrained
parameters, the layout of the free parameters, and the compiled kernels of the
row path's inference (the Hessian of the mean loss, the rows' gradients).

.. math::  \bar\ell(u) = \frac{\sum_i w_i\,\rho(x_i; g(u))}{\sum_i w_i},

with :math:`g` the parameters' transforms (:data:`estimators.distributions.TRANSFORMS`)
and :math:`\rho = -\log f` for maximum likelihood; through a family's sufficient
statistics (``mean_nll``) where it has them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from .distributions import TRANSFORMS
from .losses import weighted_mean

# --------------------------------------------------------------------------- the objective


@dataclasses.dataclass(frozen=True)
class _NegatedLogpdf:
    """``-logpdf(params, x)``: the per-observation loss of maximum likelihood (hashable)."""

    logpdf: Callable

    def __call__(self, params, x):
        return -self.logpdf(params, x)


@dataclasses.dataclass(frozen=True)
class _Objective:
    """The mean loss over unconstrained parameters; hashable, so a static jit argument.

    ``data`` is ``{"x": values, "w": weights}`` (per observation) or, when
    ``mean_nll`` is given, a dict of sufficient statistics.
    """

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    per_obs: Callable
    mean_nll: Callable | None = None

    def natural(self, u: Mapping[str, Any]) -> dict[str, Any]:
        pairs = zip(self.names, self.transforms, strict=True)
        return {n: TRANSFORMS[t].to_natural(u[n]) for n, t in pairs}

    def mean_loss(self, theta: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
        if self.mean_nll is not None:
            return self.mean_nll(theta, data)
        return weighted_mean(self.per_obs(theta, data["x"]), data["w"])

    def __call__(self, u: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
        return self.mean_loss(self.natural(u), data)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Free parameters (names and shapes) flattened into one vector, in reporting order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    def flatten(self, params: Mapping[str, Any]) -> Any:
        return jnp.concatenate([jnp.ravel(jnp.asarray(params[n])) for n in self.names])

    def unflatten(self, vector: Any) -> dict[str, Any]:
        out, i = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = math.prod(shape)
            out[name] = vector[i : i + size].reshape(shape)
            i += size
        return out


@functools.partial(jax.jit, static_argnames=("objective", "layout"))
def _inference(objective, layout, u, data):
    """Natural parameters at ``u``, and, over the free ones (``layout``), the Hessian of
    the mean loss: one compiled call (O(1) beside sufficient statistics)."""
    theta = objective.natural(u)
    fixed = {n: v for n, v in theta.items() if n not in layout.names}

    def theta_of(vector):
        return {**fixed, **layout.unflatten(vector)}

    free = layout.flatten(theta)
    hessian = jax.hessian(lambda v: objective.mean_loss(theta_of(v), data))(free)
    return theta, hessian


@functools.partial(jax.jit, static_argnames=("objective", "layout"))
def _row_gradients(objective, layout, u, rows):
    """The rows' unweighted gradients psi_i over the free parameters (n x k)."""
    theta = objective.natural(u)
    fixed = {n: v for n, v in theta.items() if n not in layout.names}
    free = layout.flatten(theta)
    return jax.jacfwd(lambda v: objective.per_obs({**fixed, **layout.unflatten(v)}, rows["x"]))(
        free
    )
