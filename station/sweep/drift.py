"""Drift anchors: the same setting captured again and compared with its first capture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..analysis import esr, rms_dbfs
from ..reamp import read_mono


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
    y, _, _ = read_mono(Path(session) / anchor_id / "output.wav")
    ref, _, _ = read_mono(Path(session) / reference_id / "output.wav")
    n = min(len(y), len(ref))
    change_db = rms_dbfs(y[:n]) - rms_dbfs(ref[:n])
    return DriftResult(
        anchor_id, reference_id, esr(y[:n], ref[:n]), change_db, esr_max, level_db_max
    )
