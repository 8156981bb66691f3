"""The Models screen writes snapshots of a parametric model: one setting, or a grid pack."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.widgets import Static

from station.tui.app import StationApp
from tests.models.param_model import write_parametric
from tests.tui.test_screens import set_input, until


async def press(pilot, app: StationApp, button: str) -> None:
    app.screen.query_one(button).scroll_visible(animate=False)
    await pilot.pause()
    await pilot.click(button)


def shown(app: StationApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_snapshots_from_the_models_screen(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    model = write_parametric(tmp_path / "models" / "box.nam", input_level_dbu=8.0)

    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f6")
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
            # A standard model has no knobs: no snapshot section.
            await press(pilot, app, "#practice")
            await until(pilot, lambda: not app.screen.query_one("#snap_section").display)
            set_input(app, "#model", str(model))
            await press(pilot, app, "#open")
            await until(pilot, lambda: app.screen.query_one("#snap_section").display)
            # A bad setting: said where the result goes, nothing written.
            set_input(app, "#snap_setting", "drive=12")
            await press(pilot, app, "#snapshot")
            await until(pilot, lambda: "outside 0…10" in shown(app, "#snap_result"))
            set_input(app, "#snap_setting", "drive=7 boost=on")
            await press(pilot, app, "#snapshot")
            await until(pilot, lambda: "Wrote" in shown(app, "#snap_result"))
            text = shown(app, "#snap_result")
            assert "box@boost-on_drive-7.nam" in text and "classic layout" in text
            # The result is on screen, not below the fold.
            result = app.screen.query_one("#snap_result", Static)
            assert 0 <= result.region.y < 24 and result.region.height > 0
            # Write to a folder: the snapshot goes into it, named by its setting.
            (tmp_path / "for-gig").mkdir()
            set_input(app, "#snap_out", str(tmp_path / "for-gig"))
            await press(pilot, app, "#snapshot")
            into = tmp_path / "for-gig" / "box@boost-on_drive-7.nam"
            await until(pilot, lambda: into.is_file() and "for-gig" in shown(app, "#snap_result"))
            set_input(app, "#snap_out", "")
            set_input(app, "#snap_grid", "drive=0:10:5")
            await press(pilot, app, "#snapshot_pack")
            await until(pilot, lambda: "3 files and index.json" in shown(app, "#snap_result"))

    asyncio.run(run())
    snap = json.loads((tmp_path / "models" / "box@boost-on_drive-7.nam").read_text())
    assert snap["metadata"]["setting"] == {"boost": "on", "drive": 7}
    index = json.loads((tmp_path / "models" / "box-snapshots" / "index.json").read_text())
    assert [f["setting"]["drive"] for f in index["files"]] == [0, 5, 10]


def test_the_models_screen_shows_metadata_as_labelled_fields(tmp_path: Path) -> None:
    # A snapshot's metadata as the station writes it, and NAM's own training record: the
    # screen showed them as raw JSON ({"year": 2026, ...}).
    (tmp_path / "models").mkdir()
    model = write_parametric(
        tmp_path / "models" / "box.nam",
        input_level_dbu=8.0,
        output_level_dbu=11.5,
        date={"year": 2026, "month": 12, "day": 4, "hour": 17, "minute": 41, "second": 25},
        setting={"boost": "on", "drive": 6},
        gear_type="pedal",
        modeled_by="Ana",
        training={"settings": {"fit_cab": False}, "data": {"latency": {"manual": None}},
                  "validation_esr": 0.01234},
    )  # fmt: skip

    async def run() -> None:
        app = StationApp(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f6")
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
            set_input(app, "#model", str(model))
            await press(pilot, app, "#open")
            await until(pilot, lambda: "Loads in" in shown(app, "#info"))
            lines = [line.strip() for line in shown(app, "#info").splitlines()]
            for expected in (
                "Name: Knob box (parametric: boost, drive)",
                "Modelled by: Ana",
                "Gear type: pedal",
                "Loudness: -20.0 dB",
                "Date: 2026-12-04 17:41",
                "Setting: boost=on, drive=6",
                "Training: validation ESR 0.01234",
            ):
                assert expected in lines, (expected, lines)
            assert not [line for line in lines if "{" in line or '"' in line], lines

    asyncio.run(run())
