"""Warnings point at the user's call, whatever the depth of the library code that raises them."""

import warnings

import numpy as np
import pytest

from estimators import ConvergenceWarning, InferenceWarning, Mean, Median
from estimators.likelihood import MEstimator
from estimators.regression import LinearRegression


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, caught


@pytest.mark.parametrize(
    "call, category",
    [
        (lambda: Mean().fit([3.0]), InferenceWarning),
        (lambda: Median().fit([3.0, 1.0, 2.0]), InferenceWarning),
        (
            lambda: LinearRegression(solver="lbfgs", max_iter=1).fit(
                np.arange(20.0).reshape(10, 2) ** 1.5, np.arange(10.0)
            ),
            ConvergenceWarning,
        ),
        (
            # a flat direction: the loss does not depend on b, so its Hessian is singular
            lambda: MEstimator(
                loss=lambda p, x: (x - p["a"]) ** 2 + 0.0 * p["b"], params0={"a": 0.0, "b": 0.0}
            ).fit(np.array([1.0, 2.0, 4.0])),
            InferenceWarning,
        ),
    ],
)
def test_warning_points_at_this_file(call, category):
    _, caught = _caught(call)
    ours = [w for w in caught if issubclass(w.category, category)]
    assert ours, [str(w.message) for w in caught]
    assert all(w.filename == __file__ for w in ours), [(w.filename, w.lineno) for w in ours]


def test_single_observation_mean_records_why_its_standard_error_is_nan():
    fit, caught = _caught(lambda: Mean().fit([3.0]))
    assert np.isnan(fit.std_errors_["mean"])
    assert "single observation" in fit.cov_note_
    assert sum(issubclass(w.category, InferenceWarning) for w in caught) == 1
    assert "single observation" in fit.summary_text()
