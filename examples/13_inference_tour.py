"""13. Inference from autodiff: robust and cluster standard errors, tests, predictions, influence.

Data: the 1996 American National Election Study (``anes96``, 944 voters): does a voter's
placement of themself on the left-right scale, their party identification and
their education explain the vote for Clinton (0) or Dole (1)? And how far do
the standard errors move when we stop trusting the model's own variance?
"""

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est

FORMULA = "vote ~ selfLR + PID + educ + np.log(income)"


def main() -> pd.DataFrame:
    data = load_dataset("anes96")

    # One model, four covariance types: the same fit, different meats.
    std_errors = {}
    for cov_type in ["nonrobust", "HC0", "HC1", "cluster"]:
        model = est.LogisticRegression(cov_type=cov_type)
        groups = "educ" if cov_type == "cluster" else None  # voters share an education level
        model.fit(data, formula=FORMULA, groups=groups)
        std_errors[cov_type] = model.std_errors_
    print("Standard errors of the logit coefficients by covariance type:")
    print(pd.DataFrame(std_errors).round(4).to_string())

    # The printable summary: a header, then the coefficient table (summary()).
    logit = est.LogisticRegression(cov_type="HC1").fit(data, formula=FORMULA)
    print()
    print(logit.summary_text())

    # Joint Wald test of linear hypotheses, written with the parameter names.
    print()
    print(logit.wald_test("educ = 0, np.log(income) = 0"))

    # Likelihood-ratio test against the nested model without education and income.
    small = est.LogisticRegression().fit(data, formula="vote ~ selfLR + PID")
    full = est.LogisticRegression().fit(data, formula=FORMULA)
    print()
    print(est.lr_test(small, full))

    # Predicted probabilities with delta-method standard errors and intervals
    # (formed on the logit scale, so they stay inside (0, 1)).
    voters = pd.DataFrame({"selfLR": [2, 4, 6], "PID": [0, 3, 6], "educ": 4, "income": 15})
    print("\nPredicted probability of a Dole vote:")
    print(logit.predict_frame(voters).round(4).to_string())

    # Which voters move the estimates most? DFBETA: the change from leaving one out.
    change = logit.dfbeta()
    worst = change["selfLR"].abs().sort_values(ascending=False).head(3)
    print("\nVoters whose removal moves the selfLR coefficient most:")
    shown = data.loc[worst.index, ["vote", "selfLR", "PID", "educ", "income"]]
    print(shown.assign(dfbeta_selfLR=change.loc[worst.index, "selfLR"]).round(4).to_string())

    # Least squares on the same data: t statistics, prediction intervals for a voter.
    ols = est.LinearRegression(cov_type="HC3").fit(data, formula="selfLR ~ PID + age + educ")
    print("\nLeast squares, HC3 standard errors, t statistics on", ols.df_resid_, "df:")
    print(ols.tidy().round(4).to_string(index=False))
    print(ols.predict_frame(pd.DataFrame({"PID": [1], "age": [40], "educ": [5]})).round(3))
    assert np.all(np.isfinite(ols.std_errors_))
    return pd.DataFrame(std_errors)


if __name__ == "__main__":
    main()
