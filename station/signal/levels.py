"""dB, dBu and volts math, the formulas of docs/design.md §2, and levels in words (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable

DBU_REF_VRMS = math.sqrt(0.6)  # 0.774597 V: 1 mW into 600 ohm
SQRT2 = math.sqrt(2.0)


def dbu_from_vrms(vrms: float) -> float:
    """Level in dBu of an RMS voltage; raises ValueError for non-positive volts."""
    if not vrms > 0.0:
        raise ValueError(f"an RMS voltage must be positive, got {vrms!r}")
    return 20.0 * math.log10(vrms / DBU_REF_VRMS)


def vrms_from_dbu(level_dbu: float) -> float:
    """RMS voltage of a level in dBu."""
    return DBU_REF_VRMS * 10.0 ** (level_dbu / 20.0)


def db_from_ratio(ratio: float) -> float:
    """20·log10 of an amplitude ratio."""
    if not ratio > 0.0:
        raise ValueError(f"an amplitude ratio must be positive, got {ratio!r}")
    return 20.0 * math.log10(ratio)


def ratio_from_db(gain_db: float) -> float:
    """Amplitude ratio of a gain in dB."""
    return 10.0 ** (gain_db / 20.0)


def dbfs_from_peak(peak: float) -> float:
    """dBFS peak of a sine of peak amplitude `peak` (full scale 1.0)."""
    return db_from_ratio(peak)


def peak_from_dbfs(level_dbfs: float) -> float:
    """Peak amplitude (full scale 1.0) of a sine at `level_dbfs` dBFS peak."""
    return ratio_from_db(level_dbfs)


def send_dbu_at_0dbfs(vrms: float, tone_dbfs: float) -> float:
    """Send calibration S: dBu at the gear input for a 0 dBFS-peak sine.

    `vrms` is the meter reading while a sine at `tone_dbfs` dBFS peak plays.
    """
    return dbu_from_vrms(vrms) - tone_dbfs


def return_dbu_at_0dbfs(send_dbu: float, tone_dbfs: float, measured_dbfs: float) -> float:
    """Return calibration R = S + Δ − L for a loopback of the send into the return.

    `tone_dbfs` (Δ) is the played sine's level and `measured_dbfs` (L) what the
    return read, both dBFS peak.
    """
    return send_dbu + tone_dbfs - measured_dbfs


def reamp_gain_db(target_dbu: float, send_dbu: float) -> float:
    """Digital playback gain g = P − S that puts a 0 dBFS sine at `target_dbu` at the gear."""
    return target_dbu - send_dbu


def max_reamp_dbu(send_dbu: float, file_peak_dbfs: float, ceiling_dbfs: float = -0.1) -> float:
    """Highest reamp level P (dBu) this send can deliver without the file passing the ceiling."""
    return send_dbu + ceiling_dbfs - file_peak_dbfs


def return_rescale(recorded_dbu: float, common_dbu: float) -> float:
    """Factor that makes samples recorded at return level `recorded_dbu` (dBu at 0 dBFS) read
    as if recorded at `common_dbu`: the same voltage, another return calibration."""
    return ratio_from_db(recorded_dbu - common_dbu)


def player_trim_db(
    interface_max_dbu: float, input_level_dbu: float, interface_gain_db: float = 0.0
) -> float:
    """Plugin input trim for a player: interface max input − model input level − added gain."""
    return interface_max_dbu - input_level_dbu - interface_gain_db


def dbu_list(levels: Iterable[float]) -> str:
    """`6, 12 dBu`: reamp levels as the station names them in messages."""
    return ", ".join(f"{v:g}" for v in levels) + " dBu"
