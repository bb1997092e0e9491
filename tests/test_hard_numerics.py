"""Hard numerics beyond the NIST suites (issue 9, item 4).

Reference values are exact: rational arithmetic (``fractions.Fraction``) on the
float64 data, ``math.fsum``, or closed forms, each named where used; scipy is
the reference for the boundary MLEs (``scipy.stats.gamma.fit(floc=0)``, scipy 1.17).

- large common offsets (values near 1e9 and 1e12 that differ in the last digits);
- near-collinear designs (condition numbers 1e6 to 1e10) against the exact
  least-squares solution;
- the float32 option (``dtype="float32"`` exists on ``minimize`` and the
  one-sample estimators; the regressions have none) on n = 1e6: its accuracy,
  measured and bounded;
- maximum likelihood near a boundary: gamma shape near 0, Poisson rate near 0.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.special
from scipy import stats

from estimators.errors import ConvergenceWarning, DataError
from estimators.likelihood import MaximumLikelihood
from estimators.location import Mean
from estimators.regression import LinearRegression
from estimators.scale import StandardDeviation

EPS = np.finfo(float).eps


def _exact_mean(x) -> Fraction:
    return sum(Fraction(v) for v in x) / len(x)


def _exact_sd(x) -> Fraction:
    """The ddof=1 variance, exactly (the SD is its square root, taken in float at the end)."""
    m = _exact_mean(x)
    return sum((Fraction(v) - m) ** 2 for v in x) / (len(x) - 1)


def _exact_least_squares(X: np.ndarray, y: np.ndarray) -> list[Fraction]:
    """The least-squares solution of the float64 data, exactly: the normal equations
    X'X b = X'y solved by Gaussian elimination in rationals."""
    n, p = X.shape
    F = [[Fraction(v) for v in row] for row in X]
    A = [[sum(F[i][j] * F[i][k] for i in range(n)) for k in range(p)] for j in range(p)]
    b = [sum(F[i][j] * Fraction(y[i]) for i in range(n)) for j in range(p)]
    for c in range(p):
        pivot = next(r for r in range(c, p) if A[r][c] != 0)
        A[c], A[pivot], b[c], b[pivot] = A[pivot], A[c], b[pivot], b[c]
        for r in range(p):
            if r != c and A[r][c] != 0:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * a_c for a, a_c in zip(A[r], A[c], strict=True)]
                b[r] -= f * b[c]
    return [b[c] / A[c][c] for c in range(p)]


# --------------------------------------------------------------------------- large offsets


@pytest.mark.parametrize("offset", [1e9, 1e12, -3e14])
def test_mean_and_sd_keep_every_digit_under_a_large_offset(offset):
    rng = np.random.default_rng(11)
    x = offset + rng.integers(-1000, 1000, 500) / 64.0  # exact in float64
    mean = float(Mean().fit(x).params_.iloc[0])
    assert mean == float(_exact_mean(x))  # the correctly rounded mean
    sd = float(StandardDeviation().fit(x).params_.iloc[0])
    exact = math.sqrt(float(_exact_sd(x)))
    assert sd == pytest.approx(exact, rel=4 * EPS)
    # numpy's two-pass std loses digits at this offset; ours does not
    assert abs(sd - exact) <= abs(np.std(x, ddof=1) - exact) + 4 * EPS * exact


@pytest.mark.parametrize("offset", [1e6, 1e9])
def test_regression_with_a_large_offset_in_x(offset):
    """y = 2 + 3 (x - offset) + noise, x near the offset: the intercept is
    2 - 3 offset and must come out as the exact solution does."""
    rng = np.random.default_rng(12)
    n = 40
    u = rng.integers(-200, 200, n) / 16.0
    x = offset + u
    y = 2.0 + 3.0 * u + rng.integers(-50, 50, n) / 32.0
    X = np.column_stack([np.ones(n), x])
    exact = _exact_least_squares(X, y)
    fit = LinearRegression().fit(x[:, None], y)
    got = fit.params_.to_numpy()
    for g, e in zip(got, exact, strict=True):
        assert g == pytest.approx(float(e), rel=1e-12), (got, [float(v) for v in exact])


# --------------------------------------------------------------------------- near-collinear


@pytest.mark.parametrize("gap", [1e-3, 1e-5, 1e-7])
def test_near_collinear_design_matches_the_exact_solution(gap):
    """Two columns that differ by ``gap`` times noise (condition number about 1/gap):
    the coefficients, which are large and opposite, must match the exact
    least-squares solution to about cond * eps (measured: well inside 1e4 cond eps)."""
    rng = np.random.default_rng(13)
    n = 60
    a = rng.normal(size=n)
    b = a + gap * rng.normal(size=n)
    y = 1.0 + 2.0 * a - 1.0 * b + 0.1 * rng.normal(size=n)
    X = np.column_stack([np.ones(n), a, b])
    exact = np.array([float(v) for v in _exact_least_squares(X, y)])
    fit = LinearRegression().fit(np.column_stack([a, b]), y)
    cond = np.linalg.cond(X / np.linalg.norm(X, axis=0))
    error = np.max(np.abs(fit.params_.to_numpy() - exact) / np.abs(exact))
    assert error <= 100 * cond * EPS, (gap, cond, error)
    # and the fitted values, which are well determined, to rounding level
    np.testing.assert_allclose(fit.predict(np.column_stack([a, b])), X @ exact, rtol=1e-12)


# --------------------------------------------------------------------------- float32


@pytest.mark.parametrize(
    "n, tol",
    [(200_000, 1e-3), (10**6, 1e-3), pytest.param(10**6, 1e-8, marks=pytest.mark.slow)],
)
def test_float32_mean_on_large_n(n, tol):
    """dtype="float32" (the only float32 option today: minimize and the one-sample
    estimators; LinearRegression and the GLMs have no dtype setting).

    Measured (this test's data, N(1000, 1)): relative error 1.0e-11 at n = 2e5 and
    2.6e-13 at n = 1e6, far below float32's eps (1.2e-7), because the data are
    centred in float64 and power-of-two scaled before the float32 loop; that is
    below 1e-4 standard errors. The default tol=1e-8 (standard errors) is out of
    float32's reach: the fit runs to max_iter (1000 iterations, 45 s at n = 1e6)
    and says so (ConvergenceWarning, converged_ = False) with the same accurate
    estimate; tol=1e-3 converges in 2 iterations (0.2 s at n = 1e6).
    """
    rng = np.random.default_rng(14)
    x = rng.normal(1000.0, 1.0, n)
    exact = math.fsum(x) / n
    standard_error = float(np.std(x, ddof=1)) / math.sqrt(n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = Mean(dtype="float32", tol=tol).fit(x)
    estimate = float(fit.params_.iloc[0])
    assert abs(estimate - exact) / abs(exact) < 1e-9, (estimate, exact)
    assert abs(estimate - exact) < 1e-4 * standard_error
    flagged = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert flagged == (not fit.converged_)
    assert fit.converged_ == (tol >= 1e-3)


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("shape", [0.5, 0.1, 0.05])
def test_gamma_mle_with_shape_near_zero(shape):
    """Reference: scipy.stats.gamma.fit(x, floc=0) (scipy 1.17), and the exact
    information n [[trigamma(k), 1/theta], [1/theta, k/theta^2]] for the SEs.
    Values as small as 1e-96 occur at shape 0.05. At shapes 0.1 and 0.05 the fit's
    scaled coordinate of the scale is near 4.7e18 (curvature 1e-23 beside 3e5): the
    Hessian is inverted after equilibration (likelihood._equilibrated_inverse), else
    a regular Hessian looks singular and the SEs came out NaN."""
    rng = np.random.default_rng(15)
    x = rng.gamma(shape, 2.0, 3000)
    fit = MaximumLikelihood("gamma").fit(x)
    k, theta = fit.params_.to_numpy()
    k_ref, _, theta_ref = stats.gamma.fit(x, floc=0)
    llf = stats.gamma.logpdf(x, k, scale=theta).sum()
    llf_ref = stats.gamma.logpdf(x, k_ref, scale=theta_ref).sum()
    assert llf >= llf_ref - 1e-9 * abs(llf_ref)  # at least as good as scipy's optimum
    assert k == pytest.approx(k_ref, rel=1e-8) and theta == pytest.approx(theta_ref, rel=1e-8)
    assert fit.converged_
    n = len(x)
    info = n * np.array([[scipy.special.polygamma(1, k), 1 / theta], [1 / theta, k / theta**2]])
    np.testing.assert_allclose(
        fit.std_errors_.to_numpy(), np.sqrt(np.diag(np.linalg.inv(info))), rtol=1e-8
    )


@pytest.mark.parametrize("shape", [0.1, 0.05])
def test_gamma_mle_estimates_with_shape_near_zero(shape):
    """The estimates themselves are right at small shapes (scipy.stats.gamma.fit, floc=0)."""
    rng = np.random.default_rng(15)
    x = rng.gamma(shape, 2.0, 3000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN-SE InferenceWarning, nor any other
        fit = MaximumLikelihood("gamma").fit(x)
    k_ref, _, theta_ref = stats.gamma.fit(x, floc=0)
    k, theta = fit.params_.to_numpy()
    assert k == pytest.approx(k_ref, rel=1e-8) and theta == pytest.approx(theta_ref, rel=1e-8)


@pytest.mark.parametrize("n_events", [1, 3])
def test_poisson_rate_near_zero(n_events):
    """Closed form: the MLE is the mean and its SE sqrt(mean / n)."""
    x = np.zeros(100_000)
    x[:n_events] = 1.0
    fit = MaximumLikelihood("poisson").fit(x)
    mean = n_events / len(x)
    assert float(fit.params_.iloc[0]) == pytest.approx(mean, rel=1e-12)
    assert float(fit.std_errors_.iloc[0]) == pytest.approx(math.sqrt(mean / len(x)), rel=1e-8)


def test_poisson_rate_on_the_boundary_is_a_data_error():
    with pytest.raises(DataError, match="0 in every row"):
        MaximumLikelihood("poisson").fit(np.zeros(1000))
