"""Calibration as a front end starts it: check the name and stream, measure, save the profile.

The CLI and the TUI both calibrate through `calibrate_profile`, so both refuse
the same bad input with the same words and save the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..drivers.base import AudioInterface, Voltmeter
from ..drivers.meter import DEFAULT_ACCURACY, Ask, ManualMeter, MeterAccuracy, parse_accuracy
from ..errors import MeterError
from ..events import Confirm, Emit, StopFlag, Warning_, confirm_all, ignore
from ..home import check_name
from ..phrases import Phrase
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


ACCURACY_PROMPT = (
    f"Your meter's stated AC-volts accuracy, ± % of reading + counts (Enter: "
    f"{DEFAULT_ACCURACY.percent:g} % + {DEFAULT_ACCURACY.counts:g}, a typical handheld's)"
)


def choose_meter_accuracy(
    typed: str | None, kept: MeterAccuracy | None = None, ask: Ask | None = None
) -> MeterAccuracy:
    """The typed-in meter's accuracy: `typed`, else the one `kept` in settings, else asked
    once through `ask` (an empty answer takes the typical handheld's), else that default.

    Raises MeterError (one line) when `typed` is not an accuracy, or `ask` ends its input.
    """
    if typed is not None and typed.strip():
        try:
            return parse_accuracy(typed)
        except ValueError as exc:
            raise MeterError(str(exc), "see the AC volts table in the meter's manual") from None
    if kept is not None:
        return kept
    if ask is None:
        return DEFAULT_ACCURACY
    error: str | None = None
    while True:
        try:
            text = ask(ACCURACY_PROMPT, error)
        except EOFError:
            raise MeterError(
                "no meter accuracy was entered",
                Phrase("type it when asked (Enter for a typical handheld's), or {meter_accuracy}"),
            ) from None
        if not text.strip():
            return DEFAULT_ACCURACY
        try:
            return parse_accuracy(text)
        except ValueError as exc:
            error = str(exc)


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
    """Calibrate `interface` and save the profile `name` in `home` (replacing one so named).

    A typed-in meter whose accuracy is the assumed default is said so, first.
    """
    check_calibration(name, interface, settings)
    if isinstance(meter, ManualMeter) and meter.accuracy.assumed:
        emit(
            Warning_(
                Phrase(
                    "the meter's accuracy is taken as {accuracy}, a typical handheld's, in the "
                    "send's uncertainty: give your meter's with {meter_accuracy}",
                    accuracy=str(meter.accuracy),
                )
            )
        )
    result = calibrate(interface, meter, settings, emit=emit, confirm=confirm, stop=stop)
    profile = to_profile(name, interface, settings.spec, result, gain_note)
    replaced = profile_path(home, name).exists()
    return SavedCalibration(result, profile, save_profile(home, profile), replaced)
