"""Models a player can load: file versions against the plugin cores (docs/nam-facts.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.models import players
from station.models.namfile import read_model, tag_model
from tests.conftest import run_station as station
from tests.models.test_namfile import FOREIGN


@pytest.mark.parametrize(
    ("version", "tagged", "main"),
    [
        ("0.5.4", "yes", "yes"),
        ("0.5.0", "yes", "yes"),
        ("0.6.1", "no", "yes"),
        ("0.7.0", "no", "yes"),  # what neural-amp-modeler 0.13 exports
        ("0.7.3", "no", "partially"),
        ("0.8.0", "no", "no"),
        ("0.4.9", "no", "no"),
        ("0.5", "no", "no"),
        ("v0.5.4", "no", "no"),
        ("0.5.4-dev", "no", "no"),
        (None, "no", "no"),
        (5, "no", "no"),
    ],
)
def test_which_cores_load_a_version(version: object, tagged: str, main: str) -> None:
    got = players.support(version)
    # The plugin's main branch (core 0.5.2) checks versions as the core's main does.
    assert [p.loads for p in got] == [tagged, main, main]
    assert (players.warning(version) is None) == (tagged == "yes")


def write_model(path: Path, version: str, **metadata: object) -> Path:
    data = dict(FOREIGN, version=version)
    data["metadata"] = {**data.get("metadata", {}), **metadata}
    path.write_text(json.dumps(data))
    return path


def test_info_says_who_loads_the_model(tmp_path: Path) -> None:
    new = write_model(tmp_path / "new.nam", "0.7.0")
    res = station("info", str(new), home=tmp_path)
    assert res.returncode == 0
    assert "file version '0.7.0'" in res.stdout and "v0.7.13" in res.stdout
    assert "cannot load this model" in res.stderr
    js = json.loads(station("info", str(new), "--json", home=tmp_path).stdout)
    assert [p["loads"] for p in js["players"]] == ["no", "yes", "yes"] and js["player_warning"]
    old = write_model(tmp_path / "old.nam", "0.5.4")
    res = station("info", str(old), home=tmp_path)
    assert "cannot load" not in res.stderr and "0.5.x file" in res.stdout


def test_tag_never_leaves_text_or_null_where_the_core_reads_numbers(tmp_path: Path) -> None:
    path = write_model(
        tmp_path / "m.nam", "0.5.4", input_level_dbu="12.5", output_level_dbu=None, loudness="loud"
    )
    written = tag_model(path, {"name": "Clean"})
    meta = read_model(path).metadata
    assert meta["input_level_dbu"] == 12.5 and "output_level_dbu" not in meta
    assert "loudness" not in meta and meta["name"] == "Clean"
    assert written["removed"] == ["loudness", "output_level_dbu"]
    raw = json.loads(path.read_text())["metadata"]
    assert all(isinstance(raw[k], float) for k in ("input_level_dbu",))
    res = station("tag", str(path), "--input-dbu", "3", "--output-dbu", "4", home=tmp_path)
    assert res.returncode == 0
    raw = json.loads(path.read_text())["metadata"]
    assert raw["input_level_dbu"] == 3.0 and raw["output_level_dbu"] == 4.0
    assert not any(isinstance(raw[k], str) for k in ("input_level_dbu", "output_level_dbu"))


def test_a_knob_conditioned_model_loads_in_no_plugin() -> None:
    # The version alone would say every core loads it; the knob inputs say no plugin does.
    assert [p.loads for p in players.support("0.5.4")] == ["yes", "yes", "yes"]
    early = {"version": "0.5.4", "architecture": "ConditionedWaveNet", "config": {}}
    assert [p.loads for p in players.support("0.5.4", early)] == ["no", "no", "no"]
    multi = {"version": "0.7.0", "architecture": "WaveNet", "config": {"in_channels": 3}}
    got = players.support("0.7.0", multi)
    assert [p.loads for p in got] == ["no", "no", "yes"]
    assert "3 input channels" in got[2].reason
    warning = players.warning("0.7.0", multi)
    assert warning is not None and "no NAM plugin" in warning


def test_the_tagged_release_needs_the_classic_layout_as_well_as_a_05_version() -> None:
    layer = {"kernel_sizes": [3], "head": {}, "activation": []}
    current = {"version": "0.5.4", "architecture": "WaveNet", "config": {"layers": [layer]}}
    assert [p.loads for p in players.support("0.5.4", current)] == ["no", "yes", "yes"]
    classic = {"version": "0.5.4", "architecture": "WaveNet", "config": {"layers": [
        {"kernel_size": 3, "head_size": 1, "head_bias": True, "gated": False, "activation": "Tanh"}
    ]}}  # fmt: skip
    assert [p.loads for p in players.support("0.5.4", classic)] == ["yes", "yes", "yes"]
