"""Latency of a capture by every method, and which one to align with (DESIGN §3).

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

from . import analysis
from .errors import SignalError

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


@dataclass(frozen=True)
class LatencyDecision:
    """Every estimate (samples, beyond the pre-roll), the one used, and why."""

    estimates: dict[str, float | None]
    used: str
    latency_samples: float
    shift_samples: int  # whole samples removed from the front when aligning
    polarity: int
    disagreement_samples: float
    agree: bool
    message: str


def decide(estimates: dict[str, float | None], polarity: int) -> LatencyDecision:
    """Use the loopback latency when the blip and broadband estimates agree with it within
    2 samples (the gear's own delay then stays in the output); else the blip estimate."""
    loop = estimates.get("loopback")
    others = {k: v for k, v in estimates.items() if k in ("blip", "xcorr") and v is not None}
    if loop is None and not others:
        raise SignalError("no latency estimate is available", "re-run the calibration")
    ref = loop if loop is not None else next(iter(others.values()))
    diffs = {k: v - ref for k, v in others.items()}
    worst = max((abs(d) for d in diffs.values()), default=0.0)
    agree = worst <= AGREEMENT_SAMPLES
    detail = ", ".join(f"{k} {v:.2f}" for k, v in estimates.items() if v is not None)
    if loop is not None and agree:
        used, value = "loopback", loop
        msg = (
            f"methods agree within {worst:.2f} samples ({detail})"
            if others
            else f"only the loopback latency is available ({detail}): the blips and "
            "cross-correlation found nothing to cross-check it with"
        )
    elif estimates.get("blip") is not None:
        used, value = "blip", float(estimates["blip"])  # type: ignore[arg-type]
        msg = (
            f"methods disagree by up to {worst:.2f} samples ({detail}); aligned with the "
            "blip estimate"
        )
    else:
        used, value = ("loopback", loop) if loop is not None else ("xcorr", others["xcorr"])
        msg = f"only {used} is available ({detail})"
    return LatencyDecision(
        dict(estimates), used, float(value), round(value), polarity, worst, agree, msg
    )
