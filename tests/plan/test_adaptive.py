"""Choosing an adaptive sweep's next batch: disagreement, spacing and the pool."""

from __future__ import annotations

import numpy as np
import pytest

from station.errors import StationError
from station.plan.adaptive import (
    Candidate,
    choose,
    disagreement,
    distance,
    distances,
    pool,
    typical_spacing,
)
from station.plan.design import KnobRange, PlanRequest, SwitchChoice

REQ = PlanRequest(
    knobs=(KnobRange("drive", 0.0, 10.0), KnobRange("tone", 0.0, 10.0)),
    switches=(SwitchChoice("boost", ("off", "on")),),
)


def test_disagreement_is_each_members_esr_against_the_mean() -> None:
    y = np.sin(np.linspace(0, 20, 400))[None, :] * np.array([[1.0], [0.2]])  # 2 candidates
    for a in (0.0, 0.1, 0.3):
        members = np.stack([y * (1 + a), y * (1 - a)])
        np.testing.assert_allclose(disagreement(members), [a**2, a**2], rtol=1e-9)
    with pytest.raises(StationError, match="at least two"):
        disagreement(y[None])


def test_the_pool_covers_every_switch_combination_densely() -> None:
    cands = pool(REQ, per_combination=64, seed=1)
    assert len(cands) == 128 and {c.switches for c in cands} == {("off",), ("on",)}
    units = np.array([c.unit for c in cands if c.switches == ("on",)])
    assert units.min() >= 0 and units.max() <= 1
    # Dense: every point of a 5×5 grid has a candidate within 0.15.
    grid = np.array([(i / 4, j / 4) for i in range(5) for j in range(5)])
    gaps = np.sqrt(((grid[:, None] - units[None]) ** 2).sum(-1)).min(1)
    assert gaps.max() < 0.15, gaps.max()
    assert cands[0].knobs(REQ)["drive"] == pytest.approx(10 * cands[0].unit[0])
    assert pool(REQ, 64, seed=1) == cands  # same seed, same pool


def test_a_differing_switch_is_as_far_as_a_knob_end_to_end() -> None:
    a = Candidate((0.0, 0.5), ("off",))
    assert distance(a, Candidate((1.0, 0.5), ("off",))) == pytest.approx(1.0)
    assert distance(a, Candidate((0.0, 0.5), ("on",))) == pytest.approx(1.0)
    assert distance(a, Candidate((0.3, 0.9), ("off",))) == pytest.approx(0.5)


def _ensemble(captured: list[float], xs: np.ndarray, members: int = 5) -> np.ndarray:
    """Bootstrapped quadratic fits of a known 1-D response, as an ensemble of quick models:
    they agree where captures are and drift apart away from them."""
    truth = np.tanh(3 * np.asarray(captured))
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 50)
    out = []
    for _ in range(members):
        pick = rng.choice(len(captured), len(captured))
        coef = np.polyfit(
            np.asarray(captured)[pick], truth[pick] + rng.normal(0, 0.02, len(pick)), 2
        )
        gain = np.polyval(coef, xs)
        out.append(gain[:, None] * np.sin(2 * np.pi * 5 * t)[None, :] + 0.5)
    return np.stack(out)


def test_the_batch_goes_where_the_captures_leave_the_models_unsure() -> None:
    req = PlanRequest(knobs=(KnobRange("drive", 0.0, 10.0),))
    cands = pool(req, per_combination=128, seed=2)
    xs = np.array([c.unit[0] for c in cands])
    done = [0.0, 0.1, 0.2, 0.3, 0.4, 0.45]  # the lower half captured
    scores = disagreement(_ensemble(done, xs))
    captured = [Candidate((x,), ()) for x in done]
    picked = choose(cands, scores, captured, batch=3)
    assert len(picked.picked) == 3
    chosen = sorted(xs[picked.picked])
    assert min(chosen) > 0.5, chosen  # all in the uncaptured half
    # Spread, not bunched at the most unsure end as the raw top three are.
    raw_top = sorted(xs[np.argsort(scores)[-3:]])
    assert max(np.diff(raw_top)) < 0.02 and min(np.diff(chosen)) > 0.05, (raw_top, chosen)
    assert picked.scores == sorted(picked.scores, reverse=True)


def test_a_candidate_on_a_captured_setting_is_never_taken() -> None:
    cands = [Candidate((0.5, 0.5), ("off",)), Candidate((0.9, 0.1), ("on",))]
    scores = np.array([10.0, 0.001])  # the captured one looks most unsure
    got = choose(cands, scores, [Candidate((0.5, 0.5), ("off",))], batch=2)
    assert got.picked == [1]
    with pytest.raises(StationError, match="one disagreement score per candidate"):
        choose(cands, scores[:1], [], batch=1)


def test_the_spacing_is_one_switch_combinations_share() -> None:
    eight = [Candidate((i / 8, 0.5), (s,)) for i, s in enumerate("abcdabcd")]
    assert typical_spacing(eight, dims=2) == pytest.approx(8**-0.5)
    # Over four combinations each holds two settings: the spacing of two, not of eight.
    assert typical_spacing(eight, dims=2, combinations=4) == pytest.approx(2**-0.5)
    assert typical_spacing(eight[:4], dims=2, combinations=4) == 1.0


def test_the_pick_stays_off_a_knob_end_where_the_models_extrapolate() -> None:
    # Captures in the middle; the members' disagreement grows towards both ends, as quick
    # models' does where they extrapolate, and peaks at the very end of the range.
    req = PlanRequest(knobs=(KnobRange("drive", 0.0, 10.0),))
    cands = pool(req, per_combination=256, seed=3)
    xs = np.array([c.unit[0] for c in cands])
    captured = [Candidate((x,), ()) for x in (0.3, 0.4, 0.5, 0.6, 0.7)]
    scores = (xs - 0.5) ** 2
    got = choose(cands, scores, captured, batch=2)
    chosen = sorted(xs[got.picked])
    assert xs[np.argmax(scores)] > 0.99  # the raw top candidate is a knob end
    # One pick on each side, each inside its end by a share of the spacing (0.2).
    assert chosen[0] < 0.3 and chosen[1] > 0.7, chosen
    assert chosen[0] > 0.03 and chosen[1] < 0.97, chosen


def test_a_batch_spreads_within_the_one_combination_that_is_unsure() -> None:
    req = PlanRequest(
        knobs=(KnobRange("drive", 0.0, 10.0), KnobRange("tone", 0.0, 10.0)),
        switches=(SwitchChoice("boost", ("off", "on")), SwitchChoice("clip", ("si", "led"))),
    )
    cands = pool(req, per_combination=256, seed=4)
    captured = pool(req, per_combination=2, seed=5)  # two per combination
    scores = np.array([1.0 if c.switches == ("on", "si") else 0.01 for c in cands])
    got = choose(cands, scores, captured, batch=4)
    mine = [cands[i] for i in got.picked if cands[i].switches == ("on", "si")]
    assert len(mine) >= 3
    gaps = distances(mine, mine)[np.triu_indices(len(mine), 1)]
    # Spread at about the combination's own spacing (0.71 for two settings), not the
    # whole plan's (0.35 for eight).
    assert gaps.min() > 0.15, gaps


def test_distances_at_once_equal_distance_pair_by_pair() -> None:
    a = pool(REQ, per_combination=8, seed=6)
    b = pool(REQ, per_combination=4, seed=7)
    d = distances(a, b)
    assert d.shape == (16, 8)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert d[i, j] == pytest.approx(distance(x, y))
