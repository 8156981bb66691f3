"""A simulated SCPI multimeter on a pseudo-terminal, for the real pyvisa path without hardware.

It answers `*IDN?` and `MEAS:VOLT:AC?` with a voltage taken from a callable
(the virtual rig's probe), or misbehaves on purpose: stays silent, answers
garbage, or drifts so its readings never settle.
"""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from collections.abc import Callable

MODES = ("ok", "silent", "garbage", "unstable")


class ScpiMeterSimulator:
    """Serves SCPI on the master side of a pty; open `resource_name` with pyvisa."""

    identity = "Virtual Instruments,VM-1000,000001,1.0"

    def __init__(self, read_vrms: Callable[[], float], mode: str = "ok") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self._read_vrms = read_vrms
        self.mode = mode
        self.received: list[str] = []
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: a plain byte pipe like a serial port
        self.port = os.ttyname(self._slave)
        self.resource_name = f"ASRL{self.port}::INSTR"
        self._quit = threading.Event()
        self._count = 0
        self._thread = threading.Thread(target=self._serve, name="scpi-sim", daemon=True)

    def start(self) -> ScpiMeterSimulator:
        """Begin answering."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop answering and release the pty."""
        self._quit.set()
        self._thread.join(2.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> ScpiMeterSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _reply(self, line: str) -> str | None:
        cmd = line.strip().upper()
        if self.mode == "silent":
            return None
        if cmd == "*IDN?":
            return self.identity
        if cmd.startswith("MEAS:VOLT:AC?") or cmd.startswith("MEASURE:VOLTAGE:AC?"):
            if self.mode == "garbage":
                return "\x15#?!volts"
            v = self._read_vrms()
            if self.mode == "unstable":
                self._count += 1
                v *= 1.0 + 0.02 * (self._count % 3)
            return f"{v:+.6E}"
        return None  # unknown commands are ignored, as many meters do

    def _serve(self) -> None:
        import select

        buf = b""
        while not self._quit.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 1024)
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").rstrip("\r")
                self.received.append(line)
                reply = self._reply(line)
                if reply is not None:
                    os.write(self._master, (reply + "\n").encode("latin-1"))
