"""Reamp-file layouts (NAM v1, v2, v3 and the station's own) and recognising them by content.

A layout says where a file keeps its blips, the silence before them, its
broadband section and its two identical validation copies. Hashes recognise
NAM's files only byte for byte; `match_layout` recognises the same layout in a
file re-encoded to float or another bit depth, renamed, stripped of its
comment, or a future file built the same way (docs/design.md §4). `find_replicate`
finds two identical sections of at least 3 s in any file, so every input with
repeated material gets a replicate check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 48000
V3_VALIDATE = 432_000  # each validation copy: 9 s
MIN_REPLICATE_S = 3.0
BLIP_MIN_PEAK = 0.1  # −20 dBFS: NAM's and the station's blips are near full scale
BLIP_WIDTH = 8  # samples either side of a blip that may carry its energy
QUIET_PEAK = 10 ** (-60 / 20)  # what counts as silence around a blip


@dataclass(frozen=True)
class Layout:
    """Where a reamp file keeps its sections, in samples at 48 kHz (NAM v3 by default)."""

    frames: int
    t_validate: int = V3_VALIDATE
    blips: tuple[int, ...] = (504_000, 552_000)  # the first group: what the trainer scans
    background: tuple[int, int] = (492_000, 498_000)  # silence before the blips
    chirps: tuple[int, int] = (576_000, 720_000)  # 12–15 s
    noise: tuple[int, int] = (720_000, 816_000)  # 15–17 s
    train_start: int = 816_000  # 17 s
    version: str = "v3"
    # Starts of the two identical validation copies; None: v3's (0, frames − t_validate).
    copies: tuple[int, int] | None = None
    has_copies: bool = True  # False: the layout has no replicate (NAM v1)

    @property
    def validation_1(self) -> tuple[int, int]:
        """The first validation copy."""
        a = self.copies[0] if self.copies is not None else 0
        return a, a + self.t_validate

    @property
    def validation_2(self) -> tuple[int, int]:
        """The second validation copy (v3: the file's last 9 s); the trainer validates on it."""
        b = self.copies[1] if self.copies is not None else self.frames - self.t_validate
        return b, b + self.t_validate

    @property
    def broadband(self) -> tuple[int, int]:
        """Chirps and noise: the stretch cross-correlation latency uses."""
        return self.chirps[0], self.noise[1]

    @property
    def train_span(self) -> tuple[int, int]:
        """Samples to train on: from just before the blips to the first copy after them."""
        start = max(0, self.blips[0] - 24_000)
        v1, v2 = self.validation_1[0], self.validation_2[0]
        return start, v1 if v1 > start else v2

    @property
    def replicate(self) -> Replicate | None:
        """The validation copies as a replicate pair (None for a layout without copies)."""
        if not self.has_copies:
            return None
        return Replicate(self.validation_1[0], self.validation_2[0], self.t_validate, "validation")


@dataclass(frozen=True)
class Replicate:
    """Two identical sections of the input: starts and length in samples, and how found."""

    start_a: int
    start_b: int
    frames: int
    source: str  # "validation" (the layout's copies) or "content" (found by search)

    def describe(self) -> str:
        """For people: 'samples 0–432000 and 8688000–9120000 (9.0 s)'."""
        return (
            f"{self.start_a / RATE:.1f}–{(self.start_a + self.frames) / RATE:.1f} s and "
            f"{self.start_b / RATE:.1f}–{(self.start_b + self.frames) / RATE:.1f} s "
            f"({self.frames / RATE:.1f} s each)"
        )


def nam_v3(frames: int) -> Layout:
    """NAM v3 (and the station's own signal): copies at 0 s and in the last 9 s."""
    return Layout(frames)


def nam_v2(frames: int) -> Layout:
    """NAM v2: blips at 0.5 s and 1.5 s, sweeps, noise; two copies, then blips again."""
    tail = 96_000
    return Layout(
        frames,
        blips=(24_000, 72_000),
        background=(12_000, 18_000),
        chirps=(96_000, 240_000),
        noise=(240_000, 384_000),
        train_start=384_000,
        version="v2",
        copies=(frames - tail - 2 * V3_VALIDATE, frames - tail - V3_VALIDATE),
    )


def nam_v1(frames: int) -> Layout:
    """NAM v1: blips at 0.25 s and 0.75 s, sweeps, noise, training, one validation section."""
    return Layout(
        frames,
        blips=(12_000, 36_000),
        background=(0, 6_000),
        chirps=(48_000, 192_000),
        noise=(192_000, 336_000),
        train_start=336_000,
        version="v1",
        copies=(frames - V3_VALIDATE, frames - V3_VALIDATE),
        has_copies=False,
    )


LAYOUTS = {"v3": nam_v3, "v2": nam_v2, "v1": nam_v1}


def _blip_at(x: np.ndarray, b: int) -> bool:
    """An isolated impulse at sample `b`: loud, and silence for 0.1 s either side."""
    lo, hi = b - 4_800, b + 4_800
    if lo < 0 or hi > len(x):
        return False
    around = np.abs(np.asarray(x[lo:hi], dtype=np.float64))
    core = around[4_800 - BLIP_WIDTH : 4_800 + BLIP_WIDTH + 1]
    if float(core.max()) < BLIP_MIN_PEAK:
        return False
    rest = np.concatenate([around[: 4_800 - BLIP_WIDTH], around[4_800 + BLIP_WIDTH + 1 :]])
    return float(rest.max()) <= QUIET_PEAK


def _quiet(x: np.ndarray, span: tuple[int, int]) -> bool:
    lo, hi = span
    return hi <= len(x) and float(np.max(np.abs(x[lo:hi]))) <= QUIET_PEAK


def _identical(x: np.ndarray, a: int, b: int, frames: int) -> bool:
    if a < 0 or b + frames > len(x) or a == b:
        return False
    return bool(np.array_equal(x[a : a + frames], x[b : b + frames])) and bool(
        np.any(np.abs(x[a : a + frames]) > QUIET_PEAK)
    )


@dataclass(frozen=True)
class ContentMatch:
    """A layout recognised by content, with what was seen."""

    layout: Layout
    evidence: str


def match_layout(x: np.ndarray) -> ContentMatch | None:
    """The NAM layout whose blips (isolated impulses in silence) and copies `x` has, or None.

    v3 and v2 need their blips and identical validation copies; v1, which has
    no copies, needs its blips and a silent background.
    """
    x = np.asarray(x)
    n = len(x)
    for version in ("v3", "v2", "v1"):
        lay = LAYOUTS[version](n)
        if n < lay.train_start + lay.t_validate:
            continue
        if not all(_blip_at(x, b) for b in lay.blips) or not _quiet(x, lay.background):
            continue
        if lay.has_copies:
            if not _identical(x, lay.validation_1[0], lay.validation_2[0], lay.t_validate):
                continue
            secs = " and ".join(f"{b / RATE:g} s" for b in lay.blips)
            a, b = (s / RATE for s in (lay.validation_1[0], lay.validation_2[0]))
            return ContentMatch(lay, f"blips at {secs}; identical copies at {a:g} s and {b:g} s")
        secs = " and ".join(f"{b / RATE:g} s" for b in lay.blips)
        return ContentMatch(lay, f"blips at {secs} in silence")
    return None


def find_replicate(x: np.ndarray, min_s: float = MIN_REPLICATE_S) -> Replicate | None:
    """The longest pair of identical, non-silent, non-overlapping sections ≥ `min_s` in `x`.

    Content-defined anchors (the loudest sample of each 0.1 s neighbourhood)
    fall at the same places in identical material wherever it sits; anchors
    whose next 256 samples hash alike propose an offset, and the offset is
    kept if the material really repeats for `min_s` or more.
    """
    import hashlib

    import scipy.ndimage

    x = np.asarray(x, dtype=np.float32)
    need = int(min_s * RATE)
    if len(x) < 2 * need:
        return None
    ax = np.abs(x)
    local = scipy.ndimage.maximum_filter1d(ax, 4_801, mode="constant")
    anchors = np.flatnonzero((ax == local) & (ax > 10 * QUIET_PEAK))
    anchors = anchors[np.diff(anchors, prepend=-10) > 1]
    anchors = anchors[anchors + 256 <= len(x)]
    seen: dict[bytes, int] = {}
    votes: dict[int, int] = {}
    for i in anchors.tolist():
        key = hashlib.md5(x[i : i + 256].tobytes()).digest()
        if key in seen:
            d = i - seen[key]
            if d >= need:
                votes[d] = votes.get(d, 0) + 1
        else:
            seen[key] = i
    best: Replicate | None = None
    for d, _count in sorted(votes.items(), key=lambda kv: -kv[1])[:5]:
        run = _longest_equal_run(x, d)
        if run is not None and run[1] >= need and (best is None or run[1] > best.frames):
            length = min(run[1], d)  # the two sections must not overlap
            best = Replicate(run[0], run[0] + d, length, "content")
    return best


def _longest_equal_run(x: np.ndarray, d: int) -> tuple[int, int] | None:
    eq = np.zeros(len(x) - d + 2, dtype=bool)
    np.equal(x[: len(x) - d], x[d:], out=eq[1:-1])
    edges = np.flatnonzero(eq[1:] != eq[:-1])
    if len(edges) < 2:
        return None
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return int(starts[k]), int(stops[k] - starts[k])
