"""Determinism and concurrency (issue 9, item 5).

- the same seed gives identical bootstrap results, a different seed different ones;
- results do not depend on the chunk size (bootstrap ``batch_size``, ``fit_stream``
  ``batch_size``) beyond 1e-12 relative;
- results do not depend on the number of devices (4 simulated CPU devices in a
  subprocess, since the device count is fixed when JAX starts);
- fitting from several Python threads at once gives what fitting serially gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from estimators.bootstrap import bootstrap
from estimators.glm import LogisticRegression
from estimators.location import Mean, Median
from estimators.regression import LinearRegression
from estimators.stream import fit_stream


def _data(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    eta = 0.2 + 0.8 * X["a"] - 0.5 * X["b"]
    y_lin = pd.Series(eta + rng.normal(size=n), name="y")
    y_bin = pd.Series((rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float), name="y")
    return X, y_lin, y_bin


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    "estimator, data",
    [
        (Mean(), lambda: _data()[1]),
        (Median(), lambda: _data()[1]),
        (LinearRegression(), lambda: (_data()[0], _data()[1])),
    ],
    ids=["Mean", "Median", "LinearRegression"],
)
def test_same_seed_identical_bootstrap(estimator, data):
    a = bootstrap(estimator, data(), n_resamples=200, seed=7)
    b = bootstrap(estimator, data(), n_resamples=200, seed=7)
    c = bootstrap(estimator, data(), n_resamples=200, seed=8)
    np.testing.assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    np.testing.assert_array_equal(np.asarray(a.standard_error), np.asarray(b.standard_error))
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)


def test_bootstrap_does_not_depend_on_batch_size():
    x = _data()[1]
    whole = bootstrap(Mean(), x, n_resamples=120, seed=3, batch_size=120)
    chunked = bootstrap(Mean(), x, n_resamples=120, seed=3, batch_size=7)
    np.testing.assert_allclose(
        chunked.bootstrap_distribution, whole.bootstrap_distribution, rtol=1e-12, atol=0
    )


# --------------------------------------------------------------------------- chunks


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_fit_stream_does_not_depend_on_chunk_size(kind):
    X, y_lin, y_bin = _data(1, n=300)
    y = y_lin if kind == "linear" else y_bin
    make = LinearRegression if kind == "linear" else LogisticRegression
    frame = pd.concat([X, y], axis=1)
    reference = make().fit(X, y)  # in memory
    for batch_size, piece in ((16, 37), (64, 100), (512, 300)):
        chunks = [frame.iloc[i : i + piece] for i in range(0, len(frame), piece)]
        fitted = fit_stream(
            make(), chunks, columns=["a", "b"], response="y", batch_size=batch_size
        )
        np.testing.assert_allclose(fitted.params_, reference.params_, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fitted.std_errors_, reference.std_errors_, rtol=1e-10)


# --------------------------------------------------------------------------- threads


def _fits(seed: int) -> list[np.ndarray]:
    X, y_lin, y_bin = _data(seed)
    return [
        Mean().fit(y_lin).params_.to_numpy(),
        Median().fit(y_lin).params_.to_numpy(),
        LinearRegression().fit(X, y_lin).std_errors_.to_numpy(),
        LogisticRegression().fit(X, y_bin).params_.to_numpy(),
    ]


def test_threads_give_the_serial_results():
    seeds = list(range(8))
    serial = [_fits(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(_fits, seeds))
    for a, b in zip(serial, threaded, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)


# --------------------------------------------------------------------------- devices

_DEVICES_SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd, jax
sys.path.insert(0, sys.argv[1])
from test_determinism import _data
from estimators.glm import LogisticRegression
from estimators.location import Mean
from estimators.regression import LinearRegression
from estimators.sharding import sharded
X, y_lin, y_bin = _data(2, n=203)  # not a multiple of 4: padding rows too
def fits():
    return [Mean().fit(y_lin).params_.tolist(),
            LinearRegression().fit(X, y_lin).params_.tolist(),
            LogisticRegression().fit(X, y_bin).params_.tolist()]
one = fits()
with sharded():
    four = fits()
print(json.dumps({"devices": len(jax.devices()), "one": one, "four": four}))
"""


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_devices():
    """4 simulated CPU devices (a subprocess: the count is fixed when JAX starts)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", _DEVICES_SCRIPT, here],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    for one, four in zip(result["one"], result["four"], strict=True):
        np.testing.assert_allclose(four, one, rtol=1e-12, atol=1e-14)
