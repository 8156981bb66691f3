"""`station check` on stored captures and DAW pairs, and `station capture` as a command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from station.capture.run import CaptureRequest, run_capture
from station.virtual.rig import VirtualRig
from tests.conftest import calibrate_virtual, calibrated_profile
from tests.conftest import run_station as station


@pytest.fixture(scope="module")
def good_capture(tmp_path_factory: pytest.TempPathFactory, short_signal: Path) -> Path:
    home = tmp_path_factory.mktemp("home")
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "p")
    res = run_capture(
        rig.interface,
        CaptureRequest(prof, short_signal, 12.0, "good", home / "captures"),
        confirm=rig.act_on,
    )
    assert res.passed
    return res.capture_dir


def daw_pair(capture: Path, tmp: Path, y: np.ndarray, rate: int = 48000) -> list[str]:
    out = tmp / "daw_output.wav"
    sf.write(out, y, rate, subtype="PCM_24")
    return ["--input", str(capture / "input.wav"), "--output", str(out)]


def checks_of(res: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(res.stdout)["checks"]}


def test_stored_capture_passes(good_capture: Path, tmp_path: Path) -> None:
    res = station("check", str(good_capture), "--json", home=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["passed"] and out["kind"] == "capture"
    assert abs(out["latency_found_samples"]) <= 2


def test_daw_pair_with_half_second_tail_passes(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    res = station(
        "check",
        *daw_pair(good_capture, tmp_path, np.concatenate([y, np.zeros(24000)])),
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 0, res.stdout
    assert checks_of(res)["length"]["value"] == pytest.approx(0.5)


def test_daw_pair_with_two_second_tail(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    res = station(
        "check",
        *daw_pair(good_capture, tmp_path, np.concatenate([y, np.zeros(96000)])),
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 1
    length = checks_of(res)["length"]
    assert not length["passed"] and length["value"] == pytest.approx(2.0)
    assert "0 to +1 s" in length["message"]


def test_daw_pair_at_44k1(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    y44 = scipy.signal.resample_poly(y, 147, 160)
    res = station("check", *daw_pair(good_capture, tmp_path, y44, 44100), "--json", home=tmp_path)
    assert res.returncode == 1
    rate = checks_of(res)["sample_rate"]
    assert not rate["passed"] and rate["value"] == 44100 and "48000" in rate["message"]


def test_misaligned_daw_pair_reports_the_offset(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    late = np.concatenate([np.zeros(700), y])  # a DAW that did not compensate 700 samples
    res = station("check", *daw_pair(good_capture, tmp_path, late), "--json", home=tmp_path)
    out = json.loads(res.stdout)
    align = checks_of(res)["alignment"]
    assert align["status"] == "warn"
    assert align["value"] == pytest.approx(700, abs=2)
    assert out["latency_found_samples"] == pytest.approx(700, abs=2)
    assert f"{align['value']:+.1f} samples" in align["message"]


def test_clipped_daw_pair(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    res = station(
        "check", *daw_pair(good_capture, tmp_path, np.clip(y * 8, -1, 1)), "--json", home=tmp_path
    )
    assert res.returncode == 1
    assert not checks_of(res)["return_peak"]["passed"]


def test_stereo_daw_output(good_capture: Path, tmp_path: Path) -> None:
    y, _ = sf.read(good_capture / "output.wav")
    out = tmp_path / "stereo.wav"
    sf.write(out, np.stack([y, y], axis=1), 48000, subtype="PCM_24")
    res = station(
        "check",
        "--input",
        str(good_capture / "input.wav"),
        "--output",
        str(out),
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 1
    assert checks_of(res)["channels"]["value"] == 2


def test_human_check_output_and_mistakes(good_capture: Path, tmp_path: Path) -> None:
    res = station("check", str(good_capture), home=tmp_path)
    assert res.returncode == 0 and "PASSED" in res.stdout and "[ok  ] replicate_esr" in res.stdout
    for args, message in (
        (["check"], "nothing to check"),
        (["check", str(tmp_path / "nope")], "is not a folder"),
        (
            ["check", "--input", str(tmp_path / "a.wav"), "--output", str(tmp_path / "b.wav")],
            "there is no file",
        ),
    ):
        bad = station(*args, home=tmp_path)
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_capture_command_contract(tmp_path: Path) -> None:
    """The issue's command on the virtual rig, with the full 190 s station signal."""
    assert calibrate_virtual(tmp_path, "demo").returncode == 0
    res = station(
        "capture",
        "--profile",
        "demo",
        "--reamp-dbu",
        "12",
        "--out",
        "first",
        "--yes",
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert {
        "capture_dir",
        "input_level_dbu",
        "output_level_dbu",
        "latency_samples",
        "passed",
        "checks",
    } <= set(out)
    assert out["passed"] and out["input_level_dbu"] == 12.0
    assert out["output_level_dbu"] == pytest.approx(12.0, abs=0.02)
    assert all({"name", "passed", "value", "threshold", "message"} <= set(c) for c in out["checks"])
    assert Path(out["capture_dir"]).name == "first"
    meta = json.loads((Path(out["capture_dir"]) / "capture.json").read_text())
    assert meta["virtual_gear"] == "clean" and meta["spoilt_takes"] == []
    again = station(
        "capture",
        "--profile",
        "demo",
        "--reamp-dbu",
        "12",
        "--out",
        "first",
        "--yes",
        home=tmp_path,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    too_hot = station(
        "capture", "--profile", "demo", "--reamp-dbu", "30", "--out", "hot", "--yes", home=tmp_path
    )
    assert too_hot.returncode == 1 and "delivers at most" in too_hot.stderr
    missing = station(
        "capture", "--profile", "nope", "--reamp-dbu", "12", "--out", "x", "--yes", home=tmp_path
    )
    assert missing.returncode == 1 and "no profile 'nope'" in missing.stderr
    for r in (again, too_hot, missing):
        assert "Traceback" not in r.stderr
