"""Home: profiles, recent captures and models, and where to go next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from ..errors import StationError
from ..home import list_captures, list_models, list_profiles
from ..interface.profiles import load_profile
from .base import StationScreen
from .words import said

OLD_PROFILE_DAYS = 30


def _age_days(created: str) -> float | None:
    try:
        then = dt.datetime.fromisoformat(created)
    except ValueError:
        return None
    return (dt.datetime.now().astimezone() - then).total_seconds() / 86400


class HomeScreen(StationScreen[None]):
    """What is measured and captured so far, and the keys to go on."""

    # Nothing to type into here, so single letters work too.
    BINDINGS = [
        Binding("c", "app.go('calibrate')", "Calibrate", show=False),
        Binding("p", "app.go('capture')", "Capture", show=False),
        Binding("m", "app.go('models')", "Models", show=False),
        Binding("g", "app.go('gain')", "Gain", show=False),
        Binding("r", "app.go('rig')", "Rig", show=False),
        Binding("s", "app.go('sweep')", "Sweep", show=False),
        Binding("question_mark", "app.go('help')", "Help", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("", id="welcome", classes="big")
            yield Static("Interface profiles", classes="title")
            yield DataTable(id="profiles", cursor_type="row")
            yield Static("Recent captures (Enter opens the verdict)", classes="title")
            yield DataTable(id="captures", cursor_type="row")
            yield Static("Models", classes="title")
            yield DataTable(id="models", cursor_type="row")
        yield Footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a capture opens its verdict."""
        if event.data_table.id != "captures" or event.row_key.value is None:
            return
        from .results import VerdictScreen

        name = str(event.row_key.value)
        folder = self.station.home / "captures" / name
        self.app.push_screen(VerdictScreen(folder, self.capture_metas.get(name, {})))

    def on_mount(self) -> None:
        """Fill the tables from the station home."""
        app = self.station
        home = app.home
        profiles = self.query_one("#profiles", DataTable)
        profiles.add_columns("profile", "device", "send dBu", "return dBu", "latency", "age")
        names = list_profiles(home)
        devices: set[str] | None = None
        for name in names:
            try:
                p = load_profile(home, name)
            except StationError as exc:
                profiles.add_row(name, f"[red]{said(exc)}[/red]", "", "", "", "")
                continue
            age = _age_days(p.created)
            age_text = "-" if age is None else f"{age:.0f} d"
            if age is not None and age > OLD_PROFILE_DAYS:
                age_text = f"[yellow]{age_text} (old: re-measure)[/yellow]"
            device = p.device_name
            if p.host_api != "virtual":
                devices = devices if devices is not None else _present_devices()
                if device not in devices:
                    device = f"[yellow]{device} (not connected)[/yellow]"
            profiles.add_row(
                name,
                device,
                f"{p.send_dbu_at_0dbfs:+.2f}",
                f"{p.return_dbu_at_0dbfs:+.2f}",
                f"{p.latency_samples:.1f}",
                age_text,
            )
        captures = self.query_one("#captures", DataTable)
        captures.add_columns("capture", "verdict", "input dBu", "output dBu", "finished")
        caps = list_captures(home)
        self.capture_metas = dict(caps)
        for name, meta in caps[:20]:
            verdict = "[green]passed[/green]" if meta.get("passed") else "[red]failed[/red]"
            captures.add_row(
                name,
                verdict,
                _dbu(meta.get("input_level_dbu"), "{:+.2f}"),
                _dbu(meta.get("output_level_dbu"), "{:+.2f}"),
                str(meta.get("finished", ""))[:16].replace("T", " "),
                key=name,
            )
        if caps:
            captures.focus()  # Enter opens the newest verdict at once
        models = self.query_one("#models", DataTable)
        models.add_columns("model", "folder")
        for path in list_models(home):
            models.add_row(path.name, _folder(path.parent, Path(home)))
        if not names:
            text = (
                "Welcome. First measure your interface: press [b]c[/b] (or F3) to "
                "calibrate: send level, return level, latency."
            )
        elif not caps:
            text = (
                "Interface measured. Press [b]p[/b] (or F4) to capture your gear at an exact level."
            )
        else:
            text = (
                "Press [b]p[/b] (F4) for another capture, [b]m[/b] (F6) to tag or train a "
                "model, [b]g[/b] (F7) for the player's gain staging."
            )
        text += " Servo rig: [b]r[/b] (F10); plan and run a sweep: [b]s[/b] (F11)."
        if app.demo:
            text = "[b]Demo on the virtual rig[/b] — no hardware needed. " + text
        self.query_one("#welcome", Static).update(text)


def _folder(folder: Path, home: Path) -> str:
    try:
        return folder.relative_to(home).as_posix()
    except ValueError:
        return str(folder)


def _dbu(value: object, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, int | float) else "-"


def _present_devices() -> set[str]:
    try:
        from ..drivers.audio import list_audio_devices

        return {d["name"] for d in list_audio_devices()}
    except StationError:
        return set()
