"""The `station` command line: a thin front end over the core procedures (DESIGN §7)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import StationError

Handler = Callable[[argparse.Namespace], int]


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="folder holding calibration/ and captures/ (default: $STATION_HOME or .)",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; each command module adds its own subcommand."""
    from .. import __version__
    from . import calibrate, capture, check, demo, devices, models, plan, rig, signal, sweep, train

    parser = argparse.ArgumentParser(
        prog="station",
        description="NAM Capture Station: calibrated captures for Neural Amp Modeler.",
    )
    parser.add_argument("--version", action="version", version=f"station {__version__}")
    # Also before the command (`station --home H train ...`); the command's own wins.
    parser.add_argument("--home", dest="top_home", type=Path, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common()
    commands = (devices, calibrate, capture, check, signal, models, train, rig, plan, sweep, demo)
    for module in commands:
        module.register(sub, common)
    return parser


def home_of(args: argparse.Namespace) -> Path:
    """The station home: --home, else $STATION_HOME, else the current directory."""
    for given in (getattr(args, "home", None), getattr(args, "top_home", None)):
        if given is not None:
            return Path(given)
    return Path(os.environ.get("STATION_HOME") or ".")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `station` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            parser.print_help()
            return 0
        from ..tui.app import run_tui

        run_tui(home_of(args))
        return 0
    try:
        return handler(args)
    except StationError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped: the tone is off and the stream is closed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
