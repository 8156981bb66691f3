"""What the TUI's Sweep screen asks before and during a sweep, at 80×24: a plan that leaves
some of the rig's controls alone is said and confirmed before anything is swept, and a return
that clips pauses the sweep with the advice instead of retaking it blindly."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Static

from station.interface.profiles import save_profile
from station.sweep.journal import read_events
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal, QuestionModal
from station.tui.sweep import SweepScreen
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.sweep.test_start import drive_only_plan
from tests.tui.test_screens import set_input, until
from tests.tui.test_sweep import on_screen, shown


@contextlib.asynccontextmanager
async def at_80x24(app: StationApp) -> AsyncIterator[Pilot]:
    """The app run at 80×24; a failing test stops its sweep (a worker waiting on a modal
    would otherwise keep the test from ending)."""
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            yield pilot
        finally:
            for screen in app.screen_stack:
                bridge = getattr(screen, "bridge", None)
                if bridge is not None:
                    bridge.stop.set()


async def modal_text(pilot: Pilot, app: StationApp) -> str:
    """The open confirmation's text, checked to be on screen whole with its buttons."""
    modal = app.screen
    assert isinstance(modal, ConfirmModal)
    await until(pilot, lambda: bool(modal.query(Static)))  # pushed, maybe not composed yet
    text = modal.query_one(Static)
    await until(pilot, lambda: text.region.height > 0)  # laid out
    said = str(text.render())
    assert on_screen(app, text), (text.region, said)
    assert text.region.height >= len(said.splitlines()), (text.region, said)  # not cut short
    for button in modal.query(Button):
        assert on_screen(app, button), (button.region, said)
    return said


async def answer(pilot: Pilot, app: StationApp, key: str) -> None:
    """Answer the open confirmation (Enter continues, Escape stops) and wait until it is
    gone (the next may follow at once)."""
    modal = app.screen
    assert isinstance(modal, ConfirmModal)
    await pilot.press(key)
    await until(pilot, lambda: app.screen is not modal)


async def sweep_from_the_form(
    pilot: Pilot, app: StationApp, plan: Path, signal: Path, name: str
) -> SweepScreen:
    """Open the Sweep screen, fill in the plan, reamp file and session, and press F5;
    returns the screen. The plans here hold nothing out: the question whether to sweep one
    no parametric model can come from is answered Continue."""
    if type(app.screen).__name__ != "SweepScreen":
        await pilot.press("f11")
        await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
    set_input(app, "#plan", str(plan))
    set_input(app, "#file", str(signal))
    set_input(app, "#session", name)
    screen = app.screen
    assert isinstance(screen, SweepScreen)
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(app.screen, QuestionModal))
    question = app.screen
    assert "No parametric model from this plan" in str(question.query_one(Static).render())
    question.query_one("#yes", Button).press()
    await until(pilot, lambda: app.screen is not question)
    return screen


def test_a_plan_that_leaves_controls_alone_is_said_and_asked_before_sweeping(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    save_profile(tmp_path, calibrated_profile(rig, "demo"))
    plan = drive_only_plan(tmp_path)  # the demo's rig has drive, tone and boost

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with at_80x24(app) as pilot:
            screen = await sweep_from_the_form(pilot, app, plan, short_signal, "alone")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            text = await modal_text(pilot, app)
            assert "sets only drive" in text and "tone, boost" in text
            assert "where they are now (tone at " in text and "boost off" in text
            assert "--yes" not in text  # no CLI words in the TUI
            horns = dict(rig.servos.horn_us)
            await answer(pilot, app, "escape")  # no: nothing is swept, no session is made
            await until(pilot, lambda: not screen.busy)
            assert "no session was made" in shown(screen, "#status")
            assert not (tmp_path / "captures" / "alone").exists()
            assert rig.servos.horn_us == horns  # no servo moved

            screen = await sweep_from_the_form(pilot, app, plan, short_signal, "alone")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            assert "sets only drive" in await modal_text(pilot, app)
            await answer(pilot, app, "enter")  # yes: the session is made and the sweep begins
            await until(
                pilot,
                lambda: isinstance(app.screen, ConfirmModal) and "sets only" not in app.screen.text,
            )
            assert (tmp_path / "captures" / "alone" / "session.json").is_file()
            await answer(pilot, app, "escape")  # stopped at patching the gear: the session is kept
            await until(pilot, lambda: not screen.busy)
            assert "F8 resumes" in shown(screen, "#status")

    asyncio.run(run())


CLIP_DB = 30.0  # the input gain turned up this much after calibration: the pedal clips
TURNED_DOWN_DB = 33.0  # then turned down further than that, so the return must be measured again


@pytest.mark.slow
def test_a_clipped_return_pauses_with_the_advice_and_resumes_once_measured_again(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    first = calibrated_profile(rig, "demo")
    save_profile(tmp_path, first)
    rig.truth.return_dbu_at_0dbfs -= CLIP_DB
    plan = drive_only_plan(tmp_path)
    journal = tmp_path / "captures" / "hot" / "journal.jsonl"

    def events(kind: str) -> list[dict]:
        return [e for e in read_events(journal) if e["event"] == kind]

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with at_80x24(app) as pilot:
            screen = await sweep_from_the_form(pilot, app, plan, short_signal, "hot")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await answer(pilot, app, "enter")  # the controls left alone
            await until(
                pilot,
                lambda: isinstance(app.screen, ConfirmModal) and "sets only" not in app.screen.text,
            )
            await answer(pilot, app, "enter")  # the gear patched
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal) or not screen.busy)
            assert isinstance(app.screen, ConfirmModal), (
                shown(screen, "#status"), [e["event"] for e in read_events(journal)]
            )
            # Paused with the advice, whole at 80×24; not retaken blindly.
            text = await modal_text(pilot, app)
            assert text.count("the return clipped") == 1
            assert "loadbox output down" in text and "measured again" in text
            assert "station " not in text and "--" not in text  # no CLI words in the TUI
            assert [e["id"] for e in events("paused")] == ["a01"] and not events("retaken")
            await answer(pilot, app, "escape")  # stop, to turn the gain down and measure again
            await until(pilot, lambda: not screen.busy)
            assert "F8 resumes" in shown(screen, "#status")

            rig.truth.return_dbu_at_0dbfs += TURNED_DOWN_DB
            save_profile(tmp_path, calibrated_profile(rig, "demo"))  # same profile name
            await pilot.press("f8")
            asked = []
            while True:  # the gear patched (nothing else is asked: the return is taken)
                await until(pilot, lambda: isinstance(app.screen, ConfirmModal) or not screen.busy)
                if not screen.busy:
                    break
                asked.append(app.screen.text)
                await answer(pilot, app, "enter")
            assert len(asked) == 1 and "clipped" not in asked[0], asked
            assert screen.summary.complete and not screen.summary.failed

    asyncio.run(run())
    # The clipped setting was taken again only after the return was measured again, and
    # passed; every capture says the return level it was recorded at.
    captured = Counter(e["id"] for e in events("captured"))
    assert captured["a01"] == 2 and [e["passed"] for e in events("captured")][:2] == [False, True]
    assert not events("retaken") and not events("failed")
    levels = {
        sid: json.loads((journal.parent / sid / "capture.json").read_text())["output_level_dbu"]
        for sid in captured
    }
    again = first.return_dbu_at_0dbfs + TURNED_DOWN_DB - CLIP_DB
    assert all(v == pytest.approx(again, abs=0.05) for v in levels.values()), levels
