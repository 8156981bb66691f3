"""`station plan --adaptive` as a user meets it: the start it writes, the budget it keeps for
the rounds, and one clear line (nothing written) for each request that cannot run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_station

KNOBS = ("--knob", "drive=0:10", "--knob", "tone=0:10")


def plan(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_station("plan", *KNOBS, "--out", str(home / "p.json"), *extra, home=home)


def test_an_adaptive_plan_holds_its_start_and_the_budget_for_the_rounds(home: Path) -> None:
    r = plan(home, "--settings", "20", "--adaptive", "--batch", "3", "--max-hours", "2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    roles = [s["role"] for s in data["settings"]]
    # Default: half of the 18 training settings to start, the 2 held out of the whole budget.
    assert roles.count("train") == 9 and roles.count("holdout") == 2
    assert data["adaptive"] == {
        "settings": 20, "initial": 9, "batch": 3, "members": 3, "max_hours": 2.0,
        "stop_below": None,
    }  # fmt: skip
    # The estimate counts the 9 settings still to choose (and their anchors), not just the start.
    per = data["capture_s"] + data["station_overhead_s"]
    assert data["estimated_total_s"] > (len(data["settings"]) + 9) * per
    assert any("chooses up to 9 more in batches of 3" in n for n in data["notes"])
    assert "shorter_signal" not in data


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (("--settings", "20", "--adaptive", "--initial", "30"),
         "30 initial settings do not fit: the budget of 20 holds 18 training settings"),
        (("--settings", "1", "--adaptive"), "needs a budget of at least two settings"),
        (("--settings", "20", "--initial", "4"), "--initial goes with --adaptive"),
        (("--settings", "20", "--adaptive", "--levels", "6,12"), "takes one reamp level"),
        (("--settings", "20", "--adaptive", "--batch", "0"), "a batch needs at least one"),
        (("--settings", "20", "--adaptive", "--stop-below", "-1"), "--stop-below must be a"),
    ],
)  # fmt: skip
def test_a_request_that_cannot_run_adaptively_is_one_line_and_writes_nothing(
    home: Path, extra: tuple[str, ...], said: str
) -> None:
    r = plan(home, *extra)
    assert r.returncode != 0 and said in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 2
    assert not (home / "p.json").exists()


# `station` as it runs where the train extra is missing.
WITHOUT_TRAINING = """
import sys
from station.models import nam_lib
nam_lib.installed = lambda: False
from station.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_adaptive_sweep_without_the_train_extra_says_so_before_it_starts(
    home: Path, short_signal: Path
) -> None:
    from tests.conftest import calibrate_virtual

    assert calibrate_virtual(home, "v").returncode == 0
    assert plan(home, "--settings", "8", "--adaptive").returncode == 0
    cmd = [
        sys.executable, "-c", WITHOUT_TRAINING, "sweep", "run", "--plan", str(home / "p.json"),
        "--profile", "v", "--rig", "none", "--out", "ad", "--reamp-dbu", "12", "--input",
        str(short_signal), "--yes",
    ]  # fmt: skip
    r = subprocess.run(
        cmd, env=dict(os.environ, STATION_HOME=str(home)), capture_output=True, text=True
    )
    assert r.returncode != 0 and "needs the train extra" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (home / "captures" / "ad").exists()
