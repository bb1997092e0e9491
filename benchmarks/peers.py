"""The peers of benchmarks/single_fits.py: each library's fastest recommended settings.

Every peer returns ``(coefficients, standard_errors)`` as numpy arrays in the
order (intercept, x0, ..., x19) -- ``None`` for standard errors a library does
not compute. Settings, and why:

- statsmodels 0.15: ``Logit`` / ``Poisson`` (discrete models) with
  ``fit(method="newton", tol=1e-12)``: its fastest path for these models (its
  ``GLM`` IRLS solves a pinv-based weighted least squares every iteration and
  was 4x slower on 200,000 x 20; tol is on the largest parameter change, and
  Newton's quadratic convergence makes 1e-12 cost about one iteration);
  ``OLS(...).fit()`` (pinv, its default).
- scikit-learn 1.9: ``solver="newton-cholesky"`` (its recommended solver for
  n >> p), no penalty (``C=np.inf`` / ``alpha=0``), ``tol=1e-10``. It gives no
  standard errors, so they are added the cheapest way with numpy: the
  information matrix ``X'WX`` assembled without copying X with an intercept
  column, and its inverse.
- glum 3.4: defaults (``solver="auto"``: IRLS with line search for an
  unpenalised model) with ``alpha=0`` and ``gradient_tol=1e-10`` (its default
  of 1e-4 stops far from the optimum); standard errors from
  ``covariance_matrix(X, y, robust=False)`` (the model-based ones; glum's
  default is the sandwich).
- numpy: ``np.linalg.lstsq`` (LAPACK gelsd) on the design with its intercept
  column; standard errors by ``inv(X'X)`` (a GEMM and a 21 x 21 inverse).
- scipy 1.17: ``scipy.stats.gamma.fit(x, floc=0)`` (closed-form-assisted MLE of
  shape and scale at location 0); ``np.median``; ``np.mean``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.special
import scipy.stats


def with_intercept(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X])


def information(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """[1 X]' diag(v) [1 X] without forming [1 X] (one n x p temporary, X * v)."""
    Xv = X * v[:, None]
    top = np.r_[v.sum(), Xv.sum(axis=0)]
    return np.block([[top[None, :]], [top[1:, None], Xv.T @ X]])


# ------------------------------------------------------------------ log-likelihoods


def logistic_loglike(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    eta = beta[0] + X @ beta[1:]
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def poisson_loglike(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    eta = beta[0] + X @ beta[1:]
    return float(np.sum(y * eta - np.exp(eta) - scipy.special.gammaln(y + 1)))


def residual_sum_of_squares(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    r = y - beta[0] - X @ beta[1:]
    return float(r @ r)


def gamma_loglike(shape_scale: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(scipy.stats.gamma.logpdf(x, shape_scale[0], scale=shape_scale[1])))


# ------------------------------------------------------------------ GLM peers


def statsmodels_glm(family: str):
    import statsmodels.api as sm

    model = sm.Logit if family == "binomial" else sm.Poisson

    def fit(X, Xc, y):
        result = model(y, Xc).fit(method="newton", tol=1e-12, disp=0)
        return np.asarray(result.params), np.asarray(result.bse)

    return fit


def sklearn_newton_cholesky(family: str):
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    def fit(X, Xc, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its own convergence chatter at tol=1e-10
            if family == "binomial":
                model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10)
                model.fit(X, y)
                coef = np.r_[model.intercept_, model.coef_.ravel()]
                mu = model.predict_proba(X)[:, 1]
                v = mu * (1 - mu)
            else:
                model = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-10)
                model.fit(X, y)
                coef = np.r_[model.intercept_, model.coef_]
                v = model.predict(X)
        return coef, np.sqrt(np.diag(np.linalg.inv(information(X, v))))

    return fit


def glum_defaults(family: str):
    from glum import GeneralizedLinearRegressor

    def fit(X, Xc, y):
        model = GeneralizedLinearRegressor(family=family, alpha=0, gradient_tol=1e-10)
        model.fit(X, y)
        cov = model.covariance_matrix(X, y, robust=False)
        return np.r_[model.intercept_, model.coef_], np.sqrt(np.diag(cov))

    return fit


def glm_peers(family: str) -> dict:
    return {
        "statsmodels Logit/Poisson (newton)": statsmodels_glm(family),
        "scikit-learn newton-cholesky": sklearn_newton_cholesky(family),
        "glum (defaults)": glum_defaults(family),
    }


# ------------------------------------------------------------------ OLS peers


def statsmodels_ols(X, Xc, y):
    import statsmodels.api as sm

    result = sm.OLS(y, Xc).fit()
    return np.asarray(result.params), np.asarray(result.bse)


def numpy_lstsq(X, Xc, y):
    coef, rss, *_ = np.linalg.lstsq(Xc, y, rcond=None)
    sigma2 = float(rss[0]) / (Xc.shape[0] - Xc.shape[1])
    return coef, np.sqrt(sigma2 * np.diag(np.linalg.inv(Xc.T @ Xc)))


def numpy_lstsq_coefficients(X, Xc, y):
    return np.linalg.lstsq(Xc, y, rcond=None)[0], None


OLS_PEERS = {
    "statsmodels OLS": statsmodels_ols,
    "numpy lstsq + SEs": numpy_lstsq,
    "numpy lstsq (coefficients only)": numpy_lstsq_coefficients,
}


# ------------------------------------------------------------------ one-sample peers


def scipy_gamma_fit(x):
    shape, _, scale = scipy.stats.gamma.fit(x, floc=0)
    return np.array([shape, scale]), None
