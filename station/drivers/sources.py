"""Ready-made block sources and sinks for streams: arrays, tones, in-memory recordings."""

from __future__ import annotations

import threading

import numpy as np


class ArraySource:
    """Plays a fixed array once; `finished` once its last sample was read."""

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
        out = np.zeros(frames, dtype=np.float32)
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
