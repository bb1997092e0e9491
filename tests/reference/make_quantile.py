"""Generate ``quantile.json``: statsmodels references for quantile and Mean standard errors.

Run from the repository root with statsmodels installed::

    python tests/reference/make_quantile.py

It writes ``tests/reference/quantile.json`` with the versions of statsmodels,
numpy, scipy and pandas, and for every case the exact statsmodels call, so the
numbers can be reviewed and regenerated. tests/test_quantile_inference.py reads
the JSON and does not import statsmodels.

Cases (data sets shipped in ``estimators.datasets``):

- ``quantreg``: ``QuantReg(y, add_constant(X)).fit(q, vcov=..., kernel="epa",
  bandwidth=..., max_iter=5000, p_tol=1e-12)`` on engel (foodexp ~ income) at
  q = 0.25, 0.5, 0.75 and on stackloss (three regressors) at q = 0.5, with
  ``vcov="robust"`` and ``bandwidth="hsheather"`` (statsmodels' default, our
  ``cov_type="kernel"``), ``vcov="robust"`` with ``bandwidth="chamberlain"``, and
  ``vcov="iid"`` (statsmodels' iid: its kernel density, *not* quantreg's
  sparsity method). Stored: params (IRLS, so the tests can rebuild statsmodels'
  residuals as ``y - X @ params``), bse and the covariance.
- ``quantile_sample``: the same on a column of ones (``Quantile`` and
  ``Median``): ``x = numpy.random.default_rng(3).normal(5, 2, 201)``, stored with
  the data, at q = 0.5, 0.3 and 0.8.
- ``mean``: ``OLS(foodexp, ones).fit(cov_type=..., use_t=True)`` on engel with
  ``"HC0"``, ``"HC1"``, ``"cluster"`` (``groups = row number // 10``: 24
  clusters of consecutive rows, a documented deterministic grouping; engel has
  no label column) and ``"HAC"`` (``maxlags`` 2 and 4, statsmodels' defaults
  otherwise: Bartlett kernel, no small-sample correction).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from estimators.datasets import load_dataset
from provenance import versions  # tests/reference/provenance.py, beside this script

OUT = Path(__file__).with_name("quantile.json")
FIT = {"max_iter": 5000, "p_tol": 1e-12}
VARIANTS = {
    "kernel": {"vcov": "robust", "kernel": "epa", "bandwidth": "hsheather"},
    "kernel_chamberlain": {"vcov": "robust", "kernel": "epa", "bandwidth": "chamberlain"},
    "statsmodels_iid": {"vcov": "iid", "kernel": "epa", "bandwidth": "hsheather"},
}


def quantreg_case(y, exog, q):
    out = {}
    for name, options in VARIANTS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IRLS iteration-limit warnings
            res = sm.QuantReg(y, exog).fit(q=q, **options, **FIT)
        out[name] = {
            "call": f"QuantReg(y, X).fit(q={q}, {_kwargs(options)}, {_kwargs(FIT)})",
            "params": res.params.tolist(),
            "bse": res.bse.tolist(),
            "cov": res.cov_params().tolist(),
            "df_resid": float(res.df_resid),
        }
    return out


def _kwargs(options):
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def main() -> None:
    cases: dict = {"quantreg": {}, "quantile_sample": {}, "mean": {}}
    engel = load_dataset("engel")
    stackloss = load_dataset("stackloss")
    data = {
        "engel": (engel["foodexp"].to_numpy(), engel[["income"]].to_numpy()),
        "stackloss": (
            stackloss["stackloss"].to_numpy(),
            stackloss[["airflow", "watertemp", "acidconc"]].to_numpy(),
        ),
    }
    levels = {"engel": [0.25, 0.5, 0.75], "stackloss": [0.5]}
    for name, (y, X) in data.items():
        exog = sm.add_constant(X.astype(float), has_constant="add")
        for q in levels[name]:
            cases["quantreg"][f"{name}_q{q}"] = {
                "data": name,
                "q": q,
                **quantreg_case(y.astype(float), exog, q),
            }

    x = np.random.default_rng(3).normal(5.0, 2.0, 201)
    cases["quantile_sample"]["x"] = x.tolist()
    cases["quantile_sample"]["generator"] = "numpy.random.default_rng(3).normal(5.0, 2.0, 201)"
    for q in (0.5, 0.3, 0.8):
        cases["quantile_sample"][f"q{q}"] = {"q": q, **quantreg_case(x, np.ones((x.size, 1)), q)}

    y = engel["foodexp"].to_numpy(dtype=float)
    ones = np.ones(y.size)
    groups = np.arange(y.size) // 10
    mean_calls = {
        "HC0": ("HC0", None),
        "HC1": ("HC1", None),
        "cluster": ("cluster", {"groups": groups}),
        "HAC_2": ("HAC", {"maxlags": 2}),
        "HAC_4": ("HAC", {"maxlags": 4}),
    }
    for name, (cov_type, kwds) in mean_calls.items():
        res = sm.OLS(y, ones).fit(cov_type=cov_type, cov_kwds=kwds, use_t=True)
        shown = (
            None
            if kwds is None
            else {k: ("row // 10" if k == "groups" else v) for k, v in kwds.items()}
        )
        cases["mean"][name] = {
            "call": (
                f"OLS(engel.foodexp, ones).fit(cov_type={cov_type!r}, cov_kwds={shown}, "
                "use_t=True)"
            ),
            "params": res.params.tolist(),
            "bse": res.bse.tolist(),
            "pvalues": res.pvalues.tolist(),
            "df_inference": float(res.df_resid_inference)
            if getattr(res, "df_resid_inference", None) is not None
            else float(res.df_resid),
        }

    payload = {
        "source": "tests/reference/make_quantile.py",
        "versions": versions(),
        "cases": cases,
    }
    OUT.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
