"""The station's own time per setting, measured in the home's sweeps: what a plan should expect.

A sweep's journal (journal.py) stamps every event. Between a setting's `moved` (the gear
is at the setting) and its first take's `captured` (the capture folder is written) the
station plays the audio — the signal with its noise floor, pre-roll and tail, which last
as long as they last — and spends the rest on pre-flight, analysis, checks and files: its
overhead. Sessions on the virtual rig run faster than real time and say nothing about a
real bench, so they are left out.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..capture.run import NOISE_S, PREROLL_S, TAIL_S
from ..plan.design import STATION_OVERHEAD_S
from .journal import JOURNAL, read_events

RECENT_SESSIONS = 3  # the overhead of the latest few sweeps: the bench as it is now
FASTER_THAN_REAL_TIME_S = -1.0  # a take shorter than its audio by this much: not real time


@dataclass(frozen=True)
class MeasuredOverhead:
    """The median station overhead per setting (s) over the settings of recent sweeps."""

    seconds: float
    settings: int
    sessions: tuple[str, ...]


def _time(event: dict[str, Any]) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(event["time"])).timestamp()
    except (KeyError, ValueError):
        return None


def _audio_s(folder: Path) -> float | None:
    """Seconds of audio a take of this capture played (signal, preamble, noise, pre-roll, tail)."""
    try:
        meta = json.loads((folder / "capture.json").read_text(encoding="utf-8"))
        reamp = meta["reamp_file"]
        preamble = int((meta.get("latency") or {}).get("preamble_samples") or 0)
        return (int(reamp["frames"]) + preamble) / float(reamp["samplerate"]) + (
            NOISE_S + PREROLL_S + TAIL_S
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def session_overheads(session: Path) -> list[float]:
    """Overhead (s) of each setting's first take in one session; [] for a virtual-rig session,
    one that ran faster than real time, or one without a readable journal."""
    try:
        info = json.loads((session / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    options = info.get("options") if isinstance(info, dict) else None
    if isinstance(options, dict) and options.get("virtual_gear"):
        return []
    out: list[float] = []
    last: dict[str, Any] | None = None
    for event in read_events(session / JOURNAL):
        sid = event.get("id")
        first_take = (
            event["event"] == "captured"
            and last is not None
            and last["event"] == "moved"
            and last.get("id") == sid
        )
        if first_take and last is not None:
            start, end = _time(last), _time(event)
            audio = _audio_s(session / str(sid))
            if start is not None and end is not None and audio is not None:
                out.append(end - start - audio)
        last = event
    if any(o < FASTER_THAN_REAL_TIME_S for o in out):
        return []
    return out


def measured_overhead(captures: Path, sessions: int = RECENT_SESSIONS) -> MeasuredOverhead | None:
    """The overhead measured in the most recent `sessions` sweeps under `captures` (those with
    a measurement), or None when no sweep in it was measured on a real bench."""
    found = []
    for journal in Path(captures).glob(f"*/{JOURNAL}"):
        values = session_overheads(journal.parent)
        if values:
            found.append((journal.stat().st_mtime, journal.parent.name, values))
    found.sort(reverse=True)
    recent = found[:sessions]
    if not recent:
        return None
    values = [v for _, _, vs in recent for v in vs]
    return MeasuredOverhead(
        max(0.0, statistics.median(values)), len(values), tuple(n for _, n, _ in recent)
    )


def expected_overhead(captures: Path) -> tuple[float, str]:
    """The station overhead per setting a plan should expect (s), and where the figure comes
    from, in words: measured in the home's recent sweeps when there are any, else nominal."""
    measured = measured_overhead(captures)
    if measured is None:
        return STATION_OVERHEAD_S, (
            f"station overhead {STATION_OVERHEAD_S:g} s a setting: nominal (no sweep in this home "
            "was measured on a real bench yet)"
        )
    return measured.seconds, (
        f"station overhead {measured.seconds:.1f} s a setting: measured in this home's recent "
        f"sweeps ({', '.join(measured.sessions)}; median of {measured.settings} settings)"
    )
