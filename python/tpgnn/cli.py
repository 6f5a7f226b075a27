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


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input (a missing file, a checkpoint of another layout, a corrupt
    record, a busy data directory, an unsupported TVM), not a bug in tpgnn: the command line
    reports them in one line, since their messages say what was wrong and what to do."""
    from .collect.io import DataDirBusyError
    from .patch import PatchError

    return OSError, ValueError, DataDirBusyError, PatchError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tpgnn`` script.

    Ctrl-C ends any subcommand with status 130. Bad input (:func:`user_errors`) ends it with
    status 1 and its message on stderr, without a traceback unless ``--verbose`` asks for one.
    """
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
    except user_errors() as err:
        if args.verbose:
            raise
        print(f"tpgnn {args.command}: error: {err}\n(run `tpgnn -v {args.command} ...` for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
