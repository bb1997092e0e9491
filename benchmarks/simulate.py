"""Monte Carlo study: 1,000 replications of a logistic regression (n = 1,000, 5 covariates and
an intercept) with standard errors and 95% interval coverage, by `estimators.simulate`
against the same study as a statsmodels loop (Logit(...).fit(method="newton", disp=0),
its bse and a z interval per replication). Both draw the same data (the same per-replication
numpy streams) and the time includes drawing. Ours is run once first to compile
(steady state); the compile-inclusive first call is printed too. The statsmodels loop is
timed on all 1,000 replications.

    /work/venv/bin/python benchmarks/simulate.py
"""

from __future__ import annotations

import time

import numpy as np
import statsmodels.api as sm
from estimators.datasets.generators import logistic_process
from scipy import stats

from estimators.glm import LogisticRegression
from estimators.simulate import replication_streams, simulate

N, REPS, SEED = 1000, 1000, 0
BETA = (-0.5, 1.0, -0.5, 0.25, 0.0, 0.5)


def statsmodels_study(process) -> np.ndarray:
    """Coverage per parameter, as simulate computes it, by a loop of statsmodels fits."""
    z = stats.norm.ppf(0.975)
    truth = np.asarray(BETA)
    covered = np.zeros(len(BETA))
    for rng in replication_streams(SEED, N, REPS):
        data = process.draw(rng, N, 1)
        X, y = data["X"][0], data["y"][0]
        fit = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-10)
        covered += np.abs(fit.params - truth) <= z * fit.bse
    return covered / REPS


def main() -> None:
    process = logistic_process(BETA)
    start = time.perf_counter()
    ours = simulate(LogisticRegression(), process, sizes=(N,), n_reps=REPS, seed=SEED)
    first = time.perf_counter() - start
    times = []
    for _ in range(3):
        start = time.perf_counter()
        ours = simulate(LogisticRegression(), process, sizes=(N,), n_reps=REPS, seed=SEED)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    peer_coverage = statsmodels_study(process)
    peer = time.perf_counter() - start
    steady = min(times)
    print(
        f"logistic study, {REPS} reps x n={N} x {len(BETA)} params: statsmodels loop "
        f"{peer:.2f} s, estimators.simulate {steady:.3f} s (first call with compile "
        f"{first:.2f} s): ratio {peer / steady:.1f}x steady, {peer / first:.1f}x first call"
    )
    ours_coverage = ours.table["coverage"].to_numpy()
    print(f"coverage ours  {np.round(ours_coverage, 3).tolist()}")
    print(f"coverage peer  {np.round(peer_coverage, 3).tolist()}")
    print(f"max |difference| {np.max(np.abs(ours_coverage - peer_coverage)):.4f} (same draws)")


if __name__ == "__main__":
    main()
