"""The library versions every reference file records (shared by the make_*.py scripts)."""

import platform

import numpy as np
import pandas as pd
import scipy
import statsmodels


def versions() -> dict[str, str]:
    """Versions of the libraries that computed a reference file's numbers."""
    return {
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }
