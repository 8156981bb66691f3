"""A virtual overdrive pedal whose knobs and switches are turned by the virtual servos.

Its drive, tone and level knobs and boost and clip switches sit on the servo
bench's channels 0–4 (see servos); the pedal reads them when a stream starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..rig.profiles import RigProfile
from .gear import Amp
from .servos import (
    OD_KNOBS,
    OD_SWITCHES,
    Controls,
    ServoBench,
    read_controls,
    truth_rig,
    virtual_bench_path,
)

# The bench lived here before the preamp joined it: code importing it from here still works.
__all__ = [
    "OD_KNOBS",
    "OD_SWITCHES",
    "KnobbedOverdrive",
    "ServoBench",
    "virtual_bench_path",
    "virtual_pedal_rig",
]


@dataclass
class KnobbedOverdrive(Amp):
    """An overdrive pedal whose drive, tone, level, boost and clip follow the servo bench."""

    name: str = "knobbed overdrive"
    description: str = (
        "an overdrive with drive, tone and level knobs and boost and clip switches, turned by "
        "the virtual servo rig"
    )
    highpass_hz: float = 60.0
    servos: Controls | None = None  # None: every control at its middle mark

    def settings(self) -> tuple[dict[str, float], dict[str, str]]:
        """The pedal's knob values and switch positions now (at their middle marks without
        servos)."""
        return read_controls(self.servos, OD_KNOBS, OD_SWITCHES)

    def reset(self, samplerate: int) -> None:
        """Read the knobs (they do not move while a stream runs) and rebuild the filters."""
        knobs, switches = self.settings()
        d, t, lvl = (min(max(knobs[n] / 10.0, 0.0), 1.0) for n in ("drive", "tone", "level"))
        self.drive = (1.0 + 80.0 * d**2) * (4.0 if switches["boost"] == "on" else 1.0)
        self.clip_v = {"si": 0.6, "led": 1.6, "off": 5.0}[switches["clip"]]
        self.asymmetry = 0.3 if switches["clip"] == "si" else 0.0
        self.lowpass_hz = min(700.0 * 20.0**t, 0.45 * samplerate)
        self.level = 0.05 + 1.5 * lvl**2
        super().reset(samplerate)


def virtual_pedal_rig(name: str = "vpedal", slew_us_per_s: float = 300.0) -> RigProfile:
    """A rig profile for the virtual overdrive's drive and tone knobs and boost switch (port
    'virtual'), its points read off the bench's truths: what a careful calibration finds.
    For the demo and tests."""
    return truth_rig(name, OD_KNOBS[:2], OD_SWITCHES[:1], slew_us_per_s)
