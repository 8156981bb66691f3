"""Regenerate docs/capture-verdict.svg: the capture verdict on the virtual rig, via Textual's pilot.

Run: python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from textual.widgets import Input

from station.reamp.generate import write_station_signal
from station.signal.levels import vrms_from_dbu
from station.tui.app import StationApp
from station.tui.modals import ConfirmModal, ReadingModal
from station.virtual.rig import VirtualRig

OUT = Path(__file__).resolve().parent / "capture-verdict.svg"


async def wait(pilot, condition) -> None:
    for _ in range(2400):
        if condition():
            return
        await pilot.pause(0.05)
    raise RuntimeError("timed out")


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="station-shot-"))
    signal = write_station_signal(home / "signal.wav", training_s=8.0)
    rig = VirtualRig(speed=None)
    app = StationApp(home, rig=rig)
    async with app.run_test(size=(110, 44)) as pilot:
        await pilot.press("c")
        await pilot.press("f5")
        await wait(pilot, lambda: isinstance(app.screen, ReadingModal))
        app.screen.query_one(
            "#reading", Input
        ).value = f"{vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12):.4f}"
        await pilot.press("enter")
        await wait(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("enter")
        await wait(
            pilot,
            lambda: (home / "calibration/profiles/demo.toml").is_file() and not app.screen.busy,
        )
        await pilot.press("f4")
        await pilot.pause()
        app.screen.query_one("#file", Input).value = str(signal)
        app.screen.query_one("#gear_make", Input).value = "Virtual"
        app.screen.query_one("#gear_model", Input).value = "Clean amp"
        await pilot.press("f5")
        await wait(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("enter")
        await wait(pilot, lambda: getattr(app.screen, "result", None) is not None)
        await pilot.pause(0.5)
        OUT.write_text(app.export_screenshot(title="NAM Capture Station — capture verdict"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
