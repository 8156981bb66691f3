"""Servo motion time between knob settings, and playing orders that keep it short.

The model follows docs/servo-protocol.md's motion rules: all channels of a MOVE slew
together at the rig's speed (so a move lasts as long as its longest channel), a
target below the current pulse is approached from 40 µs under it (backlash), and
DONE comes 300 ms after the last channel arrives (settle).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..drivers.rig_constants import (
    BACKLASH_US,
    DEFAULT_SPEED_US_PER_S,
    PULSE_MAX_US,
    PULSE_MIN_US,
    SETTLE_S,
)
from .profiles import RigProfile

DEFAULT_SLEW_US_PER_S = float(DEFAULT_SPEED_US_PER_S)
# A switch change costs this many seconds of ordering penalty, so a tour changes
# switches as rarely as it can (grouping settings by switch combination).
SWITCH_PENALTY_S = 1.0e4

Pulses = dict[int, float]


@dataclass(frozen=True)
class MotionModel:
    """How a setting maps to servo pulses and how fast the servos slew.

    `pulses(knobs, switches)` gives {channel: µs}; `nominal` says the mapping is
    a stand-in (linear over the servo range) rather than a measured rig profile.
    """

    pulses: Callable[[Mapping[str, float], Mapping[str, str]], Pulses]
    slew_us_per_s: float = DEFAULT_SLEW_US_PER_S
    nominal: bool = False
    backlash_us: float = float(BACKLASH_US)
    settle_s: float = SETTLE_S

    def move_s(self, start: Pulses, target: Pulses) -> float:
        """Seconds from MOVE to DONE going from `start` to `target` (0 when nothing moves)."""
        longest_us = 0.0
        for ch, to in target.items():
            frm = start.get(ch, to)
            # Downwards: overshoot 40 µs below the target, then come back up to it.
            travel = to - frm if to >= frm else frm - to + 2 * self.backlash_us
            longest_us = max(longest_us, travel)
        if longest_us == 0.0:
            return 0.0
        return longest_us / self.slew_us_per_s + self.settle_s


def nominal_model(
    knobs: Sequence[tuple[str, float, float]],
    switches: Sequence[tuple[str, Sequence[str]]],
    slew_us_per_s: float = DEFAULT_SLEW_US_PER_S,
) -> MotionModel:
    """A stand-in rig: knobs on channels 0.., switches after them, each spread linearly
    over 500–2500 µs (a switch's positions evenly across it), at the protocol's default slew."""
    span = PULSE_MAX_US - PULSE_MIN_US
    knob_map = {name: (i, lo, hi) for i, (name, lo, hi) in enumerate(knobs)}
    switch_map = {
        name: (
            len(knobs) + j,
            {p: PULSE_MIN_US + span * (k + 0.5) / len(positions) for k, p in enumerate(positions)},
        )
        for j, (name, positions) in enumerate(switches)
    }

    def pulses(kv: Mapping[str, float], sv: Mapping[str, str]) -> Pulses:
        out: Pulses = {}
        for name, value in kv.items():
            ch, lo, hi = knob_map[name]
            out[ch] = PULSE_MIN_US + span * (value - lo) / (hi - lo)
        for name, pos in sv.items():
            ch, table = switch_map[name]
            out[ch] = table[pos]
        return out

    return MotionModel(pulses, slew_us_per_s, nominal=True)


def rig_model(rig: RigProfile) -> MotionModel:
    """The motion model of a measured rig profile."""

    def pulses(kv: Mapping[str, float], sv: Mapping[str, str]) -> Pulses:
        return {ch: float(us) for ch, us in rig.pulses_for(dict(kv), dict(sv)).items()}

    return MotionModel(pulses, float(rig.slew_us_per_s), nominal=False)


def path_motion_s(model: MotionModel, path: Sequence[Pulses]) -> float:
    """Total motion time along `path` (the first setting is where the rig starts)."""
    return sum(model.move_s(a, b) for a, b in itertools.pairwise(path))


def cost_matrix(
    model: MotionModel, pulses: Sequence[Pulses], groups: Sequence[object]
) -> np.ndarray:
    """c[i, j]: seconds to move from setting i to j, plus a penalty when their group
    (switch combination) differs."""
    n = len(pulses)
    c = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                c[i, j] = model.move_s(pulses[i], pulses[j])
                if groups[i] != groups[j]:
                    c[i, j] += SWITCH_PENALTY_S
    return c


def order_tour(c: np.ndarray, start: int = 0) -> list[int]:
    """An open path through every node from `start`: nearest neighbour, then 2-opt.

    `c` may be asymmetric (backlash makes downward moves longer); 2-opt scores a
    reversed segment by its reversed edges, exactly.
    """
    n = len(c)
    if n <= 2:
        return [start, *[i for i in range(n) if i != start]]
    path = [start]
    left = set(range(n)) - {start}
    while left:
        here = path[-1]
        nxt = min(left, key=lambda j: (c[here, j], j))
        path.append(nxt)
        left.remove(nxt)
    return _two_opt(c, path)


def _two_opt(c: np.ndarray, path: list[int]) -> list[int]:
    n = len(path)
    for _ in range(20 * n):  # each pass takes the best improving reversal
        p = np.asarray(path)
        fwd = c[p[:-1], p[1:]]  # fwd[k]: edge p[k] -> p[k+1]
        rev = c[p[1:], p[:-1]]  # rev[k]: edge p[k+1] -> p[k]
        cf = np.concatenate([[0.0], np.cumsum(fwd)])
        cr = np.concatenate([[0.0], np.cumsum(rev)])
        best, move = -1e-9, None
        # Reverse p[i+1..j] (i >= 0 keeps the start fixed; j may be the last node).
        for i in range(0, n - 2):
            ends = np.arange(i + 2, n)
            inner_old = cf[ends] - cf[i + 1]  # edges i+1 .. j-1 forward
            inner_new = cr[ends] - cr[i + 1]  # the same edges walked backwards
            old = c[p[i], p[i + 1]] + inner_old
            new = c[p[i], p[ends]] + inner_new
            has_next = ends < n - 1
            jn = np.minimum(ends + 1, n - 1)
            old = old + np.where(has_next, c[p[ends], p[jn]], 0.0)
            new = new + np.where(has_next, c[p[i + 1], p[jn]], 0.0)
            gain = new - old
            k = int(np.argmin(gain))
            if gain[k] < best:
                best, move = float(gain[k]), (i, int(ends[k]))
        if move is None:
            break
        i, j = move
        path = path[: i + 1] + path[i + 1 : j + 1][::-1] + path[j + 1 :]
    return path
