r"""Linear least squares: :class:`LinearRegression` (OLS / WLS) and :class:`Ridge`.

Both estimators minimise a mean squared residual (``losses.squared_deviation``
reduced by ``losses.weighted_mean``), plus a ridge penalty for :class:`Ridge`:

.. math::  f(\beta) = \frac{\sum_i w_i (y_i - x_i^\top\beta)^2
                           + \alpha \sum_{j \ne \text{intercept}} \beta_j^2}{\sum_i w_i}.

The direct solver (``solver="qr"``) has two paths. Both work on the
column-scaled problem :math:`A = W^{1/2} X D^{-1}`, :math:`b = W^{1/2} y / s_y`,
with :math:`D` and :math:`s_y` the powers of two just above the column norms:
scaling by powers of two is exact, so it changes no digit of the answer, and it
makes the condition number one of the *shape* of the design, not of its units.

**Fast path (normal equations).** One GEMM forms :math:`A^\top A + \Lambda`
(:math:`\Lambda` the ridge penalty in scaled units, 0 for OLS), Cholesky gives
:math:`R`, and one step of the corrected semi-normal equations (Björck 1987)
refines :math:`x` with float64 residuals. That step removes the :math:`\kappa^2
\epsilon` error of plain normal equations, so the result is as accurate as a
backward-stable solver (Householder QR, SVD) whenever :math:`\kappa^2\epsilon
\ll 1`: its relative error is about :math:`e = \epsilon\,\kappa\,(1 + \kappa\,\eta)`
with :math:`\kappa = \|R\|_1\|R^{-1}\|_1` (computed exactly: :math:`R^{-1}` is
needed for the covariance anyway) and :math:`\eta = \|r\| / (\|A\|_F\,\|x\|)`.
Cost: the GEMM and five passes over the data; on a 1e6 x 21 design (data on
the device) 4x faster than ``numpy.linalg.lstsq`` and 18x faster than
statsmodels' OLS with standard errors, measured in one run on the shared
2-core development machine.

**Accurate path (QR + refinement in double-double).** Householder QR of the
scaled design (``jnp.linalg.qr``), then Björck's (1967) iterative refinement of
the augmented system

.. math::  \begin{pmatrix} I & A \\ A^\top & 0 \end{pmatrix}
           \begin{pmatrix} r \\ x \end{pmatrix} =
           \begin{pmatrix} b \\ 0 \end{pmatrix},

whose residuals :math:`f = b - r - Ax` and :math:`g = -A^\top r` are computed in
double-double arithmetic (Knuth's error-free TwoSum and a Dekker-style
product, in JAX; see the comment at ``_two_prod`` for why XLA's FMA contraction
rules out the textbook TwoProduct) and whose corrections are solved with the
float64 :math:`Q, R`. Each step
shrinks the error by about :math:`\kappa\epsilon`, so the iteration reaches the
exact least-squares solution of the float64 data to nearly full precision even
where :math:`\kappa^2\epsilon \approx 1` (NIST's Filip, Wampler5). The ridge
penalty enters as :math:`p` extra rows :math:`\Lambda^{1/2}` of :math:`A`.
Cost: the QR and two or three double-double evaluations; about 20x the fast
path on a 1e6 x 21 design, and milliseconds on small ones.

**The rule.** The accurate path is taken when the design is small
(:math:`n p \le 2^{16}` values, where it costs a few milliseconds), when the
Cholesky factorisation fails, or when the fast path's estimated error
:math:`e` exceeds ``tol`` (default :math:`10^{-10}`). Otherwise the fast
path's answer stands. ``tol=0`` always takes the accurate path.

A design whose scaled condition number exceeds :math:`1 / (p\,\max(n, p)\,
\epsilon)` (the threshold of :func:`~estimators.frame.collinear_columns`) is
rank deficient: a :class:`~estimators.errors.DataError` names the columns
(for :class:`Ridge` only with ``alpha=0``: a positive penalty makes any design
well posed).

``solver="newton"`` and ``"lbfgs"`` minimise the same loss through
:func:`estimators.minimize` instead (the column-scaled coefficients are the
parameters); they exist to show that the direct answer is the loss minimiser,
and agree with it to about ``tol`` standard errors.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.linalg import solve_triangular

from .base import FitResult, RegressionEstimator
from .errors import DataError, InferenceWarning, SettingsError
from .frame import Design, collinear_columns
from .losses import squared_deviation, weighted_mean
from .solve import Solution, Status, minimize, x64_context

SOLVERS = ("qr", "newton", "lbfgs")
DEFAULT_QR_TOL = 1e-10  # relative error accepted from the fast path
DEFAULT_SE_TOL = 1e-8  # iterative solvers: accuracy in standard errors, as Mean
DEFAULT_REFINEMENT_STEPS = 10
SMALL_DESIGN = 2**16  # n * p at or below which the accurate path is always taken
_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- double-double
# Error-free transformations in float64: Knuth's TwoSum and Dekker's product.
# XLA:CPU does not reassociate floating-point sums, but LLVM contracts a multiply
# feeding an add into one FMA (``c + a * b`` in jit is an fma), which breaks the
# textbook TwoProduct (its error term describes round(a * b), not the fused
# result) and Veltkamp's split. So the split here masks mantissa bits (exact,
# no arithmetic), and the product is assembled only from partial products that
# are exact in float64 (26 x 26 and 26 x 27 bits), for which contraction changes
# nothing; the last, 27 x 27 bits, may round, at 2^-106 of the product.
# tests/test_regression.py checks the results inside jit, scan and fori_loop.

_LOW_27_BITS_CLEARED = np.int64(-(1 << 27))


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a, b):  # requires |a| >= |b| (or a == 0)
    s = a + b
    return s, b - (s - a)


def _split(a):
    """a = hi + lo exactly, hi with 26 significant bits, lo with at most 27."""
    bits = jax.lax.bitcast_convert_type(a, jnp.int64)
    hi = jax.lax.bitcast_convert_type(bits & _LOW_27_BITS_CLEARED, a.dtype)
    return hi, a - hi


def _two_prod(a, b):
    """a * b as a double-double (hi, lo), to about 2^-105 of the product."""
    ah, al = _split(a)
    bh, bl = _split(b)
    s, e1 = _two_sum(ah * bh, ah * bl)
    s, e2 = _two_sum(s, al * bh)
    return _fast_two_sum(s, (e1 + e2) + al * bl)


def _dd_add(ah, al, bh, bl):
    """(ah + al) + (bh + bl) in double-double, with the accurate (IEEE-style) addition."""
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    s, e = _fast_two_sum(s, e + t)
    return _fast_two_sum(s, e + f)


def _augmented_residuals(A, b, r, x, chunk: int):
    """Björck's residuals f = b - r - A x and g = -A^T r, each rounded once from double-double.

    One ``lax.scan`` over blocks of ``chunk`` rows (small temporaries, a small
    program: a tree of pairwise sums compiles for seconds). Within a block,
    (A x)_i accumulates column by column; A^T r accumulates element-wise into a
    (chunk, p) double-double buffer, summed over its rows at the end.
    """
    n, p = A.shape
    zeros = jnp.zeros((chunk, p), A.dtype)

    def block(acc, data):
        a, b_, r_ = data
        gh, gl = _dd_add(*acc, *_two_prod(a, r_[:, None]))

        def add_column(j, s):
            return _dd_add(*s, *_two_prod(a[:, j], x[j]))

        sh, sl = jax.lax.fori_loop(0, p, add_column, (zeros[:, 0], zeros[:, 0]))
        fh, fl = _dd_add(*_two_sum(b_, -r_), -sh, -sl)
        return (gh, gl), fh + fl

    data = (A.reshape(n // chunk, chunk, p), b.reshape(-1, chunk), r.reshape(-1, chunk))
    (gh, gl), f = jax.lax.scan(block, (zeros, zeros), data)
    gh, gl = jax.lax.fori_loop(
        0, chunk, lambda i, s: _dd_add(*s, gh[i], gl[i]), (zeros[0], zeros[0])
    )
    return f.reshape(n), -(gh + gl)


# --------------------------------------------------------------------------- the two paths


def _pow2_at_least(v):
    """The power of two at or just above v (1 where v is 0): an exact scale."""
    _, exponent = jnp.frexp(v)
    return jnp.where(v > 0, jnp.ldexp(jnp.ones_like(v), exponent), 1.0)


def _vecmat(v, M):
    """v @ M for a tall M. XLA:CPU runs v @ M as a GEMV about 3x slower than this
    fused multiply-and-reduce (and ``M.T @ v`` materialises the transpose)."""
    return jnp.sum(v[:, None] * M, axis=0)


def _penalty(weights, d):
    """Ridge weights in the scaled units, weights / d^2, and exactly 0 where weights are 0
    (d^2 may underflow: 0 / 0 must not make NaN)."""
    return weights / jnp.where(weights > 0, d, 1.0) ** 2


def _safe_norm(M):
    """Column 2-norms without overflow or underflow (data near 1e200 or 1e-200):
    each column is first divided by the power of two above its largest entry."""
    m = _pow2_at_least(jnp.max(jnp.abs(M), axis=0))
    return m * jnp.sqrt(jnp.sum((M / m) ** 2, axis=0))


def _norm1(M):
    return jnp.max(jnp.sum(jnp.abs(M), axis=0))


def _triangular_inverse(R):
    return solve_triangular(R, jnp.eye(R.shape[0], dtype=R.dtype), lower=False)


@functools.partial(jax.jit, static_argnames=("unit_weights",))
def _normal_equations(X, y, w, alpha, penalised, *, unit_weights: bool):
    """Fast path: scaled normal equations, Cholesky, one corrected semi-normal step.

    Works on X directly (A x = X (x / d) exactly, d powers of two), so the only
    n x p temporary is X * w for weighted fits.
    """
    Xw = X if unit_weights else X * w[:, None]
    yw = y if unit_weights else y * w
    gram = jnp.einsum("ni,nj->ij", Xw, X)  # X^T W X, one GEMM
    d = _pow2_at_least(jnp.sqrt(jnp.diag(gram)))
    sy = _pow2_at_least(jnp.sqrt(yw @ y))
    lam = _penalty(alpha * penalised, d)
    M = gram / jnp.outer(d, d) + jnp.diag(lam)
    R = jnp.linalg.cholesky(M).T  # upper: M = R^T R
    Rinv = _triangular_inverse(R)
    kappa = _norm1(R) * _norm1(Rinv)
    total_w = jnp.sum(w)

    def gradient_part(e, x):  # A_aug^T r_aug = A^T W^(1/2) r - lam x, r = W^(1/2) e
        return _vecmat(e * w, X) / d - lam * x

    solve = lambda v: Rinv @ (v @ Rinv)  # noqa: E731  (R^T R)^{-1} v
    x0 = solve(_vecmat(yw, X) / d / sy)
    e0 = y / sy - X @ (x0 / d)
    h0 = gradient_part(e0, x0)
    dx = solve(h0)  # corrected semi-normal equations: one step in float64
    x1 = x0 + dx
    e1 = e0 - X @ (dx / d)
    h1 = gradient_part(e1, x1)
    rss = jnp.sum(w * e1 * e1)
    penalty = jnp.sum(lam * x1 * x1)
    eta = jnp.sqrt(rss + penalty) / (jnp.sqrt(jnp.trace(M)) * jnp.linalg.norm(x1))
    error = _EPS * kappa * (1.0 + kappa * jnp.where(jnp.isfinite(eta), eta, 0.0))
    loss = jnp.stack([jnp.sum(w * e0 * e0) + jnp.sum(lam * x0 * x0), rss + penalty]) / total_w
    grad_norm = jnp.stack([jnp.linalg.norm(h0), jnp.linalg.norm(h1)]) * 2 / total_w
    decrement = 2 / total_w * jnp.sum((h1 @ Rinv) ** 2)
    return dict(
        x=x1, d=d, sy=sy, rss=rss, penalty=penalty, Rinv=Rinv, kappa=kappa, error=error,
        loss=loss, grad_norm=grad_norm, decrement=decrement,
    )  # fmt: skip


@functools.partial(jax.jit, static_argnames=("trace_length",))
def _qr_refined(X, y, w, alpha, penalised, active, tol, max_iter, *, trace_length: int):
    """Accurate path: Householder QR of the scaled design, Björck refinement in double-double.

    ``active`` marks real columns (1) and padding columns (0): small designs are
    padded to bucketed shapes so that one compiled kernel serves many of them.
    A padding column gets a single 1 in its own extra row, so it is orthogonal
    to everything, R is block diagonal and its coefficient is exactly 0.
    """
    n, p = X.shape
    sw = jnp.sqrt(w)
    A = X * sw[:, None]
    b = y * sw
    d = _pow2_at_least(_safe_norm(A))
    sy = _pow2_at_least(_safe_norm(b[:, None])[0])
    lam = _penalty(alpha * penalised, d)
    # The ridge penalty (and the padding columns) as p extra rows; zero rows pad
    # to a whole number of chunks for the residuals' scan.
    chunk = min(n + p, 4096)
    n_aug = -(-(n + p) // chunk) * chunk
    extra = jnp.diag(jnp.sqrt(lam) + (1.0 - active))
    A = jnp.concatenate([A / d, extra, jnp.zeros((n_aug - n - p, p))])
    b = jnp.concatenate([b / sy, jnp.zeros(n_aug - n)])
    Q, R = jnp.linalg.qr(A)
    Rinv = _triangular_inverse(R)
    real = jnp.outer(active, active)  # the real columns' block of R (R is block diagonal)
    kappa = _norm1(R * real) * _norm1(Rinv * real)
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
    carry = (*carry, jnp.asarray(jnp.inf), trace)

    def body(c):
        x, r, _, _, k, _, final, size_prev, trace = c
        f, g = _augmented_residuals(A, b, r, x, chunk)
        e = f + r  # b - A x, to double-double accuracy
        grad = -2 / total_w * (_vecmat(f, A) - g)  # A^T e = A^T f + A^T r
        trace = trace.at[:, k].set(jnp.stack([jnp.sum(e * e) / total_w, jnp.linalg.norm(grad)]))
        v = _vecmat(f, Q) - g @ Rinv  # Q^T f - R^{-T} g
        dx = Rinv @ v
        size, scale = jnp.linalg.norm(dx), jnp.linalg.norm(x)
        stopped_shrinking = size > 0.5 * size_prev
        converged = (size <= 4 * _EPS * scale) | (stopped_shrinking & (size <= tol * scale))
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
        return (x, r, e, grad, k + step, status, final, size, trace)

    x, _, e, grad, k, status, _, _, trace = jax.lax.while_loop(
        lambda c: c[5] == Status.RUNNING, body, carry
    )
    decrement = total_w / 2 * jnp.sum((grad @ Rinv) ** 2)  # g^T H^{-1} g, H = 2 R^T R / W
    return dict(
        x=x, d=d, sy=sy, rss=jnp.sum(e[:n] ** 2), penalty=jnp.sum(e[n : n + p] ** 2), Rinv=Rinv,
        kappa=kappa, n_iter=k, status=status, loss=trace[0], grad_norm=trace[1],
        decrement=decrement,
    )  # fmt: skip


# --------------------------------------------------------------------------- iterative solvers


def _mean_squared_residual(params: dict, A: jax.Array, c: jax.Array, w: jax.Array) -> jax.Array:
    """The loss in the column-scaled coordinates: sum w (c - A coef)^2 / sum w."""
    return weighted_mean(squared_deviation(c - A @ params["coef"]), w)


def _mean_squared_residual_hessian(params, A, c, w):
    """Its exact Hessian 2 A^T W A / sum w: one GEMM, cheaper than jax.hessian."""
    return 2.0 * jnp.einsum("ni,nj->ij", A * w[:, None], A) / jnp.sum(w)


# --------------------------------------------------------------------------- driver


@dataclasses.dataclass(frozen=True)
class _LeastSquares:
    """A solved (penalised) least-squares problem, in numpy, data units unless noted."""

    coef: np.ndarray
    rss_scaled: float  # sum w r^2 / s_y^2 (the data-unit value may overflow)
    inverse_scaled: np.ndarray  # the same for the scaled design: R^{-1} R^{-T}
    penalty_scaled: np.ndarray  # diagonal Lambda of the scaled problem
    scales: np.ndarray  # d: column j of the scaled design is sqrt(w) X_j / d_j
    y_scale: float  # s_y: the scaled response is sqrt(w) y / s_y
    kappa: float
    path: str
    solution: Solution


def _trace_frame(loss, grad_norm, n_iter: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"loss": np.asarray(loss)[: n_iter + 1], "grad_norm": np.asarray(grad_norm)[: n_iter + 1]},
        index=pd.RangeIndex(n_iter + 1, name="iteration"),
    )


def _bucket(size: int, smallest: int) -> int:
    return max(smallest, 1 << (size - 1).bit_length())


def _check_rank(kappa: float, X: np.ndarray, w: np.ndarray, names: list[str]) -> None:
    n, p = X.shape
    limit = 1.0 / (p * max(n, p) * _EPS)
    if np.isfinite(kappa) and kappa <= limit:
        return
    weighted = X[w > 0] * np.sqrt(w[w > 0])[:, None]
    culprits = collinear_columns(weighted, names)
    if not culprits:  # at the threshold: name the weakest column(s)
        culprits = collinear_columns(weighted, names, rtol=min(1e-6, 10.0 / kappa))
    raise DataError(
        f"the design is rank deficient: column(s) {culprits} are (numerically) linear "
        f"combinations of the other columns {[c for c in names if c not in culprits]} "
        f"(condition number of the column-scaled design {kappa:.3g}); drop or combine them"
    )


def _solve_least_squares(
    design: Design,
    *,
    alpha: float = 0.0,
    tol: float = DEFAULT_QR_TOL,
    max_iter: int = DEFAULT_REFINEMENT_STEPS,
) -> _LeastSquares:
    """Solve min sum w (y - X b)^2 + alpha ||b without intercept||^2 by the rule above."""
    X, y, w = design.X, design.y, design.weights
    n, p = X.shape
    penalised = np.array([not (design.fit_intercept and j == 0) for j in range(p)], float)
    out, path = None, "qr_refined"
    with x64_context("float64"):
        if n * p > SMALL_DESIGN and tol > 0:
            fast = jax.device_get(
                _normal_equations(
                    jax.device_put(X), jax.device_put(y), jax.device_put(w), alpha, penalised,
                    unit_weights=bool(np.all(w == 1.0)),
                )
            )  # fmt: skip
            limit = 1.0 / (p * max(n, p) * _EPS)
            if fast["error"] <= tol and fast["kappa"] <= limit:
                out, path, n_iter = fast, "normal_equations", 1
                status = Status.CONVERGED
        if out is None:
            # Small designs are padded to power-of-two shapes (zero-weight rows, and
            # padding columns, see _qr_refined): a few compiled kernels serve them all.
            rows, cols = (_bucket(n, 128), _bucket(p, 16)) if n <= 4096 else (n, p)
            Xp, yp, wp = np.zeros((rows, cols)), np.zeros(rows), np.zeros(rows)
            Xp[:n, :p], yp[:n], wp[:n] = X, y, w
            active = np.zeros(cols)
            active[:p] = 1.0
            out = jax.device_get(
                _qr_refined(
                    Xp, yp, wp, alpha, np.pad(penalised, (0, cols - p)), active, tol, max_iter,
                    trace_length=_bucket(max_iter + 1, 16),
                )
            )  # fmt: skip
            out.update(x=out["x"][:p], d=out["d"][:p], Rinv=out["Rinv"][:p, :p])
            n_iter, status = int(out["n_iter"]), Status(int(out["status"]))
    kappa = float(out["kappa"])
    if alpha == 0.0:
        _check_rank(kappa, X, w, design.names)
    d, sy = np.asarray(out["d"]), float(out["sy"])
    Rinv = np.asarray(out["Rinv"])
    inverse_scaled = Rinv @ Rinv.T
    solution = Solution(
        params={"coef": np.asarray(out["x"])},
        value=float(np.asarray(out["loss"])[n_iter]),
        grad_norm=float(np.asarray(out["grad_norm"])[n_iter]),
        n_iter=n_iter,
        status=status,
        decrement=float(out["decrement"]),
        trace=_trace_frame(out["loss"], out["grad_norm"], n_iter),
    )
    return _LeastSquares(
        coef=np.asarray(out["x"]) * sy / d,
        rss_scaled=float(out["rss"]),
        inverse_scaled=inverse_scaled,
        penalty_scaled=alpha * penalised / np.where(alpha * penalised > 0, d, 1.0) ** 2,
        scales=d,
        y_scale=sy,
        kappa=kappa,
        path=path,
        solution=solution,
    )


def _iterative_least_squares(design: Design, solver: str, tol: float, max_iter) -> _LeastSquares:
    """Minimise the same mean squared residual with solve.minimize; covariance from QR."""
    X, y, w = design.X, design.y, design.weights
    n_pos = int(np.sum(w > 0))
    # The direct solve supplies R^{-1} (covariance), the rank check and the scales;
    # its compiled kernels are the ones solver="qr" uses, so nothing new compiles.
    direct = _solve_least_squares(design)
    d, sy = direct.scales, direct.y_scale
    solution = minimize(
        _mean_squared_residual,
        {"coef": np.zeros(X.shape[1])},
        X / d,
        y / sy,
        w,
        solver=solver,
        tol=tol**2 / n_pos,
        max_iter=max_iter,
        hessian=_mean_squared_residual_hessian if solver == "newton" else None,
    )
    coef = np.asarray(solution.params["coef"]) * sy / d
    residual = y - X @ coef
    return dataclasses.replace(
        direct,
        coef=coef,
        rss_scaled=float(np.sum(w * (residual / sy) ** 2)),
        path=solver,
        solution=solution,
    )


# --------------------------------------------------------------------------- estimators


def _fit_statistics(design: Design, ls: _LeastSquares, df_params: float) -> dict[str, Any]:
    """Residual variance, R^2 (centred with an intercept, uncentred without), and the dfs.

    Sums of squares are formed in units of s_y, so data near 1e200 neither
    overflow R^2 nor the standard errors (only rss_ and scale_ themselves may).
    """
    w, y = design.weights, design.y / ls.y_scale
    n_pos = int(np.sum(w > 0))
    k_const = 1 if design.fit_intercept else 0
    df_resid = n_pos - df_params
    if design.fit_intercept:
        tss = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    else:
        tss = float(np.sum(w * y * y))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sigma = ls.y_scale * np.sqrt(ls.rss_scaled / df_resid) if df_resid > 0 else np.nan
        rsquared = 1.0 - ls.rss_scaled / tss if tss > 0 else np.nan
        rsquared_adj = (
            1.0 - (n_pos - k_const) / df_resid * (1.0 - rsquared) if df_resid > 0 else np.nan
        )
        rss, scale = ls.rss_scaled * ls.y_scale**2, sigma**2
    return {
        "rss_": rss,
        "scale_": scale,
        "rsquared_": rsquared,
        "rsquared_adj_": rsquared_adj,
        "df_model_": df_params - k_const,
        "nobs_": n_pos,
        "condition_number_": ls.kappa,
        "path_": ls.path,
        "_sigma": sigma,
    }


def _covariance(ls: _LeastSquares, inner_scaled: np.ndarray, sigma: float):
    """sigma^2 D^{-1} C D^{-1} and its diagonal's square root, formed as (sigma / d_i)
    C_ij (sigma / d_j) so that neither overflows when the result does not."""
    factor = sigma / ls.scales
    with np.errstate(over="ignore", invalid="ignore"):
        cov = inner_scaled * np.outer(factor, factor)
    return cov, factor * np.sqrt(np.diag(inner_scaled))


def _warn_no_df(name: str, n_pos: int, df_params: float) -> None:
    warnings.warn(
        f"{name}: {n_pos} rows with positive weight and {df_params:.6g} parameters leave "
        "no residual degrees of freedom: the residual variance and the standard errors "
        "are reported as NaN",
        InferenceWarning,
        stacklevel=5,
    )


class LinearRegression(RegressionEstimator):
    r"""Ordinary and weighted least squares, the minimiser of the mean squared residual.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (y_i - x_i^\top\beta)^2}{\sum_i w_i}
               = (X^\top W X)^{-1} X^\top W y

    ``sample_weight`` are precision weights with statsmodels' ``WLS`` semantics
    (proportional to the inverse variance of each row): multiplying all of them
    by a constant changes nothing. Rows of weight 0 take no part in the fit, so
    ``nobs_`` and ``df_resid_`` count the rows with positive weight ``m``:

    .. math::  \mathrm{df}_\text{resid} = m - p,\quad s^2 = \frac{\sum_i w_i r_i^2}{m - p},
               \quad \widehat{\mathrm{Cov}}(\hat\beta) = s^2 (X^\top W X)^{-1}
               = s^2 D^{-1} R^{-1} R^{-\top} D^{-1},

    computed from the triangular factor :math:`R` of the column-scaled design
    (never by inverting :math:`X^\top W X`). statsmodels' ``WLS`` counts rows
    of weight 0 in its degrees of freedom; with positive weights the two agree.
    t statistics use ``df_resid_``. ``rsquared_`` is centred (weighted) with an
    intercept and uncentred, :math:`1 - \mathrm{RSS}/\sum w y^2`, without one
    (statsmodels' and NIST's convention).

    Parameters
    ----------
    fit_intercept : add a column of ones named ``"Intercept"`` (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.
    solver : ``"qr"`` (default; direct, see the module docstring for its two
        paths), or ``"newton"`` / ``"lbfgs"`` (:func:`estimators.minimize` on
        the same loss).
    tol : for ``"qr"``, the relative error accepted from the fast path and the
        floor at which refinement may stop (default ``1e-10``; ``0`` forces the
        accurate path). For ``"newton"`` / ``"lbfgs"``, the accuracy in
        standard errors, as :class:`~estimators.Mean` (default ``1e-8``).
    max_iter : refinement steps for ``"qr"`` (default 10), else the solver's
        iteration limit.

    Learned attributes, besides those of :class:`~estimators.base.Estimator`:
    ``rss_`` (:math:`\sum w r^2`), ``scale_`` (:math:`s^2`), ``rsquared_``,
    ``rsquared_adj_``, ``df_model_``, ``condition_number_`` (1-norm condition
    number of the column-scaled design) and ``path_`` (``"normal_equations"``,
    ``"qr_refined"``, or the iterative solver). ``history_`` holds the loss in
    data units and the norm of its gradient with respect to the column-scaled
    coefficients (also in loss units); for ``"qr"`` row 0 is the first solve
    and each further row one refinement step (``n_iter_``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> fit = LinearRegression().fit(X, [1.0, 3.0, 5.0, 7.5])
    >>> fit.params_.round(6).tolist()
    [0.9, 2.15]
    """

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        solver: str = "qr",
        tol: float | None = None,
        max_iter: int | None = None,
    ):
        self.fit_intercept = fit_intercept
        self.missing = missing
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def _check_settings(self) -> None:
        if self.solver not in SOLVERS:
            raise SettingsError(f"unknown solver {self.solver!r}; valid solvers are {SOLVERS}")
        if self.tol is not None and not (
            isinstance(self.tol, int | float) and self.tol >= 0 and np.isfinite(self.tol)
        ):
            raise SettingsError(f"tol must be a finite number >= 0, got {self.tol!r}")
        if self.solver != "qr" and self.tol == 0:
            raise SettingsError(f"tol must be > 0 for solver={self.solver!r}")
        if self.max_iter is not None and not (
            isinstance(self.max_iter, int | np.integer) and self.max_iter >= 0
        ):
            raise SettingsError(f"max_iter must be an integer >= 0, got {self.max_iter!r}")

    def _fit_design(self, design: Design) -> FitResult:
        if self.solver == "qr":
            ls = _solve_least_squares(
                design,
                tol=DEFAULT_QR_TOL if self.tol is None else float(self.tol),
                max_iter=DEFAULT_REFINEMENT_STEPS if self.max_iter is None else self.max_iter,
            )
        else:
            tol = DEFAULT_SE_TOL if self.tol is None else float(self.tol)
            ls = _iterative_least_squares(design, self.solver, tol, self.max_iter)
        return _fit_result(design, ls, ls.inverse_scaled, design.X.shape[1], "LinearRegression")


def _fit_result(
    design: Design, ls: _LeastSquares, inner_scaled: np.ndarray, df_params: float, name: str
) -> FitResult:
    """The shared end of a fit: statistics, covariance sigma^2 D^-1 C D^-1, history."""
    stats = _fit_statistics(design, ls, df_params)
    sigma = stats.pop("_sigma")
    if not sigma >= 0:
        _warn_no_df(name, stats["nobs_"], df_params)
    cov, std_errors = _covariance(ls, inner_scaled, sigma)
    return FitResult(
        params=ls.coef,
        cov=cov,
        std_errors=std_errors,
        solution=ls.solution,
        df_resid=stats["nobs_"] - df_params,
        history=ls.solution.trace * ls.y_scale**2,  # the loss in units of y^2
        attributes=stats,
    )


class Ridge(RegressionEstimator):
    r"""Ridge regression: least squares with a squared penalty on the slopes.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (y_i - x_i^\top\beta)^2
               + \alpha \sum_{j \ne 0} \beta_j^2}{\sum_i w_i}
               = (X^\top W X + \alpha P)^{-1} X^\top W y,

    :math:`P` the identity with a 0 for the intercept, which is not penalised.
    This is scikit-learn's ``Ridge`` objective :math:`\|y - Xw\|^2_W + \alpha
    \|w\|^2` (its centring of X and y by weighted means is the same as an
    unpenalised intercept column), with ``sample_weight`` entering the same
    way. Solved by the direct solver of :class:`LinearRegression` (the penalty
    is :math:`p` extra rows :math:`\sqrt{\alpha} P` of the design).

    Standard errors treat :math:`\alpha` as fixed and the weights as
    precision weights:

    .. math::  \widehat{\mathrm{Cov}}(\hat\beta) = s^2 M^{-1} X^\top W X M^{-1},
               \qquad M = X^\top W X + \alpha P,

    with :math:`s^2 = \mathrm{RSS} / (m - \mathrm{df})`, :math:`m` the rows of
    positive weight and :math:`\mathrm{df} = \operatorname{tr}(M^{-1} X^\top W X)`
    the effective number of parameters (Hastie, Tibshirani and Friedman, *The
    Elements of Statistical Learning*, 3.4.1), which is also ``df_resid_ =
    m - df`` for the t statistics. They describe the sampling variability of the
    (biased) ridge estimate around its expectation, not around the true
    coefficients. With ``alpha=0`` everything equals :class:`LinearRegression`.

    Parameters
    ----------
    alpha : penalty weight, >= 0 (default 1.0).
    fit_intercept : add an unpenalised intercept (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.

    Learned attributes: as :class:`LinearRegression`; ``df_model_`` is the
    effective number of parameters less the intercept.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> Ridge(alpha=1.0).fit(X, [1.0, 3.0, 5.0, 7.5]).params_.round(6).tolist()
    [1.4375, 1.791667]
    """

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True, missing: str = "raise"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.missing = missing

    def _check_settings(self) -> None:
        if not (
            isinstance(self.alpha, int | float | np.number)
            and not isinstance(self.alpha, bool)
            and np.isfinite(self.alpha)
            and self.alpha >= 0
        ):
            raise SettingsError(f"alpha must be a finite number >= 0, got {self.alpha!r}")

    def _fit_design(self, design: Design) -> FitResult:
        alpha = float(self.alpha)
        ls = _solve_least_squares(design, alpha=alpha)
        # M^{-1} X'WX M^{-1} = M^{-1} - M^{-1} Lambda M^{-1}, in the scaled units.
        inv, lam = ls.inverse_scaled, ls.penalty_scaled
        sandwich_scaled = inv - inv @ (lam[:, None] * inv)
        df_params = float(design.X.shape[1] - np.sum(lam * np.diag(inv)))
        return _fit_result(design, ls, sandwich_scaled, df_params, "Ridge")
