"""CPU cost in NAM's own C++ core: seconds of CPU per second of audio, side by side.

Each model is rendered by core main (built from ../shared/namcore by tests/namcore/core.py,
the plugin's release flags, 64-sample blocks as a plugin host runs) over the same seconds
of noise; the harness times only the core's process() calls. Printed per model: the median
over the runs of CPU seconds per audio second (a share of one core), and its ratio to NAM's
standard WaveNet measured in the same run. Weights are random (the cost does not depend on
their values); the layouts are the ones the station writes.

    python benchmarks/core_cpu.py            # 10 s of audio, 5 runs per model
    python benchmarks/core_cpu.py --quick    # 3 s, 3 runs

Needs the `train` extra (to export NAM's layouts) and g++ with Eigen.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station.models import wavenet
from station.models.parametric import fold, nam_ext
from tests.namcore import core as namcore

RATE = 48000
KNOBS = {
    "drive": {"type": "continuous", "channel": 1, "minval": 0.0, "maxval": 10.0,
              "default_value": 5.0},
    "tone": {"type": "continuous", "channel": 2, "minval": 0.0, "maxval": 10.0,
             "default_value": 5.0},
}  # fmt: skip


def _random(net: Any, seed: int) -> None:
    import torch

    rng = np.random.default_rng(seed)
    for p in net.parameters():
        p.data = torch.from_numpy(rng.normal(0, 0.1, tuple(p.shape)).astype(np.float32))


def nam_standard(folder: Path) -> Path:
    """NAM's standard WaveNet (neural-amp-modeler 0.13's packed template, 16 channels)."""
    from nam.models.wavenet import WaveNet

    template = json.loads(
        resources.files("nam.train._resources").joinpath("config_model_packed.json").read_text()
    )
    layer = dict(template["net"]["config"]["submodels"][0]["config"]["layers_configs"][0])
    layer["channels"] = 16
    net = WaveNet.init_from_config({"layers_configs": [layer], "head_scale": 0.02})
    _random(net, 1)
    net.export(folder, basename="nam-standard")
    return folder / "nam-standard.nam"


def parametric(folder: Path, size: str) -> Path:
    """The station's parametric export of `size` over two knobs."""
    config = nam_ext.model_config(size, KNOBS)["net"]["config"]
    net = nam_ext.ConditionedWaveNet.init_from_config(config)
    _random(net, 2)
    net.export(folder, basename=f"parametric-{size}")
    return folder / f"parametric-{size}.nam"


def snapshot(folder: Path, model: Path) -> Path:
    """The model's snapshot at drive=7 tone=3, in the lowest form its layout allows."""
    data = json.loads(model.read_text())
    snap = fold.fold(data, {"drive": 7.0, "tone": 3.0})
    if wavenet.classic_reason(snap) is None:
        snap = wavenet.classic(snap)
    path = folder / f"{model.stem}-snapshot.nam"
    path.write_text(json.dumps(snap))
    return path


def cost(core: namcore.Core, model: Path, x: np.ndarray, runs: int, consts: list[float]) -> float:
    """Median CPU seconds per second of audio."""
    per = [core.render(model, x, consts).info["cpu_s"] / (len(x) / RATE) for _ in range(runs)]
    return statistics.median(per)


def main() -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds, runs = (3.0, 3) if args.quick else (10.0, 5)
    reason = namcore.missing("main")
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    core = namcore.build("main")
    x = 0.3 * np.random.default_rng(0).standard_normal(int(seconds * RATE))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        standard = nam_standard(folder)
        rows = [("NAM standard WaveNet", standard, [])]
        for size in ("tiny", "compact", "standard"):
            model = parametric(folder, size)
            rows.append((f"parametric {size} (3 inputs)", model, [0.7, 0.3]))
            rows.append((f"snapshot of parametric {size}", snapshot(folder, model), []))
        print(f"core main, {seconds:g} s of audio, {runs} runs, median; 64-sample blocks")
        print(f"{'model':<34} {'CPU s / audio s':>16} {'× standard':>11}")
        base = None
        for name, path, consts in rows:
            c = cost(core, path, x, runs, consts)
            base = base or c
            print(f"{name:<34} {c:>16.4f} {c / base:>11.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
