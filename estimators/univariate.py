"""``SampleEstimator``: the plumbing shared by the estimators of one 1-D sample.

Mean, Median, Quantile, Huber, TukeyBiweight, StandardDeviation, MAD,
MaximumLikelihood and MEstimator take their data in one of two ways, the same
on every one of them (:meth:`SampleEstimator.fit`, the one ``fit`` they share):

- **the values themselves**: ``fit(x)`` with ``x`` a list, numpy array, pandas
  Series or one-column DataFrame (or a polars / pyarrow equivalent); then
  ``sample_weight=`` and ``groups=`` are values too, one per row;
- **a DataFrame and a column name**: ``fit(df, column="income")``, keyword
  only. ``sample_weight=`` and ``groups=`` may then name columns of the same
  frame (``sample_weight="w"``, ``groups="firm"`` or ``groups=["firm",
  "year"]``), or still be values. The result is exactly that of
  ``fit(df["income"], df["w"], df["firm"])``: the parameter's variable
  (``variable_``) is the column name, and with ``missing="drop"`` a NaN in the
  column drops that row's weight and cluster label too (a NaN weight or a
  missing label is an error, as it is for values).

A DataFrame with several columns and no ``column=`` is a DataError that says
to pass ``column=``; ``column=`` with anything but a DataFrame is a
SettingsError, and so is a column name for ``sample_weight`` or ``groups``
without ``column=``; a name that is not a column is a DataError listing close
matches; a column that is not numeric is a DataError naming it and its dtype.

>>> import pandas as pd
>>> from estimators.location import Mean
>>> df = pd.DataFrame({"income": [1.0, 2.0, 6.0, 3.0], "w": [1, 1, 1, 0]})
>>> fitted = Mean().fit(df, column="income", sample_weight="w")
>>> fitted.variable_, float(fitted.params_["mean"])
('income', 3.0)

:class:`SampleEstimator` holds what the nine estimators share: the one
public ``fit`` (checking the settings, selecting and validating the sample,
then calling the estimator's own ``_fit_sample``) and the checks of the common
settings; and, for the seven one-parameter estimators, storing the result with
the sample's name and dropped-row count.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Hashable
from typing import Any, Self

import numpy as np
import pandas as pd

from .base import Estimator
from .covariance import Sandwich
from .errors import DataError, SettingsError
from .fit_inputs import cut_groups
from .frame import Sample, as_sample, format_rows
from .interop import as_pandas
from .solve import DTYPES, Solution


@dataclasses.dataclass(frozen=True)
class SampleInputs:
    """``fit``'s data after :func:`select_column`: the sample and its per-row arguments.

    ``data`` is the chosen column (a Series named after it) or the values as
    given (pandas where they came from another frame library);
    ``sample_weight`` and ``groups`` are values, never column names.
    """

    data: Any
    sample_weight: Any = None
    groups: Any = None

    def sample(self, missing: str) -> Sample:
        """The validated sample (:func:`~estimators.frame.as_sample`)."""
        return as_sample(self.data, sample_weight=self.sample_weight, missing=missing)


def select_column(
    x: Any,
    column: Hashable | None = None,
    *,
    sample_weight: Any = None,
    groups: Any = None,
) -> SampleInputs:
    """The sample of ``fit(x, sample_weight, groups, column=...)``, one convention for all.

    Without ``column``, ``x`` is the sample itself (a DataFrame must then have
    exactly one column). With ``column``, ``x`` must be a DataFrame and the
    sample is ``x[column]``; a string ``sample_weight`` names a column of
    ``x``, and so do a string or a list of strings ``groups`` (two names:
    two-way clustering). See the module docstring for the errors.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0], "w": [1.0, 3.0]})
    >>> inputs = select_column(df, "y", sample_weight="w")
    >>> inputs.data.name, list(inputs.sample_weight)
    ('y', [1.0, 3.0])
    """
    x, sample_weight, groups = as_pandas(x), as_pandas(sample_weight), as_pandas(groups)
    if column is None:
        for argument, value in (("sample_weight", sample_weight), ("groups", groups)):
            if isinstance(value, str):
                raise SettingsError(
                    f"{argument}={value!r} names a column, which needs the DataFrame and "
                    f"column=: fit(df, column=..., {argument}={value!r}); otherwise pass "
                    "the values themselves"
                )
        if isinstance(x, pd.DataFrame) and x.shape[1] != 1:
            names = [str(c) for c in x.columns]
            example = f", e.g. fit(df, column={names[0]!r})" if names else ""
            raise DataError(
                f"x is a DataFrame with {x.shape[1]} columns {names[:5]}"
                f"{', ...' if len(names) > 5 else ''}; pass column= to choose the "
                f"sample{example}"
            )
        if isinstance(x, pd.DataFrame | pd.Series):
            series = x.iloc[:, 0] if isinstance(x, pd.DataFrame) else x
            # text entries are checked, row by row, by as_sample itself
            name = "x" if series.name is None else repr(str(series.name))
            check_numeric(series, name, text=False)
        return SampleInputs(x, sample_weight, groups)
    if not isinstance(x, pd.DataFrame):
        raise SettingsError(
            f"column={column!r} chooses a column of a DataFrame, but x is a "
            f"{type(x).__name__}: pass the DataFrame, or pass the values without column="
        )
    data = _column(x, column, "column")
    check_numeric(data, f"column {column!r}")
    if isinstance(sample_weight, str):
        sample_weight = _column(x, sample_weight, "sample_weight")
        check_numeric(sample_weight, f"column {sample_weight.name!r} (sample_weight)")
    if isinstance(groups, str):
        groups = _column(x, groups, "groups")
    elif isinstance(groups, list) and groups and all(isinstance(g, str) for g in groups):
        groups = pd.concat([_column(x, g, "groups") for g in groups], axis=1)
    return SampleInputs(data, sample_weight, groups)


def _column(frame: pd.DataFrame, name: Hashable, argument: str) -> pd.Series:
    """``frame[name]`` as a Series; a DataError naming ``argument`` and close matches if absent."""
    if name not in frame.columns:
        columns = [str(c) for c in frame.columns]
        close = difflib.get_close_matches(str(name), columns, n=3)
        hint = (
            f"close matches: {close}"
            if close
            else f"its columns are {columns[:10]}{', ...' if len(columns) > 10 else ''}"
        )
        raise DataError(
            f"{argument}={name!r} is not a column of the DataFrame "
            f"({len(columns)} columns); {hint}"
        )
    selected = frame[name]
    if isinstance(selected, pd.DataFrame):
        raise DataError(
            f"{argument}={name!r} names {selected.shape[1]} columns of the DataFrame "
            "(duplicated name); rename them so that the name is unique"
        )
    return selected


def check_numeric(series: pd.Series, what: str, *, text: bool = True) -> None:
    """A DataError naming ``what`` and the dtype unless ``series`` holds numbers.

    Numeric dtypes (numpy, nullable or pyarrow-backed; bool counts as 0/1) and
    categoricals with numeric categories pass; text and object columns pass
    when every entry reads as a number (``"1.5"``: the exact-decimal path of
    :class:`~estimators.scale.StandardDeviation` uses the digits given;
    ``text=False`` leaves that check to the caller). Dates,
    durations, intervals and text categories are refused: their numpy form
    (nanoseconds, codes) would be fitted silently otherwise.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.categories.dtype.kind in "biuf":
            return
        raise DataError(
            f"{what} is categorical (dtype category of {dtype.categories.dtype}), not "
            "numeric; a sample must be numbers"
        )
    kind = getattr(dtype, "kind", "O")
    if kind in "biuf":
        return
    if kind not in "OSU":
        raise DataError(f"{what} has dtype {dtype}, not numeric; a sample must be numbers")
    if not text:
        return
    coerced = pd.to_numeric(series, errors="coerce")
    bad = (coerced.isna() & series.notna()).to_numpy()
    if bad.any():
        raise DataError(
            f"{what} is not numeric (dtype {dtype}): {int(bad.sum())} of {len(series)} rows "
            f"are not numbers (rows {format_rows(series.index, bad)}; first value "
            f"{series[bad].iloc[0]!r})"
        )


def check_dtype(dtype: Any) -> None:
    """``dtype`` must be one of the engine's (a SettingsError before any data are read)."""
    if dtype not in DTYPES:
        raise SettingsError(f"unknown dtype {dtype!r}; valid dtypes are {list(DTYPES)}")


def scaled_history(
    trace: pd.DataFrame, unit: float, *, loss_power: int, grad_power: int
) -> pd.DataFrame:
    """A solver trace in data units, for a fit run on data divided by ``unit``.

    A loss homogeneous of degree ``loss_power`` in the data (2 for squared
    deviations, 1 for absolute ones, 0 for a loss of standardised residuals)
    is ``unit**loss_power`` times the loss of the rescaled fit; the gradient
    in the location parameter, ``unit**grad_power`` times (one less).
    """
    with np.errstate(over="ignore"):  # data near 1e300: a squared unit overflows
        return pd.DataFrame(
            {
                "loss": trace["loss"] * np.float64(unit) ** loss_power,
                "grad_norm": trace["grad_norm"] * np.float64(unit) ** grad_power,
            }
        )


class SampleEstimator(Estimator):
    """Base class of the estimators of one 1-D sample: one public :meth:`fit`, a hook each.

    :meth:`fit` is a template method, as
    :meth:`~estimators.base.RegressionEstimator.fit` is for the regressions: it
    checks the settings (:meth:`_check_fit_settings`), selects the sample
    (:func:`select_column`), validates it (:func:`~estimators.frame.as_sample`,
    with the ``missing`` policy) and hands it to :meth:`_fit_sample`, which
    each estimator implements and which sets the learned attributes.

    Every subclass has the settings ``dtype`` and ``missing``; ``tol``, where
    present, is checked to be a positive number. Subclasses with more settings
    extend :meth:`_check_settings`.
    """

    def fit(
        self,
        x: Any,
        sample_weight: Any = None,
        groups: Any = None,
        *,
        column: Hashable | None = None,
    ) -> Self:
        r"""Fit to a 1-D sample, given as values or as a column of a DataFrame; returns ``self``.

        Parameters
        ----------
        x : the sample: a list, numpy array, pandas Series or one-column
            DataFrame (or a polars / pyarrow equivalent); with ``column=``, a
            DataFrame holding it.
        sample_weight : frequency weights, one per value (:math:`n = \sum_i w_i`;
            an integer weight stands for that many repeated rows); with
            ``column=``, also the name of a column of ``x``.
        groups : cluster labels, one per value, for ``cov_type="cluster"``
            (two columns: two-way clustering); with ``column=``, also a column
            name of ``x`` or a list of two. Labels with any other ``cov_type``
            are a SettingsError, so an estimator without a cluster covariance
            takes none.
        column : keyword only: the name of the column of the DataFrame ``x``
            that is the sample (``variable_`` is then that name).

        The rules and the errors of the two ways are those of
        :func:`select_column` (see :mod:`estimators.univariate`).
        """
        self._check_fit_settings(groups)
        inputs = select_column(x, column, sample_weight=sample_weight, groups=groups)
        self._fit_sample(inputs.sample(self.missing), inputs)
        return self

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        """Fit to the validated ``sample`` and set the learned attributes.

        ``inputs`` are the selected inputs: ``inputs.groups`` holds the cluster
        labels (one per row of ``x``, cut to the rows kept by
        :meth:`_store_estimate`), ``inputs.data`` the sample as given.
        """
        raise NotImplementedError

    def _check_fit_settings(self, groups: Any) -> None:
        """Every check of the settings, before any data are read: the estimator's, then
        the inference settings (with ``groups``: labels need ``cov_type="cluster"``)."""
        self._check_settings()
        self._check_inference_settings(groups)

    def _check_settings(self) -> None:
        check_dtype(self.dtype)
        tol = getattr(self, "tol", 1.0)
        if not (isinstance(tol, int | float) and tol > 0):
            raise SettingsError(f"tol must be a positive number, got {tol!r}")

    def _store_estimate(
        self,
        sample: Sample,
        name: str,
        estimate: float,
        std_error: float,
        *,
        solution: Solution,
        history: pd.DataFrame,
        df_resid: float | None,
        variance: float | None = None,
        sandwich: Sandwich | None = None,
        groups: Any = None,
        cov_note: str | None = None,
    ) -> None:
        """Set the learned attributes of a one-parameter fit.

        ``variance`` defaults to ``std_error**2``; pass it where it is known
        more exactly than the square of a rounded square root. ``sandwich``,
        ``groups`` (one label per input row: :attr:`SampleInputs.groups`) and ``cov_note`` are
        handed to :meth:`Estimator._store_fit` for the robust covariance types.
        """
        if variance is None:
            with np.errstate(over="ignore"):  # data near 1e300: the variance overflows, the SE not
                variance = np.float64(std_error) ** 2
        self._store_fit(
            params=pd.Series([estimate], index=[name], name="estimate"),
            cov=pd.DataFrame([[variance]], index=[name], columns=[name]),
            std_errors=np.array([std_error]),
            solution=solution,
            history=history,
            nobs=sample.nobs,
            df_resid=df_resid,
            sandwich=sandwich,
            groups=None if groups is None else cut_groups(groups, sample.keep),
            cov_note=cov_note,
            row_index=sample.index,
        )
        self.n_dropped_ = sample.n_dropped
        self.variable_ = sample.name
