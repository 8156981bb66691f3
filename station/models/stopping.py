"""How long training runs and what ended it: epochs, steps, a time limit, patience, a stop.

NAM builds its Lightning trainer inside its entry points; wrapping the function that
makes the trainer's callback list is the one place to add the station's own: a report
after each validation, Lightning's Timer (what its `max_time` option adds) for a time
limit, Lightning's EarlyStopping on the selection loss (the `val_loss` NAM's checkpoint
keeps the least of) and a log of what ended training. However training ends, NAM then
exports the checkpoint with the least selection loss so far.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import StationError
from ..events import BatchProgress, Emit, EpochProgress, Progress, StopFlag
from ..phrases import Phrase

# Validations without a better selection loss before training stops, by default.
DEFAULT_PATIENCE = 20
BATCH_REPORT_S = 0.25  # at most four reports a second from inside an epoch
STOP_REASONS = ("epochs", "steps", "max_minutes", "no_improvement", "user_stop")


@dataclass(frozen=True)
class Limits:
    """When training stops: whichever of these comes first.

    `patience`: validations in a row without a lower selection loss (None or 0: never
    stop for that). `steps`: optimiser steps (None: by epochs). `validate_every`: steps
    between validations (None: after each epoch), so that runs of different epoch
    lengths are judged after the same steps.
    """

    epochs: int = 100
    max_minutes: float | None = None
    patience: int | None = DEFAULT_PATIENCE
    steps: int | None = None
    validate_every: int | None = None

    def check(self) -> None:
        """StationError (in one line, naming the setting) for a limit that cannot be."""
        if self.epochs < 1:
            raise StationError(Phrase("{epochs} must be at least 1"))
        if self.max_minutes is not None and not (
            math.isfinite(self.max_minutes) and self.max_minutes > 0
        ):
            raise StationError(
                Phrase("{max_minutes} must be a positive number of minutes"),
                Phrase("e.g. {max_minutes} 30, or leave it out for no time limit"),
            )
        if self.patience is not None and self.patience < 0:
            raise StationError(
                Phrase("{patience} cannot be negative"),
                Phrase("0 never stops early; e.g. {patience} 20"),
            )
        for name, value in (("steps", self.steps), ("validate_every", self.validate_every)):
            if value is not None and value < 1:
                raise StationError(f"{name} must be at least 1")

    def trainer_options(self) -> dict[str, Any]:
        """Lightning's trainer options for the epochs, steps and validation interval."""
        out: dict[str, Any] = {"max_epochs": self.epochs}
        if self.steps is not None:
            out["max_steps"] = self.steps
        if self.validate_every is not None:
            # Validation every N steps, across epoch ends (NAM then checkpoints every N too).
            out.update(val_check_interval=self.validate_every, check_val_every_n_epoch=None)
        return out


@dataclass
class TrainingLog:
    """What training did: epochs and steps, validations, the checkpoint kept, and why it ended."""

    epochs_done: int = 0
    steps_done: int = 0
    validations: int = 0
    best_step: int | None = None  # the step of the checkpoint NAM keeps
    best_selection_loss: float | None = None
    stopped_by: str = ""  # one of STOP_REASONS
    minutes: float = 0.0
    limits: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The report's `training` block; `stopped` says it in words."""
        return {**asdict(self), "stopped": str(self.stop_phrase())}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingLog:
        """The log a report's `training` block holds."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def stop_phrase(self) -> Phrase:
        """What ended training, in words each face fills (the settings it names)."""
        limits = self.limits or {}
        done = f"after {self.epochs_done} epoch(s), {self.steps_done} steps"
        if self.stopped_by == "steps":
            return Phrase("{done}: the steps asked for", done=done)
        if self.stopped_by == "max_minutes":
            minutes = f"{limits.get('max_minutes') or 0:g}"
            return Phrase(
                "{done}: the time limit ({max_minutes} {minutes})", done=done, minutes=minutes
            )
        if self.stopped_by == "no_improvement":
            count = limits.get("patience") or 0
            return Phrase(
                "{done}: no improvement of the selection loss in {count} validation(s) "
                "({patience} {count})",
                done=done,
                count=count,
            )
        if self.stopped_by == "user_stop":
            return Phrase("{done}: stopped by the user", done=done)
        return Phrase(
            "{done}: every epoch asked for ({epochs} {count})",
            done=done,
            count=limits.get("epochs") or self.epochs_done,
        )


def best_step_of(path: str) -> int | None:
    """The step in a checkpoint file name NAM's ModelCheckpoint wrote (`..._step=120_...`)."""
    found = re.search(r"step=(\d+)", path or "")
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def trainer_hooks(
    module: Any,
    attr: str,
    limits: Limits,
    emit: Emit,
    stop: StopFlag | None = None,
) -> Iterator[TrainingLog]:
    """Add the station's callbacks to what `module.attr` builds; yields the log it fills.

    A stop request ends training at the next validation (after the current epoch when
    validating per epoch); the time limit and patience end it as Lightning's Timer and
    EarlyStopping do.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping, Timer

    log = TrainingLog(limits=asdict(limits))
    epochs = limits.epochs
    started = time.monotonic()
    timer = (
        Timer(duration={"seconds": limits.max_minutes * 60.0}, interval="step")
        if limits.max_minutes
        else None
    )
    patience = (
        EarlyStopping(
            monitor="val_loss",
            mode="min",
            patience=limits.patience,
            check_on_train_epoch_end=False,  # check after each validation, whenever it runs
        )
        if limits.patience
        else None
    )

    class Report(pl.Callback):
        best: float | None = None
        last: float | None = None  # the ESR at the last validation
        training_since: float | None = None  # when epoch 1 began: batches are paced from it
        reported = -math.inf  # when the last batch was reported

        def on_train_epoch_start(self, trainer: Any, _module: Any) -> None:
            if trainer.current_epoch == 0:
                self.training_since = time.monotonic()
                emit(Progress(0.0, f"epoch 1/{epochs} running; time left shows after it"))

        def on_train_batch_end(
            self, trainer: Any, _module: Any, _outputs: Any, _batch: Any, batch_idx: int
        ) -> None:
            # An epoch of NAM's standard file takes minutes on a CPU: a stop is heard after
            # the batch (Lightning ends the epoch there), and progress is reported inside it.
            if stop is not None and stop.is_set():
                trainer.should_stop = True
            now = time.monotonic()
            batches = trainer.num_training_batches
            if now - self.reported < BATCH_REPORT_S or not (
                isinstance(batches, int) and batches > 0
            ):
                return
            self.reported = now
            epoch, batch = trainer.current_epoch + 1, min(batch_idx + 1, batches)
            pace_s = now - (self.training_since or started)
            fraction = _fraction(trainer, limits, pace_s, within=(batch, batches))
            remaining = pace_s / fraction * (1 - fraction) if fraction > 0 else None
            left = f", about {clock(remaining)} left" if remaining is not None else ""
            so_far = "" if self.last is None else f", ESR {self.last:.4g} so far"
            emit(
                BatchProgress(
                    fraction,
                    f"epoch {epoch}/{epochs}: batch {batch}/{batches}{so_far}{left}",
                    now - started,
                    remaining,
                    epoch=epoch,
                    epochs=epochs,
                    batch=batch,
                    batches=batches,
                )
            )

        def on_train_epoch_end(self, trainer: Any, _module: Any) -> None:
            if stop is not None and stop.is_set():
                trainer.should_stop = True

        def on_validation_epoch_end(self, trainer: Any, _module: Any) -> None:
            if trainer.sanity_checking:
                return
            log.validations += 1
            if stop is not None and stop.is_set():
                trainer.should_stop = True
            m = trainer.callback_metrics
            elapsed = time.monotonic() - started
            fraction = _fraction(trainer, limits, elapsed)
            remaining = elapsed / fraction * (1 - fraction) if fraction > 0 else None
            esr = float(m["ESR"]) if "ESR" in m else None
            self.last = esr
            if esr is not None and (self.best is None or esr < self.best):
                self.best = esr
            done = trainer.current_epoch + 1
            parts = [f"epoch {done}/{epochs}"]
            if limits.validate_every is not None:
                parts = [f"step {trainer.global_step}/{limits.steps or '?'}"]
            for key in ("train_loss", "val_loss", "ESR"):
                if key in m:
                    parts.append(f"{key} {float(m[key]):.4g}")
            if remaining is not None:
                parts.append(f"{clock(remaining)} left")
            emit(
                EpochProgress(
                    min(1.0, fraction),
                    ", ".join(parts),
                    elapsed,
                    remaining,
                    epoch=done,
                    epochs=epochs,
                    esr=esr,
                    best_esr=self.best,
                )
            )

        def on_train_end(self, trainer: Any, _module: Any) -> None:
            log.epochs_done = trainer.current_epoch
            log.steps_done = trainer.global_step
            log.minutes = (time.monotonic() - started) / 60
            callback = trainer.checkpoint_callback
            if callback is not None and callback.best_model_path:
                log.best_step = best_step_of(callback.best_model_path)
                score = callback.best_model_score
                log.best_selection_loss = float(score) if score is not None else None
            log.stopped_by = _reason(trainer, limits, stop, timer, patience)

    original = getattr(module, attr)

    def with_hooks(*args: Any, **kwargs: Any) -> list[Any]:
        extra = [c for c in (timer, patience) if c is not None]
        return [*original(*args, **kwargs), *extra, Report()]

    with replaced(module, **{attr: with_hooks}), quiet_trainer():
        yield log


LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning", "lightning_fabric")


@contextlib.contextmanager
def quiet_trainer() -> Iterator[None]:
    """Lightning's and NAM's own chatter off for the block: Lightning's info lines (the
    devices, a logging tip, why fit stopped), NAM's 'Loading data' bars, libraries'
    deprecation notices. The station's progress lines say what matters; Lightning's
    warnings and errors still show."""
    import warnings

    import nam.data

    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        with warnings.catch_warnings(), replaced(nam.data, _tqdm=lambda items, **_kw: items):
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _fraction(
    trainer: Any, limits: Limits, elapsed_s: float, within: tuple[int, int] | None = None
) -> float:
    """How far training is: the furthest of epochs, steps and the time limit; `within`
    (batch, batches) places it inside the current epoch instead of at its end."""
    epochs_done = trainer.current_epoch + (within[0] / within[1] if within else 1)
    done = [epochs_done / limits.epochs]
    if limits.validate_every is not None:
        per = max(1, int(trainer.num_training_batches or 1))
        done = [trainer.global_step / (per * limits.epochs)]
    if limits.steps:
        done.append(trainer.global_step / limits.steps)
    if limits.max_minutes:
        done.append(elapsed_s / (limits.max_minutes * 60))
    return max(0.0, min(1.0, max(done)))


def _reason(trainer: Any, limits: Limits, stop: StopFlag | None, timer: Any, patience: Any) -> str:
    if stop is not None and stop.is_set():
        return "user_stop"
    left = timer.time_remaining("train") if timer is not None else None
    if left is not None and left <= 0:
        return "max_minutes"
    if patience is not None and patience.wait_count >= patience.patience:
        return "no_improvement"
    if limits.steps is not None and trainer.global_step >= limits.steps:
        return "steps"
    return "epochs"


def clock(seconds: float) -> str:
    """`1:05` or `1:02:03`: a duration as a clock shows it."""
    m, s = divmod(round(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


@contextlib.contextmanager
def replaced(module: Any, **names: Any) -> Iterator[None]:
    """Swap `module`'s attributes for the block (NAM's trainer looks them up when it runs)."""
    originals = {name: getattr(module, name) for name in names}
    for name, value in names.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(module, name, value)
