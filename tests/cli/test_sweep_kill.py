"""A sweep killed exactly between committing a capture and journalling it resumes without
taking it twice; the finished session, copied to another folder with the original gone,
exports and trains there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from station.reamp.files import md5_of_file
from station.rig.profiles import save_rig
from station.virtual.pedal import virtual_pedal_rig
from tests.cli.test_sweep import _events, _plan, _sweep_run
from tests.conftest import calibrate_virtual, run_station

# `station` with the journal's append patched: the KILL_AT-th "captured" event kills the
# process (SIGKILL: no handler, no finally) before it is written. The capture folder is then
# committed (renamed into place) and the journal knows nothing of it.
KILLED_BEFORE_JOURNALLING = """
import os, signal, sys
from station.sweep import journal
real = journal.Journal.append
seen = []
def append(self, event, **fields):
    if event == "captured":
        seen.append(fields["id"])
        if len(seen) == int(os.environ["KILL_AT"]):
            print("KILLED AT", fields["id"], file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    return real(self, event, **fields)
journal.Journal.append = append
from station.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def sweep_home(home: Path) -> Path:
    """A home with a virtual interface profile 'v' and a rig profile 'vpedal' (port virtual)."""
    assert calibrate_virtual(home, "v").returncode == 0
    save_rig(home, virtual_pedal_rig())
    return home


@pytest.mark.slow
def test_killed_between_commit_and_journal_the_capture_is_recovered_and_the_copy_trains(
    sweep_home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = sweep_home
    plan = _plan(home, "--settings", "4", "--holdout", "1", "--anchor-every", "3", "--seed", "4")
    session = home / "captures" / "sw"
    args = _sweep_run(plan, "sw", short_signal)[3:]  # after `python -m station`
    cmd = [sys.executable, "-c", KILLED_BEFORE_JOURNALLING, *args]
    env = dict(os.environ, STATION_HOME=str(home), KILL_AT="3")
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr[-2000:]
    killed = run.stderr.split("KILLED AT ")[1].split()[0]
    # Committed, not journalled: the whole folder is there, the journal has no "captured".
    assert (session / killed / "capture.json").is_file() and not list(session.glob(".*.partial"))
    assert killed not in {e["id"] for e in _events(session, "captured")}
    assert [e["id"] for e in _events(session, "moved")].count(killed) == 1
    taken = md5_of_file(session / killed / "output.wav")

    r = run_station("sweep", "resume", "sw", "--yes", "--json", home=home)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["complete"] and not summary["failed"] and not summary["suspect"]
    recovered = _events(session, "recovered")
    assert [(e["id"], e["passed"]) for e in recovered] == [(killed, True)]
    # Never taken twice: not moved to or captured again, its output untouched; and compared
    # with the capture before it like any other.
    assert killed not in {e["id"] for e in _events(session, "captured")}
    assert [e["id"] for e in _events(session, "moved")].count(killed) == 1
    assert md5_of_file(session / killed / "output.wav") == taken
    assert [e["unmoved"] for e in _events(session, "compared") if e["id"] == killed] == [False]
    # Every setting captured exactly once, in one run or the other.
    sched = json.loads((session / "session.json").read_text())["schedule"]
    once = Counter(e["id"] for e in _events(session, "captured") + recovered)
    assert once == Counter(s["id"] for s in sched)
    assert {s["status"] for s in json.loads(
        run_station("sweep", "status", "sw", "--json", home=home).stdout
    )["settings"]} == {"done"}  # fmt: skip
    r = run_station("sweep", "export", "sw", home=home)
    assert r.returncode == 0, r.stderr

    # Copied to another folder, the original gone: export and training read the copy.
    copy = home / "elsewhere" / "od-copy"
    shutil.copytree(session, copy)
    session.rename(home / "captures" / "sw-gone")
    r = run_station("sweep", "export", str(copy), "--json", home=home)
    assert r.returncode == 0, r.stderr
    dataset = json.loads((copy / "dataset.json").read_text())
    items = dataset["train"] + dataset["validation"]
    assert items and all((copy / i["y_path"]).is_file() for i in items)
    assert (copy / dataset["common"]["x_path"]).is_file()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    r = run_station(
        "train", str(copy), "--parametric", "--architecture", "tiny", "--epochs", "1",
        "--accelerator", "cpu", "--devices", "1", "--json", home=home,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert Path(out["model_path"]).is_relative_to(copy.resolve())
    holdout = {s["id"] for s in sched if s["role"] == "holdout"}
    assert {h["id"] for h in out["holdout"]} == holdout
    assert all(isinstance(h["esr"], float) for h in out["holdout"])  # judged
    assert out["verdict"]
