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

import jax
import jax.numpy as jnp
import numpy as np

from .families import FAMILIES, LINKS, Family, Link
from .numerics import pad_rows, padded_length
from .solve import x64_context

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


def device_mean(link: Link, eta: jax.Array) -> np.ndarray:
    """:func:`mean_of` of a linear predictor already on the device (a fit's, padded rows too).

    One elementwise kernel on the fit's own array: no copy to the host and back,
    and no padding to another size bucket.
    """
    with x64_context("float64"):
        return np.asarray(_jitted_mean(link.name)(eta), dtype=np.float64)


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
