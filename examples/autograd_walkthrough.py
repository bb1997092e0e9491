"""The autodiff walkthrough: the tutorial this project grew from, redone in JAX.

Prints the tutorial's numbers (y = 11.8199, the gradient -5.1156 by hand and by
``jax.grad``, z = 139.71 detached, y*y*3 = 419.13), PyTorch's gradient-tracking
vocabulary in JAX terms, and an optax L-BFGS fit of beta to the sample mean
3.34151 with its convergence trace. The code is in
``estimators/walkthrough.py``; this script and ``estimators demo`` run it.
"""

from estimators.walkthrough import walkthrough

if __name__ == "__main__":
    walkthrough()
