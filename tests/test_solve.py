"""The engine: a problem zoo crossed with the solvers, stopping rules, status and trace."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import estimators as est
from estimators.solve import Status, _run_jit


def quadratic(p, a, b):
    return 0.5 * jnp.sum(a * (p["v"] - b) ** 2) + 1.0


def ill_quadratic(p, a):
    return 0.5 * p["v"] @ (a * p["v"]) - jnp.sum(p["v"])


def rosenbrock(p):
    return (1 - p["a"]) ** 2 + 100 * (p["b"] - p["a"] ** 2) ** 2


def logistic_loss(p, x, y):
    eta = x @ p["beta"]
    return jnp.mean(jnp.logaddexp(0.0, eta) - y * eta)


def mean_loss(p, x):
    return jnp.mean((x - p["beta"]) ** 2)


@dataclasses.dataclass
class Problem:
    name: str
    fun: Callable
    params0: dict
    args: tuple
    solution: dict
    # solver -> extra keyword arguments; solvers absent here are not expected to work
    settings: dict


def _logistic_problem():
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(300), rng.normal(size=(300, 2))])
    y = (rng.random(300) < 1 / (1 + np.exp(-(x @ np.array([0.3, 1.0, -0.7]))))).astype(float)
    import statsmodels.api as sm  # reference: statsmodels Logit (Newton, tight tolerance)

    ref = sm.Logit(y, x).fit(method="newton", tol=1e-14, disp=0, maxiter=100).params
    return Problem(
        "logistic",
        logistic_loss,
        {"beta": np.zeros(3)},
        (x, y),
        {"beta": ref},
        {
            "lbfgs": {},
            "newton": {},
            "adam": {"learning_rate": 0.05},
            "sgd": {"learning_rate": 2.0},
        },
    )


A_ILL = np.logspace(0, 6, 8)

ZOO = [
    Problem(
        "quadratic",
        quadratic,
        {"v": np.zeros(3)},
        (np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])),
        {"v": np.array([-1.0, 0.5, 2.0])},
        {
            "lbfgs": {},
            "newton": {},
            "adam": {"learning_rate": 0.05},
            "sgd": {"learning_rate": 0.3},
        },
    ),
    Problem(
        "ill_conditioned_quadratic",
        ill_quadratic,
        {"v": np.zeros(8)},
        (A_ILL,),
        {"v": 1 / A_ILL},
        {"lbfgs": {}, "newton": {}},
    ),
    Problem(
        "rosenbrock",
        rosenbrock,
        {"a": -1.2, "b": 1.0},
        (),
        {"a": 1.0, "b": 1.0},
        {"lbfgs": {}, "newton": {}, "adam": {"learning_rate": 0.002, "max_iter": 50_000}},
    ),
    Problem(
        "mean",
        mean_loss,
        {"beta": 0.0},
        (
            np.array(
                [0.2898, 4.0190, 2.5984, 3.6664, 0.5830, 7.0064, 0.5180, 4.6814, 6.7381, 3.3146]
            ),
        ),
        {"beta": 3.34151},
        {
            "lbfgs": {},
            "newton": {},
            "adam": {"learning_rate": 0.05},
            "sgd": {"learning_rate": 0.1},
        },
    ),
]

CASES = [(p, s) for p in ZOO for s in p.settings] + [
    pytest.param(None, s, id=f"logistic-{s}") for s in ("lbfgs", "newton", "adam", "sgd")
]


def _id(case):
    return case.name if isinstance(case, Problem) else str(case)


@pytest.mark.parametrize("problem, solver", CASES, ids=_id)
def test_zoo_reaches_the_minimiser_within_the_promised_loss_gap(problem, solver):
    """The decrement test promises f - f* <= about tol * |f|; check exactly that."""
    problem = problem or _logistic_problem()
    tol = 1e-14
    sol = est.minimize(
        problem.fun,
        problem.params0,
        *problem.args,
        solver=solver,
        tol=tol,
        **problem.settings[solver],
    )
    assert sol.converged, sol
    with jax.enable_x64(True):
        f_star = float(problem.fun(jax.tree.map(jnp.asarray, problem.solution), *problem.args))
        f_0 = float(problem.fun(jax.tree.map(jnp.asarray, problem.params0), *problem.args))
    eps = np.finfo(float).eps
    scale = max(abs(f_star), eps * abs(f_0))  # S of the module docstring
    gap = sol.value - f_star
    # 0.5 * decrement bounds the gap for a quadratic; allow a factor 4 for curvature
    # changes, plus the rounding of f itself (a few eps * |f|). adam and sgd only
    # estimate the decrement from the secant curvature of their last step, which
    # the module docstring documents as an estimate: give them a factor 100.
    factor = 4 if solver in ("newton", "lbfgs") else 100
    assert gap <= factor * tol * scale + 8 * eps * abs(f_star)
    if solver == "newton":  # Newton's test uses gradients: parameters to near machine precision
        for key, value in problem.solution.items():
            np.testing.assert_allclose(sol.params[key], value, rtol=1e-9, atol=1e-12)


def test_newton_solves_a_quadratic_in_one_step():
    sol = est.minimize(quadratic, {"v": np.zeros(3)}, *ZOO[0].args, solver="newton")
    # step 1 lands on the minimum; step 2 is the final full step after the test passed
    assert sol.n_iter == 2 and sol.status == Status.CONVERGED
    assert sol.trace["loss"].iloc[1] == sol.trace["loss"].iloc[2] == 1.0
    np.testing.assert_allclose(sol.params["v"], [-1.0, 0.5, 2.0], rtol=1e-15)


def test_lbfgs_mean_to_machine_precision_from_many_starts():
    x = ZOO[3].args[0]
    for start in [-1e3, -5.0, 0.0, 3.0, 7.5, 1e4]:
        sol = est.minimize(mean_loss, {"beta": start}, x)
        assert sol.converged
        assert abs(sol.params["beta"] - np.mean(x)) <= 1e-15 * np.mean(x) * 2


def test_trace_records_every_iteration_and_decreases_for_line_search_solvers():
    sol = est.minimize(rosenbrock, {"a": -1.2, "b": 1.0}, solver="lbfgs")
    assert list(sol.trace.columns) == ["loss", "grad_norm"]
    assert len(sol.trace) == sol.n_iter + 1
    assert sol.trace.index[0] == 0 and sol.trace.index[-1] == sol.n_iter
    assert sol.trace["loss"].iloc[0] == pytest.approx(24.2)
    assert np.all(np.diff(sol.trace["loss"].to_numpy()) <= 1e-12)
    assert sol.trace["loss"].iloc[-1] == sol.value
    assert np.isfinite(sol.trace.to_numpy()).all()


def test_max_iter_is_visible_in_status_and_converged():
    sol = est.minimize(rosenbrock, {"a": -1.2, "b": 1.0}, solver="lbfgs", max_iter=3)
    assert sol.n_iter == 3
    assert not sol.converged
    assert sol.status == Status.MAX_ITER
    assert "max_iter" in sol.message


def test_nan_in_the_loss_stops_the_loop_with_a_failed_status():
    sol = est.minimize(mean_loss, {"beta": 0.0}, np.array([1.0, np.nan, 3.0]))
    assert sol.status == Status.NONFINITE and not sol.converged
    assert sol.n_iter == 0
    assert "NaN" in sol.message


def test_divergence_to_inf_is_caught_mid_loop():
    # sgd with a learning rate far too large on Rosenbrock blows up after a few steps
    sol = est.minimize(rosenbrock, {"a": -1.2, "b": 1.0}, solver="sgd", learning_rate=0.1)
    assert sol.status == Status.NONFINITE
    assert 0 < sol.n_iter < 50


def test_start_at_the_minimum_converges_with_zero_iterations():
    sol = est.minimize(quadratic, {"v": np.array([-1.0, 0.5, 2.0])}, *ZOO[0].args)
    assert sol.converged and sol.n_iter == 0


def test_loss_change_rule_is_opt_in():
    x = ZOO[3].args[0]
    sol = est.minimize(mean_loss, {"beta": 0.0}, x, solver="sgd", rtol=1e-3)
    assert sol.status == Status.LOSS_CHANGE and sol.converged
    default = est.minimize(mean_loss, {"beta": 0.0}, x, solver="sgd")
    assert default.status == Status.CONVERGED and default.n_iter > sol.n_iter


def test_any_optax_transformation_is_accepted():
    x = ZOO[3].args[0]
    sol = est.minimize(mean_loss, {"beta": 0.0}, x, solver=optax.chain(optax.adam(0.1)))
    assert sol.converged
    assert sol.params["beta"] == pytest.approx(np.mean(x), rel=1e-6)


def test_fixed_parameters_do_not_move():
    def loss(p, x):
        return jnp.mean((x - p["mu"]) ** 2 / p["s"] ** 2) + 2 * jnp.log(p["s"])

    x = ZOO[3].args[0]
    sol = est.minimize(loss, {"mu": 0.0, "s": 3.0}, x, solver="newton", fixed={"s"})
    assert sol.params["s"] == 3.0
    assert list(sol.params) == ["mu", "s"]
    assert sol.params["mu"] == pytest.approx(np.mean(x), rel=1e-14)
    sol2 = est.minimize(loss, {"mu": 0.0, "s": 3.0}, x, solver="newton", fixed={"s": 2.0})
    assert sol2.params["s"] == 2.0
    # with s free, s^2 reaches the ddof=0 variance
    sol3 = est.minimize(loss, {"mu": 0.0, "s": 3.0}, x, solver="newton")
    assert sol3.params["s"] ** 2 == pytest.approx(np.var(x), rel=1e-10)


def test_fixed_errors_name_the_problem():
    with pytest.raises(est.SettingsError, match="not parameters"):
        est.minimize(mean_loss, {"beta": 0.0}, np.ones(3), fixed={"gamma"})
    with pytest.raises(est.SettingsError, match="nothing is left"):
        est.minimize(mean_loss, {"beta": 0.0}, np.ones(3), fixed={"beta"})


def test_unknown_solver_lists_the_valid_ones():
    with pytest.raises(est.SettingsError, match=r"lbfgs.*newton.*adam.*sgd"):
        est.minimize(mean_loss, {"beta": 0.0}, np.ones(3), solver="bfgs")
    with pytest.raises(est.SettingsError, match="unknown dtype"):
        est.minimize(mean_loss, {"beta": 0.0}, np.ones(3), dtype="float16")


def test_float64_by_default_and_float32_on_request():
    x = np.array([1.0, 2.0, 4.0])
    sol = est.minimize(mean_loss, {"beta": 0.0}, x)
    assert sol.params["beta"].dtype == np.float64
    sol32 = est.minimize(mean_loss, {"beta": 0.0}, x, dtype="float32")
    assert sol32.params["beta"].dtype == np.float32
    assert sol32.params["beta"] == pytest.approx(7 / 3, rel=1e-6)
    assert jax.config.jax_enable_x64 is False  # the user's global setting is untouched
    assert jnp.ones(1).dtype == jnp.float32


def test_compiled_loop_is_reused_for_new_data_of_the_same_shape():
    x = np.arange(5.0)
    est.minimize(mean_loss, {"beta": 0.0}, x)
    size = _run_jit._cache_size()
    for shift in (1.0, 2.0, 3.0):
        est.minimize(mean_loss, {"beta": 0.0}, x + shift, tol=1e-13)
    assert _run_jit._cache_size() == size
    est.minimize(mean_loss, {"beta": 0.0}, np.arange(6.0))  # a new shape compiles once
    assert _run_jit._cache_size() == size + 1


def test_solution_is_immutable_and_readable():
    sol = est.minimize(mean_loss, {"beta": 0.0}, np.array([1.0, 3.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.value = 0.0
    assert "converged" in repr(sol)


def _logistic_hessian(p, x, y):
    """Structured Hessian of the mean logistic loss: X^T diag(mu (1 - mu)) X / n."""
    mu = 1 / (1 + jnp.exp(-(x @ p["beta"])))
    return jnp.einsum("ni,n,nj->ij", x, mu * (1 - mu), x) / x.shape[0]


def test_newton_with_a_structured_hessian_matches_autodiff_hessian():
    problem = _logistic_problem()
    auto = est.minimize(problem.fun, problem.params0, *problem.args, solver="newton")
    structured = est.minimize(
        problem.fun, problem.params0, *problem.args, solver="newton", hessian=_logistic_hessian
    )
    assert structured.converged and structured.n_iter == auto.n_iter
    np.testing.assert_allclose(structured.params["beta"], auto.params["beta"], rtol=1e-12)
    with pytest.raises(est.SettingsError, match="newton"):
        est.minimize(problem.fun, problem.params0, *problem.args, hessian=_logistic_hessian)
