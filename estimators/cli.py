"""The ``estimators`` command (also ``python -m estimators``).

Built on argparse from the standard library: the command set is small, and
argparse adds no dependency. Errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from .errors import EstimationError


def _demo(args: argparse.Namespace) -> int:
    from .walkthrough import walkthrough

    walkthrough(verbose=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="estimators",
        description="Statistical estimators as minimisers of a loss, fitted with JAX and optax.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the autodiff walkthrough (the tutorial, in JAX)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except EstimationError as err:
        print(f"estimators: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
