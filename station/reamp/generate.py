"""The station's own v3-layout signal: NAM v3's sections, deterministic from a seed.

Not NAM's `v3_0_0.wav` (the user's to download, never shipped): a stand-in with
the same layout for demos and tests, marked as the station's in its WAV comment
so recognition can tell it apart (docs/design.md §4).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.signal

from ..fsutil import atomic_write_bytes
from ..signal import stimuli, synth
from .files import NAM_V3_FRAMES, RATE, STATION_MARK
from .layouts import Layout

FULL_TRAINING_S = 163.5  # seconds of training material that make NAM's 190 s layout


def station_signal(seed: int = 1, training_s: float = FULL_TRAINING_S) -> np.ndarray:
    """The station's v3-layout signal (float64, 48 kHz), deterministic from `seed`.

    Sections as NAM v3: validation copy at 0–9 s, silence, blips at samples
    504 000 and 552 000, chirps 12–15 s, noise 15–17 s, guitar-like training
    material for `training_s` (163.5 s gives NAM's 190 s total; shorter keeps
    tests quick), 0.5 s of silence, the same validation copy again. Peak −1 dBFS.
    """
    rng = np.random.default_rng(seed)
    sr = RATE
    val = synth.guitar_material(9.0, sr, np.random.default_rng(seed + 1000))
    val = _fit_peak(val, -1.5)
    head = np.zeros(17 * sr)
    head[:432_000] = val
    for b in Layout(NAM_V3_FRAMES).blips:
        head[b] = 10 ** (-3.0 / 20)
    for k in range(3):
        sweep = stimuli.log_sweep(20.0, 20000.0, 0.95, sr, -6.0)
        head[576_000 + k * sr : 576_000 + k * sr + len(sweep)] = sweep
    noise = rng.standard_normal(2 * sr)
    noise = scipy.signal.sosfilt(
        scipy.signal.butter(4, [20, 20000], "bandpass", fs=sr, output="sos"), noise
    )
    noise = stimuli.apply_fades(_fit_peak(noise, -6.0), int(0.01 * sr))
    head[720_000:816_000] = noise
    train = _fit_peak(synth.guitar_material(training_s, sr, rng), -1.0)
    x = np.concatenate([head, train, np.zeros(sr // 2), val])
    return x


def _fit_peak(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    m = float(np.max(np.abs(x)))
    return x * (10 ** (peak_dbfs / 20) / m) if m > 0 else x


def write_station_signal(path: Path, seed: int = 1, training_s: float = FULL_TRAINING_S) -> Path:
    """Write the station signal as a 48 kHz mono PCM 24-bit WAV, marked as the station's."""
    import soundfile as sf

    x = station_signal(seed, training_s)
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", RATE, 1, "PCM_24", format="WAV") as fh:
        fh.comment = f"{STATION_MARK} seed={seed} training_s={training_s:g}"
        fh.write(x)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
