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
        """RMS volts over the last `window_s`, as a meter with a first-order roll-off above
        `bandwidth_hz` reads them (each frequency's power weighted by 1/(1 + (f/fc)²))."""
        with self._lock:
            v = self._ring[self._size - self._filled :].copy()
        n = min(len(v), int(window_s * self.samplerate))
        if not n:
            return 0.0
        v = v[-n:]
        if bandwidth_hz is None:
            return float(np.sqrt(np.mean(v**2)))
        spectrum = np.abs(np.fft.rfft(v)) ** 2
        spectrum[1 : (n + 1) // 2] *= 2.0  # the negative frequencies' share (Parseval)
        freqs = np.fft.rfftfreq(n, 1.0 / self.samplerate)
        power = np.sum(spectrum / (1.0 + (freqs / bandwidth_hz) ** 2)) / n**2
        return float(np.sqrt(power))


def antialias_taps(taps: int, passband_fraction: float = 0.4535) -> np.ndarray:
    """A linear-phase low-pass like a converter's digital filter: flat (with ripple) up to
    `passband_fraction` of the sample rate, falling to Nyquist. `taps` odd; more taps, less ripple.
    """
    if taps < 3 or taps % 2 == 0:
        raise ValueError("an anti-alias filter needs an odd number of taps, at least 3")
    return scipy.signal.remez(taps, [0.0, passband_fraction, 0.4999, 0.5], [1.0, 0.0], fs=1.0)


class ConverterFilter:
    """What one converter does to a stream besides its gain: the digital anti-alias low-pass
    (linear phase, a whole-sample delay of (taps − 1)/2) and the analog DC-blocking high-pass
    (first order). Streaming: state carries across blocks.
    """

    def __init__(self, samplerate: int, highpass_hz: float | None, aa_taps: int) -> None:
        self.samplerate = samplerate
        self._fir = antialias_taps(aa_taps) if aa_taps else None
        self._zfir = np.zeros(aa_taps - 1) if aa_taps else None
        self._hp = (
            scipy.signal.butter(1, highpass_hz, "highpass", fs=samplerate, output="sos")
            if highpass_hz
            else None
        )
        self._zhp = np.zeros((1, 2))
        self.delay_samples = (aa_taps - 1) // 2 if aa_taps else 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter the next block."""
        y = np.asarray(x, dtype=np.float64)
        if self._fir is not None:
            y, self._zfir = scipy.signal.lfilter(self._fir, 1.0, y, zi=self._zfir)
        if self._hp is not None:
            y, self._zhp = scipy.signal.sosfilt(self._hp, y, zi=self._zhp)
        return y

    def response_db(self, freq_hz: float) -> float:
        """The filters' magnitude response at `freq_hz`, in dB (the truth a level meets)."""
        gain = 1.0
        if self._fir is not None:
            _, h = scipy.signal.freqz(self._fir, worN=[freq_hz], fs=self.samplerate)
            gain *= abs(h[0])
        if self._hp is not None:
            _, h = scipy.signal.sosfreqz(self._hp, worN=[freq_hz], fs=self.samplerate)
            gain *= abs(h[0])
        return 20.0 * math.log10(gain)
