"""The TUI's Sweep screen on the virtual rig and the firmware twin: plans made on the screen,
live progress, resizing, stopping and resuming, and a finished sweep whole at 80×24."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Static, TabbedContent

from station.interface.profiles import save_profile
from station.plan.design import PlanRequest, make_plan
from station.plan.file import plan_from_json
from station.plan.setup import for_rig, make_and_write, plan_summary
from station.reamp.files import md5_of_file
from station.sweep.journal import Journal, read_events
from station.sweep.session import SweepOptions, create_session
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal, QuestionModal
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.tui.test_screens import set_input, until


def _ready_home(home: Path, rig: VirtualRig) -> None:
    save_profile(home, calibrated_profile(rig, "demo"))


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def plain(cell: object) -> str:
    """A table cell's text without its markup."""
    return Text.from_markup(str(cell)).plain


def on_screen(app: StationApp, widget) -> bool:
    """The widget is shown whole between the header and the footer."""
    r = widget.region
    return widget.display and r.height > 0 and r.y >= 1 and r.bottom <= app.size.height - 1


def assert_whole(app: StationApp, screen) -> None:
    """The Progress tab shows the summary, the anchors and every row of the table."""
    for selector in ("#status", "#anchors", "#settings"):
        assert on_screen(app, screen.query_one(selector)), selector
    table = screen.query_one("#settings", DataTable)
    assert table.scroll_y == 0
    assert table.scrollable_content_region.height >= table.header_height + table.row_count


async def open_progress(pilot, app: StationApp) -> tuple[Screen, DataTable]:
    """Open the Sweep screen on its Progress tab (the session the form names, if any):
    the screen and its settings table, laid out."""
    await pilot.press("f11")
    await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
    screen = app.screen
    screen.query_one("#tabs", TabbedContent).active = "progress_tab"
    table = screen.query_one("#settings", DataTable)
    await until(pilot, lambda: table.region.height > 0)
    return screen, table


@pytest.mark.slow
def test_sweep_screen_runs_the_demo_plan_live_through_resizes(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)
    seen: list[str] = []

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(100, 34)) as pilot:
            await pilot.press("s")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            # The demo wrote a small plan for its rig, and the form sweeps it.
            assert app.screen.query_one("#plan", Input).value == str(tmp_path / "plans/demo.json")
            set_input(app, "#file", str(short_signal))
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))  # patch the gear
            await pilot.press("enter")
            screen = app.screen
            for size in ((60, 20), (140, 44), (80, 24)):  # resized while it sweeps
                await pilot.resize_terminal(*size)
                await pilot.pause(0.2)
                seen.append(str(screen.query_one("#status").render()))
            await until(pilot, lambda: not screen.busy, timeout_s=240)
            table = screen.query_one("#settings", DataTable)
            verdicts = [plain(table.get_cell_at((r, 3))) for r in range(table.row_count)]
            assert verdicts and all(v.startswith("passed") for v in verdicts)
            assert "0 failed" in shown(screen, "#status")
            # Ended at 80×24: the summary, every setting's row and the anchors, all on screen.
            assert_whole(app, screen)
            assert "a02 ESR 0.0000" in shown(screen, "#anchors")

    asyncio.run(run())
    assert any("ETA" in s for s in seen)
    events = read_events(tmp_path / "captures" / "sweep1" / "journal.jsonl")
    assert events[-1]["event"] == "finished" and events[-1]["failed"] == 0


async def plan_on_screen(pilot, app: StationApp, **fields: str) -> None:
    """Fill the Plan tab's fields (by their ids without `plan_`) and press Make the plan."""
    app.screen.query_one("#tabs", TabbedContent).active = "plan_tab"
    button = app.screen.query_one("#make_plan", Button)
    await until(pilot, lambda: button.region.height > 0 and not button.disabled)
    for name, value in fields.items():
        set_input(app, f"#plan_{name}", value)
    button.focus()
    # A button ignores a press while it still shows the last one (0.2 s).
    await until(pilot, lambda: app.focused is button and not button.has_class("-active"))
    await pilot.press("enter")


def result(app: StationApp) -> str:
    return shown(app.screen, "#plan_result")


@pytest.mark.slow
def test_a_plan_made_on_the_screen_is_swept_stopped_and_resumed(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            # Three settings, one held out: with the anchors, five captures.
            await plan_on_screen(pilot, app, settings="3", holdout="1", name="night1")
            await until(pilot, lambda: "Saved" in result(app))
            plan = tmp_path / "plans" / "night1.json"
            assert app.screen.query_one("#plan", Input).value == str(plan)
            set_input(app, "#file", str(short_signal))
            set_input(app, "#session", "halted")
            await pilot.press("f5")  # from the Plan tab: the sweep starts from the new plan
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            screen = app.screen
            assert screen.query_one("#tabs", TabbedContent).active == "progress_tab"
            journal = tmp_path / "captures" / "halted" / "journal.jsonl"
            await until(
                pilot, lambda: any(e["event"] == "checked" for e in read_events(journal)), 120
            )
            await pilot.press("escape")
            await until(pilot, lambda: not screen.busy, timeout_s=120)
            assert "resum" in shown(screen, "#status")
            await pilot.press("f8")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal) or not screen.busy)
            if isinstance(app.screen, ConfirmModal):
                await pilot.press("enter")
            await until(pilot, lambda: not screen.busy and screen.summary is not None, 240)
            assert screen.summary.complete
            assert_whole(app, screen)
            assert "Anchors vs a01: all steady" in shown(screen, "#anchors")

    asyncio.run(run())
    session = json.loads((tmp_path / "captures" / "halted" / "session.json").read_text())
    assert session["plan_path"] == str((tmp_path / "plans" / "night1.json").resolve())
    assert [s["role"] for s in session["schedule"]].count("holdout") == 1
    events = read_events(tmp_path / "captures" / "halted" / "journal.jsonl")
    kinds = [e["event"] for e in events]
    assert "stopped" in kinds and "resumed" in kinds and kinds[-1] == "finished"
    captured = [e["id"] for e in events if e["event"] == "captured"]
    assert len(captured) == len(set(captured)) == 5  # nothing taken twice


def test_a_plan_no_parametric_model_can_come_from_is_asked_about_until_answered(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)
    req, model = for_rig(
        PlanRequest(knobs=(), settings=4, holdout=0, anchor_every=0), virtual_pedal_rig()
    )
    plan = make_and_write(req, model, tmp_path / "plans" / "p4.json")
    assert not [s for s in plan.settings if s.role == "holdout"]

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            screen = app.screen
            set_input(app, "#plan", str(tmp_path / "plans" / "p4.json"))
            set_input(app, "#file", str(short_signal))
            set_input(app, "#session", "od-night")
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            text = str(app.screen.query_one(Static).render())
            assert "No parametric model from this plan" in text
            assert "4 training and 0 held-out" in text and "Sweep this plan anyway?" in text
            buttons = [str(b.label) for b in app.screen.query(Button)]
            assert buttons == ["Cancel", "Continue"]
            await pilot.pause(2.0)  # it waits for an answer: nothing is opened meanwhile
            assert isinstance(app.screen, QuestionModal)
            assert not (tmp_path / "captures" / "od-night").exists()
            await pilot.press("enter")  # the focused answer is Cancel
            await until(pilot, lambda: not screen.busy)
            assert "no session was made" in shown(screen, "#status")
            assert not (tmp_path / "captures" / "od-night").exists()
            await pilot.press("f5")  # asked again, and this time swept
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            app.screen.query_one("#yes", Button).press()
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))  # patch the gear
            assert (tmp_path / "captures" / "od-night" / "session.json").is_file()
            await pilot.press("escape")
            await until(pilot, lambda: not screen.busy)

    asyncio.run(run())


def test_the_plan_form_says_what_is_wrong_and_what_a_plan_costs(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None), demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            for fields, said in (
                ({"settings": "many"}, "Settings: 'many' is not a whole number"),
                ({"settings": "8", "holdout": "-1"}, "held-out settings cannot be negative"),
                ({"holdout": "", "levels": "6, loud"}, "Levels dBu: '6, loud' is not a list"),
                ({"levels": "", "settings": "1"}, "cannot cover the 2 switch"),
                ({"settings": "8", "name": "no/slash"}, "'no/slash' is not a usable name"),
            ):
                await plan_on_screen(pilot, app, **fields)
                await until(pilot, lambda said=said: said in result(app))
                assert "--" not in result(app) and "station " not in result(app)
            assert not list((tmp_path / "plans").glob("night*"))
            await plan_on_screen(pilot, app, name="night1", levels="6, 12", seed="3")
            await until(pilot, lambda: "Saved" in result(app))
            box = app.screen.query_one("#plan_result", Static)
            assert box.region.bottom <= app.size.height - 1  # the estimate is on screen

    asyncio.run(run())
    path = tmp_path / "plans" / "night1.json"
    plan = plan_from_json(json.loads(path.read_text()))
    # The same plan the core makes for these choices, and the screen said what it costs.
    req, model = for_rig(
        PlanRequest(knobs=(), settings=8, levels_dbu=(6.0, 12.0), seed=3), virtual_pedal_rig()
    )
    same = make_plan(req, model)
    assert [s.to_json() for s in plan.settings] == [s.to_json() for s in same.settings]
    assert plan_summary(same)[2].startswith("estimated total")
    assert {s.reamp_dbu for s in plan.settings} == {6.0, 12.0}


def test_a_finished_session_is_shown_whole_at_80x24(tmp_path: Path, short_signal: Path) -> None:
    """Reopened the morning after: every verdict (a failure, suspects) and the drifted anchor."""
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)
    pedal = virtual_pedal_rig()
    plan_file = tmp_path / "plans" / "night.json"
    make_and_write(
        *for_rig(PlanRequest(knobs=(), settings=6, holdout=1, anchor_every=4), pedal), plan_file
    )
    session = create_session(
        tmp_path / "captures" / "sweep1",
        plan_file,
        profile=calibrated_profile(rig, "demo"),
        rig_name=pedal.name,
        rig_profile=pedal,
        reamp={"path": str(short_signal), "md5": md5_of_file(short_signal)},
        options=SweepOptions(),
        anchor_every=None,
    )
    ids = [s.id for s in session.schedule]
    assert ids == ["a01", "s001", "s002", "s003", "s004", "a02", "s005", "s006", "a03"]
    journal = Journal(session.folder)
    for sid in ids:
        if sid == "s003":  # failed its checks three times
            for _ in range(3):
                journal.append("captured", id=sid, passed=False)
            journal.append("failed", id=sid, reason="replicate ESR 0.031 over 0.01")
            continue
        journal.append("captured", id=sid, passed=True)
        journal.append("checked", id=sid, passed=True)
        if sid in ("a02", "a03"):
            drifted = sid == "a02"
            journal.append(
                "anchor_compared", id=sid, reference="a01", esr=0.0213 if drifted else 0.0003,
                level_change_db=0.45 if drifted else -0.02, drifted=drifted,
            )  # fmt: skip
            if drifted:
                journal.append("suspect", ids=["s004"], anchor=sid)
    journal.append("finished", failed=1)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            screen, table = await open_progress(pilot, app)
            assert_whole(app, screen)
            verdicts = {
                plain(table.get_cell_at((r, 0))): plain(table.get_cell_at((r, 3)))
                for r in range(table.row_count)
            }
            assert verdicts["s001"] == "passed"
            assert verdicts["s003"] == "FAILED replicate ESR 0.031 over 0.01"
            assert verdicts["s004"] == "passed suspect"
            assert verdicts["a02"] == "passed · DRIFT" and verdicts["a03"] == "passed · steady"
            anchors = shown(screen, "#anchors")
            assert "Anchors vs a01: 1 drifted (limits ESR 0.01, 0.2 dB)" in anchors
            assert "a02 ESR 0.0213, level +0.45 dB DRIFT · a03 ESR 0.0003, level -0.02" in anchors
            status = shown(screen, "#status")
            assert "Sweep sweep1: 8 done, 1 failed, 1 suspect. F8 retakes the failed" in status

    asyncio.run(run())


def test_the_summary_of_a_sweep_with_nothing_held_out_offers_what_it_can_train(
    tmp_path: Path,
) -> None:
    from station.sweep.run import SweepSummary
    from station.tui.sweep_view import summary_line
    from tests.sweep_fixture import default_plan, short_input, write_session

    signal = short_input(tmp_path / "in.wav")
    held = write_session(tmp_path / "held", signal)
    trained_only = [p for p in default_plan() if p.role == "train"]
    night = write_session(tmp_path / "od-night", signal, trained_only, dataset=False)
    done = [p.id for p in default_plan()]
    assert summary_line(SweepSummary(held, done, [], [], [])).endswith(
        "0 suspect. Train models from it on the Models screen (F6)."
    )
    assert summary_line(SweepSummary(night, done[:8], [], [], [])) == (
        "Sweep od-night: 8 done, 0 failed, 0 suspect. Train one model per setting from it on the "
        "Models screen (F6); no parametric model: od-night has no usable held-out setting to "
        "validate on."
    )


@pytest.mark.slow
def test_a_sweep_waiting_for_its_rig_takes_its_new_port_from_the_screen(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)
    journal = tmp_path / "captures" / "pulled" / "journal.jsonl"
    new: list[str] = []

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            set_input(app, "#file", str(short_signal))
            set_input(app, "#session", "pulled")
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            screen = app.screen
            await until(pilot, lambda: any(e["event"] == "checked" for e in read_events(journal)))
            # The rig's USB cable is pulled, and put back into another socket: a new name.
            twin = screen.devices.twin
            twin.unplug()
            new.append(twin.plug(new_name=True))
            pause = screen.query_one("#pause")
            await until(pilot, lambda: pause.display, 120)
            status = shown(screen, "#status")
            assert "went away" in status and "under New port and press Use port" in status
            assert "--" not in status and "station " not in status and "Ctrl-C" not in status
            assert on_screen(app, screen.query_one("#new_port")) and on_screen(app, pause)
            set_input(app, "#new_port", new[0])
            await pilot.click("#use_port")
            await until(pilot, lambda: not pause.display, 60)
            await until(pilot, lambda: not screen.busy and screen.summary is not None, 240)
            assert screen.summary.complete and not screen.summary.failed
            assert_whole(app, screen)

    asyncio.run(run())
    events = read_events(journal)
    back = [e for e in events if e["event"] == "device_back"]
    assert [e["device"] for e in events if e["event"] == "device_lost"] == ["rig"]
    assert len(back) == 1 and back[0]["port"] == new[0]
    captured = [e["id"] for e in events if e["event"] == "captured"]
    assert len(captured) == len(set(captured))  # nothing taken twice
