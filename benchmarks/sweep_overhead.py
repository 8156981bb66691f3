"""Sweep overhead: a 20-setting plan on the virtual rig, the firmware twin at real slew speed.

Per setting it prints the time beyond the signal's own length, split into motion
(MOVE to DONE less the settle), settle (DONE comes 300 ms after arrival), the
stream's own extras (2 s noise floor, 0.5 s pre-roll, 1 s tail: real time on a
real interface, computed) and the station's processing overhead (measured: the
setting's wall time less the move and the stream). The audio runs as fast as the
CPU allows, so only the servo motion runs in real time. Then the plan's motion
time ordered against unordered, and the measured motion against the model.
Run: python benchmarks/sweep_overhead.py [--settings 20] [--seed 3]
Target (issue 11): station overhead ≤ 2 s a setting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from virtual_bench import calibrated_profile

from station.capture.run import NOISE_S, PREROLL_S, TAIL_S
from station.devices import open_rig
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file, read_mono
from station.reamp.generate import write_station_signal
from station.rig.motion import SETTLE_S, rig_model
from station.sweep.positioner import RigPositioner
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions, create_session
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig


class TimedInterface:
    """The virtual interface, timing each stream against the setting it belongs to."""

    def __init__(self, inner, clock: dict) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.clock = inner, clock
        self.name, self.host_api = inner.name, inner.host_api

    def validate(self, spec) -> None:  # type: ignore[no-untyped-def]
        self.inner.validate(spec)

    def run(self, spec, source, sink, *, tail_frames, stop=None):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return self.inner.run(spec, source, sink, tail_frames=tail_frames, stop=stop)
        finally:
            self.clock["rows"][-1]["stream_s"] += time.perf_counter() - t0


class TimedPositioner(RigPositioner):
    """A rig positioner that starts a new row of timings at every setting."""

    def __init__(self, rig, profile, clock: dict) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rig, profile)
        self.clock = clock

    def set(self, s, *, stop):  # type: ignore[no-untyped-def]
        row = {"id": s.id, "role": s.role, "start": time.perf_counter(), "stream_s": 0.0}
        self.clock["rows"].append(row)
        out = super().set(s, stop=stop)
        row["move_s"] = self.last_move_s
        row["pulses"] = out["pulses_us"]
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="station-sweep-bench-"))
    signal = write_station_signal(work / "signal.wav", seed=2, training_s=4.0)
    signal_s = len(read_mono(signal)[0]) / 48000
    vrig = VirtualRig(speed=None)
    vrig.use_gear("od")
    profile = calibrated_profile(vrig, "bench")
    rp = virtual_pedal_rig()
    model = rig_model(rp)
    req = PlanRequest(
        knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rp.knobs),
        switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in rp.switches),
        settings=args.settings,
        seed=args.seed,
        rig=rp.name,
        capture_s=signal_s + NOISE_S + PREROLL_S + TAIL_S,
    )
    plan = make_plan(req, model)
    plan_path = work / "plan.json"
    plan_path.write_text(json.dumps(plan.to_json()))
    session = create_session(
        work / "captures" / "bench",
        plan_path,
        profile=profile,
        rig_name=rp.name,
        rig_profile=rp,
        reamp={"path": str(signal), "md5": md5_of_file(signal)},
        options=SweepOptions(reamp_dbu=12.0),
        anchor_every=None,
    )
    clock: dict = {"rows": []}
    rig = open_rig("virtual", twin_kw={"bench": vrig.servos, "speedup": 1.0})
    rig.set_speed(rp.slew_us_per_s)
    runner = SweepRunner(
        session,
        TimedInterface(vrig.interface, clock),
        profile,
        TimedPositioner(rig, rp, clock),
        signal,
        confirm=vrig.act_on,
    )
    t0 = time.perf_counter()
    summary = runner.run()
    end = time.perf_counter()
    rows = clock["rows"]
    extras_s = NOISE_S + PREROLL_S + TAIL_S
    print(
        f"{len(rows)} captures ({args.settings} settings + anchors), signal {signal_s:.1f} s, "
        f"slew {rp.slew_us_per_s:g} µs/s (twin in real time), audio faster than real time"
    )
    print(" id     role     motion_s settle_s stream_extra_s overhead_s  beyond_signal_s")
    overheads, predicted, prev = [], 0.0, None
    for i, row in enumerate(rows):
        nxt = rows[i + 1]["start"] if i + 1 < len(rows) else end
        total = nxt - row["start"]
        motion = max(0.0, row["move_s"] - SETTLE_S)
        overhead = total - row["move_s"] - row["stream_s"]
        overheads.append(overhead)
        pulses = {c: float(u) for c, u in row["pulses"].items()}
        if prev is not None:
            predicted += model.move_s(prev, pulses)
        prev = pulses
        beyond = motion + SETTLE_S + extras_s + overhead
        print(
            f" {row['id']:<6} {row['role']:<8} {motion:8.2f} {SETTLE_S:8.2f} {extras_s:14.2f} "
            f"{overhead:10.2f} {beyond:16.2f}"
        )
    measured = sum(r["move_s"] for r in rows[1:])
    print(
        f"station overhead: median {statistics.median(overheads):.2f} s, max "
        f"{max(overheads):.2f} s a setting (target ≤ 2 s)"
    )
    print(
        f"plan motion: {plan.motion_s:.1f} s ordered by travel vs {plan.unordered_motion_s:.1f} s "
        f"unordered ({100 * (1 - plan.motion_s / plan.unordered_motion_s):.0f} % less)"
    )
    print(
        f"measured motion after the first move: {measured:.1f} s (model {predicted:.1f} s); "
        f"sweep {end - t0:.1f} s wall, {len(summary.done)} done, {len(summary.failed)} failed"
    )


if __name__ == "__main__":
    main()
