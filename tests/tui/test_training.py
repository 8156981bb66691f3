"""Training from the TUI: epochs, ESR so far and time left on screen; Escape stops between epochs.

The screen is driven two ways: with a scripted job (exact events, no torch), and
through the Models screen on a tiny sweep session with NAM's real trainer.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Input, ProgressBar, Select, TabbedContent, Tabs

from station.events import EpochProgress, Event, Step, Warning_
from station.tui.app import StationApp
from station.tui.training import TrainingJob, TrainingScreen
from tests.sweep_fixture import PlannedSetting, default_plan, short_input, write_session
from tests.tui.test_screens import until


def _text(app: StationApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def _on_screen(app: StationApp, selector: str) -> bool:
    """The widget is shown and its last line is above the footer."""
    widget = app.screen.query_one(selector)
    region = widget.region
    return widget.display and region.height > 0 and region.bottom <= app.size.height - 1


def scripted_job(epochs: int, stop_seen: threading.Event) -> TrainingJob:
    """A job that reports epochs like NAM's trainer would and honours the stop flag."""

    def run(emit, stop) -> dict:
        emit(Step("train", "Training a scripted model"))
        emit(Warning_("leaving out s009 (train): its capture failed checks"))
        for n in range(1, epochs + 1):
            if n > 1:
                # The next epoch "runs" until the test asks for a stop.
                deadline = time.monotonic() + 60  # never a thread left spinning by a failure
                while not stop.is_set() and time.monotonic() < deadline:
                    stop.wait(0.01)
            esr = 0.5 / n
            emit(
                EpochProgress(n / epochs, f"epoch {n}/{epochs}", 10.0 * n, 10.0 * (epochs - n),
                              epoch=n, epochs=epochs, esr=esr, best_esr=esr)
            )  # fmt: skip
            if stop.is_set():
                stop_seen.set()
                return {"epochs": n}
        return {"epochs": epochs}

    return TrainingJob(
        "Training a scripted model", run, lambda r: f"made in {r['epochs']} epochs", lambda r: None
    )


def test_training_screen_shows_progress_and_escape_stops_after_the_epoch(tmp_path: Path) -> None:
    stop_seen = threading.Event()

    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(TrainingScreen(scripted_job(100, stop_seen)))
            screen = app.screen
            await until(pilot, lambda: "Epoch 1 of 100" in _text(app, "#epoch"))
            line = _text(app, "#epoch")
            assert "ESR 0.5000" in line and "16:30 left" in line and "0:10 gone" in line
            logged = _text(app, "#log")
            assert "Training a scripted model" in logged and "failed checks" in logged
            await pilot.press("f2")  # the app will not leave a training run
            await pilot.pause()
            assert app.screen is screen and screen.busy
            assert any("Training is running" in n.message for n in app._notifications)
            await pilot.press("escape")
            await until(pilot, lambda: not screen.busy)
            assert stop_seen.is_set()
            result = _text(app, "#result")
            assert "Stopped after epoch 2 of 100" in result and "made in 2 epochs" in result
            await until(pilot, lambda: _on_screen(app, "#result"), timeout_s=10)
            await pilot.press("escape")  # now it goes back
            await until(pilot, lambda: app.screen is not screen)

    asyncio.run(run())


def test_quitting_mid_training_waits_for_the_epoch(tmp_path: Path) -> None:
    stop_seen = threading.Event()

    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(TrainingScreen(scripted_job(100, stop_seen)))
            await until(pilot, lambda: "Epoch 1 of 100" in _text(app, "#epoch"))
            await pilot.press("ctrl+q")
            await until(pilot, lambda: not app.is_running or stop_seen.is_set())

    asyncio.run(run())
    assert stop_seen.is_set()  # the job was told to stop, and its epoch ended first


async def train_tab(pilot, app: StationApp) -> None:
    """Open the Models screen and its Train tab as a keyboard user does (→ on the tabs)."""
    await pilot.press("f6")
    await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
    tabs = app.screen.query_one("#tabs", TabbedContent)
    await until(pilot, lambda: isinstance(app.focused, Tabs))  # the tabs have the focus
    await pilot.press("right")
    await until(pilot, lambda: tabs.active == "train_tab")


def test_training_from_a_sweep_is_on_screen_at_80x24(tmp_path: Path) -> None:
    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await train_tab(pilot, app)
            await pilot.pause()
            # Both ways to train, down to the sweep's button, without scrolling.
            for selector in ("#train_capture", "#train", "#session", "#level", "#train_sweep"):
                assert _on_screen(app, selector), selector

    asyncio.run(run())


def test_a_session_no_parametric_model_can_come_from_offers_snapshots_and_says_why(
    tmp_path: Path,
) -> None:
    signal = short_input(tmp_path / "in.wav")
    write_session(tmp_path / "captures" / "held", signal)
    trained_only = [p for p in default_plan() if p.role == "train"]
    write_session(tmp_path / "captures" / "od-night", signal, trained_only, dataset=False)

    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await train_tab(pilot, app)
            kind = app.screen.query_one("#kind", Select)
            for session, expected in (("od-night", "snapshots"), ("held", "parametric")):
                if expected == "parametric":
                    kind.value = "parametric"  # as a user would choose it again
                app.screen.query_one("#session", Select).value = session
                await pilot.pause()
                assert kind.value == expected, session
                note = _text(app, "#kind_note")
                if expected == "snapshots":
                    assert "No parametric model: od-night has no usable held-out setting" in note
                    assert _on_screen(app, "#kind_note") and _on_screen(app, "#train_sweep")
                else:
                    assert note == ""

    asyncio.run(run())


# --- the real trainer, from the Models screen ---

pytest.importorskip("nam")
torch = pytest.importorskip("torch")


@pytest.fixture
def home_with_sessions(tmp_path: Path) -> Path:
    """A home whose captures hold a one-level session and a two-level one."""
    signal = short_input(tmp_path / "in.wav")
    plan = [p for p in default_plan() if p.id in ("s001", "s002", "s005", "h002")]
    plan.append(PlannedSetting("s009", "train", {"drive": 3, "tone": 3}, {"boost": "off"},
                               fail=True))  # fmt: skip
    write_session(tmp_path / "captures" / "knobbox", signal, plan)
    loud = [
        PlannedSetting(p.id.replace("0", "1", 1), p.role, p.knobs, p.switches,
                       extra={"input_level_dbu": 14.0})
        for p in plan[:4]
    ]  # fmt: skip
    write_session(tmp_path / "captures" / "twolevels", signal, plan[:4] + loud)
    return tmp_path


async def press_button(pilot, app: StationApp, selector: str) -> None:
    """Tab to a button (it scrolls into view) and press Enter, as a keyboard user does."""
    button = app.screen.query_one(selector)
    button.focus()
    # A button ignores a press while it still shows the last one (0.2 s).
    await until(pilot, lambda: app.focused is button and not button.has_class("-active"))
    await pilot.press("enter")


async def _models_form(
    pilot, app: StationApp, session: str, kind: str, epochs: int, minutes: str = ""
) -> None:
    await train_tab(pilot, app)
    app.screen.query_one("#session", Select).value = session
    app.screen.query_one("#kind", Select).value = kind
    app.screen.query_one("#size", Select).value = "tiny" if kind == "parametric" else "nano"
    app.screen.query_one("#sweep_epochs", Input).value = str(epochs)
    app.screen.query_one("#sweep_minutes", Input).value = minutes
    await pilot.pause()


def test_parametric_training_from_the_models_screen(
    home_with_sessions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_num_threads(1)
    home = home_with_sessions
    seen: list[str] = []
    inside: list[tuple[float, str]] = []
    shown = TrainingScreen.on_station_event

    def recorded(screen: TrainingScreen, event: Event) -> None:
        # What the bar and the line show after each event, until the first epoch ends (the
        # test's own looks may miss a state on a loaded machine).
        shown(screen, event)
        if screen.last_epoch is None:
            bar = screen.query_one("#bar", ProgressBar).progress
            inside.append((bar, str(screen.query_one("#epoch").render())))

    monkeypatch.setattr(TrainingScreen, "on_station_event", recorded)

    async def run() -> None:
        app = StationApp(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await _models_form(pilot, app, "knobbox", "parametric", 3)
            await press_button(pilot, app, "#train_sweep")
            await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen

            def progress() -> bool:
                seen.append(_text(app, "#epoch"))
                return not screen.busy

            await until(pilot, progress, timeout_s=300)
            result = _text(app, "#result")
            assert "Held-out settings: worst ESR" in result, result
            # The model's own calibration levels, read back from the file.
            assert "In the model: input_level_dbu 8, output_level_dbu 11.50 dBu" in result
            assert "s009" in result and "no NAM plugin" in result
            assert "Training stopped after 3 epoch(s)" in result and "(Epochs 3)" in result
            assert _on_screen(app, "#result")
            await pilot.press("escape")
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
            assert app.screen.query_one("#model", Input).value.endswith("parametric.nam")
            assert "calibrated: input 8 dBu" in _text(app, "#info")

    asyncio.run(run())
    assert any("Epoch 3 of 3" in s and "ESR" in s and "left" in s for s in seen), seen
    # Before the first epoch ended the bar had moved: its batches (two an epoch here) showed.
    moved = [(p, text) for p, text in inside if 0 < p < 1 / 3]
    assert moved and "Epoch 1 of 3, batch 1 of 2" in moved[0][1] and "left" in moved[0][1], inside
    report = json.loads((home / "captures/knobbox/models/parametric-report.json").read_text())
    assert report["epochs"] == 3 and not report["stopped_early"]
    assert [r["id"] for r in report["holdout"]] == ["h002"]


def test_stopping_snapshots_of_one_level_from_the_screen(home_with_sessions: Path) -> None:
    torch.set_num_threads(1)
    home = home_with_sessions

    async def run() -> None:
        app = StationApp(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await _models_form(pilot, app, "twolevels", "snapshots", 50)
            await press_button(pilot, app, "#train_sweep")
            await pilot.pause()
            assert type(app.screen).__name__ == "ModelsScreen"  # no level chosen: refused
            assert any("several reamp levels" in n.message for n in app._notifications)
            app.screen.query_one("#level", Select).value = 14.0
            await press_button(pilot, app, "#train_sweep")
            await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen
            # Epochs of 13 examples are quick: the first line seen may already be model 2's.
            await until(pilot, lambda: " of 4 · Epoch" in _text(app, "#epoch"), 120)
            await pilot.press("escape")
            await until(pilot, lambda: not screen.busy, timeout_s=120)
            result = _text(app, "#result")
            stopped = re.search(r"Stopped after epoch (\d+) of 50 of model (\d) of 4", result)
            assert stopped and int(stopped[1]) < 50, result
            made.append(int(stopped[2]))  # a loaded machine may finish model 1 first
            assert f"{made[0]} snapshot model(s)" in result
            # The text is set before the next layout places it: wait for that, then judge.
            await until(pilot, lambda: _on_screen(app, "#result"), timeout_s=10)

    made: list[int] = []
    asyncio.run(run())
    report = json.loads((home / "captures/twolevels/models/snapshots-14dBu.json").read_text())
    assert report["stopped_early"] and made[0] < 4
    assert [s["id"] for s in report["snapshots"]] == ["s101", "s102", "s105"][: made[0]]
    assert report["input_level_dbu"] == 14.0


def test_max_minutes_on_the_models_screen_stops_training_and_says_so(
    home_with_sessions: Path,
) -> None:
    torch.set_num_threads(1)
    home = home_with_sessions

    async def run() -> None:
        app = StationApp(home)
        async with app.run_test(size=(80, 24)) as pilot:
            # The default size, with the time limit beside the epochs on one line.
            await train_tab(pilot, app)
            assert app.screen.query_one("#size", Select).value == "compact"
            await _models_form(pilot, app, "knobbox", "parametric", 5000, "-2")
            await press_button(pilot, app, "#train_sweep")
            await pilot.pause()
            assert type(app.screen).__name__ == "ModelsScreen"  # refused, naming the field
            assert any("Max minutes must be a positive" in n.message for n in app._notifications)
            app.screen.query_one("#sweep_minutes", Input).value = "0.05"
            await press_button(pilot, app, "#train_sweep")
            await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen
            assert "5000 epoch(s) or 0.05 minutes" in _text(app, "#what")
            await until(pilot, lambda: not screen.busy, timeout_s=300)
            result = _text(app, "#result")
            assert "the time limit (Max minutes 0.05)" in result, result
            await until(pilot, lambda: _on_screen(app, "#result"), timeout_s=10)

    asyncio.run(run())
    report = json.loads((home / "captures/knobbox/models/parametric-report.json").read_text())
    assert report["training"]["stopped_by"] == "max_minutes"
    assert report["training"]["epochs_done"] < 5000
