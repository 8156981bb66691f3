"""The training recipes benchmarks/parametric_accuracy.py compares; their CPU cost in NAM's core.

A recipe is the part of station.models.parametric.training.Recipe that decides accuracy:
the size, the slice length and batch, and NAM model-config overrides (layer arrays,
loss, optimizer, learning-rate schedule). `RECIPES` names candidates; "station" is
whatever `station train --parametric` does by default.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy_gear import Gear
from station.reamp.files import RATE


def _array(channels: int, dilations: list[int], head: int = 1, bias: bool = True) -> dict:
    """One NAM layer array of kernel-3 Tanh layers (the classic WaveNet's kind)."""
    return {
        "channels": channels,
        "kernel_sizes": [3] * len(dilations),
        "dilations": dilations,
        "activation": "Tanh",
        "head": {"out_channels": head, "kernel_size": 1, "bias": bias},
    }


_D10 = [2**i for i in range(10)]  # receptive field 2047 samples per array
# Learning rate 0.01, decaying by a constant factor per optimiser step (×0.55 over 1,500
# steps, ×0.09 over 6,000): every plan then follows the same schedule in the same steps,
# where NAM's per-epoch decay would decay slower for plans of more settings (longer epochs).
_FAST = {
    "optimizer": {"lr": 0.01},
    "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.9996}, "interval": "step"},
}
RECIPES: dict[str, dict[str, Any]] = {
    "station": {},  # the station's default Recipe()
    "tiny": {"architecture": "tiny"},  # receptive field 255 samples, 0.05× NAM's standard
    "nano": {"architecture": "nano"},  # NAM's current layout at 4 channels, about 0.2×
    "c4-rf2k": {"architecture": "tiny", "overrides": {"layers": [_array(4, _D10)], **_FAST}},
    "c5-rf2k": {"architecture": "tiny", "overrides": {"layers": [_array(5, _D10)], **_FAST}},
}


def recipe_spec(name: str, ny: int | None = None, batch: int | None = None) -> dict[str, Any]:
    """A named recipe, or one given as JSON (`{"architecture": ..., "overrides": ...}`), with
    the station's defaults filled in; `ny` and `batch`, when given, replace the recipe's."""
    import json

    from station.models.parametric.training import Recipe

    spec = RECIPES[name] if name in RECIPES else json.loads(name)
    default = Recipe()
    return {
        "architecture": spec.get("architecture", default.architecture),
        "ny": ny or spec.get("ny", default.ny),
        "batch": batch or spec.get("batch", default.batch_size),
        "overrides": spec.get("overrides"),
    }


def controls_of(gear: Gear) -> dict[str, Any]:
    """The gear's controls as an exported model describes them (sorted names, channels 1…)."""
    from station.models.parametric.session import ParamSpec

    specs = [ParamSpec(k.name, "knob", k.min, k.max) for k in gear.knobs] + [
        ParamSpec(s.name, "switch", 0.0, len(s.positions) - 1.0, s.positions)
        for s in gear.switches
    ]
    specs.sort(key=lambda p: p.name)
    return {p.name: p.to_json(i + 1) for i, p in enumerate(specs)}


def cpu_ratio(spec: dict[str, Any], gear: Gear) -> str:
    """The recipe's CPU seconds per audio second in NAM's core against NAM's standard WaveNet,
    measured side by side (benchmarks/core_cpu.py's harness), or why it could not be."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import core_cpu

        from station.models.parametric import nam_ext
        from tests.namcore import core as namcore
    except ImportError as exc:
        return f"n/a ({exc})"
    reason = namcore.missing("main")
    if reason:
        return f"n/a ({reason})"
    controls = controls_of(gear)
    core = namcore.build("main")
    x = 0.3 * np.random.default_rng(0).standard_normal(5 * RATE)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        standard = core_cpu.nam_standard(folder)
        config = nam_ext.model_config(spec["architecture"], controls, spec["overrides"])
        net = nam_ext.ConditionedWaveNet.init_from_config(config["net"]["config"])
        core_cpu._random(net, 2)
        net.export(folder, basename="recipe")
        base = core_cpu.cost(core, standard, x, 5, [])
        ours = core_cpu.cost(core, folder / "recipe.nam", x, 5, [0.5] * len(controls))
    return (
        f"{ours / base:.3f}× NAM's standard WaveNet ({ours:.4f} against {base:.4f} CPU s per "
        f"audio s in core main; receptive field {net.receptive_field} samples)"
    )
