"""The examples in the docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "estimators",
    "estimators.autodiff",
    "estimators.inference",
    "estimators.functional_regression",
    "estimators.implicit",
    "estimators.distributed",
    "estimators.distributed_glm",
    "estimators.bootstrap_kernels",
    "estimators.bootstrap_intervals",
    "estimators.frame",
    "estimators.functional_location",
    "estimators.functional_smooth",
    "estimators.losses",
    "estimators.numerics",
    "estimators.order_statistics",
    "estimators.univariate",
    "estimators.location",
    "estimators.robust_location",
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
    "estimators.levenberg_marquardt",
    "estimators.lstsq",
    "estimators.glm_kernels",
    "estimators.glm_design",
    "estimators.glm_inference",
    "estimators.separation",
    "estimators.formula",
    "estimators.covariance",
    "estimators.prediction",
    "estimators.hypothesis",
    "estimators.report",
    "estimators.influence",
    "estimators.quantile_inference",
    "estimators.fit_inputs",
    "estimators.interop",
    "estimators.batch",
    "estimators.bootstrap",
    "estimators.compile_cache",
    "estimators.sharding",
    "estimators.stream",
    "estimators.stream_sources",
    "estimators.stream_kernels",
    "estimators.stream_passes",
    "estimators.stream_solvers",
    "estimators.selection",
    "estimators.moments",
    "estimators.quantile_selection",
    "estimators.likelihood_statistics",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
