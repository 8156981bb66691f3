"""`sweep export`: dataset.json in NAM's parametric layout and a snapshot manifest.

dataset.json (docs/files.md): {"type": "parametric", "common": {"x_path", "delay"},
"train": [...], "validation": [...]} — the holdout settings are the validation
set — with the calibration levels and the knob/switch specs beside it. Each item
is {"y_path", "params": {name: value}, "y_scale", ...}; a switch's value is the index
of its position in the spec's list. Outputs are already aligned, so the delay is 0.
Captures recorded at different return levels (the return was measured again
mid-session) each carry the y_scale that brings them to the common output level
the calibration states.
manifest.json lists one input/output pair per captured setting with its values,
for training one standard model per setting.
Every path in both files is relative to the session folder they sit in (POSIX
separators), so a session copied to another folder or machine still trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..fsutil import write_json
from ..phrases import Phrase
from ..plan.design import Setting
from ..signal.levels import return_rescale
from .journal import Journal, replay
from .session import Session, committed_capture

DATASET = "dataset.json"
MANIFEST = "manifest.json"


@dataclass
class ExportResult:
    """Where the files went and how many settings each set has."""

    dataset_path: Path
    manifest_path: Path
    train: int
    validation: int
    left_out: list[dict[str, str]]


def _params(session: Session, s: Setting, levels: list[float]) -> dict[str, float]:
    req = session.plan.request
    params: dict[str, float] = {k.name: float(s.knobs[k.name]) for k in req.knobs}
    for sw in req.switches:
        params[sw.name] = float(sw.positions.index(s.switches[sw.name]))
    if len(levels) > 1:
        params["input_level_dbu"] = float(session.level_of(s))
    return params


def export_session(session: Session) -> ExportResult:
    """Write SESSION/dataset.json and SESSION/manifest.json from the finished captures.

    Raises StationError when there is nothing to export or the captures disagree on
    the input file.
    """
    state = replay(Journal(session.folder).read(), [s.id for s in session.schedule])
    metas: dict[str, dict[str, Any]] = {}
    left_out: list[dict[str, str]] = []
    for s in session.schedule:
        status = state.status[s.id]
        meta = committed_capture(session.folder, s.id) if status == "done" else None
        if meta is None:
            if s.role != "anchor":
                left_out.append({"id": s.id, "reason": status})
            continue
        metas[s.id] = meta
        if s.id in state.suspect and s.role != "anchor":
            why = state.suspect_reason.get(s.id, "drift")
            left_out.append({"id": s.id, "reason": f"suspect ({why})"})
    if not metas:
        raise StationError(
            f"session {session.name} has no finished captures to export",
            Phrase("run or resume it first: {sweep_resume}", session=session.name),
        )
    md5s = {m["reamp_file"]["md5"] for m in metas.values()}
    if len(md5s) != 1:
        raise StationError(
            "the session's captures used different reamp files", "export needs one input file"
        )
    first = next(iter(metas))
    levels = sorted({session.level_of(session.setting(i)) for i in metas})
    excluded = {e["id"] for e in left_out}
    outs = {sid: float(m["output_level_dbu"]) for sid, m in metas.items()}
    trained = [
        outs[s.id]
        for s in session.schedule
        if s.id in metas and s.id not in excluded and s.role in ("train", "holdout")
    ]
    common = common_output_level(trained or list(outs.values()))
    sets: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
    manifest = []
    for s in session.schedule:
        if s.id not in metas:
            continue
        meta = metas[s.id]
        item = {
            "y_path": in_session(s.id, "output.wav"),
            "params": _params(session, s, levels),
            "id": s.id,
            "knobs": dict(s.knobs),
            "switches": dict(s.switches),
            "input_level_dbu": meta["input_level_dbu"],
            "output_level_dbu": meta["output_level_dbu"],
            "latency_samples": meta["latency_samples"],
            "y_scale": return_rescale(outs[s.id], common),
        }
        if s.id not in excluded and s.role in ("train", "holdout"):
            sets["train" if s.role == "train" else "validation"].append(item)
        manifest.append(
            {
                "id": s.id,
                "role": s.role,
                "input_path": in_session(s.id, "input.wav"),
                "output_path": item["y_path"],
                "capture_dir": in_session(s.id),
                "knobs": dict(s.knobs),
                "switches": dict(s.switches),
                "input_level_dbu": meta["input_level_dbu"],
                "output_level_dbu": meta["output_level_dbu"],
                "y_scale": item["y_scale"],
                "latency_samples": meta["latency_samples"],
                "passed": meta["passed"],
                "suspect": s.id in state.suspect,
                "suspect_reason": state.suspect_reason.get(s.id) if s.id in state.suspect else None,
            }
        )
    req = session.plan.request
    rig = session.data.get("rig_profile") or {}
    rig_knobs = {k.get("name"): k for k in rig.get("knobs", [])}
    knob_specs = [
        {"name": k.name, "min": k.min, "max": k.max, **_rig_part(rig_knobs.get(k.name))}
        for k in req.knobs
    ]
    switch_specs = [
        {
            "name": sw.name,
            "positions": list(sw.positions),
            "values": {p: i for i, p in enumerate(sw.positions)},
        }
        for sw in req.switches
    ]
    profile = session.data["profile"]
    dataset = {
        "type": "parametric",
        "common": {"x_path": in_session(first, "input.wav"), "delay": 0},
        "train": sets["train"],
        "validation": sets["validation"],
        "calibration": {
            "input_level_dbu": levels[0] if len(levels) == 1 else None,
            "levels_dbu": levels,
            "output_level_dbu": common,
            "output_levels_dbu": sorted(set(trained or outs.values())),
            "profile": session.data["profile_name"],
        },
        "knobs": knob_specs,
        "switches": switch_specs,
        "sample_rate": profile["samplerate"],
        "session": session.name,
        "rig": session.data.get("rig"),
        "left_out": left_out,
    }
    dataset_path = session.folder / DATASET
    manifest_path = session.folder / MANIFEST
    write_json(dataset_path, dataset)
    write_json(
        manifest_path,
        {
            "session": session.name,
            "reamp_file": session.data["reamp_file"],
            "calibration": dataset["calibration"],
            "knobs": knob_specs,
            "switches": switch_specs,
            "snapshots": manifest,
        },
    )
    return ExportResult(
        dataset_path, manifest_path, len(sets["train"]), len(sets["validation"]), left_out
    )


def in_session(*parts: str) -> str:
    """A path inside the session folder, relative to it: what dataset.json and manifest.json
    write (setting ids are plain folder names, so this never leaves the folder)."""
    return "/".join(parts)


def common_output_level(levels_dbu: list[float]) -> float:
    """The one output level (dBu at 0 dBFS) a session's captures train at: the highest return
    level any was recorded at, so no capture is scaled up (every y_scale is at most 1, and
    nothing that fitted under full scale is pushed past it)."""
    return max(levels_dbu)


def _rig_part(spec: dict[str, Any] | None) -> dict[str, Any]:
    if not spec:
        return {}
    return {k: spec[k] for k in ("channel", "points") if k in spec}
