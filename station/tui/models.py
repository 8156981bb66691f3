"""Models: open .nam files, see their metadata, tag them from a capture or typed values, train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Select, Static, TabbedContent, TabPane

from ..capture.folder import read_capture_meta, refuse_failed
from ..errors import StationError
from ..events import Event, Progress, Warning_
from ..fsutil import atomic_write_text
from ..home import list_captures, list_models, list_sessions
from ..models import snapshot
from ..models.labels import metadata_lines
from ..models.namfile import fields_from_capture, model_info, read_model, tag_model
from ..models.parametric import fold
from ..models.parametric.session import load_sweep, sweep_levels
from ..models.parametric.training import DEFAULT_SIZE, SIZES, parametric_refusal
from ..models.stopping import Limits
from ..models.train import ARCHITECTURES
from .base import StationScreen
from .form import number, optional_number, row, row_pair
from .train_jobs import capture_job, sweep_job
from .training import TrainingJob, TrainingScreen
from .words import error_text, said, say

SWEEP_KINDS = [
    ("Parametric: one model, knobs as inputs", "parametric"),
    ("Snapshots: one standard model per setting", "snapshots"),
]

# An identity model (one tap of 1.0): a valid .nam to practise tagging in the demo.
PRACTICE_MODEL = {
    "version": "0.5.4",
    "architecture": "Linear",
    "config": {"receptive_field": 1, "bias": False},
    "weights": [1.0],
    "sample_rate": 48000,
    "metadata": {"name": "practice model (passes audio through)"},
}


class ModelsScreen(StationScreen[None]):
    """Tag and train calibrated models, from a capture or a sweep session."""

    DEFAULT_CSS = """
    ModelsScreen #snap_section { height: auto; display: none; }
    """

    def __init__(self, capture: Path | None = None) -> None:
        super().__init__()
        self.capture = capture

    def compose(self) -> ComposeResult:
        app = self.station
        models = list_models(app.home)
        captures = [name for name, _ in list_captures(app.home)]
        default_capture = self.capture.name if self.capture else (captures[0] if captures else None)
        yield Header()
        # Two tabs, so that training from a sweep is on screen at 80×24 without scrolling.
        with TabbedContent(id="tabs"):
            with TabPane("Open and tag", id="model_tab"), VerticalScroll():
                yield from self._model_tab(models, captures, default_capture)
            with TabPane("Train", id="train_tab"), VerticalScroll():
                yield from self._train_tab(captures, default_capture)
        yield Footer()

    def _model_tab(
        self, models: list[Path], captures: list[str], default_capture: str | None
    ) -> ComposeResult:
        yield row(
            "Model file",
            Input(str(models[0]) if models else "", id="model", placeholder="path/to/model.nam"),
        )
        with Horizontal(classes="buttons"):
            yield Button("Open", id="open", compact=True)
            yield Button("Write a practice model", id="practice", compact=True)
        yield Static("", id="info")
        with Vertical(id="snap_section"):
            yield Static("Snapshot it (a parametric model, at settings)", classes="title")
            yield row(
                "Setting",
                Input("", id="snap_setting", placeholder="drive=6 boost=on (others: default)"),
            )
            yield row(
                "Or a grid", Input("", id="snap_grid", placeholder="drive=0:10:2 boost=off,on")
            )
            yield row(
                "Write to",
                Input("", id="snap_out", placeholder="beside the model (or a file or folder)"),
            )
            with Horizontal(classes="buttons"):
                yield Button("Write snapshot", id="snapshot", compact=True)
                yield Button("Write a grid pack", id="snapshot_pack", compact=True)
            yield Static("", id="snap_result")
        yield Static("Tag it", classes="title")
        yield row("From capture", self._captures("capture", captures, default_capture))
        yield row("Or input dBu", Input("", id="in_dbu", placeholder="e.g. 12"))
        yield row("and output dBu", Input("", id="out_dbu", placeholder="e.g. 9.7"))
        yield row("Model name", Input("", id="model_name", placeholder="(optional)"))
        with Horizontal(classes="buttons"):
            yield Button("Tag from capture", variant="primary", id="tag_capture", compact=True)
            yield Button("Tag with typed levels", id="tag_typed", compact=True)

    def _train_tab(self, captures: list[str], default_capture: str | None) -> ComposeResult:
        yield Static("Train from a capture (needs the train extra)", classes="title")
        yield row("Capture", self._captures("train_capture", captures, default_capture))
        yield row(
            "Architecture",
            Select([(a, a) for a in ARCHITECTURES], value="standard", allow_blank=False, id="arch"),
        )
        yield self._limits_row("epochs", "minutes")
        with Horizontal(classes="buttons"):
            yield Button("Train", id="train", compact=True)
        yield Static("Train from a sweep session", classes="title")
        sessions = list_sessions(self.station.home)
        yield row(
            "Session",
            Select(
                [(name, name) for name in sessions],
                id="session",
                value=sessions[0] if sessions else Select.NULL,
                prompt="a sweep session",
            ),
        )
        yield row("Make", Select(SWEEP_KINDS, value="parametric", allow_blank=False, id="kind"))
        yield row("Reamp level", Select([], id="level", prompt="the session's only level"))
        yield Static("", id="kind_note")
        yield row(
            "Size",
            Select([(a, a) for a in SIZES], value=DEFAULT_SIZE, allow_blank=False, id="size"),
        )
        yield self._limits_row("sweep_epochs", "sweep_minutes")
        with Horizontal(classes="buttons"):
            yield Button("Train from the sweep", id="train_sweep", compact=True)

    @staticmethod
    def _limits_row(epochs_id: str, minutes_id: str) -> Horizontal:
        return row_pair(
            "Epochs",
            Input("100", id=epochs_id),
            "Max minutes",
            Input("", id=minutes_id, placeholder="no limit"),
        )

    @staticmethod
    def _captures(select_id: str, captures: list[str], default: str | None) -> Select[str]:
        return Select(
            [(c, c) for c in captures],
            id=select_id,
            value=default or Select.NULL,
            prompt="a capture",
        )

    def on_mount(self) -> None:
        """Show the first model, if any, and the first session's levels."""
        if self.query_one("#model", Input).value:
            self.show_model()
        self.show_levels()
        self.judge_kind()

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new session: offer its reamp levels; snapshots and parametric come in own sizes."""
        if event.select.id == "session":
            self.show_levels()
            self.judge_kind()
        elif event.select.id == "level":
            self.judge_kind()
        elif event.select.id == "kind":
            size = self.query_one("#size", Select)
            sizes = SIZES if event.value == "parametric" else tuple(ARCHITECTURES)
            default = DEFAULT_SIZE if event.value == "parametric" else "standard"
            keep = size.value if size.value in sizes else default
            size.set_options([(a, a) for a in sizes])
            size.value = keep

    def _session_dir(self) -> Path:
        name = self.query_one("#session", Select).value
        if not isinstance(name, str):
            there = list_sessions(self.station.home)
            raise StationError(
                "choose a sweep session",
                f"in Session: {', '.join(there[:3])}" if there else "run a sweep first (F11)",
            )
        return Path(self.station.home) / "captures" / name

    def show_levels(self) -> None:
        """The level choice lists the session's levels; one level needs no choice."""
        select = self.query_one("#level", Select)
        try:
            levels = sweep_levels(self._session_dir())
        except StationError:
            levels = []  # training says why, when asked for
        options = [(f"{v:g} dBu", v) for v in levels] if len(levels) > 1 else []
        chosen = select.value
        select.set_options(options)  # this clears the choice...
        if chosen in levels:
            select.value = chosen  # ...which the same session's levels keep
        select.prompt = "choose a level" if options else "the session's only level"

    def judge_kind(self) -> None:
        """Say up front when the session (at the chosen level) cannot give a parametric model,
        and offer one model per setting instead: training would refuse it only after a wait."""
        note = self.query_one("#kind_note", Static)
        chosen = self.query_one("#level", Select).value
        try:
            sweep = load_sweep(self._session_dir(), chosen if isinstance(chosen, float) else None)
        except StationError:
            note.update("")  # no session, or a level to choose first: training says why
            return
        refusal = parametric_refusal(sweep)
        if refusal is None:
            note.update("")
            return
        self.query_one("#kind", Select).value = "snapshots"
        note.update(f"[yellow]No parametric model: {escape(said(refusal))}.[/yellow]")

    def _model_path(self) -> Path:
        text = self.query_one("#model", Input).value.strip()
        if not text:
            raise StationError("no model file given", "type a .nam path, or write a practice model")
        return Path(text).expanduser()

    def show_model(self) -> None:
        """Read the model and show its facts."""
        info = self.query_one("#info", Static)
        section = self.query_one("#snap_section")
        try:
            model = read_model(self._model_path())
        except StationError as exc:
            info.update(f"[red]{error_text(exc)}[/red]")
            section.display = False
            return
        data = model_info(model)
        # Snapshots are for parametric models: the section shows only when one is open.
        section.display = fold.parametric(model.data)
        cal = (
            f"[green]calibrated: input {data['input_level_dbu']:g} dBu, output "
            f"{data['output_level_dbu']:g} dBu[/green]"
            if data["calibrated"]
            else "[yellow]not calibrated[/yellow]"
        )
        meta = "\n".join(f"  {escape(line)}" for line in metadata_lines(data["metadata"]))
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
                "train_sweep": self.start_sweep_training,
                "snapshot": lambda: self.write_snapshots(pack=False),
                "snapshot_pack": lambda: self.write_snapshots(pack=True),
            }[str(event.button.id)]()
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=10)

    def write_snapshots(self, *, pack: bool) -> None:
        """Write one snapshot or a grid pack of the parametric model, in a worker thread
        (each file's loudness is measured again); the result says where the files went."""
        result = self.query_one("#snap_result", Static)
        result.scroll_visible()
        try:
            self._start_snapshots(pack, result)
        except StationError as exc:
            result.update(f"[red]{error_text(exc)}[/red]")

    def _start_snapshots(self, pack: bool, result: Static) -> None:
        model = self._model_path()
        field = "#snap_grid" if pack else "#snap_setting"
        items = self.query_one(field, Input).value.split()
        if pack and not items:
            raise StationError("no grid given", "type axes such as drive=0:10:2 boost=off,on")
        text = self.query_one("#snap_out", Input).value.strip()
        out = Path(text).expanduser() if text else None
        if out is None:
            out = snapshot.default_pack(model) if pack else snapshot.default_file(model, items)
        elif not pack and (out.is_dir() or text.endswith("/")):
            out = out / snapshot.default_file(model, items).name  # a folder: named by setting
        target = out
        if (target / "index.json" if pack else target).exists():
            raise StationError(f"{target} exists", "type another path in Write to")
        result.update("Writing…")

        def progress(event: Event) -> None:
            if isinstance(event, Progress):
                self.app.call_from_thread(result.update, f"Writing {event.message}")
            elif isinstance(event, Warning_):
                self.app.call_from_thread(self.notify, say(event.text))

        def work() -> None:
            try:
                if pack:
                    done = snapshot.grid(model, items, target, progress)
                else:
                    done = [snapshot.snapshot(model, items, target)]
            except StationError as exc:
                self.app.call_from_thread(result.update, f"[red]{error_text(exc)}[/red]")
                return
            except OSError as exc:  # a folder that cannot be written, a full disk
                said = escape(f"cannot write {target}: {exc.strerror or exc}")
                self.app.call_from_thread(result.update, f"[red]{said}[/red]")
                return
            self.app.call_from_thread(self._snapshots_written, done, target if pack else None)

        self.run_worker(work, thread=True, exclusive=True, group="snapshot")

    def _snapshots_written(self, done: list[snapshot.Snapshot], pack: Path | None) -> None:
        first = done[0]
        loads = ", ".join(f"{p.player}: {p.loads}" for p in first.players)
        where = f"{len(done)} files and index.json in {pack}" if pack else str(first.path)
        held = f"; at the model's default: {', '.join(first.defaulted)}" if first.defaulted else ""
        self.query_one("#snap_result", Static).update(
            f"[green]Wrote {where}[/green]{held}\n"
            f"{first.layout} layout, version {first.version}. Loads in: {loads}"
        )
        self.notify(f"Wrote {where}")

    def write_practice(self) -> None:
        """Write the identity model into the home's models folder."""
        path = Path(self.station.home) / "models" / "practice-identity.nam"
        if not path.exists():
            atomic_write_text(path, json.dumps(PRACTICE_MODEL))
        self.query_one("#model", Input).value = str(path)
        self.show_model()
        self.notify(f"Wrote {path}: an identity model to practise tagging.")

    def _capture_dir(self, select_id: str = "capture") -> Path:
        name = self.query_one(f"#{select_id}", Select).value
        if not isinstance(name, str):
            there = [n for n, _ in list_captures(self.station.home)]
            field = "From capture (under Tag it)" if select_id == "capture" else "Capture"
            raise StationError(
                "choose a capture",
                f"in {field}: {', '.join(there[:3])}" if there else "capture first (F4)",
            )
        return Path(self.station.home) / "captures" / name

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
                    f"{said(exc)}. Players would get the levels of a take that did not pass.",
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
        """Train from the chosen capture on a training screen."""
        folder = self._capture_dir("train_capture")
        limits = self._limits("#epochs", "#minutes")
        job = capture_job(folder, str(self.query_one("#arch", Select).value), limits)
        self._train(job)

    def start_sweep_training(self) -> None:
        """Train a parametric model or snapshots from the chosen session."""
        session = self._session_dir()
        limits = self._limits("#sweep_epochs", "#sweep_minutes")
        chosen = self.query_one("#level", Select).value
        level = chosen if isinstance(chosen, float) else None
        load_sweep(session, level)  # the session's own refusals (no level chosen...) stay here
        kind = str(self.query_one("#kind", Select).value)
        job = sweep_job(session, kind, level, str(self.query_one("#size", Select).value), limits)
        self._train(job)

    def _limits(self, epochs_at: str, minutes_at: str) -> Limits:
        """The epochs and time limit typed (patience the default: stop when the selection
        loss has stopped improving), or a StationError naming the field."""
        limits = Limits(
            int(number(self, epochs_at, "Epochs", integer=True)),
            optional_number(self, minutes_at, "Max minutes"),
        )
        limits.check()
        return limits

    def _train(self, job: TrainingJob) -> None:
        self.app.clear_notifications()  # an old error would cover the progress
        self.app.push_screen(TrainingScreen(job), self.trained)

    def trained(self, model: Path | None) -> None:
        """Back from training: show the new model."""
        if model is None:
            return
        field = self.query_one("#model", Input)
        field.value = str(model)
        self.query_one("#tabs", TabbedContent).active = "model_tab"
        self.show_model()
        field.focus()
        self.query_one("#model_tab VerticalScroll", VerticalScroll).scroll_home(animate=False)
