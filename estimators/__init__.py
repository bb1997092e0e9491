"""estimators: statistical estimators as minimisers of a loss, fitted with JAX and optax.

>>> import estimators as est
>>> est.Mean().fit([1.0, 2.0, 6.0]).params_["mean"]
np.float64(3.0)
"""

from . import autodiff, datasets, inference, losses
from .base import Estimator, NotFittedError, clone
from .errors import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    FitError,
    InferenceWarning,
    SettingsError,
)
from .location import Mean
from .solve import Solution, Status, minimize

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
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
