"""The tasks of benchmarks/single_fits.py: data, our public-API fit, the peers, the verdict."""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import peers
from single_report import (
    CPU_SECONDS,
    Row,
    Section,
    current_rss_bytes,
    peak_rss_bytes,
    timed,
)

AGREE_OBJECTIVE, AGREE_BETA = 1e-10, 1e-6
PEER_REPEATS = 3  # the peers take seconds a call; ours are timed `repeats` times
HERE = os.path.abspath(__file__)


# ------------------------------------------------------------------ data


def glm_data(family: str, n: int, p: int, seed: int = 0):
    """X ~ N(0, 1) (n x p, C order), a true beta with linear predictor sd about 0.8."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.linspace(-0.3, 0.3, p)
    eta = 0.2 + X @ beta
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = eta + rng.standard_normal(n)
    return X, y


def _agreement(row: Row, beta, se, objective, ours_beta, ours_se, ours_objective) -> Row:
    row.rel_objective = abs(objective - ours_objective) / abs(ours_objective)
    row.beta_in_se = float(np.max(np.abs(beta - ours_beta) / ours_se))
    if se is not None:
        row.se_rel = float(np.max(np.abs(se / ours_se - 1)))
    return row


def _agrees(rows: list[Row]) -> bool:
    return all(
        r.rel_objective is not None
        and r.rel_objective <= AGREE_OBJECTIVE
        and r.beta_in_se <= AGREE_BETA
        for r in rows[1:]
    )


def _verdict(ratio: float, needed: float, rows: list[Row], against: str) -> str:
    agree = "same optimum" if _agrees(rows) else "DISAGREES with a peer (see table)"
    met = "met" if ratio >= needed and _agrees(rows) else "MISSED"
    return f"{met}: {ratio:.2f}x {against}; {agree}"


def profile_lines(fn, top: int = 8) -> list[str]:
    """Where one steady call spends its time: the functions with most self time."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    lines = [f"Profile of one steady call ({total:.3f} s under cProfile; self time):", ""]
    for (path, line, name), (_, _, tottime, cumtime, _) in entries:
        where = "/".join(path.split("/")[-2:])
        lines.append(
            f"- {tottime:.3f} s self, {cumtime:.3f} s cumulative: `{where}:{line} {name}`"
        )
    return lines + [""]


# ------------------------------------------------------------------ GLMs and OLS


def glm_task(family: str, n: int, p: int, repeats: int) -> Section:
    from estimators.glm import LogisticRegression, PoissonRegression

    X, y = glm_data(family, n, p)
    Xc = peers.with_intercept(X)
    estimator = LogisticRegression if family == "binomial" else PoissonRegression
    loglike = peers.logistic_loglike if family == "binomial" else peers.poisson_loglike

    def ours():
        fitted = estimator().fit(X, y)
        return fitted.params_.to_numpy(), fitted.std_errors_.to_numpy(), fitted.n_iter_

    first, steady, (beta, se, n_iter) = timed(ours, repeats)
    ll = loglike(beta, X, y)
    rows = [Row("estimators", first, steady, note=f"{n_iter} Newton iterations")]
    rows[0].cpu_s = CPU_SECONDS[-1]
    for name, fit in peers.glm_peers(family).items():
        f, s, (b, s_e) = timed(lambda fit=fit: fit(X, Xc, y), PEER_REPEATS)
        row = Row(name, f, s, cpu_s=CPU_SECONDS[-1])
        rows.append(_agreement(row, b, s_e, loglike(b, X, y), beta, se, ll))
    fastest = min(rows[1:], key=lambda r: r.steady_s)
    ratio = fastest.steady_s / steady
    title = (
        f"{'Logistic' if family == 'binomial' else 'Poisson'} regression, {n:,} x {p}, with SEs"
    )
    section = Section(
        title,
        rows,
        ">= 3x the fastest of statsmodels, scikit-learn newton-cholesky, glum",
        _verdict(ratio, 3.0, rows, f"the fastest peer ({fastest.name})"),
    )
    section.lines = profile_lines(ours)
    return section


def ols_task(n: int, p: int, repeats: int) -> Section:
    from estimators.regression import LinearRegression

    X, y = glm_data("gaussian", n, p)
    Xc = peers.with_intercept(X)

    def ours():
        fitted = LinearRegression().fit(X, y)
        return fitted.params_.to_numpy(), fitted.std_errors_.to_numpy()

    first, steady, (beta, se) = timed(ours, repeats)
    rss = peers.residual_sum_of_squares(beta, X, y)
    rows = [Row("estimators", first, steady, cpu_s=CPU_SECONDS[-1])]
    for name, fit in peers.OLS_PEERS.items():
        f, s, (b, s_e) = timed(lambda fit=fit: fit(X, Xc, y), PEER_REPEATS)
        objective = peers.residual_sum_of_squares(b, X, y)
        row = Row(name, f, s, cpu_s=CPU_SECONDS[-1])
        rows.append(_agreement(row, b, s_e, objective, beta, se, rss))
    by_name = {r.name: r for r in rows}
    vs_sm = by_name["statsmodels OLS"].steady_s / steady
    vs_np = by_name["numpy lstsq + SEs"].steady_s / steady
    vs_np_coef = by_name["numpy lstsq (coefficients only)"].steady_s / steady
    met = vs_sm >= 20 and vs_np >= 5 and _agrees(rows)
    verdict = (
        f"{'met' if met else 'MISSED'}: {vs_sm:.1f}x statsmodels, {vs_np:.1f}x numpy lstsq + "
        f"SEs ({vs_np_coef:.1f}x lstsq without SEs); "
        + ("same optimum" if _agrees(rows) else "DISAGREES with a peer")
    )
    section = Section(
        f"OLS, {n:,} x {p}, with SEs",
        rows,
        ">= 20x statsmodels and >= 5x numpy.linalg.lstsq "
        "(NIST accuracy: tests/test_regression.py)",
        verdict,
    )
    section.lines = profile_lines(ours)
    return section


# ------------------------------------------------------------------ one-sample tasks


def gamma_task(n: int, repeats: int) -> Section:
    from estimators.likelihood import MaximumLikelihood

    x = np.random.default_rng(1).gamma(2.0, 3.0, size=n)

    def ours():
        fitted = MaximumLikelihood("gamma").fit(x)
        return fitted.params_.to_numpy(), fitted.std_errors_.to_numpy()

    first, steady, (theta, se) = timed(ours, max(repeats, 9))
    ours_cpu = CPU_SECONDS[-1]
    ll = peers.gamma_loglike(theta, x)
    f, s, (t, _) = timed(lambda: peers.scipy_gamma_fit(x), max(repeats, 9))
    row = _agreement(
        Row("scipy.stats.gamma.fit(floc=0)", f, s, cpu_s=CPU_SECONDS[-1]),
        t,
        None,
        peers.gamma_loglike(t, x),
        theta,
        se,
        ll,
    )
    rows = [Row("estimators MaximumLikelihood('gamma')", first, steady, cpu_s=ours_cpu), row]
    section = Section(
        f"Gamma MLE (shape, scale), n = {n:,}",
        rows,
        ">= 1x scipy.stats.gamma.fit(floc=0)",
        _verdict(s / steady, 1.0, rows, "scipy"),
    )
    section.lines = profile_lines(ours)
    return section


def median_task(n: int, repeats: int) -> Section:
    from estimators.location import Median

    x = np.random.default_rng(2).standard_normal(n)

    def ours():
        fitted = Median().fit(x)
        return float(fitted.params_.iloc[0]), float(fitted.std_errors_.iloc[0])

    first, steady, (median, se) = timed(ours, repeats)
    ours_cpu = CPU_SECONDS[-1]
    f, s, peer = timed(lambda: float(np.median(x)), repeats)
    rows = [Row("estimators Median() (with its kernel SE)", first, steady, cpu_s=ours_cpu)]
    objective = float(np.mean(np.abs(x - median)))
    row = Row("numpy.median", f, s, cpu_s=CPU_SECONDS[-1])
    _agreement(
        row, np.array([peer]), None, float(np.mean(np.abs(x - peer))), median, se, objective
    )
    row.note = "equal" if peer == median else f"differs by {peer - median:.3e}"
    rows.append(row)
    section = Section(
        f"Median, n = {n:,}", rows, ">= 1x numpy.median", _verdict(s / steady, 1.0, rows, "numpy")
    )
    section.lines = profile_lines(ours)
    return section


def mean_passes(n: int, repeats: int) -> Section:
    """Mean().fit through the optax path, in units of one pass over the data (np.sum)."""
    from estimators.location import Mean

    x = np.random.default_rng(3).standard_normal(n)

    def ours():
        fitted = Mean().fit(x)
        return float(fitted.params_.iloc[0]), fitted.n_iter_

    first, steady, (mean, n_iter) = timed(ours, max(repeats, 9))
    ours_cpu = CPU_SECONDS[-1]
    _, one_pass, _ = timed(lambda: float(np.sum(x)), max(repeats, 15))
    pass_cpu = CPU_SECONDS[-1]
    _, np_mean, _ = timed(lambda: float(np.mean(x)), max(repeats, 15))
    passes = steady / one_pass
    rows = [
        Row(
            "estimators Mean() (L-BFGS, with its SE)",
            first,
            steady,
            cpu_s=ours_cpu,
            note=f"{n_iter} iterations",
        ),
        Row("one pass: numpy.sum", None, one_pass, cpu_s=pass_cpu, ratio=False),
        Row(
            "numpy.mean",
            None,
            np_mean,
            cpu_s=CPU_SECONDS[-1],
            note=f"differs by {np.mean(x) - mean:.1e}",
        ),
    ]
    met = passes <= 3
    section = Section(
        f"Mean through the optax path, n = {n:,}",
        rows,
        "at most 3 passes over the data",
        f"{'met' if met else 'MISSED'}: the whole public fit takes the time of "
        f"{passes:.1f} passes ({ours_cpu / pass_cpu:.1f} in CPU time)",
    )
    section.lines = profile_lines(ours)
    return section


# ------------------------------------------------------------------ Newton iteration floor


def newton_floor(n: int, p: int) -> Section:
    """Seconds per iteration of the GLM Newton loop against X'WX + one pass over X.

    The loop is `glm_newton.fused_newton` itself (what `LogisticRegression().fit`
    runs), called on the same device arrays with max_iter K and 1 at tol 1e-300 (so
    it stops only at max_iter): (t_K - t_1) / (K - 1) is the cost of one iteration,
    free of validation, starting values, separation check and inference, which the
    two calls share. K = 5: the iterates still move (no stall) on this problem.
    """
    import jax

    from estimators.glm_kernels import device_column_scale
    from estimators.glm_newton import fused_newton

    X, y = glm_data("binomial", n, p)
    Xc = np.ascontiguousarray(peers.with_intercept(X))
    w = np.random.default_rng(4).random(n)
    beta = np.full(p + 1, 0.1)
    k_max = 5

    with jax.enable_x64(True):
        X_dev, y_dev, wn_dev, offset_dev = (
            jax.device_put(a) for a in (Xc, y, np.full(n, 1.0 / n), np.zeros(n))
        )
        col_scale = device_column_scale(X_dev)
        rest = [jax.device_put(np.asarray(a, dtype=np.float64)) for a in (col_scale, 0.0, 0.0)]
    args = (X_dev, y_dev, wn_dev, offset_dev, *rest)

    def loop_time(k: int) -> tuple[float, float]:
        """Wall and CPU seconds (medians of 7) of fused_newton run for exactly k iterations."""

        def call():
            solution, _ = fused_newton(
                "binomial",
                "logit",
                False,
                {"coef": np.zeros(p + 1)},
                args,
                tol=1e-300,
                max_iter=k,
            )
            assert solution.n_iter == k, (solution.n_iter, solution.message)
            return solution

        wall = timed(call, 7)[1]
        return wall, CPU_SECONDS[-1]

    (wall_k, cpu_k), (wall1, cpu1) = loop_time(k_max), loop_time(1)
    per_iteration = (wall_k - wall1) / (k_max - 1)
    per_iteration_cpu = (cpu_k - cpu1) / (k_max - 1)
    from estimators.glm_kernels import _weighted_gram

    def numpy_blocked_gram(block: int = 8192):
        gram = np.zeros((p + 1, p + 1))
        for start in range(0, n, block):
            xb = Xc[start : start + block]
            gram += xb.T @ (xb * w[start : start + block, None])
        return gram

    def wall_and_cpu(fn) -> tuple[float, float]:
        wall = timed(fn, 7)[1]
        return wall, CPU_SECONDS[-1]

    with jax.enable_x64(True):
        Xd, wd, bd = (jax.device_put(a) for a in (Xc, w, beta))
        gram_xla = jax.jit(lambda X, w: (X * w[:, None]).T @ X)
        pass_xla = jax.jit(lambda X, b: X @ b)
        grams = {
            "XLA": wall_and_cpu(lambda: gram_xla(Xd, wd).block_until_ready()),
            "XLA 1024-row blocks (`glm_kernels._weighted_gram`)": wall_and_cpu(
                lambda: _weighted_gram(Xd, wd).block_until_ready()
            ),
        }
        passes = {"XLA": wall_and_cpu(lambda: pass_xla(Xd, bd).block_until_ready())}
    grams["numpy"] = wall_and_cpu(lambda: Xc.T @ (Xc * w[:, None]))
    grams["numpy 8192-row blocks"] = wall_and_cpu(numpy_blocked_gram)
    passes["numpy"] = wall_and_cpu(lambda: Xc @ beta)
    floor = min(g[0] for g in grams.values()) + min(q[0] for q in passes.values())
    floor_cpu = min(g[1] for g in grams.values()) + min(q[1] for q in passes.values())
    ratio, ratio_cpu = per_iteration / floor, per_iteration_cpu / floor_cpu

    def listing(found: dict) -> str:
        return ", ".join(
            f"{k} {v[0] * 1e3:.1f} ms ({v[1] * 1e3:.1f} ms CPU)" for k, v in found.items()
        )

    lines = [
        f"- One Newton iteration of `glm_newton.fused_newton` (the loop of "
        f"`LogisticRegression().fit`, logit, on the device arrays; max_iter {k_max} minus "
        f"max_iter 1, over {k_max - 1}; medians of 7): {per_iteration * 1e3:.1f} ms wall, "
        f"{per_iteration_cpu * 1e3:.1f} ms CPU",
        f"- X'WX for {n:,} x {p + 1}: {listing(grams)}",
        f"- One pass X @ b: {listing(passes)}",
        f"- Floor (best X'WX + best pass): {floor * 1e3:.1f} ms wall, {floor_cpu * 1e3:.1f} ms "
        f"CPU; ratio {ratio:.2f} (wall), {ratio_cpu:.2f} (CPU, the verdict: wall times are at "
        "the mercy of other users' load)",
        "",
    ]
    return Section(
        f"Newton iteration vs its floor, {n:,} x {p}",
        [],
        "each GLM Newton iteration within 1.5x of (X'WX + one pass over X)",
        f"{'met' if 0 < ratio_cpu <= 1.5 else 'MISSED'}: {ratio_cpu:.2f}x the floor in CPU time "
        f"({ratio:.2f}x in wall time)",
        lines,
    )


# ------------------------------------------------------------------ fresh processes

COLD_OURS = """
import numpy as np
import estimators as est
rng = np.random.default_rng(0)
X = rng.standard_normal((1000, 5)); y = (rng.random(1000) < 0.4).astype(float)
est.LogisticRegression().fit(X, y).std_errors_
"""
COLD_STATSMODELS = """
import numpy as np
import statsmodels.api as sm
rng = np.random.default_rng(0)
X = rng.standard_normal((1000, 5)); y = (rng.random(1000) < 0.4).astype(float)
sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit().bse
"""


def _process_seconds(code: str, env: dict) -> tuple[float, float]:
    """Wall seconds of a fresh interpreter running ``code``, and its CPU seconds (user + sys).

    The CPU time is the robust figure on a shared machine: other users' load
    stretches the wall time but not the work done.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median_runs(code: str, env: dict, repeats: int) -> tuple[float, float]:
    runs = [_process_seconds(code, env) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def cold_start(n: int, repeats: int) -> Section:
    env = {k: v for k, v in os.environ.items() if k != "ESTIMATORS_COMPILATION_CACHE"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    with tempfile.TemporaryDirectory() as cache:
        env["XDG_CACHE_HOME"] = cache
        cold, cold_cpu = _process_seconds(COLD_OURS, env)
        warm, warm_cpu = _median_runs(COLD_OURS, env, repeats)
    off, off_cpu = _median_runs(COLD_OURS, dict(env, ESTIMATORS_COMPILATION_CACHE="0"), repeats)
    peer, peer_cpu = _median_runs(COLD_STATSMODELS, env, repeats)
    rows = [
        Row("estimators, persistent cache warm", None, warm, note=f"CPU {warm_cpu:.2f} s"),
        Row("estimators, first ever (empty cache)", cold, None, note=f"CPU {cold_cpu:.2f} s"),
        Row("estimators, cache switched off", None, off, note=f"CPU {off_cpu:.2f} s", ratio=False),
        Row("statsmodels GLM", None, peer, note=f"CPU {peer_cpu:.2f} s"),
    ]
    met = warm <= peer and warm_cpu <= peer_cpu
    return Section(
        f"Cold start: fresh process, import + logistic fit, n = {n:,} x 5",
        rows,
        "no slower than statsmodels once the persistent cache is warm",
        f"{'met' if met else 'MISSED'}: {warm:.2f} s wall / {warm_cpu:.2f} s CPU vs statsmodels "
        f"{peer:.2f} s / {peer_cpu:.2f} s (empty cache: {cold:.2f} s / {cold_cpu:.2f} s)",
        [
            f"Whole-process wall time, interpreter start included; median of {repeats}. "
            "CPU = user + system seconds of the child process.",
            "",
        ],
    )


def memory_task(n: int, p: int) -> Section:
    out = subprocess.run(
        [
            sys.executable,
            os.path.join(os.path.dirname(HERE), "single_fits.py"),
            "--child",
            f"memory:{n}:{p}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    design = m["design_bytes"]
    ratio = m["peak"] / design
    lines = [
        f"- Design matrix: {design / 1e9:.2f} GB; process RSS before the fit (data, imports): "
        f"{m['before'] / 1e9:.2f} GB; peak RSS: {m['peak'] / 1e9:.2f} GB; peak increase during "
        f"the fit: {(m['peak'] - m['before']) / 1e9:.2f} GB "
        f"({(m['peak'] - m['before']) / design:.2f} x the design)",
        f"- Fit: {m['seconds']:.1f} s, {m['n_iter']} iterations, converged={m['converged']}",
        "",
    ]
    return Section(
        f"Memory: logistic fit, {n:,} x {p}, own subprocess",
        [],
        "peak RSS <= 1.3x the bytes of the design matrix",
        f"{'met' if ratio <= 1.3 else 'MISSED'}: peak RSS {ratio:.2f}x the design",
        lines,
    )


def run_child(spec: str) -> None:
    kind, *sizes = spec.split(":")
    if kind != "memory":
        raise SystemExit(f"unknown child {kind}")
    n, p = (int(s) for s in sizes)
    # Filled in place, block by block, so no n x p temporary inflates the peak.
    rng = np.random.default_rng(0)
    X = np.empty((n, p))
    y = np.empty(n)
    beta = np.linspace(-0.3, 0.3, p)
    for start in range(0, n, 1 << 18):
        block = X[start : start + (1 << 18)]
        rng.standard_normal(out=block)
        eta = 0.2 + block @ beta
        y[start : start + len(block)] = rng.random(len(block)) < 1 / (1 + np.exp(-eta))
    from estimators.glm import LogisticRegression

    before = current_rss_bytes()
    start = time.perf_counter()
    fitted = LogisticRegression().fit(X, y)
    fitted.std_errors_  # noqa: B018
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "design_bytes": X.nbytes,
                "before": before,
                "peak": peak_rss_bytes(),
                "seconds": seconds,
                "n_iter": int(fitted.n_iter_),
                "converged": bool(fitted.converged_),
            }
        )
    )
