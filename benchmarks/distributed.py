"""One logistic fit across 1, 2 and 4 local processes (jax.distributed, gloo on loopback).

For a fixed total n (default 4e6 rows x 20 columns, intercept included),
each process generates its own share of the rows (blocks of 250,000 rows,
each from its own seed, so the data are the same whatever the number of
processes) and the processes fit one LogisticRegression together with
``estimators.distributed_glm.fit``. Printed per process count, from the
same run:

- ``fit_s``: the whole fit (validation, collectives, Newton loop, inference)
  by the multi-process code path (``distributed_glm.fit_spmd``, also for 1
  process), second call (the first compiles); for 1 process the ordinary
  ``LogisticRegression().fit`` is timed too;
- ``n_iter``: Newton iterations;
- ``iteration_s``: one Newton iteration on the sharded design: the loss and
  gradient plus the structured Hessian, median of 5 (compiled);
- ``allreduce_bytes``: the payload of the all-reduces in one iteration, read
  from the compiled HLO (``all-reduce`` operands): (1 + p) values for the loss
  and gradient, p x p for the Hessian, 8 bytes each, whatever n.

Run: ``python benchmarks/distributed.py [--rows 4000000] [--processes 1 2 4]``.
The processes share this machine's cores: on a machine with fewer cores than
processes the time per iteration cannot fall (see docs/distributed.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import numpy as np

BLOCK = 250_000
P_COLUMNS = 20


def block_rows(index: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Block ``index`` of the data: ``rows`` x 19 features and a 0/1 response."""
    rng = np.random.default_rng(1_000 + index)
    x = rng.normal(size=(rows, P_COLUMNS - 1))
    beta = np.linspace(-0.5, 0.5, P_COLUMNS - 1)
    eta = 0.2 + x @ beta / 2
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    return x, y


def allreduce_bytes(hlo: str) -> int:
    """Bytes of the operands of every all-reduce in compiled HLO text."""
    total = 0
    for line in hlo.splitlines():
        if " all-reduce(" not in line and " all-reduce-start(" not in line:
            continue
        shape = line.split("=", 1)[1].split("all-reduce", 1)[0]
        for dtype, dims in re.findall(r"(f64|f32|s32|pred)\[([\d,]*)\]", shape):
            size = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
            total += size * {"f64": 8, "f32": 4, "s32": 4, "pred": 1}[dtype]
    return total


def worker(n_rows: int) -> None:
    from estimators import distributed

    distributed.initialize()
    import jax

    from estimators.distributed_glm import fit_spmd
    from estimators.glm import LogisticRegression
    from estimators.glm_kernels import loss_and_hessian
    from estimators.sharding import row_mesh, shard_rows

    k, count = distributed.process_index(), distributed.process_count()
    n_blocks = n_rows // BLOCK
    mine = [b for b in range(n_blocks) if b * count // n_blocks == k]
    parts = [block_rows(b, BLOCK) for b in mine]
    X = np.concatenate([x for x, _ in parts])
    y = np.concatenate([y for _, y in parts])
    del parts
    times = []
    for _ in range(2):  # the first call compiles
        start = time.perf_counter()
        # The multi-process code path for every process count (in one process, too).
        model = fit_spmd(LogisticRegression(), X, y)
        times.append(time.perf_counter() - start)
    ordinary = None
    if count == 1:  # the ordinary one-process fit, for comparison
        LogisticRegression().fit(X, y)
        start = time.perf_counter()
        LogisticRegression().fit(X, y)
        ordinary = time.perf_counter() - start

    # One Newton iteration on the same sharded arrays, timed alone.
    design = np.column_stack([np.ones(len(y)), X])
    mesh = row_mesh()
    shares = shard_rows(
        design,
        y,
        np.zeros(len(y)),
        weights=np.full(len(y), 1 / n_rows),
        mesh=mesh,
        process_local=True,
    )
    loss, hessian = loss_and_hessian("binomial", "logit", False, mesh)
    params = {"coef": np.zeros(P_COLUMNS)}
    args = (*shares.arrays[:2], shares.weights, shares.arrays[2], np.ones(P_COLUMNS), 0.0, 0.0)
    with jax.enable_x64(True):
        value_and_grad = jax.jit(jax.value_and_grad(loss))
        hess = jax.jit(hessian)
        jax.block_until_ready((value_and_grad(params, *args), hess(params, *args)))
        iteration = []
        for _ in range(5):
            start = time.perf_counter()
            jax.block_until_ready((value_and_grad(params, *args), hess(params, *args)))
            iteration.append(time.perf_counter() - start)
        hlo = value_and_grad.lower(params, *args).compile().as_text()
        hlo += hess.lower(params, *args).compile().as_text()
    result = {
        "process": k,
        "processes": count,
        "local_rows": len(y),
        "fit_s": times[1],
        "ordinary_fit_s": ordinary,
        "first_fit_s": times[0],
        "n_iter": int(model.n_iter_),
        "iteration_s": float(np.median(iteration)),
        "allreduce_bytes": allreduce_bytes(hlo),
        "allgathers": hlo.count(" all-gather("),
        "params_head": model.params_.iloc[:3].tolist(),
        "se_head": model.std_errors_.iloc[:3].tolist(),
    }
    print("RESULT" + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rows)
        return
    if args.rows % BLOCK or (args.rows // BLOCK) % max(args.processes):
        parser.error(f"--rows must be a multiple of {BLOCK} x the largest process count")
    from estimators.distributed_local import run_local

    print(f"logistic regression, n = {args.rows:,}, p = {P_COLUMNS} (intercept included)")
    header = f"{'processes':>9} {'fit_s':>8} {'n_iter':>6} {'iteration_s':>11} {'allreduce_B':>11}"
    print(header)
    reference = None
    for count in args.processes:
        argv = [sys.executable, __file__, "--worker", "--rows", str(args.rows)]
        runs = run_local(argv, count, timeout=1800)
        results = []
        for code, stdout, stderr in runs:
            if code != 0:
                raise SystemExit(f"a worker failed:\n{stderr[-3000:]}")
            line = next(x for x in stdout.splitlines() if x.startswith("RESULT"))
            results.append(json.loads(line[len("RESULT") :]))
        first = results[0]
        if reference is None:
            reference = first
        agree = max(
            abs(a - b) / abs(b)
            for r in results
            for a, b in zip(
                r["se_head"] + r["params_head"],
                reference["se_head"] + reference["params_head"],
                strict=True,
            )
        )
        print(
            f"{count:>9} {max(r['fit_s'] for r in results):>8.2f} {first['n_iter']:>6} "
            f"{max(r['iteration_s'] for r in results):>11.4f} {first['allreduce_bytes']:>11} "
            f"(all-gathers {first['allgathers']}, "
            f"local rows {[r['local_rows'] for r in results]}, first fit "
            f"{max(r['first_fit_s'] for r in results):.1f} s, rel. diff to 1 process {agree:.1e})"
        )
        if first["ordinary_fit_s"] is not None:
            print(f"{'':>9} ordinary LogisticRegression().fit: {first['ordinary_fit_s']:.2f} s")


if __name__ == "__main__":
    main()
