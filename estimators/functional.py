r"""Estimators as pure JAX functions: :func:`as_function`.

Every estimator here is the minimiser of a weighted loss,

.. math::  \hat\theta(D, w, \lambda) = \arg\min_\theta \sum_i w_i \rho(d_i; \theta, \lambda),

a pure function of the data arrays :math:`D`, the observation weights
:math:`w` and the hyperparameters :math:`\lambda` (ridge :math:`\alpha`,
Huber :math:`c`, quantile :math:`q`). :func:`as_function` returns that
function, so it composes with ``jax.jit``, ``jax.vmap``, ``jax.grad`` and
sharding like any other JAX function: grouped fits, the bootstrap and Monte
Carlo studies are ``vmap`` over it (zero weights pad ragged groups; resampling
counts and Dirichlet draws are weights).

The result is a small pytree, :class:`FitArrays`: the estimate, its
covariance, whether the fit converged and how many iterations it took.

Providers: each family's pure fit lives beside its kind of model (a module
listed in :data:`PROVIDERS` with a ``pure_fit(estimator) -> PureFit | None``
function and a ``SUPPORTED`` tuple of class names); :func:`as_function` asks
them in turn.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax

from .errors import SettingsError

__all__ = ["FitArrays", "PureFit", "as_function", "supported_names"]

PROVIDERS = ("estimators.functional_regression", "estimators.functional_smooth")


class FitArrays(NamedTuple):
    """What a pure fit returns (a pytree: ``vmap`` adds a leading axis to each field).

    params : (p,) the estimate, in the estimator's reported parametrisation.
    cov : (p, p) its estimated covariance (NaN where it is not available).
    converged : () bool.
    n_iter : () int32, iterations taken (0 for closed forms).
    """

    params: jax.Array
    cov: jax.Array
    converged: jax.Array
    n_iter: jax.Array


@dataclass(frozen=True)
class PureFit:
    """A pure fit ``fn(arrays, weights, hyper) -> FitArrays`` and how to call it.

    inputs : names of the positional data arrays, e.g. ``("X", "y")`` or ``("x",)``.
    hyper : the hyperparameters ``fn`` takes (name -> the estimator's value), all
        differentiable inputs like the data and the weights.
    param_names : the names of ``params`` given the data's column count ``p``
        (``lambda p: [...]``), for labelling results outside JAX.
    df_resid : the degrees of freedom of the estimator's t statistics for ``n``
        rows and ``p`` parameters (``lambda n, p: n - p`` for least squares),
        or None where it reports z statistics (the default), as its ``fit`` does.
    """

    fn: Callable[[tuple, jax.Array | None, Mapping[str, Any]], FitArrays]
    inputs: tuple[str, ...]
    param_names: Callable[[int], list[str]]
    hyper: Mapping[str, Any] = field(default_factory=dict)
    df_resid: Callable[[int, int], int | None] = lambda n, p: None

    def __call__(self, *arrays: Any, weights: Any = None, **hyper: Any) -> FitArrays:
        if len(arrays) != len(self.inputs):
            raise SettingsError(
                f"this pure fit takes {len(self.inputs)} data array(s) "
                f"({', '.join(self.inputs)}), got {len(arrays)}"
            )
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            known = ", ".join(self.hyper) or "none"
            raise SettingsError(f"unknown hyperparameter(s) {unknown}; this fit takes: {known}")
        return self.fn(tuple(arrays), weights, {**self.hyper, **hyper})


def _providers():
    return [importlib.import_module(name) for name in PROVIDERS]


def supported_names() -> list[str]:
    """The estimator classes :func:`as_function` supports, sorted."""
    return sorted(name for provider in _providers() for name in provider.SUPPORTED)


def as_function(estimator: Any) -> PureFit:
    """The estimator's fit as a pure JAX function of (arrays, weights, hyperparameters).

    Estimators of one class with equal (hashable) settings get the same PureFit, so
    callers that compile around its ``fn`` (bootstrap, simulate) compile once.

    >>> import estimators as est  # doctest: +SKIP
    >>> fit = est.as_function(est.LinearRegression())  # doctest: +SKIP
    >>> jax.vmap(lambda w: fit(X, y, weights=w).params)(W)  # doctest: +SKIP
    """
    settings = tuple(sorted(estimator.get_params().items()))
    try:
        hash(settings)
    except TypeError:  # e.g. params0 given as a dict: built afresh
        return _build(estimator)
    return _cached(type(estimator), settings)


@functools.lru_cache(maxsize=32)
def _cached(kind: type, settings: tuple) -> PureFit:
    return _build(kind(**dict(settings)))


def _build(estimator: Any) -> PureFit:
    for provider in _providers():
        pure = provider.pure_fit(estimator)
        if pure is not None:
            return pure
    raise SettingsError(
        f"as_function does not support {type(estimator).__name__}; supported: "
        + ", ".join(supported_names())
    )
