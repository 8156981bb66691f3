"""Verdicts that hold on material nobody tuned them to: no false pass, no false fail (issue 8)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.capture import checks
from station.capture.run import CaptureRequest, preflight, run_capture
from station.errors import SignalError
from station.signal import latency, presence
from station.virtual.gear import Amp
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.conftest import run_station as station


def gear_render(x: np.ndarray, delay: int, tail: int, level: float = 0.5) -> np.ndarray:
    """A noise-free clean amp fed `x`, delayed by `delay` samples, with `tail` samples after:
    what a plugin render or a quiet DAW recording looks like (exact zeros in silence)."""
    amp = Amp()
    amp.reset(48000)
    y = amp.process(np.asarray(x, dtype=np.float64) * 8.0) / 8.0 * level / amp.level
    return np.concatenate([np.zeros(delay), y, np.zeros(tail - delay)])


def checks_of(out: dict) -> dict[str, dict]:
    return {c["name"]: c for c in out["checks"]}


# 1. Dropouts are judged after alignment, only where the input plays, never at the rails.


def test_daw_pair_with_300_samples_latency_and_no_noise_passes(
    short_signal: Path, tmp_path: Path
) -> None:
    x, _ = sf.read(short_signal)
    out_path = tmp_path / "render.wav"
    sf.write(out_path, gear_render(x, 300, 24_000), 48000, subtype="PCM_24")
    res = station(
        "check", "--input", str(short_signal), "--output", str(out_path), "--json", home=tmp_path
    )
    out = json.loads(res.stdout)
    by = checks_of(out)
    assert by["dropouts"]["passed"] is True, by["dropouts"]
    assert res.returncode == 0 and out["passed"], [c for c in out["checks"] if not c["passed"]]
    assert out["latency_samples"] == pytest.approx(300, abs=2)
    assert by["latency_agreement"]["passed"] is True


def test_dropouts_after_alignment() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([np.zeros(4800), 0.5 * rng.standard_normal(48000)]).astype(np.float32)
    y = np.concatenate([np.zeros(300), x * 0.3])[: len(x) + 300].astype(np.float32)
    assert presence.count_dropouts(x, y, 300) == 0
    held = y.copy()
    held[20_000:20_200] = held[20_000]  # a real dropout: the output holds while the input plays
    assert presence.count_dropouts(x, held, 300) == 1
    clipped = np.clip(y * 10, -1.0, 1.0)  # flat tops at full scale are clipping
    assert presence.count_dropouts(x, clipped, 300) == 0
    gated = y.copy()
    gated[: 4800 + 300] = 0.0  # silence while the input is silent is the gear's silence
    assert presence.count_dropouts(x, gated, 300) == 0


def test_dropout_advice_names_block_sizes_only_after_an_xrun() -> None:
    x = np.ones(1000, dtype=np.float32) * 0.5
    x[::2] = -0.5
    y = np.zeros(1000, dtype=np.float32)
    quiet = checks.check_dropouts(x, y)
    assert quiet.status == "fail" and "block size" not in quiet.message
    assert "block size" in checks.check_dropouts(x, y, xrun=True).message
    assert checks.check_dropouts(x, y, None).status == "n/a"


# 2. A silent or nearly empty reamp file is refused before anything plays.


@pytest.mark.parametrize(
    ("samples", "words"), [(np.zeros(190 * 48000), "silent"), (np.full(10, 0.5), "too short")]
)
def test_silent_or_empty_reamp_file_is_refused(
    rig: VirtualRig, tmp_path: Path, samples: np.ndarray, words: str
) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, samples, 48000, subtype="PCM_24")
    prof = calibrated_profile(rig, "p")
    req = CaptureRequest(prof, path, 12.0, "x", tmp_path / "captures")
    with pytest.raises(SignalError, match=words):
        preflight(req)


# 3. Nothing connected: fewer than two estimates cannot pass, and the return is judged.


def test_decide_never_says_agree_with_one_estimate() -> None:
    d = latency.decide({"loopback": 300.0, "blip": None, "xcorr": None}, 1)
    assert "agree" not in d.message.replace("disagree", "")
    check = checks.check_latency_agreement(d.estimates, d.disagreement_samples, d.message)
    assert check.status == "fail" and check.value == 1


def test_custom_file_with_nothing_connected_fails(rig: VirtualRig, tmp_path: Path) -> None:
    from station.signal.synth import guitar_material

    path = tmp_path / "riffs.wav"
    sf.write(path, 0.5 * guitar_material(6.0, 48000, np.random.default_rng(4)), 48000)
    prof = calibrated_profile(rig, "p")
    rig.auto_patch = False
    rig.patch = "open"
    res = run_capture(
        rig.interface,
        CaptureRequest(prof, path, 12.0, "nothing", tmp_path / "captures"),
        confirm=rig.act_on,
    )
    by = {c.name: c for c in res.checks}
    assert not res.passed
    assert by["latency_agreement"].status == "fail"
    assert by["return_signal"].status == "fail"
    assert "no signal came back: is the gear connected and switched on?" in (
        by["return_signal"].message
    )
    assert "agree within" not in res.record["latency"]["message"]


def test_connected_custom_file_returns_signal(rig: VirtualRig, tmp_path: Path) -> None:
    from station.signal.synth import guitar_material

    path = tmp_path / "riffs.wav"
    sf.write(path, 0.5 * guitar_material(6.0, 48000, np.random.default_rng(4)), 48000)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "p")
    res = run_capture(
        rig.interface,
        CaptureRequest(prof, path, 12.0, "ok", tmp_path / "captures"),
        confirm=rig.act_on,
    )
    by = {c.name: c for c in res.checks}
    assert res.passed and by["return_signal"].status == "pass"
    assert by["return_signal"].value > prof.return_noise_floor_dbfs + 30


# 4. `check --json` has capture's shape; n/a rows carry passed null and a reason; no NaN.


def test_check_json_has_the_capture_shape(virtual_capture: Path, tmp_path: Path) -> None:
    res = station("check", str(virtual_capture), "--json", home=tmp_path)
    out = json.loads(res.stdout)
    meta = json.loads((virtual_capture / "capture.json").read_text())
    assert res.returncode == 0, res.stdout
    assert out["input_level_dbu"] == meta["input_level_dbu"] == 12.0
    assert out["output_level_dbu"] == meta["output_level_dbu"]
    assert out["polarity"] == meta["polarity"] == 1
    assert abs(out["latency_samples"]) <= 2
    assert out["latency"]["used"] == meta["latency"]["used"]
    assert set(checks_of(out)) >= {c["name"] for c in meta["checks"]} - {"polarity"}


def test_not_applicable_checks_are_rows_with_passed_null(
    virtual_capture: Path, tmp_path: Path
) -> None:
    from station.signal.synth import guitar_material

    x = 0.5 * guitar_material(5.0, 48000, np.random.default_rng(2))
    sf.write(tmp_path / "in.wav", x, 48000, subtype="PCM_24")
    sf.write(tmp_path / "out.wav", gear_render(x, 200, 4800), 48000, subtype="PCM_24")
    res = station(
        "check",
        "--input",
        str(tmp_path / "in.wav"),
        "--output",
        str(tmp_path / "out.wav"),
        "--json",
        home=tmp_path,
    )
    by = checks_of(json.loads(res.stdout))
    for name in ("trainer_blips", "replicate_esr", "validation_drift", "latency_agreement"):
        assert by[name]["passed"] is None and by[name]["message"], by[name]
    assert res.returncode == 0


def test_silent_output_never_shows_nan(virtual_capture: Path, tmp_path: Path) -> None:
    x, _ = sf.read(virtual_capture / "input.wav")
    sf.write(tmp_path / "silent.wav", np.zeros(len(x)), 48000, subtype="PCM_24")
    args = [
        "check",
        "--input",
        str(virtual_capture / "input.wav"),
        "--output",
        str(tmp_path / "silent.wav"),
    ]
    human = station(*args, home=tmp_path)
    js = station(*args, "--json", home=tmp_path)
    for res in (human, js):
        assert res.returncode == 1
        assert "nan" not in res.stdout.lower() and "inf" not in res.stdout.lower().replace(
            "info", ""
        )
    by = checks_of(json.loads(js.stdout))
    assert by["return_signal"]["passed"] is False
    assert "no signal came back" in by["return_signal"]["message"]


def test_to_json_marks_not_applicable_as_null() -> None:
    row = checks.Check("x", "n/a", math.nan, None, "why").to_json()
    assert row["passed"] is None and row["value"] is None


def test_estimates_reading_the_same_evidence_count_once() -> None:
    est = {"loopback": 300.0, "reference": 300.5, "blip": None, "trainer_blips": None}
    # the reference stands for the calibrated latency it moves
    assert checks.independent_estimates(est) == ["reference"]
    both = checks.check_latency_agreement(est, 0.5, "only the interface's estimates")
    assert both.status == "fail"
    est.update(blip=301.0, trainer_blips=301.0, xcorr=300.8)
    assert checks.independent_estimates(est) == ["reference", "blip", "xcorr"]


# Honest rows: the reamp file's row judges nothing, unless the trainer would refuse the file.


def test_the_reamp_file_row_is_informational(short_signal: Path) -> None:
    from station.reamp import files as reamp

    row = checks.check_reamp_file(reamp.recognise(short_signal))
    assert (row.status, row.verdict, row.to_json()["passed"]) == ("info", None, None)
    assert row.passed  # it never fails a capture
    assert row.message == "station v3-layout signal: recognised by content (" + (
        reamp.recognise(short_signal).evidence + ")"
    )


def test_a_layout_the_trainer_refuses_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.reamp import files as reamp

    old = tmp_path / "v2.wav"
    sf.write(old, np.zeros(48000), 48000, subtype="PCM_24")
    monkeypatch.setitem(reamp.DEPRECATED_MD5, reamp.md5_of_file(old), "NAM v2.0.0")
    row = checks.check_reamp_file(reamp.recognise(old))
    assert (row.status, row.to_json()["passed"]) == ("warn", True)
    assert "the NAM trainer refuses it" in row.message


def test_the_verdict_shows_the_informational_row(virtual_capture: Path, home: Path) -> None:
    res = station("check", str(virtual_capture), home=home)
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if "reamp_file" in line)
    assert row.lstrip().startswith("[info] reamp_file")
    out = json.loads(station("check", str(virtual_capture), "--json", home=home).stdout)
    assert checks_of(out)["reamp_file"]["passed"] is None
    assert checks_of(out)["reamp_file"]["status"] == "info"
