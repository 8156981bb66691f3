"""Models: open .nam files, see their metadata, tag them from a capture or typed values, train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, ProgressBar, Select, Static

from ..capture_io import read_capture_meta, refuse_failed
from ..errors import StationError
from ..events import Event, Progress, Step
from ..fsutil import atomic_write_text
from ..namfile import fields_from_capture, model_info, read_model, tag_model
from ..train import ARCHITECTURES, train_capture
from .bridge import Bridge
from .form import error_text, number, row
from .home import list_captures, list_models

# An identity model (one tap of 1.0): a valid .nam to practise tagging in the demo.
PRACTICE_MODEL = {
    "version": "0.5.4",
    "architecture": "Linear",
    "config": {"receptive_field": 1, "bias": False},
    "weights": [1.0],
    "sample_rate": 48000,
    "metadata": {"name": "practice model (passes audio through)"},
}


class ModelsScreen(Screen[None]):
    """Tag and train calibrated models."""

    BINDINGS = [Binding("escape", "stop", "Stop")]

    def __init__(self, capture: Path | None = None) -> None:
        super().__init__()
        self.capture = capture
        self.busy = False
        self.bridge: Bridge | None = None

    def compose(self) -> ComposeResult:
        app: Any = self.app
        models = list_models(app.home)
        captures = [name for name, _ in list_captures(app.home)]
        default_capture = self.capture.name if self.capture else (captures[0] if captures else None)
        yield Header()
        with VerticalScroll():
            yield Static("Models", classes="title")
            yield row(
                "Model file",
                Input(
                    str(models[0]) if models else "", id="model", placeholder="path/to/model.nam"
                ),
            )
            with Horizontal(classes="buttons"):
                yield Button("Open", id="open", compact=True)
                yield Button("Write a practice model", id="practice", compact=True)
            yield Static("", id="info")
            yield Static("Tag it", classes="title")
            yield row(
                "From capture",
                Select(
                    [(c, c) for c in captures],
                    id="capture",
                    value=default_capture or Select.NULL,
                    prompt="a capture",
                ),
            )
            yield row("Or input dBu", Input("", id="in_dbu", placeholder="e.g. 12"))
            yield row("and output dBu", Input("", id="out_dbu", placeholder="e.g. 9.7"))
            yield row("Model name", Input("", id="model_name", placeholder="(optional)"))
            with Horizontal(classes="buttons"):
                yield Button("Tag from capture", variant="primary", id="tag_capture", compact=True)
                yield Button("Tag with typed levels", id="tag_typed", compact=True)
            yield Static("Train from the capture (needs the train extra)", classes="title")
            yield row(
                "Architecture",
                Select(
                    [(a, a) for a in ARCHITECTURES], value="standard", allow_blank=False, id="arch"
                ),
            )
            yield row("Epochs", Input("100", id="epochs"))
            with Horizontal(classes="buttons"):
                yield Button("Train", id="train", compact=True)
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
            yield Static("", id="train_status")
        yield Footer()

    def on_mount(self) -> None:
        """Show the first model, if any."""
        if self.query_one("#model", Input).value:
            self.show_model()

    def _model_path(self) -> Path:
        text = self.query_one("#model", Input).value.strip()
        if not text:
            raise StationError("no model file given", "type a .nam path, or write a practice model")
        return Path(text).expanduser()

    def show_model(self) -> None:
        """Read the model and show its facts."""
        info = self.query_one("#info", Static)
        try:
            data = model_info(read_model(self._model_path()))
        except StationError as exc:
            info.update(f"[red]{error_text(exc)}[/red]")
            return
        cal = (
            f"[green]calibrated: input {data['input_level_dbu']:g} dBu, output "
            f"{data['output_level_dbu']:g} dBu[/green]"
            if data["calibrated"]
            else "[yellow]not calibrated[/yellow]"
        )
        meta = "\n".join(
            f"  {k}: {json.dumps(v) if isinstance(v, dict | list) else v}"
            for k, v in data["metadata"].items()
        )
        loads = {"yes": "green", "partially": "yellow", "no": "red"}
        players = "\n".join(
            f"  [{loads[p['loads']]}]{p['loads']}[/]: {p['player']}" for p in data["players"]
        )
        warn = f"\n[yellow]{data['player_warning']}[/yellow]" if data["player_warning"] else ""
        info.update(
            f"{data['architecture']}, file version {data['version']!r}, {data['size_bytes']} "
            f"bytes, sample rate {data['sample_rate'] or 'not stated'} — {cal}\n"
            f"Loads in:\n{players}{warn}\n{meta}"
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Dispatch buttons."""
        try:
            {
                "open": self.show_model,
                "practice": self.write_practice,
                "tag_capture": self.tag_from_capture,
                "tag_typed": self.tag_typed,
                "train": self.start_training,
            }[str(event.button.id)]()
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=10)

    def write_practice(self) -> None:
        """Write the identity model into the home's models folder."""
        path = Path(self.app.home) / "models" / "practice-identity.nam"  # type: ignore[attr-defined]
        if not path.exists():
            atomic_write_text(path, json.dumps(PRACTICE_MODEL))
        self.query_one("#model", Input).value = str(path)
        self.show_model()
        self.notify(f"Wrote {path}: an identity model to practise tagging.")

    def _capture_dir(self) -> Path:
        name = self.query_one("#capture", Select).value
        if not isinstance(name, str):
            raise StationError("choose a capture", "capture first (F4)")
        return Path(self.app.home) / "captures" / name  # type: ignore[attr-defined]

    def tag_from_capture(self) -> None:
        """Levels and gear fields from capture.json; asks first when the capture failed."""
        folder = self._capture_dir()
        meta = read_capture_meta(folder)
        values = fields_from_capture(meta)
        try:
            refuse_failed(meta, folder, allow=False)
        except StationError as exc:
            from .modals import QuestionModal

            def answered(yes: bool | None) -> None:
                if yes:
                    try:
                        self._tag(values)
                    except StationError as err:
                        self.notify(error_text(err), severity="error", timeout=10)

            self.app.push_screen(
                QuestionModal(
                    "Tag from a failed capture?",
                    f"{exc.message}. Players would get the levels of a take that did not pass.",
                    "Tag anyway",
                ),
                answered,
            )
            return
        self._tag(values)

    def tag_typed(self) -> None:
        """Levels typed in."""
        self._tag(
            {
                "input_level_dbu": number(self, "#in_dbu", "Input dBu"),
                "output_level_dbu": number(self, "#out_dbu", "Output dBu"),
            }
        )

    def _tag(self, values: dict[str, Any]) -> None:
        name = self.query_one("#model_name", Input).value.strip()
        if name:
            values["name"] = name
        path = self._model_path()
        written = tag_model(path, values)
        self.show_model()
        self.notify("Tagged: " + ", ".join(f"{k}={v}" for k, v in written.items()))

    def start_training(self) -> None:
        """Train in a worker with progress."""
        if self.busy:
            return
        folder = self._capture_dir()
        epochs = int(number(self, "#epochs", "Epochs", integer=True))
        self.busy = True
        self.run_training(folder, str(self.query_one("#arch", Select).value), epochs)

    def action_stop(self) -> None:
        """Training stops at the end of the current epoch only (NAM cannot stop sooner)."""
        if self.busy:
            self.notify(
                "Training cannot be interrupted mid-epoch; it will finish its epochs.",
                severity="warning",
            )

    def on_station_event(self, event: Event) -> None:
        """Epoch progress."""
        status = self.query_one("#train_status", Static)
        if isinstance(event, Progress):
            if event.fraction is not None:
                self.query_one("#progress", ProgressBar).update(progress=event.fraction)
            status.update(event.message)
        elif isinstance(event, Step):
            status.update(event.text)

    @work(thread=True, exclusive=True)
    def run_training(self, folder: Path, architecture: str, epochs: int) -> None:
        """Train off the UI thread."""
        app: Any = self.app
        bridge = Bridge(app, self.on_station_event, None)
        try:
            result = train_capture(
                folder, architecture=architecture, epochs=epochs, emit=bridge.emit
            )
            app.call_from_thread(self.trained, result)
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
        finally:
            self.busy = False

    def trained(self, result: Any) -> None:
        """Show the new model."""
        self.query_one("#model", Input).value = str(result.model_path)
        self.query_one("#train_status", Static).update(
            f"validation ESR {result.validation_esr:.4f} ({result.verdict})"
        )
        self.show_model()
