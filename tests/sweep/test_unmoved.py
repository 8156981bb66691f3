"""Did the knob move? Sweeps of the virtual overdrive on the firmware twin, one of whose horns
slips on its knob's shaft: the setting is flagged, moved away and back and taken again, and,
still the same, marked suspect and left out of training; a normal sweep flags nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from station.devices import StationBench, open_bench
from station.drivers.rig import ServoRig
from station.events import SweepProgress, Warning_
from station.interface.profiles import save_profile
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.rig.motion import rig_model
from station.rig.profiles import save_rig
from station.sweep.export import export_session
from station.sweep.journal import Journal, read_events, replay
from station.sweep.moved import FAR_BELOW, FLOOR_FACTOR
from station.sweep.run import SweepRunner, summarise
from station.sweep.session import SweepOptions, open_session
from station.sweep.start import SweepStart, start_sweep
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from station.virtual.servos import OD_KNOBS
from tests.conftest import calibrated_profile, run_station

DRIVE = OD_KNOBS[0]
# Played in this order: the slipping setting s004 changes only the drive (3 → 7) from s003, so
# a horn slipping on the drive leaves the gear exactly as it was at s003. Three changes before
# it give the session's figures something to go on.
CRAFTED = [
    ("a01", "anchor", 5, 5, "off"),
    ("s001", "train", 2, 3, "off"),
    ("s002", "train", 8, 7, "off"),
    ("s003", "train", 3, 6, "on"),
    ("s004", "train", 7, 6, "on"),
    ("s005", "train", 6, 2, "off"),
    ("h001", "holdout", 1, 9, "on"),
    ("a02", "anchor", 5, 5, "off"),
]


class TwinBench(StationBench):
    """The station's bench, its twin built with feedback pots on `pots` channels (none: the
    pins firmware without pots, whose POS says only the commanded pulse)."""

    def __init__(self, home: Path, vrig: VirtualRig, pots: tuple[int, ...] = ()) -> None:
        super().__init__(home, lambda device: open_bench(device, vrig))
        self.pots = pots

    def rig(self, port: str) -> ServoRig:
        """The twin on the bench's horns, at the virtual rig's speed."""
        from station.devices import open_rig

        sim = self.virtual
        assert sim is not None and sim.servos is not None
        twin_kw = {"bench": sim.servos, "speedup": sim.speed, "feedback_channels": self.pots}
        return open_rig(port, twin_kw=twin_kw)


def _plan(
    home: Path, crafted: bool, settings: int = 12, crafted_settings: list | None = None
) -> Path:
    rig_profile = virtual_pedal_rig(slew_us_per_s=3000.0)
    req = PlanRequest(
        knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rig_profile.knobs),
        switches=(SwitchChoice("boost", ("off", "on")),),
        settings=settings,
        holdout=1,
        anchor_every=4,
        seed=1,
        rig=rig_profile.name,
    )
    plan = make_plan(req, rig_model(rig_profile)).to_json()
    if crafted:
        plan["settings"] = [
            {"id": i, "knobs": {"drive": d, "tone": t}, "switches": {"boost": b},
             "reamp_dbu": None, "role": role}
            for i, role, d, t, b in (crafted_settings or CRAFTED)
        ]  # fmt: skip
    path = home / "plan.json"
    path.write_text(json.dumps(plan))
    return path


class Sweep:
    """A sweep of the overdrive on the twin, with a horn that slips when `slip_at` is reached."""

    def __init__(
        self,
        home: Path,
        signal: Path,
        *,
        crafted: bool = True,
        pots: tuple[int, ...] = (),
        slip_at: str | None = None,
        persistent: bool = True,
        crafted_settings: list | None = None,
    ) -> None:
        self.vrig = VirtualRig(speed=50.0)
        save_profile(home, calibrated_profile(self.vrig, "v"))
        save_rig(home, virtual_pedal_rig(slew_us_per_s=3000.0))
        self.slip_at, self.persistent = slip_at, persistent
        self.warnings: list[str] = []
        self.slipped = False
        start = SweepStart(
            plan_path=_plan(home, crafted, crafted_settings=crafted_settings),
            profile_name="v",
            rig_name="vpedal",
            out="od",
            reamp_path=signal,
            options=SweepOptions(reamp_dbu=6.0, retakes=0),
        )
        bench = TwinBench(home, self.vrig, pots)
        self.runner: SweepRunner = start_sweep(
            home, start, bench, self.vrig.act_on, emit=self.emit
        )
        self.folder = self.runner.session.folder

    def emit(self, event: Any) -> None:
        """Note warnings; slip the drive's horn as the sweep reaches `slip_at`, and have it
        fixed (gripped) when the sweep moves on to the setting after it."""
        if isinstance(event, Warning_):
            self.warnings.append(str(event.text))
        if not isinstance(event, SweepProgress) or self.slip_at is None:
            return
        servos = self.vrig.servos
        assert servos is not None
        if event.setting_id == self.slip_at and not self.slipped:
            servos.slip(DRIVE.channel, persistent=self.persistent)
            self.slipped = True
        elif self.slipped and event.setting_id != self.slip_at:
            servos.grip(DRIVE.channel)

    def events(self, kind: str) -> list[dict]:
        return [e for e in read_events(self.folder / "journal.jsonl") if e["event"] == kind]


@pytest.mark.slow
def test_a_horn_that_keeps_slipping_is_flagged_retaken_and_left_out(
    home: Path, short_signal: Path
) -> None:
    s = Sweep(home, short_signal, slip_at="s004")
    summary = s.runner.run()
    assert summary.complete and not summary.failed
    compared = s.events("compared")
    flagged = [e for e in compared if e["unmoved"]]
    # Flagged, moved away (back to s003's pulses) and back, taken again, flagged again.
    assert [e["id"] for e in flagged] == ["s004", "s004"]
    assert all(e["previous"] == "s003" and e["changed"] == ["drive"] for e in flagged)
    assert all(e["judged_by"] == "sound" for e in compared if e["changed"])
    away = [e for e in s.events("moved") if e.get("away_to")]
    assert [(e["id"], e["away_to"]) for e in away] == [("s004", "s003")]
    assert Counter(e["id"] for e in s.events("captured"))["s004"] == 2
    retaken = s.events("retaken")
    assert [e["id"] for e in retaken] == ["s004"] and "unmoved" in retaken[0]["reason"]
    assert any("did the knob move?" in w and "away and back" in w for w in s.warnings)
    # The slipped takes sound like s003 (the gear did not change): no more than two takes of
    # one setting differ, and a thousandth of the least change the session had seen.
    # (The first capture, judged by its probes alone, has no ESR against one before it.)
    moved = [e for e in compared if not e["unmoved"] and e["changed"] and e["previous"]]
    for e in flagged:
        assert e["esr"] <= FLOOR_FACTOR * e["floor_esr"]
        assert e["esr"] < 1e-3 * min(m["esr"] for m in moved)
    assert [(e["ids"], e["reason"]) for e in s.events("suspect")] == [(["s004"], "unmoved")]

    session = open_session(s.folder)
    state = replay(Journal(s.folder).read(), [x.id for x in session.schedule])
    assert summarise(session, state).suspect_reasons == {"s004": "unmoved"}
    data = json.loads((s.folder / "session.json").read_text())
    assert data["status"]["s004"] == "suspect" and data["suspect_reasons"] == {"s004": "unmoved"}
    dataset = json.loads(export_session(session).dataset_path.read_text())
    assert "s004" not in {i["id"] for i in dataset["train"] + dataset["validation"]}
    assert {"id": "s004", "reason": "suspect (unmoved)"} in dataset["left_out"]

    from station.models.parametric.session import load_sweep
    from station.tui.sweep_view import verdict

    excluded = {x.id: x.excluded for x in load_sweep(s.folder).excluded}
    assert excluded == {"s004": "the sweep marked it suspect (unmoved)"}
    assert "suspect[/yellow] (unmoved)" in verdict(state, "s004", None)
    r = run_station("sweep", "status", "od", "--json", home=home)
    shown = {x["id"]: x for x in json.loads(r.stdout)["settings"]}
    assert shown["s004"]["suspect"] and shown["s004"]["suspect_reason"] == "unmoved"
    assert not any(x["suspect"] for i, x in shown.items() if i != "s004")
    r = run_station("sweep", "status", "od", home=home)
    assert "s004" in r.stdout and "suspect (unmoved)" in r.stdout


@pytest.mark.slow
def test_a_horn_that_slipped_once_is_caught_again_and_the_retake_accepted(
    home: Path, short_signal: Path
) -> None:
    s = Sweep(home, short_signal, slip_at="s004", persistent=False)
    summary = s.runner.run()
    assert summary.complete and not summary.failed and not summary.suspect
    s004 = [e for e in s.events("compared") if e["id"] == "s004"]
    assert [e["unmoved"] for e in s004] == [True, False]
    # The retake is the gear at drive 7: far from s003, where the slipped take was not.
    assert s004[1]["esr"] > 1e4 * s004[0]["esr"]
    assert Counter(e["id"] for e in s.events("captured"))["s004"] == 2
    assert not [e for e in s.events("compared") if e["unmoved"] and e["id"] != "s004"]
    dataset = json.loads(export_session(open_session(s.folder)).dataset_path.read_text())
    assert "s004" in {i["id"] for i in dataset["train"]} and not dataset["left_out"]


@pytest.mark.slow
def test_a_feedback_pot_says_the_knob_did_not_move(home: Path, short_signal: Path) -> None:
    s = Sweep(home, short_signal, slip_at="s004", pots=(0, 1, 2, 3))
    summary = s.runner.run()
    assert summary.complete and summary.suspect == ["s004"]
    compared = s.events("compared")
    flagged = [e for e in compared if e["unmoved"]]
    assert [e["id"] for e in flagged] == ["s004", "s004"]
    for e in flagged:
        assert e["judged_by"] == "pot"
        drive = next(p for p in e["pots"] if p["control"] == "drive")
        # The pot reads where the knob stayed (s003's drive 3), not where the horn went.
        assert abs(drive["pot_us"] - DRIVE.true_pulse_us(3.0)) < 3
        assert abs(drive["target_us"] - DRIVE.true_pulse_us(7.0)) < 1
        assert "drive's pot reads" in e["message"]
    # Elsewhere every changed control's pot agreed: the pots decided, and said it moved.
    others = [e for e in compared if e["id"] != "s004" and e["changed"]]
    assert others and all(e["judged_by"] == "pot" and not e["unmoved"] for e in others)


@pytest.mark.slow
def test_a_feedback_pot_says_so_at_the_sessions_first_setting(
    home: Path, short_signal: Path
) -> None:
    # The first setting has no capture before it to compare with; its pots still tell. The
    # bench starts with every knob at its middle mark: s001's drive 2 turns the drive's horn.
    s = Sweep(
        home, short_signal, slip_at="s001", pots=(0, 1, 2, 3), crafted_settings=CRAFTED[1:]
    )
    assert s.runner.session.schedule[0].id == "s001"
    summary = s.runner.run()
    assert summary.complete and summary.suspect == ["s001"]
    flagged = [e for e in s.events("compared") if e["unmoved"]]
    assert [(e["id"], e["previous"], e["judged_by"]) for e in flagged] == [
        ("s001", None, "pot"),
        ("s001", None, "pot"),
    ]
    for e in flagged:
        drive = next(p for p in e["pots"] if p["control"] == "drive")
        assert abs(drive["pot_us"] - DRIVE.true_pulse_us(5.0)) < 3  # where the knob stayed
        assert abs(drive["target_us"] - DRIVE.true_pulse_us(2.0)) < 1
    assert [(e["ids"], e["reason"]) for e in s.events("suspect")] == [(["s001"], "unmoved")]
    dataset = json.loads(export_session(open_session(s.folder)).dataset_path.read_text())
    assert {"id": "s001", "reason": "suspect (unmoved)"} in dataset["left_out"]


@pytest.mark.slow
def test_a_normal_sweep_of_the_overdrive_flags_nothing(home: Path, short_signal: Path) -> None:
    s = Sweep(home, short_signal, crafted=False)
    summary = s.runner.run()
    assert summary.complete and not summary.failed and not summary.suspect
    compared = s.events("compared")
    captures = s.events("captured")
    assert len(captures) == len(s.runner.session.schedule)  # nothing taken twice
    # Every capture; the first by its stepwise move's probes alone (it has none before it).
    assert len(compared) == len(captures)
    assert compared[0]["previous"] is None and compared[0]["probed"]
    assert not [e for e in compared if e["unmoved"]]
    # With room to spare: every change sounded far more different than either rule allows.
    for e in compared[1:]:
        if not e["changed"]:
            continue
        assert e["judged_by"] == "sound"
        assert e["esr"] > 100 * FLOOR_FACTOR * e["floor_esr"], e
        if e["expected_esr"] is not None:
            assert e["esr"] > 10 * FAR_BELOW * e["expected_esr"], e
