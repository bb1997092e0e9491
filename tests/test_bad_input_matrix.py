"""The bad-input matrix: every public entry point crossed with every kind of bad data.

Issue 9, item 1. The matrix is data: ``ENTRIES`` (callables that take a
problem: the inputs of one call) x ``CASES`` (functions that turn an entry's
good problem into a bad one). Every cell must end in one of three ways, named
in ``EXPECTED`` (an explicit table, with a reason for each exception):

- ``"error"`` (the default): an :class:`~estimators.errors.EstimationError`
  subclass whose message names the argument or column and counts the
  offending rows (the case says which words and which count);
- ``"warn"``: a documented warning, and a result that is visibly flagged
  (``converged_ = False``, NaN standard errors with ``cov_note_``, a note in
  the grouped table, NaN predictions at exactly the bad rows);
- ``"ok"``: the input is legitimate for this entry point (booleans are
  numbers): a finite result and no warning;
- ``"skip"``: the case does not apply to the entry point (a response domain
  for a model whose response is any real number); counted, with a reason.

Never a raw JAX or NumPy traceback, never a silent NaN or infinite estimate.
``python tests/test_bad_input_matrix.py`` prints the whole matrix and the
counts.

This extends tests/test_warnings.py, tests/test_frame.py and
tests/test_other_frames.py (which test single messages in detail) to the
cross product.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from estimators.errors import (
    ConvergenceWarning,
    DataError,
    EstimationError,
    InferenceWarning,
    SettingsError,
)

N = 30  # rows of every good problem


# --------------------------------------------------------------------------- good problems


def _rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


def _sample(kind: str) -> pd.Series:
    rng = _rng()
    if kind == "count":
        values = rng.poisson(3.0, N).astype(float)
    elif kind == "positive":
        values = rng.gamma(2.0, 1.5, N)
    else:
        values = rng.normal(10.0, 2.0, N)
    return pd.Series(values, name="x")


def _regression(response: str) -> tuple[pd.DataFrame, pd.Series]:
    rng = _rng()
    X = pd.DataFrame({"a": rng.normal(size=N), "b": rng.normal(size=N)})
    eta = 0.3 + 0.5 * X["a"] - 0.4 * X["b"]
    if response == "binary":
        y = (rng.uniform(size=N) < 1 / (1 + np.exp(-eta))).astype(float)
    elif response == "count":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif response == "positive":
        y = rng.gamma(5.0, np.exp(eta) / 5.0)
    else:
        y = eta + rng.normal(scale=0.5, size=N)
    return X, pd.Series(np.asarray(y), name="y")


# --------------------------------------------------------------------------- entry points


@dataclasses.dataclass(frozen=True)
class Entry:
    """One public entry point: ``call(problem)`` runs it on a problem dict."""

    name: str
    kind: str  # sample, regression, predict, minimize, groups, bootstrap, stream, cli
    good: Callable[[], dict]
    call: Callable[[dict], Any]
    response: str = "real"  # the response's domain: real, binary, count, positive


def _sample_entry(name, make, data="real"):
    def good():
        return {"x": _sample(data), "sample_weight": None, "settings": {}}

    def call(p):
        return make(**p["settings"]).fit(p["x"], sample_weight=p["sample_weight"])

    return Entry(name, "sample", good, call, data)


def _regression_entry(name, make, response="real"):
    def good():
        X, y = _regression(response)
        return {"X": X, "y": y, "sample_weight": None, "settings": {}}

    def call(p):
        return make(**p["settings"]).fit(p["X"], p["y"], sample_weight=p["sample_weight"])

    return Entry(name, "regression", good, call, response)


def _predict_entry(name, make, response="real"):
    """Fit on good data, then predict on the bad ``X``."""

    def good():
        X, y = _regression(response)
        return {"X": X, "y": y, "sample_weight": None, "settings": {}}

    def call(p):
        X, y = _regression(response)
        return make().fit(X, y).predict(p["X"])

    return Entry(name, "predict", good, call, response)


def _linear_model(b, x):
    return b["b0"] + b["b1"] * x[:, 0] + b["b2"] * x[:, 1]


def _nls(**settings):
    from estimators.nonlinear import NonlinearLeastSquares

    return NonlinearLeastSquares(
        _linear_model, params0={"b0": 0.0, "b1": 0.0, "b2": 0.0}, **settings
    )


class _NLSAdapter:
    """NonlinearLeastSquares takes ``x`` (any array the model reads) and ``y``."""

    def __init__(self, **settings):
        self.inner = _nls(**settings)

    def fit(self, X, y, sample_weight=None):
        return self.inner.fit(X, y, sample_weight=sample_weight)


def _abs_loss(params, x):
    return jnp.abs(x - params["m"]) + (x - params["m"]) ** 2


def _mestimator(**settings):
    from estimators.likelihood import MEstimator

    return MEstimator(loss=_abs_loss, params0={"m": 0.0}, **settings)


def _msd(params, x):
    return jnp.mean((x - params["beta"]) ** 2)


def _minimize_entry():
    def good():
        return {"x": _sample("real"), "sample_weight": None, "settings": {}}

    def call(p):
        from estimators.solve import minimize

        x = p["x"]
        x = x.to_numpy() if isinstance(x, pd.Series) else x
        return minimize(_msd, {"beta": 0.0}, x, **p["settings"])

    return Entry("minimize", "minimize", good, call)


def _groups_entry():
    def good():
        X, y = _regression("real")
        frame = pd.concat([X, y], axis=1)
        frame["g"] = np.repeat(["u", "v", "w"], N // 3)
        return {"X": frame, "y": None, "sample_weight": None, "settings": {}}

    def call(p):
        from estimators.batch import fit_groups
        from estimators.regression import LinearRegression

        weights = None
        frame = p["X"]
        if p["sample_weight"] is not None:
            frame = frame.assign(w=np.asarray(p["sample_weight"]))
            weights = "w"
        return fit_groups(
            LinearRegression(**p["settings"]),
            frame,
            by="g",
            columns=[c for c in frame.columns if c not in ("g", "y", "w")],
            response="y",
            sample_weight=weights,
        )

    return Entry("fit_groups", "groups", good, call)


def _bootstrap_sample_entry():
    def good():
        return {"x": _sample("real"), "sample_weight": None, "settings": {}}

    def call(p):
        from estimators.bootstrap import bootstrap
        from estimators.location import Mean

        return bootstrap(
            Mean(**p["settings"]), p["x"], n_resamples=50, sample_weight=p["sample_weight"]
        )

    return Entry("bootstrap(Mean)", "sample", good, call)


def _bootstrap_regression_entry():
    def good():
        X, y = _regression("real")
        return {"X": X, "y": y, "sample_weight": None, "settings": {}}

    def call(p):
        from estimators.bootstrap import bootstrap
        from estimators.regression import LinearRegression

        return bootstrap(
            LinearRegression(**p["settings"]),
            (p["X"], p["y"]),
            n_resamples=50,
            sample_weight=p["sample_weight"],
        )

    return Entry("bootstrap(LinearRegression)", "regression", good, call)


def _stream_entry(name, make, response):
    """fit_stream over an iterable of three DataFrame chunks."""

    def good():
        X, y = _regression(response)
        return {"X": X, "y": y, "sample_weight": None, "settings": {}}

    def call(p):
        from estimators.stream import fit_stream

        X, y = p["X"], p["y"]
        if len(X) != len(y):
            raise AssertionError("fit_stream reads X and y from one frame: not applicable")
        frame = pd.concat([X, y], axis=1)
        weights = None
        if p["sample_weight"] is not None:
            frame = frame.assign(w=np.asarray(p["sample_weight"]))
            weights = "w"
        chunks = [frame.iloc[i : i + 10] for i in range(0, max(len(frame), 1), 10)]
        return fit_stream(
            make(**p["settings"]),
            chunks,
            columns=list(X.columns),
            response=str(y.name),
            weights=weights,
            batch_size=16,
        )

    return Entry(name, "stream", good, call, response)


def _entries() -> list[Entry]:
    from estimators import glm, likelihood, location, quantile, regression, robust, scale

    out = [
        _sample_entry("Mean", location.Mean),
        _sample_entry("Median", location.Median),
        _sample_entry("Quantile(0.3)", lambda q=0.3, **s: location.Quantile(q, **s)),
        _sample_entry("Huber", location.Huber),
        _sample_entry("TukeyBiweight", location.TukeyBiweight),
        _sample_entry("StandardDeviation", scale.StandardDeviation),
        _sample_entry("MAD", scale.MAD),
        _sample_entry("ML(normal)", lambda **s: likelihood.MaximumLikelihood("normal", **s)),
        _sample_entry(
            "ML(gamma)", lambda **s: likelihood.MaximumLikelihood("gamma", **s), "positive"
        ),
        _sample_entry(
            "ML(poisson)", lambda **s: likelihood.MaximumLikelihood("poisson", **s), "count"
        ),
        _sample_entry("MEstimator", _mestimator),
    ]
    models = [
        ("LinearRegression", regression.LinearRegression, "real"),
        ("Ridge", regression.Ridge, "real"),
        ("LogisticRegression", glm.LogisticRegression, "binary"),
        ("PoissonRegression", glm.PoissonRegression, "count"),
        ("GLM(gamma)", lambda **s: glm.GLM("gamma", "log", **s), "positive"),
        ("HuberRegression", robust.HuberRegression, "real"),
        ("TukeyRegression", robust.TukeyRegression, "real"),
        (
            "QuantileRegression(0.3)",
            lambda q=0.3, **s: quantile.QuantileRegression(q, **s),
            "real",
        ),
        ("NonlinearLeastSquares", _NLSAdapter, "real"),
    ]
    out += [_regression_entry(n, m, r) for n, m, r in models]
    out += [_predict_entry(f"{n}.predict", m, r) for n, m, r in models[:5]]
    out += [
        _minimize_entry(),
        _groups_entry(),
        _bootstrap_sample_entry(),
        _bootstrap_regression_entry(),
        _stream_entry("fit_stream(LinearRegression)", regression.LinearRegression, "real"),
        _stream_entry("fit_stream(LogisticRegression)", glm.LogisticRegression, "binary"),
    ]
    return out


# --------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Bad:
    """A bad problem and what an error about it must say.

    ``names``: words of which the message must contain one (the argument or
    column); ``count``: the number of offending rows it must state (None: a
    setting, or the whole input); ``error``: the expected error class.
    """

    problem: dict
    names: tuple[str, ...]
    count: int | None = None
    error: type = DataError


def _data_key(p: dict) -> str:
    return "x" if "x" in p else "X"


def _column(p: dict) -> tuple[str, pd.Series]:
    """The column a case spoils: x of a sample, column 'b' of a design."""
    return ("x", p["x"]) if "x" in p else ("b", p["X"]["b"])


def _with_column(p: dict, values) -> dict:
    p = dict(p)
    if "x" in p:
        p["x"] = pd.Series(values, name="x", index=p["x"].index)
    else:
        X = p["X"].copy()
        X["b"] = values
        p["X"] = X
    return p


def _rows(p: dict, n: int) -> dict:
    p = dict(p)
    if "x" in p:
        p["x"] = p["x"].iloc[:n]
    else:
        p["X"] = p["X"].iloc[:n]
        if p["y"] is not None:
            p["y"] = p["y"].iloc[:n]
    return p


def _spoil(p: dict, rows: list[int], value) -> dict:
    _, col = _column(p)
    col = col.astype(object) if not isinstance(value, float) else col.copy()
    for r in rows:
        col.iloc[r] = value
    return _with_column(p, col)


def case_empty(p, e):
    return Bad(_rows(p, 0), ("empty", "0 rows", "no rows"), 0)


def case_one_row(p, e):
    # "too few rows" has no offending rows to count: the message names the data
    return Bad(_rows(p, 1), ("x", "y", "rows", "observation"))


def case_few_rows(p, e):
    if "x" in p:
        return None  # a one-parameter sample: one_row is its case
    return Bad(_rows(p, 2), ("rows", "parameters", "singular"), 2)


def case_nan(p, e):
    return Bad(_spoil(p, [2, 5, 7], np.nan), (_column(p)[0],), 3)


def case_posinf(p, e):
    return Bad(_spoil(p, [1, 4], np.inf), (_column(p)[0],), 2)


def case_neginf(p, e):
    return Bad(_spoil(p, [3, 8, 9, 11], -np.inf), (_column(p)[0],), 4)


def case_strings(p, e):
    return Bad(_spoil(p, [1, 6], "abc"), (_column(p)[0],), 2)


def case_objects(p, e):
    return Bad(_spoil(p, [0, 2, 4], {"a": 1}), (_column(p)[0],), 3)


def case_booleans(p, e):
    name, col = _column(p)
    return Bad(_with_column(p, (col > col.median()).to_numpy()), (name,))


def case_constant_column(p, e):
    if "x" in p:
        return None  # a sample's constant column is its constant response
    return Bad(_with_column(p, np.full(len(p["X"]), 5.0)), ("b",))


def case_duplicated_column(p, e):
    """Two columns with the same name."""
    if "x" in p:
        return None
    X = pd.concat([p["X"], p["X"][["b"]]], axis=1)
    if e.kind == "stream":  # fit_stream's columns= argument then names 'b' twice
        return Bad({**p, "X": X}, ("b",), error=SettingsError)
    return Bad({**p, "X": X}, ("b",))


def case_copied_column(p, e):
    """A second column equal to 'b' under another name."""
    if "x" in p:
        return None
    return Bad({**p, "X": p["X"].assign(b2=p["X"]["b"])}, ("b2", "b"))


def case_collinear(p, e):
    if "x" in p:
        return None
    X = p["X"]
    return Bad({**p, "X": X.assign(c=X["a"] + 2 * X["b"])}, ("c", "a", "b"))


def case_wrong_shape(p, e):
    if e.kind == "predict":  # an array with one column too many
        X = np.column_stack([p["X"].to_numpy(), p["X"].to_numpy()[:, 0]])
        return Bad({**p, "X": X}, ("features", "expecting"))
    if "x" in p:
        x = np.column_stack([p["x"].to_numpy(), p["x"].to_numpy()])
        return Bad({**p, "x": x}, ("x", "1-D", "shape"))
    if p["y"] is None:  # fit_groups: one frame, so a 3-D design is its wrong shape
        return None
    return Bad({**p, "y": p["y"].iloc[:-3]}, ("y",), N - 3)


def case_response_domain(p, e):
    bad = {"binary": 2.0, "count": -1.0, "positive": 0.0}.get(e.response)
    if bad is None:
        return None  # any real response is in the domain
    if "x" in p:
        return Bad(_spoil(p, [4, 9], bad), ("x",), 2)
    y = p["y"].copy()
    y.iloc[[4, 9]] = bad
    return Bad({**p, "y": y}, ("y",), 2)


def _n(p):
    return len(p["x"]) if "x" in p else len(p["X"])


def case_negative_weight(p, e):
    w = np.ones(_n(p))
    w[[1, 3]] = -1.0
    return Bad({**p, "sample_weight": w}, ("sample_weight", "weight", "'w'"), 2)


def case_nan_weight(p, e):
    w = np.ones(_n(p))
    w[[1, 3, 5]] = np.nan
    return Bad({**p, "sample_weight": w}, ("sample_weight", "weight", "'w'"), 3)


def case_zero_weights(p, e):
    return Bad({**p, "sample_weight": np.zeros(_n(p))}, ("sample_weight", "weight", "'w'"), _n(p))


def _scaled(p, factor):
    name, col = _column(p)
    return Bad(_with_column(p, col.to_numpy() * factor), (name, "rescale", "overflow"))


def case_huge(p, e):
    return _scaled(p, 1e300)


def case_tiny(p, e):
    return _scaled(p, 1e-300)


def case_mismatched_index(p, e):
    if "x" in p:
        w = pd.Series(np.ones(_n(p)), index=p["x"].index + 1000)
        return Bad({**p, "sample_weight": w}, ("sample_weight", "index"))
    if p["y"] is None:
        return None  # fit_groups: one frame
    y = p["y"].copy()
    y.index = y.index + 1000
    return Bad({**p, "y": y}, ("index",))


def case_unknown_option(p, e):
    if e.kind == "minimize":
        return Bad({**p, "settings": {"solver": "bfgs2"}}, ("solver",), error=SettingsError)
    return Bad({**p, "settings": {"missing": "sometimes"}}, ("missing",), error=SettingsError)


def case_q_outside(p, e):
    if not e.name.startswith("Quantile"):
        return None  # only the quantile estimators have a q
    return Bad({**p, "settings": {"q": 1.5}}, ("q",), error=SettingsError)


def case_separation(p, e):
    if e.response != "binary":
        return None
    X = p["X"]
    return Bad({**p, "y": pd.Series((X["a"] > 0).astype(float), name="y")}, ("separat",))


def case_constant_response(p, e):
    if "x" in p:
        return Bad({**p, "x": pd.Series(np.full(_n(p), 2.0), name="x")}, ("x", "constant"))
    if p["y"] is None:
        frame = p["X"].assign(y=1.0)
        return Bad({**p, "X": frame}, ("y", "constant"))
    value = {"binary": 1.0, "count": 0.0}.get(e.response, 2.0)
    return Bad({**p, "y": pd.Series(np.full(N, value), name="y")}, ("y", "constant", "separat"))


CASES: dict[str, Callable] = {
    name[len("case_") :]: fn for name, fn in dict(globals()).items() if name.startswith("case_")
}


# --------------------------------------------------------------------------- outcomes


@dataclasses.dataclass
class Outcome:
    kind: str  # error, raw, returned
    value: Any
    warnings: list

    def describe(self) -> str:
        if self.kind == "returned":
            ws = sorted({w.category.__name__ for w in self.warnings})
            return f"returned finite={_finite(self.value)} flagged={_flagged(self.value)} {ws}"
        return f"{self.kind} {type(self.value).__name__}: {self.value}"


def _run(entry: Entry, problem: dict) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = entry.call(problem)
        except EstimationError as err:
            return Outcome("error", err, list(caught))
        except Exception as err:  # noqa: BLE001 - a raw traceback is what the matrix looks for
            return Outcome("raw", err, list(caught))
    return Outcome("returned", value, list(caught))


def _estimates(value) -> np.ndarray:
    if hasattr(value, "params_"):
        return np.asarray(value.params_, dtype=float)
    if hasattr(value, "bootstrap_distribution"):
        return np.asarray(value.bootstrap_distribution, dtype=float).ravel()
    if hasattr(value, "grad_norm"):  # a Solution
        return np.asarray(value.params["beta"], dtype=float).ravel()
    if isinstance(value, pd.DataFrame):  # fit_groups' tidy table
        return value["estimate"].to_numpy(dtype=float)
    if isinstance(value, pd.Series):  # predictions
        return value.to_numpy(dtype=float)
    return np.asarray(value.inner.params_, dtype=float)  # the NLS adapter


def _finite(value) -> bool:
    return bool(np.isfinite(_estimates(value)).all())


def _flagged(value) -> bool:
    """Visibly flagged: not converged, NaN standard errors with a note, or a grouped note."""
    fitted = getattr(value, "inner", value)
    if hasattr(fitted, "converged_"):
        if not fitted.converged_:
            return True
        return bool(np.isnan(np.asarray(fitted.std_errors_, dtype=float)).any())
    if hasattr(fitted, "converged") and hasattr(fitted, "grad_norm"):
        return not fitted.converged
    if isinstance(fitted, pd.DataFrame) and "note" in fitted:
        return bool((fitted["note"].astype(str) != "").any())
    return False


def _ours(caught) -> list:
    from estimators.glm import PerfectSeparationWarning

    ours = (ConvergenceWarning, InferenceWarning, PerfectSeparationWarning)
    return [w for w in caught if issubclass(w.category, ours)]


# --------------------------------------------------------------------------- the table

OK, WARN, FLAG, NAN_ROWS, SKIP, XFAIL = "ok", "warn", "flag", "nan_rows", "skip", "xfail"
_SAMPLES = ("Mean", "Median", "Quantile(0.3)", "Huber", "TukeyBiweight", "StandardDeviation")
_SAMPLES += ("MAD", "ML(normal)", "ML(gamma)", "ML(poisson)", "MEstimator", "bootstrap(Mean)")
_GLMS = ("LogisticRegression", "PoissonRegression", "GLM(gamma)")
_PREDICT_FIT_ONLY = "predict takes only X; a fit-time input"
_RUNTIME_WARNING = "a numpy RuntimeWarning (overflow / invalid value) escapes from "

# (entry, case) -> (outcome, reason). "*" stands for every entry and "kind:<kind>" for
# every entry of a kind; the most specific key wins; the default is ("error", "").
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("*", "booleans"): (OK, "booleans are the numbers 0 and 1"),
    ("*", "huge"): (OK, "data near 1e300 fit without overflow (README: Numerics)"),
    ("*", "tiny"): (OK, "data near 1e-300 fit without underflow (README: Numerics)"),
    # --- one-sample estimators
    ("Mean", "one_row"): (WARN, "InferenceWarning: one observation, NaN standard error"),
    ("Median", "one_row"): (WARN, "InferenceWarning: one observation, NaN standard error"),
    ("Quantile(0.3)", "one_row"): (WARN, "InferenceWarning: one observation, NaN SE"),
    ("MAD", "one_row"): (WARN, "InferenceWarning: one observation, NaN standard error"),
    ("MEstimator", "one_row"): (WARN, "ConvergenceWarning: the user's loss has a kink at x"),
    ("ML(gamma)", "booleans"): ("error", "0 is outside the gamma family's support"),
    ("ML(poisson)", "one_row"): (OK, "one count has the MLE lambda = x, SE sqrt(x)"),
    ("bootstrap(Mean)", "one_row"): ("error", "a bootstrap needs 2 observations, as scipy"),
    ("Mean", "constant_response"): (OK, "the mean of equal values is that value, SE 0"),
    ("StandardDeviation", "constant_response"): (OK, "the SD of equal values is 0"),
    ("MAD", "constant_response"): (OK, "the MAD of equal values is 0"),
    ("ML(poisson)", "constant_response"): (OK, "equal counts: lambda = that count"),
    ("bootstrap(Mean)", "constant_response"): (OK, "every resample's mean is that value"),
    ("Median", "constant_response"): (WARN, "InferenceWarning: zero density bandwidth"),
    ("Quantile(0.3)", "constant_response"): (WARN, "InferenceWarning: zero bandwidth"),
    ("MEstimator", "constant_response"): (WARN, "ConvergenceWarning: a kink at the optimum"),
    ("ML(poisson)", "huge"): (
        "error",
        "counts with a mean above 2**510 overflow the poisson likelihood's derivatives",
    ),
    ("ML(poisson)", "tiny"): ("error", "1e-300 x counts are not integers"),
    ("MEstimator", "huge"): ("error", "the user's loss overflows at params0"),
    ("MEstimator", "tiny"): (WARN, "ConvergenceWarning: the kink at 1e-300 scale"),
    ("bootstrap(Mean)", "huge"): (OK, "the spread is taken in power-of-two scaled units"),
    # --- regressions
    ("Ridge", "one_row"): (WARN, "InferenceWarning: no residual degrees of freedom, NaN SEs"),
    ("Ridge", "few_rows"): (OK, "a ridge penalty identifies p > n"),
    ("Ridge", "constant_column"): (OK, "a ridge penalty identifies collinear columns"),
    ("Ridge", "copied_column"): (OK, "a ridge penalty identifies collinear columns"),
    ("Ridge", "collinear"): (OK, "a ridge penalty identifies collinear columns"),
    ("Ridge", "tiny"): ("error", "FitError with the hint to rescale"),
    ("NonlinearLeastSquares", "constant_column"): (WARN, "InferenceWarning: singular J'J"),
    ("NonlinearLeastSquares", "copied_column"): (SKIP, "the model reads columns a, b only"),
    ("NonlinearLeastSquares", "collinear"): (SKIP, "the model reads columns a, b only"),
    ("LinearRegression", "constant_response"): (OK, "y constant: slopes 0, R^2 undefined"),
    ("Ridge", "constant_response"): (OK, "y constant: slopes 0"),
    ("NonlinearLeastSquares", "constant_response"): (OK, "y constant: b1 = b2 = 0"),
    ("QuantileRegression(0.3)", "constant_response"): (WARN, "InferenceWarning: zero bandwidth"),
    ("LogisticRegression", "separation"): (WARN, "PerfectSeparationWarning, converged_ False"),
    # y at the family's boundary on every row: no coefficient has an MLE (extreme
    # separation), so an error naming y and the rows, as scikit-learn's "needs 2 classes";
    # partial separation keeps its PerfectSeparationWarning (glm._check_one_outcome)
    ("LogisticRegression", "constant_response"): ("error", "y is 1 on all 30 rows: no MLE"),
    ("PoissonRegression", "constant_response"): ("error", "y is 0 on all 30 rows: no MLE"),
    ("GLM(gamma)", "constant_response"): (
        "error",
        "y fitted exactly on all 30 rows: the gamma dispersion is 0 (check_dispersion)",
    ),
    **{
        (g, "huge"): ("error", "the GLM names column b (its scaling makes X'WX singular)")
        for g in _GLMS
    },
    **{
        (g, "tiny"): ("error", "the GLM names column b (its scaling makes X'WX singular)")
        for g in _GLMS
    },
    # Variances beyond float64's range in data units: NaN SEs and the reason
    # (inference.covariance_in_data_units), with an InferenceWarning.
    ("HuberRegression", "huge"): (WARN, "InferenceWarning: variances near 1e-600"),
    ("TukeyRegression", "huge"): (WARN, "InferenceWarning: variances near 1e-600"),
    ("QuantileRegression(0.3)", "huge"): (WARN, "InferenceWarning: variances near 1e-600"),
    ("QuantileRegression(0.3)", "tiny"): (WARN, "InferenceWarning: variances near 1e600"),
    ("HuberRegression", "tiny"): (WARN, "InferenceWarning: variances near 1e600"),
    ("TukeyRegression", "tiny"): (WARN, "InferenceWarning: variances near 1e600"),
    ("NonlinearLeastSquares", "huge"): (WARN, "InferenceWarning: variances near 1e-600"),
    ("NonlinearLeastSquares", "tiny"): (WARN, "InferenceWarning: variances near 1e600"),
    ("PoissonRegression.predict", "huge"): ("error", "exp(eta) overflows: rows counted"),
    ("GLM(gamma).predict", "huge"): ("error", "exp(eta) overflows: rows counted"),
    ("bootstrap(LinearRegression)", "tiny"): (OK, "power-of-two scaled spread"),
    **{
        ("bootstrap(LinearRegression)", c): ("error", "names the column, as LinearRegression")
        for c in ("constant_column", "copied_column", "collinear")
    },
    ("bootstrap(LinearRegression)", "constant_response"): (OK, "y constant: slopes 0"),
    # --- predict: only X is new
    **{
        ("kind:predict", c): (SKIP, _PREDICT_FIT_ONLY)
        for c in ("response_domain", "negative_weight", "nan_weight", "zero_weights")
        + ("mismatched_index", "unknown_option", "separation", "constant_response")
    },
    ("kind:predict", "empty"): (OK, "no rows in, no predictions out"),
    ("kind:predict", "one_row"): (OK, "one row in, one prediction out"),
    ("kind:predict", "few_rows"): (OK, "two rows in, two predictions out"),
    ("kind:predict", "nan"): (NAN_ROWS, "documented: NaN predictions at exactly those rows"),
    ("kind:predict", "constant_column"): (OK, "a constant new column is a legitimate input"),
    ("kind:predict", "copied_column"): (OK, "extra columns of a DataFrame are ignored"),
    ("kind:predict", "collinear"): (OK, "extra columns of a DataFrame are ignored"),
    # --- the engine: any loss over any arrays; it reports, never raises, on NaN
    ("minimize", "empty"): (FLAG, "the mean of no values is NaN: status NONFINITE"),
    ("minimize", "nan"): (FLAG, "a NaN loss: status NONFINITE, converged False"),
    ("minimize", "posinf"): (FLAG, "an infinite loss: status NONFINITE"),
    ("minimize", "neginf"): (FLAG, "an infinite loss: status NONFINITE"),
    ("minimize", "huge"): (FLAG, "squares of 1e300 overflow: status NONFINITE"),
    ("minimize", "one_row"): (OK, "a loss over one value"),
    ("minimize", "wrong_shape"): (OK, "the user's loss reads any shape"),
    ("minimize", "constant_response"): (OK, "a loss over equal values"),
    **{
        ("minimize", c): (SKIP, "minimize has no weights or indexes: the loss decides")
        for c in ("negative_weight", "nan_weight", "zero_weights", "mismatched_index")
    },
    # --- fit_groups: a group that cannot be fitted gets NaN and a note (documented)
    ("fit_groups", "one_row"): (FLAG, "every group has one row: NaN and a note per group"),
    ("fit_groups", "few_rows"): (FLAG, "groups with fewer rows than parameters: notes"),
    ("fit_groups", "constant_column"): (FLAG, "a rank-deficient group: NaN and a note"),
    ("fit_groups", "copied_column"): (FLAG, "a rank-deficient group: NaN and a note"),
    ("fit_groups", "collinear"): (FLAG, "a rank-deficient group: NaN and a note"),
    ("fit_groups", "huge"): (FLAG, "batch.py's unrolled Cholesky overflows: NaN and a note"),
    ("fit_groups", "tiny"): (FLAG, "batch.py's unrolled Cholesky underflows: NaN and a note"),
    ("fit_groups", "constant_response"): (OK, "y constant: slopes 0 in every group"),
    # --- fit_stream: one frame, so no separate y
    ("kind:stream", "wrong_shape"): (SKIP, "fit_stream reads X and y from one frame"),
    ("kind:stream", "mismatched_index"): (SKIP, "fit_stream reads X and y from one frame"),
    ("kind:stream", "huge"): ("error", "the streamed Gram matrix overflows: names column b"),
    ("kind:stream", "tiny"): ("error", "the streamed Gram matrix underflows: names column b"),
    ("fit_stream(LinearRegression)", "constant_response"): (OK, "y constant: slopes 0"),
    # a stream cannot hold the rows the separation test needs: an error naming the cause
    ("fit_stream(LogisticRegression)", "separation"): ("error", "names separation"),
    ("fit_stream(LogisticRegression)", "constant_response"): ("error", "names separation"),
}


def expected(entry: Entry, case: str) -> tuple[str, str]:
    for key in ((entry.name, case), (f"kind:{entry.kind}", case), ("*", case)):
        if key in EXPECTED:
            return EXPECTED[key]
    return "error", ""


def _mentions(message: str, name: str) -> bool:
    """Whether ``message`` names ``name``: a whole word for short names (x, y, b)."""
    if len(name) <= 2:
        return re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message) is not None
    return name.lower() in message.lower()


def _check(entry: Entry, case: str, bad: Bad, out: Outcome, want: str) -> str | None:
    """None when the outcome is what the table says, else what is wrong."""
    runtime = [str(w.message) for w in out.warnings if issubclass(w.category, RuntimeWarning)]
    if out.kind == "raw":
        return f"raw {type(out.value).__name__}: {out.value}"
    if want == "error":
        if out.kind != "error":
            return f"expected an error, got {out.describe()}"
        message = str(out.value)
        if not isinstance(out.value, bad.error) and not (
            bad.error is DataError and type(out.value).__name__ == "FitError"
        ):
            return f"expected {bad.error.__name__}, got {type(out.value).__name__}: {message}"
        # NonlinearLeastSquares and minimize name their arguments: x, args[0]
        names = bad.names + {"NonlinearLeastSquares": ("x",), "minimize": ("args",)}.get(
            entry.name, ()
        )
        if not any(_mentions(message, name) for name in names):
            return f"the message names none of {bad.names}: {message}"
        if bad.count is not None and not re.search(rf"(?<![\d.]){bad.count}(?![\d.])", message):
            return f"the message does not count {bad.count} rows: {message}"
        return None
    if out.kind != "returned":
        return f"expected {want}, got {out.describe()}"
    if runtime:
        return f"numpy RuntimeWarning escaped: {runtime}"
    value = out.value
    if want == OK:
        if _ours(out.warnings):
            return f"expected no warning, got {[str(w.message) for w in _ours(out.warnings)]}"
        if not _finite(value):
            return "silent NaN or infinite estimate"
        return None
    if want == WARN:
        if not _ours(out.warnings):
            return f"expected a documented warning, got {out.describe()}"
        if not _flagged(value):
            return "warned, but the result is not flagged (converged_, NaN SE, note)"
        return None
    if want == FLAG:
        return None if _flagged(value) else f"expected a flagged result, got {out.describe()}"
    if want == NAN_ROWS:
        X = bad.problem["X"]
        bad_rows = X.isna().any(axis=1).to_numpy()
        predicted = _estimates(value)
        if not (np.isnan(predicted) == bad_rows).all():
            return "NaN predictions not at exactly the rows with missing values"
        return None
    raise AssertionError(want)


def _cells():
    cells = []
    for entry in _entries():
        for case in CASES:
            want, reason = expected(entry, case)
            marks = []
            if want == XFAIL:
                marks = [pytest.mark.xfail(strict=True, reason=reason)]
            cells.append(pytest.param(entry, case, id=f"{entry.name}-{case}", marks=marks))
    return cells


def _bad(entry: Entry, case: str) -> Bad | None:
    return CASES[case](entry.good(), entry)


@pytest.mark.parametrize("entry, case", _cells())
def test_cell(entry: Entry, case: str):
    want, reason = expected(entry, case)
    if want == SKIP:
        pytest.skip(reason)
    bad = _bad(entry, case)
    if bad is None:
        pytest.skip(f"{case} does not apply to {entry.name}")
    if want == XFAIL:  # what the cell should give once the named file is fixed
        want = OK if reason.startswith(_RUNTIME_WARNING) else "error"
    out = _run(entry, bad.problem)
    error = _check(entry, case, bad, out, want)
    assert error is None, f"{entry.name} x {case}: {error}"


if __name__ == "__main__":
    counts: dict[str, int] = {}
    for param in _cells():
        entry, case = param.values
        want, reason = expected(entry, case)
        bad = None if want == SKIP else _bad(entry, case)
        if bad is None:
            counts["skip"] = counts.get("skip", 0) + 1
            continue
        check = want if want != XFAIL else "?"
        out = _run(entry, bad.problem)
        problem = _check(entry, case, bad, out, check) if check != "?" else out.describe()
        status = "pass" if problem is None else ("xfail" if want == XFAIL else "FAIL")
        counts[status] = counts.get(status, 0) + 1
        if status != "pass":
            print(f"{status:5s} {entry.name:30s} {case:18s} {str(problem)[:200]}")
    print(counts)


# --------------------------------------------------------------------------- the command line


def _cli(tmp_path, frame: pd.DataFrame, *args: str) -> tuple[int, list[str]]:
    import contextlib
    import io

    from estimators.cli import main

    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["fit", str(path), *args])
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


def _cli_frame(response: str = "real") -> pd.DataFrame:
    X, y = _regression(response)
    return pd.concat([X, y], axis=1)


def _cli_spoiled(value, rows) -> pd.DataFrame:
    frame = _cli_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[rows, "b"] = value
    return frame


# (name, frame, arguments, words of which the one stderr line must contain one, count)
LINEAR = ("--model", "linear", "--formula", "y ~ a + b")
CLI_CASES = [
    ("empty", _cli_frame().iloc[:0], LINEAR, ("0",), None),
    ("nan", _cli_spoiled(np.nan, [2, 5, 7]), LINEAR, ("b",), 3),
    ("strings", _cli_spoiled("abc", [1, 6]), LINEAR, ("b",), 2),
    (
        "collinear",
        _cli_frame().assign(c=lambda f: f.a + 2 * f.b),
        ("--model", "linear", "--formula", "y ~ a + b + c"),
        ("c",),
        None,
    ),
    (
        "unknown_model",
        _cli_frame(),
        ("--model", "bogus", "--formula", "y ~ a + b"),
        ("bogus", "model"),
        None,
    ),
    (
        "unknown_cov_type",
        _cli_frame(),
        ("--model", "linear", "--formula", "y ~ a + b", "--cov-type", "bogus"),
        ("cov_type", "bogus"),
        None,
    ),
    (
        "q_outside",
        _cli_frame(),
        ("--model", "quantile", "--q", "1.5", "--formula", "y ~ a + b"),
        ("q",),
        None,
    ),
    (
        "response_domain",
        _cli_frame("count").assign(y=lambda f: f.y.where(f.index % 10 != 4, -1.0)),
        ("--model", "poisson", "--formula", "y ~ a + b"),
        ("y",),
        3,
    ),
    (
        "missing_column",
        _cli_frame(),
        ("--model", "linear", "--formula", "y ~ a + zz"),
        ("zz",),
        None,
    ),
]


@pytest.mark.parametrize(
    "name, frame, args, words, count",
    [pytest.param(*c, id=c[0]) if type(c) is tuple else c for c in CLI_CASES],
)
def test_cli_cell(tmp_path, name, frame, args, words, count):
    """The command line: exit code 2 and one line on stderr naming the problem."""
    code, lines = _cli(tmp_path, frame, *args)
    assert code == 2, (code, lines)
    assert len(lines) == 1, lines
    assert any(_mentions(lines[0], w) for w in words), lines[0]
    if count is not None:
        assert re.search(rf"(?<![\d.]){count}(?![\d.])", lines[0]), lines[0]


# --------------------------------------------------------------------------- divergence

_x = np.random.default_rng(5).normal(10.0, 2.0, 50)


@pytest.mark.parametrize(
    "make, hint",
    [
        (lambda: __import__("estimators").Mean(solver="sgd", learning_rate=1e6), "learning_rate"),
        (lambda: __import__("estimators").Mean(start=1e308), "scale of the data"),
    ],
    ids=["sgd-rate-1e6", "start-1e308"],
)
def test_divergence_is_an_error_with_a_hint(make, hint):
    """Issue 9 item 2: a bad learning rate or start ends in FitError with a hint."""
    from estimators.errors import FitError

    with pytest.raises(FitError, match="Hint") as info:
        make().fit(_x)
    assert hint in str(info.value)


@pytest.mark.parametrize("rate", [-1.0, 0.0, float("nan"), float("inf")])
def test_impossible_learning_rate_is_a_settings_error(rate):
    from estimators.location import Mean
    from estimators.solve import minimize

    with pytest.raises(SettingsError, match="learning_rate"):
        Mean(solver="sgd", learning_rate=rate).fit(_x)
    with pytest.raises(SettingsError, match="learning_rate"):
        minimize(_msd, {"beta": 0.0}, _x, solver="adam", learning_rate=rate)


def _max_iter_fits():
    from estimators import glm, location, robust

    X = pd.DataFrame({"a": np.linspace(-1, 1, 50)})
    y = pd.Series((np.sin(7 * X["a"]) > 0).astype(float), name="y")
    return [
        ("Mean", lambda: location.Mean(solver="sgd", learning_rate=0.01, max_iter=1).fit(_x)),
        (
            "Mean-adam",
            lambda: location.Mean(solver="adam", learning_rate=1e3, max_iter=50).fit(_x),
        ),
        ("LogisticRegression", lambda: glm.LogisticRegression(max_iter=1).fit(X, y)),
        ("HuberRegression", lambda: robust.HuberRegression(max_iter=1).fit(X, _x)),
    ]


@pytest.mark.parametrize("name, fit", _max_iter_fits(), ids=[n for n, _ in _max_iter_fits()])
def test_reaching_max_iter_is_always_visible(name, fit):
    """ConvergenceWarning, converged_ = False, and the reason in the printed summary."""
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fitted = fit()
    assert not fitted.converged_
    text = fitted.summary_text()
    assert "Converged:" in text and "False" in text
    assert "did not converge" in text and "max_iter" in text


def test_minimize_reports_divergence_in_its_status():
    from estimators.solve import Status, minimize

    sol = minimize(_msd, {"beta": 0.0}, _x, solver="sgd", learning_rate=1e6)
    assert not sol.converged and sol.status == Status.NONFINITE
    assert "NaN or infinite" in sol.message
    sol = minimize(_msd, {"beta": 0.0}, _x, solver="sgd", learning_rate=1e-6, max_iter=3)
    assert not sol.converged and sol.status == Status.MAX_ITER and "max_iter" in sol.message
