"""``SampleEstimator``: the plumbing shared by the estimators of one 1-D sample.

Mean, Median, Quantile, Huber, TukeyBiweight, StandardDeviation and MAD all
take a sample (list, array, Series or one-column DataFrame) and report one
named parameter. This class holds what they share: storing the constructor's
settings, checking the common ones, validating the sample, and storing a
one-parameter result with the sample's name and dropped-row count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import Estimator
from .covariance import Sandwich
from .errors import SettingsError
from .fit_inputs import cut_groups
from .frame import Sample, as_sample
from .solve import DTYPES, Solution


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
    """Base class of the estimators of one 1-D sample; subclasses implement ``fit``.

    Every subclass has the settings ``dtype`` and ``missing``; ``tol``, where
    present, is checked to be a positive number. Subclasses with more settings
    extend :meth:`_check_settings`.
    """

    def _check_settings(self) -> None:
        check_dtype(self.dtype)
        tol = getattr(self, "tol", 1.0)
        if not (isinstance(tol, int | float) and tol > 0):
            raise SettingsError(f"tol must be a positive number, got {tol!r}")

    def _sample(self, x: Any, sample_weight: Any, groups: Any = None) -> Sample:
        """Check the settings, then validate the sample (DataError naming the rows).

        ``groups`` (cluster labels, one per value of ``x``) are only checked
        against the inference settings here; :meth:`_store_estimate` cuts them
        to the values kept.
        """
        self._check_settings()
        self._check_inference_settings(groups)
        return as_sample(x, sample_weight=sample_weight, missing=self.missing)

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
        ``groups`` (the labels as passed to ``fit``) and ``cov_note`` are
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
