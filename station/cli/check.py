"""`station check`: the capture checks on a stored capture or on any DAW-recorded pair."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..capture.pair import check_capture_dir, check_pair, summarise
from ..errors import StationError
from ..home import find_capture
from . import console
from .common import home_of


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `check` subcommand."""
    p = sub.add_parser(
        "check",
        parents=[common],
        help="check a capture folder, or --input IN --output OUT from a DAW",
    )
    p.add_argument("capture_dir", nargs="?", type=Path, default=None)
    p.add_argument("--input", type=Path, default=None, help="the reamp file that was played")
    p.add_argument("--output", type=Path, default=None, help="the recording of the gear")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks; exit 1 when one failed."""
    if args.capture_dir is not None and (args.input or args.output):
        raise StationError("give a capture folder or --input/--output, not both")
    if args.capture_dir is not None:
        report = check_capture_dir(find_capture(home_of(args), args.capture_dir))
    elif args.input is not None and args.output is not None:
        report = check_pair(args.input, args.output)
    else:
        raise StationError(
            "nothing to check",
            "station check CAPTURE_DIR, or station check --input input.wav --output output.wav",
        )
    for note in report.notes:
        console.warn(note)
    if args.json:
        console.print_json(summarise(report))
    else:
        print(f"{report.kind} pair: {report.input_path} → {report.output_path}")
        if report.latency_found_samples is not None:
            print(f"  latency found in the output: {report.latency_found_samples:+.2f} samples")
        console.print_verdict(report.passed, report.checks)
    return 0 if report.passed else 1
