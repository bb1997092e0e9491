"""03. Formulas with categorical variables: a Poisson model of doctor visits.

Data: the RAND Health Insurance Experiment (``randhie``, 20,190 person-years):
``mdvis``, the number of outpatient visits, against the coinsurance rate
(``lncoins``), the deductible (``idp``), income and health measures.
Self-rated health comes as three dummy columns (good, fair, poor; excellent is
the rest); here it becomes one categorical column, as data usually arrive.

Shows a formula with ``C(health, Treatment("excellent"))`` (the reference level
chosen by name), a transformed term, the stored model spec reapplied by
``predict(new_df)``, and the clear error for a level the fit never saw. The
categorical fit equals the fit on the original dummy columns.
"""

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est
from estimators.errors import DataError

COVARIATES = "lncoins + idp + lpi + fmde + physlm + disea"
FORMULA = f'mdvis ~ {COVARIATES} + C(health, Treatment("excellent"))'
DUMMIES = {"hlthg": "good", "hlthf": "fair", "hlthp": "poor"}


def health_column(data: pd.DataFrame) -> pd.Series:
    """The three 0/1 columns as one categorical column (excellent where all are 0)."""
    health = pd.Series("excellent", index=data.index)
    for column, level in DUMMIES.items():
        health[data[column] == 1] = level
    return health.astype(pd.CategoricalDtype(["excellent", "good", "fair", "poor"]))


def main() -> float:
    """Fit with a categorical term; return its largest difference from the dummy-column fit."""
    data = load_dataset("randhie")
    data["health"] = health_column(data)
    print("Self-rated health:", data["health"].value_counts().to_dict())

    poisson = est.PoissonRegression(cov_type="HC0").fit(data, formula=FORMULA)
    print(f"\n{FORMULA}\n(HC0 standard errors: visit counts are overdispersed)")
    print(poisson.summary().to_string(float_format=lambda v: f"{v:.5g}"))
    print("\nRate ratios exp(beta) of the health levels against 'excellent':")
    levels = [name for name in poisson.params_.index if name.startswith("C(health")]
    print(np.exp(poisson.params_[levels]).round(3).to_string())

    # The same model written with the original dummy columns.
    dummies = est.PoissonRegression(cov_type="HC0").fit(
        data, formula=f"mdvis ~ {COVARIATES} + hlthg + hlthf + hlthp"
    )
    difference = float(np.max(np.abs(poisson.params_.to_numpy() - dummies.params_.to_numpy())))
    print(f"\nlargest coefficient difference, categorical vs dummy columns: {difference:.1e}")

    # predict() reapplies the stored formula: new data need only the raw columns.
    new = pd.DataFrame(
        {"lncoins": 0.0, "idp": 0, "lpi": 6.0, "fmde": 0.0, "physlm": 0, "disea": 11.0,
         "health": ["excellent", "good", "fair", "poor"]}
    )  # fmt: skip
    print("\nExpected visits a year, free care, by self-rated health:")
    print(new.assign(expected_visits=poisson.predict(new).round(2))[["health", "expected_visits"]])

    try:
        poisson.predict(new.assign(health=["excellent", "good", "fair", "dreadful"]))
    except DataError as error:
        print(f"\nAn unseen level is an error: {error}")
    return difference


if __name__ == "__main__":
    main()
