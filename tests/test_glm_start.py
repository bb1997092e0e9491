"""The GLM's subsample start (estimators.glm_start): same answers, fewer full-data passes.

The reference for every fit here is the same estimator started where statsmodels
starts (``start_["method"] == "default"``), computed live in the test: the
subsample start changes only where the full-data Newton iterations begin, so the
estimates, standard errors and fit statistics must agree to 1e-10 relative (both
are within 1e-8 standard errors of the same optimum; measured about 1e-13).

The thresholds are lowered (monkeypatch) so that the subsample path runs on data
of 20,000 rows and the file stays fast; the rule is the same at 1e6 rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset

import estimators.glm_start as glm_start
from estimators.errors import ConvergenceWarning
from estimators.families import FAMILIES, LINKS
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.glm_kernels import column_scale

RTOL = 1e-10


@pytest.fixture
def small_thresholds(monkeypatch):
    """Subsample starts from 10,000 rows, with 1,024 rows (stride 19 on 20,190 rows)."""
    monkeypatch.setattr(glm_start, "SUBSAMPLE_MIN_ROWS", 10_000)
    monkeypatch.setattr(glm_start, "SUBSAMPLE_ROWS", 1_024)
    monkeypatch.setattr(glm_start, "ROWS_PER_PARAMETER", 50)


def default_fit(monkeypatch, make, *args, **kwargs):
    """The same fit started where statsmodels starts (the subsample start switched off)."""
    with monkeypatch.context() as m:
        m.setattr(glm_start, "SUBSAMPLE_MIN_ROWS", 10**12)
        fitted = make().fit(*args, **kwargs)
    assert fitted.start_ == {"method": "default", "rows": 0, "n_iter": 0}
    return fitted


@pytest.fixture(scope="module")
def randhie():
    data = load_dataset("randhie")
    return data.drop(columns="mdvis"), data["mdvis"]


def _cases(randhie):
    X, y = randhie
    n = len(y)
    rng = np.random.default_rng(7)
    weights = rng.integers(1, 4, size=n).astype(float)
    exposure = rng.uniform(0.5, 2.0, size=n)
    offset = rng.normal(scale=0.2, size=n)
    frame = X.assign(mdvis=y, visits=(y > 0).astype(float), t=exposure)
    binary = (y > 0).astype(float)
    return {
        "logistic": (LogisticRegression, (X, binary), {}),
        "poisson": (PoissonRegression, (X, y), {}),
        "logistic, weights": (LogisticRegression, (X, binary), {"sample_weight": weights}),
        "poisson, weights and offset": (
            PoissonRegression,
            (X, y),
            {"sample_weight": weights, "offset": offset},
        ),
        "poisson, exposure column": (
            PoissonRegression,
            (frame.drop(columns=["mdvis", "visits"]), y),
            {"exposure": "t"},
        ),  # fmt: skip
        "logistic, formula": (
            LogisticRegression,
            (frame,),
            {"formula": "visits ~ lncoins + idp + lpi + fmde + physlm + disea + C(hlthg)"},
        ),
        "negative binomial, alpha estimated": (lambda: GLM("negative_binomial"), (X, y), {}),
    }


CASES = [
    "logistic",
    "poisson",
    "logistic, weights",
    "poisson, weights and offset",
    "poisson, exposure column",
    "logistic, formula",
    # Compiles the bordered (beta, log alpha) loop for two more shapes: about 30 s here.
    pytest.param("negative binomial, alpha estimated", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("case", CASES)
def test_subsample_start_gives_the_default_start_answer(
    randhie, small_thresholds, monkeypatch, case
):
    make, args, kwargs = _cases(randhie)[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = make().fit(*args, **kwargs)
    plain = default_fit(monkeypatch, make, *args, **kwargs)
    assert fast.start_["method"] == "subsample"
    assert fast.start_["rows"] == len(range(0, len(randhie[1]), 19))
    assert fast.start_["n_iter"] > 0
    assert fast.converged_ and plain.converged_
    np.testing.assert_allclose(fast.params_, plain.params_, rtol=RTOL)
    np.testing.assert_allclose(fast.std_errors_, plain.std_errors_, rtol=RTOL)
    for name in ("llf_", "llnull_", "deviance_", "pearson_chi2_", "aic_", "bic_"):
        np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=RTOL)
    # n_iter_ counts the full-data iterations only (the trace has one row more: the
    # start); the subsample fit's own iterations are in start_.
    assert fast.n_iter_ == len(fast.history_) - 1
    assert fast.n_iter_ <= plain.n_iter_


def test_fewer_full_data_iterations_on_a_large_sample(monkeypatch):
    """The point of the start: fewer passes over the full data (here 100,000 rows).

    The rule's subsample size (at least 2^15 rows) here with 12,500 rows (stride 8);
    only the threshold is lowered.
    """
    monkeypatch.setattr(glm_start, "SUBSAMPLE_MIN_ROWS", 50_000)
    monkeypatch.setattr(glm_start, "SUBSAMPLE_ROWS", 12_500)
    rng = np.random.default_rng(0)
    n, p = 100_000, 10
    X = rng.standard_normal((n, p))
    eta = 0.2 + X @ np.linspace(-0.3, 0.3, p)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    fast = LogisticRegression().fit(X, y)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(glm_start, "SUBSAMPLE_MIN_ROWS", 10**12)
        plain = LogisticRegression().fit(X, y)
    assert fast.start_["method"] == "subsample" and plain.start_["method"] == "default"
    assert fast.n_iter_ < plain.n_iter_
    np.testing.assert_allclose(fast.params_, plain.params_, rtol=RTOL)


def test_a_separated_subsample_falls_back_to_the_default_start(small_thresholds, monkeypatch):
    """The subsample may be separated where the full data are not: then the usual start.

    Column z is 1 on 40 rows; those in the subsample (every 19th row) all have y = 1
    (a quasi-complete separation there), while in the full data z = 1 has both outcomes.
    """
    rng = np.random.default_rng(3)
    n = 20_190
    x = rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-0.3 * x))).astype(float)
    z = np.zeros(n)
    in_sample = np.arange(0, 20 * 19, 19)  # 20 rows of the subsample
    outside = in_sample + 1  # 20 rows that are not
    z[in_sample], y[in_sample] = 1.0, 1.0
    z[outside], y[outside] = 1.0, np.tile([0.0, 1.0], 10)
    X = np.column_stack([x, z])
    family, link = FAMILIES["binomial"], LINKS["logit"]
    design = np.column_stack([np.ones(n), X])
    start = glm_start.subsample_start(
        family, link, design, y, np.ones(n), np.zeros(n), True, column_scale(design),
        False, 1.0, None,
    )  # fmt: skip
    assert start is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = LogisticRegression().fit(X, y)
    assert fitted.start_["method"] == "default" and fitted.converged_
    plain = default_fit(monkeypatch, LogisticRegression, X, y)
    np.testing.assert_allclose(fitted.params_, plain.params_, rtol=0)


def test_a_subsample_fit_that_does_not_converge_falls_back(randhie, small_thresholds):
    """max_iter too small for the subsample fit: the default start, and the flag as ever."""
    X, y = randhie
    with pytest.warns(ConvergenceWarning):
        fitted = PoissonRegression(max_iter=1).fit(X, y)
    assert fitted.start_["method"] == "default"
    assert not fitted.converged_ and fitted.n_iter_ == 1


def test_the_rule_and_its_exceptions(randhie, small_thresholds):
    X, y = randhie
    # Gaussian identity: a quadratic loss, Newton is exact in one step from anywhere.
    assert GLM("gaussian").fit(X, y).start_["method"] == "default"
    # Below the threshold, and a subsample larger than a quarter of the rows: default.
    third = len(y) // 3
    assert PoissonRegression().fit(X[:third], y[:third]).start_["method"] == "default"
    assert glm_start.subsample_stride(10_000, 60) is None  # 60 x 50 rows > n / 4
    assert glm_start.subsample_stride(20_190, 10) == 19


def test_the_default_thresholds_are_documented_values():
    assert glm_start.SUBSAMPLE_MIN_ROWS == 200_000
    assert glm_start.subsample_stride(199_999, 21) is None
    assert glm_start.subsample_stride(200_000, 21) == 6
    assert glm_start.subsample_stride(1_000_000, 21) == 30  # 33,334 rows
    assert glm_start.subsample_stride(1_000_000, 1_000) == 10  # 100 rows per parameter


def test_the_start_under_missing_drop_uses_the_kept_rows(randhie, small_thresholds, monkeypatch):
    X, y = randhie
    X = X.copy()
    X.iloc[::7, 0] = np.nan
    kwargs = {"missing": "drop"}
    fast = PoissonRegression(**kwargs).fit(X, y)
    plain = default_fit(monkeypatch, lambda: PoissonRegression(**kwargs), X, y)
    assert fast.start_["method"] == "subsample" and fast.n_dropped_ == plain.n_dropped_
    np.testing.assert_allclose(fast.params_, plain.params_, rtol=RTOL)
    assert isinstance(fast.mu_, pd.Series)


# --------------------------------------------------------------------------- shortcuts


@pytest.mark.parametrize("kind", ["small counts", "large counts", "non-integer"])
def test_shared_poisson_terms_give_the_families_statistics_to_the_last_bit(kind):
    """goodness_of_fit / null_loglike / saturated_shift with the shared cache = the
    families' loglike_obs, deviance_obs and saturated_nll (the plain path), exactly;
    counts go through the table of xlogy(y, y) and gammaln(y + 1), other y do not."""
    from estimators.families import saturated_nll
    from estimators.glm_inference import goodness_of_fit, null_loglike

    poisson = FAMILIES["poisson"]
    rng = np.random.default_rng(1)
    n = 50_000
    y = {
        "small counts": rng.poisson(3.0, n).astype(float),
        "large counts": rng.poisson(70_000.0, n).astype(float),  # beyond the table
        "non-integer": rng.gamma(2.0, 1.5, n),  # PPML responses
    }[kind]
    mu, w = rng.uniform(0.5, 6.0, n), rng.uniform(0.5, 2.0, n)
    wn = w / w.sum()
    cache: dict = {}
    shift = glm_start.saturated_shift(poisson, y, wn, None, cache)
    stats = goodness_of_fit(poisson, LINKS["log"], y, w, mu, None, 3, cache)
    mu_null = np.full(n, float(w @ y / w.sum()))
    llnull = null_loglike(poisson, y, w, mu_null, 1.0, None, cache)
    assert set(cache) == {"xlogy(y, y)", "gammaln(y + 1)"}
    assert shift == float(wn @ saturated_nll(poisson, y, None))
    assert stats["llf_"] == float(np.sum(w * poisson.loglike_obs(y, mu, 1.0, None)))
    assert stats["deviance_"] == float(np.sum(w * poisson.deviance_obs(y, mu, None)))
    assert llnull == float(np.sum(w * poisson.loglike_obs(y, mu_null, 1.0, None)))
    binary = (y > 2).astype(float)
    binomial = FAMILIES["binomial"]
    assert glm_start.saturated_shift(binomial, binary, wn, None) == 0.0
    assert float(wn @ saturated_nll(binomial, binary, None)) == 0.0


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_mean_near_boundary_equals_the_row_by_row_test(family):
    """The two-reduction shortcut answers as the per-row gaps do, at and around the trigger."""
    from estimators.separation import (
        SEPARATION_TRIGGER,
        _near_boundary,
        boundary_direction,
        mean_near_boundary,
    )

    fam = FAMILIES[family]
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200).astype(float)
    w = np.ones(200)
    t = SEPARATION_TRIGGER
    for gap in (0.3, 2 * t, t * (1 + 1e-9), t, t * (1 - 1e-9), 1e-12, 0.0):
        for row in (0, 1, 7):
            mu = np.full(200, 0.4)
            mu[row] = gap if y[row] == 0 or family == "poisson" else 1 - gap
            slow = bool(np.any(_near_boundary(fam, y, mu, boundary_direction(fam, y)) & (w > 0)))
            assert mean_near_boundary(fam, y, mu, w) == slow
