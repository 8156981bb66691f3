"""A parametric model file without training: the station's tiny conditioned layout, random weights.

The config is the one `nam_ext.model_config("tiny", ...)` exports (neural-amp-modeler
0.13's WaveNet form with `in_channels`), written out so the tests that use it need no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from station.models import wavenet

CONTROLS = {
    "boost": {"type": "switch", "channel": 1, "minval": 0.0, "maxval": 1.0,
              "default_value": 0.0, "positions": ["off", "on"]},
    "drive": {"type": "continuous", "channel": 2, "minval": 0.0, "maxval": 10.0,
              "default_value": 5.0},
}  # fmt: skip


def tiny_layer(width: int, dilations: list[int], channels: int = 4) -> dict[str, Any]:
    """One layer array in the current form, with `width` inputs and conditions."""
    n = len(dilations)
    return {
        "input_size": width, "condition_size": width, "channels": channels,
        "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
        "kernel_sizes": [3] * n, "dilations": dilations,
        "activation": [{"type": "LeakyReLU", "negative_slope": 0.01}] * n,
        "bottleneck": channels, "head1x1": {"active": False, "out_channels": 1, "groups": 1},
        "layer1x1": {"active": True, "groups": 1}, "groups_input": 1, "groups_input_mixin": 1,
        "gating_mode": ["none"] * n, "secondary_activation": [None] * n, "slimmable": None,
    }  # fmt: skip


def parametric_model(seed: int = 0, **metadata: Any) -> dict[str, Any]:
    """A parsed parametric .nam over boost (off/on) and drive (0…10), random weights."""
    width = 1 + len(CONTROLS)
    config = {
        "layers": [tiny_layer(width, [1, 2, 4, 8, 16, 32, 64])],
        "head": None,
        "head_scale": 0.02,
        "in_channels": width,
        "parametric": CONTROLS,
        "parametric_encoding": "input channel 0 is the audio; ...",
    }
    arrays = wavenet.layout(config)
    count = wavenet.weight_count(arrays)
    weights = np.random.default_rng(seed).normal(0, 0.4, count)
    weights[-1] = config["head_scale"]
    return {
        "version": "0.7.0",
        "architecture": "WaveNet",
        "config": config,
        "weights": [float(w) for w in weights],
        "sample_rate": 48000,
        "metadata": {"name": "Knob box (parametric: boost, drive)", "loudness": -20.0, **metadata},
    }


def write_parametric(path: Path, seed: int = 0, **metadata: Any) -> Path:
    """`parametric_model` written to `path`."""
    path.write_text(json.dumps(parametric_model(seed, **metadata)))
    return path
