"""Rig profiles: calibration/rigs/<name>.toml, knob value / switch position → servo pulse.

A knob's printed values map to pulse widths through the points measured in
`station rig calibrate`, interpolated with a monotone cubic (PCHIP) so the
curve never overshoots between marks. A servo is never sent past the pulses
measured at the printed ends.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..drivers.rig_constants import MAX_SPEED_US_PER_S, PULSE_MAX_US, PULSE_MIN_US
from ..errors import KnobRangeError, RigError, StationError
from ..fsutil import atomic_write_text
from ..home import check_name, list_rigs, rigs_dir
from ..phrases import Phrase

SCHEMA_VERSION = 1
_TOP_KEYS = {
    "schema_version",
    "name",
    "port",
    "firmware_version",
    "slew_us_per_s",
    "knobs",
    "switches",
}
# Keys NAM's data and model configs use: a control with one of these names would be
# mistaken for a setting of the trainer where entries are merged ({**common, **entry}).
NAM_CONFIG_KEYS = frozenset(
    {
        "x", "y", "x_path", "y_path", "nx", "ny", "delay", "start", "stop",
        "start_samples", "stop_samples", "start_seconds", "stop_seconds", "y_scale",
        "input_gain", "sample_rate", "require_input_pre_silence", "allow_unequal_lengths",
        "y_preroll", "params", "type", "common", "train", "validation", "joint", "name",
        "config", "net", "layers", "layers_configs", "head", "head_scale", "parametric",
        "condition_dsp", "channel", "minval", "maxval", "default_value", "positions",
        "encoding", "version", "architecture", "weights", "metadata",
    }
)  # fmt: skip

_KNOB_KEYS = {"name", "channel", "min", "max", "points"}
_SWITCH_KEYS = {"name", "channel", "positions"}
_FIX = Phrase("run {rig_calibrate} again, or edit the file")


def _check_pulse(where: str, pulse_us: object) -> int:
    if not isinstance(pulse_us, int) or isinstance(pulse_us, bool):
        raise RigError(f"{where}: pulse {pulse_us!r} is not a whole number of µs", _FIX)
    if not PULSE_MIN_US <= pulse_us <= PULSE_MAX_US:
        raise RigError(
            f"{where}: pulse {pulse_us} µs is outside {PULSE_MIN_US}–{PULSE_MAX_US} µs", _FIX
        )
    return pulse_us


def _check_channel(where: str, channel: object) -> int:
    if not isinstance(channel, int) or isinstance(channel, bool) or not 0 <= channel <= 63:
        raise RigError(f"{where}: channel {channel!r} is not a servo channel (0, 1, 2, ...)", _FIX)
    return channel


def strictly_monotone(pulses: list[int]) -> bool:
    """True when the pulses all rise or all fall (a knob's servo turns one way along it)."""
    pairs = list(itertools.pairwise(pulses))
    return all(b > a for a, b in pairs) or all(b < a for a, b in pairs)


def check_control_name(name: str) -> str:
    """A knob or switch name a sweep can train on; StationError for one it cannot."""
    if not name or not name.strip() or any(ch.isspace() or ch in "=\"'" for ch in name):
        raise StationError(f"{name!r} cannot name a knob or switch", "e.g. drive, tone, boost")
    if name in NAM_CONFIG_KEYS:
        raise StationError(
            f"the control name {name!r} is also one of NAM's config keys: a parametric model "
            "could not be trained on it",
            f"name it after the gear's label another way, e.g. {name}_knob",
        )
    return name


@dataclass
class KnobSpec:
    """A knob: its printed range and measured [value, µs] points (at least both ends)."""

    name: str
    channel: int
    min: float
    max: float
    points: list[tuple[float, int]]

    def __post_init__(self) -> None:
        where = f"knob {self.name!r}"
        _check_channel(where, self.channel)
        self.points = [(float(v), p) for v, p in self.points]
        if not (math.isfinite(self.min) and math.isfinite(self.max) and self.min < self.max):
            raise RigError(f"{where}: the printed range {self.min:g}–{self.max:g} is empty", _FIX)
        if len(self.points) < 2:
            raise RigError(
                f"{where} has {len(self.points)} calibrated point(s); it needs at least both ends",
                _FIX,
            )
        for value, pulse in self.points:
            _check_pulse(f"{where} at {value:g}", pulse)
        values = [v for v, _ in self.points]
        pulses = [p for _, p in self.points]
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise RigError(
                f"{where}: the values {values} are not strictly increasing",
                "list points low to high",
            )
        if not strictly_monotone(pulses):
            raise RigError(
                f"{where}: the pulses {pulses} are not monotone in the value",
                "a mark was typed wrong or the linkage slipped; " + _FIX,
            )
        if values[0] > self.min or values[-1] < self.max:
            raise RigError(
                f"{where}: the points cover {values[0]:g}–{values[-1]:g} but the printed range is "
                f"{self.min:g}–{self.max:g}",
                "calibrate both end marks, or narrow min/max to what was calibrated",
            )

    @cached_property
    def _curve(self) -> Any:
        from scipy.interpolate import PchipInterpolator

        v, p = zip(*self.points, strict=True)
        return PchipInterpolator(v, p, extrapolate=False)

    @property
    def end_pulses_us(self) -> tuple[int, int]:
        """The pulses at the printed min and max (never driven past)."""
        return self.pulse_us(self.min), self.pulse_us(self.max)

    def pulse_us(self, value: float) -> int:
        """The servo pulse (µs) that puts the pointer on `value`; KnobRangeError outside min–max."""
        if not (isinstance(value, int | float) and math.isfinite(value)):
            raise KnobRangeError(f"knob {self.name!r}: {value!r} is not a number")
        if not self.min <= value <= self.max:
            raise KnobRangeError(
                f"knob {self.name!r}: {value:g} is outside its printed range "
                f"{self.min:g}–{self.max:g}",
                f"give {self.name} a value from {self.min:g} to {self.max:g}",
            )
        return round(float(self._curve(float(value))))

    def value_at(self, pulse_us: float) -> float:
        """The printed value the pointer shows at `pulse_us`; KnobRangeError beyond the ends."""
        lo, hi = sorted(self.end_pulses_us)
        if not lo - 0.5 <= pulse_us <= hi + 0.5:
            raise KnobRangeError(
                f"knob {self.name!r}: {pulse_us:g} µs is beyond its calibrated ends {lo}–{hi} µs"
            )
        from scipy.optimize import brentq

        f = self._curve
        target = min(max(float(pulse_us), lo), hi)
        a, b = self.min, self.max
        fa, fb = float(f(a)) - target, float(f(b)) - target
        if fa == 0:
            return a
        if fb == 0 or fa * fb > 0:
            return b if abs(fb) < abs(fa) else a
        return float(brentq(lambda x: float(f(x)) - target, a, b, xtol=1e-9))


@dataclass
class SwitchSpec:
    """A switch: each named position and the pulse that flips the switch there."""

    name: str
    channel: int
    positions: dict[str, int]

    def __post_init__(self) -> None:
        where = f"switch {self.name!r}"
        _check_channel(where, self.channel)
        if len(self.positions) < 2:
            raise RigError(f"{where} needs at least two positions", _FIX)
        for pos, pulse in self.positions.items():
            _check_pulse(f"{where} position {pos!r}", pulse)

    def pulse_us(self, position: str) -> int:
        """The pulse for a named position; KnobRangeError for a position it does not have."""
        if position not in self.positions:
            raise KnobRangeError(
                f"switch {self.name!r} has no position {position!r}",
                f"positions: {', '.join(self.positions)}",
            )
        return self.positions[position]

    def position_at(self, pulse_us: int) -> str | None:
        """The named position whose pulse is `pulse_us` (±5 µs), else None."""
        for pos, pulse in self.positions.items():
            if abs(pulse - pulse_us) <= 5:
                return pos
        return None


@dataclass
class RigProfile:
    """A calibrated rig: its port, firmware, slew speed, knobs and switches."""

    name: str
    port: str
    firmware_version: str
    slew_us_per_s: float
    knobs: list[KnobSpec] = field(default_factory=list)
    switches: list[SwitchSpec] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_name(self.name)
        speed = self.slew_us_per_s
        if not (isinstance(speed, int | float) and 1 <= speed <= MAX_SPEED_US_PER_S):
            raise RigError(
                f"rig {self.name!r}: slew speed {speed!r} µs/s is outside 1–{MAX_SPEED_US_PER_S}",
                _FIX,
            )
        seen_ch: dict[int, str] = {}
        seen_name: set[str] = set()
        controls: list[KnobSpec | SwitchSpec] = [*self.knobs, *self.switches]
        for c in controls:
            if c.name in seen_name:
                raise RigError(f"rig {self.name!r}: two controls are called {c.name!r}", _FIX)
            if c.channel in seen_ch:
                raise RigError(
                    f"rig {self.name!r}: {c.name!r} and {seen_ch[c.channel]!r} are both on "
                    f"channel {c.channel}",
                    "each servo turns one control; " + _FIX,
                )
            seen_name.add(c.name)
            seen_ch[c.channel] = c.name

    def knob(self, name: str) -> KnobSpec:
        """The knob called `name`; KnobRangeError naming the rig's knobs otherwise."""
        for k in self.knobs:
            if k.name == name:
                return k
        raise KnobRangeError(
            f"rig {self.name!r} has no knob {name!r}", f"knobs: {self._names(self.knobs)}"
        )

    def switch(self, name: str) -> SwitchSpec:
        """The switch called `name`; KnobRangeError naming the rig's switches otherwise."""
        for s in self.switches:
            if s.name == name:
                return s
        raise KnobRangeError(
            f"rig {self.name!r} has no switch {name!r}", f"switches: {self._names(self.switches)}"
        )

    @staticmethod
    def _names(controls: list[Any]) -> str:
        return ", ".join(c.name for c in controls) or "none"

    def pulses_for(
        self, knobs: Mapping[str, float], switches: Mapping[str, str] | None = None
    ) -> dict[int, int]:
        """Channel → pulse (µs) for these knob values and switch positions; KnobRangeError
        for an unknown name or a value outside the printed range."""
        pulses = {self.knob(n).channel: self.knob(n).pulse_us(v) for n, v in knobs.items()}
        for n, pos in (switches or {}).items():
            pulses[self.switch(n).channel] = self.switch(n).pulse_us(pos)
        return pulses

    def to_dict(self) -> dict[str, Any]:
        """The TOML document's data (also fit for JSON)."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "port": self.port,
            "firmware_version": self.firmware_version,
            "slew_us_per_s": float(self.slew_us_per_s),
            "knobs": [
                {
                    "name": k.name,
                    "channel": k.channel,
                    "min": float(k.min),
                    "max": float(k.max),
                    "points": [[float(v), int(p)] for v, p in k.points],
                }
                for k in self.knobs
            ],
            "switches": [
                {"name": s.name, "channel": s.channel, "positions": dict(s.positions)}
                for s in self.switches
            ],
        }


def rig_path(home: Path, name: str) -> Path:
    """The file the rig profile called `name` lives in."""
    return rigs_dir(home) / f"{check_name(name)}.toml"


def save_rig(home: Path, rig: RigProfile) -> Path:
    """Write the rig profile atomically to calibration/rigs/NAME.toml (an old one different
    from it is kept as NAME.toml.bak); returns its path."""
    path = rig_path(home, rig.name)
    text = to_toml(rig)
    if path.is_file() and path.read_text(encoding="utf-8") != text:
        # Replacing another calibration: keep it beside, as `tag` keeps a model's .bak.
        atomic_write_text(path.with_name(path.name + ".bak"), path.read_text(encoding="utf-8"))
    atomic_write_text(path, text)
    return path


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def to_toml(rig: RigProfile) -> str:
    """The profile as TOML laid out as docs/files.md shows it (one line per point list)."""
    lines = [
        f"schema_version = {rig.schema_version}",
        f"name = {_q(rig.name)}",
        f"port = {_q(rig.port)}",
        f"firmware_version = {_q(rig.firmware_version)}",
        f"slew_us_per_s = {float(rig.slew_us_per_s)!r}",
    ]
    for k in rig.knobs:
        points = ", ".join(f"[{float(v)!r}, {int(p)}]" for v, p in k.points)
        lines += [
            "",
            "[[knobs]]",
            f"name = {_q(k.name)}",
            f"channel = {k.channel}",
            f"min = {float(k.min)!r}",
            f"max = {float(k.max)!r}",
            f"points = [{points}]  # [value, µs]",
        ]
    for s in rig.switches:
        positions = ", ".join(f"{_q(n)} = {int(p)}" for n, p in s.positions.items())
        lines += [
            "",
            "[[switches]]",
            f"name = {_q(s.name)}",
            f"channel = {s.channel}",
            f"positions = {{ {positions} }}",
        ]
    return "\n".join(lines) + "\n"


def load_rig(home: Path, name: str) -> RigProfile:
    """Read and validate a rig profile by name; RigError says what is wrong and where."""
    path = rig_path(home, name)
    if not path.exists():
        known = ", ".join(list_rigs(home)) or "none yet"
        raise RigError(
            f"there is no rig profile {name!r} in {rigs_dir(home)}",
            Phrase("rigs: {known}; make one with {rig_calibrate_named}", known=known, name=name),
        )
    return read_rig_file(path)


def read_rig_file(path: Path) -> RigProfile:
    """Parse and validate one rig profile file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RigError(f"cannot read the rig profile {path}: {exc}", _FIX) from None
    try:
        return rig_from_dict(data)
    except RigError as exc:
        raise RigError(f"{path}: " + exc.said, exc.advice) from None


def _unknown(where: str, data: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise RigError(
            f"{where}: unknown key {extra[0]!r}", f"known keys: {', '.join(sorted(known))}"
        )
    missing = sorted(known - set(data) - {"switches", "knobs"})
    if missing:
        raise RigError(f"{where}: {missing[0]!r} is missing", _FIX)


def _typed(where: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RigError(f"{where} = {value!r} has the wrong type", _FIX)
    return value


def rig_from_dict(data: Mapping[str, Any]) -> RigProfile:
    """A RigProfile from parsed TOML/JSON data, checking every key and value."""
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RigError(
            f"schema version {version!r}; this station reads {SCHEMA_VERSION}",
            "calibrate the rig again, or update the station",
        )
    _unknown("rig profile", data, _TOP_KEYS)
    num = (int, float)
    knobs = []
    for i, k in enumerate(_typed("knobs", data.get("knobs", []), list)):
        where = f"knobs[{i}]"
        _unknown(where, _typed(where, k, dict), _KNOB_KEYS)
        points = []
        for pt in _typed(f"{where}.points", k["points"], list):
            if not (isinstance(pt, list) and len(pt) == 2):
                raise RigError(f"{where}.points: {pt!r} is not a [value, µs] pair", _FIX)
            points.append((float(_typed(f"{where} value", pt[0], num)), pt[1]))
        knobs.append(
            KnobSpec(
                _typed(f"{where}.name", k["name"], str),
                k["channel"],
                float(_typed(f"{where}.min", k["min"], num)),
                float(_typed(f"{where}.max", k["max"], num)),
                points,
            )
        )
    switches = []
    for i, s in enumerate(_typed("switches", data.get("switches", []), list)):
        where = f"switches[{i}]"
        _unknown(where, _typed(where, s, dict), _SWITCH_KEYS)
        switches.append(
            SwitchSpec(
                _typed(f"{where}.name", s["name"], str),
                s["channel"],
                dict(_typed(f"{where}.positions", s["positions"], dict)),
            )
        )
    return RigProfile(
        name=_typed("name", data["name"], str),
        port=_typed("port", data["port"], str),
        firmware_version=_typed("firmware_version", data["firmware_version"], str),
        slew_us_per_s=float(_typed("slew_us_per_s", data["slew_us_per_s"], num)),
        knobs=knobs,
        switches=switches,
    )
