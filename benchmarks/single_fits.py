"""Single fits side by side with the peers: one process run, ratios, RESULTS.md.

    /work/venv/bin/python benchmarks/single_fits.py           # the issue's sizes (~10 min)
    /work/venv/bin/python benchmarks/single_fits.py --quick   # small sizes, a smoke run

Each task times this library through its public API (``LogisticRegression()
.fit(X, y)`` on a numpy array, then ``std_errors_``) and every peer
(benchmarks/peers.py) in the same process, checks that both reached the same
optimum (relative log-likelihood or RSS difference <= 1e-10 and max |beta -
beta_peer| / SE <= 1e-6, SE = our standard error) and writes
benchmarks/RESULTS.md (or RESULTS-quick.md): the machine, library versions,
first-call time (compile + run for us: the persistent compilation cache is
switched off in this process, so it is a true compile), the median of the
later calls (steady state), ratios against the fastest peer, and the peak
memory of the large fits, each measured in its own subprocess (``ru_maxrss``).
The cold-start task runs fresh interpreters; the memory task a 1e7 x 20
logistic fit in its own subprocess.
"""

from __future__ import annotations

import argparse
import os
import sys

# A true compile on the first call: no persistent cache in this process (the
# cold-start task measures the cache in fresh processes of its own).
os.environ["ESTIMATORS_COMPILATION_CACHE"] = "0"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import single_report  # noqa: E402
from single_tasks import (  # noqa: E402
    cold_start,
    gamma_task,
    glm_task,
    mean_passes,
    median_task,
    memory_task,
    newton_floor,
    ols_task,
    run_child,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls after the first")
    parser.add_argument("--only", nargs="*", help="run only these tasks (names as in the table)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # subprocess entry points
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    quick = args.quick
    repeats = args.repeats or (3 if quick else 5)
    n_glm = 20_000 if quick else 1_000_000
    sections = []
    tasks = {
        "logistic": lambda: glm_task("binomial", n_glm, 20, repeats),
        "poisson": lambda: glm_task("poisson", n_glm, 20, repeats),
        "ols": lambda: ols_task(n_glm, 20, repeats),
        "gamma": lambda: gamma_task(20_000 if quick else 1_000_000, repeats),
        "median": lambda: median_task(100_000 if quick else 10_000_000, repeats),
        "mean": lambda: mean_passes(100_000 if quick else 10_000_000, repeats),
        "newton": lambda: newton_floor(n_glm, 20),
        "cold": lambda: cold_start(1_000, 2 if quick else 3),
        "memory": lambda: memory_task(200_000 if quick else 10_000_000, 20),
    }
    for name, task in tasks.items():
        if args.only and name not in args.only:
            continue
        print(f"--- {name}", flush=True)
        section = task()
        print(section.text(), flush=True)
        sections.append(section)
    target = "RESULTS-quick.md" if quick else "RESULTS.md"
    if args.only:
        target = target.replace(".md", "-partial.md")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), target)
    single_report.write(path, sections, quick=quick, repeats=repeats)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
