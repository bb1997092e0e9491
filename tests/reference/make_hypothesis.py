"""Write tests/reference/hypothesis.json: statsmodels' Wald and likelihood-ratio tests.

Run from the repository root with statsmodels installed::

    python tests/reference/make_hypothesis.py

The data are the shipped data sets (``estimators.datasets.load_dataset``), so
the tests fit exactly these rows. Each case records the statsmodels call that
produced it (``call``), and the file records the versions of the libraries.
tests/test_hypothesis.py reads the JSON; it does not need statsmodels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import statsmodels.formula.api as smf
from estimators.datasets import load_dataset
from provenance import versions  # tests/reference/provenance.py, beside this script
from scipy import stats

OUT = Path(__file__).with_name("hypothesis.json")

STACKLOSS = "stackloss ~ airflow + watertemp + acidconc"
ANES_LOGIT = "vote ~ TVnews + selfLR + age + educ + income"
ANES_OLS = "selfLR ~ age + educ + income + TVnews"


def wald_case(result, hypothesis: str, use_f: bool, call: str) -> dict:
    test = result.wald_test(hypothesis, use_f=use_f, scalar=True)
    statistic = float(np.squeeze(test.fvalue if use_f else test.statistic))
    return {
        "call": call,
        "hypothesis": hypothesis,
        "distribution": "F" if use_f else "chi2",
        "statistic": statistic,
        "p_value": float(test.pvalue),
        "df_num": float(test.df_num) if use_f else float(test.df_denom),
        # statsmodels stores the chi2 degrees of freedom in df_denom; ours is None.
        "df_denom": float(test.df_denom) if use_f else None,
        "params": result.params.to_dict(),
    }


def main() -> None:
    stackloss = load_dataset("stackloss")
    anes = load_dataset("anes96")
    cases: dict[str, dict] = {}

    ols = smf.ols(STACKLOSS, stackloss).fit()
    hypothesis = "airflow = watertemp, acidconc = 0"
    cases["ols_nonrobust_F"] = wald_case(
        ols, hypothesis, True, f"smf.ols({STACKLOSS!r}, stackloss).fit().wald_test(h, use_f=True)"
    )
    cases["ols_nonrobust_chi2"] = wald_case(
        ols,
        hypothesis,
        False,
        f"smf.ols({STACKLOSS!r}, stackloss).fit().wald_test(h, use_f=False)",
    )
    cases["ols_nonrobust_q"] = wald_case(
        ols,
        "2*airflow - watertemp = 1",
        True,
        f"smf.ols({STACKLOSS!r}, stackloss).fit().wald_test(h, use_f=True)",
    )
    hc1 = smf.ols(STACKLOSS, stackloss).fit(cov_type="HC1", use_t=True)
    cases["ols_HC1_F"] = wald_case(
        hc1,
        hypothesis,
        True,
        f"smf.ols({STACKLOSS!r}, stackloss).fit(cov_type='HC1', use_t=True).wald_test(h)",
    )
    hac = smf.ols(STACKLOSS, stackloss).fit(cov_type="HAC", cov_kwds={"maxlags": 2}, use_t=True)
    cases["ols_HAC2_F"] = wald_case(
        hac,
        hypothesis,
        True,
        f"smf.ols({STACKLOSS!r}, stackloss).fit(cov_type='HAC', cov_kwds={{'maxlags': 2}}, "
        "use_t=True).wald_test(h, use_f=True)",
    )
    cluster = smf.ols(ANES_OLS, anes).fit(
        cov_type="cluster", cov_kwds={"groups": anes["PID"]}, use_t=True
    )
    cases["ols_cluster_F"] = wald_case(
        cluster,
        "age = 0, educ = income",
        True,
        f"smf.ols({ANES_OLS!r}, anes96).fit(cov_type='cluster', "
        "cov_kwds={'groups': anes96['PID']}, use_t=True).wald_test(h, use_f=True)",
    )

    logit = smf.logit(ANES_LOGIT, anes).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    logit_call = f"smf.logit({ANES_LOGIT!r}, anes96).fit(method='newton', tol=1e-12)"
    cases["logit_chi2"] = wald_case(
        logit, "TVnews = 0, age = 0, educ = income", False, logit_call + ".wald_test(h)"
    )
    cases["logit_q"] = wald_case(logit, "selfLR = 1", False, logit_call + ".wald_test(h)")

    lr: dict[str, dict] = {}
    for name, restricted_formula in {
        "ols_drop_acidconc": "stackloss ~ airflow + watertemp",
        "ols_airflow_only": "stackloss ~ airflow",
    }.items():
        restricted = smf.ols(restricted_formula, stackloss).fit()
        statistic, p_value, df = ols.compare_lr_test(restricted)
        lr[name] = {
            "call": f"smf.ols({STACKLOSS!r}, stackloss).fit().compare_lr_test("
            f"smf.ols({restricted_formula!r}, stackloss).fit())",
            "full": STACKLOSS,
            "restricted": restricted_formula,
            "statistic": float(statistic),
            "p_value": float(p_value),
            "df": float(df),
            "llf_full": float(ols.llf),
            "llf_restricted": float(restricted.llf),
        }
    for name, restricted_formula in {
        "logit_drop_TVnews_age": "vote ~ selfLR + educ + income",
        "logit_null": "vote ~ 1",
    }.items():
        restricted = smf.logit(restricted_formula, anes).fit(
            disp=0, method="newton", tol=1e-12, maxiter=100
        )
        statistic = 2 * (logit.llf - restricted.llf)
        df = logit.df_model - restricted.df_model
        lr[name] = {
            "call": "2 * (full.llf - restricted.llf), scipy.stats.chi2.sf(stat, "
            "full.df_model - restricted.df_model); both smf.logit(formula, anes96)"
            ".fit(method='newton', tol=1e-12)",
            "full": ANES_LOGIT,
            "restricted": restricted_formula,
            "statistic": float(statistic),
            "p_value": float(stats.chi2.sf(statistic, df)),
            "df": float(df),
            "llf_full": float(logit.llf),
            "llf_restricted": float(restricted.llf),
        }
    # Not used by the tests: statsmodels' own LR test against the null model
    # (.llr) fits the intercept-only model with its default tolerance; its llnull
    # differs from the closed form n [p log p + (1-p) log(1-p)] by about 3e-11
    # relative, which moves a p-value of 1e-90 by about 2e-8 relative.
    lr["logit_null"]["statsmodels_llr"] = {
        "call": logit_call + ": .llr, .llr_pvalue, .llnull",
        "statistic": float(logit.llr),
        "p_value": float(logit.llr_pvalue),
        "llnull": float(logit.llnull),
    }

    payload = {
        "source": "statsmodels, computed by tests/reference/make_hypothesis.py",
        "versions": versions(),
        "data": {
            "stackloss": "estimators.datasets.load_dataset('stackloss')",
            "anes96": "estimators.datasets.load_dataset('anes96')",
        },
        "wald": cases,
        "lr": lr,
    }
    OUT.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
