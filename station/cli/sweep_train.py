"""`station train SESSION --parametric|--snapshots` and `station verify MODEL --session SESSION`."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..events import Step, StopFlag
from ..models.parametric.session import Setting, Sweep, load_sweep
from ..models.parametric.training import Recipe, train_parametric, train_snapshots
from ..models.parametric.verify import is_parametric, score_settings, summary
from ..models.stopping import TrainingLog
from ..phrases import Phrase
from ..signal.levels import dbu_list
from . import console
from .words import say


@contextlib.contextmanager
def stop_on_ctrl_c(stop: StopFlag) -> Iterator[None]:
    """First Ctrl-C asks training to stop after this epoch (the best model is kept);
    a second one aborts at once."""

    def handler(_sig: int, _frame: Any) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print(
            "\nstopping after this epoch (the best model so far is kept); Ctrl-C again to abort",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _print_scores(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        nearest = r.get("nearest_esr")
        near = f"  nearest {r['nearest_capture']} {nearest:.4f}" if nearest is not None else ""
        print(
            f"  {r['id']:<8} ESR {r['esr']:.4f}  level {r['level_difference_db']:+.2f} dB  "
            f"{r['setting']}{near}"
        )


def _stop_phrase(training: dict[str, Any]) -> Phrase:
    return TrainingLog.from_json(training).stop_phrase()


def run_sweep_train(args: argparse.Namespace, trainer_options: dict[str, Any]) -> int:
    """Train from a sweep session and print its report."""
    stop = StopFlag()
    with stop_on_ctrl_c(stop):
        limits = args.limits
        recipe = Recipe(
            args.architecture,
            limits.epochs,
            trainer_options=trainer_options,
            max_minutes=limits.max_minutes,
            patience=limits.patience,
        )
        options: dict[str, Any] = {"stop": stop, "emit": console.emit, "level": args.level}
        if args.parametric:
            result = train_parametric(args.capture_dir, recipe, out=args.out, **options)
        else:
            result = train_snapshots(args.capture_dir, recipe, **options)
    report = result.report
    if args.json:
        console.print_json({**report, "report_path": str(result.report_path)})
        return 0
    if result.kind == "parametric":
        print(f"Model: {report['model_path']}")
        print(
            f"  test (held-out settings, unseen audio): worst ESR {report['esr_worst']:.4f}, "
            f"median {report['esr_median']:.4f}, pooled {report['esr_pooled']:.4f} "
            f"({report['verdict']})"
        )
        if report.get("esr_selection") is not None:
            print(
                f"  checkpoint chosen on the training settings' unseen audio: pooled ESR "
                f"{report['esr_selection']:.4f}"
            )
        if report.get("nearest_esr_median") is not None:
            print(
                f"  nearest captured setting as the model (the closest snapshot at best): "
                f"worst ESR {report['nearest_esr_worst']:.4f}, median "
                f"{report['nearest_esr_median']:.4f}"
            )
        print(f"  training stopped {say(_stop_phrase(report['training']))}")
        _print_scores(report["holdout"])
        print(f"  plot: {report['plot']}")
        print(f"  players: {report['player_note']} (station snapshot MODEL name=value ...)")
    else:
        print(f"{len(report['snapshots'])} snapshot(s):")
        for r in report["snapshots"]:
            print(f"  {r['model_path']}  ESR {r['validation_esr']:.4f}  {r['setting']}")
        if report.get("player_note"):
            print(f"  players: {report['player_note']}")
    for r in report["excluded"]:
        print(f"  left out {r['id']} ({r['role']}): {r['reason']}")
    levels = report.get("levels_dbu") or []
    of_levels = (
        f" (one of the session's levels {dbu_list(levels)}; train the others with --level)"
        if len(levels) > 1
        else ""
    )
    print(
        f"  calibrated: input {report['input_level_dbu']:g} dBu, output "
        f"{report['output_level_dbu']:.2f} dBu{of_levels}"
    )
    print(f"  report: {result.report_path}")
    return 0


def model_level(model: Path) -> float | None:
    """The input level a model says it was made at, or None (uncalibrated)."""
    from ..models.namfile import read_model

    model_file = read_model(Path(model))
    return float(model_file.metadata["input_level_dbu"]) if model_file.calibrated else None


def snapshot_setting(model: Path, sweep: Sweep) -> Setting | None:
    """The setting a snapshot model was trained on, when the session's snapshot report lists it."""
    target = Path(model).resolve()
    for report in sorted(sweep.path.glob("models/snapshots*.json")):
        try:
            rows = json.loads(report.read_text(encoding="utf-8")).get("snapshots") or []
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            continue  # a damaged report: judge the model as any standard one
        for row in rows:
            if isinstance(row, dict) and Path(str(row.get("model_path"))).resolve() == target:
                return next((s for s in sweep.settings if s.id == row.get("id")), None)
    return None


def run_sweep_verify(args: argparse.Namespace) -> int:
    """Score a model at every held-out setting of a session (its knobs from the session);
    a snapshot the session made is judged at its own setting."""
    sweep = load_sweep(Path(args.session), args.level, default_level=model_level(args.model))
    for text in sweep.warnings:
        print(f"warning: {text}", file=sys.stderr)
    own = snapshot_setting(args.model, sweep)
    if own is not None and own.excluded is not None:
        own = None  # its capture is not usable any more: judge it on the held-out settings
    settings = [own] if own is not None else sweep.used("holdout")
    if not settings:
        raise StationError(f"{sweep.name} has no usable held-out setting", "plan with --holdout K")
    where = (
        f"its own setting {own.id}" if own is not None else f"{len(settings)} held-out setting(s)"
    )
    console.emit(Step("verify", f"Running {args.model} at {where}"))
    scores = score_settings(args.model, sweep, settings, whole=True)
    out: dict[str, Any] = {
        "model": str(args.model),
        "session": str(sweep.path),
        "parametric": is_parametric(args.model),
        "snapshot_of": own.id if own is not None else None,
        "settings": [s.to_json() for s in scores],
        **summary(scores),
    }
    if args.json:
        console.print_json(out)
        return 0
    if own is not None:
        kind = f"the snapshot of {own.id} ({own.label()})"
    elif out["parametric"]:
        kind = "knob-conditioned"
    else:
        kind = "standard (the same for every setting)"
    print(f"{args.model}: {kind}, against the gear at {where}")
    _print_scores(out["settings"])
    if own is not None:
        what = "at its own setting, on the stretch of signal it did not train on"
    elif out["parametric"]:
        what = "test: settings and audio that took no part in training or checkpoint choice"
    else:
        what = "held-out settings, on the stretch of signal no setting trained on"
    print(
        f"  worst ESR {out['esr_worst']:.4f}, median {out['esr_median']:.4f}, "
        f"pooled {out['esr_pooled']:.4f} ({what})"
    )
    return 0
