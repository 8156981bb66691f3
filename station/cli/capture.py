"""`station capture`: play the reamp file at an exact dBu, record, align, check."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..capture.run import CaptureRequest, CaptureResult, run_capture
from ..devices import open_bench
from ..errors import StationError
from ..events import Event, Step
from ..home import check_name
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
        help="virtual rig only: clean, highgain, fuzz, noisy, drifting, chorus, od (its knobs "
        "are turned by 'station rig ... --port virtual')",
    )
    for name in GEAR_FIELDS:
        p.add_argument(f"--{name.replace('_', '-')}", default=None)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Capture, write the folder, print the verdict; exit 1 when a check failed."""
    home = home_of(args)
    profile = load_profile(home, args.profile)
    device = "virtual" if profile.host_api == "virtual" else profile.device_name
    bench = open_bench(device)
    if bench.rig is not None:
        bench.rig.keep_servos_in(home)  # the knobs 'station rig move --port virtual' turned
        bench.rig.use_gear(args.gear)
    gear = {k: getattr(args, k) for k in GEAR_FIELDS if getattr(args, k)}
    reamp_path, remember = chosen_reamp_file(args, home)

    def emit(event: Event) -> None:
        # Remember the file once pre-flight has accepted it, never a file it refused.
        if remember and isinstance(event, Step) and event.name == "preflight":
            update_settings(home, console.warn, reamp_file=str(reamp_path.resolve()))
        console.emit(event)

    levels = parse_levels(args.reamp_dbu, "--reamp-dbu")
    captures_dir, names = home / "captures", [args.out]
    if len(levels) > 1:  # a level pack: one capture per level, in one folder
        check_name(args.out)
        captures_dir, names = captures_dir / args.out, [level_name(v) for v in levels]
        if captures_dir.exists() and not args.force:
            raise StationError(
                f"a capture called {args.out!r} already exists",
                "choose another --out name, or add --force to replace it",
            )
    confirm = console.make_confirm(bench.rig, args.yes)
    results = []
    for level, name in zip(levels, names, strict=True):
        req = CaptureRequest(
            profile,
            reamp_path,
            level,
            name,
            captures_dir,
            force=args.force,
            gear=gear,
            virtual_gear=args.gear if bench.rig is not None else None,
            retakes=max(0, args.retakes),
            use_timing=not args.no_timing_reference,
        )
        results.append(run_capture(bench.interface, req, emit=emit, confirm=confirm))
        if not args.json:
            _print_result(results[-1])
        confirm = console.make_confirm(bench.rig, True)  # the gear stays patched
    if args.json:
        shown = [_result_json(r) for r in results]
        console.print_json(shown[0] if len(shown) == 1 else shown)
    return 0 if all(r.passed for r in results) else 1


def level_name(level_dbu: float) -> str:
    """A capture name for one level of a pack: '5.74dBu', 'minus6dBu'."""
    return f"{'minus' if level_dbu < 0 else ''}{abs(level_dbu):g}dBu"


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
