"""The serial rig driver against transcripts: every bad reply a rig can give (servo protocol)."""

from __future__ import annotations

import errno
import os
import threading
import tty
from collections.abc import Iterator

import pytest

from station.cli.words import say as cli_words
from station.drivers.base import KnobRig
from station.drivers.rig import RigLost, RigReset, RigStall, ServoRig, open_rig, slew_time_s
from station.errors import RigError, Stopped
from station.events import StopFlag
from tests.drivers.transcript import Pair, TranscriptPort, expected_protocol

BANNER: Pair = (None, b"READY servo-rig 1.0.0 proto=1 channels=4\r\n")
HELLO: Pair = (b"HELLO 1\n", b"OK 1 servo-rig 1.0.0 proto=1 channels=4\n")


def connected(port) -> ServoRig:
    rig = ServoRig(port, clock=port.clock)
    info = rig.connect()
    assert (info.version, info.proto, info.channels) == ("1.0.0", 1, 4)
    return rig


def test_connect_move_positions_detach() -> None:
    pairs = [
        BANNER,
        HELLO,
        (b"MOVE 2 0 1490 2 2100\n", b"ACK 2\n"),
        (None, b"DONE 2 0=1490 2=2100\n"),
        (b"POS 3\n", b"POS 3 0=1490/512 1=1500 2=2100 3=1500\n"),
        (b"DETACH 4\n", b"OK 4\n"),
        (b"DETACH 5 0 2\n", b"OK 5\n"),
        (b"SPEED 6 150\n", b"OK 6\n"),
        (b"PING 7\n", b"PONG 7\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        assert isinstance(rig, KnobRig)
        assert rig.move({2: 2100, 0: 1490}) == {0: 1490, 2: 2100}
        assert rig.positions() == {0: 1490, 1: 1500, 2: 2100, 3: 1500}
        assert rig.feedback_adc == {0: 512}  # the pot's reading, where one is wired
        rig.detach()
        rig.detach([2, 0])
        rig.set_speed(150.0)
        rig.ping()
    assert rig.ignored == []


def test_garbage_is_logged_and_ignored() -> None:
    pairs = [
        (None, b"\x00\xfe\xff bootloader noise\n"),
        BANNER,
        HELLO,
        (b"PING 2\n", b"#$%garbage\nPONG 2\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        rig.ping()
    assert rig.ignored == ["#$%garbage"]  # the noise before the banner is not a reply to anything


def test_silence_is_retried_with_the_same_id() -> None:
    pairs = [BANNER, HELLO, (b"PING 2\n", None), (b"PING 2\n", None), (b"PING 2\n", b"PONG 2\n")]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        t0 = port.now
        rig.ping()
        assert port.now - t0 == pytest.approx(2.0, abs=0.06)  # two 1 s timeouts


def test_silence_after_every_retry_names_command_id_and_what_came_back() -> None:
    pairs = [BANNER, HELLO, (b"PING 2\n", b"PONG 1\n")] + [(b"PING 2\n", None)] * 3
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(
            RigError, match=r"PING 2: no answer after 4 tries of 1 s; got: 'PONG 1'"
        ):
            rig.ping()


def test_a_late_reply_to_an_old_id_is_not_taken_for_the_new_one() -> None:
    pairs = [
        BANNER,
        HELLO,
        (b"PING 2\n", None),
        (b"PING 2\n", None),
        (b"PING 2\n", None),
        (b"PING 2\n", None),
        (b"PING 3\n", b"PONG 2\nPONG 3\n"),  # the old PONG arrives first
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(RigError):
            rig.ping()
        rig.ping()
    assert rig.ignored == ["PONG 2"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"ERR 2 E_BUSY a move is running\n", "an earlier move is still running"),
        (b"ERR 2 E_RANGE 2600\n", "outside 500–2500"),
        (b"ERR 2 E_CHANNEL 3\n", "no such servo channel"),
        (b"ACK 2\nERR 2 E_STALL ch 0 at 2210\n", r"stalled.*firmware: ch 0 at 2210"),
    ],
)
def test_error_replies_to_a_move(reply: bytes, message: str) -> None:
    pairs = [BANNER, HELLO, (b"MOVE 2 0 2400\n", reply)]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(RigError, match=message) as info:
            rig.move({0: 2400})
    assert info.value.hint


def test_missing_banner_says_what_came_instead() -> None:
    pairs = [(None, b"Hello from my 3D printer\n"), (b"HELLO 1\n", None)]
    with expected_protocol(pairs) as port:
        rig = ServoRig(port, clock=port.clock)
        with pytest.raises(RigError, match="no banner in 5 s; got: 'Hello from my 3D printer'"):
            rig.connect()
        assert port.now == pytest.approx(6.0, abs=0.1)  # 5 s for the banner, 1 s for a HELLO


def test_a_board_that_did_not_reset_answers_hello() -> None:
    pairs = [HELLO]
    with expected_protocol(pairs) as port:
        connected(port)


def test_another_protocol_is_refused_before_anything_is_sent() -> None:
    pairs = [(None, b"READY servo-rig 2.1.0 proto=2 channels=8\n")]
    with expected_protocol(pairs) as port:
        rig = ServoRig(port, clock=port.clock)
        with pytest.raises(RigError, match="speaks protocol 2; this station speaks protocol 1"):
            rig.connect()


def test_a_reset_mid_move_is_reported_and_positions_are_re_established() -> None:
    pairs = [
        BANNER,
        HELLO,
        (b"SPEED 2 600\n", b"OK 2\n"),
        (b"MOVE 3 0 1000 1 2000\n", b"ACK 3\nDONE 3 0=1000 1=2000\n"),
        (b"MOVE 4 0 1800\n", b"ACK 4\n"),
        (None, b"READY servo-rig 1.0.0 proto=1 channels=4\n"),  # brown-out mid-move
        # The next command first re-establishes everything the board forgot.
        (b"HELLO 5\n", b"OK 5 servo-rig 1.0.0 proto=1 channels=4\n"),
        (b"STOP 6\n", b"OK 6\n"),
        (b"SPEED 7 600\n", b"OK 7\n"),
        # Every servo it drove, in one move: channel 1 where it was, channel 0 to the new pulse.
        (b"MOVE 8 0 1800 1 2000\n", b"ACK 8\nDONE 8 0=1800 1=2000\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        rig.set_speed(600)
        rig.move({0: 1000, 1: 2000})
        with pytest.raises(RigReset, match="restarted during MOVE 4"):
            rig.move({0: 1800})
        assert rig.move({0: 1800}) == {0: 1800}
    assert rig.resets == 1


class UnpluggedPort(TranscriptPort):
    """A transcript port whose cable is pulled once its pairs run out: reads fail with EIO."""

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        if not self.pairs and not self._buffer:
            raise OSError(errno.EIO, "Input/output error")
        return super().read_until(expected, size)


def test_a_port_that_goes_away_is_lost_until_reconnected() -> None:
    gone = UnpluggedPort([BANNER, HELLO, (b"MOVE 2 0 1200\n", b"ACK 2\nDONE 2 0=1200\n")])
    gone.pairs.append((b"MOVE 3 1 1700\n", b"ACK 3\n"))  # then the cable is pulled mid-move
    again = [
        (None, b"READY servo-rig 1.0.0 proto=1 channels=4\n"),  # the board reset on opening
        (b"HELLO 5\n", b"OK 5 servo-rig 1.0.0 proto=1 channels=4\n"),
        (b"HELLO 6\n", b"OK 6 servo-rig 1.0.0 proto=1 channels=4\n"),
        (b"STOP 7\n", b"OK 7\n"),
        (b"MOVE 8 0 1200 1 1700\n", b"ACK 8\nDONE 8 0=1200 1=1700\n"),
    ]
    opened: list[str] = []
    with expected_protocol(again) as replugged:

        def reopen(name: str) -> TranscriptPort:
            opened.append(name)
            if len(opened) == 1:
                raise RigError(f"there is no serial port {name}")  # not back yet
            return replugged

        rig = ServoRig(gone, name="/dev/ttyACM0", clock=gone.clock, reopen=reopen)
        rig.connect()
        rig.move({0: 1200})
        with pytest.raises(RigLost, match="/dev/ttyACM0 went away") as info:
            rig.move({1: 1700})
        assert "plug it back" in info.value.hint
        with pytest.raises(RigLost, match="is gone"):  # nothing more is written to a dead port
            rig.ping()
        with pytest.raises(RigError, match="no serial port"):
            rig.reconnect()
        assert rig.reconnect("/dev/ttyACM1").channels == 4
        # The board forgot everything: the next move re-sends every servo with its own.
        assert rig.move({1: 1700}) == {1: 1700}
    assert opened == ["/dev/ttyACM0", "/dev/ttyACM1"] and rig.name == "/dev/ttyACM1"


@pytest.mark.parametrize(
    ("text", "channel"),
    [(b"feedback off target on channel 3", 3), (b"ch=2 at=1830", 2), (b"jammed", None)],
)
def test_a_stall_names_its_channel(text: bytes, channel: int | None) -> None:
    pairs = [BANNER, HELLO, (b"MOVE 2 0 2400\n", b"ACK 2\nERR 2 E_STALL " + text + b"\n")]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(RigStall) as info:
            rig.move({0: 2400})
    assert info.value.channel == channel


def test_a_move_the_restarted_board_took_before_its_banner_was_read_is_stopped_first() -> None:
    pairs = [
        BANNER,
        HELLO,
        # The board restarted just before MOVE 2 arrived: it prints its banner and, fresh,
        # accepts the move. The station reads the banner first.
        (b"MOVE 2 0 1800\n", b"READY servo-rig 1.0.0 proto=1 channels=4\nACK 2\n"),
        (b"HELLO 3\n", b"OK 3 servo-rig 1.0.0 proto=1 channels=4\n"),
        (b"STOP 4\n", b"ERR 2 E_STOPPED\nOK 4\n"),  # else the next MOVE is refused as busy
        (b"MOVE 5 0 1800\n", b"ACK 5\nDONE 5 0=1800\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(RigReset):
            rig.move({0: 1800})
        assert rig.move({0: 1800}) == {0: 1800}
    assert "ERR 2 E_STOPPED" in rig.ignored


def test_no_done_resends_the_move_with_the_same_id() -> None:
    pairs = [
        BANNER,
        HELLO,
        (b"MOVE 2 0 800\n", b"ACK 2\n"),
        (b"MOVE 2 0 800\n", b"ACK 2\nDONE 2 0=800\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        t0 = port.now
        assert rig.move({0: 800}) == {0: 800}
    # From an unknown start the wait is the whole span at 300 µs/s, settle and 5 s margin.
    assert port.now - t0 == pytest.approx(2080 / 300 + 0.3 + 5.0, abs=0.1)


def test_a_stop_request_stops_the_move() -> None:
    stop = StopFlag()
    stop.set()
    pairs = [
        BANNER,
        HELLO,
        (b"MOVE 2 0 800\n", None),
        (b"STOP 3\n", b"ACK 2\nERR 2 E_STOPPED\nOK 3\n"),
    ]
    with expected_protocol(pairs) as port:
        rig = connected(port)
        with pytest.raises(Stopped):
            rig.move({0: 800}, stop=stop)


def test_pulses_outside_the_servo_range_never_leave_the_station() -> None:
    with expected_protocol([BANNER, HELLO]) as port:
        rig = connected(port)
        with pytest.raises(RigError, match="outside 500–2500"):
            rig.move({0: 2501})
        with pytest.raises(RigError, match="no channel 4"):
            rig.move({4: 1500})


def test_slew_time_includes_backlash_and_settle() -> None:
    assert slew_time_s({0: 1000}, {0: 1600}, 300) == pytest.approx(2.0 + 0.3)
    assert slew_time_s({0: 1600}, {0: 1000}, 300) == pytest.approx((600 + 80) / 300 + 0.3)


def test_missing_port() -> None:
    with pytest.raises(RigError, match="there is no serial port /dev/ttyNOPE") as info:
        open_rig("/dev/ttyNOPE")
    assert "station devices" in cli_words(info.value.advice)


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """A raw pseudo-terminal: (master fd, the slave's device name)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_busy_port(pty: tuple[int, str]) -> None:
    import serial

    holder = serial.Serial(pty[1], 115200, exclusive=True)
    try:
        with pytest.raises(RigError, match="is busy"):
            open_rig(pty[1])
    finally:
        holder.close()


def test_permission_denied_points_at_dialout(monkeypatch: pytest.MonkeyPatch) -> None:
    import serial

    def refuse(*_a, **_k):
        raise serial.SerialException(errno.EACCES, "could not open port: Permission denied")

    monkeypatch.setattr(serial, "Serial", refuse)
    with pytest.raises(RigError, match="permission denied on /dev/ttyACM0") as info:
        open_rig("/dev/ttyACM0")
    assert "dialout" in info.value.hint


def test_something_else_on_the_port_is_not_the_rig(pty: tuple[int, str]) -> None:
    master, name = pty

    def chatter() -> None:  # a GPS module, say: it talks, but not our protocol
        for _ in range(10):
            os.write(master, b"$GPGGA,123519,4807.038,N\r\n")
            threading.Event().wait(0.2)

    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    try:
        with pytest.raises(RigError, match=r"no banner in 1 s; got: '\$GPGGA"):
            open_rig(name, banner_timeout_s=1.0, reply_timeout_s=0.3)
    finally:
        t.join()
