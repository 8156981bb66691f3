"""benchmarks/parametric_accuracy.py's parts that need no training: held-out settings, seeds,
budgets in minutes, captures of the gear, and the table."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from benchmarks.accuracy_gear import GEARS, holdout_settings, switch_combinations, write_session
from benchmarks.parametric_accuracy import Cell, cells, plan_for, settings_for, table
from station.errors import StationError
from station.models.parametric.session import load_sweep
from station.reamp import files as reamp
from station.reamp.generate import write_station_signal

OD = GEARS["od"]


def test_held_out_settings_are_fixed_interior_and_cover_every_switch_combination() -> None:
    held = holdout_settings(OD)
    assert held == holdout_settings(OD)  # the same for every plan and every run
    assert len({h["id"] for h in held}) == len(held) == 3 * len(switch_combinations(OD))
    for combo in switch_combinations(OD):
        assert sum(h["switches"] == combo for h in held) == 3
    for k in OD.knobs:
        values = [h["knobs"][k.name] for h in held]
        span = k.max - k.min
        assert all(k.min + 0.1 * span <= v <= k.max - 0.1 * span for v in values), k.name


def _args(**over: object) -> argparse.Namespace:
    base = {"gears": "od", "methods": "grid,random", "budgets": "16,36", "training_s": "20",
            "seeds": 3, "recipes": ["station"]}  # fmt: skip
    return argparse.Namespace(**{**base, **over})


def test_a_cells_seed_comes_from_its_name_not_from_the_run_order() -> None:
    forward = cells(_args())
    backward = cells(_args(methods="random,grid", budgets="36,16"))
    assert {c: c.seed for c in forward} == {c: c.seed for c in backward}
    assert len({c.seed for c in forward}) == len(forward) == 12  # no two cells share a seed
    # Recipes are compared on the same plans and starting seeds.
    two = cells(_args(recipes=["station", "tiny"]))
    assert {c.seed for c in two if c.recipe == "tiny"} == {c.seed for c in forward}
    # ...and so does the plan it captures: a random plan depends on the cell, not the order.
    cell = Cell("od", "random", "16", 20.0, 1)
    first = plan_for(OD, "random", 16, cell.seed, 60.0)
    plan_for(OD, "random", 16, Cell("od", "random", "16", 20.0, 2).seed, 60.0)
    again = plan_for(OD, "random", 16, cell.seed, 60.0)
    assert [s.knobs for s in first.settings] == [s.knobs for s in again.settings]


def test_a_budget_in_minutes_buys_the_most_settings_whose_plan_fits() -> None:
    one = 66.5  # seconds a capture of the station signal with 40 s of material takes
    n = settings_for(OD, "random", "60m", 3, one)
    assert plan_for(OD, "random", n, 3, one).total_s <= 3600
    assert plan_for(OD, "random", n + 1, 3, one).total_s > 3600
    grid = settings_for(OD, "grid", "60m", 3, one)
    assert grid == 36  # 3² per switch combination; 4² (64) takes longer than an hour
    assert plan_for(OD, "grid", 64, 3, one).total_s > 3600
    assert plan_for(OD, "grid", 36, 3, one).total_s <= 3600
    # Full-length captures: not even the 2² grid (16 settings, holdout and anchors) fits 70 min.
    with pytest.raises(StationError, match="no grid plan fits in 70 minutes"):
        settings_for(OD, "grid", "70m", 3, 193.5)


def test_the_session_holds_the_gears_exact_return(tmp_path: Path) -> None:
    x_path = write_station_signal(tmp_path / "signal.wav", seed=2, training_s=1.0)

    def setting(sid: str, drive: float, tone: float, boost: str, clip: str) -> dict:
        return {"id": sid, "knobs": {"drive": drive, "tone": tone},
                "switches": {"boost": boost, "clip": clip}}  # fmt: skip

    train = [setting("s001", 2.0, 3.0, "off", "si"), setting("s002", 9.0, 7.0, "on", "led")]
    held = holdout_settings(OD)[:2]
    write_session(tmp_path / "od", OD, x_path, train, held)
    sweep = load_sweep(tmp_path / "od")
    assert [s.id for s in sweep.used("train")] == ["s001", "s002"]
    assert [s.id for s in sweep.used("holdout")] == [h["id"] for h in held]
    x, _, _ = reamp.read_mono(x_path)
    y, _, _ = reamp.read_mono(tmp_path / "od" / "s002" / "output.wav")
    truth = OD.render(x, train[1]["knobs"], train[1]["switches"])
    assert np.max(np.abs(y - truth)) < 2e-7  # 24-bit PCM
    quiet = reamp.read_mono(tmp_path / "od" / "s001" / "output.wav")[0]
    assert np.sqrt(np.mean(y**2)) > 2 * np.sqrt(np.mean(quiet**2))  # the knobs matter


def test_the_table_gives_min_median_and_max_over_seeds() -> None:
    def row(seed: int, median: float, worst: float) -> dict:
        return {"gear": "od", "method": "random", "budget": "16", "training_s": 20.0,
                "seed_index": seed, "trained_settings": 16, "capture_h": 0.5,
                "test_median": median, "test_worst": worst, "nearest_median": 0.03,
                "nearest_worst": 0.2, "beats_nearest": 2, "holdout": [{}] * 12,
                "train_min": 3.0, "steps_done": 1500, "stopped_by": "steps"}  # fmt: skip

    lines = table([row(0, 0.02, 0.1), row(1, 0.01, 0.3), row(2, 0.05, 0.2)])
    assert lines[2].split(" | ")[7:9] == ["0.0100 / 0.0200 / 0.0500", "0.1000 / 0.2000 / 0.3000"]
    assert "6/36" in lines[2] and "30 min" in lines[2]
    failed = {"gear": "od", "method": "grid", "budget": "8", "training_s": 20.0,
              "seed_index": 0, "error": "a grid needs 2 steps per knob"}  # fmt: skip
    assert "n/a (a grid needs 2 steps per knob)" in table([failed])[2]


def test_a_grid_the_planner_refuses_is_a_row_not_a_crash(tmp_path: Path) -> None:
    from benchmarks.parametric_accuracy import run_cell

    write_station_signal(tmp_path / "signal-20.wav", seed=2, training_s=1.0)
    row = run_cell(Cell("od", "grid", "8", 20.0, 0), {}, tmp_path)
    assert "grid needs 2 steps per knob" in row["error"]
