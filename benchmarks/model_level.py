"""Does a trained model reproduce the gear's level? (Is output_level_dbu still true?)

NAM 0.13 scales the training output to −18 dBFS RMS and undoes it at export; if
it did not, `output_level_dbu` written into the model would be wrong by that
scale. This captures the clean virtual amp, trains a small model, and prints
its ESR and its RMS level against the gear. Needs the `train` extra; takes a
few minutes on a CPU. Run: python benchmarks/model_level.py [--epochs 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from virtual_bench import calibrated_profile

from station.capture.run import CaptureRequest, run_capture
from station.models.train import train_capture
from station.models.verify import verify_capture
from station.reamp.generate import write_station_signal
from station.virtual.rig import VirtualRig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--architecture", default="feather")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="station-bench-"))
    signal = write_station_signal(work / "signal.wav", training_s=20.0)
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "b")
    cap = run_capture(
        rig.interface, CaptureRequest(prof, signal, 12.0, "lvl", work), confirm=rig.act_on
    )
    t0 = time.perf_counter()
    result = train_capture(cap.capture_dir, architecture=args.architecture, epochs=args.epochs)
    v = verify_capture(result.model_path, cap.capture_dir)
    print(
        f"model vs gear, clean virtual amp, {args.architecture}, {args.epochs} epochs "
        f"({time.perf_counter() - t0:.0f} s of training)"
    )
    print(f"  ESR overall            {v.esr:.4f}")
    print(f"  ESR validation copy    {v.esr_validation:.4f}")
    print(
        f"  level, model − gear    {v.level_difference_db:+.3f} dB "
        "(≈ 0 means output_level_dbu holds for the model)"
    )


if __name__ == "__main__":
    main()
