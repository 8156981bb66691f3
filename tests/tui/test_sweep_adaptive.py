"""Adaptive sweeps in the TUI at 80×24: an adaptive plan made on the Plan tab (the same plan
`station plan --adaptive` makes), a bad Initial refused in one line, and the rounds of an
adaptive session on the Progress tab: each batch, why it was chosen, when the rounds ended,
and the round beside each setting it chose, opened after the sweep and live while it runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, TabbedContent

import station.devices
from station.devices import StationBench
from station.interface.profiles import save_profile
from station.plan.adaptive import adaptive_request, make_adaptive_plan
from station.plan.adaptive_spec import DEFAULT_BATCH, DEFAULT_MEMBERS, default_initial
from station.plan.design import PlanRequest
from station.plan.file import plan_from_json
from station.plan.setup import for_rig, make_and_write
from station.settings import update_settings
from station.sweep.journal import read_events
from station.tui.app import StationApp
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.sweep.test_rounds import Models, sweep
from tests.sweep_fixture import short_input
from tests.tui.test_screens import set_input, until
from tests.tui.test_sweep import (
    assert_whole,
    on_screen,
    open_progress,
    plain,
    plan_on_screen,
    result,
    shown,
)
from tests.tui.test_sweep_asks import answer, at_80x24


async def open_plan_tab(pilot, app: StationApp) -> None:
    await pilot.press("f11")
    await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
    app.screen.query_one("#tabs", TabbedContent).active = "plan_tab"


def tick_adaptive(app: StationApp, on: bool = True) -> None:
    app.screen.query_one("#plan_adaptive", Checkbox).value = on


def test_an_adaptive_plan_made_on_the_plan_tab(tmp_path: Path) -> None:
    rig = virtual_pedal_rig()

    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None), demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_plan_tab(pilot, app)
            initial = app.screen.query_one("#plan_initial", Input)
            await until(pilot, lambda: initial.region.height > 0)
            assert initial.disabled and on_screen(app, initial)  # usable once ticked
            tick_adaptive(app)
            await until(pilot, lambda: not initial.disabled)
            fields = dict(settings="12", holdout="", initial="5", batch="3", max_hours="2")
            await plan_on_screen(pilot, app, name="ad1", **fields)
            await until(pilot, lambda: "Saved" in result(app))
            said = result(app)
            assert "note: adaptive: 5 training settings to start, 1 held out" in said
            assert "up to 6 more in batches of 3, where 3 quick models disagree" in said
            box = app.screen.query_one("#plan_result")
            assert box.region.bottom <= app.size.height - 1  # the summary is on screen whole
            assert box.region.height >= len(said.splitlines())
            # The defaults, as the CLI's: half the training settings to start, batch 4.
            await plan_on_screen(pilot, app, name="ad2", initial="", batch="", max_hours="")
            await until(pilot, lambda: "ad2.json" in result(app))
            # A summary longer than the room under the form (a note on the time budget, the
            # plan replaced): the form scrolls to show it whole.
            await plan_on_screen(pilot, app, name="ad2", settings="40", max_hours="0.5")
            await until(pilot, lambda: "replaced the plan" in result(app))
            said = result(app)
            assert "the sweep stops choosing at 0.5 h" in said
            await pilot.pause(0.3)  # laid out again beside the scrollbar
            assert box.region.y >= 3 and box.region.bottom <= app.size.height - 1
            assert box.region.height >= len(said.splitlines())

    asyncio.run(run())
    data = json.loads((tmp_path / "plans" / "ad1.json").read_text())
    assert data["adaptive"] == {
        "settings": 12, "initial": 5, "batch": 3, "members": DEFAULT_MEMBERS,
        "max_hours": 2.0, "stop_below": None,
    }  # fmt: skip
    # The same start the core plans for these choices (as `station plan --adaptive` does).
    req, model = for_rig(PlanRequest(knobs=(), settings=12, seed=1), rig)
    same = make_adaptive_plan(adaptive_request(req, initial=5, batch=3, max_hours=2.0), model)
    plan = plan_from_json(data)
    assert [s.to_json() for s in plan.settings] == [s.to_json() for s in same.settings]
    assert [s.role for s in plan.settings].count("train") == 5
    third = json.loads((tmp_path / "plans" / "ad2.json").read_text())["adaptive"]
    assert third["initial"] == default_initial(40 - 4) == 18
    assert third["batch"] == DEFAULT_BATCH and third["max_hours"] == 0.5


def test_a_bad_initial_is_refused_in_one_line(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None), demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_plan_tab(pilot, app)
            tick_adaptive(app)
            for fields, said, hint in (
                (
                    {"settings": "12", "initial": "40"},
                    "40 initial settings do not fit: the budget of 12 holds 11 training "
                    "settings beside 1 held out",
                    "give Initial between 2 and 11",
                ),
                ({"initial": "many"}, "Initial: 'many' is not a whole number", None),
                (
                    {"initial": "", "max_hours": "-1"},
                    "Max hours must be a positive number of hours",
                    "e.g. Max hours 1.5",
                ),
            ):
                await plan_on_screen(pilot, app, name="bad", **fields)
                await until(pilot, lambda said=said: said in result(app))
                lines = result(app).splitlines()
                assert said in lines[0] and lines[1:] == ([hint] if hint else [])
                assert "--" not in result(app) and "station " not in result(app)
                assert on_screen(app, app.screen.query_one("#plan_result"))
            # Unticked, the adaptive fields are left out: the same budget plans as usual.
            tick_adaptive(app, False)
            await plan_on_screen(pilot, app, name="plain")
            await until(pilot, lambda: "Saved" in result(app))

    asyncio.run(run())
    assert not (tmp_path / "plans" / "bad.json").exists()
    assert "adaptive" not in json.loads((tmp_path / "plans" / "plain.json").read_text())


def rows(table: DataTable) -> dict[str, tuple[str, str]]:
    """Each row's role and verdict, by setting id."""
    return {
        plain(table.get_cell_at((r, 0))): (
            plain(table.get_cell_at((r, 1))),
            plain(table.get_cell_at((r, 3))),
        )
        for r in range(table.row_count)
    }


def test_a_finished_adaptive_session_shows_its_rounds(tmp_path: Path) -> None:
    t, summary = sweep(tmp_path, Models(), settings=7)  # 4 to start, 1 held out, a batch of 2
    assert summary.complete
    (chosen,) = [e for e in t.events("chosen") if e["round"] == 1]
    batch = [s["id"] for s in chosen["settings"] if s["role"] == "train"]
    assert len(batch) == 2
    save_profile(tmp_path, t.profile)
    update_settings(tmp_path, None, sweep_session=t.session.name)

    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            screen, table = await open_progress(pilot, app)
            assert_whole(app, screen)  # the summary, the anchors and every row
            box = screen.query_one("#rounds")
            assert on_screen(app, box)
            lines = shown(screen, "#rounds").splitlines()
            assert box.region.height == len(lines)  # each line whole on its row
            assert lines[0] == (
                "Adaptive: 1 round(s) chose 2 setting(s) after 4 to start (1 held out, budget 7)"
            )
            worst = f"{chosen['worst']:.2g}"  # the stand-in's bump, at the pool's nearest
            assert worst.startswith("0.9")
            assert lines[1].startswith(f"  round 1: {', '.join(batch)} (worst disagreement {worst}")
            assert lines[-1] == "  rounds done: the budget of 7 settings is used"
            roles = {sid: role for sid, (role, _) in rows(table).items()}
            assert [sid for sid, role in roles.items() if role == "train r1"] == batch
            assert all(verdict.startswith("passed") for _, verdict in rows(table).values())
            assert "Sweep tw: 11 done, 0 failed" in shown(screen, "#status")

    asyncio.run(run())


@pytest.mark.slow
def test_an_adaptive_sweep_shows_its_rounds_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swept from the screen with stand-in round models (on a 2 s signal): the rounds show
    while it runs (the round training, then its batch), and each chosen setting gets its
    row."""
    signal = short_input(tmp_path / "tiny.wav", 2.0)
    rig = VirtualRig(speed=20.0)  # the twin turns the servos 20 times as fast
    save_profile(tmp_path, calibrated_profile(rig, "demo"))
    monkeypatch.setattr(StationBench, "round_models", lambda self: Models())
    # The twin's thread waits for the GIL behind the app and the virtual audio: on a loaded
    # machine the driver's 1 s wait for an answer (right for a real board) can miss 4 times.
    opened = station.devices.open_rig
    monkeypatch.setattr(
        station.devices, "open_rig", lambda *a, **kw: opened(*a, reply_timeout_s=3.0, **kw)
    )
    req, model = for_rig(
        PlanRequest(knobs=(), settings=7, holdout=1, anchor_every=4), virtual_pedal_rig()
    )
    req = adaptive_request(req, initial=4, batch=2, members=2)
    plan = tmp_path / "plans" / "ad.json"
    make_and_write(req, model, plan)
    seen: list[str] = []

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with at_80x24(app) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            screen = app.screen
            set_input(app, "#plan", str(plan))
            set_input(app, "#file", str(signal))
            set_input(app, "#session", "live")
            await pilot.press("f5")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
            await answer(pilot, app, "enter")  # the gear patched
            for _ in range(int(240 / 0.05)):  # what the rounds say, as the sweep goes on
                if not screen.busy:
                    break
                if screen.query_one("#rounds").display:
                    seen.append(shown(screen, "#rounds"))
                await pilot.pause(0.05)
            assert screen.summary is not None and screen.summary.complete
            table = screen.query_one("#settings", DataTable)
            roles = {sid: role for sid, (role, _) in rows(table).items()}
            assert len(roles) == len(screen.session.schedule) == 11
            assert list(roles.values()).count("train r1") == 2
            assert "rounds done: the budget of 7 settings is used" in shown(screen, "#rounds")
            assert_whole(app, screen)

    asyncio.run(run())
    events = read_events(tmp_path / "captures" / "live" / "journal.jsonl")
    assert events[-1]["event"] == "finished" and events[-1]["failed"] == 0
    assert any("round 1 training" in s for s in seen), seen  # while its models learnt
    assert any("  round 1: s006, s007 (worst" in s for s in seen), seen  # its batch, and why
