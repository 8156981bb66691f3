"""What a plan buys: held-out ESR of a knob-conditioned model per method and reamp budget.

On the virtual knobbed overdrive (knobs drive and tone, switches boost and clip),
plans of 8, 16 and 32 settings by `grid`, `random` and `maximin-lhs` (station.plan.design)
are "captured" straight through the pedal's model, and the same small conditioned
WaveNet is trained on each for the same number of optimiser steps. Every plan is
judged on one fixed set of 8 held-out settings, on the signal's second validation
copy (no setting trained on it): worst and median ESR. The capture time each plan
would cost on a real rig (the full v3 file, servo motion, station overhead) is
station.plan.design's own estimate.

    python benchmarks/plan_budget.py --quick   # shortened v3-layout signal; < 40 min, 2 cores
    python benchmarks/plan_budget.py           # the 190 s signal, 8000 steps: hours on a CPU

The goal it measures: maximin-lhs with 16 settings at least as good as grid with 32.
Grids need k² settings per switch combination: the planner refuses budgets below one
grid (n/a, with its reason) and rounds others down, so "trained" shows how many
settings each plan really captured.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from station.capture.folder import write_pcm24
from station.errors import StationError
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import RATE, md5_of_file
from station.reamp.generate import write_station_signal
from station.rig.motion import nominal_model
from station.signal.levels import vrms_from_dbu
from station.virtual.pedal import KnobbedOverdrive

KNOBS = (KnobRange("drive", 0.0, 10.0), KnobRange("tone", 0.0, 10.0))
# Clip's third position ("off") is left out so grids of 16 can exist (2² × 4 combinations).
SWITCHES = (SwitchChoice("boost", ("off", "on")), SwitchChoice("clip", ("si", "led")))
INPUT_DBU, RETURN_DBU = 6.0, 18.0
METHODS = ("grid", "random", "maximin-lhs")


class SetPedal(KnobbedOverdrive):
    """The virtual overdrive with its knobs set by hand instead of by servos."""

    def __init__(self, knobs: dict[str, float], switches: dict[str, str]) -> None:
        super().__init__()
        self._set = ({**knobs, "level": 5.0}, dict(switches))

    def settings(self) -> tuple[dict[str, float], dict[str, str]]:
        """The knob values and switch positions given."""
        return self._set


def gear_output(x: np.ndarray, knobs: dict[str, float], switches: dict[str, str]) -> np.ndarray:
    """The pedal's return, in dBFS-scaled samples, for input `x` played at INPUT_DBU."""
    pedal = SetPedal(knobs, switches)
    pedal.reset(RATE)
    # 0 dBFS peak is a sine of peak √2·Vrms at the calibrated level, both ways.
    volts = x * np.sqrt(2) * vrms_from_dbu(INPUT_DBU)
    return pedal.process(volts) / (np.sqrt(2) * vrms_from_dbu(RETURN_DBU))


def holdout_settings(n: int = 8, seed: int = 99) -> list[dict]:
    """A fixed set of held-out settings, inside the knob ranges, every switch combination."""
    rng = np.random.default_rng(seed)
    combos = [(b, c) for b in SWITCHES[0].positions for c in SWITCHES[1].positions]
    out = []
    for i in range(n):
        b, c = combos[i % len(combos)]
        knobs = {k.name: round(float(rng.uniform(1.0, 9.0)), 3) for k in KNOBS}
        out.append({"id": f"h{i + 1:03d}", "knobs": knobs, "switches": {"boost": b, "clip": c}})
    return out


def write_session(folder: Path, x_path: Path, train: list[dict], holdout: list[dict]) -> None:
    """A sweep session (docs/files.md) whose captures are the pedal's exact output."""
    import soundfile as sf

    x, _ = sf.read(str(x_path), always_2d=False)
    md5 = md5_of_file(x_path)
    settings = [{**s, "role": "train"} for s in train] + [{**s, "role": "holdout"} for s in holdout]
    for s in settings:
        d = folder / s["id"]
        d.mkdir(parents=True)
        shutil.copyfile(x_path, d / "input.wav")
        y = gear_output(x, s["knobs"], s["switches"])
        if np.max(np.abs(y)) >= 1.0:
            raise SystemExit(f"the return clips at {s}: raise RETURN_DBU")
        write_pcm24(d / "output.wav", y, RATE)
        meta = {
            "input_level_dbu": INPUT_DBU,
            "output_level_dbu": RETURN_DBU,
            "reamp_file": {"name": x_path.name, "md5": md5},
            "passed": True,
            "checks": [],
            "knobs": s["knobs"],
            "switches": s["switches"],
        }
        (d / "capture.json").write_text(json.dumps(meta))
    plan = {
        "knobs": [{"name": k.name, "min": k.min, "max": k.max} for k in KNOBS],
        "switches": [{"name": s.name, "positions": list(s.positions)} for s in SWITCHES],
        "settings": settings,
    }
    (folder / "session.json").write_text(json.dumps({"schema_version": 1, "plan": plan}))


def run_one(
    work: Path,
    x_path: Path,
    method: str,
    budget: int,
    holdout: list[dict],
    args: argparse.Namespace,
) -> dict:
    """Plan, capture, train and judge one (method, budget) cell."""
    req = PlanRequest(KNOBS, SWITCHES, settings=budget, method=method, holdout=0, seed=args.seed)
    model = nominal_model(
        [(k.name, k.min, k.max) for k in KNOBS], [(s.name, s.positions) for s in SWITCHES]
    )
    try:
        plan = make_plan(req, model)
    except StationError as exc:
        return {"method": method, "budget": budget, "error": exc.message}
    train = [
        {"id": s.id, "knobs": s.knobs, "switches": s.switches}
        for s in plan.settings
        if s.role == "train"
    ]
    folder = work / f"{method}-{budget}"
    write_session(folder, x_path, train, holdout)
    from station.models.parametric.training import Recipe, train_parametric

    started = time.monotonic()
    recipe = Recipe(
        "tiny",
        epochs=10_000,  # the step budget ends training, the same for every plan
        ny=args.ny,
        batch_size=args.batch,
        trainer_options={"accelerator": "cpu", "max_steps": args.steps},
    )
    result = train_parametric(folder, recipe)
    esrs = [h["esr"] for h in result.report["holdout"]]
    out = {
        "method": method,
        "budget": budget,
        "trained_settings": len(train),
        "esr_worst": max(esrs),
        "esr_median": statistics.median(esrs),
        "esr_pooled": result.report["esr_pooled"],
        "capture_h": plan.total_s / 3600,
        "train_s": time.monotonic() - started,
    }
    shutil.rmtree(folder, ignore_errors=True)  # the audio of 32 settings is large
    return out


def main() -> int:
    """Print the table of held-out ESR per method and budget."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 s of training material, 2000 steps")
    p.add_argument("--budgets", default="8,16,32")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per plan")
    p.add_argument("--ny", type=int, default=2048)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    args.steps = args.steps or (2000 if args.quick else 8000)
    training_s = 4.0 if args.quick else 163.5
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="plan-budget-") as tmp:
        work = Path(tmp)
        x_path = write_station_signal(work / "signal.wav", seed=2, training_s=training_s)
        signal_s = sf.info(str(x_path)).duration
        holdout = holdout_settings()
        for budget in (int(b) for b in args.budgets.split(",")):
            for method in args.methods.split(","):
                row = run_one(work, x_path, method, budget, holdout, args)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"held-out ESR over 8 fixed settings; tiny conditioned WaveNet, {args.steps} steps of "
        f"{args.batch}×{args.ny} samples each; signal {signal_s:.1f} s"
    )
    print(
        f"{'method':<12} {'budget':>6} {'trained':>7} {'worst':>8} {'median':>8} {'pooled':>8} "
        f"{'capture':>8}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['method']:<12} {r['budget']:>6}      n/a  ({r['error']})")
            continue
        print(
            f"{r['method']:<12} {r['budget']:>6} {r['trained_settings']:>7} {r['esr_worst']:>8.4f} "
            f"{r['esr_median']:>8.4f} {r['esr_pooled']:>8.4f} {r['capture_h']:>7.2f}h"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
