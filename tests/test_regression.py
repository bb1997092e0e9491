"""LinearRegression and Ridge: NIST StRD accuracy, agreement with statsmodels and scikit-learn.

References, each computed live in the test:
- exact rational least squares (``fractions``) of the float64 design;
- NIST StRD certified values (tests/data/nist/linear, see its README);
- statsmodels 0.15 ``OLS`` / ``WLS`` (``method="pinv"``, its default);
- scikit-learn 1.9 ``Ridge(solver="cholesky")``.
"""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from estimators.datasets import load_dataset

from estimators import lstsq
from estimators.errors import ConvergenceWarning, DataError, InferenceWarning, SettingsError
from estimators.frame import aligned_empty, as_design
from estimators.losses import squared_deviation, weighted_mean
from estimators.lstsq import augmented_residuals, two_prod, two_sum
from estimators.numerics import bucket_size
from estimators.regression import LinearRegression, Ridge
from estimators.solve import x64_context

NIST_LINEAR = Path(__file__).parent / "data" / "nist" / "linear"
NIST_SETS = sorted(p.stem for p in NIST_LINEAR.glob("*.json"))


# --------------------------------------------------------------------------- helpers


def lre(estimate: float, certified: float) -> float:
    """Log relative error (correct digits), capped at 15; absolute error when certified is 0."""
    error = (
        abs(estimate - certified) if certified == 0 else abs(estimate - certified) / abs(certified)
    )
    return 15.0 if error == 0 else min(15.0, -math.log10(error))


def nist_problem(name: str):
    """The design as NIST's ``design`` field describes it (powers computed in float64)."""
    data = json.loads((NIST_LINEAR / f"{name}.json").read_text())
    spec = data["design"]
    x = np.array(data["x"], dtype=float)
    if spec["polynomial_degree"] is None:
        X = x
    else:
        X = np.column_stack([x[:, 0] ** k for k in range(1, spec["polynomial_degree"] + 1)])
    return X, np.array(data["y"], dtype=float), spec["intercept"], data["certified"]


def exact_least_squares(X: np.ndarray, y: np.ndarray) -> list[Fraction]:
    """The exact least-squares solution of the float64 data: normal equations in fractions."""
    Xf = [[Fraction(v) for v in row] for row in X.tolist()]
    yf = [Fraction(v) for v in y.tolist()]
    p = X.shape[1]
    M = [
        [sum(row[a] * row[b] for row in Xf) for b in range(p)]
        + [sum(row[a] * v for row, v in zip(Xf, yf, strict=True))]
        for a in range(p)
    ]
    for k in range(p):  # Gauss-Jordan elimination, exact
        pivot = next(i for i in range(k, p) if M[i][k] != 0)
        M[k], M[pivot] = M[pivot], M[k]
        for i in range(p):
            if i != k and M[i][k] != 0:
                factor = M[i][k] / M[k][k]
                M[i] = [a - factor * b for a, b in zip(M[i], M[k], strict=True)]
    return [M[k][p] / M[k][k] for k in range(p)]


@pytest.fixture(scope="module")
def stackloss():
    data = load_dataset("stackloss")
    return data[["airflow", "watertemp", "acidconc"]], data["stackloss"]


@pytest.fixture(scope="module")
def longley():
    data = load_dataset("longley")
    return data.drop(columns="TOTEMP"), data["TOTEMP"]


def weights_for(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 3.0, n)


# --------------------------------------------------------------------------- double-double


def test_double_double_products_are_exact_inside_jit_scan_and_fori():
    """The FMA contraction XLA:CPU applies to ``c + a * b`` must not break the product."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=200) * np.exp(rng.normal(size=200) * 20)
    b = rng.normal(size=200) * np.exp(rng.normal(size=200) * 20)
    c = rng.normal(size=200)

    def fused(a, b, c):  # the product feeding an addition, the pattern LLVM contracts
        hi, lo = two_prod(a, b)
        s, e = two_sum(c, hi)
        return s, e + lo

    def in_loop(a, b, c):
        return jax.lax.fori_loop(0, 1, lambda i, s: fused(a, b, c), (c, c))

    for fn in (fused, in_loop):
        with x64_context("float64"):
            s, e = (np.asarray(v) for v in jax.jit(fn)(a, b, c))
        for i in range(200):
            product, addend = Fraction(a[i]) * Fraction(b[i]), Fraction(c[i])
            got = Fraction(s[i]) + Fraction(e[i])
            bound = (abs(product) + abs(addend)) * Fraction(2) ** -100
            assert abs(got - product - addend) <= bound


def test_augmented_residuals_are_the_exact_residuals_rounded_once():
    rng = np.random.default_rng(1)
    n, p = 48, 5
    A = rng.normal(size=(n, p))
    x = rng.normal(size=p) * 1e3
    r = rng.normal(size=n) * 1e-3
    b = A @ x + r + rng.normal(size=n) * 1e-10  # f = b - r - A x cancels 13 digits
    with x64_context("float64"):
        f, g = jax.jit(augmented_residuals, static_argnums=4)(A, b, r, x, 16)
    dd_unit = Fraction(2) ** -104  # double-double precision, with a little room
    for i in range(n):
        terms = [Fraction(b[i]), -Fraction(r[i])]
        terms += [-Fraction(A[i, j]) * Fraction(x[j]) for j in range(p)]
        exact = sum(terms)
        bound = abs(exact) * Fraction(2) ** -53 + dd_unit * sum(abs(t) for t in terms)
        assert abs(Fraction(float(f[i])) - exact) <= bound
    for j in range(p):
        terms = [-Fraction(A[i, j]) * Fraction(r[i]) for i in range(n)]
        exact = sum(terms)
        bound = abs(exact) * Fraction(2) ** -53 + dd_unit * sum(abs(t) for t in terms)
        assert abs(Fraction(float(g[j])) - exact) <= bound


# --------------------------------------------------------------------------- NIST StRD

# Minimum LRE asserted per set (params, std errors, residual SD, R^2): measured
# values less a margin of at least half a digit. Filip's float64 design itself
# limits any method to 7.6-7.7 digits: the exact least-squares solution of the
# rounded data is 7.6 digits from the certified one (test below).
NIST_MIN_LRE = {name: (12.0, 12.0, 12.0, 12.0) for name in NIST_SETS}
NIST_MIN_LRE["Filip"] = (7.0, 8.0, 9.0, 11.0)


@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_linear_certified_values(name):
    X, y, intercept, certified = nist_problem(name)
    fit = LinearRegression(fit_intercept=intercept).fit(X, y)
    assert fit.converged_
    min_params, min_se, min_sd, min_r2 = NIST_MIN_LRE[name]
    params = [float(v) for v in certified["params"]]
    ses = [float(v) for v in certified["std_errors"]]
    digits = [lre(a, b) for a, b in zip(fit.params_, params, strict=True)]
    assert min(digits) >= min_params, (name, digits)
    digits = [lre(a, b) for a, b in zip(fit.std_errors_, ses, strict=True)]
    assert min(digits) >= min_se, (name, digits)
    assert lre(math.sqrt(fit.scale_), float(certified["residual_sd"])) >= min_sd
    assert lre(fit.rsquared_, float(certified["r_squared"])) >= min_r2
    assert fit.df_resid_ == certified["df_residual"]


@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_linear_matches_exact_least_squares_of_the_float64_data(name):
    """The accurate path returns the exact solution of the data as given, correctly rounded
    or within an ulp or two: 14 digits and more, Filip included."""
    X, y, intercept, _ = nist_problem(name)
    fit = LinearRegression(fit_intercept=intercept).fit(X, y)
    design = np.column_stack([np.ones(len(y)), X]) if intercept else X
    exact = exact_least_squares(design, y)
    digits = [lre(a, float(b)) for a, b in zip(fit.params_, exact, strict=True)]
    assert min(digits) >= 14, (name, digits)


def test_plain_qr_without_refinement_is_not_enough_on_filip():
    """The refinement is what makes the digits: one QR solve alone (max_iter=0)."""
    X, y, _, _ = nist_problem("Filip")
    design = np.column_stack([np.ones(len(y)), X])
    exact = [float(v) for v in exact_least_squares(design, y)]
    with pytest.warns(ConvergenceWarning):
        plain = LinearRegression(max_iter=0).fit(X, y)
    refined = LinearRegression().fit(X, y)
    assert not plain.converged_ and plain.n_iter_ == 0
    plain_digits = min(lre(a, b) for a, b in zip(plain.params_, exact, strict=True))
    refined_digits = min(lre(a, b) for a, b in zip(refined.params_, exact, strict=True))
    assert plain_digits < 10 < 14 <= refined_digits


# --------------------------------------------------------------------------- statsmodels


@pytest.mark.parametrize("data", ["longley", "stackloss"])
def test_ols_matches_statsmodels(data, request):
    X, y = request.getfixturevalue(data)
    fit = LinearRegression().fit(X, y)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    assert list(fit.params_.index) == ["Intercept", *X.columns]
    np.testing.assert_allclose(fit.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors_, ref.bse, rtol=1e-10)
    np.testing.assert_allclose(fit.cov_, ref.cov_params(), rtol=1e-9)  # ~ se^2: 2x the error
    assert fit.rsquared_ == pytest.approx(ref.rsquared, rel=1e-12)
    assert fit.rsquared_adj_ == pytest.approx(ref.rsquared_adj, rel=1e-12)
    # statsmodels' own pinv solution has ~11 correct digits on Longley (NIST), so its
    # residual sum of squares is compared at 1e-10; NIST's certified values check ours.
    assert fit.scale_ == pytest.approx(ref.scale, rel=1e-10)
    assert fit.rss_ == pytest.approx(ref.ssr, rel=1e-10)
    assert fit.df_resid_ == ref.df_resid and fit.df_model_ == ref.df_model
    assert fit.nobs_ == ref.nobs
    table = fit.summary()
    np.testing.assert_allclose(table["statistic"], ref.tvalues, rtol=1e-10)
    np.testing.assert_allclose(table["p_value"], ref.pvalues, rtol=1e-8)
    np.testing.assert_allclose(table[["ci_lower", "ci_upper"]], ref.conf_int(), rtol=1e-10)


@pytest.mark.parametrize("data", ["longley", "stackloss"])
def test_wls_matches_statsmodels(data, request):
    X, y = request.getfixturevalue(data)
    w = weights_for(len(y))
    fit = LinearRegression().fit(X, y, sample_weight=w)
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit()
    np.testing.assert_allclose(fit.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors_, ref.bse, rtol=1e-10)
    assert fit.rsquared_ == pytest.approx(ref.rsquared, rel=1e-12)
    assert fit.rsquared_adj_ == pytest.approx(ref.rsquared_adj, rel=1e-12)
    assert fit.scale_ == pytest.approx(ref.scale, rel=1e-10)  # see test_ols_matches_statsmodels
    assert fit.df_resid_ == ref.df_resid


def test_weights_are_precision_weights(stackloss):
    """Multiplying every weight by a constant changes nothing (statsmodels WLS semantics)."""
    X, y = stackloss
    w = weights_for(len(y))
    a = LinearRegression().fit(X, y, sample_weight=w)
    b = LinearRegression().fit(X, y, sample_weight=1000.0 * w)
    pd.testing.assert_frame_equal(a.summary(), b.summary(), rtol=1e-12)
    assert a.nobs_ == b.nobs_ == len(y)


def test_zero_weight_rows_are_left_out(stackloss):
    """Rows of weight 0 count neither in nobs_ nor in df_resid_: as if they were dropped."""
    X, y = stackloss
    w = weights_for(len(y))
    w[[2, 5, 11]] = 0.0
    fit = LinearRegression().fit(X, y, sample_weight=w)
    keep = w > 0
    ref = sm.WLS(y[keep], sm.add_constant(X[keep]), weights=w[keep]).fit()
    np.testing.assert_allclose(fit.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors_, ref.bse, rtol=1e-10)
    assert fit.nobs_ == 18 and fit.df_resid_ == 14 == ref.df_resid


def test_no_intercept_matches_statsmodels_with_uncentred_rsquared(stackloss):
    X, y = stackloss
    fit = LinearRegression(fit_intercept=False).fit(X, y)
    ref = sm.OLS(y, X).fit()
    assert list(fit.params_.index) == list(X.columns)
    np.testing.assert_allclose(fit.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors_, ref.bse, rtol=1e-10)
    assert fit.rsquared_ == pytest.approx(ref.rsquared, rel=1e-12)  # uncentred
    assert fit.rsquared_adj_ == pytest.approx(ref.rsquared_adj, rel=1e-12)
    assert fit.df_model_ == ref.df_model == 3


# --------------------------------------------------------------------------- the two paths


LARGE = 20_000  # rows: n * p above SMALL_DESIGN, so the fast path is considered


def large_problem(seed=0, n=LARGE, weighted=False):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)) * [1, 10, 0.1] + [0, 50, 5], columns=["a", "b", "c"])
    y = pd.Series(X.to_numpy() @ [1.0, -0.5, 3.0] + 4 + rng.normal(size=n), name="y")
    return X, y, (weights_for(n, seed) if weighted else None)


@pytest.mark.parametrize("weighted", [False, True])
def test_fast_path_on_a_large_well_conditioned_design(weighted):
    X, y, w = large_problem(weighted=weighted)
    fast = LinearRegression().fit(X, y, sample_weight=w)
    accurate = LinearRegression(tol=0).fit(X, y, sample_weight=w)
    assert fast.path_ == "normal_equations" and accurate.path_ == "qr_refined"
    assert fast.converged_ and fast.n_iter_ == 1
    ref = sm.WLS(y, sm.add_constant(X), weights=1.0 if w is None else w).fit()
    np.testing.assert_allclose(fast.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fast.std_errors_, ref.bse, rtol=1e-10)
    assert fast.rsquared_ == pytest.approx(ref.rsquared, rel=1e-12)
    # the estimated error that let the fast path stand is honest
    np.testing.assert_allclose(fast.params_, accurate.params_, rtol=1e-12)
    np.testing.assert_allclose(fast.std_errors_, accurate.std_errors_, rtol=1e-12)


def test_ill_conditioned_large_design_takes_the_accurate_path():
    """A cubic in a calendar year (1950 +- 30): kappa^2 eps > 1, normal equations fail."""
    rng = np.random.default_rng(2)
    year = rng.uniform(1920, 1980, LARGE)
    X = np.column_stack([year, year**2, year**3])
    y = 1e-3 * (year - 1950) ** 2 + rng.normal(size=year.size)
    fit = LinearRegression().fit(X, y)
    assert fit.path_ == "qr_refined" and fit.converged_
    assert fit.condition_number_ > 1e7
    exact = [float(v) for v in exact_least_squares(np.column_stack([np.ones(len(y)), X]), y)]
    assert min(lre(a, b) for a, b in zip(fit.params_, exact, strict=True)) >= 14
    # the rule was right to refuse the fast path: forced (tol=1), it has ~5 digits
    forced = LinearRegression(tol=1.0).fit(X, y)
    assert forced.path_ == "normal_equations"
    assert min(lre(a, b) for a, b in zip(forced.params_, exact, strict=True)) < 8


@pytest.mark.parametrize("unit_weights", [True, False])
def test_weighted_gram_sums_every_block_and_the_remainder(unit_weights):
    """Blocks of ROW_BLOCK rows and a shorter last one: every row counted once."""
    rng = np.random.default_rng(4)
    n = 2 * lstsq.ROW_BLOCK + 37
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    w = np.ones(n) if unit_weights else weights_for(n)
    with x64_context("float64"):
        gram = jax.jit(lstsq.weighted_gram, static_argnames="unit_weights")
        G = np.asarray(gram(X, y, w, unit_weights=unit_weights))
    Z = np.column_stack([X, y])
    np.testing.assert_allclose(G, (Z * w[:, None]).T @ Z, rtol=1e-13)  # numpy's GEMM


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [bucket_size(LARGE), LARGE])
def test_fast_path_reads_an_aligned_design_in_place(n, weighted, monkeypatch):
    """as_design hands over a 64-byte-aligned X; the fast path must not copy it when
    n is already a size bucket, and otherwise copies it once, into an aligned buffer
    of the bucket's length (zero-weight rows: numerics.padded_length)."""
    seen = []
    kernel = lstsq.normal_equations

    def spy(X, *args, **kwargs):
        seen.append((X.unsafe_buffer_pointer(), X.shape))
        return kernel(X, *args, **kwargs)

    monkeypatch.setattr(lstsq, "normal_equations", spy)
    frame, y, w = large_problem(n=n, weighted=weighted)
    X = aligned_empty((n, 4))
    X[:, 0], X[:, 1:] = 1.0, frame.to_numpy()
    w = np.ones(n) if w is None else w
    out = lstsq.solve_least_squares(X, y.to_numpy(), w)
    assert out.path == "normal_equations"
    if n == bucket_size(n):
        assert seen == [(X.ctypes.data, (n, 4))]
    else:
        assert len(seen) == 1 and seen[0][0] % 64 == 0 and seen[0][1] == (bucket_size(n), 4)


@pytest.mark.parametrize("weighted", [False, True])
def test_fast_path_with_a_ridge_penalty_agrees_with_the_accurate_path(weighted):
    X, y, w = large_problem(weighted=weighted)
    design = as_design(X, y, sample_weight=w)
    args = (design.X, design.y, design.weights)
    settings = {"alpha": 50.0, "penalised": np.array([0.0, 1.0, 1.0, 1.0])}
    fast = lstsq.solve_least_squares(*args, **settings)
    accurate = lstsq.solve_least_squares(*args, **settings, tol=0)
    assert fast.path == "normal_equations" and accurate.path == "qr_refined"
    np.testing.assert_allclose(fast.coef, accurate.coef, rtol=1e-12)
    assert fast.rss == pytest.approx(accurate.rss, rel=1e-12)


def test_direct_solver_says_why_it_stopped(stackloss):
    X, y = stackloss
    assert (
        LinearRegression().fit(X, y).solution_.message.startswith("converged: Householder QR and")
    )
    fast = LinearRegression().fit(*large_problem()[:2])
    assert fast.solution_.message.startswith("converged: normal equations")
    # a stop short of tol explains itself in the solver's terms, with a hint that fits it
    Xf, yf, _, _ = nist_problem("Filip")
    with pytest.warns(ConvergenceWarning) as record:
        LinearRegression(max_iter=0).fit(Xf, yf)
    message = str(record[0].message)
    assert "max_iter=0 refinement step(s) ran out" in message
    assert "nearly rank deficient" in message
    assert "learning_rate" not in message and "line search" not in message
    with pytest.warns(ConvergenceWarning, match="use the direct solver='qr'"):
        LinearRegression(solver="lbfgs", tol=1e-30).fit(X, y, sample_weight=np.ones(21))


# --------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_iterative_solvers_minimise_the_same_loss(solver, stackloss):
    X, y = stackloss
    w = weights_for(len(y))
    direct = LinearRegression().fit(X, y, sample_weight=w)
    iterative = LinearRegression(solver=solver).fit(X, y, sample_weight=w)
    assert iterative.converged_ and iterative.path_ == solver
    np.testing.assert_allclose(iterative.params_, direct.params_, rtol=1e-10)
    np.testing.assert_allclose(iterative.std_errors_, direct.std_errors_, rtol=1e-10)
    assert iterative.history_["loss"].iloc[-1] == pytest.approx(direct.rss_ / w.sum(), rel=1e-12)


def test_direct_solution_and_history(stackloss):
    X, y = stackloss
    fit = LinearRegression().fit(X, y)
    assert fit.solution_.converged and fit.n_iter_ >= 1
    assert list(fit.history_.columns) == ["loss", "grad_norm"]
    assert len(fit.history_) == fit.n_iter_ + 1
    # the loss is the mean squared residual, in data units, at every refinement step
    assert fit.history_["loss"].iloc[-1] == pytest.approx(fit.rss_ / len(y), rel=1e-14)
    residual = y - fit.predict(X)
    assert fit.rss_ == pytest.approx(float(residual @ residual), rel=1e-13)
    # the gradient of the mean squared residual (the library's own loss) vanishes there
    Z = np.column_stack([np.ones(len(y)), X])
    with x64_context("float64"):
        grad = jax.grad(
            lambda b: weighted_mean(squared_deviation(jnp.asarray(y.to_numpy()) - Z @ b))
        )(jnp.asarray(fit.params_.to_numpy()))
    terms = 2 * np.abs(Z).T @ np.abs(residual.to_numpy()) / len(y)  # size of its summands
    assert np.all(np.abs(np.asarray(grad)) <= 1e-13 * terms)


def test_non_convergence_is_flagged(stackloss):
    X, y = stackloss
    with pytest.warns(ConvergenceWarning):  # 1e-30 standard errors: beyond float64
        fit = LinearRegression(solver="lbfgs", tol=1e-30).fit(X, y, sample_weight=np.ones(21))
    assert not fit.converged_


# --------------------------------------------------------------------------- ridge


@pytest.mark.parametrize("alpha", [0.0, 0.5, 30.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_scikit_learn(alpha, weighted, fit_intercept, stackloss):
    from sklearn.linear_model import Ridge as SklearnRidge

    X, y = stackloss
    w = weights_for(len(y)) if weighted else None
    fit = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    ref = SklearnRidge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky", tol=1e-15)
    ref.fit(X.to_numpy(), y.to_numpy(), sample_weight=w)
    slopes = fit.params_.drop("Intercept") if fit_intercept else fit.params_
    np.testing.assert_allclose(slopes, ref.coef_, rtol=1e-10)
    if fit_intercept:
        assert fit.params_["Intercept"] == pytest.approx(ref.intercept_, rel=1e-10)
    np.testing.assert_allclose(fit.predict(X), ref.predict(X.to_numpy()), rtol=1e-12)


def test_ridge_standard_errors_are_the_documented_sandwich(stackloss):
    X, y = stackloss
    w = weights_for(len(y))
    alpha = 7.0
    fit = Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    Z = np.column_stack([np.ones(len(y)), X])
    gram = Z.T @ (w[:, None] * Z)
    M = gram + alpha * np.diag([0.0, 1, 1, 1])
    Minv = np.linalg.inv(M)
    df = np.trace(Minv @ gram)
    residual = y.to_numpy() - Z @ fit.params_.to_numpy()
    s2 = np.sum(w * residual**2) / (len(y) - df)
    np.testing.assert_allclose(fit.cov_, s2 * Minv @ gram @ Minv, rtol=1e-9)
    assert fit.df_resid_ == pytest.approx(len(y) - df, rel=1e-12)
    assert fit.df_model_ == pytest.approx(df - 1, rel=1e-12)
    assert 0 < fit.df_model_ < 3


def test_ridge_with_alpha_zero_is_ordinary_least_squares(longley):
    X, y = longley
    ridge = Ridge(alpha=0.0).fit(X, y)
    ols = LinearRegression().fit(X, y)
    pd.testing.assert_frame_equal(ridge.summary(), ols.summary(), rtol=1e-12)


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf"), "1", True])
def test_ridge_rejects_bad_alpha(alpha, stackloss):
    with pytest.raises(SettingsError, match="alpha"):
        Ridge(alpha=alpha).fit(*stackloss)


# --------------------------------------------------------------------------- API and errors


def test_predict_returns_a_series_aligned_to_the_index(stackloss):
    X, y = stackloss
    fit = LinearRegression().fit(X, y)
    new = X.iloc[[3, 0, 7]].set_axis(["c", "a", "b"])[["acidconc", "airflow", "watertemp"]]
    predicted = fit.predict(new)
    assert isinstance(predicted, pd.Series)
    assert list(predicted.index) == ["c", "a", "b"]
    assert predicted.name == "predicted_stackloss"
    expected = (
        fit.params_["Intercept"] + new[X.columns].to_numpy() @ fit.params_[X.columns].to_numpy()
    )
    np.testing.assert_allclose(predicted, expected, rtol=1e-14)
    arrays = LinearRegression().fit(X.to_numpy(), y.to_numpy())
    np.testing.assert_allclose(arrays.predict(X.to_numpy()), fit.predict(X), rtol=1e-14)


@pytest.mark.parametrize(
    "extra, culprit",
    [
        (lambda X: X.assign(constant=2.5), "constant"),
        (lambda X: X.assign(airflow_again=X["airflow"]), "airflow_again"),
        (lambda X: X.assign(total=X["airflow"] + X["watertemp"]), "total"),
        (lambda X: X.assign(zero=0.0), "zero"),
    ],
)
def test_collinear_columns_are_named(extra, culprit, stackloss):
    X, y = stackloss
    with pytest.raises(DataError, match=f"rank deficient: column\\(s\\) \\['{culprit}'\\]"):
        LinearRegression().fit(extra(X), y)


def test_numerically_collinear_column_is_named(stackloss):
    X, y = stackloss
    noisy = X.assign(almost=X["airflow"] + 1e-14 * np.random.default_rng(0).normal(size=len(y)))
    with pytest.raises(DataError, match="almost"):
        LinearRegression().fit(noisy, y)


def test_exact_fit_has_no_residual_degrees_of_freedom():
    X = np.array([[1.0], [2.0]])
    with pytest.warns(InferenceWarning, match="no residual degrees of freedom"):
        fit = LinearRegression().fit(X, [1.0, 3.0])
    np.testing.assert_allclose(fit.params_, [-1.0, 2.0], rtol=1e-14)
    assert np.isnan(fit.std_errors_).all() and fit.df_resid_ == 0
    assert "no residual degrees of freedom" in fit.cov_note_


def test_missing_values_drop_or_raise(stackloss):
    X, y = stackloss
    X = X.copy()
    X.iloc[4, 1] = np.nan
    with pytest.raises(DataError, match="missing"):
        LinearRegression().fit(X, y)
    fit = LinearRegression(missing="drop").fit(X, y)
    assert fit.n_dropped_ == 1 and fit.nobs_ == len(y) - 1
    ref = sm.OLS(y.drop(4), sm.add_constant(X.drop(4))).fit()
    np.testing.assert_allclose(fit.params_, ref.params, rtol=1e-10)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"solver": "cg"}, "solver"),
        ({"tol": -1.0}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"solver": "newton", "tol": 0.0}, "tol"),
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
    ],
)
def test_bad_settings(settings, match, stackloss):
    with pytest.raises(SettingsError, match=match):
        LinearRegression(**settings).fit(*stackloss)


def test_estimator_api():
    from estimators.base import clone

    model = LinearRegression(solver="newton", tol=1e-6)
    assert model.get_params() == {
        "fit_intercept": True,
        "missing": "raise",
        "solver": "newton",
        "tol": 1e-6,
        "max_iter": None,
        "cov_type": "nonrobust",
        "use_t": None,
        "cov_options": None,
    }
    assert repr(model) == "LinearRegression(solver='newton', tol=1e-06)"
    assert clone(Ridge(alpha=3.0)).get_params()["alpha"] == 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 2.0, 3.5]).converged_


@pytest.mark.parametrize("x_power, y_power", [(-500, 400), (600, -300)])
def test_units_change_no_digit(x_power, y_power, longley):
    """Column and response scales are powers of two, so rescaling by one is exact:
    data near 1e-150 or 1e180 give bit-for-bit the same digits, nothing overflows."""
    X, y = longley
    fit = LinearRegression().fit(X, y)
    scaled = LinearRegression().fit(X * 2.0**x_power, y * 2.0**y_power)
    slopes = fit.params_.drop("Intercept") * 2.0 ** (y_power - x_power)
    assert np.array_equal(scaled.params_.drop("Intercept"), slopes)
    assert scaled.params_["Intercept"] == fit.params_["Intercept"] * 2.0**y_power
    np.testing.assert_allclose(
        scaled.std_errors_.drop("Intercept"),
        fit.std_errors_.drop("Intercept") * 2.0 ** (y_power - x_power),
        rtol=1e-15,
    )
    assert scaled.rsquared_ == fit.rsquared_


def test_docstring_examples_run():
    import doctest

    import estimators.regression

    result = doctest.testmod(estimators.regression, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0
    result = doctest.testmod(lstsq, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def test_column_near_1e_minus_300_keeps_finite_standard_errors_without_warnings():
    """A column scaled by 2**-996 (about 1.5e-300): its variance (about 1e599) is beyond
    float64 but its SE is not; no numpy RuntimeWarning, and the SEs are statsmodels 0.15
    OLS's on the unscaled column, scaled back exactly (a power of two)."""
    rng = np.random.default_rng(20261127)
    X = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)})
    y = 0.3 + 0.5 * X["a"] - 0.4 * X["b"] + rng.normal(scale=0.5, size=30)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    tiny = X.assign(b=X["b"] * 2.0**-996)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither a RuntimeWarning nor an InferenceWarning
        fit = LinearRegression().fit(tiny, y)
    unit = np.array([1.0, 1.0, 2.0**996])
    np.testing.assert_allclose(fit.params_, ref.params * unit, rtol=1e-10)
    np.testing.assert_allclose(fit.std_errors_, ref.bse * unit, rtol=1e-10)
    assert fit.cov_note_ is None


def test_ridge_on_one_row_says_why_its_standard_errors_are_nan():
    """One row, no residual degrees of freedom: NaN SEs, one InferenceWarning, and the
    reason in cov_note_ and the summary's notes."""
    with pytest.warns(InferenceWarning, match="no residual degrees of freedom") as caught:
        fit = Ridge().fit(np.array([[1.0, 2.0]]), np.array([3.0]))
    assert len(caught) == 1
    assert np.isnan(fit.std_errors_).all()
    assert "no residual degrees of freedom" in fit.cov_note_
    assert "no residual degrees of freedom" in fit.summary_text()


@pytest.mark.parametrize("cov_type", ["HC0", "HC3", "HAC"])
def test_robust_covariance_beyond_float64_is_nan_with_the_reason(cov_type):
    """A column near 1e-300: the sandwich's bread has a variance near 1e600 (inf in
    float64), so a robust SE would be inf (with a numpy RuntimeWarning): NaN instead,
    one InferenceWarning and the reason in cov_note_. The nonrobust SEs stay finite."""
    rng = np.random.default_rng(20261127)
    X = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30) * 2.0**-996})
    y = 0.3 + 0.5 * X["a"] + rng.normal(scale=0.5, size=30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = LinearRegression(cov_type=cov_type).fit(X, y)
    assert [w.category for w in caught] == [InferenceWarning]
    assert np.isnan(fit.std_errors_).all() and "float64's range" in fit.cov_note_
    assert np.isfinite(fit.params_).all()
