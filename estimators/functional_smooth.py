r"""Pure, differentiable fits of the one-sample estimators and of Huber regression.

The provider of :func:`estimators.functional.as_function` for :class:`Mean`,
:class:`Median`, :class:`Quantile`, :class:`Huber`, :class:`TukeyBiweight`,
:class:`MaximumLikelihood`, :class:`MEstimator` and :class:`HuberRegression`.
Each pure fit ``fn(arrays, weights, hyper) -> FitArrays`` computes what the
estimator's ``.fit`` computes, with JAX only (``jit``, ``vmap``), and its
``params`` are differentiable in the data, the weights and the
hyperparameters by the implicit function theorem
(:mod:`estimators.implicit`), never through the solver's iterations.

=====================  ===========  ==========================================================
estimator              hyper        solve; derivative
=====================  ===========  ==========================================================
Mean                   --           closed form (two-pass weighted mean); plain autodiff
Median, Quantile       q            exact order statistic (numpy's convention, midpoint
                                    of a tie); the conquer-smoothed pinball loss
Huber, TukeyBiweight   c            the estimator's rounds (MAD about the current point,
                                    damped Newton at that scale, secant on T(b) - b);
                                    root of the joint equation with the MAD scale
MaximumLikelihood,     --           damped Newton (the engine's own loop) on the
MEstimator                          unconstrained parameters; argmin of the mean loss
HuberRegression        c            IRLS then Newton, alternating with the MAD scale;
                                    root of the joint equation with the MAD scale
=====================  ===========  ==========================================================

The maths and the solves live beside each kind of model:
:mod:`estimators.functional_location` (Mean, Median, Quantile, and the
helpers the others share: the exact weighted order statistic, the MAD),
:mod:`estimators.functional_robust` (Huber, TukeyBiweight, HuberRegression:
the concomitant scale) and :mod:`estimators.functional_likelihood`
(MaximumLikelihood, MEstimator). This module is the provider: it checks the
settings and the ``cov_type``, and says which fits report t statistics.

Precision. The fits compute in the dtype of their inputs: call them under
``jax.enable_x64(True)`` for float64 (the estimators' default); under JAX's
default float32 the loops stop at float32 tolerances. Pure functions cannot
raise on traced data: a sample the estimator would refuse (outside a
family's support, a zero MAD) gives NaN and ``converged = False`` instead.
Zero-weight rows are ignored (padding), whatever their values.

HuberRegression takes the design as given, as
:mod:`estimators.functional_regression` does: with ``fit_intercept=True``
(the default) column 0 of ``X`` must be the column of ones (a lane where it is
not returns ``converged = False``); ``param_names(p)`` counts that column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import SettingsError
from .functional import PureFit
from .functional_likelihood import likelihood_fit
from .functional_location import mean_fit, quantile_fit
from .functional_robust import huber_regression_fit, robust_location_fit
from .likelihood import MaximumLikelihood, MEstimator
from .location import Mean, Median, Quantile
from .losses import huber, tukey_biweight
from .robust import HuberRegression
from .robust_location import Huber, TukeyBiweight

__all__ = ["SUPPORTED", "pure_fit"]

SUPPORTED = (
    "Mean",
    "Median",
    "Quantile",
    "Huber",
    "TukeyBiweight",
    "MaximumLikelihood",
    "MEstimator",
    "HuberRegression",
)


def _check_cov_type(estimator: Any, allowed: tuple[str, ...]) -> str:
    cov_type = getattr(estimator, "cov_type", "nonrobust")
    if cov_type not in allowed:
        raise SettingsError(
            f"as_function({type(estimator).__name__}) computes cov_type in {list(allowed)}, "
            f"not {cov_type!r} (it needs more than the arrays and the weights)"
        )
    return cov_type


def _df_resid(estimator: Any, default_t: bool) -> Callable[[int, int], int | None]:
    """t with n - p degrees of freedom where the estimator reports t (its ``use_t``, or t by
    default for Mean / Median / Quantile, whose fits set ``df_resid_ = n - 1``), else z."""
    use_t = default_t if estimator.use_t is None else bool(estimator.use_t)
    return (lambda n, p: n - p) if use_t else (lambda n, p: None)


# --------------------------------------------------------------------------- provider


def pure_fit(estimator: Any) -> PureFit | None:
    r"""The pure fit of ``estimator`` if this module provides it, else None.

    The estimator's settings are checked (SettingsError), and so is its
    ``cov_type``: the pure fits compute the covariances that need only the
    arrays and the weights (Mean, Huber, TukeyBiweight, MaximumLikelihood,
    MEstimator: ``"nonrobust"``, ``"HC0"``, ``"HC1"``; Median, Quantile:
    ``"kernel"``; HuberRegression: ``"nonrobust"``, Huber's H1).

    The derivative of the mean in the weight of one row is its influence
    function over n, :math:`(x_j - \bar x)/n`:

    >>> import jax, numpy as np
    >>> fit = pure_fit(Mean())
    >>> x = np.array([1.0, 2.0, 6.0])
    >>> with jax.enable_x64(True):
    ...     slopes = jax.grad(lambda w: fit(x, weights=w).params[0])(np.ones(3))
    >>> [round(float(s), 12) for s in slopes]
    [-0.666666666667, -0.333333333333, 1.0]
    """
    kind = type(estimator)
    if kind not in (Mean, Median, Quantile, Huber, TukeyBiweight, MaximumLikelihood,
                    MEstimator, HuberRegression):  # fmt: skip
        return None
    estimator._check_settings()
    if kind is Mean:
        cov_type = _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
        return PureFit(
            mean_fit(cov_type), ("x",), lambda p: ["mean"], {}, _df_resid(estimator, True)
        )
    if kind in (Median, Quantile):
        _check_cov_type(estimator, ("kernel",))
        q_fixed = 0.5 if kind is Median else None
        fn = quantile_fit(q_fixed)
        name = "median" if kind is Median else f"quantile_{estimator.q:g}"
        hyper = {} if kind is Median else {"q": float(estimator.q)}
        return PureFit(fn, ("x",), lambda p: [name], hyper, _df_resid(estimator, True))
    if kind in (Huber, TukeyBiweight):
        _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
        rho = huber if kind is Huber else tukey_biweight
        fn = robust_location_fit(estimator, rho)
        hyper = {"c": float(estimator.c)}
        return PureFit(fn, ("x",), lambda p: ["location"], hyper, _df_resid(estimator, False))
    if kind is HuberRegression:
        _check_cov_type(estimator, ("nonrobust",))
        intercept = bool(estimator.fit_intercept)

        def names(p: int) -> list[str]:
            return ["Intercept"] * intercept + [f"x{j}" for j in range(p - intercept)]

        return PureFit(
            huber_regression_fit(estimator), ("X", "y"), names,
            {"c": float(estimator.c)}, _df_resid(estimator, False),
        )  # fmt: skip
    _check_cov_type(estimator, ("nonrobust", "HC0", "HC1"))
    fn, labels = likelihood_fit(estimator)
    return PureFit(fn, ("x",), lambda p: list(labels), {}, _df_resid(estimator, False))
