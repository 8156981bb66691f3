"""An adaptive sweep's rounds on the firmware twin, with stand-in models whose disagreement is
known (a bump around one point of the knob space): each batch is chosen there and journalled,
the schedule grows by it, and the rounds end at the budget, the time budget or agreement; a
round whose models fail falls back on spacing. The real models are tested in
tests/cli/test_sweep_adaptive.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from station.errors import StationError, Stopped
from station.events import Step, StopFlag
from station.models.parametric.report import write_plot
from station.models.parametric.session import chosen_rounds, load_sweep
from station.models.parametric.verify import SettingScore
from station.plan.adaptive import Candidate, RoundScores, candidate_of, distance
from station.plan.adaptive_spec import AdaptiveSpec
from station.sweep.rounds import Rounds, round_of_setting, rounds_lines, rounds_report
from station.sweep.session import open_session
from tests.sweep.twin_bench import TwinSweep, when

HOT = Candidate((0.7, 0.3), ("on",))  # drive, tone; boost: where the stand-in models disagree


class Models:
    """Stand-in round models: disagreement exp(−(d/0.15)²) around HOT times `scale`, noting
    each call's round and settings; `fail` raises as a broken training would."""

    def __init__(self, scale: float = 1.0, fail: bool = False) -> None:
        self.scale, self.fail = scale, fail
        self.calls: list[tuple[int, list[str]]] = []

    def __call__(
        self, session: Path, round_no: int, settings: list[str], candidates: list[Candidate],
        req: Any, members: int, stop: Any, emit: Any,
    ) -> RoundScores:  # fmt: skip
        self.calls.append((round_no, list(settings)))
        if self.fail:
            raise StationError("the trainer ran out of memory")
        d = np.array([distance(c, HOT) for c in candidates])
        return RoundScores(self.scale * np.exp(-((d / 0.15) ** 2)), 0.01, [{}, {}])


def sweep(home: Path, models: Models, **spec: Any) -> tuple[TwinSweep, Any]:
    """An adaptive session of the virtual pedal (4 initial training settings, 1 held out,
    an anchor every 4), run to its end with `models`."""
    budget = spec.pop("settings", 9)
    t = TwinSweep(
        home, settings=5, speedup=20.0, holdout=1, anchor_every=4,
        adaptive=AdaptiveSpec(settings=budget, initial=4, batch=2, members=2, **spec),
    )  # fmt: skip
    runner = t.runner()
    runner.rounds = Rounds(
        runner.session, models, runner.log, runner.journal.read, t.said.append, None
    )
    return t, runner.run()


def test_batches_go_where_the_models_disagree_until_the_budget_is_used(home: Path) -> None:
    models = Models()
    t, summary = sweep(home, models)
    assert summary.complete and not summary.failed
    chosen = t.events("chosen")
    batches = [[s for s in e["settings"] if s["role"] == "train"] for e in chosen if e["round"]]
    assert [len(b) for b in batches] == [2, 2]  # budget 9 − 1 held out − 4 initial
    session = open_session(t.session.folder)
    req = session.plan.request
    # Round 1 takes the hot spot; round 2, with captures there, its surroundings; a batch's
    # two picks spread apart.
    for r, batch in enumerate(batches, 1):
        first = candidate_of(req, session.setting(batch[0]["id"]))
        second = candidate_of(req, session.setting(batch[1]["id"]))
        near = min(distance(first, HOT), distance(second, HOT))
        assert near < (0.15 if r == 1 else 0.3), (r, first, second)
        assert max(distance(first, HOT), distance(second, HOT)) < 0.3
        assert distance(first, second) > 0.05
    # Round 1 learnt from the four initial training settings, round 2 from more.
    assert models.calls[0][0] == 1 and len(models.calls[0][1]) == 4
    assert models.calls[-1][0] == 2 and len(models.calls[-1][1]) > 4
    # The schedule grew by the batches and an anchor; each was captured exactly once.
    ids = [s.id for s in session.schedule]
    assert ids[-1].startswith("a") and {b["id"] for bb in batches for b in bb} <= set(ids)
    assert t.captured() == {i: 1 for i in ids}
    assert t.takes_off_their_setting() == []
    done = t.events("adaptive_done")
    assert len(done) == 1 and "budget of 9 settings is used" in done[0]["reason"]
    report = rounds_report(session, t.runner().state, 10.0)
    assert report["chosen"] == 4 and report["left"] == 0 and len(report["rounds"]) == 2
    lines = rounds_lines(report)
    assert lines[0].startswith("Adaptive: 2 round(s) chose 4 setting(s) after 4 to start")
    assert any("rounds done: the budget" in line for line in lines)
    # The TUI lists the last round's batch only: the head and the trend still count both.
    (listed,) = [line for line in rounds_lines(report, last=1) if line.startswith("  round ")]
    assert listed.startswith(f"  round 2: {batches[1][0]['id']}, {batches[1][1]['id']} (")
    assert rounds_lines(report, last=1)[0] == lines[0] and len(rounds_lines(report, last=5)) == 5
    assert round_of_setting(report) == {b["id"]: r for r, bb in enumerate(batches, 1) for b in bb}
    # Every candidate's score is kept beside the round; the picks are the batch.
    kept = json.loads((t.session.folder / "adaptive" / "round-1" / "scores.json").read_text())
    assert kept["controls"] == ["drive", "tone", "boost"]
    assert len(kept["disagreement"]) == len(kept["candidates"]) == 512
    best = kept["candidates"][kept["picked"][0]]
    assert best[2] == "on" and abs(best[0] / 10 - HOT.unit[0]) < 0.1
    assert abs(best[1] / 10 - HOT.unit[1]) < 0.1
    # session.json notes each chosen training setting's round, for the model's report.
    rounds = {b["id"]: r for r, bb in enumerate(batches, 1) for b in bb}
    assert chosen_rounds(t.session.folder) == rounds
    plotted = write_plot(home / "r.png", load_sweep(t.session.folder), [], scores(t, rounds))
    assert plotted.stat().st_size > 0


def scores(t: TwinSweep, ids: dict[str, int]) -> list[SettingScore]:
    """The training settings as a report draws them (the figures do not matter here)."""
    session = open_session(t.session.folder)
    return [
        SettingScore(s.id, "train", s.id, {**s.knobs, **s.switches}, 0.01, None, 0.0, 0.1)
        for s in session.schedule
        if s.role == "train"
    ]


def test_models_that_agree_everywhere_end_the_rounds(home: Path) -> None:
    t, summary = sweep(home, Models(scale=1e-5), stop_below=1e-3)
    assert summary.complete
    done = t.events("adaptive_done")
    assert len(done) == 1 and "agree everywhere" in done[0]["reason"]
    assert [e for e in t.events("chosen") if e["round"]] == []  # nothing chosen
    assert t.captured()  # the initial plan was captured


def test_the_time_budget_ends_the_rounds(home: Path) -> None:
    t, summary = sweep(home, Models(), max_hours=1e-4)  # 0.36 s: less than one setting
    assert summary.complete
    (done,) = t.events("adaptive_done")
    assert "time budget of 0.0001 h" in done["reason"]


def test_failed_models_fall_back_on_spacing_and_the_sweep_goes_on(home: Path) -> None:
    t, summary = sweep(home, Models(fail=True), settings=7)
    assert summary.complete and not summary.failed
    (failed,) = t.events("round_failed")
    assert "ran out of memory" in failed["reason"]
    (chosen,) = [e for e in t.events("chosen") if e["round"]]
    assert chosen["fallback"] and len([s for s in chosen["settings"] if s["role"] == "train"]) == 2
    assert any("chosen by spacing alone" in w for w in t.warnings)
    steps = [e.text for e in t.said if isinstance(e, Step)]
    assert any("(by spacing)" in s for s in steps)


def test_a_resumed_session_keeps_its_choices(home: Path) -> None:
    """Opened again, a session's schedule holds every batch the journal chose, even one
    journalled just before a kill kept it out of session.json."""
    t, _ = sweep(home, Models())
    chosen = [s["id"] for e in t.events("chosen") for s in e["settings"]]
    data = (t.session.folder / "session.json").read_text()
    session = open_session(t.session.folder)
    assert set(chosen) <= {s.id for s in session.schedule}
    # session.json without the last batch (as a kill after journalling it leaves it)
    raw = json.loads(data)
    raw["schedule"] = [s for s in raw["schedule"] if s["id"] not in chosen[-3:]]
    (t.session.folder / "session.json").write_text(json.dumps(raw))
    again = open_session(t.session.folder)
    assert [s.id for s in again.schedule] == [s.id for s in session.schedule]


class Slow(Models):
    """Stand-in models that train until stopped (as a long round would)."""

    def __call__(self, session: Path, round_no: int, settings: list[str], *rest: Any) -> Any:
        self.calls.append((round_no, list(settings)))
        stop = rest[3]
        while not stop.wait(0.05):
            pass
        raise Stopped()


def test_a_stop_while_a_round_trains_ends_it_and_the_resume_trains_it_on_the_same_settings(
    home: Path,
) -> None:
    t = TwinSweep(
        home, settings=5, speedup=20.0, holdout=1, anchor_every=4,
        adaptive=AdaptiveSpec(settings=9, initial=4, batch=2, members=2),
    )  # fmt: skip
    stop = StopFlag()
    runner = t.runner(stop=stop)
    slow = Slow()
    runner.rounds = Rounds(
        runner.session, slow, runner.log, runner.journal.read, t.said.append, stop
    )
    when(lambda: bool(slow.calls), stop.set)
    with pytest.raises(Stopped):
        runner.run()
    (started,) = t.events("round_started")
    assert not t.events("chosen") and slow.calls == [(1, started["settings"])]
    assert any("Round 1: stopping its training" in e.text for e in t.said if isinstance(e, Step))
    stopped = rounds_report(open_session(t.session.folder), runner.state, 10.0)
    assert stopped["cut_short"] == 1 and stopped["training"] is None
    assert any("round 1 was cut short (a resume trains it)" in x for x in rounds_lines(stopped))
    models = Models()
    t.connect()  # the station run again: the rig opened anew
    again = t.runner()
    again.rounds = Rounds(
        again.session, models, again.log, again.journal.read, t.said.append, None
    )
    assert again.run(resumed=True).complete
    assert models.calls[0] == (1, started["settings"])  # the round as it began
    assert len(t.events("round_started")) == 2  # rounds 1 (once) and 2
