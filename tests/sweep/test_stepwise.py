"""Without feedback pots, a move that turns several controls is made one control at a time with a
probe after each (station/sweep/stepwise.py). Sweeps of the virtual pedal and preamp on the
firmware twin without pots: a horn that slips while another control turns is caught and never
trained on at the wrong place, one that catches again on the move past it is accepted there, a
lever that stays slipped is doubted at settings that leave it alone, and sweeps with no slip
(small steps and dead ends of a taper included) mark nothing suspect. Where each knob really was
during each take is the virtual bench's truth, noted as every stream begins."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

from station.events import SweepProgress, Warning_
from station.interface.profiles import save_profile
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.rig.motion import rig_model
from station.rig.profiles import RigProfile, save_rig
from station.sweep.journal import read_events
from station.sweep.moved import FLOOR_FACTOR
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions
from station.sweep.start import SweepStart, start_sweep
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.preamp import virtual_preamp_rig
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.sweep.test_unmoved import TwinBench

OD = virtual_pedal_rig(slew_us_per_s=3000.0)  # drive, tone, boost
PREAMP = virtual_preamp_rig(slew_us_per_s=3000.0)  # gain, bass, middle, treble, bright


def od(sid: str, role: str, drive: float, tone: float, boost: str) -> dict[str, Any]:
    return {"id": sid, "role": role, "knobs": {"drive": drive, "tone": tone},
            "switches": {"boost": boost}, "reamp_dbu": None}  # fmt: skip


def pre(sid: str, role: str, g: float, b: float, m: float, t: float, br: str) -> dict[str, Any]:
    return {"id": sid, "role": role, "knobs": {"gain": g, "bass": b, "middle": m, "treble": t},
            "switches": {"bright": br}, "reamp_dbu": None}  # fmt: skip


# s004 turns the drive (3 → 7) and the tone (6 → 2) at once from s003.
SLIP_OD = [
    od("a01", "anchor", 5, 5, "off"),
    od("s001", "train", 2, 3, "off"),
    od("s002", "train", 8, 7, "off"),
    od("s003", "train", 3, 6, "on"),
    od("s004", "train", 7, 2, "on"),
    od("s005", "train", 6, 2.5, "off"),
    od("a02", "anchor", 5, 5, "off"),
]
# s003 switches the boost on while the knobs turn; s004 leaves it on, s005 switches it off.
LEVER_OD = SLIP_OD[:-1]
# s002 turns the drive (5 → 7) and the tone (5 → 2) from the anchor a02; a03 goes back there.
ANCHOR_OD = [
    od("a01", "anchor", 5, 5, "off"),
    od("s001", "train", 2, 3, "off"),
    od("a02", "anchor", 5, 5, "off"),
    od("s002", "train", 7, 2, "off"),
    od("a03", "anchor", 5, 5, "off"),
]
# s002 turns the drive and the tone (4.5 → 2); the anchors want the tone at 5.
OFF_ANCHOR_OD = [
    od("a01", "anchor", 5, 5, "off"),
    od("s001", "train", 2, 4.5, "off"),
    od("s002", "train", 7, 2, "off"),
    od("a02", "anchor", 5, 5, "off"),
    od("s003", "train", 3, 6, "on"),
    od("a03", "anchor", 5, 5, "off"),
]
# Small steps among big ones: the tone by a fiftieth of a mark, the drive by a twentieth at the
# top of its range, where the pedal's clipping all but hides it.
SMALL_OD = [
    od("a01", "anchor", 5, 5, "off"),
    od("s001", "train", 2, 3, "off"),
    od("s002", "train", 8, 3.02, "on"),
    od("s003", "train", 9.95, 7, "on"),
    od("s004", "train", 10, 2, "off"),
    od("h001", "holdout", 1, 9, "on"),
    od("a02", "anchor", 5, 5, "off"),
]
# The preamp's gain and bass below a fiftieth of their travel pass nothing more (the taper's
# dead end): s002 and s004 turn them there while other knobs turn.
SMALL_PREAMP = [
    pre("a01", "anchor", 5, 5, 5, 5, "off"),
    pre("s001", "train", 0, 2, 8, 3, "off"),
    pre("s002", "train", 0.2, 2.5, 7, 3.5, "on"),
    pre("s003", "train", 7, 0, 7.05, 9, "on"),
    pre("s004", "train", 9.9, 0.1, 2, 9, "off"),
    pre("h001", "holdout", 3, 8, 1, 0, "off"),
    pre("a02", "anchor", 5, 5, 5, 5, "off"),
]


class StepSweep:
    """A sweep of `rig`'s virtual gear on the firmware twin without pots, of the given settings
    (None: 8 from the planner), a horn slipping on `slip` (control, setting) as the sweep
    reaches that setting: for good (`stays`), until the sweep moves on (`stays_there`), or
    until the horn passes where its control sits (`catches`)."""

    def __init__(
        self,
        home: Path,
        signal: Path,
        rig: RigProfile,
        settings: list[dict[str, Any]] | None,
        *,
        slip: tuple[str, str] | None = None,
        how: str = "stays_there",
    ) -> None:
        self.vrig = VirtualRig(speed=50.0)
        self.rig = rig
        save_profile(home, calibrated_profile(self.vrig, "v"))
        save_rig(home, rig)
        self.slip, self.how = slip, how
        self.slipped = False
        self.warnings: list[str] = []
        self.streams: list[tuple[float, dict[str, float], dict[str, str]]] = []
        start = SweepStart(
            plan_path=self._plan(home, settings),
            profile_name="v",
            rig_name=rig.name,
            out="sw",
            reamp_path=signal,
            options=SweepOptions(reamp_dbu=6.0, retakes=0),
        )
        bench = TwinBench(home, self.vrig, ())
        self.runner: SweepRunner = start_sweep(
            home, start, bench, self.vrig.act_on, emit=self.emit
        )
        self.folder = self.runner.session.folder
        self._witness()

    def _plan(self, home: Path, settings: list[dict[str, Any]] | None) -> Path:
        req = PlanRequest(
            knobs=tuple(KnobRange(k.name, k.min, k.max) for k in self.rig.knobs),
            switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in self.rig.switches),
            settings=8,
            holdout=1,
            anchor_every=4,
            seed=2,
            rig=self.rig.name,
        )
        plan = make_plan(req, rig_model(self.rig)).to_json()
        if settings is not None:
            plan["settings"] = settings
        path = home / "plan.json"
        path.write_text(json.dumps(plan))
        return path

    def _witness(self) -> None:
        """Note where every control physically is as each stream begins (the bench's truth)."""
        iface = self.vrig.interface
        run = iface.run
        servos = self.vrig.servos
        assert servos is not None

        def noted(spec, source, sink, **kw):  # type: ignore[no-untyped-def]
            knobs, levers = servos.knob_values(), servos.switch_positions()
            out = run(spec, source, sink, **kw)
            self.streams.append((time.time(), knobs, levers))
            return out

        iface.run = noted  # type: ignore[method-assign]

    def emit(self, event: Any) -> None:
        """Note warnings; slip the horn as the sweep reaches its setting."""
        if isinstance(event, Warning_):
            self.warnings.append(str(event.text))
        if not isinstance(event, SweepProgress) or self.slip is None:
            return
        servos = self.vrig.servos
        assert servos is not None
        control, at = self.slip
        channel = next(c.channel for c in [*self.rig.knobs, *self.rig.switches]
                       if c.name == control)  # fmt: skip
        if event.setting_id == at and not self.slipped:
            servos.slip(channel, persistent=self.how != "catches")
            self.slipped = True
        elif self.slipped and event.setting_id != at and self.how == "stays_there":
            servos.grip(channel)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in read_events(self.folder / "journal.jsonl") if e["event"] == kind]

    def trained_off_their_setting(self) -> list[str]:
        """Settings done and not suspect whose accepted take (the last stream before their
        last 'captured') had a knob more than 0.01 of a mark, or a lever, elsewhere."""
        session, state = self.runner.session, self.runner.state
        wrong = []
        last: dict[str, float] = {}
        for e in self.events("captured"):
            last[e["id"]] = dt.datetime.fromisoformat(e["time"]).timestamp()
        for sid, at in last.items():
            if state.status[sid] != "done" or sid in state.suspect:
                continue
            s = session.setting(sid)
            _, knobs, levers = [x for x in self.streams if x[0] <= at + 0.001][-1]
            if any(abs(knobs[k] - v) > 0.01 for k, v in s.knobs.items()) or any(
                levers[k] != p for k, p in s.switches.items()
            ):
                wrong.append(sid)
        return wrong


def heard_alone(e: dict[str, Any]) -> bool:
    """A probed step or excursion that heard its control turn."""
    return e["kind"] in ("step", "excursion") and e["unmoved"] is False


@pytest.mark.slow
def test_a_horn_slipping_while_another_control_turns_is_caught_and_left_out(
    home: Path, short_signal: Path
) -> None:
    s = StepSweep(home, short_signal, OD, SLIP_OD, slip=("drive", "s004"))
    summary = s.runner.run()
    assert summary.complete and not summary.failed
    assert summary.suspect == ["s004"] and summary.suspect_reasons == {"s004": "unmoved"}
    flagged = [e for e in s.events("compared") if e["unmoved"]]
    assert [e["id"] for e in flagged] == ["s004", "s004"]
    for e in flagged:
        assert e["changed"] == ["drive", "tone"] and e["previous"] == "s003"
        assert {"control": "drive", "unmoved": True, "by": "excursion"} in e["probed"]
        assert {"control": "tone", "unmoved": False, "by": "step"} in e["probed"]
        assert e["message"].startswith("s004: drive turned alone (3 → 7)")
        # The sound of the whole change (the tone's) says nothing of the drive.
        assert e["esr"] > 1e4 * FLOOR_FACTOR * e["floor_esr"]
    # Each try: the drive's own step and the move on past 3 and back heard nothing (no more
    # than two recordings of one state differ), the tone's step far more.
    tries = [p for p in s.events("probed") if p["id"] == "s004" and p["kind"] != "reference"]
    drive = [p for p in tries if p["control"] == "drive"]
    assert [(p["kind"], p["to"], p["unmoved"]) for p in drive] == [
        ("step", 7.0, True), ("excursion", 0.0, True)] * 2  # fmt: skip
    assert all(p["esr"] <= 2 * p["noise_esr"] for p in drive)
    tone = [p for p in tries if p["control"] == "tone"]
    assert tone and all(p["esr"] > 1e5 * p["floor_esr"] for p in tone)
    suspect = s.events("suspect")
    assert [(e["ids"], e["reason"]) for e in suspect] == [(["s004"], "unmoved")]
    assert "drive turned alone" in suspect[0]["message"]
    assert any("drive turned alone" in w and "marked suspect (unmoved)" in w for w in s.warnings)
    assert s.trained_off_their_setting() == []


@pytest.mark.slow
def test_a_horn_that_catches_on_the_move_past_its_knob_is_taken_where_it_belongs(
    home: Path, short_signal: Path
) -> None:
    s = StepSweep(home, short_signal, OD, SLIP_OD, slip=("drive", "s004"), how="catches")
    summary = s.runner.run()
    assert summary.complete and not summary.failed and not summary.suspect
    drive = [p for p in s.events("probed") if p["id"] == "s004" and p["control"] == "drive"]
    # The step heard nothing; moved on past the knob (at 3) to 0, the horn caught it.
    assert [(p["kind"], p["unmoved"]) for p in drive] == [("step", True), ("excursion", False)]
    assert drive[1]["esr"] > 1e5 * drive[1]["floor_esr"]
    assert not [e for e in s.events("compared") if e["unmoved"]]
    assert any(w.startswith("s004: drive turned alone did not change") for w in s.warnings)
    assert s.trained_off_their_setting() == []


@pytest.mark.slow
def test_a_lever_that_stays_slipped_is_doubted_where_it_is_left_alone(
    home: Path, short_signal: Path
) -> None:
    s = StepSweep(home, short_signal, OD, LEVER_OD, slip=("boost", "s003"), how="stays")
    summary = s.runner.run()
    assert summary.complete and not summary.failed
    # s003 switched the boost on (it stayed off); s004 left it on, so only moving it off and
    # on again could tell; s005 switched it off, where the lever already was: the sound could
    # not hear its horn turn it, and it too is left out.
    assert summary.suspect == ["s003", "s004", "s005"]
    s004 = [p for p in s.events("probed") if p["id"] == "s004" and p["control"] == "boost"]
    assert s004 and all(p["kind"] in ("excursion", "back") for p in s004)
    assert all(p["unmoved"] for p in s004 if p["kind"] == "excursion")
    assert s.trained_off_their_setting() == []


@pytest.mark.slow
def test_a_knob_stuck_where_an_anchor_wants_it_is_not_a_suspect_there(
    home: Path, short_signal: Path
) -> None:
    s = StepSweep(home, short_signal, OD, ANCHOR_OD, slip=("drive", "s002"), how="stays")
    summary = s.runner.run()
    assert summary.complete and not summary.failed
    # The drive's knob stayed at 5 (a02's) from s002 on: s002 is left out; a03 wants it at 5,
    # where the horn cannot be heard turning it, but a03 sounds as a02 did: it is kept.
    assert summary.suspect == ["s002"]
    a03 = [e for e in s.events("compared") if e["id"] == "a03"]
    assert len(a03) == 1 and not a03[0]["unmoved"] and a03[0]["matches"] == "a02"
    assert {"control": "drive", "unmoved": True, "by": "excursion"} in a03[0]["probed"]
    assert a03[0]["matches_esr"] <= FLOOR_FACTOR * a03[0]["floor_esr"]
    assert s.trained_off_their_setting() == []


@pytest.mark.slow
def test_an_anchor_off_by_a_little_is_not_taken_for_two_good_takes(
    home: Path, short_signal: Path
) -> None:
    s = StepSweep(home, short_signal, OD, OFF_ANCHOR_OD, slip=("tone", "s002"), how="stays")
    summary = s.runner.run()
    assert summary.complete and not summary.failed
    # The tone stayed at 4.5 from s002 on: a02 differs from a01 too little for the drift check,
    # but it is suspect (unmoved), so it does not say what two good takes differ by, and a03
    # (at 4.5 as a02 was) does not pass for a01 taken again.
    drift = [(e["id"], e["drifted"]) for e in s.events("anchor_compared")]
    assert drift == [("a02", False), ("a03", False)]
    assert summary.suspect == ["a02", "a03", "s002", "s003"]
    a03 = [e for e in s.events("compared") if e["id"] == "a03"]
    assert a03 and all(e["unmoved"] and e["matches"] is None for e in a03)
    assert s.trained_off_their_setting() == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rig", "settings", "small"),
    [
        (OD, None, None),
        (OD, SMALL_OD, None),
        (PREAMP, SMALL_PREAMP, ("s002", "gain")),
    ],
    ids=["pedal-planned", "pedal-small-steps", "preamp-dead-ends"],
)
def test_sweeps_turning_several_controls_at_once_mark_nothing_suspect(
    home: Path,
    short_signal: Path,
    rig: RigProfile,
    settings: list[dict[str, Any]] | None,
    small: tuple[str, str] | None,
) -> None:
    s = StepSweep(home, short_signal, rig, settings)
    summary = s.runner.run()
    assert summary.complete and not summary.failed and not summary.suspect
    assert not [e for e in s.events("compared") if e["unmoved"]]
    probed = s.events("probed")
    # Every move that turned several controls was made one at a time, and each one turned was
    # heard, by its own step or by the move on past it and back.
    for e in s.events("compared"):
        turned = [c for c in e["changed"] if c != "reamp level"]
        if len(turned) > 1:
            assert sorted(v["control"] for v in e["probed"]) == sorted(turned), e
            assert not any(v["unmoved"] for v in e["probed"])
    assert all(p["unmoved"] is False for p in probed if p["kind"] == "excursion")
    if small is not None:
        # The small step sounded like no change; the move on and back heard the knob.
        sid, control = small
        mine = [p for p in probed if p["id"] == sid and p["control"] == control]
        assert [(p["kind"], p["unmoved"]) for p in mine][:2] == [
            ("step", True), ("excursion", False)]  # fmt: skip
        assert mine[0]["esr"] <= FLOOR_FACTOR * mine[0]["floor_esr"]
        assert mine[1]["esr"] > 1e3 * FLOOR_FACTOR * mine[1]["floor_esr"]
    assert s.trained_off_their_setting() == []
