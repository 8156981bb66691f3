"""The servo rig firmware running in simavr: build it, start the harness, read its pulse log.

The harness (firmware/sim/servo_sim.c) bridges the AVR's UART to a pseudo-terminal and logs every
servo pulse, every line in and out, and a tick per simulated second, all stamped in AVR cycles.
Tests assert on those cycles, never on wall-clock time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import serial

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO / "firmware"
BUILD_DIR = FIRMWARE_DIR / "build"
HARNESS = BUILD_DIR / "sim" / "servo_sim"
CYCLES_PER_S = 16_000_000
CYCLES_PER_US = CYCLES_PER_S // 1_000_000
BANNER = "READY servo-rig 1.0.0 proto=1 channels=6"
PCA9685_OSC_HZ = 25_000_000

_built = False


def toolchain_missing() -> str | None:
    """Why the firmware cannot be built and simulated here, or None when it can."""
    if shutil.which("avr-g++") is None:
        return "avr-g++ not installed (gcc-avr)"
    if not Path("/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h").exists():
        return "the Arduino core is not installed (arduino-core-avr)"
    if not Path("/usr/include/simavr/sim_avr.h").exists():
        return "simavr headers not installed (libsimavr-dev)"
    return None


def build() -> None:
    """Build every firmware variant and the harness (quick when up to date); raises on error."""
    global _built
    if _built:
        return
    done = subprocess.run(
        ["make", "-C", str(FIRMWARE_DIR), "-s", "-j2", "all"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    _built = True


@dataclass
class SimLog:
    """What the harness logged so far; every time is in AVR cycles."""

    pulses: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    rx: list[tuple[int, str]] = field(default_factory=list)
    tx: list[tuple[int, str]] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    i2c: list[tuple[int, int, bytes]] = field(default_factory=list)  # (cycle, register, data)
    now_cycle: int = 0

    def widths_us(
        self, ch: int, after_cycle: int = 0, before_cycle: int | None = None
    ) -> list[tuple[int, float]]:
        """Pulses on channel `ch` rising in [after_cycle, before_cycle): (rise cycle, width µs)."""
        end = self.now_cycle + 1 if before_cycle is None else before_cycle
        return [
            (rise, width / CYCLES_PER_US)
            for rise, width in self.pulses.get(ch, [])
            if after_cycle <= rise < end
        ]

    def pca_widths_us(self, ch: int) -> list[tuple[int, float | None]]:
        """PCA9685 channel ch's pulse width after each write to it: (cycle, µs or None = off).

        Decoded from the logged register writes as the chip would (auto-increment, prescaler,
        the full-off bit), at its nominal 25 MHz oscillator.
        """
        regs = bytearray(256)
        regs[0xFE] = 0x1E  # the chip's reset prescale
        base = 6 + 4 * ch
        out: list[tuple[int, float | None]] = []
        for cycle, reg, data in self.i2c:
            regs[reg : reg + len(data)] = data
            if reg <= base + 3 and reg + len(data) > base:
                on = regs[base] | (regs[base + 1] & 0x0F) << 8
                off = regs[base + 2] | (regs[base + 3] & 0x0F) << 8
                frame_us = (regs[0xFE] + 1) * 4096 / PCA9685_OSC_HZ * 1e6
                full_off = bool(regs[base + 3] & 0x10)
                out.append((cycle, None if full_off else (off - on) % 4096 * frame_us / 4096))
        return out

    def tx_cycle(self, line: str) -> int:
        """Cycle at which the AVR finished sending `line` (the first one); KeyError if never."""
        for cycle, text in self.tx:
            if text == line:
                return cycle
        raise KeyError(f"the firmware never sent {line!r}; it sent {[t for _, t in self.tx]}")

    def rx_cycle(self, line: str) -> int:
        """Cycle at which the AVR had received `line` (the last such one); KeyError if never."""
        for cycle, text in reversed(self.rx):
            if text == line:
                return cycle
        raise KeyError(f"the firmware never received {line!r}")


def parse_log(text: str) -> SimLog:
    """Parse the harness's log lines (see firmware/sim/servo_sim.c) into a SimLog."""
    log = SimLog()
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "P":
            ch, rise, width = (int(x) for x in rest.split())
            log.pulses.setdefault(ch, []).append((rise, width))
            log.now_cycle = max(log.now_cycle, rise + width)
        elif kind in ("RX", "TX"):
            cycle_text, _, message = rest.partition(" ")
            (log.rx if kind == "RX" else log.tx).append((int(cycle_text), message))
            log.now_cycle = max(log.now_cycle, int(cycle_text))
        elif kind == "I2C":
            cycle_text, reg, *data = rest.split()
            log.i2c.append((int(cycle_text), int(reg), bytes(int(b, 16) for b in data)))
            log.now_cycle = max(log.now_cycle, int(cycle_text))
        elif kind in ("T", "START", "END", "RESET"):
            log.now_cycle = max(log.now_cycle, int(rest))
            if kind == "RESET":
                log.resets.append(int(rest))
    return log


class FirmwareSim:
    """One simulated board: the harness process, its pseudo-terminal and its pulse log."""

    def __init__(
        self,
        log_path: Path,
        variant: str = "pins",
        *,
        speed: float | None = 20.0,
        pots: dict[int, str] | None = None,
    ) -> None:
        """Start the harness for firmware `variant` (the AVR waits for go()); variant pca9685
        gets a simulated PCA9685 on its I2C bus.

        speed: simulated seconds per wall second (None: as fast as the host allows); pots: {ch:
        'follow' | 'stuck:US'} (variant pins-fb reads pots on channels 0-3).
        """
        build()
        self.log_path = log_path
        args = [str(HARNESS), "--log", str(log_path)]
        args += ["--unthrottled"] if speed is None else ["--speed", str(speed)]
        if variant == "pca9685":
            args.append("--pca9685")
        for ch, mode in (pots or {}).items():
            args += ["--pot", f"{ch}={mode}"]
        args.append(str(BUILD_DIR / variant / "servo_rig.elf"))
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.pty_path = self._read_pty_path()

    def _read_pty_path(self) -> str:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("PTY "):
                return line.split(maxsplit=1)[1].strip()
        raise RuntimeError(f"servo_sim exited ({self._proc.wait()}) without naming its pty")

    def _send(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    def go(self) -> None:
        """Start the AVR (as a board starts when the host opens its port)."""
        self._send("GO")

    def reset(self) -> None:
        """Reset the AVR mid-session (the firmware restarts and prints its banner again)."""
        self._send("RESET")

    def reset_at(self, word: str, nth: int, delay_ms: int) -> None:
        """Reset the AVR `delay_ms` simulated ms after it has received its `nth` line starting
        with `word` from now (a brown-out at a known point of a move, in AVR time)."""
        self._send(f"RESET AT {word} {nth} {delay_ms}")

    def set_pot(self, ch: int, mode: str, us: int = 0) -> None:
        """Make channel ch's feedback pot follow its servo ('follow') or stick at `us` ('stuck')."""
        self._send(f"POT {ch} {mode} {us}")

    def log(self) -> SimLog:
        """Everything logged so far."""
        return parse_log(self.log_path.read_text())

    def wait_until(
        self, done: Callable[[SimLog], bool], timeout_s: float = 60.0, what: str = "condition"
    ) -> SimLog:
        """Poll the log until done(log) is true; raises TimeoutError (a wall-clock guard only)."""
        deadline = time.monotonic() + timeout_s
        while True:
            log = self.log()
            if done(log):
                return log
            if self._proc.poll() is not None:
                raise RuntimeError(f"servo_sim exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulation: no {what} after {timeout_s} s wall time")
            time.sleep(0.02)

    def wait_cycles(self, cycle: int, timeout_s: float = 120.0) -> SimLog:
        """Wait until simulated time has passed `cycle`."""
        return self.wait_until(lambda log: log.now_cycle >= cycle, timeout_s, f"cycle {cycle}")

    def close(self) -> None:
        """Stop the harness (it unlinks what it made and exits)."""
        if self._proc.poll() is None:
            try:
                self._send("QUIT")
                self._proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> FirmwareSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RawLink:
    """Protocol lines over pyserial, with no driver logic: for testing the firmware itself."""

    def __init__(self, port_path: str) -> None:
        """Open the simulator's pseudo-terminal."""
        self.port = serial.Serial(port_path, 115200, timeout=0.1)

    def read_line(self, timeout_s: float = 30.0) -> str:
        """The next line from the firmware; TimeoutError after timeout_s of wall time."""
        deadline = time.monotonic() + timeout_s
        buf = b""
        while not buf.endswith(b"\n"):
            buf += self.port.readline()
            if not buf.endswith(b"\n") and time.monotonic() > deadline:
                raise TimeoutError(f"no line from the firmware in {timeout_s} s (got {buf!r})")
        return buf.decode("ascii").rstrip("\r\n")

    def send(self, line: str) -> None:
        """Send one line."""
        self.port.write(line.encode("ascii") + b"\n")

    def ask(self, line: str) -> str:
        """Send one line and return the next line that comes back."""
        self.send(line)
        return self.read_line()

    def close(self) -> None:
        """Close the port."""
        self.port.close()
