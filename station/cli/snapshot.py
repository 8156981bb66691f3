"""`station snapshot` and `station render`: parametric models at chosen settings; hearing any."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..models import render as render_mod
from ..models import snapshot as snap
from . import console
from .common import number


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `snapshot` and `render` subcommands."""
    p = sub.add_parser(
        "snapshot",
        parents=[common],
        help="a parametric model at a setting (or a grid of them) as standard .nam files",
        description="Write a standard one-input .nam equal to a parametric model at a setting "
        "(name=value ...; controls left out take their default), a pack of them (--grid), "
        "or a standard model in the form an older player release loads (--for-players).",
    )
    p.add_argument("model", type=Path)
    p.add_argument("setting", nargs="*", metavar="name=value", help="e.g. drive=6 boost=on")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="name=VALUES",
        help="one axis of a pack: drive=0:10:2 (start:stop:step), boost=off,on or tone=5",
    )
    p.add_argument(
        "--for-players",
        default=None,
        metavar="RELEASE",
        help=f"write a standard model for an older player ({', '.join(snap.RELEASES)})",
    )
    p.add_argument("--out", type=Path, default=None, help="the file (a folder with --grid)")
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.set_defaults(handler=run_snapshot)

    p = sub.add_parser(
        "render",
        parents=[common],
        help="play a DI recording through a .nam (a parametric one at a setting)",
    )
    p.add_argument("model", type=Path)
    p.add_argument("setting", nargs="*", metavar="name=value", help="a parametric model's setting")
    p.add_argument("--input", type=Path, required=True, help="the DI recording (mono, 48 kHz WAV)")
    p.add_argument("--out", type=Path, required=True, help="the rendered WAV (24-bit)")
    p.add_argument(
        "--input-dbu",
        type=number,
        default=None,
        help="the DI's level (dBu at 0 dBFS); scaled to the model's input_level_dbu",
    )
    p.add_argument("--output-gain-db", type=number, default=0.0, help="gain on the output (dB)")
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    p.set_defaults(handler=run_render)


def _refuse_existing(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise StationError(f"{path} exists", "add --force to replace it, or choose another --out")


def run_snapshot(args: argparse.Namespace) -> int:
    """Write one snapshot, a grid pack or a release's form of a standard model."""
    if args.for_players is not None:
        if args.setting or args.grid:
            raise StationError("--for-players writes a standard model as it is: give no setting")
        out = args.out or args.model.with_name(f"{args.model.stem}-{args.for_players}.nam")
        _refuse_existing(out, args.force)
        done = [snap.for_players(args.model, args.for_players, out)]
    elif args.grid:
        if args.setting:
            raise StationError(
                "give a setting or --grid axes, not both",
                "a control held at one value in a pack is an axis of one: --grid tone=5",
            )
        out = args.out or snap.default_pack(args.model)
        _refuse_existing(out / "index.json", args.force)
        done = snap.grid(args.model, args.grid, out, console.emit)
    else:
        out = args.out or snap.default_file(args.model, args.setting)
        _refuse_existing(out, args.force)
        done = [snap.snapshot(args.model, args.setting, out)]
    if args.json:
        console.print_json({"models": [d.to_json() for d in done]})
        return 0
    if args.grid:
        print(f"wrote {len(done)} snapshots and index.json to {out}")
    for d in done[:1] if args.grid else done:
        _describe(d)
    return 0


def _describe(d: snap.Snapshot) -> None:
    setting = " ".join(f"{k}={_fmt(v)}" for k, v in d.setting.items())
    print(f"wrote {d.path}" + (f": {setting}" if setting else ""))
    if d.defaulted:
        held = ", ".join(f"{k}={_fmt(d.setting[k])}" for k in d.defaulted)
        print(f"  at the model's default: {held}")
    levels = d.levels
    if all(isinstance(levels.get(k), int | float) for k in ("input_level_dbu", "output_level_dbu")):
        print(
            f"  calibrated: input {levels['input_level_dbu']:g} dBu, "
            f"output {levels['output_level_dbu']:g} dBu"
        )
    else:
        print("  calibrated: no")
    print(f"  {d.layout} WaveNet layout, file version {d.version}; loudness {d.loudness}")
    print("  players:")
    for p in d.players:
        print(f"    {p.player}: {p.loads} ({p.reason})")


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def run_render(args: argparse.Namespace) -> int:
    """Render the DI and say what was applied and how loud it came out."""
    _refuse_existing(args.out, args.force)
    if args.input_dbu is not None and not math.isfinite(args.input_dbu):
        raise StationError("--input-dbu must be a number of dBu")
    done = render_mod.render(
        args.model,
        args.input,
        args.out,
        args.setting,
        input_dbu=args.input_dbu,
        output_gain_db=args.output_gain_db,
        emit=console.emit,
    )
    if args.json:
        console.print_json(done.to_json())
        return 0
    setting = " ".join(f"{k}={_fmt(v)}" for k, v in done.setting.items())
    print(
        f"wrote {done.path}: {done.seconds:.1f} s, 24-bit" + (f", at {setting}" if setting else "")
    )
    if done.defaulted:
        print(f"  at the model's default: {', '.join(done.defaulted)}")
    if args.input_dbu is not None:
        print(
            f"  DI at {args.input_dbu:g} dBu into the model: {done.input_gain_db:+.2f} dB applied"
        )
    if done.output_gain_db:
        print(f"  output gain {done.output_gain_db:+.2f} dB")
    print(f"  peak {done.peak_dbfs:+.1f} dBFS")
    return 0
