"""Plan files: a plan read back from its JSON, with every setting checked against its controls."""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import StationError
from ..phrases import Phrase
from .adaptive_spec import AdaptiveSpec
from .design import (
    DEFAULT_ANCHOR_EVERY,
    DEFAULT_CAPTURE_S,
    ROLES,
    SCHEMA_VERSION,
    STATION_OVERHEAD_S,
    KnobRange,
    Plan,
    PlanRequest,
    Setting,
    SwitchChoice,
)

# A setting's id names its capture folder inside the session folder, so it must be one plain
# folder name there: no path separators, no "..", no dots at all (the session's own files
# have them), none of the session's own folders.
SETTING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
RESERVED_IDS = frozenset({"models", "training"})


def check_setting_id(setting_id: object) -> None:
    """Refuse (StationError) an id that is not a plain name a session folder can hold."""
    if (
        not isinstance(setting_id, str)
        or not SETTING_ID.match(setting_id)
        or setting_id.lower() in RESERVED_IDS
    ):
        raise StationError(
            f"the plan has a setting id {setting_id!r} that is not a plain name",
            "setting ids name folders inside the session: letters, digits, '_' or '-' (up to "
            "32), starting with a letter or digit, not 'models' or 'training'; "
            + Phrase("make the plan again with {plan}"),
        )


def plan_from_json(data: dict[str, Any]) -> Plan:
    """A plan from its file content; StationError when it is malformed or from a newer schema."""
    try:
        version = int(data.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise StationError(
                f"the plan is from a newer station (schema {version}, this one reads "
                f"{SCHEMA_VERSION})",
                "update the station",
            )
        req = PlanRequest(
            knobs=tuple(
                KnobRange(str(k["name"]), float(k["min"]), float(k["max"])) for k in data["knobs"]
            ),
            switches=tuple(
                SwitchChoice(str(s["name"]), tuple(str(p) for p in s["positions"]))
                for s in data["switches"]
            ),
            settings=sum(s["role"] != "anchor" for s in data["settings"]),
            method=str(data["method"]),
            holdout=int(data.get("holdout", 0)),
            levels_dbu=tuple(float(v) for v in data.get("reamp_levels_dbu", [])),
            seed=int(data["seed"]),
            corners=bool(data.get("corners", False)),
            centre=bool(data.get("centre", False)),
            anchor_every=int(data.get("anchor_every", DEFAULT_ANCHOR_EVERY)),
            capture_s=float(data.get("capture_s", DEFAULT_CAPTURE_S)),
            rig=data.get("rig"),
            overhead_s=float(data.get("station_overhead_s", STATION_OVERHEAD_S)),
            adaptive=None
            if data.get("adaptive") is None
            else AdaptiveSpec.from_json(data["adaptive"]),
        )
        for s in data["settings"]:
            check_setting_id(s["id"])
        settings = [
            Setting(
                s["id"],
                {str(k): float(v) for k, v in s["knobs"].items()},
                {str(k): str(v) for k, v in s["switches"].items()},
                None if s.get("reamp_dbu") is None else float(s["reamp_dbu"]),
                str(s["role"]),
            )
            for s in data["settings"]
        ]
        model = data.get("motion_model", {})
        plan = Plan(
            req,
            settings,
            float(data.get("estimated_motion_s", 0.0)),
            float(data.get("unordered_motion_s", 0.0)),
            float(data.get("estimated_total_s", 0.0)),
            float(model.get("slew_us_per_s", 0.0)),
            bool(model.get("nominal", True)),
            [str(n) for n in data.get("notes", [])],
        )
    except StationError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StationError(
            f"the plan is malformed ({type(exc).__name__}: {exc})",
            Phrase("make it again with {plan}"),
        ) from None
    check_settings(plan)
    if plan.request.adaptive is not None:
        plan.request.adaptive.check(sum(s.role == "holdout" for s in plan.settings))
    return plan


def check_settings(plan: Plan) -> None:
    """Every setting names exactly the plan's controls, inside their ranges, with a known
    role and a unique id; StationError otherwise."""
    knobs = {k.name: k for k in plan.request.knobs}
    switches = {s.name: s for s in plan.request.switches}
    seen: set[str] = set()
    for s in plan.settings:
        check_setting_id(s.id)
        where = f"setting {s.id}"
        if s.id in seen:
            raise StationError(f"the plan lists {where} twice", Phrase("make it again with {plan}"))
        seen.add(s.id)
        if s.role not in ROLES:
            raise StationError(f"{where} has an unknown role {s.role!r}", f"roles: {ROLES}")
        unknown = sorted((set(s.knobs) - set(knobs)) | (set(s.switches) - set(switches)))
        if unknown:
            raise StationError(
                f"{where} names an unknown knob or switch: {', '.join(unknown)}",
                f"the plan's controls are {', '.join([*knobs, *switches])}",
            )
        missing = sorted((set(knobs) - set(s.knobs)) | (set(switches) - set(s.switches)))
        if missing:
            raise StationError(f"{where} does not set {', '.join(missing)}")
        for name, value in s.knobs.items():
            k = knobs[name]
            if not (math.isfinite(value) and k.min <= value <= k.max):
                raise StationError(
                    f"{where}: {name}={value:g} is outside the printed range {k.min:g}..{k.max:g}",
                    "make the plan again for this gear",
                )
        for name, pos in s.switches.items():
            if pos not in switches[name].positions:
                raise StationError(
                    f"{where}: {name}={pos} is not a position of {name}",
                    f"positions: {', '.join(switches[name].positions)}",
                )
