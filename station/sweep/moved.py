"""Did the gear change when its controls did? Judged from the sound, for a horn that slipped.

Without feedback pots the firmware's POS reports the pulse it commanded, not where
the knob is: a horn that slipped on its shaft turns, the knob stays, and the rig
reports success. The sound tells. Each capture is compared with the one taken just
before it (both aligned to a fraction of a sample, as drift anchors are). A change
of controls whose sound differs no more than two takes of one setting do, or far
less than changes of that size differ elsewhere in the session, is "unmoved".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan.design import Setting
from .drift import compare_outputs

# ESR between two captures grows with the square of a small change of setting (the
# difference signal grows linearly). How fast differs a hundredfold between knobs and
# places in the knob space (measured on the virtual pedal: ESR/distance² from 0.02 to 6.4
# over one sweep), so the session predicts only the least a change gives: the lower tenth
# of its changes' ratios. A moved knob's ESR was never seen below a twentieth of that.
FAR_BELOW = 0.01  # unmoved when the ESR is under this share of the least the session predicts
LOW_QUANTILE = 0.1
# Two takes of one setting differ by the noise of both; a change of setting adds to that.
FLOOR_FACTOR = 2.0  # unmoved when the ESR is within this factor of what two takes differ by
MIN_HISTORY = 3  # changes needed before the session's figures predict anything
COMPARE_S = 10.0  # seconds of each output compared (v3: the first validation copy)


@dataclass(frozen=True)
class ChangeCheck:
    """One capture against the one before it: what changed, how much the sound did."""

    setting_id: str
    previous_id: str
    changed: tuple[str, ...]  # the controls whose values differ
    distance: float  # how far apart the settings are (each knob's range is 1, a switch 1)
    esr: float  # between the two outputs, after fractional alignment
    floor_esr: float  # what two takes of one setting differ by, in this session
    expected_esr: float | None  # the least a change this size gives elsewhere in the session

    @property
    def unmoved(self) -> bool:
        """True when the controls changed but the sound, within the session's figures, did not."""
        if not self.changed:
            return False
        if self.esr <= FLOOR_FACTOR * self.floor_esr:
            return True
        return self.expected_esr is not None and self.esr < FAR_BELOW * self.expected_esr

    def message(self) -> str:
        """The warning a user reads, with the numbers."""
        expected = (
            f", where changes of this size in this session give at least about "
            f"{self.expected_esr:.2g}"
            if self.expected_esr is not None
            else ""
        )
        return (
            f"{self.setting_id}: the gear sounded the same as at the last setting "
            f"({self.previous_id}; ESR {self.esr:.2g} after changing {', '.join(self.changed)}"
            f"{expected}; two takes of one setting differ by {self.floor_esr:.2g}): "
            "did the knob move?"
        )

    def to_json(self) -> dict[str, Any]:
        """The journal's record of the comparison."""
        return {
            "id": self.setting_id,
            "previous": self.previous_id,
            "changed": list(self.changed),
            "distance": self.distance,
            "esr": self.esr,
            "floor_esr": self.floor_esr,
            "expected_esr": self.expected_esr,
            "unmoved": self.unmoved,
        }


def setting_change(
    a: Setting, b: Setting, knob_ranges: Mapping[str, tuple[float, float]]
) -> tuple[float, tuple[str, ...]]:
    """(distance, names of the controls that differ) between two settings.

    A knob's difference counts as a share of its printed range; a switch that moved, as 1.
    The distance is the root of the summed squares.
    """
    changed: list[str] = []
    total = 0.0
    for name in sorted(set(a.knobs) | set(b.knobs)):
        va, vb = a.knobs.get(name), b.knobs.get(name)
        if va is None or vb is None or va == vb:
            continue
        lo, hi = knob_ranges.get(name, (0.0, 1.0))
        span = hi - lo if hi > lo else 1.0
        changed.append(name)
        total += ((vb - va) / span) ** 2
    for name in sorted(set(a.switches) | set(b.switches)):
        if a.switches.get(name) != b.switches.get(name):
            changed.append(name)
            total += 1.0
    if a.reamp_dbu != b.reamp_dbu:
        # A level change is a change of sound too, but not one a servo makes.
        changed.append("reamp level")
        total += 1.0
    return math.sqrt(total), tuple(changed)


def expected_esr(history: Iterable[tuple[float, float]], distance: float) -> float | None:
    """The least ESR a change of `distance` gives, from the session's (distance, ESR) changes.

    The lower tenth of ESR / distance² over them (their least when there are fewer than
    ten), times distance², capped at 1 (a change never predicts more than a whole
    signal's error). None with fewer than MIN_HISTORY changes to go on.
    """
    ratios = sorted(e / d**2 for d, e in history if d > 0 and math.isfinite(e) and e > 0)
    if len(ratios) < MIN_HISTORY:
        return None
    low = ratios[int(LOW_QUANTILE * (len(ratios) - 1))]
    return min(1.0, low * distance**2)


def check_change(
    session: Path,
    current: Setting,
    previous: Setting,
    *,
    knob_ranges: Mapping[str, tuple[float, float]],
    history: Iterable[tuple[float, float]],
    floor_esr: float,
    samplerate_window_s: float = COMPARE_S,
) -> ChangeCheck:
    """Compare SESSION/<current.id>/output.wav with SESSION/<previous.id>/output.wav.

    `history` holds the session's earlier (distance, ESR) changes judged moved;
    `floor_esr` what two takes of one setting differ by (replicates, anchors).
    """
    distance, changed = setting_change(previous, current, knob_ranges)
    diff = compare_outputs(
        Path(session) / current.id, Path(session) / previous.id, window_s=samplerate_window_s
    )
    return ChangeCheck(
        current.id,
        previous.id,
        changed,
        distance,
        diff.esr,
        floor_esr,
        expected_esr(history, distance),
    )
