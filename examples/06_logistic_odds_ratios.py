"""06. Logistic regression with odds ratios and standard errors.

Data: the 1996 American National Election Study (``anes96``, 944 voters): the
vote for Dole (1) or Clinton (0) against the voter's own left-right placement,
party identification, age, education and log income.

Shows the coefficient table on the log-odds scale, odds ratios
:math:`e^{\\beta}` with delta-method standard errors :math:`e^{\\beta}\\,
\\mathrm{se}(\\beta)` and intervals :math:`e^{\\beta \\pm z\\,\\mathrm{se}}`
(transformed endpoints: the delta-method SE is only a summary, the interval is
exact under the transformation), predicted probabilities with intervals, and
the fit statistics.
"""

import numpy as np
import pandas as pd
from estimators.datasets import load_dataset

import estimators as est

FORMULA = "vote ~ selfLR + PID + age + educ + np.log(income)"


def odds_ratios(fit: est.LogisticRegression, alpha: float = 0.05) -> pd.DataFrame:
    """Odds ratios exp(beta), their delta-method SEs, p-values and transformed intervals."""
    table = fit.summary(alpha=alpha)
    ratio = np.exp(table["estimate"])
    return pd.DataFrame(
        {
            "odds_ratio": ratio,
            "std_error": ratio * table["std_error"],  # d exp(b) / db = exp(b)
            "p_value": table["p_value"],  # the Wald test of beta = 0, i.e. odds ratio = 1
            "ci_lower": np.exp(table["ci_lower"]),
            "ci_upper": np.exp(table["ci_upper"]),
        }
    )


def main() -> pd.DataFrame:
    """Fit the logit; return its odds-ratio table."""
    data = load_dataset("anes96")
    logit = est.LogisticRegression().fit(data, formula=FORMULA)
    print(logit.summary_text())

    ratios = odds_ratios(logit)
    print("\nOdds ratios of a Dole vote (per unit; np.log(income): per e-fold income):")
    print(ratios.to_string(float_format=lambda v: f"{v:.8g}"))

    # Two voters who differ only in party identification.
    voters = pd.DataFrame(
        {"selfLR": [4, 4], "PID": [1, 5], "age": [45, 45], "educ": [4, 4], "income": [15, 15]},
        index=["weak Democrat", "weak Republican"],
    )
    print("\nPredicted probability of a Dole vote (interval formed on the logit scale):")
    print(logit.predict_frame(voters).round(4).to_string())
    print(f"\nconverged: {logit.converged_} in {logit.n_iter_} Newton iterations")
    return ratios


if __name__ == "__main__":
    main()
