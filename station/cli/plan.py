"""`station plan`: choose the knob settings worth capturing and the order to play them."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import StationError
from ..plan.adaptive import adaptive_request
from ..plan.design import (
    DEFAULT_ANCHOR_EVERY,
    DEFAULT_CAPTURE_S,
    METHODS,
    KnobRange,
    Plan,
    PlanRequest,
    SwitchChoice,
)
from ..plan.setup import by_hand, for_rig, hms, make_and_write, plan_summary
from ..plan.signal_offer import SignalOffer, shorter_signal_offer
from ..rig.motion import DEFAULT_SLEW_US_PER_S, MotionModel
from .common import home_of, number
from .console import print_json


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `plan` subcommand."""
    p = sub.add_parser(
        "plan",
        parents=[common],
        help="plan the knob settings of a sweep by experimental design, ordered by travel",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--rig", help="rig profile (calibration/rigs/NAME.toml): its knobs and switches"
    )
    src.add_argument(
        "--knob",
        action="append",
        metavar="NAME=MIN:MAX",
        help="a knob by hand, e.g. drive=0:10 (repeat for each knob)",
    )
    p.add_argument(
        "--switch",
        action="append",
        default=[],
        metavar="NAME=POS,POS",
        help="a switch by hand, e.g. boost=off,on (with --knob)",
    )
    p.add_argument(
        "--settings", type=int, required=True, help="settings to capture, holdout included"
    )
    p.add_argument("--method", default="maximin-lhs", help=f"one of {', '.join(METHODS)}")
    p.add_argument("--holdout", type=int, default=None, help="settings held out (default ~10 %%)")
    p.add_argument("--levels", default=None, metavar="P,...", help="reamp levels in dBu, a factor")
    p.add_argument("--seed", type=int, default=1, help="same seed, same plan")
    p.add_argument("--corners", action="store_true", help="include every knob corner")
    p.add_argument("--centre", action="store_true", help="include the knobs' centre")
    p.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the drift anchor (default: knobs centred, switches in their first position)",
    )
    p.add_argument("--anchor-every", type=int, default=DEFAULT_ANCHOR_EVERY, metavar="N")
    p.add_argument(
        "--capture-s",
        type=number,
        default=DEFAULT_CAPTURE_S,
        help="seconds one capture takes (default: NAM's 190 s file plus noise and tail)",
    )
    p.add_argument(
        "--slew",
        type=number,
        default=None,
        metavar="US_PER_S",
        help=f"servo speed for --knob plans (default {DEFAULT_SLEW_US_PER_S:g} µs/s)",
    )
    a = p.add_argument_group("adaptive rounds (the sweep chooses the rest of the settings)")
    a.add_argument(
        "--adaptive",
        action="store_true",
        help="plan a space-filling start; the sweep chooses the rest where models disagree",
    )
    a.add_argument(
        "--initial",
        type=int,
        default=None,
        metavar="M",
        help="training settings of the start (default: half the training budget)",
    )
    a.add_argument(
        "--batch", type=int, default=None, metavar="B", help="settings chosen per round (4)"
    )
    a.add_argument(
        "--members", type=int, default=None, metavar="K", help="quick models per round (3)"
    )
    a.add_argument(
        "--max-hours", type=number, default=None, metavar="H", help="stop choosing after H hours"
    )
    a.add_argument(
        "--stop-below",
        type=number,
        default=None,
        metavar="ESR",
        help="stop choosing when the models' worst disagreement is below this (default: never)",
    )
    p.add_argument("--out", type=Path, required=True, help="plan file to write (JSON)")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.set_defaults(handler=run)


def _pair(text: str, flag: str, example: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise StationError(f"{flag} {text!r} is not NAME=VALUE", f"e.g. {flag} {example}")
    return name.strip(), value.strip()


def parse_knob(text: str) -> KnobRange:
    """'drive=0:10' as a KnobRange; StationError when malformed."""
    name, value = _pair(text, "--knob", "drive=0:10")
    lo, sep, hi = value.partition(":")
    try:
        if not sep:
            raise ValueError
        return KnobRange(name, float(lo), float(hi))
    except ValueError:
        raise StationError(
            f"--knob {text!r}: the range is not MIN:MAX", "e.g. drive=0:10"
        ) from None


def parse_switch(text: str) -> SwitchChoice:
    """'boost=off,on' as a SwitchChoice; StationError when malformed."""
    name, value = _pair(text, "--switch", "boost=off,on")
    return SwitchChoice(name, tuple(p.strip() for p in value.split(",") if p.strip()))


def parse_levels(text: str | None, flag: str = "--levels") -> tuple[float, ...]:
    """'5.74,11.76' as dBu values; StationError when one is not a finite number."""
    if text is None:
        return ()
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) for v in values):
        raise StationError(
            f"{flag} {text!r} is not a list of dBu values", f"e.g. {flag} 5.74,11.76,15,18"
        )
    return values


def request_and_model(args: argparse.Namespace) -> tuple[PlanRequest, MotionModel]:
    """The plan request and motion model from the command line (loads the rig profile)."""
    common = dict(
        settings=args.settings,
        method=args.method,
        holdout=args.holdout,
        levels_dbu=parse_levels(args.levels),
        seed=args.seed,
        corners=args.corners,
        centre=args.centre,
        anchor=dict(_pair(a, "--anchor", "drive=5") for a in args.anchor) or None,
        anchor_every=args.anchor_every,
        capture_s=args.capture_s,
    )
    if args.rig:
        if args.switch or args.slew is not None:
            raise StationError(
                "--switch and --slew go with --knob; a rig profile has its own",
                "drop them, or plan by hand with --knob",
            )
        from ..rig.profiles import load_rig

        req, model = for_rig(PlanRequest(knobs=(), **common), load_rig(home_of(args), args.rig))
        return with_adaptive(args, req), model
    knobs = tuple(parse_knob(k) for k in args.knob)
    switches = tuple(parse_switch(s) for s in args.switch)
    slew = DEFAULT_SLEW_US_PER_S if args.slew is None else args.slew
    if not (math.isfinite(slew) and slew > 0):
        raise StationError("--slew must be a positive speed in µs/s", "the firmware default is 300")
    req = PlanRequest(knobs=knobs, switches=switches, **common)
    return with_adaptive(args, req), by_hand(req, slew)


ADAPTIVE_FLAGS = ("initial", "batch", "members", "max_hours", "stop_below")


def with_adaptive(args: argparse.Namespace, req: PlanRequest) -> PlanRequest:
    """`req` with the adaptive spec the command line asks for (--adaptive and its flags);
    StationError for those flags without --adaptive."""
    given = [f for f in ADAPTIVE_FLAGS if getattr(args, f, None) is not None]
    if not getattr(args, "adaptive", False):
        if given:
            flags = ", ".join("--" + f.replace("_", "-") for f in given)
            verb = "goes" if len(given) == 1 else "go"
            raise StationError(f"{flags} {verb} with --adaptive", "add --adaptive, or drop them")
        return req
    return adaptive_request(
        req,
        initial=args.initial,
        batch=args.batch,
        members=args.members,
        max_hours=args.max_hours,
        stop_below=args.stop_below,
    )


def print_table(plan: Plan) -> None:
    """The plan as a table on stdout, then its time estimates."""
    r = plan.request
    names = [k.name for k in r.knobs] + [s.name for s in r.switches]
    widths = [max(6, len(n)) for n in names]
    head = "  ".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True))
    print(f"  id    role     {head}{'  reamp dBu' if r.levels_dbu else ''}")
    for s in plan.settings:
        cells = [f"{s.knobs[k.name]:>{w}.3g}" for k, w in zip(r.knobs, widths, strict=False)]
        cells += [
            f"{s.switches[sw.name]:>{w}}"
            for sw, w in zip(r.switches, widths[len(r.knobs) :], strict=True)
        ]
        level = f"  {s.reamp_dbu:9.2f}" if s.reamp_dbu is not None else ""
        print(f"  {s.id:<5} {s.role:<8} {'  '.join(cells)}{level}")
    for line in plan_summary(plan):
        print(line)


def overhead_for(args: argparse.Namespace) -> tuple[float, str]:
    """The station overhead per setting a plan should expect, and where the figure comes from
    (station.sweep.overhead.expected_overhead for this home)."""
    from ..home import captures_dir
    from ..sweep.overhead import expected_overhead

    return expected_overhead(captures_dir(home_of(args)))


def run(args: argparse.Namespace) -> int:
    """Make the plan, write it, show it."""
    req, model = request_and_model(args)
    if args.out.is_dir():
        raise StationError(f"{args.out} is a folder", "give a file name, e.g. --out plan.json")
    if args.out.exists() and not args.force:
        raise StationError(f"{args.out} exists", "give another --out, or add --force to replace it")
    overhead_s, source = overhead_for(args)
    plan = make_and_write(req, model, args.out, overhead_s=overhead_s, note=source)
    data = plan.to_json()
    # An adaptive plan's size is its budget, not its start: no offer to trade it.
    offer = None if plan.request.adaptive else shorter_signal_offer(plan, model)
    if args.json:
        shorter = {"shorter_signal": offer.to_json()} if offer else {}
        print_json({"plan_path": str(args.out.resolve()), **data, **shorter})
    else:
        print_table(plan)
        print(f"Plan: {args.out}")
        if offer:
            print_offer(plan, offer)
    return 0


def print_offer(plan: Plan, offer: SignalOffer) -> None:
    """Offer the shorter station signal: the settings it fits in this plan's time."""
    print(
        f"Shorter captures buy more settings: the station signal with {offer.training_s:g} s "
        f"of training material ({offer.capture_s:g} s a capture) fits {offer.settings} "
        f"settings in {hms(offer.total_s)} ({plan.request.settings} now); at one capture time "
        "it gave the better model on the virtual od pedal (README, Measured accuracy):"
    )
    print(
        f"  station signal --training-s {offer.training_s:g} --out short.wav; plan again with "
        f"--settings {offer.settings} --capture-s {offer.capture_s:g}; sweep run with "
        "--input short.wav"
    )
