"""Drift anchors: the same setting captured again and compared with its first capture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft

from ..capture.folder import read_capture_meta
from ..errors import SignalError, StationError
from ..reamp.files import read_mono
from ..signal.analysis import esr, estimate_delay, rms_dbfs
from ..signal.levels import return_rescale

ALIGN_WINDOW_S = 10  # seconds of each output used to measure their relative delay
ALIGN_GUARD = 64  # samples: the most two takes' alignments can differ by


@dataclass(frozen=True)
class DriftResult:
    """How an anchor capture differs from the first one: ESR and level change (dB)."""

    anchor_id: str
    reference_id: str
    esr: float
    level_change_db: float
    esr_max: float
    level_db_max: float

    @property
    def drifted(self) -> bool:
        """True when either difference is over its threshold."""
        return self.esr > self.esr_max or abs(self.level_change_db) > self.level_db_max

    def message(self) -> str:
        """The warning a user reads, with the numbers."""
        way = "rose" if self.level_change_db > 0 else "fell"
        hint = (
            "valves still warming?" if self.level_change_db > 0 else "a knob slipped, or a battery?"
        )
        return (
            f"the gear's output {way} {abs(self.level_change_db):.2f} dB since the first anchor "
            f"(ESR {self.esr:.4f} between {self.anchor_id} and {self.reference_id}; limits "
            f"{self.level_db_max:g} dB, {self.esr_max:g}): {hint}"
        )


def align_to(reference: np.ndarray, y: np.ndarray, samplerate: int) -> np.ndarray:
    """`y` shifted (by a fraction of a sample too) to line up with `reference`.

    Two takes of the same setting differ by the interface's stream-to-stream
    latency wobble, which whole-sample alignment leaves as a fraction; uncorrected,
    a fraction of a sample reads as an ESR of several hundredths on bright gear.
    """
    n = min(len(reference), len(y))
    seg = min(n, ALIGN_WINDOW_S * samplerate)
    pad = np.concatenate([np.zeros(ALIGN_GUARD), np.asarray(y[:seg], dtype=np.float64)])
    try:
        est = estimate_delay(reference[:seg], pad, samplerate, max_delay_samples=2 * ALIGN_GUARD)
    except SignalError:
        return np.asarray(y[:n], dtype=np.float64)  # silence or noise: nothing to align
    delay = est.delay_samples - ALIGN_GUARD
    m = scipy.fft.next_fast_len(n + 2 * ALIGN_GUARD)
    freqs = scipy.fft.rfftfreq(m)
    shifted = scipy.fft.irfft(scipy.fft.rfft(y[:n], m) * np.exp(2j * np.pi * freqs * delay), m)
    return shifted[:n]


def output_scale(capture: Path, reference: Path) -> float:
    """The factor that brings `capture`'s samples to `reference`'s return level (1 when either
    capture.json does not say its output level)."""
    try:
        ours = float(read_capture_meta(capture)["output_level_dbu"])
        theirs = float(read_capture_meta(reference)["output_level_dbu"])
    except (StationError, KeyError, TypeError, ValueError):
        return 1.0
    return return_rescale(ours, theirs)


@dataclass(frozen=True)
class OutputDifference:
    """How one capture's output differs from another's: ESR after alignment, level change."""

    esr: float
    level_change_db: float


def compare_outputs(
    folder: Path, reference: Path, *, window_s: float | None = None
) -> OutputDifference:
    """FOLDER/output.wav against REFERENCE/output.wav: the ESR after aligning them to a
    fraction of a sample, and the level change in dB; over the first `window_s` seconds
    (the whole outputs when None).

    A capture recorded at another return level (the return was measured again
    mid-session) is brought to the reference's first, by the two captures'
    `output_level_dbu`: the gear did not change because the interface did.
    """
    y, sr, _ = read_mono(Path(folder) / "output.wav")
    ref, _, _ = read_mono(Path(reference) / "output.wav")
    n = min(len(y), len(ref))
    if window_s is not None:
        n = min(n, int(window_s * sr))
    ref64 = np.asarray(ref[:n], dtype=np.float64)
    y = np.asarray(y[:n], dtype=np.float64) * output_scale(Path(folder), Path(reference))
    aligned = align_to(ref64, y, sr)
    # Compare away from the ends, where the circular shift wraps a few samples around.
    core = slice(ALIGN_GUARD, n - ALIGN_GUARD)
    change_db = rms_dbfs(y) - rms_dbfs(ref64)
    return OutputDifference(esr(aligned[core], ref64[core]), change_db)


def compare_anchor(
    session: Path,
    anchor_id: str,
    reference_id: str,
    *,
    esr_max: float,
    level_db_max: float,
) -> DriftResult:
    """Compare SESSION/<anchor_id>/output.wav with SESSION/<reference_id>/output.wav: ESR
    after aligning them to a fraction of a sample, and the level change in dB (at the
    reference's return level: see compare_outputs)."""
    d = compare_outputs(Path(session) / anchor_id, Path(session) / reference_id)
    return DriftResult(anchor_id, reference_id, d.esr, d.level_change_db, esr_max, level_db_max)
