"""11. Streaming from Parquet: an exact fit on data read chunk by chunk.

Data: simulated loan outcomes written to a directory of Parquet files (a
temporary directory, removed afterwards): default (0/1) against income, debt
ratio and age, with known coefficients. ``ESTIMATORS_EXAMPLE_FAST=1`` writes
fewer rows.

Shows ``est.fit_stream`` on the directory: a logistic regression by Newton's
method whose gradient and Hessian are summed over chunks of ``batch_size``
rows (memory stays a few chunks, whatever the number of rows), equal to the
in-memory fit; a least-squares fit in one pass (streaming QR); and the
approximate minibatch mode, labelled with its distance from the exact fit.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import estimators as est

FAST = os.environ.get("ESTIMATORS_EXAMPLE_FAST") == "1"
N_ROWS = 40_000 if FAST else 1_000_000
N_FILES = 4
TRUTH = {"Intercept": -2.0, "income": -0.8, "debt_ratio": 1.5, "age": -0.3}
COLUMNS = ["income", "debt_ratio", "age"]


def write_loans(folder: Path, n_rows: int, n_files: int, seed: int = 0) -> pd.DataFrame:
    """Simulate the loans, write them as ``n_files`` Parquet files; return them in memory too."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, len(COLUMNS)))
    eta = TRUTH["Intercept"] + X @ np.array([TRUTH[c] for c in COLUMNS])
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-eta))).astype(float)
    frame = pd.DataFrame(X, columns=COLUMNS).assign(default=y, spend=X @ [3.0, -1.0, 0.5])
    frame["spend"] += rng.normal(size=n_rows)
    for i, part in enumerate(np.array_split(np.arange(n_rows), n_files)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    return frame


def main() -> float:
    """Stream the fits; return the largest relative difference from the in-memory logit."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "loans"
        folder.mkdir()
        frame = write_loans(folder, N_ROWS, N_FILES)
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print(f"{N_ROWS} rows in {N_FILES} Parquet files ({size:.1f} MB) under {folder}")

        # Rows a chunk (the default is 65,536). A power of two: the minibatch mode's
        # minibatch_size (default 1024) must divide it.
        batch = 2048 if FAST else 65_536
        logit = est.fit_stream(
            est.LogisticRegression(), folder, columns=COLUMNS, response="default",
            batch_size=batch, progress=False,
        )  # fmt: skip
        print(f"\nStreamed logistic regression ({logit.n_passes_} passes over "
              f"{logit.n_rows_read_} rows, chunks of {batch}):")  # fmt: skip
        print(logit.summary().assign(truth=pd.Series(TRUTH)).round(5).to_string())

        memory = est.LogisticRegression().fit(frame[COLUMNS], frame["default"])
        gaps = [
            np.max(np.abs(logit.params_ - memory.params_) / np.abs(memory.params_)),
            np.max(np.abs(logit.std_errors_ - memory.std_errors_) / memory.std_errors_),
        ]
        difference = float(max(gaps))
        print(f"largest relative difference from the in-memory fit: {difference:.1e}")

        ols = est.fit_stream(
            est.LinearRegression(), folder, columns=COLUMNS, response="spend",
            batch_size=batch, progress=False,
        )  # fmt: skip
        print(f"\nStreamed least squares in {ols.n_passes_} pass (TSQR):")
        print(ols.params_.round(4).to_string())

        rough = est.fit_stream(
            est.LogisticRegression(), folder, columns=COLUMNS, response="default",
            batch_size=batch, method="minibatch", n_epochs=5, learning_rate=0.5, progress=False,
        )  # fmt: skip
        # learning_rate=0.5: with the default 0.05 adam ends about 50 standard errors
        # away after 5 epochs on these data (measured), and the fit says so.
        print(f"\nMinibatch adam, 5 epochs (approximate): {rough.distance_se_:.2f} standard "
              f"errors from the exact estimate, converged_ = {rough.converged_}")  # fmt: skip
    return difference


if __name__ == "__main__":
    main()
