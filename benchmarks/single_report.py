"""Timing helpers and the RESULTS.md writer of benchmarks/single_fits.py."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from importlib import metadata

CPU_SECONDS: list[float] = []  # the median CPU time of the last timed() call


def timed(fn: Callable, repeats: int) -> tuple[float, float, object]:
    """(first call seconds, median of ``repeats`` later calls, the last result).

    Also records the median CPU time (all threads of this process) of the later
    calls in ``CPU_SECONDS[-1]``: on a shared machine other users' load stretches
    the wall time, not the work done.
    """
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU_SECONDS.append(statistics.median(cpu))
    return first, statistics.median(times), result


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def current_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclasses.dataclass
class Row:
    """One contender of a task: times, agreement with us, notes."""

    name: str
    first_s: float | None
    steady_s: float | None
    rel_objective: float | None = None  # |obj - ours| / |ours|
    beta_in_se: float | None = None  # max |beta - ours| / our SE
    se_rel: float | None = None  # max |SE / our SE - 1|
    note: str = ""
    cpu_s: float | None = None  # median CPU seconds of the steady calls (all threads)
    ratio: bool = True  # False for a yardstick (one pass), not a competitor


@dataclasses.dataclass
class Section:
    """One task: rows (ours first), the target, whether it is met, and extra lines."""

    title: str
    rows: list[Row]
    target: str
    verdict: str
    lines: list[str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        out = [f"### {self.title}", "", f"Target: {self.target}. **{self.verdict}**", ""]
        if self.rows:
            out += [
                "| contender | first call (s) | steady, median (s) | ours faster by "
                "| steady CPU (s) | rel. objective diff | max abs(beta diff) / SE "
                "| max SE rel. diff | note |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            ours = self.rows[0].steady_s
            for row in self.rows:
                ratio = (
                    f"{row.steady_s / ours:.2f}x"
                    if row is not self.rows[0] and row.ratio and row.steady_s and ours
                    else ""
                )
                out.append(
                    f"| {row.name} | {_fmt(row.first_s)} | {_fmt(row.steady_s)} | {ratio} "
                    f"| {_fmt(row.cpu_s)} | {_sci(row.rel_objective)} | {_sci(row.beta_in_se)} "
                    f"| {_sci(row.se_rel)} "
                    f"| {row.note} |"
                )
            out.append("")
        out += self.lines
        return "\n".join(out) + "\n"


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.4f}" if seconds < 0.1 else f"{seconds:.3f}"


def _sci(value: float | None) -> str:
    return "" if value is None else f"{value:.1e}"


def versions() -> str:
    names = ["jax", "jaxlib", "optax", "numpy", "scipy", "statsmodels", "scikit-learn", "glum"]
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} (absent)")
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )


def write(path: str, sections: list[Section], *, quick: bool, repeats: int) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Single fits against the peers" + (" (quick smoke run: small sizes)" if quick else ""),
        "",
        "Written by `/work/venv/bin/python benchmarks/single_fits.py"
        + (" --quick" if quick else "")
        + f"` on {now}. All numbers of this file come from that one run.",
        "",
        f"- Machine: {machine()}",
        f"- Libraries: {versions()}",
        "- float64 throughout. Times are wall clock. *First call*: for us, compile + run "
        "(the persistent compilation cache is off in the benchmark process); "
        f"*steady*: median of {repeats} later calls (3 for the GLM and OLS peers). "
        "Ratios are steady-state peer wall time / ours. *Steady CPU*: median CPU seconds "
        "of the same calls, all threads (numpy's BLAS and XLA use both cores), the "
        "figure that other users' load does not stretch.",
        "- Agreement: objective (log-likelihood or RSS) of each peer's estimate relative "
        "to ours; coefficient differences in our standard errors; standard errors relative "
        "to ours. The optimum is the same when rel. objective <= 1e-10 and "
        "max |beta diff| / SE <= 1e-6.",
        "- Peer settings: see `benchmarks/peers.py` (statsmodels discrete Logit / Poisson "
        "by Newton at tol 1e-12, "
        "scikit-learn newton-cholesky at tol 1e-10 with SEs added by numpy, glum defaults "
        "with gradient_tol 1e-10 and model-based SEs).",
        "",
        "## Summary",
        "",
        "| task | target | result |",
        "|---|---|---|",
    ]
    head += [f"| {s.title} | {s.target} | {s.verdict} |" for s in sections]
    body = ["", "## Tasks", ""] + [s.text() for s in sections]
    notes = os.path.join(os.path.dirname(path), "single_notes.md")
    if os.path.exists(notes):  # the hand-written analysis, kept apart from the numbers
        with open(notes) as text:
            body += ["", text.read()]
    body += ["", f"Load average at the end of the run: {os.getloadavg()[0]:.2f}", ""]
    with open(path, "w") as out:
        out.write("\n".join(head + body))
