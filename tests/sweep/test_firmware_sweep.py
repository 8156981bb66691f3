"""A sweep driving the compiled servo-rig firmware in simavr through the real serial driver."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from station.drivers.rig import ServoRig, open_serial
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file
from station.rig.motion import rig_model
from station.rig.profiles import KnobSpec, RigProfile, SwitchSpec
from station.sweep.journal import read_events
from station.sweep.positioner import RigPositioner
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions, create_session
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.firmware.sim import CYCLES_PER_S, FirmwareSim, toolchain_missing
from tests.sweep_fixture import short_input

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

FRAME_CYCLES = CYCLES_PER_S // 50


def _pulses(line: str) -> dict[int, int]:
    fields = line.split()[2:]  # MOVE <id> ch us ch us ...
    return {int(c): int(u) for c, u in zip(fields[::2], fields[1::2], strict=True)}


def test_a_sweep_moves_detaches_and_checks_the_real_firmware(
    tmp_path: Path, home: Path, short_signal: Path
) -> None:
    sim = FirmwareSim(tmp_path / "sim.log", "pins", speed=20.0)
    try:
        port = open_serial(sim.pty_path)
        sim.go()  # the board resets when the port opens
        rig = ServoRig(port, name=sim.pty_path)
        rig.connect()
        rp = RigProfile(
            "avr",
            sim.pty_path,
            "1.0.0",
            3000.0,
            [
                KnobSpec("drive", 0, 0.0, 10.0, [(0.0, 700), (10.0, 2300)]),
                KnobSpec("tone", 1, 0.0, 10.0, [(0.0, 800), (5.0, 1450), (10.0, 2200)]),
            ],
            [SwitchSpec("boost", 3, {"off": 1000, "on": 2000})],
        )
        rig.set_speed(rp.slew_us_per_s)
        vrig = VirtualRig(speed=None)
        vrig.use_gear("clean")
        profile = calibrated_profile(vrig, "p")
        req = PlanRequest(
            knobs=(KnobRange("drive", 0, 10), KnobRange("tone", 0, 10)),
            switches=(SwitchChoice("boost", ("off", "on")),),
            settings=3,
            holdout=0,
            anchor_every=0,
            rig="avr",
        )
        plan_path = home / "plan.json"
        plan_path.write_text(json.dumps(make_plan(req, rig_model(rp)).to_json()))
        session = create_session(
            home / "captures" / "avr",
            plan_path,
            profile=profile,
            rig_name="avr",
            rig_profile=rp,
            reamp={"path": str(short_signal), "md5": md5_of_file(short_signal)},
            options=SweepOptions(reamp_dbu=12.0),
            anchor_every=None,
        )
        summary = SweepRunner(
            session, vrig.interface, profile, RigPositioner(rig, rp), short_signal,
            confirm=vrig.act_on,
        ).run()  # fmt: skip
        assert summary.complete and not summary.failed
        # The clean amp does not follow these servos and the pins firmware has no pots, so each
        # setting's controls are turned one at a time with a probe after each, and no control's
        # own step (nor its move on past where it was and back) changes the sound: the sweep
        # asks whether the knob moved, moves back to the setting before (the first setting has
        # none) and again to this one, takes it again, and (still the same) marks it suspect;
        # the first setting too, which its probes judge alone.
        ids = [s.id for s in session.schedule]
        assert summary.suspect == sorted(ids)
        assert summary.suspect_reasons == dict.fromkeys(ids, "unmoved")
        log = sim.log()
        sent = [(cycle, text.split()[0], text) for cycle, text in log.rx]
        moves = [(c, _pulses(t)) for c, kind, t in sent if kind == "MOVE"]
        planned = [rp.pulses_for(s.knobs, s.switches) for s in session.schedule]
        # Each stepwise move ends with the whole setting (every servo already there); the move
        # back to the setting before is made at once.
        whole = [p for _, p in moves if set(p) == set(planned[0])]
        expected = planned[:1] * 2
        for before, here in itertools.pairwise(planned):
            expected += [here, before, here]
        assert whole == expected
        # Every other move turns one servo.
        steps = [p for _, p in moves if set(p) != set(planned[0])]
        assert steps and all(len(p) == 1 for p in steps)
        dones = [cycle for cycle, text in log.tx if text.startswith("DONE")]
        assert len(dones) == len(moves)
        for (_, target), done in zip(moves, dones, strict=True):
            # At DONE every servo holds its target pulse...
            for ch, us in target.items():
                widths = [w for _, w in log.widths_us(ch, done - FRAME_CYCLES, done)]
                assert widths and abs(widths[-1] - us) <= 2
            # ...and the host detaches before anything else (the recording) happens.
            after = [kind for c, kind, _ in sent if c > done]
            assert after[:2] == ["DETACH", "POS"]
        last = max(c for c, kind, _ in sent if kind == "DETACH")
        quiet = sim.wait_cycles(last + CYCLES_PER_S // 2)
        assert all(quiet.widths_us(ch, last + FRAME_CYCLES) == [] for ch in range(6))
    finally:
        sim.close()


class OnLog:
    """Watches the harness's log for the n-th line starting with `kind` ('RX', 'TX') and
    holding `text`, then does `then` (a fault, as the board goes); reads only new lines."""

    def __init__(self, sim: FirmwareSim, kind: str, text: str, nth: int, then: Any) -> None:
        self.sim, self.nth, self.then = sim, nth, then
        self.kind, self.text = kind.encode() + b" ", text.encode()
        self.done = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        seen, offset = 0, 0
        while not self.done.wait(0.002):
            with self.sim.log_path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            cut = chunk.rfind(b"\n") + 1
            offset += cut
            seen += sum(line.startswith(self.kind) and self.text in line
                        for line in chunk[:cut].splitlines())  # fmt: skip
            if seen >= self.nth:
                self.then()
                self.done.set()


def _session(home: Path, rp: RigProfile, signal: Path, settings: int) -> tuple[Any, Any, Any]:
    """The clean virtual amp calibrated, and a session of `settings` settings on rig `rp`."""
    vrig = VirtualRig(speed=None)
    vrig.use_gear("clean")
    profile = calibrated_profile(vrig, "p")
    req = PlanRequest(
        knobs=(KnobRange("drive", 0, 10), KnobRange("tone", 0, 10)),
        switches=(SwitchChoice("boost", ("off", "on")),),
        settings=settings,
        holdout=0,
        anchor_every=0,
        rig="avr",
    )
    plan_path = home / "plan.json"
    plan_path.write_text(json.dumps(make_plan(req, rig_model(rp)).to_json()))
    session = create_session(
        home / "captures" / "avr",
        plan_path,
        profile=profile,
        rig_name="avr",
        rig_profile=rp,
        reamp={"path": str(signal), "md5": md5_of_file(signal)},
        options=SweepOptions(reamp_dbu=12.0),
        anchor_every=None,
    )
    return vrig, profile, session


def _avr_rig(port: str, slew_us_per_s: float) -> RigProfile:
    return RigProfile(
        "avr",
        port,
        "1.0.0",
        slew_us_per_s,
        [
            KnobSpec("drive", 0, 0.0, 10.0, [(0.0, 700), (10.0, 2300)]),
            KnobSpec("tone", 1, 0.0, 10.0, [(0.0, 800), (10.0, 2200)]),
        ],
        [SwitchSpec("boost", 3, {"off": 1000, "on": 2000})],
    )


def test_a_board_reset_mid_move_re_drives_every_servo_from_below_before_a_take(
    tmp_path: Path, home: Path
) -> None:
    signal = short_input(tmp_path / "tiny.wav", 2.0)
    sim = FirmwareSim(tmp_path / "sim.log", "pins", speed=5.0)
    try:
        port = open_serial(sim.pty_path)
        sim.go()
        rig = ServoRig(port, name=sim.pty_path)
        rig.connect()
        rp = _avr_rig(sim.pty_path, 150.0)  # slow: the reset lands mid-slew
        rig.set_speed(rp.slew_us_per_s)
        vrig, profile, session = _session(home, rp, signal, 2)
        # 50 ms (AVR time) into the second move: the first setting's second control, stepped.
        hit = session.schedule[0]
        sim.reset_at("MOVE", 2, 50)
        said: list[Any] = []
        summary = SweepRunner(
            session, vrig.interface, profile, RigPositioner(rig, rp), signal,
            confirm=vrig.act_on, emit=said.append,
        ).run()  # fmt: skip
        assert summary.complete and not summary.failed
        log = sim.log()
        reset = log.resets[-1]
        moves = [(c, t) for c, t in log.rx if t.startswith("MOVE")]
        cut = moves[1]  # the move the reset cut short: it began, and never ended
        assert reset - cut[0] == pytest.approx(CYCLES_PER_S // 20, abs=CYCLES_PER_S // 1000)
        assert not any(t.startswith(f"DONE {cut[1].split()[1]} ") for _, t in log.tx)
        cut_to = _pulses(cut[1])  # mid-slew: a servo still on its way when the power dipped
        assert any(abs(log.widths_us(ch, 0, reset)[-1][1] - us) > 2 for ch, us in cut_to.items())
        # After the banner: HELLO, STOP, SPEED, the rig's own move of the servo it had got to
        # its place back there (the drive's step; the tone's was cut short), then the sweep
        # asks where the servos are and steps the others (the tone, the boost), with probes.
        after = [t for c, t in log.rx if c > reset]
        assert [t.split()[0] for t in after[:5]] == ["HELLO", "STOP", "SPEED", "MOVE", "POS"]
        target = rp.pulses_for(hit.knobs, hit.switches)
        drive, tone = (rp.knobs[0].channel, rp.knobs[1].channel)
        assert _pulses(moves[0][1]) == {drive: target[drive]}  # the steps before the reset
        assert _pulses(cut[1]) == {tone: target[tone]}
        assert _pulses(after[3]) == {drive: target[drive]}
        for ch, us in target.items():
            redo = next(c for c, t in log.rx if c > reset and t.startswith("MOVE")
                        and ch in _pulses(t))  # fmt: skip
            done = next(c for c, t in log.tx if c > redo and t.startswith("DONE"))
            assert log.widths_us(ch, reset, redo) == []  # a reset board drives nothing
            widths = [w for _, w in log.widths_us(ch, redo, done)]
            # Approached from below, slewed up, held at the target.
            assert widths[0] <= us and widths[-1] == pytest.approx(us, abs=2)
            assert all(b >= a - 1 for a, b in itertools.pairwise(widths))
        # The journal: the reset, the servos back at the setting (stepped, probed), only then
        # the capture.
        kinds = [e["event"] for e in read_events(session.folder / "journal.jsonl")
                 if e.get("id") == hit.id]  # fmt: skip
        since = kinds[kinds.index("reset") :]
        assert since[: since.index("moved")] == ["reset"] + ["probed"] * (since.index("moved") - 1)
        assert since.index("moved") > 1 and since[since.index("moved") + 1] == "captured"
        assert any("restarted during the move" in str(getattr(e, "text", "")) for e in said)
    finally:
        sim.close()


def test_a_stalled_servo_is_let_go_retried_slowly_then_its_setting_fails_and_the_sweep_goes_on(
    tmp_path: Path, home: Path
) -> None:
    signal = short_input(tmp_path / "tiny.wav", 2.0)
    # The drive's feedback pot reads 1000 µs whatever the servo does: it never gets there.
    pots = {0: "stuck:1000", 1: "follow", 2: "follow", 3: "follow"}
    sim = FirmwareSim(tmp_path / "sim.log", "pins-fb", speed=20.0, pots=pots)
    try:
        port = open_serial(sim.pty_path)
        sim.go()
        rig = ServoRig(port, name=sim.pty_path)
        rig.connect()
        rp = _avr_rig(sim.pty_path, 800.0)
        rig.set_speed(rp.slew_us_per_s)
        vrig, profile, session = _session(home, rp, signal, 2)
        first = session.schedule[0]
        # Freed once it has stalled twice: the settings after it are reached.
        watcher = OnLog(sim, "TX", "E_STALL", 2, lambda: sim.set_pot(0, "follow"))
        summary = SweepRunner(
            session, vrig.interface, profile, RigPositioner(rig, rp), signal,
            confirm=vrig.act_on,
        ).run()  # fmt: skip
        watcher.done.set()
        assert summary.failed == [first.id]
        assert summary.done == [s.id for s in session.schedule[1:]]
        failed = read_events(session.folder / "journal.jsonl")
        reason = next(e["reason"] for e in failed if e["event"] == "failed")
        assert "channel 0 (drive) stalled" in reason and "again at 200 µs/s" in reason
        log = sim.log()
        stalls = [c for c, t in log.tx if "E_STALL" in t]
        assert len(stalls) == 2
        # Between the stalls: DETACH, SPEED at a quarter, the same MOVE again.
        between = [t.split() for c, t in log.rx if stalls[0] < c < stalls[1]]
        assert [t[0] for t in between] == ["DETACH", "SPEED", "MOVE"]
        assert between[1][2] == "200"
        first_move = [t.split() for c, t in log.rx if c < stalls[0] and t.startswith("MOVE")][-1]
        assert between[2][2:] == first_move[2:]  # the same pulses, slowly
        # The speed set back after the retry, before the next setting's move.
        after = [t.split() for c, t in log.rx if c > stalls[1]]
        assert after[1][0] == "SPEED" and after[1][2] == "800"
    finally:
        sim.close()
