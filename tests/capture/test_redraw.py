"""A capture left without report.png (killed after its commit) gets it on the next look."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from station.capture.pair import check_capture_dir
from station.capture.redraw import draw_missing, stored_quiet
from station.capture.run import CaptureRequest, run_capture
from station.reamp import files as reamp
from station.signal import analysis
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile, run_station


def report_title(folder: Path) -> str:
    """The title a report.png carries, after checking the file is a whole PNG."""
    with Image.open(folder / "report.png") as img:
        assert img.format == "PNG" and img.size[0] > 500
        img.load()  # the whole image decodes: not a half-written file
        return img.text["Title"]


def assert_redrawn(folder: Path) -> None:
    meta = json.loads((folder / "capture.json").read_text())
    title = report_title(folder)
    assert title.startswith(
        f"{meta['name']} — PASS — input {meta['input_level_dbu']:+.2f} dBu, "
        f"output {meta['output_level_dbu']:+.2f} dBu"
    ), title
    assert meta["reamp_file"]["name"] in title  # the file played, not input.wav
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no partial left


@pytest.fixture
def stopped(virtual_capture: Path, tmp_path: Path) -> Path:
    """A home whose capture `clean` lacks report.png, as a sweep killed mid-report leaves it."""
    (tmp_path / "calibration" / "profiles").mkdir(parents=True)
    folder = Path(shutil.copytree(virtual_capture, tmp_path / "captures" / "clean"))
    (folder / "report.png").unlink()
    return folder


def test_a_capture_killed_before_its_report_gets_it_on_the_next_check(
    short_signal: Path, tmp_path: Path
) -> None:
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    later: list[object] = []  # the drawing job is never run: the process died first
    req = CaptureRequest(
        calibrated_profile(rig, "p"),
        short_signal,
        12.0,
        "killed",
        tmp_path / "captures",
        report_later=later.append,
    )
    folder = run_capture(rig.interface, req, confirm=rig.act_on).capture_dir
    assert later and not (folder / "report.png").exists()
    report = check_capture_dir(folder)
    assert report.passed
    assert report.notes == ["killed: report.png was missing (the take was stopped); drawn again"]
    assert_redrawn(folder)
    assert check_capture_dir(folder).notes == []  # drawn once, not at every look


def test_the_check_command_draws_it_and_says_so(stopped: Path) -> None:
    done = run_station("check", "clean", home=stopped.parent.parent)
    assert done.returncode == 0, done.stderr
    assert "report.png was missing" in done.stderr and "Traceback" not in done.stderr
    assert_redrawn(stopped)


def test_the_noise_is_the_take_s_pre_roll(stopped: Path) -> None:
    """The noise panel's audio measures the noise floor the take measured with the gear silent."""
    meta = json.loads((stopped / "capture.json").read_text())
    y, _, _ = reamp.read_mono(stopped / "output.wav")
    quiet, where = stored_quiet(stopped, meta, y, None)
    assert where == "the take's pre-roll"
    assert analysis.rms_dbfs(quiet) == pytest.approx(meta["noise"]["noise_floor_dbfs"], abs=1.0)


def test_each_capture_of_a_session_folder(stopped: Path) -> None:
    session = stopped.parent
    whole = Path(shutil.copytree(stopped, session / "s002"))
    (whole / "report.png").write_bytes(b"kept")  # present: left alone
    partial = Path(shutil.copytree(stopped, session / ".s003.abc.partial"))
    notes = draw_missing(session)
    assert notes == ["clean: report.png was missing (the take was stopped); drawn again"]
    assert_redrawn(stopped)
    assert (whole / "report.png").read_bytes() == b"kept"
    assert not (partial / "report.png").exists()


def test_a_folder_that_cannot_make_it_says_why_and_the_check_goes_on(stopped: Path) -> None:
    meta = json.loads((stopped / "capture.json").read_text())
    del meta["latency"]
    (stopped / "capture.json").write_text(json.dumps(meta))
    report = check_capture_dir(stopped)
    assert len(report.checks) > 5
    assert report.notes == [
        "clean: report.png is missing and cannot be drawn again: "
        f"{stopped / 'capture.json'} lacks what the report needs (KeyError('latency'))"
    ]
    assert not (stopped / "report.png").exists()
    assert not [p for p in stopped.iterdir() if p.name.startswith(".")]


def test_reopening_the_verdict_in_the_tui_draws_it(stopped: Path) -> None:
    from station.tui.app import StationApp
    from station.tui.results import VerdictScreen

    home = stopped.parent.parent
    meta = json.loads((stopped / "capture.json").read_text())

    async def run() -> None:
        app = StationApp(home, rig=VirtualRig(speed=None))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.push_screen(VerdictScreen(stopped, meta))
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            shown = [n.message for n in app._notifications]
            assert any("report.png was missing" in m for m in shown), shown

    asyncio.run(run())
    assert_redrawn(stopped)


def test_every_title_of_the_report_fits_the_picture(virtual_capture: Path) -> None:
    # A take's latency note ("... add a timing reference ...") ran past both edges of the
    # picture, and a failed take's list of checks could too.
    import dataclasses

    from station.capture.redraw import stored_decision
    from station.capture.report import report_figure

    folder = virtual_capture
    meta = json.loads((folder / "capture.json").read_text())
    checks = [{"name": f"check_number_{i}", "passed": False} for i in range(8)]
    meta = {**meta, "passed": False, "name": "a-capture-with-a-long-name-" * 2, "checks": checks}
    x, sr, _ = reamp.read_mono(folder / "input.wav")
    y, _, _ = reamp.read_mono(folder / "output.wav")
    info = reamp.recognise(folder / "input.wav", (x, sr))
    assert info.layout is not None  # the blip panel, with its latency note, is drawn
    decision = dataclasses.replace(
        stored_decision(meta),
        message="assumes the calibrated latency 319.32, but this driver moved 0.62 samples "
        "between streams: add a timing reference (a spare output patched into a spare "
        "input) so that each capture measures its own",
    )
    noise, _ = stored_quiet(folder, meta, y, info.layout)
    fig = report_figure(x, y, info, noise, sr, decision, meta, noise_from="the folder")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    texts = [fig._suptitle, *(ax.title for ax in fig.axes)]
    assert "timing reference" in texts[1].get_text()
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width, (text.get_text(), box.x0, box.x1, width)
