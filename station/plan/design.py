"""Capture plans: which knob settings to capture, by experimental design, in which order.

Pure (no hardware). A plan spreads switch positions (and reamp levels, when
given) evenly over the settings, keeps the continuous knobs space-filling within
each switch combination, holds out settings far from the training ones, names an
anchor setting for drift checks, and orders everything to keep servo travel
short (station.rig.motion). The same request and seed give the same plan.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import StationError
from ..phrases import Phrase
from ..rig.motion import MotionModel, cost_matrix, order_tour, path_motion_s
from ..rig.profiles import check_control_name
from .adaptive_spec import AdaptiveSpec
from .trainable import MIN_TRAIN, parametric_gaps

SCHEMA_VERSION = 1
METHODS = ("maximin-lhs", "sobol", "grid", "random")
ROLES = ("train", "holdout", "anchor")
DEFAULT_ANCHOR_EVERY = 8
# One capture of NAM's v3 file: 190 s of signal, 0.5 s pre-roll, 1 s tail, 2 s of noise floor.
DEFAULT_CAPTURE_S = 193.5
# Per setting: pre-flight, analysis, checks, files. Nominal (issue 11's target); a plan
# takes the overhead measured in the home's recent sweeps instead where there is one.
STATION_OVERHEAD_S = 2.0
LHS_CANDIDATES = 32
HOLDOUT_POOL = 512
HOLDOUT_MARGIN = 0.1  # holdout settings stay this far (of each knob's range) inside the ends
DECIMALS = 3


@dataclass(frozen=True)
class KnobRange:
    """A continuous knob and its printed range."""

    name: str
    min: float
    max: float


@dataclass(frozen=True)
class SwitchChoice:
    """A switch and its named positions."""

    name: str
    positions: tuple[str, ...]


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the controls, a budget of settings (holdout included), the method."""

    knobs: tuple[KnobRange, ...]
    switches: tuple[SwitchChoice, ...] = ()
    settings: int = 16
    method: str = "maximin-lhs"
    holdout: int | None = None  # None: about 10 % of the settings
    levels_dbu: tuple[float, ...] = ()
    seed: int = 0
    corners: bool = False
    centre: bool = False
    anchor: dict[str, Any] | None = None  # knob values / switch positions; default the centre
    anchor_every: int = DEFAULT_ANCHOR_EVERY
    capture_s: float = DEFAULT_CAPTURE_S
    rig: str | None = None
    overhead_s: float = STATION_OVERHEAD_S  # the station's own time per setting
    adaptive: AdaptiveSpec | None = None  # the rest of the budget chosen during the sweep


@dataclass
class Setting:
    """One capture in a plan: knob values, switch positions, reamp level and role."""

    id: str
    knobs: dict[str, float]
    switches: dict[str, str]
    reamp_dbu: float | None
    role: str

    def to_json(self) -> dict[str, Any]:
        """The plan-file form (docs/files.md)."""
        return {
            "id": self.id,
            "knobs": dict(self.knobs),
            "switches": dict(self.switches),
            "reamp_dbu": self.reamp_dbu,
            "role": self.role,
        }

    def same_place(self, other: Setting) -> bool:
        """True when both settings put every control and the level in the same place."""
        return (self.knobs, self.switches, self.reamp_dbu) == (
            other.knobs,
            other.switches,
            other.reamp_dbu,
        )


@dataclass
class Plan:
    """A finished plan: the request, the settings in playing order and its time estimates."""

    request: PlanRequest
    settings: list[Setting]
    motion_s: float
    unordered_motion_s: float
    total_s: float
    slew_us_per_s: float
    nominal_motion: bool
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The plan file's content (docs/files.md)."""
        r = self.request
        return {
            "schema_version": SCHEMA_VERSION,
            "method": r.method,
            "seed": r.seed,
            "rig": r.rig,
            "knobs": [{"name": k.name, "min": k.min, "max": k.max} for k in r.knobs],
            "switches": [{"name": s.name, "positions": list(s.positions)} for s in r.switches],
            "reamp_levels_dbu": list(r.levels_dbu),
            "holdout": sum(s.role == "holdout" for s in self.settings),
            "anchor_every": r.anchor_every,
            "corners": r.corners,
            "centre": r.centre,
            "settings": [s.to_json() for s in self.settings],
            "estimated_motion_s": self.motion_s,
            "unordered_motion_s": self.unordered_motion_s,
            "estimated_total_s": self.total_s,
            "capture_s": r.capture_s,
            "station_overhead_s": r.overhead_s,
            "motion_model": {
                "slew_us_per_s": self.slew_us_per_s,
                "nominal": self.nominal_motion,
            },
            "notes": list(self.notes),
            **({"adaptive": r.adaptive.to_json()} if r.adaptive else {}),
        }


# A plan's designs compare every pair of settings (n² memory and time): 100 000 settings
# would ask for tens of GiB, and even 2000 is days at the bench.
MAX_SETTINGS = 2000


def default_holdout(settings: int) -> int:
    """About 10 % of the settings, at least one once there are five or more."""
    return 0 if settings < 5 else max(1, round(0.1 * settings))


def holdout_of(req: PlanRequest) -> int:
    """The holdout asked for, else about 10 % raised to one per reamp level when the budget
    still gives every level a parametric model (two training settings and one held out);
    none when there is no knob to hold out."""
    if req.holdout is not None:
        return req.holdout
    if not req.knobs:
        return 0
    tenth = default_holdout(req.settings)
    per_level = max(tenth, len(req.levels_dbu) or 1)
    if per_level > tenth and _trainable(req, req.settings - per_level):
        return per_level
    return tenth


def _fits(req: PlanRequest, n_train: int) -> bool:
    """True when `n_train` training settings make the design asked for: every switch and
    level combination covered, a grid's two steps per knob, room for corners and centre."""
    n_combos = len(combinations(req))
    if n_train < n_combos:
        return False
    d = len(req.knobs)
    if req.method == "grid" and d:
        return math.floor((n_train / n_combos) ** (1.0 / d) + 1e-9) >= 2
    fixed = (2**d if req.corners and d else 0, 1 if req.centre and d else 0)
    first = -(-fixed[0] // n_combos) + fixed[1]  # the first combination takes the most
    return n_train // n_combos >= first


def _trainable(req: PlanRequest, n_train: int) -> bool:
    """True when `n_train` training settings fit the design and give each reamp level at least
    two: with the holdout beside them, a parametric model at every level (plan/trainable.py).
    Each combination gets n_train // combinations or one more, so n_train >= combinations
    gives a level at least its switch combinations, and >= 2 per level the rest."""
    levels = len(req.levels_dbu) or 1
    return n_train >= MIN_TRAIN * levels and _fits(req, n_train)


def parametric_budget(req: PlanRequest) -> int | None:
    """The fewest settings (holdout included) whose default plan gives a parametric model at
    every reamp level, or None when no budget up to MAX_SETTINGS does."""
    levels = len(req.levels_dbu) or 1
    for n in range(levels + MIN_TRAIN * levels, MAX_SETTINGS + 1):
        k = holdout_of(dataclasses.replace(req, settings=n, holdout=None))
        if k >= levels and _trainable(req, n - k):
            return n
    return None


def combinations(req: PlanRequest) -> list[tuple[tuple[str, ...], float | None]]:
    """Every switch-position combination crossed with every reamp level."""
    positions = [s.positions for s in req.switches]
    levels: list[float | None] = list(req.levels_dbu) or [None]
    return [(combo, lvl) for combo in itertools.product(*positions) for lvl in levels]


def validate(req: PlanRequest) -> None:
    """Refuse a request that cannot make a sensible plan (StationError with a hint)."""
    if req.method not in METHODS:
        raise StationError(f"unknown method {req.method!r}", f"choose one of: {', '.join(METHODS)}")
    names = [k.name for k in req.knobs] + [s.name for s in req.switches]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StationError(
            f"a control is named twice: {', '.join(dupes)}", "give each knob and switch once"
        )
    if not names:
        raise StationError("a plan needs at least one knob or switch", Phrase("e.g. {knob}"))
    for name in names:
        check_control_name(name)
    for k in req.knobs:
        if not (math.isfinite(k.min) and math.isfinite(k.max)) or k.max <= k.min:
            raise StationError(
                f"knob {k.name!r} has an empty range {k.min:g}:{k.max:g}",
                "give MIN:MAX with MAX above MIN, e.g. drive=0:10",
            )
    for s in req.switches:
        if len(s.positions) < 2 or len(set(s.positions)) != len(s.positions):
            raise StationError(
                f"switch {s.name!r} needs two or more distinct positions",
                Phrase("e.g. {switch}"),
            )
    if any(not math.isfinite(v) for v in req.levels_dbu) or len(set(req.levels_dbu)) != len(
        req.levels_dbu
    ):
        raise StationError("reamp levels must be distinct numbers of dBu", Phrase("e.g. {levels}"))
    if not 1 <= req.settings <= MAX_SETTINGS:
        days = MAX_SETTINGS * (req.capture_s + req.overhead_s) / 86400
        raise StationError(
            f"a plan holds 1 to {MAX_SETTINGS} settings, not {req.settings}",
            f"{MAX_SETTINGS} settings already take about {days:.0f} days of reamping",
        )
    holdout = holdout_of(req)
    if holdout < 0:
        raise StationError(Phrase("{holdout} cannot be negative"))
    if holdout and not req.knobs:
        raise StationError(
            "held-out settings need at least one knob",
            Phrase("use {holdout_none} with switches only"),
        )
    combos = len(combinations(req))
    train = req.settings - holdout
    if train < combos:
        raise StationError(
            f"{req.settings} settings ({holdout} held out) cannot cover the {combos} switch "
            "and level combinations",
            f"ask for at least {combos + holdout} settings, or fewer switches/levels",
        )
    if not req.knobs and train > combos:
        raise StationError(
            f"with switches only there are just {combos} distinct settings",
            Phrase("use {settings} {count}", count=combos + holdout),
        )
    if req.capture_s <= 0:
        raise StationError("the capture length must be positive")
    if not (math.isfinite(req.overhead_s) and req.overhead_s >= 0):
        raise StationError("the station overhead per setting must be a number of seconds ≥ 0")


def unit_points(method: str, m: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """m points in [0, 1]^d by `method` (not grid)."""
    if m == 0 or d == 0:
        return np.zeros((m, d))
    if method == "random":
        return rng.random((m, d))
    from scipy.stats import qmc

    if method == "sobol":
        with warnings.catch_warnings():  # balance needs 2^k points; a budget rarely is
            warnings.simplefilter("ignore", UserWarning)
            return qmc.Sobol(d, scramble=True, seed=int(rng.integers(2**31))).random(m)
    best, best_score = None, -1.0
    for _ in range(LHS_CANDIDATES):
        pts = qmc.LatinHypercube(d, seed=int(rng.integers(2**31))).random(m)
        score = _min_distance(pts)
        if score > best_score:
            best, best_score = pts, score
    assert best is not None
    return best


def _min_distance(pts: np.ndarray) -> float:
    """Smallest distance between two rows (inf for fewer than two)."""
    if len(pts) < 2:
        return math.inf
    diff = pts[:, None, :] - pts[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    return float(dist[np.triu_indices(len(pts), 1)].min())


def _spread(total: int, bins: int, rng: np.random.Generator) -> list[int]:
    """`total` split over `bins` as evenly as possible; the remainder goes to random bins."""
    counts = [total // bins] * bins
    for i in rng.permutation(bins)[: total % bins]:
        counts[int(i)] += 1
    return counts


def _fixed_points(req: PlanRequest, n_combos: int) -> list[list[np.ndarray]]:
    """Corners (spread round-robin over the combinations) and the centre (first one)."""
    d = len(req.knobs)
    fixed: list[list[np.ndarray]] = [[] for _ in range(n_combos)]
    if req.corners and d:
        for i, corner in enumerate(itertools.product((0.0, 1.0), repeat=d)):
            fixed[i % n_combos].append(np.array(corner))
    if req.centre and d:
        fixed[0].append(np.full(d, 0.5))
    return fixed


def _training_points(
    req: PlanRequest, n_train: int, n_combos: int, rng: np.random.Generator, notes: list[str]
) -> list[np.ndarray]:
    """Unit-cube knob points per combination for the training settings."""
    d = len(req.knobs)
    if req.method == "grid" and d:
        steps = math.floor((n_train / n_combos) ** (1.0 / d) + 1e-9)
        if steps < 2:
            raise StationError(
                f"a grid needs 2 steps per knob: at least {2**d * n_combos} training settings",
                Phrase("ask for more {settings}, or use maximin-lhs"),
            )
        axis = np.linspace(0.0, 1.0, steps)
        grid = np.array(list(itertools.product(axis, repeat=d)))
        if len(grid) * n_combos != n_train:
            notes.append(
                f"grid: {steps} steps per knob gives {len(grid) * n_combos} training settings "
                f"of the {n_train} asked for"
            )
        return [grid.copy() for _ in range(n_combos)]
    counts = _spread(n_train, n_combos, rng)
    fixed = _fixed_points(req, n_combos)
    out = []
    for m, pts in zip(counts, fixed, strict=True):
        if len(pts) > m:
            raise StationError(
                f"{n_train} training settings are too few for the corners and centre",
                Phrase(
                    "ask for at least {count} settings, or drop {corners}",
                    count=sum(len(f) for f in fixed) + n_combos,
                ),
            )
        filled = unit_points(req.method, m - len(pts), d, rng)
        out.append(np.vstack([np.array(pts).reshape(-1, d), filled]) if pts else filled)
    return out


def _holdout_points(
    req: PlanRequest, k: int, train: list[np.ndarray], rng: np.random.Generator
) -> list[tuple[int, np.ndarray]]:
    """k (combination, point) pairs, each as far as it can be from the training points of
    its combination and from the holdouts already chosen; kept off the knobs' very ends."""
    d = len(req.knobs)
    # Combinations in a random order, interleaved by level so the first holdouts go one to
    # each reamp level (a parametric model is trained per level and judged on its own).
    levels = len(req.levels_dbu) or 1
    seen: dict[int, int] = {}
    ranked = []
    for c in rng.permutation(len(train)):
        level = int(c) % levels  # combinations() runs through the levels innermost
        seen[level] = seen.get(level, 0) + 1
        ranked.append((seen[level], int(c)))
    order = [c for _, c in sorted(ranked, key=lambda rc: rc[0])]
    chosen: list[tuple[int, np.ndarray]] = []
    taken: list[list[np.ndarray]] = [list(t) for t in train]
    for i in range(k):
        c = int(order[i % len(order)])
        pool = HOLDOUT_MARGIN + (1 - 2 * HOLDOUT_MARGIN) * rng.random((HOLDOUT_POOL, d))
        if taken[c]:
            ref = np.array(taken[c])
            dist = np.sqrt(((pool[:, None, :] - ref[None, :, :]) ** 2).sum(-1)).min(axis=1)
            best = pool[int(np.argmax(dist))]
        else:
            best = pool[0]
        chosen.append((c, best))
        taken[c].append(best)
    return chosen


def _knob_values(req: PlanRequest, unit: np.ndarray) -> dict[str, float]:
    return {
        k.name: round(k.min + float(u) * (k.max - k.min), DECIMALS)
        for k, u in zip(req.knobs, unit, strict=True)
    }


def anchor_setting(req: PlanRequest) -> Setting:
    """The drift anchor: `req.anchor` where given, else knobs at the centre of their range,
    each switch in its first position and the middle reamp level."""
    given = dict(req.anchor or {})
    knobs, switches = {}, {}
    for k in req.knobs:
        value = float(given.pop(k.name, (k.min + k.max) / 2))
        if not k.min <= value <= k.max:
            raise StationError(
                f"anchor {k.name}={value:g} is outside {k.min:g}..{k.max:g}",
                "give an anchor inside the knob's printed range",
            )
        knobs[k.name] = round(value, DECIMALS)
    for s in req.switches:
        pos = str(given.pop(s.name, s.positions[0]))
        if pos not in s.positions:
            raise StationError(
                f"anchor {s.name}={pos} is not a position of {s.name}",
                f"positions: {', '.join(s.positions)}",
            )
        switches[s.name] = pos
    if given:
        raise StationError(
            f"the anchor names unknown controls: {', '.join(sorted(given))}",
            "name the plan's knobs and switches",
        )
    levels = sorted(req.levels_dbu)
    level = levels[len(levels) // 2] if levels else None
    return Setting("a01", knobs, switches, level, "anchor")


def with_anchors(settings: list[Setting], anchor: Setting, every: int) -> list[Setting]:
    """The playing schedule: the anchor first, after every `every` settings and last.

    `settings` are the train/holdout settings in order; anchors get ids a01, a02, ...
    `every` <= 0 puts anchors only first and last.
    """
    out: list[Setting] = []
    count = 0

    def add_anchor() -> None:
        nonlocal count
        count += 1
        out.append(
            Setting(
                f"a{count:02d}",
                dict(anchor.knobs),
                dict(anchor.switches),
                anchor.reamp_dbu,
                "anchor",
            )
        )

    add_anchor()
    for i, s in enumerate(settings, 1):
        out.append(s)
        if every > 0 and i % every == 0 and i < len(settings):
            add_anchor()
    add_anchor()
    return out


def make_plan(req: PlanRequest, model: MotionModel) -> Plan:
    """Design, hold out, anchor and order a plan; raises StationError on a bad request."""
    validate(req)
    rng = np.random.default_rng(req.seed)
    notes: list[str] = []
    combos = combinations(req)
    k = holdout_of(req)
    train_pts = _training_points(req, req.settings - k, len(combos), rng, notes)
    hold_pts = _holdout_points(req, k, train_pts, rng) if len(req.knobs) else []
    designed: list[Setting] = []
    for c, pts in enumerate(train_pts):
        designed += [_setting(req, combos[c], p, "train") for p in pts]
        designed += [_setting(req, combos[c], p, "holdout") for hc, p in hold_pts if hc == c]
    anchor = anchor_setting(req)

    nodes = [anchor, *designed]
    pulses = [model.pulses(s.knobs, s.switches) for s in nodes]
    groups = [tuple(sorted(s.switches.items())) for s in nodes]
    tour = order_tour(cost_matrix(model, pulses, groups), start=0)
    ordered = [nodes[i] for i in tour[1:]]
    for n, s in enumerate(ordered, 1):
        s.id = f"s{n:03d}"
    schedule = with_anchors(ordered, anchor, req.anchor_every)
    unordered = with_anchors(designed, anchor, req.anchor_every)

    def motion(seq: list[Setting]) -> float:
        return path_motion_s(model, [model.pulses(s.knobs, s.switches) for s in seq])

    moved, unordered_s = motion(schedule), motion(unordered)
    if moved > unordered_s:  # a heuristic tour can lose to the design order; never play worse
        for n, s in enumerate(designed, 1):
            s.id = f"s{n:03d}"
        schedule, moved = unordered, unordered_s
    total = moved + len(schedule) * (req.capture_s + req.overhead_s)
    if req.knobs:
        notes += _parametric_notes(req, schedule)
    if model.nominal:
        notes.append(
            "motion time modelled with a nominal linear knob mapping over 500–2500 µs at "
            f"{model.slew_us_per_s:g} µs/s (no rig profile given)"
        )
    return Plan(req, schedule, moved, unordered_s, total, model.slew_us_per_s, model.nominal, notes)


def _setting(
    req: PlanRequest, combo: tuple[tuple[str, ...], float | None], unit: np.ndarray, role: str
) -> Setting:
    positions, level = combo
    switches = {s.name: p for s, p in zip(req.switches, positions, strict=True)}
    return Setting("", _knob_values(req, unit), switches, level, role)


def _parametric_notes(req: PlanRequest, schedule: list[Setting]) -> list[str]:
    """What a parametric model of this plan would lack, and the budget that gives one."""
    gaps = parametric_gaps(schedule)
    if not gaps:
        return []
    notes = [gap.text() for gap in gaps]
    if holdout_of(req) == 0:
        notes[0] = (
            "no setting is held out: a parametric model of this sweep could not be judged on "
            "settings it never saw, and training one is refused; one model per setting can "
            "still be trained"
        )
        notes[1:] = []
    budget = parametric_budget(req)
    if budget is not None and budget > req.settings:
        notes.append(f"a plan of {budget} settings would give a parametric model")
    elif budget is not None:
        notes.append("hold at least one setting out per reamp level for a parametric model")
    return notes
