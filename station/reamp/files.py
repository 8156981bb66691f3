"""Reamp files: NAM's standard inputs, the station's own signal, and custom files, recognised.

Recognises NAM's files by MD5, by the trainer's weaker hashes and by content
(layouts.py, docs/design.md §4), refuses files that cannot be a capture's input, and
measures a true peak. The station's own signal is made in generate.py.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal

from ..errors import SignalError
from ..phrases import Phrase
from .layouts import LAYOUTS, Layout, Replicate, find_replicate, match_layout

RATE = 48000
NAM_V3_MD5 = "36cd1af62985c2fac3e654333e36431e"
# The trainer's weak match for v3: MD5 of the first 17 s and of the last 9 s of the samples.
NAM_V3_WEAK = ("dadb5d62f6c3973a59bf01439799809b", "8458126969a3f9d8e19a53554eb1fd52")
DEPRECATED_MD5 = {
    "4d54a958861bf720ec4637f43d44a7ef": "NAM v1.0.0",
    "7c3b6119c74465f79d96c761a0e27370": "NAM v1.1.1",
    "ede3b9d82135ce10c7ace3bb27469422": "NAM v2.0.0",
}
STATION_MARK = "NAM Capture Station v3-layout signal (not NAM's v3_0_0.wav)"


NAM_V3_FRAMES = 9_120_000  # 3:10 at 48 kHz


@dataclass(frozen=True)
class ReampInfo:
    """What the station knows about a reamp file, and how it knows it."""

    path: Path
    kind: str  # nam-v3 | station-v3 | nam-layout | nam-deprecated | custom
    label: str  # for people: "NAM v3 (MD5 match)", "station signal", ...
    md5: str
    samplerate: int
    frames: int
    layout: Layout | None  # None for a custom file
    notes: tuple[str, ...] = ()
    recognised_by: str = "none"  # MD5 | the trainer's weak hash | content | none
    replicate: Replicate | None = None  # two identical sections to compare in the output
    evidence: str = ""  # what content recognition saw (blips, copies)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate

    @property
    def recognition(self) -> str:
        """One line for the verdict: what the file is and how the station recognised it."""
        how = {
            "MD5": "recognised by its MD5",
            "weak hash": "recognised by the NAM trainer's weak hash",
            "content": "recognised by content",
            "none": "not a known layout",
        }[self.recognised_by]
        evidence = f" ({self.evidence})" if self.evidence else ""
        return f"{self.label}: {how}{evidence}"


def md5_of_file(path: Path) -> str:
    """MD5 of a file's bytes, as the trainer computes its strong hash."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_mono(path: Path) -> tuple[np.ndarray, int, str]:
    """Samples (float32, mono), rate and subtype of a WAV; SignalError when unusable."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as exc:
        raise SignalError(f"cannot read {path} as audio: {exc}", "give a WAV file") from None
    if info.channels != 1:
        raise SignalError(
            f"{path} has {info.channels} channels; reamp files are mono", "export it as a mono WAV"
        )
    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return x, int(sr), info.subtype


def weak_hashes(x: np.ndarray) -> tuple[str, str]:
    """The trainer's weak v3 hashes: MD5 of the first 17 s and of the last 9 s of the samples.

    NAM 0.13 hashes what its `wav_to_np` returns: the integers scaled to ±1 as
    float64, one dimension. A PCM file's samples read as float32 are exactly
    those values (24 bits fit a float32's mantissa).
    """
    start = np.ascontiguousarray(x[: 17 * RATE], dtype=np.float64)
    end = np.ascontiguousarray(x[-9 * RATE :], dtype=np.float64)
    return hashlib.md5(start.tobytes()).hexdigest(), hashlib.md5(end.tobytes()).hexdigest()


def _weak_v3(x: np.ndarray, subtype: str) -> bool:
    if len(x) < 17 * RATE or not subtype.startswith("PCM"):
        return False  # the trainer reads integer WAVs only
    return weak_hashes(x) == NAM_V3_WEAK


def _comment(path: Path) -> str:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as fh:
            return fh.comment or ""
    except (RuntimeError, OSError):
        return ""


def recognise(path: Path, samples: tuple[np.ndarray, int] | None = None) -> ReampInfo:
    """Identify a reamp file and its layout by MD5, weak hash or content.

    Raises SignalError for unreadable or wrong files. `samples` (data, rate)
    saves reading the file again when the caller has it.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise SignalError(f"no reamp file at {path}", "give the path to a 48 kHz mono WAV")
    if samples is None:
        x, sr, subtype = read_mono(path)
    else:
        (x, sr), subtype = samples, sf.info(str(path)).subtype
    md5 = md5_of_file(path)
    frames = len(x)
    base: dict[str, Any] = {"path": path, "md5": md5, "samplerate": sr, "frames": frames}
    if md5 == NAM_V3_MD5:
        lay = Layout(frames)
        return ReampInfo(
            kind="nam-v3",
            label="NAM v3",
            layout=lay,
            recognised_by="MD5",
            replicate=lay.replicate,
            **base,
        )
    if md5 in DEPRECATED_MD5:
        name = DEPRECATED_MD5[md5]
        lay = LAYOUTS["v1" if "v1" in name else "v2"](frames)
        return ReampInfo(
            kind="nam-deprecated",
            label=f"{name} (deprecated)",
            layout=lay,
            recognised_by="MD5",
            replicate=lay.replicate,
            notes=(
                f"{name} is deprecated: the NAM trainer refuses it unless checks are "
                "ignored; use v3_0_0.wav",
            ),
            **base,
        )
    if sr == RATE and _weak_v3(x, subtype):
        lay = Layout(frames)
        return ReampInfo(
            kind="nam-v3",
            label="NAM v3",
            layout=lay,
            recognised_by="weak hash",
            replicate=lay.replicate,
            notes=("matches v3 by the trainer's weaker hash only",),
            **base,
        )
    if sr != RATE:
        raise SignalError(
            f"{path.name} is at {sr} Hz; NAM captures are at 48000 Hz",
            "resample it to 48 kHz first",
        )
    match = match_layout(x)
    if match is not None:
        lay = match.layout
        if _comment(path).startswith(STATION_MARK) and lay.version == "v3":
            kind, label = "station-v3", "station v3-layout signal"
            note = (
                "the station's own signal, not NAM's v3_0_0.wav: the NAM trainer will not "
                "recognise it"
            )
        else:
            kind, label = "nam-layout", f"NAM {lay.version} layout"
            note = (
                f"a NAM {lay.version} layout the trainer does not recognise by hash (re-encoded, "
                "edited or new): the station checks it fully and trains it by its layout"
            )
        return ReampInfo(
            kind=kind,
            label=label,
            layout=lay,
            recognised_by="content",
            replicate=lay.replicate,
            notes=(note,),
            evidence=match.evidence,
            **base,
        )
    rep = find_replicate(x)
    note = (
        "custom signal: the station adds a timing preamble for latency; the trainer's "
        "blip and validation checks cannot apply"
    )
    if rep is not None:
        note += "; its repeated section gets a replicate check"
    return ReampInfo(
        kind="custom",
        label="custom signal",
        layout=None,
        replicate=rep,
        recognised_by="content" if rep is not None else "none",
        notes=(note,),
        evidence=f"identical sections at {rep.describe()}" if rep is not None else "",
        **base,
    )


MIN_PLAYABLE_S = 1.0
SILENT_DBFS = -60.0


def check_playable(x: np.ndarray, samplerate: int, name: str) -> None:
    """Refuse a reamp file that cannot make a capture: shorter than 1 s, or silent.

    Raises SignalError saying what the file holds.
    """
    if len(x) < MIN_PLAYABLE_S * samplerate:
        raise SignalError(
            f"{name} holds only {len(x)} samples ({len(x) / samplerate:.3f} s): too short "
            "to capture anything",
            Phrase("use NAM's v3_0_0.wav or {signal}"),
        )
    peak = float(np.max(np.abs(x)))
    if peak <= 10 ** (SILENT_DBFS / 20):
        level = "digital silence" if peak == 0 else f"peaks at {20 * np.log10(peak):.1f} dBFS"
        raise SignalError(
            f"{name} is silent ({level}): the gear would hear nothing",
            "check the file: export the reamp signal again, or use NAM's v3_0_0.wav",
        )


def true_peak_dbfs(x: np.ndarray, oversample: int = 4) -> float:
    """Peak of the band-limited waveform (4× oversampled), in dBFS; −inf for silence."""
    peak = 0.0
    step = 1 << 18
    pad = 64  # overlap so the interpolation filter sees each chunk's neighbours
    for start in range(0, len(x), step):
        lo, hi = max(0, start - pad), min(len(x), start + step + pad)
        y = scipy.signal.resample_poly(x[lo:hi].astype(np.float64), oversample, 1)
        core = y[(start - lo) * oversample : (start - lo + min(step, len(x) - start)) * oversample]
        if len(core):
            peak = max(peak, float(np.max(np.abs(core))))
    return 20 * math.log10(peak) if peak > 0 else -math.inf
