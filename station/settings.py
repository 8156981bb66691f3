"""Station settings remembered between runs (last reamp file, ...): <home>/settings.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from .fsutil import atomic_write_text


def settings_path(home: Path) -> Path:
    """Where a home keeps its settings."""
    return Path(home) / "settings.toml"


def load_settings(home: Path) -> dict[str, Any]:
    """The saved settings, or {} when none (a damaged file is treated as none)."""
    try:
        return tomllib.loads(settings_path(home).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def update_settings(home: Path, **values: Any) -> None:
    """Merge `values` into the saved settings (None removes a key)."""
    data = load_settings(home)
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    atomic_write_text(settings_path(home), tomli_w.dumps(data))
