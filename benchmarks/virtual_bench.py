"""Helpers for benchmarks and tests: calibrate a virtual rig as a user's first step would."""

from __future__ import annotations

from station.drivers.base import StreamSpec
from station.interface.calibrate import CalibrationSettings, calibrate, to_profile
from station.interface.profiles import Profile
from station.virtual.rig import VirtualRig


def calibrated_profile(
    rig: VirtualRig,
    name: str = "virtual",
    spec: StreamSpec | None = None,
    timing: tuple[int, int] | None = None,
) -> Profile:
    """Calibrate `rig` with the station's own procedure (its meter, cables patched as asked)
    and return the profile; `timing` = (output, input) of a timing reference."""
    spec = spec or StreamSpec(48000, 1, 1)
    out, in_ = timing or (None, None)
    settings = CalibrationSettings(spec, timing_out=out, timing_in=in_)
    result = calibrate(rig.interface, rig.meter, settings, confirm=rig.act_on)
    return to_profile(name, rig.interface, spec, result)
