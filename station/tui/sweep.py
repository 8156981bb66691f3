"""Sweep: a plan's settings captured one after another, with live progress and ETA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, ProgressBar, Select, Static

from ..devices import StationBench
from ..errors import StationError, Stopped
from ..events import Event, Progress, Step, SweepProgress, Warning_
from ..home import home_signal_path, list_profiles
from ..reamp.generate import write_station_signal
from ..sweep.journal import Journal, replay
from ..sweep.positioner import describe
from ..sweep.run import SweepRunner, SweepSummary, progress_line
from ..sweep.session import Session, SweepOptions
from ..sweep.start import SweepStart, resume_sweep, start_sweep
from .base import StationScreen
from .bridge import Bridge
from .form import number, row
from .words import error_text, said, say

STATUS_STYLE = {
    "pending": "[dim]pending[/dim]",
    "captured": "[yellow]retaking[/yellow]",
    "done": "[green]done[/green]",
    "failed": "[b red]FAILED[/b red]",
}


def prepare_demo(home: Path) -> None:
    """In the demo: a rig profile for the virtual pedal and a small plan, if there are none."""
    from ..plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
    from ..rig.motion import rig_model
    from ..rig.profiles import rig_path, save_rig
    from ..virtual.pedal import virtual_pedal_rig

    rig = virtual_pedal_rig()
    if not rig_path(home, rig.name).is_file():
        save_rig(home, rig)
    plan_file = Path(home) / "plan.json"
    if not plan_file.is_file():
        req = PlanRequest(
            knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rig.knobs),
            switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in rig.switches),
            settings=6,
            holdout=1,
            anchor_every=4,
            rig=rig.name,
        )
        plan_file.write_text(json.dumps(make_plan(req, rig_model(rig)).to_json(), indent=2))


class SweepScreen(StationScreen[None]):
    """From a plan to a session of checked captures, one setting after another."""

    BINDINGS = [
        Binding("f5", "start", "Start"),
        Binding("f8", "resume", "Resume"),
        Binding("escape", "stop", "Stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.bridge: Bridge | None = None
        self.session: Session | None = None
        self.summary: SweepSummary | None = None

    def compose(self) -> ComposeResult:
        app = self.station
        s = app.settings
        names = list_profiles(app.home)
        default = s.get("profile") if s.get("profile") in names else (names[0] if names else None)
        yield Header()
        with VerticalScroll():
            yield Static("Sweep a plan", classes="title")
            yield Static(
                "Make a plan with 'station plan' (knobs, switches, a budget of settings); the "
                "rig turns the knobs, or you do when the rig is 'none'.",
                classes="muted",
            )
            plan = s.get("sweep_plan") or str(Path(app.home) / "plan.json")
            yield row("Plan file", Input(plan, id="plan"))
            yield row(
                "Profile",
                Select(
                    [(n, n) for n in names],
                    value=default or Select.NULL,
                    id="profile",
                    prompt="calibrated interface",
                ),
            )
            rig = s.get("sweep_rig") or ("vpedal" if app.demo else "none")
            yield row("Rig", Input(rig, id="rig"))
            yield row("Session", Input(s.get("sweep_session", "sweep1"), id="session"))
            yield row("Reamp dBu", Input(str(s.get("reamp_dbu", 12)), id="dbu"))
            reamp_file = s.get("reamp_file") or str(home_signal_path(app.home))
            yield row("Reamp file", Input(reamp_file, id="file"))
            with Horizontal(classes="buttons"):
                yield Button("Start (F5)", variant="primary", id="start", compact=True)
                yield Button("Resume (F8)", id="resume", compact=True)
                yield Button("Stop (Esc)", id="stop", disabled=True, compact=True)
            yield Static("", id="status", classes="big")
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
            yield Static("", id="current")
            yield Static("", id="take", classes="muted")
            yield DataTable(id="settings", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Ready the demo's rig profile and plan."""
        app = self.station
        if app.demo:
            try:
                prepare_demo(app.home)
            except (StationError, OSError) as exc:
                self.notify(f"demo plan not written: {exc}", severity="warning")

    def set_busy(self, busy: bool) -> None:
        """Lock the form while sweeping."""
        self.busy = busy
        self.query_one("#start", Button).disabled = busy
        self.query_one("#resume", Button).disabled = busy
        self.query_one("#stop", Button).disabled = not busy

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Dispatch the buttons to their actions."""
        {"start": self.action_start, "resume": self.action_resume, "stop": self.action_stop}[
            str(event.button.id)
        ]()

    def action_start(self) -> None:
        """Check the form, then start a new session in a worker."""
        if self.busy:
            return
        app = self.station
        profile = self.query_one("#profile", Select).value
        try:
            if not isinstance(profile, str):
                raise StationError("choose a calibrated profile", "press F3 to calibrate first")
            dbu = number(self, "#dbu", "Reamp dBu")
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=8)
            return
        form = {
            k: self.query_one(f"#{k}", Input).value.strip()
            for k in ("plan", "rig", "session", "file")
        }
        app.remember(
            profile=profile,
            reamp_dbu=dbu,
            sweep_plan=form["plan"],
            sweep_rig=form["rig"],
            sweep_session=form["session"],
            reamp_file=form["file"],
        )
        self.set_busy(True)
        self.run_sweep(dict(form, profile=profile, dbu=dbu), resume=False)

    def action_resume(self) -> None:
        """Continue the session named in the form."""
        if self.busy:
            return
        name = self.query_one("#session", Input).value.strip()
        self.set_busy(True)
        self.run_sweep({"session": name}, resume=True)

    def action_stop(self) -> None:
        """Stop after the current step; the session stays resumable."""
        if self.bridge is not None and self.busy:
            self.bridge.stop.set()
            self.notify("Stopping… the session stays resumable (F8).")

    def show_session(self, session: Session) -> None:
        """Fill the table with the session's schedule and statuses."""
        self.session = session
        table = self.query_one("#settings", DataTable)
        table.clear(columns=True)
        for label in ("id", "role", "setting", "status"):
            table.add_column(label, key=label)
        state = replay(Journal(session.folder).read(), [s.id for s in session.schedule])
        for s in session.schedule:
            table.add_row(s.id, s.role, describe(s), STATUS_STYLE[state.status[s.id]], key=s.id)

    def refresh_statuses(self) -> None:
        """Re-read the journal and update the status column."""
        if self.session is None:
            return
        table = self.query_one("#settings", DataTable)
        ids = [s.id for s in self.session.schedule]
        state = replay(Journal(self.session.folder).read(), ids)
        for sid in ids:
            flag = " [yellow]suspect[/yellow]" if sid in state.suspect else ""
            table.update_cell(sid, "status", STATUS_STYLE[state.status[sid]] + flag)

    def on_station_event(self, event: Event) -> None:
        """Sweep progress, the take's progress and warnings from the core."""
        if isinstance(event, SweepProgress):
            self.query_one("#status", Static).update(progress_line(event))
            self.query_one("#progress", ProgressBar).update(
                progress=(event.done + event.failed) / max(1, event.total)
            )
            values = "   ".join(
                [f"{k} [b]{v:g}[/b]" for k, v in event.knobs.items()]
                + [f"{k} [b]{v}[/b]" for k, v in event.switches.items()]
            )
            self.query_one("#current", Static).update(f"{event.setting_id}: {values}")
            self.refresh_statuses()
        elif isinstance(event, Progress):
            self.query_one("#take", Static).update(event.message)
        elif isinstance(event, Step):
            self.query_one("#take", Static).update(event.text)
        elif isinstance(event, Warning_):
            self.notify(say(event.text), severity="warning", timeout=10)

    def finished(self, summary: SweepSummary | None, message: str) -> None:
        """Show how the sweep ended and unlock the form."""
        self.summary = summary
        self.set_busy(False)
        self.refresh_statuses()
        self.query_one("#status", Static).update(message)
        self.query_one("#take", Static).update("")  # no take runs any more

    @work(thread=True, exclusive=True)
    def run_sweep(self, form: dict[str, Any], *, resume: bool) -> None:
        """Start or resume the sweep, off the UI thread."""
        app = self.station
        self.bridge = bridge = Bridge(app, self.on_station_event, app.rig)
        runner: SweepRunner | None = None
        devices = StationBench(app.home, app.bench)
        try:
            if resume:
                runner = resume_sweep(
                    app.home,
                    form["session"],
                    devices,
                    bridge.confirm,
                    emit=bridge.emit,
                    stop=bridge.stop,
                )
            else:
                path = Path(form["file"]).expanduser()
                if path == home_signal_path(app.home) and not path.is_file():
                    write_station_signal(path)
                start = SweepStart(
                    plan_path=Path(form["plan"]).expanduser(),
                    profile_name=form["profile"],
                    rig_name=form["rig"] or "none",
                    out=form["session"],
                    reamp_path=path,
                    options=SweepOptions(reamp_dbu=form["dbu"]),
                )
                runner = start_sweep(
                    app.home, start, devices, bridge.confirm, emit=bridge.emit, stop=bridge.stop
                )
            bridge.rig = app.rig  # the bench is open now: the virtual rig does what prompts ask
            app.call_from_thread(self.show_session, runner.session)
            summary = runner.run(resumed=resume)
            app.call_from_thread(
                self.finished,
                summary,
                f"Sweep {summary.session.name}: {len(summary.done)} done, {len(summary.failed)} "
                f"failed, {len(summary.suspect)} suspect. Train models from it on the "
                "Models screen (F6).",
            )
        except Stopped:
            # Stopped at a question before the session existed: there is nothing to resume.
            kept = "the session is kept; F8 resumes it" if runner else "no session was made"
            app.call_from_thread(self.finished, None, f"Stopped: {kept}.")
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
            app.call_from_thread(self.finished, None, f"Not finished: {said(exc)}")
