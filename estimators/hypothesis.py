r"""Tests of hypotheses about fitted parameters: joint Wald tests and likelihood-ratio tests.

Wald test of :math:`r` linear restrictions :math:`R\theta = q` from a fit's
estimate :math:`\hat\theta` and covariance :math:`V`:

.. math::  W = (R\hat\theta - q)^\top (R V R^\top)^{-1} (R\hat\theta - q),

referred to :math:`\chi^2_r` (z-based fits), or :math:`F = W / r` referred to
:math:`F_{r,\,d}` when the fit reports t statistics with :math:`d` degrees of
freedom (statsmodels' ``wald_test(use_f=...)`` conventions). With one
restriction :math:`F = t^2`.

Likelihood-ratio test of a restricted fit nested in a full one:
:math:`LR = 2(\ell_\text{full} - \ell_\text{restricted})`, referred to
:math:`\chi^2_k` with :math:`k` the difference in the numbers of estimated
parameters (statsmodels' ``compare_lr_test``).

>>> import pandas as pd
>>> params = pd.Series([1.0, 2.0], index=["a", "b"])
>>> cov = pd.DataFrame([[1.0, 0.0], [0.0, 4.0]], index=params.index, columns=params.index)
>>> print(wald_test(params, cov, "a = 0, b = 0", df_denom=None))
Wald test of 2 restrictions: chi2(2) = 2, p-value = 0.3679
  a = 0
  b = 0
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, EstimationError, SettingsError, user_stacklevel
from .inference import chi2_sf, f_sf


class NotNestedWarning(UserWarning):
    """The two fits given to :func:`lr_test` may not be nested (names, responses, llf)."""


@dataclasses.dataclass(frozen=True, eq=False)
class WaldTest:
    r"""A joint Wald test of :math:`R\theta = q`; immutable.

    ``statistic`` is :math:`F = W/r` when ``distribution == "F"`` (on
    ``df_num``, ``df_denom`` degrees of freedom), else :math:`W` (chi-squared on
    ``df_num``; ``df_denom`` is None). ``R`` is the restriction matrix (a row a
    restriction, labelled by it, a column a parameter) and ``q`` the values.
    """

    statistic: float
    p_value: float
    df_num: int
    df_denom: float | None
    distribution: str
    R: pd.DataFrame
    q: pd.Series

    def __str__(self) -> str:
        n = self.df_num
        df = f"{n}" if self.df_denom is None else f"{n}, {self.df_denom:.6g}"
        head = (
            f"Wald test of {n} restriction{'s' if n != 1 else ''}: "
            f"{self.distribution}({df}) = {self.statistic:.6g}, p-value = {self.p_value:.4g}"
        )
        return "\n".join([head, *(f"  {label}" for label in self.R.index)])

    def __repr__(self) -> str:
        return (
            f"WaldTest(statistic={self.statistic:.6g}, p_value={self.p_value:.4g}, "
            f"df_num={self.df_num}, df_denom={self.df_denom!r}, "
            f"distribution={self.distribution!r}, restrictions={list(self.R.index)!r})"
        )


@dataclasses.dataclass(frozen=True)
class LRTest:
    r"""A likelihood-ratio test: :math:`2(\ell_\text{full} - \ell_\text{restricted})`
    referred to :math:`\chi^2_\text{df}`; immutable."""

    statistic: float
    p_value: float
    df: int
    llf_restricted: float
    llf_full: float

    def __str__(self) -> str:
        return (
            f"Likelihood-ratio test: chi2({self.df}) = {self.statistic:.6g}, "
            f"p-value = {self.p_value:.4g} (llf restricted {self.llf_restricted:.6g}, "
            f"full {self.llf_full:.6g})"
        )


def wald_test(
    params: pd.Series,
    cov: pd.DataFrame,
    hypothesis: Any,
    value: Any = None,
    *,
    df_denom: float | None,
    cov_note: str | None = None,
) -> WaldTest:
    r"""Joint Wald test of the linear restrictions :math:`R\theta = q`.

    ``hypothesis`` is one of

    - a string in formulaic's constraint syntax over the names of ``params``:
      ``"x1 = x2, x3 = 0"``, ``"2*x1 - x2 = 1"`` (a term without ``=`` is
      ``= 0``; names that are not identifiers go in backticks), or a list of
      such strings, with ``value`` None;
    - a matrix ``R`` (array of ``p`` columns, a 1-D array for one restriction,
      or a DataFrame whose columns are parameter names, the others taken as 0)
      with ``value`` the vector ``q`` (default zeros; a scalar applies to every row);
    - a ``formulaic`` ``LinearConstraints`` over the names of ``params``.

    ``df_denom``: the t degrees of freedom of the fit (F test), or None (chi-squared).
    ``cov_note``: the fit's reason for a NaN covariance, quoted in the error.

    Raises :class:`SettingsError` for unknown names, unparsable or redundant
    restrictions and wrong shapes, :class:`EstimationError` when the
    covariance of the parameters involved is NaN or :math:`R V R^\top` is singular.
    """
    names = [str(n) for n in params.index]
    if cov.shape != (len(names), len(names)) or not (
        cov.index.equals(params.index) and cov.columns.equals(params.index)
    ):
        raise SettingsError(
            f"cov must be a DataFrame labelled by the parameters {names} on both axes, got "
            f"shape {cov.shape}"
        )
    R, q = _restrictions(hypothesis, value, names)
    labels = _labels(R, q, names)
    _check_rank(R, labels)
    theta = params.to_numpy(dtype=float)
    V = cov.to_numpy(dtype=float)
    used = np.flatnonzero(np.any(R != 0, axis=0))
    bad = [names[j] for j in used if not np.isfinite(theta[j])]
    if bad:
        raise EstimationError(f"the estimates of {bad} are not finite: no Wald test of them")
    V_used = V[np.ix_(used, used)]
    if not np.all(np.isfinite(V_used)):
        nan = [names[j] for j in used if not np.all(np.isfinite(V[j, used]))]
        reason = f": {cov_note}" if cov_note else ""
        raise EstimationError(
            f"the fit has no covariance for {nan} (NaN){reason}; no Wald test is possible"
        )
    # Only the parameters involved: a NaN elsewhere (0 * NaN) must not spoil the test.
    discrepancy = R[:, used] @ theta[used] - q
    middle = R[:, used] @ V_used @ R[:, used].T
    statistic = _quadratic_form(middle, discrepancy, labels)
    r = R.shape[0]
    if df_denom is None:
        distribution, p_value = "chi2", float(chi2_sf(statistic, r))
    else:
        if not df_denom > 0:
            raise SettingsError(
                f"df_denom must be positive for an F test, got {df_denom!r} (the fit has no "
                "residual degrees of freedom); pass df_denom=None for a chi-squared test"
            )
        statistic /= r
        distribution, p_value = "F", float(f_sf(statistic, r, df_denom))
    return WaldTest(
        statistic=float(statistic),
        p_value=p_value,
        df_num=r,
        df_denom=None if df_denom is None else float(df_denom),
        distribution=distribution,
        R=pd.DataFrame(R, index=labels, columns=params.index),
        q=pd.Series(q, index=labels, name="q"),
    )


def _restrictions(hypothesis: Any, value: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(R, q)`` as float arrays from a string, a matrix or a LinearConstraints."""
    from formulaic.utils.constraints import LinearConstraints

    if (
        isinstance(hypothesis, list | tuple)
        and hypothesis
        and all(isinstance(h, str) for h in hypothesis)
    ):
        hypothesis = ", ".join(hypothesis)  # one restriction a string
    if isinstance(hypothesis, str):
        if value is not None:
            raise SettingsError(
                "value= is for a matrix hypothesis; write the right-hand side in the "
                f"string instead (e.g. 'x1 = 1'), got value={value!r}"
            )
        return _parse(hypothesis, names)
    if isinstance(hypothesis, LinearConstraints):
        if list(hypothesis.variable_names) != names:
            raise SettingsError(
                f"the LinearConstraints are over {list(hypothesis.variable_names)}, not the "
                f"parameters {names}"
            )
        if value is not None:
            raise SettingsError("value= is for a matrix hypothesis; LinearConstraints hold q")
        R = np.asarray(hypothesis.constraint_matrix, dtype=float)
        return R, np.asarray(hypothesis.constraint_values, dtype=float).reshape(-1)
    return _matrix(hypothesis, value, names)


def _parse(spec: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from formulaic.errors import FormulaicError
    from formulaic.utils.constraints import LinearConstraints

    _check_single_equalities(spec)
    try:
        constraints = LinearConstraints.from_spec(spec, variable_names=names)
    except KeyError as err:
        unknown = str(err.args[0]) if err.args else str(err)
        close = difflib.get_close_matches(unknown, names, n=3)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise SettingsError(
            f"hypothesis {spec!r} names {unknown!r}, which is not a parameter{hint}; the "
            f"parameters are {names} (put names that are not identifiers in backticks)"
        ) from None
    except (FormulaicError, RuntimeError, ValueError) as err:
        raise SettingsError(
            f"cannot read the hypothesis {spec!r} as linear restrictions of {names}: "
            f"{str(err).splitlines()[0]}"
        ) from None
    R = np.asarray(constraints.constraint_matrix, dtype=float)
    return R, np.asarray(constraints.constraint_values, dtype=float).reshape(-1)


def _check_single_equalities(spec: str) -> None:
    """Refuse ``"a = b = 0"``: formulaic folds a chained equality into one wrong row.

    (``"x1 = x2 = 0"`` parses as the single restriction ``x1 - x2 = 0``, and
    ``"x1 = 1 = x2"`` as ``x1 + x2 = 1``.) Counts ``=`` per comma-separated
    restriction outside backticks and brackets.
    """
    depth, quoted, count, part = 0, False, 0, 0
    padded = f" {spec},"
    for k, char in enumerate(padded[1:], start=1):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "=" and depth == 0 and "=" not in (padded[k - 1], padded[k + 1]):
            count += 1  # ("==" is not an equality here: formulaic rejects it)
        elif char == "," and depth == 0:
            if count > 1:
                raise SettingsError(
                    f"restriction {part + 1} of {spec!r} has {count} '=' signs; write a "
                    "chain such as 'a = b = 0' as separate restrictions: 'a = b, b = 0'"
                )
            count, part = 0, part + 1


def _matrix(hypothesis: Any, value: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    p = len(names)
    if isinstance(hypothesis, pd.DataFrame):
        unknown = [str(c) for c in hypothesis.columns if str(c) not in names]
        if unknown:
            raise SettingsError(
                f"the restriction matrix has columns {unknown} that are not parameters; the "
                f"parameters are {names}"
            )
        frame = hypothesis.rename(columns=str).reindex(columns=names, fill_value=0.0)
        R = frame.to_numpy(dtype=float)
    else:
        try:
            R = np.asarray(hypothesis, dtype=float)
        except (TypeError, ValueError):
            raise SettingsError(
                "hypothesis must be a string, a matrix R or a LinearConstraints, got "
                f"{type(hypothesis).__name__}"
            ) from None
        if R.ndim == 1:
            R = R[None, :]
        if R.ndim != 2 or R.shape[1] != p:
            raise SettingsError(
                f"the restriction matrix must have {p} columns (one per parameter: {names}), "
                f"got shape {np.shape(hypothesis)}"
            )
    if R.shape[0] == 0:
        raise SettingsError("the restriction matrix has no rows: nothing to test")
    if not np.all(np.isfinite(R)):
        raise SettingsError(
            f"the restriction matrix has {int(np.sum(~np.isfinite(R)))} NaN or infinite entries"
        )
    q = np.zeros(R.shape[0]) if value is None else np.asarray(value, dtype=float)
    q = np.broadcast_to(q, (R.shape[0],)).copy() if q.ndim == 0 else q.reshape(-1)
    if q.shape[0] != R.shape[0]:
        raise SettingsError(
            f"value has {q.shape[0]} entries but the restriction matrix has {R.shape[0]} rows"
        )
    if not np.all(np.isfinite(q)):
        raise SettingsError(f"value has {int(np.sum(~np.isfinite(q)))} NaN or infinite entries")
    return R, q


def _check_rank(R: np.ndarray, labels: list[str]) -> None:
    """Each restriction must add something: name the rows that repeat earlier ones."""
    redundant, rank = [], 0
    for k in range(R.shape[0]):
        now = np.linalg.matrix_rank(R[: k + 1]) if np.any(R[k]) else rank
        if now == rank:
            redundant.append(f"{k + 1} ({labels[k]})")
        rank = now
    if redundant:
        raise SettingsError(
            f"the restrictions are not linearly independent: restriction(s) {redundant} "
            "involve no parameter or follow from the ones before; drop them"
        )


def _quadratic_form(middle: np.ndarray, discrepancy: np.ndarray, labels: list[str]) -> float:
    r""":math:`d^\top M^{-1} d` for the covariance :math:`M = R V R^\top` of the restrictions."""
    eigenvalues, vectors = np.linalg.eigh(0.5 * (middle + middle.T))
    floor = max(float(eigenvalues[-1]), 0.0) * len(eigenvalues) * np.finfo(float).eps
    if eigenvalues[0] <= floor:
        raise EstimationError(
            f"the covariance R cov R' of the restrictions {labels} is singular (smallest "
            f"eigenvalue {eigenvalues[0]:.3g}): the fit's covariance carries no information "
            "about some combination of them"
        )
    projected = vectors.T @ discrepancy
    return float(np.sum(projected**2 / eigenvalues))


def _labels(R: np.ndarray, q: np.ndarray, names: list[str]) -> list[str]:
    """Each restriction as readable text: ``"2*x1 - x2 = 1"``."""
    labels = []
    for row, value in zip(R, q, strict=True):
        text = ""
        for coef, name in zip(row, names, strict=True):
            if coef == 0:
                continue
            term = name if abs(coef) == 1 else f"{abs(coef):.6g}*{name}"
            if not text:
                text = f"-{term}" if coef < 0 else term
            else:
                text += f" {'-' if coef < 0 else '+'} {term}"
        labels.append(f"{text or '0'} = {value:.6g}")
    return labels


def lr_test(restricted: Any, full: Any) -> LRTest:
    r"""Likelihood-ratio test of a ``restricted`` fit nested in a ``full`` one.

    .. math::  LR = 2(\ell_\text{full} - \ell_\text{restricted}) \sim \chi^2_k,

    :math:`k` the difference in the numbers of estimated parameters (finite
    entries of ``params_``, less any held ``fixed``), as statsmodels'
    ``compare_lr_test`` (:math:`k` = difference of residual degrees of freedom).
    Valid when the restricted model is the full one with :math:`k` restrictions
    imposed, both fitted by maximum likelihood on the same rows and correctly
    specified (a robust ``cov_type`` does not make it robust).

    Checks: both fits have a log-likelihood ``llf_`` (M-estimators and quantile
    regression have none: a :class:`SettingsError`), the same ``nobs_``
    (:class:`DataError`), and fewer parameters in ``restricted``
    (:class:`SettingsError`). Nesting cannot be verified from the fits; a
    :class:`NotNestedWarning` is raised, not an error, when the restricted
    fit's parameter names are not among the full fit's (a reparametrised model,
    e.g. ``I(x1 + x2)``, can be nested without sharing names), when the
    responses differ, or when the restricted fit has the higher likelihood.
    """
    for role, fit in (("restricted", restricted), ("full", full)):
        if not hasattr(fit, "params_"):
            raise SettingsError(f"the {role} model {type(fit).__name__} is not fitted")
        llf = getattr(fit, "llf_", None)
        if llf is None or not np.isfinite(llf):
            raise SettingsError(
                f"the {role} model, a {type(fit).__name__}, has no likelihood (no finite "
                "llf_): a likelihood-ratio test needs two maximum-likelihood fits; use "
                "wald_test for the others"
            )
    if restricted.nobs_ != full.nobs_:
        raise DataError(
            f"the fits used different numbers of observations ({restricted.nobs_:g} restricted, "
            f"{full.nobs_:g} full); refit both on the same rows"
        )
    k_restricted, k_full = _n_estimated(restricted), _n_estimated(full)
    if k_restricted >= k_full:
        raise SettingsError(
            f"the restricted model has {k_restricted} estimated parameters and the full one "
            f"{k_full}: the restricted one must have fewer (pass them as lr_test(restricted, "
            "full))"
        )
    _warn_if_not_nested(restricted, full)
    statistic = 2.0 * (float(full.llf_) - float(restricted.llf_))
    df = k_full - k_restricted
    return LRTest(
        statistic=statistic,
        p_value=float(chi2_sf(statistic, df)),
        df=df,
        llf_restricted=float(restricted.llf_),
        llf_full=float(full.llf_),
    )


def _n_estimated(fit: Any) -> int:
    """Finite estimates among the free parameters (the base class's ``_sandwich_free`` mask)."""
    finite = np.isfinite(fit.params_.to_numpy(dtype=float))
    free = getattr(fit, "_sandwich_free", None)
    if free is not None and len(free) == len(finite):
        finite &= np.asarray(free, dtype=bool)
    return int(np.sum(finite))


def _warn_if_not_nested(restricted: Any, full: Any) -> None:
    extra = [str(n) for n in restricted.params_.index if n not in full.params_.index]
    if extra:
        warnings.warn(
            f"the restricted model's parameters {extra} are not parameters of the full model: "
            "the likelihood-ratio test is valid only if the models are nested",
            NotNestedWarning,
            stacklevel=user_stacklevel(),
        )
    responses = {_response(restricted), _response(full)} - {None}
    if len(responses) > 1:
        warnings.warn(
            f"the models explain different responses {sorted(responses)}: they are not nested",
            NotNestedWarning,
            stacklevel=user_stacklevel(),
        )
    if restricted.llf_ > full.llf_ + 1e-10 * max(1.0, abs(full.llf_)):
        warnings.warn(
            f"the restricted model has the higher log-likelihood ({restricted.llf_:.10g} > "
            f"{full.llf_:.10g}): the models are not nested, or a fit did not reach its maximum",
            NotNestedWarning,
            stacklevel=user_stacklevel(),
        )


def _response(fit: Any) -> str | None:
    info = getattr(fit, "design_info_", None)
    if info is not None:
        return info.response
    return getattr(fit, "variable_", None)
