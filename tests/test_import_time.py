"""Cold start: ``import estimators`` stays light, and the light replacements change no number.

``import scipy.stats`` costs about a second of CPU on a 2-core machine (more than
everything ``import estimators`` needs but JAX and pandas), scipy.optimize,
formulaic and matplotlib a few tenths each. The library loads them only inside
the functions that use them, and computes its p-values and quantiles with the
``scipy.special`` kernels that ``scipy.stats`` itself calls
(``estimators.inference.t_or_normal_sf`` and friends). Checked here:

- in fresh interpreters, that ``import estimators`` and a default
  ``LogisticRegression`` / ``LinearRegression`` fit with ``summary()`` leave
  those modules out of ``sys.modules`` (a failure names the estimators module
  whose import pulled one in);
- that the replacements equal ``scipy.stats`` bit for bit (reference: scipy
  1.17's ``scipy.stats.norm``, ``t``, ``chi2``, ``f``, computed live) on a grid
  with extreme tails, ``df = inf``, huge ``df`` and invalid arguments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats

from estimators.inference import chi2_sf, f_sf, t_or_normal_ppf, t_or_normal_sf

HEAVY = ("scipy.stats", "scipy.optimize", "formulaic", "matplotlib")

# In the child: record, for the first import of each heavy module, the chain of
# estimators modules being imported at that moment (innermost last), so that a
# failure says which module to make lazy.
_PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys, traceback

    HEAVY = {heavy!r}
    culprits = {{}}

    class Probe(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in HEAVY and name not in culprits:
                culprits[name] = [
                    f"{{frame.filename.split('/estimators/')[-1]}}:{{frame.lineno}}"
                    for frame in traceback.extract_stack()
                    if "/estimators/" in frame.filename
                ]
            return None

    sys.meta_path.insert(0, Probe())
    {body}
    print(json.dumps({{name: culprits.get(name) for name in HEAVY if name in sys.modules}}))
    """
)


def _heavy_modules_loaded(body: str) -> dict:
    """Run ``body`` in a fresh interpreter; the heavy modules it loaded, each with its culprit."""
    code = _PROBE.format(heavy=HEAVY, body=textwrap.dedent(body).strip())
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, ESTIMATORS_COMPILATION_CACHE="0"),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_estimators_loads_no_heavy_module():
    loaded = _heavy_modules_loaded("import estimators")
    assert loaded == {}, f"imported at `import estimators` (module: import chain): {loaded}"


FIT = """
import warnings
import numpy as np
import estimators as est

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 3))
y = (rng.random(200) < 1 / (1 + np.exp(-X @ np.array([0.5, -0.5, 0.2])))).astype(float)
with warnings.catch_warnings():
    warnings.simplefilter("error")
    y_linear = X @ [1.0, 2.0, 3.0] + rng.standard_normal(200)
    for model, response in ((est.LogisticRegression(), y), (est.LinearRegression(), y_linear)):
        fitted = model.fit(X, response)
        fitted.summary(), fitted.conf_int(), fitted.summary_text()
"""


def test_default_fits_and_summaries_load_no_heavy_module():
    loaded = _heavy_modules_loaded(FIT)
    assert loaded == {}, f"imported by a default fit + summary (module: import chain): {loaded}"


def test_probe_detects_a_heavy_import():
    # The check above can fail: the same probe sees an explicit import and names its origin.
    loaded = _heavy_modules_loaded(
        "import estimators.quantile as q\nq.optimize = __import__('scipy.optimize')"
    )
    assert "scipy.optimize" in loaded


# --------------------------------------------------------------------------- equal to scipy.stats

X_GRID = np.array(
    [
        -np.inf,
        -1e300,
        -40.0,
        -38.5,
        -10.0,
        -1.0,
        -1e-300,
        -0.0,
        0.0,
        1e-300,
        0.5,
        1.959963984540054,
    ]
    + [10.0, 38.5, 40.0, 1e10, 1e300, np.inf, np.nan]
)
DF_GRID = [0.5, 1.0, 2.5, 10.0, 1e3, 1e6, 1e10, 1e20, np.inf, 0.0, -1.0, np.nan]
Q_GRID = np.array(
    [
        -0.1,
        0.0,
        1e-300,
        1e-20,
        1e-5,
        0.025,
        0.3,
        0.5,
        0.975,
        1 - 1e-12,
        1 - 2**-53,
        1.0,
        1.5,
        np.nan,
    ]
)


def _assert_same(ours, reference):
    """Bit-identical: same type, dtype, shape, NaN positions, sign of zero; then 1e-15 relative."""
    assert type(ours) is type(reference)
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert ours.dtype == reference.dtype and ours.shape == reference.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(reference))
    np.testing.assert_allclose(ours, reference, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(ours, reference)


def test_normal_tail_and_quantile_equal_scipy_stats():
    _assert_same(t_or_normal_sf(X_GRID), stats.norm.sf(X_GRID))
    _assert_same(t_or_normal_ppf(Q_GRID), stats.norm.ppf(Q_GRID))
    for x in X_GRID:  # scalars come back as numpy scalars, as from scipy.stats
        _assert_same(t_or_normal_sf(x), stats.norm.sf(x))
    _assert_same(t_or_normal_ppf(0.975), stats.norm.ppf(0.975))


@pytest.mark.parametrize("df", DF_GRID)
def test_t_tail_and_quantile_equal_scipy_stats(df):
    _assert_same(t_or_normal_sf(X_GRID, df), stats.t.sf(X_GRID, df))
    _assert_same(t_or_normal_sf(X_GRID, df), stats.t(df).sf(X_GRID))
    _assert_same(t_or_normal_ppf(Q_GRID, df), stats.t.ppf(Q_GRID, df))
    _assert_same(t_or_normal_sf(3.0, df), stats.t.sf(3.0, df))
    _assert_same(t_or_normal_ppf(0.975, df), stats.t(df).ppf(0.975))


@pytest.mark.parametrize("df", DF_GRID)
def test_chi2_and_f_tails_equal_scipy_stats(df):
    _assert_same(chi2_sf(X_GRID, df), stats.chi2.sf(X_GRID, df))
    _assert_same(chi2_sf(7.0, df), stats.chi2.sf(7.0, df))
    for dfd in DF_GRID:
        _assert_same(f_sf(X_GRID, df, dfd), stats.f.sf(X_GRID, df, dfd))
    _assert_same(f_sf(2.0, df, 30), stats.f.sf(2.0, df, 30))


def test_integer_and_float32_arguments_equal_scipy_stats():
    x32 = np.array([-3.0, 0.0, 2.5], dtype=np.float32)
    _assert_same(t_or_normal_sf(x32, 7), stats.t.sf(x32, 7))
    _assert_same(chi2_sf(np.array([0, 3, 9]), 4), stats.chi2.sf(np.array([0, 3, 9]), 4))
    _assert_same(f_sf(3, 2, 5), stats.f.sf(3, 2, 5))


def test_module_constants_equal_their_scipy_stats_definitions():
    from estimators import functional_location, scale
    from estimators.numerics import NORMAL_MAD

    # se(MAD) factor 1 / (4 phi(m) m), m = Phi^{-1}(3/4); Hall-Sheather's z_0.975
    assert scale.MAD_SE_FACTOR == float(1 / (4 * stats.norm.pdf(NORMAL_MAD) * NORMAL_MAD))
    assert functional_location._Z_975 == float(stats.norm.ppf(0.975))


# --------------------------------------------------------------------------- lazy public names


def test_import_estimators_imports_no_estimator_module():
    # the public names are imported on first use (estimators/__init__.py, PEP 562)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, estimators; print(json.dumps(list(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, ESTIMATORS_COMPILATION_CACHE="0"),
    )
    modules = {m for m in json.loads(out.stdout) if m.startswith("estimators.")}
    assert modules == {"estimators.compile_cache", "estimators.errors"}


def test_every_public_name_is_the_object_its_module_defines():
    import importlib

    import estimators

    for name, module in estimators._LAZY_NAMES.items():
        defined = getattr(importlib.import_module(f"estimators.{module}"), name)
        assert getattr(estimators, name) is defined, name
    for name in estimators.__all__:
        assert getattr(estimators, name) is not None
    assert set(estimators.__all__) <= set(dir(estimators))


def test_functions_named_like_their_module_keep_the_name():
    # Importing the module estimators.bootstrap binds it on the package; the function
    # bootstrap keeps the name, as when the package imported everything eagerly.
    import estimators
    import estimators.bootstrap
    import estimators.simulate
    from estimators.bootstrap import bootstrap
    from estimators.simulate import simulate

    assert estimators.bootstrap is bootstrap and estimators.simulate is simulate


def test_star_import_and_any_submodule_resolve():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import estimators\n"
            "import estimators.simulate\n"  # the module first: the function still wins
            "from estimators import *\n"
            "print(callable(simulate), callable(bootstrap), Mean.__module__,\n"
            "      estimators.lstsq.__name__, hasattr(estimators, 'no_such_name'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, ESTIMATORS_COMPILATION_CACHE="0"),
    )
    assert out.stdout.split() == [
        "True",
        "True",
        "estimators.location",
        "estimators.lstsq",
        "False",
    ]
