"""Generate tests/reference/likelihood.json: statsmodels' robust covariances of 1-D MLEs.

Run from the repository root with statsmodels installed:

    python tests/reference/make_likelihood.py

Every entry records the exact statsmodels call. The tests
(tests/test_likelihood_inference.py) read the JSON, so they run without
statsmodels. References:

- ``poisson_randhie``: ``statsmodels.discrete.discrete_model.Poisson`` of
  randhie's ``mdvis`` on a constant (analytic score and Hessian). Its
  parameter is ``log(mean)``; at the optimum every covariance maps to the
  mean's by the delta method exactly (the gradient vanishes), so the test
  compares ``exp(b) * bse``.
- ``normal_michelson`` / ``exponential_strikes``: ``GenericLikelihoodModel``
  subclasses with the analytic ``score_obs`` and ``hessian`` of the normal
  (mean, sd) and exponential (scale) log-densities written out below, so that
  statsmodels' own sandwich assembly and finite-sample factors are the
  reference, free of its numerical-derivative error (about 2e-7 relative).

statsmodels' likelihood models return HC0 for ``cov_type="HC1"`` (no
``n/(n-k)`` factor), so HC1 is not taken from them.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd
import statsmodels.api as sm
from provenance import versions  # tests/reference/provenance.py, beside this script
from statsmodels.base.model import GenericLikelihoodModel

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets" / "data"
OUT = pathlib.Path(__file__).with_name("likelihood.json")
HAC_LAGS = 4


class Normal(GenericLikelihoodModel):
    """Normal(mean, sd) with analytic per-observation scores and Hessian."""

    def loglikeobs(self, params):
        mu, sd = params
        z = (self.endog - mu) / sd
        return -0.5 * np.log(2 * np.pi) - np.log(sd) - 0.5 * z**2

    def score_obs(self, params):
        mu, sd = params
        r = self.endog - mu
        return np.column_stack([r / sd**2, -1.0 / sd + r**2 / sd**3])

    def hessian(self, params):
        mu, sd = params
        r = self.endog - mu
        n = r.size
        h_mm = -n / sd**2
        h_ms = -2.0 * r.sum() / sd**3
        h_ss = n / sd**2 - 3.0 * np.sum(r**2) / sd**4
        return np.array([[h_mm, h_ms], [h_ms, h_ss]])


class Exponential(GenericLikelihoodModel):
    """Exponential(scale) with analytic per-observation scores and Hessian."""

    def loglikeobs(self, params):
        (theta,) = params
        return -np.log(theta) - self.endog / theta

    def score_obs(self, params):
        (theta,) = params
        return (-1.0 / theta + self.endog / theta**2)[:, None]

    def hessian(self, params):
        (theta,) = params
        return np.array([[np.sum(1.0 / theta**2 - 2.0 * self.endog / theta**3)]])


def fits(model, start, groups, cov_types, fit_kwds):
    out = {}
    for cov_type in cov_types:
        kwds = {}
        if cov_type == "cluster":
            kwds = {"groups": groups}
        elif cov_type == "HAC":
            kwds = {"maxlags": HAC_LAGS}
        if kwds:
            fit_kwds = {**fit_kwds, "cov_kwds": kwds}
        result = model.fit(start_params=start, disp=0, cov_type=cov_type, **fit_kwds)
        out[cov_type] = {
            "params": result.params.tolist(),
            "bse": np.asarray(result.bse).tolist(),
            "cov": np.asarray(result.cov_params()).tolist(),
        }
    return out


def main() -> None:
    cov_types = ["nonrobust", "HC0", "cluster", "HAC"]
    newton = {"method": "newton", "tol": 1e-14, "maxiter": 100}

    randhie = pd.read_csv(DATA / "randhie.csv")
    y = randhie["mdvis"].to_numpy(float)
    poisson = sm.Poisson(y, np.ones((y.size, 1)))
    disease = randhie["disea"].to_numpy()

    speed = pd.read_csv(DATA / "michelson.csv")["speed"].to_numpy(float)
    experiment = np.repeat(np.arange(1, 6), 20)  # R's morley$Expt: 5 runs of 20, in order
    normal = Normal(speed, np.ones_like(speed))

    duration = pd.read_csv(DATA / "strikes.csv")["duration"].to_numpy(float)
    exponential = Exponential(duration, np.ones_like(duration))
    halves = np.repeat([0, 1], [31, 31])  # first and second half of the series

    reference = {
        "source": "tests/reference/make_likelihood.py",
        "versions": versions(),
        "hac_maxlags": HAC_LAGS,
        "poisson_randhie": {
            "call": (
                "sm.Poisson(randhie.mdvis, ones((n, 1))).fit(method='newton', tol=1e-14, "
                "cov_type=T, cov_kwds={'groups': randhie.disea} | {'maxlags': 4})"
            ),
            "parameter": "log(mean)",
            "cluster_column": "disea",
            "fits": fits(poisson, np.array([np.log(y.mean())]), disease, cov_types, newton),
        },
        "normal_michelson": {
            "call": (
                "Normal(speed, ones).fit(start_params=[mean, sd_mle], method='newton', "
                "tol=1e-14, cov_type=T, cov_kwds={'groups': experiment} | {'maxlags': 4}); "
                "Normal = GenericLikelihoodModel with analytic score_obs and hessian"
            ),
            "parameter": "mean, sd",
            "cluster": "experiment = repeat(1..5, 20) (R's morley$Expt)",
            "fits": fits(
                normal, np.array([speed.mean(), speed.std()]), experiment, cov_types, newton
            ),
        },
        "exponential_strikes": {
            "call": (
                "Exponential(duration, ones).fit(start_params=[mean], method='newton', "
                "tol=1e-14, cov_type=T, cov_kwds={'groups': halves} | {'maxlags': 4}); "
                "Exponential = GenericLikelihoodModel with analytic score_obs and hessian"
            ),
            "parameter": "scale",
            "cluster": "halves = repeat([0, 1], [31, 31])",
            "fits": fits(exponential, np.array([duration.mean()]), halves, cov_types, newton),
        },
    }
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
