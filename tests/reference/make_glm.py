"""Generate ``glm.json``: statsmodels reference numbers for the GLM and RLM inference tests.

Run from the repository root with statsmodels installed::

    python tests/reference/make_glm.py

It writes ``tests/reference/glm.json`` with the versions of statsmodels, numpy,
scipy and pandas, and for every case the exact statsmodels calls, so the
numbers can be reviewed and regenerated. The tests (tests/test_glm_inference.py,
tests/test_robust_inference.py) read the JSON and do not import statsmodels.

Cases (data sets shipped in ``estimators.datasets``):

- ``logit_anes96``: Logit (binomial, logit link) of ``vote`` on the nine
  anes96 columns; cluster labels ``educ`` (7 education levels, a natural
  grouping of respondents).
- ``poisson_randhie``: Poisson of ``mdvis`` on the nine randhie columns;
  randhie has no label column, so clusters are the documented deterministic
  grouping ``row number mod 7``.
- ``gamma_strikes``: Gamma with log link of ``duration`` on ``iprod``;
  clusters ``row number mod 7``.
- ``poisson_randhie_exposure``: Poisson of ``mdvis`` on ``lncoins``, ``idp``,
  ``lpi`` with the deterministic exposure ``1 + row number mod 4`` (randhie has
  no exposure column): llnull with an exposure, and predictions.

Each GLM is fitted with ``GLM.fit(method="newton", tol=1e-13, maxiter=200)``
(Newton with the observed Hessian, converged to rounding) with
``cov_type="nonrobust"``, ``"HC0"``, ``"cluster"`` (``cov_kwds={"groups": g}``,
statsmodels' default small-sample correction) and ``"HAC"``
(``cov_kwds={"maxlags": 2}``); ``use_t`` left at its default (False: z).
RLM: ``RLM(stackloss, add_constant(X), M=HuberT()).fit(tol=1e-14,
maxiter=1000)``, default ``cov="H1"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from estimators.datasets import load_dataset
from provenance import versions  # tests/reference/provenance.py, beside this script

HERE = Path(__file__).resolve().parent
ANES = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income"]
FIT = {"method": "newton", "tol": 1e-13, "maxiter": 200}
FIT_CALL = 'fit(method="newton", tol=1e-13, maxiter=200, cov_type=..., cov_kwds=...)'


def glm_case(data, response, columns, family, family_call, groups, groups_doc, **model_kw):
    """Fit one GLM with every covariance type and record what the tests need."""
    X, y = data[columns], data[response]
    model = sm.GLM(y, sm.add_constant(X), family=family, **model_kw)
    kinds = {
        "nonrobust": {},
        "HC0": {"cov_type": "HC0"},
        "cluster": {"cov_type": "cluster", "cov_kwds": {"groups": groups}},
        "HAC": {"cov_type": "HAC", "cov_kwds": {"maxlags": 2}},
    }
    results = {name: model.fit(**FIT, **kw) for name, kw in kinds.items()}
    base = results["nonrobust"]
    return {
        "dataset": data.attrs["name"],
        "response": response,
        "columns": columns,
        "groups": groups_doc,
        "call": (
            f"sm.GLM(data[{response!r}], sm.add_constant(data[{columns}]), "
            f"family={family_call}{', exposure=...' if model_kw else ''}).{FIT_CALL}"
        ),
        "params": base.params.tolist(),
        "bse": {name: res.bse.tolist() for name, res in results.items()},
        "pvalues": {name: res.pvalues.tolist() for name, res in results.items()},
        "llf": base.llf,
        "llnull": base.llnull,
        "pseudo_rsquared_mcf": base.pseudo_rsquared(kind="mcf"),
        "scale": base.scale,
    }


def prediction(result, exog, **kw):
    """``get_prediction(...).summary_frame()`` columns mean, mean_se, mean_ci_lower/upper."""
    frame = result.get_prediction(exog, **kw).summary_frame(alpha=0.05)
    return {c: frame[c].tolist() for c in ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper")}


def main() -> None:
    anes = load_dataset("anes96")
    randhie = load_dataset("randhie")
    strikes = load_dataset("strikes")
    for name, frame in (("anes96", anes), ("randhie", randhie), ("strikes", strikes)):
        frame.attrs["name"] = name
    mod7 = lambda frame: (np.arange(len(frame)) % 7).tolist()  # noqa: E731
    cases = {
        "logit_anes96": glm_case(
            anes,
            "vote",
            ANES,
            sm.families.Binomial(),
            "sm.families.Binomial()",
            anes["educ"].to_numpy(),
            "column educ",
        ),
        "poisson_randhie": glm_case(
            randhie,
            "mdvis",
            [c for c in randhie.columns if c != "mdvis"],
            sm.families.Poisson(),
            "sm.families.Poisson()",
            np.asarray(mod7(randhie)),
            "row number mod 7",
        ),
        "gamma_strikes": glm_case(
            strikes,
            "duration",
            ["iprod"],
            sm.families.Gamma(sm.families.links.Log()),
            "sm.families.Gamma(sm.families.links.Log())",
            np.asarray(mod7(strikes)),
            "row number mod 7",
        ),
    }

    # Poisson with an exposure: llnull with the exposure, and predictions.
    exposure = 1.0 + np.arange(len(randhie)) % 4
    columns = ["lncoins", "idp", "lpi"]
    case = glm_case(
        randhie,
        "mdvis",
        columns,
        sm.families.Poisson(),
        "sm.families.Poisson()",
        np.asarray(mod7(randhie)),
        "row number mod 7",
        exposure=exposure,
    )
    case["exposure"] = "1 + row number mod 4"
    model = sm.GLM(
        randhie["mdvis"],
        sm.add_constant(randhie[columns]),
        family=sm.families.Poisson(),
        exposure=exposure,
    )
    rows = [0, 1, 2, 500, 20000]
    new_exposure = [1.0, 2.5, 0.5, 3.0, 1.0]
    new = sm.add_constant(randhie[columns]).iloc[rows]
    case["prediction"] = {
        "rows": rows,
        "exposure": new_exposure,
        "call": "result.get_prediction(exog_rows, exposure=...).summary_frame(alpha=0.05)",
        "nonrobust": prediction(model.fit(**FIT), new, exposure=new_exposure),
        "HC0": prediction(model.fit(**FIT, cov_type="HC0"), new, exposure=new_exposure),
    }
    cases["poisson_randhie_exposure"] = case

    # Logit predictions at a few rows of anes96.
    logit = sm.GLM(anes["vote"], sm.add_constant(anes[ANES]), family=sm.families.Binomial())
    rows = [0, 1, 2, 100, 943]
    new = sm.add_constant(anes[ANES]).iloc[rows]
    cases["logit_anes96"]["prediction"] = {
        "rows": rows,
        "call": "result.get_prediction(exog_rows).summary_frame(alpha=0.05)",
        "nonrobust": prediction(logit.fit(**FIT), new),
        "HC0": prediction(logit.fit(**FIT, cov_type="HC0"), new),
    }

    stackloss = load_dataset("stackloss")
    features = ["airflow", "watertemp", "acidconc"]
    rlm = sm.RLM(
        stackloss["stackloss"], sm.add_constant(stackloss[features]), M=sm.robust.norms.HuberT()
    ).fit(tol=1e-14, maxiter=1000)
    cases["rlm_huber_stackloss"] = {
        "dataset": "stackloss",
        "response": "stackloss",
        "columns": features,
        "call": (
            "sm.RLM(data['stackloss'], sm.add_constant(data[columns]), "
            "M=sm.robust.norms.HuberT()).fit(tol=1e-14, maxiter=1000)  # cov='H1'"
        ),
        "params": rlm.params.tolist(),
        "bse": {"nonrobust": rlm.bse.tolist()},
        "scale": float(rlm.scale),
    }

    out = {
        "source": "tests/reference/make_glm.py",
        "versions": versions(),
        "cases": cases,
    }
    (HERE / "glm.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
