"""The gear benchmarks/parametric_accuracy.py judges, its held-out settings, and sessions of it.

`GEARS` is the table: a key, the knobs and switches a plan spreads settings over, and a
function that renders the gear's return (dBFS-scaled samples) for an input at given knob
values and switch positions, exactly, as a perfect capture would. Adding a gear is one
entry. Numpy only: torch is needed only to train.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from station.capture.folder import write_pcm24
from station.plan.design import KnobRange, SwitchChoice
from station.reamp.files import RATE, md5_of_file
from station.signal.levels import vrms_from_dbu
from station.virtual.catalogue import KNOBBED, gear_set_to
from station.virtual.pedal import KnobbedOverdrive

Render = Callable[[np.ndarray, dict[str, float], dict[str, str]], np.ndarray]


@dataclass(frozen=True)
class Gear:
    """One gear the benchmark captures: its controls, levels and exact sound."""

    knobs: tuple[KnobRange, ...]
    switches: tuple[SwitchChoice, ...]
    render: Render  # input samples (0 dBFS = INPUT dBu peak sine) → return samples
    input_dbu: float
    return_dbu: float
    about: str


class SetPedal(KnobbedOverdrive):
    """The virtual overdrive with its knobs set by hand instead of by servos."""

    def __init__(self, knobs: dict[str, float], switches: dict[str, str]) -> None:
        super().__init__()
        self._set = ({"level": 5.0, **knobs}, dict(switches))

    def settings(self) -> tuple[dict[str, float], dict[str, str]]:
        """The knob values and switch positions given."""
        return self._set


def volts_render(
    make: Callable[[dict[str, float], dict[str, str]], Any], in_dbu: float, out_dbu: float
) -> Render:
    """A Render for virtual gear that works in volts (station.virtual.gear.Amp's interface):
    `make(knobs, switches)` builds it set to a setting."""
    in_peak, out_peak = (np.sqrt(2) * vrms_from_dbu(v) for v in (in_dbu, out_dbu))

    def render(x: np.ndarray, knobs: dict[str, float], switches: dict[str, str]) -> np.ndarray:
        gear = make(knobs, switches)
        gear.reset(RATE)
        return np.asarray(gear.process(x * in_peak), dtype=np.float64) / out_peak

    return render


OD_IN_DBU, OD_RETURN_DBU = 6.0, 18.0
# The preamp peaks at about 0.34 of full scale over its corners at 6 dBu in and an 18 dBu
# return: a 12 dBu return puts its loudest corner near 0.7.
PREAMP_IN_DBU, PREAMP_RETURN_DBU = 6.0, 12.0
GEARS: dict[str, Gear] = {
    "od": Gear(
        (KnobRange("drive", 0.0, 10.0), KnobRange("tone", 0.0, 10.0)),
        # Clip's third position ("off") is left out so small grids exist (k² × 4 combinations).
        (SwitchChoice("boost", ("off", "on")), SwitchChoice("clip", ("si", "led"))),
        volts_render(SetPedal, OD_IN_DBU, OD_RETURN_DBU),
        OD_IN_DBU,
        OD_RETURN_DBU,
        "the virtual knobbed overdrive (station.virtual.pedal): drive, tone; boost, clip "
        "si/led; level at 5",
    ),
    "preamp": Gear(
        tuple(KnobRange(k.name, k.min, k.max) for k in KNOBBED["preamp"][0]),
        (SwitchChoice("bright", ("off", "on")),),
        volts_render(functools.partial(gear_set_to, "preamp"), PREAMP_IN_DBU, PREAMP_RETURN_DBU),
        PREAMP_IN_DBU,
        PREAMP_RETURN_DBU,
        "the virtual amp preamp (station.virtual.preamp): gain into an asymmetric triode-like "
        "stage, an interacting bass/middle/treble tone stack; bright switch",
    ),
}


def switch_combinations(gear: Gear) -> list[dict[str, str]]:
    """Every combination of the gear's switch positions."""
    names = [s.name for s in gear.switches]
    combos = product(*(s.positions for s in gear.switches))
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def holdout_settings(gear: Gear, per_combination: int = 3, seed: int = 99) -> list[dict]:
    """The fixed test settings every plan is judged on: `per_combination` for each switch
    combination, knobs drawn inside the middle 80 % of their ranges (never a grid's edge)."""
    rng = np.random.default_rng(seed)
    out = []
    for combo in switch_combinations(gear):
        for _ in range(per_combination):
            knobs = {
                k.name: round(k.min + (k.max - k.min) * float(rng.uniform(0.1, 0.9)), 3)
                for k in gear.knobs
            }
            out.append({"id": f"h{len(out) + 1:03d}", "knobs": knobs, "switches": dict(combo)})
    return out


def write_session(
    folder: Path, gear: Gear, x_path: Path, train: list[dict], holdout: list[dict]
) -> None:
    """A sweep session (docs/files.md) whose captures are the gear's exact return. A setting
    already written there (its capture.json) is kept, so a session can grow call by call.

    SystemExit when a return would clip (the gear's return level is set too low).
    """
    import soundfile as sf

    x, _ = sf.read(str(x_path), always_2d=False)
    md5 = md5_of_file(x_path)
    settings = [{**s, "role": "train"} for s in train] + [{**s, "role": "holdout"} for s in holdout]
    for s in settings:
        d = folder / s["id"]
        if (d / "capture.json").is_file():
            continue  # captured by an earlier call (an adaptive cell's rounds)
        d.mkdir(parents=True, exist_ok=True)
        _link(x_path, d / "input.wav")
        y = gear.render(x, s["knobs"], s["switches"])
        if np.max(np.abs(y)) >= 1.0:
            raise SystemExit(f"the return clips at {s}: raise the gear's return_dbu")
        write_pcm24(d / "output.wav", y, RATE)
        meta = {
            "input_level_dbu": gear.input_dbu,
            "output_level_dbu": gear.return_dbu,
            "reamp_file": {"name": x_path.name, "md5": md5},
            "passed": True,
            "checks": [],
            "knobs": s["knobs"],
            "switches": s["switches"],
        }
        (d / "capture.json").write_text(json.dumps(meta))
    plan = {
        "knobs": [{"name": k.name, "min": k.min, "max": k.max} for k in gear.knobs],
        "switches": [{"name": s.name, "positions": list(s.positions)} for s in gear.switches],
        "settings": settings,
    }
    (folder / "session.json").write_text(json.dumps({"schema_version": 1, "plan": plan}))


def _link(source: Path, target: Path) -> None:
    """The same reamp file in every capture folder, without a copy where the disk allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
