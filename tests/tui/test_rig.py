"""The TUI Rig screen on the virtual twin, driven by Textual's pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Button, Input, RichLog, Static

from station.rig.calibrate import COMMANDS
from station.rig.profiles import load_rig
from station.tui.app import StationApp
from station.tui.modals import QuestionModal
from station.tui.rig import SCREEN_COMMANDS
from station.virtual.pedal import OD_KNOBS
from station.virtual.rig import VirtualRig
from tests.tui.test_screens import until


@pytest.fixture(autouse=True)
def fast_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_VIRTUAL_RIG_SPEEDUP", "40")


def test_calibrate_save_move_and_stop(tmp_path: Path) -> None:
    vrig = VirtualRig(speed=None)
    drive = OD_KNOBS[0]

    async def run() -> None:
        app = StationApp(tmp_path, rig=vrig, demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await until(pilot, lambda: type(app.screen).__name__ == "RigScreen")
            screen = app.screen
            screen.query_one("#name", Input).value = "od"  # a new rig, beside the demo's vpedal
            await pilot.press("f5")
            await until(pilot, lambda: screen.cal is not None)

            def live() -> str:
                return str(screen.query_one("#live", Static).render())

            async def command(line: str, expect: str) -> None:
                box = screen.query_one("#command", Input)
                box.value = line
                await pilot.press("enter")
                await until(pilot, lambda: expect in live() and not screen.busy)

            await command("knob drive 0", "at 1565 µs — drive pointer at 5.00")
            await pilot.press("up")  # a coarse step, slewed
            await until(pilot, lambda: "at 1615 µs" in live() and not screen.busy)
            await pilot.press("left")  # a fine step back
            await until(pilot, lambda: "at 1610 µs" in live() and not screen.busy)
            for value in (0, 10, 5):
                pulse = round(drive.true_pulse_us(value))
                await command(f"goto {pulse}", f"pointer at {value:.2f}")
                await command(f"mark {value}", f"{value}={pulse} µs")
            await command("done", "Choose a control")
            await command("switch boost 3", "boost lever at off")
            await command("goto 1000", "at 1000 µs")
            await command("mark off", "off=1000 µs")
            await command("goto 2000", "boost lever at on")
            await command("mark on", "on=2000 µs")
            await command("save", "Choose a control")
            saved = tmp_path / "calibration/rigs/od.toml"
            assert saved.is_file() and not saved.with_name("od.toml.bak").exists()
            # Saving again would replace it: asked first, Cancel (focused) keeps it.
            first = saved.read_text() + "# the first calibration\n"
            saved.write_text(first)
            for answer in ("enter", "yes"):
                box = screen.query_one("#command", Input)
                box.value = "save"
                await pilot.press("enter")
                await until(pilot, lambda: isinstance(app.screen, QuestionModal))
                assert "Replace a rig profile?" in str(app.screen.query_one(Static).render())
                if answer == "enter":
                    await pilot.press("enter")
                    await until(pilot, lambda: "not saved:" in " ".join(visible_log(screen)))
                    assert saved.read_text() == first
                else:
                    app.screen.query_one("#yes", Button).press()
                    await until(pilot, lambda: "od.toml.bak)" in " ".join(visible_log(screen)))
            assert saved.with_name("od.toml.bak").read_text() == first
            assert saved.read_text() != first
            await command("move drive=7 boost=off", "Choose a control")
            await until(pilot, lambda: vrig.servos.switch_positions()["boost"] == "off")
            twin = screen.rig._on_close.__self__
            assert 0 in twin.attached
            await pilot.press("escape")  # STOP then DETACH
            await until(pilot, lambda: not twin.attached)
            await pilot.press("f2")  # leaving the screen closes the port
            await until(pilot, lambda: type(app.screen).__name__ == "HomeScreen")

    asyncio.run(run())
    profile = load_rig(tmp_path, "od")
    assert profile.knobs[0].points == [(0.0, 788), (5.0, 1566), (10.0, 2393)]
    # Three marks put the pointer within a quarter of a mark between them (here 7.19: the
    # linkage bends between 5 and 10); the CLI test shows five marks do better.
    assert vrig.servos.knob_values()["drive"] == pytest.approx(7.0, abs=0.25)


def test_errors_show_in_the_log(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f10")
            await until(pilot, lambda: type(app.screen).__name__ == "RigScreen")
            screen = app.screen
            screen.query_one("#port", Input).value = "/dev/ttyNOPE"
            await pilot.press("f5")
            await until(
                pilot, lambda: any("no serial port" in n.message for n in app._notifications)
            )
            assert screen.cal is None

    asyncio.run(run())


def visible_log(screen) -> list[str]:
    """The lines the Rig screen's log shows now (it scrolls to its end as lines come)."""
    log = screen.query_one("#log", RichLog)
    top = round(log.scroll_y)
    return [strip.text.rstrip() for strip in log.lines[top : top + log.scrollable_size.height]]


def test_the_demo_rig_is_offered_and_help_is_whole_at_80x24(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path, rig=VirtualRig(speed=None), demo=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await until(pilot, lambda: type(app.screen).__name__ == "RigScreen")
            screen = app.screen
            # The demo saved a rig profile for its pedal: the screen offers that one.
            assert screen.query_one("#name", Input).value == "vpedal"
            await pilot.press("f5")
            await until(pilot, lambda: screen.cal is not None)
            box = screen.query_one("#command", Input)
            box.value = "help"
            await pilot.press("enter")
            await until(pilot, lambda: any("detach" in line for line in visible_log(screen)))
            shown = visible_log(screen)
            # Every command, first to last, is on screen at once, and nothing is cut at the edge.
            assert "> help" in shown
            for syntax, _ in (*COMMANDS, *SCREEN_COMMANDS):
                assert any(line.startswith(syntax) for line in shown), (syntax, shown)
            assert "marks between" in "\n".join(shown)
            # A long line wraps inside the log instead of running past its right edge: the
            # echo and the error each show all 90 letters.
            box.value = "frobnicate " + "x" * 90
            await pilot.press("enter")
            await until(pilot, lambda: "unknown command" in "".join(visible_log(screen)))
            shown = visible_log(screen)
            since = max(i for i, line in enumerate(shown) if line.startswith("> frobnicate"))
            assert "".join(shown[since:]).count("x") == 2 * 90
            log = screen.query_one("#log", RichLog)
            assert max(strip.cell_length for strip in log.lines) <= log.scrollable_size.width

    asyncio.run(run())
