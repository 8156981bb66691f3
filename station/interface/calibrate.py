"""The interface calibration procedure: send level (tone + meter), return level and latency.

docs/design.md §2: S = dBu(V) − T from a tone at T dBFS and a voltmeter reading; with the
send patched into the return, R = S + Δ − L from a tone at Δ that reads L.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ..drivers.base import AudioInterface, MeterReading, StreamSpec, Voltmeter
from ..errors import SignalError, StationError, Stopped
from ..events import (
    Confirm,
    Emit,
    Instruction,
    Progress,
    Prompt,
    Result,
    Step,
    StopFlag,
    Warning_,
    confirm_all,
    ignore,
)
from ..phrases import Phrase
from ..signal import analysis, latency, levels, stimuli
from .profiles import Profile
from .takes import BackgroundStream, take

"""Waits until the user has done what the prompt asks; raises Stopped to abandon."""

TARGET_RETURN_DBFS = -6.0
LOWEST_TONE_DBFS = -70.0
HIGHEST_TONE_DBFS = -1.0
START_TONE_DBFS = -50.0
CLIP_SAMPLE = 0.999  # a float return this close to full scale has clipped
MIN_SNR_DB = 30.0  # below this, the "tone" is noise: nothing is patched
SETTLE_S = 0.7  # tone time before a meter reading counts
LATENCY_STREAMS = 3  # the latency is measured in this many separate streams
SPREAD_WARN_SAMPLES = latency.SPREAD_WARN_SAMPLES


@dataclass(frozen=True)
class CalibrationSettings:
    """What the user chose for a calibration run."""

    spec: StreamSpec
    tone_hz: float = 1000.0
    tone_dbfs: float = -12.0
    timing_out: int | None = None  # a timing reference: this output, patched for good
    timing_in: int | None = None  # into this input

    def timing_spec(self) -> StreamSpec | None:
        """The stream with the timing pair added, or None without a timing reference."""
        if self.timing_out is None and self.timing_in is None:
            return None
        if self.timing_out is None or self.timing_in is None:
            raise StationError(
                "a timing reference needs both an output and an input",
                Phrase("give {timing_pair}"),
            )
        if self.timing_out == self.spec.send_channel or self.timing_in == self.spec.return_channel:
            raise StationError(
                f"the timing reference (output {self.timing_out} → input {self.timing_in}) must "
                f"not use the send {self.spec.send_channel} or the return "
                f"{self.spec.return_channel}",
                "use a spare output and a spare input, patched straight into each other",
            )
        return replace(self.spec, extra_sends=(self.timing_out,), extra_returns=(self.timing_in,))


@dataclass(frozen=True)
class LatencyMeasurement:
    """The round trip over several streams, and the timing reference's delay in the same ones."""

    latency_samples: float  # mean over the streams
    spread_samples: float  # largest minus smallest: how much the driver moves per stream
    takes_samples: tuple[float, ...]
    polarity: int
    reference_delay_samples: float | None = None  # mean timing-loop delay, same streams
    reference_tracking_samples: float | None = None  # spread of (latency − reference delay)


@dataclass(frozen=True)
class CalibrationResult:
    """Everything a calibration measured; the profile is built from it."""

    send_dbu_at_0dbfs: float
    send_uncertainty_db: float
    return_dbu_at_0dbfs: float
    return_uncertainty_db: float
    latency_samples: float
    latency_uncertainty_samples: float
    latency_polarity: int
    latency_spread_samples: float
    latency_takes_samples: tuple[float, ...]
    timing_out: int | None
    timing_in: int | None
    timing_reference_delay_samples: float | None
    timing_marker_dbfs: float | None
    loop_tone_dbfs: float
    loop_return_dbfs: float
    return_noise_floor_dbfs: float
    meter: MeterReading
    tone_hz: float
    tone_dbfs: float


def _check_stop(stop: StopFlag | None) -> None:
    if stop is not None and stop.is_set():
        raise Stopped()


def measure_send(
    interface: AudioInterface,
    meter: Voltmeter,
    settings: CalibrationSettings,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> tuple[float, float, MeterReading]:
    """Play a steady tone and read the meter: returns (S dBu, its uncertainty dB, reading)."""
    spec = settings.spec
    if not -40.0 <= settings.tone_dbfs <= -1.0:
        raise StationError(
            f"a {settings.tone_dbfs:g} dBFS tone leaves no headroom"
            if settings.tone_dbfs > -1.0
            else f"a tone at {settings.tone_dbfs:g} dBFS is outside -40…-1 dBFS",
            "use a tone level between -40 and -1 dBFS (default -12)",
        )
    if not 20.0 <= settings.tone_hz <= 0.45 * spec.samplerate:
        raise StationError(
            f"{settings.tone_hz:g} Hz is outside the usable tone range",
            f"use 20 Hz to {0.45 * spec.samplerate:.0f} Hz (NAM defines 1000 Hz)",
        )
    emit(
        Step(
            "send",
            f"Send: {settings.tone_hz:g} Hz at {settings.tone_dbfs:g} dBFS on output "
            f"{spec.send_channel}",
        )
    )
    gen = stimuli.ToneGenerator(settings.tone_hz, settings.tone_dbfs, spec.samplerate)
    stream = BackgroundStream(interface, spec, gen).start()
    try:
        settle = int(SETTLE_S * spec.samplerate)
        deadline = time.monotonic() + 10.0
        while gen.frames_played < settle:
            stream.check()
            _check_stop(stop)
            if not stream.alive or time.monotonic() > deadline:
                stream.check()
                raise StationError("the tone did not start", "check the interface")
            time.sleep(0.01)
        emit(
            Instruction(
                "Measure the RMS voltage (AC volts) at the cable end that plugs into "
                "the gear's input, with the gear unplugged."
            )
        )
        reading = meter.read_vrms()
        stream.check()
    finally:
        gen.request_stop()
        stream.join(timeout_s=2.0)
    send_dbu = levels.send_dbu_at_0dbfs(reading.vrms, settings.tone_dbfs)
    unc_db = 20.0 * math.log10(1.0 + reading.uncertainty_vrms / reading.vrms)
    emit(Result("send_dbu_at_0dbfs", send_dbu, "dBu", unc_db))
    return send_dbu, unc_db, reading


def _tone_take(
    interface: AudioInterface,
    spec: StreamSpec,
    freq_hz: float,
    level_dbfs: float,
    duration_s: float,
    stop: StopFlag | None,
    emit: Emit = ignore,
) -> np.ndarray:
    x = stimuli.tone(freq_hz, level_dbfs, duration_s, spec.samplerate)
    return take(interface, spec, x, tail_s=0.3, stop=stop, emit=emit)


def find_loop_level(
    interface: AudioInterface,
    spec: StreamSpec,
    freq_hz: float,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> tuple[float, float]:
    """Step a tone up from low until the return reads near −6 dBFS, never clipping.

    Returns (tone dBFS, return dBFS) of the last good take. Raises SignalError
    when the return clips even at the lowest level or nothing comes back.
    """
    sr = spec.samplerate
    tone_dbfs = START_TONE_DBFS
    best: tuple[float, float] | None = None
    for attempt in range(10):
        _check_stop(stop)
        rec = _tone_take(interface, spec, freq_hz, tone_dbfs, 0.6, stop, emit)
        clipped = analysis.peak_abs(rec) >= CLIP_SAMPLE
        fit = analysis.fit_sine(rec[int(0.25 * sr) : int(0.55 * sr)], sr, freq_hz)
        snr_db = fit.level_dbfs - fit.residual_dbfs
        emit(
            Progress(
                None,
                f"level search {attempt + 1}: tone {tone_dbfs:.1f} dBFS → return "
                + ("CLIPPED" if clipped else f"{fit.level_dbfs:.1f} dBFS"),
            )
        )
        if clipped:
            if tone_dbfs <= LOWEST_TONE_DBFS:
                raise SignalError(
                    f"the return clips even with the tone at {tone_dbfs:g} dBFS",
                    "turn the return input's gain down (or engage its pad) and calibrate again",
                )
            tone_dbfs = max(LOWEST_TONE_DBFS, tone_dbfs - 20.0)
            continue
        if snr_db < MIN_SNR_DB:
            if tone_dbfs >= HIGHEST_TONE_DBFS:
                raise SignalError(
                    f"no signal is coming back on input {spec.return_channel} "
                    f"(tone at {tone_dbfs:g} dBFS, return {fit.level_dbfs:.1f} dBFS, "
                    f"{snr_db:.0f} dB above the noise)",
                    f"is the cable patched from output {spec.send_channel} to input "
                    f"{spec.return_channel}? Is the input's gain turned up from zero?",
                )
            tone_dbfs = min(HIGHEST_TONE_DBFS, tone_dbfs + 20.0)
            continue
        best = (tone_dbfs, fit.level_dbfs)
        step = TARGET_RETURN_DBFS - fit.level_dbfs
        if abs(step) < 1.5 or (step > 0 and tone_dbfs >= HIGHEST_TONE_DBFS):
            return best
        tone_dbfs = float(np.clip(tone_dbfs + min(step, 20.0), LOWEST_TONE_DBFS, HIGHEST_TONE_DBFS))
    if best is None:
        raise SignalError("could not find a usable loopback level", "check the patch and gains")
    return best


def measure_latency(
    interface: AudioInterface,
    spec: StreamSpec,
    level_dbfs: float,
    *,
    takes: int = LATENCY_STREAMS,
    timing: StreamSpec | None = None,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> LatencyMeasurement:
    """Round-trip latency from a sweep in each of `takes` streams, and its spread across them.

    With `timing` (the stream plus a timing pair), every stream also plays the
    timing marker on the timing output, so each stream's latency is paired with
    the timing reference's delay in the same stream.
    """
    sr = spec.samplerate
    sweep = stimuli.log_sweep(20.0, min(20000.0, 0.45 * sr), 1.0, sr, level_dbfs)
    marker = stimuli.timing_marker(sr, level_dbfs)
    values: list[float] = []
    refs: list[float] = []
    polarity = 1
    for k in range(takes):
        _check_stop(stop)
        emit(Progress((k + 1) / takes, f"latency sweep {k + 1} of {takes} (a stream each)"))
        if timing is None:
            rec = take(interface, spec, sweep, tail_s=0.5, stop=stop, emit=emit)
        else:
            both = np.zeros((len(sweep), 2))
            both[:, 0] = sweep
            both[: len(marker), 1] = marker
            rec2 = take(interface, timing, both, tail_s=0.5, stop=stop, emit=emit)
            rec = rec2[:, 0]
            if analysis.peak_abs(rec2[:, 1]) >= CLIP_SAMPLE:
                raise SignalError(
                    f"the timing input {timing.extra_returns[0]} clips",
                    "turn the timing input's gain down to where the return's is",
                )
            refs.append(latency.reference_delay(marker, rec2[:, 1], sr))
        est = analysis.estimate_delay(sweep, rec, sr, band_hz=(200.0, min(16000.0, 0.35 * sr)))
        values.append(est.delay_samples)
        polarity = polarity if k else est.polarity
    spread = max(values) - min(values)
    tracking = None
    if refs:
        offsets = [v - r for v, r in zip(values, refs, strict=True)]
        tracking = max(offsets) - min(offsets)
    listing = ", ".join(f"{v:.2f}" for v in values)
    if spread > SPREAD_WARN_SAMPLES:
        emit(
            Warning_(
                f"the latency moved by {spread:.2f} samples across {takes} streams ({listing}): "
                "this driver shifts its latency per stream; "
                + (
                    Phrase("the timing reference corrects every capture for it")
                    if refs
                    else Phrase("calibrate with {timing_pair} so captures align exactly")
                )
            )
        )
    if tracking is not None and tracking > SPREAD_WARN_SAMPLES:
        emit(
            Warning_(
                f"the timing reference does not follow the send/return: their difference moved "
                f"by {tracking:.2f} samples across streams; are both pairs on this interface?"
            )
        )
    return LatencyMeasurement(
        float(np.mean(values)),
        spread,
        tuple(values),
        polarity,
        float(np.mean(refs)) if refs else None,
        tracking,
    )


def measure_return(
    interface: AudioInterface,
    spec: StreamSpec,
    freq_hz: float,
    tone_dbfs: float,
    latency_samples: float,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> analysis.SineFit:
    """Sine-fit the return of a 1 s tone, over the part that is steady at the input."""
    sr = spec.samplerate
    rec = _tone_take(interface, spec, freq_hz, tone_dbfs, 1.0, stop, emit)
    start = int(latency_samples) + int(0.05 * sr)
    return analysis.fit_sine(rec[start : start + int(0.9 * sr)], sr, freq_hz)


def measure_noise_floor(
    interface: AudioInterface,
    spec: StreamSpec,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> float:
    """RMS level of the return with the send silent, on the dBFS-peak scale."""
    silence = np.zeros(int(0.5 * spec.samplerate))
    rec = take(interface, spec, silence, tail_s=0.0, stop=stop, emit=emit)
    return analysis.rms_dbfs(rec[int(0.1 * spec.samplerate) :])


def calibrate(
    interface: AudioInterface,
    meter: Voltmeter,
    settings: CalibrationSettings,
    *,
    emit: Emit = ignore,
    confirm: Confirm = confirm_all,
    stop: StopFlag | None = None,
) -> CalibrationResult:
    """Run the send step, then the loopback step; every stream is closed on any exit."""
    spec = settings.spec
    timing = settings.timing_spec()
    interface.validate(timing or spec)
    send_dbu, send_unc, reading = measure_send(interface, meter, settings, emit=emit, stop=stop)

    emit(Step("loopback", "Loopback: return level, latency and noise floor"))
    timing_note = (
        f" Patch output {settings.timing_out} into input {settings.timing_in} too, as the "
        "timing reference, and leave it patched for every capture."
        if timing is not None
        else ""
    )
    confirm(
        Prompt(
            "patch_loopback",
            f"Patch output {spec.send_channel} straight into input {spec.return_channel} "
            "(no gear in between), set the input gain where you will capture, then press Enter."
            + timing_note,
        )
    )
    noise_dbfs = measure_noise_floor(interface, spec, emit=emit, stop=stop)
    loop_tone, _rough = find_loop_level(interface, spec, settings.tone_hz, emit=emit, stop=stop)
    lat = measure_latency(interface, spec, loop_tone, timing=timing, emit=emit, stop=stop)
    latency_value, polarity = lat.latency_samples, lat.polarity
    # How far one stream's alignment can be off: half the spread without a reference; with
    # one, half of what the reference does not follow.
    latency_unc = (
        lat.spread_samples
        if lat.reference_tracking_samples is None
        else lat.reference_tracking_samples
    ) / 2.0
    if polarity < 0:
        emit(Warning_("the loopback inverts polarity: check the cable's wiring (pins 2 and 3)"))
    fit = measure_return(
        interface, spec, settings.tone_hz, loop_tone, latency_value, emit=emit, stop=stop
    )
    return_dbu = levels.return_dbu_at_0dbfs(send_dbu, loop_tone, fit.level_dbfs)
    return_unc = math.hypot(send_unc, fit.uncertainty_db)
    emit(Result("return_dbu_at_0dbfs", return_dbu, "dBu", return_unc))
    emit(Result("latency_samples", latency_value, "samples", latency_unc))
    emit(Result("latency_spread_samples", lat.spread_samples, "samples"))
    if lat.reference_delay_samples is not None:
        emit(Result("timing_reference_delay_samples", lat.reference_delay_samples, "samples"))
    emit(Result("return_noise_floor_dbfs", noise_dbfs, "dBFS"))
    return CalibrationResult(
        send_dbu_at_0dbfs=send_dbu,
        send_uncertainty_db=send_unc,
        return_dbu_at_0dbfs=return_dbu,
        return_uncertainty_db=return_unc,
        latency_samples=latency_value,
        latency_uncertainty_samples=latency_unc,
        latency_polarity=polarity,
        latency_spread_samples=lat.spread_samples,
        latency_takes_samples=lat.takes_samples,
        timing_out=settings.timing_out if timing is not None else None,
        timing_in=settings.timing_in if timing is not None else None,
        timing_reference_delay_samples=lat.reference_delay_samples,
        timing_marker_dbfs=loop_tone if timing is not None else None,
        loop_tone_dbfs=loop_tone,
        loop_return_dbfs=fit.level_dbfs,
        return_noise_floor_dbfs=noise_dbfs,
        meter=reading,
        tone_hz=settings.tone_hz,
        tone_dbfs=settings.tone_dbfs,
    )


def to_profile(
    name: str,
    interface: AudioInterface,
    spec: StreamSpec,
    result: CalibrationResult,
    gain_note: str = "",
) -> Profile:
    """The profile a calibration result makes for `interface` and its channels."""
    return Profile(
        name=name,
        device_name=interface.name,
        host_api=interface.host_api,
        samplerate=spec.samplerate,
        blocksize=spec.blocksize,
        send_channel=spec.send_channel,
        return_channel=spec.return_channel,
        send_dbu_at_0dbfs=result.send_dbu_at_0dbfs,
        send_uncertainty_db=result.send_uncertainty_db,
        return_dbu_at_0dbfs=result.return_dbu_at_0dbfs,
        return_uncertainty_db=result.return_uncertainty_db,
        latency_samples=result.latency_samples,
        latency_uncertainty_samples=result.latency_uncertainty_samples,
        latency_polarity=result.latency_polarity,
        latency_spread_samples=result.latency_spread_samples,
        timing_out=result.timing_out or 0,
        timing_in=result.timing_in or 0,
        timing_reference_delay_samples=result.timing_reference_delay_samples or 0.0,
        timing_marker_dbfs=result.timing_marker_dbfs or 0.0,
        tone_hz=result.tone_hz,
        tone_dbfs=result.tone_dbfs,
        loop_tone_dbfs=result.loop_tone_dbfs,
        loop_return_dbfs=result.loop_return_dbfs,
        meter=result.meter.source,
        meter_reading_vrms=result.meter.vrms,
        meter_raw=result.meter.raw,
        return_noise_floor_dbfs=result.return_noise_floor_dbfs,
        gain_note=gain_note,
    )
