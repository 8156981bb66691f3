"""NAM WaveNet files as arrays: the layout from a config, weights by role, and the classic form.

A `.nam` WaveNet stores its weights as one flat list in a fixed order (NAM's export,
which the C++ core reads back in the same order): per layer array the input
rechannel (1×1, no bias), per layer the dilated convolution (weights out×in×k, then
bias), the input mixer (1×1 of the condition, no bias), the layer 1×1 (with bias) and
the head 1×1 when active, then the array's head rechannel; last of all `head_scale`.
`split` cuts the list into named arrays and `join` puts them back, so code that
changes a model (folding knobs into biases, see `station.models.parametric.fold`)
works on matrices and never on offsets.

Two config forms exist. The current one (neural-amp-modeler 0.13, file version 0.7.0)
has per-layer `kernel_sizes`, activation objects, a nested `head` and optional
bottlenecks, FiLM and head 1×1s. The classic one (file versions 0.5.x) has one
`kernel_size`, an activation name, `gated`, `head_size` and `head_bias`: it is the
only one the plugin's newest tagged release (core 0.2.0) parses. `classic` rewrites a
model in the classic form where its layout allows it, and says why not where it does not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StationError

CLASSIC_VERSION = "0.5.4"
CURRENT_VERSION = "0.7.0"
# Core 0.2.0's activations, by the names its config takes (LeakyReLU's slope fixed at 0.01).
CLASSIC_ACTIVATIONS = ("Tanh", "Hardtanh", "Fasttanh", "ReLU", "LeakyReLU", "Sigmoid")
_FILMS = (
    "conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
    "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film",
)  # fmt: skip


class LayoutError(StationError):
    """The WaveNet's config is one this module does not take apart (the reason says which part)."""


@dataclass(frozen=True)
class Layer:
    """One layer of a layer array: its sizes and what it carries."""

    kernel_size: int
    dilation: int
    activation: dict[str, Any]
    gated: bool  # conv and mixer have 2 × bottleneck outputs (gated or blended)
    gating_mode: str


@dataclass(frozen=True)
class LayerArray:
    """One layer array of a WaveNet."""

    input_size: int
    condition_size: int
    channels: int
    bottleneck: int
    layers: tuple[Layer, ...]
    layer1x1: bool
    head1x1: int | None  # out channels of the head 1×1 when active
    head_size: int
    head_kernel_size: int
    head_bias: bool

    def conv_outputs(self, layer: Layer) -> int:
        """Rows of `layer`'s convolution and input mixer."""
        return 2 * self.bottleneck if layer.gated else self.bottleneck


def _activation(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return dict(value)
    raise LayoutError(f"an activation of {value!r} is not one NAM writes")


def layout(config: dict[str, Any]) -> list[LayerArray]:
    """The layer arrays a WaveNet config describes (either form); raises LayoutError."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise LayoutError("the config has no list of layer arrays ('layers')")
    if config.get("head") is not None:
        raise LayoutError("a WaveNet with a post-stack head is not supported here")
    if config.get("condition_dsp") is not None:
        raise LayoutError("a WaveNet with a condition DSP is not supported here")
    arrays = []
    for i, lc in enumerate(config["layers"]):
        try:
            arrays.append(_layer_array(lc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LayoutError(f"layer array {i} cannot be read ({exc})") from None
    return arrays


def _layer_array(lc: dict[str, Any]) -> LayerArray:
    for key in ("groups_input", "groups_input_mixin"):
        if lc.get(key, 1) != 1:
            raise LayoutError(f"grouped convolutions ({key} {lc[key]}) are not supported here")
    if (lc.get("layer1x1") or {}).get("groups", 1) != 1:
        raise LayoutError("a grouped layer 1×1 is not supported here")
    if lc.get("slimmable"):
        raise LayoutError("a slimmable WaveNet is not supported here")
    active_films = [f for f in _FILMS if (lc.get(f) or {}).get("active")]
    if active_films:
        raise LayoutError(f"FiLM ({', '.join(active_films)}) is not supported here")
    dilations = [int(d) for d in lc["dilations"]]
    n = len(dilations)
    if "kernel_sizes" in lc:
        kernels = [int(k) for k in lc["kernel_sizes"]]
    else:
        kernels = [int(lc["kernel_size"])] * n
    raw = lc["activation"]
    activations = [_activation(a) for a in raw] if isinstance(raw, list) else [_activation(raw)] * n
    if "gating_mode" in lc:
        modes = lc["gating_mode"]
        modes = list(modes) if isinstance(modes, list) else [modes] * n
    else:
        modes = ["gated" if lc.get("gated") else "none"] * n
    if not len(kernels) == len(activations) == len(modes) == n:
        raise ValueError("per-layer lists of different lengths")
    if isinstance(lc.get("head"), dict):
        head = lc["head"]
        head_size, head_kernel, head_bias = head["out_channels"], head["kernel_size"], head["bias"]
    else:
        head_size, head_kernel, head_bias = lc["head_size"], 1, lc["head_bias"]
    head1x1 = lc.get("head1x1") or {}
    if head1x1.get("active") and head1x1.get("groups", 1) != 1:
        raise LayoutError("a grouped head 1×1 is not supported here")
    channels = int(lc["channels"])
    return LayerArray(
        input_size=int(lc["input_size"]),
        condition_size=int(lc["condition_size"]),
        channels=channels,
        bottleneck=int(lc.get("bottleneck", channels)),
        layers=tuple(
            Layer(k, d, a, m != "none", m)
            for k, d, a, m in zip(kernels, dilations, activations, modes, strict=True)
        ),
        layer1x1=bool((lc.get("layer1x1") or {}).get("active", True)),
        head1x1=int(head1x1["out_channels"]) if head1x1.get("active") else None,
        head_size=int(head_size),
        head_kernel_size=int(head_kernel),
        head_bias=bool(head_bias),
    )


def receptive_field(arrays: list[LayerArray]) -> int:
    """Samples of input each output sample depends on."""
    total = 1
    for a in arrays:
        total += sum((layer.kernel_size - 1) * layer.dilation for layer in a.layers)
        total += a.head_kernel_size - 1
    return total


def _shapes(arrays: list[LayerArray]) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Per array, its weight tensors in file order: (role, shape)."""
    out = []
    for a in arrays:
        rows: list[tuple[str, tuple[int, ...]]] = [("rechannel", (a.channels, a.input_size))]
        for i, layer in enumerate(a.layers):
            mid = a.conv_outputs(layer)
            rows += [
                (f"conv{i}", (mid, a.channels, layer.kernel_size)),
                (f"conv{i}_bias", (mid,)),
                (f"mixer{i}", (mid, a.condition_size)),
            ]
            if a.layer1x1:
                rows += [(f"1x1_{i}", (a.channels, a.bottleneck)), (f"1x1_{i}_bias", (a.channels,))]
            if a.head1x1 is not None:
                rows += [
                    (f"head1x1_{i}", (a.head1x1, a.bottleneck)),
                    (f"head1x1_{i}_bias", (a.head1x1,)),
                ]
        head_in = a.head1x1 if a.head1x1 is not None else a.bottleneck
        rows.append(("head_rechannel", (a.head_size, head_in, a.head_kernel_size)))
        if a.head_bias:
            rows.append(("head_rechannel_bias", (a.head_size,)))
        out.append(rows)
    return out


# Samples of input one output sample may depend on: NAM's largest WaveNets use a few thousand;
# a config past this (a dilation of a billion, say) would only fill the memory when built.
MAX_RECEPTIVE_FIELD = 1 << 17


def check_weights(data: dict[str, Any]) -> None:
    """Refuse (LayoutError) a WaveNet whose weights are not as many as its config needs, or
    whose layers no model has (a size below 1, a receptive field past MAX_RECEPTIVE_FIELD).

    Other architectures, and WaveNet layouts the station does not read, are left to NAM's
    loader, which says what it finds wrong.
    """
    if data.get("architecture") != "WaveNet":
        return
    try:
        arrays = layout(data["config"])
    except LayoutError:
        return
    sizes = [
        v
        for a in arrays
        for v in (a.channels, a.bottleneck, a.input_size, a.head_size, a.head_kernel_size)
    ] + [v for a in arrays for layer in a.layers for v in (layer.kernel_size, layer.dilation)]
    if not arrays or min(sizes) < 1 or receptive_field(arrays) > MAX_RECEPTIVE_FIELD:
        raise LayoutError(
            "the config's layers are not a model's (a size below 1, or a receptive field of "
            f"{receptive_field(arrays) if arrays else 0} samples)"
        )
    expected = weight_count(arrays)
    if len(data["weights"]) != expected:
        raise LayoutError(
            f"the file has {len(data['weights'])} weights where its config needs {expected}"
        )


def weight_count(arrays: list[LayerArray]) -> int:
    """How many weights a file of this layout holds (head_scale included)."""
    return sum(int(np.prod(shape)) for rows in _shapes(arrays) for _, shape in rows) + 1


def split(
    arrays: list[LayerArray], weights: list[float]
) -> tuple[list[dict[str, np.ndarray]], float]:
    """The flat weight list as per-array dicts of role → array (float64), and head_scale."""
    flat = np.asarray(weights, dtype=np.float64)
    shapes = _shapes(arrays)
    expected = weight_count(arrays)
    if flat.ndim != 1 or len(flat) != expected:
        raise LayoutError(f"the file has {flat.size} weights where its config needs {expected}")
    parts, i = [], 0
    for rows in shapes:
        part = {}
        for role, shape in rows:
            n = int(np.prod(shape))
            part[role] = flat[i : i + n].reshape(shape).copy()
            i += n
        parts.append(part)
    return parts, float(flat[i])


def join(
    arrays: list[LayerArray], parts: list[dict[str, np.ndarray]], head_scale: float
) -> list[float]:
    """The flat weight list of `parts` in file order (the inverse of `split`)."""
    chunks = []
    for rows, part in zip(_shapes(arrays), parts, strict=True):
        for role, shape in rows:
            if part[role].shape != shape:
                raise LayoutError(f"{role} has shape {part[role].shape}, the config needs {shape}")
            chunks.append(part[role].ravel())
    chunks.append(np.array([head_scale]))
    return [float(v) for v in np.concatenate(chunks)]


def classic_reason(data: dict[str, Any]) -> str | None:
    """Why `data` (a parsed .nam) cannot be written in the classic form, or None if it can."""
    if data.get("architecture") != "WaveNet":
        return f"it is a {data.get('architecture')!r}, not a WaveNet"
    config = data.get("config") or {}
    if int(config.get("in_channels", 1)) != 1:
        return "it takes more than one input channel"
    return classic_layout_reason(config)


def classic_layout_reason(config: dict[str, Any]) -> str | None:
    """Why a WaveNet config's layers have no classic form (inputs aside), or None."""
    try:
        arrays = layout(config)
    except LayoutError as exc:
        return str(exc)
    for i, a in enumerate(arrays):
        where = f"layer array {i}"
        if len({layer.kernel_size for layer in a.layers}) != 1:
            return f"{where} mixes kernel sizes (the classic layout has one per array)"
        if a.head_kernel_size != 1:
            return f"{where}'s head has a kernel of {a.head_kernel_size} (classic: 1)"
        if a.bottleneck != a.channels:
            return f"{where} has a bottleneck (the classic layout has none)"
        if not a.layer1x1 or a.head1x1 is not None:
            return f"{where}'s 1×1 layers differ from the classic layout"
        if len({layer.gating_mode for layer in a.layers}) != 1 or a.layers[0].gating_mode not in (
            "none",
            "gated",
        ):
            return f"{where} mixes gating modes or blends (classic: gated or not, per array)"
        names = {_classic_activation(layer.activation) for layer in a.layers}
        if None in names or len(names) != 1:
            kinds = ", ".join(sorted({str(layer.activation) for layer in a.layers}))
            return f"{where} uses activations the classic core lacks or mixes them ({kinds})"
        if a.layers[0].gated and names != {"Tanh"}:
            return f"{where} gates a {names.pop()} (the classic core gates Tanh only)"
    return None


def _classic_activation(activation: dict[str, Any]) -> str | None:
    name = activation.get("type")
    extra = {k: v for k, v in activation.items() if k != "type"}
    if name == "LeakyReLU" and extra in ({}, {"negative_slope": 0.01}):
        return name
    return name if name in CLASSIC_ACTIVATIONS and not extra else None


def classic(data: dict[str, Any]) -> dict[str, Any]:
    """`data` rewritten in the classic WaveNet form (version 0.5.4): the same weights,
    in the same order; raises LayoutError with the reason where the layout does not allow it."""
    reason = classic_reason(data)
    if reason:
        raise LayoutError(f"the classic WaveNet layout cannot hold this model: {reason}")
    config = data["config"]
    layers = []
    for a in layout(config):
        layers.append(
            {
                "input_size": a.input_size,
                "condition_size": a.condition_size,
                "head_size": a.head_size,
                "channels": a.channels,
                "kernel_size": a.layers[0].kernel_size,
                "dilations": [layer.dilation for layer in a.layers],
                "activation": _classic_activation(a.layers[0].activation),
                "gated": a.layers[0].gated,
                "head_bias": a.head_bias,
            }
        )
    out = copy.deepcopy(data)
    kept = {
        k: v for k, v in config.items() if k not in ("layers", "head", "head_scale", "in_channels")
    }
    out["config"] = {"layers": layers, "head": None, "head_scale": config["head_scale"], **kept}
    out["version"] = CLASSIC_VERSION
    return out


def with_nested_heads(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with classic `head_size`/`head_bias` written as the nested `head` object that
    neural-amp-modeler 0.13's loader requires (the same net); other files as they are."""
    config = data.get("config")
    if data.get("architecture") != "WaveNet" or not isinstance(config, dict):
        return data
    layers = config.get("layers")
    if not isinstance(layers, list) or not any(
        isinstance(lc, dict) and "head_size" in lc and "head" not in lc for lc in layers
    ):
        return data
    out = copy.deepcopy(data)
    for lc in out["config"]["layers"]:
        if "head_size" in lc and "head" not in lc:
            lc["head"] = {
                "out_channels": lc.pop("head_size"),
                "kernel_size": 1,
                "bias": lc.pop("head_bias", True),
            }
    return out
