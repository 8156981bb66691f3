"""Capture: profile, reamp file and level, pre-flight, the take with a live meter, the verdict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, ProgressBar, Select, Static

from ..capture.records import CaptureResult, Hooks
from ..capture.setup import CaptureOrder, capture_requests, ready_reamp_file, run_captures
from ..devices import StationBench
from ..errors import StationError, Stopped
from ..events import Event, LevelReading, Progress, Result, Step, Warning_
from ..home import check_name, home_signal_path, list_profiles
from ..interface.profiles import has_timing_reference, load_profile
from ..models.namfile import GEAR_TYPES, TONE_TYPES
from ..reamp import files as reamp
from ..signal import levels
from ..virtual.catalogue import catalogue
from .base import StationScreen
from .bridge import Bridge
from .form import number, row
from .widgets import LevelMeter, fill_checks, text_plot
from .words import error_text, said, say


class CaptureScreen(StationScreen[None]):
    """From a calibrated profile and the gear to a checked capture."""

    BINDINGS = [
        Binding("f5", "start", "Start"),
        Binding("escape", "stop", "Stop"),
        Binding("f8", "retake", "Retake"),
        Binding("f9", "tag", "Tag"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.bridge: Bridge | None = None
        self.file_peak_dbfs: float | None = None
        self.result: CaptureResult | None = None
        self.pending_file: str | None = None

    def compose(self) -> ComposeResult:
        app = self.station
        s = app.settings
        names = list_profiles(app.home)
        yield Header()
        with VerticalScroll():
            yield Static("Capture gear", classes="title")
            if not names:
                yield Static(
                    "No interface profile yet: press F3 to calibrate first.", classes="big"
                )
            default = (
                s.get("profile") if s.get("profile") in names else (names[0] if names else None)
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
            yield row(
                "Timing ref",
                Select(
                    [
                        ("the profile's timing reference", "on"),
                        ("off: assume the calibrated latency", "off"),
                    ],
                    value="on",
                    allow_blank=False,
                    id="timing",
                ),
            )
            yield Static("", id="timing_info", classes="muted")
            reamp_file = s.get("reamp_file") or str(home_signal_path(app.home))
            yield row("Reamp file", Input(reamp_file, id="file"))
            yield Static("", id="file_info", classes="muted")
            yield row("Reamp dBu", Input(str(s.get("reamp_dbu", 12)), id="dbu"))
            yield Static("", id="headroom", classes="muted")
            yield row("Capture name", Input(s.get("capture_name", "first"), id="name"))
            yield row("Gear make", Input(s.get("gear_make", ""), id="gear_make"))
            yield row("Gear model", Input(s.get("gear_model", ""), id="gear_model"))
            yield row(
                "Gear type",
                Select([(g, g) for g in GEAR_TYPES], id="gear_type", prompt="(optional)"),
            )
            yield row(
                "Tone type",
                Select([(t, t) for t in TONE_TYPES], id="tone_type", prompt="(optional)"),
            )
            yield row(
                "Virtual gear",
                Select(
                    [(f"{k}: {m.description}", k) for k, m in catalogue().items()],
                    value="clean",
                    allow_blank=False,
                    id="virtual_gear",
                ),
            )
            with Horizontal(classes="buttons"):
                yield Button("Start (F5)", variant="primary", id="start", compact=True)
                yield Button("Stop (Esc)", id="stop", disabled=True, compact=True)
                yield Button("Retake (F8)", id="retake", disabled=True, compact=True)
                yield Button("Tag a model (F9)", id="tag", disabled=True, compact=True)
            yield Static("", id="status", classes="big")
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
            yield LevelMeter("return", id="meter")
            yield Static("", id="verdict")
            yield DataTable(id="checks", zebra_stripes=True)
            yield Static("", id="plots")
        yield Footer()

    def on_mount(self) -> None:
        """Describe the reamp file and the level plan for the defaults."""
        self.query_one("#meter", LevelMeter).reset()
        self.inspect_file(self.query_one("#file", Input).value)
        self._update_virtual_gear()
        self._update_timing()

    def _profile(self) -> Any:
        name = self.query_one("#profile", Select).value
        if not isinstance(name, str):
            return None
        try:
            return load_profile(self.station.home, name)
        except StationError:
            return None

    def _update_timing(self) -> None:
        prof = self._profile()
        info = self.query_one("#timing_info", Static)
        if prof is None:
            info.update("")
        elif has_timing_reference(prof):
            info.update(
                f"output {prof.timing_out} → input {prof.timing_in}: keep it patched; each "
                "take is timed by its marker"
            )
        else:
            info.update(
                "this profile has none: calibrate with a timing out/in pair to align exactly "
                "when the driver's latency moves"
            )

    def _update_virtual_gear(self) -> None:
        prof = self._profile()
        self.query_one("#virtual_gear", Select).parent.display = (  # type: ignore[union-attr]
            prof is not None and prof.host_api == "virtual"
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new profile changes the headroom and whether virtual gear applies."""
        if event.select.id == "profile":
            self._update_virtual_gear()
            self._update_timing()
            self.update_headroom()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Live feedback: the file's identity and the highest deliverable level."""
        if event.input.id == "file":
            self.inspect_file(event.value)
        elif event.input.id == "dbu":
            self.update_headroom()

    @work(thread=True, exclusive=True, group="inspect")
    def inspect_file(self, text: str) -> None:
        """Recognise the reamp file and measure its true peak, off the UI thread."""
        app = self.station
        path = Path(text.strip()).expanduser()
        if path == home_signal_path(app.home) and not path.is_file():
            app.call_from_thread(
                self.show_file,
                "the station's own v3-layout signal (written when you start; not NAM's v3_0_0.wav)",
                -1.0,
            )
            return
        try:
            x, sr, _ = reamp.read_mono(path)
            info = reamp.recognise(path, (x, sr))
            peak = reamp.true_peak_dbfs(x)
        except StationError as exc:
            app.call_from_thread(self.show_file, f"[red]{said(exc)}[/red]", None)
            return
        notes = f" — {info.notes[0]}" if info.notes else ""
        app.call_from_thread(
            self.show_file,
            f"{info.recognition}; {info.duration_s:.1f} s, true peak {peak:.2f} dBFS{notes}",
            peak,
        )

    def show_file(self, text: str, peak: float | None) -> None:
        """Show what the file is."""
        self.file_peak_dbfs = peak
        self.query_one("#file_info", Static).update(text)
        self.update_headroom()

    def update_headroom(self) -> None:
        """The level plan: gain, and the most this send can deliver with this file."""
        out = self.query_one("#headroom", Static)
        prof = self._profile()
        try:
            dbu = number(self, "#dbu", "Reamp dBu")
        except StationError as exc:
            out.update(f"[red]{said(exc)}[/red]")
            return
        if prof is None or self.file_peak_dbfs is None:
            out.update("")
            return
        most = levels.max_reamp_dbu(prof.send_dbu_at_0dbfs, self.file_peak_dbfs)
        gain = levels.reamp_gain_db(dbu, prof.send_dbu_at_0dbfs)
        colour = "red" if dbu > most else "green"
        out.update(
            f"[{colour}]playback gain {gain:+.2f} dB; highest deliverable with this file "
            f"and interface setting: {most:.2f} dBu[/{colour}]"
        )

    def set_busy(self, busy: bool) -> None:
        """Lock the form while capturing."""
        self.busy = busy
        self.query_one("#start", Button).disabled = busy
        self.query_one("#stop", Button).disabled = not busy
        done = not busy and self.result is not None
        self.query_one("#retake", Button).disabled = not done
        self.query_one("#tag", Button).disabled = not done

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Dispatch the buttons to their actions."""
        {
            "start": self.action_start,
            "stop": self.action_stop,
            "retake": self.action_retake,
            "tag": self.action_tag,
        }[str(event.button.id)]()

    def action_start(self, force: bool = False) -> None:
        """Validate, ask before replacing a capture, then capture in a worker."""
        if self.busy:
            return
        app = self.station
        prof = self._profile()
        try:
            if prof is None:
                raise StationError("choose a calibrated profile", "press F3 to calibrate first")
            name = check_name(self.query_one("#name", Input).value.strip())
            dbu = number(self, "#dbu", "Reamp dBu")
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=8)
            return
        if not force and (app.home / "captures" / name).exists():
            self.ask_replace(name, f"A capture called '{name}' already exists.")
            return
        gear = {
            k: self.query_one(f"#{k}", Input).value.strip() for k in ("gear_make", "gear_model")
        }
        for k in ("gear_type", "tone_type"):
            value = self.query_one(f"#{k}", Select).value
            gear[k] = value if isinstance(value, str) else ""
        path = Path(self.query_one("#file", Input).value.strip()).expanduser()
        # The reamp file is remembered only once pre-flight accepts it (on_station_event).
        self.pending_file = str(path)
        app.remember(
            profile=prof.name,
            reamp_dbu=dbu,
            capture_name=name,
            gear_make=gear["gear_make"] or None,
            gear_model=gear["gear_model"] or None,
        )
        virtual_gear = str(self.query_one("#virtual_gear", Select).value)
        use_timing = self.query_one("#timing", Select).value != "off"
        self.result = None
        self.query_one("#verdict", Static).update("")
        self.query_one("#plots", Static).update("")
        self.query_one("#checks", DataTable).clear(columns=True)
        self.query_one("#meter", LevelMeter).reset()
        self.set_busy(True)
        self.show_results_area()
        self.run_take(
            prof,
            path,
            dbu,
            name,
            {k: v for k, v in gear.items() if v},
            virtual_gear,
            force,
            use_timing,
        )

    def ask_replace(self, name: str, why: str) -> None:
        """Replace capture `name` only after the user says so in a dialog."""
        from .modals import QuestionModal

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#name", Input).value = name
                self.action_start(force=True)

        self.app.push_screen(
            QuestionModal(
                "Replace a capture?",
                f"{why} A new take replaces it: its audio, verdict and report are deleted "
                "when the new take is saved. Cancel keeps it; change the capture name to "
                "keep both.",
                f"Replace '{name}'",
            ),
            answered,
        )

    def action_retake(self) -> None:
        """The capture just taken, again: asks before replacing it."""
        if self.result is not None and not self.busy:
            name = self.result.capture_dir.name
            self.ask_replace(name, f"Retake replaces the capture '{name}'.")

    def action_tag(self) -> None:
        """Tag a model with this capture's calibration."""
        if self.result is not None and not self.busy:
            from .models import ModelsScreen

            self.app.switch_screen(ModelsScreen(capture=self.result.capture_dir))

    def action_stop(self) -> None:
        """Stop the take at once; nothing is left half-written."""
        if self.bridge is not None and self.busy:
            self.bridge.stop.set()
            self.notify("Stopping…")

    def on_station_event(self, event: Event) -> None:
        """Progress, levels and messages from the procedure."""
        status = self.query_one("#status", Static)
        if isinstance(event, Progress) and event.fraction is not None:
            self.query_one("#progress", ProgressBar).update(progress=event.fraction)
            rem = "" if event.remaining_s is None else f", {event.remaining_s:.0f} s left"
            status.update(f"Recording: {event.elapsed_s:.0f} s elapsed{rem}")
        elif isinstance(event, LevelReading) and event.level_dbfs is not None:
            self.query_one("#meter", LevelMeter).show_level(event.level_dbfs)
        elif isinstance(event, Step):
            status.update(event.text)
            if event.name == "preflight" and self.pending_file:
                self.station.remember(reamp_file=self.pending_file)
                self.pending_file = None
        elif isinstance(event, Warning_):
            self.notify(say(event.text), severity="warning", timeout=8)
        elif isinstance(event, Result):
            status.update(f"{event.name}: {event.value:.1f} {event.unit}")

    @work(thread=True, exclusive=True)
    def run_take(
        self,
        prof: Any,
        path: Path,
        dbu: float,
        name: str,
        gear: dict[str, str],
        virtual_gear: str,
        force: bool,
        use_timing: bool = True,
    ) -> None:
        """The capture procedure, off the UI thread."""
        app = self.station
        try:
            bench = StationBench(app.home, app.bench)
            interface = bench.interface(prof, virtual_gear)
            self.bridge = bridge = Bridge(app, self.on_station_event, bench.virtual)
            order = CaptureOrder(
                prof,
                ready_reamp_file(app.home, path, bridge.emit),
                (dbu,),
                name,
                force=force,
                gear=gear,
                virtual_gear=virtual_gear if bench.virtual is not None else None,
                use_timing=use_timing,
            )
            hooks = Hooks(bridge.emit, bridge.confirm, bridge.stop)
            (result,) = run_captures(interface, capture_requests(app.home, order), hooks)
            app.call_from_thread(self.show_verdict, result)
        except Stopped:
            app.call_from_thread(
                self.query_one("#status", Static).update,
                "Stopped: the stream is closed and nothing was kept.",
            )
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
            app.call_from_thread(
                self.query_one("#status", Static).update, f"[red]{said(exc)}[/red]"
            )
        finally:
            app.call_from_thread(self.set_busy, False)

    def show_verdict(self, result: CaptureResult) -> None:
        """The checks, the latency estimates and two small plots."""
        self.result = result
        warned = sum(c.status == "warn" for c in result.checks)
        head = "[b green]PASSED[/b green]" if result.passed else "[b red]FAILED[/b red]"
        lat = result.record["latency"]
        est = ", ".join(
            f"{k} {v:.2f}" for k, v in lat["estimates_samples"].items() if v is not None
        )
        self.query_one("#status", Static).update(
            f"{head}{f' with {warned} warning(s)' if warned else ''} — {result.capture_dir}"
        )
        self.query_one("#verdict", Static).update(
            f"input_level_dbu {result.input_level_dbu:+.2f}, output_level_dbu "
            f"{result.output_level_dbu:+.2f}; latency {result.latency_samples:.2f} samples "
            f"({lat['used']}; {est}); polarity {'inverted' if lat['polarity'] < 0 else 'normal'}"
        )
        fill_checks(self.query_one("#checks", DataTable), result.checks)
        self.query_one("#plots", Static).update(capture_plots(result))
        self.set_busy(False)
        self.show_results_area()
        from .results import VerdictScreen

        self.app.push_screen(VerdictScreen(result.capture_dir, result.record, result))

    def show_results_area(self) -> None:
        """Scroll so the status, progress, meter and verdict fill the view."""
        self.query_one(VerticalScroll).scroll_to_widget(
            self.query_one("#status", Static), top=True, animate=False
        )


def capture_plots(result: CaptureResult) -> str:
    """Blip alignment and validation level over time, as text."""
    x, _, _ = reamp.read_mono(result.capture_dir / "input.wav")
    y, _, _ = reamp.read_mono(result.capture_dir / "output.wav")
    info = reamp.recognise(result.capture_dir / "input.wav", (x, 48000))
    if info.layout is None:
        return "(custom signal: no blips or validation copies to plot)"
    lay = info.layout
    b = lay.blips[0]
    seg_x = x[b - 5 : b + 55].astype(np.float64)
    seg_y = y[b - 5 : b + 55].astype(np.float64)
    scale = float(np.max(np.abs(seg_x))) / max(float(np.max(np.abs(seg_y))), 1e-12)
    blip = text_plot(
        [("input blip", seg_x), (f"aligned output ×{scale:.2g}", seg_y * scale)], width=60, height=7
    )

    def curve(lo: int, hi: int) -> np.ndarray:
        n = 4800
        seg = y[lo:hi][: (hi - lo) // n * n].astype(np.float64).reshape(-1, n)
        rms = np.sqrt(np.mean(seg**2, axis=1))
        return 20 * np.log10(np.maximum(rms, 1e-9) * math.sqrt(2))

    vals = text_plot(
        [
            ("validation copy 1 (dBFS)", curve(*lay.validation_1)),
            ("copy 2", curve(*lay.validation_2)),
        ],
        width=60,
        height=7,
    )
    return (
        "[b]Blip alignment[/b] (samples −5…+55 around the first blip)\n"
        + blip
        + "\n\n[b]Validation copies, level over 9 s[/b] (they should overlap)\n"
        + vals
    )
