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
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, SettingsError

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "HAC")
LEAST_SQUARES_ONLY = ("HC2", "HC3")


@dataclasses.dataclass(frozen=True)
class Sandwich:
    r"""What a fit hands to the covariance functions, in data units and parameter order.

    ``bread``: :math:`A^{-1}`, the inverse Hessian of the total loss
    :math:`\sum_i \ell_i` (:math:`p \times p`). ``scores``: the rows'
    gradients :math:`s_i = \nabla\ell_i` (:math:`n \times p`, weights
    included). ``frequency_weights``: the weights when they count repeated
    observations (None for least squares' precision weights). ``leverage``:
    :math:`h_i` (least squares only). ``nobs``: :math:`n` of the HC1 and
    cluster corrections.
    """

    bread: np.ndarray
    scores: np.ndarray
    nobs: float
    frequency_weights: np.ndarray | None = None
    leverage: np.ndarray | None = None

    @property
    def n_params(self) -> int:
        return self.bread.shape[0]

    def with_bread_columns(self, keep: np.ndarray) -> Sandwich:
        """The sandwich of the free parameters only (``keep``: a boolean mask)."""
        return dataclasses.replace(
            self, bread=self.bread[np.ix_(keep, keep)], scores=self.scores[:, keep]
        )


def sandwich_cov(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    r""":math:`A^{-1} B A^{-1}`, symmetrised (rounding makes the two triangles differ)."""
    cov = bread @ meat @ bread.T
    return 0.5 * (cov + cov.T)


def _per_observation_scores(sandwich: Sandwich) -> np.ndarray:
    """Scores of one observation: a row of frequency weight f_i is f_i of them."""
    if sandwich.frequency_weights is None:
        return sandwich.scores
    f = sandwich.frequency_weights
    return sandwich.scores / np.sqrt(np.where(f > 0, f, 1.0))[:, None]


def hc_cov(sandwich: Sandwich, kind: str) -> np.ndarray:
    """White's heteroskedasticity-consistent covariance HC0, HC1, HC2 or HC3."""
    s = _per_observation_scores(sandwich)
    if kind in LEAST_SQUARES_ONLY:
        if sandwich.leverage is None:
            raise SettingsError(
                f"cov_type={kind!r} needs leverages and is defined for least squares only; "
                "use 'HC0' or 'HC1'"
            )
        power = 0.5 if kind == "HC2" else 1.0
        with np.errstate(divide="ignore"):
            s = s / (1.0 - sandwich.leverage)[:, None] ** power
    cov = sandwich_cov(sandwich.bread, s.T @ s)
    if kind == "HC1":
        n, p = sandwich.nobs, sandwich.n_params
        cov = cov * (n / (n - p) if n > p else np.nan)
    return cov


def cluster_cov(sandwich: Sandwich, labels: np.ndarray) -> tuple[np.ndarray, int]:
    r"""One-way cluster-robust covariance and the number of clusters :math:`G`.

    ``labels`` are integer codes ``0 .. G-1`` (see :func:`cluster_codes`).
    """
    n_groups = int(labels.max()) + 1
    sums = np.zeros((n_groups, sandwich.n_params))
    np.add.at(sums, labels, sandwich.scores)
    n, p = sandwich.nobs, sandwich.n_params
    correction = n_groups / (n_groups - 1) * (n - 1) / (n - p) if n > p else np.nan
    return correction * sandwich_cov(sandwich.bread, sums.T @ sums), n_groups


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
    s = _per_observation_scores(sandwich)
    meat = s.T @ s
    for lag in range(1, maxlags + 1):
        gamma = s[lag:].T @ s[:-lag]
        meat += (1.0 - lag / (maxlags + 1.0)) * (gamma + gamma.T)
    return sandwich_cov(sandwich.bread, meat)


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
    """A covariance matrix and what its inference needs: the t degrees of freedom override.

    ``df_inference``: for cluster covariances of least-squares fits the t
    statistics use :math:`G - 1` degrees of freedom (statsmodels); None keeps
    the estimator's own.
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
