"""StandardDeviation and MAD: NIST certified values, numpy, scipy, weights, SEs, bad input."""

from __future__ import annotations

import json
import math
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from estimators.base import clone
from estimators.errors import DataError, InferenceWarning, SettingsError
from estimators.numerics import NORMAL_MAD
from estimators.scale import MAD, MAD_SE_FACTOR, StandardDeviation

NIST_UNIVARIATE = Path(__file__).parent / "data" / "nist" / "univariate"
NIST_SETS = sorted(p.stem for p in NIST_UNIVARIATE.glob("*.json"))


def lre(estimate: float, certified: float) -> float:
    """Log relative error (correct significant digits), capped at 15."""
    if estimate == certified:
        return 15.0
    return min(15.0, -math.log10(abs(estimate - certified) / abs(certified)))


def exact_std(values, ddof=1) -> float:
    """The standard deviation of the float64 values in exact rational arithmetic."""
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    return math.sqrt(sum((v - mean) ** 2 for v in exact) / (len(exact) - ddof))


# --------------------------------------------------------------------------- NIST


@pytest.mark.parametrize("name", NIST_SETS)
def test_std_nist_univariate_lre_at_least_13(name):
    """NIST StRD certified standard deviations (tests/data/nist). NumAcc1-4 are passed
    as their decimal strings, which StandardDeviation centres exactly; the others as
    floats, where the rounding of the data themselves caps the LRE (Mavro 13.1,
    Michelso 13.8 even in exact arithmetic on the rounded values)."""
    data = json.loads((NIST_UNIVARIATE / f"{name}.json").read_text())
    y = data["y"] if data["data_format"] == "decimal_string" else np.array(data["y"], float)
    certified = float(Fraction(data["certified"]["std"]))
    fitted = StandardDeviation().fit(y)
    assert lre(fitted.params_["std"], certified) >= 13, (name, fitted.params_["std"])
    certified_mean = float(Fraction(data["certified"]["mean"]))
    assert lre(fitted.mean_, certified_mean) >= 14


@pytest.mark.parametrize("name", NIST_SETS)
def test_std_nist_from_decimal_text_reaches_every_certified_digit(name):
    """The same sets read as text (json parse_float=str): no rounding of the data at all."""
    data = json.loads((NIST_UNIVARIATE / f"{name}.json").read_text(), parse_float=str)
    y = [str(v) for v in data["y"]]
    certified = float(Fraction(data["certified"]["std"]))
    assert lre(StandardDeviation().fit(y).params_["std"], certified) >= 14


def test_float_data_agree_with_exact_arithmetic_on_the_rounded_values():
    """Where the data are floats the target is the exact SD of those floats (Fraction)."""
    for name in ("Mavro", "Michelso", "NumAcc3", "NumAcc4"):
        data = json.loads((NIST_UNIVARIATE / f"{name}.json").read_text())
        y = np.array([float(v) for v in data["y"]])
        fitted = StandardDeviation().fit(y).params_["std"]
        assert fitted == pytest.approx(exact_std(y), rel=2e-15), name
    # and numpy's np.std on NumAcc4 floats has only the digits the rounded data keep
    certified = float(Fraction(data["certified"]["std"]))
    assert lre(np.std(y, ddof=1), certified) < 9


# --------------------------------------------------------------------------- StandardDeviation


@pytest.mark.parametrize("ddof", [0, 1, 2, 1.5])
def test_std_matches_numpy_and_exact_arithmetic(ddof):
    rng = np.random.default_rng(40)
    for trial in range(8):
        n = int(rng.integers(3, 200))
        x = rng.normal(1e6 * trial, 10.0 ** (trial - 4), n)
        fitted = StandardDeviation(ddof=ddof).fit(x)
        assert fitted.params_["std"] == pytest.approx(exact_std(x, ddof), rel=2e-15)
        assert fitted.params_["std"] == pytest.approx(np.std(x, ddof=ddof), rel=1e-9)
        assert fitted.converged_


def test_std_weights_match_statsmodels_descrstats_and_repeated_rows():
    from statsmodels.stats.weightstats import DescrStatsW  # reference: statsmodels 0.15

    x = np.array([2.0, 3.5, 1.0, 8.0, 4.0])
    w = np.array([1, 2, 3, 1, 4])
    fitted = StandardDeviation(ddof=1).fit(x, sample_weight=w)
    assert fitted.params_["std"] == pytest.approx(DescrStatsW(x, weights=w, ddof=1).std, rel=1e-14)
    repeated = StandardDeviation(ddof=1).fit(np.repeat(x, w))
    pd.testing.assert_frame_equal(fitted.summary(), repeated.summary(), rtol=1e-14)
    assert fitted.nobs_ == 11


def test_std_standard_error_is_the_normal_theory_value():
    """se = s / sqrt(2 (n - ddof)); reference: the exact SD of s under normality from
    scipy's chi distribution, sigma chi_{n-1} / sqrt(n-1), equal to O(1/n)."""
    x = np.random.default_rng(41).normal(3.0, 2.5, 2000)
    fitted = StandardDeviation().fit(x)
    s = fitted.params_["std"]
    assert fitted.std_errors_["std"] == pytest.approx(s / np.sqrt(2 * 1999), rel=1e-14)
    exact_sd_of_s = stats.chi(1999).std() * s / np.sqrt(1999)
    assert fitted.std_errors_["std"] == pytest.approx(exact_sd_of_s, rel=1e-3)
    table = fitted.summary()
    assert table["ci_lower"].iloc[0] == pytest.approx(
        s - 1.959963984540054 * table["std_error"].iloc[0]
    )
    assert StandardDeviation(ddof=0).fit(x).std_errors_["std"] == pytest.approx(
        np.std(x) / np.sqrt(2 * 2000), rel=1e-14
    )


def test_std_text_and_python_number_input_is_centred_exactly():
    strings = ["10000000.1", "10000000.3", "10000000.2", None, "10000000.2"]
    decimals = [np.nan if v is None else Decimal(v) for v in strings]
    fitted = StandardDeviation(missing="drop").fit(pd.Series(strings, name="v"))
    assert fitted.params_["std"] == pytest.approx(math.sqrt(0.02 / 3), rel=1e-15)
    assert fitted.n_dropped_ == 1 and fitted.variable_ == "v"
    assert StandardDeviation(missing="drop").fit(decimals).params_["std"] == fitted.params_["std"]
    big = [2**70 + 1, 2**70 + 2, 2**70 + 3]  # beyond float64's 53 bits: exact as Python ints
    assert StandardDeviation().fit(np.array(big, dtype=object)).params_["std"] == 1.0


def test_std_history_constant_and_extreme_data():
    x = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    fitted = StandardDeviation(ddof=0).fit(x)
    assert fitted.params_["std"] == 2.0 and fitted.mean_ == 5.0
    assert fitted.history_["loss"].iloc[-1] == pytest.approx(4.0, rel=1e-15)  # the variance
    assert list(fitted.history_.columns) == ["loss", "grad_norm"]
    assert StandardDeviation().fit([3.0, 3.0, 3.0]).params_["std"] == 0.0
    for scale in (1e300, 1e-300):
        big = StandardDeviation().fit(scale * np.array([1.0, 2.0, 6.0]))
        assert big.params_["std"] == pytest.approx(scale * np.sqrt(7.0), rel=1e-15)


@pytest.mark.parametrize(
    "settings, data, error, pattern",
    [
        ({"ddof": -1}, [1.0, 2.0], SettingsError, "ddof must be a number >= 0"),
        ({"ddof": "1"}, [1.0, 2.0], SettingsError, "ddof must be a number >= 0"),
        ({"ddof": 1}, [4.2], DataError, r"n = 1 observation\(s\).*ddof=1 needs n > ddof"),
        ({"ddof": 3}, [1.0, 2.0, 3.0], DataError, "at least 4"),
        ({"tol": 0}, [1.0, 2.0], SettingsError, "tol must be a positive number"),
        ({"dtype": "float16"}, [1.0, 2.0], SettingsError, "valid dtypes"),
        ({}, [1.0, np.nan, 3.0], DataError, r"1 missing \(NaN\) value"),
        ({}, ["1.0", "x", 3.0], DataError, r"1 non-numeric value\(s\) out of 3 rows"),
    ],
)
def test_std_bad_input(settings, data, error, pattern):
    with pytest.raises(error, match=pattern):
        StandardDeviation(**settings).fit(data)


def test_std_api():
    sd = StandardDeviation(ddof=0)
    assert repr(sd) == "StandardDeviation(ddof=0)"
    assert clone(sd).get_params() == sd.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sd.fit(np.random.default_rng(42).normal(size=50)) is sd


# --------------------------------------------------------------------------- MAD


def test_mad_matches_scipy_median_abs_deviation_normal():
    """Reference: scipy 1.17 stats.median_abs_deviation(x, scale="normal")."""
    rng = np.random.default_rng(43)
    for trial in range(60):
        n = int(rng.integers(1, 150))
        kind = trial % 3
        if kind == 0:
            x = rng.normal(size=n)
        elif kind == 1:
            x = rng.integers(0, 6, n).astype(float)  # ties
        else:
            x = 1e9 + np.round(rng.standard_cauchy(n), 2)
        with warnings.catch_warnings():
            # n = 1: the MAD is 0 and its SE NaN, with an InferenceWarning (tested below)
            warnings.simplefilter("ignore", InferenceWarning)
            fitted = MAD().fit(x)
        assert fitted.params_["mad"] == stats.median_abs_deviation(x, scale="normal"), trial
        assert fitted.center_ == np.median(x) and fitted.converged_


def test_mad_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(44)
    for _ in range(20):
        n = int(rng.integers(1, 40))
        x = np.round(rng.normal(size=n), 1)
        w = rng.integers(0, 4, n)
        w[0] += 1
        fitted = MAD().fit(x, sample_weight=w)
        repeated = np.repeat(x, w)
        assert fitted.params_["mad"] == stats.median_abs_deviation(repeated, scale="normal")


def test_mad_standard_error_formula_and_monte_carlo():
    """se = MAD / (4 phi(m) m sqrt(n)), asymptotic variance 1.3605 sigma^2 / n; checked
    against the spread of scipy's MAD over 4000 simulated normal samples (MC error ~1.1%)."""
    assert MAD_SE_FACTOR**2 == pytest.approx(1.3605, abs=5e-4)  # Rousseeuw & Croux (1993): 36.75%
    assert NORMAL_MAD == stats.norm.ppf(0.75)
    rng = np.random.default_rng(45)
    sims = stats.median_abs_deviation(rng.normal(0.0, 2.0, (4000, 400)), axis=1, scale="normal")
    fitted = MAD().fit(rng.normal(0.0, 2.0, 400))
    assert fitted.std_errors_["mad"] == pytest.approx(
        MAD_SE_FACTOR * fitted.params_["mad"] / 20.0, rel=1e-14
    )
    assert MAD_SE_FACTOR * 2.0 / 20.0 == pytest.approx(np.std(sims), rel=0.05)


def test_mad_outlier_resistance_history_and_errors():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    fitted = MAD().fit(x)
    assert fitted.params_["mad"] == 1.0 / NORMAL_MAD and fitted.center_ == 3.0
    huge = MAD().fit(2.0**900 * x)  # powers of two scale exactly
    assert huge.params_["mad"] == 2.0**900 / NORMAL_MAD
    assert huge.std_errors_["mad"] == pytest.approx(2.0**900 * fitted.std_errors_["mad"])
    assert len(fitted.history_) == fitted.n_iter_ + 1
    assert fitted.history_["loss"].min() == pytest.approx(
        np.mean(np.abs(np.array([2, 1, 0, 1, 97]) - 1.0))
    )
    assert repr(MAD(solver="adam")) == "MAD(solver='adam')"
    with pytest.raises(DataError, match=r"empty \(0 rows\)"):
        MAD().fit([])
    with pytest.raises(SettingsError, match="valid dtypes"):
        MAD(dtype="int8").fit([1.0])
    with pytest.raises(SettingsError, match="valid solvers"):
        MAD(solver="bfgs").fit([1.0, 2.0])


def test_mad_of_one_observation_has_no_standard_error():
    """One value has MAD 0 whatever its distribution: NaN SE, the reason, one warning."""
    with pytest.warns(InferenceWarning, match="single observation"):
        fitted = MAD().fit([3.0])
    assert fitted.params_["mad"] == 0.0
    assert np.isnan(fitted.std_errors_["mad"]) and "single observation" in fitted.cov_note_
