r"""The printable summary of a fitted estimator: a header over the coefficient table.

Data first, text second: the table is :meth:`Estimator.summary` (a DataFrame)
formatted, never recomputed, and the header reads the fitted attributes that
the estimator has (``getattr``: a quantity an estimator does not define is
left out, not shown as blank). Fixed width, plain text, pandas only::

                               LinearRegression results
    ==============================================================================
    Model:              LinearRegression()
    Formula:            stackloss ~ airflow + watertemp + acidconc
    Dependent variable:         stackloss  Observations:                      21
    ...

Number formats (shared by the header and the table): estimates, standard
errors, interval bounds and fit statistics with 6 significant digits
(``"{:.6g}"``), test statistics with 3 decimals, p-values with 4 decimals
(3 significant digits below 0.001); NaN is shown as ``NaN``.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd

MIN_WIDTH = 78
LABEL_WIDTH = 20

# Settings that steer the numerics, not the model: left out of the "Model" line
# (the solver and the covariance have lines of their own).
_NUMERICAL_SETTINGS = frozenset(
    {
        "solver",
        "tol",
        "xtol",
        "gtol",
        "max_iter",
        "max_scale_iter",
        "learning_rate",
        "start",
        "params0",
        "step_bound",
        "cov_type",
        "use_t",
        "cov_options",
        "missing",
    }
)

# (label, attribute) of the fit statistics shown when the estimator has them.
_FIT_STATISTICS = (
    ("Log-likelihood", "llf_"),
    ("LL-Null", "llnull_"),
    ("AIC", "aic_"),
    ("BIC", "bic_"),
    ("Deviance", "deviance_"),
    ("R-squared", "rsquared_"),
    ("Adj. R-squared", "rsquared_adj_"),
    ("Pseudo R-squared", "pseudo_rsquared_"),
)


def summary_text(estimator: Any, alpha: float = 0.05) -> str:
    """The summary of a fitted ``estimator`` as fixed-width text.

    Header: the model and the settings that define it, the dependent variable,
    the formula, the solver, observations (and rows dropped), degrees of
    freedom, covariance type (clusters, HAC lags), t or z, the fit statistics
    the estimator has (log-likelihood, AIC, BIC, deviance, R-squared,
    adjusted and pseudo R-squared), convergence and iterations. Below it the
    table of ``estimator.summary(alpha)``, and notes: why standard errors are
    NaN (``cov_note_``) and why the solver stopped when it did not converge.
    """
    table = estimator.summary(alpha)
    df = estimator._df_inference
    rows = table_lines(table, alpha, df)
    width = max(MIN_WIDTH, max(len(line) for line in rows))
    title = f"{type(estimator).__name__} results".center(width).rstrip()
    lines = [title, "=" * width]
    lines += _header_lines(estimator, df, width)
    lines += ["=" * width, rows[0], "-" * width, *rows[1:], "=" * width]
    notes = _notes(estimator, table)
    if notes:
        lines.append("Notes:")
        for k, note in enumerate(notes, start=1):
            lines += textwrap.wrap(note, width, initial_indent=f"[{k}] ", subsequent_indent="    ")
    return "\n".join(lines)


def table_lines(table: pd.DataFrame, alpha: float, df: float | None) -> list[str]:
    """The coefficient table as aligned lines (first: the column heads)."""
    statistic = "z" if df is None else "t"
    heads = [
        "",
        "estimate",
        "std_error",
        statistic,
        f"P>|{statistic}|",
        f"[{alpha / 2:g}",
        f"{1 - alpha / 2:g}]",
    ]
    cells = [
        [
            str(name),
            format_number(row.estimate),
            format_number(row.std_error),
            format_statistic(row.statistic),
            format_p_value(row.p_value),
            format_number(row.ci_lower),
            format_number(row.ci_upper),
        ]
        for name, row in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    widths = [max(len(r[j]) for r in [heads, *cells]) for j in range(len(heads))]
    widths[1:] = [max(w, 9) for w in widths[1:]]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = "".join(f"  {cell:>{w}}" for cell, w in zip(row[1:], widths[1:], strict=True))
        return first + rest

    return [line(heads), *(line(row) for row in cells)]


def format_number(value: Any) -> str:
    """Six significant digits; ``NaN`` for a missing value."""
    value = float(value)
    return "NaN" if math.isnan(value) else f"{value:.6g}"


def format_statistic(value: Any) -> str:
    value = float(value)
    return "NaN" if math.isnan(value) else f"{value:.3f}"


def format_p_value(value: Any) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    return f"{value:.4f}" if value >= 1e-3 else f"{value:.3g}"


def _header_lines(estimator: Any, df: float | None, width: int) -> list[str]:
    left: list[tuple[str, str]] = []
    right: list[tuple[str, str]] = []
    wide: list[tuple[str, str]] = [("Model", _model_text(estimator))]
    family = getattr(estimator, "family_", None)
    if family is not None:
        link = getattr(estimator, "link_", None)
        left.append(("Family", f"{family} ({link} link)" if link else str(family)))
    response = _response(estimator)
    if response is not None:
        left.append(("Dependent variable", str(response)))
    formula = getattr(estimator, "formula_", None)
    if formula:
        wide.append(("Formula", str(formula)))
    solver = _solver_text(estimator)
    if solver is not None:
        left.append(("Solver", solver))
    left.append(("Covariance type", _covariance_text(estimator)))
    left.append(("Statistics", "z (normal)" if df is None else f"t ({format_count(df)} df)"))
    left.append(("Converged", str(bool(estimator.converged_))))
    left.append(("Iterations", str(estimator.n_iter_)))

    right.append(("Observations", format_count(estimator.nobs_)))
    dropped = getattr(estimator, "n_dropped_", None)
    if dropped:
        right.append(("Rows dropped", format_count(dropped)))
    for label, name in (("Df residuals", "df_resid_"), ("Df model", "df_model_")):
        value = getattr(estimator, name, None)
        if value is not None:
            right.append((label, format_count(value)))
    for label, name in _FIT_STATISTICS:
        value = getattr(estimator, name, None)
        if value is not None and np.ndim(value) == 0:
            right.append((label, format_number(value)))

    half = width // 2
    room = half - LABEL_WIDTH - 2  # the widest value a cell can hold
    wide += [item for item in left + right if len(item[1]) > room]
    left = [item for item in left if len(item[1]) <= room]
    right = [item for item in right if len(item[1]) <= room]
    lines = [line for label, value in wide for line in _wide_item(label, value, width)]
    for k in range(max(len(left), len(right))):
        cells = [
            f"{column[k][0] + ':':<{LABEL_WIDTH}}{column[k][1]:>{room}}  "
            if k < len(column)
            else " " * half
            for column in (left, right)
        ]
        lines.append("".join(cells).rstrip())
    return lines


def _wide_item(label: str, value: str, width: int) -> list[str]:
    return textwrap.wrap(
        value,
        width,
        initial_indent=f"{label + ':':<{LABEL_WIDTH}}",
        subsequent_indent=" " * LABEL_WIDTH,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [f"{label}:"]


def format_count(value: Any) -> str:
    """An integer as such; a fractional count (weights, effective df) with 6 digits."""
    value = float(value)
    return f"{int(value)}" if value.is_integer() else f"{value:.6g}"


def _model_text(estimator: Any) -> str:
    """The class with the settings that define the model (positional ones always)."""
    parameters = inspect.signature(type(estimator).__init__).parameters
    shown = []
    for name, parameter in parameters.items():
        if name == "self" or name in _NUMERICAL_SETTINGS:
            continue
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            continue
        value = getattr(estimator, name, None)
        positional = parameter.kind == parameter.POSITIONAL_OR_KEYWORD
        if value is None or (not positional and _is_default(value, parameter.default)):
            continue
        shown.append(f"{name}={_setting_text(value)}")
    return f"{type(estimator).__name__}({', '.join(shown)})"


def _is_default(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return value is default


def _setting_text(value: Any) -> str:
    """A setting as short text: strings quoted, functions and families by name."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    if isinstance(value, bool | int | np.integer):
        return str(value)
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return repr(name)
    text = repr(value)
    return text if len(text) <= 40 else type(value).__name__


def _response(estimator: Any) -> str | None:
    info = getattr(estimator, "design_info_", None)
    if info is not None:
        return info.response
    for name in ("variable_", "response_"):
        value = getattr(estimator, name, None)
        if value is not None:
            return str(value)
    return None


def _solver_text(estimator: Any) -> str | None:
    solver = getattr(estimator, "solver", None)
    text = solver if isinstance(solver, str) else None
    if text is None and solver is not None:
        text = getattr(solver, "__name__", type(solver).__name__)
    path = getattr(estimator, "path_", None)
    if isinstance(path, str) and path != text:
        text = path if text is None else f"{text} ({path})"
    return text


def _covariance_text(estimator: Any) -> str:
    text = str(getattr(estimator, "cov_type_", "nonrobust"))
    n_groups = getattr(estimator, "n_groups_", None)
    if n_groups is not None:
        text += f", {n_groups} clusters"
    maxlags = getattr(estimator, "hac_maxlags_", None)
    if maxlags is not None:
        text += f", {maxlags} lags"
    return text


def _notes(estimator: Any, table: pd.DataFrame) -> list[str]:
    notes = []
    free = getattr(estimator, "_sandwich_free", None)
    if free is None or len(free) != len(table):
        free = np.ones(len(table), dtype=bool)
    free = np.asarray(free, dtype=bool)
    nan = table["std_error"].isna().to_numpy()
    held = [str(n) for n in table.index[nan & ~free]]
    if held:
        notes.append(f"Held fixed, without standard errors: {', '.join(held)}.")
    missing = [str(n) for n in table.index[nan & free]]
    if missing:
        reason = getattr(estimator, "cov_note_", None)
        names = "every parameter" if len(missing) == len(table) else ", ".join(missing)
        because = f": {reason}." if reason else " (the fit recorded no reason)."
        notes.append(f"Standard errors are NaN for {names}{because}")
    if not estimator.converged_:
        solution = getattr(estimator, "solution_", None)
        message = f" ({solution.message})" if solution is not None else ""
        notes.append(f"The solver did not converge{message}: the estimates are not reliable.")
    return notes
