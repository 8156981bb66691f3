"""`station signal`: write the station's own v3-layout reamp signal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..home import home_signal_path
from ..reamp import files as reamp
from ..reamp.generate import FULL_TRAINING_S, write_station_signal
from ..settings import load_settings
from .common import number
from .console import print_json, warn


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
        type=number,
        default=FULL_TRAINING_S,
        help=f"seconds of training material ({FULL_TRAINING_S:g} gives NAM's 190 s layout)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the signal."""
    if not 1.0 <= args.training_s <= 600.0:
        raise StationError("--training-s must be between 1 and 600 seconds")
    if args.out.is_dir():
        raise StationError(f"{args.out} is a folder", "give a file name, e.g. station_v3.wav")
    path = write_station_signal(args.out, args.seed, args.training_s)
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
    path = home_signal_path(home)
    if not path.is_file():
        write_station_signal(path, 1)
    return path


def chosen_reamp_file(args: argparse.Namespace, home: Path) -> tuple[Path, bool]:
    """The file to play, and whether to remember it once pre-flight accepts it."""
    if args.input is not None:
        if not args.input.is_file():
            raise StationError(
                f"no reamp file at {args.input}",
                "download v3_0_0.wav from NAM, or run 'station signal'",
            )
        return args.input, True
    remembered = load_settings(home, warn).get("reamp_file")
    if remembered and Path(remembered).is_file():
        print(f"   reamp file: {remembered} (remembered; --input changes it)", file=sys.stderr)
        return Path(remembered), False
    path = default_signal(home)
    print(
        f"   reamp file: {path} — the station's own v3-layout signal, not NAM's v3_0_0.wav "
        "(give --input to use NAM's)",
        file=sys.stderr,
    )
    return path, False
