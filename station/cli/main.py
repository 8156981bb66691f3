"""The `station` command line: every subcommand's parser, and running one (docs/design.md §7)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..errors import StationError
from . import (
    calibrate,
    capture,
    check,
    demo,
    devices,
    models,
    plan,
    rig,
    signal,
    snapshot,
    sweep,
    train,
)
from .common import Handler, OpenTui, Parser, common_options, home_of
from .words import error_lines

COMMANDS = (
    devices, calibrate, capture, check, signal, models, snapshot, train, rig, plan, sweep, demo
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; each command module adds its own subcommand."""
    parser = Parser(
        prog="station",
        description="NAM Capture Station: calibrated captures for Neural Amp Modeler.",
    )
    parser.add_argument("--version", action="version", version=f"station {__version__}")
    # Also before the command (`station --home H train ...`); the command's own wins.
    parser.add_argument("--home", dest="top_home", type=Path, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()
    for module in COMMANDS:
        module.register(sub, common)
    return parser


# A value such as "-6,12" (levels in dBu) looks like an option to argparse, which then says
# "expected one argument"; attached to its option ("--levels=-6,12") it reads as meant.
_NEGATIVE_LIST = re.compile(r"-\d[\d.]*(,-?\d[\d.]*)+")


def _negative_lists_attached(argv: Sequence[str]) -> list[str]:
    """argv with every negative number list attached to the option before it."""
    out: list[str] = []
    for arg in argv:
        follows_option = out and out[-1].startswith("--") and "=" not in out[-1]
        if follows_option and _NEGATIVE_LIST.fullmatch(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None, *, open_tui: OpenTui | None = None) -> int:
    """Run one command; with none on a terminal, `open_tui` (when given) opens the TUI.

    Returns the exit status: 0, 1 for a StationError or an option argparse refuses (printed
    as error and hint lines), 130 for Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(_negative_lists_attached(sys.argv[1:] if argv is None else argv))
    args.open_tui = open_tui
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        if open_tui is None or not sys.stdin.isatty() or not sys.stdout.isatty():
            parser.print_help()
            return 0
        open_tui(home_of(args))
        return 0
    try:
        return handler(args)
    except StationError as exc:
        print(error_lines(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped: the tone is off and the stream is closed", file=sys.stderr)
        return 130
