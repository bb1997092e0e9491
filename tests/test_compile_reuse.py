"""Compile reuse: size buckets (no recompile for a new n) and the persistent compilation cache.

Compilations are counted with ``estimators.compile_cache.count_compilations``
(a ``jax.monitoring`` listener on JAX's lowering event), never timed. The
reference for "padding changes nothing" is the same estimator fitted without
padding (the padding helpers replaced by the identity in the estimator's
module): every learned attribute agrees to 1e-14 relative. The persistent cache
is checked in fresh subprocesses, so this process's JAX configuration is never
touched.
"""

from __future__ import annotations

import dataclasses
import textwrap
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from fresh_process import run_script

import estimators.glm_design
import estimators.lstsq
import estimators.numerics
import estimators.regression
import estimators.robust
from estimators.compile_cache import (
    MIN_COMPILE_TIME_SECS,
    count_compilations,
    default_cache_directory,
)
from estimators.glm import GLM, LogisticRegression, PoissonRegression
from estimators.inference import invert_hessian, m_estimation_sandwich
from estimators.losses import huber, tukey_biweight
from estimators.numerics import bucket_size, pad_rows, padded_length
from estimators.regression import LinearRegression, Ridge
from estimators.robust import HuberRegression, TukeyRegression
from estimators.solve import x64_context

SAME_BUCKET = (600, 900)  # one bucket of bucket_size (1024) and of lstsq's QR padding
RTOL = 1e-14
# The negative binomial with estimated alpha is flat in alpha (its standard error
# is 35% of it on these data), so its float64 floor is coarser: the unpadded fit
# with the rows in reverse order moves alpha by 2.9e-13 relative, padding by
# 2.3e-13 (a 1024-row instead of a 700-row summation; measured once, 700 rows).
RTOL_FLAT = 1e-12
# Quantities whose true value is 0 at the optimum: their computed values are
# rounding noise (|g| about 1e-17, decrement about 1e-24 to 1e-34), compared in
# absolute terms, on the scale of eps times the loss (of order 1).
ROUNDING_NOISE = {"solution_.grad_norm": 1e-14, "solution_.decrement": 1e-20}


def _data(n: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    eta = 0.3 + X.to_numpy() @ np.array([0.5, -0.4, 0.2])
    exposure = rng.uniform(0.5, 2.0, size=n)
    y = {
        "binomial": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
        "poisson": rng.poisson(exposure * np.exp(eta)).astype(float),
        "gamma": rng.gamma(2.0, np.exp(eta) / 2.0),
        "linear": eta + rng.standard_t(3, size=n),
        "exposure": exposure,
    }
    return X, y


# Each case: (id, estimator factory, response key, extra fit arguments).
CASES = [
    ("logistic", LogisticRegression, "binomial", {}),
    ("poisson_exposure", PoissonRegression, "poisson", {"exposure": "exposure"}),
    ("gamma_log", lambda: GLM("gamma", "log"), "gamma", {}),
    ("negbin_alpha", lambda: GLM("negative_binomial"), "poisson", {}),
    ("ols_newton", lambda: LinearRegression(solver="newton"), "linear", {}),
    ("ols_lbfgs", lambda: LinearRegression(solver="lbfgs"), "linear", {}),
    ("huber", HuberRegression, "linear", {}),
    ("tukey", TukeyRegression, "linear", {}),
]


def _fit(factory, key, extra, n, seed=0):
    X, y = _data(n, seed)
    if "exposure" in extra:
        X = X.assign(exposure=y["exposure"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a padded fit must not warn where the plain one does not
        return factory().fit(X, y[key], **extra), X


# --------------------------------------------------------------------------- helpers


def test_pad_rows_first_copies_row_zero_and_length():
    X = np.arange(6.0).reshape(3, 2)
    (padded,) = pad_rows(X, fill="first", length=5)
    assert padded.shape == (5, 2)
    np.testing.assert_array_equal(padded[3:], [[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(padded[:3], X)
    assert pad_rows(X, length=2)[0] is X  # never shortened
    with pytest.raises(ValueError, match="fill"):
        pad_rows(X, fill="last")


def test_padded_length_buckets_small_designs_only():
    assert padded_length(600, 4) == padded_length(900, 4) == bucket_size(900) == 1024
    assert padded_length(3_000_000, 21) == 3_000_000  # too large to copy for padding


# --------------------------------------------------------------------------- no recompile


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_new_n_inside_a_bucket_compiles_nothing(case):
    _, factory, key, extra = case
    first, _ = _fit(factory, key, extra, SAME_BUCKET[0])
    first.summary()
    with count_compilations() as counter:
        second, X = _fit(factory, key, extra, SAME_BUCKET[1], seed=1)
        second.summary()
        second.predict(X)
    assert counter.count == 0
    assert second.nobs_ == SAME_BUCKET[1]
    assert not np.allclose(first.params_, second.params_)  # a genuinely new fit


def test_new_bucket_does_compile():
    """The counter is not blind: a sample size in a new bucket compiles the loop."""
    _fit(LogisticRegression, "binomial", {}, 600)
    with count_compilations() as counter:
        _fit(LogisticRegression, "binomial", {}, 1500)  # bucket 2048
    assert counter.count > 0


# --------------------------------------------------------------------------- identical results


def _unpadded(monkeypatch):
    """Switch the padding off in the estimators' modules: the reference fits."""
    monkeypatch.setattr(estimators.glm_design, "padded_length", lambda n, width=1: n)
    monkeypatch.setattr(estimators.regression, "padded_length", lambda n, width=1: n)
    monkeypatch.setattr(estimators.robust, "pad_rows", lambda *arrays, **kwargs: arrays)


def _learned(estimator) -> dict:
    return {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}


def _assert_same(name, a, b, rtol=RTOL):
    close = {"check_exact": False, "rtol": rtol, "atol": 0.0, "obj": name}
    if name in ROUNDING_NOISE:
        assert abs(a - b) <= ROUNDING_NOISE[name], name
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            sub = f"{name}.{field.name}"
            _assert_same(sub, getattr(a, field.name), getattr(b, field.name), rtol)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), name
        for key in a:
            _assert_same(f"{name}[{key!r}]", a[key], b[key], rtol)
    elif isinstance(a, pd.DataFrame) and "grad_norm" in a.columns:
        # A trace: gradient norms are cancellations of order-one terms, equal to
        # about eps in absolute terms (loss units); everything else relatively.
        pd.testing.assert_index_equal(a.columns, b.columns)
        np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=0, atol=1e-14)
        rest = [c for c in a.columns if c != "grad_norm"]
        pd.testing.assert_frame_equal(a[rest], b[rest], **close)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_index_equal(a.columns, b.columns)
        for column in a.columns:
            _assert_same(f"{name}[{column!r}]", a[column], b[column], rtol)
    elif isinstance(a, pd.Series) and pd.api.types.is_float_dtype(a):
        # Norm-wise per column: max |a - b| <= rtol max |b| (a value near 0, e.g. a
        # prediction or a DFBETA, is a cancellation with an absolute error only).
        pd.testing.assert_index_equal(a.index, b.index)
        assert a.name == b.name, name
        scale = np.nanmax(np.abs(b.to_numpy())) if b.notna().any() else 0.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=name)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, **close)
    elif isinstance(a, float | np.floating) or (
        isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.number)
    ):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=name)
    else:
        assert a == b, name


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_padded_fit_equals_unpadded_fit(case, monkeypatch):
    _, factory, key, extra = case
    padded, X = _fit(factory, key, extra, 700)
    with monkeypatch.context() as patch:
        _unpadded(patch)
        plain, _ = _fit(factory, key, extra, 700)
    learned, reference = _learned(padded), _learned(plain)
    assert learned.keys() == reference.keys()
    rtol = RTOL_FLAT if case[0] == "negbin_alpha" else RTOL
    for name in sorted(learned.keys() - {"history_"}):
        _assert_same(name, learned[name], reference[name], rtol)
    _assert_same("history_", padded.history_, plain.history_, rtol)
    assert padded.nobs_ == 700
    # Per-row outputs have the real rows only, in the data's order.
    for table in (padded.predict(X), padded.dfbeta()):
        assert len(table) == 700
        pd.testing.assert_index_equal(table.index, X.index)
    _assert_same("predict", padded.predict(X), plain.predict(X), rtol)
    _assert_same("dfbeta", padded.dfbeta(), plain.dfbeta(), rtol)
    # p_value is a function of the statistic, which is compared; in a tail it
    # amplifies relative differences by about statistic^2 (8 for NB's alpha).
    table, plain_table = padded.summary(), plain.summary()
    np.testing.assert_allclose(table["p_value"], plain_table["p_value"], rtol=10 * rtol)
    rest, plain_rest = table.drop(columns="p_value"), plain_table.drop(columns="p_value")
    _assert_same("summary", rest, plain_rest, rtol)


def test_glm_fitted_means_are_the_real_rows():
    fit, X = _fit(PoissonRegression, "poisson", {"exposure": "exposure"}, 700)
    assert len(fit.mu_) == 700 and np.all(np.isfinite(fit.mu_))
    np.testing.assert_allclose(fit.mu_, fit.predict(X), rtol=1e-13)


# --------------------------------------------------------------------------- persistent cache

_CHILD = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import jax
    if len(sys.argv) > 1:
        jax.config.update("jax_compilation_cache_dir", sys.argv[1])  # the user's own setting
    import estimators
    from estimators import compile_cache
    from estimators.glm import LogisticRegression
    rng = np.random.default_rng(0)
    for n in (200, 300):
        X = rng.normal(size=(n, 2))
        y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
        LogisticRegression().fit(X, y)
    report = {
        "dir": jax.config.jax_compilation_cache_dir,
        "ours": compile_cache.compilation_cache_enabled(),
        "min_time": jax.config.jax_persistent_cache_min_compile_time_secs,
    }
    report["disabled"] = compile_cache.disable_compilation_cache()
    report["dir_after"] = jax.config.jax_compilation_cache_dir
    report["min_time_after"] = jax.config.jax_persistent_cache_min_compile_time_secs
    print(json.dumps(report))
    """
)


def _child(tmp_path, *args, **env_overrides) -> dict:
    return run_script(_CHILD, tmp_path / "xdg", *args, **env_overrides)


def _entries(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_fresh_process_writes_cache_entries(tmp_path):
    report = _child(tmp_path)
    cache = tmp_path / "xdg" / "estimators" / "jax"
    assert report["dir"] == str(cache) and report["ours"]
    assert report["min_time"] == MIN_COMPILE_TIME_SECS
    assert len(_entries(cache)) > 0
    # disable_compilation_cache undoes exactly what import estimators did
    assert report["disabled"] and report["dir_after"] is None
    assert report["min_time_after"] == 1.0


def test_opt_out_writes_nothing(tmp_path):
    report = _child(tmp_path, ESTIMATORS_COMPILATION_CACHE="0")
    assert report["dir"] is None and not report["ours"] and not report["disabled"]
    assert report["min_time"] == 1.0  # JAX's default, untouched
    assert _entries(tmp_path / "xdg") == []


def test_users_cache_directory_is_never_overridden(tmp_path):
    users = tmp_path / "users_cache"
    report = _child(tmp_path, str(users))
    assert report["dir"] == str(users) and not report["ours"]
    assert report["min_time"] == 1.0  # the user's thresholds are theirs too
    assert not report["disabled"] and report["dir_after"] == str(users)
    assert _entries(tmp_path / "xdg") == []


def test_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_directory() == tmp_path / "estimators" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_directory() == tmp_path / ".cache" / "estimators" / "jax"


# --------------------------------------------------------------------------- direct least squares

# n = 5000 and 5100 share the bucket 5120 (numerics.bucket_size); p = 3 + intercept,
# so n p <= lstsq.SMALL_DESIGN: the accurate (QR) path. 20000 and 20400 share 20480,
# n p > SMALL_DESIGN: the fast path (normal equations).
LSTSQ_BUCKETS = {"qr_path": (5000, 5100), "normal_equations": (20_000, 20_400)}
LSTSQ_CASES = [
    ("ols", LinearRegression, {}),
    ("ridge", lambda: Ridge(alpha=2.0), {}),
    ("wls", LinearRegression, {"sample_weight": "weights"}),
]


def _lstsq_fit(factory, extra, n, seed=0):
    X, y = _data(n, seed)
    if extra:
        X = X.assign(weights=np.random.default_rng(seed + 7).uniform(0.5, 2.0, size=n))
        extra = {"sample_weight": X.pop("weights").to_numpy()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return factory().fit(X, y["linear"], **extra), X


@pytest.mark.parametrize("path", sorted(LSTSQ_BUCKETS))
@pytest.mark.parametrize("case", LSTSQ_CASES, ids=[c[0] for c in LSTSQ_CASES])
def test_direct_least_squares_new_n_inside_a_bucket_compiles_nothing(case, path):
    _, factory, extra = case
    small, large = LSTSQ_BUCKETS[path]
    assert bucket_size(small) == bucket_size(large)
    first, _ = _lstsq_fit(factory, extra, small)
    first.summary()
    with count_compilations() as counter:
        second, X = _lstsq_fit(factory, extra, large, seed=1)
        second.summary()
        second.predict(X)
    assert counter.count == 0
    assert second.solution_.detail.startswith("converged")
    expected = "Householder QR" if path == "qr_path" else "normal equations"
    assert expected in second.solution_.detail  # the path this case means to test
    assert second.nobs_ == large and not np.allclose(first.params_, second.params_)


def _unpadded_lstsq(patch):
    """lstsq without its padding: no zero rows, no padding columns (the reference)."""
    patch.setattr(estimators.lstsq, "padded_length", lambda n, width=1: n)
    patch.setattr(estimators.lstsq, "PADDED_COLUMNS_ROWS", 0)


@pytest.mark.parametrize("n", [700, 5000, 20_000])
@pytest.mark.parametrize("case", LSTSQ_CASES, ids=[c[0] for c in LSTSQ_CASES])
def test_direct_least_squares_padding_changes_nothing(case, n, monkeypatch):
    _, factory, extra = case
    padded, X = _lstsq_fit(factory, extra, n)
    with monkeypatch.context() as patch:
        _unpadded_lstsq(patch)
        plain, _ = _lstsq_fit(factory, extra, n)
    assert padded.solution_.detail.split(";")[0] == plain.solution_.detail.split(";")[0]
    learned, reference = _learned(padded), _learned(plain)
    assert learned.keys() == reference.keys()
    for name in sorted(learned):
        _assert_same(name, learned[name], reference[name])
    _assert_same("summary", padded.summary(), plain.summary())
    _assert_same("predict", padded.predict(X), plain.predict(X))


def test_direct_least_squares_large_design_keeps_its_shape(monkeypatch):
    """Above numerics.PAD_MAX_VALUES the design is solved as it is (no copy)."""
    seen = []
    original = estimators.lstsq.normal_equations

    def spy(X, *args, **kwargs):
        seen.append(X.shape)
        return original(X, *args, **kwargs)

    monkeypatch.setattr(estimators.lstsq, "normal_equations", spy)
    monkeypatch.setattr(estimators.numerics, "PAD_MAX_VALUES", 80_000)  # read at each call
    _lstsq_fit(LinearRegression, {}, 20_400)  # bucket 20480 x 4 columns > 80000 values
    _lstsq_fit(LinearRegression, {}, 18_000)  # bucket 18432 x 4 columns <= 80000 values
    assert seen == [(20_400, 4), (18_432, 4)]


# --------------------------------------------------------------------------- m-estimation sandwich


def _huber_rows(theta, X, y, w, scale, c):
    """Per-fit numbers (scale, c) passed as data, as robust.m_sandwich does."""
    return w * huber((y - X @ theta) / scale, c=c)


def _eager_sandwich(row_losses, theta, *data):
    """The previous implementation: jax.jacfwd and jax.hessian run eagerly."""
    with x64_context("float64"):
        arrays = [jax.numpy.asarray(a) for a in data]
        theta = jax.numpy.asarray(theta)
        scores = jax.jacfwd(row_losses)(theta, *arrays)
        hessian = jax.hessian(lambda t: jax.numpy.sum(row_losses(t, *arrays)))(theta)
    return np.asarray(scores), invert_hessian(np.asarray(hessian))[0]


def _sandwich_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X @ np.array([1.0, 2.0, 3.0, 4.0]) + rng.standard_t(3, size=n)
    return X, y, rng.uniform(0.5, 2.0, size=n)


def test_m_estimation_sandwich_compiles_once_per_shape():
    beta = np.array([1.1, 1.9, 3.05, 4.0])
    X, y, w = _sandwich_data(1024, 0)
    m_estimation_sandwich(_huber_rows, beta, X, y, w, 0.9, 1.345, nobs=w.sum())
    X, y, w = _sandwich_data(1024, 1)  # new data, same shape; new scale and c
    with count_compilations() as counter:
        sandwich, reason = m_estimation_sandwich(
            _huber_rows, beta, X, y, w, 1.7, 1.5, nobs=w.sum()
        )
    assert counter.count == 0 and reason is None
    # and the kernel used the new scale and c, not the first call's
    scores, bread = _eager_sandwich(_huber_rows, beta, X, y, w, 1.7, 1.5)
    _assert_close_normwise(sandwich.scores, scores)
    _assert_close_normwise(sandwich.bread, bread)


def _assert_close_normwise(a, b, rtol=1e-14):
    """max |a - b| <= rtol max |b|: a jitted sum may associate differently than eager
    ops (measured: scores 4e-16, bread 3e-15 of their largest entries)."""
    assert np.max(np.abs(a - b)) <= rtol * np.max(np.abs(b))


@pytest.mark.parametrize("rho", [huber, tukey_biweight], ids=["huber", "tukey"])
def test_m_estimation_sandwich_equals_eager_autodiff(rho):
    beta = np.array([1.1, 1.9, 3.05, 4.0])
    X, y, w = _sandwich_data(300, 2)
    c = 1.345 if rho is huber else 4.685
    sandwich, reason = m_estimation_sandwich(_huber_rows_of(rho, 1.3, c), beta, X, y, w, nobs=1.0)
    scores, bread = _eager_sandwich(_huber_rows_of(rho, 1.3, c), beta, X, y, w)
    assert reason is None
    _assert_close_normwise(sandwich.scores, scores)
    _assert_close_normwise(sandwich.bread, bread)


def _huber_rows_of(rho, scale, c):
    def row_losses(theta, X, y, w):
        return w * rho((y - X @ theta) / scale, c=c)

    return row_losses


def test_m_estimation_sandwich_untraceable_losses_run_eagerly():
    """Python control flow on the data cannot be traced: the eager fallback."""
    X, y, w = _sandwich_data(50, 3)

    def make(power):
        def row_losses(theta, X, y, w):
            r = y - X @ theta
            squared = float(power * w[0] / w[0]) == 2.0  # Python branch on a traced value
            return w * (r**2 if squared else jax.numpy.abs(r) ** power)

        return row_losses

    beta = np.array([1.0, 2.0, 3.0, 4.0])
    for power in (2.0, 3.0):
        sandwich, _ = m_estimation_sandwich(make(power), beta, X, y, w, nobs=w.sum())
        scores, bread = _eager_sandwich(make(power), beta, X, y, w)
        _assert_close_normwise(sandwich.scores, scores)
        _assert_close_normwise(sandwich.bread, bread)
