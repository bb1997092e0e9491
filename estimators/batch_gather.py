r"""Padded blocks of the groups' rows for :func:`estimators.batch.fit_groups`.

A block holds ``lanes`` groups of at most ``length`` rows each as an array of
shape ``(lanes, p + 2, length)``: for every group (lane) its ``p`` design
columns, then ``y``, then the weights ``w``, each a contiguous row of
``length`` values. Rows past a group's size, and lanes past the last group,
are zeros: their weight 0 drops them from every sum of the kernels. The
intercept column and unit weights are not stored in the source: they are
ones on a group's rows.

**Layout.** The column-by-row layout lets a block be filled with contiguous
copies of runs of each (sorted) column, and the kernels' Gram matrices
:math:`Z_g Z_g^\top` contract the contiguous axis (on the 2-core machine,
10,000 groups x 128 rows x 7: about 16 ms of CPU to fill and 17 ms for the
Gram matrices, against about 58 ms and 26 ms for the earlier row-by-column
layout filled by a fancy-index gather).

**Order.** Rows whose group codes are non-decreasing (sorted keys, the usual
layout of panel data) are used where they are: a group is the run
``starts[g] : starts[g] + sizes[g]``. Otherwise one stable sort of the codes
(a radix sort when they fit in 16 bits) and one take of the stacked numeric
columns put them in that order once.

**Filling a block** of consecutive groups (in that order) copies slices: a
reshape when every group has ``length`` rows, a strided slice when all have
the same size, and one boolean-mask assignment per column for ragged sizes;
groups that are not consecutive (several buckets interleaved) gather their
rows by one index built with ``np.repeat``, never a Python loop over groups.
"""

from __future__ import annotations

import numpy as np

from .frame import aligned_empty

__all__ = ["Gather", "group_table"]


def group_table(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and starts (in group-sorted row order) of every group, vectorised."""
    sizes = np.bincount(codes, minlength=n_groups)
    starts = np.zeros(n_groups, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return sizes, starts


def stable_order(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The stable sorting permutation of the group codes (rows of a group keep their order).

    numpy's stable sort is a radix sort for 16-bit integers: with fewer than 2^15
    groups the codes are sorted as int16 (about 4x faster than as int64).
    """
    if n_groups < (1 << 15):
        codes = codes.astype(np.int16)
    return np.argsort(codes, kind="stable")


class Gather:
    """``gather(groups, length, lanes)``: the (lanes, p + 2, length) block of those groups.

    ``inputs`` are :class:`~estimators.batch_inputs.Inputs` (columns, None for
    the intercept, y, w or None); ``codes`` the group number of every row.
    ``rows(g)`` gives the positions of group ``g``'s rows in the inputs.
    """

    def __init__(self, inputs, codes: np.ndarray, n_groups: int):
        n = len(inputs.y)
        self.p = len(inputs.cols)
        self.sizes, self.starts = group_table(codes, n_groups)
        monotonic = n < 2 or bool(np.all(codes[1:] >= codes[:-1]))
        self.order = None if monotonic else stable_order(codes, n_groups)
        # (block row, values) of the stored columns; the others (intercept, unit
        # weights) are ones on the groups' rows.
        slots = [(j, c) for j, c in enumerate(inputs.cols) if c is not None]
        slots.append((self.p, inputs.y))
        if inputs.w is not None:
            slots.append((self.p + 1, inputs.w))
        self.ones = [j for j, c in enumerate(inputs.cols) if c is None]
        if inputs.w is None:
            self.ones.append(self.p + 1)
        values = [np.asarray(v, dtype=np.float64) for _, v in slots]
        if self.order is not None:  # one take of the whole numeric block
            values = list(np.take(np.stack(values), self.order, axis=1))
        self.slots = [(j, v) for (j, _), v in zip(slots, values, strict=True)]

    def rows(self, group: int) -> np.ndarray:
        """The positions of a group's rows in the (unsorted) inputs."""
        rows = np.arange(self.starts[group], self.starts[group] + self.sizes[group])
        return rows if self.order is None else self.order[rows]

    def __call__(self, groups: np.ndarray, length: int, lanes: int) -> np.ndarray:
        k, q = len(groups), self.p + 2
        # 64-byte aligned: jax.device_put is then zero-copy (PERFORMANCE.md item 5)
        out = aligned_empty((lanes, q, length))
        out[k:] = 0.0
        if k == 0:
            return out
        sizes, starts = self.sizes[groups], self.starts[groups]
        lo, hi = int(starts[0]), int(starts[-1] + sizes[-1])
        consecutive = bool(np.all(starts[1:] == starts[:-1] + sizes[:-1]))
        size = int(sizes[0])
        if consecutive and np.all(sizes == size):
            # Equal sizes, rows in one run: each column is a (k, size) view, copied in.
            if size < length:
                out[:k, :, size:] = 0.0
            for j, v in self.slots:
                out[:k, j, :size] = v[lo:hi].reshape(k, size)
            for j in self.ones:
                out[:k, j, :size] = 1.0
            return out
        mask = np.arange(length) < sizes[:, None]  # (k, length): the groups' rows
        if consecutive:
            rows = slice(lo, hi)
        else:  # the groups' runs, concatenated: one index, no loop over groups
            offsets = np.zeros(k, dtype=np.int64)
            np.cumsum(sizes[:-1], out=offsets[1:])
            rows = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))
        out[:k] = 0.0
        for j, v in self.slots:
            lane_rows = out[:k, j, :]  # a strided view into the block
            lane_rows[mask] = v[rows]
        for j in self.ones:
            out[:k, j, :] = mask
        return out
