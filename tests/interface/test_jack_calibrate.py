"""`station calibrate` through the real sounddevice driver on JACK's dummy backend.

The reamp path is a JACK client with a known gain and extra delay. The
interface is digital, so its send level is whatever the typed meter reading
says; the return level then follows from the client's gain, R = S − gain_db.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.signal.levels import vrms_from_dbu
from tests.conftest import jack_running

pytestmark = [
    pytest.mark.jack,
    pytest.mark.skipif(
        not jack_running() and os.environ.get("CI") != "true",
        reason="no JACK server (the CI script starts one)",
    ),
]

SEND_DBU = 10.0


def jack_period() -> int:
    """The running server's period in frames."""
    import jack

    client = jack.Client("station-test-probe", no_start_server=True)
    try:
        return int(client.blocksize)
    finally:
        client.close()


@pytest.mark.slow
def test_calibrate_through_jack(home: Path) -> None:
    from tests.jack_gear import GearProcess

    gain, extra = 0.5, 100
    reading = vrms_from_dbu(SEND_DBU - 12.0)
    with GearProcess(gain=gain, delay_samples=extra, send_channel=2, return_channel=1) as gear:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "station",
                "calibrate",
                "--device",
                "system",
                "--name",
                "jack",
                "--send-channel",
                "2",
                "--return-channel",
                "1",
                "--meter",
                "manual",
                "--meter-accuracy",  # asked once otherwise, before the reading
                "0.5 % + 2",
                "--yes",
                "--json",
            ],
            input=f"{reading:.6f}\n",
            text=True,
            capture_output=True,
            env=dict(os.environ, STATION_HOME=str(home)),
            timeout=180,
        )
        assert gear.rewires > 0
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["send_dbu_at_0dbfs"] == pytest.approx(SEND_DBU, abs=0.01)
    assert out["return_dbu_at_0dbfs"] == pytest.approx(SEND_DBU - 20 * math.log10(gain), abs=0.02)
    # JACK moves audio in whole periods and PortAudio re-blocks them into the station's
    # 256-frame blocks: the round trip is the client's delay plus at least one period,
    # in whole blocks, measured to a tenth of a sample.
    period = jack_period()
    unit = math.gcd(period, 256)
    buffered = out["latency_samples"] - extra
    assert buffered >= period - 0.1
    assert buffered / unit == pytest.approx(round(buffered / unit), abs=0.1 / unit)
