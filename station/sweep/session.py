"""The sweep session folder: session.json (plan, snapshots, options, status) and its checks.

`captures/<session>/session.json` holds what the sweep was started with; resume
compares it with what is on disk now and refuses, saying why, when the plan, the
interface profile, the rig profile or the reamp file changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..capture.folder import read_capture_meta
from ..errors import StationError
from ..fsutil import json_safe, not_json, write_json
from ..phrases import Phrase
from ..plan.design import Plan, Setting, with_anchors
from ..plan.file import plan_from_json
from .journal import JOURNAL, SweepState, read_events

SCHEMA_VERSION = 1
SESSION_FILE = "session.json"
ON_DRIFT = ("continue", "pause", "recapture")
# Resuming after a re-calibration: what must not have changed, and by how much the rest may.
SAME_STREAM = (
    "device_name", "host_api", "samplerate", "blocksize", "send_channel", "return_channel",
    "timing_out", "timing_in",
)  # fmt: skip
SEND_TOLERANCE_DB = 0.05
LATENCY_TOLERANCE_SAMPLES = 1.0


@dataclass
class SweepOptions:
    """How the sweep behaves: retakes, failure policy, drift thresholds and reaction."""

    retakes: int = 2
    stop_on_fail: bool = False
    on_drift: str = "continue"
    drift_esr_max: float = 0.01
    drift_level_db_max: float = 0.2
    reamp_dbu: float | None = None  # for plans without reamp levels
    gear: dict[str, str] = field(default_factory=dict)
    virtual_gear: str | None = None

    def validate(self) -> None:
        """Refuse options that make no sense (StationError)."""
        if self.retakes < 0:
            raise StationError(Phrase("{retakes} cannot be negative"), Phrase("e.g. {retakes} 2"))
        if self.on_drift not in ON_DRIFT:
            raise StationError(
                Phrase("unknown {on_drift} {value}", value=repr(self.on_drift)),
                f"choose {', '.join(ON_DRIFT)}",
            )
        if self.drift_esr_max <= 0 or self.drift_level_db_max <= 0:
            raise StationError("drift thresholds must be positive")


@dataclass
class Session:
    """An open sweep session: its folder, the schedule and what it was started with."""

    folder: Path
    data: dict[str, Any]
    plan: Plan
    schedule: list[Setting]
    options: SweepOptions

    @property
    def name(self) -> str:
        """The session's folder name."""
        return self.folder.name

    def setting(self, setting_id: str) -> Setting:
        """The scheduled setting with this id."""
        for s in self.schedule:
            if s.id == setting_id:
                return s
        raise KeyError(setting_id)

    def level_of(self, s: Setting) -> float:
        """The reamp level to play setting `s` at, in dBu."""
        level = s.reamp_dbu if s.reamp_dbu is not None else self.options.reamp_dbu
        if level is None:
            raise StationError(
                "the plan has no reamp levels, so the sweep needs one",
                Phrase(
                    "add {reamp_dbu_for_sweep} (the level your gear sees from a guitar, e.g. 12)"
                ),
            )
        return level

    def save_status(self, state: SweepState) -> None:
        """Rewrite session.json with each setting's status (atomically)."""
        # A suspect setting reads "suspect" here, so a reader of session.json alone (the
        # parametric trainer without dataset.json) leaves it out too.
        self.data["status"] = {
            s.id: "suspect" if s.id in state.suspect else state.status.get(s.id, "pending")
            for s in self.schedule
        }
        self.data["suspect"] = sorted(state.suspect)
        self.data["suspect_reasons"] = {
            i: state.suspect_reason.get(i, "drift") for i in sorted(state.suspect)
        }
        write_json(self.folder / SESSION_FILE, self.data)


def snapshot(obj: Any) -> dict[str, Any] | None:
    """A JSON-able copy of a profile (to_dict, a dataclass, to_json or its __dict__)."""
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):  # a rig profile's canonical form
        return json_safe(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe(dataclasses.asdict(obj))
    if hasattr(obj, "to_json"):
        return json_safe(obj.to_json())
    return json_safe(dict(vars(obj)))


def load_plan_file(path: Path) -> tuple[Plan, dict[str, Any]]:
    """A plan file and its raw content; StationError when missing or corrupt."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StationError(f"no plan at {path}", Phrase("make one with {plan}")) from None
    except IsADirectoryError:
        raise StationError(
            f"{path} is a folder, not a plan", Phrase("make one with {plan}")
        ) from None
    except OSError as exc:
        raise StationError(f"cannot read the plan {path}: {exc}", "make it again") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StationError(
            not_json(Path(path), "a plan", exc), Phrase("give the file {plan} wrote")
        ) from None
    if not isinstance(raw, dict):
        raise StationError(f"{path} is not a plan", Phrase("make one with {plan}"))
    return plan_from_json(raw), raw


def schedule_of(plan: Plan, anchor_every: int | None) -> list[Setting]:
    """The settings in playing order: the plan's, or with its anchor every `anchor_every`
    settings; StationError when that asks for an anchor the plan lacks."""
    if anchor_every is None:
        return plan.settings
    body = [s for s in plan.settings if s.role != "anchor"]
    anchors = [s for s in plan.settings if s.role == "anchor"]
    if not anchors:
        raise StationError("the plan has no anchor setting", Phrase("make it again with {plan}"))
    return with_anchors(body, anchors[0], anchor_every)


def create_session(
    folder: Path,
    plan_path: Path,
    *,
    profile: Any,
    rig_name: str | None,
    rig_profile: Any,
    reamp: dict[str, Any],
    options: SweepOptions,
    anchor_every: int | None,
) -> Session:
    """Make the session folder and its session.json; refuses an existing session."""
    options.validate()
    plan, raw = load_plan_file(plan_path)
    if folder.exists() and any(not p.name.startswith(".") for p in folder.iterdir()):
        raise StationError(  # (a hidden .lock is the one starting it)
            f"a session called {folder.name!r} already exists",
            Phrase(
                "continue it with {sweep_resume}, or choose another {session_name}",
                session=folder.name,
            ),
        )
    schedule = schedule_of(plan, anchor_every)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "schema_version": SCHEMA_VERSION,
        "kind": "station-sweep",
        "name": folder.name,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "plan_path": str(Path(plan_path).resolve()),
        "plan": raw,
        "schedule": [s.to_json() for s in schedule],
        "profile_name": profile.name,
        "profile": snapshot(profile),
        "rig": rig_name,
        "rig_profile": snapshot(rig_profile),
        "reamp_file": reamp,
        "options": dataclasses.asdict(options),
        "status": {s.id: "pending" for s in schedule},
        "suspect": [],
    }
    write_json(folder / SESSION_FILE, data)
    return Session(folder, data, plan, schedule, options)


def open_session(folder: Path) -> Session:
    """An existing session; StationError when missing, corrupt or from a newer station."""
    path = Path(folder) / SESSION_FILE
    if not path.is_file():
        raise StationError(f"no sweep session at {folder}", Phrase("start one with {sweep_run}"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = int(data["schema_version"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise StationError(
            f"{path} is damaged", "the journal and captures are intact; ask for help"
        ) from None
    if version > SCHEMA_VERSION:
        raise StationError(
            f"the session is from a newer station (schema {version}, this one reads "
            f"{SCHEMA_VERSION})",
            "update the station to continue it",
        )
    plan = plan_from_json(data["plan"])
    schedule = list(data["schedule"])
    # An adaptive round's batch is journalled before session.json is rewritten with it.
    have = {s["id"] for s in schedule}
    for e in read_events(Path(folder) / JOURNAL):
        if e["event"] == "chosen":
            schedule += [
                schedule_entry(s, e["round"]) for s in e.get("settings", []) if s["id"] not in have
            ]
            have.update(s["id"] for s in e.get("settings", []))
    data["schedule"] = schedule
    schedule_plan = plan_from_json({**data["plan"], "settings": schedule, "adaptive": None})
    known = {f.name for f in dataclasses.fields(SweepOptions)}
    options = SweepOptions(**{k: v for k, v in data.get("options", {}).items() if k in known})
    return Session(Path(folder), data, plan, schedule_plan.settings, options)


def schedule_entry(setting: dict[str, Any], round_no: int) -> dict[str, Any]:
    """A setting an adaptive round chose, as session.json's schedule holds it: a training
    setting notes its round (for reports)."""
    return {**setting, **({"round": round_no} if setting.get("role") == "train" else {})}


def check_unchanged(
    session: Session, *, profile: Any, rig_profile: Any, reamp_md5: str
) -> list[str]:
    """Refuse to resume when what the sweep started with has changed (StationError, saying
    what); returns notes on what changed that the session takes (a re-measured return)."""
    d = session.data
    plan_path = Path(d["plan_path"])
    if plan_path.is_file():
        try:
            now = json.loads(plan_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            now = None
        if now != d["plan"]:
            raise StationError(
                f"the plan {plan_path} changed since the sweep started",
                "put the original plan back, or start a new session with the new plan",
            )
    notes = profile_changes(d["profile_name"], d["profile"], snapshot(profile) or {})
    if snapshot(rig_profile) != d["rig_profile"]:
        raise StationError(
            f"the rig profile {d['rig']!r} changed since the sweep started",
            "knob values would map to other positions: start a new session",
        )
    if reamp_md5 != d["reamp_file"]["md5"]:
        raise StationError(
            f"the reamp file {d['reamp_file']['path']} changed since the sweep started",
            "put the original file back, or start a new session",
        )
    return notes


def _latency_path(p: dict[str, Any]) -> float:
    """The latency a capture aligns by, less the timing reference's delay when it has one (a
    reference moves with each stream, and the captures follow it)."""
    latency = float(p.get("latency_samples", 0.0))
    if p.get("timing_out") and p.get("timing_in"):
        latency -= float(p.get("timing_reference_delay_samples", 0.0))
    return latency


def profile_changes(name: str, then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Compare the interface profile a session started with (`then`) and the one on disk now.

    A re-measured return level is taken: each capture records its own output level
    and the export scales them to one (notes say so). The send level must agree
    within the two measurements' uncertainty (at least SEND_TOLERANCE_DB), the
    latency within both calibrations' stream-to-stream spread plus
    LATENCY_TOLERANCE_SAMPLES, and the device, channels, rate and block size exactly;
    StationError says which changed.
    """
    if now == then:
        return []

    def refuse(what: str, why: str) -> StationError:
        return StationError(
            f"the interface profile {name!r} changed since the sweep started: {what}", why
        )

    for key in SAME_STREAM:
        if then.get(key) != now.get(key):
            raise refuse(
                f"its {key.replace('_', ' ')} is now {now.get(key)!r}, not {then.get(key)!r}",
                "the captures would come from another stream: start a new session",
            )
    send_then, send_now = float(then["send_dbu_at_0dbfs"]), float(now["send_dbu_at_0dbfs"])
    spread = math.hypot(
        float(then.get("send_uncertainty_db", 0.0)), float(now.get("send_uncertainty_db", 0.0))
    )
    if abs(send_now - send_then) > max(SEND_TOLERANCE_DB, spread):
        raise refuse(
            f"the send level is {send_now:.2f} dBu at 0 dBFS, not {send_then:.2f} "
            f"({send_now - send_then:+.2f} dB)",
            "the captures would not share one input level: put the interface's output back "
            "where it was and calibrate again, or start a new session",
        )
    moved = _latency_path(now) - _latency_path(then)
    spreads = (float(p.get("latency_spread_samples", 0.0)) for p in (then, now))
    allowed = LATENCY_TOLERANCE_SAMPLES + max(spreads)
    if abs(moved) > allowed:
        raise refuse(
            f"the round-trip latency moved {moved:+.2f} samples (more than {allowed:.2f})",
            "the captures would not be aligned alike: start a new session",
        )
    r_then, r_now = float(then["return_dbu_at_0dbfs"]), float(now["return_dbu_at_0dbfs"])
    if r_now == r_then:
        return []
    return [
        f"the return was measured again ({r_then:.2f} → {r_now:.2f} dBu at 0 dBFS): captures "
        f"from here on record {r_now:.2f} dBu, and the export scales every capture to one "
        "output level"
    ]


def discard_partials(folder: Path) -> list[str]:
    """Remove half-written capture folders (`.ID.*.partial`); returns their names."""
    gone = []
    for p in sorted(Path(folder).glob(".*.partial")):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
    return gone


def committed_capture(folder: Path, setting_id: str) -> dict[str, Any] | None:
    """The capture.json of a setting's finished capture folder, or None."""
    d = Path(folder) / setting_id
    if not (d / "capture.json").is_file():
        return None
    try:
        return read_capture_meta(d)
    except StationError:
        return None
