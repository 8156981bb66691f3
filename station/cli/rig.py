"""`station rig calibrate|status|move|detach`: the servo rig from the command line.

Every move is slewed by the firmware; every command ends with the servos
detached (knobs stay put by friction), also after an error, Escape or Ctrl-C,
which first send STOP. `--port virtual` is the firmware twin turning the
virtual overdrive's knobs; its horn positions persist in the station home.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import RigError, StationError, Stopped
from ..events import StopFlag
from ..home import list_rigs, lock_rig
from ..rig.calibrate import parse_settings, rig_status
from ..rig.profiles import RigProfile, load_rig, save_rig
from .common import home_of
from .console import print_json
from .keys import command_lines, run_watched
from .words import error_lines


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `rig` command and its actions."""
    p = sub.add_parser("rig", help="the servo rig: calibrate its knobs, show, move, detach")
    acts = p.add_subparsers(dest="rig_command", metavar="ACTION", required=True)
    c = acts.add_parser(
        "calibrate",
        parents=[common],
        help="jog each servo to the printed marks of its knob; writes the rig profile",
        description="Jog each servo until the knob's pointer sits on a printed mark and type "
        "the mark's value; repeat for both ends and any marks between. Type 'help' inside.",
    )
    c.add_argument("--port", required=True, help="serial port (see 'station devices') or virtual")
    c.add_argument("--name", required=True, help="the rig profile's name")
    c.add_argument(
        "--force",
        action="store_true",
        help="replace an existing profile of that name (the old one is kept as NAME.toml.bak)",
    )
    c.set_defaults(handler=run_calibrate)
    for action, text, handler in (
        ("status", "where each knob and switch is", run_status),
        ("move", "turn knobs and flip switches: drive=5 tone=3.5 boost=on", run_move),
        ("detach", "stop the servos' pulses (knobs stay put)", run_detach),
    ):
        a = acts.add_parser(action, parents=[common], help=text)
        a.add_argument("--rig", required=True, help="the rig profile's name")
        a.add_argument("--port", default=None, help="override the port saved in the profile")
        if action == "move":
            a.add_argument(
                "settings", nargs="+", metavar="NAME=VALUE", help="e.g. drive=5 boost=on"
            )
        a.set_defaults(handler=handler)


class Session:
    """A connected rig plus, on the virtual port, the bench its twin turns; the rig's port is
    locked for this command (LockHeld names a sweep or another program holding it)."""

    def __init__(self, port: str, home: Path) -> None:
        from ..devices import open_rig

        self.port = port
        self.bench = None
        self.lock = lock_rig(home, port)
        note = self.lock.stale_note(f"the rig on {port}")
        if note:
            print(f"warning: {note}", file=sys.stderr)
        kw: dict[str, Any] = {}
        if port.strip().lower() == "virtual":
            from ..virtual.pedal import ServoBench, virtual_bench_path
            from ..virtual.twin import speedup_from_env

            self.bench = ServoBench(state_path=virtual_bench_path(home))
            kw["twin_kw"] = {"bench": self.bench, "speedup": speedup_from_env()}
        print(f"connecting to the rig on {port} ...", file=sys.stderr, flush=True)
        try:
            self.rig = open_rig(port, **kw)
        except BaseException:
            self.lock.release()
            raise
        info = self.rig.info
        if info is not None:
            print(
                f"rig: servo-rig {info.version}, protocol {info.proto}, {info.channels} channels",
                file=sys.stderr,
            )

    def look(self) -> Callable[[int], str] | None:
        """What the virtual bench shows on a channel (None on real hardware)."""
        return self.bench.pointer_text if self.bench is not None else None

    def leave_safe(self, interrupted: bool) -> None:
        """STOP if interrupted, then always DETACH, then close; errors here are only reported."""
        with contextlib.suppress(StationError):
            if interrupted:
                self.rig.stop()
        try:
            self.rig.detach()
        except StationError as exc:
            print(f"warning: could not detach the servos: {exc.message}", file=sys.stderr)
        self.rig.close()
        self.lock.release()


def _run(port: str, home: Path, body: Callable[[Session], int]) -> int:
    session = Session(port, home)
    interrupted = False
    try:
        return body(session)
    except (KeyboardInterrupt, Stopped):
        interrupted = True
        print("\nstopped: the servos were halted and detached", file=sys.stderr)
        return 130
    finally:
        session.leave_safe(interrupted)


def run_calibrate(args: argparse.Namespace) -> int:
    """Interactive knob calibration; writes calibration/rigs/NAME.toml on 'save'."""
    from ..home import check_name
    from ..rig.calibrate import RigCalibration

    home = home_of(args)
    check_name(args.name)
    if args.name in list_rigs(home) and not args.force:
        raise RigError(
            f"a rig profile called {args.name!r} exists",
            "choose another --name, or add --force to replace it (the old one is kept as "
            f"{args.name}.toml.bak)",
        )

    def body(s: Session) -> int:
        stop = StopFlag()
        look = s.look()
        cal = RigCalibration(
            s.rig,
            name=args.name,
            port=s.port,
            firmware_version=s.rig.info.version if s.rig.info else "",
            look=look,
            stop=stop,
        )

        def live() -> str:
            return look(cal.current.channel) if look and cal.current else ""

        print("type 'help' for the commands; 'save' writes the profile", file=sys.stderr)
        if args.name in list_rigs(home):
            print(
                f"note: 'save' replaces the rig profile {args.name!r} (kept as .bak)",
                file=sys.stderr,
            )
        lines = command_lines(sys.stdin, prompt="rig> ")
        for line in lines:
            try:
                text, action = run_watched(partial(cal.execute, line), sys.stdin, stop, live)
                if action == "save":
                    path = save_rig(home, cal.profile())
                    return _saved(args, cal.profile(), path)
            except Stopped:
                raise
            except StationError as exc:
                print(error_lines(exc), file=sys.stderr, flush=True)
                continue
            if action == "quit" and cal.unsaved:
                print(
                    f"quit without saving {', '.join(cal.unsaved)}? type yes to quit, "
                    "anything else to go on",
                    file=sys.stderr,
                    flush=True,
                )
                if next(lines, "yes").strip().lower() not in ("y", "yes"):
                    continue
            if action == "quit":
                print("nothing saved", file=sys.stderr)
                return 1
            if text:
                print(text, file=sys.stderr, flush=True)
        raise RigError("the input ended before 'save': nothing was written", "end with 'save'")

    return _run(args.port, home, body)


def _saved(args: argparse.Namespace, rig: RigProfile, path: Path) -> int:
    if args.json:
        print_json({"rig": rig.name, "profile_path": path, **rig.to_dict()})
    else:
        print(f"Rig profile: {path}")
    return 0


def _open_profile(args: argparse.Namespace) -> tuple[RigProfile, str, Path]:
    home = home_of(args)
    profile = load_rig(home, args.rig)
    return profile, args.port or profile.port, home


def _print_status(st: dict[str, Any]) -> None:
    for name, k in st["knobs"].items():
        shown = "off its calibration" if k["value"] is None else f"{k['value']:g}"
        print(f"  {name:<10} {shown:>8}   (channel {k['channel']}, {k['pulse_us']} µs)")
    for name, sw in st["switches"].items():
        where = f"(channel {sw['channel']}, {sw['pulse_us']} µs)"
        print(f"  {name:<10} {sw['position'] or '?':>8}   {where}")


def run_status(args: argparse.Namespace) -> int:
    """Show where each knob and switch is."""
    profile, port, home = _open_profile(args)

    def body(s: Session) -> int:
        st = rig_status(profile, s.rig, s.port, s.bench)
        print_json(st) if args.json else _print_status(st)
        return 0

    return _run(port, home, body)


def run_move(args: argparse.Namespace) -> int:
    """Turn the named knobs and flip the named switches, slewed; then detach."""
    profile, port, home = _open_profile(args)
    knobs, switches = parse_settings(profile, args.settings)
    pulses = profile.pulses_for(knobs, switches)

    def body(s: Session) -> int:
        if s.rig.speed_us_per_s != profile.slew_us_per_s:
            s.rig.set_speed(profile.slew_us_per_s)
        what = ", ".join(args.settings)
        print(f"moving {what} ...", file=sys.stderr, flush=True)
        stop = StopFlag()  # Ctrl-C stops the move at once (then STOP and DETACH)
        names = {k.channel: k.name for k in profile.knobs}
        look = s.look()

        def live() -> str:
            return "; ".join(look(ch) for ch in pulses if ch in names) if look else ""

        reached = run_watched(partial(s.rig.move, pulses, stop=stop), sys.stdin, stop, live)
        st = rig_status(profile, s.rig, s.port, s.bench)
        st.update(moved={"knobs": knobs, "switches": switches}, pulses_us=reached)
        if args.json:
            print_json(st)
        else:
            print(f"moved: {what}")
            _print_status(st)
        return 0

    return _run(port, home, body)


def run_detach(args: argparse.Namespace) -> int:
    """Stop the pulses on every channel (the session's `finally` does it)."""
    profile, port, home = _open_profile(args)

    def body(_s: Session) -> int:
        if args.json:
            print_json({"rig": profile.name, "port": port, "detached": True})
        else:
            print("servos detached")
        return 0

    return _run(port, home, body)
