r"""Perfect separation in binomial and count GLMs: detection by a linear program.

Under (quasi-)complete separation (Albert and Anderson, 1984) some direction
:math:`b` of the coefficients moves fitted probabilities to exactly 0 or 1
(or count means to exactly 0) on some rows while fitting the others no worse:
the likelihood then increases for ever along :math:`b` and the maximum
likelihood estimate does not exist. Newton's method still stops, with large
finite coefficients that mean nothing.

Detection is in two stages. A cheap trigger: a fitted mean within
:data:`SEPARATION_TRIGGER` of its boundary, or a fit that did not converge.
Then the exact test, :func:`separating_direction`, a linear program (Konis,
2007), which decides. Finite MLEs rarely come that close to the boundary, so
the linear program rarely runs when it is not needed.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ConvergenceWarning, user_stacklevel
from .families import Family
from .frame import Design

SEPARATION_TRIGGER = 1e-8


class PerfectSeparationWarning(ConvergenceWarning):
    """The responses are (quasi-)perfectly separated: the MLE does not exist.

    Some combination of the columns predicts a set of observations exactly
    (probability 0 or 1, or a count mean of 0), so the likelihood keeps
    increasing as coefficients grow without bound. The fit stops with finite
    but meaningless coefficients, flagged ``converged_ = False``.
    """


def boundary_direction(family: Family, y: np.ndarray) -> np.ndarray:
    """Per row: +1 / -1 where eta may run to +inf / -inf and fit y better, else 0.

    >>> from estimators.families import FAMILIES
    >>> boundary_direction(FAMILIES["binomial"], np.array([0.0, 0.5, 1.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    if family.boundary == "both":
        return np.where(y == 1, 1.0, np.where(y == 0, -1.0, 0.0))
    if family.boundary == "zero":
        return np.where(y == 0, -1.0, 0.0)
    return np.zeros_like(y)


def _near_boundary(
    family: Family,
    y: np.ndarray,
    mu: np.ndarray,
    direction: np.ndarray,
    trigger: float = SEPARATION_TRIGGER,
):
    """Rows whose fitted mean is within ``trigger`` of the boundary they point to."""
    if family.boundary == "both":
        gap = np.where(direction > 0, 1 - mu, mu)
    else:
        gap = mu
    return (direction != 0) & (gap < trigger)


def mean_near_boundary(
    family: Family,
    y: np.ndarray,
    mu: np.ndarray,
    weights: np.ndarray,
    trigger: float = SEPARATION_TRIGGER,
) -> bool:
    """Whether a row with positive weight has its fitted mean near the boundary it points to.

    "Near": within ``trigger`` (default :data:`SEPARATION_TRIGGER`). The usual
    answer, no, comes from the smallest and largest mean (two reductions; every
    gap is then at least the trigger) without the per-row directions and gaps
    (several n-sized temporaries); otherwise the rows are examined one by one.

    >>> from estimators.families import FAMILIES
    >>> y, w = np.array([0.0, 1.0]), np.ones(2)
    >>> mean_near_boundary(FAMILIES["binomial"], y, np.array([0.3, 0.6]), w)
    False
    >>> mean_near_boundary(FAMILIES["binomial"], y, np.array([0.3, 1 - 1e-12]), w)
    True
    """
    if family.boundary is None or mu.size == 0:
        return False
    low, high = float(np.min(mu)), float(np.max(mu))
    # 2 x the trigger below 1: 1 - mu is then at least the trigger despite rounding.
    if low >= trigger and (family.boundary != "both" or high <= 1 - 2 * trigger):
        return False
    direction = boundary_direction(family, y)
    return bool(np.any(_near_boundary(family, y, mu, direction, trigger) & (weights > 0)))


def separating_direction(
    X: np.ndarray, direction: np.ndarray, weights: np.ndarray
) -> np.ndarray | None:
    r"""A direction :math:`b \ne 0` that separates the data, by linear programming, or None.

    Separation (Albert and Anderson, 1984; Konis, 2007) means some :math:`b`
    has :math:`d_i x_i^\top b \ge 0` for every row with a boundary direction
    :math:`d_i = \pm 1` (binomial: :math:`d_i = +1` for :math:`y_i = 1`,
    :math:`-1` for :math:`y_i = 0`; counts: :math:`-1` for :math:`y_i = 0`),
    :math:`x_i^\top b = 0` for the other rows, and strict inequality somewhere:
    moving along :math:`b` then improves the likelihood for ever. The linear
    program maximises :math:`\sum_i d_i x_i^\top b` over :math:`b \in [-1, 1]^p`
    (columns scaled to a largest absolute value of 1) under those constraints;
    its optimum is 0 exactly when there is no separation.

    >>> X = np.column_stack([np.ones(4), [-2.0, -1.0, 1.0, 2.0]])
    >>> d = np.array([-1.0, -1.0, 1.0, 1.0])  # y = 0, 0, 1, 1: separated at x = 0
    >>> margins = d * (X @ separating_direction(X, d, np.ones(4)))
    >>> bool(np.all(margins >= 0) and np.any(margins > 0))
    True
    >>> separating_direction(X, np.array([-1.0, 1.0, -1.0, 1.0]), np.ones(4)) is None
    True
    """
    used = weights > 0
    X, direction = X[used], direction[used]
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    free = direction != 0
    if not free.any():
        return None
    from scipy import optimize  # imported when needed: scipy's import is slow

    # d_i x_i b >= 0  <=>  -d_i x_i b <= 0
    signed = direction[free, None] * Xs[free]
    fixed = Xs[~free]
    result = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(signed)),
        A_eq=fixed if len(fixed) else None,
        b_eq=np.zeros(len(fixed)) if len(fixed) else None,
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
        # HiGHS' default feasibility tolerance (1e-7) is looser than the check below.
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if result.status != 0:
        return None
    b = result.x
    margins = signed @ b
    # Accept only a direction that really separates: every constraint met to rounding
    # level, and some row strictly on its side.
    tiny = 1e-8 * max(1.0, float(np.max(np.abs(margins))))
    if margins.max() <= 1e-6 or margins.min() < -tiny:
        return None
    if len(fixed) and np.max(np.abs(fixed @ b)) > tiny:
        return None
    return b / scale


def check_separation(family: Family, design: Design, mu: np.ndarray, converged: bool) -> bool:
    """Detect (quasi-)perfect separation; warn with :class:`PerfectSeparationWarning` if found.

    Runs the linear program only when a fitted mean is near its boundary or
    the fit did not converge. Called from ``GLM._fit_design`` (the warning's
    ``stacklevel`` points at the user's ``fit`` call).
    """
    if family.boundary is None:
        return False
    if converged and not mean_near_boundary(family, design.y, mu, design.weights):
        return False
    direction = boundary_direction(family, design.y)
    b = separating_direction(design.X, direction, design.weights)
    if b is None:
        return False
    margins = direction * (design.X @ b)
    rows = (margins > 1e-8 * np.max(np.abs(margins))) & (design.weights > 0)
    involved = [name for name, value in zip(design.names, b, strict=True) if value != 0]
    what = (
        "fitted probabilities of exactly 0 or 1"
        if family.boundary == "both"
        else "fitted means of exactly 0"
    )
    warnings.warn(
        f"perfect separation in {design.response}: a combination of the columns "
        f"{involved} predicts {int(rows.sum())} of {len(design.y)} rows exactly "
        f"({what} as the coefficients grow without bound), so the maximum likelihood "
        "estimate does not exist. The reported coefficients and standard errors are "
        "not meaningful (converged_ = False); drop or merge the separating columns, or "
        "use a penalised fit.",
        PerfectSeparationWarning,
        stacklevel=user_stacklevel(),
    )
    return True
