"""01. The autodiff walkthrough: the tutorial this project grew from, redone in JAX.

Data: the tutorial's ten numbers (``estimators.datasets.seed_sample``).

Prints the tutorial's numbers (y = 11.8199, the gradient -5.1156 by hand and by
``jax.grad``, z = 139.71 detached, y*y*3 = 419.13), PyTorch's gradient-tracking
vocabulary in JAX terms (``detach``, ``no_grad``, ``show_graph``), and an optax
L-BFGS fit of beta to the sample mean 3.34151 with its convergence trace. The
code is in ``estimators/walkthrough.py``; ``estimators demo`` runs the same.
"""

from estimators.walkthrough import walkthrough


def main() -> dict:
    """Run the walkthrough; return its numbers (y, the gradients, z, beta_hat, ...)."""
    return walkthrough()


if __name__ == "__main__":
    main()
