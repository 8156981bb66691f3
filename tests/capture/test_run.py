"""The capture procedure on the virtual rig: truths, files, refusals, and every check's fault."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.capture.run import CaptureRequest, CaptureResult, run_capture
from station.drivers.base import StreamSpec
from station.errors import SignalError, StationError, Stopped
from station.events import Progress, StopFlag
from station.signal import levels
from station.virtual.gear import DriftingAmp
from station.virtual.physics import FractionalDelay
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile

SPEC = StreamSpec(48000, 1, 1)


TIMING = (2, 2)  # the timing reference: output 2 patched into input 2


def profile_for(rig: VirtualRig, timing: tuple[int, int] | None = TIMING):
    rig.patch = "open"
    return calibrated_profile(rig, "bench", SPEC, timing)


def assert_exact(rig: VirtualRig, res: CaptureResult) -> None:
    """Aligned to the sample: the take's own true latency (its per-stream change included)."""
    truth = rig.streams[-1].latency_samples
    assert res.record["latency"]["latency_samples"] == pytest.approx(truth, abs=0.1)
    assert res.record["latency"]["shift_samples"] == round(res.record["latency"]["latency_samples"])


def capture(
    rig: VirtualRig,
    signal: Path,
    home: Path,
    *,
    dbu: float = 12.0,
    name: str = "take",
    profile=None,
    **kwargs,
) -> CaptureResult:
    prof = profile or profile_for(rig)
    req = CaptureRequest(prof, signal, dbu, name, home / "captures", **kwargs)
    return run_capture(rig.interface, req, confirm=rig.act_on)


def status(result: CaptureResult) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


def test_clean_capture_matches_the_gear_truth(
    rig: VirtualRig, short_signal: Path, home: Path
) -> None:
    rig.use_gear("clean")
    prof = profile_for(rig)
    res = capture(rig, short_signal, home, profile=prof)
    assert res.passed, [c for c in res.checks if c.status not in ("pass", "info")]
    judged = status(res)
    assert judged.pop("reamp_file") == "info"  # says how the file was recognised, judges nothing
    assert all(s == "pass" for s in judged.values())
    folder = res.capture_dir
    assert folder == home / "captures" / "take"
    assert (folder / "input.wav").read_bytes() == short_signal.read_bytes()
    x, _ = sf.read(folder / "input.wav")
    y, sr = sf.read(folder / "output.wav")
    assert (
        sr == 48000 and len(y) == len(x) and sf.info(str(folder / "output.wav")).subtype == "PCM_24"
    )
    # The truth: the same gear fed the same volts, read by the return converter, delayed by
    # what the whole-sample alignment leaves of this take's true latency.
    truth_gear = type(rig.gear)()
    vpk_out = levels.vrms_from_dbu(rig.truth.send_dbu_at_0dbfs) * math.sqrt(2)
    vpk_in = levels.vrms_from_dbu(rig.truth.return_dbu_at_0dbfs) * math.sqrt(2)
    gain = levels.ratio_from_db(12.0 - prof.send_dbu_at_0dbfs)
    left = rig.streams[-1].latency_samples - res.record["latency"]["shift_samples"]
    line = FractionalDelay(left + 1.0)  # one sample more, removed below: a delay is never < 0
    line.push(truth_gear.process(x * gain * vpk_out) / vpk_in)
    line.push(np.zeros(256))
    truth = line.pull(len(x) + 1)[1:]
    assert abs(left) <= 0.5
    seg = slice(816_000, 816_000 + 4 * 48000)
    lags = np.arange(-3, 4)
    corr = [np.dot(np.roll(y, -k)[seg], truth[seg]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0  # aligned to the sample
    level_db = 20 * np.log10(np.sqrt(np.mean(y[seg] ** 2)) / np.sqrt(np.mean(truth[seg] ** 2)))
    assert abs(level_db) < 0.05
    meta = json.loads((folder / "capture.json").read_text())
    assert meta["input_level_dbu"] == 12.0
    assert meta["output_level_dbu"] == pytest.approx(rig.truth.return_dbu_at_0dbfs, abs=0.02)
    assert meta["playback_gain_db"] == pytest.approx(12.0 - prof.send_dbu_at_0dbfs)
    assert meta["latency"]["used"] == "reference"
    assert_exact(rig, res)
    assert set(meta["latency"]["estimates_samples"]) == {
        "loopback",
        "reference",
        "blip",
        "xcorr",
        "trainer_blips",
    }
    timing = meta["latency"]["timing_reference"]
    assert (timing["timing_out"], timing["timing_in"]) == TIMING
    # The change since calibration: this stream's latency minus the calibrated (mean) one.
    assert timing["stream_change_samples"] == pytest.approx(
        rig.streams[-1].latency_samples - prof.latency_samples, abs=0.1
    )
    assert meta["reamp_file"]["md5"] and meta["profile"]["name"] == "bench"
    assert (folder / "report.png").stat().st_size > 10_000
    assert (folder / "recording.wav").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_refuses_a_level_the_send_cannot_reach(
    rig: VirtualRig, short_signal: Path, home: Path
) -> None:
    prof = profile_for(rig)
    with pytest.raises(StationError, match="would clip the send") as exc:
        capture(rig, short_signal, home, dbu=prof.send_dbu_at_0dbfs + 3, profile=prof)
    assert "delivers at most" in exc.value.hint
    most = float(exc.value.hint.split("at most ")[1].split(" dBu")[0])
    peak = -1.0  # the station signal's true peak, about −1 dBFS
    assert most == pytest.approx(prof.send_dbu_at_0dbfs - 0.1 - peak, abs=0.1)
    assert not (home / "captures" / "take").exists()


def test_never_overwrites_without_force(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    prof = profile_for(rig)
    rig.use_gear("clean")
    first = capture(rig, short_signal, home, profile=prof)
    stamp = (first.capture_dir / "capture.json").read_text()
    with pytest.raises(StationError, match="already exists"):
        capture(rig, short_signal, home, profile=prof)
    assert (first.capture_dir / "capture.json").read_text() == stamp
    again = capture(rig, short_signal, home, profile=prof, force=True)
    assert (again.capture_dir / "capture.json").read_text() != stamp
    assert sorted(p.name for p in (home / "captures").iterdir()) == ["take"]


def test_high_gain_inverts_and_passes(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    rig.use_gear("highgain")
    res = capture(rig, short_signal, home)
    assert res.passed and res.record["polarity"] == -1
    assert_exact(rig, res)


def test_noisy_amp_warns_and_fails_replicate(
    rig: VirtualRig, short_signal: Path, home: Path
) -> None:
    rig.use_gear("noisy")
    res = capture(rig, short_signal, home)
    s = status(res)
    assert s["noise_floor"] == "warn" and s["replicate_esr"] == "fail" and not res.passed
    noise = next(c for c in res.checks if c.name == "noise_floor")
    assert noise.value > -60


def test_drifting_amp_fails_replicate_and_reports_drift(
    rig: VirtualRig, short_signal: Path, home: Path
) -> None:
    rig.gear = DriftingAmp(tau_s=8.0, depth=0.4)  # warms up within this short signal
    res = capture(rig, short_signal, home)
    s = status(res)
    assert s["replicate_esr"] == "fail" and s["validation_drift"] == "warn"
    esr = next(c for c in res.checks if c.name == "replicate_esr")
    assert "not warm" in esr.message
    drift = next(c for c in res.checks if c.name == "validation_drift")
    assert drift.value > 0.25  # louder at the end: it warmed up


def test_chorus_fails_replicate(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    rig.use_gear("chorus")
    res = capture(rig, short_signal, home)
    assert status(res)["replicate_esr"] == "fail"


def test_hot_return_clips(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    rig.use_gear("fuzz")
    prof = profile_for(rig)
    rig.gear.level = 40.0  # someone turned the loadbox output way up after calibrating
    res = capture(rig, short_signal, home, profile=prof)
    assert status(res)["return_peak"] == "fail" and not res.passed


def test_dropout_is_caught(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    rig.use_gear("clean")
    prof = profile_for(rig)
    rig.dropout_at_s = 20.5
    res = capture(rig, short_signal, home, profile=prof)
    assert status(res)["dropouts"] == "fail"


def test_gear_not_connected_means_no_blips(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    prof = profile_for(rig)
    rig.auto_patch = False
    rig.patch = "open"
    res = capture(rig, short_signal, home, profile=prof)
    s = status(res)
    assert s["trainer_blips"] == "fail" and not res.passed


def test_latency_change_is_caught_and_aligned_by_blips(
    rig: VirtualRig, short_signal: Path, home: Path
) -> None:
    rig.use_gear("clean")
    prof = profile_for(rig, timing=None)
    rig.truth.latency_samples += 128  # the driver picked a bigger buffer for this stream
    res = capture(rig, short_signal, home, profile=prof)
    s = status(res)
    assert s["latency_agreement"] == "warn"
    assert res.record["latency"]["used"] == "blip"
    assert abs(res.record["latency"]["shift_samples"] - rig.streams[-1].latency_samples) <= 1.5
    assert res.passed


@pytest.mark.parametrize("timing", [TIMING, None], ids=["reference", "no-reference"])
def test_latency_shift_after_calibration(
    rig: VirtualRig, short_signal: Path, home: Path, timing
) -> None:
    # A driver steady while calibrating, then 2.4 samples later for the take's stream.
    rig.use_gear("clean")
    rig.stream_shift_samples = 0.0
    prof = profile_for(rig, timing)
    assert prof.latency_spread_samples < 0.05
    rig.stream_shift_samples = 2.4
    res = capture(rig, short_signal, home, profile=prof)
    lat = res.record["latency"]
    truth = rig.streams[-1].latency_samples
    check = next(c for c in res.checks if c.name == "latency_agreement")
    if timing:
        assert lat["used"] == "reference" and check.status == "pass"
        assert lat["timing_reference"]["stream_change_samples"] == pytest.approx(2.4, abs=0.05)
        assert_exact(rig, res)
    else:
        assert lat["timing_reference"] is None
        assert check.status == "warn" and "timing reference" in check.message
        assert lat["shift_samples"] != round(truth)  # and it is not exact: hence the warning


def test_custom_signal_gets_a_preamble(rig: VirtualRig, home: Path, tmp_path: Path) -> None:
    from station.signal.synth import guitar_material

    path = tmp_path / "riffs.wav"
    x = 0.5 * guitar_material(6.0, 48000, np.random.default_rng(4))
    sf.write(path, x, 48000, subtype="PCM_24")
    rig.use_gear("clean")
    res = capture(rig, path, home)
    s = status(res)
    assert s["trainer_blips"] == "n/a" and s["replicate_esr"] == "n/a" and res.passed
    y, _ = sf.read(res.capture_dir / "output.wav")
    assert len(y) == len(x)
    assert_exact(rig, res)


def test_stop_mid_take_leaves_nothing(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    prof = profile_for(rig)
    stop = StopFlag()

    def emit(event: object) -> None:
        if isinstance(event, Progress) and event.fraction and event.fraction > 0.3:
            stop.set()

    req = CaptureRequest(prof, short_signal, 12.0, "halted", home / "captures")
    with pytest.raises(Stopped):
        run_capture(rig.interface, req, confirm=rig.act_on, emit=emit, stop=stop)
    assert list((home / "captures").iterdir()) == []


def test_sample_rate_mismatch(rig: VirtualRig, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "cd.wav"
    sf.write(path, np.zeros(44100), 44100)
    with pytest.raises(SignalError, match="44100"):
        capture(rig, path, home)


def test_spoilt_take_is_retaken_whole(rig: VirtualRig, short_signal: Path, home: Path) -> None:
    from station.errors import StreamError

    prof = profile_for(rig)
    rig.use_gear("clean")
    real_run = rig.interface.run
    calls = {"n": 0}

    def glitch_once(spec, source, sink, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first is the noise measurement; spoil the first take
            real_run(spec, source, sink, **kwargs)
            raise StreamError("the take failed: input overflow")
        return real_run(spec, source, sink, **kwargs)

    rig.interface.run = glitch_once  # type: ignore[method-assign]
    res = capture(rig, short_signal, home, profile=prof, retakes=1)
    assert res.passed and res.record["spoilt_takes"] == ["the take failed: input overflow"]
    assert [p.name for p in (home / "captures").iterdir()] == ["take"]
    calls["n"] = 0  # spoil the next take, with no retakes allowed
    with pytest.raises(StreamError):
        capture(rig, short_signal, home, profile=prof, name="again")
    assert not (home / "captures" / "again").exists()
