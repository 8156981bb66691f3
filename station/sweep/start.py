"""Starting and resuming sweeps: the checks, the bench, the rig, the session — for any front end.

The CLI and the TUI both call these, so both refuse the same bad input with the
same words and open the rig the same way. The devices come from the front end
(SweepDevices): the core never opens the virtual rig itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..drivers.base import AudioInterface
from ..drivers.rig import ServoRig
from ..errors import StationError
from ..events import Confirm, Emit, StopFlag, ignore
from ..home import capture_path, check_name, session_folder
from ..interface.profiles import Profile, load_profile
from ..phrases import Phrase
from ..reamp.files import md5_of_file
from ..rig.profiles import RigProfile, load_rig
from .positioner import ManualPositioner, Positioner, RigPositioner
from .run import SweepRunner
from .session import SweepOptions, check_unchanged, create_session, load_plan_file, open_session


class SweepDevices(Protocol):
    """How a front end opens a sweep's devices (station.devices.SweepBench is the usual one)."""

    def interface(self, profile: Profile, virtual_gear: str | None) -> AudioInterface:
        """The audio interface `profile` was measured on (on the virtual rig, with that gear)."""
        ...

    def rig(self, port: str) -> ServoRig:
        """The servo rig on `port`, connected."""
        ...


@dataclass(frozen=True)
class SweepStart:
    """What a new sweep is asked to do: the plan, the devices by name, where it goes."""

    plan_path: Path
    profile_name: str
    rig_name: str  # a rig profile's name, or "none" to set the gear by hand
    out: str  # the session's name under captures/
    reamp_path: Path
    options: SweepOptions
    port: str | None = None  # None: the rig profile's port
    anchor_every: int | None = None  # None: the plan's


def default_virtual_gear(profile: Any, rig_name: str | None, gear: str | None) -> str | None:
    """The virtual gear: `gear`, else the knobbed overdrive when a rig turns knobs (None off the
    virtual rig)."""
    if profile.host_api != "virtual":
        return None
    return gear or ("clean" if rig_name in (None, "none") else "od")


def open_positioner(
    home: Path, rig_name: str | None, port: str | None, devices: SweepDevices, confirm: Confirm
) -> tuple[Positioner, RigProfile | None]:
    """The positioner for `rig_name` ('none'/None: by hand) and the rig profile, if any.

    Raises StationError (RigError) when the rig cannot be used.
    """
    if rig_name in (None, "none"):
        return ManualPositioner(confirm), None
    rig_profile = load_rig(home, rig_name)
    rig = devices.rig(port or rig_profile.port)
    try:
        rig.set_speed(rig_profile.slew_us_per_s)
    except BaseException:
        rig.close()
        raise
    return RigPositioner(rig, rig_profile), rig_profile


def start_sweep(
    home: Path,
    start: SweepStart,
    devices: SweepDevices,
    confirm: Confirm,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> SweepRunner:
    """Check everything, open the interface and rig, create the session; returns its runner."""
    check_name(start.out)
    plan, _ = load_plan_file(start.plan_path)
    profile = load_profile(home, start.profile_name)
    options = start.options
    options.virtual_gear = default_virtual_gear(profile, start.rig_name, options.virtual_gear)
    options.validate()
    if start.anchor_every is not None and start.anchor_every < 0:
        raise StationError(
            Phrase("{anchor_every} cannot be negative"), Phrase("e.g. {anchor_every} 8")
        )
    if any(s.reamp_dbu is None for s in plan.settings) and options.reamp_dbu is None:
        raise StationError(
            "the plan has no reamp levels, so the sweep needs one",
            Phrase("add {reamp_dbu_for_sweep} (the level your gear sees from a guitar, e.g. 12)"),
        )
    rig_name = start.rig_name
    if rig_name != "none" and plan.request.rig not in (None, rig_name):
        raise StationError(
            f"the plan was made for rig {plan.request.rig!r}, not {rig_name!r}",
            Phrase("make a plan with {plan_for_rig}", rig=rig_name),
        )
    folder = capture_path(home, start.out)
    if folder.exists() and any(folder.iterdir()):
        raise StationError(
            f"a session called {start.out!r} already exists",
            Phrase("continue it with {sweep_resume}, or choose another name", session=start.out),
        )
    reamp_path = Path(start.reamp_path)
    if not reamp_path.is_file():
        raise StationError(f"no reamp file at {reamp_path}", "give a 48 kHz mono WAV")
    interface = devices.interface(profile, options.virtual_gear)
    positioner, rig_profile = open_positioner(home, rig_name, start.port, devices, confirm)
    try:
        positioner.check(plan.settings)
        session = create_session(
            folder,
            start.plan_path,
            profile=profile,
            rig_name=None if rig_name == "none" else rig_name,
            rig_profile=rig_profile,
            reamp={"path": str(reamp_path.resolve()), "md5": md5_of_file(reamp_path)},
            options=options,
            anchor_every=start.anchor_every,
        )
    except BaseException:
        positioner.close()
        raise
    return SweepRunner(
        session, interface, profile, positioner, reamp_path, emit=emit, confirm=confirm, stop=stop
    )


def resume_sweep(
    home: Path,
    name: str,
    devices: SweepDevices,
    confirm: Confirm,
    *,
    port: str | None = None,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> SweepRunner:
    """Reopen a session, refusing (StationError) when its plan, profiles or reamp file changed."""
    session = open_session(session_folder(home, name))
    d = session.data
    profile = load_profile(home, d["profile_name"])
    reamp = Path(d["reamp_file"]["path"])
    if not reamp.is_file():
        raise StationError(f"the session's reamp file {reamp} is gone", "put it back to resume")
    interface = devices.interface(profile, session.options.virtual_gear)
    positioner, rig_profile = open_positioner(home, d.get("rig"), port, devices, confirm)
    try:
        check_unchanged(
            session, profile=profile, rig_profile=rig_profile, reamp_md5=md5_of_file(reamp)
        )
    except BaseException:
        positioner.close()
        raise
    return SweepRunner(
        session, interface, profile, positioner, reamp, emit=emit, confirm=confirm, stop=stop
    )
