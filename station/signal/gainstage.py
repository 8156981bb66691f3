"""The player's gain-staging calculator: plugin input trim and output gain (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import StationError
from .levels import player_trim_db

INTERFACE_DBU_RANGE = (-20.0, 40.0)  # max input levels of real interfaces, with margin
LEVEL_DBU_RANGE = (-30.0, 40.0)  # what a model's calibration levels can be (namfile)
GAIN_DB_RANGE = (0.0, 80.0)  # gain added on an interface above its minimum


def check_range(what: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    """`value` if finite and inside `bounds`; else StationError saying the plausible range."""
    lo, hi = bounds
    if not math.isfinite(value):
        raise StationError(f"{what} must be a number, got {value}", f"give {lo:g}…{hi:+g} {unit}")
    if not lo <= value <= hi:
        raise StationError(
            f"{what} = {value:g} {unit} is outside {lo:g}…{hi:+g} {unit}",
            "check the value (interface spec sheets give the max input level in dBu)",
        )
    return value


@dataclass(frozen=True)
class GainStaging:
    """What a player sets: the plugin's input trim, and an output gain when known."""

    trim_db: float
    output_gain_db: float | None
    explanation: str


def gain_stage(
    interface_max_dbu: float,
    input_level_dbu: float,
    *,
    interface_gain_db: float = 0.0,
    output_level_dbu: float | None = None,
    interface_output_dbu: float | None = None,
) -> GainStaging:
    """Trim = interface max input − model input level − added interface gain.

    With the model's `output_level_dbu` and the interface's output level (dBu at
    0 dBFS; the input's max when not given), the output gain makes the model's
    output leave the interface at the gear's analog level.
    """
    check_range("the interface's max input level", interface_max_dbu, INTERFACE_DBU_RANGE, "dBu")
    check_range("the model's input level", input_level_dbu, LEVEL_DBU_RANGE, "dBu")
    check_range("the added interface gain", interface_gain_db, GAIN_DB_RANGE, "dB")
    if output_level_dbu is not None:
        check_range("the model's output level", output_level_dbu, LEVEL_DBU_RANGE, "dBu")
    trim = player_trim_db(interface_max_dbu, input_level_dbu, interface_gain_db)
    words = (
        f"{interface_max_dbu:g} − {input_level_dbu:g}"
        + (f" − {interface_gain_db:g}" if interface_gain_db else "")
        + f" = {trim:+.1f} dB"
    )
    out_gain = None
    if output_level_dbu is not None:
        out_ref = interface_max_dbu if interface_output_dbu is None else interface_output_dbu
        out_gain = output_level_dbu - out_ref
        words += f"; output {output_level_dbu:g} − {out_ref:g} = {out_gain:+.1f} dB"
    return GainStaging(trim, out_gain, words)
