"""One exception tree for everything a user can cause or fix."""

from __future__ import annotations

from .phrases import Phrase, as_phrase


class StationError(Exception):
    """A failure the user can understand: what went wrong and what to do about it.

    `said` and `advice` are phrases each face words its own way (the CLI names
    its flags, the TUI its fields); `message` and `hint` are them in plain words.
    """

    def __init__(self, message: str | Phrase, hint: str | Phrase = "") -> None:
        self.said = as_phrase(message)
        self.advice = as_phrase(hint)
        super().__init__(str(self.said))

    @property
    def message(self) -> str:
        """What went wrong, in plain words."""
        return str(self.said)

    @property
    def hint(self) -> str:
        """What to do about it, in plain words ("" when there is nothing to say)."""
        return str(self.advice)

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.advice else self.message


class DeviceError(StationError):
    """An audio device, channel or sample rate cannot be used as asked."""


class DeviceLost(DeviceError):
    """The audio device went away (unplugged, its driver lost it): gone until it is back."""


class MeterError(StationError):
    """A voltmeter did not answer, answered garbage or gave an implausible reading."""


class SignalError(StationError):
    """A measurement found no usable signal (nothing patched, clipping, too noisy)."""


class StreamError(StationError):
    """The audio stream failed mid-take (overflow, underflow): a spoilt take, played again.
    A device that went away is DeviceLost instead."""


class ProfileError(StationError):
    """An interface profile is missing, unreadable or of an unknown schema."""


class Stopped(StationError):
    """The user asked the procedure to stop; the hardware has been left safe."""

    def __init__(self, message: str = "stopped by the user") -> None:
        super().__init__(message, "nothing was saved from the interrupted step")


class RigError(StationError):
    """The servo rig or its profile failed: no answer, an error reply, a bad calibration."""


class KnobRangeError(RigError, ValueError):
    """A knob value or switch position outside what the rig profile calibrated."""
