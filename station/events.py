"""Events that procedures emit to whichever front end runs them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .phrases import Phrase


@dataclass(frozen=True)
class Step:
    """A procedure entered a named step; `text` says what happens now."""

    name: str
    text: str


@dataclass(frozen=True)
class Instruction:
    """Something the user must do at the bench now (shown big by the TUI)."""

    text: str


@dataclass(frozen=True)
class Progress:
    """How far a long action is, with a short message; `fraction` is 0–1 or None."""

    fraction: float | None
    message: str
    elapsed_s: float = 0.0
    remaining_s: float | None = None


@dataclass(frozen=True)
class EpochProgress(Progress):
    """Training ended an epoch of model `model` of `models`; the message says it in words."""

    epoch: int = 0
    epochs: int = 0
    esr: float | None = None  # validation ESR after this epoch
    best_esr: float | None = None  # the lowest so far: the model training keeps
    model: int = 1
    models: int = 1


@dataclass(frozen=True)
class BatchProgress(Progress):
    """Training is inside epoch `epoch` of `epochs` of model `model` of `models`: `batch` of
    its `batches` done. `fraction` counts the epochs before it too; a few a second at most."""

    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    model: int = 1
    models: int = 1


@dataclass(frozen=True)
class LevelReading:
    """A live level: what a meter or a return read, with units in the field name."""

    label: str
    level_dbfs: float | None = None
    vrms: float | None = None


@dataclass(frozen=True)
class Result:
    """A measured value for the user (name, value, unit, uncertainty)."""

    name: str
    value: float
    unit: str
    uncertainty: float | None = None


@dataclass(frozen=True)
class Warning_:
    """A condition that does not stop the procedure but the user should see (each face words it)."""

    text: str | Phrase


@dataclass(frozen=True)
class Prompt:
    """The procedure waits for the user: `kind` identifies the action (e.g. patch_loopback)."""

    kind: str
    text: str


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep is: the setting now (position in the schedule, 0-based, of `total`),
    its knob values and switch positions, the last verdict and the time left."""

    index: int
    total: int
    setting_id: str
    role: str
    knobs: dict[str, float]
    switches: dict[str, str]
    reamp_dbu: float | None
    done: int
    failed: int
    last_verdict: str
    elapsed_s: float
    remaining_s: float | None


@dataclass(frozen=True)
class DevicePaused:
    """A sweep waits for a device that went away (`device`: 'rig' or 'audio'): `text` says in
    one line what happened and what to do; `port` is the rig's port name it waits for."""

    device: str
    setting_id: str
    text: str | Phrase
    port: str | None = None


@dataclass(frozen=True)
class DeviceBack:
    """The device a sweep waited for is back (the rig on `port`) after `waited_s` seconds."""

    device: str
    setting_id: str
    waited_s: float
    port: str | None = None


Event = (
    Step
    | Instruction
    | Progress
    | LevelReading
    | Result
    | Warning_
    | Prompt
    | SweepProgress
    | DevicePaused
    | DeviceBack
)
Emit = Callable[[Event], None]


Confirm = Callable[[Prompt], None]  # waits until the user did what a Prompt asks


def ignore(_event: Event) -> None:
    """An emitter that drops every event."""


def confirm_all(_prompt: Prompt) -> None:
    """Confirm every prompt at once (the `--yes` behaviour)."""


@dataclass
class StopFlag:
    """A stop request shared between a front end and a procedure running in a worker."""

    _event: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        """Ask the procedure to stop at its next check."""
        self._event.set()

    def is_set(self) -> bool:
        """True once a stop was asked for."""
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`, waking early (and returning True) on a stop request."""
        return self._event.wait(timeout_s)
