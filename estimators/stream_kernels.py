"""Block kernels and small dense linear algebra of :func:`~estimators.stream.fit_stream`.

The jitted kernels reduce one block ``Z = [X, y, w]`` (padding rows have
weight 0, so they add nothing): a streaming QR step for least squares and,
per GLM family and link, the weighted loss, gradient and Hessian
:math:`X^\top \\operatorname{diag}(w\\,\\ell'') X`, and an optax epoch over a
block's minibatches. The helpers work on the p x p results with an
equilibrated (unit-diagonal) scaling, so badly scaled columns do not cost
accuracy.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from .errors import DataError
from .families import FAMILIES, LINKS
from .frame import collinear_columns

__all__ = [
    "EPS", "check_rank", "equilibrated", "glm_kernels", "inverse", "newton_step",
    "trace_frame", "tsqr_step",
]  # fmt: skip

EPS = np.finfo(float).eps


@jax.jit
def tsqr_step(R: jax.Array, Z: jax.Array) -> jax.Array:
    """R of [R; W^(1/2) [X y]]: one step of the streaming QR (padding rows are zero)."""
    p = Z.shape[1] - 2
    A = Z[:, : p + 1] * jnp.sqrt(Z[:, p + 1])[:, None]
    return jnp.linalg.qr(jnp.concatenate([R, A]), mode="r")


@functools.cache
def glm_kernels(family_name: str, link_name: str):
    """Jitted block kernels of one family and link: derivatives, and eta for statistics."""
    family, link = FAMILIES[family_name], LINKS[link_name]

    def row_nll(eta, y):
        return family.nll(eta, y, 0.0, link)

    nll = jax.vmap(row_nll)
    d1 = jax.vmap(jax.grad(row_nll))
    d2 = jax.vmap(jax.grad(jax.grad(row_nll)))

    def split(Z):
        p = Z.shape[1] - 2
        return Z[:, :p], Z[:, p], Z[:, p + 1]

    @jax.jit
    def derivatives(beta, Z):
        """sum w l, sum w l' x and X^T diag(w l'') X over one block."""
        X, y, w = split(Z)
        eta = X @ beta
        return (
            w @ nll(eta, y),
            (w * d1(eta, y)) @ X,
            jnp.einsum("ni,nj->ij", X * (w * d2(eta, y))[:, None], X),
        )

    @jax.jit
    def linear_predictor(beta, Z):
        return split(Z)[0] @ beta

    def minibatch_epoch(optimizer):
        @jax.jit
        def epoch(gamma, state, Z, scale, order):
            """optax steps over the minibatches (rows of ``order``) of one block."""
            X, y, w = split(Z)

            def loss(g, rows):
                wb = w[rows]
                total = jnp.sum(wb)
                value = wb @ nll(X[rows] @ (scale * g), y[rows])
                return value / jnp.where(total > 0, total, 1.0), total

            def step(carry, rows):
                g, s = carry
                (_, total), grad = jax.value_and_grad(loss, has_aux=True)(g, rows)
                updates, s_new = optimizer.update(grad, s, g)
                keep = total > 0  # an all-padding minibatch changes nothing
                g = jnp.where(keep, optax.apply_updates(g, updates), g)
                s = jax.tree.map(lambda new, old: jnp.where(keep, new, old), s_new, s)
                return (g, s), None

            (gamma, state), _ = jax.lax.scan(step, (gamma, state), order)
            return gamma, state

        return epoch

    return derivatives, linear_predictor, functools.cache(minibatch_epoch)


def equilibrated(H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-diagonal scaling of a symmetric H: (d, D H D, eigenvalues of D H D)."""
    diag = np.diag(H)
    d = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
    unit = d[:, None] * H * d[None, :]
    unit = (unit + unit.T) / 2
    return d, unit, np.linalg.eigvalsh(unit)


def check_rank(H: np.ndarray, names: list[str], nobs: float) -> None:
    """DataError naming the collinear columns when the Gram / Hessian H is singular."""
    if not np.all(np.isfinite(H)):
        return  # the non-finite loss is reported by the solver
    d, unit, eigenvalues = equilibrated(H)
    if eigenvalues[0] > 1e3 * EPS * eigenvalues[-1] and np.all(np.diag(H) > 0):
        return
    values, vectors = np.linalg.eigh(unit)
    root = np.sqrt(np.maximum(values, 0.0))[:, None] * vectors.T  # root^T root = unit
    culprits = collinear_columns(root, names, rtol=np.sqrt(1e3 * EPS)) or names
    raise DataError(
        f"the design is singular: column(s) {culprits} are (numerically) linear "
        f"combinations of the other columns over the {nobs:.0f} rows; drop or combine them"
    )


def inverse(H: np.ndarray) -> np.ndarray:
    d, unit, _ = equilibrated(H)
    inverse = d[:, None] * np.linalg.inv(unit) * d[None, :]
    return (inverse + inverse.T) / 2


def trace_frame(loss: list[float], grad_norm: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"loss": np.asarray(loss, dtype=float), "grad_norm": np.asarray(grad_norm, dtype=float)},
        index=pd.RangeIndex(len(loss), name="iteration"),
    )


def newton_step(g: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, float]:
    """-H^{-1} g (equilibrated solve) and the Newton decrement g^T H^{-1} g."""
    d, unit, _ = equilibrated(H)
    step = -d * np.linalg.solve(unit, d * g)
    return step, float(-g @ step)
