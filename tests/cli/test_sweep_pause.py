"""`station sweep run` when the rig's cable is pulled: one line says so, the sweep waits, and a
port name typed meanwhile is tried as the rig's new name; the session goes on."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

import station.cli.sweep as cli_sweep
from station.cli.keys import typed_within
from station.cli.main import main
from station.devices import StationBench
from station.rig.profiles import save_rig
from station.sweep.journal import read_events
from station.virtual.pedal import virtual_pedal_rig
from tests.conftest import calibrate_virtual, run_station


def test_a_name_typed_while_waiting_is_read_and_an_ended_input_is_a_sleep() -> None:
    read, write = os.pipe()
    with os.fdopen(read) as stream, os.fdopen(write, "w") as typing:
        assert typed_within(stream, 0.05) is None  # nothing typed: None after the wait
        typing.write("/dev/ttyACM1\n")
        typing.flush()
        assert typed_within(stream, 5.0) == "/dev/ttyACM1"
        typing.close()
        t0 = time.monotonic()
        assert typed_within(stream, 0.2) is None  # the input ended...
        assert typed_within(stream, 0.2) is None  # ...so a wait is only a wait, not a spin
        assert time.monotonic() - t0 >= 0.2
    assert typed_within(io.StringIO(""), 0.01) is None  # no file descriptor: a plain wait


@pytest.mark.slow
def test_a_pulled_cable_pauses_the_cli_sweep_and_a_typed_port_resumes_it(
    home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert calibrate_virtual(home, "v").returncode == 0
    save_rig(home, virtual_pedal_rig())
    plan = home / "plan.json"
    made = run_station(
        "plan", "--rig", "vpedal", "--settings", "2", "--holdout", "0", "--anchor-every", "0",
        "--out", str(plan), home=home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    benches: list[StationBench] = []

    class Watched(StationBench):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, **kw)
            benches.append(self)

    monkeypatch.setattr(cli_sweep, "StationBench", Watched)
    read, write = os.pipe()
    monkeypatch.setattr("sys.stdin", os.fdopen(read))
    typing = os.fdopen(write, "w")
    journal = home / "captures" / "night" / "journal.jsonl"

    def pull_then_type() -> None:
        deadline = time.monotonic() + 120
        while not any(e["event"] == "checked" for e in read_events(journal)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        twin = benches[0].twin
        assert twin is not None
        twin.unplug()
        new = twin.plug(new_name=True)  # another USB socket: another name
        while not any(e["event"] == "device_lost" for e in read_events(journal)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        typing.write(new + "\n")
        typing.flush()

    helper = threading.Thread(target=pull_then_type, daemon=True)
    helper.start()
    argv = [
        "--home", str(home), "sweep", "run", "--plan", str(plan), "--profile", "v",
        "--rig", "vpedal", "--out", "night", "--reamp-dbu", "12", "--input",
        str(short_signal), "--yes",
    ]  # fmt: skip
    code = main(argv)
    helper.join(5)
    typing.close()
    err = capsys.readouterr().err
    assert code == 0, err
    paused = [line for line in err.splitlines() if line.startswith("!! ")]
    assert len(paused) == 1
    assert "paused: the rig's serial port virtual went away" in paused[0]
    assert "type its new name and press Enter" in paused[0] and "Ctrl-C stops" in paused[0]
    assert any("the rig is back on " in line and "the sweep goes on" in line for line in
               err.splitlines())  # fmt: skip
    events = read_events(journal)
    assert [e["port"] for e in events if e["event"] == "device_back"] != ["virtual"]
    captured = [e["id"] for e in events if e["event"] == "captured"]
    assert len(captured) == len(set(captured)) and events[-1]["event"] == "finished"
