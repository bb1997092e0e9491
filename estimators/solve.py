r"""``minimize``: drive a loss to its minimiser inside one compiled ``lax.while_loop``.

The engine every estimator fits through. The whole optimisation (all steps,
the line searches, the convergence tests and the trace) runs in ONE jitted
``jax.lax.while_loop``: there is no Python loop per step, which would cost
about 250 microseconds an iteration. Kernels are compiled once per
(loss function, solver, shapes, dtype) and reused.

Stopping rules
--------------
Let :math:`f` be the loss, :math:`g` its gradient and :math:`H` its Hessian at
the current parameters, and :math:`S = \max(|f|,\ \text{loss\_scale})`
(``loss_scale`` defaults to :math:`\epsilon\,|f(\theta_0)|`, a floor for losses
whose minimum is 0). The loop stops at the first of

1. **Decrement test** (``converged``): :math:`\lambda^2/2 \le \text{tol}\cdot S`,
   where :math:`\lambda^2 = g^\top H^{-1} g` is the Newton decrement, i.e. the
   decrease a Newton step would still make. It does not change when the
   parameters are reparameterised linearly, and because it is compared with the
   loss it does not change when the loss is multiplied by a constant either.
   For a least-squares loss :math:`f = \frac1n\sum r_i^2` the distance of the
   estimate from the minimiser, in standard errors, is about
   :math:`\sqrt{n\,\lambda^2 / (2f)} \le \sqrt{n\cdot\text{tol}}`; estimators set
   ``tol`` from the accuracy they promise in standard-error units.
   ``"newton"`` uses the exact Hessian, and takes one last full Newton step
   after the test passes (one more gradient; by quadratic convergence it
   squares the remaining error, so its parameters are as exact as the
   gradient allows). ``"lbfgs"`` uses its own inverse-Hessian
   approximation (:math:`\lambda^2 = -g^\top u / t` for the update :math:`u`
   taken with line-search step :math:`t`). Other optax transformations use the
   secant curvature of the last step, :math:`\lambda^2 \approx \|g\|^2\, s^\top
   s / s^\top y`, a scalar (Barzilai-Borwein) estimate.
2. **Relative loss change** (``converged``, off by default): the loss changed by
   at most :math:`\text{rtol}\cdot S` in the last step. Off (``rtol=0``) by
   default because it is a weak test: the loss is flat at its minimum, so a
   change of :math:`10^{-12}` in the loss still leaves the parameters off by
   about :math:`10^{-6}` of their scale. Turn it on for cheap, rough fits.
3. **Stall** (not converged): the last step did not move the parameters (the
   line search found no lower loss). This is the floating-point floor of the
   loss; ``"newton"``, whose test uses gradients rather than loss differences,
   goes below it.
4. **Non-finite** (failed): the loss or the gradient is NaN or infinite.
5. **max_iter** (not converged): the iteration limit was reached.

Default ``tol`` is :math:`10^{-14}` in float64 (about 45 machine epsilons: the
floor that loss-value line searches such as L-BFGS's can reach is about
:math:`\epsilon`) and :math:`10^{-6}` in float32.

Solvers
-------
``"lbfgs"`` (optax L-BFGS with zoom line search; the default), ``"newton"``
(exact autodiff Hessian, eigenvalue-modified so every step descends, with a
backtracking Armijo line search; for smooth problems with few parameters),
``"adam"`` and ``"sgd"`` (optax, fixed ``learning_rate``), or any
``optax.GradientTransformation`` passed directly.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from jax.flatten_util import ravel_pytree

from .autodiff import split_fixed, with_fixed
from .errors import DataError, SettingsError

SOLVERS = ("lbfgs", "newton", "adam", "sgd")
DTYPES = ("float64", "float32")
DEFAULT_MAX_ITER = {"newton": 100, "lbfgs": 1000, "adam": 20000, "sgd": 20000}
DEFAULT_LEARNING_RATE = {"adam": 0.01, "sgd": 0.1}


class Status(enum.IntEnum):
    """Why the loop stopped."""

    RUNNING = 0
    CONVERGED = 1
    LOSS_CHANGE = 2
    STALLED = 3
    MAX_ITER = 4
    NONFINITE = 5


_MESSAGES = {
    Status.RUNNING: "still running (an internal state; never returned)",
    Status.CONVERGED: "converged: the Newton decrement passed the tolerance",
    Status.LOSS_CHANGE: "converged: the relative change of the loss fell below rtol",
    Status.STALLED: (
        "not converged: the last step did not move the parameters (no lower loss was "
        "found along the search direction) before the convergence test passed; the "
        "estimate is at the floating-point floor of the loss"
    ),
    Status.MAX_ITER: "not converged: reached max_iter before the convergence test passed",
    Status.NONFINITE: "failed: the loss or its gradient became NaN or infinite",
}


@dataclasses.dataclass(frozen=True, eq=False)
class Solution:
    """The result of :func:`minimize`; immutable.

    Attributes
    ----------
    params : the minimiser, with the structure of ``params0`` (numpy arrays),
        fixed parameters included at their fixed values.
    value : the loss at ``params``.
    grad_norm : Euclidean norm of the gradient (free parameters) at ``params``.
    n_iter : number of steps taken.
    status : a :class:`Status`; ``message`` explains it.
    decrement : the last Newton decrement :math:`\\lambda^2` (see module docs).
    trace : DataFrame indexed by iteration ``0..n_iter`` with columns
        ``loss`` and ``grad_norm`` (read from a buffer preallocated in the loop).
    detail : optional solver-specific explanation of the status; when given it
        is the ``message`` (solvers other than ``minimize``'s, such as
        Levenberg-Marquardt or an exact vertex finish, say in their own terms
        which test stopped them).
    """

    params: Any
    value: float
    grad_norm: float
    n_iter: int
    status: Status
    decrement: float
    trace: pd.DataFrame
    detail: str | None = None

    @property
    def converged(self) -> bool:
        return self.status in (Status.CONVERGED, Status.LOSS_CHANGE)

    @property
    def message(self) -> str:
        return self.detail if self.detail else _MESSAGES[self.status]

    def __repr__(self) -> str:
        return (
            f"Solution(value={self.value:.10g}, grad_norm={self.grad_norm:.3g}, "
            f"n_iter={self.n_iter}, converged={self.converged}, message={self.message!r})"
        )


# --------------------------------------------------------------------------- methods
# A method is a small hashable object: it is a static argument of the jitted
# runner, so the compiled loop is reused whenever the same method comes back.


@dataclasses.dataclass(frozen=True)
class _Newton:
    armijo: float = 1e-4
    max_halvings: int = 40
    # Optional structured Hessian hessian(params, *args) -> (p, p) matrix, in the
    # order of ravel_pytree(params); e.g. X^T W X for a GLM, cheaper than jax.hessian.
    hessian: Callable | None = None


@dataclasses.dataclass(frozen=True)
class _Optax:
    transformation: optax.GradientTransformationExtraArgs


@functools.lru_cache(maxsize=64)
def _named_method(name: str, learning_rate: float | None):
    if name == "newton":
        return _Newton()
    if name == "lbfgs":
        return _Optax(optax.lbfgs())
    lr = DEFAULT_LEARNING_RATE[name] if learning_rate is None else learning_rate
    return _Optax(optax.with_extra_args_support(getattr(optax, name)(lr)))


def _method(solver, learning_rate):
    if isinstance(learning_rate, int | float) and not (
        np.isfinite(learning_rate) and learning_rate > 0
    ):
        # A negative rate climbs the loss and a zero one never moves: both would run to
        # max_iter or to NaN and be reported as a failed fit, far from the real cause.
        raise SettingsError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if isinstance(solver, str):
        if solver not in SOLVERS:
            raise SettingsError(
                f"unknown solver {solver!r}; valid solvers are {list(SOLVERS)} "
                "or any optax.GradientTransformation"
            )
        return _named_method(solver, learning_rate)
    if isinstance(solver, optax.GradientTransformation | optax.GradientTransformationExtraArgs):
        return _Optax(optax.with_extra_args_support(solver))
    raise SettingsError(
        f"solver must be one of {list(SOLVERS)} or an optax.GradientTransformation, "
        f"got {type(solver).__name__}"
    )


# --------------------------------------------------------------------------- the loop


class _Carry(NamedTuple):
    params: Any
    state: Any
    value: jax.Array
    grad: Any
    k: jax.Array
    status: jax.Array
    decrement: jax.Array
    trace_loss: jax.Array
    trace_grad_norm: jax.Array


def _status(value, grad, old_value, moved, decrement, k, tol, rtol, scale_of, max_iter):
    """The stopping rules of the module docstring, in their order of precedence."""
    scale = scale_of(value)
    finite = jnp.isfinite(value) & jnp.isfinite(optax.tree.norm(grad))
    converged = 0.5 * decrement <= tol * scale
    small_change = (rtol > 0) & (jnp.abs(old_value - value) <= rtol * scale)
    return jnp.select(
        [~finite, converged, small_change, ~moved, k >= max_iter],
        [Status.NONFINITE, Status.CONVERGED, Status.LOSS_CHANGE, Status.STALLED, Status.MAX_ITER],
        Status.RUNNING,
    ).astype(jnp.int32)


def _any_nonzero(tree):
    return jnp.any(jnp.stack([jnp.any(leaf != 0) for leaf in jax.tree.leaves(tree)]))


def _record(carry: _Carry, k, value, grad):
    gnorm = optax.tree.norm(grad)
    return (carry.trace_loss.at[k].set(value), carry.trace_grad_norm.at[k].set(gnorm))


def _optax_loop(f, transformation, params0, tol, rtol, scale_of, max_iter):
    value_and_grad = optax.value_and_grad_from_state(f)
    plain_value_and_grad = jax.value_and_grad(f)
    state0 = transformation.init(params0)
    # L-BFGS with a line search keeps the last value and gradient in its state,
    # so each iteration reuses them instead of evaluating the loss again.
    reuse = optax.tree.get(state0, "value", default=None) is not None
    has_step = optax.tree.get(state0, "learning_rate", default=None) is not None

    def evaluate(params, state):
        return value_and_grad(params, state=state) if reuse else plain_value_and_grad(params)

    def body(c: _Carry) -> _Carry:
        updates, state = transformation.update(
            c.grad, c.state, c.params, value=c.value, grad=c.grad, value_fn=f
        )
        params = optax.apply_updates(c.params, updates)
        value, grad = evaluate(params, state)
        if has_step:  # L-BFGS: its own inverse-Hessian metric at the previous point
            step = optax.tree.get(state, "learning_rate")
            decrement = jnp.where(step > 0, -optax.tree.vdot(c.grad, updates) / step, jnp.inf)
        else:  # secant (Barzilai-Borwein) curvature of the last step
            sy = optax.tree.vdot(updates, optax.tree.sub(grad, c.grad))
            ss = optax.tree.vdot(updates, updates)
            gg = optax.tree.vdot(grad, grad)
            decrement = jnp.where(sy > 0, gg * ss / sy, jnp.where(gg == 0, 0.0, jnp.inf))
        k = c.k + 1
        moved = _any_nonzero(updates)
        status = _status(value, grad, c.value, moved, decrement, k, tol, rtol, scale_of, max_iter)
        trace_loss, trace_gn = _record(c, k, value, grad)
        return _Carry(params, state, value, grad, k, status, decrement, trace_loss, trace_gn)

    return state0, evaluate, body


def _newton_loop(f, method: _Newton, args, params0, tol, rtol, scale_of, max_iter):
    """Damped Newton: exact Hessian (eigen-modified), Armijo backtracking, final full step."""
    flat0, unravel = ravel_pytree(params0)
    f_flat = lambda theta: f(unravel(theta))  # noqa: E731
    if method.hessian is None:
        hessian = jax.hessian(f_flat)
    else:
        hessian = lambda theta: method.hessian(unravel(theta), *args)  # noqa: E731
    eps = jnp.finfo(flat0.dtype).eps

    def direction(theta, grad_flat):
        # Eigenvalue modification: |lambda| floored relative to the largest, so the
        # step always descends, even where the Hessian is indefinite or singular.
        evals, evecs = jnp.linalg.eigh(hessian(theta))
        floor = jnp.max(jnp.abs(evals)) * eps**0.75
        inv = 1.0 / jnp.maximum(jnp.abs(evals), floor)
        d = -evecs @ (inv * (evecs.T @ grad_flat))
        return d, -grad_flat @ d

    def line_search(theta, value, d, slope):
        # Armijo backtracking; `noise` admits the rounding error of evaluating f.
        noise = 4 * eps * jnp.abs(value)

        def accepted(t, f_t):
            return jnp.isfinite(f_t) & (f_t <= value + method.armijo * t * slope + noise)

        def cond(s):
            t, f_t, i = s
            return (i < method.max_halvings) & ~accepted(t, f_t)

        def body(s):
            t, _, i = s
            return t / 2, f_flat(theta + t / 2 * d), i + 1

        t, f_t, i = jax.lax.while_loop(cond, body, (1.0, f_flat(theta + d), 0))
        return jnp.where(accepted(t, f_t), t, 0.0)

    def evaluate(params, state):
        return jax.value_and_grad(f)(params)

    def body(c: _Carry) -> _Carry:
        theta, _ = ravel_pytree(c.params)
        grad_flat, _ = ravel_pytree(c.grad)
        d, decrement = direction(theta, grad_flat)
        done = 0.5 * decrement <= tol * scale_of(c.value)

        def step(c):
            # Once the decrement test passes, a last full Newton step costs one gradient
            # and, by quadratic convergence, squares the remaining error: take it,
            # unless rounding makes it raise the loss.
            t = jax.lax.cond(
                done,
                lambda: jnp.asarray(1.0, theta.dtype),
                lambda: jnp.asarray(line_search(theta, c.value, d, -decrement), theta.dtype),
            )
            params = unravel(theta + t * d)
            value, grad = jax.value_and_grad(f)(params)
            # Keep the final step if the loss did not rise beyond rounding, or if it
            # shrank the gradient: a loss made of large cancelling terms (log-gamma
            # sums) has rounding noise well above eps * |f|, the gradient does not.
            improved = (value <= c.value + 4 * eps * jnp.abs(c.value)) | (
                optax.tree.norm(grad) < optax.tree.norm(c.grad)
            )
            worse = done & ~(improved & jnp.isfinite(value))
            params, value, grad = jax.tree.map(
                lambda new, old: jnp.where(worse, old, new),
                (params, value, grad),
                (c.params, c.value, c.grad),
            )
            k = c.k + 1
            # A failed line search (t = 0) leaves the point unchanged: that is a stall.
            moved = (t > 0) & _any_nonzero(d)
            status = _status(
                value, grad, c.value, moved, jnp.inf, k, tol, rtol, scale_of, max_iter
            )
            status = jnp.where(done, jnp.int32(Status.CONVERGED), status)
            trace_loss, trace_gn = _record(c, k, value, grad)
            return _Carry(params, None, value, grad, k, status, decrement, trace_loss, trace_gn)

        return step(c)

    return None, evaluate, body


def _run(fun, method, params0, args, tol, rtol, loss_scale, max_iter):
    """The pure, jittable optimisation: returns the final carry."""
    f = lambda p: fun(p, *args)  # noqa: E731
    dtype = jax.tree.leaves(params0)[0].dtype
    value0, grad0 = jax.value_and_grad(f)(params0)
    eps = jnp.finfo(dtype).eps
    scale_floor = jnp.where(loss_scale > 0, loss_scale, eps * jnp.abs(value0))

    def scale_of(value):
        return jnp.maximum(jnp.abs(value), scale_floor)

    if isinstance(method, _Newton):
        builder = functools.partial(_newton_loop, f, method, args)
    else:
        builder = functools.partial(_optax_loop, f, method.transformation)
    state0, _, body = builder(params0, tol, rtol, scale_of, max_iter)

    trace_loss = jnp.full(max_iter + 1, jnp.nan, dtype).at[0].set(value0)
    trace_gn = jnp.full(max_iter + 1, jnp.nan, dtype).at[0].set(optax.tree.norm(grad0))
    zero_grad = optax.tree.norm(grad0) == 0
    status0 = jnp.where(
        ~jnp.isfinite(value0) | ~jnp.isfinite(optax.tree.norm(grad0)),
        Status.NONFINITE,
        jnp.where(zero_grad, Status.CONVERGED, Status.RUNNING),
    ).astype(jnp.int32)
    if max_iter == 0:
        status0 = jnp.where(status0 == Status.RUNNING, Status.MAX_ITER, status0).astype(jnp.int32)
    carry0 = _Carry(
        params0,
        state0,
        value0,
        grad0,
        jnp.int32(0),
        status0,
        jnp.where(zero_grad, 0.0, jnp.inf).astype(dtype),
        trace_loss,
        trace_gn,
    )
    return jax.lax.while_loop(lambda c: c.status == Status.RUNNING, body, carry0)


_run_jit = jax.jit(_run, static_argnames=("fun", "method", "max_iter"))


# --------------------------------------------------------------------------- public


def default_tol(dtype: str) -> float:
    """Default decrement tolerance (relative to the loss): a few dozen machine epsilons."""
    return 1e-14 if dtype == "float64" else 1e-6


def newton_loop(
    fun: Callable[..., Any],
    params0: Any,
    args: tuple = (),
    *,
    tol: Any,
    rtol: Any = 0.0,
    loss_scale: Any = 0.0,
    max_iter: int = DEFAULT_MAX_ITER["newton"],
) -> _Carry:
    r""":func:`minimize`'s damped Newton loop as a pure function: its final carry.

    The same compiled loop as ``minimize(fun, params0, *args, solver="newton")``
    (exact autodiff Hessian, eigenvalue-modified, Armijo backtracking, one last
    full step once :math:`\lambda^2/2 \le \text{tol}\cdot S`; the stopping rules of
    the module docstring) without the checks, the casts and the ``jax.jit``
    around it, so that it runs *inside* other JAX code: under ``jax.jit``,
    ``jax.vmap`` (one loop per lane; a lane that has stopped idles while the
    others run) and as the solver of :func:`estimators.implicit.implicit_root`
    or :func:`~estimators.implicit.implicit_argmin` (never differentiate through
    the loop itself). It computes in the dtype of ``params0``: call it under
    ``jax.enable_x64(True)`` for float64.

    Parameters
    ----------
    fun : pure loss ``fun(params, *args) -> scalar``.
    params0 : the starting point, any pytree of floating arrays.
    args : the data, a tuple of pytrees (traced).
    tol, rtol, loss_scale : as :func:`minimize` (``tol`` has no default here; it
        may be a traced scalar, e.g. set from the data).
    max_iter : iteration limit (a Python int: it sizes the trace buffers).

    Returns
    -------
    The final carry, a NamedTuple of arrays: ``params`` (the estimate, the
    structure of ``params0``), ``state`` (None), ``value`` and ``grad`` (loss and
    gradient at ``params``), ``k`` (steps taken, int32), ``status`` (a
    :class:`Status` code, int32: converged where ``status`` is ``CONVERGED`` or
    ``LOSS_CHANGE``), ``decrement`` (the last Newton decrement
    :math:`\lambda^2`), ``trace_loss`` and ``trace_grad_norm`` (``max_iter + 1``
    entries, NaN after entry ``k``).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> def msd(params, x):
    ...     return jnp.mean((x - params["beta"]) ** 2)
    >>> with jax.enable_x64(True):
    ...     xs = jnp.array([[1.0, 2.0, 6.0], [0.0, 4.0, 5.0]])
    ...     run = lambda x: newton_loop(msd, {"beta": jnp.zeros(())}, (x,), tol=1e-14)
    ...     out = jax.jit(jax.vmap(run))(xs)  # one Newton loop per row of xs
    >>> out.params["beta"].tolist(), [Status(int(s)).name for s in out.status]
    ([3.0, 3.0], ['CONVERGED', 'CONVERGED'])
    """
    params0 = jax.tree.map(jnp.asarray, params0)
    return _run(fun, _Newton(), params0, tuple(args), tol, rtol, loss_scale, int(max_iter))


def x64_context(dtype: str):
    """The JAX precision context the library runs its own work in.

    float64 by default via ``jax.enable_x64(True)``; float32 runs under
    ``enable_x64(False)`` so that every array in the loop has one precision.
    Either way the user's global configuration is untouched on exit.
    """
    return jax.enable_x64(dtype == "float64")


def _numeric_tree(tree: Any, what: str) -> Any:
    """``tree`` with text or object leaves checked: a DataError counts the non-numbers.

    JAX cannot stage strings or Python objects and says so in a traceback about
    "staging"; this names the leaf (``args[0]``, ``params0['beta']``) instead.
    Object arrays that hold only numbers are converted to float.
    """

    def check(path: Any, leaf: Any) -> Any:
        if isinstance(leaf, jax.Array | bool | int | float | complex):
            return leaf
        raw = np.asarray(leaf)
        if raw.dtype.kind not in "OUSV":
            return leaf
        flat = pd.Series(raw.ravel(), dtype=object)
        numbers = pd.to_numeric(flat, errors="coerce")
        bad = (numbers.isna() & flat.notna()).to_numpy()
        name = what + jax.tree_util.keystr(path)
        if bad.any():
            first = flat[bad].iloc[0]
            raise DataError(
                f"{name} has {int(bad.sum())} non-numeric value(s) out of {raw.size} "
                f"(dtype {raw.dtype}; first {first!r}): minimize needs numeric arrays"
            )
        return numbers.to_numpy(dtype=np.float64).reshape(raw.shape)

    return jax.tree_util.tree_map_with_path(check, tree)


def minimize(
    fun: Callable[..., Any],
    params0: Any,
    *args: Any,
    solver: str | optax.GradientTransformation = "lbfgs",
    tol: float | None = None,
    rtol: float | None = None,
    max_iter: int | None = None,
    dtype: str = "float64",
    fixed: Mapping[str, Any] | Iterable[str] | None = None,
    learning_rate: float | None = None,
    loss_scale: float = 0.0,
    hessian: Callable[..., Any] | None = None,
) -> Solution:
    r"""Minimise ``fun(params, *args)`` over ``params`` in one compiled loop.

    Parameters
    ----------
    fun : a pure JAX function returning a scalar loss. Pass the same function
        object each time (a module-level function, not a fresh lambda) to reuse
        the compiled kernel.
    params0 : the starting point, any pytree (typically a dict of named arrays).
    *args : data passed on to ``fun`` (arrays; traced, so new values do not
        recompile, new shapes do).
    solver : ``"lbfgs"`` (default), ``"newton"``, ``"adam"``, ``"sgd"``, or an
        ``optax.GradientTransformation``.
    tol : decrement tolerance relative to the loss (see the module docstring);
        default 1e-14 for float64, 1e-6 for float32.
    rtol : relative loss change that counts as converged; default 0 (off).
    max_iter : iteration limit; default 100 for newton, 1000 for lbfgs, 20000
        for adam and sgd.
    dtype : ``"float64"`` (default) or ``"float32"``.
    fixed : parameters held fixed (``requires_grad=False``): a mapping
        ``{name: value}`` or an iterable of names of ``params0``.
    learning_rate : for ``"adam"`` (default 0.01) and ``"sgd"`` (default 0.1).
    loss_scale : floor of the scale :math:`S` in the tests; default
        :math:`\epsilon |f(\theta_0)|`.
    hessian : for ``solver="newton"`` only: ``hessian(params, *args)`` returning
        the (p, p) Hessian in the order of ``jax.flatten_util.ravel_pytree``,
        used instead of ``jax.hessian`` (for example :math:`X^\top W X` for a
        GLM, accumulated over row chunks). Pass the same function object each
        time to reuse the compiled loop.

    Returns
    -------
    Solution

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x = jnp.array([1.0, 2.0, 6.0])
    >>> sol = minimize(lambda p, x: jnp.mean((x - p["beta"]) ** 2), {"beta": 0.0}, x)
    >>> round(float(sol.params["beta"]), 12), sol.converged
    (3.0, True)
    """
    if dtype not in DTYPES:
        raise SettingsError(f"unknown dtype {dtype!r}; valid dtypes are {list(DTYPES)}")
    method = _method(solver, learning_rate)
    if hessian is not None:
        if not isinstance(method, _Newton):
            raise SettingsError("hessian= is used by solver='newton' only")
        if fixed is not None:
            raise SettingsError("hessian= and fixed= cannot be combined")
        method = dataclasses.replace(method, hessian=hessian)
    name = solver if isinstance(solver, str) else "lbfgs"
    max_iter = DEFAULT_MAX_ITER.get(name, 1000) if max_iter is None else int(max_iter)
    if max_iter < 0:
        raise SettingsError(f"max_iter must be >= 0, got {max_iter}")
    tol = default_tol(dtype) if tol is None else float(tol)
    if not tol >= 0:
        raise SettingsError(f"tol must be >= 0, got {tol}")
    with x64_context(dtype):
        jdtype = jnp.dtype(dtype)
        rtol = 0.0 if rtol is None else float(rtol)
        cast = lambda a: jnp.asarray(a, jdtype)  # noqa: E731
        is_float = lambda a: jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)  # noqa: E731
        params0 = jax.tree.map(cast, _numeric_tree(params0, "params0"))
        args = _numeric_tree(args, "args")
        args = jax.tree.map(lambda a: cast(a) if is_float(a) else jnp.asarray(a), args)
        if fixed is not None:
            free0, fixed_values = split_fixed(params0, fixed)
            fixed_values = jax.tree.map(cast, fixed_values)
            run_fun = with_fixed(fun, tuple(params0))
            run_args = (fixed_values, *args)
        else:
            free0, fixed_values, run_fun, run_args = params0, {}, fun, args
        if not jax.tree.leaves(free0):
            raise SettingsError("params0 has no parameters to estimate")
        out = _run_jit(run_fun, method, free0, run_args, tol, rtol, loss_scale, max_iter)
        out = jax.device_get(out)
    params = out.params
    if fixed is not None:
        params = {k: (params[k] if k in params else np.asarray(fixed_values[k])) for k in params0}
    return solution_from_loop(out, params)


def solution_from_loop(out: Any, params: Any) -> Solution:
    """The :class:`Solution` of a finished loop's carry (on the host): its counter ``k``,
    ``value``, ``status``, ``decrement`` and trace buffers, with ``params`` as given."""
    n_iter = int(out.k)
    trace = pd.DataFrame(
        {"loss": out.trace_loss[: n_iter + 1], "grad_norm": out.trace_grad_norm[: n_iter + 1]},
        index=pd.RangeIndex(n_iter + 1, name="iteration"),
    )
    return Solution(
        params=jax.tree.map(np.asarray, params),
        value=float(out.value),
        grad_norm=float(out.trace_grad_norm[n_iter]),
        n_iter=n_iter,
        status=Status(int(out.status)),
        decrement=float(out.decrement),
        trace=trace,
    )
