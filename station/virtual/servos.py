"""The virtual servo bench: horns that turn printed knobs and push lever switches.

Every knobbed virtual gear sits on this one bench, each control with its own
servo channel: the overdrive on channels 0–4, the preamp on 5–9 (more than
the pins firmware's 6 channels, so the twin is the PCA9685 variant's 16). A
horn turns its knob through a linkage that is not the identity (a gear ratio,
a horn mounted a few degrees off, a crank's non-linearity, and on some knobs
a servo mounted the other way round), so the pulse that puts a pointer on a
printed mark is only found by calibrating. Knobs stop at their end stops;
switches are levers that latch into a position once a horn pushes them far
enough. The linkages belong to the bench (how each servo was mounted), the
printed marks to the gear's panel; the gear's sound follows the knob values
the horns have set.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..drivers.rig_constants import PULSE_MAX_US, PULSE_MIN_US
from ..fsutil import atomic_write_text
from ..home import rigs_dir
from ..rig.profiles import KnobSpec, RigProfile, SwitchSpec

log = logging.getLogger("station.rig")

US_PER_DEG = (PULSE_MAX_US - PULSE_MIN_US) / 180.0  # a hobby servo: 500–2500 µs over 180°


def servo_deg(pulse_us: float) -> float:
    """Horn angle (degrees, 0 at 1500 µs) for a pulse width."""
    return (pulse_us - 1500.0) / US_PER_DEG


@dataclass(frozen=True)
class Linkage:
    """How a horn turns a knob: knob° = ratio·(horn° − offset) + wobble·sin(2·horn°)."""

    ratio: float = 2.0
    offset_deg: float = 0.0
    wobble_deg: float = 0.0

    def knob_deg(self, pulse_us: float) -> float:
        """The knob angle the horn at `pulse_us` would give (ignoring end stops)."""
        h = servo_deg(pulse_us)
        return self.ratio * (h - self.offset_deg) + self.wobble_deg * math.sin(math.radians(2 * h))

    def pulse_at(self, knob_deg: float) -> float:
        """The pulse (µs) that turns the knob to `knob_deg` (the linkage is monotone)."""
        grid = np.linspace(PULSE_MIN_US, PULSE_MAX_US, 8001)
        deg = np.array([self.knob_deg(p) for p in grid])
        if deg[0] > deg[-1]:
            grid, deg = grid[::-1], deg[::-1]
        return float(np.interp(knob_deg, deg, grid))


@dataclass(frozen=True)
class PrintedKnob:
    """A knob with marks min..max printed at pointer angles start_deg..end_deg."""

    name: str
    channel: int
    linkage: Linkage
    min: float = 0.0
    max: float = 10.0
    start_deg: float = -150.0
    end_deg: float = 150.0
    stop_margin_deg: float = 4.0  # the pot turns a little past its printed ends

    def value_at_deg(self, knob_deg: float) -> float:
        """The printed value under the pointer at `knob_deg`."""
        frac = (knob_deg - self.start_deg) / (self.end_deg - self.start_deg)
        return self.min + frac * (self.max - self.min)

    def deg_of(self, value: float) -> float:
        """The pointer angle of the printed value `value`."""
        return self.start_deg + (value - self.min) / (self.max - self.min) * (
            self.end_deg - self.start_deg
        )

    def true_pulse_us(self, value: float) -> float:
        """The pulse that puts the pointer exactly on `value` (what calibration should find)."""
        return self.linkage.pulse_at(self.deg_of(value))

    def stop_pulses_us(self) -> tuple[float, float]:
        """The horn positions (µs, low then high) where the knob hits its end stops."""
        a = self.linkage.pulse_at(self.start_deg - self.stop_margin_deg)
        b = self.linkage.pulse_at(self.end_deg + self.stop_margin_deg)
        return (min(a, b), max(a, b))


@dataclass(frozen=True)
class LeverSwitch:
    """A toggle pushed by a horn: it latches into `positions[i]` once the horn passes
    `thresholds_deg[i-1]` going up (or falls back below it going down, with hysteresis)."""

    name: str
    channel: int
    positions: tuple[str, ...]
    thresholds_deg: tuple[float, ...]
    hysteresis_deg: float = 8.0

    def latch(self, current: str, horn_deg: float) -> str:
        """The position after the horn moved to `horn_deg` from a lever at `current`."""
        i = self.positions.index(current)
        while (
            i + 1 < len(self.positions) and horn_deg > self.thresholds_deg[i] + self.hysteresis_deg
        ):
            i += 1
        while i > 0 and horn_deg < self.thresholds_deg[i - 1] - self.hysteresis_deg:
            i -= 1
        return self.positions[i]

    def true_pulse_us(self, position: str) -> float:
        """A pulse that surely latches `position` (mid-way between its thresholds)."""
        i = self.positions.index(position)
        edges = (-90.0, *self.thresholds_deg, 90.0)
        return 1500.0 + (edges[i] + edges[i + 1]) / 2 * US_PER_DEG


# The overdrive pedal on channels 0–4.
OD_KNOBS = (
    PrintedKnob("drive", 0, Linkage(2.0, 7.0, 10.0)),
    PrintedKnob("tone", 1, Linkage(-1.9, -3.0, 14.0)),  # its servo is mounted the other way
    PrintedKnob("level", 2, Linkage(2.1, 2.0, -8.0)),
)
OD_SWITCHES = (
    LeverSwitch("boost", 3, ("off", "on"), (0.0,)),
    LeverSwitch("clip", 4, ("si", "led", "off"), (-30.0, 30.0)),
)
# The amp preamp on channels 5–9, each linkage its own: bass and treble servos are mounted
# the other way round, and the bright lever flips at −20°, not at the middle.
PREAMP_KNOBS = (
    PrintedKnob("gain", 5, Linkage(1.95, -4.0, 9.0)),
    PrintedKnob("bass", 6, Linkage(-2.05, 3.0, -12.0)),
    PrintedKnob("middle", 7, Linkage(2.15, 1.5, 11.0)),
    PrintedKnob("treble", 8, Linkage(-1.9, -5.0, 7.0)),
)
PREAMP_SWITCHES = (LeverSwitch("bright", 9, ("off", "on"), (-20.0,)),)


class Controls(Protocol):
    """Where a gear's knobs and switches are: a servo bench, or set by hand."""

    def knob_values(self) -> dict[str, float]:
        """Knob name → the printed value its pointer shows."""
        ...

    def switch_positions(self) -> dict[str, str]:
        """Switch name → where its lever is."""
        ...


@dataclass
class SetControls:
    """Controls set by hand (no servos): for benchmarks and tests that name a setting."""

    knobs: dict[str, float] = field(default_factory=dict)
    switches: dict[str, str] = field(default_factory=dict)

    def knob_values(self) -> dict[str, float]:
        """The knob values given."""
        return dict(self.knobs)

    def switch_positions(self) -> dict[str, str]:
        """The switch positions given."""
        return dict(self.switches)


def at_middle(knobs: Iterable[PrintedKnob], switches: Iterable[LeverSwitch]) -> SetControls:
    """Controls out of the box: every knob at its middle mark, every lever in its first place."""
    return SetControls(
        {k.name: (k.min + k.max) / 2 for k in knobs}, {s.name: s.positions[0] for s in switches}
    )


def read_controls(
    controls: Controls | None, knobs: Iterable[PrintedKnob], switches: Iterable[LeverSwitch]
) -> tuple[dict[str, float], dict[str, str]]:
    """One gear's own knob values and switch positions as `controls` show them; a control
    they do not show (or no controls at all) is at its middle mark or first position."""
    middle = at_middle(knobs, switches)
    shown_knobs = controls.knob_values() if controls is not None else {}
    shown_switches = controls.switch_positions() if controls is not None else {}
    return (
        {name: shown_knobs.get(name, value) for name, value in middle.knobs.items()},
        {name: shown_switches.get(name, pos) for name, pos in middle.switches.items()},
    )


@dataclass
class Slip:
    """A horn slipping on its control's shaft: the control stays where the horn at `seat_us`
    put it. `persistent`: it slips on every move; else the horn catches again once it comes
    back to `seat_us` (a move away and back re-seats it)."""

    seat_us: float
    persistent: bool
    left: bool = False  # the horn has moved away from the seat since it slipped


@dataclass
class ServoBench:
    """Where each servo horn on the virtual bench is (µs-equivalent), and what it has set.

    Thread-safe: the firmware twin moves horns while the gear reads knobs. With a
    `state_path` the horns keep their positions between runs, as real knobs do.
    A horn can be made to slip (a fault for tests): the servo turns, the knob does not.
    """

    knobs: tuple[PrintedKnob, ...] = OD_KNOBS + PREAMP_KNOBS
    switches: tuple[LeverSwitch, ...] = OD_SWITCHES + PREAMP_SWITCHES
    state_path: Path | None = None
    horn_us: dict[int, float] = field(default_factory=dict)
    levers: dict[str, str] = field(default_factory=dict)
    slips: dict[int, Slip] = field(default_factory=dict)  # channel → its slipping horn

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        middle = at_middle(self.knobs, self.switches)
        for k in self.knobs:  # out of the box: every knob at its middle mark
            self.horn_us.setdefault(k.channel, k.true_pulse_us(middle.knobs[k.name]))
        for s in self.switches:
            self.horn_us.setdefault(s.channel, s.true_pulse_us(s.positions[0]))
            self.levers.setdefault(s.name, s.positions[0])
        if self.state_path is not None:
            self.load()

    def limits_us(self, channel: int) -> tuple[float, float]:
        """How far the horn on `channel` can physically turn (a knob's end stops)."""
        for k in self.knobs:
            if k.channel == channel:
                return k.stop_pulses_us()
        return (float(PULSE_MIN_US), float(PULSE_MAX_US))

    def drive(self, channel: int, pulse_us: float) -> float:
        """The servo pushes its horn toward `pulse_us`; returns where it got (stops hold it)."""
        lo, hi = self.limits_us(channel)
        at = min(max(pulse_us, lo), hi)
        with self._lock:
            before = self.horn_us.get(channel, at)
            self.horn_us[channel] = at
            if self._still_slipping(channel, before, at):
                return at
            for s in self.switches:
                if s.channel == channel:
                    self.levers[s.name] = s.latch(self.levers[s.name], servo_deg(at))
        return at

    def _still_slipping(self, channel: int, before: float, at: float) -> bool:
        """Whether the horn's move from `before` to `at` leaves its control behind (the lock
        held); a slip that is not persistent ends where the horn passes its seat again."""
        slip = self.slips.get(channel)
        if slip is None:
            return False
        if slip.persistent:
            return True
        if slip.left and min(before, at) <= slip.seat_us <= max(before, at):
            del self.slips[channel]  # back where the control sits: the horn catches it
            return False
        slip.left = slip.left or abs(at - slip.seat_us) > 1.0
        return True

    def slip(self, channel: int, *, persistent: bool = True) -> None:
        """A fault for tests: the horn on `channel` slips on its control's shaft. The servo
        turns (the firmware's POS says the commanded pulse) but the knob or lever stays
        where it is: for good (`persistent`, until `grip`), or until the horn comes back to
        where the control sits (a move away and back), where it catches again."""
        with self._lock:
            seat = self.horn_us.get(channel, 1500.0)
            self.slips[channel] = Slip(seat, persistent)

    def grip(self, channel: int) -> None:
        """The slipping horn on `channel` is seated again, its control turned to where the
        horn points (as a user fixing it would)."""
        with self._lock:
            self.slips.pop(channel, None)
            at = self.horn_us.get(channel)
            for s in self.switches:
                if s.channel == channel and at is not None:
                    self.levers[s.name] = s.latch(self.levers[s.name], servo_deg(at))

    def horn(self, channel: int) -> float | None:
        """Where the horn on `channel` is (µs), None for a channel with nothing attached."""
        with self._lock:
            return self.horn_us.get(channel)

    def control_us(self, channel: int) -> float | None:
        """Where the control on `channel` is, as the horn position that put it there (µs): the
        horn's own unless it slipped (what a feedback pot on the knob reads); None with
        nothing attached."""
        with self._lock:
            return self._control_us(channel) if channel in self.horn_us else None

    def knob_values(self) -> dict[str, float]:
        """Knob name → the printed value its pointer shows now."""
        with self._lock:
            return {
                k.name: k.value_at_deg(k.linkage.knob_deg(self._control_us(k.channel)))
                for k in self.knobs
            }

    def _control_us(self, channel: int) -> float:
        slip = self.slips.get(channel)
        return slip.seat_us if slip is not None else self.horn_us[channel]

    def switch_positions(self) -> dict[str, str]:
        """Switch name → where its lever is now."""
        with self._lock:
            return dict(self.levers)

    def pointer_text(self, channel: int) -> str:
        """What a user sees on the control on `channel`, e.g. 'drive pointer at 4.98'."""
        for k in self.knobs:
            if k.channel == channel:
                value = self.knob_values()[k.name]
                return f"{k.name} pointer at {0.0 if abs(value) < 0.005 else value:.2f}"
        for s in self.switches:
            if s.channel == channel:
                return f"{s.name} lever at {self.switch_positions()[s.name]}"
        return "nothing attached"

    def save(self) -> None:
        """Write the horn positions and levers to `state_path` (if any), atomically."""
        if self.state_path is None:
            return
        with self._lock:
            data = {"horn_us": {str(c): u for c, u in self.horn_us.items()}, "levers": self.levers}
        try:
            atomic_write_text(self.state_path, json.dumps(data, indent=1) + "\n")
        except OSError as exc:  # a simulation's memory is not worth failing a command over
            log.warning("cannot save the virtual bench to %s: %s", self.state_path, exc)

    def load(self) -> None:
        """Read horn positions saved by an earlier run (a damaged file is ignored)."""
        assert self.state_path is not None
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(Path(self.state_path).read_text())
            horns = {int(c): float(u) for c, u in data["horn_us"].items()}
            levers = {str(n): str(p) for n, p in data["levers"].items()}
            with self._lock:
                self.horn_us.update(horns)
                self.levers.update(
                    {
                        s.name: levers[s.name]
                        for s in self.switches
                        if levers.get(s.name) in s.positions
                    }
                )


def virtual_bench_path(home: Path) -> Path:
    """Where a station home keeps the virtual bench's horn positions between runs."""
    return rigs_dir(home) / "virtual-bench.json"


def truth_rig(
    name: str,
    knobs: Iterable[PrintedKnob],
    switches: Iterable[LeverSwitch],
    slew_us_per_s: float,
) -> RigProfile:
    """A rig profile (port 'virtual') whose points are read off the bench's truths: what a
    careful calibration of these controls finds, a point at each of 11 evenly spaced marks."""
    specs = [
        KnobSpec(
            k.name,
            k.channel,
            k.min,
            k.max,
            [(v, round(k.true_pulse_us(v))) for v in np.linspace(k.min, k.max, 11)],
        )
        for k in knobs
    ]
    levers = [
        SwitchSpec(s.name, s.channel, {p: round(s.true_pulse_us(p)) for p in s.positions})
        for s in switches
    ]
    return RigProfile(name, "virtual", "1.0.0-twin", slew_us_per_s, specs, levers)
