"""``python -m estimators``: the same command line as the ``estimators`` script."""

import sys

from .cli import main

sys.exit(main())
