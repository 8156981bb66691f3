"""Streaming DSP pieces of the simulated bench: a fractional delay line and a probe."""

from __future__ import annotations

import math
import threading

import numpy as np
import scipy.signal


class FractionalDelay:
    """Delays a stream by a non-integer number of samples (windowed-sinc FIR).

    Samples are pushed as they are produced and pulled block by block. Pulling
    needs `half_taps` samples of look-ahead beyond the block; the caller pushes
    one block ahead to provide it.
    """

    def __init__(self, delay_samples: float, half_taps: int = 48) -> None:
        if delay_samples < 0:
            raise ValueError("a delay cannot be negative")
        self.delay_samples = float(delay_samples)
        self._n_int = math.floor(delay_samples)
        frac = delay_samples - self._n_int
        self._m = half_taps
        j = np.arange(2 * half_taps + 1)
        taps = np.sinc(j - half_taps - frac) * np.kaiser(2 * half_taps + 1, 9.0)
        # Normalise the DC gain so a delayed tone keeps its level exactly at low frequencies.
        self._taps = taps / taps.sum()
        self._buf = np.zeros(0)
        self._base = 0  # stream index of _buf[0]
        self._out_pos = 0  # next output index

    def push(self, block: np.ndarray) -> None:
        """Append input samples to the line."""
        self._buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float64)])

    def pull(self, frames: int) -> np.ndarray:
        """The next `frames` delayed samples (input before stream start counts as silence)."""
        lo = self._out_pos - self._n_int - self._m
        hi = self._out_pos + frames - 1 - self._n_int + self._m
        seg = np.zeros(hi - lo + 1)
        src_lo, src_hi = max(lo, self._base), min(hi, self._base + len(self._buf) - 1)
        if src_hi >= src_lo:
            seg[src_lo - lo : src_hi - lo + 1] = self._buf[
                src_lo - self._base : src_hi - self._base + 1
            ]
        out = np.convolve(seg, self._taps, mode="valid")
        self._out_pos += frames
        keep_from = self._out_pos - self._n_int - self._m
        if keep_from > self._base:
            drop = min(keep_from - self._base, len(self._buf))
            self._buf = self._buf[drop:]
            self._base += drop
        return out


class Probe:
    """The last second of a voltage, where a voltmeter's leads touch (thread-safe)."""

    def __init__(self, samplerate: int, seconds: float = 1.0) -> None:
        self.samplerate = samplerate
        self._size = int(samplerate * seconds)
        self._ring = np.zeros(self._size)
        self._filled = 0
        self._lock = threading.Lock()

    def write(self, volts: np.ndarray) -> None:
        """Record the newest voltage samples."""
        v = np.asarray(volts, dtype=np.float64)[-self._size :]
        with self._lock:
            self._ring = np.roll(self._ring, -len(v))
            self._ring[-len(v) :] = v
            self._filled = min(self._size, self._filled + len(v))

    def true_rms(self, window_s: float, bandwidth_hz: float | None = None) -> float:
        """RMS volts over the last `window_s`, through a first-order meter bandwidth if given."""
        with self._lock:
            v = self._ring[self._size - self._filled :].copy()
        if bandwidth_hz is not None and len(v):
            b, a = scipy.signal.butter(1, bandwidth_hz, fs=self.samplerate)
            v = scipy.signal.lfilter(b, a, v)
        n = min(len(v), int(window_s * self.samplerate))
        return float(np.sqrt(np.mean(v[-n:] ** 2))) if n else 0.0
