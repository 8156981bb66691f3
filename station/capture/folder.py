"""Capture-folder I/O: a streaming recording sink, PCM writes, and staging so a crash
never leaves a half-written capture under its final name."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StationError
from ..fsutil import umask
from ..phrases import Phrase


class RecordingWriter:
    """A stream sink that appends each block to a float WAV and keeps the running peak.

    Called from the driver's writer thread, never the audio callback. `on_block`
    (frames so far, peak so far) lets a front end show progress.
    """

    def __init__(
        self, path: Path, samplerate: int, on_block: Callable[[int, float], None] | None = None
    ) -> None:
        import soundfile as sf

        self.path = Path(path)
        self._fh = sf.SoundFile(str(self.path), "w", samplerate, 1, "FLOAT", format="WAV")
        self.frames = 0
        self.peak = 0.0
        self._on_block = on_block

    def __call__(self, block: np.ndarray) -> None:
        self._fh.write(block)
        self.frames += len(block)
        if len(block):
            self.peak = max(self.peak, float(np.max(np.abs(block))))
        if self._on_block is not None:
            self._on_block(self.frames, self.peak)

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()


def write_pcm24(path: Path, samples: np.ndarray, samplerate: int) -> None:
    """Write mono PCM 24-bit (the trainer reads integer WAVs; no gain is applied)."""
    import soundfile as sf

    sf.write(str(path), samples, samplerate, subtype="PCM_24")


def read_capture_meta(folder: Path) -> dict[str, Any]:
    """A capture folder's capture.json; StationError when it cannot be read."""
    path = Path(folder) / "capture.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StationError(
            f"cannot read {path}: {exc}", "give a capture folder the station made"
        ) from None


def failed_checks(meta: dict[str, Any]) -> list[str]:
    """Names of the checks a capture.json records as failed."""
    return [c.get("name", "?") for c in meta.get("checks", []) if c.get("passed") is False]


def refuse_failed(meta: dict[str, Any], folder: Path, *, allow: bool) -> None:
    """StationError when the capture failed its checks and `allow` is not set."""
    if meta.get("passed") is False and not allow:
        failed = ", ".join(failed_checks(meta)) or "see its capture.json"
        raise StationError(
            f"the capture {Path(folder).name!r} failed its checks ({failed}): a model "
            "trained on it would carry a bad take",
            Phrase("retake it, or {allow_failed}"),
        )


class Staging:
    """A hidden folder beside the final one; `commit()` renames it into place.

    Anything that goes wrong before commit removes the staging folder, so a
    capture either exists whole under its name or not at all.
    """

    def __init__(self, final: Path, *, force: bool) -> None:
        self.final = Path(final)
        self.force = force
        if self.final.exists() and not force:
            raise StationError(
                f"a capture called {self.final.name!r} already exists",
                Phrase("choose another {capture_name}, or {replace}"),
            )
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(
            tempfile.mkdtemp(
                prefix=f".{self.final.name}.", suffix=".partial", dir=self.final.parent
            )
        )
        self.dir.chmod(0o777 & ~umask())  # a plain folder's mode, not mkdtemp's private 0700

    def commit(self) -> Path:
        """Move the finished folder to its final name (replacing an old one with --force)."""
        old: Path | None = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{int(time.time())}")
            os.replace(self.final, old)
        os.replace(self.dir, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def discard(self) -> None:
        """Remove the staging folder and everything in it."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.dir)
