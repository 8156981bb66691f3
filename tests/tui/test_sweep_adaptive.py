"""Adaptive sweeps in the TUI at 80×24: an adaptive plan made on the Plan tab (the same plan
`station plan --adaptive` makes), and a bad Initial refused in one line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.widgets import Checkbox, Input, TabbedContent

from station.plan.adaptive import adaptive_request, make_adaptive_plan
from station.plan.adaptive_spec import DEFAULT_BATCH, DEFAULT_MEMBERS, default_initial
from station.plan.design import PlanRequest
from station.plan.file import plan_from_json
from station.plan.setup import for_rig
from station.tui.app import StationApp
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from tests.tui.test_screens import until
from tests.tui.test_sweep import on_screen, plan_on_screen, result


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
    second = json.loads((tmp_path / "plans" / "ad2.json").read_text())["adaptive"]
    assert second["initial"] == default_initial(12 - 1) == 5
    assert second["batch"] == DEFAULT_BATCH and second["max_hours"] is None


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
