r"""Distribution families for maximum likelihood: log-densities, supports, transforms, starts.

Each :class:`Family` bundles what :class:`estimators.likelihood.MaximumLikelihood`
needs to fit it: the per-observation log-density in the *natural*
parameterisation, the transform of each parameter to an unconstrained space
where the optimiser works, how each parameter changes when the data are
rescaled, the support (checked before fitting), starting values, and, where the
family has them, sufficient statistics that reduce each iteration to O(1).

Families
--------
=====================  =================  ===========  ==========================================
family                 parameters         support      scipy.stats equivalent
=====================  =================  ===========  ==========================================
``normal``             mean, sd           real         ``norm(loc=mean, scale=sd)``
``exponential``        scale              x > 0        ``expon(scale=scale)``; rate = 1 / scale
``gamma``              shape, scale       x > 0        ``gamma(a=shape, scale=scale)``
``beta``               a, b               0 < x < 1    ``beta(a, b)``
``weibull``            shape, scale       x > 0        ``weibull_min(c=shape, scale=scale)``
``lognormal``          meanlog, sdlog     x > 0        ``lognorm(s=sdlog, scale=exp(meanlog))``
``student_t``          loc, scale, df     real         ``t(df, loc=loc, scale=scale)``
``poisson``            mean               0, 1, ...    ``poisson(mu=mean)``
``negative_binomial``  mean, alpha        0, 1, ...    ``nbinom(n=1/alpha, p=1/(1+alpha*mean))``
``geometric``          p                  0, 1, ...    ``geom(p, loc=-1)`` = ``nbinom(1, p)``
=====================  =================  ===========  ==========================================

Log-densities (:math:`\mu` mean, :math:`\sigma` sd, :math:`k` shape,
:math:`\theta, \lambda, s` scale, :math:`\nu` df):

- normal: :math:`-\log\sigma - \tfrac12\log 2\pi - (x-\mu)^2 / (2\sigma^2)`
- exponential: :math:`-\log\theta - x/\theta` (mean :math:`\theta`)
- gamma: :math:`(k-1)\log x - x/\theta - k\log\theta - \log\Gamma(k)` (mean :math:`k\theta`)
- beta: :math:`(a-1)\log x + (b-1)\log(1-x) - \log B(a, b)`
- weibull: :math:`\log k - \log\lambda + (k-1) z - e^{k z}`, :math:`z = \log(x/\lambda)`
- lognormal: the normal density of :math:`\log x` (``meanlog``, ``sdlog``) minus
  :math:`\log x`
- student_t: :math:`\log\Gamma(\frac{\nu+1}2) - \log\Gamma(\frac\nu2) - \tfrac12
  \log(\nu\pi) - \log s - \frac{\nu+1}2 \log(1 + z^2/\nu)`, :math:`z = (x - m)/s`
- poisson: :math:`x\log\mu - \mu - \log x!`
- negative_binomial (NB2, as statsmodels' ``NegativeBinomial``):
  :math:`\mathrm{Var}(x) = \mu + \alpha\mu^2`; with :math:`r = 1/\alpha`,
  :math:`\log\Gamma(x+r) - \log\Gamma(r) - \log x! + r\log\frac{r}{r+\mu}
  + x\log\frac{\mu}{r+\mu}`
- geometric (failures before the first success): :math:`\log p + x\log(1-p)`

Every parameter except ``mean`` (normal), ``loc`` (student_t) and ``meanlog``
(lognormal) is positive and is optimised as its logarithm; ``p`` (geometric) is
in (0, 1) and is optimised as its logit. Results are always reported in the
natural parameters of the table.

Scaled coordinates
------------------
Like :class:`estimators.location.Mean`, continuous families are fitted on data
in scaled coordinates so that the data's units do not matter: real-valued
families on :math:`c = (x - x_{\rm ref})/s` (midrange and a power-of-two
half-range, :func:`estimators.location.center_and_scale`), positive families on
:math:`c = x/s` with :math:`s` the power of two nearest the geometric mean.
Dividing by a power of two is exact. Each parameter's ``unit`` says how it maps
back: ``location`` :math:`\theta = x_{\rm ref} + s\,\theta_c`, ``scale``
:math:`\theta = s\,\theta_c`, ``log_location`` :math:`\theta = \theta_c + \log s`,
``free`` unchanged. The log-density changes by the Jacobian, :math:`\log f_X(x)
= \log f_C(c) - \log s`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.special import gammaln
from scipy.special import gammaln as scipy_gammaln

from .errors import DataError, SettingsError

LOG_2PI = math.log(2.0 * math.pi)
EULER_GAMMA = 0.5772156649015329

# --------------------------------------------------------------------------- transforms


@dataclasses.dataclass(frozen=True)
class Transform:
    """A bijection from the real line onto a parameter's domain.

    ``to_natural(u)`` (JAX) maps the unconstrained value the optimiser moves to
    the natural parameter; ``to_unconstrained(theta)`` (numpy) is its inverse;
    ``domain`` describes the natural values allowed, for error messages.
    """

    name: str
    to_natural: Callable[[Any], Any]
    to_unconstrained: Callable[[float], float]
    domain: str
    valid: Callable[[float], bool]


def _softplus_inverse(y: float) -> float:
    # log(exp(y) - 1), written so that it neither overflows for large y nor
    # loses digits for small y.
    return float(y + np.log(-np.expm1(-y)))


TRANSFORMS: dict[str, Transform] = {
    "identity": Transform("identity", lambda u: u, float, "any real number", np.isfinite),
    "log": Transform(
        "log", jnp.exp, lambda t: float(np.log(t)), "> 0", lambda t: np.isfinite(t) and t > 0
    ),
    "softplus": Transform(
        "softplus",
        jax.nn.softplus,
        _softplus_inverse,
        "> 0",
        lambda t: np.isfinite(t) and t > 0,
    ),
    "logit": Transform(
        "logit",
        jax.nn.sigmoid,
        lambda t: float(np.log(t) - np.log1p(-t)),
        "in (0, 1)",
        lambda t: np.isfinite(t) and 0 < t < 1,
    ),
}


def get_transform(name: str) -> Transform:
    """The :class:`Transform` called ``name`` (``identity``, ``log``, ``softplus``, ``logit``)."""
    if name not in TRANSFORMS:
        raise SettingsError(f"unknown transform {name!r}; valid transforms are {list(TRANSFORMS)}")
    return TRANSFORMS[name]


# --------------------------------------------------------------------------- the family type

SUPPORTS = ("real", "positive", "unit", "count")
UNITS = ("location", "scale", "log_location", "free")


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A parametric family of densities, as maximum likelihood uses it.

    Attributes
    ----------
    name : the family's name (``MaximumLikelihood(name)``).
    params : names of the natural parameters, in reporting order.
    transforms : one :data:`TRANSFORMS` name a parameter: how it is made unconstrained.
    units : one of :data:`UNITS` a parameter: how it changes when the data are
        rescaled (see the module docstring).
    support : ``"real"``, ``"positive"``, ``"unit"`` (the open interval (0, 1)) or
        ``"count"`` (non-negative integers); checked before fitting.
    logpdf : ``logpdf(params, x)``, the per-observation log-density (or log
        probability mass) in JAX, ``params`` a dict of natural parameters.
    start : ``start(values, weights, stats) -> dict`` of natural starting values
        (closed forms or method of moments), in the units of ``values``;
        ``stats`` is the output of ``statistics`` (``None`` without), so that a
        start does not pass over the data again.
    statistics : optional ``statistics(values, weights) -> dict`` of weighted
        means of sufficient statistics (numpy), and
    mean_nll : ``mean_nll(params, stats)``, the weighted mean negative
        log-likelihood computed from them; both ``None`` when the family must
        see every observation.
    check_sample : optional ``check_sample(values, weights) -> str | None``,
        a reason the likelihood has no interior maximum (e.g. constant data).
    check_estimate : optional ``check_estimate(params) -> str | None``, a sign
        that the fit ran off to the edge of the parameter space instead of
        reaching a maximum (e.g. student_t df growing without bound).
    scipy : how the family maps to ``scipy.stats``, for documentation.

    Compared by identity, so that a family is a valid static argument of the
    compiled solver.
    """

    name: str
    params: tuple[str, ...]
    transforms: tuple[str, ...]
    units: tuple[str, ...]
    support: str
    logpdf: Callable[[Mapping[str, Any], Any], Any]
    start: Callable[[np.ndarray, np.ndarray, dict | None], dict[str, float]]
    statistics: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None
    mean_nll: Callable[[Mapping[str, Any], Mapping[str, Any]], Any] | None = None
    check_sample: Callable[[np.ndarray, np.ndarray], str | None] | None = None
    scipy: str = ""
    check_estimate: Callable[[Mapping[str, float]], str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.params)
        if len(self.transforms) != n or len(self.units) != n:
            raise SettingsError(f"family {self.name!r}: one transform and one unit a parameter")
        for t in self.transforms:
            get_transform(t)
        if self.support not in SUPPORTS:
            raise SettingsError(f"family {self.name!r}: support must be one of {SUPPORTS}")


# --------------------------------------------------------------------------- weighted moments
# All starts and statistics take frequency weights; `weights` sum to anything > 0.


def _wmean(values: np.ndarray, weights: np.ndarray) -> float:
    if weights.ndim == 1 and weights.strides[0] == 0:
        # Equal weights (the broadcast ones of an unweighted sample): the plain mean.
        # np.dot with a stride-0 operand leaves BLAS for a slow loop (8 ms CPU for 1e6).
        return float(values.mean())
    return float(np.dot(weights, values) / weights.sum())


def _wvar(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted variance with divisor sum(w) (the MLE), by two passes for accuracy."""
    m = _wmean(values, weights)
    d = values - m
    return float(np.dot(weights, d * d) / weights.sum())


def _wmedian(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _needs_two_values(values: np.ndarray, weights: np.ndarray) -> str | None:
    used = values if np.all(weights > 0) else values[weights > 0]
    if used.min() == used.max():
        return (
            "has fewer than 2 distinct values (with positive weight): the likelihood "
            "grows without bound as the spread goes to 0, so there is no MLE"
        )
    return None


def _needs_a_positive_count(values: np.ndarray, weights: np.ndarray) -> str | None:
    if _wmean(values, weights) == 0:
        return (
            "is 0 in every row: the MLE of the mean is 0, on the boundary of the parameter space"
        )
    return None


# --------------------------------------------------------------------------- normal


def normal_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Normal log-density, parameters ``mean`` and ``sd``."""
    z = (x - params["mean"]) / params["sd"]
    return -jnp.log(params["sd"]) - 0.5 * LOG_2PI - 0.5 * z * z


def _normal_statistics(c, w):
    return {"mean": _wmean(c, w), "var": _wvar(c, w)}


def _normal_mean_nll(params, s):
    sd = params["sd"]
    d = s["mean"] - params["mean"]
    return jnp.log(sd) + 0.5 * LOG_2PI + 0.5 * (s["var"] + d * d) / (sd * sd)


def _normal_start(c, w, s):
    return {"mean": s["mean"], "sd": math.sqrt(s["var"])}  # the MLE itself


# --------------------------------------------------------------------------- exponential


def exponential_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Exponential log-density, parameter ``scale`` (the mean; rate = 1/scale)."""
    return -jnp.log(params["scale"]) - x / params["scale"]


def _exponential_mean_nll(params, s):
    return jnp.log(params["scale"]) + s["mean"] / params["scale"]


# --------------------------------------------------------------------------- gamma


def gamma_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Gamma log-density, parameters ``shape`` (k) and ``scale`` (theta); mean k*theta."""
    k, theta = params["shape"], params["scale"]
    return (k - 1.0) * jnp.log(x) - x / theta - k * jnp.log(theta) - gammaln(k)


def _log_statistics(c, w):
    return {"mean": _wmean(c, w), "mean_log": _wmean(np.log(c), w)}


def _gamma_mean_nll(params, s):
    # Sufficient statistics: mean(x) and mean(log x); O(1) per iteration.
    k, theta = params["shape"], params["scale"]
    return -(k - 1.0) * s["mean_log"] + s["mean"] / theta + k * jnp.log(theta) + gammaln(k)


def _gamma_start(c, w, stats):
    # Minka (2002): k ~ (3 - s + sqrt((s - 3)^2 + 24 s)) / (12 s), s = log mean - mean log,
    # within 1.5% of the MLE for every s.
    m = stats["mean"]
    s = math.log(m) - stats["mean_log"]
    k = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    return {"shape": k, "scale": m / k}


# --------------------------------------------------------------------------- beta


def _betaln(a, b):
    # log B(a, b) from three log-gammas: jax's own betaln is a branchy series whose
    # Hessian takes seconds to compile; this loses at most ~1e-12 absolute for a, b < 1e4.
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def beta_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Beta log-density on (0, 1), parameters ``a`` and ``b``."""
    a, b = params["a"], params["b"]
    return (a - 1.0) * jnp.log(x) + (b - 1.0) * jnp.log1p(-x) - _betaln(a, b)


def _beta_statistics(c, w):
    return {"mean_log": _wmean(np.log(c), w), "mean_log1m": _wmean(np.log1p(-c), w)}


def _beta_mean_nll(params, s):
    a, b = params["a"], params["b"]
    return -(a - 1.0) * s["mean_log"] - (b - 1.0) * s["mean_log1m"] + _betaln(a, b)


def _beta_start(c, w, stats):
    m, v = _wmean(c, w), _wvar(c, w)
    common = m * (1.0 - m) / v - 1.0  # method of moments; > 0 for any non-constant sample
    return {"a": m * common, "b": (1.0 - m) * common}


# --------------------------------------------------------------------------- weibull


def weibull_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Weibull log-density, parameters ``shape`` (k) and ``scale`` (lambda)."""
    k, lam = params["shape"], params["scale"]
    z = jnp.log(x) - jnp.log(lam)
    return jnp.log(k) - jnp.log(lam) + (k - 1.0) * z - jnp.exp(k * z)


def _weibull_start(c, w, stats):
    # log X is Gumbel (minimum): sd = pi / (k sqrt 6), mean = log lambda - gamma / k.
    logc = np.log(c)
    k = math.pi / (math.sqrt(6.0 * _wvar(logc, w)))
    return {"shape": k, "scale": math.exp(_wmean(logc, w) + EULER_GAMMA / k)}


# --------------------------------------------------------------------------- lognormal


def lognormal_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Log-normal log-density, parameters ``meanlog`` and ``sdlog`` (those of log x)."""
    logx = jnp.log(x)
    z = (logx - params["meanlog"]) / params["sdlog"]
    return -logx - jnp.log(params["sdlog"]) - 0.5 * LOG_2PI - 0.5 * z * z


def _lognormal_statistics(c, w):
    logc = np.log(c)
    return {"mean_log": _wmean(logc, w), "var_log": _wvar(logc, w)}


def _lognormal_mean_nll(params, s):
    sd = params["sdlog"]
    d = s["mean_log"] - params["meanlog"]
    return s["mean_log"] + jnp.log(sd) + 0.5 * LOG_2PI + 0.5 * (s["var_log"] + d * d) / (sd * sd)


def _lognormal_start(c, w, s):
    return {"meanlog": s["mean_log"], "sdlog": math.sqrt(s["var_log"])}  # the MLE itself


# --------------------------------------------------------------------------- student t


def student_t_logpdf(params: Mapping[str, Any], x: Any) -> Any:
    """Student t log-density, parameters ``loc``, ``scale`` and ``df`` (degrees of freedom)."""
    df, scale = params["df"], params["scale"]
    z = (x - params["loc"]) / scale
    return (
        gammaln(0.5 * (df + 1.0))
        - gammaln(0.5 * df)
        - 0.5 * jnp.log(df * math.pi)
        - jnp.log(scale)
        - 0.5 * (df + 1.0) * jnp.log1p(z * z / df)
    )


def _student_t_start(c, w, stats):
    loc = _wmedian(c, w)
    mad = 1.4826 * _wmedian(np.abs(c - loc), w)
    scale = mad if mad > 0 else math.sqrt(_wvar(c, w))
    # Excess kurtosis 6 / (df - 4) of a t with df > 4; heavy or light tails fall
    # back to the ends of a moderate range, which Newton corrects.
    v = _wvar(c, w)
    kurt = _wmean((c - _wmean(c, w)) ** 4, w) / (v * v) - 3.0
    df = 4.0 + 6.0 / kurt if kurt > 0 else 30.0
    return {"loc": loc, "scale": scale, "df": float(np.clip(df, 2.5, 30.0))}


def _df_ran_off(params):
    # With a sample that is not heavier-tailed than the normal, the likelihood keeps
    # rising as df -> infinity (the normal limit) and the fit stops wherever the
    # gradient vanishes numerically: 1e7 and beyond. An interior maximum at
    # df > 1e6 would need a sample of astronomical size to tell from the normal.
    if params["df"] > 1e6:
        return (
            f"df ran off to {params['df']:.3g}: the likelihood increases towards the normal "
            "limit (df = infinity), so there is no finite maximum; fit family='normal'"
        )
    return None


# --------------------------------------------------------------------------- poisson


def poisson_logpmf(params: Mapping[str, Any], x: Any) -> Any:
    """Poisson log-probability, parameter ``mean``."""
    mu = params["mean"]
    return x * jnp.log(mu) - mu - gammaln(x + 1.0)


def _poisson_statistics(c, w):
    return {"mean": _wmean(c, w), "mean_lgamma": _wmean(scipy_gammaln(c + 1.0), w)}


def _poisson_mean_nll(params, s):
    mu = params["mean"]
    return mu - s["mean"] * jnp.log(mu) + s["mean_lgamma"]


# --------------------------------------------------------------------------- negative binomial


def negative_binomial_logpmf(params: Mapping[str, Any], x: Any) -> Any:
    """NB2 log-probability, parameters ``mean`` (mu) and ``alpha``: Var = mu + alpha mu^2."""
    mu, alpha = params["mean"], params["alpha"]
    r = 1.0 / alpha
    log_r_mu = jnp.log(r + mu)
    return (
        gammaln(x + r)
        - gammaln(r)
        - gammaln(x + 1.0)
        + r * (jnp.log(r) - log_r_mu)
        + x * (jnp.log(mu) - log_r_mu)
    )


def _negative_binomial_start(c, w, stats):
    m, v = _wmean(c, w), _wvar(c, w)
    return {"mean": m, "alpha": (v - m) / (m * m)}  # method of moments (check: v > m)


def _needs_overdispersion(c, w):
    m, v = _wmean(c, w), _wvar(c, w)
    if not v > m:
        # The score of alpha at alpha = 0 is proportional to sum (x - m)^2 - x, so
        # the likelihood is maximised on the boundary alpha = 0 (the Poisson).
        return (
            f"is not over-dispersed (variance {v:.6g} <= mean {m:.6g}): the negative binomial "
            "MLE of alpha is 0, i.e. the Poisson; fit family='poisson' instead"
        )
    return None


# --------------------------------------------------------------------------- geometric


def geometric_logpmf(params: Mapping[str, Any], x: Any) -> Any:
    """Geometric log-probability of x failures before the first success, parameter ``p``."""
    p = params["p"]
    return jnp.log(p) + x * jnp.log1p(-p)


def _geometric_mean_nll(params, s):
    p = params["p"]
    return -jnp.log(p) - s["mean"] * jnp.log1p(-p)


def _mean_statistics(c, w):
    return {"mean": _wmean(c, w)}


# --------------------------------------------------------------------------- registry

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "normal",
            ("mean", "sd"),
            ("identity", "log"),
            ("location", "scale"),
            "real",
            normal_logpdf,
            _normal_start,
            _normal_statistics,
            _normal_mean_nll,
            _needs_two_values,
            "norm(loc=mean, scale=sd)",
        ),
        Family(
            "exponential",
            ("scale",),
            ("log",),
            ("scale",),
            "positive",
            exponential_logpdf,
            lambda c, w, s: {"scale": s["mean"]},  # the MLE itself
            _mean_statistics,
            _exponential_mean_nll,
            None,
            "expon(scale=scale)",
        ),
        Family(
            "gamma",
            ("shape", "scale"),
            ("log", "log"),
            ("free", "scale"),
            "positive",
            gamma_logpdf,
            _gamma_start,
            _log_statistics,
            _gamma_mean_nll,
            _needs_two_values,
            "gamma(a=shape, scale=scale)",
        ),
        Family(
            "beta",
            ("a", "b"),
            ("log", "log"),
            ("free", "free"),
            "unit",
            beta_logpdf,
            _beta_start,
            _beta_statistics,
            _beta_mean_nll,
            _needs_two_values,
            "beta(a, b)",
        ),
        Family(
            "weibull",
            ("shape", "scale"),
            ("log", "log"),
            ("free", "scale"),
            "positive",
            weibull_logpdf,
            _weibull_start,
            None,
            None,
            _needs_two_values,
            "weibull_min(c=shape, scale=scale)",
        ),
        Family(
            "lognormal",
            ("meanlog", "sdlog"),
            ("identity", "log"),
            ("log_location", "free"),
            "positive",
            lognormal_logpdf,
            _lognormal_start,
            _lognormal_statistics,
            _lognormal_mean_nll,
            _needs_two_values,
            "lognorm(s=sdlog, scale=exp(meanlog))",
        ),
        Family(
            "student_t",
            ("loc", "scale", "df"),
            ("identity", "log", "log"),
            ("location", "scale", "free"),
            "real",
            student_t_logpdf,
            _student_t_start,
            None,
            None,
            _needs_two_values,
            "t(df, loc=loc, scale=scale)",
            _df_ran_off,
        ),
        Family(
            "poisson",
            ("mean",),
            ("log",),
            ("free",),
            "count",
            poisson_logpmf,
            lambda c, w, s: {"mean": s["mean"]},  # the MLE itself
            _poisson_statistics,
            _poisson_mean_nll,
            _needs_a_positive_count,
            "poisson(mu=mean)",
        ),
        Family(
            "negative_binomial",
            ("mean", "alpha"),
            ("log", "log"),
            ("free", "free"),
            "count",
            negative_binomial_logpmf,
            _negative_binomial_start,
            None,
            None,
            _needs_overdispersion,
            "nbinom(n=1/alpha, p=1/(1+alpha*mean))",
        ),
        Family(
            "geometric",
            ("p",),
            ("logit",),
            ("free",),
            "count",
            geometric_logpmf,
            lambda c, w, s: {"p": 1.0 / (1.0 + s["mean"])},  # the MLE itself
            _mean_statistics,
            _geometric_mean_nll,
            _needs_a_positive_count,
            "geom(p, loc=-1)",
        ),
    )
}


def get_family(family: str | Family) -> Family:
    """The :class:`Family` called ``family`` (or ``family`` itself if it is one).

    >>> get_family("gamma").params, get_family("gamma").scipy
    (('shape', 'scale'), 'gamma(a=shape, scale=scale)')
    """
    if isinstance(family, Family):
        return family
    if not isinstance(family, str) or family not in FAMILIES:
        raise SettingsError(f"unknown family {family!r}; valid families are {list(FAMILIES)}")
    return FAMILIES[family]


# --------------------------------------------------------------------------- support checks

_SUPPORT_TEXT = {
    "positive": "positive values (x > 0)",
    "unit": "values strictly between 0 and 1",
    "count": "non-negative integer counts",
}


def check_support(
    family: Family,
    values: np.ndarray,
    weights: np.ndarray,
    name: str,
    index: pd.Index | None = None,
) -> None:
    """Raise :class:`DataError` naming ``name`` and counting rows outside the support.

    The message lists the first offending row labels of ``index`` (positions if
    ``None``). Also raises when the sample has no interior MLE
    (``family.check_sample``, e.g. constant data).
    """
    problems = []
    if family.support == "positive":
        bad = values <= 0
        if bad.any():
            problems.append(f"{int(bad.sum())} non-positive value(s)")
    elif family.support == "unit":
        low, high = values <= 0, values >= 1
        if low.any():
            problems.append(f"{int(low.sum())} value(s) <= 0")
        if high.any():
            problems.append(f"{int(high.sum())} value(s) >= 1")
        bad = low | high
    elif family.support == "count":
        negative = values < 0
        fractional = values != np.floor(values)
        if negative.any():
            problems.append(f"{int(negative.sum())} negative value(s)")
        if fractional.any():
            problems.append(f"{int(fractional.sum())} non-integer value(s)")
        bad = negative | fractional
    if problems:
        labels = pd.RangeIndex(values.size) if index is None else index
        rows = ", ".join(repr(label) for label in labels[bad][:5])
        rows += ", ..." if bad.sum() > 5 else ""
        raise DataError(
            f"{name} has {' and '.join(problems)} out of {values.size} rows (rows {rows}): "
            f"the {family.name} family needs {_SUPPORT_TEXT[family.support]}"
        )
    if family.check_sample is not None:
        reason = family.check_sample(values, weights)
        if reason is not None:
            raise DataError(f"{name} {reason} ({family.name} family)")
