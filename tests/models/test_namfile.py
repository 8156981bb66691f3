"""Tagging .nam files: only the fields written change; bad input leaves the file untouched."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from station.models.namfile import ModelError, fields_from_capture, read_model, tag_model

FOREIGN = {
    "version": "0.5.4",
    "architecture": "WaveNet",
    "config": {"layers": [{"channels": 4}], "head_scale": 0.02},
    "weights": [0.1, -0.25, 3.0e-7, 1.0],
    "sample_rate": 48000,
    "metadata": {
        "date": {"year": 2025},
        "loudness": -18.2,
        "gear_type": "amp",
        "training": {"validation_esr": 0.0123},
        "tonehunt": {"id": "abc"},
    },
    "other_tool": {"keep": [1, 2, {"x": None}]},
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "amp.nam"
    path.write_text(json.dumps(FOREIGN, indent=1))
    return path


def test_tag_changes_only_the_fields(model: Path) -> None:
    os.chmod(model, 0o640)
    written = tag_model(
        model,
        {"input_level_dbu": 12.0, "output_level_dbu": 9.7, "name": "Plexi", "tone_type": "crunch"},
    )
    assert written == {
        "input_level_dbu": 12.0,
        "output_level_dbu": 9.7,
        "name": "Plexi",
        "tone_type": "crunch",
    }
    after = json.loads(model.read_text())
    expected = json.loads(json.dumps(FOREIGN))
    expected["metadata"].update(written)
    assert after == expected
    assert stat.S_IMODE(model.stat().st_mode) == 0o640
    assert json.loads(Path(f"{model}.bak").read_text()) == FOREIGN
    assert not [p for p in model.parent.iterdir() if p.name.endswith(".tmp")]


def test_backup_keeps_the_original_across_tags(model: Path) -> None:
    original = model.read_bytes()
    tag_model(model, {"input_level_dbu": 1.0, "output_level_dbu": 2.0})
    tag_model(model, {"input_level_dbu": 3.0, "output_level_dbu": 4.0})
    assert Path(f"{model}.bak").read_bytes() == original
    assert read_model(model).metadata["input_level_dbu"] == 3.0


def test_model_without_metadata_gets_some(tmp_path: Path) -> None:
    path = tmp_path / "bare.nam"
    path.write_text(json.dumps({"architecture": "Linear", "config": {}, "weights": []}))
    tag_model(path, {"input_level_dbu": 10, "output_level_dbu": 8})
    m = read_model(path)
    assert m.calibrated and m.metadata == {"input_level_dbu": 10.0, "output_level_dbu": 8.0}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"input_level_dbu": float("nan"), "output_level_dbu": 1.0}, "finite"),
        ({"input_level_dbu": "inf", "output_level_dbu": 1.0}, "finite"),
        ({"input_level_dbu": "loud", "output_level_dbu": 1.0}, "must be a number"),
        ({"input_level_dbu": 55.0, "output_level_dbu": 1.0}, "outside"),
        ({"input_level_dbu": 1.0, "output_level_dbu": -31.0}, "outside"),
        ({"gear_type": "guitar"}, "gear type"),
        ({"tone_type": "djent"}, "tone type"),
        ({"name": "  "}, "some text"),
        ({"loudness": 3}, "not a metadata field"),
        ({}, "nothing to write"),
    ],
)
def test_bad_values_leave_the_file_untouched(model: Path, values: dict, message: str) -> None:
    before = model.read_bytes()
    with pytest.raises(ModelError, match=message):
        tag_model(model, values)
    assert model.read_bytes() == before
    assert not Path(f"{model}.bak").exists()


def test_force_accepts_an_unusual_level(model: Path) -> None:
    tag_model(model, {"input_level_dbu": 44.0, "output_level_dbu": 1.0}, force=True)
    assert read_model(model).metadata["input_level_dbu"] == 44.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"architecture": "WaveNet"}', "not a NAM model"),
        ("[1, 2]", "not a NAM model"),
        ("\udcff", "is not JSON"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.nam"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    before = path.read_bytes()
    with pytest.raises(ModelError, match=message):
        tag_model(path, {"input_level_dbu": 1.0, "output_level_dbu": 1.0})
    assert path.read_bytes() == before


def test_directory_missing_and_read_only(tmp_path: Path, model: Path) -> None:
    with pytest.raises(ModelError, match="is a folder"):
        read_model(tmp_path)
    with pytest.raises(ModelError, match="there is no file"):
        read_model(tmp_path / "nope.nam")
    if os.geteuid() == 0:
        # root writes anywhere; prove the check with a path whose folder is not writable
        pytest.skip("running as root: file permissions do not bind")
    os.chmod(model, 0o444)
    before = model.read_bytes()
    with pytest.raises(ModelError, match="read-only"):
        tag_model(model, {"input_level_dbu": 1.0, "output_level_dbu": 1.0})
    assert model.read_bytes() == before


def test_read_only_is_refused_even_for_root(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # os.access is what the tagger asks; make it answer as for a read-only file.
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    before = model.read_bytes()
    with pytest.raises(ModelError, match="read-only"):
        tag_model(model, {"input_level_dbu": 1.0, "output_level_dbu": 1.0})
    assert model.read_bytes() == before


def test_fields_from_capture() -> None:
    meta = {
        "input_level_dbu": 12.0,
        "output_level_dbu": 9.5,
        "gear": {"gear_make": "Marshall", "gear_type": "amp", "tone_type": ""},
    }
    assert fields_from_capture(meta) == {
        "input_level_dbu": 12.0,
        "output_level_dbu": 9.5,
        "gear_make": "Marshall",
        "gear_type": "amp",
    }
