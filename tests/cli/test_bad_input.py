"""Bad input a new user types, refused with a clear line (issue 8, items 5 and 6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station import __version__
from station.settings import load_settings, settings_path, update_settings
from tests.conftest import calibrate_virtual
from tests.conftest import run_station as station
from tests.models.test_namfile import FOREIGN


@pytest.fixture
def failed_capture(virtual_capture: Path, home: Path) -> Path:
    """A copy of the session's capture whose capture.json records a failed replicate check."""
    folder = home / "captures" / "bad-take"
    shutil.copytree(virtual_capture, folder)
    meta = json.loads((folder / "capture.json").read_text())
    meta["passed"] = False
    for c in meta["checks"]:
        if c["name"] == "replicate_esr":
            c.update(passed=False, status="fail", value=0.2)
    (folder / "capture.json").write_text(json.dumps(meta))
    return folder


def test_tag_refuses_a_failed_capture_unless_allowed(failed_capture: Path, home: Path) -> None:
    model = home / "m.nam"
    model.write_text(json.dumps(FOREIGN))
    before = model.read_bytes()
    res = station("tag", str(model), "--capture", str(failed_capture), home=home)
    assert res.returncode == 1 and "failed its checks (replicate_esr)" in res.stderr
    assert "--allow-failed" in res.stderr and model.read_bytes() == before
    ok = station("tag", str(model), "--capture", "bad-take", "--allow-failed", home=home)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(model.read_text())["metadata"]["input_level_dbu"] == 12.0


def test_names_are_looked_up_in_the_homes_captures(virtual_capture: Path, home: Path) -> None:
    shutil.copytree(virtual_capture, home / "captures" / "clean")
    res = station("check", "clean", "--json", home=home)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["kind"] == "capture"
    model = home / "m.nam"
    model.write_text(json.dumps(FOREIGN))
    assert station("tag", str(model), "--capture", "clean", home=home).returncode == 0


def test_version(tmp_path: Path) -> None:
    res = station("--version", home=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"station {__version__}"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--interface-dbu", "nan", "--input-dbu", "12"], "is not a finite number"),
        (["--interface-dbu", "500", "--input-dbu", "12"], "outside"),
        (["--interface-dbu", "12", "--input-dbu", "inf"], "is not a finite number"),
        (["--interface-dbu", "12", "--input-dbu", "3", "--interface-gain-db", "-5"], "outside"),
    ],
)
def test_gain_stage_refuses_impossible_levels(tmp_path: Path, args: list[str], words: str) -> None:
    res = station("gain-stage", *args, home=tmp_path)
    assert res.returncode == 1 and words in res.stderr
    assert "nan" not in res.stdout and "dB" not in res.stdout and "Traceback" not in res.stderr


def test_tone_level_outside_the_hint_is_refused(home: Path) -> None:
    res = station(
        "calibrate", "--device", "virtual", "--name", "x", "--send-channel", "1",
        "--return-channel", "1", "--tone-dbfs", "-200", "--yes", home=home,
    )  # fmt: skip
    assert res.returncode == 1 and "-40…-1 dBFS" in res.stderr
    assert not (home / "calibration" / "profiles" / "x.toml").exists()


def test_corrupt_settings_are_kept_aside_and_reported(tmp_path: Path) -> None:
    settings_path(tmp_path).write_text("reamp_file = [unclosed\n")
    said: list[str] = []
    assert load_settings(tmp_path, said.append) == {}
    kept = tmp_path / "settings.toml.corrupt"
    assert kept.read_text() == "reamp_file = [unclosed\n"
    assert len(said) == 1 and "settings.toml.corrupt" in said[0]
    update_settings(tmp_path, said.append, profile="demo")
    assert load_settings(tmp_path) == {"profile": "demo"} and len(said) == 1


def test_a_refused_reamp_file_is_not_remembered(home: Path) -> None:
    assert calibrate_virtual(home, "demo").returncode == 0
    silent = home / "silent.wav"
    sf.write(silent, np.zeros(48000 * 2), 48000, subtype="PCM_24")
    res = station(
        "capture", "--profile", "demo", "--reamp-dbu", "12", "--out", "x", "--input",
        str(silent), "--yes", home=home,
    )  # fmt: skip
    assert res.returncode == 1 and "silent" in res.stderr
    assert "reamp_file" not in load_settings(home)
