"""Did the gear change when its controls did? Judged from the sound, for a horn that slipped.

Without feedback pots the firmware's POS reports the pulse it commanded, not where
the knob is: a horn that slipped on its shaft turns, the knob stays, and the rig
reports success. The sound tells. Each capture is compared with the one taken just
before it (both aligned to a fraction of a sample, as drift anchors are). A change
of controls whose sound differs no more than two takes of one setting do, or far
less than changes of that size differ elsewhere in the session, is "unmoved".
With feedback firmware, a pot turned by the knob says where it is: a pot far from
the pulse sent is "unmoved" whatever the sound, and pots that agree on every
changed control mean it moved, however little the sound changed. Without pots, a
move that turns several controls is made one control at a time with a probe after
each (stepwise.py): each control's own step is judged by the same rules, and a
control whose step (and a move on past where it was and back) changed nothing is
"unmoved".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..plan.design import Setting
from .drift import compare_outputs
from .journal import SweepState
from .pots import PotReading, pot_readings
from .session import Session, committed_capture

# ESR between two captures grows with the square of a small change of setting (the
# difference signal grows linearly). How fast differs a hundredfold between knobs and
# places in the knob space (measured on the virtual pedal: ESR/distance² from 0.02 to 6.4
# over one sweep), so the session predicts only the least a change gives: the lower tenth
# of its changes' ratios. Over six sweeps of the virtual pedal and preamp (tests/sweep/
# test_unmoved.py makes one) a moved setting's ESR came as low as 1/37 of that prediction
# (a boost switched on while drive and tone turned the other way: the two nearly cancel),
# while a slipped horn's take gave 3e-5 of it: a thousandth leaves about thirty times room
# on either side.
FAR_BELOW = 0.001  # unmoved when the ESR is under this share of the least the session predicts
LOW_QUANTILE = 0.1
# Two takes of one setting differ by the noise of both; a change of setting adds to that.
# Over the same sweeps a slipped horn's take came at 1.1 times the floor, a moved setting at
# 66 000 times or more: ten times leaves room for gear that drifts a little between takes.
FLOOR_FACTOR = 10.0  # unmoved when the ESR is within this factor of what two takes differ by
MIN_HISTORY = 3  # changes needed before the session's figures predict anything
COMPARE_S = 10.0  # seconds of each output compared (v3: the first validation copy)
LEVEL = "reamp level"  # a change of the reamp level: a change of sound no servo makes


def sounds_same(esr: float | None, floor_esr: float | None, expected: float | None) -> bool:
    """True when an ESR between two recordings is no more than `floor_esr` (what two of one
    state differ by) allows for no change, or far below the least `expected` of the change."""
    if esr is None or floor_esr is None:
        return False  # nothing to compare with
    if esr <= FLOOR_FACTOR * floor_esr:
        return True
    return expected is not None and esr < FAR_BELOW * expected


@dataclass(frozen=True)
class StepVerdict:
    """One control judged alone by the probes of a stepwise move: its own step (`step`, a
    probed event; None when it was not turned) and the move on past it and back that
    confirmed it (`excursion`; None when the step was heard)."""

    control: str
    step: Mapping[str, Any] | None
    excursion: Mapping[str, Any] | None

    @property
    def unmoved(self) -> bool:
        """True when the last probe that judged the control heard no change."""
        last = self.excursion or self.step or {}
        return bool(last.get("unmoved"))

    def said(self) -> str:
        """What the probes found, with the numbers."""
        parts = []
        if self.step is not None:
            s = self.step
            was = "" if s.get("from") is None else f"{shown(s['from'])} → "
            parts.append(
                f"{self.control} turned alone ({was}{shown(s.get('to'))}) changed the sound by "
                f"an ESR of {s['esr']:.2g}, where two recordings of one state differ by about "
                f"{s['floor_esr']:.2g}"
            )
        if self.excursion is not None:
            x = self.excursion
            parts.append(
                f"moved on to {shown(x.get('to'))} and back it changed it by {x['esr']:.2g}"
                + ("" if self.step is not None else f" (about {x['floor_esr']:.2g} for none)")
            )
        if self.step is None and parts:
            parts[0] = f"{self.control} " + parts[0]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The comparison's record of it."""
        return {
            "control": self.control,
            "unmoved": self.unmoved,
            "by": "excursion" if self.excursion is not None else "step",
        }


def shown(value: Any) -> str:
    """A knob's value ('7', '2.5') or a switch's position as a warning shows it."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def step_verdicts(probes: Iterable[Mapping[str, Any]]) -> tuple[StepVerdict, ...]:
    """Each control's verdict from a stepwise move's probed events, in the order judged."""
    steps: dict[str, Mapping[str, Any]] = {}
    excursions: dict[str, Mapping[str, Any]] = {}
    order: list[str] = []
    for e in probes:
        control, kind = e.get("control"), e.get("kind")
        if not control or not isinstance(e.get("unmoved"), bool):
            continue
        if control not in order:
            order.append(str(control))
        (steps if kind == "step" else excursions)[str(control)] = e
    return tuple(StepVerdict(c, steps.get(c), excursions.get(c)) for c in order)


@dataclass(frozen=True)
class ChangeCheck:
    """One capture against the one before it: what changed, how much the sound did."""

    setting_id: str
    previous_id: str | None  # None: the session's first capture, judged by its pots alone
    changed: tuple[str, ...]  # the controls whose values differ
    distance: float  # how far apart the settings are (each knob's range is 1, a switch 1)
    esr: float | None  # between the two outputs, after fractional alignment
    floor_esr: float | None  # what two takes of one setting differ by, in this session
    expected_esr: float | None  # the least a change this size gives elsewhere in the session
    pots: tuple[PotReading, ...] = ()  # feedback pots on the setting's controls, if any
    steps: tuple[StepVerdict, ...] = ()  # the controls a stepwise move's probes judged alone
    # An earlier capture of this very setting (an anchor's), not suspect, that this one sounds
    # as (within the floor): the gear is where it was then, whatever its horns did since.
    matches: str | None = None
    matches_esr: float | None = None

    @property
    def off_target(self) -> tuple[PotReading, ...]:
        """The pots that say their control is not where it was sent."""
        return tuple(p for p in self.pots if not p.agrees)

    @property
    def judged_by(self) -> str | None:
        """'pot' when feedback pots decide, 'sound' when the sound does, None when no control
        a servo sets changed (and no pot disagrees): nothing to judge."""
        if self.off_target:
            return "pot"
        if self.steps:
            return "sound"
        turned = [c for c in self.changed if c != LEVEL]
        if not turned:
            return None
        return "pot" if not self.unheard else "sound"

    @property
    def unheard(self) -> tuple[str, ...]:
        """The changed controls that neither an agreeing pot nor a probe judged alone: the
        sound of the whole change speaks for them."""
        judged = {p.control for p in self.pots if p.agrees} | {v.control for v in self.steps}
        return tuple(c for c in self.changed if c != LEVEL and c not in judged)

    @property
    def sounded_same(self) -> bool:
        """True when the sound changed no more than the session's figures allow for no change."""
        return sounds_same(self.esr, self.floor_esr, self.expected_esr)

    @property
    def unmoved(self) -> bool:
        """True when a pot says a control is not where it was sent, when a probe heard no
        change from a control turned alone, or when the controls changed but the sound, within
        the session's figures, did not (and no pots or probes say otherwise)."""
        by = self.judged_by
        if by == "pot":
            return bool(self.off_target)
        if self.matches is not None:
            return False
        if any(v.unmoved for v in self.steps):
            return True
        if self.steps and (not self.unheard or self.previous_id is None):
            return False  # every control judged alone, or nothing before to compare with
        return by == "sound" and self.sounded_same

    def message(self) -> str:
        """The warning a user reads, with the numbers."""
        if self.off_target:
            said = "; ".join(p.said() for p in self.off_target)
            return f"{self.setting_id}: {said}: did the knob move?"
        still = [v for v in self.steps if v.unmoved]
        if still:
            said = "; ".join(v.said() for v in still)
            return f"{self.setting_id}: {said}: did the knob move?"
        if self.esr is None or self.floor_esr is None:  # never unmoved: every control heard
            return f"{self.setting_id}: every control was heard turning"
        expected = (
            f", where changes of this size in this session give at least about "
            f"{self.expected_esr:.2g}"
            if self.expected_esr is not None
            else ""
        )
        return (
            f"{self.setting_id}: the gear sounded the same as at the last setting "
            f"({self.previous_id}; ESR {self.esr:.2g} after changing {', '.join(self.changed)}"
            f"{expected}; two takes of one setting differ by {self.floor_esr:.2g}): "
            "did the knob move?"
        )

    def to_json(self) -> dict[str, Any]:
        """The journal's record of the comparison."""
        return {
            "id": self.setting_id,
            "previous": self.previous_id,
            "changed": list(self.changed),
            "distance": self.distance,
            "esr": self.esr,
            "floor_esr": self.floor_esr,
            "expected_esr": self.expected_esr,
            "pots": [{**asdict(p), "agrees": p.agrees} for p in self.pots],
            "probed": [v.to_json() for v in self.steps],
            "matches": self.matches,
            "matches_esr": self.matches_esr,
            "judged_by": self.judged_by,
            "unmoved": self.unmoved,
        }


def setting_change(
    a: Setting, b: Setting, knob_ranges: Mapping[str, tuple[float, float]]
) -> tuple[float, tuple[str, ...]]:
    """(distance, names of the controls that differ) between two settings.

    A knob's difference counts as a share of its printed range; a switch that moved, as 1.
    The distance is the root of the summed squares.
    """
    changed: list[str] = []
    total = 0.0
    for name in sorted(set(a.knobs) | set(b.knobs)):
        va, vb = a.knobs.get(name), b.knobs.get(name)
        if va is None or vb is None or va == vb:
            continue
        lo, hi = knob_ranges.get(name, (0.0, 1.0))
        span = hi - lo if hi > lo else 1.0
        changed.append(name)
        total += ((vb - va) / span) ** 2
    for name in sorted(set(a.switches) | set(b.switches)):
        if a.switches.get(name) != b.switches.get(name):
            changed.append(name)
            total += 1.0
    if a.reamp_dbu != b.reamp_dbu:
        # A level change is a change of sound too, but not one a servo makes.
        changed.append(LEVEL)
        total += 1.0
    return math.sqrt(total), tuple(changed)


def expected_esr(history: Iterable[tuple[float, float]], distance: float) -> float | None:
    """The least ESR a change of `distance` gives, from the session's (distance, ESR) changes.

    The lower tenth of ESR / distance² over them (their least when there are fewer than
    ten), times distance², capped at 1 (a change never predicts more than a whole
    signal's error). None with fewer than MIN_HISTORY changes to go on.
    """
    ratios = sorted(e / d**2 for d, e in history if d > 0 and math.isfinite(e) and e > 0)
    if len(ratios) < MIN_HISTORY:
        return None
    low = ratios[int(LOW_QUANTILE * (len(ratios) - 1))]
    return min(1.0, low * distance**2)


def check_change(
    session: Path,
    current: Setting,
    previous: Setting,
    *,
    knob_ranges: Mapping[str, tuple[float, float]],
    history: Iterable[tuple[float, float]],
    floor_esr: float,
    pots: Iterable[PotReading] = (),
    steps: Iterable[StepVerdict] = (),
    samplerate_window_s: float = COMPARE_S,
) -> ChangeCheck:
    """Compare SESSION/<current.id>/output.wav with SESSION/<previous.id>/output.wav.

    `history` holds the session's earlier (distance, ESR) changes judged moved;
    `floor_esr` what two takes of one setting differ by (replicates, anchors); `pots`
    the feedback pots' readings after the move to `current`, if the rig has any; `steps`
    the controls the move's probes judged alone, if it was made stepwise.
    """
    distance, changed = setting_change(previous, current, knob_ranges)
    diff = compare_outputs(
        Path(session) / current.id, Path(session) / previous.id, window_s=samplerate_window_s
    )
    return ChangeCheck(
        current.id,
        previous.id,
        changed,
        distance,
        diff.esr,
        floor_esr,
        expected_esr(history, distance),
        tuple(pots),
        tuple(steps),
    )


def replicate_esr(meta: Mapping[str, Any]) -> float | None:
    """A capture's replicate ESR (capture.json's `replicate_esr` check), None without one."""
    for c in meta.get("checks") or []:
        if c.get("name") == "replicate_esr" and isinstance(c.get("value"), int | float):
            return float(c["value"])
    return None


def floor_of(replicates: Iterable[float | None], anchors: Iterable[float]) -> float:
    """What two takes of one setting differ by: the larger of the two captures' replicate ESRs
    and the median ESR of the anchors that did not drift (0 when there is neither)."""
    values = [r for r in replicates if r is not None and math.isfinite(r)]
    steady = sorted(a for a in anchors if math.isfinite(a))
    if steady:
        values.append(steady[len(steady) // 2])
    return max(values, default=0.0)


def compare_with_previous(session: Session, state: SweepState, setting: Setting) -> ChangeCheck:
    """Compare `setting`'s capture with the capture accepted just before it in the session,
    with the session's figures so far (its journal, folded into `state`): the floor from
    the two captures' replicate ESRs and the steady anchors, the history of changes judged
    moved, and the pots read after the move to `setting` (feedback firmware).

    Raises LookupError when there is no earlier capture to compare with; StationError
    (SignalError) when an output cannot be read.
    """
    previous_id = state.last_accepted
    if previous_id is None or previous_id == setting.id:
        raise LookupError(f"no capture before {setting.id} to compare with")
    folder = session.folder
    metas = [committed_capture(folder, i) or {} for i in (setting.id, previous_id)]
    # An anchor left out as suspect (its knob did not move) is no measure of two good takes,
    # even when its drift stayed within the drift check's limits.
    steady = [
        float(a["esr"])
        for a in state.anchors
        if not a.get("drifted")
        and a.get("id") not in state.suspect
        and isinstance(a.get("esr"), int | float)
    ]
    history = [
        (float(c["distance"]), float(c["esr"]))
        for c in state.changes
        if not c.get("unmoved") and c.get("distance") and isinstance(c.get("esr"), int | float)
    ]
    check = check_change(
        folder,
        setting,
        session.setting(previous_id),
        knob_ranges={k.name: (k.min, k.max) for k in session.plan.request.knobs},
        history=history,
        floor_esr=floor_of([replicate_esr(m) for m in metas], steady),
        pots=pots_after_move(session, state, setting),
        steps=step_verdicts(state.probes.get(setting.id, [])),
    )
    if not check.unmoved or check.judged_by != "sound" or not check.floor_esr:
        return check
    return sounds_as_before(session, state, setting, check)


def sounds_as_before(
    session: Session, state: SweepState, setting: Setting, check: ChangeCheck
) -> ChangeCheck:
    """`check` with `matches` set when the capture sounds as the last earlier capture of this
    very setting (an anchor taken again) that was accepted and is not suspect: within
    FLOOR_FACTOR of what two takes of one setting differ by. A horn that stays slipped
    where this setting wants its knob cannot turn it, and the sound cannot hear a step
    that changes nothing, but the gear is where it was when that take was good."""
    floor = check.floor_esr or 0.0
    earlier = [
        s.id
        for s in session.schedule
        if s.id != setting.id
        and s.same_place(setting)
        and state.status.get(s.id) == "done"
        and s.id not in state.suspect
    ]
    if not earlier:
        return check
    try:
        found = compare_outputs(
            session.folder / setting.id, session.folder / earlier[-1], window_s=COMPARE_S
        )
    except StationError:  # that capture cannot be read: no second opinion
        return check
    if found.esr > FLOOR_FACTOR * floor:
        return check
    return replace(check, matches=earlier[-1], matches_esr=found.esr)


def pots_after_move(
    session: Session, state: SweepState, setting: Setting
) -> tuple[PotReading, ...]:
    """The feedback pots' readings of `setting`'s controls after the move to it (the journal's
    last `moved` for it); none without feedback firmware."""
    moved = state.moved_to.get(setting.id, {})
    return pot_readings(
        session.data.get("rig_profile"),
        [*setting.knobs, *setting.switches],
        moved.get("pulses_us") or {},
        moved.get("feedback_adc") or {},
    )


def check_alone(session: Session, state: SweepState, setting: Setting) -> ChangeCheck | None:
    """The session's first capture has none before it to compare with, but feedback pots
    still say where its controls are, and without pots the probes of its stepwise move
    what each control did: a check judged by them alone (no previous capture, no ESR), or
    None when there are neither (or the pots all agree)."""
    pots = pots_after_move(session, state, setting)
    steps = step_verdicts(state.probes.get(setting.id, []))
    off = tuple(p.control for p in pots if not p.agrees)
    if not off and not steps:
        return None
    named = off or tuple(v.control for v in steps)
    return ChangeCheck(setting.id, None, named, 0.0, None, None, None, pots, steps)
