"""Latency of a capture by every method, and which one to align with (docs/design.md §3).

Methods: the profile's loopback latency; the NAM trainer's blip trigger rule
(replicated exactly, integer, onset-based); the station's own blip estimate
(impulse-response peak of the averaged blips, sub-sample); cross-correlation
over the broadband section with polarity. Disagreements are reported with
numbers, never silently resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SignalError
from . import analysis

TRAINER_LOOKAHEAD = 1_000
TRAINER_LOOKBACK = 10_000
TRAINER_ABS_THRESHOLD = 0.0003
TRAINER_REL_THRESHOLD = 0.001
AGREEMENT_SAMPLES = 2.0


@dataclass(frozen=True)
class TrainerBlips:
    """What the NAM trainer's blip rule finds: a delay, or nothing."""

    delay_samples: int | None  # None: nothing crossed the trigger
    threshold: float
    background: float
    at_lookahead: bool  # the trainer warns when the delay equals −lookahead


def trainer_blip_rule(
    y: np.ndarray, blips: tuple[int, ...], background: tuple[int, int]
) -> TrainerBlips:
    """The trainer's rule on `y` (indices as in the input): first crossing of the blip average.

    Threshold max(bg + 0.0003, 1.001·bg) with bg the peak over `background`;
    the scan runs from 1000 samples before to 10 000 after each blip, averaged.
    """
    y = np.asarray(y)
    bg_part = np.asarray(y[background[0] : background[1]], dtype=np.float64)
    bg = float(np.max(np.abs(bg_part))) if background[1] <= len(y) else 0.0
    threshold = max(bg + TRAINER_ABS_THRESHOLD, (1.0 + TRAINER_REL_THRESHOLD) * bg)
    scans = []
    for b in blips:
        lo, hi = b - TRAINER_LOOKAHEAD, b + TRAINER_LOOKBACK
        if lo < 0 or hi > len(y):
            return TrainerBlips(None, threshold, bg, False)
        scans.append(np.asarray(y[lo:hi], dtype=np.float64))
    avg = np.mean(np.stack(scans), axis=0)
    hits = np.flatnonzero(np.abs(avg) > threshold)
    if len(hits) == 0:
        return TrainerBlips(None, threshold, bg, False)
    delay = int(hits[0]) - TRAINER_LOOKAHEAD
    return TrainerBlips(delay, threshold, bg, delay == -TRAINER_LOOKAHEAD)


EDGE_FRACTION = 0.1  # the leading edge is where the response first reaches 10 % of its peak
EDGE_OVER_BACKGROUND = 2.0


@dataclass(frozen=True)
class BlipOnset:
    """Where the gear's response to the blips begins, to a fraction of a sample."""

    delay_samples: float
    polarity: int
    peak_over_background: float


def blip_estimate(
    y: np.ndarray, blips: tuple[int, ...], background: tuple[int, int], *, offset: int = 0
) -> BlipOnset:
    """Sub-sample leading edge of the averaged blip response in a recording.

    `offset` is where input sample 0 sits in `y` with no latency (the pre-roll).
    Blips are an onset method: the edge (10 % of the response's peak, and
    twice the background's peak) stays put through clipping and filtering that
    move an impulse response's peak. Raises SignalError when no blip stands out.
    """
    y = np.asarray(y)
    lo_bg, hi_bg = offset + background[0], offset + background[1]
    bg = float(np.max(np.abs(y[lo_bg:hi_bg]))) if hi_bg <= len(y) else 0.0
    windows = []
    for b in blips:
        lo, hi = offset + b - TRAINER_LOOKAHEAD, offset + b + TRAINER_LOOKBACK
        if hi > len(y):
            raise SignalError("the recording stops before the blips' responses end")
        windows.append(np.asarray(y[lo:hi], dtype=np.float64))
    avg = np.abs(np.mean(np.stack(windows), axis=0))
    signed = np.mean(np.stack(windows), axis=0)
    peak = float(np.max(avg))
    if peak <= 4.0 * bg or peak == 0.0:
        raise SignalError(
            f"no blip response stands out (peak {peak:.2g}, background {bg:.2g})",
            "is the reamp reaching the gear and the return recording it?",
        )
    threshold = max(EDGE_FRACTION * peak, EDGE_OVER_BACKGROUND * bg)
    i = int(np.flatnonzero(avg >= threshold)[0])
    below = avg[i - 1] if i > 0 else 0.0
    frac = (threshold - below) / (avg[i] - below) if avg[i] > below else 1.0
    edge = i - 1 + frac
    return BlipOnset(
        edge - TRAINER_LOOKAHEAD, 1 if signed[i] > 0 else -1, peak / bg if bg > 0 else math.inf
    )


def xcorr_estimate(
    x: np.ndarray,
    y: np.ndarray,
    section: tuple[int, int],
    samplerate: int,
    *,
    offset: int = 0,
    max_delay: int = 20_000,
) -> analysis.DelayEstimate:
    """Sub-sample delay and polarity over a broadband section of the input (chirps + noise)."""
    lo, hi = section
    ref = np.asarray(x[lo:hi], dtype=np.float64)
    rec = np.asarray(y[offset + lo : offset + hi + max_delay], dtype=np.float64)
    if len(rec) < len(ref):
        raise SignalError("the recording is shorter than the broadband section")
    return analysis.estimate_delay(ref, rec, samplerate, max_delay_samples=max_delay)


def reference_delay(
    marker: np.ndarray,
    timing_rec: np.ndarray,
    samplerate: int,
    *,
    offset: int = 0,
    max_delay: int = 20_000,
) -> float:
    """The timing reference's round trip in this stream (samples, sub-sample): where the
    `marker`, played from frame `offset` on the timing output, lands in `timing_rec`.

    Raises SignalError (with a patching hint) when the marker does not come back.
    """
    seg = np.asarray(timing_rec[offset : offset + len(marker) + max_delay], dtype=np.float64)
    try:
        if len(seg) < len(marker):
            raise SignalError("the timing recording is shorter than its marker")
        return analysis.estimate_delay(
            marker, seg, samplerate, band_hz=MARKER_BAND_HZ, max_delay_samples=max_delay
        ).delay_samples
    except SignalError as exc:
        raise SignalError(
            f"the timing reference's marker did not come back ({exc.message})",
            "patch the timing output straight into the timing input and leave it there, "
            "with the input's gain up",
        ) from None


MARKER_BAND_HZ = (200.0, 16000.0)
# Where each through-gear estimate can sit from the interface's own latency, in samples,
# because of the gear and the converters rather than a change of latency: blip edges land
# up to about a sample early (the anti-alias filters' pre-ringing), cross-correlation a
# sample or two late (the gear's own filters). Measured on every virtual gear model through
# the realistic virtual interface (benchmarks/alignment.py); analog gear answers at once.
GEAR_WINDOWS = {"blip": (-1.5, 1.0), "xcorr": (0.0, 2.5)}
SPREAD_WARN_SAMPLES = 0.25  # calibration streams further apart than this: the driver moves


@dataclass(frozen=True)
class LatencyDecision:
    """Every estimate (samples, beyond the pre-roll), the one used, and why.

    `estimates["reference"]`, when present, is the calibrated latency moved by
    this stream's timing-reference change. `moved_samples` (no reference) is how
    far the blip and cross-correlation estimates sit from the calibrated latency.
    """

    estimates: dict[str, float | None]
    used: str
    latency_samples: float
    shift_samples: int  # whole samples removed from the front when aligning
    polarity: int
    disagreement_samples: float
    agree: bool
    message: str
    moved_samples: float | None = None


def decide(
    estimates: dict[str, float | None], polarity: int, *, calibration_spread_samples: float = 0.0
) -> LatencyDecision:
    """Choose the latency to align with (docs/design.md §3).

    With a timing reference (`estimates["reference"]`) that is used: the blip and
    cross-correlation estimates then measure the gear's own delay. Without one the
    capture assumes the calibrated latency (`loopback`) and says so, warning when
    calibration saw the driver's latency move between streams; when every
    through-gear estimate moved beyond what the gear can explain (GEAR_WINDOWS), on
    the same side, the interface changed: it aligns with the blip estimate and warns.
    """
    loop, ref = estimates.get("loopback"), estimates.get("reference")
    others = {k: v for k, v in estimates.items() if k in ("blip", "xcorr") and v is not None}
    anchor = ref if ref is not None else loop
    if anchor is None and not others:
        raise SignalError("no latency estimate is available", "re-run the calibration")
    base = anchor if anchor is not None else next(iter(others.values()))
    diffs = {k: v - base for k, v in others.items()}
    worst = max((abs(d) for d in diffs.values()), default=0.0)
    agree = worst <= AGREEMENT_SAMPLES
    detail = ", ".join(f"{k} {v:.2f}" for k, v in estimates.items() if v is not None)
    moved = _moved(diffs) if ref is None and loop is not None else None
    if ref is not None:
        used, value = "reference", ref
        change = f"{ref - loop:+.2f} since calibration" if loop is not None else "measured"
        msg = (
            f"timed by the reference: {ref:.2f} ({change}); the gear's estimates within "
            f"{worst:.2f} ({detail})"
            if agree
            else f"timed by the reference ({ref:.2f}); the gear's estimates sit up to "
            f"{worst:.2f} samples off: its own delay, or fooled by it ({detail})"
        )
    elif loop is not None and (moved is None or estimates.get("blip") is None):
        used, value = "loopback", loop
        drifty = calibration_spread_samples > SPREAD_WARN_SAMPLES
        msg = f"assumes the calibrated latency {loop:.2f} (no timing reference; {detail})"
        if moved is not None:
            agree = False
            msg = (
                f"assumes the calibrated latency {loop:.2f}, but the latency moved {moved:+.2f} "
                "samples since, more than gear explains: add a timing reference to be exact"
            )
        elif drifty:
            agree = False
            msg = (
                f"assumes the calibrated latency {loop:.2f}, but this driver moved "
                f"{calibration_spread_samples:.2f} samples between streams: add a timing "
                "reference to be exact"
            )
        elif not agree:
            msg += f"; the gear's estimates disagree by up to {worst:.2f} samples"
    elif estimates.get("blip") is not None:
        used, value, agree = "blip", float(estimates["blip"]), False  # type: ignore[arg-type]
        msg = (
            f"the latency moved {moved:+.2f} samples since calibration ({detail}), more than "
            "gear explains: aligned with the blip estimate; add a timing reference to be exact"
        )
    else:
        used, value = ("loopback", loop) if loop is not None else ("xcorr", others["xcorr"])
        msg = f"only {used} is available ({detail})"
    return LatencyDecision(
        dict(estimates), used, float(value), round(value), polarity, worst, agree, msg, moved
    )


def _moved(diffs: dict[str, float]) -> float | None:
    """How far the through-gear estimates moved from the calibrated latency, when every one
    of them is outside what the gear can explain on the same side; else None."""
    if not diffs:
        return None
    below = all(d < GEAR_WINDOWS[k][0] for k, d in diffs.items())
    above = all(d > GEAR_WINDOWS[k][1] for k, d in diffs.items())
    return min(diffs.values(), key=abs) if below or above else None
