"""Starting and resuming sweeps: the checks, the bench, the rig, the session — for any front end.

The CLI and the TUI both call these, so both refuse the same bad input with the
same words and open the rig the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..drivers.factory import Bench
from ..errors import StationError
from ..events import Emit, StopFlag, ignore
from ..profiles import check_name, load_profile
from ..reamp import md5_of_file
from .positioner import ManualPositioner, Positioner, RigPositioner
from .run import SweepRunner
from .session import SweepOptions, check_unchanged, create_session, load_plan_file, open_session

OpenBench = Callable[[str], Bench]


def session_folder(home: Path, name: str) -> Path:
    """A session given as a folder, else by name under captures/."""
    given = Path(name)
    return given if (given / "session.json").is_file() else Path(home) / "captures" / name


def default_virtual_gear(profile: Any, rig_name: str | None, gear: str | None) -> str | None:
    """The virtual gear: `gear`, else the knobbed overdrive when a rig turns knobs (None off the
    virtual rig)."""
    if profile.host_api != "virtual":
        return None
    return gear or ("clean" if rig_name in (None, "none") else "od")


def open_sweep_bench(
    home: Path, profile: Any, virtual_gear: str | None, open_bench: OpenBench
) -> Bench:
    """The audio bench; on the virtual rig its servo horns are the home's virtual bench."""
    bench = open_bench("virtual" if profile.host_api == "virtual" else profile.device_name)
    if bench.rig is not None:
        from ..drivers.pedal import ServoBench, virtual_bench_path

        # The horns stay where the last run left them, as real knobs do.
        bench.rig.servos = ServoBench(state_path=virtual_bench_path(home))
        if virtual_gear:
            bench.rig.use_gear(virtual_gear)
    return bench


def open_positioner(
    home: Path, rig_name: str | None, port: str | None, bench: Bench, confirm: Any
) -> tuple[Positioner, Any]:
    """The positioner for `rig_name` ('none'/None: by hand) and the rig profile, if any.

    Port 'virtual' is the firmware twin, turning the virtual bench's knobs at the
    virtual rig's speed. Raises StationError (RigError) when the rig cannot be used.
    """
    if rig_name in (None, "none"):
        return ManualPositioner(confirm), None
    from ..drivers.rig import open_rig
    from ..rigs import load_rig

    rig_profile = load_rig(home, rig_name)
    port = port or rig_profile.port
    kw: dict[str, Any] = {}
    if port.strip().lower() == "virtual":
        from ..drivers.pedal import ServoBench

        servos = bench.rig.servos if bench.rig is not None else ServoBench()
        speedup = bench.rig.speed if bench.rig is not None and bench.rig.speed else 1.0
        kw["twin_kw"] = {"bench": servos, "speedup": speedup}
    rig = open_rig(port, **kw)
    try:
        rig.set_speed(rig_profile.slew_us_per_s)
    except BaseException:
        rig.close()
        raise
    return RigPositioner(rig, rig_profile), rig_profile


def start_sweep(
    home: Path,
    *,
    plan_path: Path,
    profile_name: str,
    rig_name: str,
    out: str,
    options: SweepOptions,
    reamp_path: Path,
    open_bench: OpenBench,
    confirm: Any,
    port: str | None = None,
    anchor_every: int | None = None,
    emit: Emit = ignore,
    stop: StopFlag | None = None,
) -> SweepRunner:
    """Check everything, open the bench and rig, create the session; returns its runner."""
    check_name(out)
    plan, _ = load_plan_file(plan_path)
    profile = load_profile(home, profile_name)
    options.virtual_gear = default_virtual_gear(profile, rig_name, options.virtual_gear)
    options.validate()
    if anchor_every is not None and anchor_every < 0:
        raise StationError("--anchor-every cannot be negative", "e.g. --anchor-every 8")
    if any(s.reamp_dbu is None for s in plan.settings) and options.reamp_dbu is None:
        raise StationError(
            "the plan has no reamp levels, so the sweep needs one",
            "add --reamp-dbu P (the level your gear sees from a guitar, e.g. 12)",
        )
    if rig_name != "none" and plan.request.rig not in (None, rig_name):
        raise StationError(
            f"the plan was made for rig {plan.request.rig!r}, not {rig_name!r}",
            f"make a plan with 'station plan --rig {rig_name}'",
        )
    folder = Path(home) / "captures" / out
    if folder.exists() and any(folder.iterdir()):
        raise StationError(
            f"a session called {out!r} already exists",
            f"continue it with 'station sweep resume {out}', or choose another name",
        )
    if not Path(reamp_path).is_file():
        raise StationError(f"no reamp file at {reamp_path}", "give a 48 kHz mono WAV")
    bench = open_sweep_bench(home, profile, options.virtual_gear, open_bench)
    positioner, rig_profile = open_positioner(home, rig_name, port, bench, confirm)
    try:
        positioner.check(plan.settings)
        session = create_session(
            folder,
            plan_path,
            profile=profile,
            rig_name=None if rig_name == "none" else rig_name,
            rig_profile=rig_profile,
            reamp={"path": str(Path(reamp_path).resolve()), "md5": md5_of_file(reamp_path)},
            options=options,
            anchor_every=anchor_every,
        )
    except BaseException:
        positioner.close()
        raise
    return SweepRunner(
        session,
        bench.interface,
        profile,
        positioner,
        Path(reamp_path),
        emit=emit,
        confirm=confirm,
        stop=stop,
    )


def resume_sweep(
    home: Path,
    name: str,
    *,
    open_bench: OpenBench,
    confirm: Any,
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
    bench = open_sweep_bench(home, profile, session.options.virtual_gear, open_bench)
    positioner, rig_profile = open_positioner(home, d.get("rig"), port, bench, confirm)
    try:
        check_unchanged(
            session, profile=profile, rig_profile=rig_profile, reamp_md5=md5_of_file(reamp)
        )
    except BaseException:
        positioner.close()
        raise
    return SweepRunner(
        session, bench.interface, profile, positioner, reamp, emit=emit, confirm=confirm, stop=stop
    )


def virtual_pedal_rig(name: str = "vpedal", slew_us_per_s: float = 300.0) -> Any:
    """A rig profile for the virtual overdrive's drive and tone knobs and boost switch (port
    'virtual'), its points read off the pedal's truths: what a careful calibration finds.
    For the demo and tests."""
    from ..drivers.pedal import OD_KNOBS, OD_SWITCHES
    from ..rigs import KnobSpec, RigProfile, SwitchSpec

    knobs = [
        KnobSpec(k.name, k.channel, 0.0, 10.0, [(v, round(k.true_pulse_us(v))) for v in range(11)])
        for k in OD_KNOBS[:2]
    ]
    boost = OD_SWITCHES[0]
    switches = [
        SwitchSpec(
            boost.name, boost.channel, {p: round(boost.true_pulse_us(p)) for p in boost.positions}
        )
    ]
    return RigProfile(name, "virtual", "1.0.0-twin", slew_us_per_s, knobs, switches)
