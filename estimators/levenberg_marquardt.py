r"""Levenberg-Marquardt for weighted nonlinear least squares, in one jitted loop.

:func:`levenberg_marquardt` minimises

.. math::  \|f(\beta)\|^2, \qquad f(\beta) = \sqrt w\,(m(\beta; x) - y),

for a model :math:`m` given as a pure JAX function of the parameter vector.
The solver is Moré's (1978) Levenberg-Marquardt, the algorithm of MINPACK's
``lmder``, run as ONE jitted ``lax.while_loop`` (an inner loop of trial steps
inside it) and keyed on the model function, so refits with the same model
and shapes reuse the compiled kernel. With the Jacobian :math:`J` of
:math:`f` (``jax.jacfwd``, exact), each trial step solves

.. math::  \min_p \|J p + f\|  \quad\text{subject to}\quad \|D p\| \le \Delta,

i.e. :math:`(J^\top J + \alpha D^2)\,p = -J^\top f` with the damping
:math:`\alpha \ge 0` chosen (Moré's safeguarded Newton iteration on the secular
equation) so that :math:`\|Dp\|` is within 10% of the trust radius
:math:`\Delta`, or :math:`\alpha = 0` (the Gauss-Newton step) when that step is
inside. :math:`D = \mathrm{diag}(d_j)` is the Jacobian-based variable scaling:
:math:`d_j` is the largest Euclidean norm of column :math:`j` of :math:`J` met
so far, which makes the iterates invariant to the units of the parameters.
The step comes from one SVD :math:`J D^{-1} = U S V^\top` per Jacobian (a QR
of :math:`[J D^{-1}, f]`, then the SVD of the small triangle):
:math:`Dp = -V\,\mathrm{diag}(s_i/(s_i^2+\alpha))\,U^\top f`, so every trial
at the same point costs one model evaluation. :math:`\Delta` grows or shrinks
with the ratio of the actual to the predicted reduction of :math:`\|f\|^2`
(MINPACK's update; a trial with a non-finite model value counts as a failure
and shrinks :math:`\Delta` tenfold).

Stopping rules (MINPACK's, with tight defaults)
-----------------------------------------------
At each new point, before any trial step:

1. **Relative reduction** (``tol``, converged): the predicted relative
   reduction of :math:`\|f\|^2` by the Gauss-Newton step :math:`p_{GN}` is at
   most :math:`\text{ftol} = \text{tol}^2/(n-p)`, :math:`n = \sum_i w_i`. As
   :math:`(n-p)\|Jp_{GN}\|^2/\|f\|^2 = \|Jp_{GN}\|^2/s^2`, this says the
   estimate is within ``tol`` standard errors of the minimiser; one last
   Gauss-Newton step is then taken (kept unless rounding makes it raise
   :math:`\|f\|`). MINPACK also asks the *actual* reduction to be that
   small; that is rounding noise below about :math:`\epsilon`, i.e. about
   :math:`\sqrt{\epsilon(n-p)}` standard errors, so it is left out.
2. **Gradient** (``gtol``, converged): the cosine of the angle between
   :math:`f` and every column of :math:`J` is at most ``gtol``.
3. **Polishing**: once the predicted relative reduction is below
   :math:`10^{-10}` the trust region's accept/reject test (which compares
   loss values) can no longer see progress, so plain Gauss-Newton steps are
   taken instead while they keep shrinking the decrement; if one does not,
   the loop returns to the point before it (**floor**, converged: rounding,
   not the algorithm, keeps the decrement above ``tol``).

After each trial step: **relative step** (``xtol``, converged):
:math:`\Delta \le \text{xtol}\,\|D\beta\|`; failures: the trust radius
shrinking to :math:`\epsilon\|D\beta\|` (or 100 failed trials at one point),
the cosines falling below :math:`\epsilon`, or ``max_iter`` Jacobians.
The :class:`~estimators.solve.Solution` says which test stopped the loop in
its ``detail`` (its ``message``).

Reference: J. J. Moré, "The Levenberg-Marquardt algorithm: implementation
and theory", Numerical Analysis, Lecture Notes in Mathematics 630 (1978).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .errors import SettingsError
from .solve import Solution, Status, x64_context

EPS = float(np.finfo(np.float64).eps)
_POLISH = 1e-10  # relative decrement below which plain Gauss-Newton steps polish the fit
_MAX_TRIALS = 100  # trial steps at one point; each failure shrinks Delta at least twofold


class Reason:
    """Why the Levenberg-Marquardt loop stopped (after MINPACK's ``info``), and its status."""

    RUNNING, TOL, XTOL, GTOL, FLOOR, MAX_ITER, XTOL_EPS, GTOL_EPS, NONFINITE = range(9)
    MESSAGES = {
        TOL: (
            "converged: the Gauss-Newton step is within tol standard errors (its predicted "
            "relative reduction of the sum of squares is at most tol**2 / (n - p))"
        ),
        XTOL: "converged: the relative step (trust radius) is at most xtol",
        GTOL: "converged: the cosine between residuals and Jacobian columns is at most gtol",
        FLOOR: (
            "converged to the float64 floor: Gauss-Newton steps no longer reduce the "
            "decrement, which rounding keeps above tol"
        ),
        MAX_ITER: "not converged: reached max_iter before a convergence test passed",
        XTOL_EPS: (
            "not converged: no step reduced the sum of squares and the trust radius fell "
            "to machine precision before the xtol test passed"
        ),
        GTOL_EPS: (
            "not converged: the residuals are orthogonal to the Jacobian to machine "
            "precision before the gtol test passed"
        ),
        NONFINITE: "failed: the model or its Jacobian became NaN or infinite",
    }
    STATUS = {
        TOL: Status.CONVERGED,
        XTOL: Status.CONVERGED,
        GTOL: Status.CONVERGED,
        FLOOR: Status.CONVERGED,
        MAX_ITER: Status.MAX_ITER,
        XTOL_EPS: Status.STALLED,
        GTOL_EPS: Status.STALLED,
        NONFINITE: Status.NONFINITE,
    }


class LevenbergMarquardtResult(NamedTuple):
    r"""What :func:`levenberg_marquardt` returns: the solution and what inference needs.

    ``solution.value`` is the mean squared weighted residual
    :math:`\|f\|^2 / \sum_i w_i` and ``solution.trace`` its history; ``jacobian``
    is :math:`J`, the Jacobian of :math:`f = \sqrt w\,(m - y)` at the estimate
    (``(n, p)``); ``rss`` is :math:`\|f\|^2` there and ``residuals`` is
    :math:`f` (``(n,)``; the sandwich's scores are :math:`2 f_i J_i`).
    """

    solution: Solution
    jacobian: np.ndarray
    rss: float
    residuals: np.ndarray


def check_settings(*, tol: Any, xtol: Any, gtol: Any, step_bound: Any, max_iter: Any) -> None:
    """SettingsError unless the tolerances are >= 0, step_bound > 0 and max_iter an int >= 0."""
    for name, value in (("tol", tol), ("xtol", xtol), ("gtol", gtol), ("step_bound", step_bound)):
        positive = name == "step_bound"
        if not (isinstance(value, int | float) and (value > 0 if positive else value >= 0)):
            bound = "> 0" if positive else ">= 0"
            raise SettingsError(f"{name} must be a number {bound}, got {value!r}")
    if not (isinstance(max_iter, int | np.integer) and max_iter >= 0):
        raise SettingsError(f"max_iter must be an integer >= 0, got {max_iter!r}")


def levenberg_marquardt(
    model: Callable[[jax.Array, Any], jax.Array],
    theta0: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    sqrt_weights: np.ndarray,
    *,
    tol: float = 1e-10,
    xtol: float = 1e-15,
    gtol: float = 1e-15,
    step_bound: float = 1.0,
    max_iter: int = 1000,
) -> LevenbergMarquardtResult:
    r"""Minimise :math:`\|\sqrt w\,(m(\theta; x) - y)\|^2` from ``theta0`` (see the module docs).

    ``model(theta, x)`` is a pure JAX function of the parameter vector returning
    one value per row of ``x``; pass the same function object to reuse the
    compiled kernel. The data must already be validated: float64 arrays, ``y``
    and ``sqrt_weights`` of shape ``(n,)``, finite. ``tol`` is the accuracy in
    standard errors (``ftol = tol**2 / (n - p)``), ``xtol`` and ``gtol``
    MINPACK's step and gradient tolerances, ``step_bound`` the first trust
    radius as a multiple of :math:`\|D\theta_0\|`, ``max_iter`` the limit on
    Jacobian evaluations. A start where the model is NaN or infinite stops at
    once with status ``NONFINITE`` and a trace of one NaN loss.

    >>> x = np.linspace(0.0, 3.0, 8)
    >>> result = levenberg_marquardt(
    ...     lambda b, x: b[0] * jnp.exp(-b[1] * x), np.array([1.0, 1.0]),
    ...     x, 2.0 * np.exp(-0.5 * x), np.ones(8),
    ... )
    >>> result.solution.params.round(12).tolist(), result.solution.converged
    ([2.0, 0.5], True)
    """
    check_settings(tol=tol, xtol=xtol, gtol=gtol, step_bound=step_bound, max_iter=max_iter)
    with x64_context("float64"):
        out, jac = _lm_jit(
            model,
            int(max_iter),
            *(np.asarray(a, dtype=np.float64) for a in (theta0, x, y, sqrt_weights)),
            float(tol),
            float(xtol),
            float(gtol),
            float(step_bound),
        )
        out, jac = jax.device_get((out, jac))
    return LevenbergMarquardtResult(
        _solution(out), np.asarray(jac), float(out.fnorm) ** 2, np.asarray(out.f)
    )


# --------------------------------------------------------------------------- the kernel


def _coefficients(s, keep, alpha):
    r"""The step's coefficients :math:`s_i/(s_i^2+\alpha)`; at :math:`\alpha = 0`,
    :math:`1/s_i` on the kept singular values and 0 on the dropped ones."""
    return jnp.where(
        alpha > 0, s / (s * s + alpha), jnp.where(keep, 1.0 / jnp.where(keep, s, 1.0), 0.0)
    )


def _damping(s, g, keep, delta, par0):
    r"""Moré's damping :math:`\alpha` for the trust radius ``delta``, from the SVD.

    With :math:`q(\alpha) = -V\,\mathrm{diag}(s/(s^2+\alpha))\,g` (``g = U^T f``),
    find :math:`\alpha \ge 0` with :math:`\|q(\alpha)\|` within 10% of
    :math:`\Delta` by Newton's method on :math:`1/\Delta - 1/\|q(\alpha)\|`
    (nearly linear in :math:`\alpha`), safeguarded by the bounds
    :math:`[\ell, u]` of MINPACK's ``lmpar``; :math:`\alpha = 0` when the
    Gauss-Newton step is short enough. At most 10 iterations, as in MINPACK.
    """
    s2 = s * s
    s_safe = jnp.where(keep, s, 1.0)

    def qnorm(alpha):
        return jnp.linalg.norm(_coefficients(s, keep, alpha) * g)

    gn = qnorm(0.0)
    tiny = jnp.finfo(s.dtype).tiny
    # Lower bound: one Newton step on the secular function from alpha = 0 (full rank).
    denom0 = jnp.sum(jnp.where(keep, g * g / s_safe**4, 0.0))
    full_rank = jnp.all(keep)
    lower = jnp.where(full_rank & (denom0 > 0), (gn - delta) / delta * gn**2 / denom0, 0.0)
    grad_norm = jnp.linalg.norm(s * g)
    upper = grad_norm / delta
    upper = jnp.where(upper == 0, tiny / jnp.minimum(delta, 0.1), upper)
    alpha = jnp.clip(par0, lower, upper)
    alpha = jnp.where(alpha == 0, grad_norm / jnp.where(gn > 0, gn, 1.0), alpha)

    def body(c):
        alpha, lower, upper, fp_old, i, _ = c
        qn = qnorm(alpha)
        fp = qn - delta
        done = (jnp.abs(fp) <= 0.1 * delta) | ((lower == 0) & (fp <= fp_old) & (fp_old < 0))
        done = done | (i == 9)
        slope = jnp.sum(s2 * g * g / (s2 + alpha) ** 3)
        correction = fp / delta * qn**2 / jnp.where(slope > 0, slope, 1.0)
        lower = jnp.where(fp > 0, jnp.maximum(lower, alpha), lower)
        upper = jnp.where(fp < 0, jnp.minimum(upper, alpha), upper)
        new = jnp.maximum(lower, alpha + correction)
        return jnp.where(done, alpha, new), lower, upper, fp, i + 1, done

    start = (alpha, lower, upper, jnp.asarray(jnp.inf, s.dtype), 0, gn <= 1.1 * delta)
    alpha = jax.lax.while_loop(lambda c: ~c[5], body, start)[0]
    return jnp.where(gn <= 1.1 * delta, 0.0, alpha)


class _Carry(NamedTuple):
    theta: jax.Array
    f: jax.Array
    fnorm: jax.Array
    diag: jax.Array
    delta: jax.Array
    par: jax.Array
    k: jax.Array  # accepted steps
    reason: jax.Array
    decrement: jax.Array
    polishing: jax.Array  # the last step was a Gauss-Newton polishing step
    previous: tuple  # (theta, f, fnorm, relative decrement) before the last step
    trace_loss: jax.Array
    trace_grad: jax.Array


class _Trial(NamedTuple):
    theta: jax.Array
    f: jax.Array
    fnorm: jax.Array
    delta: jax.Array
    par: jax.Array
    accepted: jax.Array
    reason: jax.Array
    trials: jax.Array


def _radius_update(actred, prered, dirder, ratio, delta, par, pnorm, shrink_hard):
    """MINPACK's update of the trust radius and the damping after a trial step."""
    shrink = jnp.where(actred >= 0, 0.5, 0.5 * dirder / (dirder + 0.5 * actred))
    shrink = jnp.where(shrink_hard | (shrink < 0.1), 0.1, shrink)
    grow = (par == 0) | (ratio >= 0.75)
    new_delta = jnp.where(
        ratio <= 0.25,
        shrink * jnp.minimum(delta, pnorm / 0.1),
        jnp.where(grow, pnorm / 0.5, delta),
    )
    new_par = jnp.where(ratio <= 0.25, par / shrink, jnp.where(grow, 0.5 * par, par))
    return new_delta, new_par


def _lm(model, max_iter, theta0, x, y, sw, tol, xtol, gtol, step_bound):
    """The pure Levenberg-Marquardt loop (MINPACK ``lmder``, mode 1); see the module docs.

    Returns the final carry (trace completed at the estimate) and the Jacobian there.
    """

    def residuals(theta):
        return sw * (model(theta, x) - y)

    jacobian = jax.jacfwd(residuals)
    nobs = jnp.sum(sw * sw)
    n, p = x.shape[0], theta0.shape[0]
    rcond = EPS * max(n, p)
    # The relative-reduction tolerance that means "within tol standard errors":
    # ||J p||^2 / s^2 = (n - p) ||J p||^2 / ||f||^2 for the Gauss-Newton step p.
    ftol = tol**2 / jnp.maximum(nobs - p, 1.0)

    def outer(c: _Carry) -> _Carry:
        jac = jacobian(c.theta)
        colnorm = jnp.linalg.norm(jac, axis=0)
        first = c.k == 0
        diag = jnp.where(
            first, jnp.where(colnorm == 0, 1.0, colnorm), jnp.maximum(c.diag, colnorm)
        )
        xnorm = jnp.linalg.norm(diag * c.theta)
        delta = jnp.where(first, jnp.where(xnorm > 0, step_bound * xnorm, step_bound), c.delta)
        jtf = c.f @ jac
        fnorm_safe = jnp.where(c.fnorm > 0, c.fnorm, 1.0)
        cosines = jnp.abs(jtf) / jnp.where(colnorm > 0, colnorm * fnorm_safe, 1.0)
        gnorm = jnp.max(jnp.where(colnorm > 0, cosines, 0.0))
        trace_loss = c.trace_loss.at[c.k].set(c.fnorm**2 / nobs)
        trace_grad = c.trace_grad.at[c.k].set(2 * jnp.linalg.norm(jtf) / nobs)

        # J D^-1 = U S V^T through a QR of [J D^-1, f] (R only: geqrf, no Q), whose
        # last column holds Q^T f, and the SVD of the p x p triangle; cheaper than an
        # SVD of the n x p matrix, as accurate.
        r = jnp.linalg.qr(jnp.concatenate([jac / diag, c.f[:, None]], axis=1), mode="r")
        u_r, s, vt = jnp.linalg.svd(r[:p, :p])
        g = r[:p, p] @ u_r  # U^T f
        keep = s > rcond * s[0]
        gn_reduction = jnp.sum(jnp.where(keep, g * g, 0.0))  # ||J p_GN||^2
        decrement = 2 * gn_reduction / nobs  # g^T H^-1 g of the mean loss, H = 2 J^T J / n
        relative = gn_reduction / fnorm_safe**2
        # The relative-reduction test, on the predicted reduction only: the actual
        # reduction is rounding noise long before the estimate stops improving.
        final = relative <= ftol
        # Near the minimum the trust region's accept/reject test compares reductions
        # below the rounding of ||f||^2 (about eps: sqrt(eps (n - p)) standard errors),
        # so there plain Gauss-Newton steps go on, judged by the decrement instead.
        polish = ~final & (relative <= _POLISH)
        floor = c.polishing & (relative >= c.previous[3])

        def trial(t: _Trial) -> _Trial:
            gauss_newton = final | polish
            par = jnp.where(gauss_newton, 0.0, _damping(s, g, keep, t.delta, t.par))
            coef = _coefficients(s, keep, par)
            q = -(coef * g) @ vt  # q = D p
            pnorm = jnp.linalg.norm(q)
            delta = jnp.where(first, jnp.minimum(t.delta, pnorm), t.delta)
            theta1 = c.theta + q / diag
            f1 = residuals(theta1)
            fnorm1 = jnp.linalg.norm(f1)
            finite = jnp.isfinite(fnorm1)
            actred = jnp.where(
                finite & (0.1 * fnorm1 < c.fnorm), 1 - (fnorm1 / fnorm_safe) ** 2, -1.0
            )
            temp1 = (jnp.linalg.norm(s * coef * g) / fnorm_safe) ** 2  # ||J p||^2 / ||f||^2
            temp2 = par * (pnorm / fnorm_safe) ** 2
            prered = temp1 + 2 * temp2
            ratio = jnp.where(prered != 0, actred / prered, 0.0)
            new_delta, new_par = _radius_update(
                actred,
                prered,
                -(temp1 + temp2),
                ratio,
                delta,
                par,
                pnorm,
                (0.1 * fnorm1 >= c.fnorm) | ~finite,
            )
            # The final Gauss-Newton step is kept unless rounding makes it raise ||f||.
            accepted = jnp.select(
                [final, polish],
                [finite & (fnorm1 <= c.fnorm * (1 + 4 * EPS)), finite],
                ratio >= 1e-4,
            )
            xnorm1 = jnp.linalg.norm(diag * jnp.where(accepted, theta1, c.theta))
            reason = jnp.select(
                [
                    final,
                    polish,
                    new_delta <= xtol * xnorm1,
                    new_delta <= EPS * xnorm1,
                    gnorm <= EPS,
                    t.trials + 1 >= _MAX_TRIALS,
                ],
                [
                    Reason.TOL,
                    jnp.where(finite, Reason.RUNNING, Reason.FLOOR),
                    Reason.XTOL,
                    Reason.XTOL_EPS,
                    Reason.GTOL_EPS,
                    Reason.XTOL_EPS,
                ],
                Reason.RUNNING,
            )
            return _Trial(
                jnp.where(accepted, theta1, c.theta),
                jnp.where(accepted, f1, c.f),
                jnp.where(accepted, fnorm1, c.fnorm),
                jnp.where(gauss_newton, t.delta, new_delta),
                jnp.where(gauss_newton, t.par, new_par),
                accepted,
                reason,
                t.trials + 1,
            )

        # Tests made before any trial step: a non-finite Jacobian, a polishing step
        # that did not reduce the decrement (back to the point before it), and gtol.
        reason = jnp.where(~final & ~polish & (gnorm <= gtol), Reason.GTOL, Reason.RUNNING)
        reason = jnp.where(floor, Reason.FLOOR, reason)
        reason = jnp.where(jnp.all(jnp.isfinite(jac)), reason, Reason.NONFINITE)
        start = _Trial(c.theta, c.f, c.fnorm, delta, c.par, jnp.bool_(False), reason, 0)
        t = jax.lax.while_loop(lambda t: ~t.accepted & (t.reason == Reason.RUNNING), trial, start)
        k = c.k + t.accepted
        reason = jnp.where(
            (t.reason == Reason.RUNNING) & (k >= max_iter), Reason.MAX_ITER, t.reason
        )
        theta, f, fnorm = jax.tree.map(
            lambda old, new: jnp.where(floor, old, new), c.previous[:3], (t.theta, t.f, t.fnorm)
        )
        return _Carry(
            theta,
            f,
            fnorm,
            diag,
            t.delta,
            t.par,
            jnp.where(floor, c.k - 1, k),
            reason.astype(jnp.int32),
            jnp.where(floor, c.decrement, decrement),
            polish & t.accepted,
            (c.theta, c.f, c.fnorm, relative),
            trace_loss,
            trace_grad,
        )

    f0 = residuals(theta0)
    fnorm0 = jnp.linalg.norm(f0)
    reason0 = jnp.where(jnp.isfinite(fnorm0), Reason.RUNNING, Reason.NONFINITE)
    reason0 = jnp.where((reason0 == Reason.RUNNING) & (max_iter == 0), Reason.MAX_ITER, reason0)
    trace = jnp.full(max_iter + 1, jnp.nan)
    zero = jnp.asarray(0.0)
    carry = _Carry(
        theta0,
        f0,
        fnorm0,
        jnp.ones(p),
        zero,
        zero,
        jnp.int32(0),
        reason0.astype(jnp.int32),
        jnp.asarray(jnp.inf),
        jnp.bool_(False),
        (theta0, f0, fnorm0, jnp.asarray(jnp.inf)),
        trace,
        trace,
    )
    out = jax.lax.while_loop(lambda c: c.reason == Reason.RUNNING, outer, carry)
    # The Jacobian at the estimate: the last trace entry and the standard errors.
    jac = jacobian(out.theta)
    gradient = 2 * jnp.linalg.norm(out.f @ jac) / nobs
    out = out._replace(
        trace_loss=out.trace_loss.at[out.k].set(out.fnorm**2 / nobs),
        trace_grad=out.trace_grad.at[out.k].set(gradient),
    )
    return out, jac


_lm_jit = jax.jit(_lm, static_argnames=("model", "max_iter"))


def _solution(out) -> Solution:
    """The kernel's carry, on the host, as a Solution whose ``detail`` names the stopping test."""
    n_iter = int(out.k)
    reason = int(out.reason)
    trace = pd.DataFrame(
        {"loss": out.trace_loss[: n_iter + 1], "grad_norm": out.trace_grad[: n_iter + 1]},
        index=pd.RangeIndex(n_iter + 1, name="iteration"),
    )
    return Solution(
        params=np.asarray(out.theta),
        value=float(trace["loss"].iloc[-1]),
        grad_norm=float(trace["grad_norm"].iloc[-1]),
        n_iter=n_iter,
        status=Reason.STATUS[reason],
        decrement=float(out.decrement),
        trace=trace,
        detail=Reason.MESSAGES[reason],
    )
