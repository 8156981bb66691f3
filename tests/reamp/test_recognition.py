"""Reamp files recognised by MD5, by the trainer's weak hash and by content (docs/design.md §4)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.capture.run import CaptureRequest, run_capture
from station.reamp import files as reamp
from station.reamp import layouts
from station.reamp.generate import station_signal
from station.signal.synth import guitar_material
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.conftest import run_station as station

SEED, TRAINING_S = 3, 4.0  # the session's short signal


@pytest.fixture(scope="module")
def bare_v3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The station's short v3-layout signal as plain PCM 24-bit: no comment, a new name."""
    path = tmp_path_factory.mktemp("bare") / "my_reamp.wav"
    sf.write(path, station_signal(SEED, TRAINING_S), 48000, subtype="PCM_24")
    return path


@pytest.fixture(scope="module")
def float_v3(tmp_path_factory: pytest.TempPathFactory, short_signal: Path) -> Path:
    """NAM-style v3 layout re-saved as 32-bit float, comment stripped."""
    x, _ = sf.read(short_signal, dtype="float32")
    path = tmp_path_factory.mktemp("float") / "v3_float.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    return path


def test_v3_by_md5(bare_v3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reamp, "NAM_V3_MD5", hashlib.md5(bare_v3.read_bytes()).hexdigest())
    info = reamp.recognise(bare_v3)
    assert info.kind == "nam-v3" and info.recognised_by == "MD5"
    assert info.layout == layouts.nam_v3(info.frames) and info.replicate is not None
    assert "recognised by its MD5" in info.recognition


def test_v3_by_the_trainers_weak_hash(
    bare_v3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The trainer hashes wavio's integers scaled to ±1 as float64 (nam.data.wav_to_np):
    # computed here from the raw 24-bit integers, independently of the station's reader.
    ints, _ = sf.read(bare_v3, dtype="int32")
    x = (ints >> 8).astype(np.float64) / 2.0**23
    start = hashlib.md5(x[: 17 * 48000]).hexdigest()
    end = hashlib.md5(x[-9 * 48000 :]).hexdigest()
    monkeypatch.setattr(reamp, "NAM_V3_WEAK", (start, end))
    info = reamp.recognise(bare_v3)
    assert info.kind == "nam-v3" and info.recognised_by == "weak hash"
    assert "weak hash" in info.recognition
    # The trainer reads integer WAVs only: a float re-save is recognised by content instead.
    floated = tmp_path / "float.wav"
    sf.write(floated, sf.read(bare_v3, dtype="float32")[0], 48000, subtype="FLOAT")
    assert reamp.recognise(floated).recognised_by == "content"


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16", "PCM_24"])
def test_v3_layout_by_content(bare_v3: Path, tmp_path: Path, subtype: str) -> None:
    x, _ = sf.read(bare_v3, dtype="float32")
    path = tmp_path / f"renamed_{subtype}.wav"
    sf.write(path, x, 48000, subtype=subtype)
    info = reamp.recognise(path)
    assert info.kind == "nam-layout" and info.recognised_by == "content"
    assert info.layout is not None and info.layout.version == "v3"
    assert info.replicate == layouts.Replicate(0, len(x) - 432_000, 432_000, "validation")
    assert "recognised by content" in info.recognition and "10.5 s" in info.recognition


def test_v2_layout_by_content() -> None:
    rng = np.random.default_rng(5)
    val = 0.5 * guitar_material(9.0, 48000, rng)
    train = 0.5 * guitar_material(4.0, 48000, rng)
    head = np.zeros(384_000)
    head[[24_000, 72_000]] = 0.7
    head[96_000:384_000] = 0.3 * rng.standard_normal(288_000)
    tail = np.zeros(96_000)
    tail[[96_000 - 72_000, 96_000 - 24_000]] = 0.7
    x = np.concatenate([head, train, val, val, tail])
    match = layouts.match_layout(x)
    assert match is not None and match.layout.version == "v2"
    rep = match.layout.replicate
    assert rep is not None and rep.start_b - rep.start_a == 432_000
    np.testing.assert_array_equal(
        x[rep.start_a : rep.start_a + rep.frames], x[rep.start_b : rep.start_b + rep.frames]
    )
    x[rep.start_b + 1000] += 0.01  # copies that differ are not NAM's layout
    assert layouts.match_layout(x) is None


def test_any_repeated_section_gets_a_replicate(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    a = 0.5 * guitar_material(4.0, 48000, rng)
    b = 0.5 * guitar_material(2.5, 48000, rng)
    x = np.concatenate([b[:12_345], a, b, a, b[:1000]])
    rep = layouts.find_replicate(x)
    assert rep is not None and rep.frames >= 4 * 48000
    assert rep.start_b - rep.start_a == len(a) + len(b)
    assert layouts.find_replicate(np.concatenate([a, b])) is None
    assert layouts.find_replicate(np.zeros(20 * 48000)) is None  # silence is not material


def test_float_v3_gets_the_replicate_check_in_capture_and_check(
    float_v3: Path, tmp_path: Path
) -> None:
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "p")
    res = run_capture(
        rig.interface,
        CaptureRequest(prof, float_v3, 12.0, "float", tmp_path / "captures"),
        confirm=rig.act_on,
    )
    by = {c.name: c for c in res.checks}
    assert res.passed and by["replicate_esr"].status == "pass" and by["replicate_esr"].value < 1e-3
    assert by["trainer_blips"].status == "pass"
    assert "recognised by content" in by["reamp_file"].message
    assert res.record["reamp_file"]["recognised_by"] == "content"
    out = station(
        "check", "--input", str(float_v3), "--output", str(res.capture_dir / "output.wav"),
        "--json", home=tmp_path,
    )  # fmt: skip
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["replicate_esr"]["passed"] is True
    assert "recognised by content" in checks["reamp_file"]["message"]


def test_custom_file_with_a_repeat_gets_the_replicate_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    a = 0.5 * guitar_material(3.5, 48000, rng)
    path = tmp_path / "riff_twice.wav"
    sf.write(path, np.concatenate([a, 0.5 * guitar_material(1.0, 48000, rng), a]), 48000)
    rig = VirtualRig(speed=None)
    rig.use_gear("chorus")  # time-based: the two plays differ
    prof = calibrated_profile(rig, "p")
    res = run_capture(
        rig.interface,
        CaptureRequest(prof, path, 12.0, "twice", tmp_path / "captures"),
        confirm=rig.act_on,
    )
    by = {c.name: c for c in res.checks}
    assert by["replicate_esr"].status == "fail" and not res.passed
    assert "identical sections" in by["reamp_file"].message
