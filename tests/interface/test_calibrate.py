"""The calibration procedure on the virtual rig, asserted against the rig's own truths."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from station.drivers.base import StreamSpec
from station.drivers.meter import DEFAULT_ACCURACY, ManualMeter, MeterAccuracy
from station.errors import DeviceError, SignalError, Stopped
from station.events import Prompt, StopFlag, Warning_
from station.interface.calibrate import (
    LATENCY_STREAMS,
    CalibrationSettings,
    calibrate,
    measure_send,
)
from station.interface.setup import choose_meter_accuracy
from station.settings import meter_accuracy_of, meter_accuracy_setting
from station.signal.levels import vrms_from_dbu
from station.virtual.rig import VirtualRig, random_rig

SPEC = StreamSpec(48000, 1, 1)


def run(rig: VirtualRig, **kwargs):
    return calibrate(
        rig.interface,
        kwargs.pop("meter", rig.meter),
        kwargs.pop("settings", CalibrationSettings(SPEC)),
        confirm=rig.act_on,
        **kwargs,
    )


def latency_stream_truths(rig: VirtualRig) -> list[float]:
    """The true round trip of each of calibration's latency streams (the last but one)."""
    return [s.latency_samples for s in rig.streams[-1 - LATENCY_STREAMS : -1]]


def assert_truths(rig: VirtualRig, r, tone_hz: float = 1000.0) -> None:
    """Levels against the rig's truth at the tone (its converters' filters included), latency
    against each stream's own truth; the meter's 20 kHz roll-off costs 0.011 dB at 1 kHz."""
    assert r.send_dbu_at_0dbfs == pytest.approx(rig.true_send_dbu(tone_hz), abs=0.02)
    assert r.return_dbu_at_0dbfs == pytest.approx(rig.true_return_dbu(tone_hz), abs=0.02)
    truths = latency_stream_truths(rig)
    assert r.latency_takes_samples == pytest.approx(truths, abs=0.1)
    assert r.latency_samples == pytest.approx(np.mean(truths), abs=0.1)
    assert r.latency_spread_samples == pytest.approx(max(truths) - min(truths), abs=0.1)


def test_measures_the_rig_truths(rig: VirtualRig) -> None:
    r = run(rig)
    assert_truths(rig, r)
    assert r.return_noise_floor_dbfs == pytest.approx(rig.truth.noise_dbfs, abs=1.0)
    assert -7.5 < r.loop_return_dbfs < -4.5
    assert r.latency_polarity == 1
    assert r.timing_out is None and r.timing_reference_delay_samples is None


@pytest.mark.parametrize("seed", range(6))
def test_random_rigs(seed: int) -> None:
    rig = random_rig(np.random.default_rng(seed), speed=None, meter_digits=9)
    assert_truths(rig, run(rig))


def test_a_driver_that_moves_per_stream_is_reported(rig: VirtualRig) -> None:
    warnings: list[str] = []
    rig.truth.stream_shift_whole = True  # whole-sample moves: some streams surely differ
    r = run(rig, emit=lambda e: warnings.append(e.text) if isinstance(e, Warning_) else None)
    assert len(r.latency_takes_samples) >= 3
    assert r.latency_spread_samples > 0.25
    assert any("timing reference" in w and "per stream" in w for w in warnings)
    steady = VirtualRig(truth=rig.truth, speed=None, meter_digits=9, stream_shift_samples=0.7)
    warnings.clear()
    r = run(steady, emit=lambda e: warnings.append(e.text) if isinstance(e, Warning_) else None)
    assert r.latency_spread_samples < 0.05 and not warnings


def test_timing_reference_is_calibrated_in_the_same_streams(rig: VirtualRig) -> None:
    rig.truth.timing_offset_samples = 1.3  # the timing pair's own round trip differs a little
    r = run(rig, settings=CalibrationSettings(SPEC, timing_out=3, timing_in=4))
    assert r.timing_out == 3 and r.timing_in == 4
    streams = rig.streams[-1 - LATENCY_STREAMS : -1]
    assert all(s.sends == (1, 3) and s.returns == (1, 4) for s in streams)
    assert r.timing_reference_delay_samples == pytest.approx(
        np.mean([s.timing_latency_samples for s in streams]), abs=0.1
    )
    assert_truths(rig, r)


def test_unpatched_timing_reference_says_so(rig: VirtualRig) -> None:
    rig.timing_patched = False
    with pytest.raises(SignalError, match="marker did not come back") as exc:
        run(rig, settings=CalibrationSettings(SPEC, timing_out=2, timing_in=2))
    assert "patch the timing output" in exc.value.hint


@pytest.mark.parametrize(
    ("timing_out", "timing_in", "message"),
    [(1, 2, "must not use the send"), (2, 1, "must not use the send"), (2, None, "both")],
)
def test_bad_timing_pairs(rig: VirtualRig, timing_out, timing_in, message: str) -> None:
    from station.errors import StationError

    with pytest.raises(StationError, match=message):
        run(rig, settings=CalibrationSettings(SPEC, timing_out=timing_out, timing_in=timing_in))


def test_typed_reading_of_the_truth(rig: VirtualRig) -> None:
    from station.signal.levels import vrms_from_dbu

    truth_vrms = vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12.0)
    meter = ManualMeter(lambda _p, _e: f"{truth_vrms * 1000:.3f} mV")
    r = run(rig, meter=meter)
    assert r.send_dbu_at_0dbfs == pytest.approx(rig.truth.send_dbu_at_0dbfs, abs=0.02)
    assert r.return_dbu_at_0dbfs == pytest.approx(
        rig.true_return_dbu(1000.0) + rig.truth.send_dbu_at_0dbfs - rig.true_send_dbu(1000.0),
        abs=0.02,
    )
    assert r.meter.source == "manual"


def test_other_tone_frequency_and_level(rig: VirtualRig) -> None:
    r = run(rig, settings=CalibrationSettings(SPEC, tone_hz=400.0, tone_dbfs=-20.0))
    assert_truths(rig, r, tone_hz=400.0)
    assert r.tone_hz == 400.0


def test_meter_bandwidth_is_why_the_tone_is_a_setting(rig: VirtualRig) -> None:
    # A handheld meter rolling off at 400 Hz reads a 1 kHz tone low; a 100 Hz tone is fine.
    rig.meter_bandwidth_hz = 400.0
    low = run(rig, settings=CalibrationSettings(SPEC, tone_hz=1000.0))
    assert low.send_dbu_at_0dbfs < rig.true_send_dbu(1000.0) - 3.0
    ok = run(rig, settings=CalibrationSettings(SPEC, tone_hz=100.0))
    assert ok.send_dbu_at_0dbfs == pytest.approx(rig.true_send_dbu(100.0), abs=0.3)


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
    assert r.latency_samples == pytest.approx(np.mean(latency_stream_truths(rig)), abs=0.1)


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
    from station.interface.takes import take

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


@pytest.mark.parametrize(
    ("accuracy", "digits"),
    [(DEFAULT_ACCURACY, 4), (MeterAccuracy(1.0, 3.0), 3), (MeterAccuracy(0.3, 5.0), 5)],  # X
)
def test_a_typed_reading_s_two_sigma_covers_the_truth(accuracy: MeterAccuracy, digits: int) -> None:
    """Thirty random rigs, each read by a handheld whose actual error is drawn from its stated
    accuracy (a 95 % bound) and typed as its display shows it: the send level's ±2σ holds the
    rig's truth for about 95 % of them, and the σ is not blown up to get there."""
    rng = np.random.default_rng(21)
    inside, within_half = [], []
    for _ in range(30):
        rig = random_rig(rng, speed=None, meter_digits=digits, meter_bandwidth_hz=20_000.0)
        vrms = vrms_from_dbu(rig.truth.send_dbu_at_0dbfs - 12.0)
        count = 10.0 ** (math.floor(math.log10(vrms)) - digits + 1)  # the display's last digit
        bound = accuracy.percent / 100.0 * vrms + accuracy.counts * count
        rig.meter_gain_error = float(rng.normal(0.0, bound / 2.0 / vrms))
        meter = ManualMeter(lambda _p, _e, rig=rig: rig.meter_display(), accuracy=accuracy)
        send_dbu, sigma_db, _reading = measure_send(rig.interface, meter, CalibrationSettings(SPEC))
        error_db = abs(send_dbu - rig.true_send_dbu(1000.0))
        inside.append(error_db <= 2 * sigma_db)
        within_half.append(error_db <= 0.5 * sigma_db)
    assert sum(inside) >= 27, sum(inside)  # at least 90 % of 30
    assert sum(within_half) <= 20, sum(within_half)  # a normal error is inside ½σ 38 % of times


@pytest.mark.parametrize(
    "kept",
    [{"percent": "lots", "counts": 2}, {"percent": -1.0, "counts": 2}, {"counts": 2}, "0.5 % + 2"],
)
def test_a_damaged_kept_accuracy_is_asked_again(kept: object) -> None:
    assert meter_accuracy_of({"meter_accuracy": kept}) is None
    asked = choose_meter_accuracy(None, meter_accuracy_of({"meter_accuracy": kept}), lambda *_: "")
    assert asked == DEFAULT_ACCURACY and asked.assumed
    stated = MeterAccuracy(0.8, 5.0)
    assert meter_accuracy_of({"meter_accuracy": meter_accuracy_setting(stated)}) == stated
