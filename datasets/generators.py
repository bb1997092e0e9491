r"""Data-generating processes with known truth, for Monte Carlo studies.

A :class:`Process` draws many data sets at once: ``draw(rng, n, n_reps)``
returns the arrays an estimator's pure fit takes (see
:func:`estimators.as_function`), each with a leading axis of ``n_reps``
replications, and ``truth`` names the value every parameter should recover,
under the names the estimators give their parameters. Calling a process,
``process(n, seed=...)``, gives one data set as a
:class:`~estimators.datasets.Simulated` DataFrame for ordinary fits.

Regression processes draw covariates :math:`x_{ij} \sim N(0, 1)` (columns
``x0, x1, ...``) and a response from the model with linear predictor
:math:`\eta_i = \beta_0 + x_i^\top \beta`; the design passed to a pure fit
is ``X = [1, x]``, the column of ones first (parameter ``Intercept``), as an
ordinary fit on arrays adds it.

Processes (truth under the estimators' parameter names):

- ``normal_process``: :math:`x \sim N(\mu, \sigma^2)`; mean, median, location, sd.
- ``gamma_process``: :math:`x \sim \Gamma(k, \theta)`; shape, scale, mean.
- ``poisson_process``: :math:`x \sim \mathrm{Poisson}(\lambda)`; mean.
- ``linear_process``: :math:`y = \eta + \sigma\varepsilon`, normal errors; Intercept, x0, ...
- ``logistic_process``: :math:`y \sim \mathrm{Bernoulli}(1/(1+e^{-\eta}))`; Intercept, x0, ...
- ``poisson_regression_process``: :math:`y \sim \mathrm{Poisson}(e^{\eta})`; Intercept, x0, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Process",
    "gamma_process",
    "linear_process",
    "logistic_process",
    "normal_process",
    "poisson_process",
    "poisson_regression_process",
]


@dataclass(frozen=True)
class Process:
    """A data-generating process: ``draw(rng, n, n_reps) -> {input name: array}`` and its truth."""

    name: str
    inputs: tuple[str, ...]
    truth: Mapping[str, float]
    draw: Callable[[np.random.Generator, int, int], dict[str, np.ndarray]]

    def __call__(self, n: int, *, seed: int = 0):
        """One data set of ``n`` rows as a DataFrame (``x``, or ``x0, ..., y``) and its truth."""
        from . import Simulated

        arrays = self.draw(np.random.default_rng(seed), _positive(n, "n"), 1)
        if "X" in arrays:
            X = arrays["X"][0][:, 1:]  # without the column of ones: a fit adds it
            frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
            frame["y"] = arrays["y"][0]
        else:
            frame = pd.DataFrame({"x": arrays["x"][0]})
        return Simulated(frame, dict(self.truth), f"{n} rows from {self.name}")


def _positive(value: int, name: str) -> int:
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def normal_process(mean: float = 0.0, sd: float = 1.0) -> Process:
    """Draws from :math:`N(\\mu, \\sigma^2)`: truth for Mean, Median, Huber, MLE("normal")."""

    def draw(rng, n, n_reps):
        return {"x": rng.normal(mean, sd, size=(n_reps, n))}

    truth = {"mean": mean, "median": mean, "location": mean, "sd": sd}
    return Process(f"Normal({mean}, {sd}^2)", ("x",), truth, draw)


def gamma_process(shape: float = 2.0, scale: float = 1.5) -> Process:
    """Draws from :math:`\\Gamma(k, \\theta)`: truth for MLE("gamma") (shape, scale) and Mean."""

    def draw(rng, n, n_reps):
        return {"x": rng.gamma(shape, scale, size=(n_reps, n))}

    truth = {"shape": shape, "scale": scale, "mean": shape * scale}
    return Process(f"Gamma(shape={shape}, scale={scale})", ("x",), truth, draw)


def poisson_process(rate: float = 3.0) -> Process:
    """Draws from :math:`\\mathrm{Poisson}(\\lambda)`: truth for MLE("poisson") and Mean."""

    def draw(rng, n, n_reps):
        return {"x": rng.poisson(rate, size=(n_reps, n)).astype(float)}

    return Process(f"Poisson({rate})", ("x",), {"mean": rate}, draw)


def _regression(name: str, beta: Sequence[float], response) -> Process:
    beta = np.asarray(beta, dtype=float)
    if beta.ndim != 1 or beta.size < 1:
        raise ValueError("beta must list the intercept and at least zero slopes, e.g. (1.0, 0.5)")

    def draw(rng, n, n_reps):
        x = rng.standard_normal((n_reps, n, beta.size - 1))
        X = np.concatenate([np.ones((n_reps, n, 1)), x], axis=2)
        return {"X": X, "y": response(rng, X @ beta)}

    truth = {"Intercept": float(beta[0]), **{f"x{j}": float(b) for j, b in enumerate(beta[1:])}}
    return Process(name, ("X", "y"), truth, draw)


def linear_process(beta: Sequence[float] = (1.0, 2.0, -1.0), sigma: float = 1.0) -> Process:
    """Normal linear model :math:`y = \\beta_0 + x^\\top\\beta + \\sigma\\varepsilon`."""
    return _regression(
        f"linear model, beta={tuple(beta)}, sigma={sigma}",
        beta,
        lambda rng, eta: eta + sigma * rng.standard_normal(eta.shape),
    )


def logistic_process(beta: Sequence[float] = (-0.5, 1.0, -0.5)) -> Process:
    """Logistic model :math:`P(y=1) = 1 / (1 + e^{-\\eta})`."""
    return _regression(
        f"logistic model, beta={tuple(beta)}",
        beta,
        lambda rng, eta: (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float),
    )


def poisson_regression_process(beta: Sequence[float] = (0.5, 0.3, -0.2)) -> Process:
    """Poisson model :math:`y \\sim \\mathrm{Poisson}(e^{\\eta})`."""
    return _regression(
        f"Poisson model, beta={tuple(beta)}",
        beta,
        lambda rng, eta: rng.poisson(np.exp(eta)).astype(float),
    )
