"""estimators.covariance: each type on problems with hand-derived answers, and bad input.

References are closed forms derived in the comments (the sample mean, whose
sandwich ingredients are scalars) and identities between the types (HAC with
no lags is HC0, clustering on single rows is HC1, ...), checked on a small
least-squares problem whose sandwich is built by hand from its definition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimators.covariance import (
    COV_TYPES,
    Sandwich,
    cluster_codes,
    cluster_cov,
    default_maxlags,
    hac_cov,
    hc_cov,
    robust_cov,
    sandwich_cov,
    two_way_cluster_cov,
)
from estimators.errors import DataError, SettingsError
from estimators.regression import LinearRegression

# --------------------------------------------------------------------------- problems


def mean_sandwich(x: np.ndarray) -> tuple[Sandwich, np.ndarray]:
    r"""The sample mean as an M-estimator: :math:`\ell_i = (x_i - m)^2`.

    :math:`A = \sum_i \ell_i'' = 2n`, :math:`s_i = -2 r_i` with :math:`r_i = x_i - \bar x`,
    and every leverage is :math:`1/n`. Returns the sandwich and the residuals.
    """
    n = len(x)
    r = x - x.mean()
    bread = np.array([[1.0 / (2.0 * n)]])
    return Sandwich(bread, (-2.0 * r)[:, None], float(n), leverage=np.full(n, 1.0 / n)), r


def least_squares_sandwich(X, y, f=None) -> Sandwich:
    r"""Least squares with frequency weights :math:`f`, from the definitions.

    :math:`\ell_i = f_i (y_i - x_i^\top\beta)^2`: bread :math:`(2 X^\top F X)^{-1}`,
    scores :math:`-2 f_i r_i x_i`, leverages :math:`f_i x_i^\top (X^\top F X)^{-1} x_i`.
    """
    f = np.ones(len(y)) if f is None else np.asarray(f, dtype=float)
    M = X.T @ (f[:, None] * X)
    beta = np.linalg.solve(M, X.T @ (f * y))
    r = y - X @ beta
    leverage = f * np.einsum("ij,jk,ik->i", X, np.linalg.inv(M), X)
    frequency = None if np.all(f == 1.0) else f
    return Sandwich(
        np.linalg.inv(2.0 * M), (-2.0 * f * r)[:, None] * X, float(f.sum()), frequency, leverage
    )


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    n = 30
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(size=n)])
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=n) * (1.0 + X[:, 2])
    return X, y


# --------------------------------------------------------------------------- closed forms


def test_hc_types_of_the_sample_mean_are_the_textbook_variances():
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0])
    n = len(x)
    sandwich, r = mean_sandwich(x)
    ss = float(np.sum(r**2))
    # z_i = A^{-1} s_i = -r_i / n, so HC0 = sum r_i^2 / n^2 = (n - 1) s^2 / n^2.
    assert hc_cov(sandwich, "HC0")[0, 0] == pytest.approx(ss / n**2, rel=1e-14)
    # HC1 multiplies by n / (n - p), p = 1: the usual s^2 / n.
    assert hc_cov(sandwich, "HC1")[0, 0] == pytest.approx(np.var(x, ddof=1) / n, rel=1e-14)
    # HC2 divides each r_i^2 by 1 - h_i = (n - 1) / n: again s^2 / n.
    assert hc_cov(sandwich, "HC2")[0, 0] == pytest.approx(np.var(x, ddof=1) / n, rel=1e-14)
    # HC3 by (1 - h_i)^2: n / (n - 1) s^2 / n = ss / (n (n - 1)) * n / (n - 1).
    hc3 = ss / (n - 1) ** 2
    assert hc_cov(sandwich, "HC3")[0, 0] == pytest.approx(hc3, rel=1e-14)


def test_cluster_covariance_of_the_sample_mean():
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0])
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    n, G = len(x), 3
    sandwich, r = mean_sandwich(x)
    # z_g = -sum_{i in g} r_i / n; correction G/(G-1) (n-1)/(n-p) with p = 1.
    sums = np.array([r[labels == g].sum() for g in range(G)])
    expected = G / (G - 1) * (n - 1) / (n - 1) * np.sum(sums**2) / n**2
    cov, n_groups = cluster_cov(sandwich, labels)
    assert n_groups == G
    assert cov[0, 0] == pytest.approx(expected, rel=1e-14)


def test_newey_west_covariance_of_the_sample_mean():
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0, 6.0])
    n = len(x)
    sandwich, r = mean_sandwich(x)
    gamma = lambda j: float(np.sum(r[j:] * r[: n - j]))  # noqa: E731
    # Bartlett weights 1 - j / (L + 1): L = 1 gives 1/2, L = 2 gives 2/3 and 1/3.
    one = (gamma(0) + 2 * 0.5 * gamma(1)) / n**2
    two = (gamma(0) + 2 * (2 / 3) * gamma(1) + 2 * (1 / 3) * gamma(2)) / n**2
    assert hac_cov(sandwich, 1)[0, 0] == pytest.approx(one, rel=1e-14)
    assert hac_cov(sandwich, 2)[0, 0] == pytest.approx(two, rel=1e-14)


@pytest.mark.parametrize(("n", "lags"), [(16, 2), (21, 2), (100, 4), (944, 6), (10_000, 11)])
def test_default_maxlags_is_newey_west_rule(n, lags):
    assert default_maxlags(n) == lags == int(np.floor(4 * (n / 100) ** (2 / 9)))


# --------------------------------------------------------------------------- identities


def test_hac_with_no_lags_is_hc0(problem):
    sandwich = least_squares_sandwich(*problem)
    np.testing.assert_allclose(hac_cov(sandwich, 0), hc_cov(sandwich, "HC0"), rtol=1e-13)


def test_hac_adds_lags_to_hc0(problem):
    """Positive serial correlation of the scores changes the covariance: not a no-op."""
    sandwich = least_squares_sandwich(*problem)
    assert not np.allclose(hac_cov(sandwich, 3), hc_cov(sandwich, "HC0"), rtol=1e-6)


def test_one_row_per_cluster_is_hc0_times_the_cluster_correction(problem):
    X, y = problem
    n, p = X.shape
    sandwich = least_squares_sandwich(X, y)
    cov, n_groups = cluster_cov(sandwich, np.arange(n))
    correction = n / (n - 1) * (n - 1) / (n - p)  # G/(G-1) (N-1)/(N-p), G = N
    assert n_groups == n
    np.testing.assert_allclose(cov, correction * hc_cov(sandwich, "HC0"), rtol=1e-13)
    np.testing.assert_allclose(cov, hc_cov(sandwich, "HC1"), rtol=1e-13)  # = N / (N - p)


def test_two_way_with_nested_labels_is_one_way_on_the_coarser(problem):
    """Second label constant within each first label: the pairs are the first labels,
    V_12 = V_1, and V_1 + V_2 - V_12 = V_2."""
    X, y = problem
    sandwich = least_squares_sandwich(X, y)
    first = np.arange(len(y)) // 3  # 10 clusters
    second = first // 4  # 3 clusters, each a union of first clusters
    cov, n_groups = two_way_cluster_cov(sandwich, first, second)
    one_way, g2 = cluster_cov(sandwich, second)
    assert n_groups == g2 == 3
    np.testing.assert_allclose(cov, one_way, rtol=1e-12)


def test_two_way_is_the_inclusion_exclusion_of_one_way_terms(problem):
    X, y = problem
    sandwich = least_squares_sandwich(X, y)
    first, second = np.arange(len(y)) % 5, np.arange(len(y)) % 3  # crossed: 15 pairs
    cov, n_groups = two_way_cluster_cov(sandwich, first, second)
    v1, _ = cluster_cov(sandwich, first)
    v2, _ = cluster_cov(sandwich, second)
    v12, _ = cluster_cov(sandwich, first * 3 + second)
    assert n_groups == 3
    np.testing.assert_allclose(cov, v1 + v2 - v12, rtol=1e-12)


@pytest.mark.parametrize("kind", ["HC0", "HC1", "HC2", "HC3", "cluster", "HAC0"])
def test_frequency_weight_two_is_the_row_duplicated(kind, problem):
    """A row of frequency weight 2 stands for two identical rows (statsmodels' freq_weights)."""
    X, y = problem
    f = np.ones(len(y))
    f[[3, 7, 20]] = 2.0
    weighted = least_squares_sandwich(X, y, f)
    rows = np.repeat(np.arange(len(y)), f.astype(int))
    duplicated = least_squares_sandwich(X[rows], y[rows])
    assert weighted.nobs == duplicated.nobs == len(rows)
    if kind == "cluster":
        labels = np.arange(len(y)) // 4  # a duplicate stays in its row's cluster
        got, expected = cluster_cov(weighted, labels)[0], cluster_cov(duplicated, labels[rows])[0]
    elif kind == "HAC0":
        got, expected = hac_cov(weighted, 0), hac_cov(duplicated, 0)
    elif kind in ("HC2", "HC3"):
        # The leverage of a duplicated row is shared by its copies (h / f each), so
        # HC2/HC3 treat the weighted row as one observation of leverage h: they differ.
        got, expected = hc_cov(weighted, kind), hc_cov(duplicated, kind)
        assert not np.allclose(got, expected, rtol=1e-6)
        return
    else:
        got, expected = hc_cov(weighted, kind), hc_cov(duplicated, kind)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_bread_is_applied_before_the_meat_is_summed(problem):
    """Same value as A^{-1} B A^{-1} on a well-conditioned problem (accuracy: Longley test)."""
    sandwich = least_squares_sandwich(*problem)
    meat = sandwich.scores.T @ sandwich.scores
    np.testing.assert_allclose(
        hc_cov(sandwich, "HC0"), sandwich_cov(sandwich.bread, meat), rtol=1e-13
    )


def test_scores_given_as_a_function_are_formed_once_and_only_when_needed(problem):
    X, y = problem
    full = least_squares_sandwich(X, y)
    calls = []

    def scores():
        calls.append(1)
        return full.scores

    lazy = Sandwich(full.bread, scores, full.nobs, leverage=lambda: full.leverage)
    assert calls == []
    np.testing.assert_array_equal(hc_cov(lazy, "HC3"), hc_cov(full, "HC3"))
    hc_cov(lazy, "HC0")
    assert calls == [1]
    keep = np.array([True, False, True])
    part = lazy.with_bread_columns(keep)
    np.testing.assert_array_equal(part.scores, full.scores[:, keep])
    np.testing.assert_array_equal(part.bread, full.bread[np.ix_(keep, keep)])
    np.testing.assert_array_equal(part.leverage, full.leverage)


# --------------------------------------------------------------------------- bad input


def test_missing_cluster_labels_are_counted():
    labels = pd.Series(["a", "b", None, "a", np.nan])
    with pytest.raises(DataError, match="groups has 2 missing cluster labels"):
        cluster_codes(labels, 5)


def test_a_single_cluster_is_refused():
    with pytest.raises(DataError, match="1 distinct cluster label.*at least two clusters"):
        cluster_codes(np.zeros(5), 5)


def test_labels_of_the_wrong_length_are_refused():
    with pytest.raises(DataError, match="groups has 4 labels but the data has 5 rows"):
        cluster_codes([1, 2, 1, 2], 5)
    with pytest.raises(DataError, match=r"groups\[1\] has 3 labels but the data has 4 rows"):
        cluster_codes(([1, 2, 1, 2], [1, 2, 1]), 4)


def test_three_label_columns_are_refused():
    with pytest.raises(DataError, match="groups has 3 columns; cluster by one or two"):
        cluster_codes(np.zeros((4, 3)), 4)


def test_label_forms_give_the_same_codes():
    first, second = np.array(["x", "y", "x", "z"]), np.array([1, 1, 2, 2])
    as_pair = cluster_codes((first, second), 4)
    as_frame = cluster_codes(pd.DataFrame({"a": first, "b": second}), 4)
    as_array = cluster_codes(np.column_stack([first, second]), 4)
    for codes in (as_frame, as_array):
        assert len(codes) == 2
        for a, b in zip(codes, as_pair, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(as_pair[0], [0, 1, 0, 2])


def test_robust_cov_refuses_unknown_types_and_missing_groups(problem):
    sandwich = least_squares_sandwich(*problem)
    with pytest.raises(SettingsError, match=r"unknown cov_type 'HC4'; valid values are \["):
        robust_cov("HC4", sandwich, groups=None, maxlags=None)
    with pytest.raises(SettingsError, match="needs cluster labels: pass groups= to fit"):
        robust_cov("cluster", sandwich, groups=None, maxlags=None)


@pytest.mark.parametrize("kind", ["HC2", "HC3"])
def test_hc2_hc3_need_leverages(kind, problem):
    full = least_squares_sandwich(*problem)
    sandwich = Sandwich(full.bread, full.scores, full.nobs)
    with pytest.raises(SettingsError, match=f"cov_type='{kind}' needs leverages.*least squares"):
        hc_cov(sandwich, kind)


def test_robust_cov_reports_what_it_used(problem):
    sandwich = least_squares_sandwich(*problem)
    hac = robust_cov("HAC", sandwich, groups=None, maxlags=None)
    assert hac.maxlags == default_maxlags(len(problem[1])) and hac.n_groups is None
    labels = [np.arange(len(problem[1])) % 4]
    cluster = robust_cov("cluster", sandwich, groups=labels, maxlags=None)
    assert cluster.n_groups == 4 and cluster.cov_type == "cluster"


# --------------------------------------------------------------------------- settings at fit


@pytest.fixture(scope="module")
def frame(problem):
    X, y = problem
    return pd.DataFrame({"x1": X[:, 1], "x2": X[:, 2], "y": y, "g": np.arange(len(y)) % 5})


def test_unknown_cov_type_lists_the_valid_ones(frame):
    with pytest.raises(SettingsError, match="unknown cov_type 'robust'") as info:
        LinearRegression(cov_type="robust").fit(frame[["x1", "x2"]], frame["y"])
    for name in COV_TYPES:
        assert repr(name) in str(info.value)


def test_groups_need_cov_type_cluster_and_cluster_needs_groups(frame):
    X, y = frame[["x1", "x2"]], frame["y"]
    with pytest.raises(SettingsError, match="groups= is used only with cov_type='cluster'"):
        LinearRegression(cov_type="HC1").fit(X, y, groups=frame["g"])
    with pytest.raises(SettingsError, match="needs cluster labels: pass groups= to fit"):
        LinearRegression(cov_type="cluster").fit(X, y)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ([("maxlags", 2)], "cov_options must be None or a dict, got list"),
        ({"lags": 2}, r"unknown cov_options \['lags'\] for LinearRegression; valid keys"),
        ({"maxlags": -1}, r"cov_options\['maxlags'\] must be an integer >= 0, got -1"),
        ({"maxlags": 2.5}, r"cov_options\['maxlags'\] must be an integer >= 0, got 2.5"),
        ({"maxlags": True}, r"cov_options\['maxlags'\] must be an integer >= 0, got True"),
    ],
)
def test_bad_cov_options(options, match, frame):
    with pytest.raises(SettingsError, match=match):
        LinearRegression(cov_type="HAC", cov_options=options).fit(frame[["x1", "x2"]], frame["y"])


def test_bad_use_t(frame):
    with pytest.raises(SettingsError, match="use_t must be None, True or False, got 'yes'"):
        LinearRegression(use_t="yes").fit(frame[["x1", "x2"]], frame["y"])


def test_bad_cluster_labels_at_fit(frame):
    X, y = frame[["x1", "x2"]], frame["y"]
    model = LinearRegression(cov_type="cluster")
    labels = frame["g"].astype(float).copy()
    labels.iloc[[2, 5, 9]] = np.nan
    with pytest.raises(DataError, match="3 missing cluster labels"):
        model.fit(X, y, groups=labels)
    with pytest.raises(DataError, match="1 distinct cluster label"):
        model.fit(X, y, groups=np.ones(len(y)))
    with pytest.raises(DataError, match="groups has 29 labels but the data has 30 rows"):
        model.fit(X, y, groups=frame["g"].iloc[1:].to_numpy())
    with pytest.raises(DataError, match="groups has 29 rows but the data has 30"):
        model.fit(frame, formula="y ~ x1 + x2", groups=frame["g"].iloc[1:].to_numpy())
    with pytest.raises(DataError, match="is not a column of the data"):
        model.fit(frame, formula="y ~ x1 + x2", groups="firm")
    with pytest.raises(SettingsError, match="names a column, but X is a ndarray"):
        model.fit(X.to_numpy(), y.to_numpy(), groups="g")


def test_cluster_column_named_without_formula_stays_a_regressor(frame):
    """groups="g" on a DataFrame X looks the labels up; X stays the regressors as given."""
    X = frame[["x1", "x2", "g"]]
    by_name = LinearRegression(cov_type="cluster").fit(X, frame["y"], groups="g")
    by_labels = LinearRegression(cov_type="cluster").fit(X, frame["y"], groups=frame["g"])
    assert list(by_name.params_.index) == ["Intercept", "x1", "x2", "g"]
    pd.testing.assert_series_equal(by_name.std_errors_, by_labels.std_errors_)
