r"""The GLM's structured Newton loop: value, gradient and Hessian from one pass an iteration.

:func:`fused_newton` minimises the loss of
:func:`estimators.glm_kernels.loss_and_hessian` by the rules of
:func:`estimators.minimize` with ``solver="newton"`` (eigenvalue-floored
direction, Armijo backtracking, the Newton decrement test, the same
:class:`~estimators.solve.Status` codes), but one blocked pass over the rows of
X at a point gives the value, the gradient and
:math:`X^\top \operatorname{diag}(w\ell'')X` together, so an iteration whose
full step is accepted costs one pass over the design, and the Hessian at the
estimate comes with the last one.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .glm_kernels import _gram, _plain_reduce, _row_derivatives
from .solve import DEFAULT_MAX_ITER, Solution, Status, solution_from_loop, x64_context


class _NewtonCarry(NamedTuple):
    theta: jax.Array
    value: jax.Array
    grad: jax.Array
    hess: jax.Array
    k: jax.Array
    status: jax.Array
    decrement: jax.Array
    trace_loss: jax.Array
    trace_grad_norm: jax.Array


@functools.cache
def _fused_newton(family_name: str, link_name: str, estimate_alpha: bool, mesh, max_iter: int):
    r"""The jitted structured Newton loop of one model: one pass over X per iteration.

    :func:`estimators.minimize` with ``solver="newton"`` evaluates, per
    iteration, the Hessian at the current point, the loss at the trial point
    and the value and gradient at the accepted one: three passes over the
    design. Here one blocked pass at a point gives all three (value, gradient
    and :math:`X^\top \operatorname{diag}(w\ell'')X`), so an iteration whose
    full step is accepted costs one pass, and the Hessian at the final
    estimate (the observed information) comes with the last one. The rules
    are :func:`estimators.minimize`'s Newton: eigenvalue-floored direction,
    Armijo backtracking (each halving one more fused pass; rare), the Newton
    decrement test, a last full step once it passes (undone if it raises the
    loss beyond rounding and does not shrink the gradient), and the same
    :class:`~estimators.solve.Status` codes.
    """
    row_nll, d1_nll, d2_nll, hess2_nll = _row_derivatives(family_name, link_name, estimate_alpha)
    if mesh is None:
        reduce = _plain_reduce
    else:
        from .sharding import sharded_row_chunks  # sharding imports this module

        reduce = sharded_row_chunks(mesh)

    def block(x, yb, ob, wb, beta, log_alpha):
        eta = x @ beta + ob
        value = wb @ row_nll(eta, yb, log_alpha)
        if not estimate_alpha:
            d1 = d1_nll(eta, yb, log_alpha)
            return value, (wb * d1) @ x, _gram(x, wb * d2_nll(eta, yb, log_alpha))
        d_eta, d_alpha = d1_nll(eta, yb, log_alpha)
        (h_ee, h_ea), (_, h_aa) = hess2_nll(eta, yb, log_alpha)
        return (
            value,
            (wb * d_eta) @ x,
            _gram(x, wb * h_ee),
            wb @ d_alpha,
            (wb * h_ea) @ x,
            wb @ h_aa,
        )

    def evaluate(theta, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        """Loss, gradient and Hessian at ``theta`` (scaled coordinates), from one pass."""
        p = col_scale.shape[0]
        beta = col_scale * theta[:p]
        log_alpha = theta[p] if estimate_alpha else log_alpha_fixed
        parts = reduce(block, (X, y, offset), wn, beta, log_alpha)
        outer = col_scale[:, None] * col_scale[None, :]
        value, g_beta, gram = parts[:3]
        hess = outer * (gram + gram.T) / 2
        grad = col_scale * g_beta
        if estimate_alpha:
            g_alpha, cross, h_aa = parts[3:]
            cross = col_scale * cross
            grad = jnp.concatenate([grad, g_alpha[None]])
            top = jnp.concatenate([hess, cross[:, None]], axis=1)
            hess = jnp.concatenate([top, jnp.concatenate([cross, h_aa[None]])[None, :]], axis=0)
        return value - shift, grad, hess

    armijo, max_halvings = 1e-4, 40  # estimators.solve._Newton's

    def run(theta0, tol, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        args = (X, y, wn, offset, col_scale, log_alpha_fixed, shift)
        dtype = theta0.dtype
        eps = jnp.finfo(dtype).eps
        value0, grad0, hess0 = evaluate(theta0, *args)
        gnorm0 = jnp.linalg.norm(grad0)
        scale_floor = eps * jnp.abs(value0)

        def scale_of(value):
            return jnp.maximum(jnp.abs(value), scale_floor)

        status0 = jnp.where(
            ~jnp.isfinite(value0) | ~jnp.isfinite(gnorm0),
            Status.NONFINITE,
            jnp.where(gnorm0 == 0, Status.CONVERGED, Status.RUNNING),
        ).astype(jnp.int32)
        if max_iter == 0:
            status0 = jnp.where(status0 == Status.RUNNING, Status.MAX_ITER, status0)
            status0 = status0.astype(jnp.int32)
        trace_loss = jnp.full(max_iter + 1, jnp.nan, dtype).at[0].set(value0)
        trace_gn = jnp.full(max_iter + 1, jnp.nan, dtype).at[0].set(gnorm0)
        carry0 = _NewtonCarry(
            theta0,
            value0,
            grad0,
            hess0,
            jnp.int32(0),
            status0,
            jnp.where(gnorm0 == 0, 0.0, jnp.inf).astype(dtype),
            trace_loss,
            trace_gn,
        )

        def body(c: _NewtonCarry) -> _NewtonCarry:
            evals, evecs = jnp.linalg.eigh(c.hess)
            floor = jnp.max(jnp.abs(evals)) * eps**0.75
            inv = 1.0 / jnp.maximum(jnp.abs(evals), floor)
            d = -evecs @ (inv * (evecs.T @ c.grad))
            decrement = -c.grad @ d
            done = 0.5 * decrement <= tol * scale_of(c.value)
            noise = 4 * eps * jnp.abs(c.value)

            def accepted(t, value):
                return jnp.isfinite(value) & (value <= c.value - armijo * t * decrement + noise)

            def halve(s):
                t, _, i = s
                return t / 2, evaluate(c.theta + t / 2 * d, *args), i + 1

            def keep_halving(s):
                t, (value, _, _), i = s
                return ~done & (i < max_halvings) & ~accepted(t, value)

            first = (jnp.asarray(1.0, dtype), evaluate(c.theta + d, *args), 0)
            t, (value, grad, hess), _ = jax.lax.while_loop(keep_halving, halve, first)
            t = jnp.where(done | accepted(t, value), t, 0.0)
            improved = (value <= c.value + noise) | (
                jnp.linalg.norm(grad) < jnp.linalg.norm(c.grad)
            )
            worse = done & ~(improved & jnp.isfinite(value))
            # A failed line search (t = 0) leaves the point unchanged: that is a stall.
            unchanged = worse | (t == 0)
            theta, value, grad, hess = jax.tree.map(
                lambda new, old: jnp.where(unchanged, old, new),
                (c.theta + t * d, value, grad, hess),
                (c.theta, c.value, c.grad, c.hess),
            )
            k = c.k + 1
            moved = (t > 0) & jnp.any(d != 0)
            gnorm = jnp.linalg.norm(grad)
            status = jnp.select(
                [~(jnp.isfinite(value) & jnp.isfinite(gnorm)), ~moved, k >= max_iter],
                [Status.NONFINITE, Status.STALLED, Status.MAX_ITER],
                Status.RUNNING,
            )
            status = jnp.where(done, Status.CONVERGED, status).astype(jnp.int32)
            return _NewtonCarry(
                theta,
                value,
                grad,
                hess,
                k,
                status,
                decrement,
                c.trace_loss.at[k].set(value),
                c.trace_grad_norm.at[k].set(gnorm),
            )

        return jax.lax.while_loop(lambda c: c.status == Status.RUNNING, body, carry0)

    return jax.jit(run)


def fused_newton(
    family_name: str,
    link_name: str,
    estimate_alpha: bool,
    params0: dict,
    args: tuple,
    *,
    tol: float,
    max_iter: int | None,
    mesh=None,
) -> tuple[Solution, np.ndarray]:
    r"""Minimise the GLM loss of :func:`loss_and_hessian`: structured Newton, a pass an iteration.

    ``args`` are ``(X, y, wn, offset, col_scale, log_alpha_fixed, shift)`` as
    for :func:`loss_and_hessian` (device arrays), ``params0`` ``{"coef": ...}``
    (and ``"log_alpha"``), ``tol`` the decrement tolerance of
    :func:`estimators.minimize`. Returns the :class:`~estimators.solve.Solution`
    (as ``minimize(loss, params0, *args, solver="newton", hessian=...)``
    would, to rounding) and the Hessian of the loss at the returned parameters
    in the solver's scaled coordinates (bordered by ``log_alpha`` when
    estimated), so the observed information costs no further pass.
    """
    max_iter = DEFAULT_MAX_ITER["newton"] if max_iter is None else int(max_iter)
    runner = _fused_newton(family_name, link_name, estimate_alpha, mesh, max_iter)
    theta0 = np.asarray(params0["coef"], dtype=np.float64)
    if estimate_alpha:
        theta0 = np.append(theta0, np.float64(params0["log_alpha"]))
    with x64_context("float64"):
        out = jax.device_get(runner(jnp.asarray(theta0), jnp.float64(tol), *args))
    p = theta0.size - int(estimate_alpha)
    params = {"coef": np.asarray(out.theta[:p])}
    if estimate_alpha:
        params["log_alpha"] = np.asarray(out.theta[p])
    solution = solution_from_loop(out, params)
    return solution, np.asarray(out.hess, dtype=float)
