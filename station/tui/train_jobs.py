"""The TUI's training jobs: a model from a capture; a parametric model or snapshots from a sweep.

Each job runs a core procedure with the screen's emitter and stop flag, and
says what came of it in a few lines that fit under the progress at 80×24.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ..events import Emit, StopFlag
from ..models.parametric.training import Recipe, SweepModels, train_parametric, train_snapshots
from ..models.stopping import Limits, TrainingLog
from ..models.train import TrainResult, train_capture
from .training import TrainingJob
from .words import say

SHOWN_SETTINGS = 4  # the worst few held-out settings; the rest are in the report


def capture_job(folder: Path, architecture: str, limits: Limits) -> TrainingJob:
    """Train a calibrated model from one capture folder, until `limits` stop it."""
    epochs = limits.epochs

    def run(emit: Emit, stop: StopFlag) -> TrainResult:
        return train_capture(
            folder,
            architecture=architecture,
            epochs=epochs,
            emit=emit,
            stop=stop,
            max_minutes=limits.max_minutes,
            patience=limits.patience,
        )

    def summary(result: TrainResult) -> str:
        stopped = result.training.stop_phrase() if result.training else None
        return (
            f"[green]Model written:[/green] {result.model_path}\n"
            f"Validation ESR [b]{result.validation_esr:.4f}[/b] ({result.verdict})"
            + (f"\nTraining stopped {say(stopped)}" if stopped else "")
        )

    return TrainingJob(
        f"Training a {architecture} model from {folder.name}, {_budget(limits)}",
        run,
        summary,
        lambda result: result.model_path,
    )


def sweep_job(
    session: Path, kind: str, level: float | None, architecture: str, limits: Limits
) -> TrainingJob:
    """Train a parametric model ("parametric") or a bank of snapshots from a sweep session."""
    at = f" at {level:g} dBu" if level is not None else ""
    recipe = Recipe(
        architecture, limits.epochs, max_minutes=limits.max_minutes, patience=limits.patience
    )

    def run(emit: Emit, stop: StopFlag) -> SweepModels:
        train = train_parametric if kind == "parametric" else train_snapshots
        return train(session, recipe, emit=emit, stop=stop, level=level)

    what = "a parametric model" if kind == "parametric" else "snapshots"
    return TrainingJob(
        f"Training {what} ({architecture}) from sweep {session.name}{at}, {_budget(limits)}",
        run,
        parametric_summary if kind == "parametric" else snapshots_summary,
        lambda result: result.models[0] if result.models else None,
    )


def _budget(limits: Limits) -> str:
    """'100 epoch(s)', or '100 epoch(s) or 30 minutes' with a time limit."""
    minutes = f" or {limits.max_minutes:g} minutes" if limits.max_minutes is not None else ""
    return f"{limits.epochs} epoch(s){minutes}"


def _stopped(report: dict[str, Any]) -> str:
    """'Training stopped after 12 epoch(s), 240 steps: the time limit (...)', from a report."""
    training = report.get("training")
    if not training:
        return ""
    return f"Training stopped {say(TrainingLog.from_json(training).stop_phrase())}"


def _left_out(report: dict[str, Any]) -> str:
    gone = report.get("excluded") or []
    if not gone:
        return ""
    return "[yellow]Left out:[/yellow] " + "; ".join(f"{r['id']} ({r['reason']})" for r in gone)


def parametric_summary(result: SweepModels) -> str:
    """Worst and median held-out ESR, the worst settings, what was left out, the plot."""
    r = result.report
    rows = sorted(r["holdout"], key=lambda h: h["esr"], reverse=True)
    lines = [
        f"[green]Parametric model:[/green] {r['model_path']}",
        f"Held-out settings: worst ESR [b]{r['esr_worst']:.4f}[/b], median "
        f"{r['esr_median']:.4f} ({r['verdict']})",
        *(f"  {h['id']:<6} ESR {h['esr']:.4f}  {h['setting']}" for h in rows[:SHOWN_SETTINGS]),
    ]
    if len(rows) > SHOWN_SETTINGS:
        lines.append(f"  … {len(rows) - SHOWN_SETTINGS} more in the report")
    lines += [
        _stopped(r),
        _left_out(r),
        # Beside the model: its name alone keeps a long home's path from taking two lines.
        f"Plot: {Path(r['plot']).name}, beside the model",
        f"[dim]Players: {r.get('player_note')}[/dim]",
    ]
    return "\n".join(line for line in lines if line)


def snapshots_summary(result: SweepModels) -> str:
    """How many snapshots, their worst and median validation ESR, what was left out."""
    r = result.report
    rows = r["snapshots"]
    if not rows:
        return "[yellow]No snapshot was trained.[/yellow]\n" + _left_out(r)
    worst = max(rows, key=lambda s: s["validation_esr"])
    median = statistics.median(s["validation_esr"] for s in rows)
    folder = Path(rows[0]["model_path"]).parent
    lines = [
        f"[green]{len(rows)} snapshot model(s)[/green] in {folder}",
        f"Validation ESR: worst [b]{worst['validation_esr']:.4f}[/b] ({worst['id']}: "
        f"{worst['setting']}), median {median:.4f}",
        _left_out(r),
        f"Report: {result.report_path}",
        f"[dim]Players: {r['player_note']}[/dim]" if r.get("player_note") else "",
    ]
    return "\n".join(line for line in lines if line)
