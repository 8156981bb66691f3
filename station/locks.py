"""Locks on what one program at a time may use (a sweep session, a rig), naming their holder.

A lock is a file holding the holder's PID, host, command and start time, with an
exclusive `flock` on it while the holder runs. The kernel drops the flock when the
holder dies however it dies, so a lock left by a killed program is free; its file
still names that program, so the next holder says it took over a stale lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from .errors import StationError


class LockHeld(StationError):
    """Another running program holds the lock."""


class Lock:
    """A held lock: release() (or leaving its `with`) frees it and removes its file."""

    def __init__(self, path: Path, fd: int, taken_over: dict[str, Any] | None) -> None:
        self.path = path
        self._fd: int | None = fd
        self.taken_over = taken_over  # the stale holder's record, when there was one

    def stale_note(self, what: str) -> str | None:
        """'a stale lock on WHAT from PID N (..., no longer running) was taken over', or None."""
        if not self.taken_over:
            return None
        return f"a stale lock on {what} from {describe_holder(self.taken_over)} was taken over"

    def release(self) -> None:
        """Free the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def describe_holder(record: dict[str, Any]) -> str:
    """'PID 4242 on bench-pc (station sweep run, since 2026-12-04 21:03)'."""
    pid = record.get("pid", "?")
    host = record.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    since = str(record.get("started", ""))[:16].replace("T", " ")
    what = ", ".join(p for p in (record.get("command"), f"since {since}" if since else "") if p)
    return f"PID {pid}{where}" + (f" ({what})" if what else "")


def _read(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096).decode("utf-8", "replace")
        record = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def acquire(path: Path, what: str, *, command: str | None = None) -> Lock:
    """Hold the lock at `path` for `what` ('session od-sweep', 'rig od on /dev/ttyUSB0').

    Raises LockHeld naming the holder when a running program holds it, and
    StationError when the lock file cannot be made.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StationError(
            f"cannot lock {what} ({path}): {exc.strerror}", "check the folder"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        who = describe_holder(holder) if holder else "another program"
        raise LockHeld(
            f"{what} is in use by {who}",
            "wait for it to finish or stop it; only one program at a time may use it",
        ) from None
    # The file may have been unlinked by its last holder between our open and our flock:
    # a lock on a name no longer in the folder locks nothing.
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return acquire(path, what, command=command)
    previous = _read(fd)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command or " ".join(["station", *sys.argv[1:3]]),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode("utf-8"))
    os.fsync(fd)
    stale = previous if previous and previous.get("pid") != os.getpid() else None
    return Lock(path, fd, stale)
