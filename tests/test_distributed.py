"""One fit across processes: 2 and 4 real processes on loopback equal the one-process fit.

The multi-process checks start separate Python processes with
:func:`estimators.distributed_local.run_local` (JAX's coordinator service and gloo
CPU collectives on 127.0.0.1, one CPU device each, a bounded wait, every
process killed in a ``finally``). Each process reads a different, unequal
share of the rows; each prints its fitted results as JSON. Reference: the
same estimator fitted in THIS process on all the rows (computed live), and
statsmodels 0.15 ``GLM`` (``method="newton"``, ``tol=1e-12``, computed live).
"""

from __future__ import annotations

import json
import signal
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from estimators.distributed import (
    DistributedError,
    agreed,
    allgather,
    global_max,
    global_sum,
    parquet_share,
    process_rows,
    process_rows_active,
    share_bounds,
)
from estimators.distributed import initialize as distributed_initialize
from estimators.distributed_glm import fit as distributed_fit
from estimators.distributed_glm import fit_spmd
from estimators.distributed_local import LocalRunTimeout, free_loopback_port, run_local
from estimators.errors import DataError, EstimationError, SettingsError
from estimators.glm import GLM, LogisticRegression, PoissonRegression

EXACT = 1e-12  # only the order of the additions differs from the one-process fit

WORKER = textwrap.dedent(
    r"""
    import json, os, sys, warnings
    import numpy as np, pandas as pd
    from estimators import distributed
    from estimators.distributed_glm import fit
    from estimators.glm import GLM, LogisticRegression, PoissonRegression

    distributed.initialize()  # address, count and index from run_local
    import jax

    k, P = distributed.process_index(), distributed.process_count()
    data = pd.read_parquet(sys.argv[1])
    cuts = np.array(json.loads(sys.argv[2]))  # process k: rows cuts[k] to cuts[k + 1]
    mine = data.iloc[cuts[k] : cuts[k + 1]]
    out = {"process": k, "count": P, "devices": len(jax.devices()), "local": len(mine)}
    # The fits, each on the rows of all processes.
    cases = {
        "logistic": lambda: fit(LogisticRegression(), mine[["x1", "x2", "x3"]], mine["b"]),
        "logistic_weighted_formula": lambda: fit(
            LogisticRegression(), mine, formula="b ~ x1 + x2 + np.exp(x3 / 4)",
            sample_weight=mine["w"],
        ),
        "poisson_exposure": lambda: fit(
            PoissonRegression(), mine[["x1", "x2", "x3", "t"]], mine["c"], exposure="t"
        ),
        "probit_no_intercept": lambda: fit(
            GLM("binomial", "probit", fit_intercept=False), mine[["x1", "x2"]], mine["b"]
        ),
        "poisson_ordinary_fit": lambda: ordinary_fit(),
    }

    def ordinary_fit():  # the estimator's own fit, inside a process_rows block
        with distributed.process_rows():
            return PoissonRegression().fit(mine[["x1", "x2", "x3", "t"]], mine["c"], exposure="t")

    for name, run in cases.items():
        m = run()
        out[name] = {
            "params": m.params_.tolist(),
            "se": m.std_errors_.tolist(),
            "names": m.params_.index.tolist(),
            "converged": bool(m.converged_),
            "n_iter": int(m.n_iter_),
            "nobs": float(m.nobs_),
            "stats": [m.llf_, m.deviance_, m.pearson_chi2_, m.llnull_, m.aic_, m.bic_],
            "summary": m.summary().to_numpy().tolist(),
            "mu_rows": len(m.mu_),
            "n_processes": m.n_processes_,
        }
    # Bad data on the last process; then the processes go on together.
    if k == P - 1:
        mine = mine.copy()
        mine.iloc[:3, mine.columns.get_loc("x2")] = np.nan
    try:
        fit(LogisticRegression(), mine[["x1", "x2", "x3"]], mine["b"])
        out["error"] = None
    except Exception as error:
        out["error"] = [type(error).__name__, str(error)]
    try:  # the program goes on: the processes are still in step afterwards
        again = fit(LogisticRegression(), mine[["x1", "x3"]], mine["b"])
        out["after"] = again.params_.tolist()
    except Exception as error:
        out["after"] = repr(error)
    collinear = mine[["x1", "x2"]].fillna(0).assign(x4=lambda d: d["x1"] - 2 * d["x2"])
    try:  # singular on all rows: the same DataError on every process
        fit(LogisticRegression(), collinear, mine["b"])
        out["collinear"] = None
    except Exception as error:
        out["collinear"] = [type(error).__name__, str(error)]
    # Every TCP socket this process holds, with its local and remote address.
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    addresses.append([fields[1].split(":")[0], fields[2].split(":")[0]])
    out["socket_addresses"] = addresses
    print("RESULT" + json.dumps(out), flush=True)
    """
)


def make_data(n: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    eta = 0.3 + x @ np.array([0.6, -0.4, 0.2])
    t = rng.uniform(0.5, 3.0, size=n)
    return pd.DataFrame(
        {
            "x1": x[:, 0],
            "x2": x[:, 1],
            "x3": x[:, 2],
            "b": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
            "c": rng.poisson(t * np.exp(eta - 0.3)).astype(float),
            "t": t,
            "w": rng.integers(1, 4, size=n).astype(float),
        }
    )


def run_workers(tmp_path, data: pd.DataFrame, cuts: list[int]) -> list[dict]:
    path = tmp_path / "data.parquet"
    data.to_parquet(path)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    argv = [sys.executable, str(script), str(path), json.dumps(cuts)]
    results = run_local(argv, len(cuts) - 1, timeout=240)
    out = []
    for code, stdout, stderr in results:
        assert code == 0, stderr[-4000:]
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT"))
        out.append(json.loads(line[len("RESULT") :]))
    return out


def single_process_fits(data: pd.DataFrame) -> dict:
    """The same estimators fitted here, in one process, on all the rows."""
    fits = {
        "logistic": LogisticRegression().fit(data[["x1", "x2", "x3"]], data["b"]),
        "logistic_weighted_formula": LogisticRegression().fit(
            data, formula="b ~ x1 + x2 + np.exp(x3 / 4)", sample_weight=data["w"]
        ),
        "poisson_exposure": PoissonRegression().fit(
            data[["x1", "x2", "x3", "t"]], data["c"], exposure="t"
        ),
        "probit_no_intercept": GLM("binomial", "probit", fit_intercept=False).fit(
            data[["x1", "x2"]], data["b"]
        ),
    }
    fits["poisson_ordinary_fit"] = fits["poisson_exposure"]
    return fits


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def is_loopback(hex_address: str) -> bool:
    """Whether a /proc/net/tcp(6) address (hex words) is in 127.0.0.0/8, ::1 or ::ffff:127.x."""
    if len(hex_address) == 8:
        return bytes.fromhex(hex_address)[::-1][0] == 127
    words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, 32, 8)]
    raw = b"".join(words)
    if raw == bytes(15) + b"\x01":
        return True
    return raw[:12] == bytes(10) + b"\xff\xff" and raw[12] == 127


N_ROWS = 3_001


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_data(N_ROWS)


@pytest.fixture(scope="module")
def reference(data) -> dict:
    return single_process_fits(data)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, data) -> list[dict]:
    return run_workers(tmp_path_factory.mktemp("two"), data, [0, 1_200, N_ROWS])


CASES = [
    "logistic",
    "logistic_weighted_formula",
    "poisson_exposure",
    "probit_no_intercept",
    "poisson_ordinary_fit",  # PoissonRegression().fit inside distributed.process_rows()
]


def check_equal_to_one_process(results: list[dict], reference: dict, case: str) -> None:
    ref = reference[case]
    first = results[0][case]
    for r in results:
        mine = r[case]
        assert mine["converged"] and mine["n_processes"] == len(results)
        assert mine["names"] == ref.params_.index.tolist()
        # Identical on every process (the same bits), and equal to the one-process fit.
        assert mine["params"] == first["params"] and mine["se"] == first["se"]
        assert mine["summary"] == first["summary"]
        assert mine["nobs"] == ref.nobs_
        assert mine["mu_rows"] == r["local"]
    assert relative(first["params"], ref.params_) < EXACT
    assert relative(first["se"], ref.std_errors_) < EXACT
    stats = [ref.llf_, ref.deviance_, ref.pearson_chi2_, ref.llnull_, ref.aic_, ref.bic_]
    assert relative(first["stats"], stats) < EXACT
    assert np.allclose(first["summary"], ref.summary().to_numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("case", CASES)
def test_two_processes_equal_one_process(two_processes, reference, case):
    assert [r["count"] for r in two_processes] == [2, 2]
    assert [r["devices"] for r in two_processes] == [2, 2]  # one global mesh of 2 devices
    assert [r["local"] for r in two_processes] == [1_200, N_ROWS - 1_200]
    check_equal_to_one_process(two_processes, reference, case)


def test_two_processes_agree_with_statsmodels(two_processes, data):
    sm = pytest.importorskip("statsmodels.api")
    X = sm.add_constant(data[["x1", "x2", "x3"]])
    ref = sm.GLM(data["b"], X, family=sm.families.Binomial()).fit(method="newton", tol=1e-12)
    r = two_processes[0]["logistic"]
    assert relative(r["params"], ref.params) < 1e-9
    assert relative(r["se"], ref.bse) < 1e-9


def test_processes_talk_over_loopback_only(two_processes):
    for r in two_processes:
        assert r["socket_addresses"], "the worker found no TCP sockets of its own"
        for local, remote in r["socket_addresses"]:
            # Bound to loopback (never to all interfaces, 0.0.0.0 / ::), and connected
            # to loopback or not connected (a listening socket's remote is all zeros).
            assert is_loopback(local), (local, remote)
            assert is_loopback(remote) or set(remote) == {"0"}, (local, remote)


def check_bad_data_stops_every_process(results: list[dict], data: pd.DataFrame) -> None:
    count = len(results)
    for r in results:
        kind, message = r["error"]
        assert kind == "DataError"
        assert message.startswith(f"process {count - 1} of {count}:")
        assert "x2" in message and "3 of" in message  # the column and its 3 rows
        # Every process went on to the next fit, together.
        assert isinstance(r["after"], list) and len(r["after"]) == 3
        assert r["after"] == results[0]["after"]
    # Singular on all rows: the one-process fit's own DataError, on every process.
    collinear = data[["x1", "x2"]].assign(x4=lambda d: d["x1"] - 2 * d["x2"])
    with pytest.raises(DataError, match="singular") as one_process:
        LogisticRegression().fit(collinear, data["b"])
    failed = f"({count} of {count} processes failed)"
    for r in results:
        assert r["collinear"] == [
            "DataError",
            f"process 0 of {count} {failed}: {one_process.value}",
        ]


def test_bad_rows_on_one_process_stop_every_process(two_processes, data):
    check_bad_data_stops_every_process(two_processes, data)


@pytest.mark.slow
def test_four_processes_equal_one_process(tmp_path, data, reference):
    results = run_workers(tmp_path, data, [0, 400, 1_500, 2_000, N_ROWS])
    assert [r["local"] for r in results] == [400, 1_100, 500, 1_001]
    for case in CASES:
        check_equal_to_one_process(results, reference, case)
    check_bad_data_stops_every_process(results, data)


# --------------------------------------------------------------------------- one process


def test_one_process_collectives_are_identities():
    assert allgather([1.0, 2.0]).tolist() == [[1.0, 2.0]]
    assert global_sum(np.array([1.5, 2.0])).tolist() == [1.5, 2.0]
    assert global_max(3.0) == 3.0
    assert agreed(lambda: "x") == "x"
    with pytest.raises(DataError, match="bad"):
        agreed(lambda: (_ for _ in ()).throw(DataError("bad")))


def test_one_process_fit_is_the_ordinary_fit(data):
    small = data.iloc[:300]
    m = distributed_fit(LogisticRegression(), small[["x1", "x2"]], small["b"])
    ref = LogisticRegression().fit(small[["x1", "x2"]], small["b"])
    assert m.params_.tolist() == ref.params_.tolist()
    with pytest.raises(SettingsError, match="supports GLM"):
        distributed_fit(object(), small[["x1"]], small["b"])
    with pytest.raises(SettingsError, match="groups"):
        distributed_fit(LogisticRegression(), small[["x1"]], small["b"], groups=small["w"])


@pytest.mark.parametrize("case", ["logistic_weighted_formula", "poisson_exposure"])
def test_multi_process_code_path_in_one_process_equals_the_ordinary_fit(data, reference, case):
    # fit_spmd is what every process runs when there are several; here over one.
    fits = {
        "logistic": lambda: fit_spmd(LogisticRegression(), data[["x1", "x2", "x3"]], data["b"]),
        "logistic_weighted_formula": lambda: fit_spmd(
            LogisticRegression(),
            data,
            formula="b ~ x1 + x2 + np.exp(x3 / 4)",
            sample_weight=data["w"],
        ),
        "poisson_exposure": lambda: fit_spmd(
            PoissonRegression(), data[["x1", "x2", "x3", "t"]], data["c"], exposure="t"
        ),
        "probit_no_intercept": lambda: fit_spmd(
            GLM("binomial", "probit", fit_intercept=False), data[["x1", "x2"]], data["b"]
        ),
    }
    m, ref = fits[case](), reference[case]
    assert m.converged_ and m.n_processes_ == 1
    assert relative(m.params_, ref.params_) < EXACT
    assert relative(m.std_errors_, ref.std_errors_) < EXACT
    stats = [m.llf_, m.deviance_, m.pearson_chi2_, m.llnull_, m.aic_, m.bic_]
    reference_stats = [ref.llf_, ref.deviance_, ref.pearson_chi2_, ref.llnull_, ref.aic_, ref.bic_]
    assert relative(stats, reference_stats) < EXACT
    assert m.nobs_ == ref.nobs_ and (m.mu_.index == ref.mu_.index).all()


def test_fit_entry_points_are_reachable_from_the_module():
    import estimators.distributed as distributed
    from estimators.distributed_dask import fit_groups_dask

    assert distributed.fit is distributed_fit
    assert distributed.fit_groups_dask is fit_groups_dask
    assert distributed.run_local is run_local
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        distributed.nothing  # noqa: B018


def test_process_rows_block_marks_the_fits_inside_it(data):
    small = data.iloc[:300]
    assert not process_rows_active()
    with process_rows():
        assert process_rows_active()
        # One process: the ordinary fit (which leaves the block while it runs, so a
        # GLM.fit that dispatches on the block does not come back here).
        m = distributed_fit(PoissonRegression(), small[["x1"]], small["c"])
        assert process_rows_active()
    assert not process_rows_active()
    ref = PoissonRegression().fit(small[["x1"]], small["c"])
    assert m.std_errors_.tolist() == ref.std_errors_.tolist()


def test_share_bounds_give_every_piece_to_one_process():
    for sizes in ([10] * 7, [1, 50, 3, 3, 3, 40], [5], [0, 0, 4]):
        for count in (1, 2, 3, 4):
            bounds = share_bounds(sizes, count)
            assert len(bounds) == count
            pieces = [j for first, stop in bounds for j in range(first, stop)]
            assert pieces == list(range(len(sizes)))
    assert share_bounds([10] * 8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]


def test_parquet_share_reads_every_row_once(tmp_path, data):
    folder = tmp_path / "parts"
    folder.mkdir()
    for j, part in enumerate(np.array_split(np.arange(len(data)), 3)):
        data.iloc[part].to_parquet(folder / f"part{j}.parquet", row_group_size=250)
    for count in (1, 2, 4):
        shares = [parquet_share(folder, ["x1", "b"], process=k, count=count) for k in range(count)]
        together = pd.concat(shares, ignore_index=True)
        assert together.columns.tolist() == ["x1", "b"]
        assert together["x1"].tolist() == data["x1"].tolist()  # all rows, once, in order
        sizes = [len(s) for s in shares]
        assert max(sizes) - min(sizes) <= 2 * 250
    with pytest.raises(DataError, match="no Parquet files"):
        parquet_share(tmp_path / "*.nothing")
    with pytest.raises(SettingsError, match="process must be in"):
        parquet_share(folder, process=2, count=2)


# --------------------------------------------------------------------------- bad input
# Every wait below is bounded: run_local kills every process after its timeout
# (in a finally), initialize() waits at most initialization_timeout seconds.

HEARTBEAT = 5  # s: JAX's coordination service ends a process whose peer stopped beating

BAD_WORKER = textwrap.dedent(
    r"""
    import json, os, sys, time
    import numpy as np, pandas as pd
    from estimators import distributed
    from estimators.distributed_glm import fit
    from estimators.glm import LogisticRegression

    distributed.initialize(heartbeat_timeout=int(sys.argv[1]))
    k, P = distributed.process_index(), distributed.process_count()
    rng = np.random.default_rng(k)
    n = 300
    x = rng.normal(size=(n, 3))
    d = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    d["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    # Categorical levels seen: a, b on process 0; a, b, c on the others.
    levels = ["a", "b"] if k == 0 else ["a", "b", "c"]
    d["g"] = np.array(levels)[np.arange(n) % len(levels)]
    out = {}

    def attempt(name, run):
        try:
            run()
            out[name] = None
        except Exception as error:
            out[name] = [type(error).__name__, str(error)]

    mine = ["x1", "x2"] if k == 0 else ["x1", "x3"]
    attempt("columns", lambda: fit(LogisticRegression(), d[mine], d["y"]))
    attempt("formula", lambda: fit(LogisticRegression(), d, formula="y ~ x1 + C(g)"))
    attempt("after", lambda: fit(LogisticRegression(), d[["x1"]], d["y"]))
    print("RESULT" + json.dumps(out), flush=True)
    # The last process dies before the next collective; the others must not hang.
    if k == P - 1:
        os._exit(3)
    start = time.monotonic()
    try:
        distributed.allgather(np.array([k]))
        error = None
    except Exception as caught:
        error = [type(caught).__name__, str(caught)]
    print("DEAD" + json.dumps({"error": error, "seconds": time.monotonic() - start}), flush=True)
    time.sleep(300)  # JAX's heartbeat check ends this process long before (SIGABRT)
    """
)


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory) -> dict:
    script = tmp_path_factory.mktemp("bad") / "bad_worker.py"
    script.write_text(BAD_WORKER)
    start = time.monotonic()
    results = run_local([sys.executable, str(script), str(HEARTBEAT)], 2, timeout=180)
    return {"results": results, "seconds": time.monotonic() - start}


def tagged(stdout: str, tag: str) -> dict:
    return json.loads(next(x for x in stdout.splitlines() if x.startswith(tag))[len(tag) :])


@pytest.mark.slow
def test_different_columns_are_one_data_error_on_every_process(bad_run):
    outs = [tagged(out, "RESULT") for _, out, _ in bad_run["results"]]
    for out in outs:
        kind, message = out["columns"]
        assert kind == "DataError"
        assert "column 'x2' only on process(es) [0]" in message
        assert "column 'x3' only on process(es) [1]" in message
        # A formula expanding to other columns (an unseen level) is the same error.
        kind, message = out["formula"]
        assert kind == "DataError"
        assert "column 'C(g)[T.c]' only on process(es) [1]" in message
        assert out["after"] is None  # the processes are still in step afterwards
    assert outs[0]["columns"] == outs[1]["columns"] and outs[0]["formula"] == outs[1]["formula"]


@pytest.mark.slow
def test_a_dead_process_ends_the_others_in_bounded_time(bad_run):
    (code0, out0, err0), (code1, _, _) = bad_run["results"]
    assert code1 == 3  # the process that left
    dead = tagged(out0, "DEAD")
    # The collective connected to the dead process fails at once, as our error ...
    kind, message = dead["error"]
    assert kind == "DistributedError"
    assert "process 0 of 2: a collective across the processes failed" in message
    assert dead["seconds"] < HEARTBEAT
    # ... and JAX's heartbeat check then ends the survivor (SIGABRT), naming process 1.
    assert code0 == -signal.SIGABRT
    assert "stopped sending heartbeats" in err0
    assert bad_run["seconds"] < 180


def test_an_unreachable_coordinator_is_a_clear_error_in_bounded_time():
    """Process 1 of 2 with nobody listening on the coordinator's port: our error, ~2 s."""
    address = f"127.0.0.1:{free_loopback_port()}"
    start = time.monotonic()
    with pytest.raises(DistributedError) as caught:
        # cpu_collectives=None and the early failure leave this process's JAX untouched.
        distributed_initialize(address, 2, 1, cpu_collectives=None, initialization_timeout=2)
    seconds = time.monotonic() - start
    message = str(caught.value)
    assert address in message and "process 1 of 2" in message
    assert "initialization_timeout=2 s" in message and "port" in message
    assert 2 <= seconds < 10
    assert isinstance(caught.value, EstimationError)


def test_initialize_refuses_unbounded_waits():
    with pytest.raises(SettingsError, match="heartbeat_timeout"):
        distributed_initialize("127.0.0.1:1", 2, 1, heartbeat_timeout=0)
    with pytest.raises(SettingsError, match="initialization_timeout"):
        distributed_initialize("127.0.0.1:1", 2, 1, initialization_timeout=-1)


@pytest.mark.slow
def test_a_peer_that_never_starts_ends_the_coordinator_in_bounded_time(tmp_path):
    """Process 1 exits before joining: JAX ends process 0 after initialization_timeout."""
    script = tmp_path / "lonely.py"
    script.write_text(
        "import os\nfrom estimators import distributed\n"
        "if os.environ['ESTIMATORS_PROCESS_ID'] == '1':\n    raise SystemExit(4)\n"
        "distributed.initialize(initialization_timeout=3)\nprint('joined')\n"
    )
    start = time.monotonic()
    (code0, out0, err0), (code1, _, _) = run_local([sys.executable, str(script)], 2, timeout=120)
    seconds = time.monotonic() - start
    assert code1 == 4 and code0 == -signal.SIGABRT and "joined" not in out0
    assert "DEADLINE_EXCEEDED" in err0 and "RegisterTask" in err0
    assert seconds < 60


def test_run_local_timeout_names_the_hung_process_with_its_stderr():
    program = (
        "import os, sys, time\n"
        "if os.environ['ESTIMATORS_PROCESS_ID'] == '1':\n"
        "    print('waiting for a peer that is gone', file=sys.stderr, flush=True)\n"
        "    time.sleep(120)\n"
    )
    start = time.monotonic()
    with pytest.raises(LocalRunTimeout) as caught:
        run_local([sys.executable, "-c", program], 2, timeout=4)
    assert time.monotonic() - start < 30
    message = str(caught.value)
    assert "1 of 2 local processes did not finish in 4 s (still running: [1]" in message
    assert "process 1: still running; stderr tail:\nwaiting for a peer that is gone" in message
    assert "process 0" not in message.split("\n", 1)[1]  # it finished cleanly
    assert isinstance(caught.value, TimeoutError)
