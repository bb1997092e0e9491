"""Data sets shipped with ``estimators`` and generators of data with known truth.

Installed as ``estimators.datasets`` (the folder sits at the repository root;
see ``pyproject.toml``). Loaders return pandas DataFrames; generators take a
``seed`` and return a :class:`Simulated` data set together with the true
values of the quantities an estimator should recover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- shipped data
# Each data set is data/NAME.csv with a provenance note data/NAME.md (source,
# licence, columns, units). Adding a data set means adding those two files.


def _data_files():
    return resources.files(__name__).joinpath("data")


def list_datasets() -> pd.DataFrame:
    """The shipped data sets: name, title (first line of the note), rows and columns."""
    rows = []
    for csv in sorted(p for p in _data_files().iterdir() if p.name.endswith(".csv")):
        name = csv.name.removesuffix(".csv")
        frame = load_dataset(name)
        title = describe_dataset(name).splitlines()[0].lstrip("# ").split(": ", 1)[-1]
        rows.append({"name": name, "title": title, "rows": len(frame), "columns": list(frame)})
    return pd.DataFrame(rows)


def load_dataset(name: str) -> pd.DataFrame:
    """Load a shipped data set as a DataFrame (see :func:`list_datasets`)."""
    path = _data_files().joinpath(f"{name}.csv")
    if not path.is_file():
        available = sorted(
            p.name.removesuffix(".csv") for p in _data_files().iterdir() if p.name.endswith(".csv")
        )
        raise KeyError(f"no data set named {name!r}; available: {available}")
    with path.open("r") as handle:
        return pd.read_csv(handle)


def describe_dataset(name: str) -> str:
    """The provenance note of a shipped data set: source, licence, columns, units."""
    path = _data_files().joinpath(f"{name}.md")
    if not path.is_file():
        load_dataset(name)  # raises the KeyError listing the available names
    return path.read_text()


SEED_SAMPLE = (0.2898, 4.0190, 2.5984, 3.6664, 0.5830, 7.0064, 0.5180, 4.6814, 6.7381, 3.3146)


def seed_sample() -> pd.DataFrame:
    """The ten numbers of the autodiff tutorial this project grew from, column ``x``.

    The tutorial drew them uniformly on (0, 8) and printed them with four
    decimals; these are the printed values. Their mean is 3.34151.
    """
    return pd.DataFrame({"x": SEED_SAMPLE})


@dataclass(frozen=True)
class Simulated:
    """A simulated data set and the truth it was drawn from."""

    data: pd.DataFrame
    truth: dict[str, float] = field(default_factory=dict)
    description: str = ""


def _check_n(n: int) -> int:
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive number of rows, got {n}")
    return n


def uniform_sample(
    n: int = 100, *, low: float = 0.0, high: float = 8.0, seed: int = 0
) -> Simulated:
    """``n`` draws from Uniform(low, high) (the tutorial's distribution by default).

    Truth: ``mean = median = (low + high) / 2``, ``sd = (high - low) / sqrt(12)``.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=_check_n(n))
    return Simulated(
        pd.DataFrame({"x": x}),
        {"mean": (low + high) / 2, "median": (low + high) / 2, "sd": (high - low) / np.sqrt(12)},
        f"{n} draws from Uniform({low}, {high})",
    )


def normal_sample(n: int = 100, *, mean: float = 0.0, sd: float = 1.0, seed: int = 0) -> Simulated:
    """``n`` draws from Normal(mean, sd). Truth: ``mean``, ``median = mean``, ``sd``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, sd, size=_check_n(n))
    return Simulated(
        pd.DataFrame({"x": x}),
        {"mean": mean, "median": mean, "sd": sd},
        f"{n} draws from Normal({mean}, {sd})",
    )


def contaminated_sample(
    n: int = 100,
    *,
    location: float = 0.0,
    sd: float = 1.0,
    fraction: float = 0.1,
    outlier_sd: float = 10.0,
    seed: int = 0,
) -> Simulated:
    """Normal data with a ``fraction`` of gross outliers (Tukey's contaminated normal).

    Each row is drawn from Normal(location, sd) with probability ``1 - fraction``
    and from Normal(location, outlier_sd) otherwise; column ``outlier`` says which.
    The contamination is symmetric, so the mean, the median and Huber's
    estimator all target ``location`` (truth), but the mean's variance suffers.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    n = _check_n(n)
    outlier = rng.random(n) < fraction
    x = np.where(outlier, rng.normal(location, outlier_sd, n), rng.normal(location, sd, n))
    return Simulated(
        pd.DataFrame({"x": x, "outlier": outlier}),
        {"mean": location, "median": location, "location": location},
        f"{n} draws from Normal({location}, {sd}), "
        f"{fraction:.0%} of them from Normal({location}, {outlier_sd})",
    )


__all__ = [
    "Simulated",
    "contaminated_sample",
    "describe_dataset",
    "list_datasets",
    "load_dataset",
    "normal_sample",
    "seed_sample",
    "uniform_sample",
]
