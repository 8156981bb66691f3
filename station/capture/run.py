"""The capture procedure: pre-flight, play and record, align, check, write the folder.

docs/design.md §2–§4: the reamp file plays at P dBu (gain g = P − S), `input.wav` is a
byte copy so `input_level_dbu = P` exactly, and the return is stored without
gain so `output_level_dbu` is the profile's return calibration.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..drivers.base import AudioInterface, StreamSpec
from ..drivers.sources import ArraySource, SplitSink, StackedSource
from ..errors import SignalError, Stopped, StreamError
from ..events import (
    Confirm,
    Emit,
    LevelReading,
    Progress,
    Prompt,
    Result,
    Step,
    StopFlag,
    Warning_,
    confirm_all,
    ignore,
)
from ..fsutil import write_json
from ..interface.profiles import Profile, has_timing_reference
from ..interface.takes import take
from ..reamp import files as reamp
from ..reamp.layouts import Layout
from ..signal import analysis, latency, levels, stimuli
from . import checks
from .folder import RecordingWriter, Staging, write_pcm24
from .preflight import preflight
from .records import (
    Analysis,
    CaptureRequest,
    CaptureResult,
    Hooks,
    Preflight,
    Quiet,
    Take,
    capture_record,
)

PREROLL_S = 0.5
TAIL_S = 1.0
NOISE_S = 2.0
WAV_HEADER_BYTES = 4096  # a WAV header, generously
REPORT_BYTES = 1_500_000  # report.png and capture.json, generously (a full capture's: 0.1 MB)

# The timing preamble played before a custom file: silence, two blips, a sweep, silence.
PREAMBLE = Layout(
    frames=144_000,
    blips=(24_000, 48_000),
    background=(14_400, 21_600),
    chirps=(72_000, 120_000),
    noise=(120_000, 120_000),
)


# Asked before the first take through the gear (a sweep asks it once, before its first probe
# or capture, whichever comes first).
PATCH_GEAR = Prompt(
    "patch_gear",
    "Connect send → reamp box → gear → loadbox → return, switch the gear on, then press Enter.",
)


def preamble_signal() -> np.ndarray:
    """The custom-file timing preamble: blips and a sweep the station can time."""
    x = np.zeros(PREAMBLE.frames)
    for b in PREAMBLE.blips:
        x[b] = 10 ** (-3.0 / 20)
    lo, hi = PREAMBLE.chirps
    x[lo:hi] = stimuli.log_sweep(20.0, 20000.0, (hi - lo) / reamp.RATE, reamp.RATE, -6.0)
    return x


def measure_noise_and_hum(
    interface: AudioInterface, spec: StreamSpec, *, emit: Emit, stop: StopFlag | None
) -> Quiet:
    """Record the return with the gear on and silent: its noise (dBFS) and mains hum."""
    rec = take(
        interface, spec, np.zeros(int(NOISE_S * spec.samplerate)), tail_s=0.0, stop=stop, emit=emit
    )
    quiet = rec[int(0.2 * spec.samplerate) :].astype(np.float64)
    hum, mains = analysis.hum_dbfs(quiet, spec.samplerate)
    return Quiet(analysis.rms_dbfs(quiet), hum, mains, quiet)


def timing_spec(req: CaptureRequest, spec: StreamSpec) -> StreamSpec | None:
    """The take's stream with the profile's timing pair added, or None without one."""
    prof = req.profile
    if not (req.use_timing and has_timing_reference(prof)):
        return None
    return replace(spec, extra_sends=(prof.timing_out,), extra_returns=(prof.timing_in,))


def stream_spec(profile: Profile) -> StreamSpec:
    """The send/return stream a capture through this profile opens."""
    p = profile
    return StreamSpec(p.samplerate, p.send_channel, p.return_channel, p.blocksize)


def validate_streams(interface: AudioInterface, req: CaptureRequest) -> None:
    """Refuse (DeviceError) channels or a rate the interface lacks, before anything plays."""
    spec = stream_spec(req.profile)
    interface.validate(timing_spec(req, spec) or spec)


def capture_bytes(plan: Preflight, input_bytes: int, profile: Profile) -> int:
    """About how many bytes a capture folder of this plan takes on disk (an upper estimate).

    `input.wav` is the reamp file's bytes, `output.wav` 24-bit samples as long as the
    file, `recording.wav` 32-bit floats with the pre-roll, a custom file's timing
    preamble and the tail, plus the report picture and capture.json.
    """
    sr, frames = profile.samplerate, plan.info.frames
    lead = 0 if plan.info.layout is not None else PREAMBLE.frames
    tail = int(TAIL_S * sr) + math.ceil(max(profile.latency_samples, 0.0))
    recorded = int(PREROLL_S * sr) + lead + frames + tail
    return input_bytes + 3 * frames + 4 * recorded + 3 * WAV_HEADER_BYTES + REPORT_BYTES


def run_capture(
    interface: AudioInterface,
    req: CaptureRequest,
    *,
    emit: Emit = ignore,
    confirm: Confirm = confirm_all,
    stop: StopFlag | None = None,
) -> CaptureResult:
    """Pre-flight, play and record, align, check and write `captures/NAME/`."""
    spec = stream_spec(req.profile)
    validate_streams(interface, req)
    plan, x = preflight(req)
    for w in plan.warnings:
        emit(Warning_(w))
    spoilt: list[str] = []
    while True:
        staging = Staging(req.captures_dir / req.name, force=req.force)
        hooks = Hooks(emit, confirm, stop)
        try:
            return _capture(interface, req, (spec, plan, x), staging, hooks, spoilt)
        except StreamError as exc:
            staging.discard()
            if len(spoilt) >= req.retakes:
                raise
            spoilt.append(exc.message)
            emit(
                Warning_(
                    f"{exc.message}: the take is discarded and played again "
                    f"(retake {len(spoilt)} of {req.retakes})"
                )
            )
            confirm = confirm_all  # the gear is already connected
        except BaseException:
            staging.discard()
            raise


def _capture(
    interface: AudioInterface,
    req: CaptureRequest,
    prepared: tuple[StreamSpec, Preflight, np.ndarray],
    staging: Staging,
    hooks: Hooks,
    spoilt: list[str],
) -> CaptureResult:
    spec, plan, x = prepared
    emit, confirm, stop = hooks.emit, hooks.confirm, hooks.stop
    prof, sr, info = req.profile, spec.samplerate, plan.info
    started = dt.datetime.now().astimezone()
    emit(
        Step(
            "preflight",
            f"Pre-flight: {info.label}, {req.reamp_dbu:g} dBu "
            f"(gain {plan.gain_db:+.2f} dB, headroom to {plan.max_reamp_dbu:.2f} dBu)",
        )
    )
    confirm(PATCH_GEAR)
    quiet = measure_noise_and_hum(interface, spec, emit=emit, stop=stop)
    emit(Result("noise_floor_dbfs", quiet.noise_dbfs, "dBFS"))
    if max(quiet.noise_dbfs, quiet.hum_dbfs) > checks.NOISE_WARN_DBFS:
        emit(
            Warning_(
                f"the return is noisy with the gear silent: noise {quiet.noise_dbfs:.1f} dBFS, "
                f"{quiet.mains_hz:g} Hz hum {quiet.hum_dbfs:.1f} dBFS"
            )
        )

    timing = info.layout or PREAMBLE
    lead = np.zeros(0, np.float32) if info.layout is not None else preamble_signal()
    played = np.concatenate([lead, x.astype(np.float64)])  # what the timing methods see
    gain = levels.ratio_from_db(plan.gain_db)
    preroll = int(PREROLL_S * sr)
    signal_out = np.concatenate([np.zeros(preroll, np.float32), (played * gain).astype(np.float32)])
    tail = int(TAIL_S * sr) + math.ceil(max(prof.latency_samples, 0.0))
    total = len(signal_out) + tail
    emit(Step("record", f"Recording {len(x) / sr:.1f} s through {interface.name}"))
    t0 = time.monotonic()
    last = [0.0]

    def progress(frames: int, peak: float) -> None:
        audio_s = frames / sr
        if audio_s - last[0] < 0.25 and frames < total:
            return
        last[0] = audio_s
        peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
        elapsed = time.monotonic() - t0
        # A wall-clock estimate from the rate so far: a virtual rig runs faster than real time.
        remaining = elapsed * max(0, total - frames) / frames if frames else None
        emit(
            Progress(
                min(1.0, frames / total),
                f"{audio_s:6.1f} / {total / sr:.1f} s, return peak {peak_db:6.1f} dBFS",
                elapsed_s=elapsed,
                remaining_s=remaining,
            )
        )
        emit(LevelReading("return", level_dbfs=peak_db))

    writer = RecordingWriter(staging.dir / "recording.wav", sr, progress)
    tspec = timing_spec(req, spec)
    marker = stimuli.timing_marker(sr, prof.timing_marker_dbfs)
    split = SplitSink(writer, len(marker) + preroll + 20_000)
    try:
        if tspec is None:
            interface.run(spec, ArraySource(signal_out), writer, tail_frames=tail, stop=stop)
        else:
            # The marker plays on the timing output at the start of the pre-roll.
            source = StackedSource(ArraySource(signal_out), ArraySource(marker))
            interface.run(tspec, source, split, tail_frames=tail, stop=stop)
    finally:
        writer.close()
    if stop is not None and stop.is_set():
        raise Stopped()
    emit(Step("analyse", "Aligning and checking"))
    rec, _, _ = reamp.read_mono(writer.path)
    reference = None
    if tspec is not None:
        try:
            reference = latency.reference_delay(marker, split.head()[:, 0], sr)
        except SignalError as exc:
            emit(Warning_(exc.said + ": this take assumes the calibrated latency. " + exc.advice))
    tk = Take(x, played, rec, len(lead), preroll, sr, reference)
    decision, trainer_raw = _latency(tk, timing, prof)
    start = preroll + decision.shift_samples + len(lead)
    y = rec[start : start + len(x)]
    if len(y) < len(x):
        raise SignalError("the recording ended before the file did", "retake")
    write_pcm24(staging.dir / "output.wav", y, sr)
    shutil.copyfile(info.path, staging.dir / "input.wav")
    result = Analysis(decision, trainer_raw, _checks(tk, y, info, decision, quiet))
    record = capture_record(req, plan, tk, quiet, result, started, spoilt)
    write_json(staging.dir / "capture.json", record)

    def draw(folder: Path) -> None:
        try:
            from .report import write_report

            partial = folder / ".report.partial.png"  # never a half-drawn report.png
            write_report(partial, x, y, info, quiet.audio, sr, decision, record)
            os.replace(partial, folder / "report.png")
        except Exception as exc:  # a missing plot must never cost the user the take
            emit(Warning_(f"the report picture could not be drawn: {exc}"))

    if req.report_later is None:
        draw(staging.dir)
    final = staging.commit()
    if req.report_later is not None:
        req.report_later(lambda: draw(final))
    return CaptureResult(
        final,
        req.reamp_dbu,
        prof.return_dbu_at_0dbfs,
        decision.latency_samples,
        result.passed,
        result.checks,
        record,
    )


def _latency(
    tk: Take, timing: Layout, prof: Profile
) -> tuple[latency.LatencyDecision, latency.TrainerBlips]:
    played, rec, preroll, sr = tk.played, tk.rec, tk.preroll, tk.samplerate
    estimates: dict[str, float | None] = {"loopback": prof.latency_samples}
    if tk.reference_delay is not None:
        # This stream's latency: the calibrated one, moved as much as the reference moved.
        change = tk.reference_delay - prof.timing_reference_delay_samples
        estimates["reference"] = prof.latency_samples + change
    polarity = 1
    try:
        blip = latency.blip_estimate(rec, timing.blips, timing.background, offset=preroll)
        estimates["blip"] = float(blip.delay_samples)
        polarity = blip.polarity
    except SignalError:
        estimates["blip"] = None
    try:
        xc = latency.xcorr_estimate(played, rec, timing.broadband, sr, offset=preroll)
        estimates["xcorr"] = float(xc.delay_samples)
        polarity = xc.polarity
    except SignalError:
        estimates["xcorr"] = None
    raw = latency.trainer_blip_rule(rec[preroll:], timing.blips, timing.background)
    estimates["trainer_blips"] = None if raw.delay_samples is None else float(raw.delay_samples)
    decision = latency.decide(
        {k: v for k, v in estimates.items() if k != "trainer_blips"},
        polarity,
        calibration_spread_samples=prof.latency_spread_samples,
    )
    decision.estimates["trainer_blips"] = estimates["trainer_blips"]
    return decision, raw


def _checks(
    tk: Take, y: np.ndarray, info: reamp.ReampInfo, decision: latency.LatencyDecision, quiet: Quiet
) -> list[checks.Check]:
    x, sr = tk.x, tk.samplerate
    out = [
        checks.check_reamp_file(info),
        checks.check_sample_rate(info.samplerate, sr),
        checks.check_length(len(x), len(y), sr, exact=True),
    ]
    if info.layout is not None:
        out.append(checks.check_trainer_blips(y, info.layout))
    else:
        out.append(
            checks.Check(
                "trainer_blips",
                "n/a",
                None,
                None,
                "custom signal: the trainer's blip check cannot apply; the "
                "station timed it with its preamble",
            )
        )
    out.append(
        checks.check_latency_agreement(
            decision.estimates,
            decision.disagreement_samples,
            decision.message,
            agree=decision.agree,
        )
    )
    out.append(checks.check_polarity(decision.polarity))
    out.append(checks.check_return_signal(x, y, quiet.noise_dbfs))
    out.append(checks.check_return_peak(tk.rec[tk.preroll :]))
    out.extend(checks.check_replicate(y, info.replicate))
    out.append(checks.check_noise_floor(quiet.noise_dbfs, quiet.hum_dbfs))
    out.append(checks.check_dropouts(x, y))
    return out
