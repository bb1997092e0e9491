r"""Linear least squares: :class:`LinearRegression` (OLS / WLS) and :class:`Ridge`.

Both estimators minimise a mean squared residual (``losses.squared_deviation``
reduced by ``losses.weighted_mean``), plus a ridge penalty for :class:`Ridge`:

.. math::  f(\beta) = \frac{\sum_i w_i (y_i - x_i^\top\beta)^2
                           + \alpha \sum_{j \ne \text{intercept}} \beta_j^2}{\sum_i w_i}.

The direct solver (``solver="qr"``) is :func:`estimators.lstsq.solve_least_squares`,
on the column-scaled design (powers of two: exact). Large, well-conditioned
designs take normal equations with one corrected semi-normal step, where its
estimated error is within ``tol``: a whole ``fit`` on a 1e6 x 21 design is
about 4x faster than ``numpy.linalg.lstsq`` and 9x faster than statsmodels'
OLS with standard errors (one run on the shared 2-core machine). The others
take Householder QR with iterative refinement in double-double, which reaches
the exact least-squares solution of the float64 data to nearly full precision
even on NIST's Filip and Wampler5. ``path_`` says which was taken;
:mod:`estimators.lstsq` has the maths and the rule.

A design whose scaled condition number exceeds :math:`1 / (p\,\max(n, p)\,
\epsilon)` (the threshold of :func:`~estimators.frame.collinear_columns`) is
rank deficient: a :class:`~estimators.errors.DataError` names the columns
(for :class:`Ridge` only with ``alpha=0``: a positive penalty makes any design
well posed).

``solver="newton"`` and ``"lbfgs"`` minimise the same loss through
:func:`estimators.minimize` instead (the column-scaled coefficients are the
parameters); they exist to show that the direct answer is the loss minimiser,
and agree with it to about ``tol`` standard errors.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .base import FitResult, RegressionEstimator
from .covariance import Sandwich
from .errors import DataError, SettingsError
from .frame import Design, collinear_columns
from .losses import squared_deviation, weighted_mean
from .lstsq import DEFAULT_REFINEMENT_STEPS, DEFAULT_TOL, rank_limit, solve_least_squares
from .numerics import pad_rows, padded_length
from .solve import Solution, minimize

SOLVERS = ("qr", "newton", "lbfgs")
DEFAULT_QR_TOL = DEFAULT_TOL  # relative error accepted from the fast path
DEFAULT_SE_TOL = 1e-8  # iterative solvers: accuracy in standard errors, as Mean

# What a failed or unconverged fit suggests (Estimator._check_solution): the
# direct solver has no learning rate and no line search; when it does not
# converge, the design is nearly rank deficient.
_QR_FAILURE_HINT = (
    "the data hold values near the limits of float64 whose products overflow; "
    "rescale the columns or the response"
)
_QR_CONVERGENCE_HINT = (
    "the design is nearly rank deficient (see condition_number_): drop or combine "
    "nearly collinear columns, or raise max_iter or tol"
)
_RIDGE_CONVERGENCE_HINT = (
    "the design is nearly rank deficient at this alpha (see condition_number_): raise "
    "alpha, or drop or combine nearly collinear columns"
)
_ITERATIVE_FAILURE_HINT = "check the scale of the data, or use the direct solver='qr'"
_ITERATIVE_CONVERGENCE_HINT = "raise max_iter or tol, or use the direct solver='qr'"


# --------------------------------------------------------------------------- iterative solvers


def _mean_squared_residual(params: dict, A: jax.Array, c: jax.Array, w: jax.Array) -> jax.Array:
    """The loss in the column-scaled coordinates: sum w (c - A coef)^2 / sum w."""
    return weighted_mean(squared_deviation(c - A @ params["coef"]), w)


def _mean_squared_residual_hessian(params, A, c, w):
    """Its exact Hessian 2 A^T W A / sum w: one GEMM, cheaper than jax.hessian."""
    return 2.0 * jnp.einsum("ni,nj->ij", A * w[:, None], A) / jnp.sum(w)


# --------------------------------------------------------------------------- driver


@dataclasses.dataclass(frozen=True)
class _LeastSquares:
    """A solved (penalised) least-squares problem, in numpy, data units unless noted."""

    coef: np.ndarray
    rss_scaled: float  # sum w r^2 / s_y^2 (the data-unit value may overflow)
    inverse_scaled: np.ndarray  # the same for the scaled design: R^{-1} R^{-T}
    r_inverse_scaled: np.ndarray  # R^{-1}, upper triangular: A = Q R, A the scaled design
    penalty_scaled: np.ndarray  # diagonal Lambda of the scaled problem
    scales: np.ndarray  # d: column j of the scaled design is sqrt(w) X_j / d_j
    y_scale: float  # s_y: the scaled response is sqrt(w) y / s_y
    kappa: float
    path: str
    solution: Solution


def _trace_frame(loss: np.ndarray, grad_norm: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"loss": np.asarray(loss), "grad_norm": np.asarray(grad_norm)},
        index=pd.RangeIndex(len(loss), name="iteration"),
    )


def _check_rank(kappa: float, X: np.ndarray, w: np.ndarray, names: list[str]) -> None:
    """DataError naming the collinear columns when kappa is above the rank limit."""
    if np.isfinite(kappa) and kappa <= rank_limit(*X.shape):
        return
    weighted = X[w > 0] * np.sqrt(w[w > 0])[:, None]
    culprits = collinear_columns(weighted, names)
    if not culprits:  # at the threshold: name the weakest column(s)
        culprits = collinear_columns(weighted, names, rtol=min(1e-6, 10.0 / kappa))
    raise DataError(
        f"the design is rank deficient: column(s) {culprits} are (numerically) linear "
        f"combinations of the other columns {[c for c in names if c not in culprits]} "
        f"(condition number of the column-scaled design {kappa:.3g}); drop or combine them"
    )


def _solve_least_squares(
    design: Design,
    *,
    alpha: float = 0.0,
    tol: float = DEFAULT_QR_TOL,
    max_iter: int = DEFAULT_REFINEMENT_STEPS,
) -> _LeastSquares:
    """The direct solve (lstsq.solve_least_squares), its rank check and its Solution."""
    X, w = design.X, design.weights
    p = X.shape[1]
    penalised = np.array([not (design.fit_intercept and j == 0) for j in range(p)], float)
    out = solve_least_squares(
        X, design.y, w, alpha=alpha, penalised=penalised, tol=tol, max_iter=max_iter
    )
    if alpha == 0.0:
        _check_rank(out.kappa, X, w, design.names)
    solution = Solution(
        params={"coef": out.x},
        value=float(out.loss[-1]),
        grad_norm=float(out.grad_norm[-1]),
        n_iter=out.n_iter,
        status=out.status,
        decrement=out.decrement,
        trace=_trace_frame(out.loss, out.grad_norm),
        detail=out.detail,
    )
    return _LeastSquares(
        coef=out.coef,
        rss_scaled=out.rss,
        inverse_scaled=out.r_inverse @ out.r_inverse.T,
        r_inverse_scaled=out.r_inverse,
        penalty_scaled=out.penalty,
        scales=out.scales,
        y_scale=out.y_scale,
        kappa=out.kappa,
        path=out.path,
        solution=solution,
    )


def _iterative_least_squares(design: Design, solver: str, tol: float, max_iter) -> _LeastSquares:
    """Minimise the same mean squared residual with solve.minimize; covariance from QR."""
    X, y, w = design.X, design.y, design.weights
    n_pos = int(np.sum(w > 0))
    # The direct solve supplies R^{-1} (covariance), the rank check and the scales;
    # its compiled kernels are the ones solver="qr" uses, so nothing new compiles.
    direct = _solve_least_squares(design)
    d, sy = direct.scales, direct.y_scale
    # Zero rows of weight 0 up to a size bucket: they add 0 to every sum, and one
    # compiled loop serves every n in the bucket.
    length = padded_length(len(y), X.shape[1])
    A, c, w_pad = pad_rows(X / d, y / sy, w, length=length)
    solution = minimize(
        _mean_squared_residual,
        {"coef": np.zeros(X.shape[1])},
        A,
        c,
        w_pad,
        solver=solver,
        tol=tol**2 / n_pos,
        max_iter=max_iter,
        hessian=_mean_squared_residual_hessian if solver == "newton" else None,
    )
    coef = np.asarray(solution.params["coef"]) * sy / d
    residual = y - X @ coef
    return dataclasses.replace(
        direct,
        coef=coef,
        rss_scaled=float(np.sum(w * (residual / sy) ** 2)),
        path=solver,
        solution=solution,
    )


# --------------------------------------------------------------------------- estimators


def _fit_statistics(design: Design, ls: _LeastSquares, df_params: float) -> dict[str, Any]:
    """Residual variance, R^2 (centred with an intercept, uncentred without), the dfs,
    and the Gaussian log-likelihood, AIC and BIC (see :func:`_information_criteria`).

    Sums of squares are formed in units of s_y, so data near 1e200 neither
    overflow R^2 nor the standard errors (only rss_ and scale_ themselves may).
    """
    w, y = design.weights, design.y / ls.y_scale
    n_pos = int(np.sum(w > 0))
    k_const = 1 if design.fit_intercept else 0
    df_resid = n_pos - df_params
    if design.fit_intercept:
        tss = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    else:
        tss = float(np.sum(w * y * y))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sigma = ls.y_scale * np.sqrt(ls.rss_scaled / df_resid) if df_resid > 0 else np.nan
        rsquared = 1.0 - ls.rss_scaled / tss if tss > 0 else np.nan
        rsquared_adj = (
            1.0 - (n_pos - k_const) / df_resid * (1.0 - rsquared) if df_resid > 0 else np.nan
        )
        rss, scale = ls.rss_scaled * ls.y_scale**2, sigma**2
    return {
        "rss_": rss,
        "scale_": scale,
        "rsquared_": rsquared,
        "rsquared_adj_": rsquared_adj,
        "df_model_": df_params - k_const,
        **_information_criteria(w, ls.rss_scaled, ls.y_scale, df_params),
        "nobs_": n_pos,
        "condition_number_": ls.kappa,
        "path_": ls.path,
        "_sigma": sigma,
    }


def _information_criteria(
    w: np.ndarray, rss_scaled: float, y_scale: float, df_params: float
) -> dict[str, float]:
    r"""Gaussian log-likelihood at the maximum-likelihood variance, AIC and BIC.

    With :math:`m` rows of positive weight and :math:`\hat\sigma^2 =
    \sum_i w_i r_i^2 / m`, the rows being :math:`N(x_i^\top\beta, \sigma^2 / w_i)`,

    .. math::  \ell = -\frac m2 \bigl(\log(2\pi\hat\sigma^2) + 1\bigr)
                      + \frac12 \sum_{w_i > 0} \log w_i,
               \qquad \mathrm{AIC} = -2\ell + 2k, \qquad \mathrm{BIC} = -2\ell + k \log m,

    :math:`k` the number of parameters, intercept included (the effective
    number for :class:`Ridge`). These are statsmodels' ``OLS`` / ``WLS``
    ``llf``, ``aic`` and ``bic`` (with positive weights). :math:`\log\mathrm{RSS}`
    is formed as :math:`\log(\mathrm{RSS}/s_y^2) + 2 \log s_y`, so it does not
    overflow where RSS itself would.
    """
    positive = w > 0
    m = int(np.sum(positive))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_sigma2 = np.log(rss_scaled) + 2.0 * np.log(y_scale) - np.log(m)
        llf = -0.5 * m * (np.log(2.0 * np.pi) + log_sigma2 + 1.0)
        llf += 0.5 * float(np.sum(np.log(w[positive])))
    return {
        "llf_": float(llf),
        "aic_": float(-2.0 * llf + 2.0 * df_params),
        "bic_": float(-2.0 * llf + np.log(m) * df_params),
    }


def _covariance(ls: _LeastSquares, inner_scaled: np.ndarray, sigma: float):
    """sigma^2 D^{-1} C D^{-1} and its diagonal's square root, formed as (sigma / d_i)
    C_ij (sigma / d_j) so that neither overflows when the result does not."""
    factor = sigma / ls.scales
    with np.errstate(over="ignore", invalid="ignore"):
        cov = inner_scaled * np.outer(factor, factor)
    return cov, factor * np.sqrt(np.diag(inner_scaled))


def _no_df_note(n_pos: int, df_params: float) -> str:
    """Why the standard errors are NaN when the fit leaves no residual degrees of freedom."""
    return (
        f"{n_pos} rows with positive weight and {df_params:.6g} parameters leave no "
        "residual degrees of freedom (the residual variance is undefined)"
    )


class LinearRegression(RegressionEstimator):
    r"""Ordinary and weighted least squares, the minimiser of the mean squared residual.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (y_i - x_i^\top\beta)^2}{\sum_i w_i}
               = (X^\top W X)^{-1} X^\top W y

    ``sample_weight`` are precision weights with statsmodels' ``WLS`` semantics
    (proportional to the inverse variance of each row): multiplying all of them
    by a constant changes nothing. Rows of weight 0 take no part in the fit, so
    ``nobs_`` and ``df_resid_`` count the rows with positive weight ``m``:

    .. math::  \mathrm{df}_\text{resid} = m - p,\quad s^2 = \frac{\sum_i w_i r_i^2}{m - p},
               \quad \widehat{\mathrm{Cov}}(\hat\beta) = s^2 (X^\top W X)^{-1}
               = s^2 D^{-1} R^{-1} R^{-\top} D^{-1},

    computed from the triangular factor :math:`R` of the column-scaled design
    (never by inverting :math:`X^\top W X`). statsmodels' ``WLS`` counts rows
    of weight 0 in its degrees of freedom; with positive weights the two agree.
    t statistics use ``df_resid_``. ``rsquared_`` is centred (weighted) with an
    intercept and uncentred, :math:`1 - \mathrm{RSS}/\sum w y^2`, without one
    (statsmodels' and NIST's convention).

    Parameters
    ----------
    fit_intercept : add a column of ones named ``"Intercept"`` (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.
    solver : ``"qr"`` (default; direct, see :mod:`estimators.lstsq` for its
        two paths), or ``"newton"`` / ``"lbfgs"`` (:func:`estimators.minimize` on
        the same loss).
    tol : for ``"qr"``, the relative error accepted from the fast path and the
        floor at which refinement may stop (default ``1e-10``; ``0`` forces the
        accurate path). For ``"newton"`` / ``"lbfgs"``, the accuracy in
        standard errors, as :class:`~estimators.Mean` (default ``1e-8``).
    max_iter : refinement steps for ``"qr"`` (default 10), else the solver's
        iteration limit.
    cov_type : ``"nonrobust"`` (default, :math:`s^2 (X^\top W X)^{-1}` above),
        ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"``, ``"cluster"`` or ``"HAC"``,
        computed from :math:`A^{-1} = \tfrac12 (X^\top W X)^{-1}` and the scores
        :math:`s_i = -2 w_i r_i x_i` as :math:`c\,A^{-1} B A^{-1}`
        (:mod:`estimators.covariance` has the meats :math:`B`). The
        finite-sample factors :math:`c`, as statsmodels: HC0 none; HC1
        :math:`m/(m-p)`; HC2 and HC3 none, but each :math:`s_i s_i^\top` divided
        by :math:`1-h_i` and :math:`(1-h_i)^2`, :math:`h_i` the leverage;
        one-way cluster :math:`\frac{G}{G-1}\frac{m-1}{m-p}`; two-way
        :math:`V_1 + V_2 - V_{12}`, each term with its own :math:`G`; HAC
        (Newey-West, Bartlett weights :math:`1 - j/(L+1)`, rows in the order
        given) none. ``fit(..., groups=...)`` gives the cluster labels: an
        array, a pair of arrays or a two-column array for two-way clustering,
        or column names of the DataFrame ``X`` (with a formula, any column of
        the DataFrame); they are cut to the rows kept by ``missing="drop"``.
    use_t : None or True (default: t statistics with ``df_resid_`` degrees of
        freedom for every ``cov_type``, :math:`G - 1` for cluster, two-way
        :math:`\min(G_1, G_2) - 1`; R's ``coeftest`` and Stata's convention,
        statsmodels' ``use_t=True``), or False (normal z statistics and
        intervals, statsmodels' ``use_t=False``).
    cov_options : None or ``{"maxlags": L}``, the HAC bandwidth (default
        :math:`\lfloor 4 (m/100)^{2/9} \rfloor`, Newey and West, 1994;
        statsmodels has no default and needs ``cov_kwds={"maxlags": L}``).

    Learned attributes, besides those of :class:`~estimators.base.Estimator`:
    ``rss_`` (:math:`\sum w r^2`), ``scale_`` (:math:`s^2`), ``llf_``,
    ``aic_``, ``bic_`` (Gaussian log-likelihood at the maximum-likelihood
    variance :math:`\hat\sigma^2 = \sum w r^2 / m`,

    .. math::  \ell = -\frac m2 \bigl(\log(2\pi\hat\sigma^2) + 1\bigr)
                      + \frac12 \sum_{w_i > 0} \log w_i,
               \quad \mathrm{AIC} = -2\ell + 2p, \quad \mathrm{BIC} = -2\ell + p \log m,

    :math:`p` counting the intercept: statsmodels' ``OLS`` / ``WLS`` ``llf``,
    ``aic``, ``bic``), ``rsquared_``,
    ``rsquared_adj_``, ``df_model_``, ``condition_number_`` (1-norm condition
    number of the column-scaled design) and ``path_`` (``"normal_equations"``,
    ``"qr_refined"``, or the iterative solver). ``history_`` holds the loss in
    data units and the norm of its gradient with respect to the column-scaled
    coefficients (also in loss units); for ``"qr"`` row 0 is the first solve
    and each further row one refinement step (``n_iter_``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> fit = LinearRegression().fit(X, [1.0, 3.0, 5.0, 7.5])
    >>> fit.params_.round(6).tolist()
    [0.9, 2.15]
    """

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        solver: str = "qr",
        tol: float | None = None,
        max_iter: int | None = None,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    @property
    def _failure_hint(self) -> str:
        return _QR_FAILURE_HINT if self.solver == "qr" else _ITERATIVE_FAILURE_HINT

    @property
    def _convergence_hint(self) -> str:
        return _QR_CONVERGENCE_HINT if self.solver == "qr" else _ITERATIVE_CONVERGENCE_HINT

    def _check_settings(self) -> None:
        if self.solver not in SOLVERS:
            raise SettingsError(f"unknown solver {self.solver!r}; valid solvers are {SOLVERS}")
        if self.tol is not None and not (
            isinstance(self.tol, int | float) and self.tol >= 0 and np.isfinite(self.tol)
        ):
            raise SettingsError(f"tol must be a finite number >= 0, got {self.tol!r}")
        if self.solver != "qr" and self.tol == 0:
            raise SettingsError(f"tol must be > 0 for solver={self.solver!r}")
        if self.max_iter is not None and not (
            isinstance(self.max_iter, int | np.integer) and self.max_iter >= 0
        ):
            raise SettingsError(f"max_iter must be an integer >= 0, got {self.max_iter!r}")

    def _observation_variance(self) -> float:
        return self.scale_

    def _fit_design(self, design: Design) -> FitResult:
        if self.solver == "qr":
            ls = _solve_least_squares(
                design,
                tol=DEFAULT_QR_TOL if self.tol is None else float(self.tol),
                max_iter=DEFAULT_REFINEMENT_STEPS if self.max_iter is None else self.max_iter,
            )
        else:
            tol = DEFAULT_SE_TOL if self.tol is None else float(self.tol)
            ls = _iterative_least_squares(design, self.solver, tol, self.max_iter)
        robust = self.cov_type not in self._native_cov_types
        return _fit_result(
            design, ls, ls.inverse_scaled, design.X.shape[1], "LinearRegression", robust=robust
        )


def _fit_result(
    design: Design,
    ls: _LeastSquares,
    inner_scaled: np.ndarray,
    df_params: float,
    name: str,
    *,
    robust: bool = False,
) -> FitResult:
    """The shared end of a fit: statistics, covariance sigma^2 D^-1 C D^-1, history.

    ``robust``: the covariance is a sandwich (HC0-HC3, cluster, HAC), formed from
    the data-unit bread, which is not finite when a variance leaves float64's range
    (columns near 1e-300): then NaN and the reason, not an infinite SE.
    """
    stats = _fit_statistics(design, ls, df_params)
    sigma = stats.pop("_sigma")
    # No residual degrees of freedom: NaN standard errors, and the reason as cov_note_
    # (fit() warns it once, with an InferenceWarning, and the summary shows it).
    cov_note = None if sigma >= 0 else _no_df_note(stats["nobs_"], df_params)
    sandwich = _least_squares_sandwich(design, ls, stats["nobs_"])
    if robust and cov_note is None and not np.all(np.isfinite(sandwich.bread)):
        lost = int(np.sum(~np.isfinite(np.diag(sandwich.bread))))
        cov_note = (
            f"the variances of {lost} parameter(s) leave float64's range in data units "
            "(columns near 1e300 or 1e-300), so the robust covariance cannot be formed; "
            "rescale the data"
        )
    cov, std_errors = _covariance(ls, inner_scaled, sigma)
    return FitResult(
        params=ls.coef,
        cov=cov,
        std_errors=std_errors,
        solution=ls.solution,
        df_resid=stats["nobs_"] - df_params,
        history=ls.solution.trace * ls.y_scale**2,  # the loss in units of y^2
        attributes=stats,
        sandwich=sandwich,
        cov_note=cov_note,
    )


def _least_squares_sandwich(design: Design, ls: _LeastSquares, nobs: int) -> Sandwich:
    r"""Sandwich ingredients of :math:`\sum_i w_i (y_i - x_i^\top\beta)^2 (+ \text{penalty})`.

    Scores :math:`s_i = -2 w_i r_i x_i` (the rows' gradients), bread
    :math:`A^{-1} = \tfrac12 M^{-1}` with :math:`M = X^\top W X (+ \Lambda)`
    taken from the solver's factorisation (:math:`D^{-1} C D^{-1}`, not a fresh
    inverse of the normal equations, which would square the condition number),
    leverages :math:`h_i = \|R^{-\top} a_i\|^2`, :math:`a_i = \sqrt{w_i}\,
    D^{-1} x_i` the scaled row (the squared norm of row i of :math:`Q`).

    The leverages are not formed as :math:`w_i x_i^\top M^{-1} x_i`: that
    quadratic form cancels, and on Longley it loses 1.7e-8 relative (1.2e-8 in
    :math:`1 - h_i`, which HC2 and HC3 divide by), against 2.4e-12 for the
    squared norm (exact rational arithmetic as the reference).

    Scores and leverages are formed only when a covariance or the influence
    functions ask for them (see :class:`~estimators.covariance.Sandwich`).
    """
    # D^{-1} C D^{-1} one side at a time: the outer product d d^T overflows for
    # columns near 1e200, where the result itself need not. For columns near 1e-300
    # the result does overflow (a variance of order 1e600, beyond float64, though the
    # standard error itself is finite): inf entries here, no RuntimeWarning; a robust
    # covariance made from them is checked where it is formed.
    with np.errstate(over="ignore"):
        inverse = ls.inverse_scaled / ls.scales[:, None] / ls.scales[None, :]

    def scores() -> np.ndarray:
        X, w = design.X, design.weights
        return (-2.0 * w * (design.y - X @ ls.coef))[:, None] * X

    def leverage() -> np.ndarray:
        rows = (design.X * np.sqrt(design.weights)[:, None] / ls.scales) @ ls.r_inverse_scaled
        return np.einsum("ij,ij->i", rows, rows)

    return Sandwich(0.5 * inverse, scores, float(nobs), leverage=leverage)


class Ridge(RegressionEstimator):
    r"""Ridge regression: least squares with a squared penalty on the slopes.

    .. math::  \hat\beta = \arg\min_\beta \frac{\sum_i w_i (y_i - x_i^\top\beta)^2
               + \alpha \sum_{j \ne 0} \beta_j^2}{\sum_i w_i}
               = (X^\top W X + \alpha P)^{-1} X^\top W y,

    :math:`P` the identity with a 0 for the intercept, which is not penalised.
    This is scikit-learn's ``Ridge`` objective :math:`\|y - Xw\|^2_W + \alpha
    \|w\|^2` (its centring of X and y by weighted means is the same as an
    unpenalised intercept column), with ``sample_weight`` entering the same
    way. Solved by the direct solver of :class:`LinearRegression` (the penalty
    is :math:`p` extra rows :math:`\sqrt{\alpha} P` of the design).

    Standard errors treat :math:`\alpha` as fixed and the weights as
    precision weights:

    .. math::  \widehat{\mathrm{Cov}}(\hat\beta) = s^2 M^{-1} X^\top W X M^{-1},
               \qquad M = X^\top W X + \alpha P,

    with :math:`s^2 = \mathrm{RSS} / (m - \mathrm{df})`, :math:`m` the rows of
    positive weight and :math:`\mathrm{df} = \operatorname{tr}(M^{-1} X^\top W X)`
    the effective number of parameters (Hastie, Tibshirani and Friedman, *The
    Elements of Statistical Learning*, 3.4.1), which is also ``df_resid_ =
    m - df`` for the t statistics. They describe the sampling variability of the
    (biased) ridge estimate around its expectation, not around the true
    coefficients. With ``alpha=0`` everything equals :class:`LinearRegression`.

    Parameters
    ----------
    alpha : penalty weight, >= 0 (default 1.0).
    fit_intercept : add an unpenalised intercept (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.

    cov_type, use_t, cov_options : as :class:`LinearRegression`. The robust
        types use the penalised bread :math:`A^{-1} = \tfrac12 M^{-1}` with the
        scores :math:`-2 w_i r_i x_i` of the squared residuals (the penalty's
        gradient is not a row's), and HC2 / HC3 the leverages
        :math:`h_i = w_i x_i^\top M^{-1} x_i`; the factors are those of
        :class:`LinearRegression` with :math:`p` the number of coefficients.

    Learned attributes: as :class:`LinearRegression`; ``df_model_`` is the
    effective number of parameters less the intercept, and ``llf_`` is the
    Gaussian log-likelihood at the ridge coefficients, with ``aic_`` and
    ``bic_`` counting the effective number of parameters :math:`\mathrm{df}`
    (Hastie, Tibshirani and Friedman, 7.6).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> Ridge(alpha=1.0).fit(X, [1.0, 3.0, 5.0, 7.5]).params_.round(6).tolist()
    [1.4375, 1.791667]
    """

    _failure_hint = _QR_FAILURE_HINT
    _convergence_hint = _RIDGE_CONVERGENCE_HINT
    # A positive penalty makes the problem well posed with fewer rows than parameters.
    _needs_rows_per_parameter = False

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    def _check_settings(self) -> None:
        if not (
            isinstance(self.alpha, int | float | np.number)
            and not isinstance(self.alpha, bool)
            and np.isfinite(self.alpha)
            and self.alpha >= 0
        ):
            raise SettingsError(f"alpha must be a finite number >= 0, got {self.alpha!r}")

    def _fit_design(self, design: Design) -> FitResult:
        alpha = float(self.alpha)
        ls = _solve_least_squares(design, alpha=alpha)
        # M^{-1} X'WX M^{-1} = M^{-1} - M^{-1} Lambda M^{-1}, in the scaled units.
        inv, lam = ls.inverse_scaled, ls.penalty_scaled
        sandwich_scaled = inv - inv @ (lam[:, None] * inv)
        df_params = float(design.X.shape[1] - np.sum(lam * np.diag(inv)))
        robust = self.cov_type not in self._native_cov_types
        return _fit_result(design, ls, sandwich_scaled, df_params, "Ridge", robust=robust)
