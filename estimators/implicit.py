r"""Differentiable fits: derivatives of an estimate by the implicit function theorem.

A fit :math:`\hat\theta(z)` of the inputs :math:`z = (D, w, \lambda)` (data
arrays, observation weights, hyperparameters) is defined by an optimality
condition, not by the iterations that found it:

.. math::  F(\hat\theta(z), z) = 0, \qquad F(\theta, z) = \nabla_\theta L(\theta, z)
           \ \text{for an argmin of a loss } L.

Differentiating the identity in :math:`z` gives the derivative of the estimate
without differentiating the solver,

.. math::  \frac{\partial\hat\theta}{\partial z}
           = -\,J^{-1}\,\frac{\partial F}{\partial z}\Big|_{\theta=\hat\theta},
           \qquad J = \frac{\partial F}{\partial\theta}\Big|_{\theta=\hat\theta}
           \ (= \nabla^2_\theta L, \text{ the Hessian, for an argmin}),

valid wherever :math:`J` is invertible and :math:`F` is differentiable at
:math:`(\hat\theta, z)` (almost everywhere for the piecewise-smooth losses
here). :func:`implicit_argmin` and :func:`implicit_root` wrap a solver
``solve(arrays, weights, hyper) -> FitArrays`` so that its ``params`` carry
exactly that derivative.

How. The wrapped function is a ``jax.custom_jvp``: its tangent rule runs the
solver on the primal inputs only (no tangent ever enters its loop), then
forms :math:`\dot\theta = -J^{-1}\,\partial_z F\,\dot z` with one
Jacobian-vector product of :math:`F` and one dense solve with :math:`J`
(:math:`p \times p`, by autodiff of :math:`F`). The tangent map is linear
in :math:`\dot z`, so JAX transposes it for reverse mode: ``jax.grad`` costs
one solve with :math:`J^\top` and one vector-Jacobian product of :math:`F`,
``jax.jacfwd`` one solve per input direction. Both modes work, under ``jit``
and ``vmap``; the solver's iterations are never differentiated (they may be a
``lax.while_loop``, which reverse mode could not go through anyway).

What is differentiated. Only ``params``. The covariance, ``converged`` and
``n_iter`` get zero tangents (``float0`` for the boolean and the integer):
standard errors are *not* differentiated, and a gradient that flows through
``cov`` is silently zero. The derivative is evaluated at the returned
``params``, so it is as accurate as the fit: a fit stopped early gives the
derivative at the point it stopped, not at the optimum. Second derivatives
of the fit (differentiating the tangent rule again) are not supported.

Example
-------
A ridge fit, :math:`\hat\beta = (X^\top X + \alpha I)^{-1} X^\top y`, with
:math:`d\hat\beta/d\alpha = -(X^\top X + \alpha I)^{-1}\hat\beta`:

>>> import jax, jax.numpy as jnp
>>> from estimators.functional import FitArrays
>>> def loss(beta, arrays, weights, hyper):
...     X, y = arrays
...     return 0.5 * jnp.sum((y - X @ beta) ** 2) + 0.5 * hyper["alpha"] * beta @ beta
>>> def solve(arrays, weights, hyper):
...     X, y = arrays
...     A = X.T @ X + hyper["alpha"] * jnp.eye(X.shape[1])
...     beta = jnp.linalg.solve(A, X.T @ y)
...     return FitArrays(beta, jnp.linalg.inv(A), jnp.array(True), jnp.array(0))
>>> fit = implicit_argmin(solve, loss)
>>> X, y = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), jnp.array([1.0, 2.0, 0.0])
>>> d = jax.jacfwd(lambda a: fit((X, y), None, {"alpha": a}).params)(1.0)
>>> beta = fit((X, y), None, {"alpha": 1.0}).params
>>> bool(jnp.allclose(d, -jnp.linalg.solve(X.T @ X + jnp.eye(2), beta), atol=1e-6))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .functional import FitArrays

__all__ = ["implicit_argmin", "implicit_root"]

Solver = Callable[[tuple, Any, Mapping[str, Any]], FitArrays]
Residual = Callable[[jax.Array, tuple, Any, Mapping[str, Any]], jax.Array]
Loss = Callable[[jax.Array, tuple, Any, Mapping[str, Any]], jax.Array]


def _zero_tangent(value: Any) -> Any:
    """The zero tangent of an output that is not differentiated."""
    value = jnp.asarray(value)
    if jnp.issubdtype(value.dtype, jnp.inexact):
        return jnp.zeros_like(value)
    return np.zeros(value.shape, dtype=jax.dtypes.float0)  # bool / int: JAX's tangent type


def implicit_root(solve: Solver, residual: Residual) -> Solver:
    r"""``solve`` with ``params`` differentiated through the root of ``residual``.

    Parameters
    ----------
    solve : ``solve(arrays, weights, hyper) -> FitArrays``, a pure JAX function
        whose ``params`` (shape ``(p,)``) solve :math:`F(\theta, z) = 0`.
    residual : ``residual(params, arrays, weights, hyper) -> (p,)``, the
        estimating equations :math:`F`; differentiable in ``params`` and in
        whichever inputs are to be differentiated.

    Returns
    -------
    A function with ``solve``'s signature and values whose ``params`` have
    the derivative :math:`-J^{-1}\,\partial F/\partial z`,
    :math:`J = \partial F/\partial\theta` at the returned ``params`` (see the
    module docstring). Use it for estimating equations that are not the
    gradient of one loss, such as an M-estimate with a concomitant scale.
    """

    @jax.custom_jvp
    def fit(arrays: tuple, weights: Any, hyper: Mapping[str, Any]) -> FitArrays:
        return solve(arrays, weights, hyper)

    @fit.defjvp
    def fit_jvp(primals, tangents):
        arrays, weights, hyper = primals
        out = solve(arrays, weights, hyper)
        theta = jax.lax.stop_gradient(out.params)

        def equations_of_inputs(a, w, h):
            return residual(theta, a, w, h)

        # dF/dz zdot: one Jacobian-vector product, linear in the tangents.
        _, f_dot = jax.jvp(equations_of_inputs, primals, tangents)
        jacobian = jax.jacobian(residual)(theta, arrays, weights, hyper)
        theta_dot = -jnp.linalg.solve(jacobian, f_dot)
        return out, FitArrays(
            theta_dot,
            _zero_tangent(out.cov),
            _zero_tangent(out.converged),
            _zero_tangent(out.n_iter),
        )

    return fit


def implicit_argmin(solve: Solver, loss: Loss) -> Solver:
    r"""``solve`` with ``params`` differentiated as the minimiser of ``loss``.

    .. math::  \hat\theta(z) = \arg\min_\theta L(\theta, z), \qquad
               \frac{\partial\hat\theta}{\partial z}
               = -\big(\nabla^2_\theta L\big)^{-1}\,
                 \frac{\partial\,\nabla_\theta L}{\partial z}\Big|_{\theta=\hat\theta}

    (:func:`implicit_root` with :math:`F = \nabla_\theta L`, whose Jacobian is
    the Hessian of the loss).

    Parameters
    ----------
    solve : ``solve(arrays, weights, hyper) -> FitArrays``, a pure JAX function
        returning the minimiser in ``params`` (shape ``(p,)``), by any means:
        a closed form, a ``lax.while_loop``, an exact finish.
    loss : ``loss(params, arrays, weights, hyper) -> scalar``, the objective
        ``solve`` minimises, written in the parametrisation of ``params``
        (the derivative of a minimiser does not depend on how the solver
        parametrised the problem internally, only on the condition
        :math:`\nabla_\theta L = 0` at the returned point).

    The data, the weights and every hyperparameter in ``hyper`` are
    differentiable inputs; ``cov``, ``converged`` and ``n_iter`` get zero
    tangents. Forward and reverse mode; ``jit`` and ``vmap``.
    """
    return implicit_root(solve, jax.grad(loss))
