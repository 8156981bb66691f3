"""The interface calibration procedure: send level (tone + meter), return level and latency.

DESIGN §2: S = dBu(V) − T from a tone at T dBFS and a voltmeter reading; with the
send patched into the return, R = S + Δ − L from a tone at Δ that reads L.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import analysis, levels, signals
from .drivers.base import AudioInterface, MeterReading, StreamSpec, Voltmeter
from .errors import SignalError, StationError, Stopped
from .events import Emit, Instruction, Progress, Prompt, Result, Step, StopFlag, Warning_, ignore
from .profiles import Profile
from .takes import BackgroundStream, take

Confirm = Callable[[Prompt], None]
"""Waits until the user has done what the prompt asks; raises Stopped to abandon."""

TARGET_RETURN_DBFS = -6.0
LOWEST_TONE_DBFS = -70.0
HIGHEST_TONE_DBFS = -1.0
START_TONE_DBFS = -50.0
CLIP_SAMPLE = 0.999  # a float return this close to full scale has clipped
MIN_SNR_DB = 30.0  # below this, the "tone" is noise: nothing is patched
SETTLE_S = 0.7  # tone time before a meter reading counts
LATENCY_AGREEMENT = 0.5  # two latency takes further apart than this are reported


@dataclass(frozen=True)
class CalibrationSettings:
    """What the user chose for a calibration run."""

    spec: StreamSpec
    tone_hz: float = 1000.0
    tone_dbfs: float = -12.0


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
    loop_tone_dbfs: float
    loop_return_dbfs: float
    return_noise_floor_dbfs: float
    meter: MeterReading
    tone_hz: float
    tone_dbfs: float


def _confirm_all(_prompt: Prompt) -> None:
    """Confirm every prompt at once (the `--yes` behaviour)."""


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
    gen = signals.ToneGenerator(settings.tone_hz, settings.tone_dbfs, spec.samplerate)
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
    x = signals.tone(freq_hz, level_dbfs, duration_s, spec.samplerate)
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
    takes: int = 2,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> tuple[float, float, int]:
    """Round-trip latency from sweeps: (samples, half the spread of the takes, polarity)."""
    sr = spec.samplerate
    sweep = signals.log_sweep(20.0, min(20000.0, 0.45 * sr), 1.0, sr, level_dbfs)
    estimates: list[analysis.DelayEstimate] = []
    for k in range(takes):
        _check_stop(stop)
        emit(Progress((k + 1) / takes, f"latency sweep {k + 1} of {takes}"))
        rec = take(interface, spec, sweep, tail_s=0.5, stop=stop, emit=emit)
        estimates.append(
            analysis.estimate_delay(sweep, rec, sr, band_hz=(200.0, min(16000.0, 0.35 * sr)))
        )
    values = [e.delay_samples for e in estimates]
    spread = (max(values) - min(values)) / 2.0
    if spread > LATENCY_AGREEMENT:
        emit(
            Warning_(
                f"the latency changed between streams: {', '.join(f'{v:.2f}' for v in values)} "
                "samples; every capture measures it again"
            )
        )
    return float(np.mean(values)), spread, estimates[0].polarity


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
    confirm: Confirm = _confirm_all,
    stop: StopFlag | None = None,
) -> CalibrationResult:
    """Run the send step, then the loopback step; every stream is closed on any exit."""
    spec = settings.spec
    interface.validate(spec)
    send_dbu, send_unc, reading = measure_send(interface, meter, settings, emit=emit, stop=stop)

    emit(Step("loopback", "Loopback: return level, latency and noise floor"))
    confirm(
        Prompt(
            "patch_loopback",
            f"Patch output {spec.send_channel} straight into input {spec.return_channel} "
            "(no gear in between), set the input gain where you will capture, then press Enter.",
        )
    )
    noise_dbfs = measure_noise_floor(interface, spec, emit=emit, stop=stop)
    loop_tone, _rough = find_loop_level(interface, spec, settings.tone_hz, emit=emit, stop=stop)
    latency, latency_unc, polarity = measure_latency(
        interface, spec, loop_tone, emit=emit, stop=stop
    )
    if polarity < 0:
        emit(Warning_("the loopback inverts polarity: check the cable's wiring (pins 2 and 3)"))
    fit = measure_return(
        interface, spec, settings.tone_hz, loop_tone, latency, emit=emit, stop=stop
    )
    return_dbu = levels.return_dbu_at_0dbfs(send_dbu, loop_tone, fit.level_dbfs)
    return_unc = math.hypot(send_unc, fit.uncertainty_db)
    emit(Result("return_dbu_at_0dbfs", return_dbu, "dBu", return_unc))
    emit(Result("latency_samples", latency, "samples", latency_unc))
    emit(Result("return_noise_floor_dbfs", noise_dbfs, "dBFS"))
    return CalibrationResult(
        send_dbu_at_0dbfs=send_dbu,
        send_uncertainty_db=send_unc,
        return_dbu_at_0dbfs=return_dbu,
        return_uncertainty_db=return_unc,
        latency_samples=latency,
        latency_uncertainty_samples=latency_unc,
        latency_polarity=polarity,
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
