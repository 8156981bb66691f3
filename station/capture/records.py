"""A capture's records: what was asked, planned, played and decided, and capture.json from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..events import Confirm, Emit, StopFlag, confirm_all, ignore
from ..interface.profiles import Profile, has_timing_reference
from ..reamp.files import ReampInfo
from ..signal import latency
from . import checks

SCHEMA_VERSION = 1


@dataclass
class CaptureRequest:
    """What the user asked for: profile, file, level, name and gear description."""

    profile: Profile
    reamp_path: Path
    reamp_dbu: float
    name: str
    captures_dir: Path
    force: bool = False
    gear: dict[str, str] = field(default_factory=dict)
    virtual_gear: str | None = None  # which simulated gear, on the virtual rig
    retakes: int = 0  # takes spoilt by an over/underflow are played again this many times
    knobs: dict[str, float] = field(default_factory=dict)  # the gear's knob values, if known
    switches: dict[str, str] = field(default_factory=dict)  # the gear's switch positions
    sweep: dict[str, object] | None = None  # session, setting id and role, in a sweep
    use_timing: bool = True  # time the take with the profile's timing reference, if it has one
    # Given, the report picture is drawn later by the job handed to it (a sweep draws it
    # while the servos move to the next setting); else before the folder is committed.
    report_later: Callable[[Callable[[], None]], None] | None = None


@dataclass(frozen=True)
class Preflight:
    """The level plan for a capture, decided before anything plays."""

    info: ReampInfo
    gain_db: float
    true_peak_dbfs: float
    max_reamp_dbu: float
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Quiet:
    """The return recorded with the gear on and silent."""

    noise_dbfs: float
    hum_dbfs: float
    mains_hz: float
    audio: np.ndarray


@dataclass(frozen=True)
class Take:
    """One take: what played (file, preamble, pre-roll) and what came back, in samples."""

    x: np.ndarray  # the reamp file, as input.wav holds it
    played: np.ndarray  # the preamble (custom files) and the file: what timing methods see
    rec: np.ndarray  # the whole return, pre-roll and tail included
    lead: int  # preamble frames before the file
    preroll: int  # silence before anything plays
    samplerate: int
    reference_delay: float | None  # the timing reference's delay in this stream, if measured


@dataclass(frozen=True)
class Analysis:
    """How a take was aligned and what the checks said."""

    decision: latency.LatencyDecision
    trainer_raw: latency.TrainerBlips
    checks: list[checks.Check]

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class Hooks:
    """How the procedure reaches its front end: events out, bench prompts, the stop flag."""

    emit: Emit = ignore
    confirm: Confirm = confirm_all
    stop: StopFlag | None = None


@dataclass
class CaptureResult:
    """A finished capture: where it is, the levels, the latency and the verdict."""

    capture_dir: Path
    input_level_dbu: float
    output_level_dbu: float
    latency_samples: float
    passed: bool
    checks: list[checks.Check]
    record: dict[str, Any]


def capture_record(
    req: CaptureRequest,
    plan: Preflight,
    tk: Take,
    quiet: Quiet,
    result: Analysis,
    started: dt.datetime,
    spoilt: list[str],
) -> dict[str, Any]:
    """capture.json for a finished take (docs/files.md): levels, latency, checks, profile."""
    info, prof, decision = plan.info, req.profile, result.decision
    reference_delay = tk.reference_delay
    timing = None
    if has_timing_reference(prof) and req.use_timing:
        timing = {
            "timing_out": prof.timing_out,
            "timing_in": prof.timing_in,
            "reference_delay_samples": reference_delay,  # None: the marker did not come back
            "calibration_reference_delay_samples": prof.timing_reference_delay_samples,
            "stream_change_samples": None
            if reference_delay is None
            else reference_delay - prof.timing_reference_delay_samples,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "station_version": __version__,
        "name": req.name,
        "input_level_dbu": req.reamp_dbu,
        "output_level_dbu": prof.return_dbu_at_0dbfs,
        "playback_gain_db": plan.gain_db,
        "reamp_file": {
            "name": info.path.name,
            "md5": info.md5,
            "kind": info.kind,
            "label": info.label,
            "recognised_by": info.recognised_by,
            "recognition": info.recognition,
            "samplerate": info.samplerate,
            "frames": info.frames,
            "true_peak_dbfs": plan.true_peak_dbfs,
        },
        "max_reamp_dbu": plan.max_reamp_dbu,
        "latency": {
            "estimates_samples": decision.estimates,
            "used": decision.used,
            "latency_samples": decision.latency_samples,
            "shift_samples": decision.shift_samples,
            "polarity": decision.polarity,
            "disagreement_samples": decision.disagreement_samples,
            "message": decision.message,
            "agree": decision.agree,
            "timing_reference": timing,
            "assumes_calibrated_latency": decision.used == "loopback",
            "calibration_spread_samples": prof.latency_spread_samples,
            "moved_since_calibration_samples": decision.moved_samples,
            "preroll_samples": tk.preroll,
            "preamble_samples": tk.lead,
            "trainer_threshold": result.trainer_raw.threshold,
        },
        "latency_samples": decision.latency_samples,
        "polarity": decision.polarity,
        "noise": {
            "noise_floor_dbfs": quiet.noise_dbfs,
            "hum_dbfs": quiet.hum_dbfs,
            "mains_hz": quiet.mains_hz,
        },
        "passed": result.passed,
        "checks": [c.to_json() for c in result.checks],
        "knobs": dict(req.knobs),
        "switches": dict(req.switches),
        "sweep": req.sweep,
        "spoilt_takes": list(spoilt),
        "gear": dict(req.gear),
        "virtual_gear": req.virtual_gear,
        "profile": asdict(prof),
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
