"""Knob calibration on the virtual rig: how far the pointer lands from the asked value.

Part 1: for each virtual pedal knob, rig profiles with marks at different
spacings (points read off the linkage's truth, as a careful calibration finds
them) and the worst pointer error between marks (in printed marks).
Part 2: the real serial driver against the firmware twin on a pty: round trips
per second and the time a move takes against the slew-rate prediction.
Run: python benchmarks/rig_calibration.py [--speedup 20]
Target: under 0.1 of a mark with five or more marks; at --speedup 1 moves within 5 % of the
prediction (measured: +2 %, 3.71 s for 3.63 s; faster speed-ups add the twin's tick).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from station.devices import open_rig
from station.drivers.rig import slew_time_s
from station.rig.profiles import KnobSpec
from station.virtual.pedal import OD_KNOBS, ServoBench

MARK_SETS = ([0, 10], [0, 5, 10], [0, 3, 5, 7, 10], [0, 2, 4, 6, 8, 10], list(range(11)))


def worst_error(marks: list[int]) -> dict[str, float]:
    """Knob → the worst |pointer − asked| over 0–10 in steps of 0.05, in marks."""
    out = {}
    for k in OD_KNOBS:
        spec = KnobSpec(k.name, k.channel, 0, 10, [(v, round(k.true_pulse_us(v))) for v in marks])
        out[k.name] = max(
            abs(k.value_at_deg(k.linkage.knob_deg(spec.pulse_us(v))) - v)
            for v in np.linspace(0, 10, 201)
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speedup", type=float, default=20.0, help="twin time speed-up")
    args = parser.parse_args()
    print("marks                     " + "  ".join(f"{k.name:>6}" for k in OD_KNOBS))
    for marks in MARK_SETS:
        err = worst_error(marks)
        label = ",".join(str(m) for m in marks)
        print(f"{label:<26}" + "  ".join(f"{err[k.name]:6.3f}" for k in OD_KNOBS))

    rig = open_rig("virtual", twin_kw={"bench": ServoBench(), "speedup": args.speedup})
    try:
        n, t0 = 50, time.perf_counter()
        for _ in range(n):
            rig.ping()
        print(f"\nPING round trips over the pty: {n / (time.perf_counter() - t0):.0f} per s")
        rig.move({0: 1000})
        for start, target in ((1000, 2000), (2000, 1200)):
            predicted = slew_time_s({0: start}, {0: target}, rig.speed_us_per_s) / args.speedup
            t0 = time.perf_counter()
            rig.move({0: target})
            took = time.perf_counter() - t0
            print(
                f"move {start}→{target} µs: {took * 1000:.0f} ms wall, predicted "
                f"{predicted * 1000:.0f} ms (slew, backlash and settle at ×{args.speedup:g})"
            )
        rig.detach()
    finally:
        rig.close()


if __name__ == "__main__":
    main()
