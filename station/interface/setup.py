"""Calibration as a front end starts it: check the name and stream, measure, save the profile.

The CLI and the TUI both calibrate through `calibrate_profile`, so both refuse
the same bad input with the same words and save the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..drivers.base import AudioInterface, Voltmeter
from ..events import Confirm, Emit, StopFlag, confirm_all, ignore
from ..home import check_name
from .calibrate import CalibrationResult, CalibrationSettings, calibrate, to_profile
from .profiles import Profile, profile_path, save_profile


@dataclass(frozen=True)
class SavedCalibration:
    """A finished calibration: what it measured, the profile saved, and whether it replaced one."""

    result: CalibrationResult
    profile: Profile
    path: Path
    replaced: bool


def check_calibration(name: str, interface: AudioInterface, settings: CalibrationSettings) -> None:
    """Refuse (StationError) a bad profile name, timing pair or stream before anything plays."""
    check_name(name)
    interface.validate(settings.timing_spec() or settings.spec)


def calibrate_profile(
    home: Path,
    name: str,
    interface: AudioInterface,
    meter: Voltmeter,
    settings: CalibrationSettings,
    *,
    gain_note: str = "",
    emit: Emit = ignore,
    confirm: Confirm = confirm_all,
    stop: StopFlag | None = None,
) -> SavedCalibration:
    """Calibrate `interface` and save the profile `name` in `home` (replacing one so named)."""
    check_calibration(name, interface, settings)
    result = calibrate(interface, meter, settings, emit=emit, confirm=confirm, stop=stop)
    profile = to_profile(name, interface, settings.spec, result, gain_note)
    replaced = profile_path(home, name).exists()
    return SavedCalibration(result, profile, save_profile(home, profile), replaced)
