"""02. Fitting on a DataFrame: names in, names out, missing values, index alignment.

Data: Longley's (1967) US macroeconomic series, 1947-1962 (``longley``): total
employment regressed on six highly collinear predictors, the classic test of a
least-squares routine's accuracy.

Shows ``fit(X, y)`` with a DataFrame and a Series (the coefficients are named by
the columns), the coefficient table, ``predict`` returning a Series on the
input's index, ``missing="drop"`` (and what the default does instead), and the
one-sample convention ``fit(df, column=...)``. The coefficients are compared
with the NIST StRD certified values: correct significant digits are printed.
"""

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est
from estimators.errors import DataError

# NIST StRD, linear regression data set "Longley" (certified values, higher
# difficulty): https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml
NIST_CERTIFIED = {
    "Intercept": -3482258.63459582,
    "GNPDEFL": 15.0618722713733,
    "GNP": -0.358191792925910e-01,
    "UNEMP": -2.02022980381683,
    "ARMED": -1.03322686717359,
    "POP": -0.511041056535807e-01,
    "YEAR": 1829.15146461355,
}


def main() -> pd.Series:
    """Fit, predict, handle missing values; return the digits agreeing with NIST per term."""
    data = load_dataset("longley")
    data.index = data["YEAR"].astype(int).rename("year")  # an index of our own, kept throughout
    X, y = data.drop(columns="TOTEMP"), data["TOTEMP"]

    ols = est.LinearRegression().fit(X, y)
    print("TOTEMP ~ all six predictors (names come from the DataFrame's columns):")
    print(ols.summary().to_string(float_format=lambda v: f"{v:.6g}"))

    certified = pd.Series(NIST_CERTIFIED)
    relative = ((ols.params_ - certified) / certified).abs()
    digits = -np.log10(relative.clip(lower=1e-15))
    print("\nCorrect significant digits against the NIST certified values:")
    print(digits.round(1).to_string())
    print(f"fewest correct digits: {digits.min():.1f}")

    # predict() returns a Series aligned to the rows it was given.
    recent = X.loc[1960:]
    print("\nFitted employment for 1960-1962 (index kept):")
    print(pd.DataFrame({"observed": y.loc[1960:], "fitted": ols.predict(recent)}).round(1))

    # Missing values raise by default, naming the column and counting the rows ...
    holey = X.copy()
    holey.loc[[1950, 1955], "UNEMP"] = np.nan
    try:
        est.LinearRegression().fit(holey, y)
    except DataError as error:
        print(f"\nDataError: {error}")
    # ... or are dropped on request, and recorded.
    dropped = est.LinearRegression(missing="drop").fit(holey, y)
    print(f"missing='drop': fitted on {dropped.nobs_:.0f} rows, n_dropped_ = {dropped.n_dropped_}")
    fitted = dropped.predict(holey)
    print("predict on rows with a missing value gives NaN exactly there:", end=" ")
    print(fitted.index[fitted.isna()].tolist())

    # One-sample estimators take a DataFrame and the name of a column.
    employment = est.Mean().fit(data, column="TOTEMP")
    print("\nMean().fit(data, column='TOTEMP'):")
    print(employment.summary().round(1).to_string())
    return digits


if __name__ == "__main__":
    main()
