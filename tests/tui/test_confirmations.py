"""The TUI asks before replacing a capture or tagging a failed one; its errors name no flags."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from station.errors import StationError
from station.phrases import Phrase
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal, QuestionModal
from station.tui.results import VerdictScreen
from station.tui.words import error_text
from station.virtual.rig import VirtualRig
from tests.tui.test_screens import calibrate_with_typed_reading, capture, set_input, until


def test_error_text_words_the_hint_in_fields_not_flags() -> None:
    worded = StationError("m", Phrase("choose another {capture_name}, or {replace}"))
    assert error_text(worded) == "m\nchoose another Capture name, or confirm replacing it"
    kept = StationError("m", "press F3 to calibrate first")
    assert error_text(kept) == "m\npress F3 to calibrate first"


@pytest.mark.slow
def test_replacing_a_capture_needs_a_confirmation(tmp_path: Path, short_signal: Path) -> None:
    rig = VirtualRig(speed=None)
    other = tmp_path / "captures" / "other"

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await calibrate_with_typed_reading(pilot, app, rig)
            await capture(pilot, app, short_signal, name="first")
            await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
            await pilot.press("escape")  # back from the verdict to the capture form
            await until(pilot, lambda: type(app.screen).__name__ == "CaptureScreen")
            screen = app.screen
            shutil.copytree(tmp_path / "captures" / "first", other)
            stamp = (other / "capture.json").read_text()
            # The trap: a new name typed in, then Retake.
            set_input(app, "#name", "other")
            await pilot.press("f8")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            assert "'first'" in app.screen.text and "other" not in app.screen.yes
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen)
            assert (other / "capture.json").read_text() == stamp and not screen.busy
            # Start with an existing name asks too; Enter alone keeps the capture.
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is screen)
            assert (other / "capture.json").read_text() == stamp and not screen.busy
            # And replacing is possible: say yes.
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            await pilot.click("#yes")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
            await pilot.pause()
            assert screen.result.capture_dir == other
            assert not any("--" in n.message for n in app._notifications)

    asyncio.run(run())
    assert (other / "capture.json").read_text() != (
        tmp_path / "captures" / "first" / "capture.json"
    ).read_text()


def test_tagging_from_a_failed_capture_asks(tmp_path: Path, virtual_capture: Path) -> None:
    folder = tmp_path / "captures" / "bad"
    shutil.copytree(virtual_capture, folder)
    meta = json.loads((folder / "capture.json").read_text())
    meta["passed"] = False
    meta["checks"][0].update(passed=False, status="fail")
    (folder / "capture.json").write_text(json.dumps(meta))
    model = tmp_path / "models" / "practice-identity.nam"

    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("m")
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
            screen = app.screen
            await pilot.click("#practice")
            before = model.read_text()
            await pilot.click("#tag_capture")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            assert "failed its checks" in app.screen.text
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen)
            assert model.read_text() == before
            await pilot.click("#tag_capture")
            await until(pilot, lambda: isinstance(app.screen, QuestionModal))
            await pilot.click("#yes")
            await until(pilot, lambda: "input_level_dbu" in model.read_text())

    asyncio.run(run())


def test_corrupt_settings_are_reported_on_start(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("profile = \n")

    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert any("settings.toml.corrupt" in n.message for n in app._notifications)

    asyncio.run(run())
    assert (tmp_path / "settings.toml.corrupt").read_text() == "profile = \n"


def test_results_fit_80x24_and_home_reopens_verdicts(tmp_path: Path, short_signal: Path) -> None:
    from textual.containers import VerticalScroll
    from textual.widgets import DataTable, Select

    from station.tui.results import CalibrationResultScreen

    rig = VirtualRig(speed=None)
    # A driver whose latency holds still: the noisy amp's own warnings are what must fit.
    rig.truth.stream_shift_max_samples = 0.0

    def fits(screen) -> bool:
        return screen.query_one(VerticalScroll).max_scroll_y == 0

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await calibrate_with_typed_reading(pilot, app, rig)
            await until(pilot, lambda: isinstance(app.screen, CalibrationResultScreen))
            await pilot.pause()
            head = str(app.screen.query_one("#result").render())
            assert "demo.toml" in head
            assert f"{rig.truth.send_dbu_at_0dbfs:+.2f} dBu" in head and fits(app.screen)
            await pilot.press("f4")
            await until(pilot, lambda: type(app.screen).__name__ == "CaptureScreen")
            app.screen.query_one("#virtual_gear", Select).value = "noisy"
            set_input(app, "#file", str(short_signal))
            set_input(app, "#name", "noisy")
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
            await pilot.pause()
            verdict = app.screen
            assert "FAILED (replicate_esr)" in str(verdict.query_one("#head").render())
            advice = str(verdict.query_one("#advice").render())
            assert "not warm yet" in advice and "check grounding" in advice  # whole, wrapped
            assert fits(verdict), "the verdict must be on screen without scrolling"
            rows = verdict.query_one("#checks", DataTable).row_count
            await pilot.press("f2")
            await until(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
            await pilot.press("enter")  # the newest capture has the focus
            await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
            await pilot.pause()
            again = app.screen
            assert again.folder == tmp_path / "captures" / "noisy" and fits(again)
            assert again.query_one("#checks", DataTable).row_count == rows
            await pilot.press("escape")
            await until(pilot, lambda: type(app.screen).__name__ == "HomeScreen")

    asyncio.run(run())


def test_report_title_carries_name_levels_and_verdict(virtual_capture: Path) -> None:
    from station.capture.report import report_title
    from station.reamp import files as reamp

    meta = json.loads((virtual_capture / "capture.json").read_text())
    info = reamp.recognise(virtual_capture / "input.wav")
    title = report_title(info, meta)
    assert title.startswith("clean — PASS — input +12.00 dBu, output ")
    assert f"{meta['output_level_dbu']:+.2f} dBu" in title
    failed = {**meta, "passed": False, "checks": [{"name": "dropouts", "passed": False}]}
    assert "FAIL (dropouts)" in report_title(info, failed)
