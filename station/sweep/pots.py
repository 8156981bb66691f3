"""Feedback pots: where a knob is, read by a pot its knob turns (the pins-fb firmware).

Without feedback pots the firmware's POS reports the pulse it sent; with them, each pot's
ADC reading says where the knob went, which is not where the horn went when the horn
slipped on its shaft. moved.py judges a capture by them where they exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..drivers.rig_constants import (
    FB_AT_500,
    FB_AT_2500,
    FB_TOLERANCE,
    PULSE_MAX_US,
    PULSE_MIN_US,
)

# A pot within the firmware's own on-target tolerance agrees (20 ADC counts: about 39 µs).
POT_TOLERANCE_US = FB_TOLERANCE * (PULSE_MAX_US - PULSE_MIN_US) / (FB_AT_2500 - FB_AT_500)


def pot_us(adc: int) -> int:
    """A feedback pot's ADC reading as the pulse (µs) it stands for, as the firmware's
    feedback_to_us() computes it (integer arithmetic, clamped to 500–2500 µs)."""
    span = FB_AT_2500 - FB_AT_500
    us = PULSE_MIN_US + (adc - FB_AT_500) * (PULSE_MAX_US - PULSE_MIN_US) // span
    return min(max(us, PULSE_MIN_US), PULSE_MAX_US)


@dataclass(frozen=True)
class PotReading:
    """Where a feedback pot says a control is, against the pulse sent to its servo."""

    control: str
    channel: int
    target_us: int
    pot_us: int

    @property
    def agrees(self) -> bool:
        """True when the pot is within the firmware's on-target tolerance of the target."""
        return abs(self.pot_us - self.target_us) <= POT_TOLERANCE_US

    def said(self) -> str:
        """'drive's pot reads 1210 µs, 1490 µs sent'."""
        return f"{self.control}'s pot reads {self.pot_us} µs, {self.target_us} µs sent"


def pot_readings(
    rig_profile: Mapping[str, Any] | None,
    controls: Iterable[str],
    pulses_us: Mapping[str, int],
    feedback_adc: Mapping[str, int],
) -> tuple[PotReading, ...]:
    """The pot readings of the named controls that have a pot, from a rig profile (its JSON
    snapshot) and a move's journal record (`pulses_us`, `feedback_adc`: channel → value)."""
    if not rig_profile or not feedback_adc:
        return ()
    named = set(controls)
    out = []
    for spec in [*rig_profile.get("knobs", []), *rig_profile.get("switches", [])]:
        ch = str(spec.get("channel"))
        if spec.get("name") in named and ch in feedback_adc and ch in pulses_us:
            target = int(pulses_us[ch])
            out.append(PotReading(spec["name"], int(ch), target, pot_us(int(feedback_adc[ch]))))
    return tuple(out)
