"""Bootstrap, 1,000 resamples: OLS (n = 10,000, k = 5) against a numpy lstsq loop, and the
median (n = 10,000) against scipy.stats.bootstrap (percentile). Steady state: each of ours
is run once first to compile. Prints the peer's time, ours and the ratio, measured in one run.

    /work/venv/bin/python benchmarks/bootstrap.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from estimators.bootstrap import bootstrap
from estimators.location import Median
from estimators.regression import LinearRegression

B, N, K, REPEATS = 1000, 10_000, 5, 3


def best_of(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_ols_loop(X1: np.ndarray, y: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = np.empty((B, X1.shape[1]))
    for b in range(B):
        rows = rng.integers(0, N, N)
        out[b] = np.linalg.lstsq(X1[rows], y[rows], rcond=None)[0]
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, K))
    y = X @ np.arange(1.0, K + 1) + rng.normal(size=N)
    X1 = np.c_[np.ones(N), X]
    ours = lambda: bootstrap(LinearRegression(), (X, y), n_resamples=B, seed=1)  # noqa: E731
    ours()
    peer_t, ours_t = best_of(lambda: numpy_ols_loop(X1, y)), best_of(ours)
    se_peer = numpy_ols_loop(X1, y).std(axis=0, ddof=1)
    se_ours = ours().standard_error.to_numpy()
    print(
        f"OLS bootstrap B={B}, n={N}, k={K}: numpy lstsq loop {peer_t:.3f} s, "
        f"estimators {ours_t:.3f} s, ratio {peer_t / ours_t:.2f}x "
        f"(SE ratio ours/peer {np.round(se_ours / se_peer, 3).tolist()})"
    )

    x = rng.standard_t(df=3, size=N)
    scipy_run = lambda: stats.bootstrap(  # noqa: E731
        (x,), np.median, n_resamples=B, method="percentile", random_state=1
    )
    ours_med = lambda: bootstrap(Median(), x, n_resamples=B, seed=1)  # noqa: E731
    ours_med()
    peer_t, ours_t = best_of(scipy_run), best_of(ours_med)
    ci_peer, ci_ours = scipy_run().confidence_interval, ours_med().confidence_interval
    print(
        f"median bootstrap B={B}, n={N}: scipy.stats.bootstrap {peer_t:.3f} s, "
        f"estimators {ours_t:.3f} s, ratio {peer_t / ours_t:.2f}x "
        f"(CI scipy [{ci_peer.low:.4f}, {ci_peer.high:.4f}], "
        f"ours [{ci_ours.iloc[0, 0]:.4f}, {ci_ours.iloc[0, 1]:.4f}])"
    )


if __name__ == "__main__":
    main()
