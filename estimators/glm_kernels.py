r"""Compiled GLM kernels: the loss, its structured Hessian and the information matrix.

A GLM's loss is a weighted mean of a per-row loss of the linear predictor,
:math:`f(\beta) = \sum_i w_i\,\ell(\eta_i, y_i)`, :math:`\eta = X\beta + o`,
with :math:`\sum_i w_i = 1`. Its derivatives have a structure that
``jax.hessian`` of the whole loss does not exploit:

.. math::  \nabla f = \sum_i w_i\,\ell'(\eta_i)\,x_i, \qquad
           \nabla^2 f = X^\top \operatorname{diag}(w_i\,\ell''(\eta_i))\,X,

so only the scalar derivatives :math:`\ell'`, :math:`\ell''` come from autodiff
(``jax.grad`` once and twice of the per-row loss, vmapped), and the sums are
accumulated over row blocks of X (:func:`row_chunks`: one small GEMM per
block, about 1.2x the GEMM floor; PERFORMANCE.md, item 1). For the negative
binomial with estimated :math:`\alpha` the parameters are
:math:`(\beta, \log\alpha)` and the Hessian is bordered by the
:math:`\log\alpha` row and column.

Everything is cached per (family, link, alpha mode), so that
:func:`estimators.minimize`, which compiles its loop once per function object,
reuses the compiled Newton loop across fits.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .families import FAMILIES, LINKS, Family, Link
from .numerics import pad_rows, padded_length
from .solve import DEFAULT_MAX_ITER, Solution, Status, solution_from_loop, x64_context

# Rows per GEMM block in X^T W X: 1024 x 21 float64 = 172 kB, inside L2. Measured on the
# 2-core machine (CPU time of one fused value + gradient + X^T W X pass, 1e6 x 21):
# 512 or 1024 rows 70 ms, 2048 rows 91 ms, 8192 rows 87 ms, 256 rows 79 ms.
CHUNK = 1024


def row_chunks(fn, arrays, weights, chunk: int = CHUNK):
    """Sum ``fn(*row_block, block_weights)`` over blocks of rows, in one fori_loop.

    The last block is aligned to end at row n (overlapping the one before) and
    the rows it repeats get weight 0, so one copy of ``fn`` serves every block:
    half the code to compile of a separate remainder block, and no padded copy
    of the data.

    >>> with jax.enable_x64(True):
    ...     x = jnp.arange(5.0)
    ...     float(row_chunks(lambda xb, wb: wb @ xb, (x,), jnp.ones(5), chunk=2))
    10.0
    """
    n = arrays[0].shape[0]
    chunk = min(chunk, n)
    n_blocks = -(-n // chunk)
    rows = jnp.arange(chunk)

    def block(i):
        start = jnp.minimum(i * chunk, n - chunk)
        parts = [jax.lax.dynamic_slice_in_dim(a, start, chunk) for a in arrays]
        w = jax.lax.dynamic_slice_in_dim(weights, start, chunk)
        return fn(*parts, jnp.where(start + rows >= i * chunk, w, 0.0))

    if n_blocks == 1:
        return block(0)
    first = block(0)
    return jax.lax.fori_loop(
        1, n_blocks, lambda i, acc: jax.tree.map(jnp.add, acc, block(i)), first
    )


def _gram(x, v):
    # X^T diag(v) X of one block; (x * v).T @ x is a plain GEMM on XLA:CPU.
    return (x * v[:, None]).T @ x


@functools.cache
def _row_derivatives(family_name: str, link_name: str, estimate_alpha: bool):
    r"""The per-row loss :math:`\ell(\eta, y, \log\alpha)` and its derivatives, vmapped over rows.

    ``d1``: :math:`\partial\ell/\partial\eta` (and :math:`\partial\ell/\partial
    \log\alpha` when alpha is estimated); ``d2``: :math:`\partial^2\ell/\partial
    \eta^2`; ``hess2``: the 2 x 2 Hessian in :math:`(\eta, \log\alpha)`. All by
    autodiff (``jax.grad`` twice) of the scalar per-row loss of the family.
    """
    family, link = FAMILIES[family_name], LINKS[link_name]

    def row_nll(eta, y, log_alpha):
        return family.nll(eta, y, log_alpha, link)

    rows = {"in_axes": (0, 0, None)}
    argnums = (0, 2) if estimate_alpha else 0
    d1 = jax.vmap(jax.grad(row_nll, argnums=argnums), **rows)
    d2 = jax.vmap(jax.grad(jax.grad(row_nll)), **rows)
    hess2 = jax.vmap(jax.hessian(row_nll, argnums=(0, 2)), **rows)
    return row_nll, d1, d2, hess2


def loss_and_hessian(family_name: str, link_name: str, estimate_alpha: bool, mesh=None):
    r"""Loss and its (observed) Hessian for one model, in the solver's scaled coordinates.

    Both take ``(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift)``
    with ``wn = w / sum(w)`` and ``params = {"coef": gamma}`` (plus ``"log_alpha"``
    when alpha is estimated); the coefficients are ``beta = col_scale * gamma``.

    The loss carries a custom VJP: its value and gradient
    :math:`\sum_i w_i \ell'(\eta_i) x_i` come from ONE pass over the row
    blocks of X (``l'`` by autodiff of the per-row loss), where plain autodiff
    makes a second pass whose ``r @ X`` runs several times slower than a
    blocked one on XLA:CPU. (So the loss supports reverse mode only; the
    Hessian is the structured one below.)

    ``mesh``: a row mesh (:func:`estimators.sharding.row_mesh`) when ``X``,
    ``y``, ``wn`` and ``offset`` are sharded by rows over it. The row blocks are
    then folded on each device's own rows and the partial sums added by one
    ``psum`` (:func:`estimators.sharding.sharded_row_chunks`), where the plain
    blocked loop would all-gather the design onto every device. Cached per
    (model, mesh): one compiled Newton loop per mesh.
    """
    return _loss_and_hessian(family_name, link_name, estimate_alpha, mesh)


def _plain_reduce(fn, arrays, weights, *replicated):
    """:func:`row_chunks` taking the parameters explicitly, as the sharded reduce does."""
    return row_chunks(lambda *block: fn(*block, *replicated), arrays, weights)


@functools.cache
def _loss_and_hessian(family_name: str, link_name: str, estimate_alpha: bool, mesh):
    row_nll, d1_nll, d2_nll, hess2_nll = _row_derivatives(family_name, link_name, estimate_alpha)
    if mesh is None:
        reduce = _plain_reduce
    else:
        from .sharding import sharded_row_chunks  # sharding imports this module

        reduce = sharded_row_chunks(mesh)

    # The block functions take (beta, log_alpha) as explicit trailing arguments: the
    # sharded reduce runs them under shard_map, which cannot take values closed over
    # from the enclosing jit.
    def log_alpha_of(params, log_alpha_fixed):
        return params["log_alpha"] if estimate_alpha else log_alpha_fixed

    def value(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)

        def block(x, yb, ob, wb, beta, log_alpha):
            return wb @ row_nll(x @ beta + ob, yb, log_alpha)

        return reduce(block, (X, y, offset), wn, beta, log_alpha) - shift

    def value_and_grad(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        # Same blocks and the same summation order as value(): the two agree to the
        # last bit, which the line search's comparisons rely on.
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)

        def block(x, yb, ob, wb, beta, log_alpha):
            eta = x @ beta + ob
            d1 = d1_nll(eta, yb, log_alpha)
            d_eta, d_alpha = d1 if estimate_alpha else (d1, jnp.zeros_like(d1))
            return wb @ row_nll(eta, yb, log_alpha), (wb * d_eta) @ x, wb @ d_alpha

        total, g_beta, g_alpha = reduce(block, (X, y, offset), wn, beta, log_alpha)
        grads = {"coef": col_scale * g_beta}
        if estimate_alpha:
            grads["log_alpha"] = g_alpha
        return total - shift, grads

    loss = jax.custom_vjp(value)

    def loss_bwd(grads, cotangent):
        return (jax.tree.map(lambda g: cotangent * g, grads),) + (None,) * 7

    loss.defvjp(value_and_grad, loss_bwd)

    def hessian(params, X, y, wn, offset, col_scale, log_alpha_fixed, shift):
        beta = col_scale * params["coef"]
        log_alpha = log_alpha_of(params, log_alpha_fixed)
        outer = col_scale[:, None] * col_scale[None, :]
        if not estimate_alpha:

            def block(x, yb, ob, wb, beta, log_alpha):
                eta = x @ beta + ob
                return _gram(x, wb * d2_nll(eta, yb, log_alpha))

            gram = reduce(block, (X, y, offset), wn, beta, log_alpha)
            return outer * (gram + gram.T) / 2

        def block(x, yb, ob, wb, beta, log_alpha):
            eta = x @ beta + ob
            (h_ee, h_ea), (_, h_aa) = hess2_nll(eta, yb, log_alpha)
            return _gram(x, wb * h_ee), (wb * h_ea) @ x, wb @ h_aa

        gram, cross, h_aa = reduce(block, (X, y, offset), wn, beta, log_alpha)
        cross = col_scale * cross
        top = jnp.concatenate([outer * (gram + gram.T) / 2, cross[:, None]], axis=1)
        bottom = jnp.concatenate([cross, h_aa[None]])[None, :]
        return jnp.concatenate([top, bottom], axis=0)

    return loss, hessian


# --------------------------------------------------------------------------- information


@functools.cache
def _row_curvature(family_name: str, link_name: str, estimate_alpha: bool, expected: bool):
    r"""Jitted per-row second derivatives of the loss in eta (and log alpha), for the covariance.

    Returns ``(n,)`` values of :math:`\ell''(\eta_i)`, or ``(n, 3)`` columns
    :math:`(\ell_{\eta\eta}, \ell_{\eta a}, \ell_{aa})` when alpha is estimated.
    The information is assembled from them by :func:`_weighted_gram`, which is
    compiled once per shape whatever the model: together far less compile time
    than a second, model-specific Hessian kernel.
    """
    _, _, d2, hess2 = _row_derivatives(family_name, link_name, estimate_alpha)
    link = LINKS[link_name]
    if estimate_alpha:

        def curvature(eta, y, log_alpha):
            (h_ee, h_ea), (_, h_aa) = hess2(eta, y, log_alpha)
            return jnp.stack([h_ee, h_ea, h_aa], axis=1)

    else:

        def curvature(eta, y, log_alpha):
            # Expected information: l'' at y = mu(eta) (E[l'] = 0 leaves
            # E[l''] = mu'(eta)^2 / V(mu) for an exponential family).
            return d2(eta, link.mean(eta) if expected else y, log_alpha)

    return jax.jit(curvature)


@functools.cache
def _row_slopes(family_name: str, link_name: str, estimate_alpha: bool):
    r"""Jitted :math:`\partial\ell/\partial\eta` per row, with :math:`\partial\ell/\partial
    \log\alpha` as a second column when alpha is estimated (``(n,)`` or ``(n, 2)``)."""
    _, d1, _, _ = _row_derivatives(family_name, link_name, estimate_alpha)
    if not estimate_alpha:
        return jax.jit(d1)
    return jax.jit(lambda eta, y, log_alpha: jnp.stack(d1(eta, y, log_alpha), axis=1))


def row_slopes(
    family: Family, link: Link, y: jax.Array, eta: jax.Array, log_alpha: float, *, estimate_alpha
) -> np.ndarray:
    r"""The per-row loss's derivatives in the linear predictor (and in :math:`\log\alpha`).

    By the chain rule the score of row :math:`i` in :math:`\beta` is
    :math:`\ell'(\eta_i)\,x_i`: this is the row factor, by autodiff of the
    per-row loss (the Jacobian ``jax.jacfwd`` of the row losses in
    :math:`\beta` would be the same numbers at :math:`p` times the work).

    >>> with jax.enable_x64(True):  # poisson, log link: l' = mu - y
    ...     row_slopes(FAMILIES["poisson"], LINKS["log"], jnp.array([2.0]),
    ...                jnp.array([0.0]), 0.0, estimate_alpha=False).tolist()
    [-1.0]
    """
    slopes = _row_slopes(family.name, link.name, estimate_alpha)
    with x64_context("float64"):
        return np.asarray(slopes(eta, y, log_alpha), dtype=float)


def row_curvature(family: Family, link: Link, y: jax.Array, eta: jax.Array, log_alpha: float):
    r""":math:`\partial^2\ell/\partial\eta^2` per row at a fixed alpha (the observed one).

    The jitted function is the one :func:`information_matrix` uses, so for the
    shapes of a fit it is already compiled.
    """
    curvature = _row_curvature(family.name, link.name, False, False)
    with x64_context("float64"):
        return np.asarray(curvature(eta, y, log_alpha), dtype=float)


@jax.jit
def _weighted_gram(X: jax.Array, v: jax.Array) -> jax.Array:
    """X^T diag(v) X by row blocks (one compile per shape, whatever the model)."""
    gram = row_chunks(_gram, (X,), v)
    return (gram + gram.T) / 2


@jax.jit
def _weighted_column_sums(X: jax.Array, v: jax.Array) -> jax.Array:
    """X^T v by row blocks (a blocked r @ X is several times faster on XLA:CPU)."""
    return row_chunks(lambda x, vb: vb @ x, (X,), v)


def information_matrix(
    family: Family,
    link: Link,
    X: jax.Array,
    y: jax.Array,
    w: jax.Array,
    eta: jax.Array,
    log_alpha: float,
    *,
    estimate_alpha: bool,
    expected: bool,
) -> np.ndarray:
    r"""Hessian of :math:`\sum_i w_i \ell_i` in :math:`(\beta, \log\alpha)`, observed or expected.

    :math:`X^\top \operatorname{diag}(w_i \ell''_i) X`, bordered by the
    :math:`\log\alpha` row and column when alpha is estimated; with
    ``expected`` (fixed alpha only) :math:`\ell''_i` is taken at
    :math:`y_i = \mu_i`, the Fisher information. ``X``, ``y``, ``w`` and
    ``eta`` are device arrays.
    """
    curvature = _row_curvature(family.name, link.name, estimate_alpha, expected)
    with x64_context("float64"):
        c = curvature(eta, y, log_alpha)
        if not estimate_alpha:
            return np.asarray(_weighted_gram(X, w * c), dtype=float)
        gram = np.asarray(_weighted_gram(X, w * c[:, 0]), dtype=float)
        cross = np.asarray(_weighted_column_sums(X, w * c[:, 1]), dtype=float)
        h_aa = float(jnp.sum(w * c[:, 2]))
    return np.block([[gram, cross[:, None]], [cross[None, :], np.array([[h_aa]])]])


# --------------------------------------------------------------------------- small pieces


@functools.cache
def _jitted_mean(link_name: str):
    return jax.jit(LINKS[link_name].mean)


def mean_of(link: Link, eta: np.ndarray) -> np.ndarray:
    """Inverse link in float64 (JAX, so fit and predict share one definition).

    >>> mean_of(LINKS["log"], np.array([0.0, 1.0])).round(6).tolist()
    [1.0, 2.718282]
    """
    eta = np.asarray(eta, dtype=np.float64)
    if eta.ndim != 1:
        with x64_context("float64"):
            return np.asarray(_jitted_mean(link.name)(eta))
    # Padded to a size bucket (zeros are cut off again): one kernel per bucket,
    # so predicting for a new number of rows compiles nothing.
    (padded,) = pad_rows(eta, fill="first", length=padded_length(eta.size))
    with x64_context("float64"):
        return np.asarray(_jitted_mean(link.name)(padded))[: eta.size]


@jax.jit
def linear_predictor(X: jax.Array, beta: jax.Array, offset: jax.Array) -> jax.Array:
    """:math:`X\\beta + o` on the device (the design is already there)."""
    return X @ beta + offset


def column_scale(X: np.ndarray) -> np.ndarray:
    """Powers of two bringing each column's largest |value| into [1/2, 1) (1 for zero columns).

    Scaling by powers of two is exact, so it changes no digit of the fit; it
    helps the solver's eigenvalue floor and the final inverse.

    >>> column_scale(np.array([[3.0, 0.0, 0.5], [-0.25, 0.0, 0.1]])).tolist()
    [0.25, 1.0, 1.0]
    """
    largest = np.maximum(np.max(X, axis=0, initial=0.0), -np.min(X, axis=0, initial=0.0))
    return _power_of_two_scale(largest)


def _power_of_two_scale(largest: np.ndarray) -> np.ndarray:
    _, exponent = np.frexp(largest)
    return np.where(largest > 0, np.ldexp(1.0, -exponent), 1.0)


@jax.jit
def _column_largest(X: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(X), axis=0, initial=0.0)


def device_column_scale(X: jax.Array) -> np.ndarray:
    """:func:`column_scale` of a design already on the device: one fused pass.

    numpy's max and min make two passes over the host copy (about 4x the CPU
    time of this one on a 1e6 x 21 design). Rows padded with copies of a real
    row change no column maximum.

    >>> with jax.enable_x64(True):
    ...     device_column_scale(jnp.array([[3.0, 0.0, 0.5], [-0.25, 0.0, 0.1]])).tolist()
    [0.25, 1.0, 1.0]
    """
    with x64_context("float64"):
        return _power_of_two_scale(np.asarray(_column_largest(X), dtype=np.float64))


# --------------------------------------------------------------------------- fused Newton


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
