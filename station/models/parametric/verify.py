"""How close a model is to the gear at each setting of a sweep: ESR and level per setting.

A parametric model is run at each setting's own knob values (from the
session); a standard model is run once, as it has no knobs. No setting trains
on the held-out stretch of the signal (NAM's second validation copy, or the
last 20 % of a custom file); its first half chooses the checkpoint (at the
training settings) and its second half is the test, so the test's settings and
audio took no part in training or in that choice. `whole` adds the ESR over the
whole capture. `nearest_captures` is the baseline a user understands: the
capture of the nearest training setting, played as the held-out setting's model.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...reamp import files as reamp
from ...signal.analysis import esr
from ...signal.levels import return_rescale
from ..nam_lib import require_nam
from ..namfile import read_model
from .session import Setting, Sweep


@dataclass(frozen=True)
class SettingScore:
    """Model against gear at one setting."""

    id: str
    role: str
    label: str
    values: dict[str, Any]
    esr: float  # on the held-out stretch of the signal
    esr_whole: float | None
    level_difference_db: float  # model minus gear, RMS over the held-out stretch
    gear_power: float  # mean square of the gear's output over the stretch (full scale 1)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape reports and `station verify --session` print."""
        return {
            "id": self.id,
            "role": self.role,
            "setting": self.label,
            "values": self.values,
            "esr": self.esr,
            "esr_whole": self.esr_whole,
            "level_difference_db": self.level_difference_db,
            "gear_power": self.gear_power,
        }


def stretches(info: reamp.ReampInfo) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start, stop) samples of the selection and the test: the two halves of the stretch no
    setting trains on."""
    from ..train import split_ranges

    held_out = split_ranges(info)[1]
    start = int(held_out["start_samples"])
    stop = int(held_out.get("stop_samples") or info.frames)
    middle = (start + stop) // 2
    return (start, middle), (middle, stop)


def held_out_start(info: reamp.ReampInfo) -> int:
    """First sample of the test stretch: audio neither training nor selection saw."""
    return stretches(info)[1][0]


def is_parametric(model_path: Path) -> bool:
    """True for a model conditioned on knobs (it carries `config.parametric`)."""
    config = read_model(model_path).data.get("config")
    return isinstance(config, dict) and "parametric" in config


def _runner(model_path: Path, sweep: Sweep) -> Callable[[np.ndarray, Setting], np.ndarray]:
    data = read_model(model_path).data
    if isinstance(data.get("config"), dict) and "parametric" in data["config"]:
        require_nam()
        from . import nam_ext

        names = sorted(data["config"]["parametric"])
        known = sorted(p.name for p in sweep.specs)
        if names != known:
            from ...errors import StationError

            raise StationError(
                f"the model's knobs ({', '.join(names)}) are not the session's "
                f"({', '.join(known)})",
                "verify a model against the session it was trained from",
            )
        return lambda x, s: nam_ext.run(data, x, sweep.encoded(s))
    from ..verify import run_model

    cache: dict[int, np.ndarray] = {}

    def standard(x: np.ndarray, _s: Setting) -> np.ndarray:
        if len(x) not in cache:  # no knobs: one run serves every setting
            cache[len(x)] = run_model(model_path, x)
        return cache[len(x)]

    return standard


def _output_level(model_path: Path, sweep: Sweep) -> float:
    """The output level (dBu at 0 dBFS) the model's samples are at: its metadata's (a snapshot
    trained on one capture carries that capture's), else the sweep's common level."""
    level = read_model(model_path).metadata.get("output_level_dbu")
    if isinstance(level, int | float) and not isinstance(level, bool):
        return float(level)
    return sweep.output_level_dbu


def score_settings(
    model_path: Path,
    sweep: Sweep,
    settings: list[Setting],
    *,
    whole: bool = False,
    stretch: str = "test",
) -> list[SettingScore]:
    """ESR and level difference of the model at each of `settings`, on the `stretch`
    ("test" or "selection") of the held-out audio."""
    x, sr, _ = reamp.read_mono(sweep.x_path)
    info = reamp.recognise(sweep.x_path, (x, sr))
    selection, test = stretches(info)
    lo, hi = test if stretch == "test" else selection
    # Without the whole file, give the model a second before the stretch to fill its memory.
    start = 0 if whole else max(0, lo - sr)
    run = _runner(model_path, sweep)
    model_dbu = _output_level(model_path, sweep)
    scores = []
    for s in settings:
        y, _, _ = reamp.read_mono(s.folder / "output.wav")
        # The gear's output at the model's output level (a capture recorded at another return
        # level reads louder or quieter for the same voltage).
        recorded = s.meta.get("output_level_dbu", sweep.output_level_dbu)
        y = y * return_rescale(float(recorded), model_dbu)
        out = run(x[start:] if whole else x[start:hi], s)
        n = min(len(out), len(y) - start)
        end = min(n, hi - start)
        m, g = out[lo - start : end], y[lo : start + end]
        rm, rg = float(np.sqrt(np.mean(m**2))), float(np.sqrt(np.mean(g**2)))
        level = 20 * math.log10(rm / rg) if rm > 0 and rg > 0 else math.nan
        scores.append(
            SettingScore(
                s.id,
                s.role,
                s.label(),
                s.values(),
                esr(m, g),
                esr(out[:n], y[start : start + n]) if whole else None,
                level,
                rg**2,
            )
        )
    return scores


def summary(scores: list[SettingScore]) -> dict[str, float | None]:
    """Worst and median ESR over the scored settings, and the pooled ESR.

    Pooled: all settings' squared error over all their signal power, so a quiet
    setting counts by its loudness, as a listener hears it.
    """
    values = [s.esr for s in scores]
    power = sum(s.gear_power for s in scores)
    return {
        "esr_worst": max(values) if values else None,
        "esr_median": statistics.median(values) if values else None,
        "esr_pooled": sum(s.esr * s.gear_power for s in scores) / power if power > 0 else None,
    }


def nearest_setting(sweep: Sweep, target: Setting, candidates: list[Setting]) -> Setting | None:
    """The candidate with `target`'s switch positions nearest to it in knob space, each knob
    scaled to 0…1 by its range; None when no candidate shares its switch positions."""
    knobs = [p for p in sweep.specs if p.kind == "knob"]
    same = [c for c in candidates if c.switches == target.switches]
    if not same:
        return None
    goal = np.array([p.encode(target.knobs[p.name]) for p in knobs])

    def distance(c: Setting) -> float:
        return float(np.linalg.norm(np.array([p.encode(c.knobs[p.name]) for p in knobs]) - goal))

    return min(same, key=lambda c: (distance(c), c.id))


def nearest_captures(
    sweep: Sweep, holdout: list[Setting], train: list[Setting]
) -> list[dict[str, Any]]:
    """Per held-out setting, the baseline a user understands: the ESR, on the test stretch,
    of the nearest training setting's capture (nearest_setting) against the held-out
    setting's own capture — what loading the closest snapshot would give at best."""
    info = reamp.recognise(sweep.x_path)
    lo, hi = stretches(info)[1]
    rows: list[dict[str, Any]] = []
    for h in holdout:
        near = nearest_setting(sweep, h, train)
        if near is None:
            rows.append({"id": h.id, "nearest": None, "setting": None, "esr": None})
            continue
        truth, _, _ = reamp.read_mono(h.folder / "output.wav")
        other, _, _ = reamp.read_mono(near.folder / "output.wav")
        end = min(hi, len(truth), len(other))
        rows.append(
            {
                "id": h.id,
                "nearest": near.id,
                "setting": near.label(),
                "esr": esr(other[lo:end], truth[lo:end]),
            }
        )
    return rows


def nearest_summary(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Worst and median ESR of the nearest captures (settings without one left out)."""
    values = [r["esr"] for r in rows if r["esr"] is not None]
    return {
        "nearest_esr_worst": max(values) if values else None,
        "nearest_esr_median": statistics.median(values) if values else None,
    }
