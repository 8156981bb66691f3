"""`station sweep run|resume|status|export`: capture a plan's settings unattended."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..drivers.factory import Bench, open_bench
from ..errors import StationError
from ..events import Event, SweepProgress
from ..profiles import check_name, load_profile
from ..reamp import md5_of_file
from ..sweep.export import export_session
from ..sweep.journal import Journal, replay
from ..sweep.positioner import ManualPositioner, Positioner, RigPositioner, describe
from ..sweep.run import SweepRunner, SweepSummary, progress_line, summarise
from ..sweep.session import (
    ON_DRIFT,
    Session,
    SweepOptions,
    check_unchanged,
    create_session,
    load_plan_file,
    open_session,
)
from . import console, home_of
from .capture import GEAR_FIELDS, _reamp_file
from .plan import load_rig_profile


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `sweep` subcommand and its actions."""
    p = sub.add_parser("sweep", help="capture a plan's settings: move, capture, check, journal")
    actions = p.add_subparsers(dest="sweep_action", metavar="ACTION", required=True)
    run = actions.add_parser("run", parents=[common], help="start a sweep session from a plan")
    run.add_argument("--plan", type=Path, required=True, help="plan file from 'station plan'")
    run.add_argument("--profile", required=True, help="interface profile")
    run.add_argument("--rig", required=True, help="rig profile name, or 'none' to set by hand")
    run.add_argument("--out", required=True, help="session name (a folder under captures/)")
    run.add_argument("--port", default=None, help="serial port (default: the rig profile's)")
    run.add_argument("--reamp-dbu", type=float, default=None, help="level when the plan has none")
    run.add_argument("--input", type=Path, default=None, help="reamp file (as for capture)")
    run.add_argument("--retakes", type=int, default=2, help="retakes of a failed setting")
    run.add_argument("--stop-on-fail", action="store_true", help="stop at a failed setting")
    run.add_argument("--anchor-every", type=int, default=None, metavar="N")
    run.add_argument("--on-drift", default="continue", help=f"one of {', '.join(ON_DRIFT)}")
    run.add_argument("--drift-esr", type=float, default=0.01, help="anchor ESR limit")
    run.add_argument("--drift-db", type=float, default=0.2, help="anchor level change limit (dB)")
    run.add_argument("--yes", action="store_true", help="skip the 'press Enter' prompts")
    run.add_argument(
        "--gear",
        default=None,
        help="virtual rig only: which virtual gear (default: od with a rig, clean by hand)",
    )
    for name in GEAR_FIELDS:
        run.add_argument(f"--{name.replace('_', '-')}", default=None)
    run.set_defaults(handler=run_cmd)
    for action, text, handler in (
        ("resume", "continue a session at the first setting not done", resume_cmd),
        ("status", "each setting's status in a session", status_cmd),
        ("export", "write dataset.json (NAM parametric) and a snapshot manifest", export_cmd),
    ):
        a = actions.add_parser(action, parents=[common], help=text)
        a.add_argument("session", help="session name (under captures/) or folder")
        if action == "resume":
            a.add_argument("--port", default=None, help="serial port (default: the rig profile's)")
            a.add_argument("--yes", action="store_true", help="skip the 'press Enter' prompts")
        a.set_defaults(handler=handler)


def emit(event: Event) -> None:
    """Console events, with sweep progress as one line."""
    if isinstance(event, SweepProgress):
        print(f"** {progress_line(event)}", file=sys.stderr, flush=True)
    else:
        console.emit(event)


def _session_folder(home: Path, name: str) -> Path:
    """A session given as a folder, else by name under captures/."""
    given = Path(name)
    return given if (given / "session.json").is_file() else home / "captures" / name


def _bench(home: Path, profile: Any, virtual_gear: str | None) -> Bench:
    """The audio bench; on the virtual rig its servo horns are the home's virtual bench."""
    device = "virtual" if profile.host_api == "virtual" else profile.device_name
    bench = open_bench(device)
    if bench.rig is not None:
        from ..drivers.pedal import ServoBench, virtual_bench_path

        # The horns stay where the last run left them, as real knobs do.
        bench.rig.servos = ServoBench(state_path=virtual_bench_path(home))
        if virtual_gear:
            bench.rig.use_gear(virtual_gear)
    return bench


def _open_positioner(
    home: Path, rig_name: str | None, port: str | None, bench: Bench, confirm: Any
) -> tuple[Positioner, Any]:
    """The positioner for `rig_name` ('none'/None: by hand) and the rig profile, if any."""
    if rig_name in (None, "none"):
        return ManualPositioner(confirm), None
    from ..drivers.rig import open_rig

    rig_profile = load_rig_profile(home, rig_name)
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


def _virtual_gear(args: argparse.Namespace, profile: Any) -> str | None:
    """The virtual gear: --gear, else the knobbed overdrive when a rig turns knobs."""
    if profile.host_api != "virtual":
        return None
    return args.gear or ("clean" if args.rig == "none" else "od")


def run_cmd(args: argparse.Namespace) -> int:
    """Start a session from a plan and capture every setting."""
    home = home_of(args)
    check_name(args.out)
    plan, _ = load_plan_file(args.plan)
    profile = load_profile(home, args.profile)
    options = SweepOptions(
        retakes=args.retakes,
        stop_on_fail=args.stop_on_fail,
        on_drift=args.on_drift,
        drift_esr_max=args.drift_esr,
        drift_level_db_max=args.drift_db,
        reamp_dbu=args.reamp_dbu,
        gear={k: getattr(args, k) for k in GEAR_FIELDS if getattr(args, k)},
        virtual_gear=_virtual_gear(args, profile),
    )
    options.validate()
    if args.anchor_every is not None and args.anchor_every < 0:
        raise StationError("--anchor-every cannot be negative", "e.g. --anchor-every 8")
    if any(s.reamp_dbu is None for s in plan.settings) and args.reamp_dbu is None:
        raise StationError(
            "the plan has no reamp levels, so the sweep needs one",
            "add --reamp-dbu P (the level your gear sees from a guitar, e.g. 12)",
        )
    if args.rig != "none" and plan.request.rig not in (None, args.rig):
        raise StationError(
            f"the plan was made for rig {plan.request.rig!r}, not {args.rig!r}",
            f"make a plan with 'station plan --rig {args.rig}'",
        )
    folder = home / "captures" / args.out
    if folder.exists() and any(folder.iterdir()):
        raise StationError(
            f"a session called {args.out!r} already exists",
            f"continue it with 'station sweep resume {args.out}', or choose another --out",
        )
    bench = _bench(home, profile, options.virtual_gear)
    confirm = console.make_confirm(bench.rig, args.yes)
    positioner, rig_profile = _open_positioner(home, args.rig, args.port, bench, confirm)
    try:
        positioner.check(plan.settings)
        reamp = _reamp_file(args, home)
        session = create_session(
            folder,
            args.plan,
            profile=profile,
            rig_name=None if args.rig == "none" else args.rig,
            rig_profile=rig_profile,
            reamp={"path": str(Path(reamp).resolve()), "md5": md5_of_file(reamp)},
            options=options,
            anchor_every=args.anchor_every,
        )
    except BaseException:
        positioner.close()
        raise
    print(
        f"Session: {folder} ({len(session.schedule)} captures, {positioner.label})", file=sys.stderr
    )
    runner = SweepRunner(
        session, bench.interface, profile, positioner, reamp, emit=emit, confirm=confirm
    )
    return _report(args, runner.run())


def resume_cmd(args: argparse.Namespace) -> int:
    """Continue a session at the first setting not done (refuses when anything changed)."""
    home = home_of(args)
    session = open_session(_session_folder(home, args.session))
    d = session.data
    profile = load_profile(home, d["profile_name"])
    reamp = Path(d["reamp_file"]["path"])
    if not reamp.is_file():
        raise StationError(f"the session's reamp file {reamp} is gone", "put it back to resume")
    bench = _bench(home, profile, session.options.virtual_gear)
    confirm = console.make_confirm(bench.rig, args.yes)
    positioner, rig_profile = _open_positioner(home, d.get("rig"), args.port, bench, confirm)
    try:
        check_unchanged(
            session, profile=profile, rig_profile=rig_profile, reamp_md5=md5_of_file(reamp)
        )
    except BaseException:
        positioner.close()
        raise
    runner = SweepRunner(
        session, bench.interface, profile, positioner, reamp, emit=emit, confirm=confirm
    )
    left = sum(runner.state.status[i] != "done" for i in runner.ids)
    print(f"Resuming {session.folder}: {left} of {len(runner.ids)} captures left", file=sys.stderr)
    return _report(args, runner.run(resumed=True))


def _report(args: argparse.Namespace, summary: SweepSummary) -> int:
    if args.json:
        console.print_json(summary.to_json())
    else:
        print(
            f"Sweep {summary.session.name}: {len(summary.done)} done, {len(summary.failed)} "
            f"failed, {len(summary.pending)} left, {len(summary.suspect)} suspect"
        )
        for a in summary.drift:
            mark = "DRIFT" if a.get("drifted") else "ok"
            print(
                f"  anchor {a['id']} vs {a['reference']}: ESR {a['esr']:.5f}, "
                f"level {a['level_change_db']:+.3f} dB [{mark}]"
            )
        if summary.failed:
            print(f"  failed: {', '.join(summary.failed)} (resume retakes them)")
        if summary.suspect:
            print(f"  suspect: {', '.join(summary.suspect)}")
    return 0 if summary.complete and not summary.failed else 1


def _state(session: Session) -> Any:
    return replay(Journal(session.folder).read(), [s.id for s in session.schedule])


def status_cmd(args: argparse.Namespace) -> int:
    """Each setting's status, values and last verdict."""
    session = open_session(_session_folder(home_of(args), args.session))
    state = _state(session)
    summary = summarise(session, state)
    if args.json:
        console.print_json(
            {
                **summary.to_json(),
                "settings": [
                    {
                        **s.to_json(),
                        "status": state.status[s.id],
                        "takes": state.takes[s.id],
                        "suspect": s.id in state.suspect,
                        "last_verdict": state.last_verdict.get(s.id),
                    }
                    for s in session.schedule
                ],
            }
        )
        return 0
    for s in session.schedule:
        flag = " suspect" if s.id in state.suspect else ""
        print(f"  {s.id:<5} {s.role:<8} {state.status[s.id]:<9}{flag}  {describe(s)}")
    print(
        f"{len(summary.done)} done, {len(summary.failed)} failed, {len(summary.pending)} left "
        f"of {len(session.schedule)}"
    )
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Write dataset.json and manifest.json into the session folder."""
    session = open_session(_session_folder(home_of(args), args.session))
    result = export_session(session)
    if args.json:
        console.print_json(
            {
                "dataset_path": str(result.dataset_path.resolve()),
                "manifest_path": str(result.manifest_path.resolve()),
                "train": result.train,
                "validation": result.validation,
                "left_out": result.left_out,
            }
        )
    else:
        print(
            f"Dataset: {result.dataset_path} ({result.train} training, "
            f"{result.validation} validation)"
        )
        print(f"Manifest: {result.manifest_path}")
        for item in result.left_out:
            print(f"  left out {item['id']}: {item['reason']}")
    return 0
