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

Faults for tests and benchmarks, as a night on a real bench brings them: the
board resets (`restart`: banner again, positions and attachment forgotten), a
horn jams for a move or two (`jam`: E_STALL), the USB cable is pulled (`unplug`:
the host's port fails) and put back under the same name or a new one (`plug`).
The port is a symlink to the pty, as udev's /dev/serial/by-id names are, so a
re-plug can come back under the name the host knew.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

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
    jammed: set[int] = field(default_factory=set)  # channels whose horn is held this move


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
        # For tests: called with each line the board took in, after it was handled and outside
        # the twin's locks (so it may unplug or restart the board at an exact point).
        self.on_line: Callable[[str], None] | None = None
        self._heard: list[str] = []
        self._tick_s = tick_s
        self.jammed: dict[int, int] = {}  # channel → stalls left before its horn turns again
        self.stalls = 0  # E_STALLs reported since it was made
        self._links = Path(tempfile.mkdtemp(prefix="station-twin-"))
        self._plugs = 0
        self._master = self._slave = -1
        self.device = self._new_pty()
        self._fd_lock = threading.Lock()
        self._quit = threading.Event()
        self._restart = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rig-twin", daemon=True)
        self._lock = threading.Lock()
        self._power_on()

    # -- life cycle -------------------------------------------------------------

    def _new_pty(self, new_name: bool = False) -> str:
        """A fresh pty pair, its slave linked as the port's name (a new name if asked)."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self._plugs += new_name
        link = self._links / f"ttyTWIN{self._plugs}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(os.ttyname(self._slave))
        return str(link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        with contextlib.suppress(FileNotFoundError):
            Path(self.device).unlink()

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

    def jam(self, channel: int, moves: int = 1) -> None:
        """A fault: the horn on `channel` is held where it is, from now (a move running feels
        it at once), until `moves` moves that try to turn it have ended in E_STALL (as a knob
        against something would with feedback firmware)."""
        with self._lock:
            self.jammed[channel] = moves
            if self._move is not None and channel in self._move.targets:
                self._move.jammed.add(channel)

    def moving(self) -> dict[int, float]:
        """The channels a move is turning now, each with the travel it has left (µs)."""
        with self._lock:
            move = self._move
            if move is None:
                return {}
            return {ch: abs(t - self.pulse_us[ch]) for ch, t in move.targets.items()}

    def unplug(self) -> None:
        """A fault: the USB cable is pulled. The host's port fails (EIO), its name is gone, and
        the board, powered from USB, is off until `plug`."""
        with self._fd_lock, self._lock:
            self._close_pty()
            self.attached.clear()
            self._move = None
        self.bench.save()

    def plug(self, *, new_name: bool = False) -> str:
        """Put the cable back: a new port (under the old name, or a new one as a re-plug into
        another socket gets); the board powers on when the host opens it (see `opened`).
        Returns the port's name."""
        with self._fd_lock, self._lock:
            self.device = self._new_pty(new_name)
            self._power_on()
            self._buf, self._last = b"", 0.0
        return self.device

    def opened(self) -> None:
        """The host opened the port: like an Arduino, the board resets and prints its banner."""
        self.restart()

    def close(self) -> None:
        """Stop serving, save the horn positions, release the pty."""
        self._quit.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.bench.save()
        with self._fd_lock:
            self._close_pty()
        shutil.rmtree(self._links, ignore_errors=True)

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
        self._buf = b""
        self._last = self.now_s()
        while not self._quit.is_set():
            with self._fd_lock:  # unplug and plug swap the pty only between two passes
                plugged = self._master >= 0
                if plugged:
                    self._pass()
            heard, self._heard = self._heard, []
            if self.on_line is not None:
                for line in heard:
                    self.on_line(line)
            if not plugged:  # no power, no port: wait for the cable
                self._quit.wait(self._tick_s)

    def _pass(self) -> None:
        """One pass of the main loop: a restart, the lines that came in, motion."""
        if self._restart.is_set():
            self._restart.clear()
            with self._lock:
                self._power_on()
            self._buf, self._last = b"", 0.0
            self._banner()
        ready, _, _ = select.select([self._master], [], [], self._tick_s)
        if ready:
            try:
                self._buf += os.read(self._master, 1024)
            except OSError:
                return
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").rstrip("\r").strip()
                if line and not self.silent:
                    self.received.append(line)
                    self._heard.append(line)
                    with self._lock:
                        self._command(line)
        now = self.now_s()
        with self._lock:
            self._advance(self._last, now)
        self._last = now

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
        for ch in targets:
            if self.jammed.get(ch, 0) > 0:  # spent only by a stall: a move that leaves the
                self._move.jammed.add(ch)  # knob where it is does not find the jam
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
            held = self.bench.horn(ch) if ch in move.jammed else None  # a jam: it stays put
            horn = held if held is not None else self.bench.drive(ch, self.pulse_us[ch])
            if abs(horn - self.pulse_us[ch]) > 20:  # held back: feedback disagrees
                since = move.held_since.setdefault(ch, now)
                if now - since > STALL_S:
                    self.attached.discard(ch)  # let it go, then say so
                    self.stalls += 1
                    if ch in move.jammed:
                        self.jammed[ch] -= 1
                    self.pulse_us[ch] = horn
                    self._move = None
                    self._move_say(f"ERR {move.cid} E_STALL ch={ch} at={round(horn)}")
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
