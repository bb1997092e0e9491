"""Out-of-core logistic regression: fit_stream over a Parquet file vs the in-memory fit.

Writes a Parquet file (default 2e6 rows x 10 features, written in chunks so the
writer never holds it), fits LogisticRegression by streaming Newton, and
prints wall time, peak RSS (resource.getrusage ru_maxrss, read before anything
loads the whole file) and, for sizes up to 5e6 rows, the in-memory fit's time
and the largest relative difference of estimates and standard errors.

    /work/venv/bin/python benchmarks/stream.py            # 2e6 rows
    /work/venv/bin/python benchmarks/stream.py --rows 2e7 # the issue's size (no in-memory fit)
    /work/venv/bin/python benchmarks/stream.py --rows 2e7 --compare  # and the in-memory fit
                                                          # after it (needs ~8 GB of RAM)
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from estimators.glm import LogisticRegression
from estimators.stream import fit_stream

FEATURES = [f"x{j}" for j in range(10)]


def write(path: str, rows: int, chunk: int = 500_000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    beta = np.linspace(-0.5, 0.5, len(FEATURES))
    schema = pa.schema([(name, pa.float64()) for name in FEATURES + ["y"]])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            X = rng.normal(size=(n, len(FEATURES)))
            y = (rng.random(n) < 1 / (1 + np.exp(-(0.2 + X @ beta)))).astype(float)
            columns = {name: X[:, j] for j, name in enumerate(FEATURES)} | {"y": y}
            writer.write_table(pa.table(columns, schema=schema), row_group_size=128_000)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=2e6)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--compare", action="store_true", help="in-memory fit at any size")
    args = parser.parse_args()
    rows = int(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.parquet")
        write(path, rows)
        size_mb = os.path.getsize(path) / 2**20
        rss_before = peak_rss_mb()
        start = time.perf_counter()
        streamed = fit_stream(
            LogisticRegression(), path, columns=FEATURES, response="y", batch_size=args.batch_size
        )
        stream_s = time.perf_counter() - start
        rss_stream = peak_rss_mb()
        print(f"data: {rows:,} rows x {len(FEATURES)} features, Parquet {size_mb:.0f} MB")
        print(
            f"fit_stream (exact Newton): {stream_s:.2f} s, {streamed.n_passes_} passes, "
            f"{streamed.n_iter_} iterations, converged={streamed.converged_}"
        )
        print(
            f"peak RSS: {rss_stream:.0f} MB after the streaming fit ({rss_before:.0f} MB before); "
            f"Arrow pool peak {pa.default_memory_pool().max_memory() / 2**20:.0f} MB"
        )
        if rows > 5_000_000 and not args.compare:
            return
        table = pq.read_table(path)
        X, y = np.column_stack([table[c].to_numpy() for c in FEATURES]), table["y"].to_numpy()
        del table
        start = time.perf_counter()
        in_memory = LogisticRegression().fit(X, y)
        memory_s = time.perf_counter() - start
        params = np.max(np.abs(streamed.params_.to_numpy() / in_memory.params_.to_numpy() - 1))
        ses = np.max(
            np.abs(streamed.std_errors_.to_numpy() / in_memory.std_errors_.to_numpy() - 1)
        )
        print(
            f"in-memory LogisticRegression: {memory_s:.2f} s (data already loaded); "
            f"ratio stream / in-memory {stream_s / memory_s:.2f}"
        )
        print(f"max relative difference: estimates {params:.2e}, std errors {ses:.2e}")


if __name__ == "__main__":
    main()
