"""Probes: a second of the reamp signal played through the gear between single-control steps.

A probe plays one stretch of the reamp file (the loudest second of its first ten, after
half a second of the signal before it for the gear to settle into) at a setting's level,
and keeps the return over that second, aligned to the file as a capture's output is. Two
probes, or a probe and a capture's output over the same stretch, are compared as drift
anchors are: aligned to a fraction of a sample, at one return level. What two recordings
of one state differ by is known from their noise: each probe measures the return's noise
in its silent lead-in, each capture kept its own (capture.json's `noise`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal

from ..capture.folder import read_capture_meta
from ..capture.preflight import ReampFile, level_plan, read_reamp
from ..capture.run import stream_spec
from ..drivers.base import AudioInterface
from ..errors import SignalError, StationError
from ..events import Emit, StopFlag, ignore
from ..interface.profiles import Profile
from ..interface.takes import take
from ..reamp.files import read_mono
from ..signal.analysis import esr, estimate_delay
from ..signal.levels import ratio_from_db, return_rescale
from .drift import ALIGN_GUARD

PROBE_S = 1.0  # seconds of the gear's output compared
WARM_S = 0.5  # seconds of the signal played before them, not compared: the gear settles
WITHIN_S = 10.0  # the stretch is the loudest PROBE_S of the file's first seconds
HOP_S = 0.1  # where the stretch may start
LEAD_S = 0.3  # silence before the signal; the return's noise is measured in it...
SKIP_S = 0.05  # ...after the stream's first moments
TAIL_S = 0.05  # recorded past the signal's end, beyond the latency
# Kept on either side of the compared second, aligned with it and then dropped: a fractional
# shift of a stretch cut from the middle of the music rings at its cut ends.
MARGIN_S = 0.1
# Compared below this: near Nyquist two streams of one state differ by more than their noise
# (a converter's fractional-delay and anti-alias filters), and no control acts only there.
BAND_TOP_HZ = 16000.0


@dataclass(frozen=True)
class Probe:
    """The gear's output over the probe's stretch and a margin either side (float samples,
    aligned to the reamp file as a capture's output.wav is), the return's noise (mean square,
    full scale 1) and the return level it was recorded at (dBu at 0 dBFS)."""

    y: np.ndarray
    margin: int
    noise_ms: float
    return_dbu: float
    samplerate: int = 48000
    seconds: float = 0.0  # how long taking it took (0 for a capture's)


@dataclass(frozen=True)
class Difference:
    """How a probe differs from a reference: ESR after alignment, and the ESR their noise
    alone gives (what two recordings of one state differ by)."""

    esr: float
    noise_esr: float


def noise_ms_of(dbfs: float) -> float:
    """The mean square of noise measured at `dbfs` (the dBFS-peak scale of rms_dbfs)."""
    return float(10.0 ** (dbfs / 10.0) / 2.0)


def shifted(y: np.ndarray, delay: float) -> np.ndarray:
    """`y` moved `delay` samples earlier (a fraction too), by its spectrum's phase."""
    n = len(y)
    m = scipy.fft.next_fast_len(n + 2 * ALIGN_GUARD)
    freqs = scipy.fft.rfftfreq(m)
    return scipy.fft.irfft(scipy.fft.rfft(y, m) * np.exp(2j * np.pi * freqs * delay), m)[:n]


def aligned_esr(ref: np.ndarray, y: np.ndarray, samplerate: int, core: slice) -> float:
    """The ESR of `y` against `ref` over `core`, `y` shifted to the fraction of a sample that
    makes it least. The delay estimate (as drift anchors align) is refined by two parabolas
    through the ESR: over a second of bright gear the estimate alone can miss by a tenth of
    a sample, which reads as an ESR ten times what two takes' noise gives."""
    pad = np.concatenate([np.zeros(ALIGN_GUARD), y])
    try:
        found = estimate_delay(ref, pad, samplerate, max_delay_samples=2 * ALIGN_GUARD)
        delay = found.delay_samples - ALIGN_GUARD
    except SignalError:
        delay = 0.0  # silence or noise: nothing to align by

    def error(d: float) -> float:
        return esr(shifted(y, d)[core], ref[core])

    for step in (0.25, 0.03):
        lo, mid, hi = error(delay - step), error(delay), error(delay + step)
        curve = lo - 2 * mid + hi
        if curve > 0:
            delay += step * min(max((lo - hi) / (2 * curve), -1.0), 1.0)
    return min(error(delay), esr(y[core], ref[core]))


def difference(reference: Probe, probe: Probe) -> Difference:
    """`probe` against `reference`: brought to the reference's return level, aligned to a
    fraction of a sample, compared over the stretch itself (the margins dropped)."""
    n, sr = min(len(reference.y), len(probe.y)), reference.samplerate
    top = scipy.signal.butter(8, min(BAND_TOP_HZ, 0.4 * sr), fs=sr, output="sos")
    ref = scipy.signal.sosfiltfilt(top, np.asarray(reference.y[:n], dtype=np.float64))
    scale = return_rescale(probe.return_dbu, reference.return_dbu)
    y = scipy.signal.sosfiltfilt(top, np.asarray(probe.y[:n], dtype=np.float64) * scale)
    margin = max(reference.margin, ALIGN_GUARD)
    core = slice(margin, n - margin)
    power = float(np.mean(ref[core] ** 2))
    # The noise over the whole band: for white noise half as much again as below the top.
    noise = reference.noise_ms + probe.noise_ms * scale**2
    found = aligned_esr(ref, y, sr, core)
    return Difference(found, noise / power if power > 0 else float("inf"))


class Prober:
    """Takes probes through an interface with a profile, of one reamp file (read once)."""

    def __init__(
        self,
        interface: AudioInterface,
        profile: Profile,
        reamp_path: Path,
        *,
        emit: Emit = ignore,
    ) -> None:
        self.interface = interface
        self.profile = profile
        self.reamp_path = Path(reamp_path)
        self.emit = emit

    @cached_property
    def file(self) -> ReampFile:
        """The reamp file, read and checked once (StationError as read_reamp raises it)."""
        return read_reamp(self.reamp_path, self.profile)

    @cached_property
    def stretch(self) -> tuple[int, int, int, int]:
        """(start, length, warm-up, margin) in samples: the loudest PROBE_S of the file's
        first WITHIN_S seconds with WARM_S of the signal before it and MARGIN_S after it
        (less of each in a short file)."""
        x = np.asarray(self.file.samples, dtype=np.float64)
        sr = self.profile.samplerate
        length = min(int(PROBE_S * sr), len(x) // 2)
        margin = min(int(MARGIN_S * sr), (len(x) - length) // 4)
        warm = max(margin, min(int(WARM_S * sr), len(x) - length - margin))
        last = max(warm, min(len(x), int(WITHIN_S * sr)) - length - margin)
        energy = np.concatenate([[0.0], np.cumsum(x**2)])
        starts = np.arange(warm, last + 1, max(1, int(HOP_S * sr)))
        start = int(starts[np.argmax(energy[starts + length] - energy[starts])])
        return start, length, warm, margin

    def take(self, reamp_dbu: float, *, stop: StopFlag | None = None) -> Probe:
        """Play the stretch at `reamp_dbu` and keep the gear's output over it. Raises
        StreamError (a take spoilt three times), DeviceLost, Stopped, StationError (the file,
        or a level that would clip the send)."""
        t0 = time.monotonic()
        prof, sr = self.profile, self.profile.samplerate
        start, length, warm, margin = self.stretch
        gain = ratio_from_db(level_plan(reamp_dbu, prof, self.file).gain_db)
        lead = int(LEAD_S * sr)
        end = start + length + margin
        played = np.asarray(self.file.samples[start - warm : end], np.float64) * gain
        signal = np.concatenate([np.zeros(lead), played]).astype(np.float32)
        latency = max(prof.latency_samples, 0.0)
        rec = take(
            self.interface,
            stream_spec(prof),
            signal,
            tail_s=TAIL_S + latency / sr,
            stop=stop,
            emit=self.emit,
        )
        at = lead + warm - margin + round(latency)
        quiet = np.asarray(rec[int(SKIP_S * sr) : lead], dtype=np.float64)
        return Probe(
            np.asarray(rec[at : at + length + 2 * margin], dtype=np.float64),
            margin,
            float(np.mean(quiet**2)) if len(quiet) else 0.0,
            prof.return_dbu_at_0dbfs,
            sr,
            time.monotonic() - t0,
        )

    def of_capture(self, folder: Path) -> Probe:
        """A capture's output over the probe's stretch, with the noise it measured and the
        return level it was recorded at; StationError when it cannot be read."""
        meta = read_capture_meta(folder)
        y, sr, _ = read_mono(Path(folder) / "output.wav")
        start, length, _, margin = self.stretch
        lo, hi = start - margin, start + length + margin
        if len(y) < hi:
            raise StationError(f"{folder.name}'s output is shorter than the probe's stretch")
        try:
            noise = noise_ms_of(float(meta["noise"]["noise_floor_dbfs"]))
            level = float(meta["output_level_dbu"])
        except (KeyError, TypeError, ValueError):
            raise StationError(f"{folder.name}'s capture.json lacks its noise or level") from None
        return Probe(np.asarray(y[lo:hi], dtype=np.float64), margin, noise, level, sr)
