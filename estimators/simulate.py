r"""Monte Carlo studies of an estimator: bias, standard-error calibration, coverage, rate.

:func:`simulate` draws ``n_reps`` data sets of each size from a process with
known truth (:mod:`estimators.datasets.generators`, or any object with the
same ``draw`` / ``truth`` / ``inputs``), fits them all with the estimator's
pure function (:func:`estimators.as_function`) under ``jax.vmap`` — one
compiled call per size and chunk — and summarises, per size :math:`n` and
parameter :math:`\theta` over the :math:`R` converged replications,

.. math::
    \text{bias} = \bar{\hat\theta} - \theta, \quad
    \text{sd} = \Big(\tfrac{1}{R-1}\sum_r (\hat\theta_r - \bar{\hat\theta})^2\Big)^{1/2}, \quad
    \text{se\_ratio} = \frac{\overline{\mathrm{SE}}}{\text{sd}}, \quad
    \text{rmse} = \Big(\tfrac1R \sum_r (\hat\theta_r - \theta)^2\Big)^{1/2},

and the coverage of the level-:math:`1-\alpha` interval
:math:`\hat\theta_r \pm c\,\mathrm{SE}_r` (:math:`c` the normal quantile, or
Student's with :math:`n - p` df where the estimator reports t statistics),
with its Monte Carlo standard error :math:`\sqrt{\hat c(1-\hat c)/R}`.

The convergence rate is the least-squares slope of :math:`\log \text{rmse}`
on :math:`\log n`: about :math:`-1/2` for a root-n consistent estimator.

Replications that do not converge, or whose estimate or standard error is not
finite, are counted in ``n_failed`` and left out of every average — never
averaged in silently.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import pandas as pd

from .errors import DataError, SettingsError
from .functional import FitArrays, PureFit, as_function
from .inference import t_or_normal_ppf
from .solve import x64_context

__all__ = ["SimulationResult", "replication_streams", "simulate"]

CHUNK_VALUES = 1 << 22  # data values per compiled call: 32 MB of float64
LANES = 100  # replications per vmapped batch inside a compiled call


@dataclass(frozen=True)
class SimulationResult:
    """The study: ``table`` (one row per size and parameter) and ``rates`` (one per parameter)."""

    table: pd.DataFrame
    rates: pd.Series
    confidence_level: float
    n_reps: int

    def plot(self):
        """RMSE against n (log-log, with a slope -1/2 guide) and coverage against n."""
        from .plot import simulation

        return simulation(self)


def _check(estimator, process, sizes, n_reps, confidence_level) -> tuple[PureFit, list[int]]:
    pure = as_function(estimator)
    for attribute in ("draw", "truth", "inputs"):
        if not hasattr(process, attribute):
            raise SettingsError(
                f"generator must have `draw(rng, n, n_reps)`, `truth` and `inputs` "
                f"(see estimators.datasets.generators); it has no `{attribute}`"
            )
    if tuple(process.inputs) != tuple(pure.inputs):
        raise SettingsError(
            f"the generator draws {tuple(process.inputs)} but {type(estimator).__name__}'s "
            f"pure fit takes {tuple(pure.inputs)}"
        )
    sizes = [int(n) for n in np.atleast_1d(sizes)]
    if not sizes or min(sizes) < 2:
        raise SettingsError(f"sizes must be sample sizes of at least 2 rows, got {sizes}")
    if int(n_reps) < 2:
        raise SettingsError(f"n_reps must be at least 2, got {n_reps}")
    if not 0 < confidence_level < 1:
        raise SettingsError(f"confidence_level must be in (0, 1), got {confidence_level}")
    return pure, sizes


def _draw(process, rng, n, reps, inputs) -> tuple[np.ndarray, ...]:
    arrays = process.draw(rng, n, reps)
    missing = [name for name in inputs if name not in arrays]
    if missing:
        raise DataError(f"the generator's draw returned no array named {missing}")
    out = tuple(np.asarray(arrays[name], dtype=float) for name in inputs)
    for name, a in zip(inputs, out, strict=True):
        if a.shape[:2] != (reps, n):
            raise DataError(
                f"the generator's array {name!r} has shape {a.shape}; expected "
                f"(n_reps, n, ...) = ({reps}, {n}, ...)"
            )
    return out


@functools.lru_cache(maxsize=32)
def _batched(fn, hyper: tuple, lanes: int) -> Any:
    """``fn`` vmapped over replications and jitted, once per pure fit and hyperparameters
    (a study repeated, or one size after another, reuses the compiled kernel)."""
    settings = dict(hyper)
    # lax.map over batches of LANES vmapped fits: a batch's data stay in cache, and
    # XLA:CPU runs a few hundred lanes of small products faster than thousands at once.
    return jax.jit(lambda *arrays: jax.lax.map(lambda a: fn(a, None, settings), arrays,
                                               batch_size=lanes))  # fmt: skip


def replication_streams(seed: int, n: int, n_reps: int) -> list[np.random.Generator]:
    """The random stream of each replication of size ``n``: ``SeedSequence([seed, n])``
    spawned ``n_reps`` times (what :func:`simulate` draws from, for reproducing a study)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, n]).spawn(n_reps)]


def _fit_size(pure, process, seed, n, n_reps) -> FitArrays:
    """All replications of one size, fitted in chunks of at most CHUNK_VALUES data values.

    Replication r of size n draws from its own stream (``SeedSequence([seed, n])``
    spawned ``n_reps`` times), so a replication's data depend neither on the chunk
    size nor on the other sizes studied, and two estimators studied with the same
    seed see the same data sets (common random numbers).
    """
    streams = replication_streams(seed, n, n_reps)
    # Values per replication, from a throwaway 2-row draw (its own stream).
    probe = _draw(process, np.random.default_rng(0), 2, 1, pure.inputs)
    values_per_rep = n * sum(int(np.prod(a.shape[2:])) for a in probe)
    # Every chunk has the same number of replications (a multiple of LANES, the last
    # one padded with copies of its first), so one size compiles one kernel.
    lanes = min(LANES, n_reps)
    chunk = lanes * max(1, min(-(-n_reps // lanes), CHUNK_VALUES // (values_per_rep * lanes)))
    batched = _batched(pure.fn, tuple(sorted(pure.hyper.items())), lanes)
    parts = []
    with x64_context("float64"):
        for start in range(0, n_reps, chunk):
            todo = streams[start : start + chunk]
            draws = [_draw(process, rng, n, 1, pure.inputs) for rng in todo]
            draws += draws[:1] * (chunk - len(todo))
            arrays = tuple(np.concatenate(column) for column in zip(*draws, strict=True))
            parts.append([np.asarray(field)[: len(todo)] for field in batched(*arrays)])
    return FitArrays(*(np.concatenate(field) for field in zip(*parts, strict=True)))


def _critical_value(estimator: Any, pure: PureFit, n: int, p: int, level: float) -> float:
    """The interval's multiplier as the estimator's own ``conf_int``: t or z (``use_t``)."""
    use_t = getattr(estimator, "use_t", None)
    df = pure.df_resid(n, p) if use_t is not False else None
    if df is None and use_t:
        df = n - p
    tail = 1 - (1 - level) / 2
    return float(t_or_normal_ppf(tail, df))


def _summarise(fits: FitArrays, names, truth, n, c) -> pd.DataFrame:
    params = np.asarray(fits.params)
    se = np.sqrt(np.diagonal(np.asarray(fits.cov), axis1=1, axis2=2))
    ok = np.asarray(fits.converged) & np.all(np.isfinite(params) & np.isfinite(se), axis=1)
    R = int(ok.sum())
    rows = []
    for j, name in enumerate(names):
        est, s, theta = params[ok, j], se[ok, j], truth[name]
        sd = est.std(ddof=1) if R > 1 else np.nan
        covered = np.abs(est - theta) <= c * s
        coverage = covered.mean() if R else np.nan
        rows.append({
            "n": n, "param": name, "truth": theta,
            "mean": est.mean() if R else np.nan, "bias": est.mean() - theta if R else np.nan,
            "sd": sd, "mean_se": s.mean() if R else np.nan,
            "se_ratio": s.mean() / sd if R > 1 else np.nan,
            "rmse": np.sqrt(np.mean((est - theta) ** 2)) if R else np.nan,
            "coverage": coverage,
            "coverage_mc_se": np.sqrt(coverage * (1 - coverage) / R) if R else np.nan,
            "n_used": R, "n_failed": len(ok) - R,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _rates(table: pd.DataFrame) -> pd.Series:
    """Slope of log RMSE on log n per parameter (NaN with fewer than two sizes)."""
    slopes = {}
    for name, rows in table.groupby("param", sort=False):
        good = rows[np.isfinite(rows["rmse"]) & (rows["rmse"] > 0)]
        if good["n"].nunique() < 2:
            slopes[name] = np.nan
            continue
        slopes[name] = np.polyfit(np.log(good["n"]), np.log(good["rmse"]), 1)[0]
    return pd.Series(slopes, name="rmse_slope")


def simulate(
    estimator: Any,
    generator: Any,
    sizes: Sequence[int] = (100, 1000, 10000),
    n_reps: int = 1000,
    *,
    seed: int = 0,
    confidence_level: float = 0.95,
) -> SimulationResult:
    """Monte Carlo study of ``estimator`` on data drawn from ``generator`` (see module docs).

    Parameters
    ----------
    estimator : an estimator :func:`~estimators.as_function` supports (its
        settings, e.g. ``Huber(c=2)``, are used as given).
    generator : a :class:`~estimators.datasets.generators.Process` (or any
        object with ``inputs``, ``truth`` and ``draw(rng, n, n_reps)``).
    sizes : sample sizes; n_reps : replications per size.
    seed : the same seed gives the same study, whatever the chunking (see :func:`_fit_size`).

    Returns
    -------
    SimulationResult with ``table`` (n, param, truth, mean, bias, sd, mean_se,
    se_ratio, rmse, coverage, coverage_mc_se, n_used, n_failed) and ``rates``.
    """
    pure, sizes = _check(estimator, generator, sizes, n_reps, confidence_level)
    tables = []
    for n in sizes:
        fits = _fit_size(pure, generator, seed, n, int(n_reps))
        names = pure.param_names(fits.params.shape[1])
        missing = [name for name in names if name not in generator.truth]
        if missing:
            raise DataError(
                f"the generator gives no true value for parameter(s) {missing} of "
                f"{type(estimator).__name__}; its truth names {sorted(generator.truth)}"
            )
        c = _critical_value(estimator, pure, n, len(names), confidence_level)
        tables.append(_summarise(fits, names, generator.truth, n, c))
    table = pd.concat(tables, ignore_index=True)
    return SimulationResult(table, _rates(table), confidence_level, int(n_reps))
