"""A model file's metadata as labelled lines a person reads ("Date: 2026-12-04 17:41").

NAM's metadata holds nested objects (`date`, `training`, a snapshot's `setting`);
shown raw they are JSON. Here each known field gets its label and its value in
words; an unknown one its key as a label, a nested object as name=value pairs.
The calibration levels are left out: the faces show them on their own line.
"""

from __future__ import annotations

import math
from typing import Any

LABELS = {
    "name": "Name",
    "modeled_by": "Modelled by",
    "gear_make": "Gear make",
    "gear_model": "Gear model",
    "gear_type": "Gear type",
    "tone_type": "Tone type",
    "loudness": "Loudness",
    "gain": "Gain",
    "date": "Date",
    "setting": "Setting",
    "training": "Training",
}
SHOWN_ELSEWHERE = ("input_level_dbu", "output_level_dbu")
MAX_CHARS = 72  # a value longer than this is cut (with …): a line fits 80 columns


def metadata_lines(metadata: dict[str, Any]) -> list[str]:
    """'Label: value' for each metadata field, known fields first in NAM's order."""
    known = [k for k in LABELS if k in metadata]
    rest = [k for k in metadata if k not in LABELS and k not in SHOWN_ELSEWHERE]
    lines = []
    for key in known + rest:
        value = _value(key, metadata[key])
        if value:
            label = LABELS.get(key) or key.replace("_", " ").capitalize()
            lines.append(_cut(f"{label}: {value}"))
    return lines


def _value(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "loudness" and _number(value):
        return f"{value:.1f} dB"
    if key == "date" and isinstance(value, dict):
        try:
            return "{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}".format(**value)
        except (KeyError, ValueError, TypeError):
            pass
    if key == "training" and isinstance(value, dict):
        return _training(value)
    return _plain(value)


def _training(training: dict[str, Any]) -> str:
    """NAM's training record: its validation ESR, else how much it records."""
    esr = training.get("validation_esr")
    if _number(esr):
        return f"validation ESR {esr:.4g}"
    return f"recorded ({len(training)} fields)"


def _plain(value: Any) -> str:
    """A value in words: numbers to 4 figures, objects as name=value, long lists counted."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _number(value):
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={_plain(v)}" if not isinstance(v, dict | list) else f"{k}=…"
            for k, v in value.items()
        )
    if isinstance(value, list):
        if len(value) > 6 or any(isinstance(v, dict | list) for v in value):
            return f"{len(value)} values"
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _cut(line: str) -> str:
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 1] + "…"
