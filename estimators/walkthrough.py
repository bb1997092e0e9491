"""The autodiff walkthrough: the tutorial this project grew from, redone in JAX.

Ten numbers x_1..x_10, the mean squared deviation f(beta) = mean((x - beta)^2),
its derivative by hand against ``jax.grad``, PyTorch's gradient-tracking
vocabulary (detach, requires_grad, no_grad, grad_fn) in JAX terms, and finally
an optax optimizer driving beta to the minimiser, the sample mean.

It lives in the package so that ``estimators demo`` can run it after a plain
``pip install .``; ``examples/01_autodiff_walkthrough.py`` runs it too.
``walkthrough()`` returns the numbers it prints so the tests can check them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import datasets as _datasets
from .autodiff import detach, no_grad, show_graph
from .location import Mean
from .solve import minimize

seed_sample = _datasets.seed_sample

BETA = 0.7837080359458923  # the tutorial's starting value of beta


def mean_squared_deviation(beta, x):
    """f(beta) = (1/n) sum_i (x_i - beta)^2, the tutorial's loss."""
    return jnp.mean((x - beta) ** 2)


def _fit_loss(params, x):
    """The same loss over a dict of named parameters, the form ``minimize`` takes."""
    return mean_squared_deviation(params["beta"], x)


def walkthrough(verbose: bool = True) -> dict:
    say = print if verbose else (lambda *a, **k: None)
    results: dict = {}
    with jax.enable_x64(True):  # the library's precision, without touching the global config
        x = jnp.asarray(seed_sample()["x"].to_numpy())
        say("1. Ten numbers (the tutorial's, printed with four decimals):")
        say("   x =", np.array2string(np.asarray(x), precision=4))

        y = mean_squared_deviation(BETA, x)
        results["y"] = float(y)
        say(f"\n2. With beta = {BETA}: y = mean((x - beta)^2) = {float(y):.4f}")

        hand = -2.0 * jnp.mean(x - BETA)
        auto = jax.grad(mean_squared_deviation)(BETA, x)
        results["grad_by_hand"], results["grad_autodiff"] = float(hand), float(auto)
        say(f"\n3. dy/dbeta by hand, -(2/n) sum(x_i - beta) = {float(hand):.4f}")
        say(f"   jax.grad gives                            = {float(auto):.4f}")
        say(f"   difference: {abs(float(hand) - float(auto)):.1e}")

        def z_of(beta):
            return detach(mean_squared_deviation(beta, x)) ** 2

        z = z_of(BETA)
        results["z"], results["dz_dbeta"] = float(z), float(jax.grad(z_of)(BETA))
        say(f"\n4. z = detach(y)**2 = {float(z):.2f}  (torch: y.detach()**2)")
        say(f"   dz/dbeta = {results['dz_dbeta']}: the value flows, the gradient does not")

        y3 = y * y * 3
        results["y_y_3"], results["mean_y_y_3"] = float(y3), float(jnp.mean(y3))
        say(f"\n5. y*y*3 = {float(y3):.2f}; its mean = {float(jnp.mean(y3)):.2f}")

        a = jnp.array([[1.0, 2.0], [3.0, 4.0]])
        a = (a * 3) / (a - 1.5)
        grad_a = jax.grad(lambda a: jnp.sum(a * a))(a)
        results["grad_2x2"] = np.asarray(grad_a)
        say("\n6. Gradient tracking switched on for a 2x2 array (torch: a.requires_grad_(True)):")
        say("   in JAX you choose what to differentiate: jax.grad(lambda a: sum(a*a))(a) = 2a =")
        say("  ", np.array2string(np.asarray(grad_a), precision=4).replace("\n", "\n   "))
        say("   the traced graph (torch: b.grad_fn), as a jaxpr:")
        say("   " + show_graph(lambda a: jnp.sum(a * a), a).replace("\n", "\n   "))

        frozen = no_grad(lambda beta: (x - beta) ** 2)
        results["no_grad_derivative"] = float(jax.grad(lambda b: jnp.mean(frozen(b)))(BETA))
        say("\n7. Computing without tracking (torch: with torch.no_grad():)")
        say(
            "   d/dbeta of mean(no_grad(f)(beta)) = "
            f"{results['no_grad_derivative']}: nothing inside was tracked"
        )

    say("\n8. Fitting beta: L-BFGS (optax) drives beta to the minimiser, in one compiled loop")
    solution = minimize(
        _fit_loss,
        {"beta": BETA},
        np.asarray(seed_sample()["x"]),
        solver="lbfgs",
    )
    results["beta_hat"] = float(solution.params["beta"])
    results["solution"] = solution
    say(solution.trace.to_string(float_format=lambda v: f"{v:.6g}").replace("\n", "\n   "))
    say(f"   beta_hat = {results['beta_hat']:.5f} (sample mean {np.mean(seed_sample()['x']):.5f})")
    say(f"   {solution.message}")

    fitted = Mean().fit(seed_sample()["x"])
    results["mean_summary"] = fitted.summary()
    say("\n9. The same fit as an estimator, with inference from the Hessian of the loss:")
    say("   Mean().fit(seed_sample()['x']).summary()")
    say("   " + fitted.summary().to_string().replace("\n", "\n   "))
    return results


if __name__ == "__main__":
    walkthrough()
