"""Tests of estimators.batch_gather: the fast ways of filling the padded blocks (views of
sorted runs, equal sizes, ragged masks, the one sort of shuffled rows) give exactly the
block of a plain per-group reference loop, and fit_groups on shuffled, ragged,
zero-weight and missing-value data equals fit_groups on the same rows sorted, whole or
pre-dropped (the references: this module's loop and fit_groups' own sorted path)."""

import numpy as np
import pandas as pd
import pytest

from estimators import batch
from estimators.batch import NOTE_FEW_ROWS, NOTE_SEPARATED, fit_groups
from estimators.batch_gather import Gather, group_table, stable_order
from estimators.batch_inputs import Inputs
from estimators.glm import LogisticRegression, PoissonRegression
from estimators.regression import LinearRegression


def make_inputs(n, k=2, weights=True, intercept=True, seed=0):
    rng = np.random.default_rng(seed)
    cols = ([None] if intercept else []) + [rng.normal(size=n) for _ in range(k)]
    w = rng.uniform(0.5, 2.0, n) if weights else None
    return Inputs(cols=cols, y=rng.normal(size=n), w=w, names=[], response="y",
                  index=None, rows=None)  # fmt: skip


def reference_block(inputs, codes, groups, length, lanes):
    """The block by a plain loop: group g's rows in their original order, zero padding."""
    p = len(inputs.cols)
    out = np.zeros((lanes, p + 2, length))
    for lane, g in enumerate(groups):
        rows = np.flatnonzero(codes == g)
        m = len(rows)
        for j, col in enumerate(inputs.cols):
            out[lane, j, :m] = 1.0 if col is None else col[rows]
        out[lane, p, :m] = inputs.y[rows]
        out[lane, p + 1, :m] = 1.0 if inputs.w is None else inputs.w[rows]
    return out


CASES = {
    # sizes per group; the layouts each exercise a different filling path
    "equal, exact length": [8] * 6,
    "equal, shorter than length": [5] * 6,
    "ragged": [3, 8, 1, 6, 8, 2],
    "with an empty group": [4, 0, 7, 3, 8, 5],
}


@pytest.mark.parametrize("sizes", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_blocks_equal_the_reference_loop(sizes, shuffled, weights):
    codes = np.repeat(np.arange(len(sizes)), sizes)
    if shuffled:
        codes = np.random.default_rng(1).permutation(codes)
    inputs = make_inputs(len(codes), weights=weights)
    gather = Gather(inputs, codes, len(sizes))
    assert (gather.order is None) == (not shuffled)
    for groups in (np.arange(len(sizes)), np.array([0, 2, 5]), np.array([4])):
        block = gather(groups, 8, 16)
        assert block.shape == (16, 5, 8) and block.ctypes.data % 64 == 0
        np.testing.assert_array_equal(block, reference_block(inputs, codes, groups, 8, 16))
    for g in range(len(sizes)):  # rows(g): the group's positions, in their order
        np.testing.assert_array_equal(gather.rows(g), np.flatnonzero(codes == g))


def test_blocks_without_intercept_and_group_table():
    codes = np.repeat(np.arange(4), [2, 3, 1, 4])
    inputs = make_inputs(len(codes), k=3, intercept=False)
    block = Gather(inputs, codes, 4)(np.arange(4), 4, 4)
    np.testing.assert_array_equal(block, reference_block(inputs, codes, np.arange(4), 4, 4))
    sizes, starts = group_table(codes, 5)
    assert sizes.tolist() == [2, 3, 1, 4, 0] and starts.tolist() == [0, 2, 5, 6, 10]


@pytest.mark.parametrize("n_groups", [7, 40_000])  # int16 radix sort, and int64 above 2^15
def test_stable_order_is_numpys_stable_argsort(n_groups):
    codes = np.random.default_rng(2).integers(0, n_groups, 5_000)
    np.testing.assert_array_equal(stable_order(codes, n_groups), np.argsort(codes, kind="stable"))


def panel(seed=0, n_groups=8, low=17, high=33):
    """Ragged groups (one bucket: one compile) with weights; the first group is
    perfectly separated by x2."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(low, high, n_groups)
    n = int(sizes.sum())
    df = pd.DataFrame(
        {
            "g": np.repeat([f"k{i}" for i in range(n_groups)], sizes),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    df["y"] = 1.0 + df.x1 - 0.5 * df.x2 + rng.normal(size=n)
    df["b"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-0.8 * df.x1))).astype(float)
    df["k"] = rng.poisson(np.exp(0.3 * df.x1)).astype(float)
    first = df.g == "k0"
    df.loc[first, "b"] = (df.loc[first, "x2"] > 0).astype(float)
    return df


def interleave(df, seed):
    """The rows of the groups interleaved at random, each group's rows in their order
    (a group's sums then run in the same order as in ``df``: equal to the last bit)."""
    codes = df.groupby("g", sort=True).ngroup().to_numpy()
    slots = codes[np.random.default_rng(seed).permutation(len(df))]
    rows = np.empty(len(df), dtype=np.int64)
    rows[np.argsort(slots, kind="stable")] = np.argsort(codes, kind="stable")
    out = df.iloc[rows]
    assert not (out.g.to_numpy()[1:] >= out.g.to_numpy()[:-1]).all()
    return out


ESTIMATORS = [(LinearRegression(), "y"), (LogisticRegression(), "b"), (PoissonRegression(), "k")]


@pytest.mark.parametrize(("estimator", "response"), ESTIMATORS)
def test_shuffled_rows_give_the_sorted_frame_exactly(estimator, response):
    """The one sort of interleaved rows rebuilds the very blocks of the sorted data: the
    frames are equal to the last bit (separation is found through rows() as well). Fully
    shuffled rows change the order of each group's sums only: equal to rounding."""
    df = panel(seed=3)
    fit = dict(columns=["x1", "x2"], response=response, sample_weight="w")
    out = fit_groups(estimator, df, "g", **fit)
    again = fit_groups(estimator, interleave(df, seed=4), "g", **fit)
    pd.testing.assert_frame_equal(again, out, check_exact=True)
    shuffled = fit_groups(estimator, df.sample(frac=1.0, random_state=4), "g", **fit)
    pd.testing.assert_frame_equal(shuffled, out, check_exact=False, rtol=1e-12)
    if response == "b":
        assert out.groupby("g")["note"].first()["k0"] == NOTE_SEPARATED


@pytest.mark.parametrize(("estimator", "response"), ESTIMATORS)
def test_zero_weight_group_and_rows(estimator, response):
    """A group whose weights are all 0 is flagged (no rows of positive weight); rows of
    weight 0 drop out exactly: the other groups equal the fit without those rows."""
    df = panel(seed=5)
    df.loc[df.g == "k2", "w"] = 0.0
    zero = (df.g == "k4") & (np.arange(len(df)) % 3 == 0)
    df.loc[zero, "w"] = 0.0
    df.loc[zero, "x1"] = 50.0  # far out: harmless only if weight 0 really drops them
    fit = dict(columns=["x1", "x2"], response=response, sample_weight="w")
    out = fit_groups(estimator, df, "g", **fit)
    flagged = out[out.g == "k2"]
    assert (flagged["note"] == NOTE_FEW_ROWS).all() and flagged["estimate"].isna().all()
    assert (flagged["n_obs"] == 0).all()
    expected = fit_groups(estimator, df[df.w > 0], "g", **fit)
    mine = out[out.g != "k2"].reset_index(drop=True)
    # Fewer rows: sums in another grouping; equal to rounding (the references' own
    # agreement is 1e-10 for least squares and 1e-8 for Newton, tests/test_batch.py).
    pd.testing.assert_frame_equal(mine, expected, check_exact=False, rtol=1e-10)


def test_missing_rows_dropped_equal_the_predropped_frame_ragged_and_shuffled():
    df = panel(seed=6)
    rng = np.random.default_rng(6)
    df.loc[rng.choice(df.index, 15, replace=False), "x2"] = np.nan
    df.loc[rng.choice(df.index, 5, replace=False), "y"] = np.nan
    shuffled = interleave(df, seed=7)
    fit = dict(columns=["x1", "x2"], response="y", sample_weight="w")
    out = fit_groups(LinearRegression(missing="drop"), shuffled, "g", **fit)
    expected = fit_groups(LinearRegression(), df.dropna(subset=["x2", "y"]), "g", **fit)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)


def test_unequal_groups_of_several_buckets_equal_one_group_at_a_time():
    """Groups of 3 to 50 rows in two buckets (4 and 64), each holding groups that are not
    consecutive in key order, equal fit_groups on each group alone (one lane)."""
    rng = np.random.default_rng(8)
    sizes = np.array([3, 40, 4, 50, 3, 35])
    df = panel(seed=8, n_groups=len(sizes))
    df = pd.concat([df] * 2, ignore_index=True)  # enough rows for the largest group
    df["g"] = np.repeat(np.arange(len(sizes)), sizes).tolist() + [-1] * (len(df) - sizes.sum())
    df = df[df.g >= 0].copy()
    df["x1"] = df["x1"] + rng.normal(scale=0.1, size=len(df))
    df = interleave(df, seed=9)
    fit = dict(columns=["x1", "x2"], response="y", sample_weight="w")
    out = fit_groups(LinearRegression(), df, "g", **fit)
    assert out.groupby("g")["n_obs"].first().tolist() == sizes.tolist()
    for g, sub in df.groupby("g"):
        alone = fit_groups(LinearRegression(), sub, "g", **fit)
        pd.testing.assert_frame_equal(
            out[out.g == g].reset_index(drop=True), alone, check_exact=False, rtol=1e-12
        )


@pytest.mark.parametrize(("estimator", "response"), ESTIMATORS[:2])
def test_balanced_panel_unpadded_equals_padded(estimator, response, monkeypatch):
    """1,024 groups of 6 rows run at length 6 (no padding); padded to their bucket (8)
    the sums only gain exact zeros: equal to rounding."""
    rng = np.random.default_rng(10)
    n_groups, size = batch.EXACT_MIN_GROUPS, 6
    n = n_groups * size
    df = pd.DataFrame({"g": np.repeat(np.arange(n_groups), size), "x1": rng.normal(size=n)})
    df["y"] = 0.5 + df.x1 + rng.normal(size=n)
    df["b"] = (rng.uniform(size=n) < 0.5).astype(float)
    lengths = []
    original = batch._by_length
    monkeypatch.setattr(
        batch, "_by_length", lambda *a: lengths.extend(original(*a)) or original(*a)
    )
    out = fit_groups(estimator, df, "g", columns=["x1"], response=response)
    assert [length for length, _ in lengths] == [size]
    monkeypatch.setattr(batch, "EXACT_MIN_GROUPS", n_groups + 1)
    padded = fit_groups(estimator, df, "g", columns=["x1"], response=response)
    assert [length for length, _ in lengths] == [size, 8]
    assert out["converged"].mean() > 0.5  # most groups fit (some 6-row logits separate)
    pd.testing.assert_frame_equal(out, padded, check_exact=False, rtol=1e-12)
