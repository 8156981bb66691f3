"""Training a calibrated model from a capture with neural-amp-modeler (the `train` extra).

NAM's v3 file goes through the library's standard entry point (its own checks and
latency); the station's own signal goes through the configurable path with the
station's layout and no further delay, since output.wav is already aligned.
Either way the exported .nam is tagged with the capture's calibration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..capture.folder import read_capture_meta
from ..errors import StationError
from ..events import Emit, Step, StopFlag, Warning_, ignore
from ..fsutil import new_folder, write_json
from ..phrases import Phrase
from ..reamp import files as reamp
from .nam_lib import check_trainer_options, require_nam
from .namfile import fields_from_capture, tag_model
from .stopping import DEFAULT_PATIENCE, Limits, TrainingLog, replaced, trainer_hooks
from .stopping import clock as clock  # the faces show durations with it

ARCHITECTURES = {"standard": 16, "lite": 12, "feather": 8, "nano": 4}  # WaveNet channels
ESR_VERDICTS = ((0.01, "excellent"), (0.035, "good"), (0.1, "fair: audible differences likely"))


@dataclass(frozen=True)
class TrainResult:
    """Where the model went and how well it learned the gear."""

    model_path: Path
    validation_esr: float
    path_used: str  # "nam-standard" or "nam-configurable"
    verdict: str
    training: TrainingLog | None = None  # epochs, steps and what ended training


def esr_verdict(esr: float) -> str:
    """The trainer-style words for a validation ESR."""
    for limit, words in ESR_VERDICTS:
        if esr <= limit:
            return words
    return "poor: check the capture, or train longer"


def _model_config(architecture: str) -> dict[str, Any]:
    template = json.loads(
        resources.files("nam.train._resources").joinpath("config_model_packed.json").read_text()
    )
    layer = dict(template["net"]["config"]["submodels"][0]["config"]["layers_configs"][0])
    layer["channels"] = ARCHITECTURES[architecture]
    net = {"name": "WaveNet", "config": {"layers_configs": [layer], "head_scale": 0.02}}
    return {"net": net, **{k: v for k, v in template.items() if k != "net"}}


def split_ranges(info: reamp.ReampInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where training and validation read a capture: NAM's v3 split, else the last 20 %."""
    if info.layout is not None:
        lay = info.layout
        start, stop = lay.train_span
        train: dict[str, Any] = {"start_samples": start, "stop_samples": stop}
        validation: dict[str, Any] = {
            "start_samples": lay.validation_2[0],
            "stop_samples": lay.validation_2[1],
        }
    else:
        split = int(info.frames * 0.8)
        train = {"stop_samples": split}
        validation = {"start_samples": split, "require_input_pre_silence": None}
    return train, validation


def _data_config(folder: Path, info: reamp.ReampInfo, ny: int) -> dict[str, Any]:
    common = {
        "x_path": str(folder / "input.wav"),
        "y_path": str(folder / "output.wav"),
        "delay": 0,
        "allow_unequal_lengths": True,
    }
    train, validation = split_ranges(info)
    return {
        "train": {"ny": ny, **train},
        "validation": {"ny": None, **validation},
        "common": common,
        "joint": [
            {"name": "nam.data.normalize_joint_dataset_output", "kwargs": {"level_rms_dbfs": -18.0}}
        ],
    }


def learning_config(
    limits: Limits, trainer_options: dict[str, Any] | None = None, batch_size: int = 16
) -> dict[str, Any]:
    """NAM's learning.json: our loaders, the limits, Lightning's own trainer options passed through.

    `trainer_options` holds Lightning's `accelerator`, `devices` and `strategy` as the
    user gave them; without them Lightning chooses (a GPU when torch sees one).
    """
    return {
        "train_dataloader": {
            "batch_size": batch_size,
            "shuffle": True,
            "pin_memory": False,
            "drop_last": True,
            "num_workers": 0,
        },
        "val_dataloader": {},
        "trainer": {
            **limits.trainer_options(),
            "enable_progress_bar": False,
            "enable_model_summary": False,  # a table of layers: the station says the size
            "logger": False,
            **{k: v for k, v in (trainer_options or {}).items() if v is not None},
        },
    }


@contextlib.contextmanager
def fitted_data(module: Any, emit: Emit) -> Iterator[None]:
    """Training data NAM can learn from, in what `module` builds: clear errors, fitted batches.

    NAM drops an incomplete last batch, so a short custom capture with fewer
    examples than the batch size would train on nothing and still export an
    (untrained) model: the batch shrinks to the examples there are. A recording
    too short for one example fails NAM's dataset asserts: a clear error instead.
    """
    original_loader, original_init = module._DataLoader, module._init_dataset
    too_short = StationError(
        "the training part of the recording is shorter than one training example",
        Phrase("use a longer reamp file (NAM's v3 file, or {signal}, is 3 minutes)"),
    )

    def init_dataset(*args: Any, **kwargs: Any) -> Any:
        try:
            return original_init(*args, **kwargs)
        except AssertionError as exc:  # NAM asserts ny <= len(y) - nx + 1
            raise too_short from exc
        except RuntimeError as exc:
            if "receptive field" not in str(exc):  # e.g. a damaged file: not a length problem
                raise
            raise too_short from exc

    def loader(dataset: Any, **kwargs: Any) -> Any:
        size = int(kwargs.get("batch_size") or 1)
        if kwargs.get("drop_last") and len(dataset) < size:
            if len(dataset) == 0:
                raise too_short
            emit(
                Warning_(
                    f"the training part holds {len(dataset)} example(s): training in batches "
                    f"of {len(dataset)} instead of {size} (a longer reamp file trains better)"
                )
            )
            kwargs["batch_size"] = len(dataset)
        return original_loader(dataset, **kwargs)

    with replaced(module, _DataLoader=loader, _init_dataset=init_dataset):
        yield


def train_capture(
    folder: Path,
    *,
    architecture: str = "standard",
    epochs: int = 100,
    out: Path | None = None,
    ny: int = 8192,
    emit: Emit = ignore,
    trainer_options: dict[str, Any] | None = None,
    stop: StopFlag | None = None,
    name: str | None = None,
    max_minutes: float | None = None,
    patience: int | None = DEFAULT_PATIENCE,
) -> TrainResult:
    """Train on `folder`'s pair and write a calibrated .nam; records it in capture.json.

    `name` goes into the model's metadata. Training ends after `epochs`, after
    `max_minutes`, or after `patience` validations without improvement (stopping.Limits),
    keeping the best checkpoint. A model already at the target is kept as
    `<stem>.previous.nam`, never silently replaced.
    """
    limits = Limits(epochs, max_minutes, patience)
    limits.check()
    require_nam()
    check_trainer_options(trainer_options)
    folder = Path(folder)
    meta_path = folder / "capture.json"
    if not meta_path.is_file():
        raise StationError(
            f"{folder} has no capture.json", "train from a capture folder the station made"
        )
    if architecture not in ARCHITECTURES:
        raise StationError(
            f"unknown architecture {architecture!r}", f"choose one of {', '.join(ARCHITECTURES)}"
        )
    meta = read_capture_meta(folder)
    info = reamp.recognise(folder / "input.wav")
    fields = fields_from_capture(meta)
    work = new_folder(folder / "training" / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    emit(Step("train", f"Training {architecture} for {epochs} epoch(s) on {info.label}"))
    # The library and Lightning print summaries; stdout is for the station's results.
    with contextlib.redirect_stdout(sys.stderr):
        if info.kind == "nam-v3":
            if any(v is not None for v in (trainer_options or {}).values()):
                emit(
                    Warning_(
                        Phrase(
                            "NAM's standard v3 path chooses its own device; ignoring "
                            "{trainer_devices}"
                        )
                    )
                )
            model_file, log = _train_standard(folder, work, limits, fields, emit, stop)
            used = "nam-standard"
        else:
            model_file, log = _train_configurable(
                folder, work, info, architecture, limits, ny, emit, trainer_options, stop
            )
            used = "nam-configurable"
    if name is not None:
        fields = {**fields, "name": name}
    tag_model(model_file, fields)
    target = Path(out) if out is not None else folder / "model.nam"
    install_model(model_file, target, emit)
    from .verify import validation_esr

    esr = validation_esr(target, folder)
    verdict = esr_verdict(esr)
    meta["model"] = {
        "path": str(target.resolve()),
        "validation_esr": esr,
        "verdict": verdict,
        "architecture": architecture if used == "nam-configurable" else "nam-packed",
        "epochs": epochs,
        "training_path": used,
        "training": log.to_json(),
        "trained": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    write_json(meta_path, meta)
    return TrainResult(target, esr, used, verdict, log)


def install_model(source: Path, target: Path, emit: Emit) -> None:
    """Copy a finished model to `target`, keeping one already there as `<stem>.previous.nam`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        previous = target.with_name(f"{target.stem}.previous{target.suffix}")
        os.replace(target, previous)
        emit(Warning_(f"the earlier {target.name} is kept as {previous.name}"))
    shutil.copyfile(source, target)


def _train_configurable(
    folder: Path,
    work: Path,
    info: reamp.ReampInfo,
    architecture: str,
    limits: Limits,
    ny: int,
    emit: Emit,
    trainer_options: dict[str, Any] | None,
    stop: StopFlag | None,
) -> tuple[Path, TrainingLog]:
    import nam.train.full as full

    hooks = trainer_hooks(full, "_create_callbacks", limits, emit, stop)
    with hooks as log, fitted_data(full, emit):
        full.main(
            _data_config(folder, info, ny),
            _model_config(architecture),
            learning_config(limits, trainer_options),
            work,
            no_show=True,
            make_plots=False,
        )
    model_file = work / "model.nam"
    if not model_file.is_file():
        raise StationError("the trainer finished without exporting a model", f"see {work}")
    return model_file, log


def _train_standard(
    folder: Path,
    work: Path,
    limits: Limits,
    fields: dict[str, Any],
    emit: Emit,
    stop: StopFlag | None,
) -> tuple[Path, TrainingLog]:
    import nam.train.core as core
    from nam.models.metadata import UserMetadata

    user = UserMetadata(**{k: v for k, v in fields.items() if v is not None})
    with trainer_hooks(core, "get_callbacks", limits, emit, stop) as log:
        result = core.train(
            str(folder / "input.wav"),
            str(folder / "output.wav"),
            str(work),
            epochs=limits.epochs,
            silent=True,
            user_metadata=user,
        )
    if result is None or result.model is None:
        raise StationError("the NAM trainer refused the capture", Phrase("run {check} on it"))
    result.model.net.export(work, basename="model", user_metadata=user)
    model_file = work / "model.nam"
    if not model_file.is_file():
        raise StationError("the trainer finished without exporting a model", f"see {work}")
    return model_file, log
