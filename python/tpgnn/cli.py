"""The ``tpgnn`` command line: one subcommand per task, each defined beside its code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    from . import __version__, evaluate, graph_summary, patch, train
    from .collect import cli as collect_cli
    from .tune import command as tune_cli

    parser = argparse.ArgumentParser(prog="tpgnn", description="TPGNN: a GNN cost model for TVM")
    parser.add_argument("--version", action="version", version=f"tpgnn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    graph_summary.register(subparsers)
    collect_cli.register(subparsers)
    patch.register(subparsers)
    tune_cli.register(subparsers)
    train.register(subparsers)
    evaluate.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tpgnn`` script; Ctrl-C ends any subcommand with status 130."""
    from ._interrupts import keep_keyboard_interrupts_across_ffi

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    keep_keyboard_interrupts_across_ffi()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        logging.getLogger("tpgnn").error("interrupted%s", f": {err}" if str(err) else "")
        return 130


if __name__ == "__main__":
    sys.exit(main())
