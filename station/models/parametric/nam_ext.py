"""The torch side (the `train` extra): NAM's parametric dataset and a knob-conditioned WaveNet.

NAM 0.13 ships no parametric code, only registries. `register()` adds:

* dataset type "parametric": one capture of the sweep (NAM's old layout entry,
  `{"y_path": ..., "params": {name: encoded value}}` merged with `common`),
  serving items `(params, x, y)`; NAM's Lightning module calls the net with
  all but the target, so the net sees `net(params, x, pad_start=False)`;
* net "ConditionedWaveNet": a stock NAM WaveNet whose first layer array takes
  the audio plus one channel per control (`input_size` = `condition_size` =
  1 + controls), the controls held constant over the clip.

Exports are NAM WaveNets ("architecture": "WaveNet") with `"in_channels": 1 + controls`,
which NAM's C++ core runs with the controls as constant extra channels, and the controls
under `config.parametric` (see `session.ENCODING`). Files of the station's first exports,
named "ConditionedWaveNet", still load here. Never imported by the core.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import numpy as np
import torch
from nam import data as nam_data
from nam.models import factory, init_from_nam
from nam.models.wavenet import WaveNet

from ...errors import StationError
from .session import ENCODING

DATASET_TYPE = "parametric"
NET_NAME = "ConditionedWaveNet"
# WaveNet channels per size, as the single-capture path; "tiny" is a short stack for
# quick trials, tests and benchmarks (receptive field 256 samples); "compact" is the
# parametric default: one array of ten kernel-3 Tanh layers, 4 channels (receptive field
# 2047 samples), the most accurate layout benchmarks/parametric_accuracy.py found within
# a fifth of NAM's standard WaveNet's CPU (0.12x in NAM's core).
SIZES = {
    "standard": 16,
    "lite": 12,
    "feather": 8,
    "nano": 4,
    "tiny": 4,
    "compact": 4,
    "classic": 16,
}
_DILATIONS_2K = [2**i for i in range(10)]  # receptive field 2047 samples per array
# The compact size's schedule: learning rate 0.01 decaying by a constant factor per
# optimiser step (x0.55 over 1,500 steps, x0.09 over 6,000), so a plan of more settings
# (longer epochs) decays on the same schedule as a small one.
COMPACT_TRAINING: dict[str, dict[str, Any]] = {
    "optimizer": {"lr": 0.01},
    "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.9996}, "interval": "step"},
}
# NAM's classic standard WaveNet (the trainer's layout before 0.8): two arrays of ten
# kernel-3 Tanh layers, 16 then 8 channels. Its snapshots have a classic form, which the
# plugin's newest tagged release (v0.7.13) loads.
_registered: list[bool] = []


class ParametricDataset(nam_data.Dataset):
    """One capture of a sweep: NAM's (x, y) slices, each served with the setting's controls."""

    def __init__(self, *args: Any, params: dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sorted names: the channel order of NAM's old parametric layout.
        self._params = torch.tensor([float(params[k]) for k in sorted(params)])

    @property
    def params(self) -> torch.Tensor:
        """The encoded controls, in channel order."""
        return self._params

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = super().__getitem__(idx)
        return self._params, x, y


class ConditionedWaveNet(WaveNet):
    """NAM's WaveNet fed [audio, control 1, …, control K] as its input channels."""

    def __init__(
        self,
        wavenet: Any,
        sample_rate: float | None = None,
        parametric: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wavenet, sample_rate=sample_rate, **kwargs)
        if not parametric:
            raise StationError("a conditioned WaveNet needs its controls ('parametric')")
        self._parametric = copy.deepcopy(parametric)
        self._defaults = torch.tensor(
            [_encode_default(parametric[k]) for k in sorted(parametric)], dtype=torch.float32
        )

    @classmethod
    def parse_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Split the controls off; the rest is a stock WaveNet config."""
        config = dict(config)
        parametric = config.pop("parametric", None)
        out = super().parse_config(config)
        out["parametric"] = parametric
        return out

    @property
    def controls(self) -> list[str]:
        """Control names in channel order."""
        return sorted(self._parametric)

    def forward(
        self, params: torch.Tensor, x: torch.Tensor, pad_start: bool | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Output for audio `x` ((B, L) or (L,)) at encoded controls `params` ((B, K) or (K,))."""
        pad_start = self.pad_start_default if pad_start is None else pad_start
        scalar = x.ndim == 1
        if scalar:
            x = x[None]
        params = params.to(device=x.device, dtype=x.dtype)
        if params.ndim == 1:
            params = params[None].expand(len(x), -1)
        if params.shape != (len(x), len(self._defaults)):
            raise ValueError(
                f"expected controls of shape ({len(x)}, {len(self._defaults)}), "
                f"got {tuple(params.shape)}"
            )
        if pad_start:
            x = torch.cat((torch.zeros((len(x), self.receptive_field - 1), device=x.device), x), 1)
        if x.shape[1] < self.receptive_field:
            raise ValueError(f"input of {x.shape[1]} samples is shorter than the receptive field")
        c = params[:, :, None].expand(-1, -1, x.shape[1])
        y = self._net(torch.cat((x[:, None, :], c), dim=1))[:, 0, :]
        return y[0] if scalar else y

    def _at_nominal_settings(self, x: torch.Tensor) -> torch.Tensor:
        # NAM's loudness and gain metadata: measured with every control at its default.
        return self(self._defaults, x)

    def _export_input_output_args(self) -> tuple[Any, ...]:
        return (self._defaults,)

    def _get_export_architecture(self) -> str:
        # NAM's cores load a WaveNet with `in_channels` inputs; no loader knows our class name.
        return "WaveNet"

    def _export_config(self) -> dict[str, Any]:
        config = super()._export_config()
        config["in_channels"] = 1 + len(self._parametric)
        config["parametric"] = copy.deepcopy(self._parametric)
        config["parametric_encoding"] = ENCODING
        return config


def _encode_default(spec: dict[str, Any]) -> float:
    span = float(spec["maxval"]) - float(spec["minval"])
    return (float(spec["default_value"]) - float(spec["minval"])) / span if span > 0 else 0.0


def register() -> None:
    """Register the dataset type and the net with NAM (once per process)."""
    if _registered:
        return
    try:
        nam_data.register_dataset_initializer(DATASET_TYPE, ParametricDataset.init_from_config)
        factory.register(NET_NAME, ConditionedWaveNet.init_from_config)
    except KeyError as exc:
        raise StationError(
            f"another extension already registered NAM's {exc}",
            "train parametric models in a process without that extension",
        ) from None
    _registered.append(True)


def model_config(
    size: str, parametric: dict[str, Any], overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """NAM's model.json for a conditioned WaveNet over `parametric`'s controls.

    `overrides` (a recipe's) replace or extend the size's own: "layers" (NAM layer-array
    configs; the first array's `input_size` and every array's `condition_size` are set to
    the audio plus the controls), "head_scale", and NAM's "loss", "optimizer" and
    "lr_scheduler" blocks, merged key by key.
    """
    template = json.loads(
        resources.files("nam.train._resources").joinpath("config_model_packed.json").read_text()
    )
    layer = dict(template["net"]["config"]["submodels"][0]["config"]["layers_configs"][0])
    width = 1 + len(parametric)
    layer.update(input_size=width, condition_size=width, channels=SIZES[size])
    if size == "tiny":
        layer.update(
            kernel_sizes=[3] * 7,
            dilations=[1, 2, 4, 8, 16, 32, 64],
            head={"out_channels": 1, "kernel_size": 1, "bias": True},
        )
    layers = [layer]
    if size == "classic":
        layers = [tanh_array(width, 16, width, head=8, bias=False), tanh_array(16, 8, width)]
    elif size == "compact":
        layers = [tanh_array(width, SIZES[size], width)]
    net = {
        "name": NET_NAME,
        "config": {"layers_configs": layers, "head_scale": 0.02, "parametric": parametric},
    }
    out = {"net": net, **{k: v for k, v in template.items() if k != "net"}}
    # Keep the checkpoint with the least squared error over all held-out settings: the
    # mean of per-setting ESRs is ruled by the quietest setting and prefers a silent net.
    out["loss"] = {**out["loss"], "val_loss": "mse"}
    if size in ("tiny", "compact"):
        # A few hundred weights learn fast at a higher rate; the multi-resolution STFT
        # term costs more than the net itself at this size.
        out["optimizer"] = {**out["optimizer"], "lr": 0.004}
        out["loss"] = {"val_loss": "mse"}
    if size == "compact":
        out = _overridden(out, COMPACT_TRAINING, width)  # its own rate and schedule
    return _overridden(out, overrides or {}, width)


def _overridden(config: dict[str, Any], overrides: dict[str, Any], width: int) -> dict[str, Any]:
    config = copy.deepcopy(config)
    net = config["net"]["config"]
    if "layers" in overrides:
        layers = [dict(layer) for layer in overrides["layers"]]
        for i, layer in enumerate(layers):
            layer["condition_size"] = width
            # The first array reads the audio and controls; each later one its predecessor.
            layer["input_size"] = width if i == 0 else layers[i - 1]["channels"]
        net["layers_configs"] = layers
    if "head_scale" in overrides:
        net["head_scale"] = overrides["head_scale"]
    for key in ("loss", "optimizer", "lr_scheduler"):
        if key in overrides:
            config[key] = {**config.get(key, {}), **overrides[key]}
    unknown = set(overrides) - {"layers", "head_scale", "loss", "optimizer", "lr_scheduler"}
    if unknown:
        raise StationError(f"a recipe cannot override {', '.join(sorted(unknown))}")
    return config


def tanh_array(
    inputs: int,
    channels: int,
    width: int,
    head: int = 1,
    bias: bool = True,
    dilations: list[int] | None = None,
) -> dict[str, Any]:
    """One NAM layer array of kernel-3 Tanh layers (the classic WaveNet's kind) reading
    `inputs` channels, conditioned on `width` (the audio and the controls), dilations
    1…512 unless given."""
    dilations = dilations or _DILATIONS_2K
    return {
        "input_size": inputs,
        "condition_size": width,
        "channels": channels,
        "kernel_sizes": [3] * len(dilations),
        "dilations": dilations,
        "activation": "Tanh",
        "gated": False,
        "head": {"out_channels": head, "kernel_size": 1, "bias": bias},
    }


def load_model(data: dict[str, Any]) -> ConditionedWaveNet:
    """A conditioned WaveNet from a parsed .nam this module exported."""
    config = data.get("config") or {}
    if "parametric" not in config:
        raise StationError("this model is not conditioned on knobs")
    stock_config = {k: v for k, v in config.items() if k != "in_channels"}
    stock = init_from_nam({**data, "architecture": "WaveNet", "config": stock_config})
    net = ConditionedWaveNet(
        stock._net, sample_rate=data.get("sample_rate"), parametric=config["parametric"]
    )
    net.eval()
    return net


def run(data: dict[str, Any], x: np.ndarray, encoded: dict[str, float]) -> np.ndarray:
    """The model's output for input `x` at the encoded controls (by name), float64."""
    net = load_model(data)
    missing = [k for k in net.controls if k not in encoded]
    if missing:
        raise StationError(f"no value for {', '.join(missing)}")
    params = torch.tensor([encoded[k] for k in net.controls], dtype=torch.float32)
    with torch.no_grad():
        y = net(params, torch.from_numpy(np.asarray(x, dtype=np.float32)), pad_start=True)
    return y.cpu().numpy().astype(np.float64)
