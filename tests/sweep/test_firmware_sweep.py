"""A sweep driving the compiled servo-rig firmware in simavr through the real serial driver."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from station.drivers.rig import ServoRig, open_serial
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file
from station.rig.motion import rig_model
from station.rig.profiles import KnobSpec, RigProfile, SwitchSpec
from station.sweep.positioner import RigPositioner
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions, create_session
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.firmware.sim import CYCLES_PER_S, FirmwareSim, toolchain_missing

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
        # The clean amp does not follow these servos, so every setting sounds as the one before
        # it did: the sweep asks whether the knob moved, moves back to that setting and again
        # to this one, takes it again, and (still the same) marks it suspect.
        ids = [s.id for s in session.schedule]
        assert summary.suspect == sorted(ids[1:])
        assert summary.suspect_reasons == dict.fromkeys(ids[1:], "unmoved")
        log = sim.log()
        sent = [(cycle, text.split()[0], text) for cycle, text in log.rx]
        moves = [(c, _pulses(t)) for c, kind, t in sent if kind == "MOVE"]
        planned = [rp.pulses_for(s.knobs, s.switches) for s in session.schedule]
        expected = planned[:1]
        for before, here in itertools.pairwise(planned):
            expected += [here, before, here]
        assert [p for _, p in moves] == expected
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
