r"""Maximum likelihood and general M-estimation of a 1-D sample.

:class:`MaximumLikelihood` minimises the mean negative log-likelihood of a named
family (:mod:`estimators.distributions`) or of a user's own log-density;
:class:`MEstimator` minimises the mean of a user's own per-observation loss:

.. math::  \hat\theta = \arg\min_\theta \frac{\sum_i w_i\,\rho(x_i;\theta)}{\sum_i w_i},
           \qquad \rho = -\log f \ \text{(maximum likelihood)}.

Both run through :func:`estimators.minimize` on unconstrained parameters
(constrained ones through the ``log`` / ``logit`` / ``softplus`` transforms of
:data:`estimators.distributions.TRANSFORMS`) and report every result in the
natural parameters.

Inference
---------
With the rows' contributions to the total loss :math:`\ell_i(\theta) = w_i
\rho(x_i;\theta)` (:math:`\rho = -\log f` for maximum likelihood), let
:math:`H = \sum_i \nabla^2_\theta \ell_i(\hat\theta)` (the observed
information, for a likelihood) and :math:`s_i = \nabla_\theta
\ell_i(\hat\theta)` the scores, both in the *natural* parameters in data
units at the optimum (the fit runs on scaled data; :meth:`_LossEstimator._store`
maps back). The fit hands :math:`H^{-1}` and the :math:`s_i` to
:mod:`estimators.covariance` as a :class:`~estimators.covariance.Sandwich`:

- ``cov_type="nonrobust"``: :math:`H^{-1}`, the inverse observed information.
  Default of :class:`MaximumLikelihood`, where it is the classical MLE
  covariance. Because the gradient vanishes at the optimum it equals the delta
  method applied to the inverse information of the unconstrained fit. For
  :class:`MEstimator` it is a covariance only when :math:`\rho` is a negative
  log-likelihood of a correct model.
- ``"HC0"``: :math:`H^{-1} B H^{-1}`, :math:`B = \sum_i s_i s_i^\top / w_i`
  (White's sandwich; a row of weight :math:`w_i` stands for :math:`w_i` equal
  observations). Default of :class:`MEstimator`; for maximum likelihood the
  misspecification-robust (quasi-MLE) covariance.
- ``"HC1"``: HC0 times :math:`n / (n - k)`, :math:`k` the free parameters.
  (statsmodels' likelihood models return HC0 for ``"HC1"``.)
- ``"cluster"``: labels from ``fit(x, groups=...)``;
  :math:`B = \sum_g S_g S_g^\top` times :math:`\frac{G}{G-1}\frac{n-1}{n-k}`;
  two label columns give two-way clustering.
- ``"HAC"``: Newey-West with Bartlett weights over the rows in the order
  given, ``cov_options={"maxlags": L}`` (default
  :func:`~estimators.covariance.default_maxlags`).

All factors are those of :mod:`estimators.covariance`. A Hessian that is not
positive definite (a saddle, a flat direction) gives NaN standard errors, one
:class:`~estimators.errors.InferenceWarning` and the reason in ``cov_note_``.
``sample_weight`` are frequency weights: :math:`n = \sum_i w_i`. Statistics
are z statistics (``df_resid_ = None``; ``use_t=True`` gives t with
:math:`n - k`). Parameters held ``fixed`` are not estimated: their standard
errors and covariances are NaN.

Speed
-----
Families with sufficient statistics (normal, exponential, gamma, beta,
lognormal, poisson, geometric) are fitted from a handful of weighted means, so
each iteration is O(1) whatever n. Count data are collapsed to their distinct
values (exact under frequency weights). Otherwise the data are padded with
zero-weight rows to a size bucket (:func:`estimators.numerics.bucket_size`), so
that one compiled kernel serves every sample size in a bucket.

Gamma, exponential and lognormal fits with ``solver="newton"`` in float64 go
further (:mod:`estimators.likelihood_statistics`): one block-wise pass over the
data checks the support and sums the statistics, and one compiled call runs
Newton and takes the Hessian. The rows are read again only for a robust
covariance's scores, and bad data fall back to the row path for its messages.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .covariance import Sandwich
from .distributions import TRANSFORMS, Family, check_support, get_family, get_transform
from .errors import ConvergenceWarning, DataError, SettingsError, user_stacklevel
from .fit_inputs import cut_groups
from .frame import Sample
from .inference import invert_hessian
from .likelihood_objective import _inference, _Layout, _NegatedLogpdf, _Objective, _row_gradients
from .likelihood_statistics import (
    _Scaling,
    fused_statistics,
    is_unit,
    scaling_of,
    solve_statistics,
)
from .numerics import bucket_size, pad_rows
from .sharding import active_mesh, device_multiple, put_rows
from .solve import DEFAULT_MAX_ITER, default_tol, minimize, x64_context
from .univariate import SampleEstimator, SampleInputs

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster", "HAC")


# --------------------------------------------------------------------------- data preparation


# Counts are not rescaled (the Poisson is not a scale family), so the solver works in
# data units: its gradient carries a rounding error of about eps times the mean count,
# and the square of that leaves float64's range for means above about 2**511
# (measured: fits agree with the weighted mean to 2e-14 up to a mean of 3.2e153;
# a mean of 1.1e154 fails to converge and 2.1e154 raises FitError).
_LARGEST_MEAN_COUNT = 2.0**510


def _check_count_range(family: Family, sample: Sample) -> None:
    """A :class:`DataError` naming the variable and counting the rows when counts are too
    large for the count families' likelihood in float64 (a mean above 2**510)."""
    if family.support != "count":
        return
    values, weights = sample.values, sample.weights
    with np.errstate(over="ignore"):
        mean = float(np.sum(weights * values) / np.sum(weights))
    if not mean > _LARGEST_MEAN_COUNT:
        return
    big = (values > _LARGEST_MEAN_COUNT) & (weights > 0)
    labels = pd.RangeIndex(values.size) if sample.index is None else sample.index
    rows = ", ".join(repr(label) for label in labels[big][:5])
    rows += ", ..." if big.sum() > 5 else ""
    raise DataError(
        f"{sample.name} has {int(big.sum())} counts above 2**510 ({_LARGEST_MEAN_COUNT:.2g}) "
        f"out of {values.size} rows (rows {rows}), and a mean count of {mean:.3g}: the "
        f"{family.name} log-likelihood's derivatives overflow float64 for counts this large "
        "(the MLE of a poisson mean is the weighted mean of the counts)"
    )


def _equilibrated_inverse(hessian: np.ndarray, equilibrate: bool) -> tuple[np.ndarray, str | None]:
    r"""The inverse Hessian, taken after scaling it to a unit diagonal, or NaN and why.

    With :math:`S = \operatorname{diag}(H_{jj}^{-1/2})`, :math:`H^{-1} = S\,(S H
    S)^{-1} S` exactly; the rank rule of :func:`~estimators.inference.invert_hessian`
    (eigenvalues below :math:`k\,\epsilon\,\lambda_{max}`) is then applied to
    :math:`S H S`, a correlation-like matrix whose eigenvalues do not depend on
    the units of the parameters. Without it, a parameter whose scaled coordinate
    is far from 1 (the gamma scale near 4.7e18 at shape 0.1, curvature 1e-23
    beside 3e5) makes a regular Hessian (condition number 6e3 once equilibrated)
    look singular. GLMs invert their information the same way
    (:func:`~estimators.glm_inference.inverse_information`).

    Not done (``equilibrate=False``) at an estimate on the edge of the parameter
    space (student t's df running off to infinity), where a tiny curvature is the
    flat likelihood of a parameter with no finite MLE (below rounding level:
    8e-23 at df = 1e8), which the unscaled rule rightly calls singular; nor when
    a diagonal entry is not positive and finite (invert_hessian says why).
    """
    hessian = np.atleast_2d(np.asarray(hessian, dtype=float))
    diag = np.diag(hessian)
    if not equilibrate or not np.all(np.isfinite(hessian)) or not np.all(diag > 0):
        return invert_hessian(hessian)
    s = 1.0 / np.sqrt(diag)
    inverse, reason = invert_hessian(s[:, None] * hessian * s[None, :])
    return s[:, None] * inverse * s[None, :], reason


def _padded(values: np.ndarray, weights: np.ndarray, dtype: str) -> dict[str, Any]:
    """Pad to the bucket length of :func:`estimators.numerics.bucket_size` with
    zero-weight copies of the first value.

    One compiled kernel then serves every n in the bucket; the copies are in the
    support, so their (zero-weighted) loss is finite. Inside a
    :func:`estimators.sharding.sharded` block the length is also a multiple of
    the device count and the rows are split over the devices (the losses are
    whole-array sums, which XLA partitions); outside one, numpy arrays.
    """
    length = device_multiple(bucket_size(len(values)))
    (x,) = pad_rows(values, fill=values[0], length=length)
    (w,) = pad_rows(weights, length=length)
    if active_mesh() is None:
        return {"x": x, "w": w}
    with x64_context(dtype):
        return {"x": put_rows(np.asarray(x, dtype)), "w": put_rows(np.asarray(w, dtype))}


def _collapse(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values with their summed weights: the same weighted loss, fewer rows."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, np.bincount(inverse, weights=weights)


# --------------------------------------------------------------------------- shared fitting


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What a fit needs from the estimator's settings."""

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    units: tuple[str, ...]
    per_obs: Callable
    family: Family | None = None


class _LossEstimator(SampleEstimator):
    """Fit pipeline shared by :class:`MaximumLikelihood` and :class:`MEstimator`.

    Subclasses implement ``_spec()`` (the parameters, their transforms and the
    per-observation loss, from the settings; SettingsErrors for bad ones) and
    extend :meth:`_check_settings`.
    """

    _likelihood = False  # MaximumLikelihood: llf_, aic_, bic_ and data-unit scaling
    _cov_types = COV_TYPES

    def _check_fit_settings(self, groups: Any) -> None:
        super()._check_fit_settings(groups)
        # params0 / transforms / family are settings too: refused before any data are read
        self._spec()

    def _fit_sample(self, sample: Sample, inputs: SampleInputs) -> None:
        spec = self._spec()
        labels = None if inputs.groups is None else cut_groups(inputs.groups, sample.keep)
        family = spec.family
        if self._fused(spec, sample, labels):
            return
        if family is not None:
            check_support(family, sample.values, sample.weights, sample.name, sample.index)
            _check_count_range(family, sample)
        positive = sample.weights > 0  # zero-weight rows contribute nothing
        values, weights = sample.values, sample.weights
        if not positive.all():  # (copies of 1e6 rows cost as much as the solve)
            values, weights = values[positive], weights[positive]
        scaling = scaling_of(family.support, values) if family is not None else _Scaling()
        observations = values
        if scaling.ref != 0.0:
            observations = (values - scaling.ref) / scaling.scale
        elif scaling.scale != 1.0:
            observations = values / scaling.scale  # one pass, the same numbers
        c, w = observations, weights
        if family is not None and family.support == "count":
            c, w = _collapse(c, w)

        use_stats = family is not None and family.statistics is not None
        stats = family.statistics(c, w) if use_stats else None
        theta0 = self._start(spec, scaling, c, w, stats)
        fixed = self._fixed(spec, scaling)
        free = tuple(n for n in spec.names if n not in fixed)
        u0 = {n: _to_unconstrained(spec, n, fixed.get(n, theta0[n])) for n in spec.names}
        objective = _Objective(
            spec.names, spec.transforms, spec.per_obs, family.mean_nll if use_stats else None
        )
        data = stats if use_stats else _padded(c, w, self.dtype)
        self._check_start(spec, objective, {**theta0, **fixed}, c, sample)

        nobs = sample.nobs
        solution = minimize(
            objective,
            u0,
            data,
            solver=self.solver,
            tol=self._tolerance(nobs),
            # the likelihood's test is absolute in |f| <= 1 (see _tolerance); a general
            # loss's is relative to |f|, as minimize's default
            loss_scale=1.0 if self._likelihood else 0.0,
            max_iter=self.max_iter,
            dtype=self.dtype,
            learning_rate=self.learning_rate,
            fixed={n: u0[n] for n in fixed} or None,
        )
        self._check_solution(solution)
        layout = _Layout(free, tuple(np.shape(u0[n]) for n in free))

        # The rows' scores, one row per observation in the order given: every robust
        # cov_type needs them, and influence functions do whatever the cov_type. They
        # cost a pass over the rows (and a compile), several times the whole fit
        # beside sufficient statistics, so they are computed when first asked for.
        def rows():
            if c is observations and not use_stats:
                return data
            return _padded(observations, weights, self.dtype)

        theta_c, hessian_c, psi_c = self._derivatives(
            objective, layout, solution.params, data, rows, nobs
        )
        edge = None if family is None else family.check_estimate
        self._store(
            spec, scaling, theta_c, layout, hessian_c, psi_c, positive, solution, sample, labels,
            edge,
        )  # fmt: skip
        if family is not None and family.check_estimate is not None:
            self._check_estimate(family)

    def _fused(self, spec: _Spec, sample: Sample, labels: Any) -> bool:
        """The sufficient-statistic path (:mod:`estimators.likelihood_statistics`): one
        block-wise pass for the checks and the statistics, one compiled call for the
        solve and the Hessian. False (nothing done) where the row path must run."""
        family = spec.family
        if family is None or self.solver != "newton" or self.learning_rate is not None:
            return False
        max_iter = self.max_iter
        if self.dtype != "float64" or not (max_iter is None or int(max_iter) >= 0):
            return False  # float32 sums, or minimize's own SettingsError for max_iter
        if active_mesh() is not None:
            return False  # inside sharded(): the statistics reach minimize, as they did
        fused = fused_statistics(family, sample.values, sample.weights)
        if fused is None:
            return False
        scaling, stats = fused
        theta0 = self._start(spec, scaling, None, None, stats)
        fixed = self._fixed(spec, scaling)
        free = tuple(n for n in spec.names if n not in fixed)
        u0 = {n: _to_unconstrained(spec, n, fixed.get(n, theta0[n])) for n in spec.names}
        objective = _Objective(spec.names, spec.transforms, spec.per_obs, family.mean_nll)
        layout = _Layout(free, tuple(() for _ in free))
        solution, theta_c, hessian = solve_statistics(
            objective,
            layout,
            u0,
            tuple(fixed),
            stats,
            tol=self._tolerance(sample.nobs),
            max_iter=DEFAULT_MAX_ITER["newton"] if max_iter is None else int(max_iter),
        )
        self._check_solution(solution)
        positive = None if is_unit(sample.weights) else sample.weights > 0

        def rows():  # the scaled observations, for the scores of a robust covariance
            keep = slice(None) if positive is None else positive
            w = np.ones(sample.values.size) if positive is None else sample.weights[positive]
            c = (sample.values[keep] - scaling.ref) / scaling.scale  # as the row path's
            return _padded(c, w, self.dtype)

        scores = self._scores(objective, layout, solution.params, rows)
        self._store(
            spec, scaling, theta_c, layout, sample.nobs * hessian, scores, positive, solution,
            sample, labels, family.check_estimate,
        )  # fmt: skip
        if family.check_estimate is not None:
            self._check_estimate(family)
        return True

    def _check_estimate(self, family: Family) -> None:
        """An estimate on the edge of the parameter space is not a maximum: flag it."""
        reason = family.check_estimate(self.params_.to_dict())
        if reason is not None:
            self.converged_ = False
            warnings.warn(
                f"{type(self).__name__}({family.name!r}) did not reach a maximum: {reason}. "
                "The estimate is flagged with converged_ = False.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )

    # ------------------------------------------------------------ pieces
    def _tolerance(self, nobs: float) -> float:
        r"""``minimize``'s tolerance for ``tol`` in standard errors.

        ``minimize`` stops when :math:`\lambda^2/2 \le t\,\max(|f|, L)`. For a
        mean negative log-likelihood (``L = 1``) the distance to the optimum in
        standard errors is :math:`\sqrt{n\lambda^2}` whatever the size of
        :math:`f`, so :math:`t = \mathrm{tol}^2/(2n)` gives ``tol`` standard
        errors while :math:`|f| \le 1` (in the scaled coordinates the mean
        log-density is of order one). A general loss uses :class:`Mean`'s rule,
        :math:`t = \mathrm{tol}^2/n` relative to :math:`|f|` (``L = 0``), exact
        for losses on the scale of a residual variance.

        The line searches cannot certify progress below the rounding noise of
        the loss (log-gamma terms of size 20 that cancel to 1, for example, leave
        noise of 1e-15), so ``t`` is floored at
        :func:`estimators.solve.default_tol`; ``"newton"`` then takes one last
        full step, which squares the remaining error.
        """
        t = self.tol**2 / (2.0 * nobs) if self._likelihood else self.tol**2 / nobs
        return max(t, default_tol(self.dtype))

    def _start(self, spec: _Spec, scaling: _Scaling, c, weights, stats) -> dict[str, Any]:
        """Natural starting values in scaled coordinates: automatic, then ``params0``."""
        start = dict(spec.family.start(c, weights, stats)) if spec.family is not None else {}
        for name, value in (self.params0 or {}).items():
            _check_domain(spec, name, value, "starting")
            unit = spec.units[spec.names.index(name)]
            start[name] = _scaled_value(scaling, unit, value)
        return start

    def _fixed(self, spec: _Spec, scaling: _Scaling) -> dict[str, Any]:
        if self.fixed is None:
            return {}
        if isinstance(self.fixed, Mapping):
            values = dict(self.fixed)
        elif isinstance(self.fixed, Iterable) and not isinstance(self.fixed, str):
            names = list(self.fixed)
            missing = [n for n in names if n not in (self.params0 or {})]
            if missing:
                raise SettingsError(
                    f"fixed={names} holds {missing} at their params0 values, but params0 "
                    f"does not give them; pass fixed={{name: value}} instead"
                )
            values = {n: self.params0[n] for n in names}
        else:
            raise SettingsError(
                f"fixed must be a dict {{name: value}} or a list of names, got {self.fixed!r}"
            )
        unknown = [n for n in values if n not in spec.names]
        if unknown:
            raise SettingsError(
                f"fixed names {unknown} that are not parameters; the parameters are "
                f"{list(spec.names)}"
            )
        if len(values) == len(spec.names):
            raise SettingsError("fixed= holds every parameter fixed: nothing is left to estimate")
        for name, value in values.items():
            _check_domain(spec, name, value, "fixed")
        units = dict(zip(spec.names, spec.units, strict=True))
        return {n: _scaled_value(scaling, units[n], v) for n, v in values.items()}

    def _check_start(self, spec, objective, theta0, c, sample: Sample) -> None:
        """A loss that is not finite at the start, row by row, is a clear DataError."""
        if spec.family is not None:
            return  # support checked; automatic starts are in the interior
        with x64_context(self.dtype):
            theta = jax.tree.map(lambda v: jnp.asarray(v, self.dtype), theta0)
            per_row = np.asarray(objective.per_obs(theta, jnp.asarray(c, self.dtype)))
        if per_row.shape != c.shape:
            raise SettingsError(
                f"{self._what()} must return one value per observation: got shape "
                f"{per_row.shape} for {c.size} observations"
            )
        bad = ~np.isfinite(per_row)
        if bad.any():
            labels = sample.index[sample.weights > 0][bad][:5]
            raise DataError(
                f"{self._what()} is NaN or infinite at params0 for {int(bad.sum())} of "
                f"{c.size} rows of {sample.name} (rows {', '.join(map(repr, labels))}"
                f"{', ...' if bad.sum() > 5 else ''}): check params0 and the support of the data"
            )

    def _derivatives(self, objective, layout, u, data, rows, nobs):
        """Natural parameters (scaled units), the Hessian of the TOTAL loss over the free
        ones, and a function giving the rows' weighted scores w_i psi_i (padding rows, of
        weight 0, last) from ``rows()``, the padded observations, when first called."""
        dtype = jnp.dtype(self.dtype)

        def cast(a):
            return jnp.asarray(a, dtype)

        with x64_context(self.dtype):
            u = jax.tree.map(cast, u)
            theta, hessian = _inference(objective, layout, u, jax.tree.map(cast, data))
            theta = {n: np.asarray(v, dtype=float) for n, v in theta.items()}
        scores = self._scores(objective, layout, u, rows)
        return theta, nobs * np.asarray(hessian, dtype=float), scores

    def _scores(self, objective, layout, u, rows) -> Callable[[], np.ndarray]:
        """The rows' weighted scores w_i psi_i at ``u`` (padding rows last), from
        ``rows()``, the padded observations: a function, run when first called."""
        dtype = jnp.dtype(self.dtype)

        def cast(a):
            return jnp.asarray(a, dtype)

        def scores() -> np.ndarray:
            padded = rows()
            with x64_context(self.dtype):
                psi = _row_gradients(
                    objective, layout, jax.tree.map(cast, u), jax.tree.map(cast, padded)
                )
                psi = np.asarray(psi, dtype=float)
            return psi * np.asarray(padded["w"], dtype=float)[:, None]

        return scores

    def _store(
        self,
        spec,
        scaling,
        theta_c,
        layout,
        hessian_c,
        scores_c,
        positive,
        solution,
        sample,
        labels,
        edge=None,
    ) -> None:
        r"""Set the learned attributes, with the covariance and the sandwich in data units.

        The fit ran on scaled data, :math:`\theta_{data} = g(\theta_c)` with
        derivatives :math:`d` (``_Scaling.derivative``), so the total loss's
        Hessian maps as :math:`A_{data}^{-1} = D A_c^{-1} D` and the scores as
        :math:`s_{data} = s_c / d` (the likelihood's shift :math:`\log s` is a
        constant). The bread is inverted in the scaled coordinates, equilibrated
        (:func:`_equilibrated_inverse`) unless ``edge`` (the family's
        ``check_estimate``) finds the estimate on the edge of the parameter space.
        """
        units = dict(zip(spec.names, spec.units, strict=True))
        names, estimates, free_mask, factors = [], [], [], []
        for name in spec.names:
            value = np.asarray(theta_c[name], dtype=float)
            flat = np.ravel(value)
            is_free = name in layout.names
            for j, v in enumerate(flat):
                names.append(name if value.ndim == 0 else f"{name}[{j}]")
                estimates.append(scaling.to_data(units[name], float(v)))
                free_mask.append(is_free)
                if is_free:
                    factors.append(scaling.derivative(units[name]))
        d = np.asarray(factors)
        values = dict(zip(names, estimates, strict=True))
        on_edge = edge is not None and edge(values) is not None
        bread_c, reason = _equilibrated_inverse(hessian_c, equilibrate=not on_edge)
        # D A_c^{-1} D one side at a time: np.outer(d, d) overflows for data near 1e300
        # (d about 1e300 each), and inf times a zero covariance would be NaN. A variance
        # itself may still leave float64's range (about 1e600): inf there, while the
        # standard errors below are finite.
        with np.errstate(over="ignore"):
            bread = bread_c * d[:, None] * d[None, :]
        free_index = np.flatnonzero(free_mask)
        cov = np.full((len(names), len(names)), np.nan)
        cov[np.ix_(free_index, free_index)] = bread
        # sqrt(diag) of the data-unit bread under- or overflows for data near 1e-200
        # or 1e200 where the scaled one does not
        std_errors = np.full(len(names), np.nan)
        with np.errstate(invalid="ignore"):
            std_errors[free_index] = d * np.sqrt(np.diag(bread_c))
        nobs = sample.nobs

        def scores() -> np.ndarray:  # n x k, formed when a covariance or influence asks
            out = np.zeros((sample.values.size, d.size))
            used = slice(None) if positive is None else positive  # None: every row
            count = out.shape[0] if positive is None else int(np.count_nonzero(positive))
            with np.errstate(over="ignore", divide="ignore"):
                out[used] = scores_c()[:count] / d
            return out

        sandwich = Sandwich(bread, scores, nobs, frequency_weights=sample.weights)
        # The mean loss of the data, in data units: log f_X(x) = log f_C(c) - log s.
        shift = math.log(scaling.scale) if self._likelihood else 0.0
        # One Index of the names and the trace's own axes for every result (each new
        # Index of text is a pyarrow array: a fifth of the fixed cost of a small fit).
        index = pd.Index(names)
        trace = solution.trace
        history = trace.to_numpy(dtype=float, copy=True)
        history[:, list(trace.columns).index("loss")] += shift
        self._store_fit(
            params=pd.Series(estimates, index=index, name="estimate"),
            cov=pd.DataFrame(cov, index=index, columns=index),
            solution=solution,
            history=pd.DataFrame(history, index=trace.index, columns=trace.columns),
            nobs=nobs,
            df_resid=None,
            std_errors=std_errors,
            sandwich=sandwich,
            free=np.asarray(free_mask),
            groups=labels,
            cov_note=reason,
            row_index=sample.index,
        )
        self.n_dropped_ = sample.n_dropped
        self.variable_ = sample.name
        self.loss_ = solution.value + shift
        if self._likelihood:
            k = len(free_index)
            self.llf_ = -nobs * self.loss_
            self.aic_ = 2.0 * k - 2.0 * self.llf_
            self.bic_ = k * math.log(nobs) - 2.0 * self.llf_

    # ------------------------------------------------------------ settings
    def _user_spec(self, per_obs: Callable) -> _Spec:
        """Names and transforms of a user's ``params0`` / ``transforms``."""
        if self.params0 is None or not isinstance(self.params0, Mapping) or not self.params0:
            raise SettingsError(
                f"{self._what()} needs params0, a dict of starting values by parameter name, "
                "e.g. params0={'loc': 0.0, 'scale': 1.0}"
            )
        names = tuple(str(n) for n in self.params0)
        transforms = dict(self.transforms or {})
        unknown = [n for n in transforms if n not in names]
        if unknown:
            raise SettingsError(
                f"transforms names {unknown} that are not in params0 ({list(names)})"
            )
        for t in transforms.values():
            get_transform(t)
        return _Spec(
            names,
            tuple(transforms.get(n, "identity") for n in names),
            tuple("free" for _ in names),
            per_obs,
        )


def _scaled_value(scaling: _Scaling, unit: str, value: Any) -> Any:
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return scaling.to_scaled(unit, float(value))
    return np.vectorize(lambda v: scaling.to_scaled(unit, v))(value)


def _check_function(function: Any, name: str, signature: str) -> None:
    """A user's function must be callable and hashable (it keys the compiled kernels)."""
    if not callable(function):
        raise SettingsError(f"{name} must be a function {signature}, got {function!r}")
    try:
        hash(function)
    except TypeError:
        raise SettingsError(
            f"{name} must be hashable (a plain function, lambda or functools.partial), "
            "because it keys the compiled solver"
        ) from None


def _check_domain(spec: _Spec, name: str, value: Any, role: str) -> None:
    """A starting or fixed value (data units) outside its transform's domain is a SettingsError.

    Rescaling the data keeps every value in its domain, so data units can be checked.
    """
    transform = TRANSFORMS[spec.transforms[spec.names.index(name)]]
    array = np.asarray(value, dtype=float)
    if not all(transform.valid(v) for v in np.ravel(array)):
        raise SettingsError(
            f"the {role} value of {name!r} is {array.tolist()!r}, outside its domain "
            f"{transform.domain} ({transform.name} transform)"
        )


def _to_unconstrained(spec: _Spec, name: str, value: Any) -> np.ndarray:
    transform = TRANSFORMS[spec.transforms[spec.names.index(name)]]
    value = np.asarray(value, dtype=float)
    return np.vectorize(transform.to_unconstrained, otypes=[float])(value).reshape(value.shape)


# --------------------------------------------------------------------------- public estimators


class MaximumLikelihood(_LossEstimator):
    r"""Maximum likelihood fit of a distribution family, or of a user's own log-density.

    .. math::  \hat\theta = \arg\max_\theta \sum_i w_i \log f(x_i;\theta)

    ``MaximumLikelihood("gamma")`` fits one of the families of
    :mod:`estimators.distributions` (normal, exponential, gamma, beta, weibull,
    lognormal, student_t, poisson, negative_binomial, geometric; the module
    docstring tabulates their parameters and scipy equivalents).
    ``MaximumLikelihood(logpdf=f, params0={...})`` fits ``f(params, x)``, a JAX
    function returning the log-density of each observation (element-wise in
    ``x``), from the starting values ``params0`` (scalars or 1-D arrays).

    Named families: data outside the support are a :class:`DataError`; the fit
    runs in scaled coordinates (see :mod:`estimators.distributions`) from
    closed-form or method-of-moments starts, through sufficient statistics where
    the family has them; ``params0`` and ``fixed`` values are in data units.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`.

    Parameters
    ----------
    family : a family name, or a :class:`estimators.distributions.Family`.
    logpdf : a user's log-density ``logpdf(params, x)`` instead of a family.
    params0 : starting values by name; required with ``logpdf``, optional
        overrides of the automatic starts for a family.
    transforms : with ``logpdf``, ``{name: "log" | "softplus" | "logit" |
        "identity"}``; parameters not named are unconstrained.
    fixed : parameters held at a value, ``{name: value}`` (or a list of names
        held at their ``params0``); they are not estimated (NaN standard errors)
        and do not count in ``aic_`` / ``bic_``.
    cov_type : ``"nonrobust"`` (default, inverse observed information),
        ``"HC0"``, ``"HC1"``, ``"cluster"`` (labels passed to ``fit(x,
        groups=...)``) or ``"HAC"``; see the module docstring.
    use_t : None or False (default: z statistics) or True (t with
        :math:`n - k` degrees of freedom).
    cov_options : None or ``{"maxlags": L}`` for ``"HAC"``.
    solver : ``"newton"`` (default: exact autodiff Hessian, few parameters),
        ``"lbfgs"``, ``"adam"``, ``"sgd"`` or an optax transformation.
    tol : accuracy in standard errors: the fit stops when the Newton decrement
        says the estimate is within about ``tol`` standard errors of the exact
        maximiser. Default ``1e-8``.
    max_iter, learning_rate, dtype, missing : as for :class:`Mean`.

    Attributes
    ----------
    params_, cov_, std_errors_, summary(), conf_int(), converged_, n_iter_ : as
        for every estimator; natural parameters in data units.
    history_ : mean negative log-likelihood (data units) and gradient norm (of
        the optimiser's unconstrained, scaled parameters) per iteration.
    llf_ : maximised log-likelihood; ``aic_`` :math:`= 2k - 2\ell`; ``bic_``
        :math:`= k\log n - 2\ell` (k free parameters); ``nobs_`` :math:`=\sum w_i`;
        ``loss_`` :math:`= -\ell/n`.
    variable_, n_dropped_ : the sample's name and the rows dropped as missing.

    Examples
    --------
    >>> fit = MaximumLikelihood("exponential").fit([1.0, 2.0, 6.0])
    >>> round(float(fit.params_["scale"]), 12)
    3.0
    """

    _likelihood = True

    def __init__(
        self,
        family: str | Family | None = None,
        *,
        logpdf: Callable[..., Any] | None = None,
        params0: Mapping[str, Any] | None = None,
        transforms: Mapping[str, str] | None = None,
        fixed: Mapping[str, Any] | Iterable[str] | None = None,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        cov_options: Mapping[str, Any] | None = None,
        solver: Any = "newton",
        tol: float = 1e-8,
        max_iter: int | None = None,
        learning_rate: float | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())

    def _what(self) -> str:
        return "logpdf" if self.logpdf is not None else f"the {self.family} family"

    def _check_settings(self) -> None:
        super()._check_settings()
        if (self.family is None) == (self.logpdf is None):
            raise SettingsError(
                "give exactly one of family (e.g. MaximumLikelihood('gamma')) or "
                "logpdf=my_logpdf with params0={...}"
            )
        if self.logpdf is not None:
            _check_function(self.logpdf, "logpdf", "logpdf(params, x)")

    def _spec(self) -> _Spec:
        if self.logpdf is not None:
            return self._user_spec(_NegatedLogpdf(self.logpdf))
        family = get_family(self.family)
        if self.transforms:
            raise SettingsError(
                f"transforms= applies to logpdf=; the {family.name} family has its own "
                f"({dict(zip(family.params, family.transforms, strict=True))})"
            )
        unknown = [n for n in (self.params0 or {}) if n not in family.params]
        if unknown:
            raise SettingsError(
                f"params0 names {unknown} that are not parameters of the {family.name} "
                f"family; its parameters are {list(family.params)}"
            )
        return _Spec(
            family.params, family.transforms, family.units, _NegatedLogpdf(family.logpdf), family
        )


class MEstimator(_LossEstimator):
    r"""The minimiser of a user's mean loss, with sandwich standard errors.

    .. math::  \hat\theta = \arg\min_\theta \frac{\sum_i w_i\,\rho(x_i;\theta)}{\sum_i w_i},
               \qquad \widehat{\mathrm{Cov}}(\hat\theta) = \frac1n A^{-1} B A^{-1}

    with :math:`A` the mean Hessian and :math:`B` the mean outer product of the
    per-observation gradients :math:`\psi_i = \nabla\rho(x_i;\hat\theta)`
    (HC0, the default ``cov_type``; also ``"HC1"``, ``"cluster"``, ``"HAC"``).
    ``cov_type="nonrobust"`` gives :math:`A^{-1}/n`, the inverse Hessian of
    the total loss, which is a covariance only when :math:`\rho` is the
    negative log-likelihood of a correct model.

    Data: ``fit(x)`` or ``fit(df, column="name")``, see
    :meth:`~estimators.univariate.SampleEstimator.fit`.

    Parameters
    ----------
    loss : ``loss(params, x)``, a JAX function returning the loss of each
        observation (element-wise in ``x``).
    params0 : starting values by name (scalars or 1-D arrays); required.
    transforms, fixed, cov_type, use_t, cov_options, solver, max_iter,
    learning_rate, dtype, missing : as for :class:`MaximumLikelihood`
        (``cov_type`` defaults to ``"HC0"``).
    tol : as for :class:`Mean`: the Newton decrement test relative to the loss,
        ``tol**2 / n`` (``tol`` standard errors for losses on the scale of a
        residual variance, such as squared or Huber deviations). Default ``1e-8``.

    Attributes
    ----------
    As :class:`MaximumLikelihood`, with ``loss_`` (the minimised mean loss)
    instead of ``llf_``, ``aic_``, ``bic_``.

    Examples
    --------
    >>> fit = MEstimator(loss=lambda p, x: (x - p["m"]) ** 2, params0={"m": 0.0})
    >>> round(float(fit.fit([1.0, 2.0, 6.0]).params_["m"]), 12)
    3.0
    """

    def __init__(
        self,
        loss: Callable[..., Any] | None = None,
        *,
        params0: Mapping[str, Any] | None = None,
        transforms: Mapping[str, str] | None = None,
        fixed: Mapping[str, Any] | Iterable[str] | None = None,
        cov_type: str = "HC0",
        use_t: bool | None = None,
        cov_options: Mapping[str, Any] | None = None,
        solver: Any = "newton",
        tol: float = 1e-8,
        max_iter: int | None = None,
        learning_rate: float | None = None,
        dtype: str = "float64",
        missing: str = "raise",
    ):
        self._set_settings(locals())

    def _what(self) -> str:
        return "loss"

    def _check_settings(self) -> None:
        super()._check_settings()
        if self.loss is None:
            raise SettingsError("MEstimator needs loss=, a function loss(params, x)")
        _check_function(self.loss, "loss", "loss(params, x)")

    def _spec(self) -> _Spec:
        return self._user_spec(self.loss)
