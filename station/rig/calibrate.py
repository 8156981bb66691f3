"""Knob calibration of a servo rig: jog each servo until the pointer sits on a printed mark,
record the mark's value, and build the rig profile. Both front ends drive this one core.

Every jog is a slewed MOVE (the firmware never snaps a servo), and the caller
detaches in `finally`. `execute()` is the line-command language shared by the
CLI (typed or piped commands) and tests; the TUI calls the methods directly.
"""

from __future__ import annotations

import contextlib
import shlex
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..drivers.base import KnobRig
from ..drivers.rig_constants import PULSE_MAX_US, PULSE_MIN_US
from ..errors import KnobRangeError, RigError, StationError
from ..events import StopFlag
from .profiles import KnobSpec, RigProfile, SwitchSpec, check_control_name, strictly_monotone


class ShownSetting(Protocol):
    """Where the knobs and switches really are (the virtual pedal knows; real gear does not)."""

    def knob_values(self) -> dict[str, float]:
        """Each knob's value as its pointer shows it."""
        ...

    def switch_positions(self) -> dict[str, str]:
        """Each switch's position."""
        ...


FINE_US = 5
COARSE_US = 50

# The line commands, as (syntax, what it does): each face lists them at its own width.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("knob NAME CHANNEL [MIN MAX]", "calibrate a knob on a servo channel"),
    ("switch NAME CHANNEL", "calibrate a switch"),
    ("+ / -    ++ / --", "jog a fine (5 µs) / coarse (50 µs) step"),
    ("+N / -N   goto US", "jog by N µs / go to a pulse width"),
    (
        "mark VALUE",
        "the pointer is on the printed mark VALUE (a switch: a position name); do both ends "
        "and any marks between",
    ),
    ("undo", "drop the last mark"),
    ("where", "where the servo is"),
    ("done", "finish this knob or switch"),
    ("drop NAME", "forget a control (finished or not)"),
    ("save", "write the rig profile and stop"),
    ("quit", "stop without saving (asks when there is work)"),
)


def command_list(commands: Sequence[tuple[str, str]], width: int = 76, indent: int = 2) -> str:
    """The commands as a list `width` characters wide: each one's syntax (after `indent`
    spaces), then what it does, wrapped under itself."""
    syntax_width = max(len(syntax) for syntax, _ in commands)
    column = indent + syntax_width + 2
    lines: list[str] = []
    for syntax, what in commands:
        first, *more = textwrap.wrap(what, max(20, width - column)) or [""]
        lines.append(f"{' ' * indent}{syntax:<{syntax_width}}  {first}")
        lines += [" " * column + line for line in more]
    return "\n".join(lines)


HELP = f"""commands (one a line):
{command_list(COMMANDS)}
on a terminal: ←/→ fine, ↓/↑ coarse steps; Escape or Ctrl-C stops"""


@dataclass
class Draft:
    """A control being calibrated: its marks so far (value or position → µs)."""

    kind: str  # "knob" or "switch"
    name: str
    channel: int
    min: float | None = None
    max: float | None = None
    marks: dict[str, int] = field(default_factory=dict)  # text of the value → pulse
    # Each mark as made, with the pulse it replaced (None: a new mark), for undo.
    history: list[tuple[str, int | None]] = field(default_factory=list)

    def out_of_order(self) -> str | None:
        """Why the knob's marks are not monotone in the value, or None when they are."""
        if self.kind != "knob" or len(self.marks) < 2:
            return None
        points = sorted((float(v), us) for v, us in self.marks.items())
        if strictly_monotone([us for _, us in points]):
            return None
        return ", ".join(f"{v:g} at {us} µs" for v, us in points)

    def spec(self) -> KnobSpec | SwitchSpec:
        """The validated KnobSpec or SwitchSpec; RigError says what is missing."""
        if self.kind == "switch":
            return SwitchSpec(self.name, self.channel, dict(self.marks))
        points = sorted((float(v), us) for v, us in self.marks.items())
        if len(points) < 2:
            raise RigError(
                f"knob {self.name!r} has {len(points)} mark(s)",
                "mark at least both printed ends ('mark 0' ... 'mark 10')",
            )
        lo = points[0][0] if self.min is None else self.min
        hi = points[-1][0] if self.max is None else self.max
        return KnobSpec(self.name, self.channel, lo, hi, points)


class RigCalibration:
    """A calibration session on a connected rig; `look(channel)` describes what a user
    would see on the control (the virtual twin's pointer), or None on real hardware."""

    def __init__(
        self,
        rig: KnobRig,
        *,
        name: str,
        port: str,
        firmware_version: str,
        look: Callable[[int], str] | None = None,
        stop: StopFlag | None = None,
    ) -> None:
        from ..home import check_name

        self.rig = rig
        self.name = check_name(name)
        self.port = port
        self.firmware_version = firmware_version
        self.look = look
        self.stop = stop
        self.done: list[KnobSpec | SwitchSpec] = []
        self.current: Draft | None = None
        self.pulse_us: int | None = None

    # -- controls -------------------------------------------------------------------

    def begin(
        self, kind: str, name: str, channel: int, lo: float | None = None, hi: float | None = None
    ) -> str:
        """Start calibrating a knob or switch on `channel`; returns where its servo is."""
        check_control_name(name)
        if self.current is not None:
            self.finish()
        taken = {c.channel: c.name for c in self.done}
        if channel in taken or name in taken.values():
            raise RigError(
                f"{name!r} or channel {channel} is already calibrated",
                "each control has its own name and servo channel",
            )
        if lo is not None and hi is not None and not lo < hi:
            raise RigError(f"the range {lo:g}–{hi:g} is empty", "give MIN below MAX")
        self.current = Draft(kind, name, channel, lo, hi)
        pos = self.rig.positions()
        if channel not in pos:
            self.current = None
            raise RigError(f"the rig has no channel {channel}", "check the servo wiring")
        # A servo never driven since power-on reports no pulse (the firmware says '?').
        reported = pos[channel]
        known = reported is not None and PULSE_MIN_US <= reported <= PULSE_MAX_US
        self.pulse_us = reported if known else None
        return self.where()

    def _need(self) -> Draft:
        if self.current is None:
            raise RigError("no knob or switch chosen", "start with 'knob NAME CHANNEL'")
        return self.current

    def where(self) -> str:
        """One line: the channel, its pulse, and what the control shows (if known)."""
        d = self._need()
        if self.pulse_us is None:
            return (
                f"{d.kind} {d.name} (channel {d.channel}): not driven since power-on; "
                "start with 'goto 1500'"
            )
        text = f"{d.kind} {d.name} (channel {d.channel}) at {self.pulse_us} µs"
        if self.look is not None:
            text += f" — {self.look(d.channel)}"
        return text

    def goto(self, pulse_us: int) -> str:
        """Slew the current servo to `pulse_us` (kept within 500–2500 µs)."""
        d = self._need()
        target = min(max(int(pulse_us), PULSE_MIN_US), PULSE_MAX_US)
        try:
            reached = self.rig.move({d.channel: target}, stop=self.stop)
        except RigError:
            # Wherever it stopped, ask the rig rather than guess.
            self.pulse_us = self.rig.positions().get(d.channel) or self.pulse_us
            raise
        self.pulse_us = reached.get(d.channel, target)
        return self.where()

    def jog(self, delta_us: int) -> str:
        """Slew the current servo by `delta_us` from where it is."""
        self._need()
        if self.pulse_us is None:
            raise RigError(
                "the servo's position is unknown", "start with 'goto US', e.g. goto 1500"
            )
        return self.goto(self.pulse_us + delta_us)

    def mark(self, text: str) -> str:
        """Record the current pulse as the printed mark `text` (a number, or a position)."""
        d = self._need()
        if self.pulse_us is None:
            raise RigError("the servo's position is unknown", "move it first: goto US, then jog")
        if d.kind == "knob":
            try:
                value = float(text)
            except ValueError:
                raise RigError(
                    f"{text!r} is not a number", "type the value printed at the mark, e.g. 'mark 5'"
                ) from None
            if (d.min is not None and value < d.min) or (d.max is not None and value > d.max):
                raise RigError(f"{value:g} is outside {d.min:g}–{d.max:g}", "check the mark")
            key = f"{value:g}"
        else:
            key = text.strip()
            if not key or any(ch in key for ch in " =\"'"):
                raise RigError(f"{text!r} is not a position name", "e.g. 'mark on'")
        before = d.marks.get(key)
        d.marks[key] = self.pulse_us
        order = d.out_of_order()
        if order is not None:
            if before is None:
                del d.marks[key]
            else:
                d.marks[key] = before
            raise RigError(
                f"mark {key} at {self.pulse_us} µs is out of order: with it the pulses are "
                f"not monotone in the value ({order}); the mark was refused, the others kept",
                "put the pointer on the mark again and type it; 'undo' drops the last mark",
            )
        d.history.append((key, before))
        return f"{d.name}: {key} at {self.pulse_us} µs (marks: {self._marks(d)})"

    @staticmethod
    def _marks(d: Draft) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(d.marks.items(), key=lambda kv: kv[1]))

    def undo(self) -> str:
        """Drop the current control's last mark (a replaced mark gets its old pulse back)."""
        d = self._need()
        if not d.history:
            raise RigError(f"{d.name} has no mark to undo", "'drop NAME' forgets a control")
        key, before = d.history.pop()
        if before is None:
            del d.marks[key]
        else:
            d.marks[key] = before
        return f"{d.name}: mark {key} undone (marks: {self._marks(d) or 'none'})"

    def drop(self, name: str) -> str:
        """Forget a control, the one being calibrated or a finished one."""
        if self.current is not None and self.current.name == name:
            self.current = None
            self.pulse_us = None
            return f"{name} dropped"
        for c in self.done:
            if c.name == name:
                self.done.remove(c)
                return f"{name} dropped"
        names = [c.name for c in self.done] + ([self.current.name] if self.current else [])
        raise RigError(
            f"there is no control {name!r} to drop",
            f"controls so far: {', '.join(names) or 'none'}",
        )

    @property
    def unsaved(self) -> list[str]:
        """The controls calibrated (or begun) in this session: what quitting would lose."""
        return [c.name for c in self.done] + ([self.current.name] if self.current else [])

    def finish(self) -> str:
        """Validate the current control and add it to the profile."""
        d = self._need()
        try:
            spec = d.spec()
        except RigError as exc:  # its hint is for a profile file; here the marks can be fixed
            raise RigError(
                exc.said,
                f"mark again ('undo' drops the last mark), or 'drop {d.name}' to start over",
            ) from None
        self.done.append(spec)
        self.current = None
        self.pulse_us = None
        if isinstance(spec, KnobSpec):
            return f"knob {spec.name}: {spec.min:g}–{spec.max:g} over {len(spec.points)} marks"
        return f"switch {spec.name}: {', '.join(spec.positions)}"

    def profile(self) -> RigProfile:
        """The rig profile from every finished control (the current one is finished first)."""
        if self.current is not None:
            self.finish()
        if not self.done:
            raise RigError("nothing calibrated yet", "calibrate a knob first: 'knob drive 0'")
        speed = getattr(self.rig, "speed_us_per_s", 300.0)
        return RigProfile(
            name=self.name,
            port=self.port,
            firmware_version=self.firmware_version,
            slew_us_per_s=float(speed),
            knobs=[c for c in self.done if isinstance(c, KnobSpec)],
            switches=[c for c in self.done if isinstance(c, SwitchSpec)],
        )

    # -- the line-command language ---------------------------------------------------

    def execute(self, line: str) -> tuple[str, str | None]:
        """Run one command line; returns (what to show, 'save' | 'quit' | None).

        A user's mistake raises StationError; the session goes on after it.
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise StationError(f"cannot read {line!r}: {exc}", "see 'help'") from None
        if not words:
            return ("", None)
        cmd, args = words[0].lower(), words[1:]
        steps = {"+": FINE_US, "-": -FINE_US, "++": COARSE_US, "--": -COARSE_US}
        if cmd in steps and not args:
            return (self.jog(steps[cmd]), None)
        if cmd[0] in "+-" and cmd[1:].isdigit():
            return (self.jog(int(cmd)), None)
        if cmd in ("knob", "switch"):
            return (self._begin(cmd, args), None)
        if cmd == "goto" and len(args) == 1 and args[0].isdigit():
            return (self.goto(int(args[0])), None)
        if cmd == "mark" and len(args) == 1:
            return (self.mark(args[0]), None)
        if cmd == "where" and not args:
            return (self.where(), None)
        if cmd == "done" and not args:
            return (self.finish(), None)
        if cmd == "undo" and not args:
            return (self.undo(), None)
        if cmd == "drop" and len(args) == 1:
            return (self.drop(args[0]), None)
        if cmd == "speed" and len(args) == 1:
            self.rig.set_speed(float(args[0]))
            return (f"slew speed {float(args[0]):g} µs/s", None)
        if cmd == "save" and not args:
            return ("", "save")
        if cmd in ("quit", "exit") and not args:
            return ("", "quit")
        if cmd in ("help", "?"):
            return (HELP, None)
        raise StationError(f"unknown command {line.strip()!r}", "type 'help' for the commands")

    def _begin(self, kind: str, args: list[str]) -> str:
        usage = f"'{kind} NAME CHANNEL'" + (
            " or 'knob NAME CHANNEL MIN MAX'" if kind == "knob" else ""
        )
        if len(args) not in ((2, 4) if kind == "knob" else (2,)) or not args[1].isdigit():
            raise StationError(f"{kind} needs a name and a channel", f"use {usage}")
        lo = hi = None
        if len(args) == 4:
            try:
                lo, hi = float(args[2]), float(args[3])
            except ValueError:
                raise StationError("MIN and MAX must be numbers", f"use {usage}") from None
        return self.begin(kind, args[0], int(args[1]), lo, hi)


def parse_settings(
    profile: RigProfile, items: list[str]
) -> tuple[dict[str, float], dict[str, str]]:
    """`drive=5 boost=on` → knob values and switch positions; RigError for anything unknown."""
    knobs: dict[str, float] = {}
    switches: dict[str, str] = {}
    knob_names = {k.name for k in profile.knobs}
    switch_names = {s.name for s in profile.switches}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise RigError(f"{item!r} is not NAME=VALUE", "e.g. drive=5 tone=3.5 boost=on")
        if name in knobs or name in switches:
            raise RigError(f"{name} is given twice", f"give each control once, e.g. {item}")
        if name not in knob_names and name not in switch_names:
            raise KnobRangeError(
                f"rig {profile.name!r} has no knob or switch {name!r}",
                f"knobs: {', '.join(sorted(knob_names)) or 'none'}; "
                f"switches: {', '.join(sorted(switch_names)) or 'none'}",
            )
        if name in knob_names:
            try:
                knobs[name] = float(value)
            except ValueError:
                raise RigError(f"{name}={value}: not a number", "knobs take numbers") from None
        else:
            switches[name] = value
    profile.pulses_for(knobs, switches)  # refuses values outside the printed range, early
    return knobs, switches


def rig_status(
    profile: RigProfile, rig: KnobRig, port: str, bench: ShownSetting | None = None
) -> dict[str, Any]:
    """Each control's channel, pulse and value (None where the pulse is off its calibration)."""
    pos = rig.positions()
    knobs: dict[str, Any] = {}
    for k in profile.knobs:
        us = pos.get(k.channel)
        value = None
        if us is not None:
            with contextlib.suppress(StationError):
                value = round(k.value_at(us), 3)
        knobs[k.name] = {"channel": k.channel, "pulse_us": us, "value": value}
    switches: dict[str, Any] = {}
    for sw in profile.switches:
        at = pos.get(sw.channel)  # None: not driven since the rig powered on
        position = None if at is None else sw.position_at(at)
        switches[sw.name] = {"channel": sw.channel, "pulse_us": at, "position": position}
    out: dict[str, Any] = {
        "rig": profile.name,
        "port": port,
        "knobs": knobs,
        "switches": switches,
    }
    info = getattr(rig, "info", None)
    if info is not None:
        out["firmware_version"] = info.version
    if bench is not None:  # what the virtual pedal really shows, for comparison
        out["virtual_pedal"] = {
            "knobs": {n: round(v, 3) for n, v in bench.knob_values().items()},
            "switches": bench.switch_positions(),
        }
    return out
