"""Drift anchors: the same setting captured again and compared with its first capture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import esr, estimate_delay, rms_dbfs
from ..errors import SignalError
from ..reamp import read_mono

MATCH_S = 10.0  # the stretch, from the middle of the take, that times one take against another


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


def compare_anchor(
    session: Path,
    anchor_id: str,
    reference_id: str,
    *,
    esr_max: float,
    level_db_max: float,
) -> DriftResult:
    """Compare SESSION/<anchor_id>/output.wav with SESSION/<reference_id>/output.wav."""
    y, sr, _ = read_mono(Path(session) / anchor_id / "output.wav")
    ref, _, _ = read_mono(Path(session) / reference_id / "output.wav")
    n = min(len(y), len(ref))
    y = matched(y[:n], ref[:n], sr)
    change_db = rms_dbfs(y) - rms_dbfs(ref[:n])
    return DriftResult(anchor_id, reference_id, esr(y, ref[:n]), change_db, esr_max, level_db_max)


def matched(y: np.ndarray, ref: np.ndarray, samplerate: int, most_samples: int = 4) -> np.ndarray:
    """`y` moved by the fraction of a sample (up to `most_samples`) that best lines it up with
    `ref`. Two takes aligned to the whole sample can sit up to a sample apart, since each
    stream's latency has its own fraction; that is timing, not the gear drifting."""
    mid = len(y) // 2
    lo, hi = mid - int(MATCH_S * samplerate) // 2, mid + int(MATCH_S * samplerate) // 2
    if lo < most_samples:
        return np.asarray(y, dtype=np.float64)
    try:
        d = (
            estimate_delay(
                ref[lo:hi],
                y[lo - most_samples : hi + most_samples],
                samplerate,
                max_delay_samples=2 * most_samples,
            ).delay_samples
            - most_samples
        )
    except SignalError:
        return np.asarray(y, dtype=np.float64)
    if abs(d) > most_samples:
        return np.asarray(y, dtype=np.float64)
    spectrum = np.fft.rfft(np.asarray(y, dtype=np.float64))
    spectrum *= np.exp(2j * np.pi * np.fft.rfftfreq(len(y)) * d)
    return np.fft.irfft(spectrum, len(y))
