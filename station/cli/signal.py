"""`station signal`: write the station's own v3-layout reamp signal."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import reamp
from ..errors import StationError
from .console import print_json


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `signal` subcommand."""
    p = sub.add_parser(
        "signal",
        parents=[common],
        help="write the station's v3-layout signal (not NAM's v3_0_0.wav)",
    )
    p.add_argument("--out", type=Path, required=True, help="WAV file to write")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--training-s",
        type=float,
        default=163.5,
        help="seconds of training material (163.5 gives NAM's 190 s layout)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the signal."""
    if not 1.0 <= args.training_s <= 600.0:
        raise StationError("--training-s must be between 1 and 600 seconds")
    if args.out.is_dir():
        raise StationError(f"{args.out} is a folder", "give a file name, e.g. station_v3.wav")
    path = reamp.write_station_signal(args.out, args.seed, args.training_s)
    info = reamp.recognise(path)
    if args.json:
        print_json(
            {
                "path": str(path.resolve()),
                "md5": info.md5,
                "frames": info.frames,
                "samplerate": info.samplerate,
                "kind": info.kind,
            }
        )
    else:
        print(
            f"Wrote {path} ({info.duration_s:.1f} s, 48 kHz, 24-bit): the station's "
            "v3-layout signal, not NAM's v3_0_0.wav"
        )
    return 0


def default_signal(home: Path) -> Path:
    """The station signal cached in the home (generated on first use)."""
    path = reamp.home_signal_path(home)
    if not path.is_file():
        reamp.write_station_signal(path, 1)
    return path
