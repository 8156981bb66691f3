"""Ready-made block sources and sinks for streams: arrays, tones, in-memory recordings."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class ArraySource:
    """Plays a fixed array once (mono, or frames × outputs); `finished` once it was all read."""

    def __init__(self, samples: np.ndarray) -> None:
        self._x = np.asarray(samples, dtype=np.float32)
        self._pos = 0
        self.finished = len(self._x) == 0

    @property
    def frames_total(self) -> int:
        """Length of the array in frames."""
        return len(self._x)

    @property
    def frames_played(self) -> int:
        """Frames handed out so far."""
        return self._pos

    def read(self, frames: int) -> np.ndarray:
        """The next `frames` samples, zero-padded past the end."""
        out = np.zeros((frames, *self._x.shape[1:]), dtype=np.float32)
        chunk = self._x[self._pos : self._pos + frames]
        out[: len(chunk)] = chunk
        self._pos += len(chunk)
        if self._pos >= len(self._x):
            self.finished = True
        return out


class MemorySink:
    """Collects recorded blocks in memory (for short measurement takes)."""

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._lock = threading.Lock()

    def __call__(self, block: np.ndarray) -> None:
        with self._lock:
            self._blocks.append(np.asarray(block, dtype=np.float32))

    def samples(self) -> np.ndarray:
        """Everything recorded so far, as one float32 array."""
        with self._lock:
            if not self._blocks:
                return np.zeros(0, dtype=np.float32)
            return np.concatenate(self._blocks)


class StackedSource:
    """Plays several mono sources side by side, one per output (frames × outputs blocks)."""

    def __init__(self, *sources: ArraySource) -> None:
        self._sources = sources
        self.finished = all(s.finished for s in sources)

    def read(self, frames: int) -> np.ndarray:
        """The next block of every source, as columns; finished once all of them are."""
        block = np.column_stack([s.read(frames) for s in self._sources])
        self.finished = all(s.finished for s in self._sources)
        return block


class SplitSink:
    """Hands a stream's first return to `main` and keeps the head of the other returns.

    The other returns (a timing reference's input) matter only near the start,
    so just their first `keep_frames` frames are kept, in memory.
    """

    def __init__(self, main: Callable[[np.ndarray], None], keep_frames: int) -> None:
        self._main = main
        self._keep = keep_frames
        self._head = MemorySink()
        self._kept = 0

    def __call__(self, block: np.ndarray) -> None:
        self._main(np.ascontiguousarray(block[:, 0]))
        if self._kept < self._keep:
            part = block[: self._keep - self._kept, 1:]
            self._head(part)
            self._kept += len(part)

    def head(self) -> np.ndarray:
        """The kept frames of the other returns (frames × returns − 1)."""
        return self._head.samples()
