"""The station home: where profiles, rigs, captures, sessions and models live, and finding them.

A home is a folder (docs/files.md) holding `calibration/profiles/`,
`calibration/rigs/`, `captures/` (captures, level packs, sweep sessions),
`plans/` and `models/`. Every other module asks this one where things are, so the layout is
spelled out once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import ProfileError, StationError
from .locks import Lock, acquire
from .phrases import Phrase
from .signal.levels import dbu_list

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    """Return `name` if it is a safe profile, rig, capture or session name, else raise
    ProfileError."""
    if not _NAME.match(name or ""):
        raise ProfileError(
            f"{name!r} is not a usable name",
            "use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
        )
    return name


def profiles_dir(home: Path) -> Path:
    """Where a station home keeps its measured interface profiles."""
    return Path(home) / "calibration" / "profiles"


def rigs_dir(home: Path) -> Path:
    """Where a station home keeps its rig profiles."""
    return Path(home) / "calibration" / "rigs"


def captures_dir(home: Path) -> Path:
    """Where a station home keeps captures, level packs and sweep sessions."""
    return Path(home) / "captures"


def models_dir(home: Path) -> Path:
    """Where a station home keeps models that belong to no capture."""
    return Path(home) / "models"


def plans_dir(home: Path) -> Path:
    """Where a station home keeps the sweep plans its TUI makes."""
    return Path(home) / "plans"


def plan_path(home: Path, name: str) -> Path:
    """The plan file called `name` under plans/; ProfileError for an unusable name."""
    return plans_dir(home) / f"{check_name(name)}.json"


def home_signal_path(home: Path) -> Path:
    """Where a station home keeps its copy of the station's signal (seed 1, full length)."""
    return Path(home) / "signals" / "station-v3-seed1.wav"


def capture_path(home: Path, name: str) -> Path:
    """The folder a capture, level pack or session called `name` has under captures/."""
    return captures_dir(home) / name


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def list_profiles(home: Path) -> list[str]:
    """Names of the interface profiles saved under `home`, sorted."""
    return _stems(profiles_dir(home))


def list_rigs(home: Path) -> list[str]:
    """Names of the rig profiles saved under `home`, sorted."""
    return _stems(rigs_dir(home))


def find_capture(home: Path, given: Path) -> Path:
    """A capture folder as given, else by that name under the home's captures/."""
    given = Path(given)
    if given.exists():
        return given
    named = captures_dir(home) / given
    if len(given.parts) == 1 and named.is_dir():
        return named
    return given


def rig_lock_path(home: Path, port: str) -> Path:
    """The lock file of the rig on serial port `port` (every name of one device, such as a
    /dev/serial/by-id link, shares it; 'virtual' is the home's virtual bench)."""
    real = os.path.realpath(port) if os.path.exists(port) else port.strip().lower()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", real).strip("_") or "port"
    return Path(home) / ".locks" / f"rig-{slug}.lock"


def lock_rig(home: Path, port: str, *, holder: str | None = None) -> Lock:
    """Hold the rig on `port` for this program (see station.locks); LockHeld names the
    program that has it (a sweep, a rig command, the TUI's Rig screen)."""
    return acquire(rig_lock_path(home, port), f"the rig on {port}", command=holder)


def lock_session(folder: Path, *, holder: str | None = None) -> Lock:
    """Hold a sweep session for this program: one sweep at a time runs it. LockHeld names the
    program that has it."""
    folder = Path(folder)
    return acquire(folder / ".lock", f"session {folder.name}", command=holder)


def captured(home: Path, given: Path | str) -> Path:
    """A capture, level pack or sweep session given as a folder, else by its name under
    captures/ (as `sweep status` takes it); the path as given when neither is there, so
    that the error names what was typed."""
    given = Path(given)
    if given.exists() or len(given.parts) != 1:
        return given
    named = captures_dir(home) / given
    return named if named.exists() else given


def session_folder(home: Path, name: str) -> Path:
    """A sweep session given as a folder, else by name under captures/."""
    given = Path(name)
    return given if (given / "session.json").is_file() else captures_dir(home) / name


def pack_levels(folder: Path) -> dict[float, Path]:
    """A level pack's captures by input level (dBu): a capture at levels A,B made one each.

    Empty for anything else (a capture, a sweep session, a plain folder).
    """
    folder = Path(folder)
    if (folder / "capture.json").is_file() or (folder / "session.json").is_file():
        return {}
    levels: dict[float, Path] = {}
    for meta_path in sorted(folder.glob("*/capture.json")):
        try:
            level = json.loads(meta_path.read_text(encoding="utf-8")).get("input_level_dbu")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(level, int | float):
            levels[float(level)] = meta_path.parent
    return dict(sorted(levels.items()))


def pack_capture(folder: Path, level: float | None) -> Path:
    """The capture of one level of a pack; StationError naming the levels when none is chosen."""
    levels = pack_levels(folder)
    listed = dbu_list(levels)
    if level is None:
        raise StationError(
            f"{Path(folder).name} is a level pack, one capture per level ({listed})",
            Phrase(
                "{choose_level}",
                first=f"{next(iter(levels)):g}",
                example=Path(folder) / next(iter(levels.values())).name,
                pack=Path(folder).name,
            ),
        )
    for value, path in levels.items():
        if abs(value - level) <= 0.01:
            return path
    raise StationError(
        f"{Path(folder).name} has no capture at {level:g} dBu", f"its levels: {listed}"
    )


def list_captures(home: Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, capture.json) for each capture under home, newest first.

    A level pack's captures are named `pack/12dBu`; a sweep's settings are not
    listed (the sweep screen and the session's training show them).
    """
    folder = captures_dir(home)
    paths = [*folder.glob("*/capture.json"), *folder.glob("*/*/capture.json")]
    found = []
    for meta_path in paths if folder.is_dir() else []:
        if (meta_path.parent.parent / "session.json").is_file():
            continue
        try:
            name = meta_path.parent.relative_to(folder).as_posix()
            found.append((name, json.loads(meta_path.read_text())))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(found, key=lambda item: item[1].get("finished", ""), reverse=True)


def list_sessions(home: Path) -> list[str]:
    """Names of the sweep sessions under home's captures folder, newest first."""
    found = captures_dir(home).glob("*/session.json")
    return [p.parent.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def list_models(home: Path) -> list[Path]:
    """.nam files in the home's captures (level packs and sweeps' models too) and models."""
    captures = captures_dir(home)
    return sorted(
        [
            *captures.glob("*/*.nam"),
            *captures.glob("*/*/*.nam"),  # a pack's level; a sweep's parametric model
            *captures.glob("*/models/snapshots/*.nam"),
            *models_dir(home).glob("*.nam"),
        ]
    )
