r"""Linear quantile regression: the exact minimiser of the mean pinball loss.

.. math::  \hat\beta = \arg\min_\beta F(\beta), \qquad
           F(\beta) = \frac{\sum_i w_i\,\rho_q(y_i - x_i^\top\beta)}{\sum_i w_i},
           \qquad \rho_q(r) = r\,(q - 1\{r < 0\})

(Koenker and Bassett 1978). :math:`F` is convex and piecewise linear, so its
minimiser is a vertex of the linear programme: a :math:`\beta` that interpolates
:math:`p` observations. We find it in two stages.

1. **Smoothed fit (engine).** The pinball loss convolved with a Gaussian kernel of
   bandwidth :math:`h` ("conquer", He, Pan, Tan and Zhou 2021),

   .. math::  \ell_h(r) = \operatorname{E}\rho_q(r + hZ)
              = r\,\big(q - \Phi(-r/h)\big) + h\,\varphi(r/h),
              \qquad \ell_h'(r) = q - \Phi(-r/h), \quad \ell_h''(r) = \varphi(r/h)/h,

   is smooth and strictly convex (:func:`estimators.losses.smoothed_pinball`);
   :func:`estimators.minimize` minimises its mean
   with ``solver="newton"`` and the structured Hessian
   :math:`X^\top\operatorname{diag}(w_i\,\ell_h''(r_i))X/\sum w`, starting from OLS.
   Default :math:`h = \max\{0.05,\ ((\log n + p)/n)^{2/5}\}\,\hat\sigma` (conquer's
   rule, in units of the MAD :math:`\hat\sigma` of the OLS residuals).
2. **Exact finish (vertex descent).** The :math:`p` rows with the smallest smoothed
   residuals that are linearly independent give a vertex :math:`X_B\beta = y_B`.
   At a point with zero-residual rows :math:`Z`, the subdifferential is

   .. math::  \partial F(\beta) = \Big\{-\textstyle\sum_{i\notin Z} w_i\,\psi_q(r_i)\,x_i
              - \sum_{i\in Z} w_i\,\xi_i\,x_i :\ \xi_i \in [q-1,\ q]\Big\},
              \qquad \psi_q(r) = q - 1\{r<0\},

   and :math:`\beta` is optimal iff :math:`0 \in \partial F(\beta)` (dual
   feasibility). The minimum-norm subgradient :math:`v` (a bounded least-squares
   problem in :math:`\xi`, solved exactly by BVLS) decides: :math:`v = 0` proves
   optimality, even at degenerate vertices with more than :math:`p` zero
   residuals. Otherwise the descent moves on: from a non-degenerate vertex along
   the simplex edge with the most negative slope (Dantzig's rule on the dual
   values :math:`\xi_B`), from a degenerate one along :math:`-v`; along either,
   :math:`F` is minimised exactly (a weighted median of the breakpoints
   :math:`r_i / x_i^\top d`), and the point is then moved to a vertex without
   raising :math:`F` (along null directions of the zero rows, each move adding one
   interpolated row; after an edge step it already is one). :math:`F` falls
   strictly from vertex to vertex, so the descent ends, usually after a few steps
   (2-25 on the data sets tried, up to 100,000 rows).

The data are divided by powers of two (each column and ``y``; exact) so that
every coefficient is of order one.

Standard errors (``cov_type``, :mod:`estimators.quantile_inference`): ``"kernel"``
(default) is statsmodels ``QuantReg``'s default (``vcov="robust"``,
``kernel="epa"``, ``bandwidth="hsheather"``); ``"iid"`` and ``"nid"`` are R
quantreg's ``summary.rq`` sparsity methods, ``"nid"`` refitting at
:math:`q \pm h` by the same vertex descent started from :math:`\hat\beta`;
``"bootstrap"`` is the pairs bootstrap, each resample refitted by the vertex
descent from :math:`\hat\beta` (no smoothing stage: a few steps each). The
:math:`p` interpolated rows have :math:`e_i = 0` exactly, so the kernel
sandwich gives them :math:`((1-q)/\hat f)^2`, as statsmodels' rule does for a
zero residual. (statsmodels' own IRLS leaves them at about :math:`\pm10^{-7}`
with arbitrary signs, so for :math:`q \ne 1/2` its standard errors differ from
these by a term of order :math:`p/n`; at :math:`q = 1/2` the two agree.) t
statistics with :math:`n - p` degrees of freedom, as statsmodels and quantreg.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .base import FitResult, RegressionEstimator
from .errors import ConvergenceWarning, FitError, InferenceWarning, SettingsError, user_stacklevel
from .frame import Design
from .losses import smoothed_pinball, weighted_mean
from .numerics import (
    mad_about,
    pad_rows,
    power_of_two_scale,
    weighted_least_squares,
    weighted_median,
)
from .quantile_inference import (
    DEFAULT_N_BOOTSTRAP,
    QUANTILE_COV_OPTIONS,
    QUANTILE_COV_TYPES,
    bootstrap_cov,
    check_cov_options,
    iid_cov,
    kernel_cov,
    nid_cov,
)
from .solve import Solution, Status, minimize

# A residual counts as zero (the row is interpolated) below this multiple of the
# size of the terms it is computed from (at least max |y|): well above the rounding
# of solving a p x p system, far below any real residual of the scaled data.
ZERO_RESIDUAL = 1e-11
# The minimum-norm subgradient of the mean loss counts as zero below this (its terms
# are w_i x_i / sum(w) with |x_i| <= 1 after scaling, so rounding leaves ~1e-16).
ZERO_SUBGRADIENT = 1e-10


def _smoothed_objective(params, X, y, w, q, h):
    """Mean smoothed pinball loss: sum w l_h(y - X b) / sum w."""
    return weighted_mean(smoothed_pinball(y - X @ params["beta"], q=q, h=h), w)


_curvature = jax.vmap(
    jax.grad(jax.grad(lambda r, q, h: smoothed_pinball(r, q=q, h=h))), in_axes=(0, None, None)
)


def _smoothed_hessian(params, X, y, w, q, h):
    """X^T diag(w l_h''(r)) X / sum w, with l_h'' by autodiff: one GEMM."""
    curvature = w * _curvature(y - X @ params["beta"], q, h)
    return (X * curvature[:, None]).T @ X / jnp.sum(w)


# --------------------------------------------------------------------------- exact finish


def _pinball_mean(residual: np.ndarray, w: np.ndarray, q: float) -> float:
    """Mean pinball loss, in the ``abs`` form of :func:`estimators.losses.pinball`."""
    return float(np.sum(w * (0.5 * np.abs(residual) + (q - 0.5) * residual)) / np.sum(w))


def _extend(q_basis: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Gram-Schmidt (twice, for stability): add ``row`` if it leaves the span."""
    v = row.astype(float)
    for _ in range(2):
        v = v - q_basis.T @ (q_basis @ v)
    if np.linalg.norm(v) <= 1e-9 * max(np.linalg.norm(row), np.finfo(float).tiny):
        return q_basis
    return np.vstack([q_basis, v / np.linalg.norm(v)])


def _line_minimum(residual: np.ndarray, a: np.ndarray, w: np.ndarray, q: float) -> float:
    r"""The smallest minimiser over :math:`t \ge 0` of :math:`\sum_i w_i\rho_q(r_i - t a_i)`.

    Convex and piecewise linear in :math:`t`: the slope just right of 0 (rows with
    :math:`r_i = 0` take the sign of :math:`-a_i`) rises by :math:`w_i|a_i|` at each
    breakpoint :math:`t_i = r_i/a_i > 0`; the minimum is at the first breakpoint
    where it reaches 0 (a weighted median). With slope 0 at the start, the first
    breakpoint (a move that keeps the loss and interpolates one more row).
    ``inf`` where the slope never reaches 0.
    """
    sign = np.where(residual != 0, residual, -a)
    slope = -float(np.sum(w * a * (q - (sign < 0))))
    moving = (a != 0) & (residual != 0)
    t = np.full(residual.shape, np.inf)
    t[moving] = residual[moving] / a[moving]
    ahead = t > 0
    if not ahead.any():
        return math.inf
    t, jump = t[ahead], (w * np.abs(a))[ahead]
    order = np.argsort(t, kind="stable")
    reached = slope + np.cumsum(jump[order]) >= 0
    return float(t[order][np.argmax(reached)]) if reached.any() else math.inf


class _PinballProgram:
    """The linear programme of one quantile regression, and the moves of the vertex descent."""

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, q: float):
        self.X, self.y, self.w, self.q = X, y, w, q
        self.abs_X, self.y_max = np.abs(X), float(np.max(np.abs(y)))
        self.p = X.shape[1]

    def loss(self, beta: np.ndarray) -> float:
        return _pinball_mean(self.y - self.X @ beta, self.w, self.q)

    def zero_rows(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals, those that are zero up to rounding set to exactly 0, and their mask."""
        residual = self.y - self.X @ beta
        # The size of the terms of y_i - x_i beta, with max|y| as a floor: a residual
        # that is rounding error of cancelling terms is zero even where y_i = 0.
        size = self.y_max + self.abs_X @ np.abs(beta)
        zero = np.abs(residual) <= ZERO_RESIDUAL * np.maximum(size, np.finfo(float).tiny)
        residual[zero] = 0.0
        return residual, zero

    def independent(self, candidates, basis: list[int]) -> list[int]:
        """Extend ``basis`` by rows of ``candidates`` (in order) that are linearly independent."""
        basis = list(basis)
        q_basis = np.zeros((0, self.p))
        for i in basis:
            q_basis = _extend(q_basis, self.X[i])
        for i in candidates:
            if len(basis) == self.p:
                break
            if i in basis:
                continue
            extended = _extend(q_basis, self.X[i])
            if extended.shape[0] > q_basis.shape[0]:
                q_basis = extended
                basis.append(int(i))
        return basis

    def min_norm_subgradient(self, residual: np.ndarray, zero: np.ndarray) -> np.ndarray:
        """The subgradient of F nearest 0 (see the module docstring), by bounded least squares."""
        X, w, q = self.X, self.w, self.q
        off = ~zero
        g = (w[off] * (q - (residual[off] < 0))) @ X[off]
        A = (X[zero] * w[zero, None]).T
        if not zero.any() or np.all(A == 0):
            return -g / np.sum(w)
        from scipy import optimize  # here, not at import: scipy.optimize costs ~0.3 s to import

        xi = optimize.lsq_linear(A, -g, bounds=(q - 1.0, q), method="bvls", tol=1e-15).x
        return -(g + A @ xi) / np.sum(w)

    def best_edge(self, basis: list[int], residual: np.ndarray, zero: np.ndarray) -> np.ndarray:
        r"""The steepest simplex edge out of a non-degenerate vertex (Dantzig's rule).

        With the basis rows' dual values :math:`\xi = -(X_B^\top)^{-1} g / w_B`, the edge
        that releases row :math:`j` with :math:`x_j^\top d = \sigma` has slope
        :math:`w_j(\sigma\xi_j + \rho_q(-\sigma))`: negative for :math:`\sigma = -1`
        where :math:`\xi_j > q` and for :math:`\sigma = +1` where :math:`\xi_j < q - 1`.
        The line search along it ends at the adjacent vertex.
        """
        X, w, q = self.X, self.w, self.q
        off = ~zero
        g = (w[off] * (q - (residual[off] < 0))) @ X[off]
        xb = X[basis]
        xi = -np.linalg.solve(xb.T, g) / w[basis]
        slope_down = w[basis] * (q - xi)  # sigma = -1
        slope_up = w[basis] * (xi + 1 - q)  # sigma = +1
        j = int(np.argmin(np.minimum(slope_down, slope_up)))
        sigma = -1.0 if slope_down[j] <= slope_up[j] else 1.0
        return np.linalg.solve(xb, sigma * np.eye(self.p)[j])

    def to_vertex(self, beta: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Move to a vertex (p independent interpolated rows) without raising F."""
        X, y, w, q, p = self.X, self.y, self.w, self.q, self.p
        residual, zero = self.zero_rows(beta)
        basis = self.independent(np.flatnonzero(zero), [])
        for _ in range(2 * p + 2):  # each move adds at least one row to the basis
            if len(basis) == p:
                return np.linalg.solve(X[basis], y[basis]), basis
            # A direction that keeps the interpolated rows interpolated (the rows of vt
            # beyond the rank span the null space of X[basis]).
            vt = np.linalg.svd(X[basis], full_matrices=True)[2] if basis else np.eye(p)
            d = vt[len(basis)]
            a = X @ d
            a[zero] = 0.0  # rows in the span of the basis rows: 0 in exact arithmetic
            if np.sum(w * a * (q - (residual < 0))) < 0:  # F rises along d: go the other way
                d, a = -d, -a
            t = _line_minimum(residual, a, w, q)
            if not math.isfinite(t):  # flat this way and no breakpoint: turn round
                d, a = -d, -a
                t = _line_minimum(residual, a, w, q)
            if not math.isfinite(t):
                break
            beta = beta + t * d
            residual, zero = self.zero_rows(beta)
            basis = self.independent(np.flatnonzero(zero), basis)
        raise FitError(
            "QuantileRegression could not find p linearly independent interpolated rows: "
            "the design is numerically singular (nearly collinear columns); rescale or drop "
            "columns"
        )


def exact_quantile_fit(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, q: float, beta: np.ndarray, max_iter: int
) -> tuple[np.ndarray, list[int], bool, list[tuple[float, np.ndarray]]]:
    r"""Vertex descent from ``beta`` to the exact minimiser of the mean pinball loss.

    Returns ``(beta, basis, optimal, steps)``: the last vertex, its interpolated
    rows, whether :math:`0 \in \partial F` was verified there, and ``(F, v)`` at
    each vertex visited, ``v`` the minimum-norm subgradient.
    """
    lp = _PinballProgram(X, y, w, q)
    # The rows the smoothed fit nearly interpolates: usually the optimal vertex or a
    # few steps from it (to_vertex then only confirms that it is a vertex).
    basis = lp.independent(np.argsort(np.abs(y - X @ beta), kind="stable"), [])
    if len(basis) == lp.p:
        beta = np.linalg.solve(X[basis], y[basis])
    beta, basis = lp.to_vertex(beta)
    steps = []
    for _ in range(max_iter + 1):
        residual, zero = lp.zero_rows(beta)
        value = _pinball_mean(residual, w, q)
        v = lp.min_norm_subgradient(residual, zero)
        steps.append((value, v))
        if np.linalg.norm(v) <= ZERO_SUBGRADIENT:
            return beta, basis, True, steps
        if len(steps) > max_iter:
            break
        if np.count_nonzero(zero) == lp.p:
            d = lp.best_edge(basis, residual, zero)
        else:  # degenerate vertex: -v descends, F'(beta; -v) = -|v|^2
            d = -v
        t = _line_minimum(residual, X @ d, w, q)
        new_beta, new_basis = lp.to_vertex(beta + t * d)
        if not lp.loss(new_beta) < value:  # the rounding floor: no strict descent is left
            break
        beta, basis = new_beta, new_basis
    return beta, basis, False, steps


# --------------------------------------------------------------------------- estimator


class QuantileRegression(RegressionEstimator):
    r"""Linear regression of the ``q``-quantile: the exact minimiser of the mean pinball loss.

    .. math::  \hat\beta = \arg\min_\beta
               \frac{\sum_i w_i\,\rho_q(y_i - x_i^\top\beta)}{\sum_i w_i}

    A smoothed (conquer) fit through the engine, then an exact vertex descent
    that proves optimality by the subgradient condition; see the module
    docstring. Standard errors by ``cov_type`` (:mod:`estimators.quantile_inference`),
    all with t statistics on :math:`n - p` degrees of freedom:

    - ``"kernel"`` (default): statsmodels ``QuantReg`` (``vcov="robust"``,
      Epanechnikov kernel, Hall-Sheather bandwidth)
      :math:`(X^\top X)^{-1}X^\top D X(X^\top X)^{-1}`;
    - ``"iid"``: R quantreg ``summary.rq(se="iid")``,
      :math:`s^2 q(1-q)(X^\top X)^{-1}` with the sparsity :math:`s` from the
      residuals nearest 0;
    - ``"nid"``: R quantreg ``se="nid"``, the Hendricks-Koenker sandwich
      :math:`q(1-q)(X^\top FX)^{-1}X^\top X(X^\top FX)^{-1}` with
      :math:`f_i = 2h/x_i^\top(\hat\beta_{q+h} - \hat\beta_{q-h})` (rows with
      a non-positive difference get :math:`f_i = 0` and an InferenceWarning
      counting them);
    - ``"bootstrap"``: pairs bootstrap, ``cov_options["n_bootstrap"]``
      resamples (default 200) drawn with numpy ``default_rng(cov_options["seed"])``
      (default seed 0), the covariance of the refitted coefficients.

    Parameters
    ----------
    q : quantile level in (0, 1) (default 0.5: median regression).
    fit_intercept : add an intercept column named ``Intercept`` (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.
    bandwidth : bandwidth of the smoothed first stage in units of ``y``; default
        conquer's rule times the MAD of the OLS residuals. It changes only where
        the exact stage starts, not the result.
    max_iter : limit on the descent steps of the exact stage (default 1000).
    cov_type : ``"kernel"`` (default), ``"iid"``, ``"nid"`` or ``"bootstrap"``.
    use_t : None or True (t statistics, the default) or False (z).
    cov_options : None or a dict with ``"bandwidth"`` (``"hall-sheather"``,
        the default, or ``"bofinger"``; ``"chamberlain"`` too for ``"kernel"``),
        ``"n_bootstrap"`` and ``"seed"``.

    Learned attributes: ``params_``, ``cov_``, ``std_errors_``, ``residuals_``
    (exact zeros for the interpolated rows), ``basis_`` (index labels of the
    interpolated rows), ``loss_`` (the minimum mean pinball loss),
    ``history_`` (one row a stage: OLS start, smoothed fit, then each vertex, with
    the mean pinball loss and the norm of a subgradient in data units, 0 at the
    optimum), ``converged_`` (optimality proven), ``n_iter_`` (rows of
    ``history_`` after the first), ``smoothing_solution_`` (the engine's
    :class:`~estimators.Solution` of the smoothed stage, in scaled units).

    Examples
    --------
    >>> from estimators.datasets import load_dataset
    >>> df = load_dataset("engel")
    >>> fit = QuantileRegression(q=0.5).fit(df[["income"]], df["foodexp"])
    >>> fit.params_.round(4).tolist()
    [81.4822, 0.5602]
    """

    _non_smooth_loss = "the pinball (check) loss"

    def __init__(
        self,
        q: float = 0.5,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        bandwidth: float | None = None,
        max_iter: int = 1000,
        cov_type: str = "kernel",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    # None of these is a sandwich of a smooth loss: each is computed by the fit itself.
    _cov_types = QUANTILE_COV_TYPES
    _native_cov_types = QUANTILE_COV_TYPES
    _cov_options = QUANTILE_COV_OPTIONS

    def _check_settings(self) -> None:
        if isinstance(self.cov_options, dict):
            check_cov_options(self.cov_type, self.cov_options)
        if not (isinstance(self.q, int | float) and 0 < self.q < 1):
            raise SettingsError(f"q must be a quantile level in (0, 1), got q={self.q!r}")
        if self.bandwidth is not None and not (
            isinstance(self.bandwidth, int | float)
            and math.isfinite(self.bandwidth)
            and self.bandwidth > 0
        ):
            raise SettingsError(
                f"bandwidth must be a positive number or None, got bandwidth={self.bandwidth!r}"
            )
        if not (isinstance(self.max_iter, int) and self.max_iter >= 0):
            raise SettingsError(f"max_iter must be an integer >= 0, got {self.max_iter!r}")

    def _fit_design(self, design: Design) -> FitResult:
        q = float(self.q)
        used = design.weights > 0
        col_scale = power_of_two_scale(design.X[used], axis=0)
        y_scale = float(power_of_two_scale(design.y[used]))
        X, y, w = design.X[used] / col_scale, design.y[used] / y_scale, design.weights[used]
        history = []

        def record(stage, value, subgradient):
            # Data units: F_data = y_scale F and dF_data/dbeta_j = col_scale_j dF/dbeta_scaled_j.
            history.append(
                {
                    "loss": y_scale * value,
                    # hypot: no overflow for columns near 1e300
                    "grad_norm": float(np.hypot.reduce(np.ravel(col_scale * subgradient))),
                    "stage": stage,
                }
            )

        lp = _PinballProgram(X, y, w, q)

        def record_point(stage, beta):
            residual, zero = lp.zero_rows(beta)
            record(stage, _pinball_mean(residual, w, q), lp.min_norm_subgradient(residual, zero))

        beta = weighted_least_squares(X, y, w, design.names)
        record_point("ols", beta)
        smoothed = self._smoothed_fit(X, y, w, q, beta, y_scale)
        if np.all(np.isfinite(smoothed.params["beta"])):  # else start the descent from OLS
            beta = smoothed.params["beta"]
        record_point("smoothed", beta)
        beta, basis, optimal, steps = exact_quantile_fit(X, y, w, q, beta, self.max_iter)
        for value, subgradient in steps:
            record("vertex", value, subgradient)
        residual, _ = lp.zero_rows(beta)
        params = beta * y_scale / col_scale
        full_residual = design.y - design.X @ params
        full_residual[np.flatnonzero(used)[residual == 0]] = 0.0
        refits = _Refits(X, y, w, q, beta, self.max_iter, y_scale / col_scale)
        cov, df_resid, cov_note = self._covariance(design, full_residual, q, refits)
        trace = pd.DataFrame(history).rename_axis("iteration")
        status = Status.CONVERGED if optimal else Status.MAX_ITER
        if not optimal and len(steps) <= self.max_iter:
            status = Status.STALLED
        solution = Solution(
            params={"beta": params},
            value=float(history[-1]["loss"]),
            grad_norm=float(history[-1]["grad_norm"]),
            n_iter=len(history) - 1,
            status=status,
            decrement=float("nan"),
            trace=trace,
        )
        index = design.index
        return FitResult(
            params=params,
            cov=cov,
            solution=solution,
            df_resid=df_resid,
            history=trace,
            cov_note=cov_note,
            attributes={
                "residuals_": pd.Series(
                    full_residual, index=index, name=f"residual_{design.response}"
                ),
                "basis_": list(index[np.flatnonzero(used)[basis]]),
                "loss_": float(history[-1]["loss"]),
                "smoothing_solution_": smoothed,
            },
        )

    def _smoothed_fit(self, X, y, w, q, beta, y_scale):
        n, p = float(np.sum(w)), X.shape[1]
        residual = y - X @ beta
        if self.bandwidth is None:
            sigma = mad_about(residual, w, center=weighted_median(residual, w))
            if not sigma > 0:
                sigma = float(np.max(np.abs(residual))) or 1.0
            h = max(0.05, ((math.log(max(n, 2.0)) + p) / n) ** 0.4) * sigma
        else:
            h = float(self.bandwidth) / y_scale
        return minimize(
            _smoothed_objective,
            {"beta": beta},
            *pad_rows(X, y, w),
            q,
            h,
            solver="newton",
            hessian=_smoothed_hessian,
        )

    def _covariance(self, design: Design, residual: np.ndarray, q: float, refits: _Refits):
        """The covariance of ``cov_type``, its t degrees of freedom and why it is NaN (or None)."""
        p = design.X.shape[1]
        n = design.nobs
        df_resid = n - p
        nan = np.full((p, p), np.nan)
        if df_resid <= 0:
            return (
                nan,
                None,
                (
                    f"{int(n)} rows for {p} parameters: the fit interpolates every row, so the "
                    "standard errors need more rows than parameters"
                ),
            )
        used = design.weights > 0
        X, w = design.X[used], design.weights[used]
        band = self._cov_option("bandwidth", "hall-sheather")
        if self.cov_type == "kernel":
            cov, reason = kernel_cov(X, design.y[used], residual[used], q, w, band)
        elif self.cov_type == "iid":
            cov, reason = iid_cov(X, residual[used], q, w, band)
        elif self.cov_type == "nid":
            cov, n_nonpositive, reason = nid_cov(X, q, w, refits.at_level, band)
            if n_nonpositive:
                warnings.warn(
                    f"QuantileRegression(cov_type='nid'): {n_nonpositive} of {X.shape[0]} "
                    "rows have a non-positive fitted density (the quantile fits at q +- h "
                    "cross there); they enter with density 0",
                    InferenceWarning,
                    stacklevel=user_stacklevel(),
                )
        else:
            cov, failed, reason = bootstrap_cov(
                refits.on_weights,
                w,
                self._cov_option("n_bootstrap", DEFAULT_N_BOOTSTRAP),
                self._cov_option("seed", 0),
            )
            if failed and reason is None:
                warnings.warn(
                    f"QuantileRegression(cov_type='bootstrap'): {failed} resamples had a "
                    "singular design and were left out of the covariance",
                    InferenceWarning,
                    stacklevel=user_stacklevel(),
                )
        return (nan if reason is not None else cov), df_resid, reason


class _Refits:
    """Refits for the standard errors, by the vertex descent from the estimate (scaled data).

    ``unit`` turns scaled coefficients into data units (``y_scale / col_scale``).
    """

    def __init__(self, X, y, w, q, beta, max_iter, unit):
        self.X, self.y, self.w, self.q = X, y, w, q
        self.beta, self.max_iter, self.unit = beta, max_iter, unit

    def _fit(self, X, y, w, level):
        beta, _, optimal, _ = exact_quantile_fit(X, y, w, level, self.beta, self.max_iter)
        if not optimal:
            warnings.warn(
                f"a refit for the standard errors (q={level:.4g}) stopped before optimality "
                "was proven; raise max_iter",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        return beta * self.unit

    def at_level(self, level: float) -> np.ndarray:
        """The coefficients at another quantile level (data units)."""
        return self._fit(self.X, self.y, self.w, level)

    def on_weights(self, weights: np.ndarray) -> np.ndarray | None:
        """The coefficients with other weights (data units); None for a singular resample."""
        kept = weights > 0
        try:
            return self._fit(self.X[kept], self.y[kept], weights[kept], self.q)
        except (FitError, np.linalg.LinAlgError):  # a resample with a singular design
            return None


__all__ = ["QuantileRegression", "exact_quantile_fit", "smoothed_pinball"]
