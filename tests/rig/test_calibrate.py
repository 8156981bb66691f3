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
        (b"POS 2\n", b"POS 2 0=? 1=? 2=? 3=? 4=? 5=?\n"),
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


class _Servos:
    """A rig whose servos go where they are sent at once (the calibration logic, not motion)."""

    def __init__(self, channels: int = 4) -> None:
        self.pulses = dict.fromkeys(range(channels), 1500)
        self.speed_us_per_s = 300.0

    def move(self, pulses_us: dict[int, int], *, stop: object = None) -> dict[int, int]:
        self.pulses.update(pulses_us)
        return dict(pulses_us)

    def positions(self) -> dict[int, int]:
        return dict(self.pulses)

    def detach(self, channels: object = None) -> None:
        pass

    def set_speed(self, us_per_s: float) -> None:
        self.speed_us_per_s = us_per_s


def _session() -> RigCalibration:
    return RigCalibration(_Servos(), name="od", port="virtual", firmware_version="1.0.0")


def test_a_mark_out_of_order_is_refused_when_typed_and_the_others_kept() -> None:
    cal = _session()
    for line in ("knob drive 0", "goto 700", "mark 0", "goto 2300", "mark 10", "goto 2400"):
        cal.execute(line)
    with pytest.raises(RigError, match="mark 5 at 2400 µs is out of order") as caught:
        cal.execute("mark 5")  # beyond the 10 mark: the pulses would not turn one way
    assert "undo" in caught.value.hint and "station" not in caught.value.hint
    assert cal.current is not None and cal.current.marks == {"0": 700, "10": 2300}
    cal.execute("goto 1500")
    cal.execute("mark 5")
    assert "3 marks" in cal.execute("done")[0]  # nothing poisoned: done works
    assert [k.points for k in cal.profile().knobs] == [[(0.0, 700), (5.0, 1500), (10.0, 2300)]]


def test_undo_drops_the_last_mark_and_restores_a_replaced_one() -> None:
    cal = _session()
    for line in ("knob drive 0", "goto 700", "mark 0", "goto 2300", "mark 10", "goto 2250"):
        cal.execute(line)
    cal.execute("mark 10")  # marked again, a little lower
    assert cal.current is not None and cal.current.marks["10"] == 2250
    assert "mark 10 undone" in cal.execute("undo")[0]
    assert cal.current.marks == {"0": 700, "10": 2300}
    cal.execute("undo")
    cal.execute("undo")
    assert cal.current.marks == {}
    with pytest.raises(RigError, match="no mark to undo"):
        cal.execute("undo")


def test_drop_forgets_a_control_finished_or_not() -> None:
    cal = _session()
    for line in ("knob drive 0", "goto 700", "mark 0", "goto 2300", "mark 10", "done"):
        cal.execute(line)
    cal.execute("switch boost 1")
    assert cal.unsaved == ["drive", "boost"]
    cal.execute("drop drive")
    cal.execute("drop boost")
    assert cal.unsaved == [] and cal.current is None
    with pytest.raises(RigError, match="no control 'tone'"):
        cal.execute("drop tone")


def test_a_too_short_knob_says_how_to_fix_it_in_the_session() -> None:
    cal = _session()
    for line in ("knob drive 0", "goto 700", "mark 0"):
        cal.execute(line)
    with pytest.raises(RigError, match="1 mark") as caught:
        cal.execute("done")
    assert "rig calibrate" not in caught.value.hint


@pytest.mark.parametrize("name", ["delay", "y_scale", "params"])
def test_a_control_named_like_a_nam_config_key_is_refused_when_named(name: str) -> None:
    from station.errors import StationError

    with pytest.raises(StationError, match="one of NAM's config keys"):
        _session().execute(f"knob {name} 0")
