"""Calibrate: choose the device and channels, play the tone, read the meter, loop back."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, RichLog, Select, Static

from ..devices import open_meter
from ..drivers.base import StreamSpec
from ..drivers.meter import DEFAULT_ACCURACY, ManualMeter, MeterAccuracy
from ..errors import StationError, Stopped
from ..events import Event, Instruction, Progress, Result, Step, Warning_
from ..home import check_name
from ..interface.calibrate import CalibrationSettings
from ..interface.setup import calibrate_profile, check_calibration, choose_meter_accuracy
from ..interface.specs import load_specs
from ..settings import meter_accuracy_of, meter_accuracy_setting
from .base import StationScreen
from .bridge import Bridge
from .form import number, row
from .words import error_text, say

RATES = (44100, 48000, 88200, 96000)


def device_options() -> list[tuple[str, str]]:
    """The virtual rig plus every PortAudio device that can play and record."""
    options = [("Virtual rig (no hardware)", "virtual")]
    try:
        from ..drivers.audio import list_audio_devices

        options += [
            (f"{d['index']}: {d['name']} [{d['host_api']}]", str(d["index"]))
            for d in list_audio_devices()
            if d["inputs"] and d["outputs"]
        ]
    except StationError:
        pass
    return options


class CalibrateScreen(StationScreen[None]):
    """The send step (tone + meter) and the loopback step (return level, latency)."""

    BINDINGS = [Binding("f5", "start", "Start"), Binding("escape", "stop", "Stop")]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.bridge: Bridge | None = None
        self.warnings: list[str] = []  # this run's, shown with its result (the log is hidden)

    def compose(self) -> ComposeResult:
        s: dict[str, Any] = self.station.settings
        yield Header()
        with VerticalScroll():
            yield Static("Calibrate an interface", classes="title")
            yield row("Profile name", Input(s.get("profile", "demo"), id="name"))
            devices = device_options()
            default_dev = s.get("device", "virtual")
            if default_dev not in [v for _, v in devices]:
                default_dev = "virtual"
            yield row("Device", Select(devices, value=default_dev, allow_blank=False, id="device"))
            yield row("Send output", Input(str(s.get("send_channel", 1)), id="send"))
            yield row("Return input", Input(str(s.get("return_channel", 1)), id="return"))
            yield row(
                "Timing out",
                Input(
                    str(s.get("timing_out", "")),
                    placeholder="spare output for a timing reference (blank: none)",
                    id="timing_out",
                ),
            )
            yield row(
                "Timing in",
                Input(
                    str(s.get("timing_in", "")),
                    placeholder="spare input it is patched into, for good",
                    id="timing_in",
                ),
            )
            yield row(
                "Sample rate",
                Select([(f"{r} Hz", r) for r in RATES], value=48000, allow_blank=False, id="rate"),
            )
            yield row("Tone Hz", Input("1000", id="tone_hz"))
            yield row("Tone dBFS", Input("-12", id="tone_dbfs"))
            yield row(
                "Meter",
                Select(
                    [
                        ("typed in (handheld meter)", "manual"),
                        ("virtual rig's meter", "virtual"),
                        ("SCPI multimeter", "scpi"),
                    ],
                    value="manual",
                    allow_blank=False,
                    id="meter",
                ),
            )
            kept = meter_accuracy_of(s)
            yield row(
                "Meter accuracy",
                Input(
                    "" if kept is None or kept.assumed else f"{kept.percent:g} % + {kept.counts:g}",
                    placeholder=f"% of reading + counts; blank: {DEFAULT_ACCURACY.percent:g} % "
                    f"+ {DEFAULT_ACCURACY.counts:g}, typical handheld",
                    id="accuracy",
                ),
            )
            yield row(
                "SCPI resource",
                Input(s.get("scpi", ""), placeholder="ASRL/dev/ttyUSB0::INSTR", id="scpi"),
            )
            yield row("Gain note", Input("", placeholder="e.g. gain knob at minimum", id="note"))
            with Horizontal(classes="buttons"):
                yield Button("Start (F5)", variant="primary", id="start", compact=True)
                yield Button("Stop (Esc)", id="stop", disabled=True, compact=True)
            yield Static(
                "Fill in the form and press F5. Step 1 plays a tone for your voltmeter; "
                "step 2 asks you to patch the send into the return (and the timing pair, "
                "if you give one: it times every capture exactly).",
                id="instruction",
                classes="big",
            )
            yield RichLog(id="log", markup=True, wrap=True)
            yield Static("", id="result")
            yield row(
                "Compare with",
                Select(
                    [
                        (
                            f"{sp.name} ({sp.input}, {sp.gain_setting} gain): "
                            f"{sp.max_input_dbu:+g} dBu",
                            sp.max_input_dbu,
                        )
                        for sp in load_specs()
                    ],
                    id="spec",
                    prompt="a published interface spec",
                ),
            )
            yield Static("", id="spec_compare")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start or stop."""
        if event.button.id == "start":
            self.action_start()
        elif event.button.id == "stop":
            self.action_stop()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Compare the measured return level with the chosen spec sheet."""
        if event.select.id == "spec":
            self._compare_spec()
        self.query_one("#result", Static).scroll_visible()

    def _compare_spec(self) -> None:
        spec = self.query_one("#spec", Select).value
        measured = getattr(self, "measured_return", None)
        text = ""
        if isinstance(spec, float | int) and measured is not None:
            text = (
                f"measured {measured:+.2f} dBu vs published {spec:+.2f} dBu: "
                f"difference {measured - spec:+.2f} dB"
            )
        self.query_one("#spec_compare", Static).update(text)

    def set_busy(self, busy: bool) -> None:
        """Lock the form while measuring."""
        self.busy = busy
        self.query_one("#start", Button).disabled = busy
        self.query_one("#stop", Button).disabled = not busy

    def action_start(self) -> None:
        """Validate the form, then calibrate in a worker."""
        if self.busy:
            return
        try:
            name = check_name(self.query_one("#name", Input).value.strip())
            spec = StreamSpec(
                int(self.query_one("#rate", Select).value),  # type: ignore[arg-type]
                int(number(self, "#send", "Send output", integer=True)),
                int(number(self, "#return", "Return input", integer=True)),
            )
            timing = [
                int(number(self, f"#{k}", label, integer=True))
                if self.query_one(f"#{k}", Input).value.strip()
                else None
                for k, label in (("timing_out", "Timing out"), ("timing_in", "Timing in"))
            ]
            settings = CalibrationSettings(
                spec,
                number(self, "#tone_hz", "Tone Hz"),
                number(self, "#tone_dbfs", "Tone dBFS"),
                timing_out=timing[0],
                timing_in=timing[1],
            )
            settings.timing_spec()  # a half-given or clashing pair is a form error
            typed = self.query_one("#accuracy", Input).value
            manual = self.query_one("#meter", Select).value == "manual"
            accuracy = choose_meter_accuracy(typed) if manual else DEFAULT_ACCURACY
        except StationError as exc:
            self.notify(error_text(exc), severity="error", timeout=8)
            return
        device = str(self.query_one("#device", Select).value)
        meter = str(self.query_one("#meter", Select).value)
        scpi = self.query_one("#scpi", Input).value.strip()
        self.station.remember(
            profile=name,
            device=device,
            send_channel=spec.send_channel,
            return_channel=spec.return_channel,
            scpi=scpi or None,
        )
        self.station.remember(
            timing_out=settings.timing_out or "", timing_in=settings.timing_in or ""
        )
        if manual:
            self.station.remember(meter_accuracy=meter_accuracy_setting(accuracy))
        self.query_one("#log", RichLog).clear()
        self.warnings = []
        self.set_busy(True)
        self.run_calibration(
            name,
            device,
            meter,
            scpi,
            settings,
            self.query_one("#note", Input).value.strip(),
            accuracy,
        )

    def action_stop(self) -> None:
        """Stop at once: the tone fades out and the stream closes."""
        if self.bridge is not None and self.busy:
            self.bridge.stop.set()
            self.notify("Stopping…")

    def on_station_event(self, event: Event) -> None:
        """Show what the procedure says."""
        log = self.query_one("#log", RichLog)
        if isinstance(event, Instruction):
            self.query_one("#instruction", Static).update(event.text)
        elif isinstance(event, Step):
            log.write(f"[b]{event.text}[/b]")
        elif isinstance(event, Progress):
            log.write(event.message)
        elif isinstance(event, Result):
            unc = f" ± {event.uncertainty:.3f}" if event.uncertainty is not None else ""
            log.write(f"[green]{event.name} = {event.value:.3f}{unc} {event.unit}[/green]")
        elif isinstance(event, Warning_):
            log.write(f"[yellow]warning: {escape(say(event.text))}[/yellow]")
            self.warnings.append(say(event.text))

    @work(thread=True, exclusive=True)
    def run_calibration(
        self,
        name: str,
        device: str,
        meter_kind: str,
        scpi: str,
        settings: CalibrationSettings,
        note: str,
        accuracy: MeterAccuracy = DEFAULT_ACCURACY,
    ) -> None:
        """The procedure, off the UI thread; a typed-in meter is as accurate as `accuracy`."""
        app = self.station
        try:
            bench = app.bench(device)
            self.bridge = bridge = Bridge(app, self.on_station_event, bench.rig)
            check_calibration(name, bench.interface, settings)
            choice = f"scpi:{scpi}" if meter_kind == "scpi" else meter_kind
            meter = open_meter(choice, bench, bridge.ask_reading)
            if isinstance(meter, ManualMeter):
                meter.accuracy = accuracy
            saved = calibrate_profile(
                app.home,
                name,
                bench.interface,
                meter,
                settings,
                gain_note=note,
                emit=bridge.emit,
                confirm=bridge.confirm,
                stop=bridge.stop,
            )
            result, path = saved.result, saved.path
            app.call_from_thread(self.show_result, result, str(path), name)
        except Stopped:
            app.call_from_thread(self.notify, "Stopped: the tone is off, nothing was saved.")
        except StationError as exc:
            app.call_from_thread(self.notify, error_text(exc), severity="error", timeout=12)
        finally:
            app.call_from_thread(self.set_busy, False)

    def show_result(self, result: Any, path: str, name: str = "") -> None:
        """The measured profile, with uncertainties: on a screen of its own, and below the form."""
        self.measured_return = result.return_dbu_at_0dbfs
        self.query_one("#instruction", Static).update(
            "Done. Press F4 to capture with this profile."
        )
        text = (
            f"[b]Saved {path}[/b]\n"
            f"send   {result.send_dbu_at_0dbfs:+.2f} dBu at 0 dBFS "
            f"(± {result.send_uncertainty_db:.2f} dB)\n"
            f"return {result.return_dbu_at_0dbfs:+.2f} dBu at 0 dBFS "
            f"(± {result.return_uncertainty_db:.2f} dB)\n"
            f"latency {result.latency_samples:.2f} samples (moving "
            f"{result.latency_spread_samples:.2f} across streams), noise floor "
            f"{result.return_noise_floor_dbfs:.1f} dBFS"
            + (
                f"\ntiming reference output {result.timing_out} → input {result.timing_in}: "
                f"{result.timing_reference_delay_samples:.2f} samples (leave it patched)"
                if result.timing_reference_delay_samples is not None
                else ""
            )
        )
        # What the command line prints beside a poor result (a latency that moves, ...), with
        # its advice: the log that showed it is behind the result screen.
        text += "".join(f"\n[yellow]warning: {escape(w)}[/yellow]" for w in self.warnings)
        self.query_one("#result", Static).update(text)
        self._compare_spec()
        from .results import CalibrationResultScreen

        self.app.push_screen(CalibrationResultScreen(name, text))
