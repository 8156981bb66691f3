"""Putting the gear at a setting: by the servo rig (move, detach, re-check) or by hand.

A servo that stalls (E_STALL) is let go and tried once more, slowly; if it stalls
again the setting cannot be reached (SettingUnreachable names the channel and its
control) and the sweep goes on without it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..drivers.rig import RigStall
from ..errors import RigError, StationError
from ..events import Prompt, StopFlag
from ..phrases import Phrase
from ..plan.design import Plan, Setting

POSITION_TOLERANCE_US = 1
SLOW_FACTOR = 4  # a stalled move is tried once more at this fraction of the slew speed
SLOWEST_US_PER_S = 20


class SettingUnreachable(StationError):
    """The rig cannot put the gear at a setting (a servo stalled twice): that setting fails,
    the sweep goes on."""


def describe(s: Setting) -> str:
    """'drive=4.44 tone=6.47 boost=off' (and the level when the setting has one)."""
    parts = [f"{k}={v:g}" for k, v in s.knobs.items()]
    parts += [f"{k}={v}" for k, v in s.switches.items()]
    if s.reamp_dbu is not None:
        parts.append(f"at {s.reamp_dbu:g} dBu")
    return " ".join(parts)


def left_alone(plan: Plan, rig_profile: Any) -> list[str]:
    """The rig's controls that the plan never sets (a plan made by hand may name only some)."""
    named = {k.name for k in plan.request.knobs} | {s.name for s in plan.request.switches}
    return [c.name for c in [*rig_profile.knobs, *rig_profile.switches] if c.name not in named]


def rig_controls(
    rig_profile: Any, pulses: dict[int, int], planned: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Where every control of the rig is, from the pulses POS reports: the knob's printed
    value or the switch's position where the rig profile maps the pulse, and whether the
    plan sets it. A pulse of 0 (or none) means the rig has not moved that servo since it
    powered on, so where it is is unknown."""
    chosen = set(planned)
    out: dict[str, dict[str, Any]] = {}
    for k in rig_profile.knobs:
        pulse = pulses.get(k.channel) or None
        value = None
        if pulse is not None:
            with contextlib.suppress(StationError, ValueError):
                value = round(float(k.value_at(pulse)), 3)
        out[k.name] = {
            "channel": k.channel,
            "pulse_us": pulse,
            "value": value,
            "set_by_plan": k.name in chosen,
        }
    for sw in rig_profile.switches:
        pulse = pulses.get(sw.channel) or None
        out[sw.name] = {
            "channel": sw.channel,
            "pulse_us": pulse,
            "position": None if pulse is None else sw.position_at(pulse),
            "set_by_plan": sw.name in chosen,
        }
    return out


def where(controls: dict[str, dict[str, Any]], names: Iterable[str]) -> str:
    """'tone at 4.2, boost on, level at 1350 µs': where the named controls are, in words."""
    parts = []
    for name in names:
        c = controls[name]
        shown = c.get("value", c.get("position"))
        if shown is not None:
            parts.append(f"{name} at {shown:g}" if isinstance(shown, float) else f"{name} {shown}")
        elif c["pulse_us"] is not None:
            parts.append(f"{name} at {c['pulse_us']} µs")
        else:
            parts.append(f"{name} where it is (not moved since the rig powered on)")
    return ", ".join(parts)


class Positioner(Protocol):
    """Something that sets the gear's knobs and switches to a setting."""

    label: str

    def check(self, settings: Iterable[Setting]) -> None:
        """Refuse (StationError) any setting this positioner cannot reach, before anything moves."""
        ...

    def set(self, s: Setting, *, stop: StopFlag | None) -> dict[str, Any]:
        """Put the gear at `s`; returns what was done, for the journal (with a rig, `controls`:
        where every control of the rig is, see `rig_controls`)."""
        ...

    def close(self) -> None:
        """Leave the bench safe (servos detached, port closed)."""
        ...


class RigPositioner:
    """Moves a KnobRig (station.drivers.base) to the pulses a rig profile gives a setting."""

    def __init__(self, rig: Any, profile: Any) -> None:
        self.rig = rig
        self.profile = profile
        self.label = f"rig {profile.name}"
        self.last_move_s = 0.0
        self._speed_owed = False  # the rig is not at the profile's slew speed

    def check(self, settings: Iterable[Setting]) -> None:
        """Every setting maps to pulses on this rig (its pulses_for refuses unknown names and
        values outside the printed ranges)."""
        for s in settings:
            try:
                self.profile.pulses_for(dict(s.knobs), dict(s.switches))
            except (StationError, ValueError, KeyError) as exc:
                msg = exc.message if isinstance(exc, StationError) else str(exc)
                raise StationError(
                    f"setting {s.id} cannot be set on rig {self.profile.name!r}: {msg}",
                    Phrase(
                        "was the plan made for another rig? make it with {plan_for_rig}",
                        rig=self.profile.name,
                    ),
                ) from None

    def pulses(self, s: Setting) -> dict[int, int]:
        """Channel → µs for setting `s`, from the rig profile."""
        return {int(ch): int(us) for ch, us in self.profile.pulses_for(s.knobs, s.switches).items()}

    def set(self, s: Setting, *, stop: StopFlag | None) -> dict[str, Any]:
        """Move (returns on DONE), detach, then re-check with POS; one more move if a channel
        is not where it was sent; StationError if it still is not. A stall is retried once
        (see `_move`); SettingUnreachable if it stalls again."""
        pulses = self.pulses(s)
        pos, stalls = self._go(s.id, pulses, stop)
        # Feedback firmware's pots (turned by the knobs) say where the knobs are, not the horns.
        pots = dict(getattr(self.rig, "feedback_adc", None) or {})
        done = {
            "pulses_us": pulses,
            "positions_us": {ch: pos[ch] for ch in pulses},
            "move_s": self.last_move_s,
            **({"feedback_adc": pots} if pots else {}),
            "controls": rig_controls(self.profile, pos, [*s.knobs, *s.switches]),
        }
        return done | ({"stalled": stalls} if stalls else {})

    def move_channels(self, sid: str, pulses: dict[int, int], *, stop: StopFlag | None) -> float:
        """Move only these channels (the others stay where they are), detach them and re-check
        them, as `set` does a whole setting (`sid` names it in errors); the seconds it took."""
        self._go(sid, pulses, stop)
        return self.last_move_s

    def where(self) -> tuple[dict[int, int | None], frozenset[int]]:
        """Where the rig says each channel is (POS: the pulse last sent, None for one not
        driven since the board started) and the channels with a feedback pot."""
        pos = self.rig.positions()
        return dict(pos), self.potted()

    def potted(self) -> frozenset[int]:
        """The channels with a feedback pot, as the last POS said (none before the first)."""
        return frozenset(getattr(self.rig, "feedback_adc", None) or {})

    def _go(
        self, sid: str, pulses: dict[int, int], stop: StopFlag | None
    ) -> tuple[dict[int, Any], list[dict[str, Any]]]:
        """Move, detach and re-check the channels of `pulses` (see `set`): the positions POS
        gave and the stalls survived."""
        t0 = time.monotonic()
        if self._speed_owed:  # a stall's slow retry could not set the speed back
            self.rig.set_speed(self.profile.slew_us_per_s)
            self._speed_owed = False
        stalls: list[dict[str, Any]] = []
        for attempt in (1, 2):
            stalls += self._move(sid, pulses, stop)
            self.rig.detach(list(pulses))
            pos = self.rig.positions()
            wrong = {
                ch: pos.get(ch)
                for ch, us in pulses.items()
                if pos.get(ch) is None or abs(pos[ch] - us) > POSITION_TOLERANCE_US
            }
            if not wrong:
                break
            if attempt == 2:
                detail = ", ".join(
                    f"channel {ch} at {wrong[ch]} µs, sent {pulses[ch]} µs" for ch in wrong
                )
                raise StationError(
                    f"the rig did not reach setting {sid}: {detail}",
                    "check the servo wiring and power",
                )
        self.last_move_s = time.monotonic() - t0
        return pos, stalls

    def _named(self, channel: int | None) -> str:
        """'channel 0 (drive)': a servo channel and the control on it."""
        if channel is None:
            return "a servo (the rig did not say which)"
        names = [c.name for c in [*self.profile.knobs, *self.profile.switches]]
        chans = [c.channel for c in [*self.profile.knobs, *self.profile.switches]]
        on = [n for n, c in zip(names, chans, strict=True) if c == channel]
        return f"channel {channel}" + (f" ({on[0]})" if on else "")

    def _move(
        self, sid: str, pulses: dict[int, int], stop: StopFlag | None
    ) -> list[dict[str, Any]]:
        """Move; a servo that stalls is let go (DETACH) and the move tried once more at a
        quarter of the speed, which is set back after. Returns the stall survived, for the
        journal; SettingUnreachable when the retry stalls too."""
        try:
            self.rig.move(pulses, stop=stop)
            return []
        except RigStall as exc:
            stall = {"channel": exc.channel, "control": self._named(exc.channel)}
        self.rig.detach(list(pulses))
        speed = self.profile.slew_us_per_s
        slow = max(SLOWEST_US_PER_S, round(speed / SLOW_FACTOR))
        self._speed_owed = True
        self.rig.set_speed(slow)
        try:
            self.rig.move(pulses, stop=stop)
        except RigStall as again:
            with contextlib.suppress(RigError):
                self.rig.detach(list(pulses))
            raise SettingUnreachable(
                f"the servo on {self._named(again.channel)} stalled moving to {sid}, and "
                f"again at {slow} µs/s after it was let go",
                "something holds that control (past its end stop, a jammed linkage): free it; "
                "resuming the session takes the setting again",
            ) from None
        finally:
            with contextlib.suppress(RigError):  # a port gone now: `set` sets it later
                self.rig.set_speed(speed)
                self._speed_owed = False
        return [stall | {"retried_us_per_s": slow}]

    def verify(self, s: Setting) -> bool:
        """After a take: True when the rig still holds the pulses of `s` (POS). Raises RigReset
        when the board restarted meanwhile (its banner comes first), RigLost when its port
        went away."""
        pos = self.rig.positions()
        return all(
            pos.get(ch) is not None and abs(pos[ch] - us) <= POSITION_TOLERANCE_US
            for ch, us in self.pulses(s).items()
        )

    def reconnect(self, port: str | None) -> str:
        """Open the rig's port again (or `port`, a new name), after it went away; the port's
        name. RigError while it is not there."""
        self.rig.reconnect(port)
        return str(self.rig.name)

    def controls(self) -> dict[str, dict[str, Any]]:
        """Where every control of the rig is now (POS), none of them set by a plan yet."""
        return rig_controls(self.profile, self.rig.positions(), ())

    def close(self) -> None:
        """Detach every channel and close the port (errors here must not hide the real one)."""
        with contextlib.suppress(Exception):
            self.rig.detach(None)
        with contextlib.suppress(Exception):
            self.rig.close()


class ManualPositioner:
    """Asks the user to set the gear by hand (`--rig none`), listing the values."""

    label = "by hand"

    def __init__(self, confirm: Callable[[Prompt], None]) -> None:
        self.confirm = confirm

    def check(self, settings: Iterable[Setting]) -> None:
        """Anything can be set by hand."""

    def set(self, s: Setting, *, stop: StopFlag | None) -> dict[str, Any]:
        """Prompt with the values and wait for the user."""
        self.confirm(
            Prompt("set_knobs", f"Set the gear for {s.id}: {describe(s)}, then press Enter.")
        )
        return {"by_hand": True}

    def close(self) -> None:
        """Nothing to leave safe."""
