"""Choosing an adaptive sweep's next settings: where an ensemble of quick models disagrees most.

A pool of candidate settings fills the knob space densely (scrambled Sobol points for
every switch combination). Each member of an ensemble (the same recipe from different
seeds) predicts the gear's output at every candidate; where the members disagree, the
captures so far do not pin the sound down. The next batch takes the candidates with the
most disagreement, each discounted by its closeness to what is captured or already
chosen, so a batch spreads over the unsure regions instead of bunching in one.

Distances are the sweep's own (moved.py): each knob's change as a share of its range,
a switch that differs counts 1, root of the summed squares.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import StationError
from ..events import Emit, StopFlag
from ..rig.motion import MotionModel
from .adaptive_spec import DEFAULT_BATCH, DEFAULT_MEMBERS, AdaptiveSpec, default_initial
from .design import (
    DECIMALS,
    Plan,
    PlanRequest,
    Setting,
    holdout_of,
    make_plan,
    unit_points,
    validate,
)

POOL_PER_COMBINATION = 256  # candidates per switch combination
SPACING_FLOOR = 1e-6  # the least spacing the discount divides by
ON_A_SETTING = 0.5  # closer than this share of r is the same setting again
SETTLES = 0.5  # a capture settles the disagreement within about this share of the spacing


@dataclass(frozen=True)
class Candidate:
    """A setting the next batch may take: knob positions in [0, 1] and switch positions."""

    unit: tuple[float, ...]  # per knob, in the request's order: 0 its min, 1 its max
    switches: tuple[str, ...]  # per switch, in the request's order

    def knobs(self, req: PlanRequest) -> dict[str, float]:
        """The knob values on the knobs' printed scales."""
        return {
            k.name: k.min + u * (k.max - k.min) for k, u in zip(req.knobs, self.unit, strict=True)
        }


@dataclass(frozen=True)
class RoundScores:
    """What a round's models say: each candidate's disagreement, and how they trained."""

    disagreement: np.ndarray  # per candidate of the pool
    minutes: float  # training and scoring time of this call
    members: list[dict[str, Any]]  # per model, its training summary


class RoundModels(Protocol):
    """Trains a round's quick models on `settings` and scores `candidates` (the front ends
    pass station.models' ensemble; StationError when training cannot run)."""

    def __call__(
        self,
        session: Path,
        round_no: int,
        settings: list[str],
        candidates: list[Candidate],
        req: PlanRequest,
        members: int,
        stop: StopFlag,
        emit: Emit,
    ) -> RoundScores:
        """The round's scores; Stopped when `stop` was set."""
        ...


@dataclass(frozen=True)
class Choice:
    """A chosen batch: the pool's indices in the order picked, and every candidate's score."""

    picked: list[int]
    disagreement: np.ndarray  # per candidate, before spacing
    scores: list[float]  # each pick's value when picked (disagreement left around it)


def candidate_of(req: PlanRequest, setting: Setting) -> Candidate:
    """A plan's setting as a candidate (knobs as shares of their range)."""
    unit = tuple((setting.knobs[k.name] - k.min) / (k.max - k.min) for k in req.knobs)
    return Candidate(unit, tuple(setting.switches[s.name] for s in req.switches))


def pool(
    req: PlanRequest, per_combination: int = POOL_PER_COMBINATION, seed: int = 0
) -> list[Candidate]:
    """A dense pool of candidates: scrambled Sobol points over the knobs, for every switch
    combination (one point per combination for a plan of switches only)."""
    if per_combination < 1:
        raise StationError("the candidate pool needs at least one setting per combination")
    combos = list(itertools.product(*(s.positions for s in req.switches))) or [()]
    d = len(req.knobs)
    out: list[Candidate] = []
    rng = np.random.default_rng(seed)
    for combo in combos:
        if d == 0:
            out.append(Candidate((), tuple(combo)))
            continue
        pts = unit_points("sobol", per_combination, d, rng)
        out += [Candidate(tuple(float(x) for x in p), tuple(combo)) for p in pts]
    return out


def distance(a: Candidate, b: Candidate) -> float:
    """The sweep's distance between two settings (knobs as shares of their range, a differing
    switch 1)."""
    knobs = sum((x - y) ** 2 for x, y in zip(a.unit, b.unit, strict=True))
    switches = sum(x != y for x, y in zip(a.switches, b.switches, strict=True))
    return math.sqrt(knobs + switches)


def disagreement(outputs: np.ndarray) -> np.ndarray:
    """Per candidate, how far the ensemble's members are from their mean: the mean over
    members of the ESR of a member's output against the ensemble mean.

    `outputs` has shape (members, candidates, samples): each member's prediction of the
    gear's output for the same input at each candidate. Needs at least two members.
    """
    if outputs.ndim != 3 or outputs.shape[0] < 2:
        raise StationError("disagreement needs at least two models' outputs per candidate")
    mean = outputs.mean(axis=0)
    energy = np.maximum((mean**2).sum(axis=-1), 1e-12)
    spread = ((outputs - mean) ** 2).sum(axis=-1)  # members × candidates
    return np.asarray(spread.mean(axis=0) / energy)


def typical_spacing(captured: list[Candidate], dims: int, combinations: int = 1) -> float:
    """The spacing a plan of `captured`'s size would have if spread evenly over
    `combinations` switch combinations: the side of one setting's share of one
    combination's knob space (1 for fewer than two settings a combination)."""
    per_combination = len(captured) / max(1, combinations)
    if per_combination < 2 or dims == 0:
        return 1.0
    return float(per_combination ** (-1.0 / dims))


def distances(a: list[Candidate], b: list[Candidate]) -> np.ndarray:
    """distance() between every candidate of `a` (rows) and of `b` (columns), at once."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ua = np.array([c.unit for c in a], dtype=float).reshape(len(a), -1)
    ub = np.array([c.unit for c in b], dtype=float).reshape(len(b), -1)
    knobs = ((ua[:, None, :] - ub[None, :, :]) ** 2).sum(-1)
    sa = np.array([c.switches for c in a], dtype=object).reshape(len(a), -1)
    sb = np.array([c.switches for c in b], dtype=object).reshape(len(b), -1)
    switches = (sa[:, None, :] != sb[None, :, :]).sum(-1)
    return np.sqrt(knobs + switches.astype(float))


def choose(
    candidates: list[Candidate],
    scores: np.ndarray,
    captured: list[Candidate],
    batch: int,
) -> Choice:
    """The next `batch` candidates, greedily, each the one whose capture would settle the
    most disagreement around it.

    A capture at x is taken to settle a share k(x, c) = exp(−(d/r)²) of the disagreement at
    every candidate c, d their distance, r half of the typical spacing of the captured plan
    within one switch combination. A candidate's value is the disagreement left around it,
    Σ_c left_c·k(x, c); for what is captured, and after each pick, left_c shrinks by 1 − k,
    which spreads a batch. A candidate within half of r of a captured or picked setting is
    never taken. Summing over a neighbourhood, rather than taking the single most unsure
    candidate, keeps the rounds off the knob ends, where quick models extrapolate and
    disagree most but part of a neighbourhood lies outside the range.
    """
    if len(scores) != len(candidates):
        raise StationError("one disagreement score per candidate is needed")
    if batch < 1:
        raise StationError("a batch needs at least one setting")
    if not candidates:
        return Choice([], np.asarray(scores, dtype=float), [])
    dims = len(candidates[0].unit)
    combinations = len({c.switches for c in candidates})
    rho = max(typical_spacing(captured, dims, combinations), SPACING_FLOOR)
    raw = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0).clip(min=0.0)
    reach = rho * SETTLES
    apart = distances(candidates, candidates)
    near = np.exp(-((apart / reach) ** 2))  # k(x, c)
    nearest = np.full(len(candidates), math.inf)
    left = raw.copy()
    if captured:
        to_captured = distances(candidates, captured)
        nearest = to_captured.min(axis=1)
        left *= np.prod(1.0 - np.exp(-((to_captured / reach) ** 2)), axis=1)
    picked: list[int] = []
    picked_scores: list[float] = []
    for _ in range(min(batch, len(candidates))):
        value = near @ left
        value[nearest < reach * ON_A_SETTING] = -math.inf
        best = int(np.argmax(value))
        if not math.isfinite(value[best]) or value[best] <= 0.0:
            break  # nothing left worth a capture: every candidate sits on a captured one
        picked.append(best)
        picked_scores.append(float(value[best]))
        left = left * (1.0 - near[best])
        nearest = np.minimum(nearest, apart[best])
    return Choice(picked, raw, picked_scores)


def adaptive_request(
    req: PlanRequest,
    *,
    initial: int | None = None,
    batch: int | None = None,
    members: int | None = None,
    max_hours: float | None = None,
    stop_below: float | None = None,
) -> PlanRequest:
    """`req` (its knobs and switches set) made adaptive over its whole budget, with the
    defaults for what is not given: half its training settings to start (default_initial),
    DEFAULT_BATCH, DEFAULT_MEMBERS; StationError for a request that is invalid as a whole
    (the spec itself is checked when the plan is made)."""
    whole = dataclasses.replace(req, adaptive=None)
    validate(whole)
    train = req.settings - holdout_of(whole)
    spec = AdaptiveSpec(
        settings=req.settings,
        initial=default_initial(train) if initial is None else initial,
        batch=DEFAULT_BATCH if batch is None else batch,
        members=DEFAULT_MEMBERS if members is None else members,
        max_hours=max_hours,
        stop_below=stop_below,
    )
    return dataclasses.replace(req, adaptive=spec)


def make_adaptive_plan(req: PlanRequest, model: MotionModel) -> Plan:
    """The start of an adaptive plan (its initial space-filling training settings, the
    held-out settings of the whole budget, the anchors), with the estimate for the whole
    budget; StationError for a request that cannot run adaptively."""
    spec = req.adaptive
    if spec is None:
        raise StationError("not an adaptive request")
    whole = dataclasses.replace(req, settings=spec.settings, adaptive=None)
    validate(whole)
    if not req.knobs:
        raise StationError(
            "an adaptive plan needs at least one knob: with switches only there is nothing "
            "between the settings to choose",
            "plan every switch combination without adaptive rounds",
        )
    if len(req.levels_dbu) > 1:
        raise StationError(
            "an adaptive plan takes one reamp level",
            "give one reamp level, or plan without adaptive rounds",
        )
    k = holdout_of(whole)
    spec.check(k)
    start = make_plan(dataclasses.replace(whole, settings=spec.initial + k, holdout=k), model)
    rest = spec.chosen_budget(k)
    body = [s for s in start.settings if s.role != "anchor"]
    per_setting = start.motion_s / max(1, len(start.settings))
    every = req.anchor_every if req.anchor_every > 0 else rest
    anchors = -(-rest // every) if rest else 0
    each = req.capture_s + req.overhead_s + per_setting
    total = start.total_s + (rest + anchors) * each
    notes = [
        f"adaptive: {len(body) - k} training settings to start, {k} held out; the sweep "
        f"chooses up to {rest} more in batches of {spec.batch}, where {spec.members} quick "
        "models disagree most (the estimate counts all of them, at this start's motion per "
        "setting)",
        *start.notes,
    ]
    if spec.max_hours is not None and total > spec.max_hours * 3600:
        notes.append(
            f"the whole budget needs about {total / 3600:.1f} h; the sweep stops choosing "
            f"at {spec.max_hours:g} h"
        )
    return dataclasses.replace(
        start,
        request=dataclasses.replace(start.request, adaptive=spec),
        total_s=total,
        notes=notes,
    )


def chosen_setting(req: PlanRequest, candidate: Candidate, setting_id: str) -> Setting:
    """A candidate the rounds chose, as a training setting of the plan (knobs rounded as a
    plan's are; the plan's one reamp level)."""
    knobs = {name: round(v, DECIMALS) for name, v in candidate.knobs(req).items()}
    switches = {s.name: p for s, p in zip(req.switches, candidate.switches, strict=True)}
    level = req.levels_dbu[0] if req.levels_dbu else None
    return Setting(setting_id, knobs, switches, level, "train")
