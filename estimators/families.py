r"""Exponential-family distributions and link functions for :class:`~estimators.glm.GLM`.

A generalised linear model relates the mean :math:`\mu_i = E[y_i]` to the
linear predictor :math:`\eta_i = x_i^\top\beta + o_i` (offset :math:`o_i`)
through a link :math:`g(\mu_i) = \eta_i`. Each :class:`Family` supplies its
per-observation negative log-likelihood :math:`\ell(\eta_i, y_i)` as a pure JAX
function of the linear predictor, written through the link's stable pieces
(:math:`\mu`, :math:`\log\mu`, :math:`\log(1-\mu)` as functions of
:math:`\eta`), so that fitted probabilities near 0 or 1 and counts with huge
means lose no digits. The fit minimises :math:`\sum_i w_i \ell_i / \sum_i w_i`;
its derivatives in :math:`\eta` come from autodiff of :math:`\ell`.

The likelihoods are at unit dispersion (:math:`\phi = 1`) and drop terms that
depend on neither :math:`\eta` nor the negative binomial :math:`\alpha`:

============  =====================================================  ==============
family        :math:`\ell(\eta, y)`                                  links
============  =====================================================  ==============
gaussian      :math:`\tfrac12 (y-\mu)^2`                              identity
binomial      :math:`-y\log\mu - (1-y)\log(1-\mu)`                   logit, probit,
                                                                     cloglog
poisson       :math:`\mu - y\log\mu`                                 log
gamma         :math:`y/\mu + \log\mu`                                inverse, log
neg. binomial :math:`-\log\Gamma(y+r)+\log\Gamma(r) - r\log\frac{r}{r+\mu}
              - y\log\frac{\mu}{r+\mu}`, :math:`r = 1/\alpha`        log
============  =====================================================  ==============

The first link listed is the default (for gamma: ``inverse``, the canonical
link, as in statsmodels). The numpy helpers (``loglike_obs``,
``deviance_obs``, ``variance``) give the full log-likelihoods and deviances
with statsmodels' definitions, for ``llf_``, ``deviance_`` and ``scale_``.

>>> FAMILIES["binomial"].links
('logit', 'probit', 'cloglog')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, log_ndtr, ndtr
from scipy import special

# --------------------------------------------------------------------------- helpers


@jax.custom_jvp
def softplus(x: jax.Array) -> jax.Array:
    r""":math:`\log(1 + e^x)` as ``max(x, 0) + log1p(exp(-|x|))``.

    ``jax.nn.softplus`` (``logaddexp``) runs on a path of XLA:CPU about 10x
    slower than these fused element-wise operations. The custom JVP supplies
    the derivative :math:`\sigma(x)`: plain autodiff of ``max`` and ``abs``
    gives 0 at :math:`x = 0` (true value 1/2), which is where a fit from
    :math:`\beta = 0` starts.

    >>> with jax.enable_x64(True):
    ...     [round(float(v), 12) for v in softplus(jnp.array([-800.0, 0.0, 800.0]))]
    [0.0, 0.69314718056, 800.0]
    """
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    value = softplus(x)
    return value, sigmoid(x) * t


def sigmoid(x: jax.Array) -> jax.Array:
    r"""Logistic function :math:`\sigma(x) = e^{x - \log(1+e^x)}`, relatively accurate.

    Written through :func:`softplus` so that tiny probabilities (:math:`x \ll 0`)
    keep their relative accuracy, and so that autodiff to any order goes through
    the custom JVP of :func:`softplus`.
    """
    return jnp.exp(x - softplus(x))


# Digamma and trigamma for the negative binomial's log Gamma terms. XLA expands its
# own digamma / polygamma into large loops (a second derivative of gammaln made the
# negative binomial's Newton kernel take seconds to compile); these are a fixed
# recurrence plus an asymptotic series, accurate to about 1e-14 relative for x > 0.
_SHIFT = 10  # psi(x) = psi(x + 10) - sum_k 1/(x + k): the series then runs at z >= 10


def _digamma(x):
    z = x + _SHIFT
    inv2 = 1.0 / (z * z)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return jnp.log(z) - 0.5 / z - series - sum(1.0 / (x + k) for k in range(_SHIFT))


def _trigamma(x):
    z = x + _SHIFT
    inv = 1.0 / z
    inv2 = inv * inv
    series = (
        inv
        + 0.5 * inv2
        + inv
        * inv2
        * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30 - inv2 * 5 / 66))))
    )
    return series + sum(1.0 / ((x + k) * (x + k)) for k in range(_SHIFT))


@jax.custom_jvp
def _digamma_difference(y, r):
    return _digamma(y + r) - _digamma(r)


@_digamma_difference.defjvp
def _digamma_difference_jvp(primals, tangents):
    (y, r), (_, dr) = primals, tangents  # y is data: never differentiated
    return _digamma_difference(y, r), (_trigamma(y + r) - _trigamma(r)) * dr


@jax.custom_jvp
def log_gamma_ratio(y: jax.Array, r: jax.Array) -> jax.Array:
    r""":math:`\log\Gamma(y + r) - \log\Gamma(r)`, differentiable in :math:`r` (not in y).

    Derivatives :math:`\psi(y+r) - \psi(r)` and :math:`\psi_1(y+r) - \psi_1(r)`
    come from a compact digamma / trigamma (recurrence to :math:`x \ge 10`, then
    the asymptotic series), which compile far faster than XLA's own.

    >>> with jax.enable_x64(True):  # log(Gamma(5) / Gamma(2)) = log(2 * 3 * 4)
    ...     round(float(log_gamma_ratio(jnp.array(3.0), jnp.array(2.0))), 12)
    3.178053830348
    """
    return gammaln(y + r) - gammaln(r)


@log_gamma_ratio.defjvp
def _log_gamma_ratio_jvp(primals, tangents):
    (y, r), (_, dr) = primals, tangents
    return log_gamma_ratio(y, r), _digamma_difference(y, r) * dr


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(0) = 0 (numpy, for the saturated log-likelihoods)."""
    return special.xlogy(x, y)


# --------------------------------------------------------------------------- links


@dataclasses.dataclass(frozen=True, eq=False)
class Link:
    r"""A link :math:`g(\mu) = \eta` given by its inverse and stable logarithms.

    ``mean(eta)`` is :math:`\mu = g^{-1}(\eta)`; ``log_mean(eta)`` is
    :math:`\log\mu` and ``log1m_mean(eta)`` is :math:`\log(1-\mu)` (binomial
    links only), each computed without forming :math:`\mu` first where that
    would lose digits. ``link(mu)`` is :math:`g` in numpy (for starting values).
    ``valid(eta)`` (numpy) says where :math:`\eta` gives a mean in the family's
    range. Instances are hashable by identity: they are static arguments of the
    compiled fit.
    """

    name: str
    mean: Callable[[jax.Array], jax.Array]
    log_mean: Callable[[jax.Array], jax.Array]
    link: Callable[[np.ndarray], np.ndarray]
    log1m_mean: Callable[[jax.Array], jax.Array] | None = None
    valid: Callable[[np.ndarray], np.ndarray] = lambda eta: np.isfinite(eta)


def _cloglog_log_mean(eta):
    # log(1 - exp(-t)) with t = e^eta, in three pieces (Maechler's log1mexp):
    # eta < -20: the series eta - t/2 (next term t^2/24 < 1e-19 relative), where
    #   log(-expm1(-t)) would meet t = 0 below eta = -745;
    # t <= log 2: log(-expm1(-t));
    # t > log 2: log1p(-exp(-t)), relatively accurate (log(-expm1(-t)) is not, and
    #   its autodiff, through expm1' = expm1 + 1, rounds to 0), clamped at t = 735
    #   where the value is 0 in double precision.
    # Each branch gets its own input, replaced by a harmless constant outside its
    # range (by `where`, not `clip`, whose derivative is 1/2 at the bounds), so no
    # branch can put inf or NaN into the gradient of the selected one.
    log_log2 = -0.36651292058166435  # log(log 2)
    is_tiny, is_small = eta < -20.0, (eta >= -20.0) & (eta <= log_log2)
    is_large = (eta > log_log2) & (eta <= 6.6)
    tiny = jnp.where(is_tiny, eta, -21.0)
    small = jnp.exp(jnp.where(is_small, eta, -1.0))
    large = jnp.exp(jnp.where(is_large, eta, 6.6))
    return jnp.where(
        is_tiny,
        tiny - 0.5 * jnp.exp(tiny),
        jnp.where(is_small, jnp.log(-jnp.expm1(-small)), jnp.log1p(-jnp.exp(-large))),
    )


def _cloglog_log1m_mean(eta):
    # log(1 - mu) = -e^eta; capped so that y = 1 rows (weight 0 on this term) never
    # meet 0 * inf once eta passes 709 (only under separation).
    return -jnp.exp(jnp.minimum(eta, 700.0))


LINKS: dict[str, Link] = {
    "identity": Link(
        "identity",
        mean=lambda eta: eta,
        log_mean=lambda eta: jnp.log(eta),
        link=lambda mu: mu,
    ),
    "log": Link("log", mean=jnp.exp, log_mean=lambda eta: eta, link=np.log),
    "inverse": Link(
        "inverse",
        mean=lambda eta: 1.0 / eta,
        log_mean=lambda eta: -jnp.log(eta),
        link=lambda mu: 1.0 / mu,
        valid=lambda eta: np.isfinite(eta) & (eta > 0),
    ),
    "logit": Link(
        "logit",
        mean=sigmoid,
        log_mean=lambda eta: eta - softplus(eta),
        log1m_mean=lambda eta: -softplus(eta),
        link=lambda mu: np.log(mu) - np.log1p(-mu),
    ),
    "probit": Link(
        "probit",
        mean=ndtr,
        log_mean=log_ndtr,
        log1m_mean=lambda eta: log_ndtr(-eta),
        link=special.ndtri,
    ),
    "cloglog": Link(
        "cloglog",
        mean=lambda eta: -jnp.expm1(-jnp.exp(eta)),
        log_mean=_cloglog_log_mean,
        log1m_mean=_cloglog_log1m_mean,
        link=lambda mu: np.log(-np.log1p(-mu)),
    ),
}


# --------------------------------------------------------------------------- families


def _gaussian_nll(eta, y, log_alpha, link):
    residual = y - link.mean(eta)
    return 0.5 * residual * residual


def _binomial_nll(eta, y, log_alpha, link):
    return -(y * link.log_mean(eta) + (1.0 - y) * link.log1m_mean(eta))


def _poisson_nll(eta, y, log_alpha, link):
    return link.mean(eta) - y * link.log_mean(eta)


def _gamma_nll(eta, y, log_alpha, link):
    return y / link.mean(eta) + link.log_mean(eta)


def _negative_binomial_nll(eta, y, log_alpha, link):
    # r = 1/alpha; log(r + mu) = log(mu) + log(1 + r/mu), stable for any size of either.
    r = jnp.exp(-log_alpha)
    log_mu = link.log_mean(eta)
    log_r_plus_mu = log_mu + softplus(-log_alpha - log_mu)
    return -log_gamma_ratio(y, r) - r * (-log_alpha - log_r_plus_mu) - y * (log_mu - log_r_plus_mu)


# numpy: full log-likelihood per row (statsmodels 0.15 definitions), deviance, variance


def _gaussian_loglike(y, mu, scale, alpha):
    return -0.5 * ((y - mu) ** 2 / scale + np.log(2 * np.pi * scale))


def _binomial_loglike(y, mu, scale, alpha):
    # statsmodels' Binomial with one trial: the combinatorial term is 0 for y in {0, 1}.
    comb = special.gammaln(2.0) - special.gammaln(y + 1.0) - special.gammaln(2.0 - y)
    return comb + _xlogy(y, mu) + _xlogy(1.0 - y, 1.0 - mu)


def _poisson_loglike(y, mu, scale, alpha):
    return _xlogy(y, mu) - mu - special.gammaln(y + 1.0)


def _gamma_loglike(y, mu, scale, alpha):
    shape = 1.0 / scale
    return shape * np.log(shape * y / mu) - shape * y / mu - special.gammaln(shape) - np.log(y)


def _negative_binomial_loglike(y, mu, scale, alpha):
    r = 1.0 / alpha
    return (
        special.gammaln(y + r)
        - special.gammaln(r)
        - special.gammaln(y + 1.0)
        + _xlogy(y, alpha * mu)
        - (y + r) * np.log1p(alpha * mu)
    )


def _gaussian_deviance(y, mu, alpha):
    return (y - mu) ** 2


def _binomial_deviance(y, mu, alpha):
    return 2 * (_xlogy(y, y) - _xlogy(y, mu) + _xlogy(1 - y, 1 - y) - _xlogy(1 - y, 1 - mu))


def _poisson_deviance(y, mu, alpha):
    return 2 * (_xlogy(y, y) - _xlogy(y, mu) - (y - mu))


def _gamma_deviance(y, mu, alpha):
    return 2 * ((y - mu) / mu - np.log(y / mu))


def _negative_binomial_deviance(y, mu, alpha):
    r = 1.0 / alpha
    return 2 * (
        _xlogy(y, y) - _xlogy(y, mu) - (y + r) * (np.log1p(alpha * y) - np.log1p(alpha * mu))
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    r"""A GLM family: per-row loss (JAX) and its numpy companions.

    ``nll(eta, y, log_alpha, link)`` is the per-row negative log-likelihood at
    unit dispersion, up to terms free of :math:`\eta` and :math:`\alpha`
    (``log_alpha`` is used by the negative binomial only). ``loglike_obs(y, mu,
    scale, alpha)`` is the full per-row log-likelihood, ``deviance_obs(y, mu,
    alpha)`` the unit deviance and ``variance(mu, alpha)`` the variance function
    :math:`V(\mu)`. ``estimates_scale``: the dispersion :math:`\phi` is estimated
    (Pearson :math:`\chi^2` over residual degrees of freedom) rather than 1.
    ``boundary`` is ``"both"`` (binomial: probabilities can run to 0 and 1),
    ``"zero"`` (counts: a mean can run to 0 where y = 0) or ``None``.
    """

    name: str
    links: tuple[str, ...]
    nll: Callable
    loglike_obs: Callable
    deviance_obs: Callable
    variance: Callable
    estimates_scale: bool
    boundary: str | None

    @property
    def default_link(self) -> str:
        return self.links[0]


FAMILIES: dict[str, Family] = {
    "gaussian": Family(
        "gaussian",
        ("identity",),
        _gaussian_nll,
        _gaussian_loglike,
        _gaussian_deviance,
        lambda mu, alpha: np.ones_like(mu),
        estimates_scale=True,
        boundary=None,
    ),
    "binomial": Family(
        "binomial",
        ("logit", "probit", "cloglog"),
        _binomial_nll,
        _binomial_loglike,
        _binomial_deviance,
        lambda mu, alpha: mu * (1 - mu),
        estimates_scale=False,
        boundary="both",
    ),
    "poisson": Family(
        "poisson",
        ("log",),
        _poisson_nll,
        _poisson_loglike,
        _poisson_deviance,
        lambda mu, alpha: mu,
        estimates_scale=False,
        boundary="zero",
    ),
    "gamma": Family(
        "gamma",
        ("inverse", "log"),
        _gamma_nll,
        _gamma_loglike,
        _gamma_deviance,
        lambda mu, alpha: mu**2,
        estimates_scale=True,
        boundary=None,
    ),
    "negative_binomial": Family(
        "negative_binomial",
        ("log",),
        _negative_binomial_nll,
        _negative_binomial_loglike,
        _negative_binomial_deviance,
        lambda mu, alpha: mu + alpha * mu**2,
        estimates_scale=False,
        boundary="zero",
    ),
}


def saturated_nll(family: Family, y: np.ndarray, alpha: float | None) -> np.ndarray:
    r"""Per-row :math:`\ell` at :math:`\mu = y` (numpy): the shift that makes the loss a deviance.

    Used as a constant shift, so the loss the solver sees is
    :math:`\frac{1}{2}\sum_i w_i d_i / \sum_i w_i` (:math:`d_i` the unit
    deviance): zero for a perfect fit and free of the units of :math:`y`,
    which makes the solver's relative stopping test mean the same on every
    data set. For the negative binomial with estimated :math:`\alpha` the
    shift is :math:`\log\Gamma(y+1)` instead (the loss is then the full mean
    negative log-likelihood, since the deviance depends on :math:`\alpha`).
    """
    if family.name == "gaussian":
        return np.zeros_like(y)
    if family.name == "binomial":
        return -(_xlogy(y, y) + _xlogy(1 - y, 1 - y))
    if family.name == "poisson":
        return y - _xlogy(y, y)
    if family.name == "gamma":
        return 1.0 + np.log(y)
    if alpha is None:  # negative binomial, alpha estimated
        return -special.gammaln(y + 1.0)
    r = 1.0 / alpha
    return (
        special.gammaln(r)
        - special.gammaln(y + r)
        - r * np.log(r / (r + y))
        - _xlogy(y, y / (r + y))
    )
