"""The capture procedure: pre-flight, play and record, align, check, write the folder.

DESIGN §2–§4: the reamp file plays at P dBu (gain g = P − S), `input.wav` is a
byte copy so `input_level_dbu = P` exactly, and the return is stored without
gain so `output_level_dbu` is the profile's return calibration.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, analysis, checks, latency, levels, reamp, signals
from .calibrate import Confirm, _confirm_all
from .capture_io import RecordingWriter, Staging, write_json, write_pcm24
from .drivers.base import AudioInterface, StreamSpec
from .drivers.sources import ArraySource, SplitSink, StackedSource
from .errors import SignalError, StationError, Stopped, StreamError
from .events import Emit, LevelReading, Progress, Prompt, Result, Step, StopFlag, Warning_, ignore
from .profiles import Profile, check_name, has_timing_reference
from .takes import take

SCHEMA_VERSION = 1
CEILING_DBFS = -0.1
USUAL_REAMP_DBU = (-10.0, 18.0)
PREROLL_S = 0.5
TAIL_S = 1.0
NOISE_S = 2.0

# The timing preamble played before a custom file: silence, two blips, a sweep, silence.
PREAMBLE = reamp.Layout(
    frames=144_000,
    blips=(24_000, 48_000),
    background=(14_400, 21_600),
    chirps=(72_000, 120_000),
    noise=(120_000, 120_000),
)


@dataclass
class CaptureRequest:
    """What the user asked for: profile, file, level, name and gear description."""

    profile: Profile
    reamp_path: Path
    reamp_dbu: float
    name: str
    captures_dir: Path
    force: bool = False
    gear: dict[str, str] = field(default_factory=dict)
    virtual_gear: str | None = None  # which simulated gear, on the virtual rig
    retakes: int = 0  # takes spoilt by an over/underflow are played again this many times
    knobs: dict[str, float] = field(default_factory=dict)  # the gear's knob values, if known
    switches: dict[str, str] = field(default_factory=dict)  # the gear's switch positions
    sweep: dict[str, object] | None = None  # session, setting id and role, in a sweep
    use_timing: bool = True  # time the take with the profile's timing reference, if it has one
    # Given, the report picture is drawn later by the job handed to it (a sweep draws it
    # while the servos move to the next setting); else before the folder is committed.
    report_later: Callable[[Callable[[], None]], None] | None = None


@dataclass(frozen=True)
class Preflight:
    """The level plan for a capture, decided before anything plays."""

    info: reamp.ReampInfo
    gain_db: float
    true_peak_dbfs: float
    max_reamp_dbu: float
    warnings: tuple[str, ...]


@dataclass
class CaptureResult:
    """A finished capture: where it is, the levels, the latency and the verdict."""

    capture_dir: Path
    input_level_dbu: float
    output_level_dbu: float
    latency_samples: float
    passed: bool
    checks: list[checks.Check]
    record: dict[str, Any]


def preamble_signal() -> np.ndarray:
    """The custom-file timing preamble: blips and a sweep the station can time."""
    x = np.zeros(PREAMBLE.frames)
    for b in PREAMBLE.blips:
        x[b] = 10 ** (-3.0 / 20)
    lo, hi = PREAMBLE.chirps
    x[lo:hi] = signals.log_sweep(20.0, 20000.0, (hi - lo) / reamp.RATE, reamp.RATE, -6.0)
    return x


def preflight(req: CaptureRequest) -> tuple[Preflight, np.ndarray]:
    """Check the level plan; returns it with the file's samples. Refuses before playing.

    Raises StationError when the file's true peak plus the gain would pass −0.1 dBFS,
    saying the highest dBu this interface setting can deliver.
    """
    check_name(req.name)
    if not math.isfinite(req.reamp_dbu):
        raise StationError(
            "the reamp level must be a number of dBu", "e.g. --reamp-dbu 12", tui_hint="e.g. 12"
        )
    if not Path(req.reamp_path).is_file():
        raise SignalError(
            f"no reamp file at {req.reamp_path}", "give the path to a 48 kHz mono WAV"
        )
    x, sr, _subtype = reamp.read_mono(req.reamp_path)
    info = reamp.recognise(req.reamp_path, (x, sr))
    reamp.check_playable(x, sr, Path(req.reamp_path).name)
    if info.samplerate != req.profile.samplerate:
        raise StationError(
            f"the reamp file is at {info.samplerate} Hz but the profile at "
            f"{req.profile.samplerate} Hz",
            "calibrate at 48000 Hz for NAM",
        )
    peak = reamp.true_peak_dbfs(x)
    gain = levels.reamp_gain_db(req.reamp_dbu, req.profile.send_dbu_at_0dbfs)
    most = levels.max_reamp_dbu(req.profile.send_dbu_at_0dbfs, peak, CEILING_DBFS)
    if peak + gain > CEILING_DBFS:
        raise StationError(
            f"{req.reamp_dbu:g} dBu would clip the send: the file's true peak is {peak:.2f} dBFS "
            f"and needs {gain:+.2f} dB of gain",
            f"this interface setting delivers at most {most:.2f} dBu with this file; turn the "
            "output up (and re-calibrate the send) or choose a lower level",
        )
    warns = list(info.notes)
    lo, hi = USUAL_REAMP_DBU
    if not lo <= req.reamp_dbu <= hi:
        warns.append(
            f"{req.reamp_dbu:g} dBu is outside the usual reamp range ({lo:g} to "
            f"{hi:+g} dBu): is that the level your gear sees from a guitar?"
        )
    return Preflight(info, gain, peak, most, tuple(warns)), x


def measure_noise_and_hum(
    interface: AudioInterface, spec: StreamSpec, *, emit: Emit, stop: StopFlag | None
) -> tuple[float, float, float, np.ndarray]:
    """Record the return with the gear on and silent: (noise dBFS, hum dBFS, mains Hz, audio)."""
    rec = take(
        interface, spec, np.zeros(int(NOISE_S * spec.samplerate)), tail_s=0.0, stop=stop, emit=emit
    )
    quiet = rec[int(0.2 * spec.samplerate) :].astype(np.float64)
    hum, mains = analysis.hum_dbfs(quiet, spec.samplerate)
    return analysis.rms_dbfs(quiet), hum, mains, quiet


def timing_spec(req: CaptureRequest, spec: StreamSpec) -> StreamSpec | None:
    """The take's stream with the profile's timing pair added, or None without one."""
    prof = req.profile
    if not (req.use_timing and has_timing_reference(prof)):
        return None
    return replace(spec, extra_sends=(prof.timing_out,), extra_returns=(prof.timing_in,))


def run_capture(
    interface: AudioInterface,
    req: CaptureRequest,
    *,
    emit: Emit = ignore,
    confirm: Confirm = _confirm_all,
    stop: StopFlag | None = None,
) -> CaptureResult:
    """Pre-flight, play and record, align, check and write `captures/NAME/`."""
    prof = req.profile
    spec = StreamSpec(prof.samplerate, prof.send_channel, prof.return_channel, prof.blocksize)
    interface.validate(timing_spec(req, spec) or spec)
    plan, x = preflight(req)
    for w in plan.warnings:
        emit(Warning_(w))
    spoilt: list[str] = []
    while True:
        staging = Staging(req.captures_dir / req.name, force=req.force)
        try:
            return _capture(interface, req, spec, plan, x, staging, emit, confirm, stop, spoilt)
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
            confirm = _confirm_all  # the gear is already connected
        except BaseException:
            staging.discard()
            raise


def _capture(
    interface: AudioInterface,
    req: CaptureRequest,
    spec: StreamSpec,
    plan: Preflight,
    x: np.ndarray,
    staging: Staging,
    emit: Emit,
    confirm: Confirm,
    stop: StopFlag | None,
    spoilt: list[str],
) -> CaptureResult:
    prof, sr, info = req.profile, spec.samplerate, plan.info
    started = dt.datetime.now().astimezone()
    emit(
        Step(
            "preflight",
            f"Pre-flight: {info.label}, {req.reamp_dbu:g} dBu "
            f"(gain {plan.gain_db:+.2f} dB, headroom to {plan.max_reamp_dbu:.2f} dBu)",
        )
    )
    confirm(
        Prompt(
            "patch_gear",
            "Connect send → reamp box → gear → loadbox → return, switch the "
            "gear on, then press Enter.",
        )
    )
    noise_dbfs, hum_dbfs, mains_hz, noise_audio = measure_noise_and_hum(
        interface, spec, emit=emit, stop=stop
    )
    emit(Result("noise_floor_dbfs", noise_dbfs, "dBFS"))
    if max(noise_dbfs, hum_dbfs) > checks.NOISE_WARN_DBFS:
        emit(
            Warning_(
                f"the return is noisy with the gear silent: noise {noise_dbfs:.1f} dBFS, "
                f"{mains_hz:g} Hz hum {hum_dbfs:.1f} dBFS"
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
    marker = signals.timing_marker(sr, prof.timing_marker_dbfs)
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
            emit(Warning_(f"{exc.message}: this take assumes the calibrated latency. {exc.hint}"))
    decision, trainer_raw = _latency(played, rec, timing, preroll, prof, sr, reference)
    start = preroll + decision.shift_samples + len(lead)
    y = rec[start : start + len(x)]
    if len(y) < len(x):
        raise SignalError("the recording ended before the file did", "retake")
    write_pcm24(staging.dir / "output.wav", y, sr)
    shutil.copyfile(info.path, staging.dir / "input.wav")
    verdict = _checks(x, y, rec, info, decision, noise_dbfs, hum_dbfs, preroll, len(lead), sr)
    passed = all(c.passed for c in verdict)
    record = _record(
        req,
        plan,
        decision,
        trainer_raw,
        verdict,
        passed,
        noise_dbfs,
        hum_dbfs,
        mains_hz,
        started,
        len(lead),
        preroll,
        spoilt,
        reference,
    )
    write_json(staging.dir / "capture.json", record)

    def draw(folder: Path) -> None:
        try:
            from .report import write_report

            partial = folder / ".report.partial.png"  # never a half-drawn report.png
            write_report(partial, x, y, info, noise_audio, sr, decision, record)
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
        passed,
        verdict,
        record,
    )


def _latency(
    played: np.ndarray,
    rec: np.ndarray,
    timing: reamp.Layout,
    preroll: int,
    prof: Profile,
    sr: int,
    reference_delay: float | None,
) -> tuple[latency.LatencyDecision, latency.TrainerBlips]:
    estimates: dict[str, float | None] = {"loopback": prof.latency_samples}
    if reference_delay is not None:
        # This stream's latency: the calibrated one, moved as much as the reference moved.
        change = reference_delay - prof.timing_reference_delay_samples
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
    x: np.ndarray,
    y: np.ndarray,
    rec: np.ndarray,
    info: reamp.ReampInfo,
    decision: latency.LatencyDecision,
    noise_dbfs: float,
    hum_dbfs: float,
    preroll: int,
    lead: int,
    sr: int,
) -> list[checks.Check]:
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
    out.append(checks.check_return_signal(x, y, noise_dbfs))
    out.append(checks.check_return_peak(rec[preroll:]))
    out.extend(checks.check_replicate(y, info.replicate))
    out.append(checks.check_noise_floor(noise_dbfs, hum_dbfs))
    out.append(checks.check_dropouts(x, y))
    return out


def _record(
    req: CaptureRequest,
    plan: Preflight,
    decision: latency.LatencyDecision,
    trainer_raw: latency.TrainerBlips,
    verdict: list[checks.Check],
    passed: bool,
    noise_dbfs: float,
    hum_dbfs: float,
    mains_hz: float,
    started: dt.datetime,
    lead: int,
    preroll: int,
    spoilt: list[str],
    reference_delay: float | None,
) -> dict[str, Any]:
    info, prof = plan.info, req.profile
    timing = None
    if has_timing_reference(prof) and req.use_timing:
        timing = {
            "timing_out": prof.timing_out,
            "timing_in": prof.timing_in,
            "reference_delay_samples": reference_delay,  # None: the marker did not come back
            "calibration_reference_delay_samples": prof.timing_reference_delay_samples,
            "stream_change_samples": None
            if reference_delay is None
            else reference_delay - prof.timing_reference_delay_samples,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "station_version": __version__,
        "name": req.name,
        "input_level_dbu": req.reamp_dbu,
        "output_level_dbu": prof.return_dbu_at_0dbfs,
        "playback_gain_db": plan.gain_db,
        "reamp_file": {
            "name": info.path.name,
            "md5": info.md5,
            "kind": info.kind,
            "label": info.label,
            "recognised_by": info.recognised_by,
            "recognition": info.recognition,
            "samplerate": info.samplerate,
            "frames": info.frames,
            "true_peak_dbfs": plan.true_peak_dbfs,
        },
        "max_reamp_dbu": plan.max_reamp_dbu,
        "latency": {
            "estimates_samples": decision.estimates,
            "used": decision.used,
            "latency_samples": decision.latency_samples,
            "shift_samples": decision.shift_samples,
            "polarity": decision.polarity,
            "disagreement_samples": decision.disagreement_samples,
            "message": decision.message,
            "agree": decision.agree,
            "timing_reference": timing,
            "assumes_calibrated_latency": decision.used == "loopback",
            "calibration_spread_samples": prof.latency_spread_samples,
            "moved_since_calibration_samples": decision.moved_samples,
            "preroll_samples": preroll,
            "preamble_samples": lead,
            "trainer_threshold": trainer_raw.threshold,
        },
        "latency_samples": decision.latency_samples,
        "polarity": decision.polarity,
        "noise": {"noise_floor_dbfs": noise_dbfs, "hum_dbfs": hum_dbfs, "mains_hz": mains_hz},
        "passed": passed,
        "checks": [c.to_json() for c in verdict],
        "knobs": dict(req.knobs),
        "switches": dict(req.switches),
        "sweep": req.sweep,
        "spoilt_takes": list(spoilt),
        "gear": dict(req.gear),
        "virtual_gear": req.virtual_gear,
        "profile": asdict(prof),
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
