"""The TUI's Sweep screen on the virtual rig and the firmware twin: live progress, resizing,
stopping and resuming from the screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import DataTable

from station.interface.profiles import save_profile
from station.sweep.journal import read_events
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.tui.test_screens import set_input, until


def _ready_home(home: Path, rig: VirtualRig) -> None:
    save_profile(home, calibrated_profile(rig, "demo"))


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
            assert (tmp_path / "plan.json").is_file()  # the demo wrote a small plan for the rig
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
            statuses = [str(table.get_cell_at((r, 3))) for r in range(table.row_count)]
            assert statuses and all("done" in s for s in statuses)
            assert "0 failed" in str(screen.query_one("#status").render())
            assert "drive" in str(screen.query_one("#current").render())

    asyncio.run(run())
    assert any("ETA" in s for s in seen)
    events = read_events(tmp_path / "captures" / "sweep1" / "journal.jsonl")
    assert events[-1]["event"] == "finished" and events[-1]["failed"] == 0


@pytest.mark.slow
def test_sweep_screen_stops_and_resumes(tmp_path: Path, short_signal: Path) -> None:
    rig = VirtualRig(speed=None)
    _ready_home(tmp_path, rig)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(100, 34)) as pilot:
            await pilot.press("f11")
            await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
            set_input(app, "#file", str(short_signal))
            set_input(app, "#session", "halted")
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            screen = app.screen
            journal = tmp_path / "captures" / "halted" / "journal.jsonl"
            await until(
                pilot, lambda: any(e["event"] == "checked" for e in read_events(journal)), 120
            )
            await pilot.press("escape")
            await until(pilot, lambda: not screen.busy, timeout_s=120)
            assert "resum" in str(screen.query_one("#status").render())
            await pilot.press("f8")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal) or not screen.busy)
            if isinstance(app.screen, ConfirmModal):
                await pilot.press("enter")
            await until(pilot, lambda: not screen.busy and screen.summary is not None, 240)
            assert screen.summary.complete

    asyncio.run(run())
    events = read_events(tmp_path / "captures" / "halted" / "journal.jsonl")
    kinds = [e["event"] for e in events]
    assert "stopped" in kinds and "resumed" in kinds and kinds[-1] == "finished"
    captured = [e["id"] for e in events if e["event"] == "captured"]
    assert len(captured) == len(set(captured))  # nothing taken twice
