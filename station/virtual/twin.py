"""The servo rig's firmware simulated in Python behind a pseudo-terminal (`--port virtual`).

It follows docs/servo-protocol.md as the Arduino sketch does: banner, ids echoed
and a repeated id answered again, moves slewed at the set speed and ending
from below (backlash), DONE 300 ms after the last channel arrives, E_STALL when
a horn is held back (a knob against its end stop) for 5 s, the 60 s watchdog.
Time runs `speedup` times faster than the wall clock so tests stay short. The
horns move a ServoBench, so the virtual gear's knobs follow them; like a
firmware with feedback pots, the twin starts from where the horns are. It is
the PCA9685 build (16 channels): the bench's two pieces of gear use 10. POS
reports what the firmware would: the last commanded pulse; before any command,
the pulse its feedback pot reads (through the same 10-bit ADC); `?` on a channel
with neither.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Collection
from dataclasses import dataclass, field

from ..drivers.rig_constants import (
    BACKLASH_US,
    DEFAULT_SPEED_US_PER_S,
    LINE_MAX,
    MAX_SPEED_US_PER_S,
    PROTO,
    PULSE_MAX_US,
    PULSE_MIN_US,
    SETTLE_S,
    STALL_S,
    WATCHDOG_S,
)
from .servos import ServoBench

ADC_MAX = 1023  # a feedback pot's full-scale 10-bit reading (the firmware's RIG_FB_AT_2500)
SPEEDUP_ENV = "STATION_VIRTUAL_RIG_SPEEDUP"  # tests run the twin faster than real time


def speedup_from_env() -> float:
    """The twin's time speed-up asked for in $STATION_VIRTUAL_RIG_SPEEDUP (default 1)."""
    try:
        return max(0.01, float(os.environ.get(SPEEDUP_ENV) or 1.0))
    except ValueError:
        return 1.0


@dataclass
class _Move:
    cid: int
    targets: dict[int, int]
    waypoints: dict[int, list[float]]
    started_s: float = 0.0
    arrived_at: float | None = None
    held_since: dict[int, float] = field(default_factory=dict)


class VirtualFirmware:
    """Serves protocol v1 on a pty; open `device` with pyserial, then call start()."""

    def __init__(
        self,
        *,
        bench: ServoBench | None = None,
        channels: int = 16,
        speedup: float = 1.0,
        version: str = "1.0.0-twin",
        tick_s: float = 0.005,
        feedback_channels: Collection[int] | None = None,
    ) -> None:
        self.bench = bench if bench is not None else ServoBench()
        self.channels = channels
        # Channels with a feedback pot; None: every channel with a horn on it.
        self.feedback_channels = None if feedback_channels is None else set(feedback_channels)
        self.speedup = speedup
        self.version = version
        self.silent = False  # a fault for tests: the board stops answering
        self.trace: list[tuple[float, int, float]] = []  # (sim s, channel, µs) while moving
        self.received: list[str] = []
        self._tick_s = tick_s
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.device = os.ttyname(self._slave)
        self._quit = threading.Event()
        self._restart = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rig-twin", daemon=True)
        self._lock = threading.Lock()
        self._power_on()

    # -- life cycle -------------------------------------------------------------

    def _power_on(self) -> None:
        self.speed_us_per_s = float(DEFAULT_SPEED_US_PER_S)
        self.pulse_us: dict[int, float] = {}
        for ch in range(self.channels):
            horn = self.bench.horn(ch)
            self.pulse_us[ch] = 1500.0 if horn is None else horn
        self.commanded: set[int] = set()  # channels given a pulse since power-on
        self.attached: set[int] = set()
        self._move: _Move | None = None
        self._answers: dict[int, tuple[str, list[str]]] = {}
        self._t0 = time.monotonic()
        self._last_cmd_s = 0.0

    def now_s(self) -> float:
        """Simulated seconds since the board powered on (wall clock × speedup)."""
        return (time.monotonic() - self._t0) * self.speedup

    def start(self) -> VirtualFirmware:
        """Power the board on: it prints its banner and serves commands."""
        self._thread.start()
        return self

    def restart(self) -> None:
        """A fault for tests: the board resets (servos detached, state forgotten, banner)."""
        self._restart.set()

    def close(self) -> None:
        """Stop serving, save the horn positions, release the pty."""
        self._quit.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.bench.save()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> VirtualFirmware:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the loop ---------------------------------------------------------------

    def _say(self, line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._master, (line + "\n").encode("ascii"))

    def _banner(self) -> None:
        self._say(f"READY servo-rig {self.version} proto={PROTO} channels={self.channels}")

    def _serve(self) -> None:
        self._banner()
        buf = b""
        last = self.now_s()
        while not self._quit.is_set():
            if self._restart.is_set():
                self._restart.clear()
                with self._lock:
                    self._power_on()
                buf = b""
                last = 0.0
                self._banner()
            ready, _, _ = select.select([self._master], [], [], self._tick_s)
            if ready:
                try:
                    buf += os.read(self._master, 1024)
                except OSError:
                    return
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("ascii", "replace").rstrip("\r").strip()
                    if line and not self.silent:
                        self.received.append(line)
                        with self._lock:
                            self._command(line)
            now = self.now_s()
            with self._lock:
                self._advance(last, now)
            last = now

    def _command(self, line: str) -> None:
        self._last_cmd_s = self.now_s()
        tokens = line.split()
        verb = tokens[0]
        cid = int(tokens[1]) if len(tokens) > 1 and tokens[1].isdigit() else 0
        if not 1 <= cid <= 65535:
            self._say(f"ERR 0 E_SYNTAX no id in {line[:40]!r}")
            return
        old = self._answers.get(cid)
        if old is not None and old[0] == line:  # a retry: executed once, answered again
            for reply in old[1]:
                self._say(reply)
            return
        replies: list[str] = []
        self._answers[cid] = (line, replies)
        if len(self._answers) > 32:
            self._answers.pop(next(iter(self._answers)))

        def say(reply: str) -> None:
            replies.append(reply)
            self._say(reply)

        if len(line) > LINE_MAX:
            say(f"ERR {cid} E_SYNTAX line longer than {LINE_MAX}")
            return
        args = tokens[2:]
        handler = {
            "HELLO": self._hello,
            "PING": lambda c, a, s: s(f"PONG {c}"),
            "MOVE": self._start_move,
            "POS": self._pos,
            "DETACH": self._detach,
            "SPEED": self._speed,
            "STOP": self._stop,
        }.get(verb)
        if handler is None:
            say(f"ERR {cid} E_SYNTAX unknown command {verb[:20]}")
            return
        try:
            handler(cid, args, say)
        except ValueError:
            say(f"ERR {cid} E_SYNTAX bad arguments")

    def _hello(self, cid: int, _args: list[str], say) -> None:
        say(f"OK {cid} servo-rig {self.version} proto={PROTO} channels={self.channels}")

    def _start_move(self, cid: int, args: list[str], say) -> None:
        if not args or len(args) % 2:
            raise ValueError
        targets = {int(args[i]): int(args[i + 1]) for i in range(0, len(args), 2)}
        if self._move is not None:
            say(f"ERR {cid} E_BUSY move {self._move.cid} is running")
            return
        for ch, us in targets.items():
            if not 0 <= ch < self.channels:
                say(f"ERR {cid} E_CHANNEL {ch}")
                return
            if not PULSE_MIN_US <= us <= PULSE_MAX_US:
                say(f"ERR {cid} E_RANGE {us}")
                return
        say(f"ACK {cid}")
        waypoints = {}
        for ch, us in targets.items():
            if ch not in self.commanded and self._adc(ch) is None:
                # Position unknown: the first pulse is the undershoot, as the firmware's is.
                self.pulse_us[ch] = float(max(PULSE_MIN_US, us - BACKLASH_US))
            start = self.pulse_us[ch]
            below = max(PULSE_MIN_US, us - BACKLASH_US)
            waypoints[ch] = [float(below), float(us)] if us < start else [float(us)]
            self.attached.add(ch)
            self.commanded.add(ch)
        self._move = _Move(cid, targets, waypoints, started_s=self.now_s())
        self._move_say = say

    def _adc(self, ch: int) -> int | None:
        """The 10-bit reading of the channel's feedback pot, None without one (or a horn).
        The pot is turned by the knob (README: the firmware), so it reads where the knob is,
        which is not where the horn is when the horn slipped."""
        knob = self.bench.control_us(ch)
        if knob is None or not (self.feedback_channels is None or ch in self.feedback_channels):
            return None
        return round((knob - PULSE_MIN_US) / (PULSE_MAX_US - PULSE_MIN_US) * ADC_MAX)

    def _pos(self, cid: int, _args: list[str], say) -> None:
        parts = []
        for ch in range(self.channels):
            adc = self._adc(ch)
            if ch in self.commanded:
                us: int | str = round(self.pulse_us[ch])
            elif adc is not None:  # as the firmware's feedback_to_us(): integer arithmetic
                us = PULSE_MIN_US + adc * (PULSE_MAX_US - PULSE_MIN_US) // ADC_MAX
            else:
                us = "?"
            parts.append(f"{ch}={us}" + ("" if adc is None else f"/{adc}"))
        say(f"POS {cid} " + " ".join(parts))

    def _detach(self, cid: int, args: list[str], say) -> None:
        chans = [int(a) for a in args] if args else list(range(self.channels))
        if any(not 0 <= c < self.channels for c in chans):
            say(f"ERR {cid} E_CHANNEL {args}")
            return
        self.attached -= set(chans)
        if self._move is not None:
            for c in chans:
                self._move.waypoints.pop(c, None)
                self._move.targets.pop(c, None)
        self.bench.save()
        say(f"OK {cid}")

    def _speed(self, cid: int, args: list[str], say) -> None:
        rate = float(args[0])
        if not 1 <= rate <= MAX_SPEED_US_PER_S:
            say(f"ERR {cid} E_RANGE speed {args[0]}")
            return
        self.speed_us_per_s = rate
        say(f"OK {cid}")

    def _stop(self, cid: int, _args: list[str], say) -> None:
        if self._move is not None:
            self._move_say(f"ERR {self._move.cid} E_STOPPED")
            self._move = None
        say(f"OK {cid}")

    def _advance(self, then: float, now: float) -> None:
        """Slew every moving channel over [then, now] of simulated time; finish moves."""
        if self.attached and now - self._last_cmd_s > WATCHDOG_S:
            self.attached.clear()  # the host went away: let the servos go quiet
            self._move = None
            self.bench.save()
        move = self._move
        if move is None:
            return
        step = self.speed_us_per_s * (now - max(then, move.started_s))
        for ch, points in move.waypoints.items():
            if points and ch in self.attached:
                at, goal = self.pulse_us[ch], points[0]
                at = min(goal, at + step) if goal >= at else max(goal, at - step)
                self.pulse_us[ch] = at
                if len(self.trace) < 100_000:
                    self.trace.append((now, ch, at))
                if at == goal:
                    points.pop(0)
            horn = self.bench.drive(ch, self.pulse_us[ch])
            if abs(horn - self.pulse_us[ch]) > 20:  # held back: feedback disagrees
                since = move.held_since.setdefault(ch, now)
                if now - since > STALL_S:
                    self._move_say(f"ERR {move.cid} E_STALL ch={ch} at={round(horn)}")
                    self.attached.discard(ch)
                    self.pulse_us[ch] = horn
                    self._move = None
                    return
            else:
                move.held_since.pop(ch, None)
        if any(move.waypoints.values()):
            return
        if move.arrived_at is None:
            move.arrived_at = now
        if now - move.arrived_at >= SETTLE_S and not move.held_since:
            done = " ".join(f"{c}={u}" for c, u in sorted(move.targets.items()))
            self._move_say(f"DONE {move.cid} {done}".rstrip())
            self._move = None
            self.bench.save()
