"""The servo rig over a serial line: the host side of docs/servo-protocol.md (version 1).

Every command has a finite timeout and is resent with the same id (the
firmware executes a repeated id once and answers again) before failing with
the command, its id and what came back. Lines answering another id are logged
and ignored. A banner in mid-session means the board restarted: that is
reported (RigReset) and every known position is sent again, with the next
move's, before the rig does anything else. A port that fails to read or write
has gone (the cable is out: RigLost) until `reconnect` opens it again; a servo
that stalls is named (RigStall).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from ..errors import RigError, Stopped
from ..events import StopFlag
from ..phrases import Phrase
from .rig_constants import (
    BACKLASH_US,
    BAUD,
    DEFAULT_SPEED_US_PER_S,
    PROTO,
    PULSE_MAX_US,
    PULSE_MIN_US,
    SETTLE_S,
)

log = logging.getLogger("station.rig")

_POLL_S = 0.05  # how often a wait looks at the stop flag
_FLASH_HINT = "flash the firmware in firmware/servo_rig (README: Rig), or update the station"


class SerialPort(Protocol):
    """What the driver needs of a pyserial `Serial` (a fake in transcript tests)."""

    timeout: float | None

    def write(self, data: bytes) -> int | None:
        """Send bytes."""
        ...

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        """Bytes up to and including `expected`, or what came before `timeout` s passed."""
        ...

    def close(self) -> None:
        """Release the port."""
        ...


@dataclass(frozen=True)
class FirmwareInfo:
    """What the firmware says of itself in its banner and HELLO reply."""

    version: str
    proto: int
    channels: int


class RigReset(RigError):
    """The rig's board restarted mid-session: its servos are detached, positions unknown."""


class RigLost(RigError):
    """The rig's serial port went away (cable out, board gone from USB) until it is reopened."""


class RigStall(RigError):
    """A servo stalled (E_STALL): `channel` is the one the firmware named (None if it did not)."""

    def __init__(self, message: str, hint: str | Phrase = "", channel: int | None = None) -> None:
        super().__init__(message, hint)
        self.channel = channel


_STALLED_CHANNEL = re.compile(r"\bch(?:annel)?[ =](\d+)")


def _fields(tokens: list[str]) -> dict[str, str]:
    return dict(t.split("=", 1) for t in tokens if "=" in t)


def parse_info(tokens: list[str], line: str) -> FirmwareInfo:
    """FirmwareInfo from `servo-rig <version> proto=N channels=N` tokens; RigError otherwise."""
    kv = _fields(tokens)
    try:
        if tokens[0] != "servo-rig":
            raise ValueError
        info = FirmwareInfo(tokens[1], int(kv["proto"]), int(kv["channels"]))
    except (IndexError, KeyError, ValueError):
        raise RigError(
            f"the rig introduced itself as {line!r}, not as 'servo-rig <version> proto=1 ...'",
            _FLASH_HINT,
        ) from None
    if info.proto != PROTO:
        raise RigError(
            f"the rig's firmware {info.version} speaks protocol {info.proto}; "
            f"this station speaks protocol {PROTO}",
            _FLASH_HINT,
        )
    return info


def parse_positions(tokens: Iterable[str]) -> dict[int, int | None]:
    """Channel → µs from `ch=us` or `ch=us/feedback` tokens (feedback: parse_feedback); None for
    `ch=?`, a channel not commanded since the board's power-on."""
    out: dict[int, int | None] = {}
    for t in tokens:
        ch, _, rest = t.partition("=")
        us = rest.split("/", 1)[0]
        if ch.isdigit() and us.lstrip("-").isdigit():
            out[int(ch)] = int(us)
        elif ch.isdigit() and us == "?":
            out[int(ch)] = None
    return out


def parse_feedback(tokens: Iterable[str]) -> dict[int, int]:
    """Channel → feedback pot reading (ADC counts) from `ch=us/feedback` tokens (a POS line of
    feedback firmware): only the channels with a pot."""
    out: dict[int, int] = {}
    for t in tokens:
        ch, _, rest = t.partition("=")
        fb = rest.partition("/")[2]
        if ch.isdigit() and fb.lstrip("-").isdigit():
            out[int(ch)] = int(fb)
    return out


def parse_pulses(tokens: Iterable[str]) -> dict[int, int]:
    """Channel → µs from `ch=us` tokens (a DONE line): the channels with a known pulse."""
    return {ch: us for ch, us in parse_positions(tokens).items() if us is not None}


def slew_time_s(
    start_us: dict[int, int], target_us: dict[int, int], speed_us_per_s: float
) -> float:
    """Seconds a move takes at `speed_us_per_s`, backlash approach and settle included.

    A channel whose start is unknown is assumed to travel the whole 500–2500 µs span.
    """
    worst = 0.0
    for ch, target in target_us.items():
        start = start_us.get(ch)
        if start is None:
            travel = PULSE_MAX_US - PULSE_MIN_US + 2 * BACKLASH_US
        elif target >= start:
            travel = target - start
        else:  # overshoot below, then come up: the backlash rule
            travel = start - target + 2 * BACKLASH_US
        worst = max(worst, travel / speed_us_per_s)
    return worst + SETTLE_S


class ServoRig:
    """The serial servo rig (KnobRig) over an injected, already open pyserial-like port.

    `clock` is injectable so transcript tests run without waiting; `retries` is how
    often a command is resent after its timeout.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        name: str = "servo rig",
        clock: Callable[[], float] = time.monotonic,
        banner_timeout_s: float = 5.0,
        reply_timeout_s: float = 1.0,
        done_margin_s: float = 5.0,
        retries: int = 3,
        on_close: Callable[[], None] | None = None,
        reopen: Callable[[str], SerialPort] | None = None,
    ) -> None:
        self.name = name
        self.info: FirmwareInfo | None = None
        self.speed_us_per_s: float = DEFAULT_SPEED_US_PER_S
        self.resets = 0  # board restarts seen
        self.feedback_adc: dict[int, int] = {}  # the last POS's pot readings (feedback firmware)
        self.ignored: list[str] = []  # lines that answered nothing we waited for
        self._port = port
        self._clock = clock
        self._banner_timeout_s = banner_timeout_s
        self._reply_timeout_s = reply_timeout_s
        self._done_margin_s = done_margin_s
        self._retries = retries
        self._on_close = on_close
        self._reopen = reopen or open_serial
        self._gone: str | None = None  # why the port failed, until it is opened again
        self._next_id = 0
        self._partial = b""
        self._targets: dict[int, int] = {}  # last pulse each channel settled at
        self._speed_set = False
        self._lost = False  # the board restarted: re-send everything before going on
        self._io = threading.RLock()
        self._stop_asked = threading.Event()

    # -- the line layer -------------------------------------------------------------

    def _send(self, line: str) -> None:
        log.debug("rig <- %s", line)
        self._check_port()
        try:
            self._port.write((line + "\n").encode("ascii"))
        except OSError as exc:  # pyserial's SerialException is an OSError too
            self._port_failed(exc)

    def _check_port(self) -> None:
        if self._gone is not None:
            raise RigLost(
                f"the rig's serial port {self.name} is gone ({self._gone})",
                "plug the rig back in; the station opens the port again",
            )

    def _port_failed(self, exc: OSError) -> NoReturn:
        self._gone = str(exc) or type(exc).__name__
        self._lost = True  # the board resets when the port opens again
        log.warning("rig: the port %s failed: %s", self.name, self._gone)
        raise RigLost(  # what the OS said is in the log: the cause is the same either way
            f"the rig's serial port {self.name} went away (the cable is out, or the board "
            "dropped off USB)",
            "plug it back in; the station opens the port again and re-sends every position",
        ) from None

    def _next_line(self, deadline: float, stop: StopFlag | None = None) -> str | None:
        """The next complete line, or None once `deadline` passes or a stop is asked."""
        while True:
            if self._stopping(stop):
                return None
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            # Setting pyserial's timeout reconfigures the port: only when it changes.
            want = _POLL_S if remaining >= _POLL_S else round(remaining, 3) or 0.001
            self._check_port()
            try:
                if self._port.timeout != want:
                    self._port.timeout = want
                chunk = self._port.read_until(b"\n", 256)
            except OSError as exc:
                self._port_failed(exc)
            if not chunk:
                continue
            if not chunk.endswith(b"\n"):
                self._partial = (self._partial + chunk)[-512:]
                continue
            raw, self._partial = self._partial + chunk, b""
            line = raw.decode("ascii", "replace").strip("\r\n").strip()
            log.debug("rig -> %s", line)
            if line:
                return line

    def _stopping(self, stop: StopFlag | None) -> bool:
        return (stop is not None and stop.is_set()) or self._stop_asked.is_set()

    def _ignore(self, line: str, waiting_for: str) -> None:
        log.info("rig: ignored %r while waiting for %s", line, waiting_for)
        self.ignored.append(line)

    def _await(
        self,
        cid: int,
        kinds: set[str],
        timeout_s: float,
        what: str,
        seen: list[str],
        stop: StopFlag | None = None,
    ) -> list[str] | None:
        """The first reply of a kind in `kinds` echoing `cid`, as tokens; None on timeout."""
        deadline = self._clock() + timeout_s
        while (line := self._next_line(deadline, stop)) is not None:
            tokens = line.split()
            if tokens[0] == "READY":
                self._board_restarted(line, what)
            if len(tokens) >= 2 and tokens[1] == str(cid):
                if tokens[0] == "ERR":
                    self._raise_err(what, tokens)
                if tokens[0] in kinds:
                    return tokens
            seen.append(line)
            self._ignore(line, what)
        return None

    def _board_restarted(self, line: str, what: str) -> None:
        self._lost = True
        self._speed_set = False
        self.resets += 1
        log.warning("rig: the board restarted during %s (%r)", what, line)
        raise RigReset(
            f"the rig's board restarted during {what} (it printed {line!r}); its servos are "
            "detached and it no longer knows their positions",
            "check the USB cable and the servo power supply (a brown-out resets the board); "
            "the station re-sends every position before the next move",
        )

    def _raise_err(self, what: str, tokens: list[str]) -> None:
        code = tokens[2] if len(tokens) > 2 else "?"
        text = " ".join(tokens[3:])
        said = f" (firmware: {text})" if text else ""
        if code == "E_STALL":
            found = _STALLED_CHANNEL.search(text)
            raise RigStall(
                f"a servo stalled during {what}: it did not reach its target within 5 s{said}",
                "something blocks the knob: is it past its end stop or the linkage jammed? "
                + Phrase("Free it, then calibrate the rig again ({rig_calibrate})"),
                channel=int(found.group(1)) if found else None,
            )
        if code == "E_STOPPED":
            raise Stopped("the rig was stopped mid-move")
        messages: dict[str, tuple[str, str | Phrase]] = {
            "E_BUSY": (
                f"the rig refused {what}: an earlier move is still running",
                "wait for it to finish (or stop it) and try again",
            ),
            "E_RANGE": (
                f"the rig refused {what}: a pulse outside {PULSE_MIN_US}–{PULSE_MAX_US} µs",
                Phrase("check the rig profile's points ({rig_calibrate} rewrites them)"),
            ),
            "E_CHANNEL": (
                f"the rig refused {what}: no such servo channel",
                f"this board has {self.info.channels if self.info else 'fewer'} channels; "
                "check the channels in the rig profile",
            ),
            "E_SYNTAX": (f"the rig could not parse {what}", _FLASH_HINT),
        }
        message, hint = messages.get(code, (f"the rig answered {what} with {code}", _FLASH_HINT))
        raise RigError(message + said, hint)

    def _request(
        self, verb: str, args: str, kinds: set[str], *, tries: int | None = None
    ) -> list[str]:
        """Send a command, resending with the same id on timeout; the reply's tokens."""
        cid = self._new_id()
        line = f"{verb} {cid}" + (f" {args}" if args else "")
        seen: list[str] = []
        tries = self._retries + 1 if tries is None else tries
        for _ in range(tries):
            self._send(line)
            tokens = self._await(cid, kinds, self._reply_timeout_s, f"{verb} {cid}", seen)
            if tokens is not None:
                return tokens
        raise self._no_answer(verb, cid, tries, self._reply_timeout_s, seen)

    def _no_answer(
        self, verb: str, cid: int, tries: int, timeout_s: float, seen: list[str]
    ) -> RigError:
        got = ", ".join(repr(s) for s in seen[-4:]) or "nothing"
        return RigError(
            f"{verb} {cid}: no answer after {tries} tries of {timeout_s:g} s; got: {got}",
            Phrase("check the cable and the rig's power; {rig_status} tests the link"),
        )

    def _new_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    # -- the protocol ---------------------------------------------------------------

    def connect(self) -> FirmwareInfo:
        """Wait for the banner (RigError after `banner_timeout_s`), then HELLO."""
        with self._io:
            deadline = self._clock() + self._banner_timeout_s
            seen: list[str] = []
            while (line := self._next_line(deadline)) is not None:
                tokens = line.split()
                if tokens[0] == "READY":
                    parse_info(tokens[1:], line)  # refuse another protocol before sending
                    return self._hello()
                seen.append(line)
            # A board that does not reset when the port opens says nothing: ask it once.
            try:
                return self._hello(tries=1)
            except RigError as exc:
                if "protocol" in exc.message:
                    raise
            got = ", ".join(repr(s) for s in seen[-3:]) or "nothing"
            raise RigError(
                f"{self.name}: no banner in {self._banner_timeout_s:g} s; got: {got}",
                Phrase(
                    "is this the servo rig? {devices} lists serial ports; "
                    "check the firmware is flashed (README: The servo rig)"
                ),
            )

    def _hello(self, tries: int | None = None) -> FirmwareInfo:
        tokens = self._request("HELLO", "", {"OK"}, tries=tries)
        self.info = parse_info(tokens[2:], " ".join(tokens))
        return self.info

    def ping(self) -> None:
        """Check the link (PING/PONG); RigError when the rig does not answer."""
        with self._io:
            self._request("PING", "", {"PONG"})

    def _reestablish(self) -> None:
        """After a board restart: HELLO again, STOP, and the speed (the board forgot it). A
        MOVE sent before the banner was read may be running on the restarted board: STOP
        ends it, or the next MOVE would be refused as busy."""
        self._lost = False
        self._hello()
        self._request("STOP", "", {"OK"})
        if self.speed_us_per_s != DEFAULT_SPEED_US_PER_S:
            self.set_speed(self.speed_us_per_s)

    def restore(self) -> None:
        """After a board restart: HELLO again, the speed, and every known position."""
        with self._io:
            self._reestablish()
            if self._targets:
                log.warning("rig: re-sending every position after the restart")
                self._move(dict(self._targets), None, start={})

    def reconnect(self, port_name: str | None = None) -> FirmwareInfo:
        """After the port went away: open it again (or `port_name`, the same rig re-plugged
        under another name), read the banner and HELLO. The board reset when its port
        opened, so the next move re-sends every known position with its own.

        Raises RigError while the port is not there or does not answer as the rig.
        """
        with self._io:
            name = port_name or self.name
            with contextlib.suppress(OSError):  # the dead one first: it may hold the name
                self._port.close()
            port = self._reopen(name)
            self._port, self._partial, self._gone = port, b"", None
            self.name = name
            try:
                info = self.connect()
            except RigError as exc:
                self._gone = exc.message
                raise
            self._lost = True
            return info

    def move(self, pulses_us: dict[int, int], *, stop: StopFlag | None = None) -> dict[int, int]:
        """Slew these channels (µs) and wait for DONE; channel → pulse reached.

        Raises RigError for a pulse outside 500–2500 µs or a channel the board
        lacks (before sending), for an error reply, or when no DONE comes within
        the slew time plus 5 s after every retry; Stopped after a stop request.
        """
        for ch, us in pulses_us.items():
            if not PULSE_MIN_US <= int(us) <= PULSE_MAX_US:
                raise RigError(
                    f"channel {ch}: {us} µs is outside {PULSE_MIN_US}–{PULSE_MAX_US} µs",
                    "servos are only driven inside the range the rig profile calibrated",
                )
            if self.info is not None and not 0 <= ch < self.info.channels:
                raise RigError(
                    f"the rig has no channel {ch} (it has {self.info.channels})",
                    "check the channels in the rig profile",
                )
        asked = {c: int(u) for c, u in pulses_us.items()}
        with self._io:
            self._stop_asked.clear()
            if not self._lost:
                return self._move(asked, stop, self._targets)
            # The board restarted: every servo it drove goes where it belongs, this move's
            # channels to their new pulses, all in one slewed move from below.
            self._reestablish()
            log.warning("rig: re-sending every position after the restart")
            reached = self._move({**self._targets, **asked}, stop, start={})
            return {c: reached.get(c, u) for c, u in asked.items()}

    def _move(
        self, pulses: dict[int, int], stop: StopFlag | None, start: dict[int, int]
    ) -> dict[int, int]:
        cid = self._new_id()
        what = f"MOVE {cid}"
        line = what + "".join(f" {c} {u}" for c, u in sorted(pulses.items()))
        done_s = slew_time_s(start, pulses, self.speed_us_per_s) + self._done_margin_s
        seen: list[str] = []
        tries = self._retries + 1
        for _ in range(tries):
            self._send(line)
            got = self._await(cid, {"ACK", "DONE"}, self._reply_timeout_s, what, seen, stop)
            if got is not None and got[0] == "ACK":
                got = self._await(cid, {"DONE"}, done_s, what, seen, stop)
            if self._stopping(stop):
                self._halt(cid)
            if got is not None:
                reached = parse_pulses(got[2:]) or dict(pulses)
                self._targets.update(reached)
                return reached
        raise self._no_answer("MOVE", cid, tries, done_s, seen)

    def _halt(self, cid: int) -> None:
        self._stop_asked.clear()
        self._request("STOP", "", {"OK"})
        for ch in list(self._targets):  # where it stopped is unknown
            self._targets.pop(ch)
        raise Stopped(f"stopped during MOVE {cid}: the servos halted where they were")

    def positions(self) -> dict[int, int | None]:
        """Every channel's last commanded pulse (µs), as the rig reports it (POS); None for a
        channel not commanded since the board powered on. Feedback firmware's pot readings
        in the same reply are kept in `feedback_adc`."""
        with self._io:
            if self._lost:
                self.restore()
            tokens = self._request("POS", "", {"POS"})
            self.feedback_adc = parse_feedback(tokens[2:])
            return parse_positions(tokens[2:])

    def detach(self, channels: Iterable[int] | None = None) -> None:
        """Stop the pulses on `channels` (all when None): knobs stay put, servos stay quiet."""
        with self._io:
            chans = " ".join(str(c) for c in sorted(channels)) if channels is not None else ""
            self._request("DETACH", chans, {"OK"})

    def set_speed(self, us_per_s: float) -> None:
        """Set the slew rate of later moves (µs per second, at least 1)."""
        rate = max(1, round(us_per_s))
        with self._io:
            self._request("SPEED", str(rate), {"OK"})
            self.speed_us_per_s = float(rate)

    def stop(self) -> None:
        """Halt all motion now; from another thread, the running move sends STOP itself."""
        if self._io.acquire(timeout=0.05):
            try:
                self._request("STOP", "", {"OK"})
            finally:
                self._io.release()
        else:
            self._stop_asked.set()

    def close(self) -> None:
        """Close the port (and the virtual twin behind it, if any)."""
        try:
            with contextlib.suppress(OSError):  # a port that went away closes quietly
                self._port.close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> ServoRig:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def serial_ports() -> list[str]:
    """The serial ports this machine has now (their device names), as pyserial lists them."""
    from serial.tools import list_ports

    return [p.device for p in list_ports.comports()]


def open_serial(port_name: str) -> Any:
    """A pyserial port at 115200 8N1, opened exclusively; one-line RigErrors for the usual
    failures (missing, busy, permission denied)."""
    import serial

    try:
        return serial.Serial(port_name, BAUD, timeout=_POLL_S, write_timeout=2.0, exclusive=True)
    except serial.SerialException as exc:
        code = getattr(exc, "errno", None)
        text = str(exc)
        if code == errno.ENOENT or "No such file" in text:
            raise RigError(
                f"there is no serial port {port_name}",
                Phrase("plug the rig in; {devices} lists serial ports (or use {port_virtual})"),
            ) from None
        if code in (errno.EACCES, errno.EPERM) or "ermission denied" in text:
            raise RigError(
                f"permission denied on {port_name}",
                "add yourself to the dialout group (sudo usermod -aG dialout $USER), "
                "then log out and back in",
            ) from None
        if code in (errno.EBUSY, errno.EAGAIN) or "lock" in text or "busy" in text:
            raise RigError(
                f"{port_name} is busy: another program has it open",
                "close the Arduino serial monitor or the other station using it",
            ) from None
        raise RigError(f"cannot open {port_name}: {text}", "check the port name") from None


def connect_rig(
    port: SerialPort, name: str, on_close: Callable[[], None] | None = None, **kw: Any
) -> ServoRig:
    """A ServoRig on an open port, connected (its banner read); the port is closed on failure.

    Keywords go to ServoRig. Raises RigError with a hint when the rig does not answer.
    """
    rig = ServoRig(port, name=name, on_close=on_close, **kw)
    try:
        rig.connect()
    except BaseException:
        rig.close()
        raise
    return rig


def open_rig(port_name: str, **kw: Any) -> ServoRig:
    """A connected ServoRig on the serial port `port_name` (keywords go to ServoRig).

    Raises RigError with a hint when the port or the rig fails. The virtual
    rig's twin is opened by station.devices.open_rig.
    """
    return connect_rig(open_serial(port_name), port_name, **kw)
