"""Terminal side of a procedure: events to stderr, typed answers from stdin, JSON to stdout."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from ..drivers.virtual import VirtualRig
from ..events import Event, Instruction, Progress, Prompt, Result, Step, Warning_


def emit(event: Event) -> None:
    """Show a procedure event on stderr (stdout stays for results)."""
    if isinstance(event, Step):
        line = f"== {event.text}"
    elif isinstance(event, Instruction):
        line = f">> {event.text}"
    elif isinstance(event, Progress):
        line = f"   {event.message}"
    elif isinstance(event, Result):
        unc = f" ± {event.uncertainty:.3g}" if event.uncertainty is not None else ""
        line = f"   {event.name} = {event.value:.4f}{unc} {event.unit}"
    elif isinstance(event, Warning_):
        line = f"warning: {event.text}"
    else:
        return
    print(line, file=sys.stderr, flush=True)


def make_ask(rig: VirtualRig | None):
    """A meter prompt on the terminal; on the virtual rig it shows the bench meter's display."""

    def ask(prompt: str, error: str | None) -> str:
        if error:
            print(f"   {error}", file=sys.stderr)
        if rig is not None:
            print(f"   (virtual rig: the bench meter shows {rig.meter_display()})", file=sys.stderr)
        print(f"?? {prompt}: ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.strip()

    return ask


def make_confirm(rig: VirtualRig | None, assume_yes: bool):
    """A 'press Enter when done' prompt; `assume_yes` skips the wait (the --yes flag)."""

    def confirm(prompt: Prompt) -> None:
        print(f">> {prompt.text}", file=sys.stderr, flush=True)
        if not assume_yes and not sys.stdin.readline():
            raise EOFError
        if rig is not None:
            rig.act_on(prompt)

    return confirm


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """One JSON document on stdout (non-finite floats become null)."""
    print(json.dumps(_clean(data), indent=2))
