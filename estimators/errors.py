"""The exceptions and warnings every part of the library raises.

One base class, :class:`EstimationError`, so that callers can catch everything
the library raises on purpose with one ``except``; subclasses say whose fault
it was: the data, the settings, or the fit itself.
"""

from __future__ import annotations

import os
import sys


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


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this package.

    Fits reach their warnings through helpers of varying depth; a fixed
    stacklevel would point at library code on some paths (Python 3.12's
    ``skip_file_prefixes`` does this, but we support 3.11).
    """
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


class ConvergenceWarning(UserWarning):
    """The solver stopped before its convergence test passed (see ``converged_``)."""


class InferenceWarning(UserWarning):
    """Standard errors could not be computed (too few rows, singular Hessian): reported as NaN."""


class DataTypeError(DataError, TypeError):
    """A cell holds an object that is neither a number nor a string (a dict, a list, ...).

    Also a :class:`TypeError`, as numpy's ``float()`` conversion would raise, so
    code written against scikit-learn's input validation catches it.
    """


class DataConversionWarning(UserWarning):
    """The data were reshaped to fit: a column vector ``y`` of shape (n, 1) read as 1-D."""


_FLAVOURS: dict[tuple[type, str], type] = {}


def sklearn_flavour(cls: type, name: str) -> type:
    """``cls``, or a subclass of it and of ``sklearn.exceptions.<name>`` (scikit-learn loaded).

    Code that catches scikit-learn's exception or warning class has imported
    scikit-learn, so raising the combined class there lets it catch ours, while
    ``estimators`` itself never imports scikit-learn (about 1 s).
    """
    module = sys.modules.get("sklearn.exceptions")
    other = getattr(module, name, None)
    if other is None:
        return cls
    if (cls, name) not in _FLAVOURS:
        namespace = {"__module__": cls.__module__, "__doc__": cls.__doc__}
        _FLAVOURS[cls, name] = type(cls.__name__, (cls, other), namespace)
    return _FLAVOURS[cls, name]
