"""The sweep journal: journal.jsonl, one fsynced JSON event a line, and what it says.

The journal is the sweep's memory: append only, every event on disk before the
sweep moves on, so a sweep killed at any moment resumes from it. A line cut
short by a crash is ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..fsutil import json_safe

JOURNAL = "journal.jsonl"
EVENTS = (
    "started",
    "resumed",
    "moved",
    "probed",
    "captured",
    "checked",
    "retaken",
    "paused",
    "failed",
    "anchor_compared",
    "compared",
    "suspect",
    "discarded",
    "recovered",
    "reset",
    "device_lost",
    "device_back",
    "stopped",
    "finished",
    "round_started",
    "round_failed",
    "chosen",
    "adaptive_done",
)


class Journal:
    """Appends events to SESSION/journal.jsonl, each fsynced before `append` returns."""

    def __init__(self, session: Path) -> None:
        self.path = Path(session) / JOURNAL

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one event (name, time, fields) durably; returns it."""
        if event not in EVENTS:
            raise ValueError(f"unknown journal event {event!r}")
        record = {
            "event": event,
            "time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            **json_safe(fields),
        }
        line = json.dumps(record) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # A crash may have cut the last line short: start ours on a fresh line.
            if os.fstat(fd).st_size and not _ends_with_newline(self.path):
                line = "\n" + line
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def read(self) -> list[dict[str, Any]]:
        """Every complete event so far (a torn or garbled line is skipped)."""
        return read_events(self.path)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a journal file; StationError when it cannot be read at all."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StationError(f"cannot read the journal {path}: {exc}") from None
    events = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("event") in EVENTS:
            events.append(record)
    return events


@dataclass
class SweepState:
    """What the journal says about each setting: status, takes, suspects, anchor results,
    and each capture's comparison with the one before it."""

    status: dict[str, str] = field(default_factory=dict)  # pending|captured|done|failed
    takes: dict[str, int] = field(default_factory=dict)
    suspect: set[str] = field(default_factory=set)
    suspect_reason: dict[str, str] = field(default_factory=dict)  # "drift" | "unmoved"
    anchors: list[dict[str, Any]] = field(default_factory=list)  # anchor_compared events
    changes: list[dict[str, Any]] = field(default_factory=list)  # compared events
    last_verdict: dict[str, str] = field(default_factory=dict)
    moved_to: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Unmoved verdicts since the setting was last accepted, and the captures not yet compared.
    unmoved: dict[str, int] = field(default_factory=dict)
    uncompared: set[str] = field(default_factory=set)
    last_accepted: str | None = None  # the latest capture accepted (checked, passed)
    # The probes of each setting's last move (probed events, stepwise.py), those of a move
    # under way, and per control whether the last sound that judged it alone heard it turn.
    probes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    probing: list[dict[str, Any]] = field(default_factory=list)
    heard: dict[str, bool] = field(default_factory=dict)

    def apply(self, e: dict[str, Any]) -> None:
        """Fold one journal event in."""
        sid, kind = e.get("id"), e["event"]
        if kind == "suspect":
            ids = [i for i in e.get("ids", []) if i in self.status]
            self.suspect.update(ids)
            self.suspect_reason.update(dict.fromkeys(ids, str(e.get("reason", "drift"))))
        elif kind == "anchor_compared":
            self.anchors.append(e)
        elif kind == "chosen":  # an adaptive round's batch joins the schedule
            for s in e.get("settings", []):
                self.status.setdefault(str(s["id"]), "pending")
                self.takes.setdefault(str(s["id"]), 0)
        elif kind in ("started", "resumed"):
            self.probing = []  # a move a stop cut short
        if sid not in self.status:
            return
        if kind == "probed":
            self._probed(e)
        elif kind == "moved":
            self.moved_to[sid] = e
            if not e.get("away_to"):
                self.probes[sid] = [p for p in self.probing if p.get("id") == sid]
            self.probing = []
        elif kind in ("captured", "recovered"):
            self.status[sid] = "captured"
            self.takes[sid] += 1
            self.last_verdict[sid] = "passed" if e.get("passed") else "failed checks"
            self.uncompared.add(sid)
        elif kind == "compared":
            self.changes.append(e)
            self.uncompared.discard(sid)
            if e.get("unmoved"):
                self.unmoved[sid] = self.unmoved.get(sid, 0) + 1
            alone = [c for c in e.get("changed") or [] if c != "reamp level"]
            if e.get("judged_by") == "sound" and len(alone) == 1 and not e.get("probed"):
                self.heard[alone[0]] = not e.get("unmoved")
        elif kind == "checked":
            self.status[sid] = "done" if e.get("passed") else "captured"
            if e.get("passed"):
                self.suspect.discard(sid)
                self.suspect_reason.pop(sid, None)
                self.unmoved.pop(sid, None)
                self.uncompared.discard(sid)
                self.last_accepted = sid
        elif kind == "failed":
            self.status[sid] = "failed"
            self.last_verdict[sid] = f"failed: {e.get('reason', '')}"

    def _probed(self, e: dict[str, Any]) -> None:
        """A probe of a stepwise move: the first of a move starts its list afresh."""
        if e.get("probe") == 1:
            self.probing = []
        self.probing.append(e)
        if e.get("control") and isinstance(e.get("unmoved"), bool):
            self.heard[str(e["control"])] = not e["unmoved"]

    def count(self, status: str) -> int:
        """How many settings have this status."""
        return sum(v == status for v in self.status.values())


def replay(events: list[dict[str, Any]], ids: list[str]) -> SweepState:
    """Fold the journal into per-setting state for the schedule's `ids`."""
    st = SweepState(status=dict.fromkeys(ids, "pending"), takes=dict.fromkeys(ids, 0))
    for e in events:
        st.apply(e)
    return st


def anchors_unjudged(events: list[dict[str, Any]], anchors: list[str]) -> dict[str, Any]:
    """The anchors (`anchors`: their ids in schedule order) whose drift check a stop cut
    short: accepted after an earlier anchor but never compared (→ None), or compared and
    found drifted without the suspects that follow from it marked (→ the comparison).

    The journal is walked in order, as the sweep saw it: an anchor accepted while no
    anchor before it was done was the reference and needs no comparison.
    """
    done: set[str] = set()
    due: dict[str, Any] = {}
    for e in events:
        sid, kind = e.get("id"), e["event"]
        if kind == "suspect" and e.get("anchor") in due:
            del due[e["anchor"]]
        if sid not in anchors:
            continue
        if kind == "checked" and e.get("passed"):
            if done.intersection(anchors[: anchors.index(sid)]):
                due[sid] = None
            done.add(sid)
        elif kind in ("checked", "failed"):
            done.discard(sid)
            due.pop(sid, None)
        elif kind == "anchor_compared":
            if e.get("drifted"):
                due[sid] = e
            else:
                due.pop(sid, None)
    return due
