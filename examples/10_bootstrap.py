"""10. The bootstrap: standard errors and intervals where the formulas are doubtful.

Data: Michelson's 100 measurements of the speed of light (``michelson``) for the
median; Engel's food expenditure data (``engel``, 235 households, strongly
heteroskedastic) for a regression slope.

Shows ``est.bootstrap`` for the median (percentile, basic and BCa intervals;
the BCa interval next to ``scipy.stats.bootstrap``'s on the same data), the
Bayesian bootstrap, and a pairs bootstrap of least squares whose slope standard
error agrees with White's heteroskedasticity-robust HC1 one (HC3, built for
small samples with high-leverage rows, is larger) and is over three times the
classical one, which assumes a constant variance.
A figure of the bootstrap distribution is saved with ``estimators.plot`` when
that module is present. ``ESTIMATORS_EXAMPLE_FAST=1`` uses fewer resamples.
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from estimators.datasets import load_dataset  # noqa: E402
from scipy import stats  # noqa: E402

import estimators as est  # noqa: E402

FAST = os.environ.get("ESTIMATORS_EXAMPLE_FAST") == "1"
N_RESAMPLES = 1000 if FAST else 10_000


def main() -> dict:
    """Bootstrap the median and a slope; return the standard errors compared."""
    speed = load_dataset("michelson")["speed"]
    print(f"Median of Michelson's speeds: {est.Median().fit(speed).params_['median']:.4f}")
    print(f"{N_RESAMPLES} resamples each:")
    intervals = {}
    for method in ["percentile", "basic", "bca"]:
        result = est.bootstrap(est.Median(), speed, n_resamples=N_RESAMPLES, method=method, seed=0)
        intervals[method] = result.confidence_interval.loc["median"]
    bayes = est.bootstrap(est.Median(), speed, n_resamples=N_RESAMPLES, bayesian=True, seed=0)
    intervals["Bayesian, percentile"] = bayes.confidence_interval.loc["median"]
    reference = stats.bootstrap(
        (speed.to_numpy(),), np.median, n_resamples=N_RESAMPLES, method="BCa",
        random_state=np.random.default_rng(0),
    )  # fmt: skip
    low, high = reference.confidence_interval
    intervals["scipy.stats.bootstrap BCa"] = pd.Series({"low": low, "high": high})
    print("95% intervals for the median:")
    print(pd.DataFrame(intervals).T.round(5).to_string())
    print(f"bootstrap SE of the median: {result.standard_error['median']:.5f} "
          f"(scipy: {reference.standard_error:.5f})")  # fmt: skip

    engel = load_dataset("engel")
    formula = "foodexp ~ income"
    pairs = est.bootstrap(
        est.LinearRegression(), engel, formula=formula, n_resamples=N_RESAMPLES, seed=1
    )
    classical = est.LinearRegression().fit(engel, formula=formula).std_errors_
    robust = {
        cov: est.LinearRegression(cov_type=cov).fit(engel, formula=formula).std_errors_
        for cov in ["HC1", "HC3"]
    }
    table = pd.DataFrame(
        {"pairs bootstrap": pairs.standard_error, **robust, "classical": classical}
    )
    print(f"\n{formula}: standard errors")
    print(table.to_string(float_format=lambda v: f"{v:.6f}"))
    ratio = table.loc["income"] / table.loc["income", "pairs bootstrap"]
    print(f"slope SE relative to the bootstrap's: HC1 {ratio['HC1']:.3f}, "
          f"HC3 {ratio['HC3']:.3f}, classical {ratio['classical']:.3f}")  # fmt: skip

    try:
        from estimators import plot
    except ImportError:
        plot = None
    if plot is not None:
        folder = Path(os.environ.get("ESTIMATORS_EXAMPLE_OUTPUT") or tempfile.mkdtemp())
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "engel_bootstrap.png"
        plot.bootstrap_distribution(pairs).savefig(path, dpi=80)
        print(f"figure drawn by estimators.plot.bootstrap_distribution: {path}")
    return {"median_se": result.standard_error["median"], "slope": table.loc["income"]}


if __name__ == "__main__":
    main()
