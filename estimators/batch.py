r"""Many fits at once: :func:`fit_groups`, one compiled vmapped call per size bucket.

Every group's fit is a pure array function of its padded rows ``(X_g, y_g,
w_g)``; rows of weight 0 drop out of every sum, so ragged groups are padded
with zero weights to a common length and ``jax.vmap`` fits them together.

**Buckets.** A group of :math:`n_g` rows is padded to :func:`group_bucket`
:math:`(n_g)`: a power of two up to 64 rows, then two buckets an octave
(multiples of :math:`2^{k-2}` for :math:`n_g \in (2^{k-1}, 2^k]`), so the
padding wastes at most a third of the work above 64 rows and a data set of
groups of similar size compiles one kernel. A bucket whose groups all have the
same size, at least :data:`EXACT_MIN_GROUPS` of them (a large balanced panel),
is not padded: its length is that size (still one kernel per bucket, but one
per distinct size across such data sets). Groups of one bucket are fitted in
chunks of at most :data:`CHUNK_VALUES` design values (a power-of-two number of
groups, at least :data:`MIN_LANES`, padded with empty groups), which bounds
memory and the number of compiles.

The per-group fits are the pure fits of :mod:`estimators.functional_regression`
(:func:`~estimators.functional_regression.least_squares_lane`,
:func:`~estimators.functional_regression.newton_lane`) under ``jax.vmap``, in
batches of a few hundred groups by ``lax.map``.

**Least squares** (:class:`~estimators.regression.LinearRegression`), per group,
closed form: with an intercept the other columns are centred at their
weighted means, columns are scaled by powers of two (exact), the normal
equations are factored by a Cholesky unrolled in jnp ops and the solution gets
one corrected semi-normal refinement step. Groups whose estimated error
exceeds :data:`~estimators.lstsq.DEFAULT_TOL` (nearly collinear columns) are
refitted by the refined normal equations, and those still above it by the
estimators' own solver (:func:`~estimators.lstsq.solve_least_squares`: QR
with refinement in double-double), as the estimator's own rule. Then

.. math::  s^2 = \frac{\sum_i w_i r_i^2}{m_g - p}, \qquad
           \widehat{\mathrm{Cov}}(\hat\beta) = s^2 (X^\top W X)^{-1},

:math:`m_g` the group's rows of positive weight, t statistics with
:math:`m_g - p` degrees of freedom (z with ``use_t=False``), as
``LinearRegression`` fitted on the group.

**Logistic and Poisson** (:class:`~estimators.glm.LogisticRegression`,
:class:`~estimators.glm.PoissonRegression`, or :class:`~estimators.glm.GLM`
with the binomial/logit or poisson/log model): Newton's method on
:math:`\sum_i w_i \ell(x_i^\top\beta, y_i)` with the exact Hessian
:math:`X^\top \mathrm{diag}(w_i \ell''_i) X`: plain Newton steps (no loss
evaluations) until the Newton decrement :math:`g^\top H^{-1} g \le`
``tol``:sup:`2` (the estimate within ``tol`` standard errors; the step then
computed is still taken, so the answer is quadratically closer), and step
halving only for the lanes that did not converge that way. Covariance
:math:`H^{-1}` (canonical links: observed = expected information,
dispersion 1), z statistics (t with :math:`\sum w - p` df with ``use_t=True``).
Groups whose fitted means come within
:data:`~estimators.separation.SEPARATION_TRIGGER` of the boundary, or that do
not converge, are checked for perfect separation by the linear program of
:func:`~estimators.separation.separating_direction`.

**Speed** (10,000 groups of 100 rows; ``benchmarks/fit_groups.py``): the
group codes come from one pass over the keys (sorted keys need no sort), the
``columns=`` path converts each column once and checks it with one finite test
(the full validation of :func:`~estimators.frame.as_design` only when that
fails, for its messages), the padded blocks are filled by slices of the sorted
columns (:mod:`~estimators.batch_gather`: no index gather for sorted keys; one
stable sort and one take otherwise), p-values and interval quantiles are one
vectorised ``scipy.special`` call each, and the tidy frame is built from numpy
blocks in one go.

**Failures** never raise: a group with fewer rows (of positive weight) than
parameters, a singular design (condition number of the centred, scaled
design above :func:`~estimators.lstsq.rank_limit`), non-convergence or
separation gets NaN estimates, ``converged = False`` and a ``note``; a group
with exactly as many rows as parameters keeps its estimates with NaN standard
errors (no residual degrees of freedom). Other estimators are a
:class:`~estimators.errors.SettingsError` listing the supported ones (no
silent Python-loop fallback).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .batch_gather import Gather
from .batch_inputs import check_column, group_codes, intercept_index, validated_inputs
from .distributed_dask import is_dask_frame
from .errors import DataError, SettingsError
from .families import FAMILIES
from .functional_regression import (
    CANONICAL,
    DEFAULT_GLM_MAX_ITER,
    augmented_gram,
    least_squares_from_gram,
    least_squares_lane,
    newton_lane,
)
from .inference import t_or_normal_ppf, t_or_normal_sf
from .interop import as_pandas
from .lstsq import DEFAULT_TOL, solve_least_squares
from .progress import Progress
from .separation import SEPARATION_TRIGGER, boundary_direction, separating_direction
from .solve import x64_context

__all__ = ["fit_groups", "group_bucket"]

CHUNK_VALUES = 1 << 21  # design values per compiled call: 16 MB of float64
MIN_LANES = 64  # groups per compiled call at least (empty lanes are cheap, compiles are not)
OLS_BATCH = 128  # groups per lax.map step of the least-squares kernel
GRAM_BATCH = 512  # groups per lax.map step of the one-pass Gram matrices
NEWTON_BATCH = 512  # groups per lax.map step of the Newton kernel
EXACT_MIN_GROUPS = 1024  # a bucket of this many groups of one size is not padded
SUPPORTED = (
    "LinearRegression, LogisticRegression, PoissonRegression, and GLM with "
    "family='binomial' (link 'logit') or family='poisson' (link 'log')"
)

NOTE_FEW_ROWS = "fewer rows with positive weight than parameters"
NOTE_NO_DF = "no residual degrees of freedom: standard errors are NaN"
NOTE_SINGULAR = "singular design (collinear columns in this group)"
NOTE_NOT_CONVERGED = "Newton did not converge"
NOTE_SEPARATED = "perfect separation: the maximum likelihood estimate does not exist"
NOTE_NONFINITE = "the fit became NaN or infinite"


def group_bucket(n: int) -> int:
    """The padded length of a group of ``n`` rows: powers of two to 64, then two an octave.

    Coarse on purpose: each bucket is a compile (about 1.5 s for least squares,
    2.5 s for Newton on the 2-core machine), so fewer buckets win on ragged
    groups; the padding costs at most a third of the work above 64 rows.

    >>> [group_bucket(n) for n in (1, 9, 64, 65, 100, 1000)]
    [1, 16, 64, 96, 128, 1024]
    """
    if n <= 64:
        return 1 << max(n - 1, 0).bit_length()
    step = 1 << ((n - 1).bit_length() - 2)
    return -(-n // step) * step


def _buckets(sizes: np.ndarray) -> np.ndarray:
    """:func:`group_bucket` of every size, vectorised (10,000 groups: no Python loop)."""
    sizes = np.maximum(np.asarray(sizes, dtype=np.int64), 1)
    bits = np.ceil(np.log2(sizes)).astype(np.int64)  # exact for int sizes < 2^52
    bits = np.where((1 << bits) < sizes, bits + 1, bits)  # guard the float log
    small = 1 << bits
    step = 1 << np.maximum(bits - 2, 0)
    return np.where(sizes <= 64, small, -(-sizes // step) * step)


# --------------------------------------------------------------------------- kernels


def _in_batches(fn, size, *arrays):
    """``fn`` (vmapped over axis 0) on batches of ``size`` groups by ``lax.map``.

    A batch's design stays in cache, and XLA:CPU's batched products of tiny
    matrices run several times faster on a few hundred lanes than on
    thousands (10,000 groups x 128 rows x 6: 0.10 s as one vmap, 0.05 s in
    batches of 128; Newton 1.0 s vs 0.4 s in batches of 512).
    """
    G = arrays[0].shape[0]
    size = min(size, G)
    if G % size:
        return jax.vmap(fn)(*arrays)
    split = lambda a: a.reshape((G // size, size) + a.shape[1:])  # noqa: E731
    out = jax.lax.map(lambda a: jax.vmap(fn)(*a), tuple(split(a) for a in arrays))
    return jax.tree.map(lambda o: o.reshape((G,) + o.shape[2:]), out)


def _split(block):
    """A group's (p + 2, length) block (see :mod:`~estimators.batch_gather`) as X, y, w."""
    return block[:-2].T, block[-2], block[-1]


@functools.partial(jax.jit, static_argnames=("intercept", "path"))
def _least_squares_lanes(blocks, *, intercept, path):
    """The least-squares lanes of every group (axis 0) by ``path``: "gram" (one pass
    for the augmented Gram matrices in batches, then the small algebra vectorised over
    all lanes at once), "refined" (normal equations + a semi-normal step) or "qr"."""
    if path == "gram":
        gram = _in_batches(lambda b: augmented_gram(b[:-1].T, b[-1]), GRAM_BATCH, blocks)
        nobs = jnp.sum(blocks[:, -1] > 0, axis=1).astype(blocks.dtype)
        return jax.vmap(lambda S, m: least_squares_from_gram(S, m, intercept=intercept))(
            gram, nobs
        )
    lane = least_squares_lane
    return _in_batches(lambda b: lane(*_split(b), intercept=intercept), OLS_BATCH, blocks)


@functools.partial(jax.jit, static_argnames=("family", "link", "intercept"))
def _newton_lanes(blocks, tol, max_iter, *, family, link, intercept):
    """The Newton lanes of every group (axis 0)."""

    def one(block):
        X, y, w = _split(block)
        return newton_lane(X, y, w, tol, max_iter, family=family, link=link, intercept=intercept)

    return _in_batches(one, NEWTON_BATCH, blocks)


# --------------------------------------------------------------------------- the model


def _model(estimator: Any) -> tuple[str, str | None, str | None]:
    """("ols", None, None) or ("glm", family, link); a SettingsError for anything else."""
    from .glm import GLM
    from .regression import LinearRegression

    if type(estimator) is LinearRegression:
        return "ols", None, None
    if isinstance(estimator, GLM):
        family, link = estimator._model()
        if (family.name, link.name) in CANONICAL:
            return "glm", family.name, link.name
        raise SettingsError(
            f"fit_groups does not support GLM with family={family.name!r}, link={link.name!r}; "
            f"supported: {SUPPORTED}"
        )
    raise SettingsError(
        f"fit_groups does not support {type(estimator).__name__}; supported: {SUPPORTED}. "
        "Fit other estimators group by group with DataFrame.groupby"
    )


def _check_estimator(estimator: Any) -> None:
    estimator._check_settings()
    if getattr(estimator, "cov_type", "nonrobust") != "nonrobust":
        raise SettingsError(
            f"fit_groups computes the nonrobust covariance only, got cov_type="
            f"{estimator.cov_type!r}; fit robust covariances group by group"
        )


# --------------------------------------------------------------------------- driver


def fit_groups(
    estimator: Any,
    data: pd.DataFrame,
    by: str | list[str],
    *,
    formula: str | None = None,
    columns: str | list[str] | None = None,
    response: str | None = None,
    sample_weight: str | None = None,
    alpha: float = 0.05,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Fit ``estimator`` to every group of ``data`` (rows sharing the values of ``by``).

    The design is built once for the whole frame (``formula=`` through
    formulaic, so categorical levels and their columns are the same in every
    group; or ``columns=`` plus ``response=``, with an ``Intercept`` column
    when ``estimator.fit_intercept``), the estimator's ``missing`` policy
    applies to the whole frame, and rows with a missing key are left out (as
    ``DataFrame.groupby``). ``sample_weight`` names a column of weights
    (precision weights for least squares, frequency weights for GLMs, as the
    estimators). ``progress``: a bar over the groups (None: only once the
    work has run 2 s; True: at once; False: never). See the module docstring
    for the maths and the buckets.

    Returns a tidy DataFrame, one row per group and term, groups in sorted key
    order: the key column(s), ``term``, ``estimate``, ``std_error``,
    ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper`` (level
    ``1 - alpha``), ``n_obs`` (rows of positive weight), ``converged`` and
    ``note`` (empty when all is well).

    >>> import pandas as pd
    >>> from estimators.regression import LinearRegression
    >>> df = pd.DataFrame({"g": list("aaabbb"), "x": [0.0, 1, 2, 0, 1, 2],
    ...                    "y": [1.0, 3, 5, 2, 2, 2.5]})
    >>> out = fit_groups(LinearRegression(), df, "g", columns="x", response="y")
    >>> out[["g", "term"]].values.tolist(), out["estimate"].round(6).tolist()
    ([['a', 'Intercept'], ['a', 'x'], ['b', 'Intercept'], ['b', 'x']], [1.0, 2.0, 1.916667, 0.25])

    A Dask DataFrame is fitted partition by partition on its cluster
    (:func:`~estimators.distributed_dask.fit_groups_dask`, groups kept whole by
    a shuffle on ``by``); the result is the same pandas table.
    """
    if is_dask_frame(data):
        from .distributed_dask import fit_groups_dask

        settings = {"formula": formula, "columns": columns, "response": response}
        return fit_groups_dask(estimator, data, by, **settings, sample_weight=sample_weight,
                               alpha=alpha)  # fmt: skip
    kind, family, link = _model(estimator)
    _check_estimator(estimator)
    if not 0 < alpha < 1:
        raise SettingsError(f"alpha must be in (0, 1), got {alpha!r}")
    data = as_pandas(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    by = list(by) if isinstance(by, list | tuple) else [by]
    if not by:
        raise SettingsError("by must name at least one column")
    for name in by:
        check_column(data, name, "by")
    if sample_weight is not None:
        check_column(data, sample_weight, "sample_weight")
    missing_key = np.zeros(len(data), dtype=bool)
    for name in by:
        missing_key |= data[name].isna().to_numpy()
    if missing_key.all():
        raise DataError(f"the group keys {by} are missing in all {len(data)} rows")
    data = data.loc[~missing_key] if missing_key.any() else data
    inputs = validated_inputs(estimator, data, formula, columns, response, sample_weight)
    if kind == "glm":
        estimator._check_response(SimpleNamespace(y=inputs.y, response=inputs.response,
                                                  index=inputs.index))  # fmt: skip
    keys = data[by] if inputs.rows is None else data[by].iloc[inputs.rows]
    codes, group_keys = group_codes(keys, by)
    out = _fit_all(estimator, kind, family, link, inputs, codes, len(group_keys), progress)
    return _tidy(out, inputs.names, group_keys, by, alpha, kind, estimator)


def _fit_all(estimator, kind, family, link, inputs, codes, n_groups, progress):
    """Per group: coef, cov, n_obs, df, converged, note; bucket by bucket, chunk by chunk."""
    p = len(inputs.cols)
    intercept = intercept_index(inputs.cols, inputs.names)
    w = inputs.w
    gather = Gather(inputs, codes, n_groups)
    sizes = gather.sizes
    positive = None if w is None else (w > 0)
    n_obs = sizes if w is None else np.bincount(codes, weights=positive, minlength=n_groups)
    n_obs = n_obs.astype(int)
    coef = np.full((n_groups, p), np.nan)
    cov = np.full((n_groups, p, p), np.nan)
    status = np.zeros(n_groups, int)
    extra = {
        "kappa": np.full(n_groups, np.nan),
        "rss": np.full(n_groups, np.nan),
        "error": np.zeros(n_groups),
        "gap": np.full(n_groups, np.inf),
        # GLM degrees of freedom count frequency weights: sum w - p per group
        "wsum": sizes.astype(float) if w is None else np.bincount(codes, w, minlength=n_groups),
    }
    buckets = _buckets(sizes)
    bar = Progress(progress, "fit_groups", total=n_groups, unit="groups")
    arrays = (coef, cov, status, extra)

    def fit(groups_of_lengths, path, update):
        # Dispatch a chunk, then fetch the one before: the next chunk's gather (numpy)
        # runs while XLA computes the previous one (JAX dispatches asynchronously).
        pending = None
        for length, members in groups_of_lengths:
            for groups, lanes in _chunks(members, int(length), p):
                block = gather(groups, length, lanes)
                running = (
                    groups,
                    _dispatch(estimator, kind, family, link, intercept, block, path),
                )
                if pending is not None:
                    _store(_fetch(pending[1]), pending[0], *arrays)
                    update(len(pending[0]))
                pending = running
        if pending is not None:
            _store(_fetch(pending[1]), pending[0], *arrays)
            update(len(pending[0]))

    try:
        fit(_by_length(np.arange(n_groups), buckets, sizes), "gram", bar.update)
        # Groups the one-pass screen cannot vouch for (a column far from zero relative
        # to its spread, nearly collinear columns): refined normal equations, then QR,
        # each where the estimated error still exceeds lstsq's tolerance (its own rule).
        if kind == "ols":
            redo = np.flatnonzero((extra["error"] > DEFAULT_TOL) & (n_obs >= p))
            fit(_by_length(redo, buckets, sizes), "refined", lambda k: None)
            redo = np.flatnonzero((extra["error"] > DEFAULT_TOL) & (n_obs >= p))
            _refit_exactly(redo, inputs, gather, coef, cov, extra)
    finally:
        bar.close()
    return _judge(kind, family, inputs, gather, coef, cov, status, n_obs, extra)


def _by_length(groups: np.ndarray, buckets: np.ndarray, sizes: np.ndarray):
    """(length, members) per bucket of ``groups``: the bucket's length, or the groups'
    common size where at least :data:`EXACT_MIN_GROUPS` all have the same one (a large
    balanced panel: no padded rows, whose work is a fifth of the whole for groups of
    100 rows in the bucket of 128; fewer groups keep the bucket, whose kernel serves
    every size in it, as a compile costs more than the padding saves)."""
    out = []
    for bucket in np.unique(buckets[groups]):
        members = groups[buckets[groups] == bucket]
        common = sizes[members]
        equal = len(members) >= EXACT_MIN_GROUPS and bool(np.all(common == common[0]))
        out.append((int(common[0]) if equal else int(bucket), members))
    return out


def _chunks(members: np.ndarray, length: int, p: int):
    """(groups, lanes) per compiled call: at most CHUNK_VALUES design values, and a
    power of two (at least MIN_LANES) of lanes: few shapes, few compiles."""
    chunk = max(1, 1 << int(np.log2(max(1, CHUNK_VALUES // (length * p)))))
    for lo in range(0, len(members), chunk):
        groups = members[lo : lo + chunk]
        yield groups, min(chunk, max(MIN_LANES, 1 << max(len(groups) - 1, 0).bit_length()))


def _store(res, groups, coef, cov, status, extra) -> None:
    k = len(groups)
    coef[groups], cov[groups] = res["coef"][:k], res["cov"][:k]
    status[groups] = res["status"][:k]
    for key in extra:
        if key in res:
            extra[key][groups] = res[key][:k]


def _refit_exactly(groups, inputs, gather, coef, cov, extra) -> None:
    """Groups whose refined normal equations still cannot vouch for their accuracy
    (nearly collinear columns): the estimators' own solver,
    :func:`~estimators.lstsq.solve_least_squares` (QR with refinement in
    double-double), group by group; such groups are rare, and batched LAPACK QR
    on tiny matrices would be slow anyway."""
    for g in groups:
        rows = gather.rows(g)
        X = np.column_stack([np.ones(len(rows)) if c is None else c[rows] for c in inputs.cols])
        w = np.ones(len(rows)) if inputs.w is None else inputs.w[rows]
        out = solve_least_squares(X, inputs.y[rows], w)
        coef[g] = out.coef
        cov[g] = (out.r_inverse @ out.r_inverse.T) / np.outer(out.scales, out.scales)
        extra["rss"][g], extra["kappa"][g] = out.rss * out.y_scale**2, out.kappa
        extra["error"][g] = 0.0


def _dispatch(estimator, kind, family, link, intercept, block, path="gram") -> dict:
    """Start the kernel on one chunk; the device arrays of its results (not waited for)."""
    with x64_context("float64"):
        block = jax.device_put(block)  # C-contiguous float64: zero-copy on CPU
        if kind == "ols":
            lane = _least_squares_lanes(block, intercept=intercept, path=path)
            out = dict(coef=lane.coef, cov=lane.inner, rss=lane.rss, kappa=lane.kappa,
                       error=lane.error)  # fmt: skip
        else:
            max_iter = DEFAULT_GLM_MAX_ITER if estimator.max_iter is None else estimator.max_iter
            lane = _newton_lanes(
                block, float(estimator.tol), int(max_iter),
                family=family, link=link, intercept=intercept,
            )  # fmt: skip
            out = dict(coef=lane.coef, cov=lane.cov, status=lane.status, kappa=lane.kappa,
                       gap=lane.gap)  # fmt: skip
    return out


def _fetch(out: dict) -> dict[str, np.ndarray]:
    """Wait for a chunk's results and bring them to numpy."""
    with x64_context("float64"):
        out = {k: np.asarray(v) for k, v in jax.device_get(out).items()}
    out.setdefault("status", np.zeros(len(out["coef"]), int))
    return out


def _judge(kind, family, inputs, gather, coef, cov, status, n_obs, extra):
    """Flag failed groups (NaN estimates and a note) and scale the covariance."""
    p = coef.shape[1]
    note = np.full(len(coef), "", dtype=object)
    limit = 1.0 / (p * np.maximum(n_obs, p) * np.finfo(float).eps)  # lstsq.rank_limit
    singular = ~(extra["kappa"] <= limit)
    if kind == "ols":
        df = (n_obs - p).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.where(df > 0, extra["rss"] / df, np.nan)
        cov = cov * s2[:, None, None]
        note[df == 0] = NOTE_NO_DF
    else:
        w = inputs.w
        df = extra["wsum"] - p
        note[status == 1] = NOTE_NOT_CONVERGED
        note[status == 2] = NOTE_NONFINITE
        suspect = (status != 0) | (extra["gap"] < SEPARATION_TRIGGER)
        for g in np.flatnonzero(suspect & (n_obs >= p)):
            rows = gather.rows(g)
            X = np.column_stack(
                [np.ones(len(rows)) if c is None else c[rows] for c in inputs.cols]
            )
            weights = np.ones(len(rows)) if w is None else w[rows]
            direction = boundary_direction(FAMILIES[family], inputs.y[rows])
            if separating_direction(X, direction, weights) is not None:
                note[g] = NOTE_SEPARATED
    note[(note == "") & singular & (n_obs >= p)] = NOTE_SINGULAR
    note[n_obs < p] = NOTE_FEW_ROWS
    failed = (note != "") & (note != NOTE_NO_DF)
    coef[failed], cov[failed] = np.nan, np.nan
    return dict(coef=coef, cov=cov, n_obs=n_obs, df=df, converged=~failed, note=note)


def _tidy(out, names, group_keys, by, alpha, kind, estimator) -> pd.DataFrame:
    """The tidy frame, built from numpy blocks in one go (no per-group Python)."""
    n_groups, p = out["coef"].shape
    estimate = out["coef"].ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.diagonal(out["cov"], axis1=1, axis2=2)).ravel()
        statistic = estimate / se
    use_t = estimator.use_t
    t_stats = (use_t is None or use_t) if kind == "ols" else bool(use_t)
    if t_stats:
        df = np.repeat(out["df"], p)
        with np.errstate(invalid="ignore"):
            df = np.where(df > 0, df, np.nan)
        levels, where = np.unique(df, return_inverse=True)  # one quantile per distinct df
        quantile = t_or_normal_ppf(1 - alpha / 2, levels)[where]
    else:
        df = None
        quantile = t_or_normal_ppf(1 - alpha / 2)
    p_value = 2.0 * t_or_normal_sf(np.abs(statistic), df)
    each = np.repeat(np.arange(n_groups), p)
    columns = {name: group_keys[name].array.take(each) for name in by}
    notes, note_codes = np.unique(out["note"].astype(str), return_inverse=True)
    columns.update(
        term=pd.array(np.asarray(names, dtype=object), dtype="str").take(
            np.tile(np.arange(p), n_groups)
        ),
        estimate=estimate,
        std_error=se,
        statistic=statistic,
        p_value=p_value,
        ci_lower=estimate - quantile * se,
        ci_upper=estimate + quantile * se,
        n_obs=np.repeat(out["n_obs"], p),
        converged=np.repeat(out["converged"], p),
        note=pd.array(notes.astype(object), dtype="str").take(np.repeat(note_codes, p)),
    )
    return pd.DataFrame(columns)
