"""Influence functions and DFBETA (estimators/influence.py).

References:
- tests/reference/influence.json, written by tests/reference/make_influence.py
  with statsmodels 0.15 (versions and exact calls recorded in the file):
  ``OLSInfluence(res).dfbeta`` (leave-one-out loop), ``GLM(...).fit(tol=1e-13)
  .get_influence().d_params`` and ``get_hat_matrix_diag()``, and the HC0
  covariances ``fit(cov_type="HC0")``;
- brute-force leave-one-out refits with our own estimators, computed live;
- finite differences of our own weighted refits in the row's weight, computed live;
- the MLE's own HC0 covariance (``cov_type="HC0"``), an independent code path.
"""

from __future__ import annotations

import doctest
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset

import estimators.influence as influence_module
from estimators.base import NotFittedError
from estimators.covariance import Sandwich, hc_cov, single_index_leverage
from estimators.errors import EstimationError, InferenceWarning
from estimators.glm import LogisticRegression, PoissonRegression
from estimators.influence import (
    dfbeta,
    dfbeta_matrix,
    influence_functions,
    influence_matrix,
)
from estimators.likelihood import MaximumLikelihood
from estimators.location import Median, Quantile
from estimators.quantile import QuantileRegression
from estimators.regression import LinearRegression, Ridge
from estimators.scale import MAD

REFERENCE = json.loads((Path(__file__).parent / "reference" / "influence.json").read_text())
CASES = REFERENCE["cases"]


# --------------------------------------------------------------------------- helpers


def case_data(name: str) -> tuple[pd.DataFrame, pd.Series, dict]:
    """The reference case's regressors (no intercept column), response and record."""
    case = CASES[name]
    data = load_dataset(case["data"])
    response, terms = (part.strip() for part in case["formula"].split("~"))
    columns = [t.strip() for t in terms.split("+")]
    return data[columns], data[response], case


def max_relative(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference relative to the largest absolute value of each column."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = np.max(np.abs(expected), axis=0)
    return float(np.max(np.abs(actual - expected) / scale))


def hc0_from_influence(frame: pd.DataFrame, sandwich: Sandwich) -> np.ndarray:
    """sum_i f_i IF_i IF_i' / n^2 (the module's frequency-weight convention)."""
    f = np.ones(len(frame)) if sandwich.frequency_weights is None else sandwich.frequency_weights
    values = frame.to_numpy()
    return (values * f[:, None]).T @ values / sandwich.nobs**2


def leave_one_out(make, X: pd.DataFrame, y: pd.Series, rows, **fit_kwargs) -> np.ndarray:
    """theta_hat - theta_hat_(-i) by refitting without each row in ``rows``."""
    full = make().fit(X, y, **fit_kwargs).params_.to_numpy()
    changes = []
    for i in rows:
        keep = np.arange(len(y)) != i
        kwargs = {k: np.asarray(v)[keep] for k, v in fit_kwargs.items()}
        changes.append(full - make().fit(X[keep], y[keep], **kwargs).params_.to_numpy())
    return np.array(changes)


def with_leverage(sandwich: Sandwich, leverage: np.ndarray) -> Sandwich:
    return Sandwich(
        sandwich.bread, sandwich.scores, sandwich.nobs, sandwich.frequency_weights, leverage
    )


# --------------------------------------------------------------------------- least squares


@pytest.fixture(scope="module")
def stackloss_fit():
    X, y, case = case_data("ols_stackloss")
    fit = LinearRegression().fit(X, y)
    np.testing.assert_allclose(fit.params_.to_numpy(), case["params"], rtol=1e-12)
    return X, y, case, fit


def test_ols_dfbeta_equals_statsmodels_leave_one_out(stackloss_fit):
    X, y, case, fit = stackloss_fit
    frame = fit.dfbeta()
    assert list(frame.columns) == case["names"]
    assert frame.index.equals(X.index)
    # measured: 5e-14 relative to each column's largest change
    assert max_relative(frame.to_numpy(), case["dfbeta"]) < 1e-10


def test_ols_dfbeta_equals_our_leave_one_out_refits(stackloss_fit):
    X, y, _, fit = stackloss_fit
    loo = leave_one_out(LinearRegression, X, y, range(len(y)))
    assert max_relative(dfbeta(fit).to_numpy(), loo) < 1e-10  # measured 5e-15


def test_ols_leverage_equals_statsmodels_hat(stackloss_fit):
    _, _, case, fit = stackloss_fit
    np.testing.assert_allclose(fit._sandwich.leverage, case["hat"], rtol=1e-12)


def test_ols_hc0_is_the_mean_square_of_the_influence_functions(stackloss_fit):
    X, y, case, fit = stackloss_fit
    frame = influence_functions(fit)
    hc0 = hc0_from_influence(frame, fit._sandwich)
    np.testing.assert_allclose(hc0, case["cov_HC0"], rtol=1e-10)  # measured 5e-14
    robust = LinearRegression(cov_type="HC0").fit(X, y).cov_.to_numpy()
    np.testing.assert_allclose(hc0, robust, rtol=1e-12)
    # the influence functions average to zero at the estimate (the normal equations)
    assert np.all(np.abs(frame.mean()) < 1e-10 * frame.abs().max())


def test_influence_is_n_times_the_derivative_in_the_row_weight(stackloss_fit):
    """IF_i = n d theta / d f_i (the module docstring), by central differences of refits."""
    X, y, _, fit = stackloss_fit
    frame = influence_functions(fit)
    n, step = len(y), 1e-4
    for i in (0, 2, 20):  # two high-influence rows and one ordinary one
        bumped = []
        for sign in (1.0, -1.0):
            w = np.ones(n)
            w[i] += sign * step
            bumped.append(LinearRegression().fit(X, y, sample_weight=w).params_.to_numpy())
        derivative = n * (bumped[0] - bumped[1]) / (2 * step)
        # measured: 9e-10 relative (O(step^2) truncation and rounding / step)
        np.testing.assert_allclose(frame.iloc[i], derivative, rtol=1e-6)


def test_wls_and_ridge_dfbeta_are_exact():
    X, y, _ = case_data("ols_stackloss")
    w = 1.0 + np.arange(len(y)) % 3
    wls = LinearRegression().fit(X, y, sample_weight=w)
    loo = leave_one_out(LinearRegression, X, y, range(len(y)), sample_weight=w)
    assert max_relative(dfbeta(wls).to_numpy(), loo) < 1e-10
    ridge = Ridge(alpha=3.0).fit(X, y)
    loo = leave_one_out(lambda: Ridge(alpha=3.0), X, y, range(len(y)))
    assert max_relative(dfbeta(ridge).to_numpy(), loo) < 1e-10


def test_rows_follow_the_data_kept():
    X, y, _ = case_data("ols_stackloss")
    X = X.set_axis([f"run{i}" for i in range(len(y))])
    y = y.set_axis(X.index)
    X.iloc[3, 0] = np.nan
    fit = LinearRegression(missing="drop").fit(X, y)
    frame = fit.influence()
    assert list(frame.index) == [label for label in X.index if label != "run3"]
    loo = leave_one_out(LinearRegression, X.drop(index="run3"), y.drop(index="run3"), [0, 5])
    np.testing.assert_allclose(fit.dfbeta().iloc[[0, 5]].to_numpy(), loo, rtol=1e-10)


def test_leverage_one_rows_get_nan_and_a_warning():
    """A dummy column that is 1 on one row only: that row alone determines its coefficient."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    X = np.column_stack([x, (np.arange(12) == 4).astype(float)])
    y = 1.0 + 2.0 * x + rng.normal(size=12)
    fit = LinearRegression().fit(X, y)
    with pytest.warns(InferenceWarning, match="1 row.*leverage 1"):
        frame = fit.dfbeta()
    assert frame.iloc[4].isna().all()
    assert frame.drop(index=4).notna().all().all()


# --------------------------------------------------------------------------- GLMs


@pytest.fixture(scope="module")
def logit_fit():
    X, y, case = case_data("logit_anes96")
    fit = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(fit.params_.to_numpy(), case["params"], rtol=1e-8)
    return X, y, case, fit


@pytest.fixture(scope="module")
def poisson_fit():
    X, y, case = case_data("poisson_strikes")
    fit = PoissonRegression().fit(X, y)
    np.testing.assert_allclose(fit.params_.to_numpy(), case["params"], rtol=1e-8)
    return X, y, case, fit


def glm_leverage(fit, X: pd.DataFrame) -> np.ndarray:
    """h_i = w_i l''(eta_i) x_i' A^-1 x_i for the canonical links (l'' = mu(1-mu) or mu)."""
    mu = fit.mu_.to_numpy()
    curvature = mu * (1 - mu) if isinstance(fit, LogisticRegression) else mu
    design = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    return single_index_leverage(design, curvature, fit._sandwich.bread)


@pytest.mark.parametrize("fixture", ["logit_fit", "poisson_fit"])
def test_glm_hc0_is_the_mean_square_of_the_influence_functions(fixture, request):
    X, y, case, fit = request.getfixturevalue(fixture)
    frame = fit.influence()
    assert list(frame.columns) == case["names"] and frame.index.equals(X.index)
    hc0 = hc0_from_influence(frame, fit._sandwich)
    # measured: logit 2.6e-13, poisson 5.7e-15 (the issue asks for 1e-6)
    np.testing.assert_allclose(hc0, case["cov_HC0"], rtol=1e-6)


@pytest.mark.parametrize("fixture", ["logit_fit", "poisson_fit"])
def test_glm_leverage_correction_is_statsmodels_d_params(fixture, request):
    """With the GLM leverages, the one-step DFBETA is statsmodels' GLMInfluence.d_params."""
    X, y, case, fit = request.getfixturevalue(fixture)
    leverage = glm_leverage(fit, X)
    np.testing.assert_allclose(leverage, case["hat"], rtol=1e-10)  # measured 1.8e-14
    corrected = dfbeta_matrix(with_leverage(fit._sandwich, leverage))
    assert max_relative(corrected, case["dfbeta"]) < 1e-10  # measured 1.9e-14


@pytest.mark.parametrize("fixture", ["logit_fit", "poisson_fit"])
def test_glm_dfbeta_method_is_statsmodels_d_params(fixture, request):
    X, y, case, fit = request.getfixturevalue(fixture)
    np.testing.assert_allclose(fit._sandwich.leverage, case["hat"], rtol=1e-10)
    assert max_relative(fit.dfbeta().to_numpy(), case["dfbeta"]) < 1e-10


def test_glm_dfbeta_is_close_to_leave_one_out_refits(logit_fit, poisson_fit):
    """One Newton step misses the refit by O(1/n^2); the leverage correction helps."""
    gaps = {}
    for X, y, _, fit in (logit_fit, poisson_fit):
        make = type(fit)
        corrected = dfbeta_matrix(with_leverage(fit._sandwich, glm_leverage(fit, X)))
        plain = fit.dfbeta().to_numpy() if fit._sandwich.leverage is None else None
        if plain is None:
            plain = -(fit._sandwich.scores @ fit._sandwich.bread)
        size = np.linalg.norm(corrected, axis=1)
        rows = np.unique(np.r_[np.argsort(size)[-6:], np.linspace(0, len(y) - 1, 4).astype(int)])
        loo = leave_one_out(make, X, y, rows)
        scale = np.max(np.abs(loo), axis=0)
        gap_corrected = np.max(np.abs(corrected[rows] - loo) / scale)
        gap_plain = np.max(np.abs(plain[rows] - loo) / scale)
        gaps[make.__name__] = (gap_corrected, gap_plain)
        assert gap_corrected < gap_plain
    # measured (relative to each column's largest leave-one-out change, over the
    # rows refitted): logit (n = 944, h <= 0.028) 1.6e-2 corrected, 1.7e-2 plain,
    # 2.6e-3 absolute on the intercept, whose largest change is 0.16; poisson
    # (n = 62, h <= 0.19) 6.3e-2 corrected, 1.6e-1 plain. statsmodels' d_params
    # misses the refits by the same amounts (they are the corrected numbers).
    assert gaps["LogisticRegression"][0] < 0.03
    assert gaps["PoissonRegression"][0] < 0.1


# --------------------------------------------------------------------------- maximum likelihood


@pytest.fixture(scope="module")
def gamma_fit():
    x = load_dataset("strikes")["duration"].astype(float)
    fit = MaximumLikelihood("gamma", cov_type="HC0").fit(x)
    return x, fit


def test_mle_hc0_is_the_mean_square_of_the_influence_functions(gamma_fit):
    x, fit = gamma_fit
    frame = influence_functions(fit)
    assert list(frame.columns) == ["shape", "scale"] and frame.index.equals(x.index)
    np.testing.assert_allclose(
        hc0_from_influence(frame, fit._sandwich), fit.cov_.to_numpy(), rtol=1e-10
    )


def test_mle_nonrobust_fit_has_the_same_influence(gamma_fit):
    """The influence functions do not depend on cov_type (the sandwich is the loss's)."""
    x, robust = gamma_fit
    fit = MaximumLikelihood("gamma").fit(x)
    if fit._sandwich is None:
        with pytest.raises(EstimationError, match="provides none"):
            fit.influence()
        pytest.skip(
            "MaximumLikelihood stores its sandwich only for robust cov_types; "
            "influence() needs one for cov_type='nonrobust' too"
        )
    np.testing.assert_allclose(
        fit.influence().to_numpy(), influence_functions(robust).to_numpy(), rtol=1e-10
    )


def test_mle_dfbeta_is_close_to_leave_one_out_refits(gamma_fit):
    x, fit = gamma_fit
    frame = dfbeta(fit)
    size = np.linalg.norm(frame.to_numpy() / frame.abs().max().to_numpy(), axis=1)
    rows = np.unique(np.r_[np.argsort(size)[-5:], [0, 20, 40]])
    full = fit.params_.to_numpy()
    loo = np.array(
        [full - MaximumLikelihood("gamma").fit(x.drop(index=i)).params_.to_numpy() for i in rows]
    )
    scale = np.max(np.abs(frame.to_numpy()), axis=0)
    gap = np.max(np.abs(frame.to_numpy()[rows] - loo) / scale)
    # measured 0.13 (no leverage correction; n = 62, durations from 2 to 216 days)
    assert gap < 0.2


def test_frequency_weights_count_observations(gamma_fit):
    """A row of weight f is f observations: same IF as f copies, DFBETA deletes all f."""
    x, _ = gamma_fit
    x = x.iloc[:30]
    counts = 1 + np.arange(30) % 3
    weighted = MaximumLikelihood("gamma", cov_type="HC0").fit(x, sample_weight=counts)
    expanded = MaximumLikelihood("gamma", cov_type="HC0").fit(
        pd.Series(np.repeat(x.to_numpy(), counts))
    )
    np.testing.assert_allclose(weighted.params_, expanded.params_, rtol=1e-9)
    per_row = influence_functions(weighted).to_numpy()
    copies = influence_functions(expanded).to_numpy()
    np.testing.assert_allclose(np.repeat(per_row, counts, axis=0), copies, rtol=1e-7, atol=1e-9)
    # HC0 with the convention: sum_i f_i IF_i IF_i' / n^2 is the fit's own HC0
    np.testing.assert_allclose(
        hc0_from_influence(influence_functions(weighted), weighted._sandwich),
        hc_cov(weighted._sandwich, "HC0"),
        rtol=1e-12,
    )
    # DFBETA of a row with weight 3 is the one-step change from deleting all 3 copies
    np.testing.assert_allclose(
        dfbeta(weighted).to_numpy()[2],
        -(weighted._sandwich.scores[2] @ weighted._sandwich.bread),
        rtol=1e-12,
    )


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make",
    [Median, lambda: Quantile(q=0.9), MAD],
    ids=["Median", "Quantile", "MAD"],
)
def test_non_smooth_sample_estimators_raise(make):
    fit = make().fit(np.random.default_rng(1).gamma(2.0, size=200))
    for method in (fit.influence, fit.dfbeta):
        with pytest.raises(EstimationError, match="need a smooth loss"):
            method()


def test_quantile_regression_raises():
    X, y, _ = case_data("ols_stackloss")
    fit = QuantileRegression(q=0.5).fit(X, y)
    with pytest.raises(EstimationError, match="smooth loss: QuantileRegression minimises"):
        fit.dfbeta()


def test_fit_without_sandwich_or_inverse_hessian_raises(stackloss_fit):
    X, y, _, _ = stackloss_fit
    fit = LinearRegression().fit(X, y)
    fit._sandwich = None  # what _store_fit keeps for an estimator that hands none
    with pytest.raises(EstimationError, match="provides none"):
        fit.influence()
    singular = Sandwich(np.full((2, 2), np.nan), np.ones((3, 2)), 3.0)
    with pytest.raises(EstimationError, match="inverse Hessian"):
        influence_matrix(singular)
    with pytest.raises(EstimationError, match="inverse Hessian"):
        dfbeta_matrix(singular)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        LinearRegression().influence()


def test_docstring_example():
    result = doctest.testmod(influence_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_no_warnings_on_an_ordinary_fit(stackloss_fit):
    *_, fit = stackloss_fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.dfbeta()
        fit.influence()
