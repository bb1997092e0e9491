"""The example gallery: every script in examples/ runs, and the key ones print the right numbers.

Each script runs once, in a subprocess, with ``ESTIMATORS_EXAMPLE_FAST=1``
(smaller sizes, fewer resamples) and ``ESTIMATORS_EXAMPLE_OUTPUT`` pointing at
a temporary directory for figures; the checks parse its stdout. References are
computed live here: statsmodels 0.15 (GLM Poisson, RLM HuberT, Logit), scipy
(``linprog`` with HiGHS for the quantile-regression LP, ``stats.gamma.fit``,
``optimize.brentq``), numpy, and the NIST StRD certified values the Longley
example carries beside its code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from estimators.datasets import load_dataset, seed_sample
from scipy import optimize, stats

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"


class Gallery:
    """Runs each example once per session and keeps its completed process."""

    def __init__(self, output: Path):
        self.output = output
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def run(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.done:
            env = dict(os.environ, ESTIMATORS_EXAMPLE_FAST="1")
            env["ESTIMATORS_EXAMPLE_OUTPUT"] = str(self.output)
            env.pop("XLA_FLAGS", None)  # 12_multi_device.py sets its own device count
            self.done[name] = subprocess.run(
                [sys.executable, str(ROOT / "examples" / name)],
                capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
            )  # fmt: skip
        return self.done[name]

    def stdout(self, name: str) -> str:
        done = self.run(name)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


# Every script is a fresh process paying ~2 s of imports and its own compiles (one to
# three minutes for the gallery on 2 cores): the runs are slow tests (CI runs them).
@pytest.fixture(scope="session")
def gallery(tmp_path_factory) -> Gallery:
    return Gallery(tmp_path_factory.mktemp("example_output"))


def number_after(text: str, label: str) -> float:
    """The number printed right after ``label`` (the first occurrence)."""
    found = re.search(re.escape(label) + r"\s*" + NUMBER, text)
    assert found, f"{label!r} not found in the output"
    return float(found.group(1))


def table_row(text: str, term: str) -> list[float]:
    """The numbers on the first printed line that starts with ``term``."""
    for line in text.splitlines():
        if line.startswith(term + " "):
            return [float(v) for v in re.findall(NUMBER, line[len(term) :])]
    raise AssertionError(f"no line starting with {term!r}")


# --------------------------------------------------------------------------- every script


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(gallery, script):
    done = gallery.run(script.name)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()


def test_gallery_is_numbered_and_listed():
    """Scripts read in order (01_, 02_, ...) and examples/README.md lists each one."""
    numbers = [int(p.name.split("_", 1)[0]) for p in EXAMPLES]
    assert numbers == list(range(1, len(EXAMPLES) + 1))
    readme = (ROOT / "examples" / "README.md").read_text()
    listed = re.findall(r"\| \[`(\d\d_\w+\.py)`\]", readme)
    assert listed == [p.name for p in EXAMPLES]


def test_every_example_has_a_docstring_and_main():
    for script in EXAMPLES:
        source = script.read_text()
        assert source.startswith('"""'), script.name
        assert "def main()" in source and 'if __name__ == "__main__":' in source, script.name


# --------------------------------------------------------------------------- key numbers


@pytest.mark.slow
def test_walkthrough_numbers(gallery):
    out = gallery.stdout("01_autodiff_walkthrough.py")
    x = seed_sample()["x"].to_numpy()
    # The tutorial's printed numbers (README); beta_hat is the sample mean (numpy).
    assert number_after(out, "jax.grad gives                            =") == -5.1156
    assert number_after(out, "beta_hat =") == round(float(np.mean(x)), 5) == 3.34151


@pytest.mark.slow
def test_dataframe_fit_matches_nist(gallery):
    out = gallery.stdout("02_dataframe_fit.py")
    # Certified values: NIST StRD Longley (stored in the example with their source).
    assert number_after(out, "fewest correct digits:") >= 12
    assert "rows 1950, 1955" in out  # the DataError names the rows by the frame's index
    assert "n_dropped_ = 2" in out


@pytest.mark.slow
def test_categorical_poisson_matches_statsmodels(gallery):
    import statsmodels.api as sm

    out = gallery.stdout("03_formulas_categorical.py")
    assert number_after(out, "categorical vs dummy columns:") < 1e-10
    assert "'dreadful'" in out  # the unseen level is named
    data = load_dataset("randhie")
    columns = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    reference = (
        sm.GLM(data["mdvis"], sm.add_constant(data[columns]), family=sm.families.Poisson()).fit(
            tol=1e-12, cov_type="HC0"
        )  # statsmodels 0.15 GLM, live
    )
    terms = {
        "Intercept": "const",
        "lncoins": "lncoins",
        "disea": "disea",
        "C(health, Treatment('excellent'))[T.good]": "hlthg",
        "C(health, Treatment('excellent'))[T.poor]": "hlthp",
    }
    for ours, theirs in terms.items():
        estimate, std_error = table_row(out, ours)[:2]
        # printed with 5 significant digits: rounding error below 5e-5 relative
        assert estimate == pytest.approx(reference.params[theirs], rel=6e-5)
        assert std_error == pytest.approx(reference.bse[theirs], rel=6e-5)


@pytest.mark.slow
def test_robust_fits_are_closer_to_the_median_fit(gallery):
    import statsmodels.api as sm

    out = gallery.stdout("04_robust_vs_ols.py")
    ols = number_after(out, "least squares:")
    huber = number_after(out, "Huber (c=1.345):")
    tukey = number_after(out, "Tukey (c=4.685):")
    assert huber < ols and tukey < ols
    data = load_dataset("stackloss")
    X = sm.add_constant(data[["airflow", "watertemp", "acidconc"]])
    rlm = sm.RLM(data["stackloss"], X, M=sm.robust.norms.HuberT()).fit(tol=1e-12)  # live
    printed = table_row(out, "Huber (c=1.345)")  # 4 decimals
    np.testing.assert_allclose(printed, rlm.params.to_numpy(), atol=5.1e-5, rtol=0)


def _quantile_lp(x: np.ndarray, y: np.ndarray, q: float) -> np.ndarray:
    """min sum q u + (1 - q) v  s.t.  b0 + b1 x + u - v = y, u, v >= 0 (scipy HiGHS)."""
    n = y.size
    X = np.column_stack([np.ones(n), x])
    cost = np.concatenate([np.zeros(2), np.full(n, q), np.full(n, 1 - q)])
    equality = np.hstack([X, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
    solution = optimize.linprog(cost, A_eq=equality, b_eq=y, bounds=bounds, method="highs")
    assert solution.status == 0
    return solution.x[:2]


@pytest.mark.slow
def test_quantile_regression_matches_the_linear_program(gallery):
    out = gallery.stdout("05_quantile_regression.py")
    data = load_dataset("engel")
    for q in [0.1, 0.5, 0.9]:
        intercept, slope = table_row(out, f"q={q}")[:2]
        reference = _quantile_lp(data["income"].to_numpy(), data["foodexp"].to_numpy(), q)
        np.testing.assert_allclose([intercept, slope], reference, rtol=1e-7)
    assert "slopes increase with q: True" in out


@pytest.mark.slow
def test_odds_ratios_match_statsmodels(gallery):
    import statsmodels.api as sm

    out = gallery.stdout("06_logistic_odds_ratios.py")
    data = load_dataset("anes96")
    X = sm.add_constant(data[["selfLR", "PID", "age", "educ"]].assign(li=np.log(data["income"])))
    logit = sm.Logit(data["vote"], X).fit(method="newton", tol=1e-12, disp=0)  # live
    ratios = out.split("Odds ratios of a Dole vote", 1)[1]
    for ours, theirs in [("selfLR", "selfLR"), ("PID", "PID"), ("np.log(income)", "li")]:
        ratio, std_error, p_value, low, high = table_row(ratios, ours)
        odds = np.exp(logit.params[theirs])
        # printed with 8 significant digits
        assert ratio == pytest.approx(odds, rel=1e-7)
        assert std_error == pytest.approx(odds * logit.bse[theirs], rel=1e-7)
        assert p_value == pytest.approx(logit.pvalues[theirs], rel=1e-6)
        low_ref, high_ref = np.exp(logit.conf_int().loc[theirs])
        assert (low, high) == pytest.approx((low_ref, high_ref), rel=1e-7)


@pytest.mark.slow
def test_distribution_mle_matches_scipy_and_saves_its_figure(gallery):
    out = gallery.stdout("07_distribution_mle.py")
    duration = load_dataset("strikes")["duration"].to_numpy()
    shape, _, scale = stats.gamma.fit(duration, floc=0)  # scipy, live
    section = out.split("Gamma fit (shape, scale):", 1)[1]
    assert number_after(section, "shape") == pytest.approx(shape, rel=1e-8)
    assert number_after(section, "scale") == pytest.approx(scale, rel=1e-8)
    # exponential MLE in closed form: scale = mean, llf = -n (log mean + 1)
    llf = -duration.size * (np.log(duration.mean()) + 1)
    assert table_row(out, "exponential")[0] == pytest.approx(llf, abs=5e-5)
    found = re.search(r"figure drawn by (\S+): (.+\.png)", out)
    assert found, out
    path = Path(found.group(2))
    assert path.parent == gallery.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_custom_loss_and_likelihood_solve_their_equations(gallery):
    out = gallery.stdout("08_custom_loss_likelihood.py")
    speed = load_dataset("michelson")["speed"].to_numpy()
    for tau in [0.1, 0.9]:
        m = number_after(out, f"tau = {tau}: m =")

        def score(m, tau=tau):  # the expectile's estimating equation
            r = speed - m
            return np.sum(np.where(r < 0, 1 - tau, tau) * r)

        root = optimize.brentq(score, speed.min(), speed.max(), xtol=1e-14)
        assert m == pytest.approx(root, abs=2e-10)  # printed with 10 decimals
    assert abs(number_after(out, "tau = 0.5 minus the sample mean:")) < 1e-10
    # Zero-inflated Poisson, intercept only: the MLE matches the mean and the share of zeros.
    visits = load_dataset("randhie")["mdvis"].to_numpy()
    pi, lam = table_row(out, "pi")[0], table_row(out, "lam")[0]
    assert (1 - pi) * lam == pytest.approx(visits.mean(), rel=1e-8)
    assert pi + (1 - pi) * np.exp(-lam) == pytest.approx(np.mean(visits == 0), rel=1e-8)
    assert number_after(out, "largest difference from MaximumLikelihood(logpdf=...):") < 1e-8


@pytest.mark.slow
def test_grouped_fits_equal_separate_fits(gallery):
    out = gallery.stdout("09_grouped_fits.py")
    assert number_after(out, "largest relative difference from separate fits:") < 1e-8
    assert "perfect separation" in out  # educ = 1 is separated: reported, not raised
    assert "fewer rows with positive weight than parameters" in out


@pytest.mark.slow
def test_bootstrap_standard_errors(gallery):
    out = gallery.stdout("10_bootstrap.py")
    speed = load_dataset("michelson")["speed"]
    low, high = table_row(out, "bca")
    assert low <= np.median(speed) <= high
    se, scipy_se = re.search(
        r"bootstrap SE of the median: " + NUMBER + r" \(scipy: " + NUMBER, out
    ).groups()
    assert float(se) == pytest.approx(float(scipy_se), rel=0.15)  # two seeded runs of B=1000
    # pairs bootstrap vs White's HC1 (asymptotically equal) and the classical SE (too small)
    ratios = out.split("slope SE relative to the bootstrap's:", 1)[1]
    assert 0.85 < number_after(ratios, "HC1") < 1.15
    assert number_after(ratios, "classical") < 0.5


@pytest.mark.slow
def test_streamed_fit_equals_in_memory_fit(gallery):
    out = gallery.stdout("11_streaming_parquet.py")
    assert number_after(out, "largest relative difference from the in-memory fit:") < 1e-10
    assert "Parquet files" in out
    assert number_after(out, "(approximate):") < 5  # its accepted distance, in SEs
    assert "converged_ = True" in out


@pytest.mark.slow
def test_sharded_fit_equals_single_device_fit(gallery):
    out = gallery.stdout("12_multi_device.py")
    assert out.startswith("4 devices")
    assert number_after(out, "largest relative difference, sharded vs single device:") < 1e-12
    assert number_after(out, "largest difference from one device:") < 1e-10
    assert "shards [(236, 3), (236, 3), (236, 3), (236, 3)]" in out
