"""`station info`, `tag` and `gain-stage`: calibrated models for creators and players."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..capture.folder import read_capture_meta, refuse_failed
from ..errors import StationError
from ..home import find_capture
from ..interface.profiles import load_profile
from ..models.labels import metadata_lines
from ..models.namfile import (
    GEAR_TYPES,
    TONE_TYPES,
    fields_from_capture,
    model_info,
    read_model,
    tag_model,
)
from ..models.parametric import fold
from ..signal.gainstage import gain_stage
from . import console
from .common import home_of, number


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `info`, `tag` and `gain-stage` subcommands."""
    p = sub.add_parser("info", parents=[common], help="show .nam files' metadata and calibration")
    p.add_argument("models", nargs="+", type=Path)
    p.set_defaults(handler=run_info)

    p = sub.add_parser("tag", parents=[common], help="write calibration metadata into .nam files")
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--capture", type=Path, default=None, help="take levels and gear from a capture")
    p.add_argument("--input-dbu", type=number, default=None, help="input_level_dbu")
    p.add_argument("--output-dbu", type=number, default=None, help="output_level_dbu")
    p.add_argument("--name", default=None)
    p.add_argument("--modeled-by", default=None)
    p.add_argument("--gear-make", default=None)
    p.add_argument("--gear-model", default=None)
    p.add_argument("--gear-type", default=None, help=" | ".join(GEAR_TYPES))
    p.add_argument("--tone-type", default=None, help=" | ".join(TONE_TYPES))
    p.add_argument("--force", action="store_true", help="accept levels outside −30…+40 dBu")
    p.add_argument(
        "--allow-failed", action="store_true", help="tag from a capture that failed its checks"
    )
    p.set_defaults(handler=run_tag)

    p = sub.add_parser(
        "gain-stage",
        parents=[common],
        help="plugin input trim (and output gain) for a calibrated model",
    )
    p.add_argument(
        "--interface-dbu",
        type=number,
        default=None,
        help="your interface's max input level (dBu at 0 dBFS) at minimum gain",
    )
    p.add_argument("--profile", default=None, help="use a measured profile's return level instead")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--input-dbu", type=number, default=None, help="the model's input_level_dbu")
    p.add_argument(
        "--interface-gain-db",
        type=number,
        default=0.0,
        help="gain added on the interface above its minimum",
    )
    p.set_defaults(handler=run_gain_stage)


def run_info(args: argparse.Namespace) -> int:
    """Print each model's facts (a table for several)."""
    infos = []
    for path in args.models:
        model = read_model(path)
        info = model_info(model)
        info["host_inputs"] = fold.host_inputs(model.data) if fold.parametric(model.data) else None
        infos.append(info)
    if args.json:
        console.print_json(infos if len(infos) > 1 else infos[0])
        for i in infos:
            if i["player_warning"]:
                print(f"warning: {Path(i['path']).name}: {i['player_warning']}", file=sys.stderr)
        return 0
    if len(infos) == 1:
        i = infos[0]
        print(
            f"{i['path']}\n  architecture {i['architecture']}, version {i['version']}, "
            f"sample rate {i['sample_rate'] or 'not stated'}, {i['size_bytes']} bytes"
        )
        print(
            "  calibrated: "
            + (
                f"yes (input {i['input_level_dbu']:g} dBu, output {i['output_level_dbu']:g} dBu)"
                if i["calibrated"]
                else "no"
            )
        )
        print_players(i)
        if i["host_inputs"]:
            print("  input channels a host feeds (the NAM plugin takes one, by design):")
            for line in i["host_inputs"]:
                print(f"    {line}")
        for line in metadata_lines(i["metadata"]):
            print(f"  {line}")
        return 0
    print(f"{'model':<34} {'arch':<14} {'version':<8} {'in dBu':>7} {'out dBu':>7}  name")
    for i in infos:
        fmt = lambda v: f"{v:g}" if isinstance(v, int | float) else "-"  # noqa: E731
        print(
            f"{Path(i['path']).name:<34.34} {i['architecture']!s:<14.14} {i['version']!s:<8.8} "
            f"{fmt(i['input_level_dbu']):>7} {fmt(i['output_level_dbu']):>7}  "
            f"{i['metadata'].get('name') or ''}"
        )
    for i in infos:
        if i["player_warning"]:
            print(f"warning: {Path(i['path']).name}: {i['player_warning']}", file=sys.stderr)
    return 0


def print_players(info: dict[str, Any]) -> None:
    """Which players load the model (file version), and the warning when the newest tagged
    plugin cannot."""
    print(f"  file version {info['version']!r}; players:")
    for p in info["players"]:
        print(f"    {p['player']}: {p['loads']} ({p['reason']})")
    if info["player_warning"]:
        print(f"warning: {info['player_warning']}", file=sys.stderr)


def _tag_values(args: argparse.Namespace, meta: dict[str, Any] | None) -> dict[str, Any]:
    if meta is not None:
        values: dict[str, Any] = fields_from_capture(meta)
    elif args.input_dbu is None or args.output_dbu is None:
        raise StationError("give both levels", "--input-dbu X --output-dbu Y, or --capture DIR")
    else:
        values = {"input_level_dbu": args.input_dbu, "output_level_dbu": args.output_dbu}
    for key in ("name", "modeled_by", "gear_make", "gear_model", "gear_type", "tone_type"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    return values


def _capture_rate(meta: dict[str, Any] | None) -> int | None:
    if meta is None:
        return None
    return int(meta.get("reamp_file", {}).get("samplerate") or meta["profile"]["samplerate"])


def run_tag(args: argparse.Namespace) -> int:
    """Tag every model; stop at the first that cannot be tagged (earlier ones stay tagged)."""
    if args.capture is not None and (args.input_dbu is not None or args.output_dbu is not None):
        raise StationError("give --capture or --input-dbu/--output-dbu, not both")
    meta = None
    if args.capture is not None:
        folder = find_capture(home_of(args), args.capture)
        meta = read_capture_meta(folder)
        refuse_failed(meta, folder, allow=args.allow_failed)
    values = _tag_values(args, meta)
    rate = _capture_rate(meta)
    written: list[dict[str, Any]] = []
    for path in args.models:
        model = read_model(path)
        if rate is not None and model.sample_rate is not None and model.sample_rate != rate:
            raise StationError(
                f"{path} is a {model.sample_rate:g} Hz model but the capture is at {rate} Hz",
                "tag it with the capture it was trained on",
            )
        done = tag_model(path, values, force=args.force)
        written.append({"path": str(path), "written": done})
    if args.json:
        console.print_json(written if len(written) > 1 else written[0])
    else:
        for w in written:
            fields = ", ".join(f"{k}={v}" for k, v in w["written"].items())
            print(f"tagged {w['path']}: {fields}")
    return 0


def run_gain_stage(args: argparse.Namespace) -> int:
    """Print the trim (and output gain) a player should set."""
    out_dbu = None
    interface_out = None
    if args.profile is not None:
        prof = load_profile(home_of(args), args.profile)
        interface_max = prof.return_dbu_at_0dbfs
        interface_out = prof.send_dbu_at_0dbfs
    elif args.interface_dbu is not None:
        interface_max = args.interface_dbu
    else:
        raise StationError("give --interface-dbu (from your interface's spec sheet) or --profile")
    if args.model is not None:
        model = read_model(args.model)
        if not model.calibrated:
            raise StationError(
                f"{args.model.name} carries no calibration (input_level_dbu / output_level_dbu)",
                "ask its creator for the capture level, or tag it with 'station tag'",
            )
        in_dbu = float(model.metadata["input_level_dbu"])
        out_dbu = float(model.metadata["output_level_dbu"])
    elif args.input_dbu is not None:
        in_dbu = args.input_dbu
    else:
        raise StationError("give --model M.nam or --input-dbu Y")
    result = gain_stage(
        interface_max,
        in_dbu,
        interface_gain_db=args.interface_gain_db,
        output_level_dbu=out_dbu,
        interface_output_dbu=interface_out,
    )
    if args.json:
        console.print_json(
            {
                "trim_db": result.trim_db,
                "output_gain_db": result.output_gain_db,
                "interface_dbu": interface_max,
                "input_level_dbu": in_dbu,
                "interface_gain_db": args.interface_gain_db,
            }
        )
    else:
        print(f"plugin input trim: {result.trim_db:+.1f} dB")
        if result.output_gain_db is not None:
            print(
                f"plugin output gain: {result.output_gain_db:+.1f} dB (the model's output at "
                "the gear's analog level)"
            )
        print(f"  ({result.explanation})")
    return 0
