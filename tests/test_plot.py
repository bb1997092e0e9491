"""Figures (estimators.plot): rendered to PNG with the non-interactive Agg backend.

Each test checks the file (exists, a PNG, not empty), the axes (how many,
labels, log scales) and that what is drawn is the fit's numbers: the plotted
data are read back from the artists and compared with the fit's own
attributes, and the fitted curves with scipy.stats computed live.
"""

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from estimators.errors import SettingsError
from estimators.glm import LogisticRegression
from estimators.likelihood import MaximumLikelihood
from estimators.regression import LinearRegression

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from estimators.datasets import load_dataset  # noqa: E402

from estimators import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
FORMULA = "vote ~ PID + age"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def anes():
    return load_dataset("anes96")


@pytest.fixture(scope="module")
def logit(anes):
    return LogisticRegression().fit(anes, formula=FORMULA)


def saved(fig, tmp_path, name="figure.png"):
    """Render ``fig`` to a PNG file and check it is one; returns the bytes."""
    path = tmp_path / name
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000
    return data


def test_convergence_is_two_log_panels_of_the_history(logit, tmp_path):
    fig = plot.convergence(logit)
    saved(fig, tmp_path)
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and bottom.get_yscale() == "log"
    assert top.get_ylabel() == "loss - final loss" and bottom.get_ylabel() == "gradient norm"
    assert bottom.get_xlabel() == "iteration"
    history = logit.history_
    gap = history["loss"].to_numpy() - history["loss"].iloc[-1]
    x, y = top.lines[0].get_data()
    np.testing.assert_array_equal(y, gap[gap > 0])
    np.testing.assert_array_equal(x, history.index[gap > 0])
    np.testing.assert_array_equal(bottom.lines[0].get_ydata(), history["grad_norm"])
    assert "converged" in top.get_title() and "NOT" not in top.get_title()


def test_convergence_of_a_solution_and_on_given_axes(tmp_path):
    from estimators.solve import minimize

    sol = minimize(lambda b, x: ((x - b) ** 2).mean(), 0.0, np.arange(5.0))
    fig, axes = plt.subplots(1, 2)
    assert plot.convergence(sol, ax=axes) is fig
    np.testing.assert_array_equal(axes[1].lines[0].get_ydata(), sol.trace["grad_norm"])
    with pytest.raises(SettingsError, match="draws 2 panel"):
        plot.convergence(sol, ax=axes[0])
    with pytest.raises(SettingsError, match="history_"):
        plot.convergence(object())


def test_coefficients_forest_plot(logit, tmp_path):
    fig = plot.coefficients(logit)
    saved(fig, tmp_path)
    (axis,) = fig.axes
    table = logit.summary()
    labels = [t.get_text() for t in axis.get_yticklabels()]
    assert labels == list(table.index)  # first term on top: y = p-1, ..., 0
    x, y = axis.lines[0].get_data()
    np.testing.assert_array_equal(x, table["estimate"])
    segments = axis.collections[0].get_segments()  # the intervals
    np.testing.assert_array_equal([s[0][0] for s in segments], table["ci_lower"])
    np.testing.assert_array_equal([s[1][0] for s in segments], table["ci_upper"])
    assert "95%" in axis.get_xlabel()


def test_coefficients_from_a_tidy_table_and_terms(logit):
    fig = plot.coefficients(logit.tidy(alpha=0.1), terms=["age", "PID"])
    axis = fig.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["age", "PID"]
    np.testing.assert_array_equal(axis.lines[0].get_xdata(), logit.params_[["age", "PID"]])
    with pytest.raises(SettingsError, match="not in the table"):
        plot.coefficients(logit, terms=["nosuch"])
    groups = pd.concat([logit.tidy(), logit.tidy()])
    with pytest.raises(SettingsError, match="group_spread"):
        plot.coefficients(groups)


def test_residuals_against_fitted(anes, tmp_path):
    fit = LinearRegression().fit(anes, formula="selfLR ~ PID + age")
    fig = plot.residuals(fit, data=anes)
    saved(fig, tmp_path)
    (axis,) = fig.axes
    assert axis.get_xlabel() == "fitted mean" and axis.get_ylabel() == "residual (y - fitted)"
    points = axis.collections[0].get_offsets()
    mean = fit.predict(anes).to_numpy()
    np.testing.assert_array_equal(points[:, 0], mean)
    np.testing.assert_array_equal(points[:, 1], anes["selfLR"].to_numpy() - mean)
    # arrays: the same points
    X, y = anes[["PID", "age"]], anes["selfLR"]
    arrays = plot.residuals(LinearRegression().fit(X, y), X, y).axes[0].collections[0]
    np.testing.assert_allclose(arrays.get_offsets(), points, rtol=0, atol=1e-12)
    with pytest.raises(SettingsError, match="needs the data"):
        plot.residuals(fit)


def test_distribution_histogram_and_qq(tmp_path):
    durations = load_dataset("strikes")["duration"]
    fit = MaximumLikelihood("gamma").fit(durations)
    fig = plot.distribution(fit, durations)
    saved(fig, tmp_path)
    hist, qq = fig.axes
    assert hist.get_ylabel() == "density" and qq.get_title() == "QQ plot"
    reference = stats.gamma(fit.params_["shape"], scale=fit.params_["scale"])  # scipy 1.17
    grid, density = hist.lines[0].get_data()
    np.testing.assert_allclose(density, reference.pdf(grid), rtol=1e-12)
    assert sum(p.get_height() * p.get_width() for p in hist.patches) == pytest.approx(1.0)
    theoretical, observed = qq.lines[0].get_data()
    n = len(durations)
    np.testing.assert_allclose(theoretical, reference.ppf((np.arange(1, n + 1) - 0.5) / n))
    np.testing.assert_array_equal(observed, np.sort(durations))


def test_distribution_of_counts_uses_probabilities():
    counts = np.random.default_rng(0).poisson(3.0, size=200)
    fit = MaximumLikelihood("poisson").fit(counts)
    fig = plot.distribution(fit, pd.DataFrame({"x": counts}))
    hist = fig.axes[0]
    assert hist.get_ylabel() == "probability"
    support, pmf = hist.lines[0].get_data()
    np.testing.assert_allclose(pmf, stats.poisson(fit.params_["mean"]).pmf(support), rtol=1e-12)
    heights = {p.get_x() + p.get_width() / 2: p.get_height() for p in hist.patches}
    values, freq = np.unique(counts, return_counts=True)
    np.testing.assert_allclose([heights[v] for v in values], freq / counts.size)


def test_distribution_needs_a_named_family():
    from estimators.location import Mean

    with pytest.raises(SettingsError, match="named family"):
        plot.distribution(Mean().fit([1.0, 2.0, 4.0]), [1.0, 2.0, 4.0])


def test_bootstrap_distribution(anes, tmp_path):
    from estimators.bootstrap import bootstrap

    result = bootstrap(LogisticRegression(), anes, formula=FORMULA, n_resamples=300, seed=1)
    fig = plot.bootstrap_distribution(result)
    saved(fig, tmp_path)
    assert [a.get_title() for a in fig.axes] == ["Intercept", "PID", "age"]
    for axis, name in zip(fig.axes, result.estimate.index, strict=True):
        assert axis.lines[0].get_xdata()[0] == result.estimate[name]  # the estimate
        span = axis.patches[-1]  # the shaded interval (a Rectangle in data x)
        low, high = result.confidence_interval.loc[name, ["low", "high"]]
        assert span.get_x() == low
        assert span.get_x() + span.get_width() == pytest.approx(high, rel=1e-15)
        bars = sum(p.get_height() for p in axis.patches[:-1])
        assert bars == result.n_resamples - result.n_failed
    one = plot.bootstrap_distribution(result, parameters=["age"])
    assert len(one.axes) == 1


@pytest.mark.slow  # compiles its own kernels: 5-12 s on 2 cores; CI runs it with -m slow
def test_group_spread(anes, tmp_path):
    from estimators.batch import fit_groups

    table = fit_groups(LogisticRegression(), anes, "educ", formula=FORMULA)
    fig = plot.group_spread(table)
    saved(fig, tmp_path)
    assert [a.get_title().split(" (")[0] for a in fig.axes] == ["Intercept", "PID", "age"]
    for axis in fig.axes:
        term = axis.get_title().split(" (")[0]
        rows = table[table["term"] == term]
        fitted = rows[np.isfinite(rows["estimate"])]
        y = axis.lines[0].get_ydata()
        np.testing.assert_array_equal(y, np.sort(fitted["estimate"]))
        labels = [t.get_text() for t in axis.get_xticklabels()]
        order = fitted.sort_values("estimate", kind="stable")["educ"].astype(str).tolist()
        assert labels == order and axis.get_xlabel().startswith("educ")
        not_fitted = len(rows) - len(fitted)
        assert (f"{not_fitted} not fitted" in axis.get_title()) == (not_fitted > 0)
    with pytest.raises(SettingsError, match="fit_groups table"):
        plot.group_spread(pd.DataFrame({"a": [1]}))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # `import` now fails
    with pytest.raises(plot.MissingDependencyError, match=r'pip install "estimators\[plot\]"'):
        plot.coefficients(pd.DataFrame({"estimate": [1.0], "ci_lower": [0], "ci_upper": [2]}))
    assert issubclass(plot.MissingDependencyError, ImportError)
