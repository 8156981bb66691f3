"""Calibration accuracy over random virtual rigs: worst and median error vs the rig's truth.

Run: python benchmarks/calibration_accuracy.py [--rigs 50] [--seed 7]
Targets (issue 2): send and return within 0.02 dB worst, latency within 0.1 sample worst,
given an exact meter.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from station.calibrate import CalibrationSettings, calibrate
from station.drivers.base import StreamSpec
from station.drivers.virtual import random_rig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rigs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    errors: dict[str, list[float]] = {"send dB": [], "return dB": [], "latency samples": []}
    t0 = time.perf_counter()
    for _ in range(args.rigs):
        rig = random_rig(rng, speed=None, meter_digits=12)  # an exact meter
        r = calibrate(
            rig.interface,
            rig.meter,
            CalibrationSettings(StreamSpec(48000, 1, 1)),
            confirm=rig.act_on,
        )
        t = rig.truth
        errors["send dB"].append(abs(r.send_dbu_at_0dbfs - t.send_dbu_at_0dbfs))
        errors["return dB"].append(abs(r.return_dbu_at_0dbfs - t.return_dbu_at_0dbfs))
        errors["latency samples"].append(abs(r.latency_samples - t.latency_samples))
    elapsed = time.perf_counter() - t0
    targets = {"send dB": 0.02, "return dB": 0.02, "latency samples": 0.1}
    print(
        f"calibration accuracy over {args.rigs} random virtual rigs "
        f"(send +4…+24 dBu, return −6…+20 dBu, latency 0–5000 samples, noise −110…−70 dBFS)"
    )
    print(f"{'quantity':<18}{'median error':>14}{'worst error':>14}{'target':>10}  ok")
    for name, errs in errors.items():
        worst = max(errs)
        ok = "yes" if worst <= targets[name] else "NO"
        print(f"{name:<18}{statistics.median(errs):>14.2e}{worst:>14.2e}{targets[name]:>10g}  {ok}")
    print(f"{elapsed:.1f} s in all, {elapsed / args.rigs * 1000:.0f} ms per calibration")


if __name__ == "__main__":
    main()
