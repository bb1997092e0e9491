"""Row sharding: one fit across 4 (host) devices equals the single-device fit.

The multi-device checks run once, in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the device count is
fixed when JAX starts, so it cannot change inside this test process); the
worker prints its measurements as JSON and the tests below assert on them.
References: the same fit on one device (computed live in the worker) and
statsmodels 0.15 ``Logit.fit(method="newton", tol=1e-12)`` (computed live).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from estimators.errors import DataError, SettingsError
from estimators.sharding import (
    active_mesh,
    is_row_sharded,
    padded_rows,
    put_rows,
    row_mesh,
    shard_rows,
    sharded,
)

EXACT = 1e-12  # sharded vs single device: only the order of the additions differs

WORKER = textwrap.dedent(
    r"""
    import json
    import jax, jax.numpy as jnp, numpy as np
    import statsmodels.api as sm
    from estimators.solve import minimize
    from estimators.glm_kernels import row_chunks
    from estimators.sharding import (
        is_row_sharded, put_rows, row_mesh, shard_rows, sharded, sharded_row_chunks,
    )
    from estimators.errors import SettingsError

    out = {"devices": len(jax.devices())}
    mesh = row_mesh()
    rng = np.random.default_rng(6)
    n, p = 10_003, 5  # 10,003 rows: not a multiple of 4, so one padding row
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    beta_true = np.array([0.3, -0.5, 0.8, 0.0, 0.25])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ beta_true))).astype(float)
    data = shard_rows(X, y, mesh=mesh)
    Xs, ys = data.arrays
    ws = data.weights
    out["padded_rows"] = int(Xs.shape[0])
    out["padding_weight"] = float(np.asarray(ws)[n:].sum())
    out["weight_sum"] = float(np.asarray(ws).sum())
    out["dtype"] = str(Xs.dtype)
    out["sharded"] = [is_row_sharded(a, mesh) for a in (Xs, ys, ws)]
    out["shard_rows"] = sorted(int(s.data.shape[0]) for s in Xs.addressable_shards)
    out["shard_devices"] = len({s.device for s in Xs.addressable_shards})

    def nll(eta, y):
        return jnp.logaddexp(0.0, eta) - y * eta

    def whole_loss(params, X, y, w):  # whole-array jnp: GSPMD partitions it
        return w @ nll(X @ params["beta"], y) / jnp.sum(w)

    def standard_errors(loss, params, *args):
        with jax.enable_x64(True):
            h = jax.jit(jax.hessian(loss))(params, *args)["beta"]["beta"]
            return np.sqrt(np.diag(np.linalg.inv(np.asarray(h) * n))).tolist()

    def hlo(fn, *args):
        with jax.enable_x64(True):
            return jax.jit(fn).lower(*args).compile().as_text()

    start = {"beta": np.zeros(p)}
    one = (X, y, np.ones(n))
    for solver in ("newton", "lbfgs"):
        single = minimize(whole_loss, start, *one, solver=solver)
        multi = minimize(whole_loss, start, Xs, ys, ws, solver=solver)
        out[f"whole_{solver}"] = {
            "single": single.params["beta"].tolist(),
            "sharded": multi.params["beta"].tolist(),
            "converged": [single.converged, multi.converged],
            "se_single": standard_errors(whole_loss, single.params, *one),
            "se_sharded": standard_errors(whole_loss, multi.params, Xs, ys, ws),
        }
    with jax.enable_x64(True):
        text = hlo(jax.value_and_grad(whole_loss), {"beta": jnp.zeros(p)}, Xs, ys, ws)
    out["whole_hlo"] = {"all_reduce": "all-reduce" in text, "all_gather": "all-gather" in text}

    # The blocked kernel of the structured Newton (glm_kernels.row_chunks), 512-row
    # blocks: several per device. Loss and Hessian X^T diag(w l'') X / sum(w).
    def blocked(reduce):
        def loss(params, X, y, w):
            def block(x, yb, wb, b):
                return wb @ nll(x @ b, yb)

            return reduce(block, (X, y), w, params["beta"]) / jnp.sum(w)

        def hessian(params, X, y, w):
            def gram(x, yb, wb, b):
                mu = jax.nn.sigmoid(x @ b)
                return (x * (wb * mu * (1 - mu))[:, None]).T @ x

            return reduce(gram, (X, y), w, params["beta"]) / jnp.sum(w)

        return loss, hessian

    def plain(fn, arrays, w, *replicated):  # glm_kernels.row_chunks on one device
        return row_chunks(lambda *block: fn(*block, *replicated), arrays, w, chunk=512)

    loss1, hess1 = blocked(plain)
    lossd, hessd = blocked(sharded_row_chunks(mesh, chunk=512))
    single = minimize(loss1, start, *one, solver="newton", hessian=hess1)
    multi = minimize(lossd, start, Xs, ys, ws, solver="newton", hessian=hessd)

    def se_from(hess, params, *args):
        with jax.enable_x64(True):
            h = np.asarray(jax.jit(hess)({"beta": jnp.asarray(params["beta"])}, *args))
        return np.sqrt(np.diag(np.linalg.inv(h * n))).tolist()

    out["blocked"] = {
        "single": single.params["beta"].tolist(),
        "sharded": multi.params["beta"].tolist(),
        "converged": [single.converged, multi.converged],
        "n_iter": [single.n_iter, multi.n_iter],
        "se_single": se_from(hess1, single.params, *one),
        "se_sharded": se_from(hessd, multi.params, Xs, ys, ws),
    }
    zero = {"beta": jnp.zeros(p)}
    for name, hess in (("blocked_hlo_sharded", hessd), ("blocked_hlo_gspmd", hess1)):
        text = hlo(hess, zero, Xs, ys, ws)
        out[name] = {"all_reduce": "all-reduce" in text, "all_gather": "all-gather" in text}

    ref = sm.Logit(y, X).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    out["statsmodels"] = {"params": ref.params.tolist(), "bse": ref.bse.tolist()}

    with sharded() as active:
        with jax.enable_x64(True):
            placed = put_rows(np.zeros((8, 3)))
        out["put_rows_sharded"] = is_row_sharded(placed, active)
        try:
            put_rows(np.zeros(10))
            out["put_rows_error"] = None
        except SettingsError as error:
            out["put_rows_error"] = str(error)

    # The estimators inside `with sharded():`: spies on the minimize each module
    # calls record whether the row arrays it got are sharded, and the compiled
    # kernels on those very arrays are checked for an all-gather.
    import pandas as pd
    import estimators.glm as glm_module
    import estimators.likelihood as likelihood_module
    import estimators.location as location_module
    from estimators.glm import LogisticRegression, PoissonRegression
    from estimators.likelihood import MaximumLikelihood
    from estimators.location import Mean, Median

    calls = []

    def spy(module):
        original = module.minimize

        def recording(fun, params0, *args, **kwargs):
            calls.append((fun, params0, args, kwargs))
            return original(fun, params0, *args, **kwargs)

        module.minimize = recording

    def spy_fused(module):
        # The GLMs' structured Newton may run in glm_newton.fused_newton (one pass
        # over X an iteration) rather than minimize: record its arguments alike.
        original = module.fused_newton

        def recording(family, link, estimate_alpha, params0, args, **kwargs):
            calls.append((("fused", family, link, estimate_alpha), params0, args, kwargs))
            return original(family, link, estimate_alpha, params0, args, **kwargs)

        module.fused_newton = recording

    for module in (glm_module, likelihood_module, location_module):
        if hasattr(module, "minimize"):
            spy(module)
    if hasattr(glm_module, "fused_newton"):
        spy_fused(glm_module)

    def fused_gathers(key, params0, args, kwargs):
        from estimators.glm_newton import _fused_newton
        from estimators.solve import DEFAULT_MAX_ITER

        _, family, link, estimate_alpha = key
        max_iter = kwargs.get("max_iter") or DEFAULT_MAX_ITER["newton"]
        runner = _fused_newton(family, link, estimate_alpha, kwargs.get("mesh"), max_iter)
        with jax.enable_x64(True):
            theta0 = jnp.asarray(params0["coef"])
            text = hlo(runner, theta0, jnp.float64(1e-10), *args)
        return {"all_reduce": "all-reduce" in text, "all_gather": "all-gather" in text}

    def gathers(fun, params0, args):
        with jax.enable_x64(True):
            text = hlo(fun, jax.tree.map(jnp.asarray, params0), *args)
        return {"all_reduce": "all-reduce" in text, "all_gather": "all-gather" in text}

    n_est = 6_001  # not a multiple of 4, not a bucket
    frame = pd.DataFrame(rng.normal(size=(n_est, 3)), columns=["a", "b", "c"])
    eta = 0.2 + frame.to_numpy() @ np.array([0.5, -0.3, 0.1])
    binary = (rng.uniform(size=n_est) < 1 / (1 + np.exp(-eta))).astype(float)
    counts = rng.poisson(np.exp(eta)).astype(float)
    values = 3.0 + 2.0 * rng.standard_t(5, size=n_est)
    cases = {
        "logistic": (lambda: LogisticRegression(), (frame, binary)),
        "poisson": (lambda: PoissonRegression(), (frame, counts)),
        "mean": (lambda: Mean(), (values,)),
        "median": (lambda: Median(), (values,)),
        "normal": (lambda: MaximumLikelihood("normal"), (values,)),
        "student_t": (lambda: MaximumLikelihood("student_t"), (values,)),
    }
    out["estimators"] = {}
    for name, (make, data_args) in cases.items():
        calls.clear()
        single = make().fit(*data_args)
        single_call = calls[0]
        calls.clear()
        with sharded():
            multi = make().fit(*data_args)
        fun, params0, args, kwargs = calls[0]
        leaves = [a for a in jax.tree.leaves(args) if np.ndim(a) >= 1]
        length = max((a.shape[0] for a in leaves), default=0)
        rows = [a for a in leaves if a.shape[0] == length > 64]  # not the p-vector col_scale
        record = {
            "params": [single.params_.tolist(), multi.params_.tolist()],
            "se": [single.std_errors_.tolist(), multi.std_errors_.tolist()],
            "converged": [bool(single.converged_), bool(multi.converged_)],
            "single_sharded": any(is_row_sharded(a) for a in jax.tree.leaves(single_call[2])),
            "row_arrays": len(rows),
            "rows_sharded": [is_row_sharded(a, mesh) for a in rows],
        }
        if isinstance(fun, tuple):  # fused_newton: loss, gradient and Hessian in one kernel
            record["loss_hlo"] = record["hessian_hlo"] = fused_gathers(fun, params0, args, kwargs)
        else:
            if rows:
                record["loss_hlo"] = gathers(jax.value_and_grad(fun), params0, args)
            if kwargs.get("hessian") is not None:
                record["hessian_hlo"] = gathers(kwargs["hessian"], params0, args)
        out["estimators"][name] = record
    print("RESULT" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def four_devices() -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    run = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-4000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def relative(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --------------------------------------------------------------------------- 4 devices


def test_arrays_are_split_by_rows_over_four_devices(four_devices):
    r = four_devices
    assert r["devices"] == 4
    assert r["sharded"] == [True, True, True]
    assert r["shard_devices"] == 4
    assert r["shard_rows"] == [2501, 2501, 2501, 2501]  # 10,003 rows + 1 padding row
    assert r["padded_rows"] == 10_004
    assert r["padding_weight"] == 0.0 and r["weight_sum"] == 10_003
    assert r["dtype"] == "float64"


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_whole_array_loss_sharded_equals_single_device(four_devices, solver):
    r = four_devices[f"whole_{solver}"]
    assert r["converged"] == [True, True]
    assert relative(r["sharded"], r["single"]) < EXACT
    assert relative(r["se_sharded"], r["se_single"]) < EXACT


def test_whole_array_loss_is_partitioned_not_gathered(four_devices):
    # GSPMD splits the whole-array loss: partial sums + all-reduce, no copy of X.
    assert four_devices["whole_hlo"] == {"all_reduce": True, "all_gather": False}


def test_blocked_structured_newton_sharded_equals_single_device(four_devices):
    r = four_devices["blocked"]
    assert r["converged"] == [True, True]
    assert relative(r["sharded"], r["single"]) < EXACT
    assert relative(r["se_sharded"], r["se_single"]) < EXACT


def test_blocked_kernel_needs_shard_map_to_be_partitioned(four_devices):
    # Left to GSPMD, the dynamic_slice loop over the sharded rows gathers X onto
    # every device; sharded_row_chunks keeps each device on its own rows.
    assert four_devices["blocked_hlo_gspmd"]["all_gather"] is True
    assert four_devices["blocked_hlo_sharded"] == {"all_reduce": True, "all_gather": False}


def test_sharded_fits_agree_with_statsmodels_logit(four_devices):
    ref = four_devices["statsmodels"]  # statsmodels 0.15 Logit, Newton, tol=1e-12
    for key in ("whole_newton", "blocked"):
        assert relative(four_devices[key]["sharded"], ref["params"]) < 1e-9
        assert relative(four_devices[key]["se_sharded"], ref["bse"]) < 1e-9


def test_put_rows_inside_sharded_block(four_devices):
    assert four_devices["put_rows_sharded"] is True
    message = four_devices["put_rows_error"]
    assert "10 rows" in message and "4 devices" in message


# --------------------------------------------------------------------------- one device


def test_padded_rows():
    assert padded_rows(10_003, 4) == 10_004
    assert padded_rows(8, 4) == 8
    assert padded_rows(1, 4) == 4
    assert padded_rows(1500, 3, bucket=True) == 2049  # bucket 2048, then a multiple of 3


def test_shard_rows_on_one_device_pads_with_zero_weights():
    mesh = row_mesh(jax.devices()[:1])
    data = shard_rows(
        np.arange(6.0).reshape(3, 2), weights=[1.0, 2.0, 0.5], mesh=mesh, bucket=True
    )
    (x,) = data.arrays
    assert x.shape == (1024, 2) and x.dtype == np.float64
    assert is_row_sharded(x, mesh)
    w = np.asarray(data.weights)
    assert w[:3].tolist() == [1.0, 2.0, 0.5] and not w[3:].any()
    assert data.n_rows == 3
    assert not jax.config.jax_enable_x64  # placed in float64 without touching the flag


def test_put_rows_outside_sharded_is_a_plain_device_put():
    assert active_mesh() is None
    placed = put_rows(np.zeros(5, dtype=np.float32))
    assert not isinstance(placed.sharding, jax.sharding.NamedSharding)
    with sharded(jax.devices()[:1]) as mesh:
        assert active_mesh() is mesh
    assert active_mesh() is None


def test_bad_input_is_a_clear_error():
    mesh = row_mesh(jax.devices()[:1])
    with pytest.raises(DataError, match="array 1 has 4 rows, array 0 has 3"):
        shard_rows(np.zeros(3), np.zeros(4), mesh=mesh)
    x = np.array([[1.0, np.nan], [2.0, 3.0], [np.inf, 0.0]])
    with pytest.raises(DataError, match="array 0 has 2 row"):
        shard_rows(x, mesh=mesh)
    with pytest.raises(DataError, match="weights has 1 negative"):
        shard_rows(np.zeros(3), weights=[1.0, -1.0, 1.0], mesh=mesh)
    with pytest.raises(DataError, match=r"weights has shape \(2,\)"):
        shard_rows(np.zeros(3), weights=[1.0, 1.0], mesh=mesh)
    with pytest.raises(SettingsError, match="at least one data array"):
        shard_rows(mesh=mesh)
    with pytest.raises(SettingsError, match="unknown dtype"):
        shard_rows(np.zeros(3), mesh=mesh, dtype="float16")
    with pytest.raises(SettingsError, match="devices is empty"):
        row_mesh([])
    with pytest.raises(SettingsError, match="must be jax devices"):
        row_mesh(["cpu:0"])


# --------------------------------------------------------------------------- estimators


ESTIMATORS = ["logistic", "poisson", "mean", "median", "normal", "student_t"]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_fitted_sharded_equals_single_device(four_devices, name):
    r = four_devices["estimators"][name]
    assert r["converged"] == [True, True]
    single, multi = r["params"]
    assert relative(multi, single) < EXACT
    se_single, se_multi = r["se"]
    assert relative(se_multi, se_single) < EXACT


@pytest.mark.parametrize("name", ["logistic", "poisson", "mean", "median", "student_t"])
def test_estimator_rows_are_sharded_inside_the_block_only(four_devices, name):
    r = four_devices["estimators"][name]
    assert r["single_sharded"] is False  # outside `sharded()`: one device, as before
    assert r["row_arrays"] >= 2 and all(r["rows_sharded"])
    # The kernels on the arrays the estimator passed: partial sums and an
    # all-reduce, no copy of the rows onto every device.
    assert r["loss_hlo"] == {"all_reduce": True, "all_gather": False}


@pytest.mark.parametrize("name", ["logistic", "poisson"])
def test_glm_structured_hessian_is_reduced_per_device(four_devices, name):
    assert four_devices["estimators"][name]["hessian_hlo"] == {
        "all_reduce": True,
        "all_gather": False,
    }


def test_normal_likelihood_fits_on_statistics_without_rows(four_devices):
    # MaximumLikelihood("normal") minimises over sufficient statistics (scalars):
    # no rows reach minimize, so there is nothing to shard in the loop.
    assert four_devices["estimators"]["normal"]["row_arrays"] == 0
