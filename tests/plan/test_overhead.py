"""Plan time estimates use the station overhead measured in the home's recent sweeps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from station.capture.run import NOISE_S, PREROLL_S, TAIL_S
from station.plan.design import STATION_OVERHEAD_S
from station.sweep.overhead import measured_overhead
from tests.conftest import run_station

FRAMES, RATE = 480_000, 48_000  # a 10 s reamp file
AUDIO_S = FRAMES / RATE + NOISE_S + PREROLL_S + TAIL_S


def write_sweep(home: Path, name: str, overheads: list[float], virtual: str | None = None) -> None:
    """A swept session whose journal says each setting took its audio plus `overheads[i]`."""
    folder = home / "captures" / name
    folder.mkdir(parents=True)
    options = {"virtual_gear": virtual, "retakes": 1}
    (folder / "session.json").write_text(json.dumps({"schema_version": 1, "options": options}))
    t = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    events = [{"event": "started", "time": t.isoformat()}]
    for i, extra in enumerate(overheads):
        sid = f"s{i + 1:03d}"
        (folder / sid).mkdir()
        meta = {"reamp_file": {"frames": FRAMES, "samplerate": RATE}, "latency": {}}
        (folder / sid / "capture.json").write_text(json.dumps(meta))
        t += dt.timedelta(seconds=7.5)  # the servos move
        events.append({"event": "moved", "id": sid, "time": t.isoformat()})
        t += dt.timedelta(seconds=AUDIO_S + extra)
        events.append({"event": "captured", "id": sid, "passed": True, "time": t.isoformat()})
        events.append({"event": "checked", "id": sid, "passed": True, "time": t.isoformat()})
        if i == 0:  # a retake: played again without moving, so not a first take
            t += dt.timedelta(seconds=AUDIO_S + 30)
            events.append({"event": "retaken", "id": sid, "time": t.isoformat()})
            events.append({"event": "captured", "id": sid, "time": t.isoformat()})
    (folder / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_the_overhead_is_the_median_time_beyond_the_audio(tmp_path: Path) -> None:
    write_sweep(tmp_path, "bench", [3.0, 4.0, 9.0])
    write_sweep(tmp_path, "demo", [-200.0, -200.0], virtual="od")  # faster than real time
    measured = measured_overhead(tmp_path / "captures")
    assert measured is not None
    assert measured.seconds == pytest.approx(4.0, abs=0.01)
    assert measured.settings == 3 and measured.sessions == ("bench",)


def test_a_home_without_real_sweeps_has_no_measurement(tmp_path: Path) -> None:
    (tmp_path / "captures").mkdir()
    assert measured_overhead(tmp_path / "captures") is None
    write_sweep(tmp_path, "demo", [1.0], virtual="od")
    assert measured_overhead(tmp_path / "captures") is None


def _plan(home: Path) -> tuple[dict, str]:
    args = ["plan", "--knob", "drive=0:10", "--settings", "10", "--capture-s", "60"]
    r = run_station(*args, "--out", str(home / "p.json"), "--force", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads((home / "p.json").read_text()), r.stdout


def test_station_plan_uses_the_measured_overhead_and_says_which(tmp_path: Path) -> None:
    (tmp_path / "captures").mkdir()
    nominal, said = _plan(tmp_path)
    assert nominal["station_overhead_s"] == STATION_OVERHEAD_S
    assert "nominal" in said and f"{STATION_OVERHEAD_S:.1f} s station overhead" in said
    write_sweep(tmp_path, "bench", [6.0, 6.0, 6.0])
    measured, said = _plan(tmp_path)
    assert measured["station_overhead_s"] == pytest.approx(6.0, abs=0.01)
    assert "measured in this home's recent sweeps (bench" in said
    captures = len(measured["settings"])
    extra = measured["estimated_total_s"] - nominal["estimated_total_s"]
    assert extra == pytest.approx(captures * (6.0 - STATION_OVERHEAD_S), abs=0.1)
