"""Test signals the station plays: tones, sweeps, fades (pure numpy)."""

from __future__ import annotations

import numpy as np

from .levels import peak_from_dbfs

FADE_S = 0.02  # long enough that a fade-in or -out makes no click on a monitor


def fade_ramp(frames: int) -> np.ndarray:
    """A raised-cosine ramp from 0 to 1 over `frames` samples (float64)."""
    if frames <= 0:
        return np.ones(0)
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(frames) + 0.5) / frames)


def apply_fades(x: np.ndarray, fade_frames: int) -> np.ndarray:
    """Return `x` with a raised-cosine fade-in and fade-out of `fade_frames` samples."""
    y = np.array(x, dtype=np.float64, copy=True)
    k = min(fade_frames, len(y) // 2)
    ramp = fade_ramp(k)
    y[:k] *= ramp
    y[len(y) - k :] *= ramp[::-1]
    return y


def tone(
    freq_hz: float, level_dbfs: float, duration_s: float, samplerate: int, *, fade_s: float = FADE_S
) -> np.ndarray:
    """A sine of `level_dbfs` dBFS peak lasting `duration_s`, faded in and out (float64)."""
    frames = round(duration_s * samplerate)
    n = np.arange(frames)
    x = peak_from_dbfs(level_dbfs) * np.sin(2.0 * np.pi * freq_hz * n / samplerate)
    return apply_fades(x, round(fade_s * samplerate))


class ToneGenerator:
    """An endless sine, delivered block by block with phase continuity and fades.

    Used where a tone plays until the user has taken a reading. `request_stop()`
    starts a fade-out; `finished` turns true once it is complete.
    """

    def __init__(
        self, freq_hz: float, level_dbfs: float, samplerate: int, *, fade_s: float = FADE_S
    ) -> None:
        self.freq_hz = freq_hz
        self.peak = peak_from_dbfs(level_dbfs)
        self.samplerate = samplerate
        self._fade_frames = max(1, round(fade_s * samplerate))
        self._pos = 0
        self._stop_at: int | None = None
        self.finished = False

    @property
    def frames_played(self) -> int:
        """How many frames have been generated so far."""
        return self._pos

    def request_stop(self) -> None:
        """Begin the fade-out at the next block."""
        if self._stop_at is None:
            self._stop_at = self._pos

    def read(self, frames: int) -> np.ndarray:
        """The next `frames` samples (zeros once the fade-out has completed)."""
        if self.finished:
            return np.zeros(frames, dtype=np.float32)
        n = self._pos + np.arange(frames)
        x = self.peak * np.sin(2.0 * np.pi * self.freq_hz * n / self.samplerate)
        gain = np.minimum(1.0, (n + 0.5) / self._fade_frames)
        gain = 0.5 - 0.5 * np.cos(np.pi * gain)
        if self._stop_at is not None:
            out = 1.0 - np.clip((n - self._stop_at + 0.5) / self._fade_frames, 0.0, 1.0)
            gain = gain * (0.5 - 0.5 * np.cos(np.pi * out))
            if n[-1] >= self._stop_at + self._fade_frames:
                self.finished = True
        self._pos += frames
        return (x * gain).astype(np.float32)


def log_sweep(
    f_start_hz: float,
    f_end_hz: float,
    duration_s: float,
    samplerate: int,
    level_dbfs: float,
    *,
    fade_s: float = 0.01,
) -> np.ndarray:
    """An exponential sine sweep at `level_dbfs` dBFS peak, with short fades (float64)."""
    frames = round(duration_s * samplerate)
    t = np.arange(frames) / samplerate
    rate = np.log(f_end_hz / f_start_hz)
    phase = 2.0 * np.pi * f_start_hz * duration_s / rate * (np.exp(t * rate / duration_s) - 1.0)
    x = peak_from_dbfs(level_dbfs) * np.sin(phase)
    return apply_fades(x, round(fade_s * samplerate))


MARKER_S = 0.1  # the timing reference's marker: long enough to time, short enough to hide


def timing_marker(samplerate: int, level_dbfs: float) -> np.ndarray:
    """The short broadband marker a timing reference carries in every stream (a fast sweep)."""
    return log_sweep(100.0, min(20000.0, 0.45 * samplerate), MARKER_S, samplerate, level_dbfs)
