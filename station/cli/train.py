"""`station train` and `station verify`: a calibrated model from a capture, and how close it is."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..capture.folder import read_capture_meta
from ..capture.run import CaptureRequest, run_capture
from ..devices import StationBench
from ..errors import StationError
from ..events import StopFlag
from ..home import captured, pack_capture, pack_levels
from ..interface.profiles import load_profile
from ..models.namfile import model_info, read_model
from ..models.parametric.training import SIZES
from ..models.stopping import DEFAULT_PATIENCE, Limits
from ..models.train import ARCHITECTURES, train_capture
from ..models.verify import compare, run_model, verify_capture
from . import console
from . import sweep_train as sweep_cli
from .common import home_of, number
from .models import print_players
from .words import say


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `train` and `verify` subcommands."""
    p = sub.add_parser(
        "train", parents=[common], help="train a calibrated .nam from a capture or a sweep session"
    )
    p.add_argument(
        "capture_dir",
        type=Path,
        metavar="CAPTURE_DIR|SESSION",
        help="a capture, level pack or sweep session: its folder, or its name under captures/",
    )
    p.add_argument(
        "--architecture",
        default=None,
        choices=list(SIZES),
        help="WaveNet size (default: standard; for --parametric compact, one 4-channel array "
        "at 0.12x a standard model's CPU); for --parametric also 'tiny' (quick trials) and "
        "'classic' (NAM's classic layout: its snapshots load in the v0.7.13 plugin too)",
    )
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument(
        "--max-minutes",
        default=None,
        metavar="M",
        help="stop after M minutes (Lightning's max_time; per model for --snapshots), keeping "
        "the best checkpoint so far",
    )
    p.add_argument(
        "--patience",
        default=str(DEFAULT_PATIENCE),
        metavar="N",
        help="stop when the selection loss has not improved for N validations (epochs), "
        f"keeping the best checkpoint; 0 never stops early (default {DEFAULT_PATIENCE})",
    )
    p.add_argument("--out", type=Path, default=None, help="model file (default: CAPTURE/model.nam)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--parametric", action="store_true", help="one model conditioned on the sweep's knobs"
    )
    kind.add_argument(
        "--snapshots", action="store_true", help="one standard model per setting of the sweep"
    )
    p.add_argument(
        "--level",
        type=number,
        default=None,
        metavar="DBU",
        help="a session captured at several reamp levels: train the captures at this one",
    )
    lightning = p.add_argument_group("PyTorch Lightning, passed through unchanged")
    lightning.add_argument("--accelerator", default=None, help="cpu, gpu, mps, auto, ...")
    lightning.add_argument("--devices", default=None, help="how many, or which: 1, 2, '0,1', auto")
    lightning.add_argument("--strategy", default=None, help="ddp, fsdp, auto, ...")
    p.set_defaults(handler=run_train)

    p = sub.add_parser("verify", parents=[common], help="compare a model with the gear")
    p.add_argument("model", type=Path)
    p.add_argument(
        "--capture", type=Path, default=None, help="the capture it came from (name or folder)"
    )
    p.add_argument("--di", type=Path, default=None, help="a 48 kHz guitar DI to reamp through both")
    p.add_argument("--profile", default=None, help="interface profile for --di")
    p.add_argument(
        "--session",
        type=Path,
        default=None,
        help="a sweep session (name or folder): judge every held-out setting",
    )
    p.add_argument(
        "--level",
        type=number,
        default=None,
        metavar="DBU",
        help="with --session: the reamp level to judge at (default: the model's input level)",
    )
    p.set_defaults(handler=run_verify)


def _trainer_options(args: argparse.Namespace) -> dict[str, Any]:
    devices = args.devices
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    return {"accelerator": args.accelerator, "devices": devices, "strategy": args.strategy}


def _number(text: str | None, flag: str, kind: type) -> Any:
    """`text` as an int or float; StationError naming the flag when it is not one."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise StationError(f"{flag} {text!r} is not {what}", f"e.g. {flag} 20") from None


def limits_of(args: argparse.Namespace) -> Limits:
    """The epochs, time limit and patience asked for, checked (StationError, one line)."""
    limits = Limits(
        args.epochs,
        _number(args.max_minutes, "--max-minutes", float),
        _number(args.patience, "--patience", int),
    )
    limits.check()
    return limits


def run_train(args: argparse.Namespace) -> int:
    """Train, tag, and report the validation ESR (or, for a session, the sweep's report)."""
    args.limits = limits_of(args)
    args.capture_dir = captured(home_of(args), args.capture_dir)
    if args.parametric or args.snapshots:
        return sweep_cli.run_sweep_train(args, _trainer_options(args))
    if (Path(args.capture_dir) / "session.json").is_file():
        raise StationError(
            f"{args.capture_dir} is a sweep session",
            "add --parametric (one knob-aware model) or --snapshots (one model per setting)",
        )
    folder = Path(args.capture_dir)
    if pack_levels(folder):
        folder = pack_capture(folder, args.level)
    elif args.level is not None:
        raise StationError(
            "--level chooses a reamp level of a sweep session or a level pack",
            "a single capture has one level already; drop --level",
        )
    if args.architecture in SIZES and args.architecture not in ARCHITECTURES:
        raise StationError(
            f"--architecture {args.architecture} is a size for knob-conditioned models from a "
            "sweep (--parametric), not for one capture",
            f"choose one of {', '.join(ARCHITECTURES)}",
        )
    stop = StopFlag()
    with sweep_cli.stop_on_ctrl_c(stop):
        result = train_capture(
            folder,
            architecture=args.architecture or "standard",
            epochs=args.epochs,
            out=args.out,
            emit=console.emit,
            trainer_options=_trainer_options(args),
            stop=stop,
            max_minutes=args.limits.max_minutes,
            patience=args.limits.patience,
        )
    meta = read_capture_meta(folder)
    info = model_info(read_model(result.model_path))
    out = {
        "model_path": str(result.model_path.resolve()),
        "model_version": info["version"],
        "players": info["players"],
        "player_warning": info["player_warning"],
        "validation_esr": result.validation_esr,
        "verdict": result.verdict,
        "training_path": result.path_used,
        "training": result.training.to_json() if result.training else None,
        "input_level_dbu": meta["input_level_dbu"],
        "output_level_dbu": meta["output_level_dbu"],
        "stopped_early": stop.is_set(),
    }
    if args.json:
        console.print_json(out)
    else:
        print(f"Model: {result.model_path}")
        if stop.is_set():
            print("  stopped at Ctrl-C: the best model of the epochs trained so far")
        print(f"  validation ESR {result.validation_esr:.4f} ({result.verdict})")
        if result.training is not None:
            print(f"  training stopped {say(result.training.stop_phrase())}")
        print(
            f"  calibrated: input {meta['input_level_dbu']:g} dBu, output "
            f"{meta['output_level_dbu']:.2f} dBu"
        )
        print_players(info)
    if args.json and info["player_warning"]:
        print(f"warning: {info['player_warning']}", file=sys.stderr)
    return 0


def _verify_di(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    if args.profile is None or args.capture is None:
        raise StationError(
            "--di needs --profile (the interface) and --capture (the level and gear)"
        )
    meta = read_capture_meta(args.capture)
    profile = load_profile(home_of(args), args.profile)
    bench = StationBench(home_of(args))
    interface = bench.interface(profile, meta.get("virtual_gear") or "clean")
    with tempfile.TemporaryDirectory(prefix="station-verify-") as tmp:
        req = CaptureRequest(
            profile,
            args.di,
            float(meta["input_level_dbu"]),
            "di",
            Path(tmp),
            virtual_gear=meta.get("virtual_gear"),
        )
        take = run_capture(
            interface, req, emit=console.emit, confirm=console.make_confirm(bench.virtual, True)
        )
        from ..reamp.files import read_mono

        x, _, _ = read_mono(take.capture_dir / "input.wav")
        y, _, _ = read_mono(take.capture_dir / "output.wav")
        result = compare(run_model(args.model, x), y, None)
    return result, {"di": str(args.di), "input_level_dbu": meta["input_level_dbu"]}


def run_verify(args: argparse.Namespace) -> int:
    """Print ESR and level difference between the model and the gear."""
    for name in ("capture", "session"):  # a folder, or a name under captures/
        if getattr(args, name) is not None:
            setattr(args, name, captured(home_of(args), getattr(args, name)))
    if args.session is not None:
        return sweep_cli.run_sweep_verify(args)
    if args.level is not None:
        raise StationError("--level goes with --session", "drop --level, or add --session SESSION")
    if args.di is not None:
        result, extra = _verify_di(args)
    elif args.capture is not None:
        result, extra = verify_capture(args.model, args.capture), {"capture": str(args.capture)}
    else:
        raise StationError(
            "verify against what?", "--capture DIR, or --di FILE --profile NAME --capture DIR"
        )
    out = {
        "model": str(args.model),
        "esr": result.esr,
        "esr_validation": result.esr_validation,
        "level_difference_db": result.level_difference_db,
        "frames": result.frames,
        **extra,
    }
    if args.json:
        console.print_json(out)
    else:
        print(
            f"{args.model}: ESR {result.esr:.4f}"
            + (
                f", on the validation copy {result.esr_validation:.4f}"
                if result.esr_validation is not None
                else ""
            )
            + f"; level {result.level_difference_db:+.2f} dB against the gear"
        )
    return 0
