"""Gain staging: the player's calculator, updated as values change."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Select, Static

from ..errors import StationError
from ..interface.specs import load_specs
from ..models.namfile import read_model
from ..signal.gainstage import gain_stage
from .base import StationScreen
from .form import number, row
from .words import said


class GainScreen(StationScreen[None]):
    """Plugin input trim (and output gain) from the interface and the model's calibration."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("Gain staging for players", classes="title")
            yield Static(
                "Set the plugin's input trim so the model hears the level the real gear heard.",
                classes="muted",
            )
            yield row(
                "Interface",
                Select(
                    [
                        (f"{s.name}: {s.max_input_dbu:+g} dBu", s.max_input_dbu)
                        for s in load_specs()
                    ],
                    id="spec",
                    prompt="from the spec table (or type below)",
                ),
            )
            yield row("Max input dBu", Input("12.2", id="iface"))
            yield row("Added gain dB", Input("0", id="gain"))
            yield row(
                "Model file", Input("", id="model", placeholder="(optional) a calibrated .nam")
            )
            yield row("Or input dBu", Input("15", id="in_dbu"))
            yield Static("", id="answer", classes="big")
        yield Footer()

    def on_mount(self) -> None:
        """Compute for the defaults."""
        self.recompute()

    def on_select_changed(self, event: Select.Changed) -> None:
        """A spec-table interface fills in its max input level."""
        if isinstance(event.value, float | int):
            self.query_one("#iface", Input).value = f"{event.value:g}"

    def on_input_changed(self, _event: Input.Changed) -> None:
        """Live: recompute on every keystroke."""
        self.recompute()

    def recompute(self) -> None:
        """The trim and, with a calibrated model, the output gain."""
        answer = self.query_one("#answer", Static)
        try:
            iface = number(self, "#iface", "Max input dBu")
            added = number(self, "#gain", "Added gain dB")
            model_text = self.query_one("#model", Input).value.strip()
            out_dbu: float | None = None
            if model_text:
                model = read_model(Path(model_text).expanduser())
                if not model.calibrated:
                    raise StationError(
                        f"{model.path.name} carries no calibration",
                        "ask its creator, or tag it on the Models screen",
                    )
                in_dbu = float(model.metadata["input_level_dbu"])
                out_dbu = float(model.metadata["output_level_dbu"])
            else:
                in_dbu = number(self, "#in_dbu", "Input dBu")
            r = gain_stage(iface, in_dbu, interface_gain_db=added, output_level_dbu=out_dbu)
        except StationError as exc:
            answer.update(f"[red]{said(exc)}[/red]")
            return
        text = f"Plugin input trim: [b]{r.trim_db:+.1f} dB[/b]"
        if r.output_gain_db is not None:
            text += f"\nPlugin output gain: [b]{r.output_gain_db:+.1f} dB[/b]"
        answer.update(f"{text}\n[dim]{r.explanation}[/dim]")
