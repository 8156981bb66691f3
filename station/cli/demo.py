"""`station demo`: the station on the virtual rig, in a fresh temporary home."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from ..drivers.base import StreamSpec
from ..errors import StationError
from ..interface.calibrate import CalibrationSettings, calibrate, to_profile
from ..interface.profiles import save_profile
from ..virtual.rig import VirtualRig
from . import console


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="the station on the virtual rig in a fresh home: no hardware needed",
    )
    p.add_argument(
        "--plain", action="store_true", help="no TUI: a scripted calibration in the terminal"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The TUI on the virtual rig in a fresh home (or, with --plain, a scripted calibration)."""
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="station-demo-"))
    if not args.plain:
        if args.open_tui is None:
            raise StationError("this station was started without its TUI", "use --plain")
        args.open_tui(home, rig=VirtualRig(speed=50.0), demo=True)
        print(f"Demo home: {home}")
        return 0
    rig = VirtualRig(speed=20.0)
    t = rig.truth
    print(
        f"Virtual rig: {t.name}; its truths (what the station should find):\n"
        f"  send {t.send_dbu_at_0dbfs:+.2f} dBu at 0 dBFS, return {t.return_dbu_at_0dbfs:+.2f} dBu "
        f"at 0 dBFS, latency {t.latency_samples:.2f} samples plus 0–"
        f"{t.stream_shift_max_samples:g} more each time a stream opens\n"
        f"Station home: {home}\n"
    )
    spec = StreamSpec(48000, 1, 1)
    result = calibrate(
        rig.interface,
        rig.meter,
        CalibrationSettings(spec),
        emit=console.emit,
        confirm=console.make_confirm(rig, assume_yes=True),
    )
    path = save_profile(home, to_profile("demo", rig.interface, spec, result))
    print(
        f"\nMeasured: send {result.send_dbu_at_0dbfs:+.3f} dBu, return "
        f"{result.return_dbu_at_0dbfs:+.3f} dBu, latency {result.latency_samples:.3f} samples"
    )
    print(f"Profile: {path}")
    return 0
