"""Write tests/reference/influence.json: statsmodels' influence measures and HC0 covariances.

Run from the repository root with statsmodels installed::

    python tests/reference/make_influence.py

The data are the shipped data sets (``estimators.datasets.load_dataset``), so
the tests fit exactly these rows. Each case records the statsmodels calls that
produced its numbers (``calls``), and the file records the library versions.
tests/test_influence.py reads the JSON; it does not need statsmodels.

What is recorded, per case:

- ``params``: the statsmodels estimate (the tests check that our fit is the
  same one before comparing its influence measures);
- ``dfbeta``: :math:`\\hat\\theta - \\hat\\theta_{(-i)}` a row an observation:
  ``OLSInfluence(res).dfbeta`` (an explicit leave-one-out loop) for OLS,
  ``res.get_influence().d_params`` (one Newton step with the hat correction
  :math:`1/(1 - h_i)`, ``statsmodels/stats/outliers_influence.py``,
  ``GLMInfluence.d_params``) for GLMs;
- ``hat``: the leverages :math:`h_i` (``hat_matrix_diag``);
- ``cov_HC0``: the HC0 sandwich covariance (``fit(cov_type="HC0")``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from estimators.datasets import load_dataset
from provenance import versions  # tests/reference/provenance.py, beside this script
from statsmodels.stats.outliers_influence import OLSInfluence

OUT = Path(__file__).with_name("influence.json")

STACKLOSS = "stackloss ~ airflow + watertemp + acidconc"
ANES_LOGIT = "vote ~ TVnews + selfLR + age + educ + income"
STRIKES_POISSON = "duration ~ iprod"
GLM_TOL = 1e-13  # IRLS stopping tolerance: the estimate to ~1e-12 relative


def _matrix(frame) -> list[list[float]]:
    return np.asarray(frame, dtype=float).tolist()


def ols_case(data: pd.DataFrame) -> dict:
    res = smf.ols(STACKLOSS, data).fit()
    infl = OLSInfluence(res)
    hc0 = smf.ols(STACKLOSS, data).fit(cov_type="HC0")
    return {
        "data": "stackloss",
        "formula": STACKLOSS,
        "calls": {
            "params": f"smf.ols({STACKLOSS!r}, stackloss).fit().params",
            "dfbeta": "OLSInfluence(res).dfbeta (leave-one-out loop)",
            "hat": "OLSInfluence(res).hat_matrix_diag",
            "cov_HC0": f"smf.ols({STACKLOSS!r}, stackloss).fit(cov_type='HC0').cov_params()",
        },
        "names": list(res.params.index),
        "params": res.params.tolist(),
        "dfbeta": _matrix(infl.dfbeta),
        "hat": np.asarray(infl.hat_matrix_diag, dtype=float).tolist(),
        "cov_HC0": _matrix(hc0.cov_params()),
    }


def glm_case(data: pd.DataFrame, name: str, formula: str, family, family_call: str) -> dict:
    res = smf.glm(formula, data, family=family).fit(tol=GLM_TOL)
    infl = res.get_influence()
    hc0 = smf.glm(formula, data, family=family).fit(tol=GLM_TOL, cov_type="HC0")
    fit_call = f"smf.glm({formula!r}, {name}, family={family_call}).fit(tol={GLM_TOL})"
    return {
        "data": name,
        "formula": formula,
        "calls": {
            "params": f"{fit_call}.params",
            "dfbeta": f"{fit_call}.get_influence().d_params (GLMInfluence, observed=True)",
            "hat": f"{fit_call}.get_hat_matrix_diag()",
            "cov_HC0": (
                f"smf.glm({formula!r}, {name}, family={family_call})"
                f".fit(tol={GLM_TOL}, cov_type='HC0').cov_params()"
            ),
        },
        "names": list(res.params.index),
        "params": res.params.tolist(),
        "dfbeta": _matrix(infl.d_params),
        "hat": np.asarray(res.get_hat_matrix_diag(), dtype=float).tolist(),
        "cov_HC0": _matrix(hc0.cov_params()),
    }


def main() -> None:
    cases = {
        "ols_stackloss": ols_case(load_dataset("stackloss")),
        "logit_anes96": glm_case(
            load_dataset("anes96"), "anes96", ANES_LOGIT, sm.families.Binomial(), "Binomial()"
        ),
        "poisson_strikes": glm_case(
            load_dataset("strikes"), "strikes", STRIKES_POISSON, sm.families.Poisson(), "Poisson()"
        ),
    }
    document = {
        "source": "statsmodels, computed by tests/reference/make_influence.py",
        "versions": versions(),
        "data": {
            name: f"estimators.datasets.load_dataset({name!r})"
            for name in ("stackloss", "anes96", "strikes")
        },
        "cases": cases,
    }
    text = json.dumps(document, indent=1)
    # One line per innermost list of numbers (a matrix row), for a reviewable diff.
    text = re.sub(
        r"\[\s+([-+0-9.eE,\s]+?)\s+\]",
        lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
        text,
    )
    OUT.write_text(text + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
