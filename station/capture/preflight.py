"""A capture's pre-flight: the reamp file and the level plan, checked before anything plays.

docs/design.md §2: the file plays at P dBu with gain g = P − S; its true peak plus g
must stay at or under −0.1 dBFS. The file is read and checked once (`read_reamp`),
then each level is planned against it (`level_plan`), so a sweep can check every
level of its plan before its session exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SignalError, StationError
from ..home import check_name
from ..interface.profiles import Profile
from ..phrases import Phrase
from ..reamp import files as reamp
from ..signal import levels
from .records import CaptureRequest, Preflight

CEILING_DBFS = -0.1
USUAL_REAMP_DBU = (-10.0, 18.0)


@dataclass(frozen=True)
class ReampFile:
    """A reamp file read, recognised and found playable at a profile's rate."""

    samples: np.ndarray
    info: reamp.ReampInfo
    true_peak_dbfs: float


def check_level_number(reamp_dbu: float) -> None:
    """Refuse a reamp level that is not a finite number of dBu (StationError)."""
    if not (isinstance(reamp_dbu, int | float) and math.isfinite(reamp_dbu)):
        raise StationError(
            "the reamp level must be a number of dBu", Phrase("e.g. {reamp_dbu} 12")
        )


def read_reamp(path: Path, profile: Profile) -> ReampFile:
    """Read and check a reamp file for this profile; SignalError/StationError when it cannot
    make a capture (missing, not audio, not mono, too short, silent, another sample rate)."""
    if not Path(path).is_file():
        raise SignalError(f"no reamp file at {path}", "give the path to a 48 kHz mono WAV")
    x, sr, _subtype = reamp.read_mono(path)
    info = reamp.recognise(path, (x, sr))
    reamp.check_playable(x, sr, Path(path).name)
    if info.samplerate != profile.samplerate:
        raise StationError(
            f"the reamp file is at {info.samplerate} Hz but the profile at "
            f"{profile.samplerate} Hz",
            "calibrate at 48000 Hz for NAM",
        )
    return ReampFile(x, info, reamp.true_peak_dbfs(x))


def level_plan(reamp_dbu: float, profile: Profile, file: ReampFile) -> Preflight:
    """The gain and headroom for playing `file` at `reamp_dbu` through this profile's send.

    Raises StationError when the file's true peak plus the gain would pass −0.1 dBFS,
    saying the highest dBu this interface setting can deliver.
    """
    check_level_number(reamp_dbu)
    peak = file.true_peak_dbfs
    gain = levels.reamp_gain_db(reamp_dbu, profile.send_dbu_at_0dbfs)
    most = levels.max_reamp_dbu(profile.send_dbu_at_0dbfs, peak, CEILING_DBFS)
    if peak + gain > CEILING_DBFS:
        raise StationError(
            f"{reamp_dbu:g} dBu would clip the send: the file's true peak is {peak:.2f} dBFS "
            f"and needs {gain:+.2f} dB of gain",
            f"this interface setting delivers at most {most:.2f} dBu with this file; turn the "
            "output up (and re-calibrate the send) or choose a lower level",
        )
    warns = list(file.info.notes)
    lo, hi = USUAL_REAMP_DBU
    if not lo <= reamp_dbu <= hi:
        warns.append(
            f"{reamp_dbu:g} dBu is outside the usual reamp range ({lo:g} to "
            f"{hi:+g} dBu): is that the level your gear sees from a guitar?"
        )
    return Preflight(file.info, gain, peak, most, tuple(warns))


def preflight(req: CaptureRequest) -> tuple[Preflight, np.ndarray]:
    """Check the level plan; returns it with the file's samples. Refuses before playing.

    Raises StationError when the name or level is unusable, the file cannot make a
    capture, or the level would clip the send.
    """
    check_name(req.name)
    check_level_number(req.reamp_dbu)
    file = read_reamp(req.reamp_path, req.profile)
    return level_plan(req.reamp_dbu, req.profile, file), file.samples


def level_plans(
    profile: Profile, reamp_path: Path, levels_dbu: list[float]
) -> tuple[ReampFile, list[Preflight]]:
    """Every level's plan for one reamp file, the file read once (what a sweep checks before
    its session exists); StationError as `read_reamp` and `level_plan` raise it."""
    for level in levels_dbu:
        check_level_number(level)
    file = read_reamp(reamp_path, profile)
    return file, [level_plan(level, profile, file) for level in levels_dbu]
