"""`station info`, `station tag` and `station gain-stage` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import calibrate_virtual
from tests.conftest import run_station as station
from tests.models.test_namfile import FOREIGN


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    paths = []
    for name in ("a.nam", "b.nam"):
        p = tmp_path / name
        p.write_text(json.dumps(FOREIGN))
        paths.append(p)
    return paths


def test_tag_from_capture_and_info(
    virtual_capture: Path, models: list[Path], tmp_path: Path
) -> None:
    res = station(
        "tag",
        *map(str, models),
        "--capture",
        str(virtual_capture),
        "--name",
        "Clean",
        "--json",
        home=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    meta = json.loads((virtual_capture / "capture.json").read_text())
    assert [o["written"]["input_level_dbu"] for o in out] == [12.0, 12.0]
    assert out[0]["written"]["output_level_dbu"] == meta["output_level_dbu"]
    assert out[0]["written"]["gear_make"] == "Virtual" and out[0]["written"]["name"] == "Clean"
    info = station("info", str(models[0]), "--json", home=tmp_path)
    data = json.loads(info.stdout)
    assert data["calibrated"] and data["input_level_dbu"] == 12.0
    assert data["metadata"]["tonehunt"] == {"id": "abc"}
    table = station("info", *map(str, models), home=tmp_path)
    assert "a.nam" in table.stdout and "b.nam" in table.stdout and "12" in table.stdout


def test_tag_with_typed_levels(models: list[Path], tmp_path: Path) -> None:
    res = station(
        "tag",
        str(models[0]),
        "--input-dbu",
        "15",
        "--output-dbu",
        "12.2",
        "--gear-type",
        "pedal",
        home=tmp_path,
    )
    assert res.returncode == 0 and "tagged" in res.stdout
    assert json.loads(models[0].read_text())["metadata"]["gear_type"] == "pedal"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input-dbu", "nan", "--output-dbu", "1"], "finite"),
        (["--input-dbu", "99", "--output-dbu", "1"], "outside"),
        (["--input-dbu", "1"], "give both levels"),
        (["--input-dbu", "1", "--output-dbu", "1", "--tone-type", "djent"], "tone type"),
    ],
)
def test_tag_mistakes(models: list[Path], tmp_path: Path, args: list[str], message: str) -> None:
    before = models[0].read_bytes()
    res = station("tag", str(models[0]), *args, home=tmp_path)
    assert res.returncode == 1 and message in res.stderr and "Traceback" not in res.stderr
    assert models[0].read_bytes() == before


def test_tag_refuses_a_capture_at_another_rate(virtual_capture: Path, tmp_path: Path) -> None:
    model = tmp_path / "m44.nam"
    model.write_text(json.dumps({**FOREIGN, "sample_rate": 44100}))
    before = model.read_bytes()
    res = station("tag", str(model), "--capture", str(virtual_capture), home=tmp_path)
    assert res.returncode == 1 and "44100 Hz model" in res.stderr
    assert model.read_bytes() == before


def test_gain_stage_worked_examples(tmp_path: Path) -> None:
    res = station(
        "gain-stage", "--interface-dbu", "12.2", "--input-dbu", "15", "--json", home=tmp_path
    )
    assert json.loads(res.stdout)["trim_db"] == pytest.approx(-2.8)
    res = station(
        "gain-stage",
        "--interface-dbu",
        "12.2",
        "--input-dbu",
        "15",
        "--interface-gain-db",
        "5",
        "--json",
        home=tmp_path,
    )
    assert json.loads(res.stdout)["trim_db"] == pytest.approx(-7.8)
    human = station("gain-stage", "--interface-dbu", "12.2", "--input-dbu", "15", home=tmp_path)
    assert "-2.8 dB" in human.stdout


def test_gain_stage_from_a_model_and_a_profile(models: list[Path], tmp_path: Path) -> None:
    station("tag", str(models[0]), "--input-dbu", "15", "--output-dbu", "10", home=tmp_path)
    res = station(
        "gain-stage", "--interface-dbu", "12.2", "--model", str(models[0]), "--json", home=tmp_path
    )
    out = json.loads(res.stdout)
    assert out["trim_db"] == pytest.approx(-2.8)
    assert out["output_gain_db"] == pytest.approx(10 - 12.2)
    assert calibrate_virtual(tmp_path, "mine").returncode == 0
    res = station("gain-stage", "--profile", "mine", "--input-dbu", "15", "--json", home=tmp_path)
    assert json.loads(res.stdout)["trim_db"] == pytest.approx(12.0 - 15.0, abs=0.02)


def test_gain_stage_uncalibrated_model(models: list[Path], tmp_path: Path) -> None:
    res = station("gain-stage", "--interface-dbu", "12.2", "--model", str(models[1]), home=tmp_path)
    assert res.returncode == 1 and "carries no calibration" in res.stderr
    assert "Traceback" not in res.stderr
