"""The calibration core against a transcript: a fresh board reports no position."""

from __future__ import annotations

import pytest

from station.drivers.rig import ServoRig
from station.errors import RigError
from station.rig.calibrate import RigCalibration
from tests.drivers.transcript import expected_protocol

BANNER = (None, b"READY servo-rig 1.0.0 proto=1 channels=6\n")
HELLO = (b"HELLO 1\n", b"OK 1 servo-rig 1.0.0 proto=1 channels=6\n")


def test_a_servo_not_driven_since_power_on_starts_with_goto() -> None:
    pairs = [
        BANNER,
        HELLO,
        (b"POS 2\n", b"POS 2 0=0 1=0 2=0 3=0 4=0 5=0\n"),
        (b"MOVE 3 0 1500\n", b"ACK 3\nDONE 3 0=1500\n"),
        (b"MOVE 4 0 1550\n", b"ACK 4\nDONE 4 0=1550\n"),
        (b"MOVE 5 0 2500\n", b"ACK 5\nDONE 5 0=2500\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = ServoRig(port, clock=port.clock)
        rig.connect()
        cal = RigCalibration(rig, name="r", port="p", firmware_version="1.0.0")
        assert "not driven since power-on" in cal.execute("knob drive 0")[0]
        with pytest.raises(RigError, match="position is unknown"):
            cal.execute("+")
        with pytest.raises(RigError, match="position is unknown"):
            cal.execute("mark 0")
        assert "at 1500 µs" in cal.execute("goto 1500")[0]
        assert "at 1550 µs" in cal.execute("++")[0]
        assert "at 2500 µs" in cal.execute("goto 9999")[0]  # kept inside the servo's range
        assert cal.execute("mark 10")[0].startswith("drive: 10 at 2500")
        with pytest.raises(RigError, match="1 mark"):
            cal.execute("done")
