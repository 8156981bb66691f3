"""Command lines from the keyboard: arrow keys jog at once, other keys edit a line.

On a terminal, ←/→ and ↓/↑ become the jog commands '-', '+', '--', '++'
without Enter; Escape or Ctrl-C raise KeyboardInterrupt (the caller stops and
detaches). Anywhere else (a pipe, a test), each input line is a command.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

from ..events import StopFlag

T = TypeVar("T")

ARROWS = {b"\x1b[C": "+", b"\x1b[D": "-", b"\x1b[A": "++", b"\x1b[B": "--"}
_typed_ahead = bytearray()  # text typed while a command ran, for the next line


def read_line(stream: TextIO) -> str:
    """One line from `stream` ("" at its end); Ctrl-C stops the wait at once.

    A blocking read in the main thread is only interrupted when the signal lands on the main
    thread; with audio or rig threads running, the kernel may hand it to one of them, and
    Ctrl-C would wait for Enter. So a helper thread reads while the main thread waits in short
    steps, each of which raises a pending KeyboardInterrupt.
    """
    got: list[str | BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            got.append(stream.readline())
        except BaseException as exc:  # handed to the caller's thread below
            got.append(exc)
        done.set()

    threading.Thread(target=read, name="station-stdin", daemon=True).start()
    while not done.wait(0.1):
        pass
    if isinstance(got[0], BaseException):
        raise got[0]
    return got[0]


_ended: weakref.WeakSet[TextIO] = weakref.WeakSet()  # streams whose input ended


def input_ended(stream: TextIO | None) -> bool:
    """True when reading `stream` now would find its end at once, without consuming it: no
    stream or a closed one, /dev/null, a file read to its end, or a pipe whose writer has
    closed it with nothing left in it. A terminal, a pipe still open, or a stream with no
    file behind it (it cannot be told) may yet answer: False."""
    if stream is None or stream.closed:
        return True
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
    except (OSError, ValueError):
        return False
    if stream.isatty():
        return False
    if stat.S_ISCHR(info.st_mode):
        with contextlib.suppress(OSError):
            return os.path.samestat(info, os.stat(os.devnull))
        return False
    if not stat.S_ISREG(info.st_mode) and not select.select([fd], [], [], 0)[0]:
        return False  # a pipe with nothing yet, its writer still there
    # Readable: the buffer's peek reads what there is (at once) and keeps it for the reader.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return not stream.buffer.peek(1)  # type: ignore[attr-defined]
    return False


def typed_within(stream: TextIO, timeout_s: float) -> str | None:
    """A line typed on `stream` within `timeout_s` (stripped; None when none came, or the input
    has ended, in which case the wait is just a sleep). Ctrl-C interrupts it."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        fd = -1
    if fd < 0 or stream in _ended:
        time.sleep(timeout_s)
        return None
    if not select.select([fd], [], [], timeout_s)[0]:
        return None
    line = stream.readline()
    if not line:
        _ended.add(stream)
        return None
    return line.strip() or None


def command_lines(stream: TextIO, prompt: str = "> ") -> Iterator[str]:
    """Yield one command per line typed (or per arrow key on a terminal)."""
    if stream.isatty():
        yield from _keys(stream, prompt)
        return
    while True:
        print(prompt, end="", file=sys.stderr, flush=True)
        line = read_line(stream)
        if not line:
            print(file=sys.stderr)
            return
        yield line.strip()


def _read_key(fd: int) -> bytes:
    """One key press: a byte, or a whole escape sequence (a lone Escape stays b'\\x1b')."""
    if _typed_ahead:
        key = bytes(_typed_ahead[:1])
        del _typed_ahead[:1]
        return key
    key = os.read(fd, 1)
    if key == b"\x1b":
        while select.select([fd], [], [], 0.05)[0]:
            key += os.read(fd, 1)
            if len(key) >= 3 and key[-1:].isalpha():
                break
    return key


def _keys(stream: TextIO, prompt: str) -> Iterator[str]:
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    buf = ""
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keys one by one (keeping what was typed ahead)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ISIG
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        while True:
            sys.stderr.write(f"\r{prompt}{buf}\033[K")
            sys.stderr.flush()
            key = _read_key(fd)
            if key in (b"\x1b", b"\x03"):
                raise KeyboardInterrupt
            if key == b"\x04" and not buf:  # Ctrl-D on an empty line: end of input
                sys.stderr.write("\n")
                return
            if key in ARROWS and not buf:
                sys.stderr.write("\r\033[K")
                yield ARROWS[key]
            elif key in (b"\r", b"\n"):
                sys.stderr.write("\n")
                line, buf = buf, ""
                yield line.strip()
            elif key in (b"\x7f", b"\x08"):
                buf = buf[:-1]
            elif len(key) == 1 and 32 <= key[0] < 127:
                buf += key.decode("ascii")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_watched(
    fn: Callable[[], T], stream: TextIO, stop: StopFlag, status: Callable[[], str] | None = None
) -> T:
    """Run `fn` in a thread; meanwhile on a terminal show `status()` live and turn Escape or
    Ctrl-C into a stop request. Text typed meanwhile is kept for the next line; arrow keys
    are dropped (no runaway jogs from a held key)."""
    if not stream.isatty():
        return fn()
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as exc:  # handed to the caller's thread
            box.append(("err", exc))

    worker = threading.Thread(target=target, name="station-rig-cmd", daemon=True)
    t0 = time.monotonic()
    worker.start()
    fd = stream.fileno()
    shown = False
    while worker.is_alive():
        if select.select([fd], [], [], 0.2)[0]:
            data = os.read(fd, 64)
            if data == b"\x1b" or b"\x03" in data:
                stop.set()
            elif not data.startswith(b"\x1b"):
                _typed_ahead.extend(data)
        elapsed = time.monotonic() - t0
        if elapsed > 0.5:
            extra = f" — {status()}" if status is not None else ""
            sys.stderr.write(f"\r   moving {elapsed:.1f} s{extra}\033[K")
            sys.stderr.flush()
            shown = True
    worker.join()
    if shown:
        sys.stderr.write("\r\033[K")
    kind, value = box[0]
    if kind == "err":
        raise value
    return value
