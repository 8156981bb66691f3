"""Locks name their holder, refuse a second program, and a killed holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from station.locks import LockHeld, acquire

HOLD = """
import sys, time
from pathlib import Path
from station.locks import acquire
lock = acquire(Path(sys.argv[1]), "session s", command="station sweep run")
print("held", flush=True)
time.sleep(60)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    """Another program holding the lock at `path` (until killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_is_freed_on_release(tmp_path: Path) -> None:
    path = tmp_path / "s" / ".lock"
    with acquire(path, "session s") as lock:
        assert lock.taken_over is None
        assert path.is_file()
        with pytest.raises(LockHeld):
            acquire(path, "session s")
    assert not path.exists()
    acquire(path, "session s").release()


def test_a_running_holder_is_named(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    proc = _holder(path)
    try:
        with pytest.raises(LockHeld) as err:
            acquire(path, "session s")
        assert f"session s is in use by PID {proc.pid}" in err.value.message
        assert "station sweep run" in err.value.message
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holders_lock_is_taken_over_and_said(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    proc = _holder(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with acquire(path, "session s") as lock:
        assert lock.taken_over is not None and lock.taken_over["pid"] == proc.pid
        note = lock.stale_note("session s")
        assert note is not None and f"PID {proc.pid}" in note and "taken over" in note
