"""Training from a sweep session: one knob-conditioned model, or one snapshot per setting.

Both write `<session>/models/`: `parametric.nam` or `snapshots/<id>.nam`, and a
report (`parametric-report.json` + `.png` beside the model, also where `out` puts it, or
`snapshots.json`). The captures
are already aligned by the latency the station measured for each take, so
NAM's `delay` is 0 for every entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import StationError, Stopped
from ...events import (
    BatchProgress,
    Emit,
    EpochProgress,
    Event,
    Progress,
    Step,
    StopFlag,
    Warning_,
    ignore,
)
from ...fsutil import new_folder, write_json
from ...phrases import Phrase
from ...plan.trainable import MIN_HOLDOUT, MIN_TRAIN
from ...reamp import files as reamp
from ...signal.levels import dbu_list
from .. import players
from ..nam_lib import check_trainer_options, require_nam
from ..namfile import fields_from_capture, read_model, tag_model
from ..stopping import DEFAULT_PATIENCE, Limits, TrainingLog, clock, trainer_hooks
from ..train import esr_verdict, fitted_data, install_model, learning_config, split_ranges
from .session import Sweep, load_sweep, sweep_levels
from .verify import (
    SettingScore,
    nearest_captures,
    nearest_summary,
    score_settings,
    stretches,
    summary,
)

# "classic" is NAM's classic WaveNet layout, whose snapshots the plugin's v0.7.13 loads.
SIZES = ("compact", "standard", "lite", "feather", "nano", "tiny", "classic")
DEFAULT_SIZE = "compact"  # within a fifth of NAM's standard WaveNet's CPU (see nam_ext)
SNAPSHOT_DEFAULT_SIZE = "standard"  # one NAM standard model per setting, as `station train`


@dataclass
class SweepModels:
    """What a sweep training made, and the report that judges it."""

    kind: str  # "parametric" | "snapshots"
    models: list[Path]
    report_path: Path
    report: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _open(session: Path, emit: Emit, level: float | None) -> Sweep:
    sweep = load_sweep(session, level)
    for text in sweep.warnings:
        emit(Warning_(text))
    if sweep.multi_level:
        emit(
            Step(
                "level",
                f"Using the {sweep.input_level_dbu:g} dBu captures of {sweep.name} "
                f"(levels {dbu_list(sweep.levels_dbu)}; "
                f"{sweep.other_levels} setting(s) at other levels not used)",
            )
        )
    return sweep


def _levels_json(sweep: Sweep) -> dict[str, Any]:
    return {"levels_dbu": sweep.levels_dbu, "other_level_settings": sweep.other_levels}


def _check_request(architecture: str, limits: Limits) -> None:
    if architecture not in SIZES:
        raise StationError(
            f"unknown architecture {architecture!r}", f"choose one of {', '.join(SIZES)}"
        )
    limits.check()


def _excluded_json(sweep: Sweep) -> list[dict[str, Any]]:
    return [{"id": s.id, "role": s.role, "reason": s.excluded} for s in sweep.excluded]


def data_config(sweep: Sweep, ny: int) -> dict[str, Any]:
    """NAM's old parametric data layout for the usable settings.

    NAM keeps the checkpoint with the best validation loss, so validation is what chooses
    the model: it is the training settings on the first half of the stretch of signal no
    setting trains on (unseen audio, seen settings). The held-out settings stay out of
    training and of that choice, and so does the stretch's second half; the report's
    test is the held-out settings there (unseen settings and unseen audio).
    """
    info = reamp.recognise(sweep.x_path)
    train_range, val_range = split_ranges(info)
    selection = stretches(info)[0]
    val_range = {**val_range, "start_samples": selection[0], "stop_samples": selection[1]}

    def entry(s: Any, extra: dict[str, Any]) -> dict[str, Any]:
        # y_scale: every capture at the sweep's one output level (session._common_output)
        y = {"y_path": str(s.folder / "output.wav"), "y_scale": s.y_scale}
        return {**y, "params": sweep.encoded(s), **extra}

    return {
        "type": "parametric",
        "common": {"x_path": str(sweep.x_path), "delay": 0, "allow_unequal_lengths": True},
        "train": [entry(s, {"ny": ny, **train_range}) for s in sweep.used("train")],
        "validation": [entry(s, {"ny": None, **val_range}) for s in sweep.used("train")],
    }


@dataclass(frozen=True)
class Recipe:
    """How to train: the model's size, how long, the slice length and batch, Lightning's options.

    Training ends at whichever limit comes first (stopping.Limits): `epochs`, `steps`,
    `max_minutes`, or `patience` validations without a lower selection loss. `seed` sets
    torch's starting weights and batch order, so a recipe trains the same model whatever
    ran before it in the process. `overrides` are NAM model.json keys merged over the
    size's own (loss, optimizer, lr_scheduler; a "net" replaces its layer arrays).
    """

    architecture: str | None = None  # a size of nam_ext.SIZES; None: the kind's default
    epochs: int = 100
    ny: int = 8192  # output samples per training example
    batch_size: int = 16
    trainer_options: dict[str, Any] | None = None  # Lightning's accelerator, devices, ...
    seed: int = 0
    max_minutes: float | None = None
    patience: int | None = DEFAULT_PATIENCE
    steps: int | None = None
    validate_every: int | None = None  # steps between validations (None: every epoch)
    overrides: dict[str, Any] | None = None

    @property
    def limits(self) -> Limits:
        """When training stops."""
        return Limits(
            self.epochs, self.max_minutes, self.patience, self.steps, self.validate_every
        )


def parametric_refusal(sweep: Sweep) -> StationError | None:
    """Why a parametric model cannot be trained on the sweep's usable settings (fewer than
    two training settings, or none held out), or None when it can."""
    train, holdout = sweep.used("train"), sweep.used("holdout")
    if len(train) < MIN_TRAIN:
        return StationError(
            f"{sweep.name} has {len(train)} usable training setting(s); a parametric model "
            "needs at least two",
            Phrase(
                "capture more settings ({sweep_resume}), or train {snapshots}", session=sweep.name
            ),
        )
    if len(holdout) < MIN_HOLDOUT:
        return StationError(
            f"{sweep.name} has no usable held-out setting to validate on",
            Phrase(
                "plan the sweep with {holdout_some} so the model is judged on settings it never "
                "saw, or train {snapshots}"
            ),
        )
    return None


def why_no_parametric(session: Path) -> StationError | None:
    """Why no reamp level of the session's usable settings can give a parametric model (the
    lowest level's reason), or None when one can."""
    try:
        levels: list[float | None] = list(sweep_levels(Path(session))) or [None]
    except StationError as exc:
        return exc
    first: StationError | None = None
    for level in levels:
        try:
            refusal = parametric_refusal(load_sweep(Path(session), level))
        except StationError as exc:
            refusal = exc
        if refusal is None:
            return None
        first = first or refusal
    return first


def train_parametric(
    session: Path,
    recipe: Recipe = Recipe(),
    *,
    out: Path | None = None,
    level: float | None = None,
    stop: StopFlag | None = None,
    emit: Emit = ignore,
) -> SweepModels:
    """Train one model conditioned on the session's knobs; export, tag and judge it.

    `level` (dBu) picks one reamp level out of a multi-level session.

    Raises StationError for a session it cannot learn from (fewer than two
    training settings, no holdout, clashing knob names) and Stopped when a
    stop was asked for before the first epoch ended.
    """
    architecture, epochs = recipe.architecture or DEFAULT_SIZE, recipe.epochs
    recipe = dataclasses.replace(recipe, architecture=architecture)  # the report names it
    _check_request(architecture, recipe.limits)
    sweep = _open(Path(session), emit, level)
    refusal = parametric_refusal(sweep)
    if refusal is not None:
        raise refusal
    train, holdout = sweep.used("train"), sweep.used("holdout")
    work = sweep.path / "training" / dt.datetime.now().strftime("%Y%m%d-%H%M%S-parametric")
    emit(
        Step(
            "train",
            f"Training a {architecture} conditioned WaveNet on {len(train)} settings, "
            f"{epochs} epoch(s); the checkpoint is chosen on their held-out audio, and "
            f"{len(holdout)} held-out setting{'s' * (len(holdout) != 1)} are kept for the test",
        )
    )
    model_file, log = fit(sweep, recipe, work, stop=stop, emit=emit)
    models = sweep.path / "models"
    models.mkdir(exist_ok=True)
    target = Path(out) if out is not None else models / f"parametric{sweep.level_tag}.nam"
    fields = _fields(sweep)
    fields["name"] = (
        f"{sweep.name}{sweep.level_tag} (parametric: {', '.join(p.name for p in sweep.specs)})"
    )
    tag_model(model_file, fields)
    install_model(model_file, target, emit)
    emit(Step("judge", f"Scoring the model at {len(holdout)} held-out and {len(train)} "
                       "training settings"))  # fmt: skip
    scores = score_settings(target, sweep, holdout)
    seen = score_settings(target, sweep, train, stretch="selection")
    report = _parametric_report(sweep, target, recipe, scores, seen, log)
    # Beside the model it judges: a model written elsewhere (--out) must not replace the
    # report of the session's own model.
    report_path = target.with_name(f"{target.stem}-report.json")
    from .report import write_plot

    plot = write_plot(target.with_name(f"{target.stem}-report.png"), sweep, scores, seen)
    report["plot"] = str(plot)
    write_json(report_path, report)
    return SweepModels("parametric", [target], report_path, report, list(sweep.warnings))


def fit(
    sweep: Sweep,
    recipe: Recipe,
    work: Path,
    *,
    stop: StopFlag | None = None,
    emit: Emit = ignore,
) -> tuple[Path, TrainingLog]:
    """Train one conditioned model on the sweep's usable training settings in the new
    folder `work` (NAM's checkpoints and its `model.nam` go there); the exported file and
    the log of what ended training.

    StationError when NAM or the trainer options are missing or the trainer exports
    nothing; Stopped when a stop was asked for before anything could be exported.
    """
    architecture = recipe.architecture or DEFAULT_SIZE
    _check_request(architecture, recipe.limits)
    require_nam()
    check_trainer_options(recipe.trainer_options)
    from . import nam_ext

    nam_ext.register()
    import nam.train.full as full

    work = new_folder(work)
    model_config = nam_ext.model_config(architecture, sweep.parametric_block(), recipe.overrides)
    seed_everything(recipe.seed)
    with (
        contextlib.redirect_stdout(sys.stderr),
        trainer_hooks(full, "_create_callbacks", recipe.limits, emit, stop) as log,
        fitted_data(full, emit),
    ):
        full.main(
            data_config(sweep, recipe.ny),
            model_config,
            learning_config(recipe.limits, recipe.trainer_options, recipe.batch_size),
            work,
            no_show=True,
            make_plots=False,  # NAM's plots call the net with audio only
        )
    model_file = work / "model.nam"
    if not model_file.is_file():
        if stop is not None and stop.is_set():
            raise Stopped()
        raise StationError("the trainer finished without exporting a model", f"see {work}")
    return model_file, log


def _fields(sweep: Sweep) -> dict[str, Any]:
    fields = fields_from_capture(sweep.used("train")[0].meta if sweep.used("train") else {})
    fields.update(input_level_dbu=sweep.input_level_dbu, output_level_dbu=sweep.output_level_dbu)
    return fields


def snapshot_file_name(setting_id: str, label: str) -> str:
    """`s003_drive-5_tone-3.5_boost-on.nam`: a snapshot named after its setting (the id keeps
    two settings of one label apart), in characters every file system takes."""
    words = [w.replace("=", "-") for w in label.split()]
    stem = "_".join([setting_id, *words])
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem) + ".nam"


def seed_everything(seed: int) -> None:
    """Seed torch (starting weights, batch order), numpy and Python's random for one training."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _parametric_report(
    sweep: Sweep,
    target: Path,
    recipe: Recipe,
    scores: list[SettingScore],
    seen: list[SettingScore],
    log: TrainingLog,
) -> dict[str, Any]:
    worst = summary(scores)
    nearest = nearest_captures(sweep, sweep.used("holdout"), sweep.used("train"))
    by_id = {r["id"]: r for r in nearest}
    return {
        "kind": "parametric",
        "session": str(sweep.path),
        "model_path": str(target.resolve()),
        "architecture": recipe.architecture,
        "epochs": recipe.epochs,
        "seed": recipe.seed,
        "training": log.to_json(),
        "stopped_early": log.stopped_by == "user_stop",
        "input_level_dbu": sweep.input_level_dbu,
        "output_level_dbu": sweep.output_level_dbu,
        **_levels_json(sweep),
        "controls": sweep.parametric_block(),
        "player_note": players.note(read_model(target).data),
        "holdout": [
            {
                **s.to_json(),
                "nearest_capture": by_id[s.id]["nearest"],
                "nearest_esr": by_id[s.id]["esr"],
            }
            for s in scores
        ],
        # Which figure is which: the test never took part in training or in choosing the
        # checkpoint; the selection figure is the data that chose it.
        "test": "held-out settings on the second half of the held-out stretch of the signal: "
        "unseen settings, unseen audio",
        "selection": "training settings on the first half of the held-out stretch: the "
        "checkpoint kept is the one with the least error there",
        "nearest": "per held-out setting, the capture of the nearest training setting (same "
        "switches, knobs scaled to their ranges) against its own capture, on the test audio: "
        "what the closest snapshot gives at best",
        "esr_selection": summary(seen)["esr_pooled"],
        **worst,
        **nearest_summary(nearest),
        "verdict": esr_verdict(worst["esr_worst"]) if worst["esr_worst"] is not None else None,
        "train": [s.to_json() for s in seen],
        "excluded": _excluded_json(sweep),
        "warnings": list(sweep.warnings),
        "trained": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def in_bank(emit: Emit, model: int, models: int, started: float) -> Emit:
    """Epoch reports of model `model` of `models`, with the fraction and time left of the bank."""

    def bank(event: Event) -> None:
        if isinstance(event, EpochProgress | BatchProgress) and event.epochs:
            own = event.fraction if event.fraction is not None else event.epoch / event.epochs
            done = (model - 1 + own) / models
            elapsed = time.monotonic() - started
            remaining = elapsed / done * (1 - done) if done > 0 else None
            left = f", {clock(remaining)} left in all" if remaining is not None else ""
            event = dataclasses.replace(
                event,
                fraction=done,
                message=f"model {model}/{models}: {event.message}{left}",
                elapsed_s=elapsed,
                remaining_s=remaining,
                model=model,
                models=models,
            )
        elif isinstance(event, Progress):
            event = dataclasses.replace(event, message=f"model {model}/{models}: {event.message}")
        emit(event)

    return bank


def train_snapshots(
    session: Path,
    recipe: Recipe = Recipe(),
    *,
    level: float | None = None,
    stop: StopFlag | None = None,
    emit: Emit = ignore,
) -> SweepModels:
    """Train one standard model per usable setting, each named after its knob values.

    `level` (dBu) picks one reamp level out of a multi-level session; the
    recipe's `ny` and `batch_size` are the standard trainer's own.
    """
    architecture, epochs, trainer_options = (
        recipe.architecture or SNAPSHOT_DEFAULT_SIZE,
        recipe.epochs,
        recipe.trainer_options,
    )
    from ..train import ARCHITECTURES, train_capture

    if architecture not in ARCHITECTURES:
        sizes = ", ".join(ARCHITECTURES)
        raise StationError(
            f"snapshots come in {sizes} sizes, not {architecture!r}"
            if architecture in SIZES
            else f"unknown architecture {architecture!r}",
            Phrase("choose one of {sizes} ('tiny' is for {tiny_for})", sizes=sizes),
        )
    _check_request(architecture, recipe.limits)
    sweep = _open(Path(session), emit, level)
    settings = sweep.used("train") + sweep.used("holdout")
    require_nam()
    check_trainer_options(trainer_options)
    folder = sweep.path / "models" / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    models: list[Path] = []
    started = time.monotonic()
    for i, s in enumerate(settings):
        if stop is not None and stop.is_set():
            emit(Warning_(f"stopped: {len(settings) - i} setting(s) not trained"))
            break
        emit(Step("snapshot", f"Snapshot {i + 1}/{len(settings)}: {s.id} ({s.label()})"))
        name = f"{sweep.name} {s.label()}" + (
            f" at {sweep.input_level_dbu:g} dBu" if sweep.multi_level else ""
        )
        result = train_capture(
            s.folder,
            architecture=architecture,
            epochs=epochs,
            out=folder / snapshot_file_name(s.id, s.label()),
            emit=in_bank(emit, i + 1, len(settings), started),
            trainer_options=trainer_options,
            stop=stop,
            name=name,
            max_minutes=recipe.max_minutes,  # each snapshot's own limit
            patience=recipe.patience,
        )
        models.append(result.model_path)
        rows.append(
            {
                "id": s.id,
                "role": s.role,
                "setting": s.label(),
                "knobs": s.knobs,
                "switches": s.switches,
                "model_path": str(result.model_path.resolve()),
                # each snapshot carries its own capture's output level, as any capture's model
                "output_level_dbu": s.meta.get("output_level_dbu"),
                "name": name,
                "validation_esr": result.validation_esr,
                "verdict": result.verdict,
                "training": result.training.to_json() if result.training else None,
            }
        )
    report = {
        "kind": "snapshots",
        "session": str(sweep.path),
        "architecture": architecture,
        "epochs": epochs,
        "input_level_dbu": sweep.input_level_dbu,
        "output_level_dbu": sweep.output_level_dbu,
        **_levels_json(sweep),
        "snapshots": rows,
        "player_note": players.note(read_model(models[0]).data) if models else None,
        "stopped_early": bool(stop is not None and stop.is_set()),
        "excluded": _excluded_json(sweep),
        "warnings": list(sweep.warnings),
        "trained": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    report_path = sweep.path / "models" / f"snapshots{sweep.level_tag}.json"
    write_json(report_path, report)
    return SweepModels("snapshots", models, report_path, report, list(sweep.warnings))
