"""Moving one control at a time with a probe after each, where only the sound can tell.

Without feedback pots the rig reports the pulse it sent, not where the knob went, and a
capture compared with the one before it says only whether the sound changed at all: when
several controls turned together, one whose horn slipped hides behind the others. So a
move to a setting that turns more than one control without a pot is made one control at
a time, with a probe (probes.py: a second of the reamp signal) after each step, and each
control's own step is judged by the rules moved.py judges captures by: no more change
than two recordings of one state differ by, or far less than that control's steps of this
size gave earlier in the session. A step that changed nothing may be too small to hear (a
knob moved a little, or within the dead end of its taper): the control is moved on past
where it was, by EXCURSION of its range, a probe taken there, and moved back; heard there,
it turns its knob (a horn that slipped often catches on the way); not heard, it is
unmoved, and the sweep moves away and back and takes the setting again, then marks it
suspect (run.py). Controls whose place before the move is unknown (the rig's board
started since) are stepped the same way, and a control found unmoved stays in doubt
until the sound hears it turn: each later setting moves it on and back once.

The probes are journalled (`probed`) as they are taken; moved.py reads the last move's
to judge the capture taken after it. With pots on every control, or a move that turns
only one control the capture comparison can judge alone, nothing of this happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..capture.run import PATCH_GEAR
from ..errors import DeviceLost, StationError, StreamError
from ..events import Confirm, Emit, StopFlag, Warning_
from ..plan.design import Setting
from .journal import SweepState
from .moved import expected_esr, floor_of, replicate_esr, shown, sounds_same
from .positioner import POSITION_TOLERANCE_US
from .probes import Probe, Prober, difference
from .session import Session, committed_capture

EXCURSION = 0.3  # of a knob's range: far enough to be heard wherever the knob is (measured)
# A probe whose noise is within 20 dB of its signal (the gear silent, or not patched) tells
# nothing: the steps compared with it are not judged.
QUIET = 0.01

Log = Callable[..., None]


@dataclass(frozen=True)
class Turn:
    """One control a stepwise move judges alone: its channel, the value or position it goes
    to and the pulse it was at before (None: unknown)."""

    name: str
    channel: int
    to: float | str
    before_us: int | None


@dataclass(frozen=True)
class Steps:
    """A stepwise move: the controls stepped one by one (each probed), those only moved on
    and back to be heard (`doubted`), the pulses moved at once first (controls with pots),
    and the capture the first step is compared with (None: a probe is taken first)."""

    turns: tuple[Turn, ...]
    doubted: tuple[Turn, ...]
    at_once: dict[int, int]
    reference: str | None


class Stepper:
    """Puts the gear at a setting through a positioner, stepwise where it is needed."""

    def __init__(
        self,
        session: Session,
        positioner: Any,
        prober: Prober,
        log: Log,
        emit: Emit,
        confirm: Confirm,
        wait_for_audio: Callable[[str, DeviceLost], None],
    ) -> None:
        self.session = session
        self.positioner = positioner
        self.prober = prober
        self.log = log
        self.emit = emit
        self.confirm = confirm  # asks for the gear to be patched before the first probe
        self.wait_for_audio = wait_for_audio

    def set(self, setting: Setting, state: SweepState, *, stop: StopFlag | None) -> dict[str, Any]:
        """Put the gear at `setting` (what Positioner.set returns, for the journal; with
        `probes` and `stepwise_s` when it went stepwise). Raises what the positioner raises
        (RigReset, RigLost, SettingUnreachable) and Stopped; a probe the interface spoilt
        three times ends the stepping with a warning (the capture is judged as a whole)."""
        steps = self.plan(setting, state)
        if steps is None:
            return self.positioner.set(setting, stop=stop)
        t0 = time.monotonic()
        judge = _Judge(self, setting, state, stop)
        try:
            self._run(setting, steps, judge, stop)
        except StreamError as exc:
            self.emit(
                Warning_(
                    f"{setting.id}: a probe between the controls' steps failed ({exc.message}); "
                    "the controls are moved together and the capture judged as a whole"
                )
            )
        moved = self.positioner.set(setting, stop=stop)  # all there: detach, re-check
        return moved | {"probes": judge.count, "stepwise_s": round(time.monotonic() - t0, 3)}

    def plan(self, setting: Setting, state: SweepState) -> Steps | None:
        """The stepwise move to `setting`, or None when a plain move does (a rig with a pot on
        every control that turns; by hand; or one control turned, the capture before it
        taken where the rig is, and that control not in doubt)."""
        where = getattr(self.positioner, "where", None)
        if where is None:
            return None
        profile = self.positioner.profile
        target = self.positioner.pulses(setting)
        if set(target) <= self.positioner.potted():
            return None  # a pot on every control: no need to ask the rig where it is
        pos, potted = where()
        turns: list[Turn] = []
        doubted: list[Turn] = []
        at_once: dict[int, int] = {}
        values: list[tuple[str, float | str]] = [*setting.knobs.items(), *setting.switches.items()]
        for name, to in values:
            ch = _spec(profile, name).channel
            was = pos.get(ch)
            moves = was is None or abs(was - target[ch]) > POSITION_TOLERANCE_US
            if ch in potted:
                if moves:
                    at_once[ch] = target[ch]
            elif moves:
                turns.append(Turn(name, ch, to, was))
            elif state.heard.get(name) is False:
                doubted.append(Turn(name, ch, to, was))
        reference = self._reference(setting, state, pos)
        if not turns and not doubted:
            return None
        alone = len(turns) == 1 and turns[0].before_us is not None and not doubted
        trusted = alone and state.heard.get(turns[0].name) is not False
        if trusted and not at_once and reference is not None:
            return None  # the capture comparison judges the one control alone
        return Steps(tuple(turns), tuple(doubted), at_once, None if at_once else reference)

    def _reference(self, setting: Setting, state: SweepState, pos: Mapping[int, Any]) -> str | None:
        """The capture accepted last, when the rig is still where it was taken and this
        setting plays at its level: what the first step is compared with."""
        last = state.last_accepted
        if last is None or committed_capture(self.session.folder, last) is None:
            return None
        before = self.session.setting(last)
        if self.session.level_of(before) != self.session.level_of(setting):
            return None
        there = self.positioner.pulses(before)
        if any(pos.get(ch) is None or abs(pos[ch] - us) > POSITION_TOLERANCE_US
               for ch, us in there.items()):  # fmt: skip
            return None
        return last

    def _run(self, setting: Setting, steps: Steps, judge: _Judge, stop: StopFlag | None) -> None:
        """Step each control with a probe after it, then move on and back each one not heard
        (or in doubt), with a probe there; journalled by `judge`."""
        sid = setting.id
        if steps.at_once:
            self.positioner.move_channels(sid, steps.at_once, stop=stop)
        if steps.reference is not None:
            judge.from_capture(steps.reference)
        if judge.last is None:
            judge.take("reference", None, None, None, 0.0)
        unheard: list[tuple[Turn, bool]] = []
        for t in steps.turns:
            move_s = self._move(sid, t, t.to, stop)
            if judge.take("step", t, judge.was(t), t.to, move_s):
                unheard.append((t, True))
        unheard += [(t, False) for t in steps.doubted]
        other_way = judge.state.unmoved.get(sid, 0) % 2 == 1  # a second try goes the other way
        for i, (t, turned) in enumerate(unheard):
            away = self.far(t, other_way)
            if away is None:
                continue
            move_s = self._move(sid, t, away, stop)
            still = judge.take("excursion", t, t.to, away, move_s)
            self._move(sid, t, t.to, stop)
            if turned and not still and t.before_us is not None:  # from a known place
                self.emit(
                    Warning_(
                        f"{sid}: {t.name} turned alone did not change the sound; moved on to "
                        f"{shown(away)} and back it did (a step too small to hear, or a horn "
                        "that slipped and caught again)"
                    )
                )
            if i < len(unheard) - 1:
                judge.take("back", t, away, t.to, 0.0)  # the next compares with the gear as now

    def _move(self, sid: str, t: Turn, to: float | str, stop: StopFlag | None) -> float:
        """Move one control to a value (knob) or position (switch); the seconds it took."""
        profile = self.positioner.profile
        knobs, switches = ({}, {t.name: to}) if isinstance(to, str) else ({t.name: to}, {})
        us = profile.pulses_for(knobs, switches)[t.channel]
        return float(self.positioner.move_channels(sid, {t.channel: us}, stop=stop))

    def far(self, t: Turn, other_way: bool) -> float | str | None:
        """Where to move a control on to and back from: a knob EXCURSION of the plan's range
        past where it was (toward the larger room when that is unknown, or the other way
        when `other_way`), a switch to where it was or the next position; None when the
        plan gives it nowhere else to go."""
        profile = self.positioner.profile
        if isinstance(t.to, str):
            choices = next(
                (c.positions for c in self.session.plan.request.switches if c.name == t.name), ()
            )
            position = _position_at(_spec(profile, t.name), t.before_us)
            others = [p for p in choices if p != t.to]
            if position in others and not other_way:
                return position
            return others[int(other_way) % len(others)] if others else None
        rng = next((k for k in self.session.plan.request.knobs if k.name == t.name), None)
        spec = _spec(profile, t.name)
        lo, hi = (rng.min, rng.max) if rng is not None else (spec.min, spec.max)
        lo, hi = max(lo, spec.min), min(hi, spec.max)
        reach = EXCURSION * (hi - lo)
        was = _value_at(spec, t.before_us)
        start = was if was is not None and abs(was - t.to) > 1e-9 else t.to
        way = 1.0 if start > t.to or (start == t.to and hi - t.to >= t.to - lo) else -1.0
        if other_way:
            way = -way
        for w in (way, -way):
            to = min(max(start + w * reach, lo), hi)
            if abs(to - t.to) >= 0.999 * reach:
                return to
        return None if hi <= lo else (lo if t.to - lo >= hi - t.to else hi)


class _Judge:
    """The probes of one stepwise move: each taken, compared with the one before it, judged
    and journalled."""

    def __init__(
        self, stepper: Stepper, setting: Setting, state: SweepState, stop: StopFlag | None
    ) -> None:
        self.s, self.setting, self.state, self.stop = stepper, setting, state, stop
        self.count = 0  # probes taken
        self.last: Probe | None = None
        self.against: int = 0  # the journal's number of the probe `last` is (0: a capture)
        self.capture: str | None = None
        self.floor = self._floor()

    def _floor(self) -> float:
        """What two recordings of one state differ by, beyond their noise: the replicate ESR
        of the capture accepted last (two takes seconds apart within one stream)."""
        last = self.state.last_accepted
        meta = committed_capture(self.s.session.folder, last) if last else None
        return floor_of([replicate_esr(meta or {})], ())

    def from_capture(self, sid: str) -> None:
        """Start from a capture's output over the probe's stretch (StationError: a probe)."""
        try:
            self.last = self.s.prober.of_capture(self.s.session.folder / sid)
            self.capture = sid
        except StationError:
            self.last = None

    def take(
        self,
        kind: str,
        t: Turn | None,
        was: float | str | None,
        to: float | str | None,
        move_s: float,
    ) -> bool:
        """Take a probe after `t` moved from `was` to `to`, judge it against the one before
        and journal it; True when it sounded the same (never for a reference or a move
        back, which are not judged)."""
        sid = self.setting.id
        self.s.confirm(PATCH_GEAR)
        while True:
            try:
                probe = self.s.prober.take(self.s.session.level_of(self.setting), stop=self.stop)
                break
            except DeviceLost as exc:
                self.s.wait_for_audio(sid, exc)
        self.count += 1
        fields: dict[str, Any] = {
            "id": sid,
            "probe": self.count,
            "kind": kind,
            "control": None if t is None else t.name,
            "to": to,
            "from": was,
            "against": self.against if self.last is not None else None,
            "capture": self.capture if self.last is not None and self.against == 0 else None,
            "move_s": round(move_s, 3),
            "probe_s": round(probe.seconds, 3),
        }
        same = False
        if self.last is not None and kind in ("step", "excursion") and t is not None:
            d = difference(self.last, probe)
            floor = max(d.noise_esr, self.floor)
            distance = _distance(self.s.positioner.profile, t.name, was, to)
            expected = None if distance is None else expected_esr(self._history(t.name), distance)
            same = d.noise_esr <= QUIET and sounds_same(d.esr, floor, expected)
            fields |= {
                "distance": distance,
                "esr": d.esr,
                "noise_esr": d.noise_esr,
                "floor_esr": floor,
                "expected_esr": expected,
                "unmoved": same if d.noise_esr <= QUIET else None,
            }
        self.s.log("probed", **fields)
        self.last, self.against, self.capture = probe, self.count, None
        return same

    def was(self, t: Turn) -> float | str | None:
        """The control's value or position before its step (None: unknown)."""
        spec = _spec(self.s.positioner.profile, t.name)
        if isinstance(t.to, str):
            return _position_at(spec, t.before_us)
        return _value_at(spec, t.before_us)

    def _history(self, control: str) -> list[tuple[float, float]]:
        """The session's (distance, ESR) of this control's probes that heard it turn."""
        return [
            (float(e["distance"]), float(e["esr"]))
            for events in self.state.probes.values()
            for e in events
            if e.get("control") == control and e.get("unmoved") is False and e.get("distance")
        ]


def _distance(
    profile: Any, name: str, was: float | str | None, to: float | str | None
) -> float | None:
    """How far a move took a control, as moved.setting_change counts it: a knob's change as a
    share of its printed range, a switch 1; None from an unknown place."""
    if was is None or to is None:
        return None
    if isinstance(to, str) or isinstance(was, str):
        return 1.0
    spec = _spec(profile, name)
    return abs(to - was) / (spec.max - spec.min)


def _spec(profile: Any, name: str) -> Any:
    """The rig profile's knob or switch called `name` (the plan was checked against it)."""
    return next(c for c in [*profile.knobs, *profile.switches] if c.name == name)


def _value_at(spec: Any, pulse_us: int | None) -> float | None:
    """The knob value a pulse sets (None for no pulse or one beyond its calibrated ends)."""
    if pulse_us is None:
        return None
    try:
        return round(float(spec.value_at(pulse_us)), 4)
    except (StationError, ValueError):
        return None


def _position_at(spec: Any, pulse_us: int | None) -> str | None:
    """The switch position a pulse sets (None for no pulse or none of its positions)."""
    return None if pulse_us is None else spec.position_at(pulse_us)
