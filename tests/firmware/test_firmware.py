"""The compiled servo rig firmware in simavr: what the servos receive, measured in AVR cycles."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station.drivers.rig_constants import LINE_MAX
from tests.firmware.sim import BANNER, CYCLES_PER_S, FirmwareSim, RawLink, SimLog, toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

FRAME_S = 0.020
Board = tuple[FirmwareSim, RawLink]


@pytest.fixture
def start_board(tmp_path: Path) -> Iterator[Callable[..., Board]]:
    """Start a simulated board (variant, pots) and open its port; everything closed afterwards."""
    opened: list[tuple[FirmwareSim, RawLink]] = []

    def start(variant: str = "pins", pots: dict[int, str] | None = None) -> Board:
        sim = FirmwareSim(tmp_path / f"sim{len(opened)}.log", variant, pots=pots)
        link = RawLink(sim.pty_path)
        opened.append((sim, link))
        sim.go()
        channels = 16 if variant == "pca9685" else 6
        assert link.read_line() == BANNER.replace("channels=6", f"channels={channels}")
        return sim, link

    yield start
    for sim, link in opened:
        link.close()
        sim.close()


@pytest.fixture
def board(start_board: Callable[..., Board]) -> Board:
    """The default board: six servos on D2-D7, no feedback pots."""
    return start_board()


def finish(link: RawLink, move_id: int) -> str:
    """Read lines until the move's final line (DONE or ERR with its id) and return it."""
    while True:
        line = link.read_line(timeout_s=60)
        if line.startswith((f"DONE {move_id} ", f"ERR {move_id} ")):
            return line


def move(link: RawLink, move_id: int, pulses: dict[int, int]) -> str:
    """MOVE and wait for DONE; returns the final line."""
    args = " ".join(f"{ch} {us}" for ch, us in pulses.items())
    assert link.ask(f"MOVE {move_id} {args}") == f"ACK {move_id}"
    return finish(link, move_id)


def seconds(cycles: int) -> float:
    """AVR cycles to seconds at 16 MHz."""
    return cycles / CYCLES_PER_S


def test_banner_hello_ping(board: Board) -> None:
    _, link = board
    assert link.ask("HELLO 7") == "OK 7 servo-rig 1.0.0 proto=1 channels=6"
    assert link.ask("PING 65535") == "PONG 65535"
    assert link.ask("POS 8") == "POS 8 0=? 1=? 2=? 3=? 4=? 5=?"  # none commanded yet


def test_pulse_widths_within_2us_of_target(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    targets = {0: 500, 1: 1000, 2: 1500, 3: 1999, 4: 2500, 5: 1234}
    assert move(link, 2, targets) == "DONE 2 " + " ".join(f"{c}={u}" for c, u in targets.items())
    done = sim.log().tx_cycle(f"DONE 2 {' '.join(f'{c}={u}' for c, u in targets.items())}")
    log = sim.wait_cycles(done + CYCLES_PER_S)
    for ch, us in targets.items():
        widths = [w for _, w in log.widths_us(ch, after_cycle=done)]
        assert len(widths) >= 45  # 50 Hz frames
        assert max(abs(w - us) for w in widths) <= 2.0, (ch, min(widths), max(widths))
    # Frames start every 20 ms.
    rises = [r for r, _ in log.widths_us(0, after_cycle=done)]
    periods = [seconds(b - a) for a, b in itertools.pairwise(rises)]
    assert max(abs(p - FRAME_S) for p in periods) < 2e-6
    assert link.ask("POS 3") == "POS 3 " + " ".join(f"{c}={u}" for c, u in targets.items())


def slew_of(log: SimLog, ch: int, start: int, end: int) -> list[tuple[float, float]]:
    """(time s, width µs) of channel ch's pulses between two cycles."""
    return [(seconds(r), w) for r, w in log.widths_us(ch, start, end)]


def fit_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of width against time, in µs per second."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_w = sum(w for _, w in points) / n
    num = sum((t - mean_t) * (w - mean_w) for t, w in points)
    return num / sum((t - mean_t) ** 2 for t, _ in points)


@pytest.mark.parametrize("speed", [None, 600])
def test_slew_rate(board: Board, speed: int | None) -> None:
    sim, link = board
    expected = 300 if speed is None else speed
    if speed is not None:
        assert link.ask(f"SPEED 1 {speed}") == "OK 1"
    move(link, 2, {0: 1000})
    assert move(link, 3, {0: 2000}) == "DONE 3 0=2000"
    log = sim.log()
    start, done = log.rx_cycle("MOVE 3 0 2000"), log.tx_cycle("DONE 3 0=2000")
    ramp = [(t, w) for t, w in slew_of(log, 0, start, done) if 1010 < w < 1990]
    assert len(ramp) >= 0.9 * (1000 / expected) / FRAME_S * (980 / 1000)
    assert fit_slope(ramp) == pytest.approx(expected, rel=0.01)
    # Never a jump: consecutive pulses differ by one frame's worth of slew (the position moves
    # in whole microseconds, the loop wakes every millisecond: +-1 µs, and +-0.5 µs of timing).
    widths = [w for _, w in slew_of(log, 0, start, done)]
    steps = [b - a for a, b in itertools.pairwise(widths)]
    assert max(steps) <= expected * FRAME_S + 1.5
    assert min(steps) >= -0.5  # going up only


def test_move_down_approaches_from_below(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 1300, 1: 1600})
    # Slow enough (2 µs per 20 ms frame) for the pulses to show the turn 40 µs under the target.
    assert link.ask("SPEED 3 100") == "OK 3"
    assert move(link, 4, {0: 1200, 1: 1700}) == "DONE 4 0=1200 1=1700"
    log = sim.log()
    start, done = log.rx_cycle("MOVE 4 0 1200 1 1700"), log.tx_cycle("DONE 4 0=1200 1=1700")
    down = slew_of(log, 0, start, done)
    lowest = min(range(len(down)), key=lambda i: down[i][1])
    assert down[lowest][1] == pytest.approx(1160, abs=2)  # 40 µs under the target
    falling = [w for _, w in down[: lowest + 1]]
    assert all(b <= a + 0.5 for a, b in itertools.pairwise(falling))
    rising = [w for _, w in down[lowest:]]
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(rising))
    assert rising[-1] == pytest.approx(1200, abs=0.6)
    climb = [(t, w) for t, w in down[lowest:] if 1162 < w < 1198]
    assert fit_slope(climb) == pytest.approx(100, rel=0.05)
    # A target above the current position is approached directly, never undershot.
    up = [w for _, w in slew_of(log, 1, start, done)]
    assert min(up) >= 1600 - 1
    assert up[-1] == pytest.approx(1700, abs=0.6)


def test_undershoot_never_goes_below_500us(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 700})
    assert link.ask("SPEED 3 100") == "OK 3"
    assert move(link, 4, {0: 520}) == "DONE 4 0=520"
    log = sim.log()
    widths = [w for _, w in log.widths_us(0, log.rx_cycle("MOVE 4 0 520"))]
    assert min(widths) == pytest.approx(500, abs=2.1)  # 20 µs under, not 40: 500 is the floor
    assert widths[-1] == pytest.approx(520, abs=0.6)


def test_done_after_300ms_settle(board: Board) -> None:
    sim, link = board
    move(link, 1, {2: 1500})
    assert move(link, 2, {2: 1530}) == "DONE 2 2=1530"
    log = sim.log()
    start, done = log.rx_cycle("MOVE 2 2 1530"), log.tx_cycle("DONE 2 2=1530")
    first_on_target = next(r for r, w in log.widths_us(2, start) if abs(w - 1530) <= 0.6)
    # The firmware reaches the target up to one frame before the pulse that shows it; DONE is
    # stamped when its last byte leaves the UART (14 bytes at 115200 baud: 1.2 ms).
    settle_s = seconds(done - first_on_target)
    assert 0.300 - FRAME_S <= settle_s <= 0.300 + 0.0035
    # ACK came at once, before any motion.
    assert seconds(log.tx_cycle("ACK 2") - start) < 0.002


def test_detach_stops_pulses(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 1500, 1: 1500, 2: 1500})
    assert link.ask("DETACH 3 1") == "OK 3"
    detached = sim.log().tx_cycle("OK 3")
    log = sim.wait_cycles(detached + CYCLES_PER_S)
    assert log.widths_us(1, detached + int(FRAME_S * CYCLES_PER_S)) == []
    assert len(log.widths_us(0, detached)) >= 45
    assert link.ask("DETACH 4") == "OK 4"  # all channels
    detached = sim.log().tx_cycle("OK 4")
    log = sim.wait_cycles(detached + CYCLES_PER_S)
    after = detached + int(FRAME_S * CYCLES_PER_S)
    assert all(log.widths_us(ch, after) == [] for ch in range(6))
    # Positions are kept, and the next move starts from them.
    assert link.ask("POS 5") == "POS 5 0=1500 1=1500 2=1500 3=? 4=? 5=?"
    assert link.ask("SPEED 6 300") == "OK 6"
    assert move(link, 7, {1: 1600}) == "DONE 7 1=1600"
    resumed = sim.log().widths_us(1, sim.log().rx_cycle("MOVE 7 1 1600"))
    assert 1500 - 0.6 <= resumed[0][1] <= 1500 + 300 * FRAME_S + 0.6


def test_watchdog_detaches_after_60s_without_commands(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 1500, 3: 1800})
    done = sim.log().tx_cycle("DONE 2 0=1500 3=1800")
    # A command 40 s later restarts the 60 s.
    sim.wait_cycles(done + 40 * CYCLES_PER_S)
    assert link.ask("PING 3") == "PONG 3"
    ping = sim.log().rx_cycle("PING 3")
    log = sim.wait_cycles(ping + 62 * CYCLES_PER_S)
    for ch in (0, 3):
        last_rise = log.widths_us(ch, done)[-1][0]
        assert 60.0 - FRAME_S <= seconds(last_rise - ping) <= 60.0 + 0.003
    # Still listening, positions kept.
    assert link.ask("PING 4") == "PONG 4"
    assert link.ask("POS 5") == "POS 5 0=1500 1=? 2=? 3=1800 4=? 5=?"


def test_stop_mid_move(board: Board) -> None:
    sim, link = board
    move(link, 1, {0: 1000, 1: 1000})
    assert link.ask("SPEED 2 30") == "OK 2"
    assert link.ask("MOVE 3 0 2000 1 1900") == "ACK 3"
    sim.wait_until(lambda log: any(w > 1100 for _, w in log.widths_us(0)), what="slewing")
    link.send("STOP 4")
    assert link.read_line() == "ERR 3 E_STOPPED stopped"
    assert link.read_line() == "OK 4"
    log = sim.log()
    # RX is stamped when the harness hands the line's last byte to the UART, TX when the reply's
    # last byte has gone: 7 + 24 + 5 bytes of 87 µs, plus the reaction.
    stop = log.rx_cycle("STOP 4")
    assert seconds(log.tx_cycle("OK 4") - stop) < 36 * 87e-6 + 0.001
    log = sim.wait_cycles(stop + CYCLES_PER_S)
    for ch in (0, 1):
        before = log.widths_us(ch, 0, stop)[-1][1]
        held = [w for _, w in log.widths_us(ch, stop)]
        assert len(held) >= 45
        assert max(held) - min(held) <= 1.0  # halted and holding...
        assert before - 0.6 <= held[0] <= before + 30 * FRAME_S + 0.6  # ...from the next frame
        assert 1099 < held[0] < 1900  # partway
    # The channel can move again at once.
    assert move(link, 5, {0: 1500}) == "DONE 5 0=1500"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("FROB 5", "ERR 5 E_SYNTAX unknown command"),
        ("MOVE", "ERR 0 E_SYNTAX no command id"),
        ("hello", "ERR 0 E_SYNTAX no command id"),
        ("PING x1", "ERR 0 E_SYNTAX no command id"),
        ("PING 0", "ERR 0 E_SYNTAX no command id"),
        ("PING 65536", "ERR 0 E_SYNTAX no command id"),
        ("PING 5 6", "ERR 5 E_SYNTAX unexpected field"),
        ("MOVE 5", "ERR 5 E_SYNTAX no channel given"),
        ("MOVE 5 0", "ERR 5 E_SYNTAX missing pulse width"),
        ("MOVE 5 0 15OO", "ERR 5 E_SYNTAX bad pulse width"),
        ("MOVE 5 0 1500 0 1600", "ERR 5 E_SYNTAX channel twice: 0"),
        ("MOVE 5 6 1500", "ERR 5 E_CHANNEL no such channel 6"),
        ("DETACH 5 9", "ERR 5 E_CHANNEL no such channel 9"),
        ("MOVE 5 0 499", "ERR 5 E_RANGE pulse outside 500-2500 us: 499"),
        ("MOVE 5 0 1500 1 2501", "ERR 5 E_RANGE pulse outside 500-2500 us: 2501"),
        ("SPEED 5 0", "ERR 5 E_RANGE speed outside 1-20000 us/s: 0"),
        ("SPEED 5", "ERR 5 E_SYNTAX speed needs one number"),
        ("PING 5 " + "x" * LINE_MAX, "ERR 5 E_SYNTAX line too long"),
    ],
)
def test_error_replies(board: Board, line: str, reply: str) -> None:
    sim, link = board
    assert link.ask(line) == reply
    assert link.ask("PING 9\r") == "PONG 9"  # still in step; a \r before \n is ignored
    assert all(sim.log().widths_us(ch) == [] for ch in range(6))  # nothing moved


def test_busy_while_a_move_runs(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 500})
    assert link.ask("SPEED 3 10") == "OK 3"
    assert link.ask("MOVE 4 0 2500") == "ACK 4"  # 200 s of slew
    assert link.ask("MOVE 5 1 1500") == "ERR 5 E_BUSY a move is running: id 4"
    assert link.ask("SPEED 6 20000") == "OK 6"  # for later moves
    assert link.ask("POS 7").startswith("POS 7 0=")
    link.send("STOP 8")
    assert link.read_line() == "ERR 4 E_STOPPED stopped"
    assert link.read_line() == "OK 8"
    assert move(link, 9, {0: 1000}) == "DONE 9 0=1000"
    log = sim.log()
    start, done = log.rx_cycle("MOVE 9 0 1000"), log.tx_cycle("DONE 9 0=1000")
    assert seconds(done - start) < 0.300 + 0.050  # at 20000 µs/s, not 10


def test_detach_mid_move_lets_that_servo_go(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 1000, 1: 1000})
    assert link.ask("SPEED 3 100") == "OK 3"
    assert link.ask("MOVE 4 0 2000 1 1100") == "ACK 4"  # channel 0: 10 s, channel 1: 1 s
    assert link.ask("DETACH 5 0") == "OK 5"
    assert finish(link, 4) == "DONE 4 1=1100"  # the move went on for channel 1
    log = sim.log()
    detached = log.tx_cycle("OK 5")
    assert log.widths_us(0, detached + int(FRAME_S * CYCLES_PER_S)) == []
    assert log.widths_us(1, detached)[-1][1] == pytest.approx(1100, abs=0.6)


def test_repeated_id_is_executed_once_and_answered_again(board: Board) -> None:
    sim, link = board
    move(link, 1, {0: 1000})
    assert link.ask("SPEED 9 30") == "OK 9"
    assert link.ask("MOVE 2 0 1100") == "ACK 2"
    assert link.ask("MOVE 2 0 1100") == "ACK 2"  # resent while running: not restarted
    assert finish(link, 2) == "DONE 2 0=1100"
    log = sim.log()
    first, done = log.rx[-2][0], log.tx_cycle("DONE 2 0=1100")
    ramp = [w for _, w in log.widths_us(0, first, done)]
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(ramp))  # one ramp, no restart
    assert seconds(done - first) == pytest.approx(100 / 30 + 0.3, abs=0.03)
    # Resent after it finished: ACK and DONE again at once, and the servo does not move.
    link.send("MOVE 2 0 1100")
    assert link.read_line() == "ACK 2"
    assert link.read_line() == "DONE 2 0=1100"
    log = sim.log()
    again = log.rx_cycle("MOVE 2 0 1100")
    assert seconds(log.tx[-1][0] - again) < 0.01
    log = sim.wait_cycles(again + CYCLES_PER_S // 2)
    assert {round(w) for _, w in log.widths_us(0, again)} == {1100}
    # Other commands too: SPEED resent answers OK without re-executing (same line, same id).
    assert link.ask("SPEED 3 20000") == "OK 3"
    assert link.ask("SPEED 3 20000") == "OK 3"
    assert link.ask("MOVE 3 0 1500") == "ACK 3"  # same id, another line: a new command
    assert finish(link, 3) == "DONE 3 0=1500"


def test_first_move_of_a_channel_comes_from_below(board: Board) -> None:
    sim, link = board
    assert move(link, 1, {4: 1800}) == "DONE 1 4=1800"
    widths = [w for _, w in sim.log().widths_us(4)]
    assert widths[0] == pytest.approx(1760, abs=8)  # position unknown: start 40 µs under
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(widths))


def test_stall_with_a_stuck_feedback_pot(start_board: Callable[..., Board]) -> None:
    sim, link = start_board("pins-fb", pots={0: "stuck:1000", 1: "follow"})
    assert link.ask("SPEED 1 2000") == "OK 1"
    reply = link.ask("POS 2")
    # None commanded yet: the pulse its pot reads, where the first move will start from.
    us0, fb0 = (int(x) for x in reply.split()[2].removeprefix("0=").split("/"))
    assert fb0 == pytest.approx((1000 - 500) * 1023 / 2000, abs=3)
    assert us0 == 500 + fb0 * 2000 // 1023
    # Channel 1's pot follows its servo: the move completes, and POS shows the feedback.
    assert move(link, 3, {1: 2000}) == "DONE 3 1=2000"
    fb1 = int(link.ask("POS 4").split()[3].split("/")[1])
    assert fb1 == pytest.approx((2000 - 500) * 1023 / 2000, abs=3)
    # Channel 0's pot is stuck at 1000 µs: E_STALL 5 s after the pulse reached the target.
    assert link.ask("MOVE 5 0 2000") == "ACK 5"
    assert finish(link, 5) == "ERR 5 E_STALL feedback off target on channel 0"
    log = sim.log()
    start, failed = (
        log.rx_cycle("MOVE 5 0 2000"),
        log.tx_cycle("ERR 5 E_STALL feedback off target on channel 0"),
    )
    pulses = log.widths_us(0, start, failed)
    # The move starts where the pot says (at 2000 µs/s, 40 µs per frame).
    assert 1000 - 2 <= pulses[0][1] <= 1000 + 2000 * FRAME_S + 2
    on_target = next(r for r, w in pulses if abs(w - 2000) <= 2)
    # The pulse shows the target up to a frame after the firmware reached it; the ERR line is
    # stamped when its last byte has gone (48 bytes of 87 µs).
    assert 5.0 - FRAME_S <= seconds(failed - on_target) <= 5.0 + 48 * 87e-6 + 0.001
    # The stalled servo is let go.
    log = sim.wait_cycles(failed + CYCLES_PER_S // 2)
    assert log.widths_us(0, failed + int(FRAME_S * CYCLES_PER_S)) == []
    assert len(log.widths_us(1, failed)) >= 20


def test_reset_prints_the_banner_again(board: Board) -> None:
    sim, link = board
    assert link.ask("SPEED 1 20000") == "OK 1"
    move(link, 2, {0: 1500})
    sim.reset()
    assert link.read_line() == BANNER
    assert link.ask("POS 3") == "POS 3 0=? 1=? 2=? 3=? 4=? 5=?"
    log = sim.wait_cycles(sim.log().resets[-1] + CYCLES_PER_S // 2)
    assert log.widths_us(0, log.resets[-1]) == []  # a reset board sends no pulses


def test_pca9685_variant_drives_the_board(start_board: Callable[..., Board]) -> None:
    sim, link = start_board("pca9685")
    assert link.ask("HELLO 1") == "OK 1 servo-rig 1.0.0 proto=1 channels=16"
    # 50 Hz: prescale 121 (25 MHz / 4096 / 122), set while asleep, then awake with auto-increment.
    log = sim.log()
    first_writes = [(reg, data) for _, reg, data in log.i2c[:3]]
    assert first_writes == [(0, b"\x10"), (254, b"\x79"), (0, b"\x20")]
    assert all(log.pca_widths_us(ch)[-1][1] is None for ch in range(16))  # all off
    assert link.ask("SPEED 2 20000") == "OK 2"
    assert move(link, 3, {0: 1500, 15: 2000}) == "DONE 3 0=1500 15=2000"
    log = sim.log()
    step_us = 122 * 4096 / 25e6 * 1e6 / 4096  # one count: 4.88 µs
    for ch, us in ((0, 1500), (15, 2000)):
        width = log.pca_widths_us(ch)[-1][1]
        assert width is not None and abs(width - us) <= step_us / 2
    # Slewed: written at most once per 20 ms frame, at the set rate.
    assert link.ask("SPEED 4 300") == "OK 4"
    assert move(link, 5, {0: 1800}) == "DONE 5 0=1800"
    log = sim.log()
    start = log.rx_cycle("MOVE 5 0 1800")
    ramp = [(c / CYCLES_PER_S, w) for c, w in log.pca_widths_us(0) if c > start and w is not None]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(ramp)]
    assert min(gaps) >= FRAME_S - 0.001
    assert fit_slope([p for p in ramp if 1510 < p[1] < 1790]) == pytest.approx(300, rel=0.02)
    # DETACH switches the channel fully off at once.
    assert link.ask("DETACH 6 0") == "OK 6"
    log = sim.log()
    cycle, width = log.pca_widths_us(0)[-1]
    assert width is None and log.rx_cycle("DETACH 6 0") < cycle < log.tx_cycle("OK 6")
    assert log.pca_widths_us(15)[-1][1] is not None
