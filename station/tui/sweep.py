"""Sweep: make a plan, sweep it setting after setting, and see every verdict and anchor.

Three tabs: Plan (the plan form, tui/plan_form.py), Sweep (what to sweep it
with) and Progress (tui/sweep_view.py: live progress, then the finished
session's settings, verdicts and anchors, whole at 80×24, and an adaptive
session's rounds, refreshed as each round starts, chooses and ends). F5 starts from any
of them; starting shows the Progress tab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (
    Button,
    Footer,
    Header,
    Input,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from ..devices import StationBench
from ..errors import StationError, Stopped
from ..events import DeviceBack, DevicePaused, Event, Progress, Step, SweepProgress, Warning_
from ..home import home_signal_path, list_profiles, plans_dir, session_folder
from ..plan.design import Plan
from ..reamp.generate import write_station_signal
from ..sweep.run import SweepRunner, SweepSummary, summarise
from ..sweep.session import Session, SweepOptions, open_session
from ..sweep.start import SweepStart, resume_sweep, start_sweep
from .base import StationScreen
from .bridge import Bridge
from .form import number, row
from .plan_form import PlanForm
from .sweep_view import SweepView, summary_line
from .words import error_text, said, say

HOLDER = "station (the TUI's Sweep screen)"  # who holds the session and rig, for the locks


def newest_plan(home: Path) -> Path | None:
    """The plan most recently written under the home's plans/, if any."""
    found = sorted(plans_dir(home).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


class SweepScreen(StationScreen[None]):
    """From a plan to a session of checked captures, one setting after another."""

    BINDINGS = [
        Binding("f5", "start", "Start"),
        Binding("f8", "resume", "Resume"),
        Binding("escape", "stop", "Stop"),
    ]
    DEFAULT_CSS = """
    SweepScreen TabPane { padding: 0 1; }
    /* the full width: the rounds' and anchors' lines wrap less */
    SweepScreen #progress_tab { height: 1fr; padding: 0; }
    SweepScreen #plan_tab { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.bridge: Bridge | None = None
        self.devices: StationBench | None = None  # the last sweep's devices (its twin, if any)
        self.summary: SweepSummary | None = None

    @property
    def session(self) -> Session | None:
        """The session the Progress tab shows."""
        return self.query_one(SweepView).session

    def compose(self) -> ComposeResult:
        app = self.station
        s = app.settings
        names = list_profiles(app.home)
        default = s.get("profile") if s.get("profile") in names else (names[0] if names else None)
        remembered = s.get("sweep_plan")
        plan = remembered if remembered and Path(remembered).is_file() else newest_plan(app.home)
        yield Header()
        with TabbedContent(initial="sweep_tab" if plan else "plan_tab", id="tabs"):
            with TabPane("Plan", id="plan_tab"):
                yield PlanForm()
            with TabPane("Sweep", id="sweep_tab"), VerticalScroll():
                yield Static(
                    "The rig turns the knobs (or you do, with Rig none); every take is checked "
                    "and journalled, and Resume goes on after a stop or a crash.",
                    classes="muted",
                )
                yield row(
                    "Plan file",
                    Input(str(plan or ""), id="plan", placeholder="make one on the Plan tab"),
                )
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
                yield row("Port", Input("", id="port", placeholder="the rig profile's port"))
                yield row("Session", Input(s.get("sweep_session", "sweep1"), id="session"))
                yield row("Reamp dBu", Input(str(s.get("reamp_dbu", 12)), id="dbu"))
                reamp_file = s.get("reamp_file") or str(home_signal_path(app.home))
                yield row("Reamp file", Input(reamp_file, id="file"))
                with Horizontal(classes="buttons"):
                    yield Button("Start (F5)", variant="primary", id="start", compact=True)
                    yield Button("Resume (F8)", id="resume", compact=True)
                    yield Button("Stop (Esc)", id="stop", disabled=True, compact=True)
            with TabPane("Progress", id="progress_tab"):
                yield SweepView()
        yield Footer()

    def on_mount(self) -> None:
        """Show the session named in the form, if it exists: how it ended, or how far it got."""
        folder = session_folder(self.station.home, self.query_one("#session", Input).value.strip())
        if not (folder / "session.json").is_file():
            return
        try:
            session = open_session(folder)
            state = self.query_one(SweepView).show_session(session)
        except StationError:
            return  # a damaged session says why when it is resumed
        summary = summarise(session, state)
        self.query_one(SweepView).show_end(summary_line(summary), summary)

    def on_plan_form_made(self, message: PlanForm.Made) -> None:
        """A new plan: sweep it next, with the rig it was made for."""
        self.query_one("#plan", Input).value = str(message.path)
        plan: Plan = message.plan
        if plan.request.rig:
            self.query_one("#rig", Input).value = plan.request.rig
        self.station.remember(sweep_plan=str(message.path))

    def set_busy(self, busy: bool) -> None:
        """Lock the form while sweeping."""
        self.busy = busy
        self.query_one("#start", Button).disabled = busy
        self.query_one("#resume", Button).disabled = busy
        self.query_one("#stop", Button).disabled = not busy

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Dispatch the buttons to their actions."""
        {
            "start": self.action_start,
            "resume": self.action_resume,
            "stop": self.action_stop,
            "use_port": self.use_port,
        }[str(event.button.id)]()

    def use_port(self) -> None:
        """Offer the typed port name to a sweep waiting for its rig."""
        field = self.query_one("#new_port", Input)
        name = field.value.strip()
        if self.bridge is None or not self.busy or not name:
            return
        self.bridge.ports.put(name)
        self.notify(f"Trying the rig on {name} …")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the new port field: use it."""
        if event.input.id == "new_port":
            self.use_port()

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
            if not self.query_one("#plan", Input).value.strip():
                raise StationError("no plan chosen", "make one on the Plan tab")
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=8)
            return
        form = {
            k: self.query_one(f"#{k}", Input).value.strip()
            for k in ("plan", "rig", "session", "file", "port")
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
        port = self.query_one("#port", Input).value.strip()
        self.set_busy(True)
        self.run_sweep({"session": name, "port": port}, resume=True)

    def action_stop(self) -> None:
        """Stop after the current step; the session stays resumable."""
        if self.bridge is not None and self.busy:
            self.bridge.stop.set()
            self.notify("Stopping… the session stays resumable (F8).")

    def on_station_event(self, event: Event) -> None:
        """Sweep progress, the take's progress and warnings from the core."""
        view = self.query_one(SweepView)
        if isinstance(event, SweepProgress):
            view.show_progress(event)
        elif isinstance(event, Progress):
            view.show_take(event.message)
        elif isinstance(event, Step):
            view.show_take(event.text)
            if event.name == "round" and view.session is not None:
                view.refresh_verdicts()  # a round began, chose its batch (new rows) or ended
        elif isinstance(event, Warning_):
            self.notify(say(event.text), severity="warning", timeout=10)
        elif isinstance(event, DevicePaused):
            view.show_pause(event)
        elif isinstance(event, DeviceBack):
            view.end_pause()
            what = f"The rig is back on {event.port}" if event.port else "The interface is back"
            self.notify(f"{what} after {event.waited_s:.0f} s; the sweep goes on.")

    def started(self, session: Session) -> None:
        """The session exists: its settings on the Progress tab, shown."""
        self.query_one(SweepView).show_session(session)
        self.query_one("#tabs", TabbedContent).active = "progress_tab"
        self.query_one("#settings").focus()

    def finished(self, summary: SweepSummary | None, message: str) -> None:
        """Show how the sweep ended, every verdict and anchor, and unlock the form."""
        self.summary = summary
        self.set_busy(False)
        self.query_one(SweepView).show_end(message, summary)

    @work(thread=True, exclusive=True)
    def run_sweep(self, form: dict[str, Any], *, resume: bool) -> None:
        """Start or resume the sweep, off the UI thread."""
        app = self.station
        self.bridge = bridge = Bridge(app, self.on_station_event, app.rig)
        runner: SweepRunner | None = None
        self.devices = devices = StationBench(app.home, app.bench)
        try:
            if resume:
                runner = resume_sweep(
                    app.home,
                    form["session"],
                    devices,
                    bridge.confirm,
                    port=form["port"] or None,
                    emit=bridge.emit,
                    stop=bridge.stop,
                    holder=HOLDER,
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
                    port=form["port"] or None,
                )
                runner = start_sweep(
                    app.home,
                    start,
                    devices,
                    bridge.confirm,
                    emit=bridge.emit,
                    stop=bridge.stop,
                    holder=HOLDER,
                )
            bridge.rig = app.rig  # the bench is open now: the virtual rig does what prompts ask
            runner.faults.offer = bridge.port_offer
            app.call_from_thread(self.started, runner.session)
            summary = runner.run(resumed=resume)
            app.call_from_thread(self.finished, summary, summary_line(summary))
        except Stopped:
            # Stopped at a question before the session existed: there is nothing to resume.
            kept = "the session is kept; F8 resumes it" if runner else "no session was made"
            if runner is not None and (
                runner.faults.stopped_waiting == "rig" or runner.faults.rig_moved_port
            ):
                kept += " (type the rig's new Port first if it has one)"
            app.call_from_thread(self.finished, None, f"Stopped: {kept}.")
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
            app.call_from_thread(self.finished, None, f"Not finished: {said(exc)}")
