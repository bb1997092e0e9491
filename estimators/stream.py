r"""Fits over data larger than memory: :func:`fit_stream` reads a source in chunks.

The data are never materialised: a source (a Parquet file or directory, a CSV
file, or DataFrames) is read chunk by chunk, each chunk is copied into a
fixed-size block of ``batch_size`` rows (the last one padded with rows of
weight 0, so each chunk kernel compiles once), reduced to a few p x p numbers,
and dropped. Peak memory is a few blocks, whatever the number of rows.

Exact fits (``method="exact"``), equal to the in-memory fit:

- :class:`~estimators.regression.LinearRegression`: one pass of a streaming
  Householder QR (TSQR). With :math:`A = W^{1/2}[X\ y]` read in blocks
  :math:`A_1, A_2, \dots`, the triangular factor is updated as
  :math:`R \leftarrow \operatorname{qr}\bigl([R; A_k]\bigr)`, so that
  :math:`R^\top R = A^\top A` without forming :math:`A^\top A` (which would
  square the condition number). With :math:`R = \begin{pmatrix} R_{11} & r \\
  0 & \rho\end{pmatrix}`: :math:`\hat\beta = R_{11}^{-1} r`, RSS
  :math:`= \rho^2`, :math:`\widehat{\mathrm{Cov}} = s^2 R_{11}^{-1}R_{11}^{-\top}`.
  Householder QR is backward stable, so the error is about
  :math:`\kappa\,\epsilon` (normal equations: :math:`\kappa^2\epsilon`).
- :class:`~estimators.glm.LogisticRegression`, :class:`~estimators.glm.PoissonRegression`
  and :class:`~estimators.glm.GLM` (binomial and poisson families): Newton's
  method with the gradient and Hessian accumulated over the chunks, one pass
  an iteration,

  .. math::  f = \frac{\sum_i w_i(\ell_i - \ell_i^{\text{sat}})}{\sum_i w_i},\quad
             g = \frac{\sum_i w_i \ell'(\eta_i)\,x_i}{\sum_i w_i},\quad
             H = \frac{X^\top \operatorname{diag}(w_i \ell''(\eta_i)) X}{\sum_i w_i},

  :math:`\ell'`, :math:`\ell''` by autodiff of the family's per-row loss. The
  stopping rule is the in-memory GLM's (the Newton decrement
  :math:`\lambda^2 = g^\top H^{-1} g` with :math:`\lambda^2/2 \le
  (\text{tol}^2/n)\,|f|`, ``tol`` in standard errors), then one last full
  Newton step (quadratic convergence squares the remaining error) and a last
  pass for the Hessian at the estimate (the covariance :math:`(nH)^{-1}`) and
  the fit statistics. A step that raises the loss is halved (one more pass).
  Before the first iteration a validation pass counts the rows and the weights,
  checks every value and the response's domain, and finds the starting values
  (the intercept-only MLE, as in memory).

Approximate fits (``method="minibatch"``): optax ``adam`` or ``sgd`` over
minibatches of each chunk, ``n_epochs`` passes; then one exact pass gives the
Hessian for the standard errors and the Newton decrement at the estimate,
from which ``distance_se_`` (:math:`\sqrt{n\lambda^2/\phi}`, the distance from
the exact estimate in standard errors) is reported. ``converged_`` is True
when it is below ``tol`` (default 5 standard errors); otherwise a
ConvergenceWarning. Use it for a quick estimate, never as the exact answer.

Progress: a tqdm bar (rows and rows/s) shows after 2 seconds of a pass when
tqdm is installed, a plain line on stderr otherwise; short work stays quiet;
``progress=False`` silences it and ``True`` shows it at once.
"""

from __future__ import annotations

import functools
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from .base import DesignInfo, Estimator, clone
from .errors import ConvergenceWarning, DataError, FitError, SettingsError, user_stacklevel
from .families import FAMILIES, LINKS, saturated_nll
from .frame import INTERCEPT, collinear_columns
from .glm import GLM
from .lstsq import rank_limit
from .regression import LinearRegression
from .solve import Solution, Status, x64_context

__all__ = ["fit_stream"]

METHODS = ("exact", "minibatch")
MINIBATCH_SOLVERS = ("adam", "sgd")
STREAM_FAMILIES = ("binomial", "poisson")
DEFAULT_BATCH_SIZE = 65_536  # rows a block: 65536 x 11 float64 = 5.8 MB
EPS = np.finfo(float).eps
# Adam / SGD with a decaying rate end a few standard errors from the optimum
# (measured: 2-3 SE after 5-10 epochs on 5e4 rows): the accepted distance.
DEFAULT_MINIBATCH_TOL = 5.0


# --------------------------------------------------------------------------- sources


def _numeric(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


class _Source:
    """A re-readable source of column pieces: ``pieces()`` yields ``(where, {name: array})``.

    ``where`` names the file (or DataFrame) a piece came from, for error messages.
    """

    def __init__(self, pieces: Callable[[], Iterator[tuple[str, dict]]], one_shot: bool):
        self._pieces, self._one_shot, self._used = pieces, one_shot, False

    def pieces(self) -> Iterator[tuple[str, dict]]:
        if self._one_shot and self._used:
            raise SettingsError(
                "the source is a one-shot iterator, but this fit reads the data several "
                "times: pass a list of DataFrames or a function returning a new iterator"
            )
        self._used = True
        return self._pieces()


def _parquet_source(path: str, names: list[str], batch_size: int) -> _Source:
    import pyarrow.dataset as ds

    try:
        files = ds.dataset(path, format="parquet").files
    except Exception as error:  # pyarrow raises several types for unreadable input
        raise DataError(f"cannot read Parquet data at {path!r}: {error}") from None
    if not files:
        raise DataError(f"no Parquet files found at {path!r}")
    types: dict[str, tuple[Any, str]] = {}
    for file in files:  # schemas first: a mismatch fails before any work
        try:
            schema = ds.dataset(file, format="parquet").schema
        except Exception as error:
            raise DataError(f"cannot read Parquet file {file!r}: {error}") from None
        for name in names:
            if name not in schema.names:
                raise DataError(
                    f"Parquet file {file!r} has no column {name!r} (its columns: {schema.names})"
                )
            kind = schema.field(name).type
            if not _numeric(kind):
                raise DataError(f"column {name!r} of Parquet file {file!r} is {kind}, not numeric")
            first = types.setdefault(name, (kind, file))
            if first[0] != kind:
                raise DataError(
                    f"schema mismatch in column {name!r}: {kind} in {file!r} but "
                    f"{first[0]} in {first[1]!r}"
                )

    def pieces():
        for file in files:
            try:
                scanner = ds.dataset(file, format="parquet").scanner(
                    # Little read-ahead: pyarrow's defaults buffer hundreds of MB.
                    columns=names,
                    batch_size=batch_size,
                    batch_readahead=2,
                    fragment_readahead=1,
                )
                for batch in scanner.to_batches():
                    yield file, _arrow_columns(batch, names)
            except DataError:
                raise
            except Exception as error:
                raise DataError(f"cannot read Parquet file {file!r}: {error}") from None

    return _Source(pieces, one_shot=False)


def _arrow_columns(batch: Any, names: list[str]) -> dict[str, np.ndarray]:
    import pyarrow as pa

    out = {}
    for name in names:
        column = batch.column(name).cast(pa.float64())  # nulls become NaN below
        out[name] = column.to_numpy(zero_copy_only=False)
    return out


def _csv_source(path: str, names: list[str], batch_size: int) -> _Source:
    import csv

    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, StopIteration) as error:
        raise DataError(f"cannot read CSV file {path!r}: {error}") from None
    for name in names:
        if name not in header:
            raise DataError(f"CSV file {path!r} has no column {name!r} (its columns: {header})")
    # Every column read as float64: a non-numeric value is an error naming its column.
    convert = pcsv.ConvertOptions(
        include_columns=names, column_types={name: pa.float64() for name in names}
    )
    # Blocks of about batch_size rows (bytes a row estimated from the header).
    read = pcsv.ReadOptions(block_size=max(1 << 20, batch_size * 12 * len(header)))

    def pieces():
        try:
            reader = pcsv.open_csv(path, read_options=read, convert_options=convert)
            for batch in reader:
                yield path, _arrow_columns(batch, names)
        except pa.ArrowInvalid as error:
            raise DataError(f"cannot read CSV file {path!r}: {error}") from None

    return _Source(pieces, one_shot=False)


def _frames_source(source: Any, names: list[str]) -> _Source:
    if isinstance(source, pd.DataFrame):
        source = [source]
    if callable(source):
        make, one_shot = source, False
    elif isinstance(source, Iterator):
        make, one_shot = (lambda: source), True
    elif isinstance(source, Iterable):
        make, one_shot = (lambda: iter(source)), False
    else:
        raise SettingsError(
            "source must be a path (Parquet file or directory, CSV file), a DataFrame, an "
            f"iterable of DataFrames or a function returning one; got {type(source).__name__}"
        )

    def pieces():
        for k, frame in enumerate(make()):
            where = f"DataFrame #{k}"
            if not isinstance(frame, pd.DataFrame):
                raise DataError(
                    f"{where} of the source is a {type(frame).__name__}, not a DataFrame"
                )
            out = {}
            for name in names:
                if name not in frame.columns:
                    raise DataError(f"{where} has no column {name!r}")
                try:
                    out[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError):
                    raise DataError(
                        f"column {name!r} of {where} is not numeric ({frame[name].dtype})"
                    ) from None
            yield where, out

    return _Source(pieces, one_shot)


def _open(source: Any, names: list[str], batch_size: int) -> _Source:
    import os

    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise DataError(f"cannot read {path!r}: no such file or directory")
        lower = path.lower()
        if lower.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt")):
            return _csv_source(path, names, batch_size)
        return _parquet_source(path, names, batch_size)
    return _frames_source(source, names)


# --------------------------------------------------------------------------- blocks


class _Blocks:
    """Cut a source's pieces into blocks ``Z`` of ``batch_size`` rows: [X, y, w].

    X holds the intercept (if any) and the feature columns; padding rows are all
    zero (weight 0). Rows with a NaN or an infinite value are counted (and
    dropped with ``missing="drop"``); the counts are checked after a whole pass,
    so that the error gives the totals.
    """

    def __init__(self, source, features, response, weights, intercept, batch_size, missing):
        self.source, self.features, self.response = source, features, response
        self.weights, self.intercept, self.batch_size = weights, intercept, batch_size
        self.missing = missing
        self.names = features + [response] + ([weights] if weights else [])
        self.p = len(features) + int(intercept)

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        """Blocks and their numbers of real rows; the counts in ``self.bad`` after the pass."""
        self.bad: dict[str, list] = {}
        self.negative: dict[str, list] = {}
        self.n_rows = self.n_dropped = 0
        block, filled = self._new_block(), 0
        for where, columns in self.source.pieces():
            columns = self._checked(where, columns)
            n = len(columns[self.response])
            start = 0
            while start < n:
                take = min(n - start, self.batch_size - filled)
                rows = slice(filled, filled + take)
                part = slice(start, start + take)
                offset = int(self.intercept)
                for j, name in enumerate(self.features):
                    block[rows, offset + j] = columns[name][part]
                block[rows, self.p] = columns[self.response][part]
                block[rows, self.p + 1] = columns[self.weights][part] if self.weights else 1.0
                if self.intercept:
                    block[rows, 0] = 1.0
                filled += take
                start += take
                if filled == self.batch_size:
                    yield block, filled
                    block, filled = self._new_block(), 0
        if filled:
            yield block, filled

    def _new_block(self) -> np.ndarray:
        # A new array a block: the previous one may still be read by an
        # asynchronous JAX computation (device_put can be zero-copy).
        return np.zeros((self.batch_size, self.p + 2))

    def _checked(self, where: str, columns: dict) -> dict:
        finite = np.ones(len(columns[self.response]), dtype=bool)
        for name in self.names:
            ok = np.isfinite(columns[name])
            if name == self.weights and np.any(columns[name] < 0):
                entry = self.negative.setdefault(name, [0, where])
                entry[0] += int(np.sum(columns[name] < 0))
            if not ok.all():
                entry = self.bad.setdefault(name, [0, where])
                entry[0] += int((~ok).sum())
            finite &= ok
        self.n_rows += len(finite)
        if self.missing == "drop" and not finite.all():
            self.n_dropped += int((~finite).sum())
            columns = {name: values[finite] for name, values in columns.items()}
        return columns

    def check(self) -> None:
        """Raise the DataError for the bad values counted in the last pass, if any."""
        for name, (count, where) in self.negative.items():
            raise DataError(
                f"weights column {name!r} has {count} negative values in {self.n_rows} rows "
                f"(first in {where})"
            )
        if self.missing == "drop" or not self.bad:
            return
        parts = [
            f"column {name!r}: {count} of {self.n_rows} rows (first in {where})"
            for name, (count, where) in self.bad.items()
        ]
        raise DataError(
            "missing or infinite values in "
            + "; ".join(parts)
            + "; fit an estimator with missing='drop' to skip those rows"
        )


# --------------------------------------------------------------------------- progress


class _Progress:
    """Rows read and rows/s: tqdm if installed (imported lazily), else a line on stderr.

    Shown only once a pass has run ``delay`` seconds (short work stays quiet),
    or at once with ``progress=True``; never with ``progress=False``.
    """

    def __init__(self, setting: bool | None, description: str, total: int | None):
        self.enabled = setting is not False
        self.delay = 0.0 if setting else 2.0
        self.description, self.total = description, total
        self.start, self.rows, self.bar, self.last = time.perf_counter(), 0, None, 0.0

    def update(self, rows: int) -> None:
        if not self.enabled:
            return
        self.rows += rows
        elapsed = time.perf_counter() - self.start
        if elapsed < self.delay:
            return
        if self.bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.bar = False
            else:
                self.bar = tqdm(desc=self.description, total=self.total, unit="rows",
                                unit_scale=True, leave=False)  # fmt: skip
                self.bar.update(self.rows - rows)
        if self.bar:
            self.bar.update(rows)
        elif elapsed - self.last >= 1.0 or self.delay == 0.0:
            self.last = elapsed
            print(f"\r{self.description}: {self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s",
                  end="", file=sys.stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        if self.bar:
            self.bar.close()
        elif self.bar is False:
            print(file=sys.stderr)


# --------------------------------------------------------------------------- kernels


@jax.jit
def _tsqr_step(R: jax.Array, Z: jax.Array) -> jax.Array:
    """R of [R; W^(1/2) [X y]]: one step of the streaming QR (padding rows are zero)."""
    p = Z.shape[1] - 2
    A = Z[:, : p + 1] * jnp.sqrt(Z[:, p + 1])[:, None]
    return jnp.linalg.qr(jnp.concatenate([R, A]), mode="r")


@functools.cache
def _glm_kernels(family_name: str, link_name: str):
    """Jitted block kernels of one family and link: derivatives, and eta for statistics."""
    family, link = FAMILIES[family_name], LINKS[link_name]

    def row_nll(eta, y):
        return family.nll(eta, y, 0.0, link)

    nll = jax.vmap(row_nll)
    d1 = jax.vmap(jax.grad(row_nll))
    d2 = jax.vmap(jax.grad(jax.grad(row_nll)))

    def split(Z):
        p = Z.shape[1] - 2
        return Z[:, :p], Z[:, p], Z[:, p + 1]

    @jax.jit
    def derivatives(beta, Z):
        """sum w l, sum w l' x and X^T diag(w l'') X over one block."""
        X, y, w = split(Z)
        eta = X @ beta
        return (
            w @ nll(eta, y),
            (w * d1(eta, y)) @ X,
            jnp.einsum("ni,nj->ij", X * (w * d2(eta, y))[:, None], X),
        )

    @jax.jit
    def linear_predictor(beta, Z):
        return split(Z)[0] @ beta

    def minibatch_epoch(optimizer):
        @jax.jit
        def epoch(gamma, state, Z, scale, order):
            """optax steps over the minibatches (rows of ``order``) of one block."""
            X, y, w = split(Z)

            def loss(g, rows):
                wb = w[rows]
                total = jnp.sum(wb)
                value = wb @ nll(X[rows] @ (scale * g), y[rows])
                return value / jnp.where(total > 0, total, 1.0), total

            def step(carry, rows):
                g, s = carry
                (_, total), grad = jax.value_and_grad(loss, has_aux=True)(g, rows)
                updates, s_new = optimizer.update(grad, s, g)
                keep = total > 0  # an all-padding minibatch changes nothing
                g = jnp.where(keep, optax.apply_updates(g, updates), g)
                s = jax.tree.map(lambda new, old: jnp.where(keep, new, old), s_new, s)
                return (g, s), None

            (gamma, state), _ = jax.lax.scan(step, (gamma, state), order)
            return gamma, state

        return epoch

    return derivatives, linear_predictor, functools.cache(minibatch_epoch)


# --------------------------------------------------------------------------- helpers


def _equilibrated(H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-diagonal scaling of a symmetric H: (d, D H D, eigenvalues of D H D)."""
    diag = np.diag(H)
    d = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
    unit = d[:, None] * H * d[None, :]
    unit = (unit + unit.T) / 2
    return d, unit, np.linalg.eigvalsh(unit)


def _check_rank(H: np.ndarray, names: list[str], nobs: float) -> None:
    """DataError naming the collinear columns when the Gram / Hessian H is singular."""
    if not np.all(np.isfinite(H)):
        return  # the non-finite loss is reported by the solver
    d, unit, eigenvalues = _equilibrated(H)
    if eigenvalues[0] > 1e3 * EPS * eigenvalues[-1] and np.all(np.diag(H) > 0):
        return
    values, vectors = np.linalg.eigh(unit)
    root = np.sqrt(np.maximum(values, 0.0))[:, None] * vectors.T  # root^T root = unit
    culprits = collinear_columns(root, names, rtol=np.sqrt(1e3 * EPS)) or names
    raise DataError(
        f"the design is singular: column(s) {culprits} are (numerically) linear "
        f"combinations of the other columns over the {nobs:.0f} rows; drop or combine them"
    )


def _inverse(H: np.ndarray) -> np.ndarray:
    d, unit, _ = _equilibrated(H)
    inverse = d[:, None] * np.linalg.inv(unit) * d[None, :]
    return (inverse + inverse.T) / 2


def _trace(loss: list[float], grad_norm: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"loss": np.asarray(loss, dtype=float), "grad_norm": np.asarray(grad_norm, dtype=float)},
        index=pd.RangeIndex(len(loss), name="iteration"),
    )


def _put(block: np.ndarray) -> jax.Array:
    return jax.device_put(block)


# --------------------------------------------------------------------------- passes


class _Pass:
    """One pass over the blocks: runs ``each(block_device, block_host, rows)`` on every block."""

    def __init__(self, blocks: _Blocks, progress: bool | None, total: int | None):
        self.blocks, self.progress, self.total, self.count = blocks, progress, total, 0

    def run(self, label: str, each: Callable[[jax.Array, np.ndarray, int], None]) -> None:
        self.count += 1
        bar = _Progress(self.progress, f"{label} (pass {self.count})", self.total)
        try:
            with x64_context("float64"):
                for block, rows in self.blocks:
                    each(_put(block), block, rows)
                    bar.update(rows)
        finally:
            bar.close()
        self.blocks.check()
        self.total = self.blocks.n_rows


class _Statistics:
    """What the validation pass of a GLM fit finds: weights, response mean, domain, shift."""

    def __init__(self, family_name: str):
        self.family = FAMILIES[family_name]
        self.weight = self.weighted_y = self.shift = 0.0
        self.positive = 0
        self.out_of_domain, self.first_bad = 0, None
        self.largest: np.ndarray | float = 0.0

    def add(self, block: np.ndarray, rows: int) -> None:
        y, w = block[:rows, -2], block[:rows, -1]
        self.largest = np.maximum(self.largest, np.max(np.abs(block[:rows, :-2]), axis=0))
        self.weight += float(w.sum())
        self.weighted_y += float(w @ y)
        self.positive += int(np.sum(w > 0))
        if self.family.name == "binomial":
            bad = (y < 0) | (y > 1)
        elif self.family.name == "poisson":
            bad = y < 0
        else:
            bad = np.zeros(rows, dtype=bool)
        if bad.any():
            self.out_of_domain += int(bad.sum())
            self.first_bad = self.first_bad if self.first_bad is not None else float(y[bad][0])
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.shift += float(w @ saturated_nll(self.family, y, 1.0))

    def check(self, response: str, n_rows: int) -> None:
        if self.out_of_domain:
            rule = "in [0, 1]" if self.family.name == "binomial" else "non-negative"
            raise DataError(
                f"{response} must be {rule} for the {self.family.name} family: "
                f"{self.out_of_domain} of {n_rows} rows are not (first value {self.first_bad!r})"
            )
        if self.weight <= 0:
            raise DataError(f"no rows with positive weight in the source ({n_rows} rows read)")


def _least_squares(blocks: _Blocks, passes: _Pass, names: list[str]) -> dict[str, Any]:
    """One pass of streaming QR; the estimate, covariance and LinearRegression's statistics."""
    p = blocks.p
    state = {"R": None, "weight": 0.0, "positive": 0, "log_w": 0.0}

    def each(block, host, rows):
        w = host[:rows, -1]
        state["weight"] += float(w.sum())
        positive = w > 0
        state["positive"] += int(positive.sum())
        state["log_w"] += float(np.sum(np.log(w[positive])))
        R = state["R"]
        state["R"] = _tsqr_step(jnp.zeros((p + 1, p + 1)) if R is None else R, block)

    passes.run("LinearRegression", each)
    m = state["positive"]
    if state["R"] is None or m == 0:
        raise DataError("no rows with positive weight in the source")
    R = np.asarray(state["R"], dtype=float)
    R11, r, rho = R[:p, :p], R[:p, p], abs(R[p, p])
    _check_rank(R11.T @ R11, names, m)
    norms = np.linalg.norm(R11, axis=0)
    scaled = R11 / np.where(norms > 0, norms, 1.0)
    kappa = float(np.linalg.cond(scaled, p=1))
    if not kappa <= rank_limit(m, p):
        culprits = collinear_columns(R11, names) or names
        raise DataError(
            f"the design is rank deficient: column(s) {culprits} are (numerically) linear "
            f"combinations of the others (condition number {kappa:.3g}); drop or combine them"
        )
    from scipy.linalg import solve_triangular

    beta = solve_triangular(R11, r)
    Rinv = solve_triangular(R11, np.eye(p))
    df_resid = m - p
    rss = rho * rho
    scale = rss / df_resid if df_resid > 0 else np.nan
    # Residual norm of y on the intercept alone: rows 1..p of R's last column.
    tss = float(np.sum(R[1:p, p] ** 2) + rss) if blocks.intercept else float(R[:, p] @ R[:, p])
    rsquared = 1.0 - rss / tss if tss > 0 else np.nan
    k_const = int(blocks.intercept)
    llf = -0.5 * m * (np.log(2 * np.pi * rss / m) + 1.0) + 0.5 * state["log_w"]
    grad = 2.0 / state["weight"] * (R11.T @ (R11 @ beta - r))  # rounding level
    solution = Solution(
        params={"coef": beta},
        value=rss / state["weight"],
        grad_norm=float(np.linalg.norm(grad)),
        n_iter=1,
        status=Status.CONVERGED,
        decrement=0.0,
        trace=_trace([rss / state["weight"]], [float(np.linalg.norm(grad))]),
        detail=(
            f"direct: streaming Householder QR (TSQR) over {blocks.n_rows} rows in one pass "
            f"(condition number {kappa:.3g})"
        ),
    )
    return dict(
        params=beta,
        cov=scale * (Rinv @ Rinv.T),
        solution=solution,
        nobs=m,
        df_resid=df_resid,
        attributes={
            "rss_": rss,
            "scale_": scale,
            "rsquared_": rsquared,
            "rsquared_adj_": 1.0 - (m - k_const) / df_resid * (1.0 - rsquared)
            if df_resid > 0
            else np.nan,
            "df_model_": p - k_const,
            "llf_": llf,
            "aic_": -2.0 * llf + 2.0 * p,
            "bic_": -2.0 * llf + np.log(m) * p,
            "condition_number_": kappa,
            "path_": "tsqr",
        },
    )


class _GLMPasses:
    """The passes of a GLM fit: validation, then f, g, H (mean loss) at given coefficients."""

    def __init__(self, blocks: _Blocks, passes: _Pass, family: str, link: str, label: str):
        self.blocks, self.passes, self.label = blocks, passes, label
        self.family, self.link = FAMILIES[family], LINKS[link]
        self.derivatives, self.eta, self.epoch = _glm_kernels(family, link)

    def validate(self) -> _Statistics:
        stats = _Statistics(self.family.name)
        self.passes.run(f"{self.label}: checking", lambda dev, host, rows: stats.add(host, rows))
        stats.check(self.blocks.response, self.blocks.n_rows)
        self.stats = stats
        return stats

    def evaluate(self, beta: np.ndarray, *, final: bool = False):
        """Mean loss (shifted to half the mean deviance), gradient and Hessian at ``beta``."""
        totals: list = [None]
        fit = {"deviance_": 0.0, "pearson_chi2_": 0.0, "llf_": 0.0}
        with x64_context("float64"):
            beta_dev = jnp.asarray(beta, dtype=jnp.float64)

        def each(block, host, rows):
            out = self.derivatives(beta_dev, block)
            totals[0] = out if totals[0] is None else jax.tree.map(jnp.add, totals[0], out)
            if final:
                self._add_statistics(fit, np.asarray(self.eta(beta_dev, block))[:rows], host, rows)

        self.passes.run(self.label, each)
        loss, grad, hess = (np.asarray(t, dtype=float) for t in totals[0])
        W = self.stats.weight
        hess = (hess + hess.T) / 2
        return (loss - self.stats.shift) / W, grad / W, hess / W, fit

    def _add_statistics(self, fit: dict, eta: np.ndarray, host: np.ndarray, rows: int) -> None:
        from .glm_kernels import mean_of

        y, w = host[:rows, -2], host[:rows, -1]
        mu = mean_of(self.link, eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            fit["deviance_"] += float(w @ self.family.deviance_obs(y, mu, None))
            fit["pearson_chi2_"] += float(w @ ((y - mu) ** 2 / self.family.variance(mu, None)))
            fit["llf_"] += float(w @ self.family.loglike_obs(y, mu, 1.0, None))

    def start(self) -> np.ndarray:
        """The intercept-only MLE g(ybar) with an intercept (as in memory), else zeros."""
        beta = np.zeros(self.blocks.p)
        if self.blocks.intercept:
            ybar = self.stats.weighted_y / self.stats.weight
            if self.family.name == "binomial" and ybar in (0.0, 1.0):
                ybar = 0.25 + 0.5 * ybar
            with np.errstate(divide="ignore"):
                start = float(self.link.link(np.asarray(ybar)))
            beta[0] = start if np.isfinite(start) else 0.0
        return beta


def _newton_step(g: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, float]:
    """-H^{-1} g (equilibrated solve) and the Newton decrement g^T H^{-1} g."""
    d, unit, _ = _equilibrated(H)
    step = -d * np.linalg.solve(unit, d * g)
    return step, float(-g @ step)


def _newton(glm: _GLMPasses, names: list[str], tol: float, max_iter: int):
    """Streaming Newton with step halving; returns beta, the final pass and the Solution."""
    stats = glm.validate()
    beta = glm.start()
    nobs = stats.weight
    f, g, H, _ = glm.evaluate(beta)
    floor = EPS * abs(f)  # minimize's loss_scale: a floor for a loss whose minimum is 0
    losses, norms = [f], [float(np.linalg.norm(g))]
    status, k = Status.MAX_ITER, 0
    while k < max_iter:
        if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            status = Status.NONFINITE
            break
        _check_rank(H, names, nobs)
        step, decrement = _newton_step(g, H)
        if 0.5 * decrement <= tol**2 / nobs * max(abs(f), floor):
            beta = beta + step  # the last full step: squares the remaining error
            status = Status.CONVERGED
            break
        t = 1.0
        while True:  # halve a step that does not lower the loss (Armijo)
            f_new, g_new, H_new, _ = glm.evaluate(beta + t * step)
            if np.isfinite(f_new) and f_new <= f - 1e-4 * t * decrement:
                break
            if t == 1.0 and np.isfinite(f_new) and 0.5 * decrement <= 1e-10 * abs(f):
                # Inside Newton's quadratic region the decrease is below what the
                # loss (a sum of n rounded terms) resolves: take the full step.
                break
            t /= 2
            if t < 1e-8:
                status = Status.STALLED
                break
        if status == Status.STALLED:
            break
        beta, f, g, H, k = beta + t * step, f_new, g_new, H_new, k + 1
        losses.append(f)
        norms.append(float(np.linalg.norm(g)))
    if status == Status.NONFINITE:
        raise FitError(
            f"{glm.label} fit failed after {k} iterations: the loss or its derivatives became "
            "NaN or infinite. Hint: look for extreme values in the columns (rescale them)"
        )
    f, g, H, fit = glm.evaluate(beta, final=True)
    _, decrement = _newton_step(g, H)
    if status == Status.CONVERGED:
        k += 1
        losses.append(f)
        norms.append(float(np.linalg.norm(g)))
    solution = Solution(
        params={"coef": beta}, value=f, grad_norm=float(np.linalg.norm(g)), n_iter=k,
        status=status, decrement=decrement, trace=_trace(losses, norms),
        detail=_newton_detail(status, k, glm.passes.count, tol, max_iter),
    )  # fmt: skip
    return beta, H, fit, solution


def _newton_detail(status: Status, k: int, n_passes: int, tol: float, max_iter: int) -> str:
    where = f"{k} Newton iteration(s), {n_passes} passes over the data"
    if status == Status.CONVERGED:
        return f"converged: the Newton decrement put the estimate within tol={tol:g} SE ({where})"
    if status == Status.STALLED:
        return f"not converged: step halving found no lower loss ({where})"
    return f"not converged: max_iter={max_iter} Newton iterations ran out ({where})"


@functools.cache
def _optimizer(solver: str, learning_rate: float, steps: int) -> optax.GradientTransformation:
    """``solver`` with a cosine decay of the rate to 0 over the run: a constant rate
    leaves the estimate jittering several standard errors about the optimum."""
    return getattr(optax, solver)(optax.cosine_decay_schedule(learning_rate, steps))


def _minibatch(glm: _GLMPasses, names: list[str], tol: float, options: dict):
    """optax over minibatches for ``n_epochs`` passes, then one exact pass for the SEs."""
    stats = glm.validate()
    _, exponent = np.frexp(stats.largest)
    scale = np.where(stats.largest > 0, np.ldexp(1.0, -exponent), 1.0)  # powers of two
    size, mb = glm.blocks.batch_size, options["minibatch_size"]
    n_blocks = -(-glm.blocks.n_rows // size)
    steps = options["n_epochs"] * n_blocks * (size // mb)
    optimizer = _optimizer(options["solver"], float(options["learning_rate"]), steps)
    epoch = glm.epoch(optimizer)
    rng = np.random.default_rng(options["seed"])
    with x64_context("float64"):
        gamma = jnp.asarray(glm.start() / scale)
        state = optimizer.init(gamma)
        scale_dev = jnp.asarray(scale)
    losses, norms = [], []
    for _ in range(options["n_epochs"]):

        def each(block, host, rows):
            nonlocal gamma, state
            order = jnp.asarray(rng.permutation(size).reshape(-1, mb))
            gamma, state = epoch(gamma, state, block, scale_dev, order)

        glm.passes.run(f"{glm.label}: {options['solver']} epoch", each)
        losses.append(np.nan)  # the minibatch losses are not a full-data loss
        norms.append(np.nan)
    beta = scale * np.asarray(gamma, dtype=float)
    f, g, H, fit = glm.evaluate(beta, final=True)
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        raise FitError(
            f"{glm.label} minibatch fit failed: the loss became NaN or infinite. "
            "Hint: lower the learning_rate"
        )
    _check_rank(H, names, stats.weight)
    _, decrement = _newton_step(g, H)
    losses[-1], norms[-1] = f, float(np.linalg.norm(g))
    return beta, H, fit, decrement, (f, g, losses, norms)


# --------------------------------------------------------------------------- entry point


def _check_arguments(estimator, columns, response, weights, batch_size, method, options):
    if not isinstance(estimator, LinearRegression | GLM):
        raise SettingsError(
            "fit_stream fits LinearRegression, LogisticRegression, PoissonRegression and "
            f"GLM (binomial, poisson); got {type(estimator).__name__}"
        )
    if isinstance(estimator, GLM):
        if estimator.family not in STREAM_FAMILIES:
            raise SettingsError(
                f"fit_stream fits the GLM families {list(STREAM_FAMILIES)}; "
                f"got {estimator.family!r}"
            )
        family, link = estimator._model()
        if estimator.information == "expected" and link.name != family.default_link:
            raise SettingsError(
                "fit_stream computes the observed information; information='expected' differs "
                f"from it for the non-canonical link {link.name!r}"
            )
    estimator._check_settings()
    estimator._check_inference_settings(None)
    if getattr(estimator, "cov_type", "nonrobust") != "nonrobust":
        raise SettingsError(
            "fit_stream computes the nonrobust covariance only; got "
            f"cov_type={estimator.cov_type!r}"
        )
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise SettingsError(f"columns must be a list of column names, got {columns!r}")
    if not isinstance(response, str) or response in columns:
        raise SettingsError(f"response must be a column name not among columns, got {response!r}")
    if weights is not None and (not isinstance(weights, str) or weights in [*columns, response]):
        raise SettingsError(f"weights must be None or another column's name, got {weights!r}")
    if len(set(columns)) != len(columns):
        raise SettingsError(f"columns has duplicate names: {list(columns)}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise SettingsError(f"batch_size must be a positive integer, got {batch_size!r}")
    if method not in METHODS:
        raise SettingsError(f"unknown method {method!r}; valid methods are {list(METHODS)}")
    if method == "minibatch":
        if options["solver"] not in MINIBATCH_SOLVERS:
            raise SettingsError(
                f"unknown solver {options['solver']!r}; valid solvers are "
                f"{list(MINIBATCH_SOLVERS)}"
            )
        mb = options["minibatch_size"]
        if not (isinstance(mb, int) and mb >= 1 and batch_size % mb == 0):
            raise SettingsError(
                f"minibatch_size must be a positive integer dividing batch_size={batch_size}, "
                f"got {mb!r}"
            )
        if not (isinstance(options["n_epochs"], int) and options["n_epochs"] >= 1):
            raise SettingsError(
                f"n_epochs must be a positive integer, got {options['n_epochs']!r}"
            )
        lr = options["learning_rate"]
        if not (isinstance(lr, int | float) and lr > 0 and np.isfinite(lr)):
            raise SettingsError(f"learning_rate must be a positive number, got {lr!r}")


def fit_stream(
    estimator: Estimator,
    source: Any,
    *,
    columns: list[str],
    response: str,
    weights: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    method: str = "exact",
    solver: str = "adam",
    learning_rate: float = 0.05,
    n_epochs: int = 5,
    minibatch_size: int = 1024,
    seed: int = 0,
    tol: float | None = None,
    progress: bool | None = None,
) -> Estimator:
    """Fit ``estimator`` to data read in chunks from ``source``; returns a new fitted estimator.

    Parameters
    ----------
    estimator : an unfitted (or fitted: it is cloned, not changed)
        :class:`~estimators.regression.LinearRegression`,
        :class:`~estimators.glm.LogisticRegression`,
        :class:`~estimators.glm.PoissonRegression` or binomial / poisson
        :class:`~estimators.glm.GLM`. Its settings apply (``fit_intercept``,
        ``missing``, ``tol`` and ``max_iter`` of the GLMs); ``cov_type`` must
        be ``"nonrobust"``.
    source : a Parquet file or directory of Parquet files (read with
        ``pyarrow.dataset``), a CSV file (``.csv``, ``.csv.gz``, ``.txt``; read
        with pyarrow's streaming CSV reader), a DataFrame, a list of DataFrames,
        or a function returning a new iterator of DataFrames for each pass. A
        one-shot iterator serves the one-pass ``LinearRegression`` fit only.
    columns, response, weights : column names: the features, the response,
        and optional weights (precision weights for least squares, frequency
        weights for the GLMs, as the estimators' ``sample_weight``).
    batch_size : rows a block (default 65536): memory is a few blocks.
    method : ``"exact"`` (default: the in-memory estimate) or ``"minibatch"``
        (approximate: optax ``solver`` ``"adam"`` or ``"sgd"`` at
        ``learning_rate`` over minibatches of ``minibatch_size`` rows, shuffled
        within each block with ``seed``, for ``n_epochs`` passes).
    tol : the minibatch mode's accepted distance from the exact estimate, in
        standard errors (default 5: it is a rough estimate); the exact GLM fit uses the estimator's
        ``tol`` (default 1e-8 standard errors).
    progress : None (default: a progress bar after 2 s of a pass), True, False.

    The result has the estimator's fitted attributes (``params_``,
    ``std_errors_``, ``cov_``, ``summary()``, ``predict``, ``converged_``,
    ``n_iter_``, ``history_``, ``nobs_`` and the fit statistics listed in the
    module docstring) plus ``n_passes_`` (passes over the data), ``method_``,
    ``n_rows_read_`` and, for the minibatch mode, ``distance_se_``.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.5]})
    >>> fit = fit_stream(LinearRegression(), [frame[:2], frame[2:]], columns=["x"], response="y")
    >>> fit.params_.round(6).tolist()
    [0.9, 2.15]
    """
    options = dict(
        solver=solver, learning_rate=learning_rate, n_epochs=n_epochs,
        minibatch_size=minibatch_size, seed=seed,
    )  # fmt: skip
    _check_arguments(estimator, list(columns), response, weights, batch_size, method, options)
    columns = list(columns)
    intercept = bool(estimator.fit_intercept)
    names = ([INTERCEPT] if intercept else []) + columns
    fields = columns + [response] + ([weights] if weights else [])
    blocks = _Blocks(
        _open(source, fields, batch_size), columns, response, weights, intercept, batch_size,
        estimator.missing,
    )  # fmt: skip
    passes = _Pass(blocks, progress, None)
    fitted = clone(estimator)
    label = type(estimator).__name__
    if isinstance(estimator, LinearRegression) and method == "exact":
        out = _least_squares(blocks, passes, names)
        params, cov, solution = out["params"], out["cov"], out["solution"]
        nobs, df_resid, attributes = out["nobs"], out["df_resid"], out["attributes"]
    else:
        family, link = ("gaussian", "identity")
        if isinstance(estimator, GLM):
            family_obj, link_obj = estimator._model()
            family, link = family_obj.name, link_obj.name
        glm = _GLMPasses(blocks, passes, family, link, label)
        if method == "exact":
            max_iter = 100 if estimator.max_iter is None else int(estimator.max_iter)
            params, H, fit, solution = _newton(glm, names, float(estimator.tol), max_iter)
            distance = None
        else:
            tol = DEFAULT_MINIBATCH_TOL if tol is None else float(tol)
            params, H, fit, decrement, (f, g, losses, norms) = _minibatch(glm, names, tol, options)
            dispersion = 1.0
            if family == "gaussian":
                dispersion = 2 * f * glm.stats.weight / (glm.stats.positive - len(names))
            distance = float(np.sqrt(max(glm.stats.weight * decrement / dispersion, 0.0)))
            solution = Solution(
                params={"coef": params}, value=f, grad_norm=float(np.linalg.norm(g)),
                n_iter=n_epochs, decrement=decrement, trace=_trace(losses, norms),
                status=Status.CONVERGED if distance <= tol else Status.MAX_ITER,
                detail=(
                    f"approximate ({solver}, {n_epochs} epochs): the estimate is {distance:.3g} "
                    f"standard errors from the exact one (accepted: tol={tol:g})"
                ),
            )  # fmt: skip
        nobs = glm.stats.weight
        _check_rank(H, names, nobs)
        cov = _inverse(H * nobs)
        if family == "gaussian":  # LinearRegression by minibatch: s^2 (X'WX)^{-1}
            m = glm.stats.positive
            df_resid = m - len(names)
            rss = 2 * solution.value * nobs
            attributes = {"rss_": rss, "scale_": rss / df_resid, "path_": f"minibatch_{solver}"}
            cov, nobs = cov * attributes["scale_"], m
        else:
            df_resid = None
            llf = fit["llf_"]
            k = len(names)
            attributes = {
                **fit, "scale_": 1.0,
                "aic_": -2 * llf + 2 * k, "bic_": -2 * llf + k * np.log(nobs),
                "family_": family, "link_": link, "offset_columns_": {}, "separated_": False,
            }  # fmt: skip
        if distance is not None:
            attributes["distance_se_"] = distance
    fitted._store_fit(
        params=pd.Series(np.asarray(params, dtype=float), index=names, name="estimate"),
        cov=pd.DataFrame(cov, index=names, columns=names),
        solution=solution,
        history=solution.trace,
        nobs=nobs,
        df_resid=df_resid,
    )
    fitted.design_info_ = DesignInfo(names, columns, response, intercept)
    fitted.n_features_in_ = len(columns)
    fitted.feature_names_in_ = np.asarray(columns, dtype=object)
    fitted.n_dropped_ = blocks.n_dropped
    fitted.n_rows_read_ = blocks.n_rows
    fitted.n_passes_ = passes.count
    fitted.method_ = method
    for name, value in attributes.items():
        setattr(fitted, name, value)
    if not solution.converged:
        warnings.warn(
            f"{label} (fit_stream, method={method!r}) did not converge: {solution.message}. "
            "The estimate is flagged with converged_ = False"
            + ("; raise n_epochs or use method='exact'." if method == "minibatch" else "."),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return fitted
