"""The adaptive sweep's ensemble: quick members from seeds, and their predictions at candidates.

The session (tests/sweep_fixture.py's knob gear: drive, tone, boost) captures only the
lower corner of the knobs, drive and tone 0…3, so where the members should agree (the
captured settings) and where they cannot (the far corner) is known. 300 steps of a tiny
member: at 150 the far/near ratio of the median disagreement ranged 3–16 over four seeds,
at 300 5–11 (at 60 a member has not learnt the corner yet: near can exceed far).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from station.errors import StationError
from station.models.namfile import read_model
from station.models.parametric import fold
from station.models.parametric.ensemble import (
    QUICK,
    Ensemble,
    member_path,
    predict,
    probe_input,
    score_round,
    train_ensemble,
)
from station.models.parametric.session import load_sweep
from station.plan.adaptive import Candidate, disagreement
from station.plan.design import KnobRange, PlanRequest, SwitchChoice
from tests.models.param_model import write_parametric
from tests.sweep_fixture import PlannedSetting, short_input, write_session

pytest.importorskip("nam")
pytest.importorskip("torch")

REQ = PlanRequest(
    knobs=(KnobRange("drive", 0.0, 10.0), KnobRange("tone", 0.0, 10.0)),
    switches=(SwitchChoice("boost", ("off", "on")),),
)
CORNER = [(0, 0), (3, 0), (0, 3), (3, 3), (1.5, 1.5)]  # drive, tone: the captured corner
RECIPE = dataclasses.replace(
    QUICK, steps=300, validate_every=150, ny=2048, batch_size=8,
    trainer_options={"accelerator": "cpu"},
)  # fmt: skip


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ens")
    plan = [
        PlannedSetting(f"s{i + 1:03d}", "train", {"drive": d, "tone": t}, {"boost": b})
        for i, ((d, t), b) in enumerate((c, b) for b in ("off", "on") for c in CORNER)
    ]
    plan.append(PlannedSetting("h001", "holdout", {"drive": 9, "tone": 9}, {"boost": "on"}))
    return write_session(folder / "knobbox", short_input(folder / "in.wav"), plan)


@pytest.fixture(scope="module")
def ensemble(session: Path, one_thread: object) -> Ensemble:
    return train_ensemble(session, 3, RECIPE)


def _at(drive: float, tone: float, boost: str) -> Candidate:
    return Candidate((drive / 10, tone / 10), (boost,))


@pytest.mark.slow
def test_members_agree_where_captured_and_disagree_far_from_it(
    ensemble: Ensemble, session: Path
) -> None:
    captured = [_at(d, t, b) for b in ("off", "on") for d, t in CORNER]
    far = [_at(d, t, b) for b in ("off", "on") for d, t in ((10, 10), (10, 7), (7, 10))]
    probe = probe_input(load_sweep(session))
    scores = disagreement(predict(ensemble.models, captured + far, probe, REQ).astype(float))
    near, away = scores[: len(captured)], scores[len(captured) :]
    # Every far setting is less agreed on than the typical captured one, and far more on the whole.
    assert away.min() > np.median(near), (near, away)
    assert np.median(away) > 3 * np.median(near), (near, away)


@pytest.mark.slow
def test_the_round_is_its_own_folder_and_a_killed_round_retrains_only_what_is_missing(
    ensemble: Ensemble, session: Path
) -> None:
    folder = session / "adaptive" / "round-1"
    assert ensemble.models == [member_path(folder, k) for k in (1, 2, 3)]
    assert sorted(p.name for p in folder.iterdir()) == [
        "ensemble.json", "member-1.nam", "member-2.nam", "member-3.nam",
    ]  # fmt: skip
    assert not (session / "models").exists() and not (session / "training").exists()
    manifest = json.loads((folder / "ensemble.json").read_text())
    assert manifest["settings"] == ensemble.settings and len(ensemble.settings) == 10  # no h001
    assert [r["seed"] for r in manifest["recipes"]] == [0, 1, 2]
    assert all(log["steps_done"] == 300 for log in ensemble.training)
    weights = [read_model(m).data["weights"] for m in ensemble.models]
    assert weights[0] != weights[1]  # different seeds, different members
    # A round killed after two members: the third is trained again, alike, the others kept.
    kept = [m.stat().st_mtime_ns for m in ensemble.models[:2]]
    ensemble.models[2].unlink()
    again = train_ensemble(session, 3, RECIPE)
    assert [m.stat().st_mtime_ns for m in again.models[:2]] == kept
    assert read_model(again.models[2]).data["weights"] == weights[2]
    assert not (folder / "member-3").exists()  # NAM's scratch folder is gone


def test_a_round_trains_only_on_the_settings_it_began_with(
    session: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed round (`only`: the journal's settings) must not learn from settings captured
    since, nor from ones the sweep found suspect: the trainer is handed those ids alone."""
    from station.models.parametric import ensemble as module

    handed: list[list[str]] = []

    def trainer(sweep: object, *args: object, **kwargs: object) -> None:
        handed.append(sorted(s.id for s in sweep.used("train")))  # type: ignore[attr-defined]
        raise StationError("enough: the test needs only what the trainer was handed")

    monkeypatch.setattr(module, "fit", trainer)
    only = ["s001", "s003", "s006", "s008"]
    with pytest.raises(StationError, match="enough"):
        train_ensemble(session, 2, RECIPE, round_no=7, only=only)
    assert handed == [only]  # of the session's ten training settings, the four given


def test_a_prediction_is_the_models_own_snapshot_at_that_setting(tmp_path: Path) -> None:
    """Against fold's snapshot run as a one-input WaveNet: encoding, batching and order."""
    from station.models.verify import run_model

    model = write_parametric(tmp_path / "p.nam", seed=3)  # boost off/on, drive 0…10
    other = write_parametric(tmp_path / "q.nam", seed=4)
    x = np.random.default_rng(1).normal(0, 0.3, 3000).astype(np.float32)
    narrow = PlanRequest(knobs=(KnobRange("drive", 2.0, 8.0),), switches=REQ.switches)
    cands = [Candidate((u,), (b,)) for u in (0.0, 0.25, 0.5, 1.0) for b in ("off", "on")]
    out = predict([model, other], cands, x, narrow, chunk_samples=7000)  # two a batch
    assert out.shape == (2, len(cands), len(x)) and out.dtype == np.float32
    data = read_model(model).data
    for i, c in enumerate(cands):
        values = {"drive": 2.0 + 6.0 * c.unit[0], "boost": float(c.switches[0] == "on")}
        snap = tmp_path / f"snap{i}.nam"
        snap.write_text(json.dumps(fold.fold(data, values)))
        want = run_model(snap, x)
        np.testing.assert_allclose(out[0, i], want, rtol=0, atol=1e-5 * np.abs(want).max())
    assert not np.allclose(out[0], out[1])  # the second member is its own model
    one = predict([model], cands, x, narrow, chunk_samples=1)  # one candidate a batch
    np.testing.assert_allclose(one[0], out[0], atol=1e-6)


def test_bad_requests_say_so_in_one_line(tmp_path: Path, session: Path) -> None:
    model = write_parametric(tmp_path / "p.nam")
    x = np.zeros(1000, dtype=np.float32)
    cases = [
        (lambda: train_ensemble(session, 1, RECIPE), "at least two members, not 1"),
        (lambda: predict([model], [_at(1, 2, "on")], x, REQ), "no control 'tone'"),
        (
            lambda: predict([model], [Candidate((0.5,), ())], x, PlanRequest(knobs=REQ.knobs[:1])),
            "do not set the models' control 'boost'",
        ),
        (
            lambda: predict(
                [model],
                [Candidate((0.5,), ("on",))],
                x,
                PlanRequest(knobs=(KnobRange("drive", 0.0, 12.0),), switches=REQ.switches),
            ),
            "runs 0…12, beyond the models' 0…10",
        ),
        (lambda: predict([], [], x, REQ), "no models"),
    ]
    for call, words in cases:
        with pytest.raises(StationError, match=words) as err:
            call()
        assert "\n" not in err.value.message


def test_an_ensemble_needs_two_captured_training_settings(tmp_path: Path) -> None:
    plan = [
        PlannedSetting("s001", "train", {"drive": 1, "tone": 1}, {"boost": "off"}),
        PlannedSetting("h001", "holdout", {"drive": 5, "tone": 5}, {"boost": "on"}),
    ]
    one = write_session(tmp_path / "one", short_input(tmp_path / "in.wav", 1.0), plan)
    with pytest.raises(StationError, match="1 usable training setting"):
        train_ensemble(one, 2, RECIPE)
    assert not (one / "adaptive").exists()


def test_a_round_leaves_a_core_to_the_sweep_and_keeps_fewer_threads_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from station.models.parametric import ensemble as ens
    from station.plan.adaptive import RoundScores

    seen: list[int] = []

    def trained(*_a: object, **_k: object) -> Ensemble:
        seen.append(torch.get_num_threads())  # what training runs with
        return Ensemble(Path("."), [], [], [], 0.0)

    monkeypatch.setattr(ens.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(ens, "train_ensemble", trained)
    monkeypatch.setattr(ens, "load_sweep", lambda _s: None)
    monkeypatch.setattr(ens, "probe_input", lambda _s: np.zeros(8))
    monkeypatch.setattr(ens, "predict", lambda *_a: np.zeros((2, 1, 8)))
    before = torch.get_num_threads()
    try:
        for given, used in ((8, 7), (3, 3), (1, 1)):
            torch.set_num_threads(given)
            got = score_round(Path("."), 1, [], [], None, 2, None, None)  # type: ignore[arg-type]
            assert isinstance(got, RoundScores) and seen[-1] == used, (given, seen)
    finally:
        torch.set_num_threads(before)
