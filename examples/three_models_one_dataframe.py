"""Three models on one DataFrame, with formulas: least squares, Huber and the median.

Brownlee's stack loss data (21 days of a nitric acid plant) is the classic case
where a few observations pull least squares away: compare the ordinary fit with
Huber's M-estimator and median regression, all from the same formula.
"""

import pandas as pd
from estimators.datasets import load_dataset

import estimators as est

FORMULA = "stackloss ~ airflow + watertemp + acidconc"


def main() -> pd.DataFrame:
    data = load_dataset("stackloss")
    models = {
        "least squares": est.LinearRegression(),
        "Huber (c=1.345)": est.HuberRegression(),
        "median regression": est.QuantileRegression(q=0.5),
    }
    rows = {}
    for name, model in models.items():
        model.fit(data, formula=FORMULA)
        rows[name] = model.params_
        print(f"\n{name}: {FORMULA}")
        print(model.summary().round(4).to_string())
    table = pd.DataFrame(rows).T
    print("\nCoefficients side by side:")
    print(table.round(4).to_string())
    return table


if __name__ == "__main__":
    main()
