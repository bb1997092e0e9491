"""The command line: ``estimators fit | datasets | demo`` and ``python -m estimators``.

Commands run in process through ``main([...])`` (fast); one subprocess checks
``python -m estimators``. The numbers the command prints and writes are
checked against the library's own fits computed live in the test (the command
is a front end to them; the fits themselves are checked against statsmodels in
their own test files).
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset

from estimators.bootstrap import bootstrap
from estimators.cli import MODELS, main
from estimators.glm import LogisticRegression
from estimators.location import Median
from estimators.regression import LinearRegression

ANES_FORMULA = "vote ~ PID + np.log(income) + C(educ)"


@pytest.fixture(scope="module")
def anes_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "anes96.csv"
    load_dataset("anes96").to_csv(path, index=False)
    return path


def run(capsys, *argv):
    """``main(argv)``: the exit code, stdout and stderr."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("estimators: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --------------------------------------------------------------------------- demo, help
def test_demo_runs_the_walkthrough(capsys):
    assert main(["demo"]) == 0
    assert "419.13" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "demo" in out and "fit" in out and "datasets" in out


def test_python_dash_m_estimators_help():
    done = subprocess.run(
        [sys.executable, "-m", "estimators", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "fit" in done.stdout and "datasets" in done.stdout and done.stderr == ""


def test_fit_help_lists_every_model(capsys):
    code, out, _ = run(capsys, "fit", "--help")
    assert code == 0
    for name in MODELS:
        assert f"  {name} " in out


# --------------------------------------------------------------------------- datasets
def test_datasets_lists_the_shipped_data(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for name in ("anes96", "engel", "stackloss"):
        assert name in out
    assert "944" in out  # anes96's rows


def test_datasets_show_prints_the_note(capsys):
    from estimators.datasets import describe_dataset

    code, out, _ = run(capsys, "datasets", "show", "engel")
    assert code == 0 and out.strip() == describe_dataset("engel").strip()


def test_datasets_show_unknown_name(capsys):
    code, _, err = run(capsys, "datasets", "show", "engle")
    assert_one_line_error(code, err, "'engle'", "did you mean 'engel'", "anes96")


# --------------------------------------------------------------------------- fit
def test_fit_prints_the_summary_of_the_fit(capsys, anes_csv):
    code, out, err = run(
        capsys, "fit", anes_csv, "--model", "logistic", "--formula", ANES_FORMULA,
        "--cov-type", "HC1",
    )  # fmt: skip
    assert code == 0, err
    expected = LogisticRegression(cov_type="HC1").fit(load_dataset("anes96"), formula=ANES_FORMULA)
    assert expected.summary_text() in out


def test_fit_reads_parquet_and_shipped_names(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "stackloss.parquet"
    load_dataset("stackloss").to_parquet(path)
    args = ["--model", "ols", "--formula", "stackloss ~ airflow", "--output"]
    assert main(["fit", str(path), *args, str(tmp_path / "a.csv")]) == 0
    assert main(["fit", "stackloss", *args, str(tmp_path / "b.csv")]) == 0
    capsys.readouterr()
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b)
    fit = LinearRegression().fit(load_dataset("stackloss"), formula="stackloss ~ airflow")
    np.testing.assert_array_equal(a["estimate"], fit.params_.to_numpy())


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_output_round_trips(capsys, anes_csv, tmp_path, suffix):
    path = tmp_path / f"results.{suffix}"
    code, out, err = run(
        capsys, "fit", anes_csv, "--model", "logistic", "--formula", ANES_FORMULA,
        "--output", path,
    )  # fmt: skip
    assert code == 0, err
    assert f"results written to {path}" in out
    expected = LogisticRegression().fit(load_dataset("anes96"), formula=ANES_FORMULA).tidy()
    if suffix == "csv":
        back = pd.read_csv(path)
    else:
        back = pd.DataFrame(json.loads(path.read_text()))
    # exactly: CSV and JSON both write floats with enough digits to read back the same double
    pd.testing.assert_frame_equal(back, expected, check_exact=True)


def test_fit_by_group_matches_fit_groups(capsys, tmp_path):
    from estimators.batch import fit_groups

    path = tmp_path / "groups.json"
    code, out, err = run(
        capsys, "fit", "anes96", "--model", "linear", "--formula", "selfLR ~ PID + age",
        "--by", "educ", "--output", path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    expected = fit_groups(LinearRegression(), load_dataset("anes96"), "educ",
                          formula="selfLR ~ PID + age")  # fmt: skip
    back = pd.DataFrame(json.loads(path.read_text()))
    back["note"] = back["note"].fillna("")
    pd.testing.assert_frame_equal(back, expected, check_exact=True, check_dtype=False)
    assert "PID" in out and out.count("Intercept") == 7  # one row a group (educ 1..7)


def test_fit_bootstrap_matches_bootstrap(capsys, tmp_path):
    path = tmp_path / "boot.csv"
    code, out, err = run(
        capsys, "fit", "stackloss", "--model", "linear", "--formula",
        "stackloss ~ airflow + watertemp", "--bootstrap", 500, "--seed", 3, "--output", path,
    )  # fmt: skip
    assert code == 0, err
    formula = "stackloss ~ airflow + watertemp"
    data = load_dataset("stackloss")
    expected = bootstrap(LinearRegression(), data, formula=formula, n_resamples=500, seed=3)
    back = pd.read_csv(path).set_index("term")
    np.testing.assert_array_equal(back["std_error"], expected.standard_error.to_numpy())
    np.testing.assert_array_equal(back["ci_lower"], expected.confidence_interval["low"])
    np.testing.assert_array_equal(back["ci_upper"], expected.confidence_interval["high"])
    assert "Bootstrap: 500 resamples, percentile intervals at 0.95, seed 3" in out
    assert "LinearRegression results" in out


def test_fit_one_sample_model(capsys, tmp_path):
    path = tmp_path / "median.csv"
    code, _, err = run(capsys, "fit", "engel", "--model", "median", "--column", "foodexp",
                       "--output", path)  # fmt: skip
    assert code == 0, err
    back = pd.read_csv(path)
    assert back["term"].tolist() == ["median"]
    assert back["estimate"].iloc[0] == np.median(load_dataset("engel")["foodexp"])  # numpy


def test_bootstrap_progress_follows_quiet(capsys, monkeypatch):
    module = sys.modules["estimators.bootstrap"]  # the package's `bootstrap` is the function
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("progress", "absent"))
        return bootstrap(*args, **kwargs)

    monkeypatch.setattr(module, "bootstrap", spy)
    base = ["fit", "engel", "--model", "median", "--column", "foodexp", "--bootstrap", "50"]
    assert main(base) == 0 and main([*base, "--quiet"]) == 0
    capsys.readouterr()
    assert seen == [None, False]  # default: a bar only for long work; --quiet: never


PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "extra",
    [
        ["--model", "logistic", "--formula", "vote ~ PID + age"],  # forest plot
        ["--model", "logistic", "--formula", "vote ~ PID + age", "--bootstrap", "200"],
        ["--model", "linear", "--formula", "selfLR ~ PID", "--by", "educ"],
        ["--model", "mle", "--family", "gamma", "--column", "age"],  # distribution + QQ
        ["--model", "poisson", "--formula", "age ~ PID", "--plot-kind", "residuals"],
        ["--model", "logistic", "--formula", "vote ~ PID", "--plot-kind", "convergence"],
    ],
    ids=["coefficients", "bootstrap", "groups", "distribution", "residuals", "convergence"],
)
def test_plot_writes_a_png(capsys, tmp_path, extra):
    pytest.importorskip("matplotlib")
    path = tmp_path / "figure.png"
    code, out, err = run(capsys, "fit", "anes96", *extra, "--plot", path, "--quiet")
    assert code == 0, err
    assert f"figure written to {path}" in out
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


def test_warnings_are_one_line(capsys, tmp_path):
    # x separates y perfectly: the MLE does not exist (PerfectSeparationWarning)
    path = tmp_path / "separated.csv"
    pd.DataFrame({"x": np.arange(10.0), "y": [0] * 5 + [1] * 5}).to_csv(path, index=False)
    code, out, err = run(capsys, "fit", path, "--model", "logistic", "--formula", "y ~ x")
    assert code == 0
    assert err.strip() and all(
        line.startswith("estimators: warning: ") for line in err.splitlines()
    )
    assert "separat" in err and "Traceback" not in err


# --------------------------------------------------------------------------- bad input
BAD_INPUT = {
    "missing file": (
        ["fit", "no_such_file.csv", "--model", "logistic", "--formula", "vote ~ PID"],
        ["no file 'no_such_file.csv'", ".csv or .parquet", "anes96"],
    ),
    "unknown model": (
        ["fit", "anes96", "--model", "logistc", "--formula", "vote ~ PID"],
        ["unknown model 'logistc'", "did you mean 'logistic'", "poisson"],
    ),
    "bad formula": (
        ["fit", "anes96", "--model", "logistic", "--formula", "vote ~ PID +"],
        ["formula 'vote ~ PID +' could not be parsed"],
    ),
    "unknown column in formula": (
        ["fit", "anes96", "--model", "logistic", "--formula", "vote ~ nosuch"],
        ["'nosuch'", "not a column", "selfLR"],
    ),
    "unknown column": (
        ["fit", "anes96", "--model", "mean", "--column", "nosuch"],
        ["'nosuch'", "not a column"],
    ),
    "unknown by column": (
        ["fit", "anes96", "--model", "linear", "--formula", "vote ~ PID", "--by", "nosuch"],
        ["'nosuch'", "not a column"],
    ),
    "unwritable output": (
        [
            "fit",
            "anes96",
            "--model",
            "linear",
            "--formula",
            "vote ~ PID",
            "--output",
            "/no/such/folder/out.csv",
        ],  # fmt: skip
        ["--output", "folder '/no/such/folder' does not exist"],
    ),
    "output type": (
        ["fit", "anes96", "--model", "linear", "--formula", "vote ~ PID", "--output", "x.xlsx"],
        ["give a .csv or .json file name"],
    ),
    "unwritable plot": (
        [
            "fit",
            "anes96",
            "--model",
            "linear",
            "--formula",
            "vote ~ PID",
            "--plot",
            "/no/such/folder/p.png",
        ],  # fmt: skip
        ["--plot", "does not exist"],
    ),
    "distribution of a regression": (
        [
            "fit",
            "anes96",
            "--model",
            "logistic",
            "--formula",
            "vote ~ PID",
            "--plot",
            "p.png",
            "--plot-kind",
            "distribution",
        ],  # fmt: skip
        ["use --model mle"],
    ),
    "plot kind without plot": (
        [
            "fit",
            "anes96",
            "--model",
            "logistic",
            "--formula",
            "vote ~ PID",
            "--plot-kind",
            "residuals",
        ],  # fmt: skip
        ["give --plot FILE"],
    ),
    "option of another model": (
        ["fit", "anes96", "--model", "logistic", "--formula", "vote ~ PID", "--q", "0.3"],
        ["--q does not apply to --model logistic"],
    ),
    "no formula": (["fit", "anes96", "--model", "logistic"], ["takes --formula"]),
    "no column": (
        ["fit", "anes96", "--model", "median", "--formula", "age ~ PID"],
        ["fits one sample: give --column NAME"],
    ),
    "seed without bootstrap": (
        ["fit", "anes96", "--model", "median", "--column", "age", "--seed", "1"],
        ["add --bootstrap N"],
    ),
    "by and bootstrap": (
        [
            "fit",
            "anes96",
            "--model",
            "linear",
            "--formula",
            "age ~ PID",
            "--by",
            "educ",
            "--bootstrap",
            "10",
        ],  # fmt: skip
        ["cannot be combined"],
    ),
    "unknown option": (
        ["fit", "anes96", "--model", "mean", "--column", "age", "--colour", "red"],
        ["unrecognized arguments: --colour red", "--help"],
    ),
    "bad number": (
        ["fit", "anes96", "--model", "mean", "--column", "age", "--bootstrap", "many"],
        ["--bootstrap", "invalid int value"],
    ),
    "bad cov type": (
        ["fit", "anes96", "--model", "logistic", "--formula", "vote ~ PID", "--cov-type", "HC9"],
        ["unknown cov_type 'HC9'"],
    ),
    "unsupported bootstrap": (
        ["fit", "anes96", "--model", "quantile", "--formula", "age ~ PID", "--bootstrap", "10"],
        ["bootstrap does not support QuantileRegression"],
    ),
}


@pytest.mark.parametrize("argv, fragments", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_exit_2(capsys, argv, fragments):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)


def test_unreadable_file_is_one_line(capsys, tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")
    code, _, err = run(capsys, "fit", path, "--model", "mean", "--column", "x")
    assert_one_line_error(code, err, "could not read", "as Parquet")


def test_bad_plot_type_is_one_line(capsys):
    pytest.importorskip("matplotlib")
    code, _, err = run(capsys, "fit", "anes96", "--model", "mean", "--column", "age",
                       "--plot", "out.docx")  # fmt: skip
    assert_one_line_error(code, err, "--plot 'out.docx': unknown image type", ".png")


def test_missing_matplotlib_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    code, _, err = run(capsys, "fit", "anes96", "--model", "mean", "--column", "age",
                       "--plot", "x.png")  # fmt: skip
    assert_one_line_error(code, err, "matplotlib", 'pip install "estimators[plot]"')


# --------------------------------------------------------------------------- progress
def test_bootstrap_progress_bar(capsys):
    x = np.random.default_rng(0).normal(size=300)
    quiet = bootstrap(Median(), x, n_resamples=400, batch_size=100, progress=False)
    assert capsys.readouterr().err == ""
    default = bootstrap(Median(), x, n_resamples=400, batch_size=100)  # short work: silent
    assert capsys.readouterr().err == ""
    shown = bootstrap(Median(), x, n_resamples=400, batch_size=100, progress=True)
    err = capsys.readouterr().err
    assert "bootstrap" in err and "400" in err  # tqdm's count, or the fallback line
    for other in (default, shown):  # progress changes nothing in the result
        pd.testing.assert_frame_equal(other.bootstrap_distribution, quiet.bootstrap_distribution)


def test_bootstrap_progress_setting_is_checked():
    from estimators.errors import SettingsError

    with pytest.raises(SettingsError, match="progress must be None, True or False"):
        bootstrap(Median(), [1.0, 2.0, 3.0], n_resamples=10, progress="yes")


def test_fit_cluster_groups(capsys):
    model = ["--model", "logistic", "--formula", "vote ~ PID + age"]
    code, out, err = run(
        capsys, "fit", "anes96", *model, "--cov-type", "cluster", "--groups", "educ"
    )
    assert code == 0, err
    expected = LogisticRegression(cov_type="cluster")
    expected.fit(load_dataset("anes96"), formula="vote ~ PID + age", groups="educ")
    assert expected.summary_text() in out and "7 clusters" in out
