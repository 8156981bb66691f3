"""Hear a model: a DI recording through any .nam, at a parametric model's chosen setting.

Standard models run in NAM's own Python loader, parametric ones at the given
setting (`station.models.parametric.nam_ext`): both need the `train` extra. A DI
recorded at X dBu (0 dBFS = X dBu) played into a model calibrated at its own
`input_level_dbu` Y is scaled by X − Y dB, as the real gear would have seen it.
The output is 24-bit; a render whose peak would pass full scale is refused with
the gain that fits, never clipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..capture.folder import write_pcm24
from ..errors import StationError
from ..events import Event, Step
from ..phrases import Phrase
from ..signal.levels import dbfs_from_peak, ratio_from_db
from . import wavenet
from .nam_lib import require_nam, run_standard
from .namfile import LEVEL_RANGE_DBU, read_model
from .parametric import fold

Emit = Callable[[Event], None]
RATE = 48000
# 24-bit PCM's largest sample: a peak above it would clip.
FULL_SCALE = 1.0 - 2.0**-23


@dataclass(frozen=True)
class Rendered:
    """What `render` wrote: the file, the gain applied, the peak and the setting."""

    path: Path
    seconds: float
    input_gain_db: float
    output_gain_db: float
    peak_dbfs: float
    setting: dict[str, Any] = field(default_factory=dict)
    defaulted: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """What `station render --json` prints (docs/design.md §7): `gain_db` is the DI-level
        difference applied to the input, `output_gain_db` the gain asked for on the output."""
        return {
            "path": str(self.path),
            "peak_dbfs": self.peak_dbfs,
            "gain_db": self.input_gain_db,
            "seconds": self.seconds,
            "output_gain_db": self.output_gain_db,
            "setting": self.setting,
            "defaulted": list(self.defaulted),
        }


def read_di(path: Path) -> np.ndarray:
    """A mono 48 kHz DI recording as float64; StationError for anything else."""
    import soundfile as sf

    if not path.is_file():
        raise StationError(f"there is no file {path}", "check the path")
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as exc:
        raise StationError(f"cannot read {path} as audio: {exc}", "give a WAV file") from None
    if info.channels != 1:
        raise StationError(
            f"{path.name} has {info.channels} channels; a DI recording is mono",
            "export the guitar's channel as a mono WAV",
        )
    if info.samplerate != RATE:
        raise StationError(
            f"{path.name} is at {info.samplerate} Hz; NAM models run at {RATE} Hz",
            f"resample it to {RATE} Hz first",
        )
    x, _ = sf.read(str(path), dtype="float64", always_2d=False)
    if len(x) == 0:
        raise StationError(f"{path.name} holds no audio")
    return np.asarray(x)


def input_gain_db(model_meta: dict[str, Any], input_dbu: float | None) -> float:
    """dB to apply to a DI recorded at `input_dbu` for a model calibrated at its own level."""
    if input_dbu is None:
        return 0.0
    level = model_meta.get("input_level_dbu")
    if not isinstance(level, int | float) or isinstance(level, bool) or not math.isfinite(level):
        raise StationError(
            "the model carries no input_level_dbu, so a DI level means nothing to it",
            Phrase("leave out {render_input_dbu}, or tag the model with its capture's levels"),
        )
    lo, hi = LEVEL_RANGE_DBU
    if not math.isfinite(input_dbu) or not lo <= input_dbu <= hi:
        raise StationError(f"a DI level of {input_dbu:g} dBu is outside {lo:g}…{hi:+g} dBu")
    return float(input_dbu - level)


def render(
    model: Path,
    di: Path,
    out: Path,
    items: Sequence[str] = (),
    *,
    input_dbu: float | None = None,
    output_gain_db: float = 0.0,
    emit: Emit = lambda e: None,
) -> Rendered:
    """Render `di` through `model` (at the setting `items` for a parametric one) into `out`."""
    data = read_model(model).data
    wavenet.check_weights(data)
    if data.get("sample_rate") not in (None, RATE):
        raise StationError(
            f"{model.name} is a {data['sample_rate']} Hz model; the station renders at {RATE} Hz"
        )
    parametric = fold.parametric(data)
    if items and not parametric:
        raise StationError(f"{model.name} is a standard model: it has no knobs to set")
    if out.is_dir() or not out.parent.is_dir():
        raise StationError(f"cannot write {out}", "give a .wav file in an existing folder")
    if not math.isfinite(output_gain_db):
        raise StationError("the output gain must be a number of dB")
    x = read_di(di)
    gain_db = input_gain_db(data.get("metadata") or {}, input_dbu)
    setting: dict[str, Any] = {}
    defaulted: list[str] = []
    require_nam("rendering needs neural-amp-modeler, which is not installed")
    emit(Step("render", f"Rendering {len(x) / RATE:.1f} s of {di.name} through {model.name}"))
    if parametric:
        from .parametric import nam_ext

        known = fold.controls(data)
        values, defaulted = fold.parse_values(list(items), known)
        setting = {c.name: c.shown(values[c.name]) for c in known}
        enc = dict(zip([c.name for c in known], fold.encoded(known, values), strict=True))
        y = nam_ext.run(data, x * ratio_from_db(gain_db), enc)
    else:
        y = run_standard(data, x * ratio_from_db(gain_db))
    y = y * ratio_from_db(output_gain_db)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if not math.isfinite(peak):
        raise StationError("the model's output is not finite: it is damaged")
    peak_dbfs = dbfs_from_peak(peak) if peak > 0 else -math.inf
    if peak > FULL_SCALE:
        fit = -math.ceil(peak_dbfs * 10) / 10 + output_gain_db
        raise StationError(
            f"the render peaks at {peak_dbfs:+.1f} dBFS and would clip; nothing was written",
            Phrase("lower the output with {render_output_gain}", gain=f"{fit:.1f}"),
        )
    write_pcm24(out, y, RATE)
    return Rendered(
        out, len(x) / RATE, gain_db, output_gain_db, peak_dbfs, setting, tuple(defaulted)
    )
