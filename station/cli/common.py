"""What every subcommand shares: the --json and --home options, and finding the station home."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]
# Opens the TUI in a home, optionally on a given virtual rig and as the demo. The CLI never
# imports the TUI: the `station` entry point hands this in (station/main.py).
OpenTui = Callable[..., Any]


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose refusals are the station's two lines (error, hint) and exit
    status 1, as for any bad input, instead of the usage text and status 2."""

    def error(self, message: str) -> Any:  # argparse's hook: never returns
        """Say what is wrong and where the options are listed; exit status 1."""
        print(f"error: {message}", file=sys.stderr)
        self.exit(1, f"hint: '{self.prog} --help' lists what it takes\n")


def number(text: str) -> float:
    """An option's number: a finite float (nan, inf and an empty value are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options every subcommand takes."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="folder holding calibration/ and captures/ (default: $STATION_HOME or .)",
    )
    return p


def home_of(args: argparse.Namespace) -> Path:
    """The station home: --home, else $STATION_HOME, else the current directory."""
    for given in (getattr(args, "home", None), getattr(args, "top_home", None)):
        if given is not None:
            return Path(given)
    return Path(os.environ.get("STATION_HOME") or ".")
