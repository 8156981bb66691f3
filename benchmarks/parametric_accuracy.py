"""Parametric accuracy: the test ESR a knob-conditioned model reaches, per gear, plan and budget.

For each gear of accuracy_gear.GEARS, plans by `grid` (k² settings per switch
combination, interior points from k = 3), `random` and `maximin-lhs` (station.plan.design)
are "captured" exactly through the gear into a sweep session, and the station's parametric
training (station.models.parametric.training) runs on each with the chosen recipe:

* the same number of optimiser steps for every cell, validating every `--validate-every`
  steps across epoch ends, so every plan's checkpoint is chosen among the same steps
  (Lightning otherwise validates at epoch ends, and epochs grow with the settings);
* the checkpoint is chosen on the training settings' selection audio (the first half of
  the held-out stretch of the signal); the test is a fixed set of held-out settings
  shared by every plan (interior knob values, every switch combination), on the second
  half, which neither training nor the choice saw;
* every cell is seeded from its own name (gear, method, budget, material, seed index),
  never from the run order, and runs `--seeds` seeds; the table gives min/median/max.

Per cell it records the test ESR (median and worst over the held-out settings), the
nearest-capture baseline (per held-out setting, the capture of the nearest training
setting with the same switches against the truth: the closest snapshot at best), the
capture time `station plan` estimates (signal, motion, overhead; its default ~10 % holdout
and drift anchors included), and the training minutes on this machine. Once per run it
measures the recipe's CPU cost in NAM's C++ core beside NAM's standard WaveNet.

    python benchmarks/parametric_accuracy.py --quick            # < 60 min on 2 CPU cores
    python benchmarks/parametric_accuracy.py --jobs 16 --accelerator gpu   # the full run

Method `adaptive` chooses part of its settings round by round, as an adaptive sweep does
(benchmarks/adaptive_accuracy.py, which runs it against the space-filling methods).

Budgets are numbers of training settings (`36`) or capture minutes (`60m`: the most
settings whose plan fits; for `adaptive`, as many as a maximin-LHS plan's). `--training-s`
lists seconds of training material per setting (the station signal's layout kept,
shorter), to weigh more short captures against fewer long ones at one capture time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy_gear import GEARS, Gear, holdout_settings, write_session
from benchmarks.accuracy_recipes import RECIPES, cpu_ratio, recipe_spec
from station.capture.run import NOISE_S, PREROLL_S, TAIL_S
from station.errors import StationError
from station.plan.design import (
    PlanRequest,
    default_holdout,
    make_plan,
)
from station.rig.motion import MotionModel, nominal_model

METHODS = ("grid", "random", "maximin-lhs")
# The 2-core CPU run: a shortened signal, small batches (8 slices of 2048 samples: an eighth
# of NAM's 16 × 8192) and few steps, so it says how plans compare rather than how far a
# recipe can go.
QUICK = {
    "gears": ",".join(GEARS),
    "methods": ",".join(METHODS),
    "budgets": "16,36",
    "training_s": "20",
    "steps": 1500,
    "validate_every": 250,
    "seeds": 3,
    "recipes": "c4-rf2k",
    "ny": 2048,
    "batch": 8,
}
# The full run, for a GPU machine: the station signal at full length and at 40 s of material,
# at the 70-minute capture budget, with each recipe's own batches.
FULL = {
    "gears": ",".join(GEARS),
    "methods": ",".join(METHODS),
    "budgets": "70m",
    "training_s": "163.5,40",
    "steps": 6000,
    "validate_every": 500,
    "seeds": 3,
    "recipes": "station",
    "ny": None,
    "batch": None,
}


@dataclass(frozen=True)
class Cell:
    """One training: a gear, a plan (method, budget), the material per setting, a recipe and
    a seed index."""

    gear: str
    method: str
    budget: str  # "36" training settings, or "60m" capture minutes
    training_s: float
    seed_index: int
    recipe: str = "station"

    @property
    def name(self) -> str:
        """`od-grid-36-20-0-1`: the cell in a file name (the recipe by its place in the run)."""
        return f"{self.gear}-{self.method}-{self.budget}-{self.training_s:g}-{self.seed_index}"

    @property
    def seed(self) -> int:
        """The cell's seed (plan and training): from its name alone, never from run order. The
        recipe is left out, so recipes are compared on the same plans and starting seeds."""
        return cell_seed(self.gear, self.method, self.budget, self.training_s, self.seed_index)


def cell_seed(gear: str, method: str, budget: str, training_s: float, index: int) -> int:
    """A 31-bit seed from a cell's name."""
    return zlib.crc32(f"{gear}/{method}/{budget}/{training_s:g}/{index}".encode()) & 0x7FFFFFFF


def capture_s(x_path: Path) -> float:
    """Seconds one capture of the signal at `x_path` takes: the signal, its noise floor,
    pre-roll and tail (what `station plan --capture-s` means)."""
    import soundfile as sf

    return float(sf.info(str(x_path)).duration) + NOISE_S + PREROLL_S + TAIL_S


def plan_for(gear: Gear, method: str, n_train: int, seed: int, one_capture_s: float) -> Any:
    """station.plan's plan of `n_train` training settings plus its default holdout."""
    holdout = default_holdout(n_train)
    req = PlanRequest(
        gear.knobs,
        gear.switches,
        settings=n_train + holdout,
        method=method,
        holdout=holdout,
        seed=seed,
        capture_s=one_capture_s,
    )
    return make_plan(req, rig_model(gear))


def rig_model(gear: Gear) -> MotionModel:
    """The nominal rig's motion for the gear's controls (what `station plan` assumes without
    a rig profile)."""
    return nominal_model(
        [(k.name, k.min, k.max) for k in gear.knobs], [(s.name, s.positions) for s in gear.switches]
    )


def settings_for(gear: Gear, method: str, budget: str, seed: int, one_capture_s: float) -> int:
    """Training settings a budget buys: the number given, or the most whose plan fits the
    minutes (a grid: the largest full grid that fits). StationError when none does."""
    if not budget.endswith("m"):
        return int(budget)
    limit_s = float(budget[:-1]) * 60
    combos = math.prod(len(s.positions) for s in gear.switches)
    if method == "grid":
        sizes = [k ** len(gear.knobs) * combos for k in range(2, 12)]
    else:
        sizes = list(range(combos, 2000))
    best = None
    for n in sizes:
        if plan_for(gear, method, n, seed, one_capture_s).total_s > limit_s:
            break
        best = n
    if best is None:
        raise StationError(f"no {method} plan fits in {budget[:-1]} minutes of capture")
    return best


@dataclass(frozen=True)
class CellPlan:
    """The training settings a cell captures and what its plan costs."""

    train: list[dict[str, Any]]  # id, knobs, switches
    planned_settings: int  # training and held-out settings of the plan (anchors not counted)
    capture_s: float  # `station plan`'s estimate
    extra: dict[str, Any]  # figures of the method's own for the row (an adaptive cell's rounds)


def plan_cell(cell: Cell, options: dict[str, Any], work: Path, x_path: Path) -> CellPlan:
    """The cell's training settings: its method's plan of its budget (an adaptive plan chooses
    its settings round by round: benchmarks/adaptive_accuracy.py). StationError when the
    planner refuses the budget."""
    gear = GEARS[cell.gear]
    one = capture_s(x_path)
    if cell.method == "adaptive":
        from benchmarks.adaptive_accuracy import adaptive_plan  # it imports this module

        n = settings_for(gear, "maximin-lhs", cell.budget, cell.seed, one)
        return adaptive_plan(cell, gear, n, options, work, x_path, one)
    n = settings_for(gear, cell.method, cell.budget, cell.seed, one)
    plan = plan_for(gear, cell.method, n, cell.seed, one)
    return CellPlan(
        [
            {"id": s.id, "knobs": s.knobs, "switches": s.switches}
            for s in plan.settings
            if s.role == "train"
        ],
        sum(s.role != "anchor" for s in plan.settings),
        plan.total_s,
        {},
    )


def run_cell(cell: Cell, options: dict[str, Any], work: Path) -> dict[str, Any]:
    """Plan, capture, train and judge one cell; its row (or its error)."""
    gear = GEARS[cell.gear]
    row: dict[str, Any] = {**asdict(cell), "seed": cell.seed}
    x_path = work / f"signal-{cell.training_s:g}.wav"
    try:
        planned = plan_cell(cell, options, work, x_path)
    except StationError as exc:
        return {**row, "error": exc.message}
    train = planned.train
    folder = cell_folder(cell, work)
    spec = recipe_spec(cell.recipe, options.get("ny"), options.get("batch"))
    try:
        write_session(folder, gear, x_path, train, holdout_settings(gear))
        from station.models.parametric.training import Recipe, train_parametric

        recipe = Recipe(
            spec["architecture"],
            epochs=1_000_000,  # the steps end training, the same for every cell
            ny=spec["ny"],
            batch_size=spec["batch"],
            trainer_options={"accelerator": options["accelerator"], "devices": options["devices"]},
            seed=cell.seed,
            patience=None,
            max_minutes=options.get("max_minutes"),  # a safety stop; the table says if it hit
            steps=options["steps"],
            validate_every=options["validate_every"],
            overrides=spec["overrides"],
        )
        started = time.monotonic()
        report = train_parametric(folder, recipe).report
        minutes = (time.monotonic() - started) / 60
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the audio of many settings is large
    holdout = report["holdout"]
    return {
        **row,
        "trained_settings": len(train),
        "planned_settings": planned.planned_settings,
        "capture_h": planned.capture_s / 3600,
        "test_median": report["esr_median"],
        "test_worst": report["esr_worst"],
        "nearest_median": report["nearest_esr_median"],
        "nearest_worst": report["nearest_esr_worst"],
        "beats_nearest": sum(
            h["nearest_esr"] is not None and h["esr"] < h["nearest_esr"] for h in holdout
        ),
        "holdout": [{"id": h["id"], "esr": h["esr"], "nearest": h["nearest_esr"]} for h in holdout],
        "selection": report["esr_selection"],
        "best_step": report["training"]["best_step"],
        "steps_done": report["training"]["steps_done"],
        "stopped_by": report["training"]["stopped_by"],
        "train_min": minutes,
        **planned.extra,
    }


def cell_folder(cell: Cell, work: Path) -> Path:
    """The cell's own session folder under `work` (the recipe hashed into its name)."""
    return work / f"{cell.name}-{zlib.crc32(cell.recipe.encode()):08x}"


def _worker(cell: Cell, options: dict[str, Any], work: str) -> dict[str, Any]:
    """A cell in a worker process: its own torch threads, Lightning's chatter in a log file."""
    import torch

    torch.set_num_threads(options["threads"])
    log = Path(work) / "logs" / f"{cell_folder(cell, Path(work)).name}.log"
    with open(log, "w") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        saved = os.dup(2)
        os.dup2(fh.fileno(), 2)
        try:
            return run_cell(cell, options, Path(work))
        except Exception as exc:  # one failed cell must not lose the others
            return {**asdict(cell), "seed": cell.seed, "error": f"{type(exc).__name__}: {exc}",
                    "log": str(log)}  # fmt: skip
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def cells(args: argparse.Namespace) -> list[Cell]:
    """Every cell the options ask for, in a fixed order."""
    return [
        Cell(gear, method, budget, training_s, index, recipe)
        for recipe in args.recipes
        for gear in args.gears.split(",")
        for training_s in (float(t) for t in args.training_s.split(","))
        for budget in args.budgets.split(",")
        for method in args.methods.split(",")
        for index in range(args.seeds)
    ]


def spread(values: list[float]) -> str:
    """`min / median / max`, or the one value."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{min(values):.4f} / {statistics.median(values):.4f} / {max(values):.4f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table: a line per recipe, gear, material, budget and method; seeds
    summarised."""
    out = [
        "| recipe | gear | material | budget | method | settings | capture | test median ESR "
        "(min / median / max over seeds) | test worst ESR | nearest capture median / worst "
        "| beats nearest | steps | train min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        key = (r.get("recipe", "station"), r["gear"], r["training_s"], r["budget"], r["method"])
        groups.setdefault(key, []).append(r)
    for (recipe, gear, training_s, budget, method), group in groups.items():
        good = [r for r in group if "error" not in r]
        label = "custom" if recipe.startswith("{") else recipe
        head = f"| {label} | {gear} | {training_s:g} s | {budget} | {method} |"
        if not good:
            out.append(f"{head} n/a ({group[0]['error']}) | | | | | | | |")
            continue
        near_m = statistics.median(r["nearest_median"] for r in good)
        near_w = statistics.median(r["nearest_worst"] for r in good)
        beats = sum(r["beats_nearest"] for r in good)
        judged = sum(len(r["holdout"]) for r in good)
        steps = statistics.median(r["steps_done"] for r in good)
        timed_out = sum(r["stopped_by"] == "max_minutes" for r in good)
        out.append(
            f"{head} {good[0]['trained_settings']} | "
            f"{statistics.median(r['capture_h'] for r in good) * 60:.0f} min | "
            f"{spread([r['test_median'] for r in good])} | "
            f"{spread([r['test_worst'] for r in good])} | {near_m:.4f} / {near_w:.4f} | "
            f"{beats}/{judged} | {steps:.0f}{' (time limit)' * bool(timed_out)} | "
            f"{statistics.median(r['train_min'] for r in good):.1f} |"
            + (f" ({len(group) - len(good)} failed)" if len(good) < len(group) else "")
        )
    return out


def parser(description: str) -> argparse.ArgumentParser:
    """The benchmark's options; those a preset sets default to None (resolve fills them)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="the 2-core CPU run (under 60 min)")
    p.add_argument("--gears", default=None, help=f"comma-separated: {', '.join(GEARS)}")
    p.add_argument(
        "--methods", default=None, help=f"comma-separated: {', '.join(METHODS)}, adaptive"
    )
    p.add_argument("--budgets", default=None, help="training settings (36) or minutes (60m)")
    p.add_argument("--training-s", default=None, help="seconds of training material per setting")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per cell")
    p.add_argument("--validate-every", type=int, default=None, help="steps between validations")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="a safety stop per cell; a cell it stops before its steps shows '(time limit)'",
    )
    p.add_argument(
        "--recipes",
        default=None,
        help=f"comma-separated names ({', '.join(RECIPES)}) or one JSON recipe",
    )
    p.add_argument("--ny", type=int, default=None, help="samples per slice, for every recipe")
    p.add_argument("--batch", type=int, default=None, help="slices per batch, for every recipe")
    p.add_argument(
        "--initial",
        type=int,
        default=None,
        help="adaptive: space-filling training settings to start (default half the budget)",
    )
    p.add_argument("--round-batch", type=int, default=None, help="adaptive: settings per round")
    p.add_argument("--members", type=int, default=None, help="adaptive: quick models per round")
    p.add_argument("--accelerator", default="cpu", help="Lightning's: cpu, gpu, auto")
    p.add_argument("--devices", default=None, help="Lightning's devices (default: its own)")
    p.add_argument("--jobs", type=int, default=1, help="cells trained at once, one process each")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job")
    p.add_argument("--json", type=Path, default=None, help="also write every row to this file")
    return p


def resolve(args: argparse.Namespace, preset: dict[str, Any]) -> dict[str, Any]:
    """Fill the options not given from `preset`, check the recipes, and return what every
    cell's worker needs."""
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    given = args.recipes.strip()
    args.recipes = [given] if given.startswith("{") else given.split(",")
    for name in args.recipes:
        recipe_spec(name)  # an unknown name or bad JSON fails now, not in every worker
    return {
        "ny": args.ny,
        "batch": args.batch,
        "accelerator": args.accelerator,
        "devices": int(args.devices) if args.devices and args.devices.isdigit() else args.devices,
        "steps": args.steps,
        "validate_every": args.validate_every,
        "threads": args.threads,
        "max_minutes": args.max_minutes,
        "initial": args.initial,
        "round_batch": args.round_batch,
        "members": args.members,
    }


def run(
    args: argparse.Namespace, options: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Run the cells (in parallel with --jobs), write --json; the report (the run's figures,
    each recipe with its CPU cost, the Markdown table) and the rows."""
    todo = cells(args)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="parametric-accuracy-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        from station.reamp.generate import write_station_signal

        for t in sorted({c.training_s for c in todo}):
            write_station_signal(work / f"signal-{t:g}.wav", seed=2, training_s=t)
        print(f"{len(todo)} cells, {args.jobs} at a time", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_worker, c, options, str(work)) for c in todo]
            for future in as_completed(futures):
                row = future.result()
                rows.append(row)
                brief = {k: v for k, v in row.items() if k != "holdout"}
                print(json.dumps(brief), file=sys.stderr, flush=True)
        gear = GEARS[todo[0].gear]
        ratios = {name: cpu_ratio(recipe_spec(name), gear) for name in args.recipes}
    order = {c: i for i, c in enumerate(todo)}
    rows.sort(key=lambda r: order[Cell(**{k: r[k] for k in Cell.__dataclass_fields__})])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    out = [
        f"Parametric accuracy: {args.steps} steps per cell, validated every "
        f"{args.validate_every}; {args.seeds} seed(s); "
        f"{len(holdout_settings(GEARS[todo[0].gear])) if todo else 0} held-out settings; "
        f"{(time.monotonic() - started) / 60:.0f} min wall-clock with {args.jobs} job(s) on "
        f"{args.accelerator}"
    ]
    for name in args.recipes:
        spec = recipe_spec(name, args.ny, args.batch)
        out.append(
            f"Recipe {name}: {spec['architecture']}, batches of {spec['batch']}×{spec['ny']} "
            f"samples{', overrides ' + json.dumps(spec['overrides']) if spec['overrides'] else ''}"
            f"; CPU {ratios[name]}"
        )
    return [*out, "", *table(rows)], rows


def main() -> int:
    """Run the cells and print the Markdown table."""
    args = parser(__doc__.splitlines()[0]).parse_args()
    options = resolve(args, QUICK if args.quick else FULL)
    lines, _ = run(args, options)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
