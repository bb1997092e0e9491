r"""Influence functions and DFBETA of any smooth M-estimator, from its sandwich ingredients.

An estimator minimises a total loss :math:`L(\theta) = \sum_i \ell_i(\theta)`
(weights included in :math:`\ell_i`). After a fit it holds a
:class:`~estimators.covariance.Sandwich`: the bread :math:`A^{-1}`, the inverse
Hessian of :math:`L` at :math:`\hat\theta`, and the rows' scores
:math:`s_i = \nabla\ell_i(\hat\theta)`, both by autodiff of the same loss. Two
per-row diagnostics follow without refitting.

Influence function
    The empirical influence function of one observation,

    .. math::  \mathrm{IF}_i = -\,n\,A^{-1}\,\frac{s_i}{f_i},

    with :math:`n` the number of observations (``Sandwich.nobs``) and
    :math:`f_i` the frequency weight of row :math:`i` (the number of
    observations the row stands for; :math:`f_i = 1` without frequency
    weights, and for least squares, whose weights are precision weights
    already inside :math:`s_i`). It is the derivative of the estimate when
    the empirical distribution moves towards the observation,
    :math:`\mathrm{IF}_i = \lim_{\varepsilon\to 0} \{\hat\theta((1-\varepsilon)
    \hat F + \varepsilon\delta_i) - \hat\theta(\hat F)\}/\varepsilon
    = n\,\partial\hat\theta/\partial f_i`, and the first-order expansion
    :math:`\hat\theta - \theta \approx \frac1n \sum_{\text{obs}} \mathrm{IF}`
    gives the sandwich:

    .. math::  \mathrm{HC0} = A^{-1}\Bigl(\sum_i \frac{s_i s_i^\top}{f_i}\Bigr)A^{-1}
               = \frac{1}{n^2} \sum_i f_i\,\mathrm{IF}_i\,\mathrm{IF}_i^\top .

    A row of weight 0 stands for no observation and is reported with
    influence 0 (its score is 0: the fit does not depend on it).

DFBETA
    The change :math:`\hat\theta - \hat\theta_{(-i)}` from deleting row
    :math:`i` (all of it: a row of frequency weight :math:`f_i` is deleted
    with its :math:`f_i` observations). One Newton step from
    :math:`\hat\theta` on the loss without the row, :math:`L - \ell_i`, whose
    gradient there is :math:`-s_i`:

    .. math::  \hat\theta - \hat\theta_{(-i)} \approx -\,(A - H_i)^{-1} s_i
               = -\,\frac{A^{-1} s_i}{1 - h_i},

    the second form where the row's Hessian :math:`H_i` is a rank-one
    :math:`c_i s_i s_i^\top` (Sherman-Morrison), with the leverage
    :math:`h_i = c_i\,s_i^\top A^{-1} s_i`. That is the case for least squares
    (:math:`h_i = w_i x_i^\top (X^\top W X)^{-1} x_i`), where the formula is
    *exact* (Belsley, Kuh and Welsch, 1980, eq. 2.1; statsmodels'
    ``OLSInfluence.dfbeta`` gets the same numbers from a leave-one-out loop),
    and for single-index models such as GLMs (:math:`\ell_i = \ell(x_i^\top
    \beta)`, :math:`h_i = w_i \ell''(\eta_i)\, x_i^\top A^{-1} x_i`, see
    :func:`single_index_leverage`), where it is statsmodels'
    ``GLMInfluence.d_params`` (``res.get_influence().d_params``;
    ``statsmodels/stats/outliers_influence.py``: "one Newton step using the
    full Hessian corrected by division by (1 - hii)"). The leverages come in
    ``Sandwich.leverage``; a sandwich without them gets the plain one-step
    :math:`-A^{-1} s_i` (``h_i = 0``), whose error against a leave-one-out
    refit is :math:`O(h_i)` relative, :math:`O(1/n^2)` absolute.

    Rows with :math:`h_i = 1` (to rounding) determine some parameter alone:
    without them the parameters are not identified, and their DFBETA is NaN
    with an :class:`~estimators.errors.InferenceWarning`.

Both need a smooth loss with an invertible Hessian. Estimators of
non-differentiable losses (:class:`~estimators.Median`,
:class:`~estimators.Quantile`, :class:`~estimators.QuantileRegression`,
:class:`~estimators.MAD`), fits whose Hessian is singular, and estimators that
hand no sandwich to their fit raise :class:`~estimators.errors.EstimationError`.

Example
-------
>>> import numpy as np
>>> from estimators.regression import LinearRegression
>>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
>>> fit = LinearRegression().fit(X, [1.0, 3.0, 2.0, 5.0, 4.0])
>>> (dfbeta(fit)["x0"].round(4) + 0.0).tolist()  # slope 0.8; without row 0 it is 0.6
[0.2, -0.1143, 0.0, 0.1714, -0.3]
>>> (influence_functions(fit)["x0"].round(4) + 0.0).tolist()  # (x - 2) (y - yhat) / 2
[0.4, -0.4, 0.0, 0.6, -0.6]
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .covariance import Sandwich
from .errors import EstimationError, InferenceWarning, user_stacklevel

if TYPE_CHECKING:
    from .base import Estimator

__all__ = ["dfbeta", "dfbeta_matrix", "influence_functions", "influence_matrix"]

# 1 - h_i at or below this is a leverage of 1 to rounding: h_i is a sum of p
# products each accurate to a few ulps times the condition of the design.
LEVERAGE_ONE_GAP = 1e-10


def influence_matrix(sandwich: Sandwich) -> np.ndarray:
    r"""The influence functions :math:`-n A^{-1} s_i / f_i`, an :math:`n \times p` array.

    Rows of frequency weight 0 get 0. See the module docstring for the maths.
    """
    _check_bread(sandwich)
    step = sandwich.scores @ sandwich.bread.T  # A^{-1} s_i, a row each
    if sandwich.frequency_weights is not None:
        f = np.asarray(sandwich.frequency_weights, dtype=float)
        step = step / np.where(f > 0, f, 1.0)[:, None]
    return -float(sandwich.nobs) * step


def dfbeta_matrix(sandwich: Sandwich) -> np.ndarray:
    r""":math:`\hat\theta - \hat\theta_{(-i)} \approx -A^{-1} s_i / (1 - h_i)`, :math:`n \times p`.

    Exact for least squares; :math:`h_i = 0` when ``sandwich.leverage`` is
    None. Rows with leverage 1 get NaN (and an
    :class:`~estimators.errors.InferenceWarning`).
    """
    _check_bread(sandwich)
    change = -(sandwich.scores @ sandwich.bread.T)
    if sandwich.leverage is None:
        return change
    gap = 1.0 - np.asarray(sandwich.leverage, dtype=float)
    alone = gap <= LEVERAGE_ONE_GAP
    if np.any(alone):
        warnings.warn(
            f"{int(alone.sum())} row(s) have leverage 1 (rows {np.flatnonzero(alone)[:5].tolist()}"
            f"{', ...' if alone.sum() > 5 else ''} by position): without them the parameters "
            "are not identified, so their DFBETA is NaN",
            InferenceWarning,
            stacklevel=user_stacklevel(),
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(alone[:, None], np.nan, change / gap[:, None])


def influence_functions(estimator: Estimator) -> pd.DataFrame:
    r"""Per-observation influence functions of a fitted estimator, a row per data row.

    :math:`\mathrm{IF}_i = -n A^{-1} s_i / f_i` (module docstring): the
    rows are the fit's rows (``missing="drop"`` leaves out the dropped ones),
    the columns its free parameters (those held ``fixed`` have none), in data
    units. :math:`\frac{1}{n^2}\sum_i f_i\,\mathrm{IF}_i\mathrm{IF}_i^\top` is
    the HC0 covariance, and :math:`\hat\theta + \mathrm{IF}_i/n` the
    first-order estimate with one more copy of observation :math:`i`.
    """
    sandwich, names, index = _fitted_sandwich(estimator, "influence functions")
    return pd.DataFrame(influence_matrix(sandwich), index=index, columns=names)


def dfbeta(estimator: Estimator) -> pd.DataFrame:
    r"""DFBETA of a fitted estimator: :math:`\hat\theta - \hat\theta_{(-i)}`, a row per data row.

    Exact for least squares, one Newton step with the leverage correction
    :math:`1/(1 - h_i)` where the fit supplies leverages (statsmodels'
    ``GLMInfluence.d_params``), else the one-step :math:`-A^{-1} s_i`; see the
    module docstring. Rows and columns as :func:`influence_functions`.
    """
    sandwich, names, index = _fitted_sandwich(estimator, "DFBETA")
    return pd.DataFrame(dfbeta_matrix(sandwich), index=index, columns=names)


# --------------------------------------------------------------------------- checks


def _check_bread(sandwich: Sandwich) -> None:
    if not np.all(np.isfinite(sandwich.bread)):
        raise EstimationError(
            "influence functions need the inverse Hessian of the loss, and it is not "
            "finite at this estimate (a singular or indefinite Hessian)"
        )


def _fitted_sandwich(estimator: Estimator, what: str) -> tuple[Sandwich, pd.Index, pd.Index]:
    """The fit's sandwich over its free parameters, their names and the rows' index."""
    name = type(estimator).__name__
    loss = type(estimator)._non_smooth_loss
    if loss is not None:
        raise EstimationError(
            f"{what} need a smooth loss: {name} minimises {loss}, which is not "
            "differentiable at the estimate (its Hessian is 0 almost everywhere), so "
            "-A^-1 s_i is undefined; refit without the rows, or bootstrap, to see how "
            "observations move the estimate"
        )
    sandwich = getattr(estimator, "_sandwich", None)
    if sandwich is None:
        raise EstimationError(
            f"{what} need the scores and Hessian of a smooth loss, and this {name} fit "
            "provides none (no sandwich ingredients)"
        )
    note = getattr(estimator, "cov_note_", None)
    if note is not None or not np.all(np.isfinite(sandwich.bread)):
        raise EstimationError(
            f"{what} need the inverse Hessian of the loss, and this {name} fit has "
            f"none: {note or 'the Hessian is singular or not finite at the estimate'}"
        )
    free = getattr(estimator, "_sandwich_free", None)
    names = estimator.params_.index
    if free is not None:
        names = names[np.asarray(free, dtype=bool)]
    n_rows = sandwich.scores.shape[0]
    index = getattr(estimator, "_row_index", None)
    if index is None:
        index = pd.RangeIndex(n_rows)
    if len(names) != sandwich.n_params or len(index) != n_rows:
        raise EstimationError(
            f"{name}: the sandwich covers {sandwich.n_params} parameters and {n_rows} "
            f"rows, but the fit reports {len(names)} free parameters and {len(index)} "
            "rows; the influence functions cannot be labelled (a bug: please report it)"
        )
    return sandwich, names, index
