"""Training through neural-amp-modeler: a tiny model from a virtual capture, calibrated.

Skipped where the `train` extra is not installed; the core suite needs no torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.namfile import read_model, tag_model

pytest.importorskip("nam")


@pytest.fixture(scope="module")
def trained(virtual_capture: Path) -> Path:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "train",
            str(virtual_capture),
            "--architecture",
            "nano",
            "--epochs",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert "epoch 1/1" in res.stderr
    return Path(out["model_path"])


def test_trained_model_is_calibrated(trained: Path, virtual_capture: Path) -> None:
    meta = json.loads((virtual_capture / "capture.json").read_text())
    model = read_model(trained)
    assert model.data["architecture"] == "WaveNet"
    assert model.metadata["input_level_dbu"] == meta["input_level_dbu"] == 12.0
    assert model.metadata["output_level_dbu"] == meta["output_level_dbu"]
    assert model.metadata["gear_make"] == "Virtual" and model.metadata["gear_type"] == "amp"
    assert meta["model"]["path"] == str(trained) and meta["model"]["validation_esr"] >= 0
    assert meta["model"]["training_path"] == "nam-configurable"


def test_tag_round_trips_on_an_exported_model(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.nam"
    copy.write_bytes(trained.read_bytes())
    before = json.loads(copy.read_text())
    tag_model(copy, {"input_level_dbu": 4.5, "output_level_dbu": 7.25, "tone_type": "clean"})
    after = json.loads(copy.read_text())
    before["metadata"].update(
        {"input_level_dbu": 4.5, "output_level_dbu": 7.25, "tone_type": "clean"}
    )
    assert after == before


def test_verify_reports_esr_and_level(trained: Path, virtual_capture: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "verify",
            str(trained),
            "--capture",
            str(virtual_capture),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["esr"] >= 0 and out["esr_validation"] >= 0
    assert out["level_difference_db"] == out["level_difference_db"]  # a number, not NaN


def test_train_refuses_bad_requests(virtual_capture: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "station", "train", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and "no capture.json" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "station", "train", str(virtual_capture), "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and "at least 1" in res.stderr


def test_clear_message_without_the_train_extra(virtual_capture: Path) -> None:
    code = (
        "import sys; sys.modules['nam'] = None\n"
        "from station.cli import main\n"
        f"sys.exit(main(['train', {str(virtual_capture)!r}]))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert res.returncode == 1
    assert "neural-amp-modeler" in res.stderr and "Traceback" not in res.stderr


def test_verify_with_a_di_through_the_gear(
    trained: Path, virtual_capture: Path, tmp_path: Path
) -> None:
    import numpy as np
    import soundfile as sf

    from station.synth import guitar_material
    from tests.conftest import calibrate_virtual, run_station

    di = tmp_path / "di.wav"
    sf.write(
        di, 0.4 * guitar_material(4.0, 48000, np.random.default_rng(9)), 48000, subtype="PCM_24"
    )
    assert calibrate_virtual(tmp_path, "p").returncode == 0
    res = run_station(
        "verify",
        str(trained),
        "--di",
        str(di),
        "--profile",
        "p",
        "--capture",
        str(virtual_capture),
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["di"] == str(di) and out["input_level_dbu"] == 12.0
    assert out["esr"] >= 0 and out["esr_validation"] is None
    assert out["frames"] == 4 * 48000
    bad = run_station("verify", str(trained), "--di", str(di), home=tmp_path)
    assert bad.returncode == 1 and "--di needs --profile" in bad.stderr


def test_damaged_capture_json_is_a_clear_error(virtual_capture: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(virtual_capture, broken)
    (broken / "capture.json").write_text("{not json")
    res = subprocess.run(
        [sys.executable, "-m", "station", "train", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and "cannot read" in res.stderr and "Traceback" not in res.stderr
