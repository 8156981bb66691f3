"""Result screens: a finished calibration or a capture's verdict, whole on an 80×24 terminal.

Each opens on top of the screen that produced it (or Home, for a past capture)
and Escape returns there. The verdict reads capture.json, so a capture taken
yesterday shows the same screen as one taken a moment ago.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from ..capture.redraw import draw_if_missing
from .base import StationScreen
from .widgets import STATUS_STYLE

WIDE = {"check": 17, "result": 4, "value": 9}  # the message column takes the rest


class ResultScreen(StationScreen[None]):
    """A result on a screen of its own; Escape or Enter goes back."""

    busy = False
    overlay = True  # the app pops it before switching to another screen
    BINDINGS = [Binding("escape", "back", "Back"), Binding("enter", "back", "Back", show=False)]
    DEFAULT_CSS = """
    ResultScreen #head { padding: 0 1; height: auto; }
    ResultScreen DataTable { height: auto; max-height: 100%; }
    """

    def action_back(self) -> None:
        """Return to the screen underneath."""
        self.app.pop_screen()


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"  # at most 9 characters: -2.08e-05
    return "-" if value is None else str(value)


class VerdictScreen(ResultScreen):
    """A capture's verdict: PASSED/FAILED, levels, latency, then every check with its advice."""

    BINDINGS = [*ResultScreen.BINDINGS, Binding("f9", "tag", "Tag")]

    def __init__(self, folder: Path, record: dict[str, Any], result: Any = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.record = record
        self.result = result  # the CaptureResult when the capture was just taken

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(verdict_head(self.folder, self.record), id="head")
            yield DataTable(id="checks", zebra_stripes=True, cursor_type="none", show_header=False)
            yield Static(advice(self.record), id="advice")
        yield Footer()

    def on_mount(self) -> None:
        """One line per check; the advice of failed and warned checks wraps below the table."""
        table = self.query_one("#checks", DataTable)
        # Each column has a cell of padding either side; the scrollbar takes two more.
        message_width = max(20, self.app.size.width - sum(WIDE.values()) - 2 * 4 - 3)
        table.add_column("check", width=WIDE["check"])
        table.add_column("result", width=WIDE["result"])
        table.add_column("value", width=WIDE["value"])
        table.add_column("message", width=message_width)
        for c in self.record.get("checks", []):
            status = _status(c)
            table.add_row(
                c.get("name", "?"),
                Text.from_markup(STATUS_STYLE.get(status, status)),
                _shown(c.get("value")),
                Text(str(c.get("message", "")), no_wrap=True, overflow="ellipsis"),
            )
        self.draw_missing_report()

    @work(thread=True, group="report")
    def draw_missing_report(self) -> None:
        """Draw report.png again when a stopped take left the capture without it."""
        note = draw_if_missing(self.folder)
        if note is not None:
            self.app.call_from_thread(self.notify, note, timeout=8)

    def action_tag(self) -> None:
        """Tag a model with this capture's calibration."""
        from .models import ModelsScreen

        self.app.pop_screen()
        self.app.switch_screen(ModelsScreen(capture=self.folder))


def _status(check: dict[str, Any]) -> str:
    if check.get("status"):
        return str(check["status"])
    return {None: "n/a", True: "pass", False: "fail"}[check.get("passed")]


def advice(record: dict[str, Any]) -> str:
    """The whole message of every failed or warned check, one bullet each (wraps)."""
    lines = [
        f"[{'red' if _status(c) == 'fail' else 'yellow'}]•[/] [b]{c.get('name')}[/b]: "
        f"{c.get('message', '')}"
        for c in record.get("checks", [])
        if _status(c) in ("fail", "warn")
    ]
    return "\n".join(lines)


def verdict_head(folder: Path, record: dict[str, Any]) -> str:
    """The lines above the checks: verdict, levels, latency, where the files are."""
    checks = record.get("checks", [])
    failed = [c.get("name", "?") for c in checks if c.get("passed") is False]
    warned = sum(c.get("status") == "warn" for c in checks)
    if record.get("passed"):
        head = "[b green]PASSED[/b green]" + (f" with {warned} warning(s)" if warned else "")
    else:
        head = f"[b red]FAILED[/b red] ({', '.join(failed)}): retake while the gear is set up"
    lat = record.get("latency") or {}
    latency = record.get("latency_samples")
    used = f" ({lat['used']})" if lat.get("used") else ""
    polarity = "inverted" if record.get("polarity", 1) < 0 else "normal"
    levels = (
        f"in {record['input_level_dbu']:+.2f} dBu · out {record['output_level_dbu']:+.2f} dBu"
        if isinstance(record.get("input_level_dbu"), int | float)
        and isinstance(record.get("output_level_dbu"), int | float)
        else "levels: not recorded"
    )
    lat_text = f"latency {latency:.2f}{used}" if isinstance(latency, int | float) else ""
    return (
        f"{head} — [b]{folder.name}[/b]\n{levels} · {lat_text} · polarity {polarity}\n"
        f"[dim]{folder} · report.png · Esc back · F9 tag a model[/dim]"
    )


class CalibrationResultScreen(ResultScreen):
    """What a calibration measured and where the profile went (the form's own result text)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.profile_name = name
        self.text = text

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(f"[b green]Calibrated[/b green] — profile [b]{self.profile_name}[/b]")
            yield Static(self.text, id="result")
            yield Static(
                "\nNext: F4 to capture with this profile. Esc goes back to the form "
                "(compare with a published spec there).",
                id="next",
            )
        yield Footer()
