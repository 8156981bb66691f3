"""Snapshot files for players: a parametric model at chosen settings, or any model for a release.

A snapshot is a standard one-input NAM WaveNet equal to the parametric model at
one setting (`station.models.parametric.fold`): calibration levels, gear fields
and sample rate carried over, the setting in its metadata and name, written in
the lowest file version its layout allows (the classic 0.5.x form where the
layout has one, so the newest tagged plugin loads it too). A grid writes one
file per setting and an `index.json`. `for_players` rewrites a standard model
in the form an older release loads, or says why it cannot.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..events import Event, Progress, Warning_
from ..fsutil import atomic_write_text, write_json
from ..phrases import Phrase
from . import nam_lib, players, wavenet
from .namfile import LEVEL_FIELDS, read_model
from .parametric import fold

Emit = Callable[[Event], None]
RELEASES = ("v0.7.13",)  # player releases `for_players` writes for
MAX_GRID = 2000  # files in one pack
_PARAMETRIC_SUFFIX = re.compile(r"\s*\(parametric:[^)]*\)\s*$")


@dataclass(frozen=True)
class Snapshot:
    """One file written: where, the setting, and who loads it."""

    path: Path
    setting: dict[str, float | str] = field(default_factory=dict)
    defaulted: tuple[str, ...] = ()
    version: str = ""
    layout: str = ""  # "classic" | "current"
    loudness: str = ""  # "measured" | "left out (...)" | "kept"
    players: tuple[players.PlayerSupport, ...] = ()
    levels: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """One entry of `models` in `station snapshot --json` (docs/design.md §7)."""
        return {
            "path": str(self.path),
            "setting": self.setting,
            "file_version": self.version,
            "players": [p.to_json() for p in self.players],
            "defaulted": list(self.defaulted),
            "layout": self.layout,
            "loudness": self.loudness,
            **self.levels,
        }


def default_file(model: Path, items: list[str]) -> Path:
    """Where a snapshot goes when no path is given: beside the model, named by its setting."""
    data = parametric_model(model)
    known = fold.controls(data)
    values, _ = fold.parse_values(items, known)
    return model.with_name(f"{model.stem}@{fold.file_stem(known, values)}.nam")


def default_pack(model: Path) -> Path:
    """Where a pack goes when no folder is given: beside the model."""
    return model.with_name(f"{model.stem}-snapshots")


def parametric_model(path: Path) -> dict[str, Any]:
    """The parsed parametric model at `path`; StationError for a standard one."""
    data = read_model(path).data
    wavenet.check_weights(data)
    if not fold.parametric(data):
        raise StationError(
            f"{path.name} is a standard model: it has no knobs to set",
            Phrase("to write it for an older player, give {for_players}", releases=RELEASES[0]),
        )
    return data


def _lowest_form(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`data` in the classic form where its layout has one, else as it is."""
    if wavenet.classic_reason(data) is None:
        return wavenet.classic(data), "classic"
    return data, "current"


def _measured(data: dict[str, Any]) -> str:
    # The parametric model's loudness and gain were measured at its default setting: at any
    # other they would mislead a player's normalisation, so they are measured again or go.
    meta = data.setdefault("metadata", {})
    measured = nam_lib.loudness_and_gain(data)
    if measured is None:
        meta.pop("loudness", None)
        meta.pop("gain", None)
        return "left out (measuring it needs neural-amp-modeler, the train extra)"
    loudness, gain = measured
    if math.isfinite(loudness):
        meta["loudness"] = loudness
    else:
        meta.pop("loudness", None)  # a silent setting: the core reads a missing value as unknown
    meta["gain"] = gain
    return "measured"


def _result(path: Path, data: dict[str, Any], layout: str, loudness: str, **kw: Any) -> Snapshot:
    meta = data.get("metadata") or {}
    return Snapshot(
        path=path,
        version=str(data.get("version")),
        layout=layout,
        loudness=loudness,
        players=tuple(players.support(data.get("version"), data)),
        levels={k: meta.get(k) for k in LEVEL_FIELDS},
        **kw,
    )


def _write(path: Path, data: dict[str, Any]) -> None:
    if path.is_dir():
        raise StationError(f"{path} is a folder", "give a file name ending in .nam")
    if not path.parent.is_dir():
        raise StationError(f"there is no folder {path.parent}", "create it first")
    atomic_write_text(path, json.dumps(data))


def at_setting(
    data: dict[str, Any], known: list[fold.Control], values: dict[str, float], out: Path
) -> Snapshot:
    """Write the snapshot of parametric `data` at `values` (numbers by control) to `out`."""
    snap = fold.fold(data, values)
    words = fold.label(known, values)
    meta = snap.setdefault("metadata", {})
    base = _PARAMETRIC_SUFFIX.sub("", str(meta.get("name") or "")).strip()
    meta["name"] = f"{base} @ {words}" if base else words
    meta["setting"] = {c.name: c.shown(values[c.name]) for c in known}
    loudness = _measured(snap)
    snap, layout = _lowest_form(snap)
    _write(out, snap)
    return _result(out, snap, layout, loudness, setting=meta["setting"])


def snapshot(model: Path, items: list[str], out: Path) -> Snapshot:
    """`station snapshot MODEL name=value ... --out X.nam`: one setting of a parametric model."""
    data = parametric_model(model)
    known = fold.controls(data)
    values, defaulted = fold.parse_values(items, known)
    return replace(at_setting(data, known, values, out), defaulted=tuple(defaulted))


def parse_grid(specs: list[str], known: list[fold.Control]) -> list[dict[str, float]]:
    """Every setting of `name=start:stop:step`, `name=a,b,...` or `name=value` specs (controls
    not named stay at their default), in channel order."""
    by_name = {c.name: c for c in known}
    axes: dict[str, list[float]] = {}
    for spec in specs:
        name, eq, text = (part.strip() for part in spec.partition("="))
        if not eq or not name or not text:
            raise StationError(
                f"{spec!r} is not name=values", "for example drive=0:10:2, boost=off,on or tone=5"
            )
        if name not in by_name:
            raise StationError(
                f"the model has no control {name!r}", f"its controls are {', '.join(by_name)}"
            )
        if name in axes:
            raise StationError(f"{name} is given twice")
        axes[name] = _axis(by_name[name], text)
    for c in known:
        axes.setdefault(c.name, [c.default])
    count = math.prod(len(axes[c.name]) for c in known)
    if count > MAX_GRID:
        raise StationError(f"that grid has {count} settings; a pack holds at most {MAX_GRID}")
    names = [c.name for c in known]
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(axes[n] for n in names))
    ]


def _axis(control: fold.Control, text: str) -> list[float]:
    if ":" in text:
        parts = text.split(":")
        if control.spec.kind == "switch" or len(parts) != 3:
            raise StationError(
                f"{control.name}={text!r}: a range is start:stop:step, for a knob",
                "for example drive=0:10:2",
            )
        try:
            start, stop, step = (float(p) for p in parts)
        except ValueError:
            raise StationError(
                f"{control.name}={text!r}: start, stop and step are numbers"
            ) from None
        if not step > 0 or stop < start:
            raise StationError(f"{control.name}={text!r}: the step must be positive, stop ≥ start")
        n = math.floor((stop - start) / step + 1e-9) + 1
        if n > MAX_GRID:
            raise StationError(f"{control.name}={text!r} has {n} values; a pack holds {MAX_GRID}")
        values = [f"{round(start + i * step, 10):g}" for i in range(n)]
    else:
        values = [v.strip() for v in text.split(",")]
    out = []
    for v in values:
        number = fold.parse_values([f"{control.name}={v}"], [control])[0][control.name]
        if number in out:
            raise StationError(f"{control.name}={text!r} names {v} twice")
        out.append(number)
    return out


def grid(
    model: Path, specs: list[str], out_dir: Path, emit: Emit = lambda e: None
) -> list[Snapshot]:
    """`station snapshot MODEL --grid ... --out DIR`: a pack of snapshots and its index.json."""
    data = parametric_model(model)
    known = fold.controls(data)
    settings = parse_grid(specs, known)
    if out_dir.exists() and not out_dir.is_dir():
        raise StationError(f"{out_dir} is a file", "give a folder for the pack")
    out_dir.mkdir(parents=True, exist_ok=True)
    named = [c.name for c in known if c.name not in {s.partition("=")[0].strip() for s in specs}]
    if named:
        emit(Warning_(f"{', '.join(named)} held at the model's default in every file"))
    done: list[Snapshot] = []
    for i, values in enumerate(settings):
        path = out_dir / f"{fold.file_stem(known, values)}.nam"
        done.append(at_setting(data, known, values, path))
        emit(Progress((i + 1) / len(settings), f"{i + 1}/{len(settings)} {path.name}"))
    index = {
        "model": str(model),
        "controls": [c.name for c in known],
        "files": [
            {"file": s.path.name, "setting": s.setting, **s.levels, "version": s.version}
            for s in done
        ],
    }
    write_json(out_dir / "index.json", index)
    return done


def for_players(model: Path, release: str, out: Path) -> Snapshot:
    """`station snapshot MODEL --for-players v0.7.13`: a standard model in the form that release
    loads; StationError with the reason where its layout cannot be written so."""
    if release not in RELEASES:
        raise StationError(
            f"{release!r} is not a player release the station writes for",
            f"it writes for {', '.join(RELEASES)}",
        )
    data = read_model(model).data
    wavenet.check_weights(data)
    if fold.parametric(data) or players.knob_conditioned(data):
        raise StationError(
            f"{model.name} is a parametric model: no plugin release loads it whole",
            Phrase("write a snapshot of it at {snapshot_setting} instead", example="drive=5"),
        )
    if data.get("architecture") != "WaveNet":
        version = players.parse_version(data.get("version"))
        if version is None or version[:2] != (0, 5):
            raise StationError(
                f"a {data.get('architecture')} model of version {data.get('version')} is not one "
                "the station rewrites",
            )
        _write(out, data)
        return _result(out, data, "as it was", "kept")
    reason = wavenet.classic_reason(data)
    if reason is not None:
        raise StationError(f"{release} cannot run this model: {reason}")
    converted = wavenet.classic(data)
    _write(out, converted)
    return _result(out, converted, "classic", "kept")
