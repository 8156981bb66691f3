"""`station capture`: play the reamp file at an exact dBu, record, align, check."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..capture.records import CaptureResult, Hooks
from ..capture.setup import CaptureOrder, capture_requests, run_captures
from ..devices import StationBench
from ..events import Event, Step
from ..interface.profiles import load_profile
from ..settings import update_settings
from . import console
from .common import home_of
from .plan import parse_levels
from .signal import chosen_reamp_file

GEAR_FIELDS = ("gear_make", "gear_model", "gear_type", "tone_type", "modeled_by")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `capture` subcommand."""
    p = sub.add_parser(
        "capture", parents=[common], help="reamp the file at an exact dBu, record, align and check"
    )
    p.add_argument("--profile", required=True, help="interface profile from 'station calibrate'")
    p.add_argument(
        "--reamp-dbu",
        required=True,
        metavar="P[,P2,...]",
        help="level at the gear's input for a 0 dBFS sine in the file (dBu); several levels "
        "give one capture each, in one folder",
    )
    p.add_argument("--out", required=True, help="capture name (a folder under captures/)")
    p.add_argument(
        "--input",
        type=Path,
        default=None,
        help="reamp file (NAM's v3_0_0.wav); default: the last one used, else the "
        "station's own v3-layout signal",
    )
    p.add_argument("--force", action="store_true", help="replace an existing capture")
    p.add_argument(
        "--retakes",
        type=int,
        default=0,
        help="play a take spoilt by an over/underflow again, up to N times",
    )
    p.add_argument("--yes", action="store_true", help="skip the 'press Enter' prompts")
    p.add_argument(
        "--no-timing-reference",
        action="store_true",
        help="ignore the profile's timing reference (assume the calibrated latency)",
    )
    p.add_argument(
        "--gear",
        default="clean",
        help="virtual rig only: clean, highgain, fuzz, noisy, drifting, chorus, od, preamp (the "
        "last two have knobs that 'station rig ... --port virtual' turns)",
    )
    for name in GEAR_FIELDS:
        p.add_argument(f"--{name.replace('_', '-')}", default=None)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Capture, write the folder, print the verdict; exit 1 when a check failed."""
    home = home_of(args)
    profile = load_profile(home, args.profile)
    bench = StationBench(home)
    interface = bench.interface(profile, args.gear)
    reamp_path, remember = chosen_reamp_file(args, home)
    order = CaptureOrder(
        profile,
        reamp_path,
        parse_levels(args.reamp_dbu, "--reamp-dbu"),
        args.out,
        force=args.force,
        gear={k: getattr(args, k) for k in GEAR_FIELDS if getattr(args, k)},
        virtual_gear=args.gear if bench.virtual is not None else None,
        retakes=args.retakes,
        use_timing=not args.no_timing_reference,
    )
    requests = capture_requests(home, order)

    def emit(event: Event) -> None:
        # Remember the file once pre-flight has accepted it, never a file it refused.
        if remember and isinstance(event, Step) and event.name == "preflight":
            update_settings(home, console.warn, reamp_file=str(reamp_path.resolve()))
        console.emit(event)

    hooks = Hooks(emit, console.make_confirm(bench.virtual, args.yes))
    results = run_captures(
        interface, requests, hooks, on_result=None if args.json else _print_result
    )
    if args.json:
        shown = [_result_json(r) for r in results]
        console.print_json(shown[0] if len(shown) == 1 else shown)
    return 0 if all(r.passed for r in results) else 1


def _result_json(result: CaptureResult) -> dict[str, Any]:
    return {
        "capture_dir": str(result.capture_dir.resolve()),
        "input_level_dbu": result.input_level_dbu,
        "output_level_dbu": result.output_level_dbu,
        "latency_samples": result.latency_samples,
        "polarity": result.record["polarity"],
        "passed": result.passed,
        "checks": [c.to_json() for c in result.checks],
        "latency": result.record["latency"],
    }


def _print_result(result: CaptureResult) -> None:
    print(f"Capture: {result.capture_dir}")
    print(
        f"  input_level_dbu {result.input_level_dbu:+.2f}, output_level_dbu "
        f"{result.output_level_dbu:+.2f}, latency {result.latency_samples:.2f} samples "
        f"({result.record['latency']['used']})"
    )
    console.print_verdict(result.passed, result.checks)
