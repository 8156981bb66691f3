"""Two programs, one session or one rig: the second refuses, naming the holder's PID; a holder
killed with SIGKILL leaves a stale lock that the next sweep takes over, saying so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.rig.profiles import save_rig
from station.sweep.journal import read_events
from station.virtual.pedal import virtual_pedal_rig
from tests.conftest import calibrate_virtual, run_station


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text():
        assert proc.poll() is None, path.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in: {path.read_text()}"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_held_session_and_rig_are_refused_then_taken_over_after_a_kill(
    home: Path, short_signal: Path
) -> None:
    assert calibrate_virtual(home, "v").returncode == 0
    save_rig(home, virtual_pedal_rig())
    plan = home / "plan.json"
    made = run_station(
        "plan", "--rig", "vpedal", "--settings", "3", "--holdout", "1", "--anchor-every", "0",
        "--out", str(plan), home=home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    log_path = home / "run.log"
    with log_path.open("w") as log:
        # Without --yes the sweep waits at its first prompt, holding its session and its rig.
        cmd = [
            sys.executable, "-m", "station", "sweep", "run", "--plan", str(plan),
            "--profile", "v", "--rig", "vpedal", "--out", "night", "--reamp-dbu", "12",
            "--input", str(short_signal),
        ]  # fmt: skip
        holder = subprocess.Popen(
            cmd,
            env=dict(os.environ, STATION_HOME=str(home)),
            stdin=subprocess.PIPE,
            stderr=log,
        )
    try:
        _wait_for(log_path, "press Enter", holder)
        second = run_station("sweep", "resume", "night", "--yes", home=home)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert lines[0].startswith(f"error: session night is in use by PID {holder.pid} ")
        assert "(station sweep run, since " in lines[0]
        assert lines[1].startswith("hint: wait for it to finish or stop it") and len(lines) == 2
        move = run_station("rig", "move", "--rig", "vpedal", "drive=5", home=home)
        assert move.returncode == 1
        assert f"error: the rig on virtual is in use by PID {holder.pid} " in move.stderr
        assert "Traceback" not in move.stderr + second.stderr
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    resumed = run_station("sweep", "resume", "night", "--yes", home=home)
    assert resumed.returncode == 0, resumed.stderr
    for what in ("session night", "the rig on virtual"):
        assert f"warning: a stale lock on {what} from PID {holder.pid} " in resumed.stderr
    events = read_events(home / "captures" / "night" / "journal.jsonl")
    assert events[-1]["event"] == "finished" and events[-1]["failed"] == 0
    # Both locks were freed when the sweep ended: the rig answers another program now.
    assert run_station("rig", "status", "--rig", "vpedal", home=home).returncode == 0
    assert not list((home / ".locks").iterdir()) and not (home / "captures/night/.lock").exists()
