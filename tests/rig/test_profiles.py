"""Rig profiles: monotone knob curves, atomic TOML round trip, clear errors on bad files."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.errors import KnobRangeError, RigError
from station.rig.profiles import KnobSpec, RigProfile, SwitchSpec, load_rig, rig_path, save_rig

DRIVE = KnobSpec("drive", 0, 0.0, 10.0, [(0.0, 640), (5.0, 1490), (10.0, 2360)])


def make_rig(name: str = "bench") -> RigProfile:
    return RigProfile(
        name=name,
        port="/dev/ttyUSB0",
        firmware_version="1.0.0",
        slew_us_per_s=300.0,
        knobs=[DRIVE, KnobSpec("tone", 1, 0.0, 10.0, [(0.0, 2300), (10.0, 700)])],
        switches=[SwitchSpec("boost", 2, {"off": 900, "on": 2100})],
    )


def test_knob_passes_through_its_points() -> None:
    for value, pulse in DRIVE.points:
        assert DRIVE.pulse_us(value) == pulse
        assert DRIVE.value_at(pulse) == pytest.approx(value, abs=1e-6)
    assert DRIVE.end_pulses_us == (640, 2360)


@given(st.floats(0.0, 10.0), st.floats(0.0, 10.0))
def test_knob_curve_is_monotone_and_invertible(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert DRIVE.pulse_us(lo) <= DRIVE.pulse_us(hi)
    # The inverse is exact up to the 1 µs rounding of the pulse (about 0.006 of a mark here).
    assert DRIVE.value_at(DRIVE.pulse_us(lo)) == pytest.approx(lo, abs=0.01)


def test_falling_knob_and_pchip_does_not_overshoot() -> None:
    knob = KnobSpec("x", 3, 0.0, 10.0, [(0.0, 2400), (1.0, 2390), (9.0, 700), (10.0, 690)])
    pulses = [knob.pulse_us(v / 10) for v in range(101)]
    assert all(b <= a for a, b in itertools.pairwise(pulses))
    assert max(pulses) == 2400 and min(pulses) == 690


@pytest.mark.parametrize("value", [-0.01, 10.01, float("nan")])
def test_values_outside_the_printed_range_are_refused(value: float) -> None:
    with pytest.raises(KnobRangeError):
        DRIVE.pulse_us(value)
    with pytest.raises(ValueError):  # also a ValueError, for callers that only know that
        DRIVE.pulse_us(value)


def test_pulses_for_maps_names_and_refuses_unknowns() -> None:
    rig = make_rig()
    assert rig.pulses_for({"drive": 5, "tone": 0}, {"boost": "on"}) == {0: 1490, 1: 2300, 2: 2100}
    with pytest.raises(KnobRangeError, match="no knob 'gain'"):
        rig.pulses_for({"gain": 1})
    with pytest.raises(KnobRangeError, match="no position 'max'"):
        rig.pulses_for({}, {"boost": "max"})
    with pytest.raises(KnobRangeError, match="outside its printed range"):
        rig.pulses_for({"tone": 11})


def test_round_trip_is_atomic(home: Path) -> None:
    rig = make_rig()
    path = save_rig(home, rig)
    assert path == rig_path(home, "bench") == home / "calibration" / "rigs" / "bench.toml"
    back = load_rig(home, "bench")
    assert back == rig
    assert back.knobs[0].pulse_us(5.0) == 1490
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    text = path.read_text()
    assert "points = [" in text and "[[switches]]" in text


def _write(home: Path, text: str) -> None:
    path = rig_path(home, "bad")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


GOOD = """schema_version = 1
name = "bad"
port = "virtual"
firmware_version = "1.0.0"
slew_us_per_s = 300.0
[[knobs]]
name = "drive"
channel = 0
min = 0.0
max = 10.0
points = [[0.0, 640], [5.0, 1490], [10.0, 2360]]
[[switches]]
name = "boost"
channel = 2
positions = { off = 900, on = 2100 }
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[5.0, 1490]", "[5.0, 2400]", "not monotone"),
        ("[10.0, 2360]", "[10.0, 2600]", "outside 500–2500"),
        ("channel = 2", "channel = 0", "both on channel 0"),
        ("slew_us_per_s", "slew = 1\nslew_us_per_s", "unknown key 'slew'"),
        ("channel = 0", "channel = 0\ncolour = 1", "unknown key 'colour'"),
        ("[[0.0, 640], [5.0, 1490], [10.0, 2360]]", "[[0.0, 640]]", "at least both ends"),
        ("[10.0, 2360]", "[8.0, 2360]", "cover 0–8 but the printed range is 0–10"),
        ("[5.0, 1490]", "[0.0, 1490]", "not strictly increasing"),
        ("schema_version = 1", "schema_version = 7", "schema version 7"),
        ('port = "virtual"\n', "", "'port' is missing"),
        ("{ off = 900, on = 2100 }", "{ off = 900 }", "at least two positions"),
        ("points = [", "points = [[1, 2, 3], ", "not a \\[value, µs\\] pair"),
        ('name = "drive"', "name = 3", "has the wrong type"),
        ("[[knobs]]", "[[knobs", "cannot read the rig profile"),
    ],
)
def test_bad_files_give_clear_errors(home: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    _write(home, GOOD.replace(old, new, 1))
    with pytest.raises(RigError, match=message) as info:
        load_rig(home, "bad")
    assert "bad.toml" in info.value.message and info.value.hint


def test_good_file_loads(home: Path) -> None:
    _write(home, GOOD)
    rig = load_rig(home, "bad")
    assert rig.switch("boost").position_at(2101) == "on"


def test_missing_rig_names_known_ones(home: Path) -> None:
    save_rig(home, make_rig("one"))
    with pytest.raises(RigError, match="no rig profile 'two'") as info:
        load_rig(home, "two")
    assert "one" in info.value.hint
