"""The exceptions and warnings every part of the library raises.

One base class, :class:`EstimationError`, so that callers can catch everything
the library raises on purpose with one ``except``; subclasses say whose fault
it was: the data, the settings, or the fit itself.
"""

from __future__ import annotations


class EstimationError(Exception):
    """Base class of every error raised on purpose by ``estimators``."""


class DataError(EstimationError, ValueError):
    """The data cannot be used: empty, non-numeric, missing, infinite, out of domain.

    Messages name the argument or column and count the offending rows.
    """


class SettingsError(EstimationError, ValueError):
    """An estimator or solver setting is invalid (unknown name, value out of range)."""


class FitError(EstimationError, RuntimeError):
    """The optimisation failed: the loss or its gradient became NaN or infinite."""


class ConvergenceWarning(UserWarning):
    """The solver stopped before its convergence test passed (see ``converged_``)."""


class InferenceWarning(UserWarning):
    """Standard errors could not be computed (too few rows, singular Hessian): reported as NaN."""
