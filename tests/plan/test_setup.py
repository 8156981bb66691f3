"""Plans set up for either face: controls from a rig or by hand, the summary, the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.errors import StationError
from station.plan.design import KnobRange, PlanRequest, make_plan
from station.plan.file import plan_from_json
from station.plan.setup import by_hand, for_rig, make_and_write, plan_summary, role_counts
from station.virtual.pedal import virtual_pedal_rig


def test_a_rig_profile_gives_its_controls_and_its_own_motion(tmp_path: Path) -> None:
    rig = virtual_pedal_rig(slew_us_per_s=150.0)
    req, model = for_rig(PlanRequest(knobs=(), settings=6, holdout=1, anchor_every=4), rig)
    assert [(k.name, k.min, k.max) for k in req.knobs] == [("drive", 0, 10), ("tone", 0, 10)]
    assert [(s.name, s.positions) for s in req.switches] == [("boost", ("off", "on"))]
    assert req.rig == "vpedal" and req.settings == 6
    # The rig's measured points and speed time the moves, not the nominal mapping.
    assert not model.nominal and model.slew_us_per_s == 150.0
    drive = rig.knobs[0]
    assert model.pulses({"drive": 10.0, "tone": 0.0}, {"boost": "off"})[drive.channel] == (
        drive.points[-1][1]
    )
    path = tmp_path / "plans" / "p.json"
    plan = make_and_write(req, model, path)
    again = plan_from_json(json.loads(path.read_text()))
    assert [s.to_json() for s in again.settings] == [s.to_json() for s in plan.settings]
    assert again.request.rig == "vpedal"
    counts = role_counts(plan)
    # 6 settings (1 held out) and the anchor first, after 4 settings, and last.
    assert counts == {"train": 5, "holdout": 1, "anchor": 3}
    lines = plan_summary(plan)
    assert lines[0] == "9 captures: 5 training, 1 held out, 3 anchors (maximin-lhs, seed 0)"
    assert lines[2].startswith("estimated total ")


def test_controls_by_hand_are_checked_before_the_model_uses_them(tmp_path: Path) -> None:
    req = PlanRequest(knobs=(KnobRange("drive", 0, 10), KnobRange("drive", 0, 5)), settings=4)
    with pytest.raises(StationError, match="named twice"):
        by_hand(req, 300.0)
    req = PlanRequest(knobs=(KnobRange("drive", 0, 10),), settings=4, holdout=0)
    model = by_hand(req, 300.0)
    plan = make_plan(req, model)
    assert model.nominal and any("nominal linear knob mapping" in n for n in plan_summary(plan))
    # A request refused by the design writes nothing.
    path = tmp_path / "refused.json"
    with pytest.raises(StationError, match="1 to 2000 settings"):
        make_and_write(PlanRequest(knobs=req.knobs, settings=0), model, path)
    assert not path.exists()
