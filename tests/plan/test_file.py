"""Plan files from elsewhere: setting ids that are not plain names are refused before anything
is written, and a session whose schedule was edited the same way will not open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.errors import StationError
from station.plan.design import KnobRange, PlanRequest, make_plan
from station.plan.file import plan_from_json
from station.rig.motion import nominal_model
from tests.conftest import calibrate_virtual
from tests.conftest import run_station as station

BAD_IDS = ["../x", "/tmp/x", "", "a/b", ".hidden", "..", "models", "s001.json", 7, "x" * 40]


def plan_json() -> dict:
    """A small plan's file content."""
    req = PlanRequest(knobs=(KnobRange("drive", 0, 10),), settings=4, holdout=1, seed=3)
    return make_plan(req, nominal_model([("drive", 0, 10)], [])).to_json()


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_setting_id_that_is_not_a_plain_name_is_refused(bad: object) -> None:
    data = plan_json()
    data["settings"][1]["id"] = bad
    with pytest.raises(StationError) as err:
        plan_from_json(data)
    assert "not a plain name" in err.value.message
    assert repr(bad) in err.value.message


def test_duplicate_ids_are_refused() -> None:
    data = plan_json()
    data["settings"][1]["id"] = data["settings"][0]["id"]
    with pytest.raises(StationError, match="twice"):
        plan_from_json(data)


def test_the_stations_own_plans_pass() -> None:
    plan = plan_from_json(plan_json())
    assert [s.id for s in plan.settings]


def test_a_sweep_on_a_plan_with_a_dotdot_id_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert calibrate_virtual(home, "v").returncode == 0
    data = plan_json()
    data["settings"][0]["id"] = "../escaped"
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    res = station(
        "sweep", "run", "--plan", str(plan), "--profile", "v", "--rig", "none",
        "--out", "s1", "--reamp-dbu", "6", "--yes", home=home,
    )  # fmt: skip
    assert res.returncode != 0
    assert "'../escaped' that is not a plain name" in res.stderr
    assert "Traceback" not in res.stderr
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before and "settings.toml" not in str(p)] == []
    assert not (home / "captures" / "s1").exists()
    assert not (home / "escaped").exists() and not (home / "captures" / "escaped").exists()


def test_a_session_whose_schedule_names_a_path_will_not_open(tmp_path: Path) -> None:
    from station.sweep.session import open_session

    data = plan_json()
    schedule = [dict(s) for s in data["settings"]]
    schedule[0]["id"] = "../../etc"
    (tmp_path / "session.json").write_text(
        json.dumps({"schema_version": 1, "plan": data, "schedule": schedule, "options": {}})
    )
    with pytest.raises(StationError, match="not a plain name"):
        open_session(tmp_path)
