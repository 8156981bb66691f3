"""Is the signal there? Where the input plays, and whether the output follows it (pure numpy).

Both questions are asked after alignment: output sample n + lag answers input
sample n. Comparing unaligned samples would call every onset after silence a
dropout, since the output is still silent for the interface's latency there.
"""

from __future__ import annotations

import numpy as np

from . import analysis

DROPOUT_RUN = 100  # this many identical output samples in a row, where the input plays
ACTIVE_BELOW_PEAK_DB = 40.0  # the input "plays" within 40 dB of its own peak
ACTIVE_WINDOW = 480  # 10 ms: the input's envelope is its peak over this window
RAIL = 10 ** (-0.01 / 20)  # a held value this close to full scale is clipping, not a dropout
SIGNAL_OVER_NOISE_DB = 6.0


def active_mask(x: np.ndarray) -> np.ndarray:
    """True where the input plays: its 10 ms peak envelope is within 40 dB of its peak."""
    import scipy.ndimage

    ax = np.abs(np.asarray(x, dtype=np.float32))
    if not len(ax):
        return np.zeros(0, dtype=bool)
    peak = float(ax.max())
    if peak == 0:
        return np.zeros(len(ax), dtype=bool)
    env = scipy.ndimage.maximum_filter1d(ax, ACTIVE_WINDOW, mode="constant")
    return env > peak * 10 ** (-ACTIVE_BELOW_PEAK_DB / 20)


def _aligned(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Input and output trimmed so that index n of each is the same moment."""
    if lag >= 0:
        yy = y[lag:]
        xx = x
    else:
        yy = y
        xx = x[-lag:]
    n = min(len(xx), len(yy))
    return np.asarray(xx[:n]), np.asarray(yy[:n])


def count_dropouts(x: np.ndarray, y: np.ndarray, lag: int = 0) -> int:
    """Runs of ≥ 100 identical output samples, not at the rails, while the aligned input plays.

    A run counts only when the input is active over the whole run: an output
    that holds still while the input is silent is the gear's silence, and one
    held at full scale is clipping (return_peak reports it).
    """
    xx, yy = _aligned(x, y, lag)
    if len(yy) < DROPOUT_RUN:
        return 0
    # Booleans only (a byte per sample): where each sample repeats the one before it.
    same = np.zeros(len(yy) + 1, dtype=bool)
    np.equal(yy[1:], yy[:-1], out=same[1:-1])
    edges = np.flatnonzero(same[1:] != same[:-1])
    runs = [
        (int(s0), int(s1) + 1)
        for s0, s1 in zip(edges[::2], edges[1::2], strict=True)
        if s1 - s0 >= DROPOUT_RUN and abs(float(yy[s0])) < RAIL
    ]
    if not runs:
        return 0
    active = active_mask(xx)
    return sum(1 for s0, s1 in runs if bool(np.all(active[s0:s1])))


def level_while_playing(x: np.ndarray, y: np.ndarray, lag: int = 0) -> float | None:
    """RMS level (dBFS, sine scale) of the output where the aligned input plays; None if never."""
    xx, yy = _aligned(x, y, lag)
    active = active_mask(xx)
    if not np.any(active):
        return None
    return analysis.rms_dbfs(np.asarray(yy[active], dtype=np.float64))
