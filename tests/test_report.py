"""The printable summary (estimators/report.py): header fields over the table of summary()."""

import re
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from estimators.datasets import load_dataset

from estimators.errors import InferenceWarning
from estimators.glm import LogisticRegression
from estimators.likelihood import MaximumLikelihood
from estimators.location import Mean
from estimators.quantile import QuantileRegression
from estimators.regression import LinearRegression
from estimators.report import format_number, format_p_value, format_statistic, summary_text

STACKLOSS = "stackloss ~ airflow + watertemp + acidconc"


@pytest.fixture(scope="module")
def stackloss():
    return load_dataset("stackloss")


@pytest.fixture(scope="module")
def anes():
    return load_dataset("anes96")


def _fits(stackloss, anes):
    return {
        "LinearRegression": LinearRegression().fit(stackloss, formula=STACKLOSS),
        "LogisticRegression": LogisticRegression().fit(
            anes, formula="vote ~ TVnews + selfLR + age + educ + income"
        ),
        "QuantileRegression": QuantileRegression(q=0.25).fit(stackloss, formula=STACKLOSS),
        "Mean": Mean().fit(stackloss["stackloss"]),
        "MaximumLikelihood": MaximumLikelihood("gamma").fit(stackloss["stackloss"]),
    }


@pytest.fixture(scope="module")
def fits(stackloss, anes):
    return _fits(stackloss, anes)


def _row_line(text, name):
    """The table line of parameter ``name`` (its first field is the name)."""
    lines = [line for line in text.splitlines() if line.split() and line.split()[0] == name]
    assert len(lines) == 1, f"{name!r} should label exactly one line"
    return lines[0]


@pytest.mark.parametrize(
    "name",
    ["LinearRegression", "LogisticRegression", "QuantileRegression", "Mean", "MaximumLikelihood"],
)
def test_table_shows_the_numbers_of_summary(fits, name):
    fit = fits[name]
    table = fit.summary(alpha=0.1)
    text = fit.summary_text(alpha=0.1)
    assert text == summary_text(fit, 0.1)
    for parameter, row in table.iterrows():
        fields = _row_line(text, str(parameter)).split()
        assert fields[1:] == [
            f"{row.estimate:.6g}",
            f"{row.std_error:.6g}",
            f"{row.statistic:.3f}",
            f"{row.p_value:.4f}" if row.p_value >= 1e-3 else f"{row.p_value:.3g}",
            f"{row.ci_lower:.6g}",
            f"{row.ci_upper:.6g}",
        ]
    assert "[0.05" in text and "0.95]" in text  # the interval heads follow alpha


@pytest.mark.parametrize(
    "name",
    ["LinearRegression", "LogisticRegression", "QuantileRegression", "Mean", "MaximumLikelihood"],
)
def test_header_fields(fits, name):
    fit = fits[name]
    text = fit.summary_text()
    lines = text.splitlines()
    assert lines[0].strip() == f"{name} results"
    header = "\n".join(lines[: lines.index("=" * len(lines[1]), 2)])

    def field(label):
        """The value after ``label:`` (a cell ends at a gap of two spaces or the line end)."""
        found = re.findall(rf"(?:^|  ){re.escape(label)}:\s+(.*?)(?:  |$)", header, re.M)
        assert len(found) == 1, f"{label!r} should appear once in the header"
        return found[0]

    assert field("Model").startswith(f"{name}(")
    assert field("Observations") == f"{fit.nobs_:g}"
    assert field("Converged") == str(fit.converged_)
    assert field("Iterations") == str(fit.n_iter_)
    assert field("Covariance type") == fit.cov_type_
    df = fit._df_inference
    assert field("Statistics") == ("z (normal)" if df is None else f"t ({df:g} df)")
    assert field("Dependent variable") in ("stackloss", "vote")
    for label, attribute in [
        ("Log-likelihood", "llf_"),
        ("AIC", "aic_"),
        ("BIC", "bic_"),
        ("Deviance", "deviance_"),
        ("R-squared", "rsquared_"),
        ("Adj. R-squared", "rsquared_adj_"),
        ("Pseudo R-squared", "pseudo_rsquared_"),
        ("Df residuals", "df_resid_"),
    ]:
        value = getattr(fit, attribute, None)
        if value is None:
            assert not re.search(rf"(?:^|  ){re.escape(label)}:", header, re.M)
        else:
            shown = field(label)
            assert float(shown) == pytest.approx(float(value), rel=1e-5, abs=0)
    if getattr(fit, "formula_", None):
        assert field("Formula") == fit.formula_
    assert "Notes:" not in text  # these fits converged with finite standard errors


def test_settings_that_define_the_model(fits):
    assert (
        "Model:              QuantileRegression(q=0.25)"
        in fits["QuantileRegression"].summary_text()
    )
    assert "MaximumLikelihood(family='gamma')" in fits["MaximumLikelihood"].summary_text()
    assert "Family:             binomial (logit link)" in fits["LogisticRegression"].summary_text()


def test_dependent_variable_and_model_settings_without_formula(stackloss):
    X, y = stackloss[["airflow", "watertemp"]], stackloss["stackloss"]
    text = LinearRegression(fit_intercept=False).fit(X, y).summary_text()
    assert "LinearRegression(fit_intercept=False)" in text
    assert "Formula:" not in text
    assert "Dependent variable:" in text and " stackloss" in text
    assert "Solver:" in text and "qr" in text


def test_covariance_details(stackloss, anes):
    cluster = LinearRegression(cov_type="cluster").fit(
        anes, formula="selfLR ~ age + educ + income", groups="PID"
    )
    text = cluster.summary_text()
    assert "cluster, 7 clusters" in text
    assert "t (6 df)" in text  # G - 1
    hac = LinearRegression(cov_type="HAC", cov_options={"maxlags": 2}).fit(
        stackloss, formula=STACKLOSS
    )
    assert "HAC, 2 lags" in hac.summary_text()
    z = LinearRegression(use_t=False).fit(stackloss, formula=STACKLOSS).summary_text()
    assert "z (normal)" in z and "P>|z|" in z


def test_dropped_rows_are_reported(stackloss):
    data = stackloss.astype(float)
    data.loc[[2, 5], "airflow"] = np.nan
    fit = LinearRegression(missing="drop").fit(data, formula=STACKLOSS)
    text = fit.summary_text()
    assert fit.n_dropped_ == 2
    assert "Rows dropped:" in text
    assert [line for line in text.splitlines() if "Rows dropped:" in line][0].split()[-1] == "2"
    assert [line for line in text.splitlines() if "Observations:" in line][0].split()[-1] == "19"


def _flat_logpdf(theta, x):
    # "b" does not enter the density: the Hessian is singular in that direction.
    return -0.5 * (x - theta["mu"]) ** 2 + 0.0 * theta["b"] - 0.5 * jnp.log(2 * jnp.pi)


def test_nan_standard_errors_give_the_reason(stackloss):
    with pytest.warns(InferenceWarning):
        fit = MaximumLikelihood(logpdf=_flat_logpdf, params0={"mu": 10.0, "b": 0.0}).fit(
            stackloss["stackloss"]
        )
    assert fit.cov_note_
    text = fit.summary_text()
    assert "Notes:" in text
    notes = " ".join(text.split("Notes:")[1].split())
    assert f"Standard errors are NaN for every parameter: {fit.cov_note_}." in notes
    assert _row_line(text, "mu").split()[2] == "NaN"


def test_nan_standard_errors_without_a_recorded_reason():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferenceWarning)
        fit = Mean().fit([3.0])
    text = fit.summary_text()
    assert "Standard errors are NaN for every parameter" in text
    assert _row_line(text, "mean").split()[1:] == ["3", "NaN", "NaN", "NaN", "NaN", "NaN"]


def test_non_convergence_is_in_the_notes(stackloss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MaximumLikelihood("gamma", max_iter=1).fit(stackloss["stackloss"])
    assert not fit.converged_
    text = fit.summary_text()
    assert "Converged:" in text and "False" in text
    assert f"The solver did not converge ({fit.solution_.message})" in " ".join(text.split())


def test_layout_is_fixed_width(fits):
    for fit in fits.values():
        lines = fit.summary_text().splitlines()
        rule = lines[1]
        assert set(rule) == {"="} and len(rule) >= 78
        assert max(len(line) for line in lines) == len(rule)


def test_number_formats():
    assert format_number(float("nan")) == "NaN"
    assert format_number(-39.919674420124025) == "-39.9197"
    assert format_statistic(-3.3557) == "-3.356"
    assert format_p_value(0.0037502) == "0.0038"
    assert format_p_value(6.82e-40) == "6.82e-40"
