"""Terminal side of a procedure: events to stderr, typed answers from stdin, JSON to stdout."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import StationError
from ..events import BatchProgress, Event, Instruction, Progress, Prompt, Result, Step, Warning_
from ..fsutil import json_safe
from ..virtual.rig import VirtualRig
from .keys import input_ended, read_line
from .words import say

_last_tenth = [-1]


def _progress(event: Progress) -> None:
    # A terminal gets one line updated in place; a log gets a line per tenth of the way,
    # and of training only its epochs (a batch's line would take an epoch's tenth).
    if sys.stderr.isatty():
        end = "\n" if event.fraction is not None and event.fraction >= 1.0 else ""
        print(f"\r   {event.message}\033[K", end=end, file=sys.stderr, flush=True)
        return
    if isinstance(event, BatchProgress):
        return
    if event.fraction is None:
        print(f"   {event.message}", file=sys.stderr, flush=True)
        return
    tenth = int(event.fraction * 10)
    if tenth != _last_tenth[0]:
        _last_tenth[0] = tenth
        print(f"   {event.message}", file=sys.stderr, flush=True)


def emit(event: Event) -> None:
    """Show a procedure event on stderr (stdout stays for results)."""
    if isinstance(event, Progress):
        _progress(event)
        return
    if isinstance(event, Step):
        line = f"== {event.text}"
    elif isinstance(event, Instruction):
        line = f">> {event.text}"
    elif isinstance(event, Result):
        unc = f" ± {event.uncertainty:.3g}" if event.uncertainty is not None else ""
        line = f"   {event.name} = {event.value:.4f}{unc} {event.unit}"
    elif isinstance(event, Warning_):
        line = f"warning: {say(event.text)}"
    else:
        return
    print(line, file=sys.stderr, flush=True)


def warn(text: str) -> None:
    """A warning line on stderr."""
    emit(Warning_(text))


def make_ask(rig: VirtualRig | None):
    """A meter prompt on the terminal; on the virtual rig it shows the bench meter's display."""

    def ask(prompt: str, error: str | None) -> str:
        if error:
            print(f"   {error}", file=sys.stderr)
        if rig is not None:
            print(f"   (virtual rig: the bench meter shows {rig.meter_display()})", file=sys.stderr)
        print(f"?? {prompt}: ", end="", file=sys.stderr, flush=True)
        line = read_line(sys.stdin)
        if not line:
            raise EOFError
        return line.strip()

    return ask


def no_answer() -> StationError:
    """The error for a question asked when nothing can answer it (the input has ended)."""
    return StationError(
        "no answer: the input ended (not a terminal, or closed) where Enter was awaited",
        "run it on a terminal to answer, or add --yes to go on without asking",
    )


def check_answerable(assume_yes: bool) -> None:
    """Raise `no_answer()` now when questions will be asked (no --yes) and stdin has ended."""
    if not assume_yes and input_ended(sys.stdin):
        raise no_answer()


def make_confirm(rig: VirtualRig | None, assume_yes: bool):
    """A 'press Enter when done' prompt; `assume_yes` skips the wait (the --yes flag)."""

    def confirm(prompt: Prompt) -> None:
        print(f">> {prompt.text}", file=sys.stderr, flush=True)
        if not assume_yes and not read_line(sys.stdin):
            raise no_answer()
        if rig is not None:
            rig.act_on(prompt)

    return confirm


def print_json(data: Any) -> None:
    """One JSON document on stdout (non-finite floats become null)."""
    print(json.dumps(json_safe(data), indent=2))


def print_verdict(passed: bool, checks: list[Any]) -> None:
    """The checks as a table on stdout, then the verdict line."""
    marks = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "n/a": "n/a ", "info": "info"}
    for c in checks:
        value = c.value
        shown = (
            f"{value:.4g}" if isinstance(value, float) else ("-" if value is None else str(value))
        )
        print(f"  [{marks.get(c.status, c.status)}] {c.name:<18} {shown:>10}  {c.message}")
    warned = sum(c.status == "warn" for c in checks)
    if passed:
        print(
            f"PASSED{f' with {warned} warning(s)' if warned else ''}: the NAM trainer should "
            "accept this capture"
        )
    else:
        failed = ", ".join(c.name for c in checks if c.status == "fail")
        print(f"FAILED ({failed}): retake while the gear is still set up")
