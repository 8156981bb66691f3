"""What every subcommand shares: the --json and --home options, and finding the station home."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]
# Opens the TUI in a home, optionally on a given virtual rig and as the demo. The CLI never
# imports the TUI: the `station` entry point hands this in (station/main.py).
OpenTui = Callable[..., Any]


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
