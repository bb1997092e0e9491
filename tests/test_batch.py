"""Tests of estimators.batch.fit_groups: every group's row equals the estimator fitted
on that group alone (the reference, computed live: LinearRegression to 1e-10,
LogisticRegression / PoissonRegression to 1e-8), failures are flagged per group,
and bad input is a clear error."""

import warnings

import numpy as np
import pandas as pd
import pytest

from estimators.batch import NOTE_FEW_ROWS, NOTE_NO_DF, NOTE_SEPARATED, NOTE_SINGULAR, fit_groups
from estimators.errors import DataError, SettingsError
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.location import Mean
from estimators.regression import LinearRegression

COLUMNS = ["estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]


def grouped_data(seed=0, n_groups=12, low=20, high=60):
    """Ragged groups (buckets 32 and 64), a categorical, an offset regressor, weights."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(low, high, n_groups)
    g = np.repeat([f"g{i:02d}" for i in range(n_groups)], sizes)
    n = len(g)
    df = pd.DataFrame(
        {
            "g": g,
            "h": np.tile([1, 2], n // 2 + 1)[:n],
            "x1": 1000.0 + rng.normal(size=n),  # a large common offset: centring matters
            "x2": rng.normal(size=n),
            "c": rng.choice(["a", "b", "c"], n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    eta = -0.3 + 0.7 * df.x2 + 0.4 * (df.x1 - 1000.0)
    df["y"] = 1.0 + 2.0 * df.x1 - df.x2 + rng.normal(size=n)
    df["b"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    df["k"] = rng.poisson(np.exp(eta)).astype(float)
    return df


def reference(estimator, sub, **fit):
    """The estimator fitted on one group alone (a DataFrame and a formula, or X and y)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "X" in fit:
            return estimator.fit(fit["X"], fit["y"]).summary()
        return estimator.fit(sub, **fit).summary()


def assert_groups_match(out, df, estimator, rtol, by="g", **fit):
    for key, sub in df.groupby(by):
        mine = out[out[by] == key].set_index("term")
        expected = reference(estimator, sub, **fit)
        assert list(mine.index) == list(expected.index)
        assert mine["converged"].all() and (mine["note"] == "").all()
        assert (mine["n_obs"] == len(sub)).all()
        for column in COLUMNS:
            np.testing.assert_allclose(mine[column], expected[column], rtol=rtol, atol=0)


def test_least_squares_equals_per_group_fits_formula():
    df = grouped_data()
    formula = "y ~ x1 + x2 + C(c)"
    out = fit_groups(LinearRegression(), df, "g", formula=formula)
    assert list(out.columns[:2]) == ["g", "term"]
    assert len(out) == 12 * 5
    assert_groups_match(out, df, LinearRegression(), 1e-10, formula=formula)


def test_weighted_least_squares_columns_equals_per_group_fits():
    df = grouped_data(seed=1)
    out = fit_groups(
        LinearRegression(), df, "g", columns=["x1", "x2"], response="y", sample_weight="w"
    )
    for key, sub in df.groupby("g"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = LinearRegression().fit(sub[["x1", "x2"]], sub["y"], sub["w"]).summary()
        mine = out[out.g == key].set_index("term")
        for column in COLUMNS:
            np.testing.assert_allclose(mine[column], expected[column], rtol=1e-10, atol=0)


@pytest.mark.parametrize(
    ("estimator", "formula"),
    [(LogisticRegression(), "b ~ x1 + x2"), (PoissonRegression(), "k ~ x1 + x2")],
)
def test_glm_equals_per_group_fits(estimator, formula):
    df = grouped_data(seed=2)
    # x1 - 1000 is exact (Sterbenz). With the offset the per-group reference, which
    # does not centre, is itself only good to about 2e-8 relative on x1's slope.
    df["x1"] = df["x1"] - 1000.0
    out = fit_groups(estimator, df, "g", formula=formula)
    # The reference at tol=1e-12 standard errors (at its default, 1e-8, it is only
    # that close to the maximiser).
    tight = type(estimator)(tol=1e-12)
    assert_groups_match(out, df, tight, 1e-8, formula=formula)


def test_glm_class_with_canonical_model_is_supported():
    df = grouped_data(seed=2)
    a = fit_groups(GLM("binomial"), df, "g", formula="b ~ x1 + x2")
    b = fit_groups(LogisticRegression(), df, "g", formula="b ~ x1 + x2")
    pd.testing.assert_frame_equal(a, b)


def test_two_keys_and_missing_keys_dropped():
    df = grouped_data(seed=3, n_groups=4, low=40, high=60)
    df.loc[df.index[:5], "h"] = np.nan
    out = fit_groups(LinearRegression(), df, ["g", "h"], columns=["x2"], response="y")
    kept = df.dropna(subset=["h"])
    assert len(out) == 2 * kept.groupby(["g", "h"]).ngroups
    for (g, h), sub in kept.groupby(["g", "h"]):
        mine = out[(out.g == g) & (out.h == h)]
        expected = reference(LinearRegression(), sub, X=sub[["x2"]], y=sub["y"])
        np.testing.assert_allclose(mine["estimate"], expected["estimate"], rtol=1e-10)


def test_failed_groups_are_flagged_and_others_unaffected():
    df = grouped_data(seed=4, n_groups=5, low=30, high=40)
    groups = sorted(df.g.unique())
    df = df[~((df.g == groups[0]) & (df.index % 40 > 1))]  # 2 rows < 3 parameters
    df = df[~((df.g == groups[1]) & (df.index % 40 > 2))]  # 3 rows = 3 parameters
    df.loc[df.g == groups[2], "x2"] = 5.0  # constant: collinear with the intercept
    out = fit_groups(LinearRegression(), df, "g", columns=["x1", "x2"], response="y")
    note = out.groupby("g")["note"].first()
    assert note[groups[0]] == NOTE_FEW_ROWS
    assert note[groups[1]] == NOTE_NO_DF
    assert note[groups[2]] == NOTE_SINGULAR
    failed = out[out.g.isin(groups[:1] + groups[2:3])]
    assert failed["estimate"].isna().all() and not failed["converged"].any()
    exact = out[out.g == groups[1]]
    assert exact["estimate"].notna().all() and exact["std_error"].isna().all()
    sub = df[df.g == groups[1]]
    expected = reference(LinearRegression(), sub, X=sub[["x1", "x2"]], y=sub["y"])
    np.testing.assert_allclose(exact["estimate"], expected["estimate"], rtol=1e-8)
    for key in groups[3:]:
        sub = df[df.g == key]
        expected = reference(LinearRegression(), sub, X=sub[["x1", "x2"]], y=sub["y"])
        np.testing.assert_allclose(out[out.g == key]["estimate"], expected["estimate"], rtol=1e-10)


def test_separated_group_is_flagged():
    df = grouped_data(seed=5, n_groups=3, low=30, high=40)
    first = df.g == df.g.min()
    df.loc[first, "b"] = (df.loc[first, "x2"] > 0).astype(float)  # separated by x2
    out = fit_groups(LogisticRegression(), df, "g", formula="b ~ x2")
    note = out.groupby("g")["note"].first()
    assert note.iloc[0] == NOTE_SEPARATED
    assert out[out.g == df.g.min()]["estimate"].isna().all()
    assert (note.iloc[1:] == "").all()


def test_bad_input_is_a_clear_error():
    df = grouped_data(n_groups=2)
    with pytest.raises(DataError, match=r"by='gg'.*did you mean \['g'\]"):
        fit_groups(LinearRegression(), df, "gg", columns=["x1"], response="y")
    with pytest.raises(DataError, match="missing in all 50|missing in all"):
        fit_groups(LinearRegression(), df.assign(g=np.nan), "g", columns=["x1"], response="y")
    with pytest.raises(SettingsError, match="does not support Mean.*LinearRegression"):
        fit_groups(Mean(), df, "g", columns=["x1"], response="y")
    with pytest.raises(SettingsError, match="does not support GLM"):
        fit_groups(GLM("gamma"), df, "g", columns=["x1"], response="y")
    with pytest.raises(SettingsError, match="nonrobust"):
        fit_groups(LinearRegression(cov_type="HC1"), df, "g", columns=["x1"], response="y")
    with pytest.raises(DataError, match="columns='x9'"):
        fit_groups(LinearRegression(), df, "g", columns=["x9"], response="y")
    with pytest.raises(DataError, match="binomial"):
        fit_groups(LogisticRegression(), df, "g", columns=["x1"], response="y")
    with pytest.raises(SettingsError, match="give formula=, or columns="):
        fit_groups(LinearRegression(), df, "g")


def test_one_pass_screen_equals_per_group_fits_and_row_order_does_not_matter():
    """Centred columns take the one-pass Gram path (columns=, no offset): it equals the
    per-group fits to 1e-10; shuffled rows (the sorting path) give the same frame."""
    df = grouped_data(seed=6, n_groups=6)
    df["x1"] = df["x1"] - 1000.0  # exact (Sterbenz): a column near zero, as most data
    fit = dict(columns=["x1", "x2"], response="y", sample_weight="w")
    out = fit_groups(LinearRegression(), df, "g", **fit)
    for key, sub in df.groupby("g"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = LinearRegression().fit(sub[["x1", "x2"]], sub["y"], sub["w"]).summary()
        mine = out[out.g == key].set_index("term")
        for column in COLUMNS:
            np.testing.assert_allclose(mine[column], expected[column], rtol=1e-10, atol=0)
    shuffled = df.sample(frac=1.0, random_state=0)
    again = fit_groups(LinearRegression(), shuffled, "g", **fit)
    pd.testing.assert_frame_equal(again, out, check_exact=False, rtol=1e-12)


def test_weighted_logistic_equals_per_group_fits():
    df = grouped_data(seed=7, n_groups=4, low=40, high=60)
    df["x1"] = df["x1"] - 1000.0
    df["n"] = np.random.default_rng(7).integers(1, 4, len(df)).astype(float)
    out = fit_groups(LogisticRegression(), df, "g", columns=["x1", "x2"], response="b",
                     sample_weight="n")  # fmt: skip
    for key, sub in df.groupby("g"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = (
                LogisticRegression(tol=1e-12).fit(sub[["x1", "x2"]], sub["b"], sub["n"]).summary()
            )
        mine = out[out.g == key].set_index("term")
        assert (mine["n_obs"] == len(sub)).all()
        for column in COLUMNS:
            np.testing.assert_allclose(mine[column], expected[column], rtol=1e-8, atol=0)


def test_missing_values_raise_naming_the_column_or_are_dropped():
    df = grouped_data(seed=8, n_groups=3, low=30, high=40)
    df.loc[df.index[[2, 5, 9]], "x2"] = np.nan
    with pytest.raises(DataError, match=r"3 of \d+ rows have missing.*'x2': 3 row"):
        fit_groups(LinearRegression(), df, "g", columns=["x1", "x2"], response="y")
    df.loc[df.index[4], "x1"] = np.inf
    with pytest.raises(DataError, match="infinite values in 'x1'"):
        fit_groups(LinearRegression(), df, "g", columns=["x1", "x2"], response="y")
    df.loc[df.index[4], "x1"] = 1000.0
    out = fit_groups(LinearRegression(missing="drop"), df, "g", columns=["x1", "x2"], response="y")
    kept = df.dropna(subset=["x2"])
    expected = fit_groups(LinearRegression(), kept, "g", columns=["x1", "x2"], response="y")
    pd.testing.assert_frame_equal(out, expected)
    assert out.groupby("g")["n_obs"].first().sum() == len(kept)


def test_progress_bar_only_when_asked(capsys):
    df = grouped_data(seed=9, n_groups=3)
    fit_groups(LinearRegression(), df, "g", columns=["x2"], response="y", progress=False)
    assert capsys.readouterr().err == ""
    fit_groups(LinearRegression(), df, "g", columns=["x2"], response="y", progress=True)
    err = capsys.readouterr().err
    assert "fit_groups" in err and "groups" in err


def test_nearly_collinear_group_is_refitted_accurately():
    """A group whose columns are nearly collinear (condition number about 1e6) fails the
    one-pass screen and the refined normal equations' error test, and is refitted by QR
    (as LinearRegression itself): it equals the per-group fit; the others are untouched."""
    df = grouped_data(seed=10, n_groups=3, low=40, high=50)
    df["x1"] = df["x1"] - 1000.0
    first = df.g == df.g.min()
    noise = np.random.default_rng(10).normal(size=first.sum())
    df.loc[first, "x2"] = df.loc[first, "x1"] + 1e-6 * noise
    out = fit_groups(LinearRegression(), df, "g", columns=["x1", "x2"], response="y")
    assert out["converged"].all()
    for key, sub in df.groupby("g"):
        expected = reference(LinearRegression(), sub, X=sub[["x1", "x2"]], y=sub["y"])
        mine = out[out.g == key].set_index("term")
        for column in COLUMNS:
            np.testing.assert_allclose(mine[column], expected[column], rtol=1e-8, atol=0)
