"""Passes over the blocks of :func:`~estimators.stream.fit_stream`, with a progress bar.

:class:`Pass` runs a callback on every block; :class:`GLMPasses` builds the
GLM passes on it (validation, then loss, gradient and Hessian at given
coefficients). JAX dispatches asynchronously, so a loop that only enqueues
work could run ahead of the computation and keep every block alive (its host
array and device buffer): :class:`Pass` waits for block k-1's result after
enqueueing block k, so at most two blocks are in flight whatever the number
of rows, and reading still overlaps computing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .errors import DataError
from .families import FAMILIES, LINKS, saturated_nll
from .progress import Progress
from .solve import x64_context
from .stream_kernels import glm_kernels
from .stream_sources import Blocks

__all__ = ["GLMPasses", "Pass", "Statistics"]


class Pass:
    """One pass over the blocks: runs ``each(block_device, block_host, rows)`` on every block.

    ``each`` returns the JAX value it computed (or None); the pass waits for
    block k-1's value once block k is enqueued, which bounds the blocks in
    flight to two (see the module docstring).
    """

    def __init__(self, blocks: Blocks, progress: bool | None, total: int | None):
        self.blocks, self.progress, self.total, self.count = blocks, progress, total, 0

    def run(self, label: str, each: Callable[[jax.Array, np.ndarray, int], Any]) -> None:
        self.count += 1
        bar = Progress(self.progress, f"{label} (pass {self.count})", self.total)
        pending = None
        try:
            with x64_context("float64"):
                for block, rows in self.blocks:
                    # device_put of an aligned numpy block is zero-copy: the
                    # block stays alive until its computation has finished.
                    result = each(jax.device_put(block), block, rows)
                    jax.block_until_ready(pending)
                    pending = result
                    bar.update(rows)
                jax.block_until_ready(pending)
        finally:
            bar.close()
        self.blocks.check()
        self.total = self.blocks.n_rows


class Statistics:
    """What the validation pass of a GLM fit finds: weights, response mean, domain, shift."""

    def __init__(self, family_name: str):
        self.family = FAMILIES[family_name]
        self.weight = self.weighted_y = self.shift = 0.0
        self.positive = 0
        self.out_of_domain, self.first_bad = 0, None
        self.largest: np.ndarray | float = 0.0

    def add(self, block: np.ndarray, rows: int) -> None:
        y, w = block[:rows, -2], block[:rows, -1]
        self.largest = np.maximum(self.largest, np.max(np.abs(block[:rows, :-2]), axis=0))
        self.weight += float(w.sum())
        self.weighted_y += float(w @ y)
        self.positive += int(np.sum(w > 0))
        if self.family.name == "binomial":
            bad = (y < 0) | (y > 1)
        elif self.family.name == "poisson":
            bad = y < 0
        else:
            bad = np.zeros(rows, dtype=bool)
        if bad.any():
            self.out_of_domain += int(bad.sum())
            self.first_bad = self.first_bad if self.first_bad is not None else float(y[bad][0])
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.shift += float(w @ saturated_nll(self.family, y, 1.0))

    def check(self, response: str, n_rows: int) -> None:
        if self.out_of_domain:
            rule = "in [0, 1]" if self.family.name == "binomial" else "non-negative"
            raise DataError(
                f"{response} must be {rule} for the {self.family.name} family: "
                f"{self.out_of_domain} of {n_rows} rows are not (first value {self.first_bad!r})"
            )
        if self.weight <= 0:
            raise DataError(f"no rows with positive weight in the source ({n_rows} rows read)")


class GLMPasses:
    """The passes of a GLM fit: validation, then f, g, H (mean loss) at given coefficients."""

    def __init__(self, blocks: Blocks, passes: Pass, family: str, link: str, label: str):
        self.blocks, self.passes, self.label = blocks, passes, label
        self.family, self.link = FAMILIES[family], LINKS[link]
        self.derivatives, self.eta, self.epoch = glm_kernels(family, link)

    def validate(self) -> Statistics:
        stats = Statistics(self.family.name)
        self.passes.run(f"{self.label}: checking", lambda dev, host, rows: stats.add(host, rows))
        stats.check(self.blocks.response, self.blocks.n_rows)
        self.stats = stats
        return stats

    def evaluate(self, beta: np.ndarray, *, final: bool = False):
        """Mean loss (shifted to half the mean deviance), gradient and Hessian at ``beta``."""
        totals: list = [None]
        fit = {"deviance_": 0.0, "pearson_chi2_": 0.0, "llf_": 0.0}
        with x64_context("float64"):
            beta_dev = jnp.asarray(beta, dtype=jnp.float64)

        def each(block, host, rows):
            out = self.derivatives(beta_dev, block)
            totals[0] = out if totals[0] is None else jax.tree.map(jnp.add, totals[0], out)
            if final:
                self._add_statistics(fit, np.asarray(self.eta(beta_dev, block))[:rows], host, rows)
            return totals[0]

        self.passes.run(self.label, each)
        loss, grad, hess = (np.asarray(t, dtype=float) for t in totals[0])
        W = self.stats.weight
        hess = (hess + hess.T) / 2
        return (loss - self.stats.shift) / W, grad / W, hess / W, fit

    def _add_statistics(self, fit: dict, eta: np.ndarray, host: np.ndarray, rows: int) -> None:
        from .glm_kernels import mean_of

        y, w = host[:rows, -2], host[:rows, -1]
        mu = mean_of(self.link, eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            fit["deviance_"] += float(w @ self.family.deviance_obs(y, mu, None))
            fit["pearson_chi2_"] += float(w @ ((y - mu) ** 2 / self.family.variance(mu, None)))
            fit["llf_"] += float(w @ self.family.loglike_obs(y, mu, 1.0, None))

    def start(self) -> np.ndarray:
        """The intercept-only MLE g(ybar) with an intercept (as in memory), else zeros."""
        beta = np.zeros(self.blocks.p)
        if self.blocks.intercept:
            ybar = self.stats.weighted_y / self.stats.weight
            if self.family.name == "binomial" and ybar in (0.0, 1.0):
                ybar = 0.25 + 0.5 * ybar
            with np.errstate(divide="ignore"):
                start = float(self.link.link(np.asarray(ybar)))
            beta[0] = start if np.isfinite(start) else 0.0
        return beta
