"""One source for the rig's constants: the station's agree with the firmware's config.h."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from station.drivers import rig_constants as rc

CONFIG_H = Path(__file__).resolve().parents[2] / "firmware" / "servo_rig" / "config.h"


def defines() -> dict[str, str]:
    """Every unconditional `#define NAME VALUE` of config.h (the last one wins)."""
    found: dict[str, str] = {}
    for line in CONFIG_H.read_text().splitlines():
        m = re.match(r"\s*#define\s+(RIG_\w+)\s+(\S+)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def number(text: str) -> float:
    """A C integer literal as a number (UL/U/L suffixes dropped)."""
    return float(int(re.sub(r"[uUlL]+$", "", text), 0))


@pytest.mark.parametrize(
    ("macro", "ours", "scale"),
    [
        ("RIG_PROTO", rc.PROTO, 1),
        ("RIG_MIN_US", rc.PULSE_MIN_US, 1),
        ("RIG_MAX_US", rc.PULSE_MAX_US, 1),
        ("RIG_BACKLASH_US", rc.BACKLASH_US, 1),
        ("RIG_DEFAULT_SPEED_US_PER_S", rc.DEFAULT_SPEED_US_PER_S, 1),
        ("RIG_MAX_SPEED_US_PER_S", rc.MAX_SPEED_US_PER_S, 1),
        ("RIG_SETTLE_MS", rc.SETTLE_S, 1000),
        ("RIG_STALL_MS", rc.STALL_S, 1000),
        ("RIG_WATCHDOG_MS", rc.WATCHDOG_S, 1000),
        ("RIG_LINE_MAX", rc.LINE_MAX, 1),
        ("RIG_FB_AT_500", rc.FB_AT_500, 1),
        ("RIG_FB_AT_2500", rc.FB_AT_2500, 1),
        ("RIG_FB_TOLERANCE", rc.FB_TOLERANCE, 1),
    ],
)
def test_config_h_agrees(macro: str, ours: float, scale: int) -> None:
    found = defines()
    assert macro in found, f"{CONFIG_H} no longer defines {macro}"
    assert number(found[macro]) == pytest.approx(ours * scale)


def test_baud_is_the_sketchs() -> None:
    sketch = (CONFIG_H.parent / "servo_rig.cpp").read_text()
    assert f"Serial.begin({rc.BAUD})" in sketch
