"""MaximumLikelihood and MEstimator: agreement with closed forms, scipy and statsmodels,
standard errors, weights, fixed parameters, user functions, and bad input.

Every reference is computed live: closed-form MLEs and information matrices,
scipy 1.17 (``scipy.stats.<dist>.fit`` with a tightened optimizer where its
default stops early, and root finding of the likelihood equations with
``brentq`` / ``root``), statsmodels 0.15 (``NegativeBinomial``; numerical
Hessians ``approx_hess3`` of scipy's log-densities).
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from estimators.datasets import load_dataset
from scipy import optimize, special, stats
from statsmodels.tools.numdiff import approx_hess3

from estimators import distributions, likelihood
from estimators.base import clone
from estimators.distributions import FAMILIES
from estimators.errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError
from estimators.likelihood import MaximumLikelihood, MEstimator

RNG_SEED = 20240607


def rel(a, b):
    return abs(a - b) / abs(b)


def sample(family: str, n: int = 400, seed: int = RNG_SEED) -> np.ndarray:
    """Seeded simulated data of each family (numpy's generators)."""
    rng = np.random.default_rng(seed)
    return {
        "normal": lambda: rng.normal(3.0, 2.0, n),
        "exponential": lambda: rng.exponential(2.0, n),
        "gamma": lambda: rng.gamma(2.5, 1.5, n),
        "beta": lambda: rng.beta(2.0, 5.0, n),
        "weibull": lambda: 3.0 * rng.weibull(1.7, n),
        "lognormal": lambda: rng.lognormal(1.0, 0.5, n),
        "student_t": lambda: 2.0 + 0.5 * rng.standard_t(4.0, n),
        "poisson": lambda: rng.poisson(3.2, n).astype(float),
        "negative_binomial": lambda: rng.negative_binomial(2, 0.3, n).astype(float),
        "geometric": lambda: rng.geometric(0.3, n) - 1.0,
    }[family]()


def strikes() -> np.ndarray:
    return load_dataset("strikes")["duration"].to_numpy(float)


def michelson() -> np.ndarray:
    return load_dataset("michelson")["speed"].to_numpy(float)


def randhie() -> np.ndarray:
    return load_dataset("randhie")["mdvis"].to_numpy(float)


def fit(family, x, **settings):
    result = MaximumLikelihood(family, **settings).fit(x)
    assert result.converged_
    return result


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("data", ["sim", "michelson"])
def test_normal_is_the_closed_form_with_exact_information(data):
    x = sample("normal") if data == "sim" else michelson()
    m = fit("normal", x)
    n, mean, sd = x.size, x.mean(), x.std()  # the MLE: sd with divisor n
    assert rel(m.params_["mean"], mean) < 1e-13
    assert rel(m.params_["sd"], sd) < 1e-13
    # Inverse information: diag(sd^2 / n, sd^2 / (2 n)), no covariance.
    assert rel(m.std_errors_["mean"], sd / np.sqrt(n)) < 1e-12
    assert rel(m.std_errors_["sd"], sd / np.sqrt(2 * n)) < 1e-12
    assert abs(m.cov_.loc["mean", "sd"]) < 1e-12 * sd**2 / n
    assert rel(m.llf_, stats.norm.logpdf(x, mean, sd).sum()) < 1e-13


@pytest.mark.parametrize("data", ["sim", "strikes"])
def test_exponential_and_lognormal_are_their_closed_forms(data):
    x = sample("exponential") if data == "sim" else strikes()
    n = x.size
    e = fit("exponential", x)
    assert rel(e.params_["scale"], x.mean()) < 1e-13
    assert rel(e.std_errors_["scale"], x.mean() / np.sqrt(n)) < 1e-12  # theta^2 / n
    assert rel(e.llf_, stats.expon.logpdf(x, scale=x.mean()).sum()) < 1e-13

    logx = np.log(x)
    ln = fit("lognormal", x)
    assert rel(ln.params_["meanlog"], logx.mean()) < 1e-13
    assert rel(ln.params_["sdlog"], logx.std()) < 1e-13
    assert rel(ln.std_errors_["meanlog"], logx.std() / np.sqrt(n)) < 1e-12
    assert rel(ln.std_errors_["sdlog"], logx.std() / np.sqrt(2 * n)) < 1e-12
    ref = stats.lognorm.logpdf(x, logx.std(), scale=np.exp(logx.mean())).sum()
    assert rel(ln.llf_, ref) < 1e-13


@pytest.mark.parametrize("data", ["sim", "randhie"])
def test_poisson_and_geometric_are_their_closed_forms(data):
    x = sample("poisson") if data == "sim" else randhie()
    n, mean = x.size, x.mean()
    po = fit("poisson", x)
    assert rel(po.params_["mean"], mean) < 1e-13
    assert rel(po.std_errors_["mean"], np.sqrt(mean / n)) < 1e-12  # I(mu) = n / mu
    assert rel(po.llf_, stats.poisson.logpmf(x, mean).sum()) < 1e-13

    p = 1.0 / (1.0 + mean)
    ge = fit("geometric", x)
    assert rel(ge.params_["p"], p) < 1e-13
    assert rel(ge.std_errors_["p"], np.sqrt(p**2 * (1 - p) / n)) < 1e-12  # I(p) = n/(p^2(1-p))
    assert rel(ge.llf_, stats.geom.logpmf(x, p, loc=-1).sum()) < 1e-13


# --------------------------------------------------------------------------- scipy / statsmodels


@pytest.mark.parametrize("data", ["sim", "strikes"])
def test_gamma_matches_scipy_and_the_closed_form_information(data):
    x = sample("gamma") if data == "sim" else strikes()
    m = fit("gamma", x)
    a, _, scale = stats.gamma.fit(x, floc=0)  # scipy solves the shape equation by root finding
    assert rel(m.params_["shape"], a) < 1e-10
    assert rel(m.params_["scale"], scale) < 1e-10
    k, theta, n = m.params_["shape"], m.params_["scale"], x.size
    # Observed information at the MLE (sum x = n k theta): n [[psi'(k), 1/theta],
    # [1/theta, k/theta^2]].
    info = n * np.array([[special.polygamma(1, k), 1 / theta], [1 / theta, k / theta**2]])
    np.testing.assert_allclose(m.cov_.to_numpy(), np.linalg.inv(info), rtol=1e-10)
    assert rel(m.llf_, stats.gamma.logpdf(x, k, scale=theta).sum()) < 1e-13


def _weibull_reference(x):
    """The Weibull MLE from its profile equation 1/k + mean(log x) = sum x^k log x / sum x^k,
    solved by brentq to 1e-15; scale = mean(x^k)^(1/k)."""
    logx = np.log(x)

    def equation(k):
        xk = (x / x.max()) ** k  # rescaled against overflow; the ratio is unchanged
        return 1 / k + logx.mean() - (xk * logx).sum() / xk.sum()

    k = optimize.brentq(equation, 0.05, 20.0, xtol=1e-15, rtol=1e-15)
    return k, x.max() * np.mean((x / x.max()) ** k) ** (1 / k)


def _tight(func, x0, args=(), disp=0):
    """scipy's default fit optimizer (Nelder-Mead) with tolerances tightened."""
    return optimize.fmin(
        func, x0, args=args, xtol=1e-12, ftol=1e-12, maxiter=20000, maxfun=40000, disp=0
    )


def _numerical_std_errors(logpdf, params, x):
    """Standard errors from statsmodels' numerical Hessian of scipy's log-likelihood."""
    hessian = approx_hess3(np.asarray(params, float), lambda p: -logpdf(x, *p).sum())
    return np.sqrt(np.diag(np.linalg.inv(hessian)))


@pytest.mark.parametrize("data", ["sim", "strikes"])
def test_weibull_matches_the_likelihood_equation_and_scipy(data):
    x = sample("weibull") if data == "sim" else strikes()
    m = fit("weibull", x)
    k, lam = _weibull_reference(x)
    assert rel(m.params_["shape"], k) < 1e-12
    assert rel(m.params_["scale"], lam) < 1e-12
    c, _, scale = stats.weibull_min.fit(x, floc=0, optimizer=_tight)
    assert rel(m.params_["shape"], c) < 1e-6 and rel(m.params_["scale"], scale) < 1e-6
    assert m.llf_ >= stats.weibull_min.logpdf(x, c, scale=scale).sum() - 1e-12 * abs(m.llf_)
    se = _numerical_std_errors(
        lambda x, c, s: stats.weibull_min.logpdf(x, c, scale=s), [k, lam], x
    )
    np.testing.assert_allclose(m.std_errors_.to_numpy(), se, rtol=1e-6)


def test_beta_matches_the_likelihood_equations_and_scipy():
    x = sample("beta")
    m = fit("beta", x)
    mean_log, mean_log1m = np.log(x).mean(), np.log1p(-x).mean()

    def equations(p):  # psi(a) - psi(a + b) = mean log x, psi(b) - psi(a + b) = mean log(1-x)
        a, b = p
        return [
            special.digamma(a) - special.digamma(a + b) - mean_log,
            special.digamma(b) - special.digamma(a + b) - mean_log1m,
        ]

    a, b = optimize.root(equations, [1.0, 1.0], options={"xtol": 1e-15}).x
    assert rel(m.params_["a"], a) < 1e-12 and rel(m.params_["b"], b) < 1e-12
    sa, sb, _, _ = stats.beta.fit(x, floc=0, fscale=1)
    assert rel(m.params_["a"], sa) < 1e-6 and rel(m.params_["b"], sb) < 1e-6
    # Observed = expected information: n [[psi'(a) - psi'(a+b), -psi'(a+b)], [., psi'(b) - .]].
    t = special.polygamma(1, [a, b, a + b])
    info = x.size * np.array([[t[0] - t[2], -t[2]], [-t[2], t[1] - t[2]]])
    np.testing.assert_allclose(m.cov_.to_numpy(), np.linalg.inv(info), rtol=1e-9)
    assert rel(m.llf_, stats.beta.logpdf(x, a, b).sum()) < 1e-12


def test_student_t_matches_a_tightened_scipy_fit_on_simulated_data():
    x = sample("student_t")
    m = fit("student_t", x)
    df, loc, scale = stats.t.fit(x, optimizer=_tight)
    scipy_llf = stats.t.logpdf(x, df, loc, scale).sum()
    assert m.llf_ >= scipy_llf - 1e-12 * abs(scipy_llf)  # scipy reached no higher point
    for name, ref in {"loc": loc, "scale": scale, "df": df}.items():
        assert rel(m.params_[name], ref) < 1e-6, name
    se = _numerical_std_errors(
        lambda x, loc, scale, df: stats.t.logpdf(x, df, loc, scale),
        m.params_[["loc", "scale", "df"]],
        x,
    )
    np.testing.assert_allclose(m.std_errors_.to_numpy(), se, rtol=1e-5)


def test_student_t_finds_the_interior_optimum_of_michelson_that_scipy_misses():
    """scipy's default t.fit drifts to df ~ 3e5 (a near-normal fit); the likelihood has a
    higher interior maximum near df = 21.7, which a tightened scipy fit started there finds."""
    x = michelson()
    m = fit("student_t", x)
    df0, loc0, scale0 = stats.t.fit(x)
    assert m.llf_ > stats.t.logpdf(x, df0, loc0, scale0).sum() + 0.1
    df, loc, scale = stats.t.fit(x, 20.0, loc=x.mean(), scale=x.std(), optimizer=_tight)
    assert m.llf_ >= stats.t.logpdf(x, df, loc, scale).sum() - 1e-12 * abs(m.llf_)
    for name, ref in {"loc": loc, "scale": scale, "df": df}.items():
        assert rel(m.params_[name], ref) < 1e-6, name


# sim: ~5 s on 2 cores, with the slow tests
@pytest.mark.parametrize("data", [pytest.param("sim", marks=pytest.mark.slow), "randhie"])
def test_negative_binomial_matches_statsmodels(data):
    import statsmodels.api as sm

    y = sample("negative_binomial") if data == "sim" else randhie()
    m = fit("negative_binomial", y)
    ref = sm.NegativeBinomial(y, np.ones_like(y)).fit(
        method="newton", maxiter=100, tol=1e-12, disp=0
    )
    mean, alpha = np.exp(ref.params[0]), ref.params[1]
    assert rel(m.params_["mean"], mean) < 1e-10
    assert rel(m.params_["alpha"], alpha) < 1e-10
    # statsmodels estimates log(mean): se(mean) = mean * se(log mean) (delta method).
    assert rel(m.std_errors_["mean"], mean * ref.bse[0]) < 1e-8
    assert rel(m.std_errors_["alpha"], ref.bse[1]) < 1e-8
    assert rel(m.llf_, ref.llf) < 1e-12
    assert rel(m.aic_, ref.aic) < 1e-12 and rel(m.bic_, ref.bic) < 1e-12


# --------------------------------------------------------------------------- units and weights


@pytest.mark.parametrize("factor", [1e-200, 1e200])
def test_results_scale_with_the_data_units(factor):
    x = strikes()
    base = fit("weibull", x)
    scaled = fit("weibull", x * factor)
    assert rel(scaled.params_["shape"], base.params_["shape"]) < 1e-12
    assert rel(scaled.params_["scale"], base.params_["scale"] * factor) < 1e-12
    assert rel(scaled.std_errors_["scale"], base.std_errors_["scale"] * factor) < 1e-9
    # The log-density picks up the Jacobian: llf changes by -n log(factor).
    assert rel(scaled.llf_, base.llf_ - x.size * np.log(factor)) < 1e-12


def test_a_large_common_offset_costs_no_digits():
    x = 1e9 + sample("student_t")
    m = fit("student_t", x)
    centred = fit("student_t", x - 1e9)
    # the same fit up to the rounding of the reported location near 1e9 (one ulp)
    assert abs(m.params_["loc"] - 1e9 - centred.params_["loc"]) <= np.spacing(1e9)
    assert rel(m.params_["df"], centred.params_["df"]) < 1e-12
    assert rel(m.params_["scale"], centred.params_["scale"]) < 1e-12


@pytest.mark.parametrize("family", ["gamma", "student_t", "negative_binomial"])
def test_frequency_weights_equal_repeated_rows(family):
    x = sample(family, n=100)
    w = np.random.default_rng(1).integers(0, 4, x.size)
    weighted = MaximumLikelihood(family).fit(x, sample_weight=w)
    assert weighted.converged_
    repeated = fit(family, np.repeat(x, w))
    pd.testing.assert_frame_equal(weighted.summary(), repeated.summary(), rtol=1e-8)
    assert weighted.nobs_ == w.sum()
    assert rel(weighted.llf_, repeated.llf_) < 1e-12


def test_missing_values_raise_or_drop():
    x = pd.Series([1.0, np.nan, 3.0, 2.5, np.nan], name="duration")
    with pytest.raises(DataError, match=r"duration has 2 missing"):
        MaximumLikelihood("gamma").fit(x)
    dropped = MaximumLikelihood("gamma", missing="drop").fit(x)
    assert dropped.n_dropped_ == 2 and dropped.nobs_ == 3
    assert rel(dropped.params_["shape"], stats.gamma.fit([1.0, 3.0, 2.5], floc=0)[0]) < 1e-9


# --------------------------------------------------------------------------- fixed, solvers


def test_fixed_parameters_are_held_and_not_counted():
    x = strikes()
    m = MaximumLikelihood("gamma", fixed={"shape": 2.0}).fit(x)
    assert m.params_["shape"] == 2.0
    assert rel(m.params_["scale"], x.mean() / 2.0) < 1e-13  # closed form given the shape
    assert np.isnan(m.std_errors_["shape"]) and np.isnan(m.cov_.loc["shape", "scale"])
    # with the shape known, I(theta) = n k / theta^2
    assert rel(m.std_errors_["scale"], m.params_["scale"] / np.sqrt(2.0 * x.size)) < 1e-12
    llf = stats.gamma.logpdf(x, 2.0, scale=x.mean() / 2).sum()
    assert rel(m.llf_, llf) < 1e-13 and rel(m.aic_, 2 - 2 * llf) < 1e-13

    mu0 = 299.85
    normal = MaximumLikelihood("normal", fixed={"mean": mu0}).fit(michelson())
    assert rel(normal.params_["sd"], np.sqrt(np.mean((michelson() - mu0) ** 2))) < 1e-13
    listed = MaximumLikelihood("normal", params0={"mean": mu0}, fixed=["mean"]).fit(michelson())
    assert listed.params_["sd"] == normal.params_["sd"]


@pytest.mark.parametrize("family", ["gamma", "student_t"])
def test_lbfgs_reaches_the_newton_optimum(family):
    x = sample(family, n=64)
    newton = fit(family, x)
    lbfgs = fit(family, x, solver="lbfgs")
    difference = (lbfgs.params_ - newton.params_) / newton.std_errors_
    assert np.max(np.abs(difference)) < 1e-5
    assert rel(lbfgs.llf_, newton.llf_) < 1e-13


def test_student_t_on_normal_data_has_no_finite_df_and_says_so():
    x = np.random.default_rng(2).normal(size=100)  # a seed whose t likelihood peaks at df = inf
    with (
        pytest.warns(ConvergenceWarning, match="df ran off to .* fit family='normal'"),
        pytest.warns(InferenceWarning, match="Hessian is singular"),
    ):
        m = MaximumLikelihood("student_t").fit(x)
    assert m.converged_ is False and m.params_["df"] > 1e6
    # the log-likelihood is flat in df out there: no standard errors, and the reason
    assert m.std_errors_.isna().all() and "singular" in m.cov_note_


def test_non_convergence_warns_and_is_flagged():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = MaximumLikelihood("weibull", max_iter=1).fit(strikes())
    assert m.converged_ is False and m.n_iter_ == 1


def test_float32_is_an_explicit_option():
    x = sample("gamma")
    m = MaximumLikelihood("gamma", dtype="float32").fit(x)
    ref = stats.gamma.fit(x, floc=0)
    assert rel(m.params_["shape"], ref[0]) < 1e-4 and rel(m.params_["scale"], ref[2]) < 1e-4


def test_history_is_the_mean_negative_log_likelihood_in_data_units():
    x = strikes()
    m = fit("weibull", x)
    assert list(m.history_.columns) == ["loss", "grad_norm"]
    assert len(m.history_) == m.n_iter_ + 1
    assert rel(m.history_["loss"].iloc[-1], -m.llf_ / x.size) < 1e-15
    start = FAMILIES["weibull"].start(x, np.ones_like(x), None)  # scale-equivariant
    start_nll = -stats.weibull_min.logpdf(x, start["shape"], scale=start["scale"]).mean()
    assert rel(m.history_["loss"].iloc[0], start_nll) < 1e-12


# --------------------------------------------------------------------------- user functions


def normal_logpdf(params, x):
    import jax.numpy as jnp

    z = (x - params["mu"]) / params["sigma"]
    return -jnp.log(params["sigma"]) - 0.5 * jnp.log(2 * jnp.pi) - 0.5 * z * z


def logistic_logpdf(params, x):
    import jax.numpy as jnp

    z = (x - params["loc"]) / params["scale"]
    return -z - 2.0 * jnp.log1p(jnp.exp(-z)) - jnp.log(params["scale"])


def test_user_logpdf_matches_the_named_family():
    x = michelson()
    user = MaximumLikelihood(
        logpdf=normal_logpdf, params0={"mu": 300.0, "sigma": 0.1}, transforms={"sigma": "log"}
    ).fit(x)
    family = fit("normal", x)
    assert user.converged_
    np.testing.assert_allclose(user.params_.to_numpy(), family.params_.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        user.std_errors_.to_numpy(), family.std_errors_.to_numpy(), rtol=1e-8
    )
    assert list(user.params_.index) == ["mu", "sigma"]
    assert rel(user.llf_, family.llf_) < 1e-12


def test_user_logpdf_matches_scipy_logistic_fit():
    x = sample("student_t")
    m = MaximumLikelihood(
        logpdf=logistic_logpdf,
        params0={"loc": 0.0, "scale": 1.0},
        transforms={"scale": "softplus"},
    ).fit(x)
    assert m.converged_
    loc, scale = stats.logistic.fit(x, optimizer=_tight)
    assert rel(m.params_["loc"], loc) < 1e-6 and rel(m.params_["scale"], scale) < 1e-6
    assert m.llf_ >= stats.logistic.logpdf(x, loc, scale).sum() - 1e-12 * abs(m.llf_)
    assert (
        rel(m.llf_, stats.logistic.logpdf(x, m.params_["loc"], m.params_["scale"]).sum()) < 1e-13
    )


def test_user_logpdf_not_finite_at_params0_is_a_data_error():
    def exponential(params, x):
        import jax.numpy as jnp

        return -jnp.log(params["scale"]) - x / params["scale"] + jnp.log(x)  # needs x > 0

    x = pd.Series([1.0, -2.0, 3.0, -0.5], name="waiting")
    with pytest.raises(DataError, match=r"logpdf is NaN or infinite at params0 for 2 of 4 rows"):
        MaximumLikelihood(logpdf=exponential, params0={"scale": 1.0}).fit(x)


# --------------------------------------------------------------------------- M-estimation


def test_mestimator_huber_location_and_its_sandwich():
    x = sample("student_t")
    c = 1.0

    def huber(params, x):
        import jax.numpy as jnp

        r = jnp.abs(x - params["loc"])
        m = jnp.minimum(r, c)
        return 0.5 * m * (2.0 * r - m)

    m = MEstimator(loss=huber, params0={"loc": 0.0}).fit(x)
    assert m.converged_
    # reference: the root of sum psi(x - mu) = 0 (brentq) and the closed-form sandwich
    # sum psi^2 / (sum psi')^2 (HC0)
    loc = optimize.brentq(lambda mu: np.clip(x - mu, -c, c).sum(), x.min(), x.max(), xtol=1e-14)
    assert abs(m.params_["loc"] - loc) < 1e-12
    r = x - loc
    sandwich = np.sum(np.clip(r, -c, c) ** 2) / np.sum(np.abs(r) <= c) ** 2
    assert rel(m.std_errors_["loc"], np.sqrt(sandwich)) < 1e-10
    hessian_based = MEstimator(loss=huber, params0={"loc": 0.0}, cov_type="nonrobust").fit(x)
    assert rel(hessian_based.cov_.iloc[0, 0], 1.0 / np.sum(np.abs(r) <= c)) < 1e-10
    huber_values = np.where(np.abs(r) <= c, 0.5 * r**2, c * np.abs(r) - c**2 / 2)
    assert rel(m.loss_, np.mean(huber_values)) < 1e-12


def moments(params, x):
    return (x - params["m"][0]) ** 2 + (x**2 - params["m"][1]) ** 2


@pytest.mark.parametrize("units", [1.0, 1e-3])
def test_mestimator_vector_parameters_and_moment_covariance(units):
    """Minimising (x - m0)^2 + (x^2 - m1)^2 gives the first two raw moments; the HC0
    sandwich is then their sample covariance / n (A = 2 I, B = 4 Cov). In small units
    the loss is tiny (1e-12 here), and the stopping test, relative to it, still holds."""
    x = sample("gamma") * units
    m = MEstimator(loss=moments, params0={"m": np.zeros(2)}).fit(x)
    assert m.converged_
    assert list(m.params_.index) == ["m[0]", "m[1]"]
    np.testing.assert_allclose(m.params_.to_numpy(), [x.mean(), np.mean(x**2)], rtol=1e-12)
    expected = np.cov(np.vstack([x, x**2]), bias=True) / x.size
    np.testing.assert_allclose(m.cov_.to_numpy(), expected, rtol=1e-9)


def test_poisson_sandwich_is_the_variance_over_n():
    """Poisson QMLE of the mean: H = n / mu, B = n var / mu^2, so H^-1 B H^-1 = var / n
    (var with divisor n); randhie is over-dispersed, so it exceeds mu / n."""
    x = randhie()
    m = fit("poisson", x, cov_type="HC0")
    assert rel(m.std_errors_["mean"], np.sqrt(x.var() / x.size)) < 1e-10
    assert m.std_errors_["mean"] > 2 * np.sqrt(x.mean() / x.size)


def test_normal_quasi_likelihood_sandwich_has_the_closed_form():
    """Normal MLE on skewed data: the HC0 sandwich is Var(mean) = m2/n, Var(sd) =
    (m4 - m2^2) / (4 m2 n), Cov = m3 / (2 sd n) with central moments m_k."""
    x = sample("gamma")
    n, d = x.size, x - x.mean()
    m2, m3, m4 = (np.mean(d**k) for k in (2, 3, 4))
    expected = np.array(
        [
            [m2 / n, m3 / (2 * np.sqrt(m2) * n)],
            [m3 / (2 * np.sqrt(m2) * n), (m4 - m2**2) / (4 * m2 * n)],
        ]
    )
    ml = MaximumLikelihood("normal", cov_type="HC0").fit(x)
    np.testing.assert_allclose(ml.cov_.to_numpy(), expected, rtol=1e-10)
    me = MEstimator(
        loss=lambda p, x: -normal_logpdf(p, x),
        params0={"mu": 0.0, "sigma": 1.0},
        transforms={"sigma": "log"},
    ).fit(x)
    np.testing.assert_allclose(me.cov_.to_numpy(), expected, rtol=1e-8)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "family, values, pattern",
    [
        ("exponential", [1.0, 0.0, -2.0, 3.0], r"2 non-positive value\(s\) out of 4 rows"),
        ("gamma", [1.0, -1.0, 2.0], r"1 non-positive value\(s\) out of 3 rows"),
        ("weibull", [0.0, 1.0, 2.0], r"1 non-positive"),
        ("lognormal", [-1.0, 1.0, 2.0], r"1 non-positive"),
        ("beta", [0.2, 1.0, 0.0, 1.5, 0.5], r"1 value\(s\) <= 0 and 2 value\(s\) >= 1 out of 5"),
        ("poisson", [1.0, -1.0, 2.5, 3.0], r"1 negative value\(s\) and 1 non-integer value\(s\)"),
        ("negative_binomial", [0.0, 1.5, 2.0, 9.0], r"1 non-integer value\(s\) out of 4"),
        ("geometric", [-3.0, 1.0, 2.0], r"1 negative value\(s\)"),
    ],
)
def test_values_outside_the_support_are_data_errors(family, values, pattern):
    x = pd.Series(values, name="y", index=[f"r{i}" for i in range(len(values))])
    with pytest.raises(DataError, match=pattern) as info:
        MaximumLikelihood(family).fit(x)
    assert "y has" in str(info.value) and family in str(info.value)


@pytest.mark.parametrize(
    "family, values, pattern",
    [
        ("normal", [2.0, 2.0, 2.0], "fewer than 2 distinct values"),
        ("gamma", [5.0], "fewer than 2 distinct values"),
        ("poisson", [0.0, 0.0], "0 in every row"),
        ("negative_binomial", [1.0, 2.0, 1.0, 2.0], "not over-dispersed"),
    ],
)
def test_samples_without_an_interior_mle_are_data_errors(family, values, pattern):
    with pytest.raises(DataError, match=pattern):
        MaximumLikelihood(family).fit(values)


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"family": "gama"}, r"unknown family 'gama'; valid families are \['normal'"),
        ({"logpdf": normal_logpdf}, "logpdf needs params0"),
        ({}, "exactly one of family"),
        ({"family": "normal", "logpdf": normal_logpdf}, "exactly one of family"),
        ({"family": "normal", "params0": {"loc": 1.0}}, r"params0 names \['loc'\]"),
        ({"family": "normal", "fixed": {"scale": 1.0}}, r"fixed names \['scale'\]"),
        ({"family": "normal", "fixed": {"mean": 1.0, "sd": 2.0}}, "every parameter fixed"),
        ({"family": "normal", "fixed": ["sd"]}, "does not give them"),
        ({"family": "normal", "fixed": {"sd": -1.0}}, r"fixed value of 'sd' .* outside"),
        ({"family": "normal", "cov_type": "robust"}, "valid values are"),
        ({"family": "normal", "solver": "bfgs"}, "valid solvers"),
        ({"family": "normal", "dtype": "float16"}, "valid dtypes"),
        ({"family": "normal", "tol": 0}, "positive"),
        ({"family": "normal", "transforms": {"sd": "log"}}, "transforms= applies to logpdf"),
        (
            {"logpdf": normal_logpdf, "params0": {"mu": 0.0}, "transforms": {"mu": "exp"}},
            "unknown transform 'exp'",
        ),
        (
            {"logpdf": normal_logpdf, "params0": {"mu": 0.0}, "transforms": {"s": "log"}},
            r"transforms names \['s'\]",
        ),
    ],
)
def test_bad_settings_are_settings_errors(settings, pattern):
    with pytest.raises(SettingsError, match=pattern):
        MaximumLikelihood(**settings).fit([1.0, 2.0, 4.0])


class Unhashable:
    __hash__ = None

    def __call__(self, params, x):
        return (x - params["m"]) ** 2


def test_mestimator_settings_errors():
    with pytest.raises(SettingsError, match="needs loss="):
        MEstimator().fit([1.0, 2.0])
    with pytest.raises(SettingsError, match="loss needs params0"):
        MEstimator(loss=lambda p, x: x).fit([1.0, 2.0])
    with pytest.raises(SettingsError, match="must be hashable"):
        MEstimator(loss=Unhashable(), params0={"m": 0.0}).fit([1.0, 2.0])
    with pytest.raises(SettingsError, match="one value per observation"):
        MEstimator(loss=lambda p, x: (x - p["m"]).sum(), params0={"m": 0.0}).fit([1.0, 2.0])


# --------------------------------------------------------------------------- API


def test_estimator_api_summary_and_clone():
    m = MaximumLikelihood("gamma", tol=1e-6)
    assert m.get_params()["family"] == "gamma" and m.get_params()["solver"] == "newton"
    assert repr(m) == "MaximumLikelihood(family='gamma', tol=1e-06)"
    fitted = clone(m).fit(pd.Series(strikes(), name="duration"))
    assert fitted.variable_ == "duration"
    table = fitted.summary()
    assert list(table.index) == ["shape", "scale"]
    assert list(table.columns) == [
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "ci_lower",
        "ci_upper",
    ]
    z = stats.norm.ppf(0.975)
    ci = fitted.conf_int()
    np.testing.assert_allclose(ci["ci_upper"], fitted.params_ + z * fitted.std_errors_, rtol=1e-14)
    assert fitted.df_resid_ is None
    k, n = 2, fitted.nobs_
    assert rel(fitted.bic_, k * np.log(n) - 2 * fitted.llf_) < 1e-14


def test_every_family_is_documented_and_registered():
    doc = distributions.__doc__
    for name, family in FAMILIES.items():
        assert f"``{name}``" in doc and family.scipy in doc
        for param in family.params:
            assert param in doc


@pytest.mark.parametrize("module", [distributions, likelihood])
def test_docstring_examples(module):
    with warnings.catch_warnings():
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("factor", [2.0**996, 2.0**-996])
def test_normal_near_the_ends_of_float64_keeps_its_closed_form_without_warnings(factor):
    """Data near 1e300 (or 1e-300): the variances (about 1e600) leave float64, the
    estimates and SEs do not; no numpy RuntimeWarning (inf times a zero covariance was
    NaN). The closed form (mean, sd with divisor n, SEs sd / sqrt(n), sd / sqrt(2n)) of
    the unscaled data, scaled back by a power of two (exact), is the reference."""
    x = sample("normal")
    n, mean, sd = x.size, x.mean(), x.std()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = fit("normal", x * factor)
    assert rel(m.params_["mean"], mean * factor) < 1e-13
    assert rel(m.params_["sd"], sd * factor) < 1e-13
    assert rel(m.std_errors_["mean"], sd / np.sqrt(n) * factor) < 1e-12
    assert rel(m.std_errors_["sd"], sd / np.sqrt(2 * n) * factor) < 1e-12
    assert m.cov_note_ is None


def test_poisson_counts_too_large_for_float64_derivatives_are_a_data_error():
    """Counts with a mean above 2**510: a DataError naming x and counting the rows;
    below it the closed form (the mean, SE sqrt(mean / n)) still holds."""
    counts = np.random.default_rng(4).poisson(3.0, 40).astype(float)
    with pytest.raises(DataError, match=r"x has \d+ counts above 2\*\*510 .* out of 40 rows"):
        MaximumLikelihood("poisson").fit(pd.Series(counts * 1e300, name="x"))
    big = counts * 1e150
    m = MaximumLikelihood("poisson").fit(big)
    assert rel(m.params_["mean"], big.mean()) < 1e-13
    assert rel(m.std_errors_["mean"], np.sqrt(big.mean() / big.size)) < 1e-12


def test_equilibrated_inverse_is_unit_free_and_keeps_singular_hessians_singular():
    """H = diag(3e5, 1e-35) is regular (condition 1 once equilibrated): its exact
    inverse. [[1, 1], [1, 1]] is singular in any units: NaN and the reason."""
    inverse, reason = likelihood._equilibrated_inverse(np.diag([3e5, 1e-35]), equilibrate=True)
    assert reason is None
    np.testing.assert_allclose(np.diag(inverse), [1 / 3e5, 1e35], rtol=1e-15)
    _, reason = likelihood._equilibrated_inverse(np.diag([3e5, 1e-35]), equilibrate=False)
    assert "singular" in reason  # the unscaled rule, kept at an estimate on an edge
    singular = np.array([[4.0, 2.0], [2.0, 1.0]])
    inverse, reason = likelihood._equilibrated_inverse(singular, equilibrate=True)
    assert np.isnan(inverse).all() and "singular" in reason
