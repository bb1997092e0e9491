"""07. Maximum likelihood for a distribution, compared across families, with its plot.

Data: the durations (days) of 62 US manufacturing strikes that began in June
(``strikes``, Kennan 1985).

Fits four families for positive data by maximum likelihood (exponential, gamma,
Weibull, lognormal), ranks them by AIC, prints the best one's table (standard
errors from the inverse observed information, by autodiff), and saves a figure
of the data against the fitted density with a QQ plot: through
``estimators.plot.distribution`` when that module is present, otherwise with
plain matplotlib. The figure goes to ``$ESTIMATORS_EXAMPLE_OUTPUT`` (a
temporary directory when unset), never into the repository.
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from estimators.datasets import load_dataset  # noqa: E402
from scipy import stats  # noqa: E402

import estimators as est  # noqa: E402

FAMILIES = ["exponential", "gamma", "weibull", "lognormal"]


def scipy_distribution(family: str, params: pd.Series):
    """The fitted family as a frozen scipy.stats distribution (see estimators.distributions)."""
    if family == "exponential":
        return stats.expon(scale=params["scale"])
    if family == "gamma":
        return stats.gamma(a=params["shape"], scale=params["scale"])
    if family == "weibull":
        return stats.weibull_min(c=params["shape"], scale=params["scale"])
    return stats.lognorm(s=params["sdlog"], scale=np.exp(params["meanlog"]))


def plot_with_matplotlib(fit, family: str, x: np.ndarray):
    """Histogram with the fitted density, and a QQ plot against the fitted quantiles."""
    dist = scipy_distribution(family, fit.params_)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    grid = np.linspace(0, x.max() * 1.05, 400)[1:]
    left.hist(x, bins=15, density=True, alpha=0.5, label="data")
    left.plot(grid, dist.pdf(grid), label=f"fitted {family}")
    left.set(xlabel="strike duration (days)", ylabel="density")
    left.legend()
    probabilities = (np.arange(1, x.size + 1) - 0.5) / x.size
    right.scatter(dist.ppf(probabilities), np.sort(x), s=10)
    right.axline((0, 0), slope=1, color="grey", lw=1)
    right.set(xlabel="fitted quantiles", ylabel="sample quantiles", title="QQ plot")
    fig.tight_layout()
    return fig


def save_figure(fit, family: str, x: pd.Series) -> Path:
    """Draw the figure with estimators.plot if available, else matplotlib; return the file."""
    folder = Path(os.environ.get("ESTIMATORS_EXAMPLE_OUTPUT") or tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from estimators import plot
    except ImportError:
        plot = None
    if plot is not None:
        figure, drawn_by = plot.distribution(fit, x), "estimators.plot.distribution"
    else:
        figure, drawn_by = plot_with_matplotlib(fit, family, x.to_numpy()), "matplotlib"
    path = folder / f"strikes_{family}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    print(f"figure drawn by {drawn_by}: {path}")
    return path


def main() -> pd.DataFrame:
    """Fit the four families; return the AIC table."""
    duration = load_dataset("strikes")["duration"]
    fits = {family: est.MaximumLikelihood(family).fit(duration) for family in FAMILIES}
    table = pd.DataFrame(
        {
            "log_likelihood": {f: fit.llf_ for f, fit in fits.items()},
            "parameters": {f: len(fit.params_) for f, fit in fits.items()},
            "AIC": {f: fit.aic_ for f, fit in fits.items()},
            "converged": {f: fit.converged_ for f, fit in fits.items()},
        }
    ).sort_values("AIC")
    print(f"Strike durations, n = {duration.size}: four families by AIC")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))

    best = table.index[0]
    print(f"\nBest by AIC: {best}")
    print(fits[best].summary().to_string(float_format=lambda v: f"{v:.10g}"))
    print("\nGamma fit (shape, scale):")
    print(fits["gamma"].params_.to_string(float_format=lambda v: f"{v:.12g}"))
    save_figure(fits[best], best, duration)
    return table


if __name__ == "__main__":
    main()
