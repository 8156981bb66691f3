"""The Sweep screen's Plan tab: a plan from a rig profile's controls, a budget and a design.

It calls the core that `station plan` calls (station.plan.setup), shows the
plan's estimate, writes the file under the home's plans/ and tells the screen,
which puts it in the Sweep tab's form so F5 sweeps it. With Adaptive ticked the
plan is a space-filling start and the sweep's rounds choose the rest of the
budget (station.plan.adaptive), as `station plan --adaptive` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..errors import StationError
from ..home import captures_dir, list_rigs, plan_path, plans_dir
from ..plan.adaptive import adaptive_request
from ..plan.adaptive_spec import DEFAULT_BATCH
from ..plan.design import METHODS, Plan, PlanRequest
from ..plan.setup import for_rig, make_and_write, plan_summary
from ..rig.motion import MotionModel
from ..rig.profiles import RigProfile, load_rig
from ..sweep.overhead import expected_overhead
from .form import dbu_values, number, optional_integer, optional_number, row, row_pair
from .words import error_text

if TYPE_CHECKING:
    from .app import StationApp


def controls_line(rig: RigProfile) -> str:
    """`drive 0–10 · tone 0–10 · boost off/on`: what a plan for this rig varies."""
    parts = [f"{k.name} {k.min:g}–{k.max:g}" for k in rig.knobs]
    parts += [f"{s.name} {'/'.join(s.positions)}" for s in rig.switches]
    return " · ".join(parts) or "no knobs or switches"


# The adaptive fields, by id: their label (the TUI's word for the core's key) and the
# placeholder saying what a blank field means.
ADAPTIVE_FIELDS = {
    "plan_initial": ("Initial", "half"),
    "plan_batch": ("Batch", str(DEFAULT_BATCH)),
    "plan_max_hours": ("Max hours", "none"),
    "plan_stop_below": ("Stop below", "never"),
}


class PlanForm(VerticalScroll):
    """Rig, budget, method, holdout, levels, seed, adaptive rounds; Make writes the plan and
    shows its estimate."""

    DEFAULT_CSS = """
    PlanForm { height: 1fr; }
    PlanForm #plan_result { height: auto; }
    PlanForm #plan_buttons { height: auto; }
    PlanForm #adaptive_row { height: 1; }
    PlanForm #adaptive_row Checkbox { width: 16; }
    PlanForm #adaptive_row Label { margin: 0 1; }
    PlanForm #adaptive_row Input { width: 1fr; }
    """

    class Made(Message):
        """A plan was written to `path`."""

        def __init__(self, path: Path, plan: Plan) -> None:
            super().__init__()
            self.path = path
            self.plan = plan

    @property
    def station(self) -> StationApp:
        """The running app, as the StationApp it is."""
        return cast("StationApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.station
        s: dict[str, Any] = app.settings
        rigs = list_rigs(app.home)
        chosen = s.get("plan_rig") if s.get("plan_rig") in rigs else (rigs[0] if rigs else None)
        yield Static(
            "Which settings to capture, played in the order that turns the knobs least.",
            classes="muted",
        )
        yield row(
            "Rig",
            Select(
                [(r, r) for r in rigs],
                value=chosen or Select.NULL,
                id="plan_rig",
                prompt="a rig profile: calibrate one on the Rig screen (F10)",
            ),
        )
        yield Static("", id="plan_controls", classes="muted")
        budget = s.get("plan_settings", 6 if app.demo else 16)
        yield row_pair(
            "Settings",
            Input(str(budget), id="plan_settings", placeholder="held out too"),
            "Held out",
            Input("", id="plan_holdout", placeholder="about 10 % of them"),
        )
        methods = [(m, m) for m in METHODS]
        yield row_pair(
            "Method",
            Select(methods, value=METHODS[0], allow_blank=False, id="plan_method"),
            "Seed",
            Input("1", id="plan_seed"),
        )
        yield row(
            "Levels dBu",
            Input("", id="plan_levels", placeholder="blank: the Reamp dBu; or e.g. 6, 12, 18"),
        )
        yield row("Plan name", Input(chosen or "", id="plan_name", placeholder="e.g. od-night1"))
        yield self._adaptive_row()
        with Horizontal(id="plan_buttons"):
            yield Button("Make the plan", variant="primary", id="make_plan", compact=True)
        yield Static(f"Plans are saved in {plans_dir(app.home)}.", id="plan_result")

    def _adaptive_row(self) -> Horizontal:
        """The Adaptive tick and its fields (usable once ticked) on one line."""
        tick = Checkbox("Adaptive", id="plan_adaptive", compact=True)
        tick.tooltip = "the sweep chooses the rest of the settings where quick models disagree"
        widgets: list[Widget] = [tick]
        for ident, (label, blank) in ADAPTIVE_FIELDS.items():
            widgets += [Label(label), Input("", id=ident, placeholder=blank, compact=True)]
        return Horizontal(*widgets, id="adaptive_row")

    def on_mount(self) -> None:
        """Show the chosen rig's controls; the adaptive fields wait for their tick."""
        self.show_controls()
        self.show_adaptive(False)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        """Adaptive ticked or not: its fields with it."""
        if event.checkbox.id == "plan_adaptive":
            self.show_adaptive(event.value)

    def show_adaptive(self, on: bool) -> None:
        """The adaptive fields usable (ticked) or greyed out."""
        for ident in ADAPTIVE_FIELDS:
            self.query_one(f"#{ident}", Input).disabled = not on

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new rig: show its controls, and name the plan after it unless a name was typed."""
        if event.select.id != "plan_rig":
            return
        name = self.query_one("#plan_name", Input)
        if isinstance(event.value, str) and (not name.value or name.value in self._rigs()):
            name.value = event.value
        self.show_controls()

    def _rigs(self) -> list[str]:
        return list_rigs(self.station.home)

    def _rig(self) -> RigProfile:
        name = self.query_one("#plan_rig", Select).value
        if not isinstance(name, str):
            raise StationError("choose a rig profile", "calibrate one on the Rig screen (F10)")
        return load_rig(self.station.home, name)

    def show_controls(self) -> None:
        """The chosen rig's knobs and switches, or why there are none."""
        line = self.query_one("#plan_controls", Static)
        if not isinstance(self.query_one("#plan_rig", Select).value, str):
            line.update("")
            return
        try:
            line.update(escape(controls_line(self._rig())))
        except StationError as exc:
            line.update(f"[red]{escape(error_text(exc))}[/red]")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Make the plan."""
        if event.button.id == "make_plan":
            event.stop()
            self.make()

    def request(self) -> tuple[PlanRequest, MotionModel, Path]:
        """The plan request from the form (for the chosen rig, adaptive when ticked), the
        rig's motion model and the file it goes to; StationError naming the field for
        anything typed wrong."""
        rig = self._rig()
        settings = int(number(self, "#plan_settings", "Settings", integer=True))
        req, model = for_rig(
            PlanRequest(
                knobs=(),
                settings=settings,
                method=str(self.query_one("#plan_method", Select).value),
                holdout=optional_integer(self, "#plan_holdout", "Held out"),
                levels_dbu=dbu_values(self, "#plan_levels", "Levels dBu"),
                seed=int(number(self, "#plan_seed", "Seed", integer=True)),
            ),
            rig,
        )
        if self.query_one("#plan_adaptive", Checkbox).value:
            req = adaptive_request(
                req,
                initial=optional_integer(self, "#plan_initial", "Initial"),
                batch=optional_integer(self, "#plan_batch", "Batch"),
                max_hours=optional_number(self, "#plan_max_hours", "Max hours"),
                stop_below=optional_number(self, "#plan_stop_below", "Stop below"),
            )
        name = self.query_one("#plan_name", Input).value.strip()
        if not name:
            raise StationError("the plan needs a name", "type one in Plan name, e.g. od-night1")
        return req, model, plan_path(self.station.home, name)

    def make(self) -> None:
        """Check the form, then design and write the plan off the UI thread."""
        result = self.query_one("#plan_result", Static)
        try:
            req, model, path = self.request()
        except StationError as exc:
            result.update(f"[red]{escape(error_text(exc))}[/red]")
            return
        self.station.remember(plan_rig=req.rig, plan_settings=req.settings)
        result.update("Planning…")
        self.query_one("#make_plan", Button).disabled = True
        self.design(req, model, path)

    @work(thread=True, exclusive=True, group="plan")
    def design(self, req: PlanRequest, model: MotionModel, path: Path) -> None:
        """Make and write the plan (a large budget takes a moment), then show it."""
        app = self.station
        replaced = path.is_file()
        try:
            overhead_s, note = expected_overhead(captures_dir(app.home))
            plan = make_and_write(req, model, path, overhead_s=overhead_s, note=note)
        except StationError as exc:
            app.call_from_thread(self.planned, None, f"[red]{escape(error_text(exc))}[/red]")
            return
        lines = [escape(line) for line in plan_summary(plan)]
        lines[2] = f"[b]{lines[2]}[/b]"  # the estimated total: what a user plans the night by
        saved = f"[green]Saved {escape(str(path))}[/green]" + (
            " (it replaced the plan of that name)" if replaced else ""
        )
        text = "\n".join([*lines, saved, "F5 sweeps it (Profile and Session on the Sweep tab)."])
        app.call_from_thread(self.planned, (path, plan), text)

    def planned(self, made: tuple[Path, Plan] | None, text: str) -> None:
        """Show what came of it; tell the screen about a new plan."""
        self.query_one("#make_plan", Button).disabled = False
        result = self.query_one("#plan_result", Static)
        result.update(text)
        # A summary longer than the room left (an adaptive plan's notes) scrolls the form up
        # to its end, and keeps it there as the lines wrap again beside the scrollbar.
        self.anchor()
        if made is not None:
            self.post_message(self.Made(*made))
