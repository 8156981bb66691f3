"""A sweep survives the faults of a night on the bench (the firmware twin, the real driver): a
board reset mid-move or during a take, the rig's cable pulled (back under the same name or a
new one), the interface gone mid-take, a servo that stalls once or twice. Nothing lost,
nothing doubled, nothing recorded at the wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.errors import Stopped
from station.events import DeviceBack, DevicePaused, StopFlag
from station.sweep.positioner import SLOW_FACTOR
from tests.sweep.twin_bench import TwinSweep, on_command, when

SLEW = 240  # µs/s: not the firmware's default, so a restarted board must be told it


def moves(t: TwinSweep) -> int:
    return sum(line.startswith("MOVE") for line in t.twin.received)


def after(t: TwinSweep, sid: str) -> list[str]:
    """The journal's events for setting `sid`, by kind, in order."""
    return [e["event"] for e in t.events() if e.get("id") == sid]


@pytest.fixture
def t(home: Path) -> TwinSweep:
    return TwinSweep(home, settings=2, speedup=10.0, slew=SLEW)


def test_a_board_reset_mid_move_puts_every_servo_back_then_captures(t: TwinSweep) -> None:
    second = t.session.schedule[1].id
    # The second setting's move: the board restarts as the servos slew.
    on_command(t.twin, "MOVE", 2, t.twin.restart)
    summary = t.runner().run()
    assert summary.complete and not summary.failed
    assert after(t, second) == ["reset", "moved", "captured", "compared", "checked"]
    reset = t.events("reset")[0]
    assert reset["during"] == "move" and reset["count"] == 1
    assert any(f"{second}: the rig's board restarted during the move" in w for w in t.warnings)
    # After the banner: HELLO, STOP (a move it took before), the speed, then one move of every
    # servo to the setting.
    hellos = [i for i, x in enumerate(t.twin.received) if x.startswith("HELLO")]
    sent = [x.split() for x in t.twin.received[hellos[-1] :]]
    assert [x[0] for x in sent[:4]] == ["HELLO", "STOP", "SPEED", "MOVE"]
    assert sent[2][2] == str(SLEW)
    move = sent[3][2:]
    assert {int(c): int(u) for c, u in zip(move[::2], move[1::2], strict=True)} == t.pulses(second)
    assert t.takes_off_their_setting() == []
    assert t.captured() == {s.id: 1 for s in t.session.schedule}


def test_a_board_reset_during_a_take_discards_it_and_takes_it_again(t: TwinSweep) -> None:
    first = t.session.schedule[0].id
    t.iface.on_stream = lambda n: t.twin.restart() if n == 1 else None  # the first take
    summary = t.runner().run()
    assert summary.complete and not summary.failed
    # No capture accepted between the reset and the servos' return to the setting.
    assert after(t, first) == ["moved", "reset", "moved", "captured", "checked"]
    assert t.events("reset")[0]["during"] == "take"
    assert t.captured() == {s.id: 1 for s in t.session.schedule}
    assert len(t.iface.streams) == 2 * len(t.session.schedule) + 2  # one take more
    assert not list(t.session.folder.glob(".*"))  # the discarded take is gone, whole
    assert t.takes_off_their_setting() == []


def test_a_pulled_cable_pauses_until_it_is_back(t: TwinSweep) -> None:
    second = t.session.schedule[1].id

    def pull() -> None:
        t.twin.unplug()
        when(lambda: bool(t.events("device_lost")), t.twin.plug)

    on_command(t.twin, "MOVE", 2, pull)
    runner = t.runner()
    runner.faults.poll_s = 0.1
    summary = runner.run()
    assert summary.complete and not summary.failed
    paused = [e for e in t.said if isinstance(e, DevicePaused)]
    assert len(paused) == 1 and paused[0].device == "rig" and paused[0].setting_id == second
    text = str(paused[0].text)
    assert "\n" not in text and "went away" in text and "Plug it back in" in text
    assert [isinstance(e, DeviceBack) for e in t.said].count(True) == 1
    assert after(t, second)[:3] == ["device_lost", "device_back", "moved"]
    assert t.events("device_back")[0]["port"] == "virtual"
    assert t.captured() == {s.id: 1 for s in t.session.schedule}
    assert t.takes_off_their_setting() == []


def test_a_replug_under_a_new_name_goes_on_with_the_name_given(t: TwinSweep) -> None:
    new: list[str] = []
    stop = StopFlag()

    def pull() -> None:
        t.twin.unplug()
        new.append(t.twin.plug(new_name=True))

    when(lambda: moves(t) == 1, pull)
    runner = t.runner(stop=stop)
    runner.faults.poll_s = 0.05
    offers = iter([None, "/dev/nonesuch", None])
    runner.faults.offer = lambda _s: next(offers, new[0] if new else None)
    summary = runner.run()
    assert summary.complete
    assert any("/dev/nonesuch: there is no serial port" in w for w in t.warnings)
    back = t.events("device_back")
    assert len(back) == 1 and back[0]["port"] == new[0] and t.rig.name == new[0]
    assert runner.faults.rig_moved_port
    assert t.captured() == {s.id: 1 for s in t.session.schedule}
    assert t.takes_off_their_setting() == []


def test_stopping_while_waiting_for_the_rig_keeps_the_session(t: TwinSweep) -> None:
    stop = StopFlag()
    on_command(t.twin, "MOVE", 2, t.twin.unplug)
    when(lambda: bool(t.events("device_lost")), stop.set)
    runner = t.runner(stop=stop)
    with pytest.raises(Stopped, match="waiting for the rig"):
        runner.run()
    assert runner.faults.stopped_waiting == "rig"
    assert t.events("stopped") and len(t.captured()) == 1
    assert t.rig.name == "virtual"  # closed, the bench left safe
    t.connect()  # the rig plugged back in, the session resumed
    summary = t.runner().run(resumed=True)
    assert summary.complete and t.captured() == {s.id: 1 for s in t.session.schedule}


def test_an_interface_gone_mid_take_pauses_and_takes_again(t: TwinSweep) -> None:
    first = t.session.schedule[0].id
    t.vrig.audio_lost_at_s, t.vrig.audio_outage_s = 1.0, 0.4  # the first take, 1 s in
    runner = t.runner()
    runner.faults.poll_s = 0.05
    summary = runner.run()
    assert summary.complete and not summary.failed
    paused = [e for e in t.said if isinstance(e, DevicePaused)]
    assert [p.device for p in paused] == ["audio"] and "went away" in str(paused[0].text)
    assert after(t, first) == ["moved", "device_lost", "device_back", "captured", "checked"]
    assert t.events("device_back")[0]["waited_s"] >= 0.35
    assert not t.events("retaken")  # a lost device is not a spoilt take
    assert t.captured() == {s.id: 1 for s in t.session.schedule}
    assert not list(t.session.folder.glob(".*"))


def test_a_stall_is_retried_once_slowly_after_letting_go(t: TwinSweep) -> None:
    second = t.session.schedule[1].id
    when(lambda: moves(t) == 1, lambda: t.twin.jam(0, moves=1))  # drive, on the next move
    summary = t.runner().run()
    assert summary.complete and not summary.failed
    moved = next(e for e in t.events("moved") if e["id"] == second)
    assert moved["stalled"][0]["channel"] == 0 and "(drive)" in moved["stalled"][0]["control"]
    slow = SLEW // SLOW_FACTOR
    sent = t.twin.received
    i = next(i for i, x in enumerate(sent) if x.startswith("SPEED") and x.endswith(f" {slow}"))
    assert sent[i - 1].startswith("DETACH")  # let go first
    assert sent[i + 1].startswith("MOVE")  # then slowly
    assert sent[i + 2].startswith("SPEED") and sent[i + 2].endswith(f" {SLEW}")  # set back
    assert any(f"{second}: the servo on channel 0 (drive) stalled" in w for w in t.warnings)


def test_a_servo_that_stalls_twice_fails_its_setting_and_the_sweep_goes_on(t: TwinSweep) -> None:
    ids = [s.id for s in t.session.schedule]
    when(lambda: moves(t) == 1, lambda: t.twin.jam(0, moves=2))
    summary = t.runner().run()
    assert summary.failed == [ids[1]] and summary.done == ids[:1] + ids[2:]
    reason = t.events("failed")[0]["reason"]
    assert "channel 0 (drive) stalled" in reason
    assert f"again at {SLEW // SLOW_FACTOR} µs/s" in reason
    assert ids[1] not in t.captured()
    assert t.takes_off_their_setting() == []
