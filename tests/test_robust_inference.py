"""HuberRegression / TukeyRegression inference: H1 against statsmodels, and the sandwiches.

Reference for H1: ``tests/reference/glm.json`` (case ``rlm_huber_stackloss``),
written by ``tests/reference/make_glm.py`` with statsmodels 0.15
``RLM(..., M=HuberT()).fit(tol=1e-14, maxiter=1000)`` (``cov="H1"``).
statsmodels' RLM offers no sandwich, so HC0 is checked against a direct numpy
:math:`A^{-1} B A^{-1}` of the textbook psi functions, written out here
independently of the library's autodiff.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from estimators.datasets import load_dataset

from estimators.errors import DataError, SettingsError
from estimators.robust import HuberRegression, TukeyRegression

REFERENCE = json.loads((Path(__file__).parent / "reference" / "glm.json").read_text())
FEATURES = ["airflow", "watertemp", "acidconc"]


def huber_psi(z, c):
    return np.clip(z, -c, c), (np.abs(z) <= c).astype(float)


def tukey_psi(z, c):
    u = (z / c) ** 2
    inside = np.abs(z) <= c
    return np.where(inside, z * (1 - u) ** 2, 0.0), np.where(inside, (1 - u) * (1 - 5 * u), 0.0)


PSI = {HuberRegression: huber_psi, TukeyRegression: tukey_psi}


@pytest.fixture(scope="module")
def stackloss():
    df = load_dataset("stackloss")
    return df[FEATURES], df["stackloss"]


def numpy_hc0(fitted, X, y, weights=None):
    r"""HC0 by hand: :math:`s^2 A^{-1} B A^{-1}`, :math:`A = \sum w\psi' x x^\top`,
    :math:`B = \sum w \psi^2 x x^\top`."""
    design = np.column_stack([np.ones(len(y)), np.asarray(X, float)])
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    z = (np.asarray(y, float) - design @ fitted.params_.to_numpy()) / fitted.scale_
    psi, dpsi = PSI[type(fitted)](z, fitted.c)
    a = (design * (w * dpsi)[:, None]).T @ design
    b = (design * (w * psi**2)[:, None]).T @ design
    a_inv = np.linalg.inv(a)
    return fitted.scale_**2 * a_inv @ b @ a_inv


def test_h1_matches_statsmodels_rlm_reference(stackloss):
    case = REFERENCE["cases"]["rlm_huber_stackloss"]
    fitted = HuberRegression().fit(*stackloss)
    np.testing.assert_allclose(fitted.params_, case["params"], rtol=1e-8)
    worst = float(np.max(np.abs(fitted.std_errors_.to_numpy() / case["bse"]["nonrobust"] - 1)))
    print(f"RLM HuberT H1: worst relative SE difference {worst:.2e}")
    assert worst <= 1e-6
    assert fitted.cov_type_ == "nonrobust" and fitted._df_inference is None


@pytest.mark.parametrize("cls", [HuberRegression, TukeyRegression])
def test_hc0_and_hc1_equal_the_direct_sandwich_of_psi(stackloss, cls):
    X, y = stackloss
    hc0 = cls(cov_type="HC0").fit(X, y)
    np.testing.assert_allclose(hc0.cov_.to_numpy(), numpy_hc0(hc0, X, y), rtol=1e-10)
    hc1 = cls(cov_type="HC1").fit(X, y)
    n, p = len(y), 4
    np.testing.assert_allclose(hc1.cov_, hc0.cov_ * n / (n - p), rtol=1e-12)
    # the point estimate does not depend on the covariance type
    np.testing.assert_array_equal(hc0.params_, cls().fit(X, y).params_)


def test_frequency_weights_equal_repeated_rows(stackloss):
    X, y = stackloss
    w = 1 + np.arange(len(y)) % 3
    weighted = HuberRegression(cov_type="HC0").fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(len(y)), w)
    repeated = HuberRegression(cov_type="HC0").fit(X.iloc[rows], y.iloc[rows])
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-8)
    np.testing.assert_allclose(weighted.cov_, repeated.cov_, rtol=1e-6)
    np.testing.assert_allclose(weighted.cov_.to_numpy(), numpy_hc0(weighted, X, y, w), rtol=1e-10)


@pytest.mark.parametrize("cls", [HuberRegression, TukeyRegression])
def test_cluster_and_hac_run_and_reduce_to_hc1_and_hc0(stackloss, cls):
    """One-row clusters: c = n/(n-p), HC1. HAC with 0 lags: HC0. With lags and real
    clusters: finite, positive definite, different."""
    X, y = stackloss
    hc0 = cls(cov_type="HC0").fit(X, y).cov_
    hc1 = cls(cov_type="HC1").fit(X, y).cov_
    single = cls(cov_type="cluster").fit(X, y, groups=np.arange(len(y)))
    np.testing.assert_allclose(single.cov_, hc1, rtol=1e-12)
    lag0 = cls(cov_type="HAC", cov_options={"maxlags": 0}).fit(X, y)
    np.testing.assert_allclose(lag0.cov_, hc0, rtol=1e-12)
    clustered = cls(cov_type="cluster").fit(X, y, groups=np.arange(len(y)) // 3)
    hac = cls(cov_type="HAC").fit(X, y)
    for fitted in (clustered, hac):
        assert np.all(np.linalg.eigvalsh(fitted.cov_.to_numpy()) > 0)
        assert not np.allclose(fitted.cov_, hc0)
    assert clustered.n_groups_ == 7 and hac.hac_maxlags_ == 2  # floor(4 (21/100)^(2/9))
    assert clustered._df_inference is None  # z, as RLM; use_t=True gives G - 1
    assert (
        cls(cov_type="cluster", use_t=True).fit(X, y, groups=np.arange(21) // 3)._df_inference == 6
    )


def test_settings_errors_and_bad_labels(stackloss):
    X, y = stackloss
    with pytest.raises(SettingsError, match=r"valid values are \['nonrobust', 'HC0', 'HC1'"):
        HuberRegression(cov_type="HC2").fit(X, y)
    with pytest.raises(SettingsError, match="needs cluster labels"):
        TukeyRegression(cov_type="cluster").fit(X, y)
    with pytest.raises(DataError, match="at least two clusters"):
        HuberRegression(cov_type="cluster").fit(X, y, groups=np.ones(len(y)))
    model = HuberRegression(2.0, cov_type="HAC", use_t=False, cov_options={"maxlags": 1})
    assert model.get_params() | {} == {
        "c": 2.0,
        "fit_intercept": True,
        "missing": "raise",
        "tol": 1e-10,
        "max_iter": 200,
        "cov_type": "HAC",
        "use_t": False,
        "cov_options": {"maxlags": 1},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.fit(X, y).hac_maxlags_ == 1
