"""09. Grouped fits: one model per group, all groups in one vmapped call.

Data: the 1996 American National Election Study (``anes96``): a logit of the
Dole vote on left-right placement and party identification within each of the
seven education levels; then simulated panel data (firms with a known slope)
for many small least-squares fits at once.

Shows ``est.fit_groups`` returning one tidy table (group key, term, estimate,
std_error, ..., n_obs, converged, note), checks it against fitting each group
separately, and times it against a Python loop of single fits. Groups that
cannot be fitted get NaN and a note instead of an exception.
``ESTIMATORS_EXAMPLE_FAST=1`` simulates fewer firms.
"""

import os
import time
import warnings

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est

FAST = os.environ.get("ESTIMATORS_EXAMPLE_FAST") == "1"
N_FIRMS = 200 if FAST else 5000
ROWS_PER_FIRM = 40


def simulated_firms(n_firms: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """y = a_firm + 2 x1 - x2 + noise: firm intercepts vary, the slopes (2, -1) do not."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), rows)
    x1, x2 = rng.normal(size=(2, firm.size))
    y = rng.normal(size=n_firms)[firm] + 2 * x1 - x2 + rng.normal(size=firm.size)
    return pd.DataFrame({"firm": firm, "x1": x1, "x2": x2, "y": y})


def main() -> float:
    """Fit by group; return the largest difference from fitting each group on its own."""
    data = load_dataset("anes96")
    formula = "vote ~ selfLR + PID"
    table = est.fit_groups(est.LogisticRegression(), data, by="educ", formula=formula)
    print(f"{formula}, one logit per education level (1 = grades 1-8 ... 7 = PhD):")
    columns = ["educ", "term", "estimate", "std_error", "p_value", "n_obs", "converged", "note"]
    print(table.loc[table["term"] == "PID", columns].to_string(index=False))

    # The same fits one at a time. A separated group warns there and is flagged
    # converged_ = False; fit_groups reports it as NaN with a note instead.
    difference = 0.0
    for level, rows in data.groupby("educ"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            single = est.LogisticRegression().fit(rows, formula=formula)
        group = table[table["educ"] == level].set_index("term")
        if not single.converged_:
            kinds = sorted({type(w.message).__name__ for w in caught})
            print(f"educ = {level} fitted alone: converged_ = False, warned {kinds}")
            assert not group["converged"].any()
            continue
        for column, values in [("estimate", single.params_), ("std_error", single.std_errors_)]:
            gap = np.abs(group[column] - values) / np.abs(values)
            difference = max(difference, float(gap.max()))
    print(f"largest relative difference from separate fits: {difference:.1e}")

    firms = simulated_firms(N_FIRMS, ROWS_PER_FIRM)
    start = time.perf_counter()
    panel = est.fit_groups(est.LinearRegression(), firms, by="firm", formula="y ~ x1 + x2")
    grouped = time.perf_counter() - start
    start = time.perf_counter()
    est.fit_groups(est.LinearRegression(), firms, by="firm", formula="y ~ x1 + x2")
    again = time.perf_counter() - start
    looped_firms = 20 if FAST else 50
    by_firm = [rows for _, rows in firms[firms["firm"] <= looped_firms].groupby("firm")]
    est.LinearRegression().fit(by_firm[0], formula="y ~ x1 + x2")  # compile once, untimed
    start = time.perf_counter()
    for rows in by_firm[1:]:
        est.LinearRegression().fit(rows, formula="y ~ x1 + x2")
    per_fit = (time.perf_counter() - start) / looped_firms
    print(f"\n{N_FIRMS} firms x {ROWS_PER_FIRM} rows, y ~ x1 + x2:")
    print(f"  fit_groups: {grouped:.2f} s for all (first call: includes tracing and compiling)")
    print(f"  fit_groups again (compiled): {again:.3f} s")
    loop_total = per_fit * N_FIRMS
    print(
        f"  a loop of single fits: {per_fit * 1e3:.1f} ms a firm, "
        f"{loop_total:.1f} s for all (extrapolated from {looped_firms})"
    )
    slopes = panel[panel["term"] == "x1"]["estimate"]
    print(f"  slope of x1 across firms: mean {slopes.mean():.3f} (truth 2), sd {slopes.std():.3f}")

    tiny = firms[firms["firm"] < 3].copy()
    tiny = tiny[(tiny["firm"] != 1) | (tiny.groupby("firm").cumcount() < 2)]  # firm 1: 2 rows
    notes = est.fit_groups(est.LinearRegression(), tiny, by="firm", formula="y ~ x1 + x2")
    print("\nA firm with 2 rows for 3 parameters gets NaN and a note, the call does not raise:")
    print(
        notes[notes["term"] == "x1"][["firm", "estimate", "n_obs", "note"]].to_string(index=False)
    )
    return difference


if __name__ == "__main__":
    main()
