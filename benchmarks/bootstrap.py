"""Bootstrap, 1,000 resamples: OLS (n = 10,000, k = 5) against a numpy lstsq loop, and the
median (n = 10,000) against scipy.stats.bootstrap (percentile). Steady state: each of ours
is run once first to compile. Prints the peer's time, ours and the ratio, measured in one run.

Then the fast kernels against the generic path (vmap of as_function's pure fit) on the
same data, for the decision to keep a kernel (kept where generic / fast > 1.5), and the
generic path of PoissonRegression and Huber (n = 2,000) against a loop of their own
weighted fits.

    /work/venv/bin/python benchmarks/bootstrap.py
"""

from __future__ import annotations

import functools
import sys
import time
import warnings

import numpy as np
from scipy import stats

from estimators.bootstrap import bootstrap
from estimators.glm import LogisticRegression, PoissonRegression
from estimators.location import Mean, Median, Quantile
from estimators.regression import LinearRegression
from estimators.robust_location import Huber

BOOTSTRAP = sys.modules["estimators.bootstrap"]  # the module (the package exports the function)

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

    fast_against_generic(rng)
    generic_against_loops(rng)


def fast_against_generic(rng: np.random.Generator) -> None:
    X = rng.normal(size=(N, K))
    y = X @ np.arange(1.0, K + 1) + rng.normal(size=N)
    y01 = (rng.random(N) < 1 / (1 + np.exp(-(0.3 + X @ [1.0, -1, 0.5, 0.2, 0])))).astype(float)
    x = rng.standard_t(df=3, size=N)
    fast_problem = BOOTSTRAP._problem

    def generic_problem(estimator, data, fit_kwargs):
        estimator = BOOTSTRAP._without_covariance(estimator)
        return BOOTSTRAP._generic_problem(estimator, data, fit_kwargs)

    cases = [
        (Mean(), x),
        (Median(), x),
        (Quantile(q=0.3), x),
        (LinearRegression(), (X, y)),
        (LogisticRegression(), (X, y01)),
    ]
    for estimator, data in cases:
        run = functools.partial(bootstrap, estimator, data, n_resamples=B, seed=1, progress=False)
        try:
            BOOTSTRAP._problem = generic_problem
            run()
            generic_t, generic = best_of(run), run()
        finally:
            BOOTSTRAP._problem = fast_problem
        run()
        fast_t, fast = best_of(run), run()
        diff = np.nanmax(np.abs(fast.bootstrap_distribution - generic.bootstrap_distribution))
        print(
            f"{type(estimator).__name__} B={B}, n={N}: fast kernel {fast_t:.3f} s, generic "
            f"{generic_t:.3f} s, generic/fast {generic_t / fast_t:.2f}x (max |diff| {diff:.1e})"
        )


def weighted_fits(kind: type, data: tuple, weights: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for w in weights:
            kind().fit(*data, sample_weight=w)


def generic_against_loops(rng: np.random.Generator) -> None:
    n, b_loop = 2000, 50
    X = rng.normal(size=(n, K))
    counts = rng.poisson(np.exp(0.2 + X @ [0.3, -0.2, 0.1, 0.0, 0.1])).astype(float)
    x = rng.standard_t(df=3, size=n)
    weights = rng.multinomial(n, np.ones(n) / n, size=b_loop).astype(float)
    for estimator, data in [(PoissonRegression(), (X, counts)), (Huber(), (x,))]:
        sample = data if len(data) == 2 else data[0]
        run = functools.partial(bootstrap, estimator, sample, n_resamples=B, progress=False)
        run()
        ours_t = best_of(run)
        loop = functools.partial(weighted_fits, type(estimator), data, weights)

        loop()
        loop_t = best_of(loop, 1) * B / b_loop
        print(
            f"{type(estimator).__name__} B={B}, n={n} (generic path): loop of its weighted "
            f"fits {loop_t:.3f} s (from {b_loop}), estimators {ours_t:.3f} s, "
            f"ratio {loop_t / ours_t:.2f}x"
        )


if __name__ == "__main__":
    main()
