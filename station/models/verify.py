"""How close a model is to the gear: ESR and level difference at the calibrated level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StationError
from ..reamp import files as reamp
from ..signal.analysis import esr
from .nam_lib import require_nam, run_standard
from .namfile import read_model


@dataclass(frozen=True)
class Verification:
    """Model vs gear on the same input."""

    esr: float
    esr_validation: float | None
    level_difference_db: float  # model minus gear, RMS
    frames: int


def run_model(model_path: Path, x: np.ndarray) -> np.ndarray:
    """The model's output for input `x` (needs neural-amp-modeler)."""
    require_nam()
    return run_standard(read_model(model_path).data, x)


def compare(
    model_out: np.ndarray, gear_out: np.ndarray, layout: reamp.Layout | None
) -> Verification:
    """ESR overall and on the last validation copy, and the RMS level difference."""
    n = min(len(model_out), len(gear_out))
    m, g = model_out[:n], gear_out[:n]
    val = None
    if layout is not None and n >= layout.frames:
        lo, hi = layout.validation_2
        val = esr(m[lo:hi], g[lo:hi])
    rm, rg = float(np.sqrt(np.mean(m**2))), float(np.sqrt(np.mean(g**2)))
    diff = 20 * math.log10(rm / rg) if rm > 0 and rg > 0 else math.nan
    return Verification(esr(m, g), val, diff, n)


def verify_capture(model_path: Path, folder: Path) -> Verification:
    """Run the model on a capture's input and compare with the recorded gear."""
    folder = Path(folder)
    for name in ("input.wav", "output.wav"):
        if not (folder / name).is_file():
            raise StationError(f"{folder} has no {name}", "give a capture folder")
    x, _sr, _ = reamp.read_mono(folder / "input.wav")
    y, _sr, _ = reamp.read_mono(folder / "output.wav")
    info = reamp.recognise(folder / "input.wav", (x, _sr))
    return compare(run_model(model_path, x), y, info.layout)


def validation_esr(model_path: Path, folder: Path) -> float:
    """The model's ESR on the capture's validation copy (or its last 20 % for custom signals)."""
    x, sr, _ = reamp.read_mono(Path(folder) / "input.wav")
    y, _, _ = reamp.read_mono(Path(folder) / "output.wav")
    info = reamp.recognise(Path(folder) / "input.wav", (x, sr))
    lo, hi = info.layout.validation_2 if info.layout else (int(len(x) * 0.8), len(x))
    # Give the model the second of input before the copy so its receptive field is filled.
    start = max(0, lo - sr)
    out = run_model(model_path, x[start:hi])
    return esr(out[lo - start :], y[lo:hi])
