"""A tiny sweep session on disk, made by a simple knob gear whose sound is known exactly.

Stands in for `station sweep run` + `station sweep export` (docs/files.md) in the
training tests: one capture folder per setting with capture.json ("knobs",
"switches", levels, checks), session.json with the plan and the status per
setting, and optionally dataset.json in NAM's old parametric layout.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal

from station.capture.folder import write_pcm24
from station.reamp.files import RATE, md5_of_file
from station.signal.synth import guitar_material

KNOBS = [{"name": "drive", "min": 0.0, "max": 10.0}, {"name": "tone", "min": 0.0, "max": 10.0}]
SWITCHES = [{"name": "boost", "positions": ["off", "on"]}]
INPUT_DBU, OUTPUT_DBU = 8.0, 11.5


def knob_gear(x: np.ndarray, drive: float, tone: float, boost: str) -> np.ndarray:
    """The gear: a boost (×2), a tanh whose gain drive sets (0.5…8), tone a one-pole low-pass."""
    gain = 0.5 * 2 ** (drive / 2.5) * (2.0 if boost == "on" else 1.0)
    y = np.tanh(gain * x)
    cutoff_hz = 300.0 * 2 ** (0.45 * tone)  # 300 Hz … 6.8 kHz
    a = np.exp(-2 * np.pi * cutoff_hz / RATE)
    return 0.5 * scipy.signal.lfilter([1 - a], [1, -a], y)


def short_input(path: Path, duration_s: float = 3.0, seed: int = 5) -> Path:
    """A short custom input: guitar-like phrases and noise bursts at three levels."""
    rng = np.random.default_rng(seed)
    g = guitar_material(duration_s * 0.7, RATE, rng)
    g = 0.6 * g / np.max(np.abs(g))
    burst = int(duration_s * 0.1 * RATE)
    noise = np.concatenate([lvl * rng.standard_normal(burst) for lvl in (0.02, 0.1, 0.3)])
    x = np.clip(np.concatenate([g[: len(g) // 2], noise, g[len(g) // 2 :]]), -0.95, 0.95)
    write_pcm24(path, x, RATE)
    return path


@dataclass
class PlannedSetting:
    """One setting of the fixture's plan."""

    id: str
    role: str
    knobs: dict[str, float]
    switches: dict[str, str]
    fail: bool = False  # its capture failed a check
    status: str = "captured"
    extra: dict[str, Any] = field(default_factory=dict)
    # The return level it was recorded at: the gear's voltage is the same, its samples read
    # 20·log10 lower for a higher level (the return measured again mid-sweep).
    return_dbu: float = OUTPUT_DBU


def default_plan() -> list[PlannedSetting]:
    """Eight training settings spread over the space and three holdouts between them."""
    train = [(0, 0, "off"), (10, 10, "off"), (0, 10, "off"), (10, 0, "off")]
    train += [(5, 5, "on"), (0, 5, "on"), (10, 5, "on"), (5, 0, "on")]
    hold = [(2, 8, "off"), (7, 3, "on"), (4, 5, "off")]
    out = [
        PlannedSetting(f"s{i + 1:03d}", "train", {"drive": d, "tone": t}, {"boost": b})
        for i, (d, t, b) in enumerate(train)
    ]
    out += [
        PlannedSetting(f"h{i + 1:03d}", "holdout", {"drive": d, "tone": t}, {"boost": b})
        for i, (d, t, b) in enumerate(hold)
    ]
    return out


def write_session(
    folder: Path,
    x_path: Path,
    plan: list[PlannedSetting] | None = None,
    *,
    knobs: list[dict[str, Any]] | None = None,
    switches: list[dict[str, Any]] | None = None,
    dataset: bool = True,
) -> Path:
    """Capture every planned setting through `knob_gear` and write the session folder."""
    import soundfile as sf

    plan = default_plan() if plan is None else plan
    knobs = KNOBS if knobs is None else knobs
    switches = SWITCHES if switches is None else switches
    folder.mkdir(parents=True)
    x, sr = sf.read(str(x_path), always_2d=False)
    md5 = md5_of_file(x_path)
    status: dict[str, str] = {}
    for s in plan:
        d = folder / s.id
        d.mkdir()
        shutil.copyfile(x_path, d / "input.wav")
        values = {**s.knobs, **s.switches}
        y = knob_gear(
            x, values.get("drive", 5.0), values.get("tone", 5.0), values.get("boost", "off")
        )
        write_pcm24(d / "output.wav", y * 10 ** ((OUTPUT_DBU - s.return_dbu) / 20), sr)
        checks = [
            {
                "name": "replicate_esr",
                "passed": not s.fail,
                "status": "fail" if s.fail else "pass",
                "value": 0.2 if s.fail else 0.0001,
                "threshold": 0.01,
                "message": "",
            }
        ]
        meta = {
            "schema_version": 1,
            "input_level_dbu": INPUT_DBU,
            "output_level_dbu": s.return_dbu,
            "latency_samples": 0.0,
            "reamp_file": {"name": x_path.name, "md5": md5, "kind": "custom"},
            "passed": not s.fail,
            "checks": checks,
            "knobs": s.knobs,
            "switches": s.switches,
            "gear": {"gear_make": "Virtual", "gear_model": "Knob box", "gear_type": "pedal"},
            **s.extra,
        }
        (d / "capture.json").write_text(json.dumps(meta, indent=2))
        status[s.id] = s.status
    session = {
        "schema_version": 1,
        "plan": {
            "schema_version": 1,
            "method": "fixture",
            "knobs": knobs,
            "switches": switches,
            "settings": [
                {
                    "id": s.id,
                    "knobs": s.knobs,
                    "switches": s.switches,
                    "reamp_dbu": INPUT_DBU,
                    "role": s.role,
                }
                for s in plan
            ],
        },
        "status": status,
    }
    (folder / "session.json").write_text(json.dumps(session, indent=2))
    if dataset:

        def entry(s: PlannedSetting) -> dict[str, Any]:
            return {
                "y_path": str(folder / s.id / "output.wav"),
                "params": {**s.knobs, **s.switches},
            }

        ds = {
            "type": "parametric",
            "common": {"x_path": str(folder / plan[0].id / "input.wav"), "delay": 0},
            "train": [entry(s) for s in plan if s.role == "train"],
            "validation": [entry(s) for s in plan if s.role == "holdout"],
            "calibration": {"input_level_dbu": INPUT_DBU, "output_level_dbu": OUTPUT_DBU},
            "knobs": knobs,
            "switches": switches,
        }
        (folder / "dataset.json").write_text(json.dumps(ds, indent=2))
    return folder
