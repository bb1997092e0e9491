"""The data edge: as_design / predict_matrix validation and naming."""

import numpy as np
import pandas as pd
import pytest

from estimators.errors import DataError, SettingsError
from estimators.frame import INTERCEPT, as_design, collinear_columns, predict_matrix


def frame():
    return pd.DataFrame(
        {"x1": [1.0, 2.0, 3.0, 4.0, 5.0], "x2": [2.0, 1.0, 4.0, 3.0, 6.0]},
        index=list("abcde"),
    )


def test_names_from_columns_and_series_with_intercept_first():
    y = pd.Series([1.0, 2.0, 2.5, 4.0, 5.5], index=list("abcde"), name="growth")
    design = as_design(frame(), y)
    assert design.names == [INTERCEPT, "x1", "x2"]
    assert design.features == ["x1", "x2"] and design.response == "growth"
    assert design.X.shape == (5, 3) and np.all(design.X[:, 0] == 1.0)
    assert list(design.index) == list("abcde") and design.nobs == 5


def test_arrays_get_positional_names():
    design = as_design(
        np.ones((4, 2)) * [[1, 2]] + np.arange(4)[:, None] ** [1, 2], np.arange(4.0)
    )
    assert design.names == [INTERCEPT, "x0", "x1"] and design.response == "y"
    assert as_design(np.arange(4.0), np.arange(4.0), fit_intercept=False).names == ["x0"]


def test_missing_rows_raise_with_counts_or_drop():
    X = frame()
    X.loc["b", "x1"] = np.nan
    y = pd.Series([1.0, np.nan, 2.0, np.nan, 3.0], index=X.index, name="y")
    with pytest.raises(DataError, match=r"2 of 5 rows have missing .*'x1': 1 row.*'y': 2 row"):
        as_design(X, y)
    design = as_design(X, y, missing="drop")
    assert design.n_dropped == 2 and list(design.index) == ["a", "c", "e"]


@pytest.mark.parametrize(
    "X, y, pattern",
    [
        (frame().assign(g=list("uvuvw")), np.arange(5.0), r"column 'g' of X is not numeric"),
        (frame().assign(x1=[1, 2, np.inf, 4, 5]), np.arange(5.0), r"infinite values in 'x1'"),
        (frame(), np.arange(4.0), "X has 5 rows but y has 4"),
        (frame(), pd.Series(np.arange(5.0), index=list("vwxyz")), "different indexes"),
        (frame().iloc[:0], np.arange(0.0), "empty"),
        (frame().iloc[:2], np.arange(2.0), "2 rows with positive weight but 3 parameters"),
        (np.ones((2, 2, 2)), np.arange(2.0), "must be 2-D"),
        (frame().assign(d=pd.date_range("2020", periods=5)), np.arange(5.0), "dtype datetime"),
    ],
)
def test_bad_designs_are_data_errors(X, y, pattern):
    with pytest.raises(DataError, match=pattern):
        as_design(X, y)


def test_unknown_missing_policy_lists_the_valid_ones():
    with pytest.raises(SettingsError, match="raise.*drop"):
        as_design(frame(), np.arange(5.0), missing="omit")


def test_predict_matrix_selects_columns_by_name_and_checks_them():
    design = as_design(frame(), np.arange(5.0))
    new = frame()[["x2", "x1"]].iloc[:2]
    matrix, index = predict_matrix(new, design)
    np.testing.assert_array_equal(matrix, [[1.0, 1.0, 2.0], [1.0, 2.0, 1.0]])
    assert list(index) == ["a", "b"]
    with pytest.raises(DataError, match=r"missing column\(s\) \['x2'\]"):
        predict_matrix(frame()[["x1"]], design)
    with pytest.raises(DataError, match="X has 3 features, but the model is expecting 2 features"):
        predict_matrix(np.ones((2, 3)), design)
    with pytest.raises(DataError, match="but Ridge is expecting 2 features.*Reshape your data"):
        predict_matrix(np.ones(3), design, owner="Ridge")


def test_collinear_columns_are_named():
    X = frame()
    X["x3"] = X["x1"] + 2 * X["x2"]
    design = as_design(X, np.arange(5.0))
    assert collinear_columns(design.X, design.names) == ["x3"]
    assert collinear_columns(design.X[:, :3], design.names[:3]) == []
