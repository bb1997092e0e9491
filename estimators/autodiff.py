r"""PyTorch's gradient-tracking vocabulary, expressed in JAX.

The tutorial this project grew from controls gradients the PyTorch way: a tensor
*records* the operations applied to it when ``requires_grad=True``,
``.detach()`` cuts a value out of that record, ``torch.no_grad()`` switches
recording off, and ``.grad_fn`` shows the recorded graph. JAX has no tape:
gradients are *functions* (``jax.grad(f)``), so each idea becomes a property of
a function rather than of an array.

=============================  ==================================================
PyTorch                        here (JAX)
=============================  ==================================================
``x.requires_grad_(True)``     differentiate with respect to that argument:
                               ``jax.grad(f, argnums=...)``
``requires_grad=False`` on a   hold it fixed during the fit: ``fixed={...}`` on
parameter                      :func:`estimators.minimize` and the estimators
                               (:func:`split_fixed`, :func:`with_fixed`)
``y.detach()``                 :func:`detach` (``jax.lax.stop_gradient``): the
                               value flows forward, no gradient flows back
``with torch.no_grad():``      :func:`no_grad`: evaluate a function so that no
                               gradient flows through any of its inputs
``y.grad_fn``                  :func:`show_graph` (``jax.make_jaxpr``): the traced
                               computation as text
``loss.backward(); p.grad``    ``jax.value_and_grad(loss)(p)``
=============================  ==================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax

from .errors import SettingsError


def detach(tree: Any) -> Any:
    r"""Return ``tree`` with its gradient cut: ``torch.Tensor.detach`` for JAX.

    The value is unchanged; the derivative of anything computed from the result
    with respect to the input is zero. For :math:`y = \bar{(x-\beta)^2}` and
    :math:`z = \mathrm{detach}(y)^2`, :math:`dz/d\beta = 0` while :math:`z = y^2`.

    >>> import jax.numpy as jnp
    >>> jax.grad(lambda b: detach(b) ** 2 + b)(3.0)
    Array(1., dtype=float32, weak_type=True)
    """
    return jax.tree.map(jax.lax.stop_gradient, tree)


def no_grad(fun: Callable) -> Callable:
    """Wrap ``fun`` so that no gradient flows through any of its inputs.

    The counterpart of evaluating inside ``with torch.no_grad():``. In JAX a plain
    call never builds a graph, so outside ``jax.grad`` this changes nothing; inside
    a differentiated function it makes ``fun``'s result a constant, exactly as a
    ``no_grad`` block does inside a PyTorch forward pass.
    """

    def wrapped(*args, **kwargs):
        return fun(*detach(args), **detach(kwargs))

    wrapped.__name__ = getattr(fun, "__name__", "no_grad_function")
    wrapped.__doc__ = fun.__doc__
    return wrapped


def show_graph(fun: Callable, *args, **kwargs) -> str:
    """The computation ``fun(*args)`` traces to, as text (``jax.make_jaxpr``).

    PyTorch exposes the recorded graph through ``grad_fn``; JAX's equivalent is the
    jaxpr: the list of primitive operations the function performs.
    """
    return str(jax.make_jaxpr(fun)(*args, **kwargs))


def split_fixed(
    params: Mapping[str, Any], fixed: Mapping[str, Any] | Iterable[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a dict of parameters into the free ones and the ones held fixed.

    ``fixed`` is either a mapping ``{name: value}`` (hold ``name`` at ``value``) or
    an iterable of names (hold them at their value in ``params``). This is the
    estimation meaning of ``requires_grad=False``: those parameters do not move.
    """
    if fixed is None:
        return dict(params), {}
    if not isinstance(params, Mapping):
        raise SettingsError(
            f"fixed= needs params0 to be a dict of named parameters, got {type(params).__name__}"
        )
    values = dict(fixed) if isinstance(fixed, Mapping) else {k: params.get(k) for k in fixed}
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise SettingsError(
            f"fixed= names {unknown} that are not parameters; the parameters are {list(params)}"
        )
    free = {k: v for k, v in params.items() if k not in values}
    if not free:
        raise SettingsError("fixed= holds every parameter fixed: nothing is left to estimate")
    return free, values


@dataclasses.dataclass(frozen=True)
class with_fixed:  # noqa: N801 - used like a function
    """``fun(params, *args)`` seen as a function of the free parameters only.

    ``with_fixed(fun, order)(free, fixed_values, *args)`` rebuilds the full
    parameter dict in the original key ``order``, with the fixed values
    detached, and calls ``fun``. It is a frozen dataclass, hashable by
    ``(fun, order)``, so compiled solvers are reused across calls.
    """

    fun: Callable
    order: tuple[str, ...]

    def __call__(self, free, fixed_values, *args):
        fixed_values = detach(fixed_values)
        merged = {k: free[k] if k in free else fixed_values[k] for k in self.order}
        return self.fun(merged, *args)
