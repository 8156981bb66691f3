"""The TUI driven by Textual's pilot on the virtual rig: the demo flow, cancelling, snapshots."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from station.settings import load_settings
from station.signal.levels import vrms_from_dbu
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal, ReadingModal
from station.virtual.rig import VirtualRig


async def until(pilot, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Let the app run until `condition` holds (never a bare sleep).

    The patience is for the CI machine: there the suite runs niced on two workers beside the
    JACK tests, and a screen whose worker imports torch was seen to take over a minute to
    appear. A condition that never holds still fails, only later.
    """
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app did not get there in time")


def set_input(app: StationApp, selector: str, value: str) -> None:
    from textual.widgets import Input

    app.screen.query_one(selector, Input).value = value


async def calibrate_with_typed_reading(pilot, app: StationApp, rig: VirtualRig) -> None:
    await pilot.press("c")
    await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
    set_input(app, "#name", "demo")
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(app.screen, ReadingModal))
    reading = vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12.0)
    set_input(app, "#reading", f"{reading:.5f}")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
    await pilot.press("enter")
    await until(
        pilot,
        lambda: (app.home / "calibration/profiles/demo.toml").is_file() and not app.screen.busy,
    )


async def capture(pilot, app: StationApp, signal: Path, name: str = "first") -> None:
    await pilot.press("f4")
    await until(pilot, lambda: type(app.screen).__name__ == "CaptureScreen")
    set_input(app, "#file", str(signal))
    set_input(app, "#name", name)
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
    await pilot.press("enter")


def test_demo_flow(tmp_path: Path, short_signal: Path) -> None:
    rig = VirtualRig(speed=None)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig, demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await calibrate_with_typed_reading(pilot, app, rig)
            await capture(pilot, app, short_signal)
            from textual.widgets import DataTable

            from station.tui.results import VerdictScreen

            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, VerdictScreen)
                    and any(t.row_count for t in app.screen.query("#checks").results(DataTable))
                ),
            )
            result = app.screen.result
            assert result.passed
            table = app.screen.query_one("#checks", DataTable)
            assert table.row_count == len(result.checks)
            await pilot.press("f9")
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
            await pilot.click("#practice")
            await pilot.click("#tag_capture")
            await until(pilot, lambda: "calibrated" in str(app.screen.query_one("#info").render()))

    asyncio.run(run())
    prof = (tmp_path / "calibration/profiles/demo.toml").read_text()
    assert "send_dbu_at_0dbfs" in prof
    meta = json.loads((tmp_path / "captures/first/capture.json").read_text())
    assert meta["passed"] and meta["input_level_dbu"] == 12.0
    # The typed reading is the nominal send; the converters' 1 kHz ripple moves the return.
    ripple = rig.true_send_dbu(1000.0) - rig.truth.send_dbu_at_0dbfs
    assert meta["output_level_dbu"] == pytest.approx(rig.true_return_dbu(1000.0) - ripple, abs=0.02)
    model = json.loads((tmp_path / "models/practice-identity.nam").read_text())
    assert model["metadata"]["input_level_dbu"] == 12.0
    assert model["metadata"]["output_level_dbu"] == meta["output_level_dbu"]
    settings = (tmp_path / "settings.toml").read_text()
    assert str(short_signal) in settings and 'profile = "demo"' in settings


def test_timing_reference_from_the_screens(tmp_path: Path, short_signal: Path) -> None:
    rig = VirtualRig(speed=None)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
            set_input(app, "#timing_out", "3")
            await pilot.press("f5")
            await pilot.pause()
            assert any("both an output and an input" in n.message for n in app._notifications)
            set_input(app, "#timing_in", "4")
            from textual.widgets import Select

            app.screen.query_one("#meter", Select).value = "virtual"
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            await until(
                pilot,
                lambda: (
                    (app.home / "calibration/profiles/demo.toml").is_file() and not app.screen.busy
                ),
            )
            assert "timing reference output 3" in str(app.screen.query_one("#result").render())
            await capture(pilot, app, short_signal)
            from station.tui.results import VerdictScreen

            await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
            latency = app.screen.result.record["latency"]
            assert latency["used"] == "reference"
            assert latency["latency_samples"] == pytest.approx(
                rig.streams[-1].latency_samples, abs=0.1
            )
            await pilot.press("escape")  # back to the capture form
            await until(pilot, lambda: type(app.screen).__name__ == "CaptureScreen")
            assert "output 3 → input 4" in str(app.screen.query_one("#timing_info").render())

    asyncio.run(run())


def test_cancelling_a_capture_leaves_nothing(tmp_path: Path, short_signal: Path) -> None:
    rig = VirtualRig(speed=None)

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await calibrate_with_typed_reading(pilot, app, rig)
            rig.speed = 4.0  # slow enough to stop mid-take
            await capture(pilot, app, short_signal, name="halted")
            from textual.widgets import ProgressBar

            bar = app.screen.query_one("#progress", ProgressBar)
            await until(pilot, lambda: (bar.progress or 0) > 0.1)
            await pilot.press("escape")
            await until(pilot, lambda: not app.screen.busy)
            assert "Stopped" in str(app.screen.query_one("#status").render())

    asyncio.run(run())
    assert not (tmp_path / "captures" / "halted").exists()
    assert not [p for p in (tmp_path / "captures").iterdir()]
    assert not any(t.name.startswith("station-") for t in threading.enumerate())


def test_bad_form_values_are_notifications(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
            set_input(app, "#send", "two")
            await pilot.press("f5")
            await pilot.pause()
            assert any("not a whole number" in n.message for n in app._notifications)
            assert not app.screen.busy
            set_input(app, "#send", "9")
            await pilot.press("f5")
            await until(
                pilot, lambda: any("send channel 9" in n.message for n in app._notifications)
            )

    asyncio.run(run())


def test_the_meter_accuracy_field_is_said_and_kept(tmp_path: Path) -> None:
    rig = VirtualRig(speed=None)
    reading = vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12.0)

    async def calibrate_with(pilot, app: StationApp, accuracy: str) -> str:
        set_input(app, "#accuracy", accuracy)
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, ReadingModal))
        set_input(app, "#reading", f"{reading:.4f}")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "CalibrationResultScreen")
        await pilot.press("escape")
        from textual.widgets import RichLog

        lines = app.screen.query_one("#log", RichLog).lines
        return " ".join(" ".join(str(line.text) for line in lines).split())  # unwrapped

    async def run() -> None:
        app = StationApp(tmp_path, rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
            set_input(app, "#accuracy", "abc")
            await pilot.press("f5")
            await pilot.pause()
            said = [n.message for n in app._notifications]
            assert any(m.startswith("'abc' is not a meter accuracy") for m in said), said
            assert not app.screen.busy
            log = await calibrate_with(pilot, app, "")
            assert "taken as ±(0.5 % + 2 counts), a typical handheld's" in log
            assert "the Meter accuracy field" in log
            log = await calibrate_with(pilot, app, "1 % + 3")
            assert "typical handheld" not in log
        kept = load_settings(tmp_path)["meter_accuracy"]
        assert kept == {"percent": 1.0, "counts": 3.0, "assumed": False}
        app = StationApp(tmp_path, rig=rig)  # the next run shows what was kept
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
            from textual.widgets import Input

            assert app.screen.query_one("#accuracy", Input).value == "1 % + 3"

    asyncio.run(run())
    profile = (tmp_path / "calibration/profiles/demo.toml").read_text()
    assert "(meter ±(1 % + 3 counts), stated)" in profile


SNAPSHOT_HOME = Path("/tmp/station-snapshot-home")


@pytest.fixture
def snapshot_home() -> Path:
    """A fixed, freshly emptied home, so paths shown on screen are the same every run."""
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    (SNAPSHOT_HOME / "calibration/profiles").mkdir(parents=True)
    (SNAPSHOT_HOME / "captures").mkdir()
    return SNAPSHOT_HOME


@pytest.mark.parametrize("size", [(80, 24), (140, 44)])
@pytest.mark.parametrize("key", ["home", "c", "f4", "f6", "f7", "f1", "f10", "f11"])
def test_screens(snap_compare, snapshot_home: Path, key: str, size: tuple[int, int]) -> None:
    async def before(pilot) -> None:
        if key != "home":
            await pilot.press(key)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = StationApp(snapshot_home, rig=VirtualRig(speed=None))
    assert snap_compare(app, terminal_size=size, run_before=before)


def test_a_poor_calibration_shows_its_advice_with_the_result(tmp_path: Path) -> None:
    # The CLI prints the latency warning and its advice beside the result; the TUI wrote it
    # to the log, which the result screen covers.
    async def run(shift_max: float) -> str:
        rig = VirtualRig(speed=None)
        rig.truth.stream_shift_max_samples = shift_max
        app = StationApp(tmp_path / f"home{shift_max:g}", rig=rig)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrateScreen")
            from textual.widgets import Select

            app.screen.query_one("#meter", Select).value = "virtual"
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "CalibrationResultScreen")
            result = app.screen.query_one("#result")
            nxt = app.screen.query_one("#next")
            assert nxt.region.bottom <= 23  # the advice and what comes next fit 80x24
            return " ".join(str(result.render()).split())

    moving = asyncio.run(run(3.0))
    assert "warning: the latency moved by" in moving
    assert "calibrate with Timing out and Timing in" in moving
    assert "--" not in moving
    steady = asyncio.run(run(0.0))
    assert "warning" not in steady
