r"""Inference for a fitted GLM: the covariance of the estimates and the fit statistics.

Both follow statsmodels 0.15 (``GLM`` and ``discrete_model.NegativeBinomial``):
the model-based covariance is :math:`\hat\phi` times the inverse of the
information (the Hessian of the total negative log-likelihood, observed or
expected); the robust ones (HC0, HC1, cluster, HAC; :mod:`estimators.covariance`)
come from :func:`glm_sandwich`; ``llf_``, ``llnull_``, ``pseudo_rsquared_``,
``deviance_``, ``pearson_chi2_``, ``scale_``, ``aic_`` and ``bic_`` use
statsmodels' definitions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .covariance import Sandwich, single_index_leverage
from .errors import DataError
from .families import Family, Link
from .frame import Design, collinear_columns


def goodness_of_fit(
    family: Family,
    link: Link,
    y: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    alpha: float | None,
    n_params: int,
    cache: dict | None = None,
) -> dict[str, float]:
    r"""``llf_``, ``deviance_``, ``pearson_chi2_``, ``scale_``, ``aic_``, ``bic_`` as statsmodels.

    - deviance :math:`D = \sum_i w_i d_i`; Pearson :math:`\chi^2 = \sum_i w_i
      (y_i - \mu_i)^2 / V(\mu_i)`;
    - scale :math:`\hat\phi = \chi^2 / (n - p)` (gaussian, gamma) or 1;
    - llf at :math:`\hat\phi`, except the gaussian identity model, whose llf is
      the concentrated one, at the ML variance :math:`\sum_i w_i (y_i-\mu_i)^2/n`;
    - aic :math:`= -2\,\text{llf} + 2k`, bic :math:`= -2\,\text{llf} + k\log n`
      (statsmodels' ``bic_llf``), :math:`k` = ``n_params`` (the dispersion is
      not counted), :math:`n = \sum_i w_i`.

    ``cache``: a dict shared by the statistics of one fit (:func:`poisson_terms`).

    >>> from estimators.families import FAMILIES, LINKS
    >>> y, mu = np.array([0.0, 2.0]), np.array([1.0, 1.0])
    >>> stats = goodness_of_fit(FAMILIES["poisson"], LINKS["log"], y, np.ones(2), mu, None, 1)
    >>> # Pearson 1 + 1; deviance 2 (0 - (0 - 1)) + 2 (2 log 2 - (2 - 1))
    >>> round(stats["pearson_chi2_"], 12), round(stats["deviance_"], 6)
    (2.0, 2.772589)
    """
    nobs = float(np.sum(w))
    binary = is_binary(family, y)
    with np.errstate(divide="ignore", invalid="ignore"):  # mu at 0 or 1 under separation
        pearson = float(np.sum(w * (y - mu) ** 2 / family.variance(mu, alpha)))
        log_prob = _binary_log_prob(y, mu) if binary else None
        poisson = family.name == "poisson"
        if binary:  # = deviance_obs (-2 log f) to the last bit
            deviance = float(np.sum(w * (-2.0 * log_prob)))
        elif poisson:  # deviance_obs and loglike_obs to the last bit, sharing their terms
            xlogy_y_mu, xlogy_y_y, log_factorial = poisson_terms(y, mu, cache)
            deviance = float(np.sum(w * (2 * (xlogy_y_y - xlogy_y_mu - (y - mu)))))
        else:
            deviance = float(np.sum(w * family.deviance_obs(y, mu, alpha)))
        scale = 1.0
        if family.estimates_scale:  # n_params = p here: no alpha
            scale = pearson / (nobs - n_params) if nobs > n_params else np.nan
        scale_llf = scale
        if family.name == "gaussian" and link.name == "identity":
            scale_llf = float(np.sum(w * (y - mu) ** 2) / nobs)
        if binary:
            llf = float(np.sum(w * log_prob))
        elif poisson:
            llf = float(np.sum(w * (xlogy_y_mu - mu - log_factorial)))
        else:
            llf = float(np.sum(w * family.loglike_obs(y, mu, scale_llf, alpha)))
    return {
        "llf_": llf,
        "deviance_": deviance,
        "pearson_chi2_": pearson,
        "scale_": float(scale),
        "aic_": -2 * llf + 2 * n_params,
        "bic_": -2 * llf + n_params * np.log(nobs),
    }


def poisson_terms(
    y: np.ndarray, mu: np.ndarray | float, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r""":math:`\operatorname{xlogy}(y, \mu)`, :math:`\operatorname{xlogy}(y, y)` and
    :math:`\log\Gamma(y + 1)` per row: the terms of the Poisson log-likelihood,
    deviance and saturated loss.

    The last two depend on ``y`` only and are kept in ``cache`` (a dict that the
    statistics of one fit share): each is a slow special function over every row,
    needed by two statistics (the saturated loss and the deviance; ``llf`` and
    ``llnull``). The values are those of :mod:`estimators.families`' formulas.

    >>> xy_mu, xy_y, lf = poisson_terms(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
    >>> xy_mu.tolist(), xy_y.round(6).tolist(), lf.round(6).tolist()
    ([0.0, 0.0], [0.0, 1.386294], [0.0, 0.693147])
    """
    from scipy import special

    return (special.xlogy(y, mu), *poisson_response_terms(y, cache))


def poisson_response_terms(y: np.ndarray, cache: dict | None = None) -> tuple[np.ndarray, ...]:
    r""":math:`\operatorname{xlogy}(y, y)` and :math:`\log\Gamma(y + 1)` per row.

    Kept in ``cache`` under ``"xlogy(y, y)"`` and ``"gammaln(y + 1)"``.
    """
    from scipy import special

    cache = {} if cache is None else cache
    if "xlogy(y, y)" not in cache:
        cache["xlogy(y, y)"] = _by_count(y, lambda v: special.xlogy(v, v))
    if "gammaln(y + 1)" not in cache:
        cache["gammaln(y + 1)"] = _by_count(y, lambda v: special.gammaln(v + 1.0))
    return cache["xlogy(y, y)"], cache["gammaln(y + 1)"]


# Counts up to this are looked up in a table of f(0), f(1), ... rather than computed per row.
COUNT_TABLE_MAX = 1 << 16


def _by_count(y: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``f(y)`` per row; for counts (whole numbers in [0, 65536)) by a table of ``f``.

    A special function over every row costs tens of ns a value; a count takes
    few values, so ``f`` of each value once and a gather give the same numbers
    (``f`` of the same float64 input) several times faster.

    >>> _by_count(np.array([2.0, 0.0, 2.0]), np.sqrt).round(6).tolist()
    [1.414214, 0.0, 1.414214]
    """
    if y.size == 0 or not (np.min(y) >= 0 and np.max(y) < COUNT_TABLE_MAX):
        return f(y)
    whole = y.astype(np.intp)
    if not np.array_equal(whole, y):
        return f(y)
    return f(np.arange(int(whole.max()) + 1, dtype=np.float64))[whole]


# Relative residuals below this are rounding: eta = x'b carries a relative error of
# a few eps times |eta| (up to about 700 for a log link before exp overflows), so an
# exact fit leaves |y - mu| / y below 700 eps = 1.6e-13 (measured: 2.2e-14 at y = 1e200,
# 2e-16 to 5e-16 at y in [1e-5, 123]); real positive data vary far more.
EXACT_FIT = 2.0**-40  # 9.1e-13


def check_dispersion(family: Family, design: Design, mu: np.ndarray) -> None:
    r"""A :class:`DataError` when the gamma dispersion estimate is 0: ``y`` fitted exactly.

    The gamma family's dispersion :math:`\hat\phi = \sum_i w_i ((y_i -
    \mu_i)/\mu_i)^2 / (n - p)` is 0 when every :math:`\mu_i = y_i` (a
    constant ``y`` with an intercept, or a ``y`` that is exactly :math:`g^{-1}`
    of a linear predictor): the log-likelihood (which has :math:`1/\hat\phi`
    in it) is infinite and the standard errors are 0, so nothing is estimated
    with an uncertainty. Rows count as fitted exactly when :math:`|y_i -
    \mu_i| \le 2^{-40} y_i` (:data:`EXACT_FIT`: rounding, not data).
    """
    if family.name != "gamma":
        return
    used = design.weights > 0
    y, mu = design.y[used], np.asarray(mu)[used]
    with np.errstate(invalid="ignore"):
        relative = np.abs(y - mu) / y
    if y.size == 0 or not np.all(relative <= EXACT_FIT):
        return
    n, total = int(used.sum()), len(design.y)
    rows = f"all {n} rows" if n == total else f"all {n} rows with a positive weight"
    constant = bool(np.all(y == y[0]))
    what = f"every {design.response} is {y[0]:g}; " if constant else ""
    raise DataError(
        f"{design.response} is fitted exactly on {rows} ({what}the largest relative "
        f"residual is {float(np.max(relative)):.1e}): the gamma dispersion estimate is 0, "
        "so the log-likelihood is infinite and there are no standard errors; a gamma "
        "model needs responses that vary about their means"
    )


def inverse_information(
    information: np.ndarray, design: Design, separated: bool
) -> tuple[np.ndarray, str | None]:
    r"""The inverse of the information in :math:`(\beta, \log\alpha)`, or NaN and the reason.

    Inverted after scaling to unit diagonal (equilibration), so that columns in
    very different units do not look singular. A singular information is a
    :class:`~estimators.errors.DataError` naming the collinear columns when
    there are some (the model is not identified); otherwise NaN with the
    reason (under separation the reason is the separation, which has its own
    warning).
    """
    k = information.shape[0]
    diag = np.diag(information)
    nan = np.full((k, k), np.nan)
    if separated:
        reason = (
            "the responses are perfectly separated (the maximum likelihood estimate does "
            "not exist)"
        )
    else:
        reason = (
            "the information matrix (the Hessian of the negative log-likelihood) is "
            "singular at the estimate"
        )
    if not np.all(np.isfinite(information)) or np.any(diag <= 0):
        return _singular(design, separated, nan, reason)
    d = 1 / np.sqrt(diag)
    unit = d[:, None] * information * d[None, :]
    eigenvalues = np.linalg.eigvalsh(unit)
    if eigenvalues[0] <= 1e3 * np.finfo(float).eps * eigenvalues[-1]:
        return _singular(design, separated, nan, reason)
    inverse = d[:, None] * np.linalg.inv(unit) * d[None, :]
    return (inverse + inverse.T) / 2, None


def _singular(design: Design, separated: bool, nan: np.ndarray, reason: str):
    if not separated:
        dependent = collinear_columns(design.X, list(design.names))
        if dependent:
            raise DataError(
                f"the design is singular: column(s) {dependent} are (numerically) linear "
                "combinations of the others; drop them"
            )
    return nan, reason


def alpha_jacobian(k: int, n_mean: int, alpha: float | None) -> np.ndarray:
    r"""Diagonal of :math:`J = \partial(\beta, \alpha) / \partial(\beta, \log\alpha)`.

    Ones, and :math:`\alpha` for the last parameter when alpha is estimated
    (:math:`k > ` ``n_mean``): a covariance in :math:`\log\alpha` maps to one
    in :math:`\alpha` as :math:`J V J` (the delta method; for the inverse
    Hessian it is exact at a stationary point).
    """
    jac = np.ones(k)
    if k > n_mean:
        jac[-1] = alpha
    return jac


def covariance(inverse: np.ndarray, scale: float, jac: np.ndarray) -> np.ndarray:
    r"""The model-based covariance :math:`\hat\phi\,J I^{-1} J` of the reported parameters."""
    return scale * jac[:, None] * inverse * jac[None, :]


def glm_sandwich(
    X: np.ndarray,
    w: np.ndarray,
    slopes: np.ndarray | Callable[[], np.ndarray],
    inverse_observed: np.ndarray,
    jac: np.ndarray,
    curvature: Callable[[], np.ndarray] | None = None,
) -> Sandwich:
    r"""The sandwich ingredients of a GLM, in data units and the order of ``params_``.

    The total loss is :math:`L = \sum_i w_i \ell_i` with :math:`\ell_i` the
    per-row negative log-likelihood at unit dispersion (``slopes``: its
    derivatives :math:`\partial\ell_i/\partial\eta_i`, and
    :math:`\partial\ell_i/\partial\log\alpha` as a second column when alpha is
    estimated). The scores are

    .. math::  s_i = w_i\,\ell'(\eta_i)\,x_i \quad(\text{and } w_i\,
               \partial\ell_i/\partial\alpha = w_i\,\partial\ell_i/\partial\log\alpha
               \,/\,\alpha),

    and the bread is :math:`J H^{-1} J` with :math:`H` the observed Hessian of
    :math:`L` in :math:`(\beta, \log\alpha)`: statsmodels' GLM robust
    covariances use the observed Hessian (``GLM.hessian(observed=True)``) and
    ``score_obs``, whatever the ``information`` of the model-based covariance.
    Both scale with :math:`1/\phi`, so the sandwich does not depend on the
    dispersion. The weights are frequency weights. ``slopes`` may be a
    function giving them, called only when the scores are asked for (a
    robust covariance, influence): a model-based fit then needs no pass for
    them.

    ``curvature`` (a function, called only when leverages are asked for, by
    :meth:`~estimators.Estimator.dfbeta`) gives :math:`\ell''(\eta_i)`; the
    leverages :math:`h_i = w_i \ell''(\eta_i)\, x_i^\top A^{-1} x_i` are
    statsmodels' ``get_hat_matrix_diag(observed=True)``. Pass None when alpha
    is estimated: a row's Hessian is then not of rank one, and there is no
    exact single-index leverage.
    """

    def scores() -> np.ndarray:  # n x k: formed only when a covariance asks for it
        rows = np.asarray(slopes() if callable(slopes) else slopes).reshape(len(w), -1)
        beta = (w * rows[:, 0])[:, None] * X
        if rows.shape[1] == 1:
            return beta
        return np.column_stack([beta, w * rows[:, 1] / jac[-1]])

    bread = jac[:, None] * inverse_observed * jac[None, :]
    leverage = None
    if curvature is not None:
        p = X.shape[1]

        def leverage() -> np.ndarray:
            return single_index_leverage(X, w * curvature(), bread[:p, :p])

    return Sandwich(bread, scores, float(np.sum(w)), frequency_weights=w, leverage=leverage)


def null_loglike(
    family: Family,
    y: np.ndarray,
    w: np.ndarray,
    mu_null: np.ndarray,
    scale: float,
    alpha: float | None,
    cache: dict | None = None,
) -> float:
    r"""``llnull_``: the log-likelihood of the intercept-only model, as statsmodels' ``llnull``.

    :math:`\sum_i w_i \log f(y_i; \mu_{0i}, \hat\phi)` at the null model's
    fitted means :math:`\mu_0` (same offset, exposure and weights) and the
    full model's dispersion :math:`\hat\phi` = ``scale_`` (statsmodels'
    ``GLMResults.llnull`` uses ``self.scale``, also for the gaussian family,
    whose ``llf`` is the concentrated one); for the negative binomial,
    ``alpha`` is the null model's own (estimated, as statsmodels'
    ``NegativeBinomial.llnull``) or the fixed value.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if is_binary(family, y):
            return float(np.sum(w * _binary_log_prob(y, mu_null)))
        if family.name == "poisson":  # loglike_obs to the last bit; log(y!) computed once
            xlogy_y_mu, _, log_factorial = poisson_terms(y, mu_null, cache)
            return float(np.sum(w * (xlogy_y_mu - mu_null - log_factorial)))
        return float(np.sum(w * family.loglike_obs(y, mu_null, scale, alpha)))


def is_binary(family: Family, y: np.ndarray) -> bool:
    """A binomial response of 0/1 outcomes only (not proportions)."""
    return family.name == "binomial" and bool(np.all((y == 0.0) | (y == 1.0)))


def _binary_log_prob(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    r"""Per-row binomial log-likelihood of 0/1 outcomes: :math:`\log\mu` or :math:`\log(1-\mu)`.

    The binomial ``loglike_obs`` to the last bit (its combinatorial term is
    exactly 0 and one of its two ``xlogy`` terms exactly 0 at y in {0, 1}; numpy's
    and scipy's ``log`` differ in the last bit on a few rows), and
    ``deviance_obs`` is -2 times them; one
    ``log`` instead of three ``gammaln`` and two ``xlogy`` (about 6x less time
    on 1e6 rows, the largest cost of a logistic fit after the solver).

    >>> _binary_log_prob(np.array([1.0, 0.0]), np.array([0.25, 0.25])).round(6).tolist()
    [-1.386294, -0.287682]
    """
    return np.log(np.where(y == 1.0, mu, 1.0 - mu))


def intercept_only_eta(
    slope: Callable[[np.ndarray], np.ndarray],
    curvature: Callable[[np.ndarray], np.ndarray],
    w: np.ndarray,
    offset: np.ndarray,
    start: float,
    max_iter: int = 200,
) -> float | None:
    r"""The intercept :math:`b` of the intercept-only model with an offset, or None.

    Solves :math:`g(b) = \sum_i w_i \ell'(b + o_i) = 0` (``slope(eta)`` gives
    :math:`\ell'` per row, ``curvature(eta)`` :math:`\ell''`). The per-row
    losses of the families are convex in :math:`\eta`, so :math:`g` increases:
    a bracket is found by doubling steps from ``start`` and each Newton step
    that leaves it is replaced by bisection, which cannot diverge. None when
    no root is bracketed (the null MLE does not exist, e.g. all responses 0).

    >>> y = np.array([1.0, 3.0]); o = np.log(np.array([1.0, 2.0]))  # poisson, exposure
    >>> b = intercept_only_eta(lambda e: np.exp(e) - y, np.exp, np.ones(2), o, 0.0)
    >>> round(float(np.exp(b)), 12)  # sum y / sum exposure
    1.333333333333
    """

    def score(b: float) -> float:
        return float(np.sum(w * slope(b + offset)))

    lo = hi = start
    g_lo = g_hi = score(start)
    step = 1.0
    while g_lo > 0 or g_hi < 0:  # widen until the sign changes
        if step > 1e3 or not (np.isfinite(g_lo) and np.isfinite(g_hi)):
            return None
        if g_lo > 0:
            lo, g_lo = lo - step, score(lo - step)
        if g_hi < 0:
            hi, g_hi = hi + step, score(hi + step)
        step *= 2
    b = start if lo <= start <= hi else (lo + hi) / 2
    for _ in range(max_iter):
        g = score(b)
        if not np.isfinite(g):
            return None
        if g == 0:
            return b
        lo, hi = (b, hi) if g < 0 else (lo, b)
        h = float(np.sum(w * curvature(b + offset)))
        newton = b - g / h if h > 0 else np.nan
        new = newton if lo < newton < hi else (lo + hi) / 2
        if abs(new - b) <= 4 * np.finfo(float).eps * max(1.0, abs(b)):
            return new
        b = new
    return b


def negative_binomial_null_alpha(y: np.ndarray, w: np.ndarray, mu: float) -> float:
    r"""The ML :math:`\alpha` of the intercept-only NB2 model without offset (mean :math:`\bar y`).

    One-dimensional: Brent's method on :math:`\log\alpha \in [-30, 10]`, to
    :math:`10^{-10}` (the log-likelihood, flat at its maximum, is then exact to
    rounding).
    """
    from scipy import optimize, special

    def negative_loglike(log_alpha: float) -> float:
        alpha = np.exp(log_alpha)
        r = 1.0 / alpha
        rows = special.gammaln(y + r) - special.gammaln(r) + special.xlogy(y, alpha * mu)
        return -float(np.sum(w * (rows - (y + r) * np.log1p(alpha * mu))))

    found = optimize.minimize_scalar(
        negative_loglike, bounds=(-30.0, 10.0), method="bounded", options={"xatol": 1e-10}
    )
    return float(np.exp(found.x))


def pseudo_rsquared(llf: float, llnull: float) -> float:
    """McFadden's pseudo R squared ``1 - llf / llnull`` (statsmodels' ``pseudo_rsquared("mcf")``).

    >>> round(pseudo_rsquared(-40.0, -50.0), 12)
    0.2
    """
    return 1.0 - llf / llnull if llnull != 0 else float("nan")
