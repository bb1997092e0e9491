r"""Fits over data larger than memory: :func:`fit_stream` reads a source in chunks.

The data are never materialised: a source (a Parquet file or directory, a CSV
file, or DataFrames) is read chunk by chunk, each chunk is copied into a
fixed-size block of ``batch_size`` rows (the last one padded with rows of
weight 0, so each chunk kernel compiles once), reduced to a few p x p numbers,
and dropped. Peak memory is a few blocks, whatever the number of rows.

Exact fits (``method="exact"``), equal to the in-memory fit:

- :class:`~estimators.regression.LinearRegression`: one pass of a streaming
  Householder QR (TSQR). With :math:`A = W^{1/2}[X\ y]` read in blocks
  :math:`A_1, A_2, \dots`, the triangular factor is updated as
  :math:`R \leftarrow \operatorname{qr}\bigl([R; A_k]\bigr)`, so that
  :math:`R^\top R = A^\top A` without forming :math:`A^\top A` (which would
  square the condition number). With :math:`R = \begin{pmatrix} R_{11} & r \\
  0 & \rho\end{pmatrix}`: :math:`\hat\beta = R_{11}^{-1} r`, RSS
  :math:`= \rho^2`, :math:`\widehat{\mathrm{Cov}} = s^2 R_{11}^{-1}R_{11}^{-\top}`.
  Householder QR is backward stable, so the error is about
  :math:`\kappa\,\epsilon` (normal equations: :math:`\kappa^2\epsilon`).
- :class:`~estimators.glm.LogisticRegression`, :class:`~estimators.glm.PoissonRegression`
  and :class:`~estimators.glm.GLM` (binomial and poisson families): Newton's
  method with the gradient and Hessian accumulated over the chunks, one pass
  an iteration,

  .. math::  f = \frac{\sum_i w_i(\ell_i - \ell_i^{\text{sat}})}{\sum_i w_i},\quad
             g = \frac{\sum_i w_i \ell'(\eta_i)\,x_i}{\sum_i w_i},\quad
             H = \frac{X^\top \operatorname{diag}(w_i \ell''(\eta_i)) X}{\sum_i w_i},

  :math:`\ell'`, :math:`\ell''` by autodiff of the family's per-row loss. The
  stopping rule is the in-memory GLM's (the Newton decrement
  :math:`\lambda^2 = g^\top H^{-1} g` with :math:`\lambda^2/2 \le
  (\text{tol}^2/n)\,|f|`, ``tol`` in standard errors), then one last full
  Newton step (quadratic convergence squares the remaining error) and a last
  pass for the Hessian at the estimate (the covariance :math:`(nH)^{-1}`) and
  the fit statistics. A step that raises the loss is halved (one more pass).
  Before the first iteration a validation pass counts the rows and the weights,
  checks every value and the response's domain, and finds the starting values
  (the intercept-only MLE, as in memory).

Approximate fits (``method="minibatch"``): optax ``adam`` or ``sgd`` over
minibatches of each chunk, ``n_epochs`` passes; then one exact pass gives the
Hessian for the standard errors and the Newton decrement at the estimate,
from which ``distance_se_`` (:math:`\sqrt{n\lambda^2/\phi}`, the distance from
the exact estimate in standard errors) is reported. ``converged_`` is True
when it is below ``tol`` (default 5 standard errors); otherwise a
ConvergenceWarning. Use it for a quick estimate, never as the exact answer.

Progress: a tqdm bar (rows and rows/s) shows after 2 seconds of a pass when
tqdm is installed, a plain line on stderr otherwise; short work stays quiet;
``progress=False`` silences it and ``True`` shows it at once.

Modules: :mod:`~estimators.stream_sources` (reading, schema checks, blocks),
:mod:`~estimators.stream_passes` (passes, progress, the GLM passes),
:mod:`~estimators.stream_kernels` (jitted block kernels, p x p algebra),
:mod:`~estimators.stream_solvers` (TSQR, streaming Newton, minibatch).
Peak memory, measured (``benchmarks/stream.py``): see :mod:`~estimators.stream_sources`
and :mod:`~estimators.stream_passes` for the two things that bound it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .base import DesignInfo, Estimator, clone
from .errors import ConvergenceWarning, DataError, SettingsError, user_stacklevel
from .frame import INTERCEPT, MISSING_POLICIES
from .glm import GLM
from .regression import LinearRegression
from .solve import Solution, Status
from .stream_kernels import check_rank, inverse, trace_frame
from .stream_passes import GLMPasses, Pass
from .stream_solvers import least_squares, minibatch, newton, separation_error
from .stream_sources import Blocks, open_source

__all__ = ["fit_stream"]

METHODS = ("exact", "minibatch")
MINIBATCH_SOLVERS = ("adam", "sgd")
STREAM_FAMILIES = ("binomial", "poisson")
DEFAULT_BATCH_SIZE = 65_536  # rows a block: 65536 x 11 float64 = 5.8 MB
# Adam / SGD end some standard errors from the optimum, how many depends on the
# learning rate: on 4e4 rows x 4, 5 epochs, adam at 0.05 ended 51 SE away and at 0.5
# 1.1 SE (1.3 SE on 1e6 rows). 5 SE is the distance accepted as converged.
DEFAULT_MINIBATCH_TOL = 5.0


def _check_arguments(estimator, columns, response, weights, batch_size, method, options):
    if not isinstance(estimator, LinearRegression | GLM):
        raise SettingsError(
            "fit_stream fits LinearRegression, LogisticRegression, PoissonRegression and "
            f"GLM (binomial, poisson); got {type(estimator).__name__}"
        )
    if isinstance(estimator, GLM):
        if estimator.family not in STREAM_FAMILIES:
            raise SettingsError(
                f"fit_stream fits the GLM families {list(STREAM_FAMILIES)}; "
                f"got {estimator.family!r}"
            )
        family, link = estimator._model()
        if estimator.information == "expected" and link.name != family.default_link:
            raise SettingsError(
                "fit_stream computes the observed information; information='expected' differs "
                f"from it for the non-canonical link {link.name!r}"
            )
    estimator._check_settings()
    estimator._check_inference_settings(None)
    if estimator.missing not in MISSING_POLICIES:
        raise SettingsError(
            f"unknown missing={estimator.missing!r}; valid values are {list(MISSING_POLICIES)}"
        )
    if getattr(estimator, "cov_type", "nonrobust") != "nonrobust":
        raise SettingsError(
            "fit_stream computes the nonrobust covariance only; got "
            f"cov_type={estimator.cov_type!r}"
        )
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise SettingsError(f"columns must be a list of column names, got {columns!r}")
    if not isinstance(response, str) or response in columns:
        raise SettingsError(f"response must be a column name not among columns, got {response!r}")
    if weights is not None and (not isinstance(weights, str) or weights in [*columns, response]):
        raise SettingsError(f"weights must be None or another column's name, got {weights!r}")
    if len(set(columns)) != len(columns):
        raise SettingsError(f"columns has duplicate names: {list(columns)}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise SettingsError(f"batch_size must be a positive integer, got {batch_size!r}")
    if method not in METHODS:
        raise SettingsError(f"unknown method {method!r}; valid methods are {list(METHODS)}")
    if method == "minibatch":
        if options["solver"] not in MINIBATCH_SOLVERS:
            raise SettingsError(
                f"unknown solver {options['solver']!r}; valid solvers are "
                f"{list(MINIBATCH_SOLVERS)}"
            )
        mb = options["minibatch_size"]
        if mb is None:  # the largest divisor of batch_size up to 1024 rows
            options["minibatch_size"] = mb = max(
                d for d in range(1, min(batch_size, 1024) + 1) if batch_size % d == 0
            )
        if not (isinstance(mb, int) and mb >= 1 and batch_size % mb == 0):
            raise SettingsError(
                f"minibatch_size must be a positive integer dividing batch_size={batch_size}, "
                f"got {mb!r}"
            )
        if not (isinstance(options["n_epochs"], int) and options["n_epochs"] >= 1):
            raise SettingsError(
                f"n_epochs must be a positive integer, got {options['n_epochs']!r}"
            )
        lr = options["learning_rate"]
        if not (isinstance(lr, int | float) and lr > 0 and np.isfinite(lr)):
            raise SettingsError(f"learning_rate must be a positive number, got {lr!r}")


def fit_stream(
    estimator: Estimator,
    source: Any,
    *,
    columns: list[str],
    response: str,
    weights: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    method: str = "exact",
    solver: str = "adam",
    learning_rate: float = 0.05,
    n_epochs: int = 5,
    minibatch_size: int | None = None,
    seed: int = 0,
    tol: float | None = None,
    progress: bool | None = None,
) -> Estimator:
    """Fit ``estimator`` to data read in chunks from ``source``; returns a new fitted estimator.

    Parameters
    ----------
    estimator : an unfitted (or fitted: it is cloned, not changed)
        :class:`~estimators.regression.LinearRegression`,
        :class:`~estimators.glm.LogisticRegression`,
        :class:`~estimators.glm.PoissonRegression` or binomial / poisson
        :class:`~estimators.glm.GLM`. Its settings apply (``fit_intercept``,
        ``missing``, ``tol`` and ``max_iter`` of the GLMs); ``cov_type`` must
        be ``"nonrobust"``.
    source : a Parquet file or directory of Parquet files (read with
        ``pyarrow.dataset``), a CSV file (``.csv``, ``.csv.gz``, ``.txt``; read
        with pyarrow's streaming CSV reader), a DataFrame, a list of DataFrames,
        or a function returning a new iterator of DataFrames for each pass. A
        one-shot iterator serves the one-pass ``LinearRegression`` fit only.
    columns, response, weights : column names: the features, the response,
        and optional weights (precision weights for least squares, frequency
        weights for the GLMs, as the estimators' ``sample_weight``).
    batch_size : rows a block (default 65536): memory is a few blocks.
    method : ``"exact"`` (default: the in-memory estimate) or ``"minibatch"``
        (approximate: optax ``solver`` ``"adam"`` or ``"sgd"`` at
        ``learning_rate`` over minibatches of ``minibatch_size`` rows (default:
        the largest divisor of ``batch_size`` up to 1024), shuffled
        within each block with ``seed``, for ``n_epochs`` passes).
    tol : the minibatch mode's accepted distance from the exact estimate, in
        standard errors (default 5: it is a rough estimate); the exact GLM fit uses the estimator's
        ``tol`` (default 1e-8 standard errors).
    progress : None (default: a progress bar after 2 s of a pass), True, False.

    The result has the estimator's fitted attributes (``params_``,
    ``std_errors_``, ``cov_``, ``summary()``, ``predict``, ``converged_``,
    ``n_iter_``, ``history_``, ``nobs_`` and the fit statistics listed in the
    module docstring) plus ``n_passes_`` (passes over the data), ``method_``,
    ``n_rows_read_`` and, for the minibatch mode, ``distance_se_``.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.5]})
    >>> fit = fit_stream(LinearRegression(), [frame[:2], frame[2:]], columns=["x"], response="y")
    >>> fit.params_.round(6).tolist()
    [0.9, 2.15]
    """
    options = dict(
        solver=solver, learning_rate=learning_rate, n_epochs=n_epochs,
        minibatch_size=minibatch_size, seed=seed,
    )  # fmt: skip
    _check_arguments(estimator, list(columns), response, weights, batch_size, method, options)
    columns = list(columns)
    intercept = bool(estimator.fit_intercept)
    names = ([INTERCEPT] if intercept else []) + columns
    fields = columns + [response] + ([weights] if weights else [])
    blocks = Blocks(
        open_source(source, fields, batch_size), columns, response, weights, intercept, batch_size,
        estimator.missing,
    )  # fmt: skip
    passes = Pass(blocks, progress, None)
    fitted = clone(estimator)
    label = type(estimator).__name__
    if isinstance(estimator, LinearRegression) and method == "exact":
        out = least_squares(blocks, passes, names)
        params, cov, solution = out["params"], out["cov"], out["solution"]
        nobs, df_resid, attributes = out["nobs"], out["df_resid"], out["attributes"]
    else:
        family, link = ("gaussian", "identity")
        if isinstance(estimator, GLM):
            family_obj, link_obj = estimator._model()
            family, link = family_obj.name, link_obj.name
        glm = GLMPasses(blocks, passes, family, link, label)
        if method == "exact":
            max_iter = 100 if estimator.max_iter is None else int(estimator.max_iter)
            params, H, fit, solution = newton(glm, names, float(estimator.tol), max_iter)
            distance = None
        else:
            tol = DEFAULT_MINIBATCH_TOL if tol is None else float(tol)
            params, H, fit, decrement, (f, g, losses, norms) = minibatch(glm, names, tol, options)
            dispersion = 1.0
            if family == "gaussian":
                dispersion = 2 * f * glm.stats.weight / (glm.stats.positive - len(names))
            distance = float(np.sqrt(max(glm.stats.weight * decrement / dispersion, 0.0)))
            solution = Solution(
                params={"coef": params}, value=f, grad_norm=float(np.linalg.norm(g)),
                n_iter=n_epochs, decrement=decrement, trace=trace_frame(losses, norms),
                status=Status.CONVERGED if distance <= tol else Status.MAX_ITER,
                detail=(
                    f"approximate ({solver}, {n_epochs} epochs): the estimate is {distance:.3g} "
                    f"standard errors from the exact one (accepted: tol={tol:g})"
                ),
            )  # fmt: skip
        nobs = glm.stats.weight
        try:
            check_rank(H, names, nobs)
        except DataError as err:
            raise (separation_error(err, glm) if family in STREAM_FAMILIES else err) from None
        cov = inverse(H * nobs)
        if family == "gaussian":  # LinearRegression by minibatch: s^2 (X'WX)^{-1}
            m = glm.stats.positive
            df_resid = m - len(names)
            rss = 2 * solution.value * nobs
            attributes = {"rss_": rss, "scale_": rss / df_resid, "path_": f"minibatch_{solver}"}
            cov, nobs = cov * attributes["scale_"], m
        else:
            df_resid = None
            llf = fit["llf_"]
            k = len(names)
            attributes = {
                **fit, "scale_": 1.0,
                "aic_": -2 * llf + 2 * k, "bic_": -2 * llf + k * np.log(nobs),
                "family_": family, "link_": link, "offset_columns_": {}, "separated_": False,
            }  # fmt: skip
        if distance is not None:
            attributes["distance_se_"] = distance
    fitted._store_fit(
        params=pd.Series(np.asarray(params, dtype=float), index=names, name="estimate"),
        cov=pd.DataFrame(cov, index=names, columns=names),
        solution=solution,
        history=solution.trace,
        nobs=nobs,
        df_resid=df_resid,
    )
    fitted.design_info_ = DesignInfo(names, columns, response, intercept)
    fitted.n_features_in_ = len(columns)
    fitted.feature_names_in_ = np.asarray(columns, dtype=object)
    fitted.n_dropped_ = blocks.n_dropped
    fitted.n_rows_read_ = blocks.n_rows
    fitted.n_passes_ = passes.count
    fitted.method_ = method
    for name, value in attributes.items():
        setattr(fitted, name, value)
    if not solution.converged:
        warnings.warn(
            f"{label} (fit_stream, method={method!r}) did not converge: {solution.message}. "
            "The estimate is flagged with converged_ = False"
            + ("; raise n_epochs or use method='exact'." if method == "minibatch" else "."),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return fitted
