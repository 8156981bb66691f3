"""A sweep session read for training: knob specs, settings by role, levels, exclusions.

Reads `captures/<session>/` (docs/files.md): session.json (plan, status per
setting), one capture folder per setting, and dataset.json when `station sweep
export` wrote one (its train/validation lists then decide the roles). Numpy
only: no torch here, so the CLI can refuse bad sessions without the extra.

The model sees every control as one number in 0…1, in the sorted order of the
names (NAM's old parametric convention): a knob as (value − min)/(max − min),
a switch as the index of its position in the listed positions over
(positions − 1). `ENCODING` says so in every exported model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...capture.folder import read_capture_meta
from ...errors import StationError
from ...phrases import Phrase
from ...rig.profiles import NAM_CONFIG_KEYS
from ...signal.levels import dbu_list, return_rescale

ENCODING = (
    "input channel 0 is the audio; channel 1+i is control i in sorted name order, encoded "
    "(value - minval) / (maxval - minval); a switch's value is the index of its position "
    "in 'positions' (minval 0, maxval len(positions) - 1)"
)
LEVEL_TOLERANCE_DB = 0.01


@dataclass(frozen=True)
class ParamSpec:
    """One control the model is conditioned on: a knob's printed range or a switch's positions."""

    name: str
    kind: str  # "knob" | "switch"
    minval: float
    maxval: float
    positions: tuple[str, ...] = ()

    @property
    def default(self) -> float | str:
        """The knob's middle, or a switch's first position."""
        return self.positions[0] if self.kind == "switch" else (self.minval + self.maxval) / 2

    def number(self, value: Any) -> float:
        """The control's value as a number (a switch position becomes its index); StationError."""
        if self.kind == "switch":
            if isinstance(value, str):
                if value not in self.positions:
                    raise StationError(
                        f"switch {self.name!r} has no position {value!r}",
                        f"its positions are {', '.join(self.positions)}",
                    )
                return float(self.positions.index(value))
            index = float(value)
            if index != int(index) or not 0 <= index < len(self.positions):
                raise StationError(f"switch {self.name!r} has no position number {value!r}")
            return index
        number = float(value)
        if not math.isfinite(number) or not self.minval <= number <= self.maxval:
            raise StationError(
                f"knob {self.name!r} = {value!r} is outside {self.minval:g}…{self.maxval:g}"
            )
        return number

    def encode(self, value: Any) -> float:
        """The control as the model sees it, 0…1 (see ENCODING)."""
        span = self.maxval - self.minval
        return (self.number(value) - self.minval) / span if span > 0 else 0.0

    def to_json(self, channel: int) -> dict[str, Any]:
        """What an exported model says about this control (old NAM keys plus the station's)."""
        out: dict[str, Any] = {
            "type": "switch" if self.kind == "switch" else "continuous",
            "channel": channel,
            "minval": self.minval,
            "maxval": self.maxval,
            "default_value": self.number(self.default),
        }
        if self.kind == "switch":
            out["positions"] = list(self.positions)
        return out


@dataclass
class Setting:
    """One captured setting of the sweep and whether it can be used."""

    id: str
    role: str  # "train" | "holdout"
    folder: Path
    knobs: dict[str, float]
    switches: dict[str, str]
    excluded: str | None = None  # why it is left out
    meta: dict[str, Any] = field(default_factory=dict)
    reamp_dbu: float | None = None  # the level it was captured (or planned) at
    # NAM's y_scale: brings this capture's samples to the sweep's common output level (it
    # was recorded at another return level when the return was measured again mid-sweep)
    y_scale: float = 1.0

    def values(self) -> dict[str, Any]:
        """Knob values and switch positions together, by name."""
        return {**self.knobs, **self.switches}

    def label(self) -> str:
        """`drive=5 tone=3.5 boost=on`: the setting in words."""
        return " ".join(f"{k}={_fmt(v)}" for k, v in sorted(self.values().items()))


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float | int) else str(v)


@dataclass
class Sweep:
    """A sweep session ready to train from."""

    path: Path
    specs: list[ParamSpec]  # in channel order (sorted names)
    settings: list[Setting]
    input_level_dbu: float
    output_level_dbu: float
    x_path: Path
    warnings: list[str] = field(default_factory=list)
    levels_dbu: list[float] = field(default_factory=list)  # every level the session holds
    other_levels: int = 0  # settings captured at a level this training does not use

    @property
    def multi_level(self) -> bool:
        """True when the session holds captures at several reamp levels."""
        return len(self.levels_dbu) > 1

    @property
    def level_tag(self) -> str:
        """`-6dBu` for a level chosen out of several (file names), else empty."""
        return f"-{self.input_level_dbu:g}dBu" if self.multi_level else ""

    @property
    def name(self) -> str:
        """The session's folder name."""
        return self.path.name

    def used(self, role: str) -> list[Setting]:
        """The usable settings of one role ("train" or "holdout")."""
        return [s for s in self.settings if s.role == role and s.excluded is None]

    @property
    def excluded(self) -> list[Setting]:
        """Settings left out, each with its reason."""
        return [s for s in self.settings if s.excluded is not None]

    def encoded(self, setting: Setting) -> dict[str, float]:
        """The setting's controls as the model sees them, by name."""
        values = setting.values()
        return {p.name: p.encode(values[p.name]) for p in self.specs}

    def parametric_block(self) -> dict[str, Any]:
        """The controls as an exported model describes them, by name."""
        return {p.name: p.to_json(i + 1) for i, p in enumerate(self.specs)}


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StationError(f"cannot read {path}: {exc}", f"is {what} damaged?") from None
    if not isinstance(data, dict):
        raise StationError(f"{path} is not a JSON object", f"is {what} damaged?")
    return data


def _specs(session: dict[str, Any], dataset: dict[str, Any] | None) -> list[ParamSpec]:
    plan = session.get("plan") or {}
    rig: dict[str, Any] = (
        session["rig_profile"] if isinstance(session.get("rig_profile"), dict) else {}
    )
    src: dict[str, Any] = (
        dataset if dataset and ("knobs" in dataset or "switches" in dataset) else plan
    )
    knobs = src.get("knobs") or rig.get("knobs") or []
    switches = src.get("switches") or rig.get("switches") or []
    specs: list[ParamSpec] = []
    for k in knobs:
        lo, hi = k.get("min", k.get("minval")), k.get("max", k.get("maxval"))
        if lo is None or hi is None or not float(lo) < float(hi):
            raise StationError(f"knob {k.get('name')!r} has no usable range in the session")
        specs.append(ParamSpec(str(k["name"]), "knob", float(lo), float(hi)))
    for s in switches:
        pos = s.get("positions") or []
        names = tuple(str(p) for p in (pos.keys() if isinstance(pos, dict) else pos))
        if not names:
            raise StationError(f"switch {s.get('name')!r} has no positions in the session")
        specs.append(ParamSpec(str(s["name"]), "switch", 0.0, float(len(names) - 1), names))
    check_names([p.name for p in specs])
    return sorted(specs, key=lambda p: p.name)


def check_names(names: list[str]) -> None:
    """Refuse control names NAM's configs would misread, empty names and duplicates."""
    if not names:
        raise StationError(
            "the session names no knobs or switches", "a parametric model needs a planned sweep"
        )
    seen: set[str] = set()
    for name in names:
        if not name or not name.strip():
            raise StationError("a knob or switch has an empty name")
        if name in NAM_CONFIG_KEYS:
            raise StationError(
                f"the control name {name!r} is also one of NAM's config keys",
                "rename the knob in the rig profile and plan (e.g. 'knob_" + name + "')",
            )
        if name in seen:
            raise StationError(f"two controls are called {name!r}", "give each a unique name")
        seen.add(name)


def _status(session: dict[str, Any], sid: str) -> str:
    status = session.get("status") or {}
    value = status.get(sid) if isinstance(status, dict) else None
    if isinstance(value, dict):
        value = value.get("status")
    return str(value or "")


def chosen_rounds(path: Path) -> dict[str, int]:
    """The training settings an adaptive sweep's rounds chose (id → round), from its
    session.json (empty for other sessions, or one that cannot be read)."""
    try:
        session = json.loads((Path(path) / "session.json").read_text(encoding="utf-8"))
        return {
            str(s["id"]): int(s["round"])
            for s in session.get("schedule") or []
            if isinstance(s, dict) and s.get("round")
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def dataset_path(folder: Path, given: str) -> Path:
    """A path dataset.json names: relative ones (what `sweep export` writes) are relative to
    the dataset's own folder, so a copied session still finds its captures; absolute ones
    (older exports) are kept."""
    path = Path(given)
    return path if path.is_absolute() else folder / path


def _roles(
    session: dict[str, Any], dataset: dict[str, Any] | None, folder: Path
) -> dict[str, str]:
    planned = session.get("schedule") or (session.get("plan") or {}).get("settings") or []
    roles = {str(s["id"]): str(s.get("role", "train")) for s in planned}
    if dataset is not None:
        # The export decides: what it listed is used in its list's role, and what it left
        # out (with its reason) stays in the report.
        listed: dict[str, str] = {}
        for key, role in (("train", "train"), ("validation", "holdout")):
            for entry in dataset.get(key) or []:
                sid = entry.get("id") or dataset_path(folder, entry["y_path"]).parent.name
                listed[str(sid)] = role
        for gone in dataset.get("left_out") or []:
            sid = str(gone.get("id"))
            if sid not in listed and roles.get(sid) in ("train", "holdout"):
                listed[sid] = roles[sid]
        return listed
    return roles


def _exclusion(session: dict[str, Any], sid: str, folder: Path) -> tuple[str | None, dict]:
    status = _status(session, sid).lower()
    reasons = session.get("suspect_reasons")
    # Why: a drift after it, or its knob did not move ("unmoved"); sessions before it: drift.
    why = str(reasons.get(sid, "drift")) if isinstance(reasons, dict) else "drift"
    if status == "suspect":
        return f"the sweep marked it suspect ({why})", {}
    if any(word in status for word in ("fail", "suspect", "drift", "skip")):
        return f"the sweep marked it {status}", {}
    if sid in (session.get("suspect") or []):
        return f"the sweep marked it suspect ({why})", {}
    if not (folder / "capture.json").is_file() or not (folder / "output.wav").is_file():
        return "not captured (no capture.json or output.wav)", {}
    try:
        meta = read_capture_meta(folder)
    except StationError as exc:
        return exc.message, {}
    if meta.get("passed") is False:
        failed = [c["name"] for c in meta.get("checks", []) if c.get("status") == "fail"]
        return f"its capture failed checks ({', '.join(failed) or 'see capture.json'})", meta
    if meta.get("suspect"):
        return f"its capture is marked suspect ({meta['suspect']})", meta
    return None, meta


def load_sweep(
    path: Path, level: float | None = None, *, default_level: float | None = None
) -> Sweep:
    """Read a sweep session for training; StationError for anything unusable.

    Failed or suspect settings are kept in `settings` with `excluded` set (and a
    warning), never silently dropped. A session captured at several reamp levels
    needs `level` (dBu): a model carries one input level, so one trains per level.
    `default_level` is the level to take from such a session when `level` is None.
    """
    path = Path(path)
    specs, settings, warnings = _read(path)
    return _finish(path, specs, settings, warnings, level, default_level)


def sweep_levels(path: Path) -> list[float]:
    """The reamp levels (dBu) of the session's usable settings, lowest first."""
    return _levels(_read(Path(path))[1])


def _levels(settings: list[Setting]) -> list[float]:
    return sorted(
        {round(s.reamp_dbu, 6) for s in settings if s.excluded is None and s.reamp_dbu is not None}
    )


def _read(path: Path) -> tuple[list[ParamSpec], list[Setting], list[str]]:
    """Specs, every planned setting (excluded ones with their reason) and the session's
    own warnings (a setting left out is said when a level's settings are chosen)."""
    if not (path / "session.json").is_file():
        raise StationError(
            f"{path} is not a sweep session (no session.json)",
            Phrase("give the folder {sweep_run} made, or {train_capture}"),
        )
    session = _read_json(path / "session.json", "the session")
    dataset = (
        _read_json(path / "dataset.json", "dataset.json")
        if (path / "dataset.json").is_file()
        else None
    )
    warnings: list[str] = []
    if dataset is not None:
        common = dataset.get("common") or {}
        delays = {common.get("delay", 0)} | {
            e.get("delay", 0) for k in ("train", "validation") for e in dataset.get(k) or []
        }
        if any(d not in (0, None) for d in delays):
            warnings.append(
                "dataset.json asks for a delay, but the station's captures are already "
                "aligned by the latency measured for each: training with delay 0"
            )
    specs = _specs(session, dataset)
    plan_settings = {str(s["id"]): s for s in (session.get("plan") or {}).get("settings") or []}
    left_out = {
        str(e.get("id")): str(e.get("reason")) for e in (dataset or {}).get("left_out") or []
    }
    settings: list[Setting] = []
    # Absolute: NAM reads the captures relative to its working folder, which is not this one.
    here = path.absolute()
    for sid, role in sorted(_roles(session, dataset, here).items()):
        if role not in ("train", "holdout"):
            continue  # drift anchors repeat a setting; they judge the sweep, not the model
        folder = here / sid
        excluded, meta = _exclusion(session, sid, folder)
        if sid in left_out and excluded is None:
            excluded = f"the export left it out ({left_out[sid]})"
        planned = plan_settings.get(sid, {})
        knobs = dict(meta.get("knobs") or planned.get("knobs") or {})
        switches = dict(meta.get("switches") or planned.get("switches") or {})
        captured = meta.get("input_level_dbu", planned.get("reamp_dbu"))
        reamp = float(captured) if isinstance(captured, int | float) else None
        setting = Setting(sid, role, folder, knobs, switches, excluded, meta, reamp)
        if excluded is None:
            missing = [p.name for p in specs if p.name not in setting.values()]
            try:
                for p in specs:
                    if p.name not in missing:
                        p.number(setting.values()[p.name])
            except StationError as exc:
                setting.excluded = exc.message
            if missing:
                setting.excluded = f"its capture does not say {', '.join(missing)}"
        settings.append(setting)
    return specs, settings, warnings


def _one_level(
    path: Path, settings: list[Setting], level: float | None, default_level: float | None
) -> tuple[list[Setting], list[float]]:
    """The settings at the chosen level (all of them when the session has one level)."""
    levels = _levels(settings)
    if level is None and len(levels) > 1:
        level = default_level
    if level is None:
        if len(levels) > 1:
            raise StationError(
                f"the settings were captured at several reamp levels ({dbu_list(levels)})",
                Phrase(
                    "a model carries one input level: train one level at a time, e.g. {level} "
                    "{first}",
                    first=f"{levels[0]:g}",
                ),
            )
        return settings, levels
    if not any(abs(v - level) <= LEVEL_TOLERANCE_DB for v in levels):
        raise StationError(
            f"{path.name} has no usable settings captured at {level:g} dBu",
            f"its levels: {dbu_list(levels)}" if levels else "run the sweep first",
        )

    def elsewhere(s: Setting) -> bool:
        return s.reamp_dbu is not None and abs(s.reamp_dbu - level) > LEVEL_TOLERANCE_DB

    return [s for s in settings if not elsewhere(s)], levels


def _finish(
    path: Path,
    specs: list[ParamSpec],
    settings: list[Setting],
    warnings: list[str],
    level: float | None = None,
    default_level: float | None = None,
) -> Sweep:
    every = len(settings)
    settings, levels = _one_level(path, settings, level, default_level)
    # Only this level's settings: a failed setting at another level is not this model's business.
    warnings = warnings + [
        f"leaving out {s.id} ({s.role}): {s.excluded}" for s in settings if s.excluded is not None
    ]
    used = [s for s in settings if s.excluded is None]
    if not used:
        raise StationError(f"{path.name} has no usable captured settings", "run the sweep first")
    ins = {round(float(s.meta["input_level_dbu"]), 6) for s in used}
    common = _common_output(settings, used, warnings)
    md5s = {(s.meta.get("reamp_file") or {}).get("md5") for s in used}
    if len(md5s) > 1:
        raise StationError(
            "the settings were captured with different reamp files",
            "a parametric model needs every setting captured from the same input",
        )
    x_path = used[0].folder / "input.wav"
    return Sweep(
        path, specs, settings, ins.pop(), common, x_path, warnings, levels, every - len(settings)
    )


def _common_output(settings: list[Setting], used: list[Setting], warnings: list[str]) -> float:
    """The output level (dBu at 0 dBFS) the model is trained at and tagged with: the highest
    return level a used setting was recorded at, as the export's (so no capture is scaled
    up). Sets each setting's `y_scale`; a warning says when the levels differ."""
    outs = {s.id: float(s.meta["output_level_dbu"]) for s in used}
    common = max(outs.values())
    for s in settings:
        if s.id in outs:
            s.y_scale = return_rescale(outs[s.id], common)
    if max(outs.values()) - min(outs.values()) > LEVEL_TOLERANCE_DB:
        warnings.append(
            f"the settings were recorded at return levels "
            f"{', '.join(f'{v:.2f}' for v in sorted(set(outs.values())))} dBu "
            f"(the return was measured again mid-sweep): each is scaled to {common:.2f} dBu "
            "(NAM's y_scale), the level the model carries"
        )
    return common
