"""Adaptive sweeps in the accuracy benchmark: do settings chosen round by round buy accuracy?

A cell of method `adaptive` (benchmarks/parametric_accuracy.py) plans what `station plan
--adaptive` plans: a maximin-LHS start of `--initial` training settings (default half the
budget, as the plan's default) beside the whole budget's held-out settings. Then, round by
round, it writes a session of the training settings "captured" so far (the gear's exact
return), runs the sweep's own round on it (station.models.parametric.ensemble.score_round:
`--members` quick models trained on those settings, their disagreement at every candidate
of the sweep's pool) and takes the next batch of `--round-batch` with the sweep's own
choice (station.plan.adaptive.choose, spaced from what is captured), until the budget of
training settings is reached. The final model then trains and is judged exactly as every
other cell's: the same recipe, steps and seeds, the same held-out test settings, the
nearest-capture baseline. A budget is training settings, so methods compare at the same
capture time apart from servo motion.

Each round here sees every setting chosen before it (captures are instant): the best case
for the rounds. On a rig a round starts while the batch before it is still being captured.

    python benchmarks/adaptive_accuracy.py --quick    # od and preamp: adaptive, maximin-lhs, random

It prints parametric_accuracy's table, then how many training settings each method needs
to reach what maximin-LHS reaches at the largest budget (median over seeds of the test
median and of the test worst ESR), interpolated in log ESR between the budgets measured.
The goal of the adaptive sweep (issue 18): maximin-LHS's accuracy with at most 60 % of its
settings.
"""

from __future__ import annotations

import math
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import parametric_accuracy as pa
from benchmarks.accuracy_gear import Gear, write_session
from station.plan.adaptive import candidate_of, choose, chosen_setting, make_adaptive_plan, pool
from station.plan.adaptive_spec import DEFAULT_BATCH, DEFAULT_MEMBERS, AdaptiveSpec, default_initial
from station.plan.design import PlanRequest, Setting, default_holdout

METHODS = ("adaptive", "maximin-lhs", "random")
REFERENCE = "maximin-lhs"
GOAL_SHARE = 0.6  # issue 18: the reference's accuracy from at most 60 % of its settings
# The 2-core CPU run: parametric_accuracy's quick recipe on both knobbed gear, budgets small
# enough that a round's two tiny members matter, rounds of the sweep's default batch.
QUICK = {
    **pa.QUICK,
    "gears": "od,preamp",
    "methods": ",".join(METHODS),
    "budgets": "8,12,16,24",
    "round_batch": DEFAULT_BATCH,
    "members": 2,
}
# For a GPU machine: both gear, 40 s of material (the shorter signal `station plan` offers),
# the sweep's defaults for the rounds.
FULL = {
    **pa.FULL,
    "methods": ",".join(METHODS),
    "budgets": "12,24,36,48",
    "training_s": "40",
    "round_batch": DEFAULT_BATCH,
    "members": DEFAULT_MEMBERS,
}


def adaptive_request(
    gear: Gear, n_train: int, seed: int, one_capture_s: float, options: dict[str, Any]
) -> PlanRequest:
    """`station plan --adaptive`'s request for `n_train` training settings: the default
    holdout beside them (as parametric_accuracy.plan_for's), a maximin-LHS start."""
    holdout = default_holdout(n_train)
    initial = options.get("initial")
    spec = AdaptiveSpec(
        n_train + holdout,
        default_initial(n_train) if initial is None else initial,
        options.get("round_batch") or DEFAULT_BATCH,
        options.get("members") or DEFAULT_MEMBERS,
    )
    return PlanRequest(
        gear.knobs,
        gear.switches,
        settings=n_train + holdout,
        method="maximin-lhs",
        holdout=holdout,
        seed=seed,
        capture_s=one_capture_s,
        adaptive=spec,
    )


def adaptive_plan(
    cell: pa.Cell,
    gear: Gear,
    n_train: int,
    options: dict[str, Any],
    work: Path,
    x_path: Path,
    one_capture_s: float,
) -> pa.CellPlan:
    """The cell's training settings, chosen as an adaptive sweep chooses them (the module's
    docstring), with each round's figures. StationError when the planner refuses."""
    from station.events import StopFlag, ignore
    from station.models.parametric.ensemble import score_round

    req = adaptive_request(gear, n_train, cell.seed, one_capture_s, options)
    spec = req.adaptive
    assert spec is not None
    plan = make_adaptive_plan(req, pa.rig_model(gear))
    train = [s for s in plan.settings if s.role == "train"]
    candidates = pool(req, seed=req.seed)  # the sweep's own pool (station.sweep.rounds)
    number = max(int(s.id[1:]) for s in plan.settings if s.id.startswith("s"))
    folder = work / f"{pa.cell_folder(cell, work).name}-rounds"
    rounds: list[dict[str, Any]] = []
    try:
        while len(train) < n_train:
            r = len(rounds) + 1
            write_session(folder, gear, x_path, [_as_dict(s) for s in train], [])
            ids = sorted(s.id for s in train)
            scores = score_round(folder, r, ids, candidates, req, spec.members, StopFlag(), ignore)
            captured = [candidate_of(req, s) for s in train]
            batch = min(spec.batch, n_train - len(train))
            choice = choose(candidates, scores.disagreement, captured, batch)
            if not choice.picked:
                break  # every candidate sits on a captured setting
            for i in choice.picked:
                number += 1
                train.append(chosen_setting(req, candidates[i], f"s{number:03d}"))
            rounds.append(
                {
                    "round": r,
                    "worst": float(scores.disagreement.max()),
                    "median": float(statistics.median(scores.disagreement)),
                    "minutes": round(scores.minutes, 2),
                }
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    holdout = sum(s.role == "holdout" for s in plan.settings)
    return pa.CellPlan(
        [_as_dict(s) for s in train],
        len(train) + holdout,
        plan.total_s,
        {"initial": spec.initial, "rounds": rounds},
    )


def _as_dict(setting: Setting) -> dict[str, Any]:
    return {"id": setting.id, "knobs": setting.knobs, "switches": setting.switches}


def reach(curve: list[tuple[int, float]], target: float) -> float | None:
    """The training settings at which a curve of (budget, ESR), budgets ascending, first
    comes down to `target`: interpolated in log ESR between the budgets either side, the
    first budget when it is there already, None when it never gets there."""
    before: tuple[int, float] | None = None
    for budget, esr in curve:
        if esr <= target:
            if before is None:
                return float(budget)
            (b0, e0), log_t = before, math.log(target)
            return b0 + (budget - b0) * (math.log(e0) - log_t) / (math.log(e0) - math.log(esr))
        before = (budget, esr)
    return None


def curves(rows: list[dict[str, Any]], figure: str) -> dict[tuple, dict[str, list]]:
    """Per (recipe, gear, material) and method: (budget, median over seeds of `figure`) for
    each budget given as settings, budgets ascending (failed cells left out)."""
    seen: dict[tuple, dict[str, dict[int, list[float]]]] = {}
    for r in rows:
        if "error" in r or not str(r["budget"]).isdigit():
            continue
        key = (r.get("recipe", "station"), r["gear"], r["training_s"])
        by_budget = seen.setdefault(key, {}).setdefault(r["method"], {})
        by_budget.setdefault(int(r["budget"]), []).append(r[figure])
    return {
        key: {
            m: [(b, statistics.median(v)) for b, v in sorted(per.items())]
            for m, per in methods.items()
        }
        for key, methods in seen.items()
    }


def reach_table(rows: list[dict[str, Any]], reference: str = REFERENCE) -> list[str]:
    """The Markdown table of settings needed: per recipe, gear, material and figure, the
    reference's value at its largest budget and, per method, the settings that reach it
    (with their share of that budget)."""
    names = sorted({r["method"] for r in rows}, key=lambda m: (m != "adaptive", m))
    out = [
        f"| recipe | gear | material | figure | target ({reference} at its largest budget) | "
        + " | ".join(names)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for figure, label in (("test_median", "test median"), ("test_worst", "test worst")):
        for (recipe, gear, material), methods in curves(rows, figure).items():
            if reference not in methods:
                continue
            largest, target = methods[reference][-1]
            cells = []
            for m in names:
                curve = methods.get(m, [])
                needed = reach(curve, target)
                if not curve:
                    cells.append("–")
                elif needed is None:
                    cells.append(f"> {curve[-1][0]} (not reached)")
                elif curve[0][1] <= target:
                    cells.append(f"≤ {curve[0][0]} (≤ {curve[0][0] / largest:.0%})")
                else:
                    cells.append(f"{needed:.1f} ({needed / largest:.0%})")
            label_recipe = "custom" if recipe.startswith("{") else recipe
            out.append(
                f"| {label_recipe} | {gear} | {material:g} s | {label} | {target:.4f} at "
                f"{largest} | " + " | ".join(cells) + " |"
            )
    return out if len(out) > 2 else []


def main() -> int:
    """Run the cells; print parametric_accuracy's table and the settings each method needs."""
    args = pa.parser(__doc__.splitlines()[0]).parse_args()
    options = pa.resolve(args, QUICK if args.quick else FULL)
    lines, rows = pa.run(args, options)
    print("\n".join(lines))
    needed = reach_table(rows)
    if needed:
        print()
        print(
            f"Training settings needed to reach {REFERENCE}'s median over seeds at its "
            f"largest budget (interpolated in log ESR; the goal: adaptive at most "
            f"{GOAL_SHARE:.0%} of that budget):"
        )
        print()
        print("\n".join(needed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
