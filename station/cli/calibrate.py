"""`station calibrate`: measure an interface's send and return levels and its latency."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..devices import open_bench, open_meter
from ..drivers.base import StreamSpec, Voltmeter
from ..drivers.meter import ManualMeter, MeterAccuracy
from ..home import check_name
from ..interface.calibrate import CalibrationSettings
from ..interface.setup import calibrate_profile, check_calibration, choose_meter_accuracy
from ..settings import load_settings, meter_accuracy_of, meter_accuracy_setting, update_settings
from . import console
from .common import home_of, number


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `calibrate` subcommand."""
    p = sub.add_parser(
        "calibrate",
        parents=[common],
        help="measure send level (tone + meter), return level and latency",
    )
    p.add_argument("--name", required=True, help="profile name, e.g. apollo-line-out-3")
    p.add_argument(
        "--device", required=True, help="audio device index, part of its name, or 'virtual'"
    )
    p.add_argument(
        "--send-channel", type=int, required=True, help="output that feeds the reamp box (1-based)"
    )
    p.add_argument(
        "--return-channel", type=int, required=True, help="input the gear returns to (1-based)"
    )
    p.add_argument(
        "--timing-out",
        type=int,
        default=None,
        help="timing reference: a spare output (1-based), patched for good into --timing-in",
    )
    p.add_argument(
        "--timing-in",
        type=int,
        default=None,
        help="timing reference: the spare input (1-based) that --timing-out is patched into",
    )
    p.add_argument("--samplerate", type=int, default=48000)
    p.add_argument("--blocksize", type=int, default=256)
    p.add_argument(
        "--tone-hz", type=number, default=1000.0, help="tone frequency (NAM defines 1000)"
    )
    p.add_argument("--tone-dbfs", type=number, default=-12.0, help="send tone level, dBFS peak")
    p.add_argument(
        "--meter",
        default=None,
        help="manual | scpi:RESOURCE | virtual (default: virtual on the virtual rig, else manual)",
    )
    p.add_argument(
        "--meter-accuracy",
        default=None,
        metavar="PCT+COUNTS",
        help="the typed-in meter's stated AC-volts accuracy, e.g. '0.5 %% + 2' (%% of reading + "
        "counts of the last digit typed); asked once, then kept in settings.toml",
    )
    p.add_argument(
        "--gain-note", default="", help='how the return gain is set, e.g. "gain knob at minimum"'
    )
    p.add_argument("--yes", action="store_true", help="skip the 'press Enter when patched' prompts")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Calibrate, save the profile, print the result."""
    home = home_of(args)
    check_name(args.name)
    spec = StreamSpec(args.samplerate, args.send_channel, args.return_channel, args.blocksize)
    settings = CalibrationSettings(
        spec, args.tone_hz, args.tone_dbfs, timing_out=args.timing_out, timing_in=args.timing_in
    )
    # A bad accuracy is refused before anything plays.
    given = choose_meter_accuracy(args.meter_accuracy) if args.meter_accuracy else None
    bench = open_bench(args.device)
    check_calibration(args.name, bench.interface, settings)
    meter = open_meter(args.meter, bench, console.make_ask(bench.rig))
    accuracy = _meter_accuracy(home, meter, given)
    saved = calibrate_profile(
        home,
        args.name,
        bench.interface,
        meter,
        settings,
        gain_note=args.gain_note,
        emit=console.emit,
        confirm=console.make_confirm(bench.rig, args.yes),
    )
    result, path, existed = saved.result, saved.path, saved.replaced
    out = {
        "profile_path": str(path.resolve()),
        "name": args.name,
        "device": bench.interface.name,
        "send_dbu_at_0dbfs": result.send_dbu_at_0dbfs,
        "send_uncertainty_db": result.send_uncertainty_db,
        "return_dbu_at_0dbfs": result.return_dbu_at_0dbfs,
        "return_uncertainty_db": result.return_uncertainty_db,
        "latency_samples": result.latency_samples,
        "latency_uncertainty_samples": result.latency_uncertainty_samples,
        "latency_spread_samples": result.latency_spread_samples,
        "latency_takes_samples": list(result.latency_takes_samples),
        "timing_out": result.timing_out,
        "timing_in": result.timing_in,
        "timing_reference_delay_samples": result.timing_reference_delay_samples,
        "return_noise_floor_dbfs": result.return_noise_floor_dbfs,
        "meter": result.meter.source,
        "meter_reading_vrms": result.meter.vrms,
        "meter_accuracy": None if accuracy is None else meter_accuracy_setting(accuracy),
    }
    if args.json:
        console.print_json(out)
        return 0
    print(f"Profile {'replaced' if existed else 'saved'}: {path}")
    print(
        f"  send    {result.send_dbu_at_0dbfs:+.2f} dBu at 0 dBFS peak "
        f"(± {result.send_uncertainty_db:.2f} dB, meter {result.meter.vrms:g} V"
        + ("" if accuracy is None else f" {accuracy}, {_how(accuracy)}")
        + ")"
    )
    print(
        f"  return  {result.return_dbu_at_0dbfs:+.2f} dBu at 0 dBFS peak "
        f"(± {result.return_uncertainty_db:.2f} dB)"
    )
    print(
        f"  latency {result.latency_samples:.2f} samples "
        f"({result.latency_samples / args.samplerate * 1000:.2f} ms), moving by "
        f"{result.latency_spread_samples:.2f} across {len(result.latency_takes_samples)} streams"
    )
    if result.timing_reference_delay_samples is not None:
        print(
            f"  timing reference output {result.timing_out} → input {result.timing_in}: "
            f"{result.timing_reference_delay_samples:.2f} samples (leave it patched)"
        )
    print(f"  return noise floor {result.return_noise_floor_dbfs:.1f} dBFS")
    sys.stdout.flush()
    return 0


def _meter_accuracy(
    home: Path, meter: Voltmeter, given: MeterAccuracy | None
) -> MeterAccuracy | None:
    """The typed-in meter's accuracy: given, kept in settings, or asked once; kept for next time.

    None for a meter that reads itself (virtual, SCPI); a given accuracy is still kept.
    """
    accuracy = given
    if isinstance(meter, ManualMeter):
        kept = given or meter_accuracy_of(load_settings(home, console.warn))
        accuracy = meter.accuracy = choose_meter_accuracy(None, kept, console.make_ask(None))
    if accuracy is not None:
        update_settings(home, console.warn, meter_accuracy=meter_accuracy_setting(accuracy))
    return accuracy if isinstance(meter, ManualMeter) else None


def _how(accuracy: MeterAccuracy) -> str:
    return "assumed, a typical handheld's" if accuracy.assumed else "stated"
