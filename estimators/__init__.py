"""estimators: statistical estimators as minimisers of a loss, fitted with JAX and optax.

>>> import estimators as est
>>> est.Mean().fit([1.0, 2.0, 6.0]).params_["mean"]
np.float64(3.0)
"""

from . import (
    autodiff,
    covariance,
    datasets,
    distributions,
    families,
    inference,
    influence,
    losses,
    prediction,
    quantile_inference,
    report,
)
from .base import Estimator, NotFittedError, clone
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
from .glm import GLM, LogisticRegression, PerfectSeparationWarning, PoissonRegression
from .hypothesis import LRTest, NotNestedWarning, WaldTest, lr_test, wald_test
from .likelihood import MaximumLikelihood, MEstimator
from .location import Huber, Mean, Median, Quantile, TukeyBiweight
from .nonlinear import NonlinearLeastSquares
from .quantile import QuantileRegression
from .regression import LinearRegression, Ridge
from .robust import HuberRegression, TukeyRegression
from .scale import MAD, StandardDeviation
from .solve import Solution, Status, minimize

__version__ = "0.1.0"

__all__ = [
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
