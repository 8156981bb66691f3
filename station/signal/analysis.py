"""Measurements on recorded audio: sine-fit levels and sub-sample delays (pure numpy/scipy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from ..errors import SignalError


@dataclass(frozen=True)
class SineFit:
    """A least-squares sine fit: level, its uncertainty, and what was left over."""

    freq_hz: float
    peak: float  # fitted peak amplitude, full scale 1.0
    level_dbfs: float  # 20·log10(peak): dBFS peak
    uncertainty_db: float  # one standard error of level_dbfs
    phase_rad: float
    offset: float  # DC offset
    residual_dbfs: float  # RMS of what the sine does not explain, as dBFS (peak scale)
    frames: int  # samples used (a whole number of cycles)


def fit_sine(x: np.ndarray, samplerate: int, freq_hz: float) -> SineFit:
    """Fit A·sin(ωn+φ)+c at a known frequency over a whole number of cycles of `x`.

    Rejects hum and noise far better than reading a sample peak, and does not
    miss inter-sample peaks. Raises SignalError if `x` holds under 4 cycles.
    """
    x = np.asarray(x, dtype=np.float64)
    cycles = math.floor(len(x) * freq_hz / samplerate)
    if cycles < 4:
        raise SignalError(
            f"too little audio to fit a {freq_hz:g} Hz sine ({len(x)} samples)",
            "record at least a few hundred milliseconds of tone",
        )
    frames = min(len(x), round(cycles * samplerate / freq_hz))
    y = x[:frames]
    w = 2.0 * np.pi * freq_hz / samplerate * np.arange(frames)
    basis = np.column_stack([np.sin(w), np.cos(w), np.ones(frames)])
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    a, b, c = coef
    peak = math.hypot(a, b)
    residual = y - basis @ coef
    sigma = float(np.sqrt(np.mean(residual**2)))
    peak_se = sigma * math.sqrt(2.0 / frames)
    level = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    unc = 20.0 * math.log10(1.0 + peak_se / peak) if peak > 0 else math.inf
    resid_db = 20.0 * math.log10(sigma * math.sqrt(2.0)) if sigma > 0 else -math.inf
    return SineFit(freq_hz, peak, level, unc, math.atan2(b, a), float(c), resid_db, frames)


@dataclass(frozen=True)
class DelayEstimate:
    """Where a known signal appears in a recording, to a fraction of a sample."""

    delay_samples: float  # recording index of input sample 0
    polarity: int  # +1 or −1
    gain: float  # linear gain of the path around the analysis band
    peak_ratio: float  # impulse peak over the next-largest value away from it: confidence


def estimate_delay(
    reference: np.ndarray,
    recorded: np.ndarray,
    samplerate: int,
    *,
    band_hz: tuple[float, float] = (200.0, 16000.0),
    max_delay_samples: int | None = None,
) -> DelayEstimate:
    """Measure the delay of `reference` inside `recorded` by deconvolution, sub-sample.

    The impulse response's peak gives the whole-sample delay and the polarity;
    the slope of the transfer function's phase over `band_hz`, weighted by the
    reference's energy, gives the fraction. Raises SignalError when no clear
    peak stands out (nothing came back, or it is buried in noise).
    """
    ref = np.asarray(reference, dtype=np.float64)
    rec = np.asarray(recorded, dtype=np.float64)
    n = scipy.fft.next_fast_len(len(ref) + len(rec))
    X = scipy.fft.rfft(ref, n)
    Y = scipy.fft.rfft(rec, n)
    freqs = scipy.fft.rfftfreq(n, 1.0 / samplerate)
    power = np.abs(X) ** 2
    taper = band_taper(freqs, band_hz)
    in_band = taper > 0
    if not np.any(power[in_band] > 0):
        raise SignalError("the reference signal has no energy in the analysis band")
    weight = taper * power
    # Regularised deconvolution confined to the band: an impulse where the path is a delay.
    eps = 1e-9 * power[in_band].max()
    transfer = Y * np.conj(X) / (power + eps)
    H = taper * transfer
    h = scipy.fft.irfft(H, n)
    limit = len(rec) if max_delay_samples is None else min(len(rec), max_delay_samples + 1)
    head = np.abs(h[:limit])
    k0 = int(np.argmax(head))
    peak = head[k0]
    # The rival is the largest value well away from the peak, counted circularly,
    # because a delay near 0 puts the peak's left sidelobes at the end of h.
    guard = max(16, int(4 * samplerate / band_hz[1]), int(samplerate / band_hz[0]) // 4)
    dist = np.abs((np.arange(n) - k0 + n // 2) % n - n // 2)
    away = np.abs(h[dist > guard])
    rival = float(away.max()) if away.size else 0.0
    peak_ratio = float(peak / rival) if rival > 0 else math.inf
    if not peak > 0 or peak_ratio < 3.0:
        raise SignalError(
            f"no clear delay found: the impulse peak is only {peak_ratio:.1f}× the largest "
            "value away from it",
            "check the patch: is the signal coming back, and well above the noise?",
        )
    polarity = 1 if h[k0] > 0 else -1
    # Remove the whole-sample part; the rest of the phase is a straight line in f.
    rot = H * polarity * np.exp(2j * np.pi * freqs * k0 / samplerate)
    phase = np.angle(rot[in_band])
    f = freqs[in_band]
    wts = weight[in_band]
    A = np.column_stack([f, np.ones_like(f)])
    sw = np.sqrt(wts)
    slope, _intercept = np.linalg.lstsq(A * sw[:, None], phase * sw, rcond=None)[0]
    frac = -slope * samplerate / (2.0 * np.pi)
    gain = float(np.sum(np.abs(transfer[in_band]) * wts) / np.sum(wts))
    return DelayEstimate(k0 + float(frac), polarity, gain, peak_ratio)


def band_taper(freqs: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
    """A 0–1 window over `freqs`: flat inside `band_hz`, raised-cosine edges outside it.

    The low edge tapers over the octave below band_hz[0], the high edge over the
    upper fifth of the band, so the impulse response rings little.
    """
    lo, hi = band_hz
    w = np.zeros_like(freqs, dtype=np.float64)
    w[(freqs >= lo) & (freqs <= hi)] = 1.0
    low = (freqs >= lo / 2) & (freqs < lo)
    w[low] = 0.5 - 0.5 * np.cos(np.pi * np.log2(freqs[low] / (lo / 2)))
    top = hi * 1.2
    high = (freqs > hi) & (freqs < top)
    w[high] = 0.5 + 0.5 * np.cos(np.pi * (freqs[high] - hi) / (top - hi))
    return w


def esr(prediction: np.ndarray, target: np.ndarray) -> float:
    """Error-to-signal ratio mean((p − t)²) / mean(t²), as NAM computes it; inf for silence."""
    t = np.asarray(target, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    denom = float(np.mean(t**2))
    return float(np.mean((p - t) ** 2) / denom) if denom > 0 else math.inf


def peak_abs(x: np.ndarray) -> float:
    """Largest absolute sample value (0 for an empty array); no whole-array temporaries."""
    return max(float(np.max(x)), -float(np.min(x))) if len(x) else 0.0


DIGITAL_SILENCE_DBFS = -200.0  # what exact zeros read as: finite, so every file format holds it


def rms_dbfs(x: np.ndarray) -> float:
    """RMS of `x` on the dBFS-peak scale of a sine (RMS·√2), floored at −200 dBFS for silence."""
    r = float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64))))) if len(x) else 0.0
    level = 20.0 * math.log10(r * math.sqrt(2.0)) if r > 0 else -math.inf
    return max(level, DIGITAL_SILENCE_DBFS)


def hum_dbfs(x: np.ndarray, samplerate: int) -> tuple[float, float]:
    """Strongest mains hum in `x`: (level dBFS peak of its fundamental + 2 harmonics, mains Hz).

    Fits 50/100/150 Hz and 60/120/180 Hz sines and reports the worse family.
    """
    best = (-math.inf, 50.0)
    for mains in (50.0, 60.0):
        power = 0.0
        for k in (1, 2, 3):
            fit = fit_sine(x, samplerate, mains * k)
            power += fit.peak**2
        level = max(10 * math.log10(power) if power > 0 else -math.inf, DIGITAL_SILENCE_DBFS)
        if level > best[0]:
            best = (level, mains)
    return best
