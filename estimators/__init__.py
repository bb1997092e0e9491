"""estimators: statistical estimators as minimisers of a loss, fitted with JAX and optax.

>>> import estimators as est
>>> est.Mean().fit([1.0, 2.0, 6.0]).params_["mean"]
np.float64(3.0)

The public names below are imported on first use (PEP 562 module
``__getattr__``): ``import estimators`` loads JAX, switches on the persistent
compilation cache and stops there, and ``est.LogisticRegression`` imports only
what a GLM needs. (Importing every module eagerly took 1.4 s of CPU against
0.7 s on the 2-core machine; see tests/test_import_time.py.) Every name
resolves to the same object as before, and ``from estimators import *``,
``dir(estimators)`` and ``import estimators.<module>`` work as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

from .compile_cache import (
    count_compilations,
    disable_compilation_cache,
    enable_compilation_cache,
)
from .compile_cache import enable_from_environment as _enable_compilation_cache
from .errors import (
    ConvergenceWarning,
    DataConversionWarning,
    DataError,
    DataTypeError,
    EstimationError,
    FitError,
    InferenceWarning,
    SettingsError,
)

# JAX's persistent compilation cache (opt out: ESTIMATORS_COMPILATION_CACHE=0);
# never overrides a cache directory the user set. See estimators.compile_cache.
_enable_compilation_cache()

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access.
_LAZY_NAMES = {
    "Estimator": "base",
    "NotFittedError": "base",
    "clone": "base",
    "fit_groups": "batch",
    "BootstrapResult": "bootstrap",
    "bootstrap": "bootstrap",
    "COV_TYPES": "covariance",
    "FitArrays": "functional",
    "PureFit": "functional",
    "as_function": "functional",
    "GLM": "glm",
    "LogisticRegression": "glm",
    "PerfectSeparationWarning": "glm",
    "PoissonRegression": "glm",
    "LRTest": "hypothesis",
    "NotNestedWarning": "hypothesis",
    "WaldTest": "hypothesis",
    "lr_test": "hypothesis",
    "wald_test": "hypothesis",
    "implicit_argmin": "implicit",
    "implicit_root": "implicit",
    "MaximumLikelihood": "likelihood",
    "MEstimator": "likelihood",
    "Huber": "location",
    "Mean": "location",
    "Median": "location",
    "Quantile": "location",
    "TukeyBiweight": "location",
    "NonlinearLeastSquares": "nonlinear",
    "QuantileRegression": "quantile",
    "LinearRegression": "regression",
    "Ridge": "regression",
    "HuberRegression": "robust",
    "TukeyRegression": "robust",
    "MAD": "scale",
    "StandardDeviation": "scale",
    "sharded": "sharding",
    "SimulationResult": "simulate",
    "simulate": "simulate",
    "Solution": "solve",
    "Status": "solve",
    "minimize": "solve",
    "fit_stream": "stream",
}
# Public submodules (est.plot, est.inference, ...), also imported on first access.
_LAZY_MODULES = (
    "autodiff",
    "compile_cache",
    "covariance",
    "datasets",
    "distributed",
    "distributions",
    "families",
    "inference",
    "influence",
    "losses",
    "plot",
    "prediction",
    "quantile_inference",
    "report",
    "sharding",
)
# Functions named like the module that defines them: the function keeps the
# package attribute, as it did when this file imported everything eagerly.
_SHADOWED = frozenset(name for name, module in _LAZY_NAMES.items() if name == module)

if TYPE_CHECKING:  # what static tools see: the eager imports
    from . import (  # noqa: F401
        autodiff,
        covariance,
        datasets,
        distributed,
        distributions,
        families,
        inference,
        influence,
        losses,
        plot,
        prediction,
        quantile_inference,
        report,
        sharding,
    )
    from .base import Estimator, NotFittedError, clone  # noqa: F401
    from .batch import fit_groups  # noqa: F401
    from .bootstrap import BootstrapResult, bootstrap  # noqa: F401
    from .covariance import COV_TYPES  # noqa: F401
    from .functional import FitArrays, PureFit, as_function  # noqa: F401
    from .glm import (  # noqa: F401
        GLM,
        LogisticRegression,
        PerfectSeparationWarning,
        PoissonRegression,
    )
    from .hypothesis import LRTest, NotNestedWarning, WaldTest, lr_test, wald_test  # noqa: F401
    from .implicit import implicit_argmin, implicit_root  # noqa: F401
    from .likelihood import MaximumLikelihood, MEstimator  # noqa: F401
    from .location import Huber, Mean, Median, Quantile, TukeyBiweight  # noqa: F401
    from .nonlinear import NonlinearLeastSquares  # noqa: F401
    from .quantile import QuantileRegression  # noqa: F401
    from .regression import LinearRegression, Ridge  # noqa: F401
    from .robust import HuberRegression, TukeyRegression  # noqa: F401
    from .scale import MAD, StandardDeviation  # noqa: F401
    from .sharding import sharded  # noqa: F401
    from .simulate import SimulationResult, simulate  # noqa: F401
    from .solve import Solution, Status, minimize  # noqa: F401
    from .stream import fit_stream  # noqa: F401


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and keep the name here."""
    module = _LAZY_NAMES.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif name in _LAZY_MODULES or _is_submodule(name):
        # any submodule, public or not, as when they were all imported eagerly
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def _is_submodule(name: str) -> bool:
    return not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: a submodule never displaces the function named like it.

    Importing ``estimators.bootstrap`` (the module) binds it as the package's
    attribute ``bootstrap``; the eager imports this file used to make then
    rebound the name to the function ``bootstrap``. Here the function keeps it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "BootstrapResult",
    "bootstrap",
    "compile_cache",
    "count_compilations",
    "disable_compilation_cache",
    "enable_compilation_cache",
    "fit_groups",
    "as_function",
    "FitArrays",
    "PureFit",
    "implicit_argmin",
    "implicit_root",
    "simulate",
    "SimulationResult",
    "fit_stream",
    "sharding",
    "sharded",
    "plot",
    "distributed",
    "DataConversionWarning",
    "DataTypeError",
    "COV_TYPES",
    "LRTest",
    "NotNestedWarning",
    "WaldTest",
    "covariance",
    "influence",
    "lr_test",
    "prediction",
    "quantile_inference",
    "report",
    "wald_test",
    "GLM",
    "MAD",
    "ConvergenceWarning",
    "Huber",
    "HuberRegression",
    "NonlinearLeastSquares",
    "QuantileRegression",
    "TukeyRegression",
    "LinearRegression",
    "LogisticRegression",
    "MEstimator",
    "MaximumLikelihood",
    "Median",
    "PerfectSeparationWarning",
    "PoissonRegression",
    "Quantile",
    "Ridge",
    "StandardDeviation",
    "TukeyBiweight",
    "distributions",
    "families",
    "DataError",
    "EstimationError",
    "Estimator",
    "FitError",
    "InferenceWarning",
    "Mean",
    "NotFittedError",
    "SettingsError",
    "Solution",
    "Status",
    "autodiff",
    "clone",
    "datasets",
    "inference",
    "losses",
    "minimize",
]
