"""`station capture` through the real sounddevice driver on JACK's dummy backend.

Calibrate through a unity JACK "cable", then capture through a JACK "gear" of
known gain: the output must be that gain times the played file, aligned to the
sample, and every check must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.reamp.generate import write_station_signal
from station.signal.levels import ratio_from_db, vrms_from_dbu
from tests.conftest import jack_running

pytestmark = [
    pytest.mark.jack,
    pytest.mark.skipif(
        not jack_running() and os.environ.get("CI") != "true",
        reason="no JACK server (the CI script starts one)",
    ),
]


def run(args: list[str], home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "station", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=dict(os.environ, STATION_HOME=str(home)),
        timeout=300,
    )


@pytest.mark.slow
def test_capture_through_jack(home: Path, tmp_path: Path) -> None:
    from tests.jack_gear import GearProcess

    signal = write_station_signal(tmp_path / "short.wav", seed=5, training_s=1.0)
    send_dbu, reamp_dbu, gear_gain = 10.0, 8.0, 0.5
    with GearProcess(gain=1.0, delay_samples=0) as gear:
        cal = run(
            [
                "calibrate",
                "--device",
                "system",
                "--name",
                "jack",
                "--send-channel",
                "1",
                "--return-channel",
                "1",
                "--meter",
                "manual",
                "--meter-accuracy",  # asked once otherwise, before the reading
                "0.5 % + 2",
                "--yes",
                "--json",
            ],
            home,
            stdin=f"{vrms_from_dbu(send_dbu - 12.0):.6f}\n",
        )
        assert cal.returncode == 0, cal.stderr
        gear.set_gain(gear_gain)
        res = run(
            [
                "capture",
                "--profile",
                "jack",
                "--reamp-dbu",
                str(reamp_dbu),
                "--out",
                "j1",
                "--input",
                str(signal),
                "--yes",
                "--json",
                # A loaded CI machine can still glitch mid-take: the station discards such a
                # take whole and plays it again.
                "--retakes",
                "2",
            ],
            home,
        )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["passed"]
    assert out["input_level_dbu"] == reamp_dbu
    assert out["output_level_dbu"] == pytest.approx(send_dbu, abs=0.02)
    x, _ = sf.read(signal)
    y, _ = sf.read(Path(out["capture_dir"]) / "output.wav")
    truth = x * ratio_from_db(reamp_dbu - send_dbu) * gear_gain
    seg = slice(816_000, len(x) - 432_000)
    lags = np.arange(-3, 4)
    corr = [np.dot(np.roll(y, -k)[seg], truth[seg]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0
    ratio_db = 20 * np.log10(np.sqrt(np.mean(y[seg] ** 2) / np.mean(truth[seg] ** 2)))
    assert abs(ratio_db) < 0.05


@pytest.mark.slow
def test_timing_reference_through_jack(home: Path, tmp_path: Path) -> None:
    """A driver that moves its latency per stream (the JACK gear shifts its reamp path and
    the timing loop alike, 0–3 samples): with a timing pair patched, the capture is exact."""
    from tests.jack_gear import GearProcess

    signal = write_station_signal(tmp_path / "short.wav", seed=5, training_s=1.0)
    send_dbu, reamp_dbu, gear_gain = 10.0, 8.0, 0.5
    shifts = "0,3,1,2"
    with GearProcess(gain=1.0, delay_samples=0, timing_out=2, timing_in=2, shifts=shifts) as gear:
        cal = run(
            [
                "calibrate",
                "--device",
                "system",
                "--name",
                "jack",
                "--send-channel",
                "1",
                "--return-channel",
                "1",
                "--timing-out",
                "2",
                "--timing-in",
                "2",
                "--meter",
                "manual",
                "--meter-accuracy",  # asked once otherwise, before the reading
                "0.5 % + 2",
                "--yes",
                "--json",
            ],
            home,
            stdin=f"{vrms_from_dbu(send_dbu - 12.0):.6f}\n",
        )
        assert cal.returncode == 0, cal.stderr
        profile = json.loads(cal.stdout)
        # The three latency streams got different shifts: calibration saw the driver move,
        # and the timing loop moved with the reamp path in every stream.
        assert profile["latency_spread_samples"] >= 0.9
        assert profile["timing_reference_delay_samples"] == pytest.approx(
            profile["latency_samples"], abs=0.1
        )
        gear.set_gain(gear_gain)
        before = gear.streams
        res = run(
            [
                "capture",
                "--profile",
                "jack",
                "--reamp-dbu",
                str(reamp_dbu),
                "--out",
                "j2",
                "--input",
                str(signal),
                "--yes",
                "--json",
                "--retakes",
                "2",
            ],
            home,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        assert gear.streams > before
    out = json.loads(res.stdout)
    assert out["passed"] and out["latency"]["used"] == "reference"
    change = out["latency"]["timing_reference"]["stream_change_samples"]
    # The take's shift is one of the gear's whole-sample shifts, less calibration's mean.
    takes = profile["latency_takes_samples"]
    moved = change + profile["latency_samples"] - min(takes)
    assert moved == pytest.approx(round(moved), abs=0.1)
    x, _ = sf.read(signal)
    y, _ = sf.read(Path(out["capture_dir"]) / "output.wav")
    truth = x * ratio_from_db(reamp_dbu - send_dbu) * gear_gain
    seg = slice(816_000, len(x) - 432_000)
    lags = np.arange(-3, 4)
    corr = [np.dot(np.roll(y, -k)[seg], truth[seg]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0
