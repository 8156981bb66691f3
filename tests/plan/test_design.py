"""Plans: designs, holdout, anchors, travel order and the motion-time model."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.errors import StationError
from station.plan.design import (
    KnobRange,
    PlanRequest,
    SwitchChoice,
    _min_distance,
    make_plan,
    unit_points,
    with_anchors,
)
from station.plan.file import plan_from_json
from station.plan.trainable import parametric_gaps
from station.rig.motion import MotionModel, nominal_model
from tests.conftest import run_station

DRIVE, TONE = KnobRange("drive", 0.0, 10.0), KnobRange("tone", 1.0, 5.0)
BOOST, MODE = SwitchChoice("boost", ("off", "on")), SwitchChoice("mode", ("a", "b", "c"))


def model_for(req: PlanRequest) -> MotionModel:
    """The nominal motion model of a request's controls."""
    return nominal_model(
        [(k.name, k.min, k.max) for k in req.knobs], [(s.name, s.positions) for s in req.switches]
    )


def plan(**kw) -> object:
    req = PlanRequest(**{"knobs": (DRIVE, TONE), "switches": (BOOST,), **kw})
    return make_plan(req, model_for(req))


def unit(req: PlanRequest, s) -> np.ndarray:
    return np.array([(s.knobs[k.name] - k.min) / (k.max - k.min) for k in req.knobs])


def test_move_time_follows_the_protocols_motion_rules() -> None:
    m = MotionModel(lambda k, s: {}, slew_us_per_s=300.0)
    # Up 600 µs: slewed straight there, then 300 ms settle.
    assert m.move_s({0: 1000.0}, {0: 1600.0}) == pytest.approx(600 / 300 + 0.3)
    # Down 600 µs: 40 µs past the target and back up (backlash), then settle.
    assert m.move_s({0: 1600.0}, {0: 1000.0}) == pytest.approx(680 / 300 + 0.3)
    # Channels move together: the longest one decides.
    assert m.move_s({0: 1000.0, 1: 2000.0}, {0: 1300.0, 1: 1100.0}) == pytest.approx(
        980 / 300 + 0.3
    )
    assert m.move_s({0: 1000.0}, {0: 1000.0}) == 0.0


def test_nominal_model_spans_the_servo_range() -> None:
    m = nominal_model([("drive", 0.0, 10.0)], [("boost", ("off", "on"))])
    assert m.nominal
    assert m.pulses({"drive": 0.0}, {}) == {0: 500.0}
    assert m.pulses({"drive": 10.0}, {"boost": "on"}) == {0: 2500.0, 1: 2000.0}
    assert m.pulses({"drive": 5.0}, {"boost": "off"}) == {0: 1500.0, 1: 1000.0}


def test_same_seed_same_plan_and_another_seed_another() -> None:
    a, b, c = plan(settings=20, seed=4), plan(settings=20, seed=4), plan(settings=20, seed=5)
    assert a.to_json() == b.to_json()
    assert a.to_json()["settings"] != c.to_json()["settings"]


def test_maximin_lhs_is_a_latin_hypercube_per_switch_combination() -> None:
    p = plan(settings=24, holdout=0, switches=(BOOST,))
    req = p.request
    for pos in BOOST.positions:
        pts = np.array(
            [unit(req, s) for s in p.settings if s.role == "train" and s.switches["boost"] == pos]
        )
        assert len(pts) == 12
        for dim in range(pts.shape[1]):
            # Exactly one point in each of the 12 strata of every knob (rounding aside).
            strata = np.floor(np.clip(pts[:, dim], 0, 1 - 1e-9) * 12).astype(int)
            assert sorted(strata) == list(range(12))


def test_maximin_beats_a_typical_latin_hypercube() -> None:
    from scipy.stats import qmc

    chosen = unit_points("maximin-lhs", 12, 2, np.random.default_rng(7))
    plain = [_min_distance(qmc.LatinHypercube(2, seed=s).random(12)) for s in range(40)]
    assert _min_distance(chosen) > float(np.median(plain))


def test_holdout_settings_lie_far_from_the_training_ones() -> None:
    p = plan(settings=40, holdout=6, seed=2)
    req = p.request
    rng = np.random.default_rng(0)
    holdouts = [s for s in p.settings if s.role == "holdout"]
    assert len(holdouts) == 6
    for h in holdouts:
        train = np.array(
            [unit(req, s) for s in p.settings if s.role == "train" and s.switches == h.switches]
        )
        nearest = np.sqrt(((train - unit(req, h)) ** 2).sum(1)).min()
        # A random setting in the same box is typically much nearer to some training setting.
        random_nearest = [
            np.sqrt(((train - rng.uniform(0.1, 0.9, 2)) ** 2).sum(1)).min() for _ in range(200)
        ]
        assert nearest > np.percentile(random_nearest, 75)


def test_default_holdout_is_about_a_tenth() -> None:
    p = plan(settings=30)
    assert sum(s.role == "holdout" for s in p.settings) == 3


def test_anchor_is_the_centre_first_every_n_and_last() -> None:
    p = plan(settings=20, anchor_every=8)
    roles = [s.role for s in p.settings]
    assert roles[0] == roles[-1] == "anchor"
    anchors = [s for s in p.settings if s.role == "anchor"]
    assert [a.id for a in anchors] == ["a01", "a02", "a03", "a04"]
    for a in anchors:
        assert a.knobs == {"drive": 5.0, "tone": 3.0} and a.switches == {"boost": "off"}
    # Eight settings between consecutive anchors, the rest before the last.
    gaps = [len(list(g)) for k, g in itertools.groupby(roles, lambda r: r == "anchor") if not k]
    assert gaps == [8, 8, 4]


def test_with_anchors_without_interval_puts_them_first_and_last_only() -> None:
    p = plan(settings=10, holdout=0)
    body = [s for s in p.settings if s.role != "anchor"]
    sched = with_anchors(body, p.settings[0], 0)
    assert [s.role for s in sched] == ["anchor", *["train"] * 10, "anchor"]


def test_corners_centre_and_grid() -> None:
    p = plan(settings=12, holdout=0, corners=True, centre=True, switches=())
    knobs = [tuple(s.knobs.values()) for s in p.settings if s.role == "train"]
    for corner in itertools.product((0.0, 10.0), (1.0, 5.0)):
        assert corner in knobs
    assert (5.0, 3.0) in knobs
    g = plan(settings=18, holdout=0, method="grid")  # 9 per boost position: 3 steps per knob
    drives = sorted({s.knobs["drive"] for s in g.settings if s.role == "train"})
    assert drives == [0.0, 5.0, 10.0]
    assert sum(s.role == "train" for s in g.settings) == 18


def test_levels_are_one_more_factor_spread_evenly() -> None:
    p = plan(settings=24, holdout=0, levels_dbu=(6.0, 12.0, 18.0))
    counts = Counter((s.switches["boost"], s.reamp_dbu) for s in p.settings if s.role == "train")
    assert set(counts.values()) == {4}
    assert p.settings[0].reamp_dbu == 12.0  # the anchor plays the middle level


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_knobs=st.integers(1, 3),
    switches=st.lists(st.integers(2, 3), max_size=2),
    extra=st.integers(0, 20),
    method=st.sampled_from(["maximin-lhs", "sobol", "random"]),
    seed=st.integers(0, 2**16),
)
def test_plan_invariants(
    n_knobs: int, switches: list[int], extra: int, method: str, seed: int
) -> None:
    knobs = tuple(KnobRange(f"k{i}", -float(i), 2.0 + i) for i in range(n_knobs))
    sw = tuple(
        SwitchChoice(f"s{i}", tuple(f"p{j}" for j in range(n))) for i, n in enumerate(switches)
    )
    combos = math.prod(switches)
    req = PlanRequest(knobs, sw, settings=combos + extra + 1, method=method, seed=seed, holdout=1)
    model = model_for(req)
    p = make_plan(req, model)
    body = [s for s in p.settings if s.role != "anchor"]
    assert len(body) == req.settings
    assert sum(s.role == "holdout" for s in body) == 1
    assert len({s.id for s in p.settings}) == len(p.settings)
    for s in p.settings:
        for k in knobs:
            assert k.min <= s.knobs[k.name] <= k.max
    # Switch combinations are spread evenly over the training settings...
    counts = Counter(tuple(s.switches.values()) for s in body if s.role == "train")
    assert len(counts) == combos and max(counts.values()) - min(counts.values()) <= 1
    # ...and each is played as one block (switch changes grouped).
    runs = [k for k, _ in itertools.groupby(tuple(s.switches.values()) for s in body)]
    assert len(runs) == combos
    # Ordering by travel never plays slower than the design's own order.
    assert p.motion_s <= p.unordered_motion_s + 1e-9
    assert p.total_s == pytest.approx(p.motion_s + len(p.settings) * (req.capture_s + 2.0))
    assert plan_from_json(json.loads(json.dumps(p.to_json()))).to_json() == p.to_json()


def test_ordering_saves_motion_on_a_larger_plan() -> None:
    p = plan(settings=40, seed=3)
    assert p.motion_s < 0.85 * p.unordered_motion_s


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"method": "taguchi"}, "unknown method"),
        ({"knobs": (KnobRange("drive", 5, 5),)}, "empty range"),
        ({"knobs": (DRIVE, KnobRange("drive", 0, 3))}, "named twice"),
        ({"switches": (BOOST, MODE), "settings": 6, "holdout": 1}, "cannot cover"),
        ({"holdout": -1}, "negative"),
        ({"switches": (SwitchChoice("boost", ("on",)),)}, "two or more"),
        ({"anchor": {"drive": 11}}, "outside"),
        ({"anchor": {"gain": 1}}, "unknown controls"),
        ({"method": "grid", "settings": 6, "holdout": 0}, "grid needs"),
        ({"levels_dbu": (6.0, 6.0)}, "distinct"),
    ],
)
def test_bad_requests_are_refused(kw: dict, fragment: str) -> None:
    with pytest.raises(StationError, match=fragment):
        plan(**kw)


def test_plan_file_errors(tmp_path: Path) -> None:
    good = plan(settings=8).to_json()
    with pytest.raises(StationError, match="newer station"):
        plan_from_json({**good, "schema_version": 99})
    with pytest.raises(StationError, match="malformed"):
        plan_from_json({k: v for k, v in good.items() if k != "knobs"})
    bad = json.loads(json.dumps(good))
    bad["settings"][1]["knobs"]["drive"] = 12.0
    with pytest.raises(StationError, match="outside the printed range"):
        plan_from_json(bad)
    bad["settings"][1]["knobs"] = {"gain": 1.0, "tone": 2.0}
    with pytest.raises(StationError, match="unknown knob"):
        plan_from_json(bad)


def test_cli_plan_writes_json_and_a_table(home: Path) -> None:
    out = home / "plan.json"
    args = ["plan", "--knob", "drive=0:10", "--knob", "tone=0:10", "--switch", "boost=off,on"]
    r = run_station(*args, "--settings", "12", "--seed", "9", "--out", str(out), home=home)
    assert r.returncode == 0, r.stderr
    assert "held out" in r.stdout and "unordered" in r.stdout and "nominal" in r.stdout
    data = json.loads(out.read_text())
    assert data["schema_version"] == 1 and data["method"] == "maximin-lhs" and data["seed"] == 9
    assert [s["role"] for s in data["settings"]].count("holdout") == 1
    # The file exists: kept, unless --force replaces it.
    again = [*args, "--settings", "12", "--seed", "9", "--out", str(out), "--json"]
    before = out.read_text() + " "
    out.write_text(before)
    refused = run_station(*again, home=home)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines() == [
        f"error: {out} exists",
        "hint: give another --out, or add --force to replace it",
    ]
    assert out.read_text() == before
    out.chmod(0o640)
    r2 = run_station(*again, "--force", home=home)
    assert r2.returncode == 0, r2.stderr
    assert out.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    shown = json.loads(r2.stdout)
    assert shown["settings"] == data["settings"]  # same seed, same plan
    assert shown["estimated_motion_s"] <= shown["unordered_motion_s"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--knob", "drive=0:10", "--method", "magic"], "unknown method"),
        (["--knob", "drive=10:0"], "empty range"),
        (["--knob", "drive"], "not NAME=VALUE"),
        (["--knob", "drive=a:b"], "MIN:MAX"),
        (["--knob", "drive=0:10", "--knob", "drive=0:5"], "named twice"),
        (["--knob", "d=0:1", "--switch", "a=x,y", "--switch", "b=x,y", "--settings", "3"], "cover"),
        (["--knob", "drive=0:10", "--levels", "6,loud"], "dBu"),
        (["--rig", "nosuchrig"], "rig"),
    ],
)
def test_cli_plan_bad_input(home: Path, args: list[str], fragment: str) -> None:
    if "--settings" not in args:
        args = [*args, "--settings", "10"]
    r = run_station("plan", *args, "--out", str(home / "p.json"), home=home)
    assert r.returncode != 0
    assert fragment in r.stderr and "Traceback" not in r.stderr
    assert not (home / "p.json").exists()


def test_switches_only_plans_hold_nothing_out_by_default() -> None:
    req = PlanRequest(knobs=(), switches=(BOOST, MODE), settings=6)
    p = make_plan(req, model_for(req))
    body = [s for s in p.settings if s.role != "anchor"]
    assert sorted(tuple(s.switches.values()) for s in body) == sorted(
        itertools.product(BOOST.positions, MODE.positions)
    )


def test_plan_bad_sizes_and_negative_levels_as_a_user_types_them(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    huge = run_station(
        "plan", "--knob", "drive=0:10", "--settings", "100000", "--out", str(out), home=tmp_path
    )
    assert huge.returncode == 1 and "a plan holds 1 to 2000 settings, not 100000" in huge.stderr
    assert "Traceback" not in huge.stderr and not out.exists()
    # "-6,12" looks like an option to argparse; the station reads it as the levels it is.
    res = run_station(
        "plan", "--knob", "drive=0:10", "--settings", "6", "--levels", "-6,12",
        "--out", str(out), "--json", home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    levels = {s["reamp_dbu"] for s in json.loads(out.read_text())["settings"]}
    assert levels == {-6.0, 12.0}


def test_a_plan_with_nothing_held_out_says_what_that_costs(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = run_station(
        "plan", "--knob", "drive=0:10", "--settings", "2", "--out", str(out), home=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert "no setting is held out" in res.stdout and "training one is refused" in res.stdout
    # Three settings are the least that give one: two training and one held out.
    assert "note: a plan of 3 settings would give a parametric model" in res.stdout
    held = run_station(
        "plan", "--knob", "drive=0:10", "--settings", "8", "--out", str(tmp_path / "q.json"),
        home=tmp_path,
    )  # fmt: skip
    assert "no setting is held out" not in held.stdout


def roles_by_level(p) -> dict:
    """{level: Counter of roles} over a plan's train and holdout settings."""
    out: dict = {}
    for s in p.settings:
        if s.role != "anchor":
            out.setdefault(s.reamp_dbu, Counter())[s.role] += 1
    return out


@pytest.mark.parametrize("settings", [3, 4])
def test_a_small_budget_holds_one_out_so_a_parametric_model_can_train(settings: int) -> None:
    # Under five settings the tenth rule held none out: a sweep of it could never give a
    # parametric model, and training said so only after the night.
    p = plan(settings=settings)
    assert roles_by_level(p) == {None: Counter(train=settings - 1, holdout=1)}
    assert not parametric_gaps(p.settings)


@pytest.mark.parametrize(
    ("settings", "levels", "seed"),
    [(6, (6.0, 12.0), 0), (6, (6.0, 12.0), 5), (9, (1.0, 2.0, 3.0), 2), (30, (6.0, 12.0, 18.0), 1)],
)
def test_every_reamp_level_gets_its_own_held_out_setting(
    settings: int, levels: tuple, seed: int
) -> None:
    # A parametric model carries one level and is judged on that level's held-out settings.
    p = plan(settings=settings, levels_dbu=levels, seed=seed)
    by_level = roles_by_level(p)
    assert set(by_level) == set(levels)
    for counts in by_level.values():
        assert counts["holdout"] >= 1 and counts["train"] >= 2
    assert not parametric_gaps(p.settings)


def test_a_budget_too_small_for_every_level_says_which_and_how_many_would_do() -> None:
    p = plan(settings=5, levels_dbu=(6.0, 12.0))
    gaps = parametric_gaps(p.settings)
    assert len(gaps) == 1 and gaps[0].held == 0
    assert f"at {gaps[0].level_dbu:g} dBu would be refused" in " ".join(p.notes)
    assert "a plan of 6 settings would give a parametric model" in p.notes
    six = plan(settings=6, levels_dbu=(6.0, 12.0))
    assert not parametric_gaps(six.settings)


def test_a_plan_is_written_where_asked_with_a_plain_files_mode(tmp_path: Path) -> None:
    # Plans (and every atomic write) came out 0600, the temp file's private mode, while the
    # WAVs beside them were 0644; missing folders on the way are made.
    out = tmp_path / "plans" / "night" / "p.json"
    res = run_station(
        "plan", "--knob", "drive=0:10", "--settings", "4", "--out", str(out), home=tmp_path
    )
    assert res.returncode == 0, res.stderr
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
