"""`station sweep run|resume|status|export`: capture a plan's settings unattended."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..capture.redraw import draw_missing
from ..devices import StationBench
from ..errors import StationError
from ..events import Confirm, DeviceBack, DevicePaused, Event, Prompt, SweepProgress
from ..home import session_folder
from ..settings import update_settings
from ..sweep.export import export_session
from ..sweep.journal import Journal, replay
from ..sweep.positioner import describe
from ..sweep.preflight import NO_PARAMETRIC
from ..sweep.rounds import measured_per_setting_s, round_of_setting, rounds_lines, rounds_report
from ..sweep.run import SweepRunner, SweepSummary, progress_line, summarise
from ..sweep.session import ON_DRIFT, Session, SweepOptions, load_plan_file, open_session
from ..sweep.start import SweepStart, resume_sweep, start_sweep
from . import console
from .capture import GEAR_FIELDS
from .common import home_of, number
from .keys import typed_within
from .signal import chosen_reamp_file
from .words import say


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
    run.add_argument("--reamp-dbu", type=number, default=None, help="level when the plan has none")
    run.add_argument("--input", type=Path, default=None, help="reamp file (as for capture)")
    run.add_argument("--retakes", type=int, default=2, help="retakes of a failed setting")
    run.add_argument("--stop-on-fail", action="store_true", help="stop at a failed setting")
    run.add_argument("--anchor-every", type=int, default=None, metavar="N")
    run.add_argument("--on-drift", default="continue", help=f"one of {', '.join(ON_DRIFT)}")
    run.add_argument("--drift-esr", type=number, default=0.01, help="anchor ESR limit")
    run.add_argument("--drift-db", type=number, default=0.2, help="anchor level change limit (dB)")
    run.add_argument(
        "--yes",
        action="store_true",
        help="no prompts: skip 'press Enter', sweep a plan that leaves rig controls alone, and "
        "mark a setting whose return clips failed instead of pausing",
    )
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
            a.add_argument(
                "--yes",
                action="store_true",
                help="no prompts: skip 'press Enter'; a setting whose return clips fails",
            )
        a.set_defaults(handler=handler)


def emit(event: Event) -> None:
    """Console events, with sweep progress as one line, and a pause for a device as another."""
    if isinstance(event, SweepProgress):
        print(f"** {progress_line(event)}", file=sys.stderr, flush=True)
    elif isinstance(event, DevicePaused):
        print(f"!! {say(event.text)}", file=sys.stderr, flush=True)
    elif isinstance(event, DeviceBack):
        what = f"the rig is back on {event.port}" if event.port else "the audio interface is back"
        print(
            f"== {event.setting_id}: {what} after {event.waited_s:.1f} s; the sweep goes on",
            file=sys.stderr,
            flush=True,
        )
    else:
        console.emit(event)


def _terminal(args: argparse.Namespace) -> tuple[StationBench, Confirm]:
    """The sweep's devices, and Enter prompts that use its virtual rig once it is open.

    A plan that leaves some of the rig's controls alone is swept only with --yes:
    the question is a refusal here, so an unattended start never sweeps so by accident.
    """
    devices = StationBench(home_of(args))

    def confirm(prompt: Prompt) -> None:
        if prompt.kind == "controls_left_alone" and not args.yes:
            raise StationError(
                prompt.text[:1].lower() + prompt.text[1:],
                "add --yes to sweep with them where they are, or plan every control: "
                f"station plan --rig {getattr(args, 'rig', 'NAME')} ...",
            )
        if prompt.kind == NO_PARAMETRIC and not args.yes:
            said, _, fix = prompt.text.removesuffix(" Sweep this plan anyway?").partition(". ")
            raise StationError(
                said[:1].lower() + said[1:],
                f"{fix[:1].lower()}{fix[1:].rstrip('.')}: make it with 'station plan' "
                "(--settings, --holdout); or add --yes to sweep this one for one model per "
                "setting",
            )
        console.make_confirm(devices.virtual, args.yes)(prompt)

    return devices, confirm


def run_cmd(args: argparse.Namespace) -> int:
    """Start a session from a plan and capture every setting."""
    home = home_of(args)
    options = SweepOptions(
        retakes=args.retakes,
        stop_on_fail=args.stop_on_fail,
        on_drift=args.on_drift,
        drift_esr_max=args.drift_esr,
        drift_level_db_max=args.drift_db,
        reamp_dbu=args.reamp_dbu,
        gear={k: getattr(args, k) for k in GEAR_FIELDS if getattr(args, k)},
        virtual_gear=args.gear,
    )
    options.validate()
    devices, confirm = _terminal(args)
    load_plan_file(args.plan)  # a bad plan is refused before anything is written
    reamp_path, remember = chosen_reamp_file(args, home)
    start = SweepStart(
        plan_path=args.plan,
        profile_name=args.profile,
        rig_name=args.rig,
        out=args.out,
        reamp_path=reamp_path,
        options=options,
        port=args.port,
        anchor_every=args.anchor_every,
    )
    runner = start_sweep(
        home,
        start,
        devices,
        confirm,
        emit=emit,
        unattended=args.yes,
        ready=lambda: console.check_answerable(args.yes),  # a refusal leaves nothing behind
    )
    if remember:  # the session accepted it: next time it is the default
        update_settings(home, console.warn, reamp_file=str(reamp_path.resolve()))
    print(
        f"Session: {runner.session.folder} ({len(runner.session.schedule)} captures, "
        f"{runner.positioner.label})",
        file=sys.stderr,
    )
    return _report(args, _run_saying_how_to_resume(runner, resumed=False))


def resume_cmd(args: argparse.Namespace) -> int:
    """Continue a session at the first setting not done (refuses when anything changed)."""
    devices, confirm = _terminal(args)
    runner = resume_sweep(
        home_of(args),
        args.session,
        devices,
        confirm,
        port=args.port,
        emit=emit,
        unattended=args.yes,
    )
    left = sum(runner.state.status[i] != "done" for i in runner.ids)
    print(
        f"Resuming {runner.session.folder}: {left} of {len(runner.ids)} captures left",
        file=sys.stderr,
    )
    return _report(args, _run_saying_how_to_resume(runner, resumed=True))


def _run_saying_how_to_resume(runner: SweepRunner, *, resumed: bool) -> SweepSummary:
    """Run the sweep (while it waits for its rig, a port name typed and Enter is tried as the
    rig's new name); on Ctrl-C, say that the session is kept and how to go on."""
    runner.faults.offer = lambda timeout_s: typed_within(sys.stdin, timeout_s)
    try:
        return runner.run(resumed=resumed)
    except KeyboardInterrupt:
        print(
            f"\nstopped: the servos are detached and {say(runner.how_to_resume())}",
            file=sys.stderr,
        )
        raise


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
            listed = ", ".join(f"{i} ({summary.suspect_reasons.get(i)})" for i in summary.suspect)
            print(f"  suspect: {listed}")
        session = open_session(summary.session)
        rounds = rounds_report(session, _state(session), measured_per_setting_s(session))
        for line in rounds_lines(rounds):
            print(line)
    return 0 if summary.complete and not summary.failed else 1


def _state(session: Session) -> Any:
    return replay(Journal(session.folder).read(), [s.id for s in session.schedule])


def status_cmd(args: argparse.Namespace) -> int:
    """Each setting's status, values and last verdict."""
    session = open_session(session_folder(home_of(args), args.session))
    for note in draw_missing(session.folder):  # a sweep killed before its last picture
        console.warn(note)
    state = _state(session)
    summary = summarise(session, state)
    rounds = rounds_report(session, state, measured_per_setting_s(session))
    chosen_in = round_of_setting(rounds)
    if args.json:
        console.print_json(
            {
                **summary.to_json(),
                **({"adaptive": rounds} if rounds else {}),
                "settings": [
                    {
                        **s.to_json(),
                        "status": state.status[s.id],
                        "takes": state.takes[s.id],
                        "suspect": s.id in state.suspect,
                        "suspect_reason": summary.suspect_reasons.get(s.id),
                        "last_verdict": state.last_verdict.get(s.id),
                        "round": chosen_in.get(s.id),
                    }
                    for s in session.schedule
                ],
            }
        )
        return 0
    for s in session.schedule:
        why = summary.suspect_reasons.get(s.id)
        flag = f" suspect ({why})" if why else ""
        flag += f" (round {chosen_in[s.id]})" if s.id in chosen_in else ""
        print(f"  {s.id:<5} {s.role:<8} {state.status[s.id]:<9}{flag}  {describe(s)}")
    print(
        f"{len(summary.done)} done, {len(summary.failed)} failed, {len(summary.pending)} left "
        f"of {len(session.schedule)}"
    )
    for line in rounds_lines(rounds):
        print(line)
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Write dataset.json and manifest.json into the session folder."""
    session = open_session(session_folder(home_of(args), args.session))
    for note in draw_missing(session.folder):  # a sweep killed before its last picture
        console.warn(note)
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
