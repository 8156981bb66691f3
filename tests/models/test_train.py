"""Training through neural-amp-modeler: a tiny model from a virtual capture, calibrated.

Skipped where the `train` extra is not installed; the core suite needs no torch.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.interface.profiles import load_profile
from station.models import players
from station.models.namfile import read_model, tag_model
from station.signal import levels
from station.virtual.catalogue import catalogue
from station.virtual.rig import VirtualInterfaceTruth

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
    # Off a terminal the log holds the station's own lines only: not Lightning's devices,
    # tips, model table or 'fit stopped', nor NAM's 'Loading data' bars.
    others = [
        line for line in res.stderr.splitlines() if not line.startswith(("== ", "   ", "warning: "))
    ]
    assert others == [], others
    return Path(out["model_path"])


def gear_truth(x: np.ndarray, meta: dict) -> np.ndarray:
    """What the virtual clean amp really returns for `x` at the capture's level: the same gear
    fed the same volts, read by the return converter, with no noise and no latency."""
    truth = VirtualInterfaceTruth()
    vpk_out = levels.vrms_from_dbu(truth.send_dbu_at_0dbfs) * math.sqrt(2)
    vpk_in = levels.vrms_from_dbu(truth.return_dbu_at_0dbfs) * math.sqrt(2)
    gear = catalogue()[meta["virtual_gear"]]
    return gear.process(x * levels.ratio_from_db(meta["playback_gain_db"]) * vpk_out) / vpk_in


def truth_scores(model: Path, folder: Path) -> tuple[float, float, float]:
    """(ESR overall, ESR on the validation copy, level difference dB) of the model against the
    gear's truth, computed here without the station's verify code."""
    from station.models.verify import run_model

    meta = json.loads((folder / "capture.json").read_text())
    x, _ = sf.read(folder / "input.wav", dtype="float32")
    truth = gear_truth(x.astype(np.float64), meta)
    out = run_model(model, x)
    lo = len(x) - 432_000
    level = 20 * math.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(truth**2)))
    return esr(out, truth), esr(out[lo:], truth[lo:]), level


def esr(p: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean((p - t) ** 2) / np.mean(t**2))


@pytest.mark.slow
def test_trained_model_is_calibrated(trained: Path, virtual_capture: Path) -> None:
    meta = json.loads((virtual_capture / "capture.json").read_text())
    model = read_model(trained)
    assert model.data["architecture"] == "WaveNet"
    assert model.metadata["input_level_dbu"] == meta["input_level_dbu"] == 12.0
    assert model.metadata["output_level_dbu"] == meta["output_level_dbu"]
    assert model.metadata["gear_make"] == "Virtual" and model.metadata["gear_type"] == "amp"
    assert meta["model"]["path"] == str(trained)
    assert meta["model"]["training_path"] == "nam-configurable"
    # The ESR the station reports is the model's error against the gear itself (the capture
    # adds only noise 90 dB down and a fraction of a sample of delay).
    _, val_truth, _ = truth_scores(trained, virtual_capture)
    assert meta["model"]["validation_esr"] == pytest.approx(val_truth, rel=0.05, abs=0.01)


def test_info_on_a_trained_model_names_the_players_that_load_it(trained: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "station", "info", str(trained), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = json.loads(res.stdout)
    from nam.models._constants import MODEL_VERSION  # what this NAM writes into every export

    assert out["version"] == MODEL_VERSION
    assert [p["loads"] for p in out["players"]] == [p.loads for p in players.support(MODEL_VERSION)]
    if out["version"] == "0.7.0":  # neural-amp-modeler 0.13 (docs/nam-facts.md)
        assert out["players"][0]["loads"] == "no" and out["players"][1]["loads"] == "yes"
        assert "cannot load this model" in res.stderr


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


@pytest.mark.slow
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
    esr_truth, val_truth, level_truth = truth_scores(trained, virtual_capture)
    assert out["esr"] == pytest.approx(esr_truth, rel=0.05, abs=0.01)
    assert out["esr_validation"] == pytest.approx(val_truth, rel=0.05, abs=0.01)
    assert out["level_difference_db"] == pytest.approx(level_truth, abs=0.1)


@pytest.mark.slow
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
        "from station.main import main\n"
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


@pytest.mark.slow
def test_verify_with_a_di_through_the_gear(
    trained: Path, virtual_capture: Path, tmp_path: Path
) -> None:
    import numpy as np
    import soundfile as sf

    from station.signal.synth import guitar_material
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
    assert out["esr_validation"] is None and out["frames"] == 4 * 48000
    # Against the truth: the same DI through the same virtual gear at the capture's level.
    meta = json.loads((virtual_capture / "capture.json").read_text())
    x, _ = sf.read(di, dtype="float32")
    gain_db = 12.0 - load_profile(tmp_path, "p").send_dbu_at_0dbfs  # 12 dBu through p's send
    truth = gear_truth(x.astype(np.float64), {**meta, "playback_gain_db": gain_db})
    from station.models.verify import run_model

    assert out["esr"] == pytest.approx(esr(run_model(trained, x), truth), rel=0.05, abs=0.01)
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


def test_trainer_options_lightning_cannot_use_are_one_line_errors(
    virtual_capture: Path, tmp_path: Path
) -> None:
    from station.errors import StationError
    from station.models.nam_lib import check_trainer_options

    check_trainer_options({"accelerator": "cpu", "devices": 1, "strategy": None})
    check_trainer_options(None)
    with pytest.raises(StationError, match="cannot run with accelerator=tpu"):
        check_trainer_options({"accelerator": "tpu"})  # no machine here has a TPU
    res = subprocess.run(
        [sys.executable, "-m", "station", "train", str(virtual_capture), "--out",
         str(tmp_path / "m.nam"), "--accelerator", "bogus"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "the trainer cannot run with accelerator=bogus" in res.stderr
    assert "hint: leave out --accelerator/--devices/--strategy" in res.stderr
    assert not (tmp_path / "m.nam").exists()


def test_a_parametric_size_for_one_capture_says_where_it_belongs(
    virtual_capture: Path, tmp_path: Path
) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "station", "train", str(virtual_capture), "--out",
         str(tmp_path / "m.nam"), "--architecture", "compact"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "compact is a size for knob-conditioned models from a sweep" in res.stderr
    assert "standard, lite, feather, nano" in res.stderr
    assert not (tmp_path / "m.nam").exists()
