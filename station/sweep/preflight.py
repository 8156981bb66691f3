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
from ..events import Prompt
from ..phrases import Phrase
from ..plan.design import Plan, Setting, parametric_budget
from ..plan.trainable import parametric_gaps

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


NO_PARAMETRIC = "no_parametric_model"  # the Prompt kind: go on for snapshots only?


def parametric_question(
    plan: Plan, schedule: list[Setting], default_dbu: float | None
) -> Prompt | None:
    """The question to ask before sweeping a plan no parametric model could be trained on
    (at some reamp level), with the budget that would give one; None when nothing is
    missing. A face that cannot ask refuses instead, with the same text."""
    gaps = parametric_gaps(schedule, default_dbu)
    if not gaps:
        return None
    said = "; ".join(gap.text() for gap in gaps)
    budget = parametric_budget(plan.request)
    if budget is None:
        fix = "no plan of these controls and levels can give one"
    elif budget > plan.request.settings:
        fix = f"a plan of {budget} settings (one held out per reamp level) would give one"
    else:
        fix = "a plan that holds one setting out per reamp level would give one"
    return Prompt(
        NO_PARAMETRIC,
        f"{said[:1].upper()}{said[1:]}. {fix[:1].upper()}{fix[1:]}. Sweep this plan anyway?",
    )
