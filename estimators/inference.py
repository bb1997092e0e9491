r"""Inference from the loss: covariances, test statistics, p-values and intervals.

Small pure functions over arrays; the estimators call them after the fit.
Everything is derived from the same loss the estimator minimises, through
autodiff (the Hessian) rather than a formula per estimator.

The tail probabilities and quantiles of the reference distributions (normal,
Student's t, chi-squared, F: :func:`t_or_normal_sf`, :func:`t_or_normal_ppf`,
:func:`chi2_sf`, :func:`f_sf`) call the ``scipy.special`` functions that
``scipy.stats`` calls underneath, with ``scipy.stats``' handling of the edges
(support bounds, invalid degrees of freedom, NaN), so they return the same
numbers. ``import scipy.stats`` costs about a second of CPU on a 2-core
machine, more than ``import estimators`` needs for everything else but JAX
and pandas; ``scipy.special`` is a fraction of that.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from .covariance import Sandwich
from .errors import InferenceWarning, SettingsError, user_stacklevel


def least_squares_cov(hessian: np.ndarray, residual_variance: float, nobs: float) -> np.ndarray:
    r"""Classical covariance of a least-squares estimate from the Hessian of its mean loss.

    For :math:`f(\beta) = \frac1n \sum_i w_i r_i(\beta)^2` with :math:`n = \sum w_i`,
    the Hessian at the minimum is :math:`H = \frac2n X^\top W X` (with :math:`X`
    the Jacobian of the fitted values), so the textbook
    :math:`\hat\sigma^2 (X^\top W X)^{-1}` is

    .. math::  \widehat{\mathrm{Cov}}(\hat\beta) = \frac{2\hat\sigma^2}{n}\, H^{-1},
               \qquad \hat\sigma^2 = \frac{\sum_i w_i r_i^2}{n - p}.

    For the sample mean (:math:`H = 2`, :math:`p = 1`) this is :math:`s^2/n` with
    the ``ddof=1`` sample variance :math:`s^2`.
    """
    hessian = np.atleast_2d(np.asarray(hessian, dtype=float))
    return 2.0 * residual_variance / nobs * np.linalg.inv(hessian)


def summary_frame(
    params: pd.Series, std_errors: pd.Series, df_resid: float | None, alpha: float = 0.05
) -> pd.DataFrame:
    r"""The coefficient table: estimate, std_error, statistic, p_value, ci_lower, ci_upper.

    statistic :math:`= \hat\theta / \mathrm{se}`, tested against :math:`\theta = 0`;
    Student's t with ``df_resid`` degrees of freedom when given, else standard
    normal. The interval is :math:`\hat\theta \pm q_{1-\alpha/2}\,\mathrm{se}`.
    """
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha}")
    estimate = params.to_numpy(dtype=float)
    se = std_errors.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / se
    quantile = t_or_normal_ppf(1 - alpha / 2, df_resid)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": se,
            "statistic": statistic,
            "p_value": 2 * t_or_normal_sf(np.abs(statistic), df_resid),
            "ci_lower": estimate - quantile * se,
            "ci_upper": estimate + quantile * se,
        },
        index=params.index,
    )


# --------------------------------------------------------------------------- distributions
#
# scipy.stats' rv_continuous.sf / .ppf, less the generic machinery: the same
# scipy.special kernel on the interior of the support, and the same values at
# the edges, so every p-value and interval is the number scipy.stats gives.


def _positive(*shape: np.ndarray) -> np.ndarray:
    """scipy.stats' default argument check: every shape parameter > 0 (NaN fails)."""
    valid = np.asarray(True)
    for s in shape:
        valid = valid & (s > 0)
    return valid


def _survival(kernel: Callable, x: ArrayLike, lower: float, *shape: ArrayLike) -> np.ndarray:
    """``kernel(x, *shape)`` inside the support ``(lower, inf)``, scipy.stats' values outside.

    1 at or below the lower bound, 0 at ``+inf``, NaN for NaN ``x`` or invalid shape
    parameters; a 0-d result comes back as a numpy scalar, as from scipy.stats.
    """
    x = np.asarray(x)
    x = np.asarray(x, dtype=np.promote_types(x.dtype, np.float64))
    shape = tuple(np.asarray(s, dtype=float) for s in shape)
    valid = _positive(*shape)
    out = np.where(valid & (x > lower) & (x < np.inf), kernel(x, *shape), 0.0)
    out = np.where(valid & (x <= lower), 1.0, out)
    out = np.where(~valid | np.isnan(x), np.nan, out)
    return out[()] if out.ndim == 0 else out


def _quantile(kernel: Callable, q: ArrayLike, *shape: ArrayLike) -> np.ndarray:
    """``kernel(q, *shape)`` for ``0 < q < 1``, the support's ends ``-inf`` / ``+inf`` at
    ``q`` = 0 / 1, NaN elsewhere and for invalid shape parameters (scipy.stats' ``ppf``
    of a distribution on the whole real line)."""
    q = np.asarray(q, dtype=float)
    shape = tuple(np.asarray(s, dtype=float) for s in shape)
    valid = _positive(*shape)
    # "* 1.0 + 0.0": scipy.stats' scale and location, which also turn -0.0 into 0.0
    out = np.where(valid & (0 < q) & (q < 1), kernel(q, *shape) * 1.0 + 0.0, np.nan)
    out = np.where(valid & (q == 0), -np.inf, out)
    out = np.where(valid & (q == 1), np.inf, out)
    return out[()] if out.ndim == 0 else out


def t_or_normal_sf(x: ArrayLike, df: float | None = None) -> np.ndarray:
    r"""Upper tail :math:`P(T > x)` of Student's t with ``df`` degrees of freedom, or of the
    standard normal when ``df`` is None.

    :math:`1 - \Phi(x) = \Phi(-x)` is ``scipy.special.ndtr(-x)``; the t tail is
    ``stdtr(df, -x)`` (the regularised incomplete beta function,
    :math:`\tfrac12 I_{df/(df+x^2)}(df/2, 1/2)` for :math:`x > 0`), which also takes
    ``df = inf`` (the normal). Equal to ``scipy.stats.norm.sf(x)`` /
    ``scipy.stats.t.sf(x, df)``, edges included: ``df <= 0`` or NaN gives NaN.

    >>> float(t_or_normal_sf(1.959963984540054))
    0.025
    >>> round(float(2 * t_or_normal_sf(2.0, df=10)), 6)
    0.073388
    """
    if df is None:
        return _survival(lambda v: special.ndtr(-v), x, -np.inf)
    return _survival(lambda v, d: special.stdtr(d, -v), x, -np.inf, df)


def t_or_normal_ppf(q: ArrayLike, df: float | None = None) -> np.ndarray:
    r"""The quantile :math:`t_{df}^{-1}(q)` (``df`` None: :math:`\Phi^{-1}(q)`).

    ``scipy.special.ndtri(q)`` / ``stdtrit(df, q)`` inside :math:`0 < q < 1`,
    :math:`\mp\infty` at 0 and 1, NaN elsewhere or for invalid ``df``: equal to
    ``scipy.stats.norm.ppf`` / ``scipy.stats.t.ppf``.

    >>> round(float(t_or_normal_ppf(0.975)), 6), round(float(t_or_normal_ppf(0.975, df=5)), 6)
    (1.959964, 2.570582)
    """
    if df is None:
        return _quantile(special.ndtri, q)
    return _quantile(lambda v, d: special.stdtrit(d, v), q, df)


def chi2_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray:
    r"""Upper tail of the chi-squared distribution, :math:`Q(df/2, x/2)` (the regularised upper
    incomplete gamma function): ``scipy.special.chdtrc``, 1 for :math:`x \le 0`; equal
    to ``scipy.stats.chi2.sf(x, df)``.

    >>> round(float(chi2_sf(3.841458820694124, 1)), 12)
    0.05
    """
    return _survival(lambda v, d: special.chdtrc(d, v), x, 0.0, df)


def f_sf(x: ArrayLike, dfn: ArrayLike, dfd: ArrayLike) -> np.ndarray:
    r"""Upper tail of the F distribution with (``dfn``, ``dfd``) degrees of freedom,
    :math:`I_{dfd/(dfd + dfn\,x)}(dfd/2, dfn/2)`: ``scipy.special.fdtrc``, 1 for
    :math:`x \le 0`; equal to ``scipy.stats.f.sf(x, dfn, dfd)``.

    >>> round(float(f_sf(1.0, 2, 2)), 12)
    0.5
    """
    return _survival(lambda v, a, b: special.fdtrc(a, b, v), x, 0.0, dfn, dfd)


def loss_hessian(fun, params: dict, *args, dtype: str = "float64") -> np.ndarray:
    """Hessian of ``fun(params, *args)`` over the flattened ``params``, by autodiff.

    Evaluated in the library's precision context (float64 by default) and
    returned as a numpy matrix, parameters in the order of ``params``.
    """
    import jax
    from jax.flatten_util import ravel_pytree

    from .solve import x64_context

    with x64_context(dtype):
        flat, unravel = ravel_pytree(jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), params))
        hessian = jax.hessian(lambda theta: fun(unravel(theta), *args))(flat)
        return np.asarray(hessian, dtype=float)


def invert_hessian(hessian: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The inverse of a Hessian at a minimum, or NaN and the reason it has none.

    A minimum's Hessian is symmetric positive definite; a non-finite, singular
    or indefinite one (a saddle, a flat direction, a boundary estimate) has no
    covariance to offer, and the caller reports NaN standard errors with the
    reason rather than the inverse of a matrix that is not a curvature.
    """
    hessian = np.atleast_2d(np.asarray(hessian, dtype=float))
    nan = np.full(hessian.shape, np.nan)
    if not np.all(np.isfinite(hessian)):
        return nan, "the Hessian is not finite at the estimate"
    symmetric = 0.5 * (hessian + hessian.T)
    eigenvalues = np.linalg.eigvalsh(symmetric)
    if eigenvalues[0] < 0 and abs(eigenvalues[0]) > _singular_below(eigenvalues):
        return nan, "the Hessian is not positive definite at the estimate (not a strict minimum)"
    if eigenvalues[0] <= _singular_below(eigenvalues):
        return nan, "the Hessian is singular at the estimate (a direction of no curvature)"
    inverse = np.linalg.inv(symmetric)
    return 0.5 * (inverse + inverse.T), None


def _singular_below(eigenvalues: np.ndarray) -> float:
    """Eigenvalues below this are zero to working precision (LAPACK's rank rule)."""
    return float(eigenvalues[-1]) * len(eigenvalues) * np.finfo(float).eps


def covariance_in_data_units(
    cov_scaled: np.ndarray, unit: np.ndarray
) -> tuple[np.ndarray, str | None]:
    r"""``cov_scaled`` mapped to data units, :math:`C_{jk} = C^s_{jk} u_j u_k`, or NaN and why.

    Fits run on scaled data (columns and response divided by powers of two), so
    a parameter in data units is :math:`\beta_j = u_j \beta^s_j`. For columns
    near 1e300 or 1e-300 the estimates stay representable but their variances
    (of the order of :math:`u_j^2`) can leave float64's range: a variance of 0
    or infinity would then be a silent wrong answer, so the whole matrix is NaN
    and the reason is returned (shown as ``cov_note_``).

    >>> cov, why = covariance_in_data_units(np.eye(2), np.array([2.0, 1e200]))
    >>> why is not None and bool(np.isnan(cov).all())
    True
    """
    unit = np.asarray(unit, dtype=float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cov = cov_scaled * unit[:, None] * unit[None, :]
    before, after = np.diag(cov_scaled), np.diag(cov)
    lost = (before > 0) & np.isfinite(before) & ~((after > 0) & np.isfinite(after))
    if lost.any():
        return np.full_like(cov, np.nan), (
            f"the variances of {int(lost.sum())} parameter(s) leave float64's range in data "
            "units (columns or response near 1e300 or 1e-300); rescale the data"
        )
    return cov, None


def warn_no_covariance(owner: str, reason: str) -> None:
    """The one warning for standard errors that cannot be computed (reported as NaN),
    pointed at the user's call."""
    warnings.warn(
        f"{owner}: {reason}, so the standard errors are NaN",
        InferenceWarning,
        stacklevel=user_stacklevel(),
    )


def m_estimation_sandwich(
    row_losses: Callable,
    params: np.ndarray,
    *data: np.ndarray,
    nobs: float,
    frequency_weights: np.ndarray | None = None,
    leverage: np.ndarray | None = None,
    dtype: str = "float64",
) -> tuple[Sandwich, str | None]:
    r"""The sandwich ingredients of any M-estimator, by autodiff of its per-row losses.

    ``row_losses(theta, *data)`` returns the vector :math:`(\ell_1, \dots,
    \ell_n)` of the rows' contributions to the total loss (weights included) at
    the flat parameter vector ``theta``. The scores :math:`s_i = \nabla\ell_i`
    are its Jacobian (forward mode: :math:`p` passes over the data), and the
    bread is the inverse Hessian of :math:`\sum_i \ell_i`. Returns the
    :class:`~estimators.covariance.Sandwich` and, when the Hessian has no
    inverse, the reason (its bread is then NaN).

    Both derivatives are one compiled kernel per ``row_losses`` function (and
    dtype), reused for every parameter value and every data set of the same
    shapes (:func:`_sandwich_kernel`): run eagerly, autodiff compiles some 70
    small kernels for each new shape instead. Pass per-fit numbers (a scale, a
    tuning constant) in ``data`` rather than in a closure, so that one
    module-level ``row_losses`` serves every fit. A ``row_losses`` that cannot
    be traced (Python control flow on its data) is differentiated eagerly.
    """
    import jax
    import jax.numpy as jnp

    from .solve import x64_context

    key, kernel = _sandwich_kernel(row_losses, dtype)
    with x64_context(dtype):
        theta = jnp.asarray(params, dtype)
        arrays = [jnp.asarray(a, dtype) for a in data]
        if kernel is not None:
            try:
                scores, hessian = kernel(theta, *arrays)
            except _UNTRACEABLE:
                kernel = _SANDWICH_KERNELS[key] = None  # eager from now on
        if kernel is None:
            scores = jax.jacfwd(row_losses)(theta, *arrays)
            hessian = jax.hessian(lambda t: jnp.sum(row_losses(t, *arrays)))(theta)
        scores, hessian = np.asarray(scores, dtype=float), np.asarray(hessian, dtype=float)
    bread, reason = invert_hessian(hessian)
    return Sandwich(bread, scores, nobs, frequency_weights, leverage), reason


def _untraceable_errors() -> tuple[type[Exception], ...]:
    import jax

    errors = jax.errors
    return (
        errors.ConcretizationTypeError,
        errors.TracerArrayConversionError,
        errors.TracerIntegerConversionError,
    )


_UNTRACEABLE: tuple[type[Exception], ...] = ()

# Compiled sandwich kernels by (row_losses, dtype) (None: differentiated eagerly),
# most recently used last. Callers pass per-fit numbers (a scale, a tuning
# constant) as data, so one module-level row_losses serves every fit.
_SANDWICH_KERNELS: dict = {}
_SANDWICH_KERNELS_MAX = 64


def _sandwich_kernel(row_losses: Callable, dtype: str) -> tuple[tuple, Callable | None]:
    """The cache key and the jitted ``(theta, *data) -> (scores, hessian)`` of ``row_losses``."""
    import jax
    import jax.numpy as jnp

    global _UNTRACEABLE
    if not _UNTRACEABLE:
        _UNTRACEABLE = _untraceable_errors()
    key = (row_losses, dtype)
    if key in _SANDWICH_KERNELS:
        kernel = _SANDWICH_KERNELS.pop(key)
    else:

        @jax.jit
        def kernel(theta, *arrays):
            scores = jax.jacfwd(row_losses)(theta, *arrays)
            hessian = jax.hessian(lambda t: jnp.sum(row_losses(t, *arrays)))(theta)
            return scores, hessian

    _SANDWICH_KERNELS[key] = kernel
    while len(_SANDWICH_KERNELS) > _SANDWICH_KERNELS_MAX:
        _SANDWICH_KERNELS.pop(next(iter(_SANDWICH_KERNELS)))
    return key, kernel
