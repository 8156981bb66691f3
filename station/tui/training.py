"""Training on a screen of its own: epochs (and the batches inside one), ESR so far and time left;
Escape stops after the epoch; the result names the model and the calibration it carries.

NAM trains in Lightning epochs and can only stop between them, so Escape asks
for a stop and the screen says it will come at the end of the current epoch;
NAM then exports the best model so far. The screen stays until the training
has ended (the app will not switch away from a busy screen), then shows what
came of it, whole, at 80×24.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Header, ProgressBar, Static

from ..errors import StationError, Stopped
from ..events import (
    BatchProgress,
    Emit,
    EpochProgress,
    Event,
    Progress,
    Step,
    StopFlag,
    Warning_,
)
from ..models.namfile import model_info, read_model
from ..models.train import clock
from .base import StationScreen
from .bridge import Bridge
from .words import error_text, say

LOG_LINES = 4  # steps and warnings shown under the progress


@dataclass(frozen=True)
class TrainingJob:
    """What to train, and how to say what came of it."""

    title: str
    run: Callable[[Emit, StopFlag], Any]  # runs in a worker thread; returns the result
    summary: Callable[[Any], str]  # the result in a few lines of markup
    model_of: Callable[[Any], Path | None]  # the model to open afterwards, if one


def _which(event: EpochProgress | BatchProgress) -> list[str]:
    parts = [f"Epoch [b]{event.epoch}[/b] of {event.epochs}"]
    if event.models > 1:
        parts.insert(0, f"Model [b]{event.model}[/b] of {event.models}")
    return parts


def _times(event: Progress, about: str = "") -> list[str]:
    parts = [f"{clock(event.elapsed_s)} gone"]
    if event.remaining_s is not None:
        parts.append(f"{about}[b]{clock(event.remaining_s)}[/b] left")
    return parts


def epoch_line(event: EpochProgress) -> str:
    """`Epoch 12 of 100 · ESR 0.0453 (best 0.0311) · 7:40 left`, with the bank's model if any."""
    parts = _which(event)
    if event.esr is not None:
        best = f" (best {event.best_esr:.4f})" if event.best_esr is not None else ""
        parts.append(f"ESR [b]{event.esr:.4f}[/b]{best}")
    return " · ".join(parts + _times(event))


def batch_line(event: BatchProgress, last: EpochProgress | None) -> str:
    """`Epoch 3 of 10, batch 12 of 40 · ESR 0.0453 after epoch 2 · 1:10 gone · about 7:40
    left`: inside an epoch, with the last epoch's ESR when it was this model's."""
    parts = _which(event)
    parts[-1] += f", batch {event.batch} of {event.batches}"
    if last is not None and last.model == event.model and last.esr is not None:
        parts.append(f"ESR {last.esr:.4f} after epoch {last.epoch}")
    return " · ".join(parts + _times(event, "about "))


def calibration_line(model: Path | None) -> str:
    """The calibration levels the new model carries, read back from its file."""
    if model is None:
        return ""
    try:
        info = model_info(read_model(model))
    except StationError as exc:
        return f"[yellow]{escape(error_text(exc))}[/yellow]"
    if not info["calibrated"]:
        return "[yellow]The model carries no calibration levels.[/yellow]"
    return (
        f"In the model: input_level_dbu [b]{info['input_level_dbu']:g}[/b], "
        f"output_level_dbu [b]{info['output_level_dbu']:.2f}[/b] dBu"
    )


class TrainingScreen(StationScreen[Path | None]):
    """One training run: live progress, Escape to stop between epochs, then its result."""

    overlay = True  # once finished, switching screens leaves it
    busy_note = "Training is running: Escape stops it at the end of this epoch."
    BINDINGS = [
        Binding("escape", "stop", "Stop after this epoch"),
        Binding("escape", "back", "Back"),
        Binding("enter", "back", "Back", show=False),
    ]
    DEFAULT_CSS = """
    TrainingScreen Vertical { padding: 0 1; }
    TrainingScreen #what { height: auto; margin: 0 0 1 0; }
    TrainingScreen ProgressBar { margin: 0 0 1 0; }
    TrainingScreen #epoch, TrainingScreen #note { height: auto; }
    TrainingScreen #log {
        height: auto; max-height: 10; border: round $primary-darken-2; padding: 0 1;
    }
    TrainingScreen #result { height: auto; }
    """

    def __init__(self, job: TrainingJob) -> None:
        super().__init__()
        self.job = job
        self.busy = True
        self.stopping = False
        self.quit_after = False
        self.result: Any = None
        self.last_epoch: EpochProgress | None = None
        self.log_lines: list[str] = []
        self.bridge: Bridge | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(f"[b]{self.job.title}[/b]", id="what")
            yield ProgressBar(total=1.0, show_eta=False, id="bar")
            yield Static("Preparing the data and the model…", id="epoch")
            yield Static("", id="note")
            yield Static("", id="log")
            yield Static("", id="result")
        yield Footer()

    def on_mount(self) -> None:
        """Start training at once."""
        self.query_one("#result").display = False
        self.bridge = Bridge(self.app, self.on_station_event, None)
        self.train(self.bridge)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape stops while training and goes back afterwards."""
        if action == "stop":
            return self.busy
        if action == "back":
            return not self.busy
        return True

    def action_stop(self) -> None:
        """Ask for a stop at the end of the current epoch (NAM cannot stop sooner)."""
        if self.bridge is None or self.stopping:
            return
        self.bridge.stop.set()
        self.stopping = True
        self.query_one("#note", Static).update(
            "[yellow]Stopping at the end of this epoch; the best model so far is kept.[/yellow]"
        )

    def stop_before_quit(self) -> bool:
        """Quitting mid-training: stop after this epoch, then quit. True when quitting waits."""
        if not self.busy:
            return False
        self.quit_after = True
        self.action_stop()
        self.notify("Quitting after this epoch, once the model so far is saved.", timeout=10)
        return True

    def action_back(self) -> None:
        """Return to the screen underneath, with the new model if there is one."""
        self.dismiss(self.job.model_of(self.result) if self.result is not None else None)

    def on_station_event(self, event: Event) -> None:
        """Epochs on the bar and the epoch line; steps and warnings in the log."""
        if isinstance(event, EpochProgress):
            self.last_epoch = event
            self.query_one("#epoch", Static).update(epoch_line(event))
            self.query_one("#bar", ProgressBar).update(progress=event.fraction or 0.0)
        elif isinstance(event, BatchProgress):
            self.query_one("#epoch", Static).update(batch_line(event, self.last_epoch))
            self.query_one("#bar", ProgressBar).update(progress=event.fraction or 0.0)
        elif isinstance(event, Progress):
            self.query_one("#epoch", Static).update(event.message[:1].upper() + event.message[1:])
        elif isinstance(event, Step | Warning_):
            text = escape(say(event.text))
            self.log_lines.append(text if isinstance(event, Step) else f"[yellow]{text}[/]")
            # The latest lines; Static wraps them to the width it really has.
            self.query_one("#log", Static).update("\n".join(self.log_lines[-LOG_LINES:]))

    @work(thread=True, exclusive=True)
    def train(self, bridge: Bridge) -> None:
        """Run the job off the UI thread."""
        app = self.station
        try:
            result = self.job.run(bridge.emit, bridge.stop)
            app.call_from_thread(self.finished, result, None)
        except Stopped:
            app.call_from_thread(
                self.finished, None, "Stopped before the first epoch ended: no model was made."
            )
        except StationError as exc:
            app.call_from_thread(self.finished, None, f"Not trained: {error_text(exc)}")
        except Exception as exc:  # the trainer's own failures: shown, not a crashed TUI
            app.call_from_thread(
                self.finished, None, f"The trainer failed: {type(exc).__name__}: {exc}"
            )

    def finished(self, result: Any, failure: str | None) -> None:
        """Show what came of it in place of the log; Escape now goes back."""
        self.busy = False
        self.result = result
        self.query_one("#log").display = False
        box = self.query_one("#result", Static)
        box.display = True
        if failure is not None:
            box.update(f"[b red]{escape(failure)}[/b red]")
        else:
            stopped = ""
            if self.stopping and self.last_epoch is not None:
                e = self.last_epoch
                stopped = (
                    f"[yellow]Stopped after epoch {e.epoch} of {e.epochs}"
                    + (f" of model {e.model} of {e.models}" if e.models > 1 else "")
                    + ": the best model so far was kept.[/yellow]\n"
                )
            if not self.stopping:
                self.query_one("#bar", ProgressBar).update(progress=1.0)
            # What the model says of itself, under the line that names it.
            first, _, rest = self.job.summary(result).partition("\n")
            levels = calibration_line(self.job.model_of(result))
            box.update(stopped + "\n".join(line for line in (first, levels, rest) if line))
        self.query_one("#note", Static).update("")
        self.refresh_bindings()
        if self.quit_after:
            self.app.exit()
