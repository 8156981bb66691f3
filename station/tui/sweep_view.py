"""The Sweep screen's Progress tab: a session's settings with their verdicts, its anchors and
how far it is, live while it sweeps and whole, at 80×24, once it has ended; for an adaptive
session its rounds too (station.sweep.rounds says them), and the round that chose each
setting beside its role."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from ..events import DevicePaused, SweepProgress
from ..models.parametric.training import why_no_parametric
from ..plan.design import Setting
from ..sweep.journal import Journal, SweepState, replay
from ..sweep.positioner import describe
from ..sweep.rounds import measured_per_setting_s, round_of_setting, rounds_lines, rounds_report
from ..sweep.run import SweepSummary, progress_line
from ..sweep.session import Session
from .words import said, say

SHOWN_ANCHORS = 3  # anchors listed one by one; the rest are counted (drifted ones come first)
SHOWN_ROUNDS = 1  # rounds whose batch is listed (the last); the table marks every round's


def verdict(state: SweepState, setting_id: str, anchor: dict[str, Any] | None) -> str:
    """What came of one setting, as the table shows it: passed (and in how many takes),
    failed and why, retaking, pending; suspect after a drift, or when its knob did not move
    (unmoved); an anchor steady or drifted."""
    status = state.status[setting_id]
    takes = state.takes.get(setting_id, 0)
    if status == "done":
        text = "[green]passed[/green]" + (f" ({takes} takes)" if takes > 1 else "")
    elif status == "failed":
        reason = state.last_verdict.get(setting_id, "failed").removeprefix("failed: ")
        text = f"[b red]FAILED[/b red] {escape(reason)}"
    elif status == "captured":
        text = "[yellow]retaking[/yellow]"
    else:
        text = "[dim]pending[/dim]"
    if setting_id in state.suspect:
        text += " [yellow]suspect[/yellow]"
        if state.suspect_reason.get(setting_id) == "unmoved":
            text += " (unmoved)"
    if anchor is not None:
        text += " · [b red]DRIFT[/b red]" if anchor.get("drifted") else " · steady"
    return text


def role_cell(setting: Setting, rounds: dict[str, int]) -> str:
    """A setting's role, and the adaptive round that chose it (`train r2`)."""
    chosen_in = rounds.get(setting.id)
    return setting.role if chosen_in is None else f"{setting.role} r{chosen_in}"


def last_anchors(state: SweepState) -> dict[str, dict[str, Any]]:
    """Each anchor's latest comparison with the first one, by anchor id."""
    return {str(a["id"]): a for a in state.anchors}


def anchors_text(
    anchors: dict[str, dict[str, Any]], planned: int, limits: tuple[float, float]
) -> str:
    """The anchors' results: ESR and level change against the first anchor, drifted or not
    (over the ESR or the level limit, in dB)."""
    if planned <= 1:
        return "[dim]Anchors: this plan has no drift anchor to compare.[/dim]"
    if not anchors:
        return f"Anchors: {planned} in the plan; the first is the reference, none compared yet."
    ordered = sorted(anchors.values(), key=lambda a: not a.get("drifted"))
    drifted = sum(bool(a.get("drifted")) for a in ordered)
    head = f"Anchors vs {ordered[0]['reference']}: " + (
        f"[b red]{drifted} drifted[/b red]" if drifted else "[green]all steady[/green]"
    )
    head += f" (limits ESR {limits[0]:g}, {limits[1]:g} dB)"
    items = [
        f"{a['id']} ESR {a['esr']:.4f}, level {a['level_change_db']:+.2f} dB"
        + (" [b red]DRIFT[/b red]" if a.get("drifted") else "")
        for a in ordered[:SHOWN_ANCHORS]
    ]
    more = len(ordered) - SHOWN_ANCHORS
    if more > 0:
        items.append(f"{more} more")
    return head + " — " + " · ".join(items)


def summary_line(summary: SweepSummary) -> str:
    """How a session stands: settings done, failed, left and suspect, and what comes next."""
    s = summary
    counts = f"{len(s.done)} done, {len(s.failed)} failed, {len(s.suspect)} suspect"
    if s.pending:
        return f"Sweep {s.session.name}: {counts}, {len(s.pending)} left; F8 resumes it."
    nxt = "F8 retakes the failed ones, or t" if s.failed else "T"
    refusal = why_no_parametric(s.session) if s.done else None
    if refusal is not None:  # said here, not first by the trainer after a wait
        return (
            f"Sweep {s.session.name}: {counts}. {nxt}rain one model per setting from it on the "
            f"Models screen (F6); no parametric model: {said(refusal)}."
        )
    return f"Sweep {s.session.name}: {counts}. {nxt}rain models from it on the Models screen (F6)."


class SweepView(Vertical):
    """A sweep session's progress and results: status, bar, the setting now, anchors, table."""

    DEFAULT_CSS = """
    SweepView { height: 1fr; }
    SweepView #status { text-style: bold; background: $boost; padding: 0 1; height: auto; }
    SweepView #current, SweepView #take { height: 1; }
    SweepView #anchors, SweepView #rounds { height: auto; }
    SweepView #pause { height: 1; }
    SweepView #pause Input { width: 1fr; }
    SweepView DataTable { height: 1fr; max-height: 100%; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session: Session | None = None

    def compose(self) -> ComposeResult:
        yield Static("No sweep yet: make a plan, then F5 starts it.", id="status")
        yield ProgressBar(total=1.0, show_eta=False, id="progress")
        for line in (Static("", id="current"), Static("", id="take", classes="muted")):
            line.display = False  # shown while a sweep runs
            yield line
        with Horizontal(id="pause"):  # shown while the sweep waits for its rig
            yield Input(placeholder="the rig's new port, e.g. /dev/ttyACM1", id="new_port")
            yield Button("Use port", id="use_port", compact=True)
        yield Static("", id="anchors")
        yield Static("", id="rounds")
        yield DataTable(id="settings", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        """The pause row shows only while a sweep waits for its rig."""
        self.query_one("#pause").display = False

    def show_pause(self, event: DevicePaused) -> None:
        """The sweep waits for a device: say what happened and what to do; for the rig, the
        field for a new port name."""
        self.query_one("#status", Static).update(f"[b yellow]{escape(say(event.text))}[/]")
        self.query_one("#pause").display = event.device == "rig"
        if event.device == "rig":
            self.query_one("#new_port", Input).focus()

    def end_pause(self) -> None:
        """The device is back: hide the port field."""
        self.query_one("#pause").display = False

    def show_session(self, session: Session) -> SweepState:
        """Fill the table with the session's schedule and what its journal says so far."""
        self.session = session
        table = self.query_one("#settings", DataTable)
        table.clear(columns=True)
        for label in ("id", "role", "setting", "verdict"):
            table.add_column(label, key=label)
        return self.refresh_verdicts()

    def _state(self, schedule: list[Setting]) -> SweepState:
        assert self.session is not None
        return replay(Journal(self.session.folder).read(), [s.id for s in schedule])

    def _show_anchors(self, state: SweepState) -> None:
        assert self.session is not None
        planned = sum(s.role == "anchor" for s in self.session.schedule)
        o = self.session.options
        limits = (o.drift_esr_max, o.drift_level_db_max)
        text = anchors_text(last_anchors(state), planned, limits)
        self.query_one("#anchors", Static).update(text)

    def _show_rounds(self, state: SweepState) -> dict[str, int]:
        """An adaptive session's rounds under the anchors (hidden for any other session);
        returns the round that chose each setting."""
        assert self.session is not None
        box = self.query_one("#rounds", Static)
        box.display = self.session.plan.request.adaptive is not None
        if not box.display:
            return {}
        report = rounds_report(self.session, state, measured_per_setting_s(self.session))
        box.update(escape("\n".join(rounds_lines(report, last=SHOWN_ROUNDS))))
        return round_of_setting(report)

    def refresh_verdicts(self) -> SweepState:
        """Re-read the journal: every setting's verdict (a row for each setting an adaptive
        round added), the anchors and the rounds."""
        assert self.session is not None
        table = self.query_one("#settings", DataTable)
        schedule = list(self.session.schedule)  # the sweep's rounds may grow it meanwhile
        state = self._state(schedule)
        anchors = last_anchors(state)
        rounds = self._show_rounds(state)
        for s in schedule:
            cell = verdict(state, s.id, anchors.get(s.id))
            if s.id not in table.rows:
                table.add_row(s.id, role_cell(s, rounds), describe(s), cell, key=s.id)
                continue
            table.update_cell(s.id, "role", role_cell(s, rounds), update_width=True)
            table.update_cell(s.id, "verdict", cell, update_width=True)
        self._show_anchors(state)
        return state

    def show_progress(self, event: SweepProgress) -> None:
        """Where the sweep is: the status line, the bar, the setting now, the table."""
        self.query_one("#status", Static).update(escape(progress_line(event)))
        self.query_one("#progress", ProgressBar).update(
            progress=(event.done + event.failed) / max(1, event.total)
        )
        values = "   ".join(
            [f"{k} [b]{v:g}[/b]" for k, v in event.knobs.items()]
            + [f"{k} [b]{escape(v)}[/b]" for k, v in event.switches.items()]
        )
        current = self.query_one("#current", Static)
        current.update(f"{event.setting_id}: {values}")
        current.display = self.query_one("#take").display = True
        if self.session is not None:
            self.refresh_verdicts()
        table = self.query_one("#settings", DataTable)
        if event.setting_id in table.rows:
            table.move_cursor(row=table.get_row_index(event.setting_id))

    def show_take(self, text: str) -> None:
        """What the take now is doing."""
        self.query_one("#take", Static).update(escape(text))

    def show_end(self, message: str, summary: SweepSummary | None = None) -> None:
        """How the sweep ended (or stopped): the message, every verdict and anchor, and with
        a summary the bar at the share of settings done or failed."""
        if self.session is not None:
            self.refresh_verdicts()
        self.query_one("#status", Static).update(escape(message))
        self.query_one("#current").display = self.query_one("#take").display = False
        if summary is not None and self.session is not None:
            left = len(summary.pending) / max(1, len(self.session.schedule))
            self.query_one("#progress", ProgressBar).update(progress=1.0 - left)
