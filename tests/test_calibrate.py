"""The calibration procedure on the virtual rig, asserted against the rig's own truths."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from station.calibrate import CalibrationSettings, calibrate
from station.drivers.base import StreamSpec
from station.drivers.meter import ManualMeter
from station.drivers.virtual import VirtualRig, random_rig
from station.errors import DeviceError, SignalError, Stopped
from station.events import Prompt, StopFlag, Warning_

SPEC = StreamSpec(48000, 1, 1)


def run(rig: VirtualRig, **kwargs):
    return calibrate(
        rig.interface,
        kwargs.pop("meter", rig.meter),
        kwargs.pop("settings", CalibrationSettings(SPEC)),
        confirm=rig.act_on,
        **kwargs,
    )


def test_measures_the_rig_truths(rig: VirtualRig) -> None:
    r = run(rig)
    t = rig.truth
    assert r.send_dbu_at_0dbfs == pytest.approx(t.send_dbu_at_0dbfs, abs=0.02)
    assert r.return_dbu_at_0dbfs == pytest.approx(t.return_dbu_at_0dbfs, abs=0.02)
    assert r.latency_samples == pytest.approx(t.latency_samples, abs=0.1)
    assert r.return_noise_floor_dbfs == pytest.approx(t.noise_dbfs, abs=1.0)
    assert -7.5 < r.loop_return_dbfs < -4.5
    assert r.latency_polarity == 1


@pytest.mark.parametrize("seed", range(6))
def test_random_rigs(seed: int) -> None:
    rig = random_rig(np.random.default_rng(seed), speed=None, meter_digits=9)
    r = run(rig)
    assert r.send_dbu_at_0dbfs == pytest.approx(rig.truth.send_dbu_at_0dbfs, abs=0.02)
    assert r.return_dbu_at_0dbfs == pytest.approx(rig.truth.return_dbu_at_0dbfs, abs=0.02)
    assert r.latency_samples == pytest.approx(rig.truth.latency_samples, abs=0.1)


def test_typed_reading_of_the_truth(rig: VirtualRig) -> None:
    from station.levels import vrms_from_dbu

    truth_vrms = vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12.0)
    meter = ManualMeter(lambda _p, _e: f"{truth_vrms * 1000:.3f} mV")
    r = run(rig, meter=meter)
    assert r.send_dbu_at_0dbfs == pytest.approx(rig.truth.send_dbu_at_0dbfs, abs=0.02)
    assert r.return_dbu_at_0dbfs == pytest.approx(rig.truth.return_dbu_at_0dbfs, abs=0.02)
    assert r.meter.source == "manual"


def test_other_tone_frequency_and_level(rig: VirtualRig) -> None:
    r = run(rig, settings=CalibrationSettings(SPEC, tone_hz=400.0, tone_dbfs=-20.0))
    assert r.send_dbu_at_0dbfs == pytest.approx(rig.truth.send_dbu_at_0dbfs, abs=0.02)
    assert r.tone_hz == 400.0


def test_meter_bandwidth_is_why_the_tone_is_a_setting(rig: VirtualRig) -> None:
    # A handheld meter rolling off at 400 Hz reads a 1 kHz tone low; a 100 Hz tone is fine.
    rig.meter_bandwidth_hz = 400.0
    low = run(rig, settings=CalibrationSettings(SPEC, tone_hz=1000.0))
    assert low.send_dbu_at_0dbfs < rig.truth.send_dbu_at_0dbfs - 3.0
    ok = run(rig, settings=CalibrationSettings(SPEC, tone_hz=100.0))
    assert ok.send_dbu_at_0dbfs == pytest.approx(rig.truth.send_dbu_at_0dbfs, abs=0.3)


def test_nothing_patched_says_so(rig: VirtualRig) -> None:
    rig.auto_patch = False  # the user pressed Enter without patching
    with pytest.raises(SignalError, match="no signal is coming back") as exc:
        run(rig)
    assert "patched" in exc.value.hint


def test_return_clipping_at_lowest_level(rig: VirtualRig) -> None:
    rig.truth.return_dbu_at_0dbfs = -60.0  # a return so hot even −70 dBFS clips
    with pytest.raises(SignalError, match="clips even"):
        run(rig)


def test_inverted_loopback_is_reported(rig: VirtualRig) -> None:
    class Inverting:
        def process(self, volts: np.ndarray) -> np.ndarray:
            return -volts

    rig.gear = Inverting()
    warnings: list[str] = []

    def confirm(prompt: Prompt) -> None:
        rig.patch = "gear"  # the "cable" is the inverting gear

    r = calibrate(
        rig.interface,
        rig.meter,
        CalibrationSettings(SPEC),
        confirm=confirm,
        emit=lambda e: warnings.append(e.text) if isinstance(e, Warning_) else None,
    )
    assert r.latency_polarity == -1
    assert any("polarity" in w for w in warnings)
    assert r.latency_samples == pytest.approx(rig.truth.latency_samples, abs=0.1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (StreamSpec(48000, 9, 1), "send channel 9"),
        (StreamSpec(48000, 1, 0), "return channel 0"),
        (StreamSpec(22050, 1, 1), "22050 Hz"),
    ],
)
def test_bad_stream_settings(rig: VirtualRig, spec: StreamSpec, message: str) -> None:
    with pytest.raises(DeviceError, match=message):
        run(rig, settings=CalibrationSettings(spec))


def test_stop_while_waiting_for_the_meter_stops_the_tone(rig: VirtualRig) -> None:
    rig.speed = 5.0
    stop = StopFlag()

    def ask(_prompt: str, _error: str | None) -> str:
        stop.set()
        raise Stopped()

    before = threading.active_count()
    with pytest.raises(Stopped):
        run(rig, meter=ManualMeter(ask), stop=stop)
    assert not any(t.name == "station-stream" for t in threading.enumerate())
    assert threading.active_count() <= before
    # The tone faded out: the probe's newest samples are silent.
    assert rig.probe.true_rms(0.005) < 1e-6


def test_a_spoilt_take_is_taken_again_then_fails(rig: VirtualRig) -> None:
    from station.errors import StreamError
    from station.takes import take

    real_run = rig.interface.run
    failures = {"left": 2}

    def flaky_run(*args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise StreamError("the take failed: input overflow")
        return real_run(*args, **kwargs)

    rig.interface.run = flaky_run  # type: ignore[method-assign]
    warnings: list[object] = []
    rec = take(rig.interface, SPEC, np.zeros(4800), tail_s=0.0, emit=warnings.append)
    assert len(rec) >= 4800 and len(warnings) == 2
    failures["left"] = 3
    with pytest.raises(StreamError, match="overflow"):
        take(rig.interface, SPEC, np.zeros(4800), tail_s=0.0)
