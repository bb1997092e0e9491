r"""Nonlinear least squares by Levenberg-Marquardt, with exact Jacobians from autodiff.

:class:`NonlinearLeastSquares` fits a user's model :math:`m(\beta; x)` by

.. math::  \hat\beta = \arg\min_\beta \frac{1}{n}\sum_i w_i\,(y_i - m(\beta; x_i))^2,
           \qquad n = \sum_i w_i .

The solver is Moré's (1978) Levenberg-Marquardt, the algorithm of MINPACK's
``lmder``, run as ONE jitted ``lax.while_loop`` (an inner loop of trial steps
inside it) and keyed on the model function, so refits with the same model
and shapes reuse the compiled kernel. With :math:`f = \sqrt w\,(m - y)` and
its Jacobian :math:`J` (``jax.jacfwd``, exact), each trial step solves

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
   most :math:`\text{ftol} = \text{tol}^2/(n-p)`. As
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

Standard errors are the classical
:math:`\widehat{\mathrm{Cov}} = s^2 (J^\top W J)^{-1}`,
:math:`s^2 = \sum_i w_i r_i^2/(n - p)` (NIST's definition), through the SVD
of the column-scaled Jacobian, never by inverting :math:`J^\top J`.

Reference: J. J. Moré, "The Levenberg-Marquardt algorithm: implementation
and theory", Numerical Analysis, Lecture Notes in Mathematics 630 (1978).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .base import Estimator
from .errors import ConvergenceWarning, DataError, FitError, InferenceWarning, SettingsError
from .frame import MISSING_POLICIES, _as_float_matrix, _as_float_vector, _check_weights, _rows
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


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class LeastSquaresSolution(Solution):
    """A :class:`~estimators.solve.Solution` that says which test stopped the loop."""

    reason: str = ""

    @property
    def message(self) -> str:
        return self.reason or super().message


# --------------------------------------------------------------------------- the kernel


def _unflatten(theta: jax.Array, names: tuple[str, ...] | None):
    """The parameters as the model takes them: a dict of scalars, or the vector itself."""
    return theta if names is None else {name: theta[i] for i, name in enumerate(names)}


def _residual_fn(model, names, x, y, sw):
    return lambda theta: sw * (model(_unflatten(theta, names), x) - y)


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
        coef = jnp.where(alpha > 0, s / (s2 + alpha), jnp.where(keep, 1.0 / s_safe, 0.0))
        return jnp.linalg.norm(coef * g)

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


def _lm(model, names, max_iter, theta0, x, y, sw, tol, xtol, gtol, step_bound):
    """The pure Levenberg-Marquardt loop (MINPACK ``lmder``, mode 1); see the module docs."""
    residuals = _residual_fn(model, names, x, y, sw)
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
            coef = jnp.where(
                par > 0, s / (s * s + par), jnp.where(keep, 1 / jnp.where(keep, s, 1), 0)
            )
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


_lm_jit = jax.jit(_lm, static_argnames=("model", "names", "max_iter"))


@functools.partial(jax.jit, static_argnames=("model", "names"))
def _model_jit(model, names, theta, x):
    return model(_unflatten(theta, names), x)


# --------------------------------------------------------------------------- data


def _as_inputs(x: Any) -> tuple[np.ndarray, pd.Index | None]:
    """x as the model takes it: a float64 1-D or 2-D array (pandas index kept)."""
    if isinstance(x, pd.DataFrame):
        values, _, index = _as_float_matrix(x)
        return values, index
    if isinstance(x, pd.Series):
        return _as_float_vector(x, "x")[0], x.index
    try:
        raw = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise DataError(f"x could not be read as an array: {err}") from None
    if raw.ndim == 1:
        return _as_float_vector(raw, "x")[0], None
    if raw.ndim == 2:
        return _as_float_matrix(raw)[0], None
    raise DataError(f"x must be 1-D or 2-D (one row per observation), got shape {raw.shape}")


def _bad_rows(values: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    mask = test(values)
    return mask if mask.ndim == 1 else mask.any(axis=1)


@dataclasses.dataclass(frozen=True)
class _Problem:
    """Validated data: inputs as the model takes them, response, weights, dropped rows."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    response: str
    n_dropped: int


def _validate(x: Any, y: Any, sample_weight: Any, missing: str) -> _Problem:
    """Check lengths, indexes, weights, infinite and missing values; name what is wrong."""
    x_values, x_index = _as_inputs(x)
    response = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y"
    y_values, y_index = _as_float_vector(y, response)
    n = x_values.shape[0]
    if y_values.size != n:
        raise DataError(f"x has {n} rows but {response} has {y_values.size}")
    if n == 0:
        raise DataError("x and y are empty (0 rows)")
    if x_index is not None and isinstance(y, pd.Series) and not x_index.equals(y_index):
        raise DataError(
            f"x and {response} have different indexes; align them "
            "(e.g. y.reindex(x.index)) or pass numpy arrays"
        )
    index = x_index if x_index is not None else y_index
    if sample_weight is None:
        weights = np.ones(n)
    else:
        weights, _ = _as_float_vector(sample_weight, "sample_weight")
        if weights.size != n:
            raise DataError(f"sample_weight has {weights.size} rows but x has {n}")
        _check_weights(weights, index)
    for name, values in (("x", x_values), (response, y_values)):
        infinite = _bad_rows(values, np.isinf)
        if infinite.any():
            raise DataError(
                f"{name} has infinite values in {int(infinite.sum())} of {n} rows "
                f"(rows {_rows(index, infinite)}); remove or cap them"
            )
    nan_x, nan_y = _bad_rows(x_values, np.isnan), np.isnan(y_values)
    bad = nan_x | nan_y
    if bad.any():
        if missing == "raise":
            raise DataError(
                f"{int(bad.sum())} of {n} rows have missing (NaN) values (x: "
                f"{int(nan_x.sum())} row(s), {response}: {int(nan_y.sum())} row(s); rows "
                f"{_rows(index, bad)}); pass missing='drop' to leave them out"
            )
        x_values, y_values, weights = x_values[~bad], y_values[~bad], weights[~bad]
        if y_values.size == 0:
            raise DataError(f"no rows left: all {n} rows have missing (NaN) values")
    if not weights.sum() > 0:
        raise DataError(f"sample_weight is zero for all {weights.size} rows: nothing to fit")
    return _Problem(x_values, y_values, weights, response, int(bad.sum()))


def _parameters(params0: Any) -> tuple[np.ndarray, tuple | None, list[str]]:
    """params0 as a float64 vector, the dict names the model expects (or None), and labels."""
    if isinstance(params0, Mapping):
        names = tuple(params0)  # the model indexes b by the caller's own keys
        try:
            values = np.array([float(v) for v in params0.values()])
        except (TypeError, ValueError):
            raise SettingsError(
                "params0 must map parameter names to numbers (floats), got "
                f"{ {k: type(v).__name__ for k, v in params0.items()} }"
            ) from None
        labels = [str(k) for k in names]
    else:
        try:
            values = np.asarray(params0, dtype=np.float64)
        except (TypeError, ValueError):
            raise SettingsError(
                f"params0 must be a dict of names -> floats or a 1-D sequence, got {params0!r}"
            ) from None
        if values.ndim != 1:
            raise SettingsError(f"params0 must be 1-D, got shape {values.shape}")
        names, labels = None, [f"b{j}" for j in range(values.size)]
    if values.size == 0:
        raise SettingsError("params0 is empty: the model has no parameters to estimate")
    bad = ~np.isfinite(values)
    if bad.any():
        raise SettingsError(
            f"params0 has {int(bad.sum())} non-finite value(s): "
            f"{[labels[j] for j in np.flatnonzero(bad)]}"
        )
    return values, names, labels


# --------------------------------------------------------------------------- estimator


class NonlinearLeastSquares(Estimator):
    r"""Nonlinear least squares :math:`\min_\beta \sum_i w_i (y_i - m(\beta; x_i))^2`.

    Fitted by Levenberg-Marquardt with exact autodiff Jacobians and Moré's
    Jacobian-based scaling (see the module docstring). ``sample_weight`` are
    frequency weights: :math:`n = \sum_i w_i`. Standard errors are
    :math:`\sqrt{\mathrm{diag}\, s^2 (J^\top W J)^{-1}}` with
    :math:`s^2 = \mathrm{RSS}/(n-p)`; t statistics and intervals use
    :math:`n - p` degrees of freedom.

    Parameters
    ----------
    model : ``model(b, x)``, a pure JAX function returning the mean of ``y``
        for every row of ``x`` (shape ``(n,)``). ``b`` is a dict of scalars when
        ``params0`` is a dict, else a vector. Pass the same function object to
        reuse the compiled kernel.
    params0 : starting values: a dict of names -> floats, or a 1-D sequence
        (parameters named ``b0, b1, ...``).
    tol : accuracy in standard errors: the fit stops when the Gauss-Newton step
        is shorter than ``tol`` standard errors (MINPACK's relative-reduction
        test with ``ftol = tol**2 / (n - p)``). Default ``1e-10``.
    xtol : MINPACK's relative-step tolerance on the trust radius; default
        ``1e-15`` (a few machine epsilons: it ends fits whose loss rounding
        hides further progress, e.g. zero-residual data).
    gtol : MINPACK's gradient tolerance on the cosines between the residual
        vector and the Jacobian's columns; default ``1e-15``.
    step_bound : the first trust radius, as a multiple of :math:`\|D\beta_0\|`
        (MINPACK's ``factor``). Default 1; MINPACK's 100 lets the first steps
        jump far, e.g. to the flat asymptote of NIST's BoxBOD from its start 1.
    max_iter : iteration limit (Jacobian evaluations).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN in ``x`` or ``y``.

    Learned attributes: ``params_``, ``cov_``, ``std_errors_``, ``rss_``,
    ``residual_std_`` (:math:`s`), ``converged_``, ``n_iter_``, ``history_``
    (mean squared residual and its gradient norm per iteration), ``solution_``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x = np.arange(1.0, 9.0)
    >>> y = 3.0 * np.exp(-0.4 * x)
    >>> fit = NonlinearLeastSquares(
    ...     model=lambda b, x: b["a"] * jnp.exp(-b["k"] * x), params0={"a": 1.0, "k": 1.0}
    ... ).fit(x, y)
    >>> fit.params_.round(12).tolist()
    [3.0, 0.4]
    """

    def __init__(
        self,
        model: Callable[[Any, Any], Any] | None = None,
        params0: Mapping[str, float] | Sequence[float] | None = None,
        *,
        tol: float = 1e-10,
        xtol: float = 1e-15,
        gtol: float = 1e-15,
        step_bound: float = 1.0,
        max_iter: int = 1000,
        missing: str = "raise",
    ):
        self.model = model
        self.params0 = params0
        self.tol = tol
        self.xtol = xtol
        self.gtol = gtol
        self.step_bound = step_bound
        self.max_iter = max_iter
        self.missing = missing

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any, y: Any, sample_weight: Any = None) -> NonlinearLeastSquares:
        """Fit to inputs ``x`` (1-D or 2-D array, Series or DataFrame) and a response ``y``."""
        theta0, names, labels = self._check_settings()
        data = _validate(x, y, sample_weight, self.missing)
        x, weights = data.x, data.weights
        nobs, p = float(weights.sum()), theta0.size
        if int((weights > 0).sum()) < p:
            raise DataError(
                f"{int((weights > 0).sum())} rows with positive weight but {p} parameters "
                f"({labels}): need at least as many rows as parameters"
            )
        with x64_context("float64"):
            self._check_model_shape(theta0, names, x)
            out, jac = _lm_jit(
                self.model,
                names,
                int(self.max_iter),
                theta0,
                x,
                data.y,
                np.sqrt(weights),
                float(self.tol),
                float(self.xtol),
                float(self.gtol),
                float(self.step_bound),
            )
            out, jac = jax.device_get((out, jac))
            if not np.isfinite(out.trace_loss[0]):
                self._raise_nonfinite_start(theta0, names, x)
        solution = _solution(out)
        self._check_solution(solution)
        theta = np.asarray(out.theta)
        rss = float(out.fnorm) ** 2
        df_resid = nobs - p
        cov = self._covariance(np.asarray(jac), rss, df_resid, labels)
        self._store_fit(
            params=pd.Series(theta, index=labels, name="estimate"),
            cov=pd.DataFrame(cov, index=labels, columns=labels),
            solution=solution,
            history=solution.trace,
            nobs=nobs,
            df_resid=df_resid if df_resid > 0 else None,
        )
        self.rss_ = rss
        self.residual_std_ = float(np.sqrt(rss / df_resid)) if df_resid > 0 else float("nan")
        self.n_dropped_ = data.n_dropped
        self.response_ = data.response
        self._input_shape = x.shape[1:]
        self._names = names
        return self

    def predict(self, x: Any) -> pd.Series:
        """The model at the estimate for new inputs ``x``: a Series (index of ``x`` if pandas).

        Rows with missing values give NaN predictions.
        """
        self._check_fitted()
        values, index = _as_inputs(x)
        if values.shape[1:] != self._input_shape:
            fitted = "(n,)" if not self._input_shape else f"(n, {self._input_shape[0]})"
            raise DataError(
                f"x has shape {values.shape} but the model was fitted on x of shape {fitted}"
            )
        with x64_context("float64"):
            theta = np.asarray(self.params_.to_numpy(), dtype=np.float64)
            mean = np.asarray(_model_jit(self.model, self._names, theta, values))
        index = pd.RangeIndex(len(values)) if index is None else index
        return pd.Series(mean, index=index, name=f"predicted_{self.response_}")

    # ------------------------------------------------------------------ helpers
    def _check_settings(self) -> tuple[np.ndarray, tuple | None, list[str]]:
        if not callable(self.model):
            raise SettingsError(
                "model must be a function model(b, x) returning the mean of y, "
                f"got {type(self.model).__name__}"
            )
        if self.params0 is None:
            raise SettingsError("params0 (starting values) is required")
        for name in ("tol", "xtol", "gtol", "step_bound"):
            value = getattr(self, name)
            positive = name == "step_bound"
            if not (isinstance(value, int | float) and (value > 0 if positive else value >= 0)):
                bound = "> 0" if positive else ">= 0"
                raise SettingsError(f"{name} must be a number {bound}, got {value!r}")
        if not (isinstance(self.max_iter, int | np.integer) and self.max_iter >= 0):
            raise SettingsError(f"max_iter must be an integer >= 0, got {self.max_iter!r}")
        if self.missing not in MISSING_POLICIES:
            raise SettingsError(
                f"unknown missing={self.missing!r}; valid values are {list(MISSING_POLICIES)}"
            )
        return _parameters(self.params0)

    def _check_model_shape(self, theta0, names, x) -> None:
        """The model must run on (params0, x) and give one value per row (tracing only)."""
        n = x.shape[0]
        try:
            shape = jax.eval_shape(lambda t, x: self.model(_unflatten(t, names), x), theta0, x)
        except Exception as err:  # the user's code: report it as a settings problem
            raise SettingsError(
                f"model(b, x) failed for params0 and x of shape {x.shape}: "
                f"{type(err).__name__}: {err}"
            ) from err
        if shape.shape != (n,):
            raise SettingsError(
                f"model(b, x) must return one value per row, shape ({n},); it returned "
                f"shape {shape.shape}"
            )

    def _raise_nonfinite_start(self, theta0, names, x) -> None:
        """Name the rows where the model is NaN or infinite at params0 (failure path only)."""
        mean0 = np.asarray(_model_jit(self.model, names, theta0, x))
        bad = ~np.isfinite(mean0)
        raise FitError(
            f"the model is NaN or infinite at params0 for {int(bad.sum())} of {x.shape[0]} "
            f"rows (first at row {int(np.argmax(bad))}). Hint: choose params0 inside the "
            "model's domain (logs and fractional powers of negative numbers, divisions by "
            "zero)."
        )

    def _check_solution(self, solution: Solution) -> None:
        """Raise on a non-finite fit; warn, visibly, when no convergence test passed."""
        if solution.status == Status.NONFINITE:
            raise FitError(
                f"NonlinearLeastSquares fit failed after {solution.n_iter} iterations: "
                f"{solution.message}. Hint: check the model's domain (logs, powers and "
                "divisions) near the estimate, or start from other params0."
            )
        if not solution.converged:
            warnings.warn(
                f"NonlinearLeastSquares did not converge ({solution.message}; "
                f"{solution.n_iter} iterations, gradient norm {solution.grad_norm:.3g}). "
                "The estimate is flagged with converged_ = False; raise max_iter or start "
                "from other params0.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _covariance(self, jac, rss, df_resid, labels) -> np.ndarray:
        r"""s^2 (J^T W J)^{-1} through the SVD of the column-scaled Jacobian.

        :math:`J D^{-1} = U S V^\top` gives
        :math:`(J^\top J)^{-1} = D^{-1} V S^{-2} V^\top D^{-1}`; the scaling keeps
        parameters of very different magnitudes from costing digits.
        """
        p = len(labels)
        if df_resid <= 0:
            warnings.warn(
                f"as many rows as parameters ({p}): the residual variance needs n > p, so "
                "the standard errors are NaN",
                InferenceWarning,
                stacklevel=3,
            )
            return np.full((p, p), np.nan)
        if not np.all(np.isfinite(jac)):
            warnings.warn(
                "the Jacobian is NaN or infinite at the estimate: the standard errors are NaN",
                InferenceWarning,
                stacklevel=3,
            )
            return np.full((p, p), np.nan)
        scale = np.linalg.norm(jac, axis=0)
        scale[scale == 0] = 1.0
        _, s, vt = np.linalg.svd(np.linalg.qr(jac / scale, mode="r"))
        if s[-1] <= EPS * max(jac.shape) * s[0]:
            warnings.warn(
                "the Jacobian is singular at the estimate (some parameters are not "
                "identified): the standard errors are NaN",
                InferenceWarning,
                stacklevel=3,
            )
            return np.full((p, p), np.nan)
        w = vt.T / s
        return rss / df_resid * (w @ w.T) / np.outer(scale, scale)


def _solution(out) -> LeastSquaresSolution:
    n_iter = int(out.k)
    reason = int(out.reason)
    trace = pd.DataFrame(
        {"loss": out.trace_loss[: n_iter + 1], "grad_norm": out.trace_grad[: n_iter + 1]},
        index=pd.RangeIndex(n_iter + 1, name="iteration"),
    )
    return LeastSquaresSolution(
        params=np.asarray(out.theta),
        value=float(trace["loss"].iloc[-1]),
        grad_norm=float(trace["grad_norm"].iloc[-1]),
        n_iter=n_iter,
        status=Reason.STATUS[reason],
        decrement=float(out.decrement),
        trace=trace,
        reason=Reason.MESSAGES[reason],
    )
