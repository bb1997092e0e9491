"""The solvers of :func:`~estimators.stream.fit_stream`: TSQR, streaming Newton, minibatch.

See the docstring of :mod:`estimators.stream` for the maths.
"""

from __future__ import annotations

import functools
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from .errors import DataError, FitError
from .frame import collinear_columns
from .lstsq import rank_limit
from .solve import Solution, Status, x64_context
from .stream_kernels import EPS, check_rank, newton_step, trace_frame, tsqr_step
from .stream_passes import GLMPasses, Pass
from .stream_sources import Blocks

__all__ = ["least_squares", "minibatch", "newton", "separation_error"]


def least_squares(blocks: Blocks, passes: Pass, names: list[str]) -> dict[str, Any]:
    """One pass of streaming QR; the estimate, covariance and LinearRegression's statistics."""
    p = blocks.p
    state = {"R": None, "weight": 0.0, "positive": 0, "log_w": 0.0}

    def each(block, host, rows):
        w = host[:rows, -1]
        state["weight"] += float(w.sum())
        positive = w > 0
        state["positive"] += int(positive.sum())
        state["log_w"] += float(np.sum(np.log(w[positive])))
        R = state["R"]
        state["R"] = tsqr_step(jnp.zeros((p + 1, p + 1)) if R is None else R, block)
        return state["R"]

    passes.run("LinearRegression", each)
    m = state["positive"]
    if state["R"] is None or m == 0:
        n_rows = getattr(blocks, "n_rows", 0)
        raise DataError(f"no rows with positive weight in the source ({n_rows} rows read)")
    R = np.asarray(state["R"], dtype=float)
    R11, r, rho = R[:p, :p], R[:p, p], abs(R[p, p])
    check_rank(R11.T @ R11, names, m)
    norms = np.linalg.norm(R11, axis=0)
    scaled = R11 / np.where(norms > 0, norms, 1.0)
    kappa = float(np.linalg.cond(scaled, p=1))
    if not kappa <= rank_limit(m, p):
        culprits = collinear_columns(R11, names) or names
        raise DataError(
            f"the design is rank deficient: column(s) {culprits} are (numerically) linear "
            f"combinations of the others (condition number {kappa:.3g}); drop or combine them"
        )
    from scipy.linalg import solve_triangular

    beta = solve_triangular(R11, r)
    Rinv = solve_triangular(R11, np.eye(p))
    df_resid = m - p
    rss = rho * rho
    scale = rss / df_resid if df_resid > 0 else np.nan
    # Residual norm of y on the intercept alone: rows 1..p of R's last column.
    tss = float(np.sum(R[1:p, p] ** 2) + rss) if blocks.intercept else float(R[:, p] @ R[:, p])
    rsquared = 1.0 - rss / tss if tss > 0 else np.nan
    k_const = int(blocks.intercept)
    llf = -0.5 * m * (np.log(2 * np.pi * rss / m) + 1.0) + 0.5 * state["log_w"]
    grad = 2.0 / state["weight"] * (R11.T @ (R11 @ beta - r))  # rounding level
    solution = Solution(
        params={"coef": beta},
        value=rss / state["weight"],
        grad_norm=float(np.linalg.norm(grad)),
        n_iter=1,
        status=Status.CONVERGED,
        decrement=0.0,
        trace=trace_frame([rss / state["weight"]], [float(np.linalg.norm(grad))]),
        detail=(
            f"direct: streaming Householder QR (TSQR) over {blocks.n_rows} rows in one pass "
            f"(condition number {kappa:.3g})"
        ),
    )
    return dict(
        params=beta,
        cov=scale * (Rinv @ Rinv.T),
        solution=solution,
        nobs=m,
        df_resid=df_resid,
        attributes={
            "rss_": rss,
            "scale_": scale,
            "rsquared_": rsquared,
            "rsquared_adj_": 1.0 - (m - k_const) / df_resid * (1.0 - rsquared)
            if df_resid > 0
            else np.nan,
            "df_model_": p - k_const,
            "llf_": llf,
            "aic_": -2.0 * llf + 2.0 * p,
            "bic_": -2.0 * llf + np.log(m) * p,
            "condition_number_": kappa,
            "path_": "tsqr",
        },
    )


def newton(glm: GLMPasses, names: list[str], tol: float, max_iter: int):
    """Streaming Newton with step halving; returns beta, the final pass and the Solution."""
    stats = glm.validate()
    beta = glm.start()
    nobs = stats.weight
    f, g, H, _ = glm.evaluate(beta)
    floor = EPS * abs(f)  # minimize's loss_scale: a floor for a loss whose minimum is 0
    losses, norms = [f], [float(np.linalg.norm(g))]
    status, k = Status.MAX_ITER, 0
    while k < max_iter:
        if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            status = Status.NONFINITE
            break
        try:
            check_rank(H, names, nobs)
        except DataError as err:
            # At the start the information is X'WX with positive weights: singular only
            # for collinear columns. Later it can vanish as coefficients run off.
            raise (err if k == 0 else separation_error(err, glm)) from None
        step, decrement = newton_step(g, H)
        if 0.5 * decrement <= tol**2 / nobs * max(abs(f), floor):
            beta = beta + step  # the last full step: squares the remaining error
            status = Status.CONVERGED
            break
        t = 1.0
        while True:  # halve a step that does not lower the loss (Armijo)
            f_new, g_new, H_new, _ = glm.evaluate(beta + t * step)
            if np.isfinite(f_new) and f_new <= f - 1e-4 * t * decrement:
                break
            if t == 1.0 and np.isfinite(f_new) and 0.5 * decrement <= 1e-10 * abs(f):
                # Inside Newton's quadratic region the decrease is below what the
                # loss (a sum of n rounded terms) resolves: take the full step.
                break
            t /= 2
            if t < 1e-8:
                status = Status.STALLED
                break
        if status == Status.STALLED:
            break
        beta, f, g, H, k = beta + t * step, f_new, g_new, H_new, k + 1
        losses.append(f)
        norms.append(float(np.linalg.norm(g)))
    if status == Status.NONFINITE:
        raise FitError(
            f"{glm.label} fit failed after {k} iterations: the loss or its derivatives became "
            "NaN or infinite. Hint: look for extreme values in the columns (rescale them)"
        )
    f, g, H, fit = glm.evaluate(beta, final=True)
    _, decrement = newton_step(g, H)
    if status == Status.CONVERGED:
        k += 1
        losses.append(f)
        norms.append(float(np.linalg.norm(g)))
    solution = Solution(
        params={"coef": beta}, value=f, grad_norm=float(np.linalg.norm(g)), n_iter=k,
        status=status, decrement=decrement, trace=trace_frame(losses, norms),
        detail=_newton_detail(status, k, glm.passes.count, tol, max_iter),
    )  # fmt: skip
    return beta, H, fit, solution


def separation_error(err: DataError, glm: GLMPasses) -> DataError:
    """``err`` (a singular information) with perfect separation named as its likely cause.

    Under (quasi-)perfect separation the coefficients of a binomial or poisson
    fit run off to infinity and the information matrix vanishes; proving it
    needs all rows at once (:mod:`estimators.separation`), which a stream does not hold.
    """
    response = glm.blocks.response
    exact = "0 or 1" if glm.family.name == "binomial" else "a count of 0"
    return DataError(
        f"{err}. Likely cause: perfect separation of {response!r}, a combination of the "
        f"columns predicts {exact} exactly (or {response!r} is constant), so the maximum "
        "likelihood estimate does not exist; fit the data in memory to name the columns "
        "(a PerfectSeparationWarning)"
    )


def _newton_detail(status: Status, k: int, n_passes: int, tol: float, max_iter: int) -> str:
    where = f"{k} Newton iteration(s), {n_passes} passes over the data"
    if status == Status.CONVERGED:
        return f"converged: the Newton decrement put the estimate within tol={tol:g} SE ({where})"
    if status == Status.STALLED:
        return f"not converged: step halving found no lower loss ({where})"
    return f"not converged: max_iter={max_iter} Newton iterations ran out ({where})"


@functools.cache
def _optimizer(solver: str, learning_rate: float, steps: int) -> optax.GradientTransformation:
    """``solver`` with a cosine decay of the rate to 0 over the run: a constant rate
    leaves the estimate jittering several standard errors about the optimum."""
    return getattr(optax, solver)(optax.cosine_decay_schedule(learning_rate, steps))


def minibatch(glm: GLMPasses, names: list[str], tol: float, options: dict):
    """optax over minibatches for ``n_epochs`` passes, then one exact pass for the SEs."""
    stats = glm.validate()
    _, exponent = np.frexp(stats.largest)
    scale = np.where(stats.largest > 0, np.ldexp(1.0, -exponent), 1.0)  # powers of two
    size, mb = glm.blocks.batch_size, options["minibatch_size"]
    n_blocks = -(-glm.blocks.n_rows // size)
    steps = options["n_epochs"] * n_blocks * (size // mb)
    optimizer = _optimizer(options["solver"], float(options["learning_rate"]), steps)
    epoch = glm.epoch(optimizer)
    rng = np.random.default_rng(options["seed"])
    with x64_context("float64"):
        gamma = jnp.asarray(glm.start() / scale)
        state = optimizer.init(gamma)
        scale_dev = jnp.asarray(scale)
    losses, norms = [], []
    for _ in range(options["n_epochs"]):

        def each(block, host, rows):
            nonlocal gamma, state
            order = jnp.asarray(rng.permutation(size).reshape(-1, mb))
            gamma, state = epoch(gamma, state, block, scale_dev, order)
            return gamma

        glm.passes.run(f"{glm.label}: {options['solver']} epoch", each)
        losses.append(np.nan)  # the minibatch losses are not a full-data loss
        norms.append(np.nan)
    beta = scale * np.asarray(gamma, dtype=float)
    f, g, H, fit = glm.evaluate(beta, final=True)
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        raise FitError(
            f"{glm.label} minibatch fit failed: the loss became NaN or infinite. "
            "Hint: lower the learning_rate"
        )
    check_rank(H, names, stats.weight)
    _, decrement = newton_step(g, H)
    losses[-1], norms[-1] = f, float(np.linalg.norm(g))
    return beta, H, fit, decrement, (f, g, losses, norms)
