r"""Standard errors of sample and regression quantiles: sparsity, kernel and bootstrap.

A regression quantile :math:`\hat\beta(\tau)` is asymptotically normal with

.. math::  \mathrm{Cov}(\hat\beta) = \tau(1-\tau)\, H^{-1} J H^{-1}, \qquad
           J = \textstyle\sum_i w_i x_i x_i^\top, \qquad
           H = \textstyle\sum_i w_i f_i(0)\, x_i x_i^\top,

:math:`f_i` the density of the i-th error at its :math:`\tau`-quantile. The
loss is not differentiable, so the "Hessian" :math:`H` cannot come from
autodiff: each covariance type below estimates the densities (or side-steps
them) in its own way. Weights are frequency weights throughout (integer
weights give the result of repeated rows); :math:`n = \sum_i w_i`.

``"kernel"``
    statsmodels ``QuantReg`` ``vcov="robust"`` (``kernel="epa"``): one
    Epanechnikov density :math:`\hat f` of the residuals at 0, bandwidth
    :math:`\min(\mathrm{sd}(y), \mathrm{IQR}(e)/1.34)\,(\Phi^{-1}(\tau+h) -
    \Phi^{-1}(\tau-h))`, and
    :math:`(X^\top W X)^{-1} X^\top W D X (X^\top W X)^{-1}`,
    :math:`D_{ii} = (\tau/\hat f)^2` for :math:`e_i > 0`, else
    :math:`((1-\tau)/\hat f)^2` (:func:`kernel_cov`).
``"iid"``
    R quantreg ``summary.rq(se="iid")`` (Koenker and Bassett 1978): one
    sparsity :math:`s = 1/f` for all rows, :math:`s^2\tau(1-\tau)(X^\top W X)^{-1}`,
    with :math:`s` the slope of a median regression of the residuals nearest 0
    on their ranks (:func:`iid_sparsity`). statsmodels' ``vcov="iid"`` is a
    different estimator (its kernel density :math:`\hat f` in place of
    :math:`1/s`).
``"nid"``
    R quantreg ``summary.rq(se="nid")`` (Hendricks and Koenker 1992): refits
    at :math:`\tau \pm h` give :math:`f_i = 2h / x_i^\top(\hat\beta_{\tau+h} -
    \hat\beta_{\tau-h})`, set to 0 where that difference is not positive
    (counted and warned about), and the sandwich above (:func:`nid_cov`).
``"bootstrap"``
    Pairs (xy) bootstrap: ``n_bootstrap`` resamples of the rows drawn as
    multinomial counts (numpy ``default_rng(seed)``), refitted, and the sample
    covariance (``ddof=1``) of the estimates (:func:`bootstrap_cov`), as
    quantreg's ``boot.rq(bsmethod="xy")`` followed by ``cov(B)``.

Bandwidths :math:`h` on the probability scale (``cov_options={"bandwidth": ...}``),
:math:`x_0 = \Phi^{-1}(\tau)`, :math:`f_0 = \varphi(x_0)`, as R quantreg's
``bandwidth.rq``: ``"hall-sheather"`` (default; ``hs=TRUE``)
:math:`n^{-1/3} z_{1-\alpha/2}^{2/3} (1.5 f_0^2 / (2x_0^2+1))^{1/3}`,
``"bofinger"`` (``hs=FALSE``) :math:`n^{-1/5} (4.5 f_0^4/(2x_0^2+1)^2)^{1/5}`,
and, for ``"kernel"`` only, statsmodels' ``"chamberlain"``
:math:`z_{1-\alpha/2}\sqrt{\tau(1-\tau)/n}`; :math:`\alpha = 0.05`.
(statsmodels' own ``bofinger`` evaluates :math:`\varphi(2x_0)` in place of
:math:`\varphi(x_0)`; we follow quantreg and Koenker (2005, sec. 3.4.2).)

The R source transcribed is ``summary.rq`` and ``bandwidth.rq`` in
``R/quantreg.R`` of quantreg (github.com/cran/quantreg, commit 016906a9).
Where it works in absolute units we do not: it counts residuals below
:math:`\sqrt{\epsilon} \approx 1.5\cdot10^{-8}` (in units of y) as zero and
divides by :math:`x_i^\top\Delta\hat\beta - \sqrt\epsilon`; our exact fits
give exact zeros and we divide by :math:`x_i^\top\Delta\hat\beta`, which keeps
the standard errors equivariant under rescaling of y (a relative difference
of about :math:`10^{-8}/x_i^\top\Delta\hat\beta` from R).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
from scipy import special

from .errors import SettingsError
from .inference import covariance_in_data_units
from .numerics import normal_pdf, power_of_two_scale, weighted_percentile

QUANTILE_COV_TYPES = ("kernel", "iid", "nid", "bootstrap")
QUANTILE_COV_OPTIONS = ("bandwidth", "n_bootstrap", "seed")
BANDWIDTHS = ("hall-sheather", "bofinger", "chamberlain")
# quantreg's two bandwidths; statsmodels' Chamberlain rule is offered for "kernel" only.
SPARSITY_BANDWIDTHS = ("hall-sheather", "bofinger")
DEFAULT_N_BOOTSTRAP = 200

# --------------------------------------------------------------------------- bandwidths


def hall_sheather_bandwidth(n: float, q: float, alpha: float = 0.05) -> float:
    r"""Hall and Sheather's (1988) bandwidth, quantreg ``bandwidth.rq(q, n, hs=TRUE)``.

    .. math::  h = n^{-1/3} z_{1-\alpha/2}^{2/3}
               \left[\frac{1.5\,\varphi(x_0)^2}{2x_0^2 + 1}\right]^{1/3},
               \qquad x_0 = \Phi^{-1}(q)

    >>> round(hall_sheather_bandwidth(100, 0.5), 6)
    0.209316
    """
    x0 = special.ndtri(q)
    f0 = normal_pdf(x0)
    z = special.ndtri(1 - alpha / 2)
    return float(n ** (-1 / 3) * z ** (2 / 3) * (1.5 * f0**2 / (2 * x0**2 + 1)) ** (1 / 3))


def bofinger_bandwidth(n: float, q: float) -> float:
    r"""Bofinger's (1975) bandwidth, quantreg ``bandwidth.rq(q, n, hs=FALSE)``.

    .. math::  h = n^{-1/5}\left[\frac{4.5\,\varphi(x_0)^4}{(2x_0^2 + 1)^2}\right]^{1/5},
               \qquad x_0 = \Phi^{-1}(q)

    >>> round(bofinger_bandwidth(100, 0.5), 6)
    0.257852
    """
    x0 = special.ndtri(q)
    f0 = normal_pdf(x0)
    return float(n**-0.2 * (4.5 * f0**4 / (2 * x0**2 + 1) ** 2) ** 0.2)


def chamberlain_bandwidth(n: float, q: float, alpha: float = 0.05) -> float:
    r"""Chamberlain's (1994) bandwidth :math:`z_{1-\alpha/2}\sqrt{q(1-q)/n}` (statsmodels).

    >>> round(chamberlain_bandwidth(100, 0.5), 6)
    0.097998
    """
    return float(special.ndtri(1 - alpha / 2) * math.sqrt(q * (1 - q) / n))


_BANDWIDTH_FUNCTIONS = {
    "hall-sheather": hall_sheather_bandwidth,
    "bofinger": bofinger_bandwidth,
    "chamberlain": chamberlain_bandwidth,
}


def bandwidth(name: str, n: float, q: float) -> float:
    """The bandwidth ``name`` (one of :data:`BANDWIDTHS`) for ``n`` observations at level ``q``."""
    return _BANDWIDTH_FUNCTIONS[name](n, q)


# --------------------------------------------------------------------------- settings


def check_cov_options(cov_type: str, options: dict | None) -> None:
    """Validate the values of the quantile covariance options (unknown keys: the caller's job)."""
    options = options or {}
    name = options.get("bandwidth", "hall-sheather")
    allowed = BANDWIDTHS if cov_type == "kernel" else SPARSITY_BANDWIDTHS
    if cov_type in ("kernel", "iid", "nid") and name not in allowed:
        raise SettingsError(
            f"cov_options['bandwidth'] for cov_type={cov_type!r} must be one of "
            f"{list(allowed)}, got {name!r}"
        )
    n_bootstrap = options.get("n_bootstrap", DEFAULT_N_BOOTSTRAP)
    if not (
        isinstance(n_bootstrap, int | np.integer)
        and not isinstance(n_bootstrap, bool)
        and n_bootstrap >= 2
    ):
        raise SettingsError(
            f"cov_options['n_bootstrap'] must be an integer >= 2, got {n_bootstrap!r}"
        )
    seed = options.get("seed", 0)
    if not (isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0):
        raise SettingsError(f"cov_options['seed'] must be an integer >= 0, got {seed!r}")


# --------------------------------------------------------------------------- kernel

NO_SPREAD = "the interquartile range of the residuals is 0 (heavy ties): no density"
NO_DENSITY = "no residual lies within one bandwidth of 0: the density estimate is 0"


def kernel_level_bandwidth(name: str, n: float, q: float) -> tuple[float, str | None]:
    """The bandwidth :math:`h_q` of ``"kernel"`` on the probability scale, and why it is unusable.

    The reason is None unless :math:`q \\pm h_q` leaves (0, 1).
    """
    h_q = bandwidth(name, n, q)
    if 0 < q - h_q < q + h_q < 1:
        return h_q, None
    label = name.replace("-", " ").title().replace(" ", "-")
    return h_q, (
        f"the {label} bandwidth ({h_q:.3g}) leaves (0, 1) at q={q:g} with {n:g} "
        "observations: too few in the tail for a density estimate"
    )


def kernel_width(sd_y: float, q25: float, q75: float, q: float, h_q: float) -> float:
    r"""The kernel's bandwidth in data units (statsmodels QuantReg, ``vcov="robust"``).

    .. math::  h = \min(\mathrm{sd}(y), \mathrm{IQR}(e)/1.34)\,
               (\Phi^{-1}(q+h_q) - \Phi^{-1}(q-h_q))
    """
    return min(sd_y, (q75 - q25) / 1.34) * (special.ndtri(q + h_q) - special.ndtri(q - h_q))


def epanechnikov_sum(u: np.ndarray, weights: np.ndarray | None = None) -> float:
    r""":math:`\sum_i w_i K(u_i)`, :math:`K(u) = \frac34 (1 - u^2)` for :math:`|u| \le 1`, else 0.

    In the order of operations of :func:`kernel_cov` (same rounding).
    """
    if weights is None:
        return float(np.sum(0.75 * (1 - u**2) * (np.abs(u) <= 1)))
    return float(np.sum(weights * 0.75 * (1 - u**2) * (np.abs(u) <= 1)))


def kernel_cov(
    X: np.ndarray,
    y: np.ndarray,
    residual: np.ndarray,
    q: float,
    weights: np.ndarray,
    bandwidth_name: str = "hall-sheather",
) -> tuple[np.ndarray, str | None]:
    r"""statsmodels QuantReg's ``vcov="robust"`` with the Epanechnikov kernel.

    .. math::  \hat f = \frac{1}{nh}\sum_i w_i K(e_i/h), \qquad
               \widehat{\mathrm{Cov}} = (X^\top WX)^{-1} X^\top W D X (X^\top WX)^{-1},

    :math:`D_{ii} = (q/\hat f)^2` if :math:`e_i > 0`, else :math:`((1-q)/\hat f)^2`,
    :math:`K(u) = \frac34(1-u^2)_+`, :math:`h = \min(\mathrm{sd}(y),
    \mathrm{IQR}(e)/1.34)\,(\Phi^{-1}(q+h_q) - \Phi^{-1}(q-h_q))` (sd with
    ``ddof=0``, IQR by numpy's linear percentiles), :math:`h_q` the bandwidth
    ``bandwidth_name``. Returns ``(cov, None)``, or NaN and the reason.
    """
    p = X.shape[1]
    nan = np.full((p, p), np.nan)
    n = float(np.sum(weights))
    h_q, reason = kernel_level_bandwidth(bandwidth_name, n, q)
    if reason is not None:
        return nan, reason
    mean_y = np.sum(weights * y) / n
    sd_y = math.sqrt(np.sum(weights * (y - mean_y) ** 2) / n)
    q25, q75 = weighted_percentile(residual, np.array([25.0, 75.0]), weights)
    h = kernel_width(sd_y, q25, q75, q, h_q)
    if not h > 0:
        return nan, NO_SPREAD
    density = epanechnikov_sum(residual / h, weights) / (n * h)
    if not density > 0:
        return nan, NO_DENSITY
    d = np.where(residual > 0, (q / density) ** 2, ((1 - q) / density) ** 2)
    # Columns scaled by powers of two (exact), so that X'WX cannot overflow for columns
    # near 1e300; the covariance goes back to data units at the end.
    col = power_of_two_scale(X, axis=0)
    Xs = X / col
    xtx_inv = np.linalg.pinv((Xs * weights[:, None]).T @ Xs)
    cov = xtx_inv @ ((Xs * (weights * d)[:, None]).T @ Xs) @ xtx_inv
    return covariance_in_data_units(0.5 * (cov + cov.T), 1.0 / col)


# --------------------------------------------------------------------------- iid


def _lad_line(x: np.ndarray, y: np.ndarray) -> float:
    """Slope of the least-absolute-deviations line through (x, y) (an exact LP vertex).

    quantreg calls ``rq(ord.resid ~ xt)`` (Barrodale-Roberts simplex); we solve the
    same LP with HiGHS' dual simplex, on y divided by a power of two so that its
    absolute tolerances mean the same for data of any magnitude. Where the LP has
    several optimal vertices the two may return different ones.
    """
    scale = float(power_of_two_scale(y))
    m = x.size
    # variables: intercept, slope (free), then u+ and u- (>= 0): min sum(u+ + u-)
    cost = np.concatenate([[0.0, 0.0], np.ones(2 * m)])
    a_eq = np.hstack([np.ones((m, 1)), x[:, None], np.eye(m), -np.eye(m)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * m)
    from scipy import optimize  # lazily, as scipy.stats

    result = optimize.linprog(cost, A_eq=a_eq, b_eq=y / scale, bounds=bounds, method="highs-ds")
    return float(result.x[1]) * scale if result.status == 0 else math.nan


def iid_sparsity(
    residual: np.ndarray,
    weights: np.ndarray,
    q: float,
    p: int,
    bandwidth_name: str = "hall-sheather",
) -> tuple[float, str | None]:
    r"""The sparsity :math:`s = 1/f(F^{-1}(q))` of quantreg's ``summary.rq(se="iid")``.

    Transcribed from quantreg's ``summary.rq``::

        pz <- sum(abs(resid) < eps)
        h <- max(p + 1, ceiling(n * bandwidth.rq(tau, n, hs = hs)))
        ir <- (pz + 1):(h + pz + 1)
        ord.resid <- sort(resid[order(abs(resid))][ir])
        xt <- ir/(n - p)
        sparsity <- rq(ord.resid ~ xt)$coef[2]

    i.e. skip the :math:`p_z` zero residuals (exact zeros here), take the next
    :math:`h + 1` residuals in order of :math:`|e|`, sort them, and fit a median
    regression of them on their ranks over :math:`n - p`: its slope estimates
    :math:`dF^{-1}/dq`. With frequency weights, ranks are positions in the sample
    with row :math:`i` repeated :math:`w_i` times (so integer weights equal
    repeated rows). Returns ``(s, None)`` or NaN and the reason.
    """
    n = float(np.sum(weights))
    zeros = float(np.sum(weights[residual == 0]))
    h = max(p + 1, math.ceil(n * bandwidth(bandwidth_name, n, q)))
    if h + zeros + 1 > n:
        return math.nan, (
            f"the sparsity estimate needs {h + 1} non-zero residuals beyond the "
            f"{zeros:g} zero ones, but there are {n:g} observations"
        )
    ranks = np.arange(zeros + 1, h + zeros + 2)  # quantreg's ir, 1-based positions
    order = np.argsort(np.abs(residual), kind="stable")
    cumulative = np.cumsum(weights[order])
    # position k (1-based) of the expanded sample lies in the first row whose
    # cumulative weight exceeds k - 1
    rows = order[np.minimum(np.searchsorted(cumulative, ranks - 1, side="right"), order.size - 1)]
    sparsity = _lad_line(ranks / (n - p), np.sort(residual[rows]))
    if not (math.isfinite(sparsity) and sparsity > 0):
        return math.nan, (
            f"the sparsity estimate is {sparsity:.3g}: the residuals nearest 0 are tied"
        )
    return sparsity, None


def iid_cov(
    X: np.ndarray,
    residual: np.ndarray,
    q: float,
    weights: np.ndarray,
    bandwidth_name: str = "hall-sheather",
) -> tuple[np.ndarray, str | None]:
    r"""quantreg's ``se="iid"``: :math:`s^2 q(1-q) (X^\top W X)^{-1}` (:func:`iid_sparsity`)."""
    p = X.shape[1]
    sparsity, reason = iid_sparsity(residual, weights, q, p, bandwidth_name)
    if reason is not None:
        return np.full((p, p), np.nan), reason
    xtx_inv = np.linalg.inv((X * weights[:, None]).T @ X)
    return sparsity**2 * q * (1 - q) * 0.5 * (xtx_inv + xtx_inv.T), None


# --------------------------------------------------------------------------- nid


def nid_bandwidth(n: float, q: float, bandwidth_name: str = "hall-sheather") -> float:
    """quantreg's ``nid`` bandwidth: halved until ``q - h`` and ``q + h`` lie in [0, 1]."""
    h = bandwidth(bandwidth_name, n, q)
    while q - h < 0 or q + h > 1:
        h /= 2
    return h


def nid_cov(
    X: np.ndarray,
    q: float,
    weights: np.ndarray,
    refit: Callable[[float], np.ndarray],
    bandwidth_name: str = "hall-sheather",
) -> tuple[np.ndarray, int, str | None]:
    r"""quantreg's ``se="nid"`` (Hendricks-Koenker sandwich) from refits at :math:`q \pm h`.

    ``refit(level)`` returns the coefficients at another quantile level (same
    data and weights). With :math:`\Delta = \hat\beta_{q+h} - \hat\beta_{q-h}`,

    .. math::  f_i = \frac{2h}{x_i^\top\Delta} \ \text{where}\ x_i^\top\Delta > 0,
               \text{ else } 0, \qquad
               \widehat{\mathrm{Cov}} = q(1-q)\,H^{-1} (X^\top W X) H^{-1},
               \quad H = X^\top W F X.

    Returns ``(cov, number of rows with non-positive density, reason or None)``;
    the count is of rows (of positive weight), as quantreg's warning
    ``"k non-positive fis"``.
    """
    p = X.shape[1]
    h = nid_bandwidth(float(np.sum(weights)), q, bandwidth_name)
    difference = X @ (np.asarray(refit(q + h)) - np.asarray(refit(q - h)))
    positive = difference > 0
    n_nonpositive = int(np.count_nonzero(~positive))
    density = np.zeros_like(difference)
    density[positive] = 2 * h / difference[positive]
    hessian = (X * (weights * density)[:, None]).T @ X
    try:
        hessian_inv = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        hessian_inv = None
    if hessian_inv is None or not np.all(np.isfinite(hessian_inv)):
        return (
            np.full((p, p), np.nan),
            n_nonpositive,
            "the local densities of the 'nid' method leave X'FX singular "
            f"({n_nonpositive} rows have a non-positive density)",
        )
    cov = q * (1 - q) * hessian_inv @ ((X * weights[:, None]).T @ X) @ hessian_inv
    return 0.5 * (cov + cov.T), n_nonpositive, None


# --------------------------------------------------------------------------- bootstrap


def bootstrap_weights(weights: np.ndarray, n_bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    r"""The weights of each pairs-bootstrap resample: multinomial counts, one array a resample.

    Draws :math:`m` rows with probabilities :math:`w_i / \sum w` (numpy
    ``default_rng(seed).multinomial``): :math:`m = \sum_i w_i` when the
    weights are whole numbers (the bootstrap of the sample with row :math:`i`
    repeated :math:`w_i` times), else :math:`m` = the number of rows of
    positive weight, the counts then scaled by :math:`\sum w / m`.
    """
    rng = np.random.default_rng(seed)
    total = float(np.sum(weights))
    whole = bool(np.all(weights == np.round(weights)))
    m = int(round(total)) if whole else int(np.count_nonzero(weights > 0))
    factor = 1.0 if whole else total / m
    probabilities = weights / total
    for _ in range(n_bootstrap):
        yield rng.multinomial(m, probabilities).astype(float) * factor


def bootstrap_cov(
    refit: Callable[[np.ndarray], np.ndarray | None],
    weights: np.ndarray,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    seed: int = 0,
) -> tuple[np.ndarray, int, str | None]:
    r"""Pairs-bootstrap covariance: the sample covariance (``ddof=1``) of the refits.

    ``refit(w_b)`` returns the coefficients on the resample with weights
    ``w_b`` (:func:`bootstrap_weights`), or None where it cannot be fitted
    (e.g. a singular resampled design); those resamples are left out and
    counted. Returns ``(cov, number left out, reason or None)``.
    """
    estimates = []
    failed = 0
    for resample in bootstrap_weights(weights, n_bootstrap, seed):
        beta = refit(resample)
        if beta is None:
            failed += 1
        else:
            estimates.append(np.atleast_1d(np.asarray(beta, dtype=float)))
    if len(estimates) < 2:
        p = 1 if not estimates else estimates[0].size
        return (
            np.full((p, p), np.nan),
            failed,
            (f"only {len(estimates)} of {n_bootstrap} bootstrap resamples could be fitted"),
        )
    cov = np.atleast_2d(np.cov(np.array(estimates), rowvar=False, ddof=1))
    return cov, failed, None
