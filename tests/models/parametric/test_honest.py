"""Honest figures: seeded training, the same steps for every plan, the nearest-capture baseline,
and a test stretch that neither training nor checkpoint selection saw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from station.models.parametric.session import load_sweep
from station.models.parametric.verify import nearest_captures, nearest_setting, stretches
from station.reamp import files as reamp
from station.signal.analysis import esr
from tests.sweep_fixture import PlannedSetting, default_plan, short_input, write_session


@pytest.fixture(scope="module")
def signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_input(tmp_path_factory.mktemp("sig") / "in.wav")


def test_the_nearest_capture_shares_the_switches_and_is_nearest_in_scaled_knobs(
    signal: Path, tmp_path: Path
) -> None:
    # tone spans 0…40, drive 0…10: by raw numbers s002 is nearer, scaled to the ranges s001 is.
    knobs = [{"name": "drive", "min": 0.0, "max": 10.0}, {"name": "tone", "min": 0.0, "max": 40.0}]
    plan = [
        PlannedSetting("s001", "train", {"drive": 5, "tone": 8}, {"boost": "off"}),  # 0.1 away
        PlannedSetting("s002", "train", {"drive": 8, "tone": 4}, {"boost": "off"}),  # 0.3 away
        PlannedSetting("s003", "train", {"drive": 5, "tone": 4}, {"boost": "on"}),  # other switch
        PlannedSetting("h001", "holdout", {"drive": 5, "tone": 4}, {"boost": "off"}),
        PlannedSetting("h002", "holdout", {"drive": 9, "tone": 3}, {"boost": "off"}),
    ]
    sweep = load_sweep(write_session(tmp_path / "s", signal, plan, knobs=knobs))
    train, holdout = sweep.used("train"), sweep.used("holdout")
    assert nearest_setting(sweep, holdout[0], train).id == "s001"
    assert nearest_setting(sweep, holdout[0], [s for s in train if s.id == "s003"]) is None
    rows = nearest_captures(sweep, holdout, train)
    assert [r["nearest"] for r in rows] == ["s001", "s002"]
    # The baseline is the nearest capture against the truth on the test stretch only.
    lo, hi = stretches(reamp.recognise(sweep.x_path))[1]
    truth = reamp.read_mono(sweep.path / "h001" / "output.wav")[0][lo:hi]
    near = reamp.read_mono(sweep.path / "s001" / "output.wav")[0][lo:hi]
    assert rows[0]["esr"] == pytest.approx(esr(near, truth), rel=1e-9)
    assert rows[0]["esr"] > 0 and rows[1]["esr"] > 0


torch = pytest.importorskip("torch")
pytest.importorskip("nam")


def _quick(**fields: object) -> object:
    from station.models.parametric.training import Recipe

    options: dict = {"epochs": 1000, "ny": 2048, "batch_size": 8, "patience": None, **fields}
    return Recipe("tiny", trainer_options={"accelerator": "cpu"}, **options)


def _weights(path: Path) -> list[float]:
    return json.loads(path.read_text())["weights"]


@pytest.mark.slow
def test_a_seed_gives_the_same_model_whatever_ran_before(
    signal: Path, tmp_path: Path, one_thread: object
) -> None:
    from station.models.parametric.training import train_parametric

    session = write_session(tmp_path / "s", signal, default_plan())
    first = train_parametric(session, _quick(seed=7, steps=6), out=tmp_path / "a.nam")
    torch.randn(1000)  # another cell, trained before, moves torch's global generator
    again = train_parametric(session, _quick(seed=7, steps=6), out=tmp_path / "b.nam")
    other = train_parametric(session, _quick(seed=8, steps=6), out=tmp_path / "c.nam")
    assert _weights(first.models[0]) == _weights(again.models[0])
    assert _weights(first.models[0]) != _weights(other.models[0])
    assert first.report["seed"] == 7


@pytest.mark.slow
def test_plans_of_different_sizes_are_judged_after_the_same_steps(
    signal: Path, tmp_path: Path, one_thread: object
) -> None:
    from station.models.parametric.training import train_parametric

    small = [p for p in default_plan() if p.id in ("s001", "s002", "h001")]
    logs = []
    for name, plan in (("small", small), ("large", default_plan())):
        session = write_session(tmp_path / name, signal, plan)
        # 8192-sample examples: an epoch of 3 steps for two settings, of 14 for eight.
        result = train_parametric(session, _quick(steps=12, validate_every=4, ny=8192))
        logs.append(result.report["training"])
    # Two settings make epochs of a few steps, eight of far more; validation comes at 4, 8, 12
    # in both, and the checkpoint kept is one of those.
    for log in logs:
        assert log["steps_done"] == 12 and log["validations"] == 3, log
        assert log["best_step"] in (4, 8, 12) and log["stopped_by"] == "steps"
    assert logs[0]["epochs_done"] > logs[1]["epochs_done"]
    assert np.isfinite(logs[0]["best_selection_loss"])
