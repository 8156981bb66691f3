"""Rig: connect the servo rig, calibrate its knobs with the live position shown, move them.

The screen drives the same core as `station rig ...` (RigCalibration and its
line commands, rig_status, parse_settings). Rig I/O runs in thread workers,
one command at a time; Escape sends STOP then DETACH, and leaving the screen
always detaches and closes the port.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Input, Label, RichLog, Static

from ..errors import StationError, Stopped
from ..home import list_rigs, lock_rig
from ..locks import Lock
from ..rig.calibrate import COMMANDS, RigCalibration, command_list, parse_settings, rig_status
from ..rig.profiles import load_rig, save_rig
from .base import StationScreen
from .form import row
from .words import error_text, said

KEYS = (
    "[b]←/→[/b] ±5 µs [b]↓/↑[/b] ±50 µs [b]Esc[/b] stop · [b]knob drive 0[/b] · [b]mark 5[/b] · "
    "[b]done[/b] · [b]save[/b] · [b]help[/b]"
)
# What this screen adds to the calibration's commands (the keys are on the line above them).
SCREEN_COMMANDS = (
    ("move drive=5 boost=on", "turn the saved rig's controls there"),
    ("status", "where the saved rig's controls are"),
    ("detach", "let the servos go limp (Esc does too)"),
)
NEW_RIG = "od"  # the name offered when the home has no rig profile yet


class RigScreen(StationScreen[None]):
    """Connect, jog each knob to its printed marks, save the profile; status and moves."""

    # Everything but the log takes one line (the live position two), so the log has the rest:
    # at 80×24 the whole command list fits in it. CSS, not DEFAULT_CSS: it overrides the app's.
    CSS = """
    RigScreen #connection { height: 1; }
    RigScreen #connection Label { width: auto; padding: 0 1 0 0; }
    RigScreen #connection Input { width: 1fr; margin: 0 2 0 0; }
    RigScreen #connection Button { margin: 0 0 0 1; }
    RigScreen #live { padding: 0 1; margin: 0; height: 2; background: $boost; text-style: bold; }
    RigScreen .row Label { width: 9; }
    RigScreen RichLog {
        height: 1fr; border: none; border-left: outer $primary-darken-2; padding: 0 0 0 1;
    }
    """

    BINDINGS = [
        Binding("f5", "connect", "Connect"),
        Binding("escape", "stop", "Stop"),
        Binding("left", "jog(-5)", "-5 µs", show=False, priority=True),
        Binding("right", "jog(5)", "+5 µs", show=False, priority=True),
        Binding("down", "jog(-50)", "-50 µs", show=False, priority=True),
        Binding("up", "jog(50)", "+50 µs", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False  # a command is running
        self.rig: Any = None
        self.port_lock: Lock | None = None  # the rig's port, held while connected
        self.cal: RigCalibration | None = None
        self.bench: Any = None
        self.port = ""
        self._lock = threading.Lock()
        self._generation = 0  # a stop drops the commands still queued behind it
        self._replace_ok = False  # the user said yes to saving over the profile of that name

    def compose(self) -> ComposeResult:
        s: dict[str, Any] = self.station.settings
        yield Header()
        with Vertical():
            with Horizontal(id="connection"):
                yield Label("Port")
                yield Input(s.get("rig_port", "virtual"), id="port", compact=True)
                yield Label("Rig name")
                yield Input(self.default_name(), id="name", compact=True)
                yield Button("Connect (F5)", variant="primary", id="connect", compact=True)
                yield Button("Stop (Esc)", id="stop", compact=True)
            yield Static("Servo rig: not connected. Press F5 to connect.", id="live")
            yield Static(KEYS, classes="muted")
            yield row(
                "Command", Input(placeholder="then Enter (help lists them)", id="command")
            )
            # Long lines wrap at the log's own width (RichLog's default renders 78 wide and cuts).
            yield RichLog(id="log", markup=True, wrap=True, min_width=20)
        yield Footer()

    def default_name(self) -> str:
        """The rig profile last used, else the first saved one, else a name for a new rig."""
        s: dict[str, Any] = self.station.settings
        saved = list_rigs(self.station.home)
        if s.get("rig_name") in saved:
            return str(s["rig_name"])
        return saved[0] if saved else str(s.get("rig_name") or NEW_RIG)

    def on_mount(self) -> None:
        """Connect is one Enter away; refresh the live position five times a second (it moves
        during a slew)."""
        self.query_one("#connect", Button).focus()
        self.set_interval(0.2, self.show_live)

    # -- live position -------------------------------------------------------------

    def show_live(self) -> None:
        """Where the current servo is, and on the virtual rig where its pointer is."""
        if self.cal is None:
            return
        if self.cal.current is None:
            text = (
                f"Connected on {self.port}. Choose a control: [b]knob NAME CHANNEL[/b] or "
                "[b]switch NAME CHANNEL[/b]"
            )
            if self.cal.done:
                text += f" (done: {', '.join(c.name for c in self.cal.done)})"
        else:
            text = self.cal.where()
            marks = self.cal.current.marks
            if marks:
                text += "\nmarks: " + ", ".join(f"{k}={v} µs" for k, v in marks.items())
        self.query_one("#live", Static).update(text)

    def note(self, text: str) -> None:
        """Add a line to the screen's log."""
        self.query_one("#log", RichLog).write(text)

    # -- actions ---------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Connect or stop."""
        if event.button.id == "connect":
            self.action_connect()
        elif event.button.id == "stop":
            self.action_stop()

    def action_connect(self) -> None:
        """Open the port named in the form (virtual: the firmware twin)."""
        if self.rig is not None:
            self.notify("Already connected.")
            return
        port = self.query_one("#port", Input).value.strip() or "virtual"
        name = self.query_one("#name", Input).value.strip()
        self.station.remember(rig_port=port, rig_name=name)
        self.connect(port, name)

    @work(thread=True, group="rig")
    def connect(self, port: str, name: str) -> None:
        """Connect in a worker: the banner can take seconds."""
        from ..devices import open_rig

        app = self.station
        kw: dict[str, Any] = {}
        bench = None
        if port.lower() == "virtual":
            from ..virtual.twin import speedup_from_env

            virtual = app.bench("virtual").rig
            assert virtual is not None  # the virtual bench always holds the virtual rig
            bench = virtual.servos  # the knobs the virtual capture hears
            kw["twin_kw"] = {"bench": bench, "speedup": speedup_from_env()}
        app.call_from_thread(self.note, f"connecting to {port} …")
        lock = None
        try:
            lock = lock_rig(app.home, port, holder="station (the TUI's Rig screen)")
            note = lock.stale_note(f"the rig on {port}")
            if note:
                app.call_from_thread(self.notify, note, severity="warning", timeout=10)
            rig = open_rig(port, **kw)
            cal = RigCalibration(
                rig,
                name=name,
                port=port,
                firmware_version=rig.info.version if rig.info else "",
                look=bench.pointer_text if bench is not None else None,
            )
        except StationError as exc:
            if lock is not None:
                lock.release()
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
            app.call_from_thread(self.note, f"[red]{escape(said(exc))}[/red]")
            return
        self.rig, self.cal, self.bench, self.port = rig, cal, bench, port
        self.port_lock = lock
        info = rig.info
        seen = f"servo-rig {info.version}, {info.channels} channels" if info else "servo-rig"
        app.call_from_thread(self.note, f"[green]connected: {seen}[/green]")
        app.call_from_thread(self.show_live)
        app.call_from_thread(self.query_one("#command", Input).focus)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Run a typed command."""
        if event.input.id != "command":
            return
        line = event.value.strip()
        event.input.value = ""
        if not line:
            return
        if self.cal is None:
            self.notify("Connect first (F5).", severity="warning")
            return
        self.note(f"[b]> {escape(line)}[/b]")
        self.run_command(line, self._generation)

    def action_jog(self, delta_us: int) -> None:
        """Jog the current servo (arrow keys; with text typed, they move the cursor)."""
        box = self.query_one("#command", Input)
        if box.has_focus and box.value and delta_us in (-5, 5):
            (box.action_cursor_left if delta_us < 0 else box.action_cursor_right)()
            return
        if self.cal is None or self.cal.current is None:
            return
        self.run_command(f"{delta_us:+d}", self._generation)

    def action_stop(self) -> None:
        """STOP then DETACH, at once."""
        if self.rig is None:
            return
        self._generation += 1
        self.note("[yellow]stop: halting and detaching the servos[/yellow]")
        self.halt()

    @work(thread=True, group="halt")
    def halt(self) -> None:
        """STOP (the running move, if any, sends it) then DETACH."""
        app = self.station
        try:
            self.rig.stop()
            with self._lock:
                self.rig.detach()
            app.call_from_thread(self.note, "servos halted and detached")
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)

    @work(thread=True, group="rig")
    def run_command(self, line: str, generation: int) -> None:
        """One command off the UI thread; commands run one at a time, none after a stop."""
        app = self.station
        app.call_from_thread(setattr, self, "busy", True)
        try:
            with self._lock:
                if generation != self._generation:
                    return
                text = self._execute(line)
            if text:
                app.call_from_thread(self.note, text)
        except Stopped:
            app.call_from_thread(self.note, "[yellow]stopped[/yellow]")
        except StationError as exc:
            app.call_from_thread(self.note, f"[red]{escape(error_text(exc))}[/red]")
        finally:
            app.call_from_thread(setattr, self, "busy", False)
            app.call_from_thread(self.show_live)

    def _execute(self, line: str) -> str:
        """The calibration commands, plus move, status, detach and use on a saved profile."""
        assert self.cal is not None
        app = self.station
        words = line.split()
        verb = words[0].lower()
        if verb in ("help", "?"):
            return escape(self.help_text())
        if verb in ("move", "status", "detach"):
            profile = load_rig(app.home, self._profile_name())
            if verb == "detach":
                self.rig.detach()
                return "servos detached"
            if verb == "move":
                pulses = profile.pulses_for(*parse_settings(profile, words[1:]))
                if self.rig.speed_us_per_s != profile.slew_us_per_s:
                    self.rig.set_speed(profile.slew_us_per_s)
                self.rig.move(pulses)
            st = rig_status(profile, self.rig, self.port, self.bench)
            parts = [
                f"{n} {k['value']:g}" if k["value"] is not None else f"{n} ?"
                for n, k in st["knobs"].items()
            ]
            parts += [f"{n} {sw['position'] or '?'}" for n, sw in st["switches"].items()]
            return escape(f"{profile.name}: " + ", ".join(parts))
        text, action = self.cal.execute(line)
        if action == "save":
            profile = self.cal.profile()  # an unfinished calibration is refused before asking
            replacing = profile.name in list_rigs(app.home)
            if replacing and not self._replace_ok:
                app.call_from_thread(self.ask_replace, profile.name)
                return ""
            self._replace_ok = False
            path = save_rig(app.home, profile)
            bak = path.with_name(path.name + ".bak")
            if replacing and bak.is_file():
                return f"[green]saved {escape(str(path))}[/green] (the one it replaced: {bak.name})"
            return f"[green]saved {escape(str(path))}[/green]"
        if action == "quit":
            self.rig.detach()
            return "servos detached"
        return escape(text)

    def ask_replace(self, name: str) -> None:
        """Save over the saved rig profile `name` only after the user says so (it is kept as
        NAME.toml.bak, as the command line keeps it)."""
        from .modals import QuestionModal

        def answered(yes: bool | None) -> None:
            if yes:
                self._replace_ok = True
                self.run_command("save", self._generation)
            else:
                self.note(f"not saved: the rig profile {escape(name)!r} is kept as it was")

        self.app.push_screen(
            QuestionModal(
                "Replace a rig profile?",
                f"A rig profile named '{name}' is saved already. Saving replaces it (the old "
                f"one is kept as {name}.toml.bak); every plan and sweep made for '{name}' "
                "then uses the new calibration. Cancel keeps it; change the rig name and "
                "connect again to keep both.",
                f"Replace '{name}'",
            ),
            answered,
        )

    def help_text(self) -> str:
        """The calibration's commands and this screen's, as wide as the log shows them."""
        log = self.query_one("#log", RichLog)
        # The scrollbar the list itself may bring takes its columns from the text.
        width = log.scrollable_content_region.width - (0 if log.show_vertical_scrollbar else 2)
        return command_list((*COMMANDS, *SCREEN_COMMANDS), max(40, width), indent=0)

    def _profile_name(self) -> str:
        name = self.query_one("#name", Input).value.strip()
        app = self.station
        if name not in list_rigs(app.home):
            raise StationError(
                f"there is no saved rig profile {name!r}", "calibrate and 'save' it first"
            )
        return name

    def on_unmount(self) -> None:
        """Leaving the screen: detach and close, off the UI thread."""
        rig, lock = self.rig, self.port_lock
        self.rig = self.cal = self.port_lock = None
        if rig is None:
            return

        def leave() -> None:
            try:
                rig.detach()
            except StationError:
                pass
            finally:
                rig.close()
                if lock is not None:
                    lock.release()

        threading.Thread(target=leave, name="rig-leave", daemon=True).start()
