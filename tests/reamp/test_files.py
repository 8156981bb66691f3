"""Reamp files: the station's v3-layout signal and the recognition of files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.errors import SignalError
from station.reamp import files as reamp
from station.reamp.generate import station_signal


def test_station_signal_has_the_v3_layout(full_signal: Path) -> None:
    x, sr = sf.read(full_signal)
    info = sf.info(str(full_signal))
    assert sr == 48000 and info.subtype == "PCM_24" and info.channels == 1
    assert len(x) == reamp.NAM_V3_FRAMES
    lay = reamp.Layout(len(x))
    v1, v2 = x[slice(*lay.validation_1)], x[slice(*lay.validation_2)]
    np.testing.assert_array_equal(v1, v2)
    assert np.all(x[432_000:504_000] == 0) and x[504_000] > 0.5 and x[552_000] > 0.5
    assert np.all(x[504_001:552_000] == 0)
    assert np.std(x[slice(*lay.chirps)]) > 0.1 and np.std(x[slice(*lay.noise)]) > 0.05
    assert reamp.true_peak_dbfs(x) < -0.5
    train = x[lay.train_start : lay.validation_2[0] - 24_000]
    assert np.max(np.abs(train)) > 0.5 and np.mean(np.abs(train) < 1e-4) < 0.3


def test_signal_is_deterministic_by_seed() -> None:
    a = station_signal(7, training_s=2.0)
    b = station_signal(7, training_s=2.0)
    c = station_signal(8, training_s=2.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_recognise_station_signal(short_signal: Path) -> None:
    info = reamp.recognise(short_signal)
    assert info.kind == "station-v3" and info.layout is not None
    assert info.layout.validation_2 == (info.frames - 432_000, info.frames)
    assert "not NAM's" in info.notes[0]


def test_recognise_custom_and_bad_files(tmp_path: Path) -> None:
    custom = tmp_path / "riff.wav"
    sf.write(custom, 0.1 * np.sin(np.arange(48000) / 10), 48000, subtype="PCM_24")
    assert reamp.recognise(custom).kind == "custom"
    slow = tmp_path / "cd.wav"
    sf.write(slow, np.zeros(44100), 44100)
    with pytest.raises(SignalError, match="44100 Hz"):
        reamp.recognise(slow)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((480, 2)), 48000)
    with pytest.raises(SignalError, match="2 channels"):
        reamp.recognise(stereo)
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    with pytest.raises(SignalError, match="cannot read"):
        reamp.recognise(junk)
    with pytest.raises(SignalError, match="no reamp file"):
        reamp.recognise(tmp_path / "missing.wav")


def test_deprecated_inputs_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "v2.wav"
    sf.write(old, np.zeros(48000), 48000, subtype="PCM_24")
    monkeypatch.setitem(reamp.DEPRECATED_MD5, reamp.md5_of_file(old), "NAM v2.0.0")
    info = reamp.recognise(old)
    assert info.kind == "nam-deprecated" and "deprecated" in info.label


def test_true_peak_sees_between_samples() -> None:
    # A sine at fs/4 sampled at ±45°: samples read 0.707 of its true peak (−3 dB).
    from station.signal.stimuli import apply_fades

    n = np.arange(48000)
    x = apply_fades(np.sin(np.pi / 2 * n + np.pi / 4), 4800)  # no abrupt edges to ring
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-3.01, abs=0.01)
    assert reamp.true_peak_dbfs(x) == pytest.approx(0.0, abs=0.05)
