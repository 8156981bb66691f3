"""Station settings remembered between runs (last reamp file, meter accuracy, ...):
<home>/settings.toml."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from .drivers.meter import MeterAccuracy, parse_accuracy
from .fsutil import atomic_write_text

Warn = Callable[[str], None]


def settings_path(home: Path) -> Path:
    """Where a home keeps its settings."""
    return Path(home) / "settings.toml"


def corrupt_path(home: Path) -> Path:
    """Where a damaged settings file is kept for the user to look at."""
    return Path(home) / "settings.toml.corrupt"


def load_settings(home: Path, warn: Warn | None = None) -> dict[str, Any]:
    """The saved settings, or {} when none.

    A damaged file is moved aside to settings.toml.corrupt (never silently
    overwritten) and `warn` is told where it went.
    """
    path = settings_path(home)
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        kept = corrupt_path(home)
        os.replace(path, kept)
        if warn is not None:
            warn(
                f"the settings file {path} could not be read ({exc}); it is kept as "
                f"{kept.name} and the station starts from its defaults"
            )
        return {}


def update_settings(home: Path, warn: Warn | None = None, **values: Any) -> None:
    """Merge `values` into the saved settings (None removes a key)."""
    data = load_settings(home, warn)
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    atomic_write_text(settings_path(home), tomli_w.dumps(data))


def meter_accuracy_of(settings: dict[str, Any]) -> MeterAccuracy | None:
    """The manual meter's accuracy kept in `settings`, or None when none is kept (or it is not
    one: a hand-edited file is then asked about again)."""
    kept = settings.get("meter_accuracy")
    if not isinstance(kept, dict):
        return None
    try:
        found = parse_accuracy(f"{float(kept['percent'])} % + {float(kept['counts'])}")
    except (KeyError, TypeError, ValueError):
        return None
    return MeterAccuracy(found.percent, found.counts, assumed=bool(kept.get("assumed", False)))


def meter_accuracy_setting(accuracy: MeterAccuracy) -> dict[str, Any]:
    """How settings.toml keeps a meter accuracy (`assumed`: the typical handheld's default)."""
    return {"percent": accuracy.percent, "counts": accuracy.counts, "assumed": accuracy.assumed}
