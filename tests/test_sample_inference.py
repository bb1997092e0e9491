"""Covariance types of the robust location estimators, the scale estimators and
NonlinearLeastSquares.

References, all computed live: closed forms of the M-estimation sandwich (psi and
psi' written out in numpy); LinearRegression, which matches statsmodels 0.15
OLS for every cov_type (tests/test_regression.py); analytic Jacobians of an
exponential-decay model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset

from estimators.errors import InferenceWarning, SettingsError
from estimators.nonlinear import NonlinearLeastSquares
from estimators.regression import LinearRegression
from estimators.robust_location import Huber, TukeyBiweight
from estimators.scale import MAD, StandardDeviation

ROBUST_TYPES = ("HC0", "HC1", "cluster", "HAC")


def rel(a, b):
    return np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)) / np.abs(b))


def michelson():
    return load_dataset("michelson")["speed"].to_numpy(float)


def experiments():
    """R's morley$Expt: Michelson's 100 runs are 5 experiments of 20, in order."""
    return np.repeat(np.arange(1, 6), 20)


def psi_and_derivative(kind: str, z: np.ndarray, c: float):
    """Huber's psi = clip(z, -c, c); the biweight's psi = z (1 - u)^2, u = (z/c)^2 < 1."""
    if kind == "huber":
        return np.clip(z, -c, c), (np.abs(z) <= c).astype(float)
    u = (z / c) ** 2
    inside = u < 1
    return np.where(inside, z * (1 - u) ** 2, 0.0), np.where(inside, (1 - u) * (1 - 5 * u), 0.0)


# --------------------------------------------------------------------------- robust location


@pytest.mark.parametrize("cls, kind", [(Huber, "huber"), (TukeyBiweight, "biweight")])
def test_robust_location_hc0_is_the_sandwich_at_the_fixed_scale(cls, kind):
    """HC0 = s^2 sum psi(z)^2 / (sum psi'(z))^2, z = (x - m)/s, s the fitted MAD scale."""
    x = michelson()
    m = cls(cov_type="HC0").fit(x)
    s = m.scale_
    z = (x - m.params_["location"]) / s
    psi, dpsi = psi_and_derivative(kind, z, m.c)
    closed = s * np.sqrt(np.sum(psi**2)) / np.sum(dpsi)
    assert rel(m.std_errors_["location"], closed) < 1e-10
    assert m.cov_type_ == "HC0" and m.summary()["statistic"].notna().all()
    # the estimate does not depend on cov_type; the nonrobust SE is Huber's H1
    h1 = cls().fit(x)
    assert h1.params_["location"] == m.params_["location"]
    assert rel(h1.std_errors_["location"], m.std_errors_["location"]) > 1e-4


@pytest.mark.parametrize("cls", [Huber, TukeyBiweight])
def test_robust_location_hc1_cluster_and_hac_reduce_to_hc0(cls):
    x = michelson()
    n = x.size
    hc0 = cls(cov_type="HC0").fit(x).cov_.iloc[0, 0]
    assert rel(cls(cov_type="HC1").fit(x).cov_.iloc[0, 0], hc0 * n / (n - 1)) < 1e-13
    # singletons: G/(G-1) (N-1)/(N-1) = N/(N-1)
    singletons = cls(cov_type="cluster").fit(x, groups=np.arange(n))
    assert rel(singletons.cov_.iloc[0, 0], hc0 * n / (n - 1)) < 1e-12
    lag0 = cls(cov_type="HAC", cov_options={"maxlags": 0}).fit(x)
    assert rel(lag0.cov_.iloc[0, 0], hc0) < 1e-13


def test_robust_location_cluster_and_hac_closed_forms():
    """Cluster: sums of scores within Michelson's five experiments; HAC: Bartlett
    weights over lags 1..L of the scores in run order (default L = floor(4 (n/100)^(2/9)))."""
    x = michelson()
    n = x.size
    m = Huber(cov_type="cluster").fit(x, groups=experiments())
    s = m.scale_
    psi, dpsi = psi_and_derivative("huber", (x - m.params_["location"]) / s, m.c)
    bread = s**2 / np.sum(dpsi)
    scores = -psi / s
    sums = np.bincount(experiments(), weights=scores)[1:]
    cluster = bread**2 * np.sum(sums**2) * 5 / 4 * (n - 1) / (n - 1)
    assert rel(m.cov_.iloc[0, 0], cluster) < 1e-12 and m.n_groups_ == 5
    assert m._df_inference is None  # z statistics, as RLM
    hac = Huber(cov_type="HAC").fit(x)
    lags = hac.hac_maxlags_
    assert lags == int(np.floor(4 * (n / 100) ** (2 / 9)))
    meat = np.sum(scores**2) + sum(
        2 * (1 - j / (lags + 1)) * np.sum(scores[j:] * scores[:-j]) for j in range(1, lags + 1)
    )
    assert rel(hac.cov_.iloc[0, 0], bread**2 * meat) < 1e-12


def test_robust_location_frequency_weights_equal_repeated_rows():
    x = michelson()[:40]
    counts = np.arange(40) % 3 + 1
    labels = np.arange(40) // 8
    for cov_type in ("HC0", "HC1", "cluster"):
        groups = labels if cov_type == "cluster" else None
        repeated = None if groups is None else np.repeat(labels, counts)
        w = Huber(cov_type=cov_type).fit(x, sample_weight=counts.astype(float), groups=groups)
        r = Huber(cov_type=cov_type).fit(np.repeat(x, counts), groups=repeated)
        assert rel(w.params_, r.params_) < 1e-12
        assert rel(w.std_errors_, r.std_errors_) < 1e-10


def test_robust_location_groups_are_cut_with_missing_values_and_named_in_errors():
    x = pd.Series(michelson(), name="speed")
    x.iloc[[0, 41]] = np.nan
    m = Huber(cov_type="cluster", missing="drop").fit(x, groups=experiments())
    keep = x.notna().to_numpy()
    direct = Huber(cov_type="cluster").fit(x[keep], groups=experiments()[keep])
    assert rel(m.std_errors_, direct.std_errors_) < 1e-13
    with pytest.raises(SettingsError, match=r"valid values are \['nonrobust', 'HC0'"):
        Huber(cov_type="HC3").fit(x.dropna())


# --------------------------------------------------------------------------- scale


@pytest.mark.parametrize("cls", [StandardDeviation, MAD])
def test_scale_estimators_offer_nonrobust_only(cls):
    x = michelson()
    fit = cls(use_t=True).fit(x)
    assert fit.cov_type_ == "nonrobust" and fit._df_inference == x.size - 1
    with pytest.raises(SettingsError, match=r"valid values are \['nonrobust'\]"):
        cls(cov_type="HC0").fit(x)
    with pytest.raises(SettingsError, match="only with cov_type='cluster'"):
        cls().fit(x, groups=experiments())


# --------------------------------------------------------------------------- nonlinear


def linear(b, x):
    return b[0] + x @ b[1:]


def stackloss():
    d = load_dataset("stackloss")
    return d[["airflow", "watertemp", "acidconc"]].to_numpy(float), d["stackloss"].to_numpy(float)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "HAC"])
def test_nls_of_a_linear_model_equals_linear_regression(cov_type):
    """LinearRegression matches statsmodels OLS for every cov_type; so must NLS here,
    including the t degrees of freedom (n - p; G - 1 for cluster)."""
    X, y = stackloss()
    groups = np.arange(y.size) % 5 if cov_type == "cluster" else None
    options = {"maxlags": 2} if cov_type == "HAC" else None
    nls = NonlinearLeastSquares(linear, np.zeros(4), cov_type=cov_type, cov_options=options)
    nls.fit(X, y, groups=groups)
    ols = LinearRegression(cov_type=cov_type, cov_options=options).fit(X, y, groups=groups)
    assert rel(nls.params_.to_numpy(), ols.params_.to_numpy()) < 1e-12
    assert rel(nls.std_errors_.to_numpy(), ols.std_errors_.to_numpy()) < 1e-11
    assert nls._df_inference == ols._df_inference
    assert nls.n_groups_ == ols.n_groups_ and nls.hac_maxlags_ == ols.hac_maxlags_


def test_nls_two_way_cluster_equals_linear_regression():
    X, y = stackloss()
    groups = np.column_stack([np.arange(y.size) % 4, np.arange(y.size) // 6])
    nls = NonlinearLeastSquares(linear, np.zeros(4), cov_type="cluster").fit(X, y, groups=groups)
    ols = LinearRegression(cov_type="cluster").fit(X, y, groups=groups)
    assert rel(nls.std_errors_.to_numpy(), ols.std_errors_.to_numpy()) < 1e-11


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3", "cluster"])
def test_nls_frequency_weights_equal_repeated_rows(cov_type):
    """NLS weights are frequency weights: a row of weight k is k copies (leverages too)."""
    X, y = stackloss()
    counts = np.arange(y.size) % 3 + 1
    labels = np.arange(y.size) % 4
    groups = labels if cov_type == "cluster" else None
    repeated = None if groups is None else np.repeat(labels, counts)
    nls = NonlinearLeastSquares(linear, np.zeros(4), cov_type=cov_type)
    w = nls.fit(X, y, sample_weight=counts.astype(float), groups=groups).std_errors_
    r = nls.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts), groups=repeated)
    assert rel(w.to_numpy(), r.std_errors_.to_numpy()) < 1e-10


def decay(b, x):
    import jax.numpy as jnp

    return b["a"] * jnp.exp(-b["k"] * x)


@pytest.mark.parametrize("cov_type", ["HC0", "HC3"])
def test_nls_sandwich_of_a_nonlinear_model_from_the_analytic_jacobian(cov_type):
    """HC0 = (J'J)^-1 (sum r_i^2 J_i J_i') (J'J)^-1, HC3 divides row i by (1 - h_i)^2,
    with J_i = (exp(-k x_i), -a x_i exp(-k x_i)) written out."""
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 4.0, 40)
    y = 3.0 * np.exp(-0.7 * x) + rng.normal(0, 0.05 + 0.05 * x, x.size)
    m = NonlinearLeastSquares(decay, {"a": 1.0, "k": 1.0}, cov_type=cov_type).fit(x, y)
    a, k = m.params_["a"], m.params_["k"]
    J = np.column_stack([np.exp(-k * x), -a * x * np.exp(-k * x)])
    r = y - a * np.exp(-k * x)
    inverse = np.linalg.inv(J.T @ J)
    h = np.einsum("ij,jk,ik->i", J, inverse, J)
    u = r if cov_type == "HC0" else r / (1 - h)
    expected = inverse @ (J.T * u**2) @ J @ inverse
    np.testing.assert_allclose(m.cov_.to_numpy(), expected, rtol=1e-8)


def test_nls_singular_jacobian_nan_for_every_type_with_the_reason():
    x = np.linspace(0.0, 1.0, 12)
    y = 1.0 + 2.0 * x

    def unidentified(b, x):
        return b[0] * b[1] + b[2] * x  # only b0 * b1 is identified

    with pytest.warns(InferenceWarning, match="singular") as record:
        m = NonlinearLeastSquares(unidentified, [1.0, 1.0, 1.0], cov_type="HC1").fit(x, y)
    assert len([w for w in record if w.category is InferenceWarning]) == 1
    assert m.std_errors_.isna().all() and "singular" in m.cov_note_


def test_nls_cluster_labels_cut_with_dropped_rows():
    X, y = stackloss()
    X = X.copy()
    X[[2, 9], 0] = np.nan
    groups = np.arange(y.size) % 5
    keep = ~np.isnan(X[:, 0])
    nls = NonlinearLeastSquares(linear, np.zeros(4), cov_type="cluster", missing="drop")
    dropped = nls.fit(X, y, groups=groups).std_errors_.to_numpy()
    direct = nls.fit(X[keep], y[keep], groups=groups[keep]).std_errors_.to_numpy()
    assert rel(dropped, direct) < 1e-13
    with pytest.raises(SettingsError, match="pass groups= to fit"):
        nls.fit(X, y)
