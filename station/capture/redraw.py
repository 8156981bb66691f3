"""A capture's report picture drawn again from its folder, when a kill left it undrawn.

A sweep draws each take's `report.png` after the folder is committed (while the
servos move on), so a sweep killed in between leaves a finished capture without
its picture. Every later look at the capture (`check`, a verdict reopened, a
sweep's status, export or resume) draws it again from what the folder holds:
capture.json for the verdict and the latency decision, input.wav and output.wav
for the take, and the pre-roll of recording.wav for the noise (the separate
noise take is not kept).
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SignalError, StationError
from ..reamp import files as reamp
from ..signal.latency import LatencyDecision
from .folder import read_capture_meta

REPORT = "report.png"
SKIP_S = 0.2  # the start of the stream, left out of the noise as the noise take does
MIN_QUIET = 4096  # fewer samples of silence than this make no spectrum worth drawing


def stored_decision(meta: dict[str, Any]) -> LatencyDecision:
    """The latency decision a capture.json recorded; KeyError/TypeError/ValueError if absent."""
    lat = meta["latency"]
    moved = lat.get("moved_since_calibration_samples")
    return LatencyDecision(
        estimates=dict(lat.get("estimates_samples") or {}),
        used=str(lat.get("used") or "?"),
        latency_samples=float(lat["latency_samples"]),
        shift_samples=int(lat.get("shift_samples") or 0),
        polarity=int(lat.get("polarity") or 1),
        disagreement_samples=float(lat.get("disagreement_samples") or 0.0),
        agree=bool(lat.get("agree", True)),
        message=str(lat.get("message") or ""),
        moved_samples=None if moved is None else float(moved),
    )


def stored_quiet(
    folder: Path, meta: dict[str, Any], y: np.ndarray, layout: reamp.Layout | None
) -> tuple[np.ndarray, str]:
    """The return with the gear on and silent, from the folder, and where it came from.

    The pre-roll of recording.wav (silence played before the file, the gear on)
    when it is kept; else the layout's silence before the blips in output.wav.
    Raises SignalError when the folder holds no silence long enough.
    """
    recording = Path(folder) / "recording.wav"
    preroll = int((meta.get("latency") or {}).get("preroll_samples") or 0)
    if recording.is_file() and preroll:
        rec, sr, _ = reamp.read_mono(recording)
        quiet = np.asarray(rec[int(SKIP_S * sr) : preroll], dtype=np.float64)
        if len(quiet) >= MIN_QUIET:
            return quiet, "the take's pre-roll"
    if layout is not None and layout.background[1] <= len(y):
        lo, hi = layout.background
        quiet = np.asarray(y[lo:hi], dtype=np.float64)
        if len(quiet) >= MIN_QUIET:
            return quiet, "the silence before the blips"
    raise SignalError(
        "the folder keeps no silence to draw the noise from", "retake it for a new report"
    )


def draw_report(folder: Path, meta: dict[str, Any] | None = None) -> Path:
    """Draw `folder`/report.png from the folder's files (atomically); returns its path.

    Raises StationError when the folder lacks what the picture needs.
    """
    from .report import write_report

    folder = Path(folder)
    meta = read_capture_meta(folder) if meta is None else meta
    x, sr, _ = reamp.read_mono(folder / "input.wav")
    info = reamp.recognise(folder / "input.wav", (x, sr))
    name = (meta.get("reamp_file") or {}).get("name")
    if isinstance(name, str) and name:
        info = replace(info, path=Path(name))  # the title names the file that was played
    y, _, _ = reamp.read_mono(folder / "output.wav")
    try:
        decision = stored_decision(meta)
        noise, where = stored_quiet(folder, meta, y, info.layout)
        # Its own partial name: two looks at once (a status beside a resume) never collide.
        partial = folder / f".report.{os.getpid()}.{threading.get_ident()}.partial.png"
        try:
            write_report(partial, x, y, info, noise, sr, decision, meta, noise_from=where)
            os.replace(partial, folder / REPORT)
        finally:
            partial.unlink(missing_ok=True)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise StationError(
            f"{folder / 'capture.json'} lacks what the report needs ({exc!r})",
            "retake it for a new report",
        ) from None
    return folder / REPORT


def draw_if_missing(folder: Path) -> str | None:
    """Draw a capture's missing report.png again; a line for the user when it was missing.

    None when the folder is no finished capture or its picture is there. Never
    raises: a missing picture must not stop anyone looking at the capture.
    """
    folder = Path(folder)
    if not (folder / "capture.json").is_file() or (folder / REPORT).is_file():
        return None
    try:
        draw_report(folder)
    except StationError as exc:
        return f"{folder.name}: report.png is missing and cannot be drawn again: {exc.message}"
    except OSError as exc:
        return f"{folder.name}: report.png is missing and cannot be written: {exc}"
    return f"{folder.name}: report.png was missing (the take was stopped); drawn again"


def draw_missing(folder: Path) -> list[str]:
    """Draw the missing report pictures of a capture, or of each capture in a session or
    level pack (one folder down); the lines to show, one per picture drawn or not."""
    folder = Path(folder)
    if (folder / "capture.json").is_file():
        notes = [draw_if_missing(folder)]
    else:
        notes = [
            draw_if_missing(meta.parent)
            for meta in sorted(folder.glob("*/capture.json"))
            if not meta.parent.name.startswith(".")
        ]
    return [n for n in notes if n is not None]
