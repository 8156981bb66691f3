"""A fake serial port that plays a transcript, in the style of pymeasure's expected_protocol.

The transcript is a list of (sent, reply) pairs: each write must be the next
`sent`, and queues its `reply` for reading (None: the device stays silent).
A pair whose `sent` is None is something the device says on its own (a banner,
a DONE) once the host reads and nothing else is queued. Silence costs virtual
time only: the port keeps a clock that a read with nothing to give advances by
the port's timeout, so timeouts are exercised without waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

Pair = tuple[bytes | None, bytes | None]


class TranscriptPort:
    """A pyserial-like port driven by (sent, reply) pairs; `clock` is its virtual time."""

    def __init__(self, pairs: list[Pair]) -> None:
        self.pairs = list(pairs)
        self.timeout: float | None = None
        self.now = 0.0
        self.closed = False
        self._buffer = b""

    def clock(self) -> float:
        """Virtual seconds since the port opened."""
        return self.now

    def write(self, data: bytes) -> int:
        """Check `data` is the next expected line and queue its reply."""
        assert self.pairs, f"the host sent {data!r} after the transcript ended"
        sent, reply = self.pairs[0]
        assert sent == data, f"the host sent {data!r}; the transcript expected {sent!r}"
        self.pairs.pop(0)
        self._buffer += reply or b""
        return len(data)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        """The next line queued, or b'' after `timeout` virtual seconds of silence."""
        if not self._buffer and self.pairs and self.pairs[0][0] is None:
            self._buffer += self.pairs.pop(0)[1] or b""
        i = self._buffer.find(expected)
        if i < 0:
            out, self._buffer = self._buffer, b""
            self.now += self.timeout or 0.0
            return out
        out, self._buffer = self._buffer[: i + 1], self._buffer[i + 1 :]
        return out

    def close(self) -> None:
        """Mark the port closed."""
        self.closed = True


@contextlib.contextmanager
def expected_protocol(pairs: list[Pair]) -> Iterator[TranscriptPort]:
    """A TranscriptPort; on leaving the block, fails if any pair was left unused."""
    port = TranscriptPort(pairs)
    yield port
    assert not port.pairs, f"transcript pairs left unused: {port.pairs}"
