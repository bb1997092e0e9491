r"""Nonlinear least squares with exact Jacobians from autodiff.

:class:`NonlinearLeastSquares` fits a user's model :math:`m(\beta; x)` by

.. math::  \hat\beta = \arg\min_\beta \frac{1}{n}\sum_i w_i\,(y_i - m(\beta; x_i))^2,
           \qquad n = \sum_i w_i .

The minimisation is Moré's Levenberg-Marquardt (MINPACK's ``lmder``) with
Jacobian-based scaling, in one jitted loop:
:func:`estimators.levenberg_marquardt.levenberg_marquardt`, whose module
documents the step and the stopping rules (``tol`` in standard errors,
``xtol``, ``gtol``, polishing Gauss-Newton steps). This module holds the
estimator: settings, validation of the data and of the model, inference and
prediction.

Standard errors (``cov_type="nonrobust"``) are the classical
:math:`\widehat{\mathrm{Cov}} = s^2 (J^\top W J)^{-1}`,
:math:`s^2 = \sum_i w_i r_i^2/(n - p)` (NIST's definition), through the SVD
of the column-scaled Jacobian, never by inverting :math:`J^\top J`
(:math:`J` the model's Jacobian). The robust types (``"HC0"`` to ``"HC3"``,
``"cluster"``, ``"HAC"``) are the sandwich of :func:`_sandwich`: bread the
inverse Gauss-Newton Hessian :math:`\tfrac12 (J^\top W J)^{-1}`, scores
:math:`-2 w_i r_i J_i`, leverages :math:`h_i = J_i (J^\top W J)^{-1}
J_i^\top`, with the finite-sample factors of :mod:`estimators.covariance`
(HC1: :math:`n/(n-p)`; cluster: :math:`\frac{G}{G-1}\frac{n-1}{n-p}`). For a
model linear in its parameters every type equals
:class:`~estimators.regression.LinearRegression`'s. t statistics use
:math:`n - p` degrees of freedom for every type (:math:`G - 1` for cluster),
as least squares does. A singular Jacobian gives NaN standard errors, one
:class:`~estimators.errors.InferenceWarning` and the reason in ``cov_note_``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
import pandas as pd

from .base import Estimator
from .covariance import Sandwich
from .errors import DataError, FitError, SettingsError
from .fit_inputs import cut_groups
from .frame import MISSING_POLICIES, as_float_matrix, as_float_vector, as_weights, format_rows
from .inference import covariance_in_data_units
from .levenberg_marquardt import (
    EPS,
    LevenbergMarquardtResult,
    check_settings,
    levenberg_marquardt,
)
from .solve import x64_context

# --------------------------------------------------------------------------- the model


@functools.lru_cache(maxsize=64)
def _vector_model(model: Callable, names: tuple[str, ...] | None) -> Callable:
    """``model`` as a function of the parameter vector, as the solver takes it.

    With dict parameters it indexes the vector by the caller's names. Cached, so
    that refits with the same model get the same function object and reuse the
    compiled kernels (jit keys on it).
    """
    if names is None:
        return model

    def vector_model(theta, x):
        return model({name: theta[i] for i, name in enumerate(names)}, x)

    return vector_model


@functools.partial(jax.jit, static_argnames="model")
def _model_jit(model, theta, x):
    return model(theta, x)


# --------------------------------------------------------------------------- data


def _as_inputs(x: Any) -> tuple[np.ndarray, pd.Index | None]:
    """x as the model takes it: a float64 1-D or 2-D array (pandas index kept)."""
    if isinstance(x, pd.DataFrame):
        values, _, index = as_float_matrix(x)
        return values, index
    if isinstance(x, pd.Series):
        return as_float_vector(x, "x")[0], x.index
    try:
        raw = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise DataError(f"x could not be read as an array: {err}") from None
    if raw.ndim == 1:
        return as_float_vector(raw, "x")[0], None
    if raw.ndim == 2:
        return as_float_matrix(raw)[0], None
    raise DataError(f"x must be 1-D or 2-D (one row per observation), got shape {raw.shape}")


def _bad_rows(values: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    mask = test(values)
    return mask if mask.ndim == 1 else mask.any(axis=1)


@dataclasses.dataclass(frozen=True)
class _Problem:
    """Validated data: inputs as the model takes them, response, weights, dropped rows."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    response: str
    n_dropped: int
    index: pd.Index
    keep: np.ndarray | None = None  # the input rows kept (None: all), to cut per-row inputs


def _validate(x: Any, y: Any, sample_weight: Any, missing: str) -> _Problem:
    """Check lengths, indexes, weights, infinite and missing values; name what is wrong."""
    x_values, x_index = _as_inputs(x)
    response = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y"
    y_values, y_index = as_float_vector(y, response)
    n = x_values.shape[0]
    if y_values.size != n:
        raise DataError(f"x has {n} rows but {response} has {y_values.size}")
    if n == 0:
        raise DataError("x and y are empty (0 rows)")
    if x_index is not None and isinstance(y, pd.Series) and not x_index.equals(y_index):
        raise DataError(
            f"x and {response} have different indexes; align them "
            "(e.g. y.reindex(x.index)) or pass numpy arrays"
        )
    index = x_index if x_index is not None else y_index
    if index is None:
        index = pd.RangeIndex(n)
    weights = as_weights(sample_weight, n, index, against="x")
    for name, values in (("x", x_values), (response, y_values)):
        infinite = _bad_rows(values, np.isinf)
        if infinite.any():
            raise DataError(
                f"{name} has infinite values in {int(infinite.sum())} of {n} rows "
                f"(rows {format_rows(index, infinite)}); remove or cap them"
            )
    nan_x, nan_y = _bad_rows(x_values, np.isnan), np.isnan(y_values)
    bad = nan_x | nan_y
    if bad.any():
        if missing == "raise":
            raise DataError(
                f"{int(bad.sum())} of {n} rows have missing (NaN) values (x: "
                f"{int(nan_x.sum())} row(s), {response}: {int(nan_y.sum())} row(s); rows "
                f"{format_rows(index, bad)}); pass missing='drop' to leave them out"
            )
        x_values, y_values, weights = x_values[~bad], y_values[~bad], weights[~bad]
        if y_values.size == 0:
            raise DataError(f"no rows left: all {n} rows have missing (NaN) values")
    if not weights.sum() > 0:
        raise DataError(f"sample_weight is zero for all {weights.size} rows: nothing to fit")
    keep = ~bad if bad.any() else None
    kept = index if keep is None else index[keep]
    return _Problem(x_values, y_values, weights, response, int(bad.sum()), kept, keep)


def _parameters(params0: Any) -> tuple[np.ndarray, tuple | None, list[str]]:
    """params0 as a float64 vector, the dict names the model expects (or None), and labels."""
    if isinstance(params0, Mapping):
        names = tuple(params0)  # the model indexes b by the caller's own keys
        try:
            values = np.array([float(v) for v in params0.values()])
        except (TypeError, ValueError):
            raise SettingsError(
                "params0 must map parameter names to numbers (floats), got "
                f"{ {k: type(v).__name__ for k, v in params0.items()} }"
            ) from None
        labels = [str(k) for k in names]
    else:
        try:
            values = np.asarray(params0, dtype=np.float64)
        except (TypeError, ValueError):
            raise SettingsError(
                f"params0 must be a dict of names -> floats or a 1-D sequence, got {params0!r}"
            ) from None
        if values.ndim != 1:
            raise SettingsError(f"params0 must be 1-D, got shape {values.shape}")
        names, labels = None, [f"b{j}" for j in range(values.size)]
    if values.size == 0:
        raise SettingsError("params0 is empty: the model has no parameters to estimate")
    bad = ~np.isfinite(values)
    if bad.any():
        raise SettingsError(
            f"params0 has {int(bad.sum())} non-finite value(s): "
            f"{[labels[j] for j in np.flatnonzero(bad)]}"
        )
    return values, names, labels


# --------------------------------------------------------------------------- estimator


class NonlinearLeastSquares(Estimator):
    r"""Nonlinear least squares :math:`\min_\beta \sum_i w_i (y_i - m(\beta; x_i))^2`.

    Fitted by Levenberg-Marquardt with exact autodiff Jacobians and Moré's
    Jacobian-based scaling (see :mod:`estimators.levenberg_marquardt`). ``sample_weight`` are
    frequency weights: :math:`n = \sum_i w_i`. Standard errors are
    :math:`\sqrt{\mathrm{diag}\, s^2 (J^\top W J)^{-1}}` with
    :math:`s^2 = \mathrm{RSS}/(n-p)`; t statistics and intervals use
    :math:`n - p` degrees of freedom.

    Parameters
    ----------
    model : ``model(b, x)``, a pure JAX function returning the mean of ``y``
        for every row of ``x`` (shape ``(n,)``). ``b`` is a dict of scalars when
        ``params0`` is a dict, else a vector. Pass the same function object to
        reuse the compiled kernel.
    params0 : starting values: a dict of names -> floats, or a 1-D sequence
        (parameters named ``b0, b1, ...``).
    cov_type : ``"nonrobust"`` (default, :math:`s^2 (J^\top W J)^{-1}`),
        ``"HC0"`` to ``"HC3"``, ``"cluster"`` (labels passed to ``fit(x, y,
        groups=...)``; two columns for two-way) or ``"HAC"``
        (``cov_options={"maxlags": L}``); see the module docstring.
    use_t : None (default) or True: t statistics with :math:`n - p` degrees of
        freedom (:math:`G - 1` for cluster); False: z.
    cov_options : None or ``{"maxlags": L}`` for ``"HAC"``.
    tol : accuracy in standard errors: the fit stops when the Gauss-Newton step
        is shorter than ``tol`` standard errors (MINPACK's relative-reduction
        test with ``ftol = tol**2 / (n - p)``). Default ``1e-10``.
    xtol : MINPACK's relative-step tolerance on the trust radius; default
        ``1e-15`` (a few machine epsilons: it ends fits whose loss rounding
        hides further progress, e.g. zero-residual data).
    gtol : MINPACK's gradient tolerance on the cosines between the residual
        vector and the Jacobian's columns; default ``1e-15``.
    step_bound : the first trust radius, as a multiple of :math:`\|D\beta_0\|`
        (MINPACK's ``factor``). Default 1; MINPACK's 100 lets the first steps
        jump far, e.g. to the flat asymptote of NIST's BoxBOD from its start 1.
    max_iter : iteration limit (Jacobian evaluations).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN in ``x`` or ``y``.

    Learned attributes: ``params_``, ``cov_``, ``std_errors_``, ``rss_``,
    ``residual_std_`` (:math:`s`), ``converged_``, ``n_iter_``, ``history_``
    (mean squared residual and its gradient norm per iteration), ``solution_``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x = np.arange(1.0, 9.0)
    >>> y = 3.0 * np.exp(-0.4 * x)
    >>> fit = NonlinearLeastSquares(
    ...     model=lambda b, x: b["a"] * jnp.exp(-b["k"] * x), params0={"a": 1.0, "k": 1.0}
    ... ).fit(x, y)
    >>> fit.params_.round(12).tolist()
    [3.0, 0.4]
    """

    # The base class's _check_solution words its FitError / ConvergenceWarning with these.
    _failure_hint = (
        "check the model's domain (logs, powers and divisions) near the estimate, or start "
        "from other params0"
    )
    _convergence_hint = "raise max_iter or start from other params0"

    def __init__(
        self,
        model: Callable[[Any, Any], Any] | None = None,
        params0: Mapping[str, float] | Sequence[float] | None = None,
        *,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: Mapping[str, Any] | None = None,
        tol: float = 1e-10,
        xtol: float = 1e-15,
        gtol: float = 1e-15,
        step_bound: float = 1.0,
        max_iter: int = 1000,
        missing: str = "raise",
    ):
        self._set_settings(locals())

    # ------------------------------------------------------------------ fit
    def fit(
        self, x: Any, y: Any, sample_weight: Any = None, groups: Any = None
    ) -> NonlinearLeastSquares:
        """Fit to inputs ``x`` (1-D or 2-D array, Series or DataFrame) and a response ``y``.

        ``sample_weight``: frequency weights. ``groups``: cluster labels, one per
        row (two columns for two-way clustering), for ``cov_type="cluster"``.
        """
        theta0, names, labels = self._check_settings()
        self._check_inference_settings(groups)
        data = _validate(x, y, sample_weight, self.missing)
        clusters = None if groups is None else cut_groups(groups, data.keep)
        x, weights = data.x, data.weights
        nobs, p = float(weights.sum()), theta0.size
        if int((weights > 0).sum()) < p:
            raise DataError(
                f"{int((weights > 0).sum())} rows with positive weight but {p} parameters "
                f"({labels}): need at least as many rows as parameters"
            )
        model = _vector_model(self.model, names)
        with x64_context("float64"):
            _check_model_shape(model, theta0, x)
            result = levenberg_marquardt(
                model,
                theta0,
                x,
                data.y,
                np.sqrt(weights),
                tol=self.tol,
                xtol=self.xtol,
                gtol=self.gtol,
                step_bound=self.step_bound,
                max_iter=self.max_iter,
            )
            solution = result.solution
            if not np.isfinite(solution.trace["loss"].iloc[0]):
                _raise_nonfinite_start(model, theta0, x)
        self._check_solution(solution)
        rss = result.rss
        df_resid = nobs - p
        inverse, reason = _unscaled_inverse(result.jacobian)
        if reason is None and df_resid <= 0 and self.cov_type == "nonrobust":
            reason = f"as many rows as parameters ({p}): the residual variance needs n > p"
        cov = inverse * (rss / df_resid if df_resid > 0 else np.nan)
        self._store_fit(
            params=pd.Series(solution.params, index=labels, name="estimate"),
            cov=pd.DataFrame(cov, index=labels, columns=labels),
            solution=solution,
            history=solution.trace,
            nobs=nobs,
            df_resid=df_resid if df_resid > 0 else None,
            sandwich=_sandwich(result, inverse, weights, nobs),
            groups=clusters,
            cov_note=reason,
            row_index=data.index,
        )
        self.rss_ = rss
        self.residual_std_ = float(np.sqrt(rss / df_resid)) if df_resid > 0 else float("nan")
        self.n_dropped_ = data.n_dropped
        self.response_ = data.response
        self._input_shape = x.shape[1:]
        self._names = names
        return self

    def predict(self, x: Any) -> pd.Series:
        """The model at the estimate for new inputs ``x``: a Series (index of ``x`` if pandas).

        Rows with missing values give NaN predictions.
        """
        self._check_fitted()
        values, index = _as_inputs(x)
        if values.shape[1:] != self._input_shape:
            fitted = "(n,)" if not self._input_shape else f"(n, {self._input_shape[0]})"
            raise DataError(
                f"x has shape {values.shape} but the model was fitted on x of shape {fitted}"
            )
        with x64_context("float64"):
            theta = np.asarray(self.params_.to_numpy(), dtype=np.float64)
            model = _vector_model(self.model, self._names)
            mean = np.asarray(_model_jit(model, theta, values))
        index = pd.RangeIndex(len(values)) if index is None else index
        return pd.Series(mean, index=index, name=f"predicted_{self.response_}")

    # ------------------------------------------------------------------ helpers
    def _check_settings(self) -> tuple[np.ndarray, tuple | None, list[str]]:
        if not callable(self.model):
            raise SettingsError(
                "model must be a function model(b, x) returning the mean of y, "
                f"got {type(self.model).__name__}"
            )
        if self.params0 is None:
            raise SettingsError("params0 (starting values) is required")
        check_settings(
            tol=self.tol,
            xtol=self.xtol,
            gtol=self.gtol,
            step_bound=self.step_bound,
            max_iter=self.max_iter,
        )
        if self.missing not in MISSING_POLICIES:
            raise SettingsError(
                f"unknown missing={self.missing!r}; valid values are {list(MISSING_POLICIES)}"
            )
        return _parameters(self.params0)


# --------------------------------------------------------------------------- helpers


def _check_model_shape(model: Callable, theta0: np.ndarray, x: np.ndarray) -> None:
    """The model must run on (params0, x) and give one value per row (tracing only)."""
    n = x.shape[0]
    try:
        shape = jax.eval_shape(model, theta0, x)
    except Exception as err:  # the user's code: report it as a settings problem
        raise SettingsError(
            f"model(b, x) failed for params0 and x of shape {x.shape}: {type(err).__name__}: {err}"
        ) from err
    if shape.shape != (n,):
        raise SettingsError(
            f"model(b, x) must return one value per row, shape ({n},); it returned "
            f"shape {shape.shape}"
        )


def _raise_nonfinite_start(model: Callable, theta0: np.ndarray, x: np.ndarray) -> None:
    """Name the rows where the model is NaN or infinite at params0 (failure path only)."""
    mean0 = np.asarray(_model_jit(model, theta0, x))
    bad = ~np.isfinite(mean0)
    raise FitError(
        f"the model is NaN or infinite at params0 for {int(bad.sum())} of {x.shape[0]} "
        f"rows (first at row {int(np.argmax(bad))}). Hint: choose params0 inside the "
        "model's domain (logs and fractional powers of negative numbers, divisions by "
        "zero)."
    )


def _unscaled_inverse(jac: np.ndarray) -> tuple[np.ndarray, str | None]:
    r""":math:`(J^\top W J)^{-1}` through the SVD of the column-scaled Jacobian, or NaN and why.

    ``jac`` is the Jacobian of :math:`\sqrt w\,(m - y)`, so :math:`J^\top J`
    here is :math:`J_m^\top W J_m`. :math:`J D^{-1} = U S V^\top` gives
    :math:`(J^\top J)^{-1} = D^{-1} V S^{-2} V^\top D^{-1}`; the scaling keeps
    parameters of very different magnitudes from costing digits, and
    :math:`J^\top J` is never formed (it would square the condition number).
    """
    p = jac.shape[1]
    nan = np.full((p, p), np.nan)
    if not np.all(np.isfinite(jac)):
        return nan, "the Jacobian is NaN or infinite at the estimate"
    scale = np.hypot.reduce(jac, axis=0)  # norm without overflow for columns near 1e300
    scale[scale == 0] = 1.0
    _, s, vt = np.linalg.svd(np.linalg.qr(jac / scale, mode="r"))
    if s[-1] <= EPS * max(jac.shape) * s[0]:
        return nan, (
            "the Jacobian is singular at the estimate (some parameters are not identified)"
        )
    w = vt.T / s
    return covariance_in_data_units(w @ w.T, 1.0 / scale)


def _sandwich(
    result: LevenbergMarquardtResult, inverse: np.ndarray, weights: np.ndarray, nobs: float
) -> Sandwich:
    r"""Sandwich ingredients of :math:`\sum_i w_i (y_i - m(\beta; x_i))^2` at the estimate.

    With :math:`f_i = \sqrt{w_i}(m_i - y_i)` and :math:`J` its Jacobian (the
    solver's), the scores are :math:`s_i = 2 f_i J_i = -2 w_i r_i \nabla m_i`
    and the bread is the inverse Gauss-Newton Hessian
    :math:`\tfrac12 (J^\top J)^{-1}` (the expected Hessian, as R's
    ``sandwich::bread`` for ``nls``; for a model linear in its parameters it is
    the Hessian). Weights are frequency weights, so the leverage of a row is
    that of one of its copies, :math:`h_i = \nabla m_i^\top (J^\top J)^{-1}
    \nabla m_i = J_i (J^\top J)^{-1} J_i^\top / w_i` (the rows' total,
    :math:`w_i` times it, is statsmodels' WLS leverage; with unit weights the
    two agree).
    """
    jac = result.jacobian
    f = np.asarray(result.residuals, dtype=float)
    scores = 2.0 * f[:, None] * jac
    positive = weights > 0
    leverage = np.zeros(weights.size)
    quad = np.einsum("ij,jk,ik->i", jac[positive], inverse, jac[positive])
    leverage[positive] = quad / weights[positive]
    return Sandwich(0.5 * inverse, scores, nobs, frequency_weights=weights, leverage=leverage)
