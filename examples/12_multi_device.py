"""12. Several devices: one fit with its rows split across devices equals the single-device fit.

Data: the 1996 American National Election Study (``anes96``) for a logit, the
RAND Health Insurance Experiment (``randhie``) for a Poisson model of doctor
visits, Michelson's speeds of light (``michelson``) for the median.

This script asks XLA for 4 simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set before JAX is
imported: the device count is fixed when JAX starts). On a machine with several
GPUs the same code spans them. Inside ``with estimators.sharding.sharded():``
the estimators place their rows across the devices (padded with zero-weight
rows to a multiple of the device count); each device reduces its own rows and
the partial sums are added. The estimates and standard errors equal the
single-device ones up to the order of floating-point additions: the largest
relative difference is printed. Then the low-level route: ``shard_rows`` and
``est.minimize`` with a loss of your own.
"""

import os

# Before anything imports jax. setdefault: a device count set by the caller wins.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from estimators.datasets import load_dataset  # noqa: E402

import estimators as est  # noqa: E402
from estimators.sharding import row_mesh, shard_rows, sharded  # noqa: E402


def relative_difference(a: pd.Series, b: pd.Series) -> float:
    """Largest |a - b| / |b| over the entries."""
    return float(np.max(np.abs(a.to_numpy() - b.to_numpy()) / np.abs(b.to_numpy())))


def main() -> float:
    """Fit on one device and across all; return the largest relative difference."""
    devices = jax.devices()
    print(f"{len(devices)} devices: {[str(d) for d in devices]}")

    anes, randhie = load_dataset("anes96"), load_dataset("randhie")
    speed = load_dataset("michelson")["speed"]
    fits = {
        "LogisticRegression (anes96)": lambda: est.LogisticRegression().fit(
            anes, formula="vote ~ selfLR + PID + educ + np.log(income)"
        ),
        "PoissonRegression (randhie)": lambda: est.PoissonRegression().fit(
            randhie, formula="mdvis ~ lncoins + idp + lpi + fmde + physlm + disea"
        ),
        "Median (michelson)": lambda: est.Median().fit(speed),
    }
    rows = {}
    for name, fit in fits.items():
        single = fit()
        with sharded() as mesh:  # every local device
            split = fit()
        rows[name] = {
            "devices": int(mesh.devices.size),
            "estimates": relative_difference(split.params_, single.params_),
            "std_errors": relative_difference(split.std_errors_, single.std_errors_),
        }
    table = pd.DataFrame(rows).T.astype({"devices": int})
    print("\nRelative differences, rows split over the devices vs one device:")
    print(table.to_string(formatters={c: "{:.1e}".format for c in ["estimates", "std_errors"]}))
    largest = float(table[["estimates", "std_errors"]].to_numpy().max())
    print(f"largest relative difference, sharded vs single device: {largest:.1e}")

    # The low-level route: place arrays yourself, then any loss through est.minimize.
    # Party identification on left-right placement and age, by least squares.
    X = np.column_stack([np.ones(len(anes)), anes[["selfLR", "age"]].to_numpy(float)])
    y = anes["PID"].to_numpy(float)
    data = shard_rows(X, y, mesh=row_mesh())
    X_rows = data.arrays[0]
    shapes = [shard.data.shape for shard in X_rows.addressable_shards]
    print(f"\nshard_rows: {data.n_rows} rows padded to {X_rows.shape[0]}, shards {shapes}")

    def weighted_squares(params, X, y, w):
        return jnp.sum(w * (y - X @ params["beta"]) ** 2) / jnp.sum(w)

    beta0 = {"beta": np.zeros(3)}
    split = est.minimize(weighted_squares, beta0, *data.arrays, data.weights, solver="newton")
    alone = est.minimize(weighted_squares, beta0, X, y, np.ones(len(y)), solver="newton")
    gap = float(np.max(np.abs(np.asarray(split.params["beta"]) - alone.params["beta"])))
    print(f"est.minimize on the sharded arrays: {split.message}; "
          f"largest difference from one device: {gap:.1e}")  # fmt: skip
    return largest


if __name__ == "__main__":
    main()
