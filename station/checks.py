"""Capture checks: the NAM trainer's own and the station's, each with value, threshold, verdict.

Every function takes arrays already loaded and returns one Check; `run_pair_checks`
assembles the list for an (input, output) pair.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import analysis, latency
from .reamp import RATE, Layout

REPLICATE_ESR_MAX = 0.01  # the trainer's own threshold
CLIP_DBFS = -0.01
HOT_DBFS = -1.0
QUIET_DBFS = -30.0
NOISE_WARN_DBFS = -60.0
DRIFT_WARN_DB = 0.25
DROPOUT_RUN = 100  # this many identical samples in a row, where the input plays
ESR_CAUSES = (
    "usual causes: noise in the chain, a time-based effect (chorus, delay, reverb) "
    "left on, a knob moved during the take, an amp that was not warm yet"
)


@dataclass(frozen=True)
class Check:
    """One verdict: status pass | warn | fail | n/a, with the number behind it."""

    name: str
    status: str
    value: float | int | str | None
    threshold: float | str | None
    message: str

    @property
    def passed(self) -> bool:
        """False only for a failure; a warning still passes."""
        return self.status != "fail"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of DESIGN §7: name, passed, value, threshold, message (+ status)."""
        d = asdict(self)
        if isinstance(d["value"], float) and not math.isfinite(d["value"]):
            d["value"] = None
        return {
            "name": d["name"],
            "passed": self.passed,
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


def check_latency_agreement(decision: latency.LatencyDecision) -> Check:
    """The station's latency methods agree (the capture is aligned either way)."""
    status = "pass" if decision.agree else "warn"
    return Check(
        "latency_agreement",
        status,
        round(decision.disagreement_samples, 3),
        latency.AGREEMENT_SAMPLES,
        decision.message,
    )


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
    """Return peak: clipping fails, hot or very quiet returns warn."""
    peak = analysis.peak_abs(y)
    db = 20 * math.log10(peak) if peak > 0 else -math.inf
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


def replicate_esr(y: np.ndarray, layout: Layout, input_frames: int) -> tuple[float, float]:
    """(ESR, level drift dB) between the validation copies, as the trainer slices them."""
    a = np.asarray(y[: layout.t_validate], dtype=np.float64)
    b = np.asarray(y[input_frames - layout.t_validate : input_frames], dtype=np.float64)
    esr = analysis.esr(a, b)  # the trainer's order: copy 1 as prediction, copy 2 as target
    ra, rb = float(np.sqrt(np.mean(a**2))), float(np.sqrt(np.mean(b**2)))
    drift = 20 * math.log10(rb / ra) if ra > 0 and rb > 0 else math.nan
    return esr, drift


def check_replicate(y: np.ndarray, layout: Layout, input_frames: int) -> list[Check]:
    """The trainer's replicate ESR (≤ 0.01) and the level drift between the copies."""
    esr, drift = replicate_esr(y, layout, input_frames)
    ok = esr <= REPLICATE_ESR_MAX
    checks = [
        Check(
            "replicate_esr",
            "pass" if ok else "fail",
            esr,
            REPLICATE_ESR_MAX,
            f"the validation copies match (ESR {esr:.5f})"
            if ok
            else f"the gear does not sound like itself twice (ESR {esr:.4f} > 0.01); " + ESR_CAUSES,
        )
    ]
    drift_ok = math.isfinite(drift) and abs(drift) <= DRIFT_WARN_DB
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


def count_dropouts(x: np.ndarray, y: np.ndarray, start: int = 0) -> int:
    """Runs of ≥ 100 identical output samples where the input is playing (digital dropouts)."""
    n = min(len(x), len(y))
    yy = np.asarray(y[start:n])
    xx = np.asarray(x[start:n])
    if len(yy) < DROPOUT_RUN:
        return 0
    # Booleans only (a byte per sample): where each sample repeats the one before it.
    same = np.zeros(len(yy) + 1, dtype=bool)
    np.equal(yy[1:], yy[:-1], out=same[1:-1])
    edges = np.flatnonzero(same[1:] != same[:-1])
    count = 0
    for s0, s1 in zip(edges[::2], edges[1::2], strict=True):
        if s1 - s0 >= DROPOUT_RUN and np.max(np.abs(xx[s0 : s1 + 1])) > 1e-3:
            count += 1
    return count


def check_dropouts(x: np.ndarray, y: np.ndarray, start: int = 0) -> Check:
    """No flat-lined stretches while the input plays."""
    n = count_dropouts(x, y, start)
    return Check(
        "dropouts",
        "pass" if n == 0 else "fail",
        n,
        0,
        "no dropouts"
        if n == 0
        else f"{n} dropout(s): the output flat-lines while the "
        "input plays; retake with a larger block size",
    )


def silence_noise_dbfs(y: np.ndarray, layout: Layout) -> float:
    """RMS of the output over the last half second before the blips (silence in v3)."""
    lo, hi = layout.background[0] - 36_000, layout.background[1] - 6_000
    return analysis.rms_dbfs(np.asarray(y[lo:hi], dtype=np.float64))
