"""The real serial driver against the firmware twin over a pty, and the knobbed gear it turns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import serial

from station.devices import open_rig
from station.drivers.rig import RigLost, RigReset, RigStall, ServoRig
from station.errors import RigError
from station.virtual.pedal import OD_KNOBS, OD_SWITCHES, ServoBench
from station.virtual.rig import VirtualRig
from station.virtual.twin import VirtualFirmware

SPEEDUP = 20.0
DRIVE, TONE = OD_KNOBS[0], OD_KNOBS[1]


@pytest.fixture
def bench() -> ServoBench:
    return ServoBench()


@pytest.fixture
def rig(bench: ServoBench) -> Iterator[ServoRig]:
    r = open_rig("virtual", twin_kw={"bench": bench, "speedup": SPEEDUP})
    yield r
    r.close()


def twin_of(rig: ServoRig) -> VirtualFirmware:
    return rig._on_close.__self__  # type: ignore[union-attr]


def test_connect_and_move_a_knob_to_a_mark(rig: ServoRig, bench: ServoBench) -> None:
    assert rig.info is not None and rig.info.proto == 1 and rig.info.channels == 16
    target = round(DRIVE.true_pulse_us(7.0))
    assert rig.move({0: target}) == {0: target}
    assert bench.knob_values()["drive"] == pytest.approx(7.0, abs=0.01)
    pos = rig.positions()
    assert pos[0] == target and len(pos) == 16
    rig.detach()
    assert twin_of(rig).attached == set()
    assert rig.positions()[0] == target  # detached knobs stay where they were


def test_slew_rate_and_approach_from_below(rig: ServoRig) -> None:
    twin = twin_of(rig)
    rig.set_speed(400)
    rig.move({1: 2000})
    twin.trace.clear()
    rig.move({1: 1200})
    t, _, us = zip(*[p for p in twin.trace if p[1] == 1], strict=True)
    assert min(us) == pytest.approx(1160, abs=1)  # 40 µs under the target, then up
    assert us[-1] == 1200
    low = int(np.argmin(us))  # whole steps on the way down, before the clamped last one
    slope = np.polyfit(t[:low], us[:low], 1)[0]  # µs per simulated second
    assert -slope == pytest.approx(400, rel=0.03)


def test_a_knob_against_its_end_stop_stalls(rig: ServoRig, bench: ServoBench) -> None:
    rig.set_speed(2000)
    _lo, hi = DRIVE.stop_pulses_us()
    with pytest.raises(RigError, match="stalled"):
        rig.move({0: 2500})
    assert bench.horn(0) == pytest.approx(hi)


def test_a_board_reset_mid_move_is_reported_then_positions_restored(
    rig: ServoRig, bench: ServoBench
) -> None:
    twin = twin_of(rig)
    rig.move({0: 1000, 1: 2000})
    timer = threading.Timer(0.05, twin.restart)
    timer.start()
    with pytest.raises(RigReset):
        rig.move({0: 2200})
    timer.join()
    # The board forgot everything; the next move first re-sends every known position.
    assert rig.move({2: 1500}) == {2: 1500}
    assert twin.pulse_us[1] == 2000 and twin.pulse_us[0] == 1000
    assert rig.resets == 1


def test_a_jammed_horn_stalls_for_as_many_moves_as_asked(rig: ServoRig, bench: ServoBench) -> None:
    twin = twin_of(rig)
    rig.set_speed(2000)
    rig.move({0: 1400, 1: 1500})
    twin.jam(0, moves=1)
    with pytest.raises(RigStall) as info:
        rig.move({0: 1700, 1: 1600})
    assert info.value.channel == 0
    assert bench.horn(0) == pytest.approx(1400)  # held where it was
    assert 0 not in twin.attached  # a stalled servo is let go
    assert rig.move({0: 1700}) == {0: 1700}  # the jam was for one move
    assert bench.horn(0) == pytest.approx(1700)


def test_a_pulled_cable_loses_the_port_until_it_is_back(rig: ServoRig, bench: ServoBench) -> None:
    twin = twin_of(rig)
    rig.move({0: 1300, 1: 1800})
    rig.detach()
    twin.unplug()
    with pytest.raises(RigLost, match="went away"):
        rig.ping()
    with pytest.raises(RigError, match="no serial port"):
        rig.reconnect()  # not back yet
    twin.plug()  # the same socket: the same name
    assert rig.reconnect().channels == 16
    assert twin.commanded == set()  # the board powered on afresh
    # The next move puts every servo it drove back, from below, with its own.
    assert rig.move({2: 1500}) == {2: 1500}
    assert (twin.pulse_us[0], twin.pulse_us[1], twin.pulse_us[2]) == (1300, 1800, 1500)


def test_a_replug_under_a_new_name_needs_that_name(rig: ServoRig) -> None:
    twin = twin_of(rig)
    twin.unplug()
    with pytest.raises(RigLost):
        rig.positions()
    new = twin.plug(new_name=True)
    with pytest.raises(RigError, match="no serial port"):
        rig.reconnect()  # 'virtual' names the port it had
    assert rig.reconnect(new).channels == 16 and rig.name == new
    rig.ping()


def test_watchdog_detaches(bench: ServoBench) -> None:
    r = open_rig("virtual", twin_kw={"bench": bench, "speedup": 200.0})
    try:
        r.move({0: 1500})
        twin = twin_of(r)
        assert 0 in twin.attached
        time.sleep(0.45)  # 90 s of simulated silence
        assert twin.attached == set()
    finally:
        r.close()


def test_a_repeated_id_is_executed_once_and_answered_again(bench: ServoBench) -> None:
    twin = VirtualFirmware(bench=bench, speedup=SPEEDUP)
    port = serial.Serial(twin.device, 115200, timeout=2)
    twin.start()
    try:
        assert port.readline().startswith(b"READY servo-rig")
        port.write(b"MOVE 9 0 1400\n")
        assert port.readline() == b"ACK 9\n"
        assert port.readline() == b"DONE 9 0=1400\n"
        n = len(twin.trace)
        port.write(b"MOVE 9 0 1400\n")
        assert port.readline() == b"ACK 9\n"
        assert port.readline() == b"DONE 9 0=1400\n"
        assert len(twin.trace) == n  # nothing moved the second time
        port.write(b"MOVE 10 0 2600\nMOVE 11 16 1500\nJUMP 12\nMOVE x\n")
        assert port.readline() == b"ERR 10 E_RANGE 2600\n"
        assert port.readline() == b"ERR 11 E_CHANNEL 16\n"
        assert port.readline().startswith(b"ERR 12 E_SYNTAX")
        assert port.readline().startswith(b"ERR 0 E_SYNTAX")
        port.write(b"SPEED 13 100\nMOVE 14 0 2000\nMOVE 15 0 1000\nSTOP 16\n")
        assert port.readline() == b"OK 13\n"
        assert port.readline() == b"ACK 14\n"
        assert port.readline() == b"ERR 15 E_BUSY move 14 is running\n"
        assert port.readline() == b"ERR 14 E_STOPPED\n"
        assert port.readline() == b"OK 16\n"
    finally:
        port.close()
        twin.close()


def test_silent_board_fails_naming_the_command(rig: ServoRig) -> None:
    twin_of(rig).silent = True
    rig._reply_timeout_s = 0.1
    with pytest.raises(RigError, match=r"PING \d+: no answer after 4 tries"):
        rig.ping()


def rms_and_treble(
    rig: VirtualRig, freq_hz: float = 440.0, amp_v: float = 0.5
) -> tuple[float, float]:
    """RMS and the fraction of energy above 2 kHz of a sine through the rig's gear."""
    gear = rig.gear
    gear.reset(48000)  # type: ignore[union-attr]
    t = np.arange(48000) / 48000
    y = gear.process(amp_v * np.sin(2 * np.pi * freq_hz * t))[9600:]  # type: ignore[union-attr]
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / 48000)
    return float(np.sqrt(np.mean(y**2))), float(spec[f > 2000].sum() / spec.sum())


def test_the_pedal_follows_the_servos() -> None:
    vrig = VirtualRig(speed=None)
    vrig.use_gear("od")
    r = open_rig("virtual", twin_kw={"bench": vrig.servos, "speedup": 50.0})
    try:
        r.set_speed(3000)
        r.move({0: round(DRIVE.true_pulse_us(1.0)), 1: round(TONE.true_pulse_us(8.0))})
        quiet, bright_low_drive = rms_and_treble(vrig)
        r.move({0: round(DRIVE.true_pulse_us(9.0))})
        _, bright_high_drive = rms_and_treble(vrig)
        r.move({1: round(TONE.true_pulse_us(1.0))})
        _, dark_high_drive = rms_and_treble(vrig)
        boost = OD_SWITCHES[0]
        r.move({3: round(boost.true_pulse_us("on")), 2: round(OD_KNOBS[2].true_pulse_us(9.0))})
        loud, _ = rms_and_treble(vrig)
        assert vrig.servos.switch_positions()["boost"] == "on"
    finally:
        r.close()
    assert bright_high_drive > 3 * bright_low_drive  # more drive, more harmonics
    assert dark_high_drive < bright_high_drive / 3  # the tone knob cuts them
    assert loud > 3 * quiet  # level up


def test_the_linkage_is_not_the_identity() -> None:
    # A straight line through the end marks misses marks between them by tens of µs (a
    # fifth of a mark or more): a good calibration needs marks between the ends.
    for knob in OD_KNOBS:
        a, b = knob.true_pulse_us(0), knob.true_pulse_us(10)
        miss = max(abs(a + (b - a) * v / 10 - knob.true_pulse_us(v)) for v in range(11))
        assert miss > 30


def test_knobs_set_by_one_run_are_heard_by_the_next(home: Path) -> None:
    from station.virtual.pedal import virtual_bench_path

    r = open_rig(
        "virtual",
        twin_kw={"bench": ServoBench(state_path=virtual_bench_path(home)), "speedup": 50.0},
    )
    try:
        r.set_speed(3000)
        r.move(
            {2: round(OD_KNOBS[2].true_pulse_us(8.0)), 3: round(OD_SWITCHES[0].true_pulse_us("on"))}
        )
        r.detach()
    finally:
        r.close()
    # A later capture on the virtual rig (another process, as 'station capture' is) plays
    # through the pedal with the knobs where the rig left them.
    later = VirtualRig(speed=None)
    later.use_gear("od")
    later.keep_servos_in(home)
    knobs, switches = later.gear.settings()  # type: ignore[union-attr]
    assert knobs["level"] == pytest.approx(8.0, abs=0.01)
    assert switches["boost"] == "on"
    assert later.gear.servos is later.servos  # type: ignore[union-attr]
