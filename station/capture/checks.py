"""Capture checks: the NAM trainer's own and the station's, each with value, threshold, verdict.

Every function takes arrays already loaded and returns one Check; `run_pair_checks`
assembles the list for an (input, output) pair.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..reamp.files import RATE, Layout, ReampInfo
from ..reamp.layouts import Replicate
from ..signal import analysis, latency, presence

REPLICATE_ESR_MAX = 0.01  # the trainer's own threshold
CLIP_DBFS = -0.01
HOT_DBFS = -1.0
QUIET_DBFS = -30.0
NOISE_WARN_DBFS = -60.0
DRIFT_WARN_DB = 0.25
ESR_CAUSES = (
    "usual causes: noise in the chain, a time-based effect (chorus, delay, reverb) "
    "left on, a knob moved during the take, an amp that was not warm yet"
)


@dataclass(frozen=True)
class Check:
    """One verdict: status pass | warn | fail | n/a, with the number behind it; or info, a row
    that says how something was done and judges nothing (its `passed` is null)."""

    name: str
    status: str
    value: float | int | str | None
    threshold: float | str | None
    message: str

    @property
    def passed(self) -> bool:
        """False only for a failure; a warning (or a check that cannot apply) still passes."""
        return self.status != "fail"

    @property
    def verdict(self) -> bool | None:
        """docs/design.md §7's `passed`: true, false, or None for a check that cannot apply or
        an informational row."""
        return None if self.status in ("n/a", "info") else self.passed

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of docs/design.md §7: name, passed, value, threshold, message, status."""
        d = asdict(self)
        if isinstance(d["value"], float) and not math.isfinite(d["value"]):
            d["value"] = None
        return {
            "name": d["name"],
            "passed": self.verdict,
            "status": d["status"],
            "value": d["value"],
            "threshold": d["threshold"],
            "message": d["message"],
        }


def check_sample_rate(input_rate: int, output_rate: int) -> Check:
    """Both files at 48 kHz, as NAM requires."""
    ok = input_rate == output_rate == RATE
    msg = (
        f"both at {RATE} Hz"
        if ok
        else f"input at {input_rate} Hz, output at {output_rate} Hz: NAM needs both at {RATE} Hz "
        "(re-record at 48 kHz; resampling a capture afterwards blurs its timing)"
    )
    return Check("sample_rate", "pass" if ok else "fail", output_rate, RATE, msg)


def check_channels(output_channels: int) -> Check:
    """A mono output, as the trainer reads it."""
    ok = output_channels == 1
    return Check(
        "channels",
        "pass" if ok else "fail",
        output_channels,
        1,
        "mono" if ok else f"the output has {output_channels} channels; export it as mono",
    )


def check_length(input_frames: int, output_frames: int, samplerate: int, *, exact: bool) -> Check:
    """Same length (station captures), or the trainer's window of 0 to +1 s longer (DAW pairs)."""
    delta_s = (output_frames - input_frames) / samplerate
    if exact:
        ok = output_frames == input_frames
        return Check(
            "length",
            "pass" if ok else "fail",
            delta_s,
            0.0,
            "same length as the input"
            if ok
            else f"the output differs in length by {delta_s:+.3f} s",
        )
    ok = 0.0 <= delta_s <= 1.0
    msg = (
        f"output {delta_s:+.3f} s against the input: inside the trainer's window (0 to +1 s)"
        if ok
        else f"output {delta_s:+.3f} s against the input: the trainer wants 0 to +1 s "
        "longer; trim or re-export it"
    )
    return Check("length", "pass" if ok else "fail", delta_s, "0 to +1 s", msg)


def check_trainer_blips(y: np.ndarray, layout: Layout) -> Check:
    """The trainer's blip rule on the output as it will see it."""
    r = latency.trainer_blip_rule(y, layout.blips, layout.background)
    if r.delay_samples is None:
        return Check(
            "trainer_blips",
            "fail",
            None,
            f"> {r.threshold:.5f}",
            "the NAM trainer will not find its blips in the output: is the reamp "
            "reaching the gear, and the return recording it?",
        )
    if r.at_lookahead:
        return Check(
            "trainer_blips",
            "fail",
            r.delay_samples,
            latency.TRAINER_LOOKAHEAD,
            "the trainer's blip search hits its look-ahead limit: the output starts "
            "too early or carries noise before the blips",
        )
    return Check(
        "trainer_blips",
        "pass",
        r.delay_samples,
        f"> {r.threshold:.5f}",
        f"the NAM trainer will find its blips and a latency of {r.delay_samples} samples",
    )


def independent_estimates(estimates: dict[str, float | None]) -> list[str]:
    """The methods that found a latency, counting the trainer's blip rule and the station's
    blip estimate as one (both read the same blips), and the timing reference and the
    calibrated latency as one (the reference only moves the calibrated latency)."""
    found = [k for k, v in estimates.items() if v is not None]
    if "blip" in found and "trainer_blips" in found:
        found.remove("trainer_blips")
    if "reference" in found and "loopback" in found:
        found.remove("loopback")
    return found


def check_latency_agreement(
    estimates: dict[str, float | None],
    disagreement_samples: float,
    message: str,
    *,
    required: bool = True,
    agree: bool | None = None,
) -> Check:
    """The station's latency methods agree; with fewer than two estimates it cannot pass.

    `required`: a station capture always has two or more (fail without them); a
    DAW pair of a custom file has only cross-correlation (n/a). `agree=False`
    (latency.decide's verdict: e.g. no timing reference on a driver whose latency
    moves) warns even when the estimates sit close together.
    """
    found = independent_estimates(estimates)
    if len(found) < 2:
        what = f"only one latency estimate ({found[0]})" if found else "no latency estimate"
        return Check(
            "latency_agreement",
            "fail" if required else "n/a",
            len(found),
            "≥ 2 estimates",
            f"{what}: the blips and cross-correlation found nothing in the return to "
            "cross-check it with",
        )
    worst = float(disagreement_samples)
    status = "pass" if worst <= latency.AGREEMENT_SAMPLES and agree is not False else "warn"
    return Check("latency_agreement", status, round(worst, 3), latency.AGREEMENT_SAMPLES, message)


def check_polarity(polarity: int) -> Check:
    """Report the gear's polarity (informational: the model learns it)."""
    return Check(
        "polarity",
        "pass",
        polarity,
        None,
        "inverted: normal for many amps; the model learns it" if polarity < 0 else "not inverted",
    )


def check_return_peak(y: np.ndarray) -> Check:
    """Return peak: clipping fails, hot or very quiet returns warn, digital silence fails."""
    peak = analysis.peak_abs(y)
    if peak == 0:
        return Check(
            "return_peak",
            "fail",
            None,
            CLIP_DBFS,
            "the output is digital silence: nothing was recorded",
        )
    db = 20 * math.log10(peak)
    if db >= CLIP_DBFS:
        return Check(
            "return_peak",
            "fail",
            db,
            CLIP_DBFS,
            f"the return clipped ({db:.2f} dBFS): turn the loadbox output or the "
            "interface gain down, measure the return again, and retake",
        )
    if db > HOT_DBFS:
        return Check(
            "return_peak",
            "warn",
            db,
            HOT_DBFS,
            f"the return peaks at {db:.2f} dBFS: little headroom left",
        )
    if db < QUIET_DBFS:
        return Check(
            "return_peak",
            "warn",
            db,
            QUIET_DBFS,
            f"the return peaks at only {db:.1f} dBFS: poor signal-to-noise; raise the "
            "loadbox output or interface gain (and re-calibrate the return)",
        )
    return Check("return_peak", "pass", db, CLIP_DBFS, f"peak {db:.2f} dBFS")


def replicate_esr(y: np.ndarray, rep: Replicate) -> tuple[float, float]:
    """(ESR, level drift dB) between two replicate sections, as the trainer slices v3's copies.

    NaN drift when either section is silent; inf ESR when the second is.
    """
    a = np.asarray(y[rep.start_a : rep.start_a + rep.frames], dtype=np.float64)
    b = np.asarray(y[rep.start_b : rep.start_b + rep.frames], dtype=np.float64)
    esr = analysis.esr(a, b)  # the trainer's order: copy 1 as prediction, copy 2 as target
    ra, rb = float(np.sqrt(np.mean(a**2))), float(np.sqrt(np.mean(b**2)))
    drift = 20 * math.log10(rb / ra) if ra > 0 and rb > 0 else math.nan
    return esr, drift


def check_replicate(y: np.ndarray, rep: Replicate | None, why_none: str = "") -> list[Check]:
    """The trainer's replicate ESR (≤ 0.01) and the level drift between two identical sections.

    Both are n/a rows, with `why_none`, when the input has no replicate or the
    output is too short to hold it.
    """
    if rep is None or rep.start_a < 0 or rep.start_b + rep.frames > len(y):
        reason = why_none or (
            "no identical sections of 3 s or more in the input to compare"
            if rep is None
            else "the output is too short to hold both replicate sections"
        )
        return [
            Check("replicate_esr", "n/a", None, REPLICATE_ESR_MAX, reason),
            Check("validation_drift", "n/a", None, DRIFT_WARN_DB, reason),
        ]
    esr, drift = replicate_esr(y, rep)
    where = "the validation copies" if rep.source == "validation" else rep.describe()
    if not math.isfinite(esr) or not math.isfinite(drift):
        return [
            Check(
                "replicate_esr",
                "fail",
                None,
                REPLICATE_ESR_MAX,
                f"the output is silent in {where}: nothing to compare",
            ),
            Check(
                "validation_drift", "n/a", None, DRIFT_WARN_DB, "silent output: no level to compare"
            ),
        ]
    ok = esr <= REPLICATE_ESR_MAX
    checks = [
        Check(
            "replicate_esr",
            "pass" if ok else "fail",
            esr,
            REPLICATE_ESR_MAX,
            f"the replicates match (ESR {esr:.5f}; {where})"
            if ok
            else f"the gear does not sound like itself twice (ESR {esr:.4f} > 0.01 over "
            f"{where}); " + ESR_CAUSES,
        )
    ]
    drift_ok = abs(drift) <= DRIFT_WARN_DB
    checks.append(
        Check(
            "validation_drift",
            "pass" if drift_ok else "warn",
            drift,
            DRIFT_WARN_DB,
            f"level drift between the copies {drift:+.2f} dB"
            + ("" if drift_ok else ": the gear changed during the take (warm-up? a moved knob?)"),
        )
    )
    return checks


def check_reamp_file(info: ReampInfo) -> Check:
    """How the reamp file was recognised, so the verdict says what it checked: informational
    (status info, passed null), but a warning for a layout the NAM trainer refuses (v1, v2)."""
    if info.kind == "nam-deprecated":
        return Check(
            "reamp_file",
            "warn",
            info.recognised_by,
            None,
            f"{info.recognition}: the NAM trainer refuses it unless its checks are ignored; "
            "use v3_0_0.wav",
        )
    return Check("reamp_file", "info", info.recognised_by, None, info.recognition)


def check_noise_floor(noise_dbfs: float, hum_dbfs: float | None = None) -> Check:
    """The return's noise with the gear on and silent (warns above −60 dBFS)."""
    worst = max(noise_dbfs, hum_dbfs if hum_dbfs is not None else -math.inf)
    hum = f", hum {hum_dbfs:.1f} dBFS" if hum_dbfs is not None else ""
    if worst > NOISE_WARN_DBFS:
        return Check(
            "noise_floor",
            "warn",
            noise_dbfs,
            NOISE_WARN_DBFS,
            f"noise {noise_dbfs:.1f} dBFS{hum}: a noisy chain makes the model learn "
            "the noise; check grounding, cables and the gate",
        )
    return Check(
        "noise_floor", "pass", noise_dbfs, NOISE_WARN_DBFS, f"noise {noise_dbfs:.1f} dBFS{hum}"
    )


def check_dropouts(
    x: np.ndarray, y: np.ndarray, lag: int | None = 0, *, xrun: bool = False
) -> Check:
    """No flat-lined stretches in the output while the aligned input plays.

    `lag`: where input sample 0 sits in `y` (0 for a station capture, the
    latency found for a DAW pair; None when none was found: n/a). The advice
    names block sizes only when the stream flagged an over/underflow (`xrun`).
    """
    if lag is None:
        return Check(
            "dropouts",
            "n/a",
            None,
            0,
            "no latency was found, so the output cannot be aligned to look for dropouts",
        )
    n = presence.count_dropouts(x, y, lag)
    if n == 0:
        return Check("dropouts", "pass", 0, 0, "no dropouts")
    advice = (
        "the stream reported an over/underflow: retake with a larger block size"
        if xrun
        else "check cables and the interface's clock, then retake"
    )
    return Check(
        "dropouts",
        "fail",
        n,
        0,
        f"{n} dropout(s): the output holds one value for ≥ {presence.DROPOUT_RUN} samples "
        f"while the input plays; {advice}",
    )


def check_return_signal(
    x: np.ndarray, y: np.ndarray, noise_dbfs: float | None, lag: int | None = 0
) -> Check:
    """Something came back: the output while the input plays stands above the noise floor."""
    level = presence.level_while_playing(x, y, lag or 0)
    floor = noise_dbfs if noise_dbfs is not None else analysis.DIGITAL_SILENCE_DBFS
    limit = max(floor, analysis.DIGITAL_SILENCE_DBFS) + presence.SIGNAL_OVER_NOISE_DB
    if level is None:
        return Check("return_signal", "n/a", None, None, "the input never plays")
    if level <= limit:
        if level <= analysis.DIGITAL_SILENCE_DBFS:
            seen = "the return is digital silence while the input plays"
        elif noise_dbfs is None:
            seen = f"the return stays at {level:.1f} dBFS while the input plays"
        else:
            seen = (
                f"the return stays at {level:.1f} dBFS while the input plays, noise floor "
                f"{floor:.1f} dBFS"
            )
        return Check(
            "return_signal",
            "fail",
            round(level, 1),
            round(limit, 1),
            f"no signal came back: is the gear connected and switched on? ({seen})",
        )
    return Check(
        "return_signal",
        "pass",
        round(level, 1),
        round(limit, 1),
        f"the return plays at {level:.1f} dBFS, {level - floor:.0f} dB over the noise floor",
    )


def silence_noise_dbfs(y: np.ndarray, layout: Layout) -> float:
    """RMS of the output over the last half second before the blips (silence in v3)."""
    lo, hi = layout.background[0] - 36_000, layout.background[1] - 6_000
    return analysis.rms_dbfs(np.asarray(y[lo:hi], dtype=np.float64))
