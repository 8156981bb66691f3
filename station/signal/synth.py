"""Guitar-like test material: plucked notes, chords and palm mutes, varied dynamics (numpy).

Not a guitar, but it has what a capture needs: sharp attacks, decaying
harmonics, low and high notes, loud and quiet passages, and silence between
phrases, so gear is exercised across its range the way playing does.
"""

from __future__ import annotations

import numpy as np

# Standard-tuning open strings and the frets a player reaches: E2 (82 Hz) up to ~E6.
_LOWEST_MIDI = 40
_HIGHEST_MIDI = 88


def _midi_hz(note: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(note) - 69) / 12.0)


_TABLE = 2048


def _wavetable(
    freq_hz: float, samplerate: int, rolloff: float, rng: np.random.Generator
) -> np.ndarray:
    """One band-limited period: harmonics with amplitudes ~1/k·e^(−k·rolloff), random phases."""
    top = int(min(40, (0.45 * samplerate) // freq_hz))
    k = np.arange(1, top + 1)
    amp = np.exp(-k * rolloff) / k
    phase = rng.random(top) * 2 * np.pi
    spectrum = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
    # A sine of amplitude a at bin k is a·N/2 in the spectrum, at phase −π/2 from a cosine.
    spectrum[1 : top + 1] = amp * (_TABLE / 2) * np.exp(1j * (phase - np.pi / 2))
    return np.fft.irfft(spectrum, _TABLE)


def pluck(
    freq_hz: float,
    duration_s: float,
    samplerate: int,
    *,
    brightness: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One plucked note: a bright attack that darkens and decays, like a string."""
    n = int(duration_s * samplerate)
    t = np.arange(n) / samplerate
    bright = _wavetable(freq_hz, samplerate, (1.0 - brightness) * 0.35, rng)
    dull = _wavetable(freq_hz, samplerate, 0.9, rng)
    pos = (np.arange(n) * (freq_hz * _TABLE / samplerate)) % _TABLE
    i0 = pos.astype(np.int64)
    frac = pos - i0
    i1 = (i0 + 1) % _TABLE
    decay = 1.2 + 2.5 * rng.random()  # s⁻¹
    w = np.exp(-4.0 * decay * t)  # the upper harmonics die first
    wave = w * (bright[i0] * (1 - frac) + bright[i1] * frac) + (1 - w) * (
        dull[i0] * (1 - frac) + dull[i1] * frac
    )
    out = wave * np.exp(-decay * t)
    attack = min(n, int(0.002 * samplerate))
    out[:attack] *= np.linspace(0.0, 1.0, attack)
    release = min(n, int(0.01 * samplerate))
    out[n - release :] *= np.linspace(1.0, 0.0, release)
    return out


def guitar_material(duration_s: float, samplerate: int, rng: np.random.Generator) -> np.ndarray:
    """`duration_s` of phrases (single notes, chords, palm mutes) separated by short rests."""
    n_total = int(duration_s * samplerate)
    out = np.zeros(n_total)
    pos = 0
    while pos < n_total:
        phrase_s = rng.uniform(2.0, 6.0)
        level = 10 ** (rng.uniform(-24.0, 0.0) / 20.0)  # dynamics, phrase by phrase
        end = min(n_total, pos + int(phrase_s * samplerate))
        style = rng.choice(["notes", "chords", "mutes"], p=[0.45, 0.35, 0.2])
        while pos < end:
            dur = float(rng.choice([0.12, 0.25, 0.5, 1.0]) if style != "mutes" else 0.12)
            if style == "chords":
                root = rng.integers(_LOWEST_MIDI, 60)
                notes = root + np.array([0, 7, 12, 16, 19])[: rng.integers(3, 6)]
            else:
                notes = np.array([rng.integers(_LOWEST_MIDI, _HIGHEST_MIDI)])
            ring = dur * (1.0 if style != "mutes" else 0.6) + 0.3
            seg = np.zeros(int(ring * samplerate))
            for i, note in enumerate(notes):
                strum = int(i * 0.008 * samplerate)  # strummed, not struck at once
                p = pluck(
                    float(_midi_hz(note)),
                    ring,
                    samplerate,
                    brightness=0.3 if style == "mutes" else rng.uniform(0.5, 0.9),
                    rng=rng,
                )
                seg[strum:] += p[: len(seg) - strum]
            if style == "mutes":
                seg *= np.exp(-np.arange(len(seg)) / (0.04 * samplerate))
            seg *= level * rng.uniform(0.7, 1.0) / max(1e-9, np.max(np.abs(seg)))
            stop = min(n_total, pos + len(seg))
            out[pos:stop] += seg[: stop - pos]
            pos += int(dur * samplerate)
        pos = end + int(rng.uniform(0.1, 0.6) * samplerate)  # a rest between phrases
    return out
