"""fit_groups vs a statsmodels loop: 10,000 groups x 100 rows x 5 features, with SEs.

The statsmodels loop (OLS / Logit per group, params + bse) is timed on the first
1,000 groups and scaled by 10 (said in the output); fit_groups is timed on all
10,000 groups after one warm-up call (compile excluded), best of 3, without a
progress bar. Ratios are from one run on the same machine, of wall time and of
process CPU time (all threads; the best of the 3 runs); the load average is
printed beside them (the 2-core development machine is shared: under load the
multi-threaded XLA kernels lose more wall time than the single-threaded
statsmodels loop, so the CPU ratio is the steadier one).

Run: /work/venv/bin/python benchmarks/fit_groups.py
"""

import os
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm

from estimators.batch import fit_groups
from estimators.glm import LogisticRegression
from estimators.regression import LinearRegression

G, N, K, SUBSET = 10_000, 100, 5, 1_000
rng = np.random.default_rng(0)
X = rng.normal(size=(G * N, K))
cols = [f"x{i}" for i in range(K)]
df = pd.DataFrame(X, columns=cols)
df["g"] = np.repeat(np.arange(G), N)
df["y"] = X @ np.linspace(0.2, 1.0, K) + rng.normal(size=G * N)
df["b"] = (rng.uniform(size=G * N) < 1 / (1 + np.exp(-X @ np.full(K, 0.3)))).astype(float)


def statsmodels_loop(model, response):
    Xc = sm.add_constant(X)
    y = df[response].to_numpy()
    start, cpu = time.perf_counter(), time.process_time()
    for g in range(SUBSET):
        rows = slice(g * N, (g + 1) * N)
        fit = (
            model(y[rows], Xc[rows]).fit(disp=0)
            if model is sm.Logit
            else model(y[rows], Xc[rows]).fit()
        )
        fit.params, fit.bse  # noqa: B018
    scale = G / SUBSET
    return (time.perf_counter() - start) * scale, (time.process_time() - cpu) * scale


def ours(estimator, response):
    fit_groups(estimator, df, "g", columns=cols, response=response, progress=False)  # compile
    best, best_cpu = np.inf, np.inf
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        fit_groups(estimator, df, "g", columns=cols, response=response, progress=False)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, best_cpu


print(f"load average (1, 5, 15 min): {os.getloadavg()}, cores: {os.cpu_count()}")
for name, model, estimator, response in [
    ("OLS", sm.OLS, LinearRegression(), "y"),
    ("logistic", sm.Logit, LogisticRegression(), "b"),
]:
    peer, peer_cpu = statsmodels_loop(model, response)
    mine, mine_cpu = ours(estimator, response)
    print(
        f"{name}: statsmodels loop {peer:.3f} s (timed on {SUBSET} groups, x{G // SUBSET}), "
        f"fit_groups {mine:.3f} s, ratio {peer / mine:.1f}x; CPU time: statsmodels "
        f"{peer_cpu:.3f} s, fit_groups {mine_cpu:.3f} s, ratio {peer_cpu / mine_cpu:.1f}x"
    )
