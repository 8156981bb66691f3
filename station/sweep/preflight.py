"""A sweep's pre-flight: every check a capture makes, for the whole plan, before anything moves.

Run by `sweep run` before the session folder exists and by `sweep resume` before
the rig moves, so a sweep never starts (or goes on) towards a failure known in
advance: a level that clips the send at any setting, a reamp file that is not a
playable WAV, a disk too small for the captures left.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..capture.preflight import level_plans
from ..capture.records import CaptureRequest, Preflight
from ..capture.run import capture_bytes, validate_streams
from ..drivers.base import AudioInterface
from ..errors import StationError
from ..phrases import Phrase
from ..plan.design import Setting

DISK_MARGIN = 0.05  # a little more than the estimate, for the session's own files


@dataclass(frozen=True)
class DiskNeed:
    """What a sweep's captures need on disk and what the disk has (bytes)."""

    captures: int
    capture_bytes: int
    need_bytes: int
    free_bytes: int


def nearest_folder(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (where its files will land)."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Free bytes on the disk that holds `path` (or would, once made)."""
    return shutil.disk_usage(nearest_folder(path)).free


def gigabytes(n: int) -> str:
    """'2.14 GB' (10⁹ bytes, as disks are sold)."""
    return f"{n / 1e9:.2f} GB"


def check_disk(folder: Path, captures: int, per_capture: int) -> DiskNeed:
    """Refuse (StationError, with the numbers) when `captures` captures of `per_capture` bytes,
    one more staged beside the one a retake replaces, and a margin, do not fit in `folder`."""
    need = math.ceil((captures + 1) * per_capture * (1 + DISK_MARGIN)) if captures else 0
    free = free_bytes(folder)
    if need > free:
        raise StationError(
            f"the sweep needs about {gigabytes(need)} ({captures} captures of "
            f"{gigabytes(per_capture)}, and room for a retake) but {nearest_folder(folder)} "
            f"has {gigabytes(free)} free",
            Phrase("free some disk space, or plan fewer settings with {plan}"),
        )
    return DiskNeed(captures, per_capture, need, free)


def check_plan_captures(
    profile: Any,
    reamp_path: Path,
    levels_dbu: list[float],
    folder: Path,
    captures: int,
) -> tuple[list[Preflight], DiskNeed]:
    """Every level's capture pre-flight with this reamp file, then the disk need of `captures`
    captures into `folder`. Raises StationError (SignalError) as a capture's pre-flight would,
    for the first level that cannot be captured, or when the disk is too small."""
    if not levels_dbu:  # nothing left to capture
        return [], check_disk(folder, 0, 0)
    _file, plans = level_plans(profile, Path(reamp_path), sorted(set(levels_dbu)))
    per = capture_bytes(plans[0], Path(reamp_path).stat().st_size, profile)
    return plans, check_disk(folder, captures, per)


def check_streams(interface: AudioInterface, profile: Any, reamp_path: Path) -> None:
    """Refuse (DeviceError) a profile whose channels or rate the opened interface lacks."""
    validate_streams(interface, CaptureRequest(profile, Path(reamp_path), 0.0, "preflight", Path()))


def training_warnings(schedule: list[Setting], default_dbu: float | None) -> list[str]:
    """What a parametric model of this schedule would be refused for, known before the first
    capture: per reamp level (a model carries one), fewer than two training settings or no
    held-out one. Snapshots (one model per setting) still train."""
    levels: dict[float | None, list[str]] = {}
    for s in schedule:
        levels.setdefault(s.reamp_dbu if s.reamp_dbu is not None else default_dbu, []).append(
            s.role
        )
    out = []
    for level, roles in sorted(levels.items(), key=lambda kv: kv[0] or 0.0):
        train, held = roles.count("train"), roles.count("holdout")
        if train < 2 or held == 0:
            at = "" if len(levels) == 1 or level is None else f" at {level:g} dBu"
            out.append(
                f"a parametric model of this sweep{at} would be refused: it has {train} "
                f"training and {held} held-out setting(s) (it needs two and one); one model "
                "per setting can still be trained"
            )
    return out
