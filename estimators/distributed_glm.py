r"""One GLM fit over the rows of all processes of a ``jax.distributed`` program.

Each process passes ITS rows (a DataFrame, arrays, a formula) to :func:`fit`;
the result is the fit on the union of the rows, identical on every process.

Why a function beside ``est.fit``, and what it shares with it
-------------------------------------------------------------
An estimator's ``fit`` validates the data it is given and derives global
quantities from it: the number of observations :math:`n = \sum_i w_i`, the
normalised weights :math:`w_i / n`, the column scales, the starting values,
the padding length. In a multi-process program each process holds a share
of the rows, so each of these must be the value over ALL rows. :func:`fit`
runs the estimator's own validation (``formula_inputs``, ``offset_design``,
the family's response check) on the local rows, then replaces every global
quantity by its collective:

- errors: :func:`~estimators.distributed.agreed` (a bad row on one process
  stops every process, with that process's message and row count);
- :math:`n`, the weighted mean response, the saturated log-likelihood (the
  loss's constant), the start's normal equations: sums over processes
  (:func:`~estimators.distributed.global_sum`); column scales: a maximum;
- the padding length: the largest local padded length, so that every process
  holds the same number of rows (``make_array_from_process_local_data``
  needs equal shares); padding rows copy the first row with weight 0;
- the rows: one global array sharded by rows over the devices of all
  processes (:func:`estimators.sharding.shard_rows` with
  ``process_local=True``);
- the Newton loop: the GLM's own compiled structured Newton
  (``glm_newton.fused_newton``: value, gradient and Hessian in one pass an
  iteration) with the global mesh: each device
  folds its rows and one ``psum`` per reduction adds the partial sums, i.e.
  per iteration an all-reduce of :math:`1 + p` values (loss and gradient)
  and :math:`p^2` values (Hessian), whatever :math:`n`;
- inference: the observed information is that Hessian at the estimate (a
  collective, like the iterations); ``llf_``, ``deviance_``,
  ``pearson_chi2_`` and ``llnull_`` are sums of per-row terms computed on the
  local rows and added.

The fitted estimator is filled by the same code path as an ordinary fit
(``_store_design_fit``), so ``params_``, ``std_errors_``, ``summary()``,
``predict()`` are the usual ones; ``nobs_`` and ``n_dropped_`` count all
processes' rows, ``mu_`` holds this process's rows. ``n_processes_`` records
the number of processes.

Supported: :class:`~estimators.glm.GLM` with the binomial or poisson family
(``LogisticRegression``, ``PoissonRegression``; any of their links),
``cov_type="nonrobust"``. Perfect separation is not diagnosed across
processes (a separated fit does not converge and says so). In one process
:func:`fit` is an ordinary fit (it calls ``estimator.fit``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
import pandas as pd

from .base import FitResult
from .distributed import (
    _ordinary_rows,
    agreed,
    allgather,
    collective_failed,
    global_max,
    global_sum,
    is_collective_failure,
)
from .errors import DataError, SettingsError
from .families import saturated_nll
from .glm import GLM
from .glm_inference import (
    alpha_jacobian,
    covariance,
    goodness_of_fit,
    intercept_only_eta,
    inverse_information,
    null_loglike,
    pseudo_rsquared,
)
from .glm_kernels import column_scale, mean_of, row_curvature, row_slopes
from .glm_newton import fused_newton
from .numerics import pad_rows, padded_length
from .sharding import row_mesh, shard_rows

__all__ = ["fit", "fit_spmd"]

FAMILIES = ("binomial", "poisson")  # scale-free families: every statistic is a sum over rows
CANONICAL = {"binomial": "logit", "poisson": "log"}


@dataclasses.dataclass(frozen=True)
class _GlobalDesign:
    """What the estimator's ``_store_design_fit`` reads of a design, with global counts."""

    names: list[str]
    features: list[str]
    response: str
    fit_intercept: bool
    index: pd.Index
    n_dropped: int
    keep: np.ndarray | None
    nobs: float


class _AllRows:
    r"""The design as the singularity diagnosis reads it: ``X`` of all processes' rows.

    ``frame.collinear_columns`` (pivoted QR) needs only the column space of
    ``X``: the R factors of every process's rows, stacked, have the same
    :math:`R^\top R = X^\top X` (TSQR), so the diagnosis names the columns a
    one-process fit names. Computed on first access, which happens on every
    process together (a collective).
    """

    def __init__(self, X: np.ndarray, names: list[str]):
        self._local, self.names, self._stacked = X, names, None

    @property
    def X(self) -> np.ndarray:
        if self._stacked is None:
            p = self._local.shape[1]
            r = np.linalg.qr(self._local, mode="r")
            r = np.vstack([r, np.zeros((p - r.shape[0], p))])  # fewer rows than columns
            self._stacked = np.concatenate(list(allgather(r)))
        return self._stacked


def fit(
    estimator: GLM,
    X: Any,
    y: Any = None,
    sample_weight: Any = None,
    offset: Any = None,
    exposure: Any = None,
    *,
    formula: str | None = None,
    groups: Any = None,
) -> GLM:
    r"""Fit ``estimator`` to the rows of every process; this process passes its own share.

    Arguments as ``estimator.fit`` (``X``, ``y``, ``sample_weight``,
    ``offset``, ``exposure``, ``formula``), holding this process's rows.
    Every process of the program must call it (SPMD), with the same
    estimator settings and the same columns. Returns the estimator, fitted
    on all the rows: the same estimates and standard errors on every process
    and, up to the order of the additions, those of a one-process fit on the
    concatenated rows (tested to 1e-12 relative with 2 and 4 processes).

    Formulas with categorical terms must see the same levels in every
    process (use a pandas ``Categorical`` with fixed categories), since each
    process expands its formula on its own rows; different design columns
    are a :class:`~estimators.errors.DataError`. ``groups`` (cluster labels)
    is not supported: the covariance is ``"nonrobust"``.

    Inside :func:`estimators.distributed.process_rows` an ordinary
    ``estimator.fit(...)`` lands here (once ``GLM.fit`` asks for it).
    """
    if not isinstance(estimator, GLM):
        raise SettingsError(
            f"distributed.fit supports GLM, LogisticRegression and PoissonRegression; got "
            f"{type(estimator).__name__}"
        )
    if groups is not None:
        raise SettingsError(
            "distributed.fit computes cov_type='nonrobust' only: groups= (cluster labels) "
            "is not supported"
        )
    if jax.process_count() == 1:
        with _ordinary_rows():
            return estimator.fit(X, y, sample_weight, offset, exposure, formula=formula)
    try:
        return fit_spmd(estimator, X, y, sample_weight, offset, exposure, formula=formula)
    except (jax.errors.JaxRuntimeError, ValueError) as error:
        # A collective inside the compiled Newton loop whose peer process is gone.
        if is_collective_failure(error):
            raise collective_failed(error) from error
        raise


def fit_spmd(
    estimator: GLM,
    X: Any,
    y: Any = None,
    sample_weight: Any = None,
    offset: Any = None,
    exposure: Any = None,
    *,
    formula: str | None = None,
) -> GLM:
    """The multi-process code path of :func:`fit`, also in a single process.

    :func:`fit` takes it when there are several processes; in one process it
    fits as the multi-process program would (collectives over one process),
    which the benchmarks use to time the same code for every process count
    and the tests use to check it in-process.
    """
    if not isinstance(estimator, GLM):
        raise SettingsError(
            f"distributed.fit supports GLM, LogisticRegression and PoissonRegression; got "
            f"{type(estimator).__name__}"
        )
    family, link, inputs, design = agreed(
        lambda: _validated(estimator, X, y, sample_weight, offset, exposure, formula)
    )
    _agree_columns(design)
    n_local = len(design.y)
    counts = allgather(np.array([n_local, design.n_dropped], dtype=np.int64))
    if (counts[:, 0] == 0).any():
        empty = np.flatnonzero(counts[:, 0] == 0).tolist()
        raise DataError(
            f"process(es) {empty} have no rows left to fit (after missing-value handling); "
            "give every process a share of the rows"
        )
    nobs = global_sum(design.weights.sum())
    result = _solve(estimator, family, link, design, nobs)
    estimator._check_solution(result.solution)
    view = _GlobalDesign(
        names=list(design.names),
        features=list(design.features),
        response=design.response,
        fit_intercept=design.fit_intercept,
        index=design.index,
        n_dropped=int(counts[:, 1].sum()),
        keep=design.keep,
        nobs=nobs,
    )
    estimator._store_design_fit(view, result, inputs, list(design.names))
    estimator.offset_columns_ = dict(inputs.offset_columns)
    estimator.n_processes_ = len(counts)
    return estimator


def _validated(estimator, X, y, sample_weight, offset, exposure, formula):
    """The estimator's own settings and data checks on this process's rows."""
    estimator._check_settings()
    estimator._check_inference_settings(None)
    family, link = estimator._model()
    if family.name not in FAMILIES:
        raise SettingsError(
            f"distributed.fit supports the {list(FAMILIES)} families; got {family.name!r}"
        )
    if estimator.cov_type != "nonrobust":
        raise SettingsError(
            f"distributed.fit computes cov_type='nonrobust' only; got {estimator.cov_type!r}"
        )
    if estimator.information == "expected" and link.name != CANONICAL[family.name]:
        raise SettingsError(
            "distributed.fit uses the observed information; information='expected' differs "
            f"from it for the non-canonical link {link.name!r}: use information='observed'"
        )
    per_row = {"sample_weight": sample_weight, "offset": offset, "exposure": exposure}
    inputs, design = estimator._inputs_and_design(X, y, formula, per_row, link)
    return family, link, inputs, design


def _agree_columns(design) -> None:
    """Every process must have the same design columns (names, in order) and response.

    The names travel as one byte buffer per process, sized by the longest
    (an all-gather of a length first). A difference is a
    :class:`~estimators.errors.DataError` raised on every process, naming the
    columns some processes have and others lack, and which processes.
    """
    text = "\n".join([design.response, *design.names]).encode()
    size = int(global_max(float(len(text)))) + 1
    mine = np.zeros(size, dtype=np.uint8)
    mine[: len(text)] = np.frombuffer(text, dtype=np.uint8)
    gathered = allgather(mine)
    if all(np.array_equal(row, gathered[0]) for row in gathered[1:]):
        return
    decoded = [bytes(row).rstrip(b"\0").decode().split("\n") for row in gathered]
    raise DataError(column_difference(decoded))


def column_difference(decoded: list[list[str]]) -> str:
    """The message for processes whose (response, *columns) differ.

    >>> parts = column_difference([["y", "x1", "x2"], ["y", "x1", "x3"]]).split("; ")
    >>> parts[0]
    "the design columns differ between the 2 processes: column 'x2' only on process(es) [0]"
    >>> parts[1]
    "column 'x3' only on process(es) [1]"
    """
    count = len(decoded)
    parts = []
    responses = [names[0] for names in decoded]
    if len(set(responses)) > 1:
        by_response = {r: [k for k in range(count) if responses[k] == r] for r in responses}
        parts.append(
            "the response differs: "
            + ", ".join(f"{r!r} on process(es) {ks}" for r, ks in by_response.items())
        )
    columns = [names[1:] for names in decoded]
    union = list(dict.fromkeys(c for names in columns for c in names))
    for name in union:
        having = [k for k in range(count) if name in columns[k]]
        if len(having) < count:
            lacking = [k for k in range(count) if k not in having]
            parts.append(
                f"column {name!r} only on process(es) {having}"
                if len(having) <= len(lacking)
                else f"column {name!r} missing on process(es) {lacking}"
            )
    if not parts:  # the same columns, in another order
        differ = [k for k in range(count) if columns[k] != columns[0]]
        parts.append(
            f"the columns are in another order on process(es) {differ}: process 0 has "
            f"{columns[0]}, process {differ[0]} has {columns[differ[0]]}"
        )
    return (
        f"the design columns differ between the {count} processes: {'; '.join(parts)}; "
        "give every process the same columns (a formula's categorical levels included: "
        "use a pandas Categorical with fixed categories)"
    )


def _start(family, link, design, offset: np.ndarray, col_scale: np.ndarray, nobs: float):
    r"""The GLM's starting values (``glm_start.default_start``) from sums over all processes.

    With an intercept and no offset: :math:`g(\bar y)`; otherwise one weighted
    least-squares step on :math:`g(\mu_0) - o`, by its normal equations summed
    over processes.
    """
    X, y, w = design.X, design.y, design.weights
    ybar = global_sum(w @ y) / nobs
    if family.name == "binomial" and ybar in (0.0, 1.0):
        ybar = 0.25 + 0.5 * ybar
    beta = np.zeros(X.shape[1])
    any_offset = global_max(float(np.any(offset))) > 0
    intercept_start = beta.copy()
    intercept_start[0] = float(link.link(np.asarray(ybar)))
    if design.fit_intercept and not any_offset:
        beta = intercept_start
    else:
        mu0 = (y + 0.5) / 2 if family.name == "binomial" else (y + ybar) / 2
        z = link.link(mu0) - offset
        gram = global_sum((X * w[:, None]).T @ X)
        rhs = global_sum((w * z) @ X)
        beta = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        valid = global_max(float(not np.all(link.valid(X @ beta + offset)))) == 0
        if not valid and design.fit_intercept:
            beta = intercept_start
    return {"coef": beta / col_scale}


def _solve(estimator: GLM, family, link, design, nobs: float) -> FitResult:
    offset = getattr(design, "offset", None)
    X, y, w = design.X, design.y, design.weights
    offset = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=np.float64)
    p = X.shape[1]
    # column_scale of the per-process column maxima = column_scale of all rows.
    local_largest = np.max(np.abs(X), axis=0, initial=0.0)
    col_scale = column_scale(global_max(local_largest)[None, :])
    wn = w / nobs
    shift = global_sum(wn @ saturated_nll(family, y, 1.0))
    params0 = _start(family, link, design, offset, col_scale, nobs)
    mesh = row_mesh()  # every process's devices
    local_devices = jax.local_device_count()
    length = int(global_max(padded_length(len(y), p)))
    length = -(-length // local_devices) * local_devices
    X_pad, y_pad, off_pad = pad_rows(X, y, offset, fill="first", length=length)
    (wn_pad,) = pad_rows(wn, length=length)
    shares = shard_rows(X_pad, y_pad, off_pad, weights=wn_pad, mesh=mesh, process_local=True)
    X_dev, y_dev, off_dev = shares.arrays
    rest = (col_scale, np.float64(0.0), np.float64(shift))
    args = (X_dev, y_dev, shares.weights, off_dev, *rest)
    solution, scaled = _newton(family.name, link.name, params0, args, mesh, estimator, nobs)
    coef = np.asarray(solution.params["coef"], dtype=np.float64)
    beta = col_scale * coef
    # The Hessian is D (X^T diag(wn l'') X) D with D = diag(col_scale): undo D, and
    # times n for the information of the total (not the mean) loss.
    observed = scaled / np.outer(col_scale, col_scale) * nobs
    # The information is replicated (the same bits on every process), so every process
    # takes the same branch; a singular one is diagnosed on the R factors of all rows.
    inverse, reason = agreed(
        lambda: inverse_information(observed, _AllRows(design.X, list(design.names)), False)
    )
    cov = covariance(inverse, 1.0, alpha_jacobian(p, p, None))
    eta = X @ beta + offset
    mu = mean_of(link, eta)
    attributes = _goodness_of_fit(family, link, design, mu, p, nobs)
    llnull = _null_loglike(family, link, design, offset, nobs)
    attributes.update(
        llnull_=llnull,
        pseudo_rsquared_=pseudo_rsquared(attributes["llf_"], llnull),
        mu_=pd.Series(mu, index=design.index, name=f"fitted_{design.response}"),
        family_=family.name,
        link_=link.name,
        separated_=False,
    )
    return FitResult(
        params=beta,
        cov=cov,
        solution=solution,
        df_resid=None,
        attributes=attributes,
        sandwich=None,
        cov_note=reason,
    )


def _newton(family_name, link_name, params0, args, mesh, estimator, nobs):
    """The GLM's structured Newton on the global arrays; the solution and the final Hessian.

    ``glm_newton.fused_newton``: one pass over the rows an iteration, the
    Hessian at the estimate from the last pass; each device reduces its rows
    and the sums are all-reduced.
    """
    tol, max_iter = estimator.tol**2 / nobs, estimator.max_iter
    solution, hessian = fused_newton(
        family_name, link_name, False, params0, args, tol=tol, max_iter=max_iter, mesh=mesh
    )
    return solution, np.asarray(hessian, dtype=np.float64)


def _goodness_of_fit(family, link, design, mu, k: int, nobs: float) -> dict:
    """``goodness_of_fit`` of the local rows, its sums added over processes (scale 1)."""
    local = goodness_of_fit(family, link, design.y, design.weights, mu, None, k)
    llf, deviance, pearson = global_sum(
        [local["llf_"], local["deviance_"], local["pearson_chi2_"]]
    )
    return {
        "llf_": llf,
        "deviance_": deviance,
        "pearson_chi2_": pearson,
        "scale_": 1.0,
        "aic_": -2 * llf + 2 * k,
        "bic_": -2 * llf + k * np.log(nobs),
    }


def _null_loglike(family, link, design, offset: np.ndarray, nobs: float) -> float:
    """``llnull_`` (the intercept-only model with the same offset) over all rows."""
    y, w = design.y, design.weights
    if global_max(float(np.any(offset))) == 0:
        ybar = global_sum(w @ y) / nobs
        return global_sum(null_loglike(family, y, w, np.full(len(y), ybar), 1.0, None))

    # The one intercept b solves sum_i w_i l'(b + o_i) = 0 over all rows: the GLM's
    # own safeguarded Newton (intercept_only_eta) on one "row" whose slope and
    # curvature are the global sums; every process runs the same steps.
    def total(per_row):
        return lambda eta: np.array([global_sum(w @ per_row(eta[0] + offset))])

    slope = total(lambda e: row_slopes(family, link, y, e, 0.0, estimate_alpha=False))
    curvature = total(lambda e: row_curvature(family, link, y, e, 0.0))
    ybar = max(global_sum(w @ y) / nobs, 1e-3)  # a finite start, as glm._null_start
    if family.name == "binomial":
        ybar = min(ybar, 1 - 1e-3)
    start = float(link.link(np.asarray(ybar)))
    if link.name == "log":
        start -= global_sum(w @ offset) / nobs
    b = intercept_only_eta(slope, curvature, np.ones(1), np.zeros(1), start=start)
    if b is None:
        return np.nan
    mu_null = mean_of(link, b + offset)
    return global_sum(null_loglike(family, y, w, mu_null, 1.0, None))
