r"""Robust linear regression: Huber and Tukey-biweight M-estimators with a concomitant scale.

The estimate is the joint fixed point :math:`(\hat\beta, \hat s)` of

.. math::  \hat\beta = \arg\min_\beta
           \frac{\sum_i w_i\,\rho_c\big((y_i - x_i^\top\beta)/\hat s\big)}{\sum_i w_i},
           \qquad
           \hat s = \frac{\operatorname{median}_i |y_i - x_i^\top\hat\beta|}{\Phi^{-1}(3/4)},

i.e. :math:`\sum_i w_i\,\psi_c(r_i/\hat s)\,x_i = 0` with :math:`\psi_c = \rho_c'`, and the
scale is the MAD of the residuals about 0. This is the fixed point of statsmodels'
``RLM(y, X, M=HuberT(t=c) | TukeyBiweight(c=c)).fit()`` with its defaults
(``scale_est="mad"``, ``update_scale=True``, IRLS started from OLS): its loop
alternates one weighted least-squares step :math:`\beta \leftarrow
(X^\top W X)^{-1} X^\top W y`, :math:`W = \operatorname{diag}(\psi(z)/z)`, with
a MAD update of the scale, and stops where neither changes, which is where both
equations above hold.

We reach the same fixed point in two phases, each step a call of
:func:`estimators.minimize` (``solver="newton"`` with a structured ``hessian=``,
warm-started at the previous :math:`\beta`; ``psi`` and ``psi'`` per row by
autodiff of :math:`\rho`):

1. **statsmodels' path.** One Newton step with the IRLS Hessian
   :math:`X^\top \operatorname{diag}(w_i\,\psi(z_i)/z_i) X / (s^2 \sum w)`, which is
   exactly one IRLS step (a majorise-minimise step, so the line search accepts it
   in full), then the MAD update of the scale, until the scale and the
   coefficients move by less than ``SETTLED`` (relative, and in standard errors)
   per step. For Huber's convex loss the fixed point is unique and this phase only
   brings us close; for Tukey's biweight, which is not convex
   (:math:`\psi' < 0` for :math:`|z| > c/\sqrt5`), it follows statsmodels' iterates
   into the same basin, so that both find the same local solution.
2. **Exact finish.** At fixed scale, Newton with the exact Hessian
   :math:`X^\top \operatorname{diag}(w_i\,\psi'(z_i)) X / (s^2 \sum w)` to the
   minimiser (Huber's loss is piecewise quadratic: Newton is exact once the
   quadratic rows are right); around it, the scale map :math:`s \mapsto T(s) =
   \mathrm{MAD}(r(\hat\beta(s)))` (a contraction with rate about 0.2 on the stack
   loss data) is solved by secant steps on :math:`T(s) - s`, falling back to the
   plain step :math:`s \leftarrow T(s)` whenever a secant step does not shrink
   :math:`|T(s) - s|`. It stops when the last update moved the scale by at most
   ``tol`` (relative) and the coefficients by at most ``tol`` standard errors.

The data are divided by powers of two (each column of ``X`` and ``y``; exact in
floating point) so that every coefficient is of order one whatever the units.

Standard errors: statsmodels' default ``cov="H1"`` (Huber 1981, eq. 7.10.x; the
"small-sample correction" :math:`K`),

.. math::  \widehat{\mathrm{Cov}}(\hat\beta) = K^2\,
           \frac{\frac{1}{n-p}\sum_i w_i \psi(z_i)^2\ \hat s^2}
                {\big(\frac1n\sum_i w_i\psi'(z_i)\big)^2}\,(X^\top W X)^{-1},
           \qquad K = 1 + \frac{p}{n}\,\frac{\mathrm{Var}\,\psi'(z)}{(\mathrm{E}\,\psi'(z))^2},

with :math:`z_i = r_i/\hat s`, :math:`n = \sum_i w_i` and frequency weights
:math:`W`. Tests use the normal distribution (``df_resid_ = None``), as RLM does.
``cov_type`` HC0, HC1, cluster and HAC are sandwiches of the per-row losses at
the fixed scale (:func:`m_sandwich`, by autodiff); for Huber's loss HC0 is
:math:`\hat s^2 (\sum w\psi' x x^\top)^{-1} (\sum w \psi^2 x x^\top)
(\sum w\psi' x x^\top)^{-1}`, the heteroskedasticity-robust counterpart of H1
(which replaces :math:`\psi'` and :math:`\psi^2` by their means over the rows and
adds the factors :math:`K^2` and :math:`n/(n-p)`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import Array

from .base import FitResult, RegressionEstimator
from .covariance import Sandwich
from .errors import DataError, SettingsError
from .frame import Design
from .inference import covariance_in_data_units, m_estimation_sandwich
from .losses import huber, loss_derivatives, tukey_biweight, weighted_mean
from .numerics import mad_about, pad_rows, power_of_two_scale, weighted_least_squares
from .solve import Solution, Status, minimize

# The IRLS phase hands over to Newton once the scale and the coefficients move by
# less than this (relative scale, standard errors) per step: by then the iteration is
# in the basin of statsmodels' fixed point, which matters for Tukey's non-convex loss.
SETTLED = 1e-5

# --------------------------------------------------------------------------- kernels
# One objective / Hessian kernel per loss, built once at import so the engine's
# compiled loop (keyed on the function objects) is reused across fits.


class _Kernels:
    """The pure array functions of one M-estimator family (loss ``rho(r, *, c)``)."""

    def __init__(self, rho: Callable[..., Array]):
        # psi and psi' by autodiff of rho (Huber's loss defines them by custom_jvp:
        # psi' = 1 on |z| <= c, as statsmodels).
        scalar = lambda z, c: rho(z, c=c)  # noqa: E731
        self.psi = jax.vmap(jax.grad(scalar), in_axes=(0, None))
        self.psi_deriv = jax.vmap(jax.grad(jax.grad(scalar)), in_axes=(0, None))
        self.rho = rho

        def objective(params, X, y, w, scale, c, irls):
            """Mean loss at fixed scale: sum w rho((y - X b)/s, c) / sum w (``irls`` unused)."""
            return weighted_mean(rho((y - X @ params["beta"]) / scale, c=c), w)

        def hessian(params, X, y, w, scale, c, irls):
            """X^T diag(w h(z)) X / (s^2 sum w), one GEMM.

            h = psi' (the exact Hessian) or, where ``irls`` is true, h = psi(z)/z: a
            full Newton step with that matrix is one IRLS (weighted least-squares)
            step. One function with a traced switch, so both share one compiled loop.
            """
            z = (y - X @ params["beta"]) / scale
            psi, dpsi = self.psi(z, c), self.psi_deriv(z, c)
            irls_weight = jnp.where(z != 0, psi / jnp.where(z != 0, z, 1.0), dpsi)
            curvature = w * jnp.where(irls, irls_weight, dpsi)
            return (X * curvature[:, None]).T @ X / (jnp.sum(w) * scale * scale)

        self.objective = objective
        self.hessian = hessian


KERNELS = {"huber": _Kernels(huber), "tukey": _Kernels(tukey_biweight)}


# --------------------------------------------------------------------------- helpers


def h1_covariance(
    X: np.ndarray,
    weights: np.ndarray,
    psi: np.ndarray,
    psi_deriv: np.ndarray,
    scale: float,
) -> np.ndarray:
    """Huber's H1 covariance (statsmodels RLM ``cov="H1"``); see the module docstring."""
    n = float(np.sum(weights))
    p = X.shape[1]
    mean_deriv = float(np.sum(weights * psi_deriv)) / n
    var_deriv = float(np.sum(weights * (psi_deriv - mean_deriv) ** 2)) / n
    ss_psi = float(np.sum(weights * psi**2))
    xtwx = (X * weights[:, None]).T @ X
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1.0 + p / n * var_deriv / mean_deriv**2
        factor = k**2 * (ss_psi * scale**2 / (n - p)) / mean_deriv**2
    return factor * np.linalg.inv(xtwx)


def m_sandwich(
    rho: Callable[..., Array],
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    beta: np.ndarray,
    scale: float,
    c: float,
    unit: np.ndarray,
) -> tuple[Sandwich, str | None]:
    r"""Sandwich ingredients of the M-estimate at a fixed scale, in data units.

    The per-row losses are :math:`\ell_i(\beta) = w_i\,\rho_c((y_i -
    x_i^\top\beta)/s)` with the scale :math:`s` held fixed (its estimation
    error is ignored, as in H1); :func:`estimators.inference.m_estimation_sandwich`
    differentiates them (scores :math:`s_i = -w_i\,\psi(z_i)\,x_i/s`,
    Hessian :math:`A = \sum_i w_i\,\psi'(z_i)\,x_i x_i^\top / s^2`) in the
    solver's scaled coordinates, where :math:`A` is well conditioned; with
    :math:`\beta = u \odot \beta_\text{scaled}` (``unit`` = :math:`u`) the
    data-unit bread is :math:`D A^{-1} D` and the scores :math:`D^{-1} s_i`,
    :math:`D = \operatorname{diag}(u)` (the loss's units cancel in
    :math:`A^{-1} B A^{-1}`). The weights are frequency weights. Returns the
    reason when :math:`A` is singular or not positive definite (Tukey's
    :math:`\psi'` is negative beyond :math:`c/\sqrt5`).
    """

    # Zero-weight padding rows (loss 0, score 0) to the fit's size bucket, and the
    # scale and c passed as data: every fit in a bucket reuses one compiled kernel.
    n = len(y)
    X_pad, y_pad, w_pad = pad_rows(X, y, weights)
    sandwich, reason = m_estimation_sandwich(
        _scaled_rho_rows(rho), beta, X_pad, y_pad, w_pad, scale, c, nobs=float(np.sum(weights))
    )
    bread, out_of_range = covariance_in_data_units(sandwich.bread, unit)
    with np.errstate(over="ignore", under="ignore"):  # NaN bread below already says why
        scores = sandwich.scores[:n] / unit
    return Sandwich(bread, scores, sandwich.nobs, weights), reason or out_of_range


@functools.cache
def _scaled_rho_rows(rho: Callable) -> Callable:
    r"""The rows' losses :math:`w_i \rho((y_i - x_i^\top\theta)/s; c)`, one function per rho."""

    def row_losses(theta, X, y, w, scale, c):
        return w * rho((y - X @ theta) / scale, c=c)

    return row_losses


# --------------------------------------------------------------------------- estimators


class _MRegression(RegressionEstimator):
    """M-estimation with a MAD scale; subclasses choose the loss (``_family``)."""

    _family: str
    # HC2 / HC3 need least-squares leverages: not offered (an informative SettingsError).
    _cov_types = ("nonrobust", "HC0", "HC1", "cluster", "HAC")
    # No solver setting here (the base class's hints name one): say what can be changed.
    _convergence_hint = (
        "raise max_iter or loosen tol; on data fitted exactly by many rows the MAD "
        "scale tends to 0 and the fit cannot settle"
    )
    _failure_hint = "check the scale of the data (the MAD scale of the residuals must be > 0)"

    def __init__(
        self,
        c: float,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-10,
        max_iter: int = 200,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        self._set_settings(locals())

    def _check_settings(self) -> None:
        if not (isinstance(self.c, int | float) and math.isfinite(self.c) and self.c > 0):
            raise SettingsError(f"c must be a positive number, got c={self.c!r}")
        if not (isinstance(self.tol, int | float) and self.tol > 0):
            raise SettingsError(f"tol must be a positive number, got tol={self.tol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise SettingsError(f"max_iter must be a positive integer, got {self.max_iter!r}")

    # ------------------------------------------------------------------ the fit
    def _fit_design(self, design: Design) -> FitResult:
        kernels = KERNELS[self._family]
        c = float(self.c)
        weights = design.weights
        n = design.nobs
        # Powers of two: exact, and they put every coefficient on the scale of 1.
        col_scale = power_of_two_scale(design.X, axis=0)
        y_scale = float(power_of_two_scale(design.y))
        X, y = design.X / col_scale, design.y / y_scale
        beta = weighted_least_squares(X, y, weights, design.names)
        scale = self._checked_scale(y - X @ beta, weights, design)
        history = [
            self._history_row(kernels, X, y, weights, beta, scale, 0, col_scale, y_scale)
            | {"phase": "ols"}
        ]
        previous: tuple[float, float] | None = None  # (s, T(s) - s) of the last step
        status, solution, phase = Status.MAX_ITER, None, "irls"
        padded = pad_rows(X, y, weights)
        for _ in range(self.max_iter):
            irls = phase == "irls"
            solution = minimize(
                kernels.objective,
                {"beta": beta},
                *padded,
                scale,
                c,
                irls,
                solver="newton",
                hessian=kernels.hessian,
                # An infinite tol passes the decrement test at once, and the engine
                # then takes exactly one full step: one IRLS step, as statsmodels.
                tol=math.inf if irls else self.tol**2 / n,
            )
            if solution.status == Status.NONFINITE:
                status = Status.NONFINITE
                break
            step = solution.params["beta"] - beta
            beta = solution.params["beta"]
            new_scale = self._checked_scale(y - X @ beta, weights, design)
            history.append(
                self._history_row(
                    kernels, X, y, weights, beta, scale, solution.n_iter, col_scale, y_scale
                )
                | {"phase": phase}
            )
            gap = new_scale - scale
            moved = _step_in_standard_errors(kernels, X, y, weights, beta, scale, c, step)
            if irls:
                # statsmodels' path: one IRLS step, then the scale, until it settles.
                if abs(gap) <= SETTLED * scale and moved <= SETTLED:
                    phase = "newton"
                scale = new_scale
            elif abs(gap) <= self.tol * scale and moved <= self.tol:
                status = Status.CONVERGED if solution.converged else solution.status
                scale = new_scale
                break
            else:
                scale, previous = _next_scale(scale, gap, new_scale, previous), (scale, gap)
        else:
            scale = new_scale
        return self._result(
            kernels, design, X, y, beta, scale, status, solution, history, col_scale, y_scale
        )

    def _checked_scale(self, residual: np.ndarray, weights: np.ndarray, design: Design) -> float:
        scale = mad_about(residual, weights)
        if not scale > 0:
            zero = int(np.sum((residual == 0) & (weights > 0)))
            raise DataError(
                f"the robust scale (MAD of the residuals) is 0: {zero} of "
                f"{int(np.sum(weights > 0))} rows of {design.response} are fitted exactly (at "
                "least half must be for a zero MAD), so the M-estimate with a MAD scale is "
                "undefined"
            )
        return scale

    def _history_row(self, kernels, X, y, weights, beta, scale, n_inner, col_scale, y_scale):
        """Loss and gradient in data units: s^2 rho(r/s) is rho with threshold c*s."""
        rho, psi, _ = loss_derivatives(kernels.rho, (y - X @ beta) / scale, c=self.c)
        n = np.sum(weights)
        data_scale = scale * y_scale
        loss = data_scale**2 * np.sum(weights * rho) / n
        # d/d(beta_data) of s^2 mean rho(r/s) = -s mean(w psi x) with x in data units.
        grad = -data_scale * ((weights * psi) @ X) / col_scale / n
        return {
            "loss": float(loss),
            # hypot: no overflow for gradients near 1e300 (data near 1e-300)
            "grad_norm": float(np.hypot.reduce(np.ravel(grad))),
            "scale": float(data_scale),
            "inner_iterations": int(n_inner),
        }

    def _result(
        self, kernels, design, X, y, beta, scale, status, solution, history, col_scale, y_scale
    ):
        residual = y - X @ beta
        z = residual / scale
        _, psi, dpsi = loss_derivatives(kernels.rho, z, c=self.c)
        cov_scaled = h1_covariance(X, design.weights, psi, dpsi, scale)
        cov_note = None
        if not np.all(np.isfinite(cov_scaled)):
            cov_note = (
                "the H1 covariance is not finite (the mean of psi'(r/s) over the rows is 0: "
                "every residual is beyond the redescending loss's threshold)"
            )
            cov_scaled = np.full_like(cov_scaled, np.nan)
        # Back to data units: beta = beta_scaled * y_scale / col_scale.
        unit = y_scale / col_scale
        params = beta * unit
        cov, out_of_range = covariance_in_data_units(cov_scaled, unit)
        cov_note = cov_note or out_of_range
        sandwich, reason = m_sandwich(kernels.rho, X, y, design.weights, beta, scale, self.c, unit)
        if self.cov_type != "nonrobust":
            cov_note = reason
        with np.errstate(divide="ignore", invalid="ignore"):
            irls = np.where(z != 0, psi / z, dpsi)
        trace = pd.DataFrame(history).rename_axis("iteration")
        last = history[-1]
        summary = Solution(
            params={"beta": params},
            value=last["loss"],
            grad_norm=last["grad_norm"],
            n_iter=len(history) - 1,
            status=Status(status),
            decrement=float("nan") if solution is None else solution.decrement,
            trace=trace,
        )
        return FitResult(
            params=params,
            cov=cov,
            solution=summary,
            df_resid=None,
            history=trace,
            sandwich=sandwich,
            cov_note=cov_note,
            attributes={
                "scale_": float(scale * y_scale),
                "weights_": pd.Series(irls, index=design.index, name="weight"),
                "residuals_": pd.Series(
                    residual * y_scale, index=design.index, name=f"residual_{design.response}"
                ),
            },
        )


def _next_scale(scale, gap, fixed_point_step, previous):
    """Secant step on g(s) = T(s) - s when the last step shrank |g|; else s <- T(s)."""
    if previous is not None:
        old_scale, old_gap = previous
        if abs(gap) < abs(old_gap) and gap != old_gap:
            secant = scale - gap * (scale - old_scale) / (gap - old_gap)
            # Stay where the contraction can be trusted: between s and T(s), widened.
            low, high = sorted((scale, fixed_point_step))
            width = high - low
            if low - 2 * width <= secant <= high + 2 * width and secant > 0:
                return float(secant)
    return float(fixed_point_step)


def _step_in_standard_errors(kernels, X, y, weights, beta, scale, c, step) -> float:
    r"""Length of ``step`` in the metric of the approximate covariance.

    :math:`\sqrt{\delta^\top X^\top W X \delta / (\kappa s^2)}` with
    :math:`\kappa = \overline{\psi^2} / \overline{\psi'}^2`: the number of standard
    errors the coefficients moved in the last outer step.
    """
    _, psi, dpsi = loss_derivatives(kernels.rho, (y - X @ beta) / scale, c=c)
    n = np.sum(weights)
    mean_dpsi = abs(np.sum(weights * dpsi)) / n
    kappa = (np.sum(weights * psi**2) / n) / max(mean_dpsi, np.finfo(float).tiny) ** 2
    quad = float(step @ ((X * weights[:, None]).T @ (X @ step)))
    return math.sqrt(max(quad, 0.0) / (kappa * scale**2)) if kappa > 0 else 0.0


class HuberRegression(_MRegression):
    r"""Huber's M-estimator of a linear regression, with a MAD scale (statsmodels RLM HuberT).

    .. math::  \rho_c(z) = \begin{cases}\tfrac12 z^2 & |z|\le c\\ c|z| - \tfrac12 c^2 & |z|>c
               \end{cases}, \qquad z_i = (y_i - x_i^\top\beta)/s

    See the module docstring for the fixed point, the algorithm and the H1
    standard errors.

    Parameters
    ----------
    c : threshold in units of the robust scale (default 1.345: 95% efficiency
        at the normal).
    fit_intercept : add an intercept column named ``Intercept`` (default True).
    missing : ``"raise"`` (default) or ``"drop"`` rows with NaN.
    tol : convergence in standard-error units: stop when the last scale update
        changed the scale by at most ``tol`` relative and the coefficients by at
        most ``tol`` standard errors. Default ``1e-10``.
    max_iter : limit on the scale updates, both phases together (default 200).
    cov_type : ``"nonrobust"`` (default: Huber's H1, as statsmodels' RLM), or a
        sandwich :math:`c\,A^{-1} B A^{-1}` of the per-row losses
        :math:`w_i \rho_c(r_i/\hat s)` at the fixed scale :math:`\hat s`
        (:func:`m_sandwich`: :math:`A = \sum_i w_i\psi'(z_i) x_i x_i^\top/\hat s^2`,
        scores :math:`s_i = -w_i \psi(z_i) x_i / \hat s`): ``"HC0"``
        (:math:`B = \sum_i s_i s_i^\top / w_i`, :math:`c = 1`), ``"HC1"``
        (:math:`c = n/(n-p)`), ``"cluster"`` (:math:`B = \sum_g S_g S_g^\top`,
        :math:`c = \frac{G}{G-1}\frac{n-1}{n-p}`; labels from
        ``fit(groups=...)``) or ``"HAC"`` (Newey-West, Bartlett weights,
        ``cov_options={"maxlags": L}``, default :math:`\lfloor 4(n/100)^{2/9}
        \rfloor`, no factor); :math:`n = \sum_i w_i`. See
        :mod:`estimators.covariance`. HC2 / HC3 (least squares) are not offered.
    use_t : None or False (default: z, as RLM), True (t with :math:`n - p`
        degrees of freedom; :math:`G - 1` for cluster).
    cov_options : None or ``{"maxlags": L}`` for ``"HAC"``.

    Learned attributes: ``params_``, ``cov_``, ``std_errors_``, ``scale_`` (the
    final MAD scale), ``weights_`` (final IRLS weights :math:`\psi(z)/z`, a Series
    on the data index), ``residuals_``, ``history_`` (one row a scale update: loss
    :math:`s^2\,\overline{\rho_c(r/s)}` and its gradient norm in data units, scale,
    Newton iterations), ``converged_``, ``n_iter_`` (scale updates).

    Examples
    --------
    >>> from estimators.datasets import load_dataset
    >>> df = load_dataset("stackloss")
    >>> fit = HuberRegression().fit(df[["airflow", "watertemp", "acidconc"]], df["stackloss"])
    >>> fit.params_.round(4).tolist()
    [-41.0265, 0.8294, 0.9261, -0.1278]
    """

    _family = "huber"

    def __init__(
        self,
        c: float = 1.345,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-10,
        max_iter: int = 200,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        super().__init__(
            c,
            fit_intercept=fit_intercept,
            missing=missing,
            tol=tol,
            max_iter=max_iter,
            cov_type=cov_type,
            use_t=use_t,
            cov_options=cov_options,
        )


class TukeyRegression(_MRegression):
    r"""Tukey's biweight M-estimator of a linear regression, with a MAD scale (statsmodels RLM).

    .. math::  \rho_c(z) = \frac{c^2}{6}\Big(1 - \big(1 - \min(z^2/c^2, 1)\big)^3\Big)

    A redescending loss: rows with :math:`|z| > c` get weight 0. The loss is not
    convex; the fit is the local minimum reached from the OLS start, like
    statsmodels' IRLS. Parameters and attributes as :class:`HuberRegression`;
    the default ``c = 4.685`` gives 95% efficiency at the normal.

    Examples
    --------
    >>> from estimators.datasets import load_dataset
    >>> df = load_dataset("stackloss")
    >>> fit = TukeyRegression().fit(df[["airflow", "watertemp", "acidconc"]], df["stackloss"])
    >>> fit.params_.round(4).tolist()
    [-42.2854, 0.9276, 0.6507, -0.1123]
    """

    _family = "tukey"

    def __init__(
        self,
        c: float = 4.685,
        *,
        fit_intercept: bool = True,
        missing: str = "raise",
        tol: float = 1e-10,
        max_iter: int = 200,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: dict | None = None,
    ):
        super().__init__(
            c,
            fit_intercept=fit_intercept,
            missing=missing,
            tol=tol,
            max_iter=max_iter,
            cov_type=cov_type,
            use_t=use_t,
            cov_options=cov_options,
        )


__all__ = ["HuberRegression", "TukeyRegression", "h1_covariance"]
