r"""Figures of fits (matplotlib, the optional ``plot`` extra: ``pip install "estimators[plot]"``).

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` it drew
on: a new one (through ``pyplot``, so notebooks and ``plt.show()`` display it)
when ``ax`` is None, else the figure of the axes given. matplotlib is imported
only when a function is called; without it the call raises
:class:`MissingDependencyError` naming the extra.

- :func:`convergence`: the optimiser's trace, per iteration, on log scales:
  the loss above its final value, :math:`L_k - L_{\text{final}}`, and the
  gradient norm :math:`\lVert\nabla L_k\rVert` (``history_``).
- :func:`coefficients`: a forest plot: each estimate with its confidence interval.
- :func:`residuals`: response residuals :math:`y_i - \hat\mu_i` against the
  fitted means :math:`\hat\mu_i`.
- :func:`distribution`: a fitted distribution family
  (:class:`~estimators.likelihood.MaximumLikelihood`) over the data's histogram,
  and its QQ plot: the sorted data :math:`x_{(i)}` against the fitted quantiles
  :math:`F^{-1}\bigl((i - \tfrac12)/n\bigr)`.
- :func:`bootstrap_distribution`: the resampled estimates of a
  :func:`~estimators.bootstrap.bootstrap`, the estimate and the interval.
- :func:`group_spread`: the estimates of a :func:`~estimators.batch.fit_groups`
  table across groups, one panel a term (a caterpillar plot).
- :func:`simulation`: a Monte Carlo study (:func:`~estimators.simulate.simulate`):
  RMSE against :math:`n` on log-log axes with a slope :math:`-1/2` guide, and
  interval coverage against :math:`n` with its Monte Carlo error bars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import EstimationError, SettingsError

__all__ = [
    "MissingDependencyError",
    "bootstrap_distribution",
    "coefficients",
    "convergence",
    "distribution",
    "group_spread",
    "require_matplotlib",
    "residuals",
    "simulation",
]

EXTRA_HINT = 'pip install "estimators[plot]"'
POINT = "C0"  # estimates
BAND = "C1"  # intervals and fitted curves
MAX_GROUP_LABELS = 30  # group_spread names the groups on the axis up to this many


class MissingDependencyError(EstimationError, ImportError):
    """An optional dependency (here matplotlib, the ``plot`` extra) is not installed."""


def require_matplotlib() -> Any:
    """``matplotlib.pyplot``, or :class:`MissingDependencyError` naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise MissingDependencyError(
            f"plots need matplotlib, which is not installed: {EXTRA_HINT}"
        ) from err
    return plt


def _axes(
    ax: Any, n: int, *, ncols: int | None = None, size: float = 3.2, width: float | None = None
) -> tuple[Any, list]:
    """The figure and ``n`` axes: new ones in a grid (``ax`` None) or the ``ax`` given.

    New panels are ``size`` inches high and ``1.35 size`` (or ``width``) wide.
    """
    plt = require_matplotlib()
    if ax is None:
        ncols = ncols or min(n, 3)
        nrows = math.ceil(n / ncols)
        figsize = ((width or size * 1.35) * ncols, size * nrows)
        fig, grid = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[n:]:
            extra.remove()
        fig.set_layout_engine("constrained")
        return fig, axes[:n]
    axes = list(np.ravel(ax)) if isinstance(ax, Sequence | np.ndarray) else [ax]
    if len(axes) != n:
        raise SettingsError(f"this plot draws {n} panel(s); ax has {len(axes)} axes")
    return axes[0].figure, axes


def _history(fitted: Any) -> pd.DataFrame:
    if isinstance(fitted, pd.DataFrame):
        return fitted
    for name in ("history_", "trace"):  # a fitted estimator; a Solution of minimize()
        history = getattr(fitted, name, None)
        if isinstance(history, pd.DataFrame):
            return history
    raise SettingsError(
        f"convergence needs a fitted estimator (history_), a Solution (trace) or a DataFrame "
        f"with columns loss and grad_norm; got {type(fitted).__name__}"
    )


def convergence(fitted: Any, ax: Any = None) -> Any:
    """The loss above its final value and the gradient norm per iteration, both on log y.

    ``fitted``: a fitted estimator (its ``history_``), a
    :class:`~estimators.solve.Solution` (its ``trace``) or such a DataFrame.
    Two panels, sharing the iteration axis; ``ax`` may give two axes. Points
    where the loss is at or below its final value (not positive, so not on a
    log scale) are left out, as are zero gradient norms.
    """
    history = _history(fitted)
    missing = {"loss", "grad_norm"} - set(history.columns)
    if missing or history.empty:
        raise SettingsError(
            f"convergence needs a history with rows and the columns loss and grad_norm; "
            f"this one has {len(history)} rows and columns {list(history.columns)}"
        )
    fig, (top, bottom) = _axes(ax, 2, ncols=1, size=2.6, width=6.0)
    if ax is None:
        top.sharex(bottom)
    iteration = history.index.to_numpy()
    loss = history["loss"].to_numpy(dtype=float)
    gap = loss - loss[-1]
    shown = gap > 0
    top.plot(iteration[shown], gap[shown], "o-", color=POINT, ms=3)
    top.set_yscale("log")
    top.set_ylabel("loss - final loss")
    grad = history["grad_norm"].to_numpy(dtype=float)
    bottom.plot(iteration[grad > 0], grad[grad > 0], "o-", color=BAND, ms=3)
    bottom.set_yscale("log")
    bottom.set_ylabel("gradient norm")
    bottom.set_xlabel("iteration")
    if not shown.any():
        top.text(0.5, 0.5, "the loss did not change", transform=top.transAxes, ha="center")
    n_iter = getattr(fitted, "n_iter_", getattr(fitted, "n_iter", len(history) - 1))
    converged = getattr(fitted, "converged_", getattr(fitted, "converged", None))
    if converged is None:  # a bare DataFrame
        top.set_title(f"{n_iter} iterations")
    else:
        status = "converged" if converged else "NOT converged"
        top.set_title(f"{type(fitted).__name__}: {n_iter} iterations, {status}")
    return fig


def _coefficient_table(source: Any, alpha: float) -> pd.DataFrame:
    if hasattr(source, "summary") and not isinstance(source, pd.DataFrame):
        return source.summary(alpha)
    if isinstance(source, pd.DataFrame):
        table = source.set_index("term") if "term" in source.columns else source
        missing = {"estimate", "ci_lower", "ci_upper"} - set(table.columns)
        if missing:
            raise SettingsError(f"the coefficient table has no column(s) {sorted(missing)}")
        if not table.index.is_unique:
            raise SettingsError(
                "the table repeats terms (a fit_groups table?): use group_spread for it"
            )
        return table
    raise SettingsError(
        "coefficients needs a fitted estimator or its summary()/tidy() table, "
        f"got {type(source).__name__}"
    )


def coefficients(
    fitted: Any, ax: Any = None, *, alpha: float = 0.05, terms: Sequence[str] | None = None
) -> Any:
    """Forest plot: each estimate (a point) with its ``1 - alpha`` interval (a line).

    ``fitted``: a fitted estimator, or a ``summary()`` / ``tidy()`` table
    (columns ``estimate``, ``ci_lower``, ``ci_upper``; its intervals are used
    as they are). ``terms`` picks and orders the rows (default: all, first on top).
    A dashed line marks zero.
    """
    table = _coefficient_table(fitted, alpha)
    if terms is not None:
        unknown = [t for t in terms if t not in table.index]
        if unknown:
            raise SettingsError(f"terms {unknown} are not in the table ({list(table.index)})")
        table = table.loc[list(terms)]
    fig, (axis,) = _axes(ax, 1, size=max(2.0, 0.45 * len(table) + 1.0))
    y = np.arange(len(table))[::-1]
    axis.hlines(y, table["ci_lower"], table["ci_upper"], color=BAND, lw=2)
    axis.plot(table["estimate"], y, "o", color=POINT)
    axis.axvline(0.0, color="grey", ls="--", lw=1)
    axis.set_yticks(y, [str(t) for t in table.index])
    level = f"{1 - alpha:.0%} " if hasattr(fitted, "summary") else ""
    axis.set_xlabel(f"estimate and {level}confidence interval")
    if hasattr(fitted, "summary") and not isinstance(fitted, pd.DataFrame):
        axis.set_title(type(fitted).__name__)
    return fig


def residuals(
    fitted: Any, X: Any = None, y: Any = None, *, data: Any = None, ax: Any = None
) -> Any:
    """Response residuals :math:`y_i - \\hat\\mu_i` against the fitted means :math:`\\hat\\mu_i`.

    A regression fitted on a formula takes ``data=`` (the DataFrame: the
    response is read through the formula, rows with missing values are left
    out); one fitted on arrays takes ``X`` and ``y``. For GLMs
    :math:`\\hat\\mu` is ``predict`` (a probability, a rate): look for spread
    that grows with it, or structure, around the zero line.
    """
    if not hasattr(fitted, "predict"):
        raise SettingsError(f"residuals needs a fitted regression, got {type(fitted).__name__}")
    if data is not None:
        formula = getattr(fitted, "formula_", None)
        if formula is None:
            raise SettingsError("data= is for fits on a formula; pass X and y instead")
        from .formula import formula_rows

        expanded = formula_rows(data, formula, missing="drop")
        frame = data.iloc[expanded.rows]
        actual = expanded.y.to_numpy()
        mean = fitted.predict(frame).to_numpy()
    elif X is not None and y is not None:
        mean = fitted.predict(X).to_numpy()
        actual = np.asarray(y, dtype=float).ravel()
    else:
        raise SettingsError("residuals needs the data: data=DataFrame (formula fits) or X and y")
    if actual.size != mean.size:
        raise SettingsError(f"y has {actual.size} rows but X gives {mean.size} predictions")
    fig, (axis,) = _axes(ax, 1, size=3.6)
    axis.scatter(mean, actual - mean, s=10, alpha=0.6, color=POINT, edgecolors="none")
    axis.axhline(0.0, color="grey", ls="--", lw=1)
    axis.set_xlabel("fitted mean")
    axis.set_ylabel("residual (y - fitted)")
    axis.set_title(type(fitted).__name__)
    return fig


# scipy.stats equivalents of the named families (the table in estimators.distributions)
def _scipy_distribution(family: str, p: pd.Series) -> Any:
    from scipy import stats

    makers = {
        "normal": lambda: stats.norm(p["mean"], p["sd"]),
        "exponential": lambda: stats.expon(scale=p["scale"]),
        "gamma": lambda: stats.gamma(p["shape"], scale=p["scale"]),
        "beta": lambda: stats.beta(p["a"], p["b"]),
        "weibull": lambda: stats.weibull_min(p["shape"], scale=p["scale"]),
        "lognormal": lambda: stats.lognorm(p["sdlog"], scale=np.exp(p["meanlog"])),
        "student_t": lambda: stats.t(p["df"], loc=p["loc"], scale=p["scale"]),
        "poisson": lambda: stats.poisson(p["mean"]),
        "negative_binomial": lambda: stats.nbinom(
            1 / p["alpha"], 1 / (1 + p["alpha"] * p["mean"])
        ),
        "geometric": lambda: stats.geom(p["p"], loc=-1),
    }
    if family not in makers:
        raise SettingsError(
            f"distribution plots need a named family ({', '.join(makers)}); got {family!r}"
        )
    return makers[family]()


def distribution(fitted: Any, data: Any, ax: Any = None) -> Any:
    """The fitted family over the data's histogram (left) and its QQ plot (right).

    ``fitted``: a :class:`~estimators.likelihood.MaximumLikelihood` fitted with a
    named family; ``data``: the values it was fitted on (array, Series, or a
    DataFrame holding the fitted column). Continuous families: density over a
    density-scaled histogram; count families: probabilities over relative
    frequencies. QQ: sorted data against the fitted quantiles at
    :math:`(i - \\tfrac12)/n`, with the line :math:`y = x`.
    """
    family = getattr(fitted, "family", None)
    family = getattr(family, "name", family)
    if not hasattr(fitted, "params_") or family is None:
        raise SettingsError(
            "distribution needs a fitted MaximumLikelihood with a named family, "
            f"got {type(fitted).__name__}"
        )
    if isinstance(data, pd.DataFrame):
        data = data[getattr(fitted, "variable_", data.columns[0])]
    x = np.asarray(data, dtype=float).ravel()
    x = np.sort(x[np.isfinite(x)])
    if x.size == 0:
        raise SettingsError("distribution needs data with finite values")
    dist = _scipy_distribution(family, fitted.params_)
    discrete = hasattr(dist.dist, "pmf")
    fig, (hist, qq) = _axes(ax, 2, size=3.4)
    if discrete:
        values, counts = np.unique(x, return_counts=True)
        hist.bar(values, counts / x.size, width=0.8, color="lightgrey", label="data")
        support = np.arange(int(values.min()), int(values.max()) + 1)
        hist.plot(support, dist.pmf(support), "o", color=BAND, label="fitted")
        hist.set_ylabel("probability")
    else:
        hist.hist(x, bins="auto", density=True, color="lightgrey", label="data")
        grid = np.linspace(x[0], x[-1], 400)
        hist.plot(grid, dist.pdf(grid), color=BAND, lw=2, label="fitted")
        hist.set_ylabel("density")
    hist.set_xlabel(getattr(fitted, "variable_", None) or "x")
    hist.legend(frameon=False)
    hist.set_title(f"{family} fit")
    theoretical = dist.ppf((np.arange(1, x.size + 1) - 0.5) / x.size)
    qq.plot(theoretical, x, "o", ms=3, color=POINT)
    lims = [min(theoretical.min(), x[0]), max(theoretical.max(), x[-1])]
    qq.plot(lims, lims, "--", color="grey", lw=1)
    qq.set_xlabel("fitted quantile")
    qq.set_ylabel("data quantile")
    qq.set_title("QQ plot")
    return fig


def bootstrap_distribution(
    result: Any, ax: Any = None, *, parameters: Sequence[str] | None = None
) -> Any:
    """Histogram of each parameter's resampled estimates, the estimate and the interval.

    ``result``: a :class:`~estimators.bootstrap.BootstrapResult`. One panel a
    parameter (``parameters`` picks them): the estimate on the data (solid
    line) and the bootstrap confidence interval (shaded). Failed resamples
    (NaN) are left out.
    """
    draws = getattr(result, "bootstrap_distribution", None)
    if not isinstance(draws, pd.DataFrame):
        raise SettingsError(
            f"bootstrap_distribution needs a BootstrapResult, got {type(result).__name__}"
        )
    names = list(draws.columns) if parameters is None else list(parameters)
    unknown = [n for n in names if n not in draws.columns]
    if unknown:
        raise SettingsError(f"parameters {unknown} are not in the result ({list(draws.columns)})")
    fig, axes = _axes(ax, len(names))
    interval = result.confidence_interval
    for axis, name in zip(axes, names, strict=True):
        values = draws[name].to_numpy(dtype=float)
        axis.hist(values[np.isfinite(values)], bins="auto", color="lightgrey")
        axis.axvspan(interval.loc[name, "low"], interval.loc[name, "high"], color=BAND, alpha=0.25,
                     label=f"{result.confidence_level:.0%} {result.method} interval")  # fmt: skip
        axis.axvline(result.estimate[name], color=POINT, lw=2, label="estimate")
        axis.set_title(str(name))
        axis.set_xlabel("resampled estimate")
        axis.set_ylabel("resamples")
    axes[0].legend(frameon=False, fontsize="small")
    return fig


def group_spread(
    table: pd.DataFrame, ax: Any = None, *, terms: Sequence[str] | None = None
) -> Any:
    """The spread of each term's estimate across groups: one caterpillar panel a term.

    ``table``: the tidy DataFrame of :func:`~estimators.batch.fit_groups`
    (columns ``term``, ``estimate``, ``ci_lower``, ``ci_upper``). In each
    panel the groups are sorted by their estimate (x: the rank), each with its
    interval as a vertical line, and the median estimate as a dashed line.
    Groups with a NaN estimate (not fitted) are left out and counted in the title.
    """
    if not isinstance(table, pd.DataFrame) or not {"term", "estimate"} <= set(table.columns):
        raise SettingsError("group_spread needs a fit_groups table (columns term, estimate, ...)")
    names = list(dict.fromkeys(table["term"])) if terms is None else list(terms)
    unknown = [n for n in names if n not in set(table["term"])]
    if unknown:
        raise SettingsError(f"terms {unknown} are not in the table")
    keys = list(table.columns[: list(table.columns).index("term")])  # fit_groups puts them first
    fig, axes = _axes(ax, len(names))
    for axis, name in zip(axes, names, strict=True):
        rows = table[table["term"] == name]
        ok = rows[np.isfinite(rows["estimate"].to_numpy(dtype=float))]
        ok = ok.sort_values("estimate", kind="stable")
        rank = np.arange(len(ok))
        if {"ci_lower", "ci_upper"} <= set(ok.columns):
            axis.vlines(rank, ok["ci_lower"], ok["ci_upper"], color=BAND, lw=1, alpha=0.6)
        axis.plot(rank, ok["estimate"], "o", ms=3, color=POINT)
        if keys and 0 < len(ok) <= MAX_GROUP_LABELS:  # few groups: name them
            labels = ok[keys].astype(str).agg(", ".join, axis=1)
            axis.set_xticks(rank, list(labels), rotation=90 if len(ok) > 8 else 0)
        if len(ok):
            axis.axhline(float(np.median(ok["estimate"])), color="grey", ls="--", lw=1)
        dropped = len(rows) - len(ok)
        axis.set_title(
            f"{name} ({len(ok)} groups" + (f", {dropped} not fitted)" if dropped else ")")
        )
        axis.set_xlabel(f"{', '.join(map(str, keys)) or 'group'} (sorted by estimate)")
        axis.set_ylabel("estimate")
    return fig


def simulation(result: Any, ax: Any = None) -> Any:
    """A Monte Carlo study: RMSE against n (log-log) and interval coverage against n.

    ``result``: a :class:`~estimators.simulate.SimulationResult`. Left: each
    parameter's RMSE with a dashed line of slope :math:`-1/2` through the first
    size's mean RMSE (root-n consistency); the legend gives the fitted slopes.
    Right: coverage with error bars of two Monte Carlo standard errors and the
    nominal level as a dashed line.
    """
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame) or not {"n", "param", "rmse"} <= set(table.columns):
        raise SettingsError(f"simulation needs a SimulationResult, got {type(result).__name__}")
    fig, (left, right) = _axes(ax, 2)
    sizes = np.sort(table["n"].unique()).astype(float)
    for name, rows in table.groupby("param", sort=False):
        slope = result.rates.get(name, np.nan)
        left.plot(rows["n"], rows["rmse"], "o-", label=f"{name} (slope {slope:.2f})")
        right.errorbar(rows["n"], rows["coverage"], yerr=2 * rows["coverage_mc_se"],
                       fmt="o-", capsize=3, label=str(name))  # fmt: skip
    first = table.loc[table["n"] == sizes[0], "rmse"].mean()
    left.plot(sizes, first * np.sqrt(sizes[0] / sizes), "k--", lw=1, label="slope -1/2")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("n")
    left.set_ylabel("RMSE")
    left.legend(frameon=False, fontsize="small")
    right.axhline(result.confidence_level, color="k", ls="--", lw=1, label="nominal")
    right.set_xscale("log")
    for axis in (left, right):  # the studied sizes as plain ticks (no crowded minor labels)
        axis.set_xticks(sizes, [f"{int(n):,}" for n in sizes])
        axis.minorticks_off()
    if table["param"].nunique() > 1:
        right.legend(frameon=False, fontsize="small")
    right.set_xlabel("n")
    right.set_ylabel("coverage")
    right.set_title(f"{result.confidence_level:.0%} intervals, {result.n_reps} replications")
    return fig
