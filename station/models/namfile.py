"""Read, validate and tag .nam model files: only metadata changes, atomically, with a .bak.

A .nam file is JSON with at least `architecture`, `config` and `weights`. Tagging
sets the named metadata fields and nothing else: every other key and value is
kept (the parsed JSON is equal apart from the fields written).
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..fsutil import atomic_write_text, kind_of
from ..phrases import Phrase

GEAR_TYPES = ("amp", "pedal", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp", "studio")
TONE_TYPES = ("clean", "overdrive", "crunch", "hi_gain", "fuzz")
TEXT_FIELDS = ("name", "modeled_by", "gear_make", "gear_model")
LEVEL_FIELDS = ("input_level_dbu", "output_level_dbu")
LEVEL_RANGE_DBU = (-30.0, 40.0)
REQUIRED_KEYS = ("architecture", "config", "weights")


class ModelError(StationError):
    """A .nam file cannot be read or changed as asked; the file is untouched."""


@dataclass
class NamModel:
    """A parsed .nam file."""

    path: Path
    data: dict[str, Any]
    size_bytes: int

    @property
    def metadata(self) -> dict[str, Any]:
        """The model's metadata (empty when it has none)."""
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def calibrated(self) -> bool:
        """True when both calibration levels are numbers."""
        return all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in (self.metadata.get(k) for k in LEVEL_FIELDS)
        )

    @property
    def sample_rate(self) -> float | None:
        """The model's sample rate, where the file says (older files do not)."""
        rate = self.data.get("sample_rate")
        return float(rate) if isinstance(rate, int | float) else None


# A .nam is a few MB (a large WaveNet, 14 000 weights as text, is 0.3 MB): a file past this is
# not a model, and reading it would only fill the memory.
MAX_MODEL_BYTES = 200 * 1024 * 1024
MAX_DEPTH = 64  # NAM's own files nest under 10 deep; deeper would overflow Python's recursion


class _NotFinite(ValueError):
    """A NaN, an Infinity or a number too large for a double in the JSON text."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(text: str) -> float:
    raise _NotFinite(text)


def _too_deep(value: Any) -> bool:
    """True when lists and objects nest past MAX_DEPTH in `value` (found without recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return False


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file or is past MAX_MODEL_BYTES."""
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a .nam file", "give the model file itself")
    if not path.exists():
        raise ModelError(f"there is no file {path}", "check the path")
    if not path.is_file():  # a pipe or a device could be endless
        raise ModelError(f"{path} is not a regular file", "give the model file itself")
    def too_big(size: int) -> ModelError:
        return ModelError(
            f"{path.name} is {size:,} bytes: no NAM model is that large (the station reads "
            f"at most {MAX_MODEL_BYTES:,})",
            "give a .nam file exported by a NAM trainer",
        )

    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise too_big(size)
        with path.open("rb") as fh:
            raw = fh.read(MAX_MODEL_BYTES + 1)  # it may have grown since
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    if len(raw) > MAX_MODEL_BYTES:
        raise too_big(len(raw))
    return raw


def _parse(path: Path, raw: bytes) -> Any:
    """JSON as the NAM plugin's parser takes it: no NaN or Infinity, no absurd nesting."""
    hint = "a .nam file is JSON written by the NAM trainer"
    too_deep = ModelError(f"{path.name} nests lists or objects too deeply for a model", hint)
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant
        )
    except _NotFinite as exc:
        raise ModelError(
            f"{path.name} holds the number {exc}: not JSON any NAM player reads", hint
        ) from None
    except RecursionError:
        raise too_deep from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        kind = kind_of(path)
        said = f"{path.name} is {kind}, not a model" if kind else f"{path.name} is not JSON ({exc})"
        raise ModelError(said, hint) from None
    if _too_deep(data):
        raise too_deep
    return data


def _check_structure(path: Path, data: Any) -> None:
    """The keys every player needs, of the types it needs; ModelError naming the first wrong."""
    if not isinstance(data, dict) or not all(k in data for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(data, dict) or k not in data]
        raise ModelError(
            f"{path.name} is JSON but not a NAM model (no {', '.join(missing)})",
            "give a .nam file exported by a NAM trainer",
        )
    hint = "the file is damaged, or not one a NAM trainer wrote"
    if not isinstance(data["architecture"], str) or not data["architecture"]:
        raise ModelError(f"{path.name}'s architecture is not a name", hint)
    if not isinstance(data["config"], dict):
        raise ModelError(f"{path.name}'s config is not an object", hint)
    weights = data["weights"]
    if not isinstance(weights, list) or not all(
        isinstance(w, int | float) and not isinstance(w, bool) for w in weights
    ):
        raise ModelError(f"{path.name}'s weights are not a list of numbers", hint)
    # Floats are finite once parsed; an integer can still be past what a double holds.
    if any(abs(w) > 1e308 for w in weights if isinstance(w, int)):
        raise ModelError(f"{path.name} has weights that are not finite numbers", hint)
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        raise ModelError(f"{path.name}'s metadata is not an object", hint)  # the core reads keys
    rate = data.get("sample_rate")
    if rate is not None and (
        not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate < 1e7
    ):
        raise ModelError(f"{path.name}'s sample_rate is {rate!r}, not a rate in Hz", hint)


def read_model(path: Path) -> NamModel:
    """Parse and validate a .nam file; raises ModelError saying what is wrong (never more).

    Refuses, before reading, anything but a regular file of at most MAX_MODEL_BYTES; then
    JSON no player reads (NaN, Infinity, nesting past MAX_DEPTH) and a file without an
    architecture name, a config object and a list of finite weights.
    """
    path = Path(path)
    raw = _read_bytes(path)
    data = _parse(path, raw)
    _check_structure(path, data)
    return NamModel(path, data, len(raw))


def model_info(model: NamModel) -> dict[str, Any]:
    """What `station info` shows: architecture, version and who loads it, rate, size, metadata."""
    from . import players

    version = model.data.get("version")
    return {
        "path": str(model.path),
        "architecture": model.data.get("architecture"),
        "version": version,
        "players": [p.to_json() for p in players.support(version, model.data)],
        "player_warning": players.warning(version, model.data),
        "sample_rate": model.sample_rate,
        "size_bytes": model.size_bytes,
        "calibrated": model.calibrated,
        "input_level_dbu": model.metadata.get("input_level_dbu"),
        "output_level_dbu": model.metadata.get("output_level_dbu"),
        "metadata": model.metadata,
    }


def validate_fields(values: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
    """Check metadata values before anything is written; returns the cleaned dict.

    Levels must be finite numbers in −30…+40 dBu (unless `force`); gear and
    tone types must be NAM's names; text fields must be non-empty strings.
    """
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key in LEVEL_FIELDS:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ModelError(f"{key} must be a number of dBu, got {value!r}") from None
            if not math.isfinite(number):
                raise ModelError(f"{key} must be a finite number, got {value!r}")
            lo, hi = LEVEL_RANGE_DBU
            if not lo <= number <= hi and not force:
                raise ModelError(
                    f"{key} = {number:g} dBu is outside {lo:g}…{hi:+g} dBu",
                    Phrase("check the value{force_value}"),
                )
            clean[key] = number
        elif key == "gear_type":
            if value not in GEAR_TYPES:
                raise ModelError(
                    f"gear type {value!r} is not one of NAM's: {', '.join(GEAR_TYPES)}"
                )
            clean[key] = value
        elif key == "tone_type":
            if value not in TONE_TYPES:
                raise ModelError(
                    f"tone type {value!r} is not one of NAM's: {', '.join(TONE_TYPES)}"
                )
            clean[key] = value
        elif key in TEXT_FIELDS:
            if not isinstance(value, str) or not value.strip():
                raise ModelError(f"{key} must be some text")
            clean[key] = value.strip()
        else:
            raise ModelError(f"{key!r} is not a metadata field the station writes")
    return clean


def tag_model(path: Path, values: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
    """Set metadata fields in a .nam file; returns what was written.

    Atomic (temp file beside it, fsync, replace), keeps the file's permissions,
    and keeps `MODEL.nam.bak` of the original on the first modification.
    Numeric fields the core reads (levels, loudness) are left as JSON numbers:
    text holding a number is converted, anything else is removed ("removed").
    Raises ModelError, leaving the file untouched, for any bad input.
    """
    model = read_model(path)
    clean = validate_fields(values, force=force)
    if not clean:
        raise ModelError(
            "nothing to write",
            Phrase("give {tag_source}"),
        )
    if not os.access(model.path, os.W_OK) or not os.access(model.path.parent, os.W_OK):
        raise ModelError(f"{model.path} is read-only", "check the file's and folder's permissions")
    data = copy.deepcopy(model.data)
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    meta.update(clean)
    repaired = _repair_numbers(meta)
    data["metadata"] = meta
    backup = model.path.with_name(model.path.name + ".bak")
    if not backup.exists():
        shutil.copy2(model.path, backup)
    mode = model.path.stat().st_mode & 0o7777
    atomic_write_text(model.path, json.dumps(data), mode=mode)
    converted = {k: v for k, v in repaired.items() if v is not None}
    removed = sorted(k for k, v in repaired.items() if v is None)
    return {**clean, **converted, **({"removed": removed} if removed else {})}


# Metadata the core reads as numbers: a string there throws in the plugin, null means absent.
NUMBER_FIELDS = (*LEVEL_FIELDS, "loudness")


def _repair_numbers(meta: dict[str, Any]) -> dict[str, Any]:
    """Make the numeric metadata the core reads numbers, or remove it; returns what changed.

    A number written as text ("12.5") becomes the number; null, booleans and
    other text are removed (the core treats a missing field as unknown).
    """
    changed: dict[str, Any] = {}
    for key in NUMBER_FIELDS:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            continue
        number: float | None = None
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is not None and math.isfinite(number):
            meta[key] = changed[key] = number
        else:
            del meta[key]
            changed[key] = None
    return changed


def fields_from_capture(capture_json: dict[str, Any]) -> dict[str, Any]:
    """The calibration levels and gear fields a capture.json carries."""
    out: dict[str, Any] = {k: capture_json.get(k) for k in LEVEL_FIELDS}
    gear = capture_json.get("gear") or {}
    for key in ("gear_make", "gear_model", "gear_type", "tone_type", "modeled_by", "name"):
        if gear.get(key):
            out[key] = gear[key]
    return out
