"""estimators: statistical estimators as minimisers of a loss, fitted with JAX and optax.

>>> import estimators as est
>>> est.Mean().fit([1.0, 2.0, 6.0]).params_["mean"]
np.float64(3.0)
"""

from . import (
    autodiff,
    compile_cache,
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
from .base import Estimator, NotFittedError, clone
from .batch import fit_groups
from .bootstrap import BootstrapResult, bootstrap
from .compile_cache import (
    count_compilations,
    disable_compilation_cache,
    enable_compilation_cache,
)
from .compile_cache import enable_from_environment as _enable_compilation_cache
from .covariance import COV_TYPES
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
from .functional import FitArrays, PureFit, as_function
from .glm import GLM, LogisticRegression, PerfectSeparationWarning, PoissonRegression
from .hypothesis import LRTest, NotNestedWarning, WaldTest, lr_test, wald_test
from .implicit import implicit_argmin, implicit_root
from .likelihood import MaximumLikelihood, MEstimator
from .location import Huber, Mean, Median, Quantile, TukeyBiweight
from .nonlinear import NonlinearLeastSquares
from .quantile import QuantileRegression
from .regression import LinearRegression, Ridge
from .robust import HuberRegression, TukeyRegression
from .scale import MAD, StandardDeviation
from .sharding import sharded
from .simulate import SimulationResult, simulate
from .solve import Solution, Status, minimize
from .stream import fit_stream

# JAX's persistent compilation cache (opt out: ESTIMATORS_COMPILATION_CACHE=0);
# never overrides a cache directory the user set. See estimators.compile_cache.
_enable_compilation_cache()

__version__ = "0.1.0"

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
