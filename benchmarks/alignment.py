"""Alignment error over every virtual gear model and random interface latencies.

For each capture, the station's whole-sample shift is compared with the truth
(the rig's latency, rounded), and so is the delay the NAM trainer's blip rule
would apply to the same raw recording (its first crossing minus its safety
factor of 1). Run: python benchmarks/alignment.py [--latencies 5] [--seed 11]
Target (issue 3): the station exact to the sample (0) in every case.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from station.capture import CaptureRequest, run_capture
from station.drivers.base import StreamSpec
from station.drivers.gear import catalogue
from station.drivers.virtual import VirtualInterfaceTruth, VirtualRig
from station.reamp import write_station_signal

TRAINER_SAFETY = 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latencies", type=int, default=5, help="random latencies per gear")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="station-bench-"))
    signal = write_station_signal(work / "signal.wav", seed=2, training_s=4.0)
    spec = StreamSpec(48000, 1, 1)
    rows: dict[str, tuple[list[int], list[int]]] = {}
    t0 = time.perf_counter()
    for key in catalogue():
        station_err, trainer_err = [], []
        for i in range(args.latencies):
            truth = VirtualInterfaceTruth(latency_samples=float(rng.uniform(0, 5000)))
            rig = VirtualRig(truth=truth, speed=None, seed=int(rng.integers(1, 1 << 30)))
            rig.use_gear(key)
            prof = rig.calibrated_profile("b", spec)
            res = run_capture(
                rig.interface,
                CaptureRequest(prof, signal, 12.0, f"{key}-{i}", work / "captures"),
                confirm=rig.act_on,
            )
            lat = res.record["latency"]
            true_shift = round(truth.latency_samples)
            station_err.append(lat["shift_samples"] - true_shift)
            found = lat["estimates_samples"]["trainer_blips"]
            if found is not None:
                trainer_err.append(int(found) - TRAINER_SAFETY - true_shift)
        rows[key] = (station_err, trainer_err)
    print(
        f"alignment error in samples vs the rig's latency ({args.latencies} random latencies "
        "0–5000 per gear model)"
    )
    print(
        f"{'gear':<10}{'station worst':>15}{'station median':>16}{'trainer worst':>15}"
        f"{'trainer median':>16}"
    )
    everything = []
    for key, (s_err, t_err) in rows.items():
        everything += s_err
        tw = max((abs(e) for e in t_err), default=float("nan"))
        tm = statistics.median(t_err) if t_err else float("nan")
        print(
            f"{key:<10}{max(abs(e) for e in s_err):>15}{statistics.median(s_err):>16}"
            f"{tw:>15}{tm:>16}"
        )
    verdict = "met" if all(e == 0 for e in everything) else "NOT met"
    print(
        f"target (station exact to the sample in every case): {verdict}; "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
