"""The single command-line entry point: ``cocu <command> [options]``.

One module per pipeline stage (``cocu.cli.<stage>``) with a ``register(subparsers)``
function; every registered command sets ``func`` to a callable taking the parsed
``argparse.Namespace`` and returning an exit code. Flags several commands share live in
:mod:`cocu.cli.flags`. Only this package imports argparse; the stages are plain libraries.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cocu import __version__
from cocu.errors import CocuError

COMMAND_MODULES = (
    "cocu.cli.data",
    "cocu.cli.models",
    "cocu.cli.curation",
    "cocu.cli.train",
    "cocu.cli.eval",
    "cocu.cli.viz",
    "cocu.cli.experiments",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every stage's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="cocu",
        description="Language-supervised semantic segmentation: GroupViT + CoCu concept curation.",
    )
    parser.add_argument("--version", action="version", version=f"cocu {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; user errors exit 2 with a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verbose:  # faiss logs ~10 INFO lines on import when its AVX-512 build is absent
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CocuError as exc:
        print(f"cocu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cocu {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
