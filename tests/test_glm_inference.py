"""GLM inference: robust covariances, llnull / pseudo R squared, predictions with uncertainty.

Reference numbers: ``tests/reference/glm.json``, written by
``tests/reference/make_glm.py`` with statsmodels 0.15 (versions and the exact
calls are recorded in the JSON): ``GLM.fit(method="newton", tol=1e-13,
maxiter=200, cov_type=...)`` on the shipped anes96, randhie and strikes data,
and ``get_prediction(...).summary_frame()``. The identities (HC1, the sandwich
against plain autodiff, clusters of one row) need no reference.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset
from scipy import stats

from estimators.errors import DataError, InferenceWarning, SettingsError
from estimators.families import FAMILIES, LINKS
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.inference import m_estimation_sandwich

REFERENCE = json.loads((Path(__file__).parent / "reference" / "glm.json").read_text())
CASES = REFERENCE["cases"]
SE_RTOL = 1e-6  # the bound; measured worst: about 4e-13 (see test output)
MODELS = {
    "logit_anes96": ("binomial", "logit"),
    "poisson_randhie": ("poisson", "log"),
    "gamma_strikes": ("gamma", "log"),
    "poisson_randhie_exposure": ("poisson", "log"),
}


def case_data(name):
    case = CASES[name]
    data = load_dataset(case["dataset"])
    rows = np.arange(len(data))
    groups = data["educ"].to_numpy() if case["groups"] == "column educ" else rows % 7
    exposure = 1.0 + rows % 4 if "exposure" in case else None
    assert case["groups"] in ("column educ", "row number mod 7")
    return data[case["columns"]], data[case["response"]], groups, exposure


@pytest.fixture(scope="module")
def fits():
    """Every reference model under every covariance type, fitted once."""
    out = {}
    for name, (family, link) in MODELS.items():
        X, y, groups, exposure = case_data(name)
        for cov_type in ("nonrobust", "HC0", "cluster", "HAC"):
            kw = {"groups": groups} if cov_type == "cluster" else {}
            options = {"maxlags": 2} if cov_type == "HAC" else None
            model = GLM(family, link, cov_type=cov_type, cov_options=options)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                out[name, cov_type] = model.fit(X, y, exposure=exposure, **kw)
    return out


def relative_difference(ours, ref):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    return float(np.max(np.abs(ours / ref - 1)))


# --------------------------------------------------------------------------- statsmodels


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster", "HAC"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_standard_errors_match_statsmodels(fits, name, cov_type):
    fitted, case = fits[name, cov_type], CASES[name]
    np.testing.assert_allclose(fitted.params_, case["params"], rtol=1e-9)
    worst = relative_difference(fitted.std_errors_, case["bse"][cov_type])
    print(f"{name} {cov_type}: worst relative SE difference {worst:.2e}")
    assert worst <= SE_RTOL
    # z statistics by default (statsmodels' GLM use_t=False): the p-values agree.
    np.testing.assert_allclose(
        fitted.summary()["p_value"], case["pvalues"][cov_type], rtol=1e-6, atol=1e-300
    )
    assert fitted._df_inference is None and fitted.cov_type_ == cov_type
    if cov_type == "cluster":
        assert fitted.n_groups_ == 7  # educ has 7 levels; the others are row mod 7
    if cov_type == "HAC":
        assert fitted.hac_maxlags_ == 2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_llnull_and_mcfadden_pseudo_rsquared_match_statsmodels(fits, name):
    fitted, case = fits[name, "nonrobust"], CASES[name]
    np.testing.assert_allclose(fitted.llf_, case["llf"], rtol=1e-11)
    np.testing.assert_allclose(fitted.llnull_, case["llnull"], rtol=1e-10)
    np.testing.assert_allclose(fitted.pseudo_rsquared_, case["pseudo_rsquared_mcf"], rtol=1e-9)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_logit_prediction_frame_matches_statsmodels(fits, cov_type):
    fitted, ref = fits["logit_anes96", cov_type], CASES["logit_anes96"]["prediction"]
    X, *_ = case_data("logit_anes96")
    frame = fitted.predict_frame(X.iloc[ref["rows"]])
    assert list(frame.index) == ref["rows"]
    for column, values in ref[cov_type].items():
        np.testing.assert_allclose(frame[column], values, rtol=1e-8, err_msg=column)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_poisson_prediction_frame_with_exposure_matches_statsmodels(cov_type):
    X, y, _, exposure = case_data("poisson_randhie_exposure")
    fitted = PoissonRegression(cov_type=cov_type).fit(X, y, exposure=exposure)
    ref = CASES["poisson_randhie_exposure"]["prediction"]
    frame = fitted.predict_frame(X.iloc[ref["rows"]], exposure=ref["exposure"])
    for column, values in ref[cov_type].items():
        np.testing.assert_allclose(frame[column], values, rtol=1e-8, err_msg=column)
    np.testing.assert_allclose(
        frame["mean"], fitted.predict(X.iloc[ref["rows"]], exposure=ref["exposure"]), rtol=1e-14
    )


# --------------------------------------------------------------------------- identities


def test_hc1_is_hc0_times_n_over_n_minus_k(fits):
    """statsmodels' GLM returns HC0 for cov_type="HC1"; ours applies n/(n-k), as documented."""
    X, y, _, _ = case_data("logit_anes96")
    hc1 = LogisticRegression(cov_type="HC1").fit(X, y)
    hc0 = fits["logit_anes96", "HC0"]
    n, k = len(y), X.shape[1] + 1
    np.testing.assert_allclose(hc1.cov_, hc0.cov_ * n / (n - k), rtol=1e-13)


def test_sandwich_equals_plain_autodiff_of_the_row_losses():
    """Scores w l'(eta) x and the observed-Hessian bread equal jax.jacfwd / jax.hessian of
    the per-row losses (gamma, log link, frequency weights)."""
    X, y, _, _ = case_data("gamma_strikes")
    w = 1.0 + np.arange(len(y)) % 3
    fitted = GLM("gamma", "log", cov_type="HC0").fit(X, y, sample_weight=w)
    family, link = FAMILIES["gamma"], LINKS["log"]
    design = np.column_stack([np.ones(len(y)), X.to_numpy()])

    def row_losses(theta, design, y, w):
        nll = jax.vmap(family.nll, in_axes=(0, 0, None, None))
        return w * nll(design @ theta, y, 0.0, link)

    generic, reason = m_estimation_sandwich(
        row_losses, fitted.params_.to_numpy(), design, y.to_numpy(float), w, nobs=w.sum()
    )
    assert reason is None
    np.testing.assert_allclose(fitted._sandwich.bread, generic.bread, rtol=1e-10)
    np.testing.assert_allclose(fitted._sandwich.scores, generic.scores, rtol=1e-10, atol=1e-14)
    s = generic.scores / np.sqrt(w)[:, None]  # frequency weights: w identical rows
    np.testing.assert_allclose(fitted.cov_, generic.bread @ (s.T @ s) @ generic.bread, rtol=1e-9)


@pytest.mark.slow  # the negative binomial's kernels take long to compile
def test_sandwich_equals_plain_autodiff_of_the_row_losses_with_estimated_alpha():
    """The structured scores and bread (in beta, log alpha, mapped to alpha) equal
    jax.jacfwd / jax.hessian of the per-row negative log-likelihood in (beta, alpha)."""
    data = load_dataset("randhie").iloc[:3000]
    X, y = data[["lncoins", "idp", "lpi", "physlm"]], data["mdvis"]
    w = 1.0 + np.arange(len(y)) % 3  # frequency weights
    fitted = GLM("negative_binomial", cov_type="HC0").fit(X, y, sample_weight=w)
    family, link = FAMILIES["negative_binomial"], LINKS["log"]
    design = np.column_stack([np.ones(len(y)), X.to_numpy()])

    def row_losses(theta, design, y, w):
        eta = design @ theta[:-1]
        nll = jax.vmap(family.nll, in_axes=(0, 0, None, None))
        return w * nll(eta, y, jnp.log(theta[-1]), link)

    generic, reason = m_estimation_sandwich(
        row_losses, fitted.params_.to_numpy(), design, y.to_numpy(float), w, nobs=w.sum()
    )
    assert reason is None
    ours = fitted._sandwich
    np.testing.assert_allclose(ours.bread, generic.bread, rtol=1e-9)
    np.testing.assert_allclose(ours.scores, generic.scores, rtol=1e-9, atol=1e-12)
    # and HC0 divides the scores by sqrt(w) (frequency weights: w identical rows)
    s = generic.scores / np.sqrt(w)[:, None]
    hc0 = generic.bread @ (s.T @ s) @ generic.bread
    np.testing.assert_allclose(fitted.cov_, hc0, rtol=1e-8)


def test_frequency_weights_equal_repeated_rows_for_hc0():
    data = load_dataset("anes96").iloc[:300]
    X, y = data[["TVnews", "PID", "age"]], data["vote"]
    w = 1 + np.arange(len(y)) % 3
    weighted = LogisticRegression(cov_type="HC0").fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(len(y)), w)
    repeated = LogisticRegression(cov_type="HC0").fit(X.iloc[rows], y.iloc[rows])
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-9)
    np.testing.assert_allclose(weighted.cov_, repeated.cov_, rtol=1e-8)


def test_one_row_clusters_equal_hc1_and_two_way_clusters_run(fits):
    """Clusters of one row: G = n, so c = n/(n-1) (n-1)/(n-k) = n/(n-k): HC1."""
    X, y, _, _ = case_data("gamma_strikes")
    single = GLM("gamma", "log", cov_type="cluster").fit(X, y, groups=np.arange(len(y)))
    hc1 = GLM("gamma", "log", cov_type="HC1").fit(X, y)
    np.testing.assert_allclose(single.cov_, hc1.cov_, rtol=1e-12)
    data = load_dataset("anes96")
    two_way = LogisticRegression(cov_type="cluster").fit(
        data[["TVnews", "PID", "age"]], data["vote"], groups=data[["educ", "income"]]
    )
    assert np.all(np.isfinite(two_way.std_errors_)) and two_way.n_groups_ == 7


def test_groups_by_column_name_and_cut_to_the_rows_kept():
    """groups="educ" names a column of X (formula fits too); rows dropped for a missing
    value or a missing offset take their labels with them."""
    data = load_dataset("anes96").iloc[:400].copy()
    data.loc[[3, 10], "TVnews"] = np.nan
    offset = np.zeros(len(data))
    offset[[5, 20]] = np.nan
    model = LogisticRegression(cov_type="cluster", missing="drop")
    fitted = model.fit(data[["TVnews", "PID", "educ"]], data["vote"], offset=offset, groups="educ")
    kept = data.drop(index=[3, 10, 5, 20])
    direct = LogisticRegression(cov_type="cluster").fit(
        kept[["TVnews", "PID", "educ"]], kept["vote"], groups=kept["educ"].to_numpy()
    )
    assert fitted.nobs_ == 396
    np.testing.assert_allclose(fitted.cov_, direct.cov_, rtol=1e-10)
    formula = LogisticRegression(cov_type="cluster").fit(
        kept, formula="vote ~ TVnews + PID + educ", groups="educ"
    )
    np.testing.assert_allclose(formula.cov_, direct.cov_, rtol=1e-10)


def test_use_t_gives_t_statistics_with_n_minus_k_degrees_of_freedom(fits):
    X, y, _, _ = case_data("gamma_strikes")
    fitted = GLM("gamma", "log", use_t=True).fit(X, y)
    z = fits["gamma_strikes", "nonrobust"].summary()
    table = fitted.summary()
    df = len(y) - 2
    assert fitted._df_inference == df
    np.testing.assert_allclose(table["statistic"], z["statistic"], rtol=1e-14)
    np.testing.assert_allclose(table["p_value"], 2 * stats.t.sf(np.abs(z["statistic"]), df))


def test_nonrobust_keeps_the_expected_information_but_robust_uses_the_observed():
    """information="expected" changes the model-based covariance of a probit, not the
    sandwich, whose bread is the observed Hessian (statsmodels)."""
    data = load_dataset("anes96")
    X, y = data[["TVnews", "PID", "age"]], data["vote"]
    observed = GLM("binomial", "probit", cov_type="HC0").fit(X, y)
    expected = GLM("binomial", "probit", cov_type="HC0", information="expected").fit(X, y)
    np.testing.assert_allclose(observed.cov_, expected.cov_, rtol=1e-12)
    plain = GLM("binomial", "probit", information="expected").fit(X, y)
    assert not np.allclose(plain.cov_, GLM("binomial", "probit").fit(X, y).cov_, rtol=1e-4)


@pytest.mark.parametrize(
    "family", ["poisson", pytest.param("negative_binomial", marks=pytest.mark.slow)]
)
def test_llnull_is_the_llf_of_the_intercept_only_fit(family):
    """llnull_ is the llf of the intercept-only model, fitted with the same offset (and
    its own alpha for the negative binomial), with and without an exposure."""
    data = load_dataset("randhie").iloc[:2000]
    X, y = data[["lncoins", "idp"]], data["mdvis"]
    for exposure in (1.0 + np.arange(len(y)) % 4, None):
        full = GLM(family).fit(X, y, exposure=exposure)
        null = GLM(family).fit(np.empty((len(y), 0)), y, exposure=exposure)
        np.testing.assert_allclose(full.llnull_, null.llf_, rtol=1e-12)
        assert full.llnull_ < full.llf_ and 0 < full.pseudo_rsquared_ < 1


# --------------------------------------------------------------------------- bad input


def test_unknown_or_least_squares_only_cov_type_lists_the_valid_ones():
    X, y, _, _ = case_data("gamma_strikes")
    for cov_type in ("HC3", "robust"):
        with pytest.raises(SettingsError, match=r"valid values are \['nonrobust', 'HC0'"):
            GLM("gamma", cov_type=cov_type).fit(X, y)
    with pytest.raises(SettingsError, match="needs cluster labels"):
        GLM("gamma", "log", cov_type="cluster").fit(X, y)
    with pytest.raises(SettingsError, match="maxlags"):
        GLM("gamma", "log", cov_type="HAC", cov_options={"maxlags": -1}).fit(X, y)


def test_bad_cluster_labels_are_data_errors():
    X, y, _, _ = case_data("gamma_strikes")
    labels = (np.arange(len(y)) % 3).astype(float)
    labels[[1, 4]] = np.nan
    with pytest.raises(DataError, match="2 missing cluster labels"):
        GLM("gamma", "log", cov_type="cluster").fit(X, y, groups=labels)
    with pytest.raises(DataError, match="at least two clusters"):
        GLM("gamma", "log", cov_type="cluster").fit(X, y, groups=np.zeros(len(y)))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_singular_information_gives_nan_with_the_reason_and_one_warning(cov_type):
    """A column that is non-zero only on rows of weight 0 carries no information: the
    design is not collinear, but the Hessian is singular."""
    data = load_dataset("anes96").iloc[:200]
    X = data[["TVnews", "PID"]].assign(ghost=0.0)
    X.iloc[:5, 2] = 1.0
    w = np.ones(len(X))
    w[:5] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = LogisticRegression(cov_type=cov_type).fit(X, data["vote"], sample_weight=w)
    inference = [c for c in caught if issubclass(c.category, InferenceWarning)]
    assert len(inference) == 1 and "singular" in str(inference[0].message)
    assert np.all(np.isnan(fitted.std_errors_)) and "singular" in fitted.cov_note_
    assert np.all(np.isfinite(fitted.params_))


def test_settings_are_keyword_only_and_cloned():
    from sklearn.base import clone

    model = LogisticRegression(cov_type="HAC", use_t=True, cov_options={"maxlags": 3})
    assert clone(model).get_params() == model.get_params()
    assert {"cov_type", "use_t", "cov_options"} <= set(GLM().get_params())
    with pytest.raises(TypeError):
        GLM("poisson", "log", True, None, "raise", 1e-8, None, "observed", "HC0")  # noqa
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [1.0, 0.0, 2.0, 4.0, 7.0]})
    fitted = PoissonRegression(cov_type="HAC", cov_options={"maxlags": 1}).fit(
        frame[["x"]], frame["y"]
    )
    assert fitted.hac_maxlags_ == 1 and np.all(np.isfinite(fitted.std_errors_))
