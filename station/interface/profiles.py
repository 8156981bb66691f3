"""Interface calibration profiles: calibration/profiles/<name>.toml, saved atomically."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from .. import __version__
from ..errors import ProfileError
from ..fsutil import atomic_write_text
from ..home import check_name, list_profiles, profiles_dir
from ..phrases import Phrase

SCHEMA_VERSION = 1


@dataclass
class Profile:
    """A measured interface: device, channels, levels with uncertainty, latency, noise."""

    name: str
    device_name: str
    host_api: str
    samplerate: int
    blocksize: int
    send_channel: int
    return_channel: int
    send_dbu_at_0dbfs: float
    send_uncertainty_db: float
    return_dbu_at_0dbfs: float
    return_uncertainty_db: float
    latency_samples: float
    latency_uncertainty_samples: float
    latency_polarity: int
    tone_hz: float
    tone_dbfs: float
    loop_tone_dbfs: float
    loop_return_dbfs: float
    meter: str
    meter_reading_vrms: float
    meter_raw: str
    return_noise_floor_dbfs: float
    gain_note: str = ""
    latency_spread_samples: float = 0.0  # how far the latency moved across calibration streams
    timing_out: int = 0  # the timing reference's output (1-based); 0: none
    timing_in: int = 0  # its input, patched permanently into it
    timing_reference_delay_samples: float = 0.0  # its delay, averaged over calibration's streams
    timing_marker_dbfs: float = 0.0  # the marker's level
    created: str = ""
    station_version: str = __version__
    schema_version: int = SCHEMA_VERSION


def has_timing_reference(profile: Profile) -> bool:
    """True when the profile was calibrated with a timing reference pair."""
    return profile.timing_out > 0 and profile.timing_in > 0


def profile_path(home: Path, name: str) -> Path:
    """The file a profile called `name` lives in."""
    return profiles_dir(home) / f"{check_name(name)}.toml"


def now_iso() -> str:
    """The current local time, ISO 8601 with offset, to the second."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def save_profile(home: Path, profile: Profile) -> Path:
    """Write the profile atomically (stamping `created` if empty); returns its path."""
    if not profile.created:
        profile.created = now_iso()
    data = asdict(profile)
    path = profile_path(home, profile.name)
    atomic_write_text(path, tomli_w.dumps(data))
    return path


def load_profile(home: Path, name: str) -> Profile:
    """Read and validate a profile by name; raises ProfileError with what is wrong."""
    path = profile_path(home, name)
    if not path.exists():
        known = ", ".join(list_profiles(home)) or "none yet"
        raise ProfileError(
            f"there is no profile {name!r} in {profiles_dir(home)}",
            Phrase("profiles: {known}; measure one with {calibrate}", known=known),
        )
    return read_profile_file(path)


def read_profile_file(path: Path) -> Profile:
    """Parse one profile file, checking its schema, keys and number types."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(
            f"cannot read the profile {path}: {exc}", "calibrate again to rewrite it"
        ) from None
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ProfileError(
            f"{path} has schema version {version!r}; this station reads {SCHEMA_VERSION}",
            "calibrate again, or update the station",
        )
    kwargs: dict[str, Any] = {}
    for f in fields(Profile):
        if f.name not in data:
            if f.default is not MISSING:  # has a default: optional
                continue
            raise ProfileError(f"{path} lacks {f.name!r}", "calibrate again to rewrite it")
        value = data[f.name]
        want = {"float": (int, float), "int": (int,), "str": (str,)}.get(str(f.type), (object,))
        if not isinstance(value, want) or isinstance(value, bool):
            raise ProfileError(
                f"{path}: {f.name} = {value!r} is not a {f.type}", "calibrate again to rewrite it"
            )
        if isinstance(value, float) and not math.isfinite(value):  # ints are finite
            raise ProfileError(
                f"{path}: {f.name} is not a finite number", "calibrate again to rewrite it"
            )
        kwargs[f.name] = value
    return Profile(**kwargs)
