"""Covariance types of MaximumLikelihood and MEstimator: closed forms, statsmodels, bad input.

References: closed forms computed live in each test; statsmodels 0.15 numbers
stored in ``tests/reference/likelihood.json`` by ``tests/reference/make_likelihood.py``
(the exact calls and versions are recorded in the JSON).
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pytest
from estimators.datasets import load_dataset
from scipy import stats

from estimators.errors import DataError, InferenceWarning, SettingsError
from estimators.likelihood import MaximumLikelihood, MEstimator
from estimators.losses import huber
from estimators.robust_location import Huber

REFERENCE = json.loads(
    (pathlib.Path(__file__).parent / "reference" / "likelihood.json").read_text()
)
SE_RTOL = 1e-6  # the tolerance against statsmodels


def rel(a, b):
    return np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)) / np.abs(b))


def michelson():
    return load_dataset("michelson")["speed"].to_numpy(float)


def experiments():
    """R's morley$Expt: Michelson's 100 runs are 5 experiments of 20, in order."""
    return np.repeat(np.arange(1, 6), 20)


def strikes():
    return load_dataset("strikes")["duration"].to_numpy(float)


def fit(family, x, cov_type, groups=None, sample_weight=None, **settings):
    options = {"maxlags": REFERENCE["hac_maxlags"]} if cov_type == "HAC" else None
    m = MaximumLikelihood(family, cov_type=cov_type, cov_options=options, **settings)
    return m.fit(x, sample_weight=sample_weight, groups=groups)


# --------------------------------------------------------------------------- closed forms


def test_normal_hc0_is_the_closed_form_from_the_central_moments():
    """HC0 of the normal MLE: se(mean) = sqrt(sum (x - xbar)^2) / n and
    se(sd) = sqrt((m4 - m2^2) / (4 m2 n)), m_k the central moments (divisor n)."""
    x = np.random.default_rng(7).gamma(2.0, 3.0, 500)  # skewed: HC0 differs from nonrobust
    m = fit("normal", x, "HC0")
    n, d = x.size, x - x.mean()
    m2, m4 = np.mean(d**2), np.mean(d**4)
    assert rel(m.std_errors_["mean"], np.sqrt(np.sum(d**2)) / n) < 1e-12
    assert rel(m.std_errors_["sd"], np.sqrt((m4 - m2**2) / (4 * m2 * n))) < 1e-10
    assert m.cov_type_ == "HC0" and m.cov_note_ is None
    nonrobust = fit("normal", x, "nonrobust")
    assert rel(m.std_errors_["sd"], nonrobust.std_errors_["sd"]) > 0.1


@pytest.mark.parametrize("scale", [1.0, 1e-150, 1e150])
def test_exponential_and_poisson_hc0_are_the_variance_over_n(scale):
    """Exponential scale theta = xbar: H = n / theta^2, B = sum (x - theta)^2 / theta^4,
    so HC0 = var / n (divisor n), in any units. Poisson: the same for counts."""
    x = strikes() * scale
    m = fit("exponential", x, "HC0")
    assert rel(m.std_errors_["scale"], x.std() / np.sqrt(x.size)) < 1e-12
    counts = load_dataset("randhie")["mdvis"].to_numpy(float)
    p = fit("poisson", counts, "HC0")
    assert rel(p.std_errors_["mean"], counts.std() / np.sqrt(counts.size)) < 1e-12


def test_hc1_is_hc0_times_n_over_n_minus_k():
    x = michelson()
    hc0, hc1 = fit("normal", x, "HC0"), fit("normal", x, "HC1")
    n = x.size
    np.testing.assert_allclose(hc1.cov_.to_numpy(), hc0.cov_.to_numpy() * n / (n - 2), rtol=1e-14)


def test_cluster_of_singletons_and_hac_without_lags_reduce_to_hc0():
    """One observation a cluster: B is HC0's, times G/(G-1) (N-1)/(N-k) with G = N.
    HAC with maxlags=0 has no autocovariance terms and no factor: HC0 exactly."""
    x = strikes()
    n, k = x.size, 2
    hc0 = fit("gamma", x, "HC0")
    singletons = fit("gamma", x, "cluster", groups=np.arange(n))
    factor = n / (n - 1) * (n - 1) / (n - k)
    np.testing.assert_allclose(
        singletons.cov_.to_numpy(), hc0.cov_.to_numpy() * factor, rtol=1e-12
    )
    assert singletons.n_groups_ == n
    lag0 = MaximumLikelihood("gamma", cov_type="HAC", cov_options={"maxlags": 0}).fit(x)
    np.testing.assert_allclose(lag0.cov_.to_numpy(), hc0.cov_.to_numpy(), rtol=1e-12)
    assert lag0.hac_maxlags_ == 0


def test_frequency_weights_equal_repeated_rows_for_every_cov_type():
    x = strikes()[:20]
    counts = np.arange(20) % 3 + 1.0
    labels = np.arange(20) // 4
    for cov_type in ("nonrobust", "HC0", "HC1", "cluster"):
        groups = repeated_groups = None
        if cov_type == "cluster":
            groups, repeated_groups = labels, np.repeat(labels, counts.astype(int))
        weighted = fit("weibull", x, cov_type, groups=groups, sample_weight=counts)
        repeated = fit(
            "weibull", np.repeat(x, counts.astype(int)), cov_type, groups=repeated_groups
        )
        np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-9)
        np.testing.assert_allclose(weighted.std_errors_, repeated.std_errors_, rtol=1e-8)


def test_missing_values_dropped_cut_the_cluster_labels():
    x = michelson().copy()
    labels = experiments()
    x_nan = x.copy()
    x_nan[[3, 50]] = np.nan
    keep = ~np.isnan(x_nan)
    dropped = fit("normal", x_nan, "cluster", groups=labels, missing="drop")
    direct = fit("normal", x[keep], "cluster", groups=labels[keep])
    np.testing.assert_allclose(dropped.std_errors_, direct.std_errors_, rtol=1e-12)
    assert dropped.n_groups_ == 5 and dropped.nobs_ == 98


def test_fixed_parameters_have_nan_rows_in_every_cov_type():
    x = strikes()
    m = fit("gamma", x, "HC0", fixed={"shape": 1.0})
    assert np.isnan(m.std_errors_["shape"]) and np.isnan(m.cov_.loc["shape", "scale"])
    # shape 1 is the exponential: the scale's HC0 is var / n (see above)
    assert rel(m.std_errors_["scale"], x.std() / np.sqrt(x.size)) < 1e-10


def test_mestimator_with_a_huber_loss_at_hubers_scale_is_huber_location_hc0():
    """Huber location's HC0 holds its MAD scale fixed: so does this user loss."""
    x = michelson()
    h = Huber(cov_type="HC0").fit(x)
    s, c = h.scale_, 1.345

    def loss(params, x):
        return huber((x - params["location"]) / s, c=c)

    m = MEstimator(loss=loss, params0={"location": float(np.median(x))}).fit(x)
    assert m.cov_type_ == "HC0"
    assert rel(m.params_["location"], h.params_["location"]) < 1e-12
    assert rel(m.std_errors_["location"], h.std_errors_["location"]) < 1e-9
    # and the closed form s^2 sum psi^2 / (sum psi')^2
    z = (x - h.params_["location"]) / s
    closed = s * np.sqrt(np.sum(np.clip(z, -c, c) ** 2)) / np.sum(np.abs(z) <= c)
    assert rel(h.std_errors_["location"], closed) < 1e-12


# --------------------------------------------------------------------------- statsmodels


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster", "HAC"])
def test_poisson_mean_matches_statsmodels_poisson(cov_type):
    """statsmodels fits b = log(mean); at the optimum the covariance of the mean is
    exp(b)^2 times b's exactly (delta method with a vanishing gradient)."""
    data = load_dataset("randhie")
    groups = data["disea"].to_numpy() if cov_type == "cluster" else None
    m = fit("poisson", data["mdvis"].to_numpy(float), cov_type, groups=groups)
    ref = REFERENCE["poisson_randhie"]["fits"][cov_type]
    b = ref["params"][0]
    assert rel(m.params_["mean"], np.exp(b)) < 1e-12
    assert rel(m.std_errors_["mean"], np.exp(b) * ref["bse"][0]) < SE_RTOL
    assert m.summary()["statistic"].notna().all() and m.df_resid_ is None


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster", "HAC"])
def test_normal_and_exponential_match_statsmodels_generic_likelihood(cov_type):
    x = michelson()
    groups = experiments() if cov_type == "cluster" else None
    m = fit("normal", x, cov_type, groups=groups)
    ref = REFERENCE["normal_michelson"]["fits"][cov_type]
    assert rel(m.params_.to_numpy(), ref["params"]) < 1e-12
    assert rel(m.std_errors_.to_numpy(), ref["bse"]) < SE_RTOL
    np.testing.assert_allclose(
        m.cov_.to_numpy(), ref["cov"], rtol=1e-6, atol=1e-12 * ref["cov"][0][0]
    )

    y = strikes()
    halves = np.repeat([0, 1], [31, 31]) if cov_type == "cluster" else None
    e = fit("exponential", y, cov_type, groups=halves)
    ref = REFERENCE["exponential_strikes"]["fits"][cov_type]
    assert rel(e.params_["scale"], ref["params"][0]) < 1e-12
    assert rel(e.std_errors_["scale"], ref["bse"][0]) < SE_RTOL


def test_worst_relative_se_difference_against_statsmodels_is_small():
    """The number the report quotes: the worst relative SE difference over all references."""
    worst = 0.0
    data = load_dataset("randhie")
    for cov_type in ("nonrobust", "HC0", "cluster", "HAC"):
        groups = data["disea"].to_numpy() if cov_type == "cluster" else None
        p = fit("poisson", data["mdvis"].to_numpy(float), cov_type, groups=groups)
        ref = REFERENCE["poisson_randhie"]["fits"][cov_type]
        worst = max(worst, rel(p.std_errors_["mean"], np.exp(ref["params"][0]) * ref["bse"][0]))
        groups = experiments() if cov_type == "cluster" else None
        n = fit("normal", michelson(), cov_type, groups=groups)
        worst = max(
            worst, rel(n.std_errors_, REFERENCE["normal_michelson"]["fits"][cov_type]["bse"])
        )
    assert worst < 1e-9, worst


# --------------------------------------------------------------------------- t statistics


def test_use_t_gives_t_with_n_minus_k_and_cluster_g_minus_1():
    x = michelson()
    z = fit("normal", x, "HC0")
    t = fit("normal", x, "HC0", use_t=True)
    assert z._df_inference is None and t._df_inference == 98
    width = lambda m: (m.conf_int()["ci_upper"] - m.conf_int()["ci_lower"]).to_numpy()  # noqa: E731
    ratio = stats.t.ppf(0.975, 98) / stats.norm.ppf(0.975)
    assert rel(width(t), width(z) * ratio) < 1e-12
    c = fit("normal", x, "cluster", groups=experiments(), use_t=True)
    assert c._df_inference == 4


# --------------------------------------------------------------------------- bad input


def flat(params, x):
    """Only a + b is identified: the Hessian has a direction of no curvature."""
    return (x - params["a"] - params["b"]) ** 2


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_singular_hessian_gives_nan_standard_errors_the_reason_and_one_warning(cov_type):
    x = michelson()
    groups = experiments() if cov_type == "cluster" else None
    estimator = MEstimator(
        loss=flat, params0={"a": 0.0, "b": 0.0}, solver="lbfgs", cov_type=cov_type
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = estimator.fit(x, groups=groups)
    inference = [w for w in caught if issubclass(w.category, InferenceWarning)]
    assert len(inference) == 1 and "singular" in str(inference[0].message)
    assert m.std_errors_.isna().all() and m.cov_.isna().all().all()
    assert "singular" in m.cov_note_
    assert rel(m.params_["a"] + m.params_["b"], x.mean()) < 1e-10


def test_indefinite_hessian_at_a_saddle_is_reported():
    """A user's loss stopped at a saddle (start exactly there: zero gradient)."""

    def saddle(params, x):
        return (x - params["a"]) ** 2 - 0.5 * (params["b"] - x) ** 2

    with pytest.warns(InferenceWarning, match="not positive definite"):
        m = MEstimator(loss=saddle, params0={"a": 0.0, "b": 0.0}, cov_type="nonrobust").fit(
            np.linspace(-1.0, 1.0, 10)
        )
    assert m.std_errors_.isna().all() and "not positive definite" in m.cov_note_


@pytest.mark.parametrize(
    "settings, groups, error, pattern",
    [
        ({"cov_type": "HC3"}, None, SettingsError, r"valid values are \['nonrobust', 'HC0'"),
        ({"cov_type": "sandwich"}, None, SettingsError, "unknown cov_type 'sandwich'"),
        ({"cov_type": "cluster"}, None, SettingsError, "pass groups= to fit"),
        ({"cov_type": "HC0"}, np.arange(5), SettingsError, "only with cov_type='cluster'"),
        ({"cov_type": "cluster"}, [0, 0, 0, 0, 0], DataError, "at least two clusters"),
        ({"cov_type": "cluster"}, [0, 1, None, 1, 0], DataError, "1 missing cluster labels"),
        ({"cov_type": "cluster"}, [0, 1, 1], DataError, "3 labels but the data has 5"),
        ({"cov_options": {"lags": 2}}, None, SettingsError, r"unknown cov_options \['lags'\]"),
        ({"use_t": "yes"}, None, SettingsError, "use_t must be"),
    ],
)
def test_bad_inference_settings_and_labels(settings, groups, error, pattern):
    with pytest.raises(error, match=pattern):
        MaximumLikelihood("normal", **settings).fit([1.0, 2.0, 4.0, 3.0, 7.0], groups=groups)
