r"""Covariance types: one small pure function each, over the fit's sandwich ingredients.

Every estimator here minimises a sum of per-observation losses,
:math:`L(\theta) = \sum_i \ell_i(\theta)` (weights included in
:math:`\ell_i`). Its estimating equations are :math:`\sum_i s_i(\hat\theta) = 0`
with the scores :math:`s_i = \nabla \ell_i`, and the M-estimation (sandwich)
covariance is

.. math::  \widehat{\mathrm{Cov}}(\hat\theta) = c\; A^{-1} B A^{-1},
           \qquad A = \nabla^2 L(\hat\theta), \qquad B = \text{a "meat"} .

A fit hands over :class:`Sandwich` (``bread`` :math:`= A^{-1}`, the scores,
and for least squares the leverages); the functions below differ only in the
meat :math:`B` and the finite-sample factor :math:`c`, which follow
statsmodels (and R's ``sandwich`` where they agree):

``nonrobust``
    The model's own covariance, computed by the estimator (for least squares
    :math:`s^2 (X^\top W X)^{-1}`, for likelihoods the inverse information,
    for robust regression Huber's H1).
``HC0`` / ``HC1``
    :math:`B = \sum_i s_i s_i^\top` (White); HC1 multiplies by
    :math:`n / (n - p)`. With frequency weights :math:`f_i` a row stands for
    :math:`f_i` identical observations, so :math:`B = \sum_i s_i s_i^\top / f_i`
    (statsmodels' ``freq_weights`` convention).
``HC2`` / ``HC3`` (least squares only)
    :math:`B = \sum_i s_i s_i^\top / (1 - h_i)` and
    :math:`\sum_i s_i s_i^\top / (1 - h_i)^2`, :math:`h_i` the leverage
    (MacKinnon and White, 1985).
``cluster`` (one-way)
    :math:`B = \sum_g S_g S_g^\top` with :math:`S_g = \sum_{i \in g} s_i`
    and :math:`c = \frac{G}{G-1}\,\frac{N-1}{N-p}` (Stata's and
    statsmodels' default correction; R's ``vcovCL(type="HC1")``).
``cluster`` (two-way, two label columns)
    :math:`V_1 + V_2 - V_{12}` (Cameron, Gelbach and Miller, 2011), each term
    a one-way cluster covariance with its own :math:`G` in the correction;
    :math:`V_{12}` clusters on the pairs of labels.
``HAC`` (Newey-West)
    :math:`B = \Gamma_0 + \sum_{j=1}^{L} \bigl(1 - \tfrac{j}{L+1}\bigr)
    (\Gamma_j + \Gamma_j^\top)`, :math:`\Gamma_j = \sum_i s_i s_{i-j}^\top`
    (Bartlett kernel, rows in the order given), no finite-sample factor
    (statsmodels' default). The default bandwidth is
    :math:`L = \lfloor 4 (n/100)^{2/9} \rfloor` (Newey and West, 1994).

Every type is computed as :math:`\sum_{i,k} c_{ik} z_i z_k^\top` with
:math:`z_i = A^{-1} s_i` (:func:`bread_applied`), never as :math:`A^{-1} B
A^{-1}` from a formed meat: the same in exact arithmetic, but the latter
cancels on ill-conditioned designs (Longley: 2.8e-8 against 1.5e-12 relative
in the HC0 standard errors, measured against exact rational arithmetic).
Least-squares fits report t statistics with the residual degrees of freedom
for every type, and :math:`G - 1` for cluster (see ``Estimator._df_inference``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "HAC")
LEAST_SQUARES_ONLY = ("HC2", "HC3")


class Sandwich:
    r"""What a fit hands to the covariance functions, in data units and parameter order.

    ``bread``: :math:`A^{-1}`, the inverse Hessian of the total loss
    :math:`\sum_i \ell_i` (:math:`p \times p`). ``scores``: the rows'
    gradients :math:`s_i = \nabla\ell_i` (:math:`n \times p`, weights
    included). ``frequency_weights``: the weights when they count repeated
    observations (None for least squares' precision weights). ``leverage``:
    :math:`h_i` (least squares only). ``nobs``: :math:`n` of the HC1 and
    cluster corrections.

    ``scores`` and ``leverage`` may also be given as functions of no argument
    that return them: they are then formed on first use and kept. A fit stores
    its sandwich whatever its ``cov_type`` (for :meth:`~Estimator.influence`),
    and forming the :math:`n \times p` scores of a 1e6 x 20 least-squares fit
    costs more than the fit itself, so a ``nonrobust`` fit should not pay for it.
    """

    __slots__ = ("bread", "nobs", "frequency_weights", "_scores", "_leverage")

    def __init__(
        self,
        bread: np.ndarray,
        scores: np.ndarray | Callable[[], np.ndarray],
        nobs: float,
        frequency_weights: np.ndarray | None = None,
        leverage: np.ndarray | Callable[[], np.ndarray] | None = None,
    ):
        self.bread = bread
        self.nobs = nobs
        self.frequency_weights = frequency_weights
        self._scores = scores
        self._leverage = leverage

    @property
    def scores(self) -> np.ndarray:
        if callable(self._scores):
            self._scores = self._scores()
        return self._scores

    @property
    def leverage(self) -> np.ndarray | None:
        if callable(self._leverage):
            self._leverage = self._leverage()
        return self._leverage

    @property
    def n_params(self) -> int:
        return self.bread.shape[0]

    def __repr__(self) -> str:
        return f"Sandwich(n_params={self.n_params}, nobs={self.nobs})"

    def with_bread_columns(self, keep: np.ndarray) -> Sandwich:
        """The sandwich of the free parameters only (``keep``: a boolean mask)."""
        leverage = self._leverage if not callable(self._leverage) else (lambda: self.leverage)
        return Sandwich(
            self.bread[np.ix_(keep, keep)],
            lambda: self.scores[:, keep],
            self.nobs,
            self.frequency_weights,
            leverage,
        )


def single_index_leverage(X: np.ndarray, curvature: np.ndarray, bread: np.ndarray) -> np.ndarray:
    r"""Leverages :math:`h_i = c_i\, x_i^\top A^{-1} x_i` of a single-index loss.

    For :math:`\ell_i(\beta) = w_i\,\ell(x_i^\top\beta)` (GLMs, least squares)
    the row Hessian is :math:`H_i = c_i x_i x_i^\top` with :math:`c_i = w_i
    \ell''(\eta_i)`, so :math:`(A - H_i)^{-1} s_i = A^{-1} s_i / (1 - h_i)`.
    ``bread`` is :math:`A^{-1}` over the columns of ``X``. For a GLM with the
    observed Hessian this is statsmodels' ``get_hat_matrix_diag(observed=True)``.
    Hand it to the fit's :class:`~estimators.covariance.Sandwich` as
    ``leverage``.
    """
    X = np.asarray(X, dtype=float)
    return np.asarray(curvature, dtype=float) * np.einsum("ij,jk,ik->i", X, bread, X)


def sandwich_cov(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    r""":math:`A^{-1} B A^{-1}` from a formed meat, symmetrised (rounding breaks symmetry).

    The functions below do not use it: they apply the bread to the scores
    first (:func:`bread_applied`), which is the same in exact arithmetic and
    much more accurate on ill-conditioned problems.
    """
    cov = bread @ meat @ bread.T
    return 0.5 * (cov + cov.T)


def bread_applied(sandwich: Sandwich, scores: np.ndarray) -> np.ndarray:
    r"""The :math:`p \times n` matrix :math:`A^{-1} S^\top`: its columns :math:`z_i = A^{-1} s_i`.

    Every covariance here is :math:`\sum_{i,k} c_{ik}\, z_i z_k^\top = A^{-1}
    (\sum c_{ik} s_i s_k^\top) A^{-\top}`. Forming the meat first and then
    :math:`A^{-1} B A^{-1}` cancels catastrophically when :math:`A` is
    ill-conditioned: on Longley (OLS, condition number about 4e4 after column
    scaling) that product loses 2.8e-8 relative in the HC0 standard errors
    even from the correctly rounded bread and scores, while :math:`\sum z_i
    z_i^\top` keeps 1.5e-12 (both against exact rational arithmetic; see
    tests/test_regression_inference.py). For least squares :math:`z_i` is
    :math:`-2 r_i` times the i-th column of the pseudo-inverse, which is how
    statsmodels forms it.

    The long dimension is kept last: OpenBLAS ran :math:`A^{-1} S^\top` about
    8x faster than :math:`S A^{-\top}` on a 1e6 x 20 score matrix.
    """
    return sandwich.bread @ scores.T


def _gram(zt: np.ndarray) -> np.ndarray:
    r""":math:`\sum_i z_i z_i^\top` from the :math:`p \times n` matrix of the :math:`z_i`."""
    cov = zt @ zt.T
    return 0.5 * (cov + cov.T)


def _per_observation_scores(sandwich: Sandwich) -> np.ndarray:
    """Scores of one observation: a row of frequency weight f_i is f_i of them."""
    if sandwich.frequency_weights is None:
        return sandwich.scores
    f = sandwich.frequency_weights
    return sandwich.scores / np.sqrt(np.where(f > 0, f, 1.0))[:, None]


def hc_cov(sandwich: Sandwich, kind: str) -> np.ndarray:
    """White's heteroskedasticity-consistent covariance HC0, HC1, HC2 or HC3."""
    if kind not in ("HC0", "HC1", "HC2", "HC3"):
        raise SettingsError(f"unknown HC type {kind!r}; valid values are HC0, HC1, HC2, HC3")
    s = _per_observation_scores(sandwich)
    if kind in LEAST_SQUARES_ONLY:
        leverage = sandwich.leverage
        if leverage is None:
            raise SettingsError(
                f"cov_type={kind!r} needs leverages and is defined for least squares only; "
                "use 'HC0' or 'HC1'"
            )
        power = 0.5 if kind == "HC2" else 1.0
        with np.errstate(divide="ignore"):
            s = s / (1.0 - leverage)[:, None] ** power
    cov = _gram(bread_applied(sandwich, s))
    if kind == "HC1":
        n, p = sandwich.nobs, sandwich.n_params
        cov = cov * (n / (n - p) if n > p else np.nan)
    return cov


def _group_sums(values: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Row sums by label code, one ``bincount`` a column (``np.add.at`` is 10x slower)."""
    return np.stack(
        [np.bincount(labels, weights=col, minlength=n_groups) for col in values.T], axis=1
    )


def cluster_cov(sandwich: Sandwich, labels: np.ndarray) -> tuple[np.ndarray, int]:
    r"""One-way cluster-robust covariance and the number of clusters :math:`G`.

    ``labels`` are integer codes ``0 .. G-1`` (see :func:`cluster_codes`), one a
    row of the scores.
    """
    rows = sandwich.scores.shape[0]
    if len(labels) != rows:  # checked here too: a caller may have validated another length
        raise DataError(f"groups has {len(labels)} labels but the data has {rows} rows")
    n_groups = int(labels.max()) + 1
    sums = _group_sums(sandwich.scores, labels, n_groups)
    n, p = sandwich.nobs, sandwich.n_params
    correction = n_groups / (n_groups - 1) * (n - 1) / (n - p) if n > p else np.nan
    return correction * _gram(bread_applied(sandwich, sums)), n_groups


def two_way_cluster_cov(sandwich: Sandwich, first: np.ndarray, second: np.ndarray):
    """Two-way cluster-robust covariance :math:`V_1 + V_2 - V_{12}` and ``min(G1, G2)``."""
    v1, g1 = cluster_cov(sandwich, first)
    v2, g2 = cluster_cov(sandwich, second)
    pairs = np.unique(np.stack([first, second], axis=1), axis=0, return_inverse=True)[1]
    v12, _ = cluster_cov(sandwich, pairs.ravel())
    return v1 + v2 - v12, min(g1, g2)


def default_maxlags(n: float) -> int:
    r"""Newey and West's (1994) rule of thumb :math:`\lfloor 4 (n/100)^{2/9} \rfloor`."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def hac_cov(sandwich: Sandwich, maxlags: int) -> np.ndarray:
    """Newey-West covariance with Bartlett weights over ``maxlags`` lags (rows in time order)."""
    zt = bread_applied(sandwich, _per_observation_scores(sandwich))
    cov = zt @ zt.T
    for lag in range(1, maxlags + 1):
        gamma = zt[:, lag:] @ zt[:, :-lag].T
        cov += (1.0 - lag / (maxlags + 1.0)) * (gamma + gamma.T)
    return 0.5 * (cov + cov.T)


def cluster_codes(groups: Any, n: int) -> list[np.ndarray]:
    """Cluster labels as integer codes: one array, or two for two-way clustering.

    ``groups`` is one label per row (array, list or Series) or two columns (a
    two-column DataFrame or array, or a pair of arrays). Missing labels, a
    length other than ``n`` and fewer than two clusters are a :class:`DataError`.
    """
    if isinstance(groups, pd.DataFrame):
        columns = [(str(c), groups[c]) for c in groups.columns]
    elif isinstance(groups, tuple | list) and groups and np.ndim(groups[0]) == 1:
        columns = [(f"groups[{k}]", g) for k, g in enumerate(groups)]
    elif np.ndim(groups) == 2:
        array = np.asarray(groups)
        columns = [(f"groups[:, {k}]", array[:, k]) for k in range(array.shape[1])]
    else:
        columns = [("groups", groups)]
    if len(columns) not in (1, 2):
        raise DataError(f"groups has {len(columns)} columns; cluster by one or two label columns")
    codes = []
    for name, column in columns:
        series = pd.Series(np.asarray(column) if not isinstance(column, pd.Series) else column)
        if len(series) != n:
            raise DataError(f"{name} has {len(series)} labels but the data has {n} rows")
        missing = int(series.isna().sum())
        if missing:
            raise DataError(
                f"{name} has {missing} missing cluster labels; every row needs a cluster"
            )
        code, uniques = pd.factorize(series)
        if len(uniques) < 2:
            raise DataError(
                f"{name} has {len(uniques)} distinct cluster label(s); "
                "cluster-robust standard errors need at least two clusters"
            )
        codes.append(np.asarray(code, dtype=np.int64))
    return codes


@dataclasses.dataclass(frozen=True)
class Covariance:
    r"""A covariance matrix, its type, and what the inference needs to know about it.

    ``n_groups``: :math:`G` of a cluster covariance (for two-way clustering
    :math:`\min(G_1, G_2)`); t statistics then use :math:`G - 1` degrees of
    freedom (statsmodels' ``df_resid_inference``; see ``Estimator._df_inference``).
    ``maxlags``: the HAC bandwidth used.
    """

    matrix: np.ndarray
    cov_type: str
    n_groups: int | None = None
    maxlags: int | None = None


def robust_cov(
    cov_type: str, sandwich: Sandwich, *, groups: list[np.ndarray] | None, maxlags: int | None
) -> Covariance:
    """Dispatch ``cov_type`` (anything but ``"nonrobust"``) to its function."""
    if cov_type in ("HC0", "HC1", "HC2", "HC3"):
        return Covariance(hc_cov(sandwich, cov_type), cov_type)
    if cov_type == "cluster":
        if groups is None:
            raise SettingsError("cov_type='cluster' needs cluster labels: pass groups= to fit")
        if len(groups) == 1:
            matrix, n_groups = cluster_cov(sandwich, groups[0])
        else:
            matrix, n_groups = two_way_cluster_cov(sandwich, *groups)
        return Covariance(matrix, cov_type, n_groups=n_groups)
    if cov_type == "HAC":
        lags = default_maxlags(sandwich.nobs) if maxlags is None else int(maxlags)
        return Covariance(hac_cov(sandwich, lags), cov_type, maxlags=lags)
    raise SettingsError(f"unknown cov_type {cov_type!r}; valid values are {list(COV_TYPES)}")
