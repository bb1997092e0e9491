"""04. Robust regression versus least squares when a few observations are outliers.

Data: Brownlee's stack loss plant (``stackloss``, 21 days of a nitric acid
plant): the loss of ammonia against air flow, cooling water temperature and
acid concentration. Days 1, 3, 4 and 21 are the days usually named as outliers
(Daniel and Wood, 1980); the robust fits down-weight 21 and 4 the most.

Fits least squares, Huber's and Tukey's biweight M-estimators and median
regression from one formula, shows the robust fits' final weights (the
outlying days are down-weighted) and measures how far each fit lies from the
median-regression fit, in least-squares standard errors.
"""

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est

FORMULA = "stackloss ~ airflow + watertemp + acidconc"


def main() -> pd.Series:
    """Fit the four models; return each one's distance from the median-regression fit."""
    data = load_dataset("stackloss")
    data.index = pd.RangeIndex(1, len(data) + 1, name="day")
    models = {
        "least squares": est.LinearRegression(),
        "Huber (c=1.345)": est.HuberRegression(),
        "Tukey (c=4.685)": est.TukeyRegression(),
        "median regression": est.QuantileRegression(q=0.5),
    }
    for model in models.values():
        model.fit(data, formula=FORMULA)
    table = pd.DataFrame({name: model.params_ for name, model in models.items()}).T
    print(f"{FORMULA}: coefficients side by side")
    print(table.round(4).to_string())

    errors = pd.DataFrame({name: model.std_errors_ for name, model in models.items()}).T
    print("\nStandard errors (median regression: Powell's kernel sandwich):")
    print(errors.round(4).to_string())

    weights = pd.DataFrame(
        {name: models[name].weights_ for name in ["Huber (c=1.345)", "Tukey (c=4.685)"]}
    )
    print("\nFinal IRLS weights of the five most down-weighted days:")
    print(weights.sort_values("Tukey (c=4.685)").head(5).round(3).to_string())

    # Distance from the median fit, in units of the least-squares standard errors.
    scale = models["least squares"].std_errors_
    median = table.loc["median regression"]
    distance = ((table - median) / scale).pow(2).sum(axis=1).pow(0.5).drop("median regression")
    print("\nDistance from the median-regression fit (root sum of squares, in OLS SEs):")
    for name, value in distance.items():
        print(f"  {name}: {value:.3f}")
    closer = distance["Huber (c=1.345)"] < distance["least squares"]
    print(f"Huber closer to the median fit than least squares: {closer}")
    assert np.all(np.isfinite(errors.to_numpy()))
    return distance


if __name__ == "__main__":
    main()
