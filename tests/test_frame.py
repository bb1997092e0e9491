"""The data edge: as_design / predict_matrix validation and naming."""

import warnings

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


# --------------------------------------------------------------------------- copies and the
# block-wise finiteness check (issue 7: the design was copied, and np.isfinite(matrix) made
# an n x k temporary, on every fit)


def test_all_finite_agrees_with_numpy_across_block_boundaries():
    from estimators.frame import FINITE_BLOCK_VALUES, all_finite

    rng = np.random.default_rng(0)
    for shape in [(3 * FINITE_BLOCK_VALUES + 7,), (FINITE_BLOCK_VALUES // 4 + 5, 9), (1, 1)]:
        a = rng.standard_normal(shape)
        assert all_finite(a) is True
        flat = a.reshape(-1)
        for position in (0, flat.size // 2, flat.size - 1):  # first, middle and last block
            for bad in (np.nan, np.inf, -np.inf):
                b = flat.copy()
                b[position] = bad
                assert all_finite(b.reshape(shape)) == bool(np.isfinite(b).all()) is False
    assert all_finite(np.empty((0, 3))) is True


def test_a_float64_c_contiguous_array_is_not_copied_without_an_intercept():
    X = np.random.default_rng(1).standard_normal((50, 3))
    y = X @ np.array([1.0, -1.0, 0.5])
    design = as_design(X, y, fit_intercept=False)
    assert np.shares_memory(design.X, X) and np.shares_memory(design.y, y)
    # Other layouts and types are converted (a copy), to float64 C order.
    for other in (np.asfortranarray(X), X.astype(np.float32), (10 * X).astype(np.int64)):
        converted = as_design(other, y, fit_intercept=False).X
        assert not np.shares_memory(converted, other)
        assert converted.dtype == np.float64 and converted.flags.c_contiguous
        np.testing.assert_array_equal(converted, other.astype(np.float64))
    # With the intercept the design is a new buffer (the contract: X includes it).
    with_intercept = as_design(X, y)
    assert not np.shares_memory(with_intercept.X, X)
    np.testing.assert_array_equal(with_intercept.X[:, 1:], X)


def test_as_design_allocates_no_n_sized_temporary_for_clean_data():
    """tracemalloc sees numpy's buffers: no copy and no isfinite temporary of the design."""
    import tracemalloc

    n, k = 100_000, 10
    X = np.random.default_rng(2).standard_normal((n, k))  # 8 MB
    y = X[:, 0].copy()
    tracemalloc.start()
    try:
        as_design(X, y, fit_intercept=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The weights (n ones, 0.8 MB) are the one n-sized array made; the design's boolean
    # isfinite temporary alone would be n * k bytes (1 MB) and its copy 8 MB.
    assert peak < 8 * n + 300_000, peak


def test_counts_per_column_survive_the_quick_check_on_large_data():
    from estimators.frame import FINITE_BLOCK_VALUES

    n = 2 * FINITE_BLOCK_VALUES  # several blocks
    X = np.random.default_rng(3).standard_normal((n, 2))
    y = np.zeros(n)
    X[n - 1, 1] = np.nan  # in the last block only
    X[[5, n - 2], 0] = np.nan
    with pytest.raises(DataError, match=r"3 of \d+ rows .*'x0': 2 row\(s\), 'x1': 1 row"):
        as_design(X, y)
    X[7, 1] = np.inf
    with pytest.raises(DataError, match=r"infinite values in 'x1': 1 row"):
        as_design(X, y)
    y[n - 1] = -np.inf
    with pytest.raises(DataError, match=r"'x1': 1 row\(s\), 'y': 1 row"):
        as_design(X, y)


def test_a_float64_sample_is_not_copied():
    from estimators.frame import as_sample

    x = np.random.default_rng(4).standard_normal(1000)
    assert np.shares_memory(as_sample(x).values, x)
    series = pd.Series(x)  # pandas may copy x here; the Series' own buffer is then kept
    assert np.shares_memory(as_sample(series).values, series.to_numpy())
    x[3] = np.inf
    with pytest.raises(DataError, match=r"1 infinite value\(s\) out of 1000 rows \(rows 3\)"):
        as_sample(x)
    x[3] = np.nan
    with pytest.raises(DataError, match=r"1 missing \(NaN\) value"):
        as_sample(x)
    assert as_sample(x, missing="drop").n_dropped == 1


def test_unit_weights_of_a_sample_are_a_read_only_view_that_reads_as_ones():
    from estimators.frame import as_sample

    x = np.arange(10.0)
    x[4] = np.nan
    sample = as_sample(x[:4])
    assert sample.weights.tolist() == [1.0] * 4 and sample.nobs == 4.0
    assert not sample.weights.flags.writeable  # a write raises instead of changing data
    with pytest.raises(ValueError, match="read-only"):
        sample.weights[0] = 2.0
    dropped = as_sample(x, missing="drop")  # cut to the kept rows: ones again
    assert dropped.weights.tolist() == [1.0] * 9 and dropped.nobs == 9.0
    weighted = as_sample(x[:4], sample_weight=[1.0, 2.0, 0.0, 3.0])
    assert weighted.nobs == 6.0 and weighted.weights.flags.writeable


def test_all_finite_decides_by_one_sum_without_numpy_warnings():
    from estimators.frame import all_finite

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf - inf and overflow must not warn
        assert not all_finite(np.array([np.inf, -np.inf, 1.0]))
        assert not all_finite(np.array([[1.0, np.nan], [2.0, 3.0]]))
        # finite values whose sum overflows: the exact block-wise check decides
        assert all_finite(np.array([1e308, 1e308, -1e308]))
        assert all_finite(np.arange(10.0).reshape(5, 2))
