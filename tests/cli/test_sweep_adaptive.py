"""An adaptive sweep from the command line, on the firmware twin with the real quick models:
`station plan --adaptive` writes the start, `station sweep run` chooses the rest round by
round; killed (SIGKILL) while a round trains, `sweep resume` keeps every choice made,
retrains only what the killed round had not finished, and completes the budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from station.reamp.files import md5_of_file
from tests.cli.test_sweep import _events, _plan, _sweep_run
from tests.cli.test_sweep_kill import sweep_home  # noqa: F401 (a fixture)
from tests.conftest import run_station

pytest.importorskip("nam")

# `station` with the round ensemble's manifest write patched: once round KILL_ROUND's
# manifest lists its first model, the process is killed (SIGKILL: no handler, no finally)
# while the rest of the round trains.
KILLED_IN_TRAINING = """
import os, signal, sys
from station.models.parametric import ensemble
real = ensemble.write_json
def write_json(path, data):
    real(path, data)
    if path.parent.name == "round-" + os.environ["KILL_ROUND"] and "1" in data["members"]:
        print("KILLED IN ROUND", os.environ["KILL_ROUND"], file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
ensemble.write_json = write_json
from station.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_an_adaptive_sweep_killed_while_a_round_trains_resumes_with_the_same_choices(
    sweep_home: Path,  # noqa: F811
    short_signal: Path,
) -> None:
    home = sweep_home
    plan = _plan(
        home, "--settings", "7", "--holdout", "1", "--adaptive", "--initial", "3", "--batch",
        "2", "--members", "2", "--anchor-every", "4", "--seed", "4",
    )  # fmt: skip
    start = json.loads(plan.read_text())
    assert start["adaptive"]["settings"] == 7
    assert sum(s["role"] == "train" for s in start["settings"]) == 3
    session = home / "captures" / "ad"
    args = _sweep_run(plan, "ad", short_signal)[3:]  # after `python -m station`
    env = dict(os.environ, STATION_HOME=str(home), KILL_ROUND="2", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-c", KILLED_IN_TRAINING, *args]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == -9, run.stderr[-3000:]
    assert "KILLED IN ROUND 2" in run.stderr
    first = _events(session, "chosen")
    assert [e["round"] for e in first] == [1]  # round 1 chose; round 2 was cut short
    (started,) = [e for e in _events(session, "round_started") if e["round"] == 2]
    kept = session / "adaptive" / "round-2" / "member-1.nam"
    round1 = session / "adaptive" / "round-1" / "member-1.nam"
    kept_md5, round1_md5 = md5_of_file(kept), md5_of_file(round1)

    r = run_station("sweep", "resume", "ad", "--yes", "--json", home=home)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["complete"]
    chosen = _events(session, "chosen")
    # Round 1's choice kept as it was, round 2 trained on what it began with, each once.
    assert chosen[0] == first[0] and [e["round"] for e in chosen if e["round"]] == [1, 2]
    assert [e["settings"] for e in _events(session, "round_started") if e["round"] == 2] == [
        started["settings"]
    ]
    # Its finished model kept (not trained again), round 1's untouched.
    assert md5_of_file(kept) == kept_md5
    assert md5_of_file(round1) == round1_md5
    (done,) = _events(session, "adaptive_done")
    assert "budget of 7 settings is used" in done["reason"]
    # Every setting of the grown schedule captured exactly once, in one run or the other.
    sched = json.loads((session / "session.json").read_text())["schedule"]
    picked = [s["id"] for e in chosen if e["round"] for s in e["settings"] if s["role"] == "train"]
    assert len(picked) == 3 and set(picked) <= {s["id"] for s in sched}
    once = Counter(e["id"] for e in _events(session, "captured") + _events(session, "recovered"))
    assert once == Counter(s["id"] for s in sched)

    status = run_station("sweep", "status", "ad", "--json", home=home)
    report = json.loads(status.stdout)
    assert report["adaptive"]["chosen"] == 3 and len(report["adaptive"]["rounds"]) == 2
    marks = {s["id"]: s["round"] for s in report["settings"] if s["round"]}
    assert set(marks) == set(picked)
    text = run_station("sweep", "status", "ad", home=home).stdout
    assert "Adaptive: 2 round(s) chose 3 setting(s) after 3 to start" in text
    # It exports like any other session, the chosen settings among the training data.
    r = run_station("sweep", "export", "ad", home=home)
    assert r.returncode == 0, r.stderr
    dataset = json.loads((session / "dataset.json").read_text())
    assert set(picked) <= {Path(i["y_path"]).parent.name for i in dataset["train"]}
