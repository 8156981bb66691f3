"""Exact snapshots of a parametric model: its knobs folded into biases, one input left.

In the station's conditioned WaveNet the controls are constant input channels, and
every place they enter is linear before any activation: the first array's input
rechannel and each layer's input mixer. Held at fixed values they add a constant per
channel, so a one-input WaveNet with adjusted convolution biases computes the same
function, first samples included:

* array 0's rechannel keeps its audio column; its control columns give `c = W_r[:, 1:]·k`,
  a constant that rides the array's residual stream unchanged;
* each layer's convolution bias becomes `b + (Σ_taps W_conv)·c + W_mix[:, 1:]·k` and its
  input mixer keeps its audio column;
* array i > 0 takes the previous array's residual stream, so its constant is `W_r(i)·c`;
* heads and head rechannels are unchanged.

Numpy only (no torch): a snapshot needs no trainer.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import StationError
from .. import wavenet
from .session import ParamSpec

# Keys only the parametric file needs: a snapshot has one input and no controls.
_PARAMETRIC_KEYS = ("in_channels", "parametric", "parametric_encoding")


@dataclass(frozen=True)
class Control:
    """One control of a parametric model file: its range or positions, and its default."""

    spec: ParamSpec
    default: float  # as a number (a switch: its position's index)

    @property
    def name(self) -> str:
        """The control's name."""
        return self.spec.name

    def shown(self, number: float) -> float | str:
        """A value as a user writes it: a knob's number, a switch's position."""
        if self.spec.kind == "switch":
            return self.spec.positions[int(number)]
        return int(number) if float(number).is_integer() else number


def parametric(data: dict[str, Any]) -> bool:
    """True for a knob-conditioned model file (it carries `config.parametric`)."""
    config = data.get("config")
    return isinstance(config, dict) and isinstance(config.get("parametric"), dict)


def controls(data: dict[str, Any]) -> list[Control]:
    """The controls of a parametric model file, in channel (sorted name) order."""
    if not parametric(data):
        raise StationError("this model is not conditioned on knobs")
    out = []
    for name, spec in sorted(data["config"]["parametric"].items()):
        try:
            if spec.get("type") in ("switch", "boolean"):
                positions = tuple(str(p) for p in spec.get("positions") or ("off", "on"))
                ps = ParamSpec(name, "switch", 0.0, float(len(positions) - 1), positions)
            else:
                ps = ParamSpec(name, "knob", float(spec["minval"]), float(spec["maxval"]))
            default = float(spec.get("default_value", ps.number(ps.default)))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise StationError(f"the model's control {name!r} is not described in full") from None
        out.append(Control(ps, default))
    return out


def host_inputs(data: dict[str, Any]) -> list[str]:
    """What a host must feed a parametric file, channel by channel (channel 0: the audio)."""
    out = ["0: the audio"]
    for i, c in enumerate(controls(data)):
        spec = c.spec
        if spec.kind == "switch":
            coding = ", ".join(f"{p}={spec.encode(p):g}" for p in spec.positions)
            out.append(f"{i + 1}: {c.name}, a switch ({coding})")
        else:
            out.append(
                f"{i + 1}: {c.name}, a knob {spec.minval:g}…{spec.maxval:g} as "
                f"(value − {spec.minval:g}) / {spec.maxval - spec.minval:g}"
            )
    return out


def parse_values(items: list[str], known: list[Control]) -> tuple[dict[str, float], list[str]]:
    """`name=value` items as numbers by control, every control given (missing ones at their
    default); also the names that took their default. StationError for a bad item."""
    by_name = {c.name: c for c in known}
    given: dict[str, float] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise StationError(f"{item!r} is not name=value", f"for example {_example(known)}")
        if name not in by_name:
            raise StationError(
                f"the model has no control {name!r}",
                f"its controls are {', '.join(by_name)}",
            )
        if name in given:
            raise StationError(f"{name} is given twice")
        given[name] = _number(by_name[name], value)
    defaulted = [c.name for c in known if c.name not in given]
    for c in known:
        given.setdefault(c.name, c.default)
    return given, defaulted


def _number(control: Control, value: str) -> float:
    spec = control.spec
    if spec.kind == "switch":
        return spec.number(value)
    try:
        number = float(value)
    except ValueError:
        raise StationError(f"{control.name}={value!r} is not a number") from None
    return spec.number(number)


def _example(known: list[Control]) -> str:
    return " ".join(f"{c.name}={c.shown(c.default)}" for c in known)


def label(known: list[Control], values: dict[str, float]) -> str:
    """`boost=on drive=6 tone=4`: a setting in words, in channel order."""
    return " ".join(f"{c.name}={_fmt(c.shown(values[c.name]))}" for c in known)


def file_stem(known: list[Control], values: dict[str, float]) -> str:
    """A file name for a setting: `boost-on_drive-6_tone-4`."""
    raw = "_".join(f"{c.name}-{_fmt(c.shown(values[c.name]))}" for c in known)
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)


def _fmt(v: float | str) -> str:
    return v if isinstance(v, str) else f"{v:g}"


def encoded(known: list[Control], values: dict[str, float]) -> list[float]:
    """The controls as the model's input channels 1…K see them (0…1, channel order)."""
    return [c.spec.encode(values[c.name]) for c in known]


def fold(data: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """A one-input WaveNet file equal to the parametric model `data` at `values` (numbers
    by control name). Metadata and other keys are copied; the caller names the setting."""
    known = controls(data)
    k = np.array(encoded(known, values), dtype=np.float64)
    config = data["config"]
    arrays = wavenet.layout(config)
    width = 1 + len(known)
    if arrays[0].input_size != width or any(a.condition_size != width for a in arrays):
        raise StationError(
            f"the model's inputs do not match its {len(known)} controls",
            "it was not written by the station's parametric trainer",
        )
    parts, head_scale = wavenet.split(arrays, data["weights"])
    c = np.zeros(0)
    for i, (array, part) in enumerate(zip(arrays, parts, strict=True)):
        if i == 0:
            c = part["rechannel"][:, 1:] @ k
            part["rechannel"] = part["rechannel"][:, :1]
        else:
            c = part["rechannel"] @ c
        for j in range(len(array.layers)):
            mixer = part[f"mixer{j}"]
            part[f"conv{j}_bias"] = (
                part[f"conv{j}_bias"] + part[f"conv{j}"].sum(axis=2) @ c + mixer[:, 1:] @ k
            )
            part[f"mixer{j}"] = mixer[:, :1]
    out = copy.deepcopy({key: v for key, v in data.items() if key != "weights"})
    out["architecture"] = "WaveNet"
    new_config = {key: v for key, v in out["config"].items() if key not in _PARAMETRIC_KEYS}
    for n, layer in enumerate(new_config["layers"]):
        layer["condition_size"] = 1
        if n == 0:
            layer["input_size"] = 1
    out["config"] = new_config
    folded = wavenet.layout(new_config)
    out["weights"] = wavenet.join(folded, parts, head_scale)
    if not all(math.isfinite(w) for w in out["weights"]):
        raise StationError("the folded model has weights that are not finite numbers")
    return out
