"""The examples in the docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "estimators",
    "estimators.autodiff",
    "estimators.losses",
    "estimators.location",
    "estimators.solve",
    "estimators.regression",
    "estimators.glm",
    "estimators.families",
    "estimators.distributions",
    "estimators.likelihood",
    "estimators.scale",
    "estimators.robust",
    "estimators.quantile",
    "estimators.nonlinear",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
