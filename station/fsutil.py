"""Atomic file writes (a crash never leaves a half-written file under a final name), and JSON
(with what a file that is not JSON is instead)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def umask() -> int:
    """The process's umask, read without changing it (Linux's /proc; else set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, then replace.

    The file gets `mode`, else the mode of the file it replaces, else what a plain write
    gives (0666 less the umask): not the temp file's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write UTF-8 `text` to `path` atomically (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON, atomically (non-finite floats become null)."""
    atomic_write_text(path, json.dumps(json_safe(data), indent=2) + "\n")


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as None, numpy scalars as Python, paths as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


# First bytes of files a user may give where JSON is meant, and what to call them.
_MAGIC = (
    (b"RIFF", "a WAV audio file"),
    (b"RIFX", "a WAV audio file"),
    (b"FORM", "an AIFF audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"OggS", "an Ogg audio file"),
    (b"ID3", "an MP3 audio file"),
    (b"\xff\xfb", "an MP3 audio file"),
    (b"\x89PNG", "a PNG picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
)


def new_folder(base: Path) -> Path:
    """Make the folder `base`, or `base-2`, `base-3`, ... when it exists (two trainings
    started within one second share a time stamp); returns the folder made."""
    for n in range(1, 1000):
        folder = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(base)


def kind_of(path: Path) -> str | None:
    """What a file that is not JSON is, from its first bytes ('a WAV audio file', 'an empty
    file', 'a TOML file' for a station profile), or None when it cannot be told."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if not head.strip():
        return "an empty file"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if Path(path).suffix.lower() == ".toml":
        return "a TOML file"
    return None


def not_json(path: Path, what: str, exc: Exception) -> str:
    """The line for a file read as `what` (e.g. 'a plan') that is not JSON: what it is when
    that can be told ('x.wav is a WAV audio file, not a plan'), else the parser's words."""
    kind = kind_of(path)
    if kind is not None:
        return f"{path} is {kind}, not {what}"
    return f"{path} is not {what}: it is not JSON ({exc})"


def _fsync_dir(folder: Path) -> None:
    # The rename is only durable once the directory entry is on disk too.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
