"""Starting and resuming sweeps: the checks, the bench, the rig, the session — for any front end.

The CLI and the TUI both call these, so both refuse the same bad input with the
same words and open the rig the same way. The devices come from the front end
(SweepDevices): the core never opens the virtual rig itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..drivers.base import AudioInterface
from ..drivers.rig import ServoRig
from ..errors import StationError
from ..events import Confirm, Emit, Prompt, StopFlag, Warning_, ignore
from ..home import capture_path, check_name, lock_rig, lock_session, session_folder
from ..interface.profiles import Profile, load_profile
from ..locks import Lock
from ..phrases import Phrase
from ..plan.adaptive import RoundModels
from ..plan.design import Plan
from ..reamp.files import md5_of_file
from ..rig.profiles import RigProfile, load_rig
from .journal import Journal, replay
from .positioner import ManualPositioner, Positioner, RigPositioner, left_alone, where
from .preflight import check_plan_captures, check_streams, parametric_question
from .rounds import Rounds
from .run import SweepRunner
from .session import (
    SweepOptions,
    check_unchanged,
    create_session,
    load_plan_file,
    open_session,
    schedule_of,
)


class SweepDevices(Protocol):
    """How a front end opens a sweep's devices (station.devices.SweepBench is the usual one)."""

    def interface(self, profile: Profile, virtual_gear: str | None) -> AudioInterface:
        """The audio interface `profile` was measured on (on the virtual rig, with that gear)."""
        ...

    def rig(self, port: str) -> ServoRig:
        """The servo rig on `port`, connected."""
        ...

    def knobbed_gear(self, controls: Collection[str]) -> str | None:
        """The virtual gear whose knobs and switches include `controls`, or None."""
        ...

    def round_models(self) -> RoundModels | None:
        """What trains an adaptive sweep's rounds, or None when training is not installed."""
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


def default_virtual_gear(
    profile: Any,
    rig_name: str | None,
    gear: str | None,
    controls: Collection[str] = (),
    devices: SweepDevices | None = None,
) -> str | None:
    """The virtual gear: `gear`, else the knobbed gear whose knobs the plan's `controls` name
    when a rig turns them (the overdrive when none does), else the clean amp (None off the
    virtual rig)."""
    if profile.host_api != "virtual":
        return None
    if gear:
        return gear
    if rig_name in (None, "none"):
        return "clean"
    found = devices.knobbed_gear(controls) if devices is not None else None
    return found or "od"


class Held:
    """The locks a sweep holds (its session, its rig), freed together; a stale one taken over
    from a killed program is said as a warning."""

    def __init__(self, emit: Emit, holder: str | None) -> None:
        self.emit = emit
        self.holder = holder
        self.locks: list[Lock] = []

    def session(self, folder: Path) -> None:
        """Hold the session in `folder` (LockHeld when a running program has it)."""
        self._said(lock_session(folder, holder=self.holder), f"session {folder.name}")

    def rig(self, home: Path, port: str) -> None:
        """Hold the rig on `port` (LockHeld when a running program has it)."""
        self._said(lock_rig(home, port, holder=self.holder), f"the rig on {port}")

    def _said(self, lock: Lock, what: str) -> None:
        self.locks.append(lock)
        note = lock.stale_note(what)
        if note:
            self.emit(Warning_(note))

    def release(self) -> None:
        """Free every lock held (idempotent)."""
        while self.locks:
            self.locks.pop().release()


def open_positioner(
    rig_profile: RigProfile | None,
    port: str | None,
    devices: SweepDevices,
    confirm: Confirm,
    held: tuple[Held, Path] | None = None,
) -> Positioner:
    """The positioner for `rig_profile` (None: the user sets the gear by hand); with `held`
    (the locks and the home), the rig's port is locked before it is opened.

    Raises StationError (RigError, LockHeld) when the rig cannot be used.
    """
    if rig_profile is None:
        return ManualPositioner(confirm)
    if held is not None:
        held[0].rig(held[1], port or rig_profile.port)
    rig = devices.rig(port or rig_profile.port)
    try:
        rig.set_speed(rig_profile.slew_us_per_s)
    except BaseException:
        rig.close()
        raise
    return RigPositioner(rig, rig_profile)


def rig_profile_of(home: Path, rig_name: str | None) -> RigProfile | None:
    """The rig profile called `rig_name`, or None for a sweep by hand ('none')."""
    return None if rig_name in (None, "none") else load_rig(home, str(rig_name))


def confirm_left_alone(
    plan: Plan, rig_profile: RigProfile | None, positioner: Positioner, confirm: Confirm
) -> None:
    """Ask before sweeping a plan that leaves some of the rig's controls alone, saying where
    they are now (a front end refuses by raising from `confirm`)."""
    if rig_profile is None or not isinstance(positioner, RigPositioner):
        return
    alone = left_alone(plan, rig_profile)
    if not alone:
        return
    sets = [k.name for k in plan.request.knobs] + [s.name for s in plan.request.switches]
    confirm(
        Prompt(
            "controls_left_alone",
            f"The plan sets only {', '.join(sets)}: the rig leaves {', '.join(alone)} where "
            f"{'it is' if len(alone) == 1 else 'they are'} now "
            f"({where(positioner.controls(), alone)}) for the whole sweep; each capture "
            "records where every control is",
        )
    )


def start_sweep(
    home: Path,
    start: SweepStart,
    devices: SweepDevices,
    confirm: Confirm,
    *,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
    unattended: bool = False,
    holder: str | None = None,
    ready: Callable[[], None] = lambda: None,
) -> SweepRunner:
    """Check everything, open the interface and rig, create the session; returns its runner.

    Every check a capture's pre-flight makes runs for every level of the plan, and
    the disk need for every capture is checked, before the session folder exists
    and before the rig is opened: a refused start leaves nothing behind. With
    `unattended`, the runner never waits for the user (see SweepRunner). The
    session and the rig's port are locked (naming `holder`, e.g. 'station sweep
    run') until the runner's run ends; LockHeld names a program holding either.
    `ready` is called once every check has passed, before anything is opened: a face
    that could not answer the sweep's questions raises there, leaving nothing behind.
    """
    check_name(start.out)
    plan, _ = load_plan_file(start.plan_path)
    models = adaptive_models(plan, devices)
    profile = load_profile(home, start.profile_name)
    options = start.options
    controls = [k.name for k in plan.request.knobs] + [w.name for w in plan.request.switches]
    options.virtual_gear = default_virtual_gear(
        profile, start.rig_name, options.virtual_gear, controls, devices
    )
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
    if _taken(folder):
        raise _exists(start.out)
    schedule = schedule_of(plan, start.anchor_every)
    reamp_path = Path(start.reamp_path)
    levels = [s.reamp_dbu for s in schedule if s.reamp_dbu is not None]
    if options.reamp_dbu is not None and len(levels) < len(schedule):
        levels.append(options.reamp_dbu)
    check_plan_captures(profile, reamp_path, levels, folder, len(schedule))
    if (question := parametric_question(plan, schedule, options.reamp_dbu)) is not None:
        confirm(question)  # before anything is opened or written: a refusal leaves nothing
    ready()
    rig_profile = rig_profile_of(home, rig_name)
    interface = devices.interface(profile, options.virtual_gear)
    check_streams(interface, profile, reamp_path)
    held = Held(emit, holder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        held.session(folder)
        if _taken(folder):  # another start got here first
            raise _exists(start.out)
        positioner = open_positioner(rig_profile, start.port, devices, confirm, (held, home))
    except BaseException:
        held.release()
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    try:
        positioner.check(schedule)
        confirm_left_alone(plan, rig_profile, positioner, confirm)
        session = create_session(
            folder,
            start.plan_path,
            profile=profile,
            rig_name=None if rig_profile is None else rig_name,
            rig_profile=rig_profile,
            reamp={"path": str(reamp_path.resolve()), "md5": md5_of_file(reamp_path)},
            options=options,
            anchor_every=start.anchor_every,
        )
    except BaseException:
        positioner.close()
        held.release()
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    runner = SweepRunner(
        session,
        interface,
        profile,
        positioner,
        reamp_path,
        emit=emit,
        confirm=confirm,
        stop=stop,
        unattended=unattended,
    )
    runner.release = held.release
    with_rounds(runner, models, emit, stop)
    return runner


def adaptive_models(plan: Plan, devices: SweepDevices) -> RoundModels | None:
    """The models an adaptive plan's rounds train (None for a plan that is not adaptive);
    StationError, before anything is opened, when training is not installed."""
    if plan.request.adaptive is None:
        return None
    models = devices.round_models()
    if models is None:
        raise StationError(
            "this plan is adaptive: its rounds train quick models to choose the next "
            "settings, which needs the train extra (neural-amp-modeler), not installed here",
            "pip install torch==2.13.0, then pip install -e '.[train]'; or make a plan "
            "without adaptive rounds",
        )
    return models


def with_rounds(
    runner: SweepRunner, models: RoundModels | None, emit: Emit, stop: StopFlag | None
) -> None:
    """Give an adaptive session's runner its rounds."""
    if models is not None:
        runner.rounds = Rounds(runner.session, models, runner.log, runner.journal.read, emit, stop)


def _taken(folder: Path) -> bool:
    """Whether a session (or anything but a lock) is in `folder` already."""
    return folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())


def _exists(name: str) -> StationError:
    return StationError(
        f"a session called {name!r} already exists",
        Phrase("continue it with {sweep_resume}, or choose another name", session=name),
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
    unattended: bool = False,
    holder: str | None = None,
) -> SweepRunner:
    """Reopen a session, refusing (StationError) when its plan, profiles or reamp file changed
    (a re-measured return level is taken, with a warning), or when a capture's pre-flight
    or the disk need refuses a setting not done yet: all before the rig is opened. The
    session is locked first and the rig's port before it opens (LockHeld names a program
    holding either), until the runner's run ends."""
    session = open_session(session_folder(home, name))
    held = Held(emit, holder)
    held.session(session.folder)
    try:
        return _resume(home, session, devices, confirm, held, port, emit, stop, unattended)
    except BaseException:
        held.release()
        raise


def _resume(
    home: Path,
    session: Any,
    devices: SweepDevices,
    confirm: Confirm,
    held: Held,
    port: str | None,
    emit: Emit,
    stop: StopFlag | None,
    unattended: bool,
) -> SweepRunner:
    d = session.data
    models = adaptive_models(session.plan, devices)
    profile = load_profile(home, d["profile_name"])
    reamp = Path(d["reamp_file"]["path"])
    if not reamp.is_file():
        raise StationError(f"the session's reamp file {reamp} is gone", "put it back to resume")
    rig_profile = rig_profile_of(home, d.get("rig"))
    notes = check_unchanged(
        session, profile=profile, rig_profile=rig_profile, reamp_md5=md5_of_file(reamp)
    )
    state = replay(Journal(session.folder).read(), [s.id for s in session.schedule])
    todo = [s for s in session.schedule if state.status[s.id] != "done"]
    check_plan_captures(
        profile, reamp, [session.level_of(s) for s in todo], session.folder, len(todo)
    )
    for note in notes:
        emit(Warning_(note))
    interface = devices.interface(profile, session.options.virtual_gear)
    check_streams(interface, profile, reamp)
    positioner = open_positioner(rig_profile, port, devices, confirm, (held, home))
    try:
        positioner.check(session.schedule)
    except BaseException:
        positioner.close()
        raise
    if rig_profile is not None and (alone := left_alone(session.plan, rig_profile)):
        emit(Warning_(f"the plan leaves {', '.join(alone)} where the rig finds them"))
    runner = SweepRunner(
        session,
        interface,
        profile,
        positioner,
        reamp,
        emit=emit,
        confirm=confirm,
        stop=stop,
        unattended=unattended,
    )
    runner.release = held.release
    with_rounds(runner, models, emit, stop)
    return runner
