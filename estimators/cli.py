"""The ``estimators`` command (also ``python -m estimators``).

::

    estimators fit DATA --model logistic --formula "y ~ x1 + C(g)" [--cov-type HC1]
                   [--by g | --bootstrap 1000] [--plot out.png] [--output out.csv|.json]
    estimators fit DATA --model median --column x [--bootstrap 1000]
    estimators datasets [list]          the shipped data sets
    estimators datasets show NAME       one data set's provenance note
    estimators demo                     the autodiff walkthrough

``DATA`` is a ``.csv`` or ``.parquet`` file (or a folder of Parquet files), or
the name of a shipped data set (``estimators datasets``).

Built on argparse from the standard library: the command set is small, and
argparse adds no dependency (click or typer would, for no feature we need).
Its one habit we change is the error: every error, argparse's own included,
is one line on stderr (what is wrong and how to fix it) and exit code 2, never
a traceback; warnings (non-convergence, NaN standard errors) are one line each.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .errors import EstimationError
from .plot import require_matplotlib

OUTPUT_SUFFIXES = (".csv", ".json")
PLOT_KINDS = ("coefficients", "convergence", "residuals", "distribution")


@dataclass(frozen=True)
class ModelSpec:
    """One ``--model`` name: the estimator class, its kind and the options it takes."""

    make: Callable[[dict[str, Any]], Any]
    kind: str  # "regression" (needs --formula) or "sample" (needs --column)
    options: tuple[str, ...] = ()  # of "q", "c", "alpha", "family", "link", "ddof"
    help: str = ""


def _estimator(name: str, **fixed: Any) -> Callable[[dict[str, Any]], Any]:
    def make(settings: dict[str, Any]) -> Any:
        import estimators

        return getattr(estimators, name)(**fixed, **settings)

    return make


MODELS: dict[str, ModelSpec] = {
    "linear": ModelSpec(_estimator("LinearRegression"), "regression", (), "least squares"),
    "ols": ModelSpec(_estimator("LinearRegression"), "regression", (), "= linear"),
    "ridge": ModelSpec(_estimator("Ridge"), "regression", ("alpha",), "ridge, --alpha"),
    "logistic": ModelSpec(_estimator("LogisticRegression"), "regression", (), "logit GLM"),
    "probit": ModelSpec(
        _estimator("GLM", family="binomial", link="probit"), "regression", (), "probit GLM"
    ),
    "poisson": ModelSpec(_estimator("PoissonRegression"), "regression", (), "Poisson GLM"),
    "glm": ModelSpec(
        _estimator("GLM"), "regression", ("family", "link", "alpha"), "--family, --link"
    ),
    "quantile": ModelSpec(
        _estimator("QuantileRegression"), "regression", ("q",), "quantile regression, --q"
    ),
    "huber": ModelSpec(_estimator("HuberRegression"), "regression", ("c",), "Huber M, --c"),
    "tukey": ModelSpec(_estimator("TukeyRegression"), "regression", ("c",), "Tukey M, --c"),
    "mean": ModelSpec(_estimator("Mean"), "sample", (), "sample mean"),
    "median": ModelSpec(_estimator("Median"), "sample", (), "sample median"),
    "sample-quantile": ModelSpec(_estimator("Quantile"), "sample", ("q",), "--q"),
    "huber-location": ModelSpec(_estimator("Huber"), "sample", ("c",), "--c"),
    "sd": ModelSpec(_estimator("StandardDeviation"), "sample", ("ddof",), "--ddof"),
    "mad": ModelSpec(_estimator("MAD"), "sample", (), "median absolute deviation"),
    "mle": ModelSpec(
        _estimator("MaximumLikelihood"), "sample", ("family",), "a distribution, --family"
    ),
}


class CommandError(EstimationError):
    """A bad command line (a missing file, an unknown model, an unwritable path)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: usage is in ``--help``, not repeated on every error."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------- commands
def _demo(args: argparse.Namespace) -> int:
    from .walkthrough import walkthrough

    walkthrough(verbose=True)
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from .datasets import describe_dataset, list_datasets

    if args.action in (None, "list"):
        if args.name is not None:
            raise CommandError(
                f"'datasets list' takes no name; did you mean 'datasets show {args.name}'?"
            )
        table = list_datasets()
        table["columns"] = table["columns"].map(", ".join)
        print(table.to_string(index=False))
        return 0
    if args.name is None:
        raise CommandError(
            "'datasets show' needs a data set name, e.g. 'estimators datasets show anes96'"
        )
    print(describe_dataset(_dataset_name(args.name)))
    return 0


def _dataset_names() -> list[str]:
    from .datasets import list_datasets

    return list(list_datasets()["name"])


def _dataset_name(name: str) -> str:
    names = _dataset_names()
    if name not in names:
        raise CommandError(
            f"no shipped data set named {name!r}{_did_you_mean(name, names)}; "
            f"available: {', '.join(names)}"
        )
    return name


def _did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- fit
def _fit(args: argparse.Namespace) -> int:
    spec = _model(args)
    estimator = spec.make(_settings(args, spec))
    fit_kwargs = _fit_kwargs(args, spec)
    _check_paths(args)  # before the data are read and fitted, not after a long fit
    frame = _read_data(args.data)
    alpha, progress = 1 - args.confidence_level, False if args.quiet else None
    if args.by:
        table = _fit_groups(estimator, frame, args, alpha, progress)
        print(table.to_string(index=False))
        figure = _plot(args, "group_spread", table)
    else:
        estimator.fit(frame, **fit_kwargs)
        print(estimator.summary_text(alpha))
        table = estimator.tidy(alpha)
        fit_kwargs.pop("groups", None)
        if args.bootstrap is not None:
            result = _bootstrap(estimator, frame, fit_kwargs, args, progress)
            table = _bootstrap_table(result)
            failed = f", {result.n_failed} failed" if result.n_failed else ""
            print(
                f"\nBootstrap: {result.n_resamples} resamples, {result.method} intervals "
                f"at {result.confidence_level:g}, seed {args.seed or 0}{failed}"
            )
            print(table.to_string(index=False))
            figure = _plot(args, "bootstrap_distribution", result)
        else:
            figure = _single_fit_plot(args, estimator, frame)
    if figure is not None:
        figure.savefig(args.plot, dpi=120)
        require_matplotlib().close(figure)
        print(f"figure written to {args.plot}")
    if args.output is not None:
        if args.output.lower().endswith(".json"):
            _write_json(table, args.output)
        else:
            table.to_csv(args.output, index=False)
        print(f"results written to {args.output}")
    return 0


def _fit_kwargs(args: argparse.Namespace, spec: ModelSpec) -> dict[str, Any]:
    """What ``fit`` takes beside the data; options that do not go together are errors."""
    if not 0 < args.confidence_level < 1:
        raise CommandError(f"--confidence-level must be in (0, 1), got {args.confidence_level}")
    if args.bootstrap is None and (args.method is not None or args.seed is not None):
        raise CommandError("--method and --seed are bootstrap settings: add --bootstrap N")
    if args.by and args.bootstrap is not None:
        raise CommandError("--by and --bootstrap cannot be combined; run them one at a time")
    if args.plot_kind is not None and (args.plot is None or args.by or args.bootstrap):
        raise CommandError(
            "--plot-kind chooses the figure of one fit: give --plot FILE, "
            "without --by or --bootstrap (they have their own figures)"
        )
    if args.plot_kind == "distribution" and args.model != "mle":
        raise CommandError("--plot-kind distribution draws a fitted family: use --model mle")
    if args.plot_kind == "residuals" and spec.kind != "regression":
        raise CommandError("--plot-kind residuals is for regression models (--formula)")
    if args.by and args.groups:
        raise CommandError("--groups (clusters) applies to one fit, not to --by")
    if spec.kind == "regression":
        if args.formula is None or args.column is not None:
            raise CommandError(
                f'--model {args.model} takes --formula "response ~ terms" '
                "(--column is for one-sample models)"
            )
        kwargs: dict[str, Any] = {"formula": args.formula}
    else:
        if args.column is None or args.formula is not None or args.by:
            raise CommandError(
                f"--model {args.model} fits one sample: give --column NAME "
                "(--formula and --by are for regression models)"
            )
        kwargs = {"column": args.column}
    if args.groups:
        kwargs["groups"] = args.groups if len(args.groups) > 1 else args.groups[0]
    return kwargs


def _check_paths(args: argparse.Namespace) -> None:
    for name, value in (("--output", args.output), ("--plot", args.plot)):
        if value is not None:
            _check_writable(name, value)
    if args.output is not None and Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise CommandError(f"--output {args.output!r}: give a .csv or .json file name")
    if args.plot is not None:
        _start_matplotlib(args.plot)


def _write_json(table, path: str) -> None:
    """A list of records, one a row; floats as Python's repr (they read back exactly), NaN null.

    (pandas' ``to_json`` rounds to at most 15 decimal places, so p-values lose digits.)
    """
    records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    with open(path, "w") as handle:
        json.dump(records, handle, indent=1, allow_nan=False, default=lambda v: v.item())
        handle.write("\n")


def _model(args: argparse.Namespace) -> ModelSpec:
    spec = MODELS.get(args.model)
    if spec is None:
        raise CommandError(
            f"unknown model {args.model!r}{_did_you_mean(args.model, list(MODELS))}; "
            f"models: {', '.join(MODELS)}"
        )
    return spec


def _settings(args: argparse.Namespace, spec: ModelSpec) -> dict[str, Any]:
    """The estimator's settings from the options; an option the model does not take is an error."""
    settings: dict[str, Any] = {}
    for option in ("q", "c", "alpha", "family", "link", "ddof"):
        value = getattr(args, option)
        if value is None:
            continue
        if option not in spec.options:
            takes = ", ".join(f"--{o}" for o in spec.options) or "none of them"
            raise CommandError(
                f"--{option} does not apply to --model {args.model} (it takes {takes})"
            )
        settings[option] = value
    if args.model == "mle" and "family" not in settings:
        raise CommandError("--model mle needs --family, e.g. --family normal")
    if args.cov_type is not None:
        settings["cov_type"] = args.cov_type
    return settings


def _read_data(path: str):
    """A CSV or Parquet file (or folder) as a DataFrame; else a shipped data set by name."""
    import pandas as pd

    file = Path(path)
    if not file.exists():
        names = _dataset_names()
        if path in names:
            from .datasets import load_dataset

            return load_dataset(path)
        raise CommandError(
            f"no file {path!r}; give the path of a .csv or .parquet file, "
            f"or a shipped data set: {', '.join(names)}"
        )
    suffix = file.suffix.lower()
    parquet = file.is_dir() or suffix in (".parquet", ".pq")
    if not parquet and suffix not in (".csv", ".txt", ".gz"):
        raise CommandError(
            f"{path!r}: unknown file type {suffix or '(none)'}; give a .csv or .parquet file"
        )
    try:
        frame = pd.read_parquet(file) if parquet else pd.read_csv(file)
    except (ValueError, OSError, UnicodeDecodeError) as err:  # pandas' and pyarrow's parse errors
        kind = "Parquet" if parquet else "CSV"
        raise CommandError(f"could not read {path!r} as {kind}: {_one_line(err)}") from err
    _check_stray_text(frame, path)
    return frame


MAX_STRAY_TEXT = (
    0.1  # a text column whose cells are at least 90% numbers is a spoiled number column
)


def _check_stray_text(frame, path: str) -> None:
    """A number column with a few text cells (a typo, "n/a") is read as text, and a
    formula would make it a categorical with a level per value: name the cells instead."""
    import pandas as pd

    for name in frame.columns[[dtype.kind == "O" for dtype in frame.dtypes]]:
        cells = frame[name].dropna()
        numbers = pd.to_numeric(cells, errors="coerce")
        text = cells[numbers.isna()]
        if 0 < len(text) <= MAX_STRAY_TEXT * len(cells):
            shown = ", ".join(f"row {i}: {v!r}" for i, v in text.head(3).items())
            raise CommandError(
                f"{path!r}: column {name!r} holds numbers but {len(text)} cell(s) are text "
                f"({shown}); correct them or leave them empty (missing)"
            )


def _check_writable(option: str, path: str) -> None:
    """Fail before fitting when ``path`` cannot be written (not after a long fit)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CommandError(f"{option} {path!r} is a folder; give a file name inside it")
    if not folder.is_dir():
        raise CommandError(
            f"{option} {path!r}: folder {str(folder)!r} does not exist; create it "
            "or give a path in an existing folder"
        )
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CommandError(f"{option} {path!r} is not writable; give a path you can write to")


def _fit_groups(estimator, frame, args, alpha, progress):
    from .batch import fit_groups

    kwargs: dict[str, Any] = {"formula": args.formula, "alpha": alpha}
    if "progress" in inspect.signature(fit_groups).parameters:
        kwargs["progress"] = progress
    return fit_groups(estimator, frame, args.by if len(args.by) > 1 else args.by[0], **kwargs)


def _bootstrap(estimator, frame, fit_kwargs, args, progress):
    from .bootstrap import bootstrap

    kwargs = dict(
        fit_kwargs,
        n_resamples=args.bootstrap,
        method=args.method or "percentile",
        seed=0 if args.seed is None else args.seed,
        confidence_level=args.confidence_level,
        progress=progress,
    )
    return bootstrap(estimator, frame, **kwargs)


def _bootstrap_table(result):
    import pandas as pd

    return pd.DataFrame(
        {
            "term": result.estimate.index,
            "estimate": result.estimate.to_numpy(),
            "std_error": result.standard_error.to_numpy(),
            "ci_lower": result.confidence_interval["low"].to_numpy(),
            "ci_upper": result.confidence_interval["high"].to_numpy(),
        }
    )


def _start_matplotlib(path: str) -> None:
    """Check matplotlib (the ``plot`` extra) and the file type before fitting.

    The command only writes files, so it picks the non-interactive Agg backend,
    unless pyplot is already running in this process (``main`` called from
    a session that set its own backend).
    """
    try:
        import matplotlib
    except ImportError:
        require_matplotlib()  # raises the error that names the extra
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    if Path(path).suffix.lower().lstrip(".") not in FigureCanvasBase.get_supported_filetypes():
        raise CommandError(f"--plot {path!r}: unknown image type; end it in .png, .pdf or .svg")


def _plot(args: argparse.Namespace, name: str, *inputs: Any, **options: Any) -> Any:
    """The figure ``estimators.plot.<name>(*inputs)`` when ``--plot`` was given, else None."""
    if args.plot is None:
        return None
    from . import plot

    return getattr(plot, name)(*inputs, **options)


def _single_fit_plot(args: argparse.Namespace, estimator: Any, frame: Any) -> Any:
    kind = args.plot_kind or ("distribution" if args.model == "mle" else "coefficients")
    if kind == "distribution":
        return _plot(args, "distribution", estimator, frame[args.column])
    if kind == "residuals":
        return _plot(args, "residuals", estimator, data=frame)
    return _plot(args, kind, estimator)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="estimators",
        description="Statistical estimators as minimisers of a loss, fitted with JAX and optax.",
    )
    parser.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = commands.add_parser("demo", help="run the autodiff walkthrough (the tutorial, in JAX)")
    demo.set_defaults(run=_demo)

    data = commands.add_parser(
        "datasets", help="list the shipped data sets, or 'datasets show NAME' to describe one"
    )
    data.add_argument("action", nargs="?", choices=["list", "show"], help="list (default) or show")
    data.add_argument("name", nargs="?", help="the data set to show")
    data.set_defaults(run=_datasets)

    models = "\n".join(f"  {name:<16} {spec.help}" for name, spec in MODELS.items())
    fit = commands.add_parser(
        "fit",
        help="fit a model to a CSV or Parquet file and print its summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fit a model and print its summary.\n\nmodels (--model):\n" + models,
    )
    fit.add_argument("data", help="a .csv or .parquet file, or a shipped data set's name")
    fit.add_argument("--model", required=True, help="one of the models listed above")
    fit.add_argument(
        "--formula", help='regression models: "response ~ terms", e.g. "y ~ x1 + C(g)"'
    )
    fit.add_argument("--column", help="one-sample models: the column to fit")
    fit.add_argument("--cov-type", help="covariance type: nonrobust, HC0-HC3, cluster, HAC, ...")
    fit.add_argument("--groups", nargs="+", help="cluster column(s) for --cov-type cluster")
    fit.add_argument("--by", nargs="+", help="fit every group of these column(s) (fit_groups)")
    fit.add_argument("--bootstrap", type=int, metavar="N", help="bootstrap with N resamples")
    fit.add_argument("--method", help="bootstrap interval: percentile (default), basic, bca")
    fit.add_argument("--seed", type=int, help="bootstrap seed (default 0)")
    fit.add_argument("--confidence-level", type=float, default=0.95, help="interval level")
    fit.add_argument("--q", type=float, help="quantile level in (0, 1)")
    fit.add_argument("--c", type=float, help="tuning constant (huber, tukey)")
    fit.add_argument("--alpha", type=float, help="ridge penalty; negative binomial alpha (glm)")
    fit.add_argument(
        "--family", help="glm: gaussian, binomial, poisson, gamma, ...; mle: normal, gamma, ..."
    )
    fit.add_argument("--link", help="glm link, e.g. logit, probit, log")
    fit.add_argument("--ddof", type=float, help="sd: delta degrees of freedom")
    fit.add_argument("--plot", metavar="FILE", help="save a figure (.png, .pdf, .svg)")
    fit.add_argument(
        "--plot-kind",
        choices=PLOT_KINDS,
        help="figure of one fit: coefficients (default), convergence, residuals, "
        "distribution (mle's default); --by and --bootstrap draw their own",
    )
    fit.add_argument("--output", metavar="FILE", help="write the results table (.csv or .json)")
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.set_defaults(run=_fit)
    return parser


# --------------------------------------------------------------------------- main
def _one_line(err: BaseException) -> str:
    """The message on one line: multi-line messages (formulaic's) are joined."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"estimators: warning: {_one_line(message)}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second BrokenPipeError.

    (The recipe of Python's documentation, ``signal`` module, "Note on SIGPIPE".)
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in tests)
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 for any error)."""
    parser = build_parser()
    traceback = False
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help
            return int(done.code or 0)
        traceback = args.traceback
        if not hasattr(args, "run"):
            parser.print_help()
            return 2
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.run(args)
    except KeyboardInterrupt:
        print("estimators: interrupted", file=sys.stderr)
        return 130  # the shell's code for SIGINT
    except BrokenPipeError:  # the reader left (`estimators fit ... | head`): stop quietly
        _silence_stdout()
        return 1
    except (EstimationError, KeyError, OSError) as err:
        if traceback:
            raise
        print(f"estimators: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug, not bad input: still one line, traceback on request
        if traceback:
            raise
        print(
            f"estimators: error: unexpected {type(err).__name__}: {_one_line(err)} "
            "(rerun with 'estimators --traceback ...' and report it)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
