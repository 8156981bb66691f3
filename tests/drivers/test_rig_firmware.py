"""The station's real serial driver (ServoRig) against the real firmware running in simavr."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station.drivers.base import KnobRig
from station.drivers.rig import RigReset, ServoRig, open_rig, open_serial
from station.errors import RigError, Stopped
from station.events import StopFlag
from tests.firmware.sim import CYCLES_PER_S, FirmwareSim, toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

FRAME_CYCLES = CYCLES_PER_S // 50
Setup = tuple[FirmwareSim, ServoRig]


@pytest.fixture
def start_rig(tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    """Start a simulated board, open its port as the station does, connect the driver."""
    opened: list[Setup] = []

    def start(variant: str = "pins", pots: dict[int, str] | None = None) -> Setup:
        sim = FirmwareSim(tmp_path / f"sim{len(opened)}.log", variant, pots=pots)
        port = open_serial(sim.pty_path)
        sim.go()  # the board resets when the port opens
        rig = ServoRig(port, name=sim.pty_path)
        opened.append((sim, rig))
        return sim, rig

    yield start
    for sim, rig in opened:
        rig.close()
        sim.close()


@pytest.fixture
def setup(start_rig: Callable[..., Setup]) -> Setup:
    """A connected driver on the default board (six servos on D2-D7)."""
    sim, rig = start_rig()
    rig.connect()
    return sim, rig


def test_connect_reads_banner_and_hello(start_rig: Callable[..., Setup]) -> None:
    sim, rig = start_rig()
    info = rig.connect()
    assert (info.version, info.proto, info.channels) == ("1.0.0", 1, 6)
    assert isinstance(rig, KnobRig)
    rig.ping()
    assert [text.split()[0] for _, text in sim.log().rx] == ["HELLO", "PING"]
    assert rig.ignored == []


def test_open_rig_on_a_board_that_did_not_reset(tmp_path: Path) -> None:
    # A board already running when the port opens prints no banner: the driver asks HELLO.
    with FirmwareSim(tmp_path / "sim.log") as sim:
        sim.go()
        sim.wait_until(lambda log: bool(log.tx), what="banner")
        rig = open_rig(sim.pty_path, banner_timeout_s=0.5)
        try:
            assert rig.info is not None and rig.info.channels == 6
        finally:
            rig.close()


def test_move_sets_the_pulses_and_positions(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    assert rig.move({0: 1500, 2: 1200, 5: 2100}) == {0: 1500, 2: 1200, 5: 2100}
    done = sim.log().tx[-1][0]
    log = sim.wait_cycles(done + CYCLES_PER_S // 2)
    for ch, us in {0: 1500, 2: 1200, 5: 2100}.items():
        widths = [w for _, w in log.widths_us(ch, done)]
        assert len(widths) >= 20
        assert max(abs(w - us) for w in widths) <= 2.0
    assert rig.positions() == {0: 1500, 1: None, 2: 1200, 3: None, 4: None, 5: 2100}


def test_driver_speed_is_the_slew_rate(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    rig.move({1: 1000})
    rig.set_speed(450)
    rig.move({1: 1900})
    log = sim.log()
    start, done = log.rx[-1][0], log.tx[-1][0]
    ramp = [(r / CYCLES_PER_S, w) for r, w in log.widths_us(1, start, done) if 1010 < w < 1890]
    slope = (ramp[-1][1] - ramp[0][1]) / (ramp[-1][0] - ramp[0][0])
    assert slope == pytest.approx(450, rel=0.01)


def test_detach_silences_the_servos(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    rig.move({0: 1500, 1: 1600})
    rig.detach([1])
    first = sim.log().tx[-1][0]
    rig.detach()
    both = sim.log().tx[-1][0]
    log = sim.wait_cycles(both + CYCLES_PER_S // 2)
    assert log.widths_us(1, first + FRAME_CYCLES) == []
    assert log.widths_us(0, both + FRAME_CYCLES) == []
    assert rig.positions()[1] == 1600  # positions are kept after DETACH


def test_board_reset_is_detected_and_positions_restored(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    rig.move({0: 1300, 3: 1700})
    sim.reset()
    sim.wait_until(lambda log: bool(log.resets) and log.tx[-1][1].startswith("READY"), what="boot")
    with pytest.raises(RigReset):
        rig.ping()
    assert rig.resets == 1
    # The next call re-establishes the board first: HELLO, speed, every position.
    positions = rig.positions()
    assert positions[0] == 1300 and positions[3] == 1700
    log = sim.log()
    sent = [text for cycle, text in log.rx if cycle > log.resets[-1]]
    assert sent[0].startswith("PING")  # answered by the new firmware, after its banner...
    assert any(line.startswith("PONG") for line in rig.ignored)  # ...and that late PONG ignored
    assert sent[1].startswith("HELLO") and sent[-1].startswith("POS")
    assert any(t.startswith("SPEED") and t.endswith(" 5000") for t in sent)
    assert any(t.startswith("MOVE") and t.endswith(" 0 1300 3 1700") for t in sent)
    done = next(cycle for cycle, text in log.tx if cycle > log.resets[-1] and "DONE" in text)
    assert log.widths_us(3, done)[-1][1] == pytest.approx(1700, abs=2)


def test_board_reset_mid_move_fails_the_move(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    rig.move({0: 1000})
    rig.set_speed(50)  # 20 s of slew: the reset comes first
    timer = threading.Timer(0.3, sim.reset)
    timer.start()
    try:
        with pytest.raises(RigReset, match="restarted during MOVE"):
            rig.move({0: 2000})
    finally:
        timer.cancel()
    reset = sim.log().resets[-1]
    log = sim.wait_cycles(reset + CYCLES_PER_S // 2)
    assert log.widths_us(0, reset) == []  # a reset board sends no pulses


def test_stop_from_another_thread_halts_the_move(setup: Setup) -> None:
    sim, rig = setup
    rig.set_speed(5000)
    rig.move({2: 1000})
    rig.set_speed(100)
    flag = StopFlag()
    outcome: list[BaseException] = []

    def mover() -> None:
        try:
            rig.move({2: 2000}, stop=flag)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=mover)
    worker.start()
    sim.wait_until(lambda log: any(w > 1100 for _, w in log.widths_us(2)), what="slewing")
    flag.set()
    worker.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], Stopped)
    stop = next(cycle for cycle, text in sim.log().rx if text.startswith("STOP"))
    log = sim.wait_cycles(stop + CYCLES_PER_S // 2)
    held = [w for _, w in log.widths_us(2, stop + FRAME_CYCLES)]
    assert held and max(held) - min(held) <= 1.0 and held[0] < 2000
    rig.detach()


def test_stalled_servo_is_reported(start_rig: Callable[..., Setup]) -> None:
    sim, rig = start_rig("pins-fb", pots={0: "stuck:1000"})
    rig.connect()
    rig.set_speed(5000)
    with pytest.raises(RigError, match="stalled"):
        rig.move({0: 1800})
    assert rig.positions()[0] == 1800
    failed = next(cycle for cycle, text in sim.log().tx if "E_STALL" in text)
    log = sim.wait_cycles(failed + CYCLES_PER_S // 2)
    assert log.widths_us(0, failed + FRAME_CYCLES) == []  # the stalled servo was let go


def test_driver_refuses_channels_the_board_lacks(setup: Setup) -> None:
    sim, rig = setup
    with pytest.raises(RigError, match="no channel 6"):
        rig.move({6: 1500})
    assert not any(text.startswith("MOVE") for _, text in sim.log().rx)
