"""Write tests/reference/ols.json: statsmodels' OLS / WLS inference on shipped data sets.

Run from the repository root with statsmodels installed::

    python tests/reference/make_ols.py

For each model (a data set from ``estimators.datasets.load_dataset``, a
formula, and for WLS a weight column computed from the data) the file holds
the fit statistics (``llf``, ``aic``, ``bic``, ``rsquared``, ``rsquared_adj``)
and, for every covariance type, the standard errors and p-values of
``fit(cov_type=..., cov_kwds=..., use_t=True)`` (our least squares keeps t
statistics for every covariance type), with the p-values of ``use_t=False``
for a few types. Each entry records the exact statsmodels call; the file
records the library versions. tests/test_regression_inference.py reads the
JSON and does not need statsmodels.

statsmodels has no default HAC bandwidth (``cov_kwds={"maxlags": L}`` is
required), so ``HAC_default`` passes Newey and West's rule
``floor(4 (n/100)^(2/9))`` explicitly; the test checks that our default
chooses the same ``L``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from estimators.datasets import load_dataset
from provenance import versions  # tests/reference/provenance.py, beside this script

OUT = Path(__file__).with_name("ols.json")

# name: (data set, formula, weights expression or None, cluster columns or None)
MODELS = {
    "stackloss_ols": ("stackloss", "stackloss ~ airflow + watertemp + acidconc", None, None),
    "longley_ols": (
        "longley",
        "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR",
        None,
        None,
    ),
    "anes96_ols": (
        "anes96",
        "selfLR ~ age + educ + income + TVnews + PID + popul",
        None,
        ("income", "educ"),
    ),
    "anes96_wls": (
        "anes96",
        "selfLR ~ age + educ + income + TVnews + PID + popul",
        "1 / educ",
        ("income", "educ"),
    ),
}

Z_TYPES = ("nonrobust", "HC1", "cluster_income")  # also recorded with use_t=False


def weights_of(data: pd.DataFrame, expression: str | None) -> np.ndarray | None:
    """The WLS weights: a pandas expression of the data's columns (``"1 / educ"``)."""
    return None if expression is None else data.eval(expression).to_numpy(dtype=float)


def newey_west_lags(n: int) -> int:
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def cov_settings(nobs: int, clusters: tuple[str, str] | None) -> dict[str, tuple]:
    """name: (cov_type, cov_kwds as text for the call, cov_kwds builder, our cov_options)."""
    lags = newey_west_lags(nobs)
    settings = {
        "nonrobust": ("nonrobust", None, None),
        "HC0": ("HC0", None, None),
        "HC1": ("HC1", None, None),
        "HC2": ("HC2", None, None),
        "HC3": ("HC3", None, None),
        "HAC_2": ("HAC", {"maxlags": 2}, None),
        "HAC_default": ("HAC", {"maxlags": lags}, None),
    }
    if clusters is not None:
        first, second = clusters
        settings[f"cluster_{first}"] = ("cluster", "groups", [first])
        settings[f"cluster_{first}_{second}"] = ("cluster", "groups", [first, second])
    return settings


def fit_case(model, data, cov_type, kwds, columns, use_t, call_prefix):
    if columns is not None:
        labels = data[columns].to_numpy()
        groups = labels[:, 0] if len(columns) == 1 else labels
        result = model.fit(cov_type=cov_type, cov_kwds={"groups": groups}, use_t=use_t)
        kw_text = (
            f"{{'groups': data[{columns[0]!r}].to_numpy()}}"
            if len(columns) == 1
            else f"{{'groups': data[{list(columns)!r}].to_numpy()}}"
        )
    else:
        result = model.fit(cov_type=cov_type, cov_kwds=kwds, use_t=use_t)
        kw_text = repr(kwds)
    entry = {
        "call": f"{call_prefix}.fit(cov_type={cov_type!r}, cov_kwds={kw_text}, use_t={use_t})",
        "cov_type": cov_type,
        "bse": result.bse.to_dict(),
        "pvalues": result.pvalues.to_dict(),
        "df_inference": float(result.df_resid_inference)
        if use_t and getattr(result, "df_resid_inference", None) is not None
        else (float(result.df_resid) if use_t else None),
    }
    if kwds is not None and "maxlags" in kwds:
        entry["maxlags"] = kwds["maxlags"]
    if columns is not None:
        entry["groups"] = list(columns)
    return entry


def model_entry(name: str) -> dict:
    dataset, formula, weights, clusters = MODELS[name]
    data = load_dataset(dataset)
    w = weights_of(data, weights)
    if w is None:
        model = smf.ols(formula, data)
        call_prefix = f"smf.ols({formula!r}, data)"
    else:
        model = smf.wls(formula, data, weights=w)
        call_prefix = f"smf.wls({formula!r}, data, weights=data.eval({weights!r}))"
    base = model.fit()
    entry = {
        "dataset": dataset,
        "data": f"estimators.datasets.load_dataset({dataset!r})",
        "formula": formula,
        "weights": weights,
        "call": f"{call_prefix}.fit()",
        "fit": {
            "params": base.params.to_dict(),
            "llf": float(base.llf),
            "aic": float(base.aic),
            "bic": float(base.bic),
            "rsquared": float(base.rsquared),
            "rsquared_adj": float(base.rsquared_adj),
            "nobs": float(base.nobs),
            "df_resid": float(base.df_resid),
        },
        "cov": {},
        "cov_use_t_false": {},
    }
    for key, (cov_type, kwds, columns) in cov_settings(int(base.nobs), clusters).items():
        kwds = None if kwds == "groups" else kwds
        entry["cov"][key] = fit_case(model, data, cov_type, kwds, columns, True, call_prefix)
        if key in Z_TYPES:
            entry["cov_use_t_false"][key] = fit_case(
                model, data, cov_type, kwds, columns, False, call_prefix
            )
    return entry


def main() -> None:
    reference = {
        "source": "statsmodels, computed by tests/reference/make_ols.py",
        "versions": versions(),
        "models": {name: model_entry(name) for name in MODELS},
    }
    OUT.write_text(json.dumps(reference, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
