r"""Weighted, optionally ridge-penalised linear least squares, solved directly in float64.

The problem, for a design :math:`X` (n x p), response :math:`y`, weights
:math:`w \ge 0` and ridge weights :math:`\lambda_j \ge 0`:

.. math::  \min_\beta\ \sum_i w_i (y_i - x_i^\top\beta)^2 + \sum_j \lambda_j \beta_j^2.

Both paths below work on the column-scaled problem :math:`A = W^{1/2} X D^{-1}`,
:math:`b = W^{1/2} y / s_y`, with :math:`D` and :math:`s_y` the powers of two
just above the column norms: scaling by powers of two is exact, so it changes
no digit of the answer, and it makes the condition number one of the *shape*
of the design, not of its units. The solution is :math:`\beta = s_y D^{-1} x`.

**Fast path (normal equations).** The Gram matrix of :math:`[X\ y]` gives
:math:`X^\top W X`, :math:`X^\top W y` and :math:`y^\top W y`; Cholesky of :math:`A^\top A +
\Lambda` (:math:`\Lambda` the ridge weights in scaled units) gives :math:`R`,
and one step of the corrected semi-normal equations (Björck 1987) refines
:math:`x` with float64 residuals of the original data. That step removes the
:math:`\kappa^2\epsilon` error of plain normal equations, so the result is as
accurate as a backward-stable solver (Householder QR, SVD) whenever
:math:`\kappa^2\epsilon \ll 1`: its relative error is about

.. math::  e = \epsilon\,\kappa\,(1 + \kappa\,\eta),\qquad
           \kappa = \|R\|_1\|R^{-1}\|_1,\quad \eta = \frac{\|r\|}{\|A\|_F\,\|x\|},

with :math:`\kappa` computed exactly (:math:`R^{-1}` is needed for the
covariance anyway). Cost: five reads of the data: the Gram matrix, then
:math:`r` and :math:`A^\top r` (a GEMV and a fused multiply-and-reduce) at the
first solve and at the refined one. A 64-byte-aligned design reaches the
kernel without a copy (``jax.device_put`` is zero-copy), and no n x p
temporary is formed: with weights the Gram matrix is summed over blocks of
:data:`ROW_BLOCK` rows weighted in cache, rather than one GEMM on :math:`W X`
(a 160 MB temporary costs more in page faults than the GEMM itself, see
PERFORMANCE.md). On a 1e6 x 21 design already on the device that took
about 75 ms unweighted and 90 ms weighted on the shared 2-core development
machine (the weighted fit 40% less than one GEMM on :math:`W X`).

**Accurate path (QR + refinement in double-double).** Householder QR of the
scaled design (``jnp.linalg.qr``), then Björck's (1967) iterative refinement of
the augmented system

.. math::  \begin{pmatrix} I & A \\ A^\top & 0 \end{pmatrix}
           \begin{pmatrix} r \\ x \end{pmatrix} =
           \begin{pmatrix} b \\ 0 \end{pmatrix},

whose residuals :math:`f = b - r - Ax` and :math:`g = -A^\top r` are computed in
double-double arithmetic (:func:`two_sum`, :func:`two_prod`) and whose
corrections are solved with the float64 :math:`Q, R`. Each step shrinks the
error by about :math:`\kappa\epsilon`, so the iteration reaches the exact
least-squares solution of the float64 data to nearly full precision even where
:math:`\kappa^2\epsilon \approx 1` (NIST's Filip, Wampler5). The ridge penalty
enters as :math:`p` extra rows :math:`\Lambda^{1/2}` of :math:`A`. Cost: the QR
and two or three double-double evaluations; about 20x the fast path on a
1e6 x 21 design, and milliseconds on small ones.

**The rule** (:func:`solve_least_squares`). The accurate path is taken when the
design is small (:math:`n p \le` :data:`SMALL_DESIGN` values, where it costs a
few milliseconds), when the Cholesky factorisation fails, when the fast path's
estimated error :math:`e` exceeds ``tol`` (default :math:`10^{-10}`), or when
:math:`\kappa` exceeds the rank limit :math:`1 / (p\,\max(n, p)\,\epsilon)`
(:func:`rank_limit`, the threshold of
:func:`~estimators.frame.collinear_columns`). Otherwise the fast path's answer
stands. ``tol=0`` always takes the accurate path.

**Compile reuse.** Both paths pad the rows with zeros of weight 0 up to
:func:`~estimators.numerics.padded_length` (the size bucket; designs above
:data:`~estimators.numerics.PAD_MAX_VALUES` keep their shape): a zero row adds
exact zeros to every sum, so one compiled kernel serves every n in a bucket
and the results agree with the unpadded solve to rounding (1e-14). The rank
limit and the choice of path use the real n.

Everything here is numerics on arrays: no names, no pandas, no validation
(:mod:`estimators.regression` does those). The jitted kernels expect float64,
and :func:`solve_least_squares` enters :func:`~estimators.solve.x64_context`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from .frame import aligned_empty
from .numerics import pad_rows, padded_length
from .solve import Status, x64_context

DEFAULT_TOL = 1e-10  # relative error accepted from the fast path
DEFAULT_REFINEMENT_STEPS = 10
SMALL_DESIGN = 2**16  # n * p at or below which the accurate path is always taken
ROW_BLOCK = 1024  # rows per block of the fast path: 1024 x 21 float64 is 172 kB, in L2
QR_BLOCK = 4096  # rows per block of the double-double residuals
PADDED_COLUMNS_ROWS = 4096  # up to this many rows the QR path also pads columns to 16, 32, ...
EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- double-double
# Error-free transformations in float64. XLA:CPU does not reassociate
# floating-point sums, but LLVM contracts a multiply feeding an add into one
# FMA (``c + a * b`` in jit is an fma). That breaks the textbook algorithms
# that rely on every product being rounded on its own: see split and two_prod.
# tests/test_regression.py checks the results inside jit, scan and fori_loop.

_LOW_27_BITS_CLEARED = np.int64(-(1 << 27))


def two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Knuth's TwoSum: ``s + e == a + b`` exactly, ``s = fl(a + b)``; no ordering needed."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Dekker's FastTwoSum: as :func:`two_sum`, for ``|a| >= |b|`` (or ``a == 0``)."""
    s = a + b
    return s, b - (s - a)


def split(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``a = hi + lo`` exactly, ``hi`` with 26 significant bits and ``lo`` with at most 27.

    Veltkamp's split, ``t = (2^27 + 1) a; hi = t - (t - a)``, is the textbook
    way, but under FMA contraction ``t - a`` may be evaluated from the exact
    product, so ``hi`` is no longer short and the partial products of
    :func:`two_prod` are no longer exact. Clearing the low 27 bits of the
    significand through an integer view involves no floating-point arithmetic,
    so no contraction can touch it; ``lo = a - hi`` is then exact (Sterbenz).
    """
    bits = jax.lax.bitcast_convert_type(a, jnp.int64)
    hi = jax.lax.bitcast_convert_type(bits & _LOW_27_BITS_CLEARED, a.dtype)
    return hi, a - hi


def two_prod(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""``a * b`` as a double-double ``(hi, lo)``, to about :math:`2^{-105}` of the product.

    With :math:`a = a_h + a_l` and :math:`b = b_h + b_l` from :func:`split`,
    :math:`ab = a_h b_h + a_h b_l + a_l b_h + a_l b_l`. The first three partial
    products are exact in float64 (26 x 26, 26 x 27 and 27 x 26 bits), so
    contracting any of them into an FMA changes nothing; they are summed with
    :func:`two_sum`. Only the last, 27 x 27 bits, may round, at
    :math:`2^{-106}` of the product. The textbook TwoProduct (``e = fma(a, b,
    -p)`` or Dekker's sum of rounded partial products) instead needs each
    product rounded exactly as written, which XLA's contraction does not keep.

    >>> import numpy as np
    >>> from estimators.solve import x64_context
    >>> with x64_context("float64"):  # (1 + u)(1 - u) = 1 - u^2, u = 2^-30
    ...     hi, lo = two_prod(np.float64(1 + 2**-30), np.float64(1 - 2**-30))
    >>> float(hi), float(lo) == -(2.0**-60)
    (1.0, True)
    """
    ah, al = split(a)
    bh, bl = split(b)
    s, e1 = two_sum(ah * bh, ah * bl)
    s, e2 = two_sum(s, al * bh)
    return fast_two_sum(s, (e1 + e2) + al * bl)


def dd_add(
    ah: jax.Array, al: jax.Array, bh: jax.Array, bl: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``(ah + al) + (bh + bl)`` in double-double, the accurate (IEEE-style) addition."""
    s, e = two_sum(ah, bh)
    t, f = two_sum(al, bl)
    s, e = fast_two_sum(s, e + t)
    return fast_two_sum(s, e + f)


def augmented_residuals(
    A: jax.Array, b: jax.Array, r: jax.Array, x: jax.Array, chunk: int
) -> tuple[jax.Array, jax.Array]:
    """Björck's residuals f = b - r - A x and g = -A^T r, each rounded once from double-double.

    One ``lax.scan`` over blocks of ``chunk`` rows (``n`` a multiple of it;
    small temporaries, a small program: a tree of pairwise sums compiles for
    seconds). Within a block, (A x)_i accumulates column by column; A^T r
    accumulates element-wise into a (chunk, p) double-double buffer, summed
    over its rows at the end.
    """
    n, p = A.shape
    zeros = jnp.zeros((chunk, p), A.dtype)

    def block(acc, data):
        a, b_, r_ = data
        gh, gl = dd_add(*acc, *two_prod(a, r_[:, None]))

        def add_column(j, s):
            return dd_add(*s, *two_prod(a[:, j], x[j]))

        sh, sl = jax.lax.fori_loop(0, p, add_column, (zeros[:, 0], zeros[:, 0]))
        fh, fl = dd_add(*two_sum(b_, -r_), -sh, -sl)
        return (gh, gl), fh + fl

    data = (A.reshape(n // chunk, chunk, p), b.reshape(-1, chunk), r.reshape(-1, chunk))
    (gh, gl), f = jax.lax.scan(block, (zeros, zeros), data)
    gh, gl = jax.lax.fori_loop(
        0, chunk, lambda i, s: dd_add(*s, gh[i], gl[i]), (zeros[0], zeros[0])
    )
    return f.reshape(n), -(gh + gl)


# --------------------------------------------------------------------------- scaling, conditioning


def pow2_at_least(v: jax.Array) -> jax.Array:
    """The power of two at or just above v (1 where v is 0): an exact scale."""
    _, exponent = jnp.frexp(v)
    return jnp.where(v > 0, jnp.ldexp(jnp.ones_like(v), exponent), 1.0)


def scaled_penalty(weights: jax.Array, d: jax.Array) -> jax.Array:
    """Ridge weights in the scaled units, weights / d^2, and exactly 0 where weights are 0
    (d^2 may underflow: 0 / 0 must not make NaN)."""
    return weights / jnp.where(weights > 0, d, 1.0) ** 2


def safe_column_norms(M: jax.Array) -> jax.Array:
    """Column 2-norms without overflow or underflow (data near 1e200 or 1e-200):
    each column is first divided by the power of two above its largest entry."""
    m = pow2_at_least(jnp.max(jnp.abs(M), axis=0))
    return m * jnp.sqrt(jnp.sum((M / m) ** 2, axis=0))


def condition_number(R: jax.Array, Rinv: jax.Array) -> jax.Array:
    r"""The 1-norm condition number :math:`\|R\|_1 \|R^{-1}\|_1` of the scaled design."""
    return jnp.max(jnp.sum(jnp.abs(R), axis=0)) * jnp.max(jnp.sum(jnp.abs(Rinv), axis=0))


def rank_limit(n: int, p: int) -> float:
    """The condition number above which a design is rank deficient: 1 / (p max(n, p) eps)."""
    return 1.0 / (p * max(n, p) * EPS)


def fast_path_error(kappa: jax.Array, eta: jax.Array) -> jax.Array:
    r"""Relative error of the corrected semi-normal solution: :math:`\epsilon\kappa(1+\kappa\eta)`.

    A non-finite :math:`\eta` (a zero solution) counts as 0: the first term
    still bounds the error of the solve.
    """
    return EPS * kappa * (1.0 + kappa * jnp.where(jnp.isfinite(eta), eta, 0.0))


def _triangular_inverse(R: jax.Array) -> jax.Array:
    return solve_triangular(R, jnp.eye(R.shape[0], dtype=R.dtype), lower=False)


def _vecmat(v: jax.Array, M: jax.Array) -> jax.Array:
    """v @ M for a tall M. XLA:CPU runs v @ M as a GEMV about 3x slower than this
    fused multiply-and-reduce (and ``M.T @ v`` materialises the transpose)."""
    return jnp.sum(v[:, None] * M, axis=0)


# --------------------------------------------------------------------------- fast path


def fold_row_blocks(fn: Callable, init, block: int, *arrays: jax.Array):
    """``fn(acc, *blocks)`` folded over consecutive row blocks of ``arrays`` (same rows).

    The blocks are ``dynamic_slice`` windows of the whole arrays inside a
    ``fori_loop``, so nothing of size n is copied or materialised; a last,
    shorter block takes the rows left over when ``block`` does not divide n.
    """
    n = arrays[0].shape[0]
    whole = n // block

    def body(i, acc):
        return fn(acc, *(jax.lax.dynamic_slice_in_dim(a, i * block, block) for a in arrays))

    acc = jax.lax.fori_loop(0, whole, body, init)
    if n % block:
        acc = fn(acc, *(a[whole * block :] for a in arrays))
    return acc


def weighted_gram(X: jax.Array, y: jax.Array, w: jax.Array, *, unit_weights: bool) -> jax.Array:
    """``[X y]^T W [X y]``, (p + 1) x (p + 1): X^T W X, X^T W y and y^T W y.

    Weighted, it is one pass over blocks of :data:`ROW_BLOCK` rows, weighted
    in cache: a GEMM on the whole of ``X * w`` would first write that n x p
    temporary, and cost 2 to 3 times as much. With unit weights (``w`` all 1)
    it is one GEMM ``X^T X`` on the whole design (measured faster than the
    blocked loop on an idle machine: XLA's GEMM may use several cores) and two
    fused reductions.
    """
    if unit_weights:
        Xty = _vecmat(y, X)[:, None]
        return jnp.block([[jnp.einsum("ni,nj->ij", X, X), Xty], [Xty.T, jnp.sum(y * y)]])

    def add_block(acc, x, y_, w_):
        z = jnp.concatenate([x, y_[:, None]], axis=1)
        return acc + jnp.einsum("ni,nj->ij", z * w_[:, None], z)

    p = X.shape[1]
    return fold_row_blocks(add_block, jnp.zeros((p + 1, p + 1), X.dtype), ROW_BLOCK, X, y, w)


def weighted_residuals(
    X: jax.Array, y: jax.Array, w: jax.Array, beta: jax.Array, y_scale: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """For e = y / y_scale - X beta: ``X^T W e`` and ``e^T W e``.

    Not blocked: the multiply-and-reduce is fused (no n x p temporary), and
    blocking it measured either slower (a reduce per block) or, with a GEMV per
    block, 4x less accurate: this sum is what the refinement step corrects with.
    """
    e = y / y_scale - X @ beta
    we = w * e
    return _vecmat(we, X), jnp.sum(we * e)


@functools.partial(jax.jit, static_argnames=("unit_weights",))
def normal_equations(X, y, w, alpha, penalised, *, unit_weights: bool) -> dict[str, jax.Array]:
    """Fast path: scaled normal equations, Cholesky, one corrected semi-normal step.

    Works on X directly (A x = W^(1/2) X (x / d) exactly, d powers of two); it
    reads the data in one :func:`weighted_gram` and two
    :func:`weighted_residuals`. Returns the scaled solution ``x``, the scales
    ``d`` and ``sy``, ``Rinv``, ``kappa``, the estimated relative ``error``,
    and the loss, gradient norm (at the first solve and the refined one) and
    Newton decrement of the mean loss in the scaled coordinates.
    """
    p = X.shape[1]
    G = weighted_gram(X, y, w, unit_weights=unit_weights)
    d = pow2_at_least(jnp.sqrt(jnp.diag(G)[:p]))
    sy = pow2_at_least(jnp.sqrt(G[p, p]))
    lam = scaled_penalty(alpha * penalised, d)
    M = G[:p, :p] / jnp.outer(d, d) + jnp.diag(lam)
    R = jnp.linalg.cholesky(M).T  # upper: M = R^T R
    Rinv = _triangular_inverse(R)
    total_w = jnp.sum(w)

    def residual_moments(x):  # A_aug^T r_aug = A^T b - (A^T A + Lambda) x, and |r_aug|^2
        h, rss = weighted_residuals(X, y, w, x / d, sy)
        return h / d - lam * x, rss, jnp.sum(lam * x * x)

    solve = lambda v: Rinv @ (v @ Rinv)  # noqa: E731  (R^T R)^{-1} v
    x0 = solve(G[:p, p] / d / sy)
    h0, rss0, penalty0 = residual_moments(x0)
    x1 = x0 + solve(h0)  # corrected semi-normal equations: one step in float64
    h1, rss, penalty = residual_moments(x1)
    eta = jnp.sqrt(rss + penalty) / (jnp.sqrt(jnp.trace(M)) * jnp.linalg.norm(x1))
    kappa = condition_number(R, Rinv)
    return dict(
        x=x1, d=d, sy=sy, lam=lam, rss=rss, Rinv=Rinv, kappa=kappa,
        error=fast_path_error(kappa, eta),
        loss=jnp.stack([rss0 + penalty0, rss + penalty]) / total_w,
        grad_norm=jnp.stack([jnp.linalg.norm(h0), jnp.linalg.norm(h1)]) * 2 / total_w,
        decrement=2 / total_w * jnp.sum((h1 @ Rinv) ** 2),
    )  # fmt: skip


# --------------------------------------------------------------------------- accurate path


@functools.partial(jax.jit, static_argnames=("trace_length",))
def qr_refined(X, y, w, alpha, penalised, active, tol, max_iter, *, trace_length: int):
    """Accurate path: Householder QR of the scaled design, Björck refinement in double-double.

    ``active`` marks real columns (1) and padding columns (0): small designs are
    padded to bucketed shapes so that one compiled kernel serves many of them.
    A padding column gets a single 1 in its own extra row, so it is orthogonal
    to everything, R is block diagonal and its coefficient is exactly 0.
    Refinement stops when the correction is at rounding level (converged), or
    below ``tol`` relative to x once it stops halving (converged), or stops
    halving above ``tol`` (stalled), or after ``max_iter`` steps.
    """
    n, p = X.shape
    sw = jnp.sqrt(w)
    A = X * sw[:, None]
    b = y * sw
    d = pow2_at_least(safe_column_norms(A))
    sy = pow2_at_least(safe_column_norms(b[:, None])[0])
    lam = scaled_penalty(alpha * penalised, d)
    # The ridge penalty (and the padding columns) as p extra rows; zero rows pad
    # to a whole number of chunks for the residuals' scan.
    chunk = min(n + p, QR_BLOCK)
    n_aug = -(-(n + p) // chunk) * chunk
    extra = jnp.diag(jnp.sqrt(lam) + (1.0 - active))
    A = jnp.concatenate([A / d, extra, jnp.zeros((n_aug - n - p, p))])
    b = jnp.concatenate([b / sy, jnp.zeros(n_aug - n)])
    Q, R = jnp.linalg.qr(A)
    Rinv = _triangular_inverse(R)
    real = jnp.outer(active, active)  # the real columns' block of R (R is block diagonal)
    kappa = condition_number(R * real, Rinv * real)
    total_w = jnp.sum(w)

    x = Rinv @ _vecmat(b, Q)
    r = b - A @ x
    # Each pass of the loop evaluates the residuals at (x_k, r_k) (trace row k) and
    # the correction. A correction at rounding level (norm-wise) is still applied,
    # as it can fix small components, and one more pass records that last point.
    # The residuals appear once in the program, which halves its compile time.
    running = jnp.int32(Status.RUNNING)
    trace = jnp.full((2, trace_length), jnp.nan)  # trace_length > max_iter
    carry = (x, r, jnp.zeros(n_aug), jnp.zeros(p), jnp.int32(0), running, running)
    carry = (*carry, jnp.asarray(jnp.inf), jnp.asarray(jnp.inf), trace)

    def body(c):
        x, r, _, _, k, _, final, size_prev, _, trace = c
        f, g = augmented_residuals(A, b, r, x, chunk)
        e = f + r  # b - A x, to double-double accuracy
        grad = -2 / total_w * (_vecmat(f, A) - g)  # A^T e = A^T f + A^T r
        trace = trace.at[:, k].set(jnp.stack([jnp.sum(e * e) / total_w, jnp.linalg.norm(grad)]))
        v = _vecmat(f, Q) - g @ Rinv  # Q^T f - R^{-T} g
        dx = Rinv @ v
        size, scale = jnp.linalg.norm(dx), jnp.linalg.norm(x)
        stopped_shrinking = size > 0.5 * size_prev
        converged = (size <= 4 * EPS * scale) | (stopped_shrinking & (size <= tol * scale))
        status = jnp.select(
            [
                final != Status.RUNNING,
                ~(jnp.all(jnp.isfinite(trace[:, k])) & jnp.isfinite(size)),
                converged & (k >= max_iter),
                converged,
                stopped_shrinking,
                k >= max_iter,
            ],
            [final, Status.NONFINITE, Status.CONVERGED, running, Status.STALLED, Status.MAX_ITER],
            running,
        ).astype(jnp.int32)
        step = status == Status.RUNNING
        final = jnp.where(step & converged, jnp.int32(Status.CONVERGED), final)
        x = jnp.where(step, x + dx, x)
        r = jnp.where(step, r + (f - Q @ v), r)
        correction = size / jnp.where(scale > 0, scale, 1.0)  # for the message only
        return (x, r, e, grad, k + step, status, final, size, correction, trace)

    x, _, e, grad, k, status, _, _, correction, trace = jax.lax.while_loop(
        lambda c: c[5] == Status.RUNNING, body, carry
    )
    decrement = total_w / 2 * jnp.sum((grad @ Rinv) ** 2)  # g^T H^{-1} g, H = 2 R^T R / W
    return dict(
        x=x, d=d, sy=sy, lam=lam, rss=jnp.sum(e[:n] ** 2), Rinv=Rinv, kappa=kappa, n_iter=k,
        status=status, correction=correction, loss=trace[0], grad_norm=trace[1],
        decrement=decrement,
    )  # fmt: skip


# --------------------------------------------------------------------------- the rule


@dataclasses.dataclass(frozen=True)
class LeastSquaresSolution:
    """A solved problem in the scaled coordinates (numpy); ``coef`` in data units.

    ``x`` solves the scaled problem; ``scales`` (d) and ``y_scale`` (s_y) are its
    powers of two, ``penalty`` the ridge weights Lambda in scaled units, ``rss``
    the weighted residual sum of squares over s_y^2, ``r_inverse`` R^{-1} (so
    that R^{-1} R^{-T} is (A^T A + Lambda)^{-1}) and ``kappa`` its condition
    number. ``loss`` and ``grad_norm`` hold the mean loss in scaled units and
    the norm of its gradient at steps 0 .. ``n_iter``; ``detail`` says why the
    solver stopped.
    """

    x: np.ndarray
    scales: np.ndarray
    y_scale: float
    penalty: np.ndarray
    rss: float
    r_inverse: np.ndarray
    kappa: float
    path: str
    status: Status
    n_iter: int
    loss: np.ndarray
    grad_norm: np.ndarray
    decrement: float
    detail: str

    @property
    def coef(self) -> np.ndarray:
        """The solution in data units, x s_y / d (exact: powers of two)."""
        return self.x * self.y_scale / self.scales


def tries_fast_path(n: int, p: int, tol: float) -> bool:
    """The fast path is tried on designs of more than SMALL_DESIGN values, unless tol = 0."""
    return n * p > SMALL_DESIGN and tol > 0


def fast_path_stands(error: float, kappa: float, n: int, p: int, tol: float) -> bool:
    """Its answer stands when the estimated error is within tol and the rank is full
    (a failed Cholesky makes both NaN, and NaN passes neither test)."""
    return bool(error <= tol and kappa <= rank_limit(n, p))


def solve_least_squares(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    alpha: float = 0.0,
    penalised: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_REFINEMENT_STEPS,
) -> LeastSquaresSolution:
    """Solve min sum w (y - X b)^2 + alpha sum_j penalised_j b_j^2 by the rule above.

    ``X`` (n x p), ``y`` and ``w`` are float64 numpy arrays, already validated;
    ``penalised`` (default all ones) marks the penalised columns. A 64-byte
    aligned C-contiguous ``X`` reaches the fast path without a copy. The rank is
    not checked here: compare ``kappa`` with :func:`rank_limit`.

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    >>> fit = solve_least_squares(X, np.array([1.0, 3.0, 5.0, 7.5]), np.ones(4))
    >>> fit.path, fit.coef.round(6).tolist()
    ('qr_refined', [0.9, 2.15])
    """
    n, p = X.shape
    penalised = np.ones(p) if penalised is None else np.asarray(penalised, dtype=float)
    with x64_context("float64"):
        if tries_fast_path(n, p, tol):
            # Zero rows of weight 0 up to the size bucket (numerics.padded_length): they
            # add exact zeros to every sum, and one compiled kernel serves the bucket.
            # Zero rows keep the unit-weight kernel exact, so it is chosen on the real w.
            unit_weights = bool(np.all(w == 1.0))
            Xp, yp, wp = _pad_aligned(X, y, w, padded_length(n, p))
            put = jax.device_put  # zero-copy for aligned arrays (PERFORMANCE.md, item 5)
            fast = normal_equations(
                put(Xp), put(yp), put(wp), alpha, penalised, unit_weights=unit_weights
            )
            fast = jax.device_get(fast)
            if fast_path_stands(fast["error"], fast["kappa"], n, p, tol):
                return _fast_solution(fast, tol)
        return _accurate_solution(X, y, w, alpha, penalised, tol, max_iter)


def _pad_aligned(X: np.ndarray, y: np.ndarray, w: np.ndarray, rows: int):
    """X, y, w with zero rows appended up to ``rows``, X copied into a 64-byte-aligned
    buffer so that ``jax.device_put`` takes it without a second copy; as they are
    when ``rows`` is n."""
    n = len(y)
    if rows == n:
        return X, y, w
    Xp = aligned_empty((rows, X.shape[1]))
    Xp[:n], Xp[n:] = X, 0.0
    yp, wp = pad_rows(y, w, length=rows)
    return Xp, yp, wp


def _bucket(size: int, smallest: int) -> int:
    return max(smallest, 1 << (size - 1).bit_length())


def _fast_solution(out: dict, tol: float) -> LeastSquaresSolution:
    error, kappa = float(out["error"]), float(out["kappa"])
    return LeastSquaresSolution(
        x=out["x"], scales=out["d"], y_scale=float(out["sy"]), penalty=out["lam"],
        rss=float(out["rss"]), r_inverse=out["Rinv"], kappa=kappa, path="normal_equations",
        status=Status.CONVERGED, n_iter=1, loss=out["loss"], grad_norm=out["grad_norm"],
        decrement=float(out["decrement"]),
        detail=(
            "converged: normal equations and one corrected semi-normal step, estimated "
            f"relative error {error:.2g} <= tol={tol:g} (condition number {kappa:.3g})"
        ),
    )  # fmt: skip


def _accurate_solution(X, y, w, alpha, penalised, tol, max_iter) -> LeastSquaresSolution:
    n, p = X.shape
    # Zero-weight rows up to the size bucket (numerics.padded_length; designs above
    # PAD_MAX_VALUES keep their shape), and on small designs padding columns to 16,
    # 32, ... (see qr_refined): one compiled kernel serves every n in a bucket.
    cols = _bucket(p, 16) if n <= PADDED_COLUMNS_ROWS else p
    rows = padded_length(n, cols)
    if (rows, cols) != (n, p):
        Xp, yp, wp = np.zeros((rows, cols)), np.zeros(rows), np.zeros(rows)
        Xp[:n, :p], yp[:n], wp[:n] = X, y, w
        penalised = np.pad(penalised, (0, cols - p))
    else:
        Xp, yp, wp = X, y, w
    active = np.zeros(cols)
    active[:p] = 1.0
    out = jax.device_get(
        qr_refined(
            Xp, yp, wp, alpha, penalised, active, tol, max_iter,
            trace_length=_bucket(max_iter + 1, 16),
        )
    )  # fmt: skip
    n_iter, status, kappa = int(out["n_iter"]), Status(int(out["status"])), float(out["kappa"])
    return LeastSquaresSolution(
        x=out["x"][:p], scales=out["d"][:p], y_scale=float(out["sy"]), penalty=out["lam"][:p],
        rss=float(out["rss"]), r_inverse=out["Rinv"][:p, :p], kappa=kappa, path="qr_refined",
        status=status, n_iter=n_iter, loss=out["loss"][: n_iter + 1],
        grad_norm=out["grad_norm"][: n_iter + 1], decrement=float(out["decrement"]),
        detail=_refinement_detail(status, n_iter, float(out["correction"]), kappa, tol, max_iter),
    )  # fmt: skip


def _refinement_detail(
    status: Status, n_iter: int, correction: float, kappa: float, tol: float, max_iter: int
) -> str:
    """Why the refinement stopped, in its own terms (the corrections, not a line search)."""
    last = f"the last correction was {correction:.2g} of the solution"
    if status == Status.CONVERGED:
        return (
            f"converged: Householder QR and {n_iter} step(s) of refinement in double-double; "
            f"{last} (condition number {kappa:.3g})"
        )
    if status == Status.STALLED:
        return (
            f"not converged: the refinement corrections stopped shrinking above tol={tol:g} "
            f"after {n_iter} step(s); {last}: the design is too ill-conditioned (condition "
            f"number {kappa:.3g}) for refinement from a float64 QR"
        )
    if status == Status.MAX_ITER:
        return (
            f"not converged: max_iter={max_iter} refinement step(s) ran out before the "
            f"correction fell below tol={tol:g}; {last}"
        )
    return (
        "failed: the residuals or the refinement correction became NaN or infinite "
        f"after {n_iter} step(s)"
    )
