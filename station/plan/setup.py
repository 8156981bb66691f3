"""Setting a plan up from a front end's choices: the controls from a rig profile or typed by
hand, the motion model that times them, the summary both faces show, and writing the file.

The CLI's `station plan` and the TUI's plan form call these same functions, so a
plan made in either face is the same plan for the same choices.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..fsutil import atomic_write_text
from ..rig.motion import MotionModel, nominal_model, rig_model
from ..rig.profiles import RigProfile
from .adaptive import make_adaptive_plan
from .design import KnobRange, Plan, PlanRequest, SwitchChoice, make_plan, validate

ROLE_ORDER = ("train", "holdout", "anchor")


def for_rig(req: PlanRequest, rig: RigProfile) -> tuple[PlanRequest, MotionModel]:
    """`req` with the rig profile's knobs and switches (and its name), and the rig's own
    motion model: its measured points and slew speed time the moves."""
    req = dataclasses.replace(
        req,
        knobs=tuple(KnobRange(k.name, float(k.min), float(k.max)) for k in rig.knobs),
        switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in rig.switches),
        rig=rig.name,
    )
    return req, rig_model(rig)


def by_hand(req: PlanRequest, slew_us_per_s: float) -> MotionModel:
    """The nominal motion model for controls typed by hand (no rig profile): a linear
    mapping over the servo range at `slew_us_per_s`. StationError for a bad request,
    checked before the model indexes its controls."""
    validate(req)
    return nominal_model(
        [(k.name, k.min, k.max) for k in req.knobs],
        [(s.name, s.positions) for s in req.switches],
        slew_us_per_s,
    )


def hms(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def role_counts(plan: Plan) -> dict[str, int]:
    """How many of the plan's captures train, are held out, and are drift anchors."""
    return {role: sum(s.role == role for s in plan.settings) for role in ROLE_ORDER}


def plan_summary(plan: Plan) -> list[str]:
    """The plan in a few lines: its captures by role, the motion time ordered and unordered,
    the estimated total, then its notes. Plain words: both faces show them as they are."""
    r = plan.request
    roles = role_counts(plan)
    saved = plan.unordered_motion_s - plan.motion_s
    return [
        f"{len(plan.settings)} captures: {roles['train']} training, {roles['holdout']} held out, "
        f"{roles['anchor']} anchors ({r.method}, seed {r.seed})",
        f"motion {hms(plan.motion_s)} ordered by travel, {hms(plan.unordered_motion_s)} "
        f"unordered ({saved:.0f} s saved)",
        f"estimated total {hms(plan.total_s)} ({r.capture_s:g} s a capture, "
        f"{r.overhead_s:.1f} s station overhead a setting)",
        *(f"note: {note}" for note in plan.notes),
    ]


def make_and_write(
    req: PlanRequest,
    model: MotionModel,
    path: Path,
    *,
    overhead_s: float | None = None,
    note: str | None = None,
) -> Plan:
    """Make the plan and write it to `path` atomically (indented JSON, docs/files.md);
    StationError for a bad request, before anything is written. `overhead_s` is the station
    overhead per setting to estimate with (the request's when None); `note` says where it
    comes from."""
    if overhead_s is not None:
        req = dataclasses.replace(req, overhead_s=overhead_s)
    plan = make_adaptive_plan(req, model) if req.adaptive else make_plan(req, model)
    if note:
        plan.notes.append(note)
    atomic_write_text(Path(path), json.dumps(plan.to_json(), indent=2) + "\n")
    return plan
