"""The preamp on the virtual servo bench: its own channels and linkages, calibrated by eye
through the firmware twin, and its sound following the horns."""

from __future__ import annotations

import re

import pytest

from station.devices import open_rig
from station.rig.calibrate import RigCalibration
from station.rig.profiles import NAM_CONFIG_KEYS, check_control_name
from station.virtual.preamp import virtual_preamp_rig
from station.virtual.rig import VirtualRig
from station.virtual.servos import (
    OD_KNOBS,
    OD_SWITCHES,
    PREAMP_KNOBS,
    PREAMP_SWITCHES,
    ServoBench,
)
from tests.virtual.test_twin import rms_and_treble

SPEEDUP = 50.0  # its 60 s watchdog is 1.2 s of real time: a loaded machine stays inside it


def test_the_preamp_has_its_own_channels_names_and_linkages() -> None:
    od = [*OD_KNOBS, *OD_SWITCHES]
    pre = [*PREAMP_KNOBS, *PREAMP_SWITCHES]
    assert {c.channel for c in pre} == {5, 6, 7, 8, 9}
    assert not {c.name for c in pre} & ({c.name for c in od} | NAM_CONFIG_KEYS)
    for c in pre:
        check_control_name(c.name)
    falling = 0
    for knob in PREAMP_KNOBS:
        ends = [knob.true_pulse_us(0), knob.true_pulse_us(10)]
        lo, hi = knob.stop_pulses_us()
        assert 500 < lo < min(ends) and max(ends) < hi < 2500  # stops inside the servo's throw
        falling += ends[1] < ends[0]
        # A straight line through the end marks misses those between by tens of µs.
        a, b = ends
        assert max(abs(a + (b - a) * v / 10 - knob.true_pulse_us(v)) for v in range(11)) > 30
    assert falling == 2  # two servos mounted the other way round


def _pointer(shown: str) -> float:
    found = re.findall(r"pointer at (-?[\d.]+)", shown)
    assert found, shown
    return float(found[-1])


class Eye:
    """Jogs a knob until its pointer reads a mark (±0.01), as a user would: two looks to learn
    which way and how fast the knob turns, then steps sized by what the pointer shows, a
    little short of where it seems to be (so as not to run into the end stop past 0 or 10)."""

    def __init__(self, cal: RigCalibration) -> None:
        self.cal = cal
        self.at_us, self.shows = 1560, self.look(1560)
        self.per_us = (self.shows - self.look(1500)) / 60  # marks per µs, sign: which way

    def look(self, pulse_us: int) -> float:
        return _pointer(self.cal.execute(f"goto {pulse_us}")[0])

    def onto(self, value: float) -> None:
        for _ in range(20):
            if abs(self.shows - value) <= 0.01:
                return
            step = round(0.8 * (value - self.shows) / self.per_us) or (
                1 if (value - self.shows) / self.per_us > 0 else -1
            )
            shows = self.look(self.at_us + step)
            if abs(step) >= 20:  # far enough apart to read the knob's speed here
                self.per_us = (shows - self.shows) / step
            self.at_us, self.shows = self.at_us + step, shows
        raise AssertionError(f"the pointer would not settle on {value}: {self.shows}")


def test_calibrating_the_preamp_by_eye_then_moving_between_marks() -> None:
    bench = ServoBench()
    od_before = {k: v for k, v in bench.knob_values().items() if k in {"drive", "tone", "level"}}
    rig = open_rig("virtual", twin_kw={"bench": bench, "speedup": SPEEDUP})
    try:
        rig.set_speed(3000)
        cal = RigCalibration(
            rig, name="amp", port="virtual", firmware_version="twin", look=bench.pointer_text
        )
        for knob in PREAMP_KNOBS[:2]:  # gain, and bass whose servo is mounted reversed
            cal.execute(f"knob {knob.name} {knob.channel}")
            eye = Eye(cal)
            for v in (0, 2, 4, 6, 8, 10):
                eye.onto(v)
                cal.execute(f"mark {v}")
            cal.execute("done")
        cal.execute("switch bright 9")
        for pulse, position in ((800, "off"), (2200, "on")):
            assert f"bright lever at {position}" in cal.execute(f"goto {pulse}")[0]
            cal.execute(f"mark {position}")
        profile = cal.profile()
        assert [k.name for k in profile.knobs] == ["gain", "bass"]
        # Marks found by eye sit within a few µs of where the linkage really puts them.
        truth = {k.name: k for k in PREAMP_KNOBS}
        for spec in profile.knobs:
            for value, pulse in spec.points:
                assert pulse == pytest.approx(truth[spec.name].true_pulse_us(value), abs=4)
        # Between the marks the profile's curve lands close to the value asked for.
        wanted = {"gain": 3.3, "bass": 7.1}
        rig.move(profile.pulses_for(wanted, {"bright": "on"}))
        shown = bench.knob_values()
        for name, value in wanted.items():
            assert shown[name] == pytest.approx(value, abs=0.05)
        assert bench.switch_positions()["bright"] == "on"
        rig.move(profile.pulses_for({}, {"bright": "off"}))
        assert bench.switch_positions()["bright"] == "off"
        # The overdrive next to it on the bench was not touched.
        assert {k: bench.knob_values()[k] for k in od_before} == od_before
    finally:
        rig.close()


def test_the_preamp_follows_the_servos() -> None:
    vrig = VirtualRig(speed=None)
    vrig.use_gear("preamp")
    profile = virtual_preamp_rig()
    r = open_rig("virtual", twin_kw={"bench": vrig.servos, "speedup": SPEEDUP})
    try:
        r.set_speed(3000)
        r.move(profile.pulses_for({"gain": 1.0, "treble": 9.0}, {}))
        quiet, clean_bright = rms_and_treble(vrig, 220.0, 0.3)
        r.move(profile.pulses_for({"gain": 9.0}, {}))
        loud, driven_bright = rms_and_treble(vrig, 220.0, 0.3)
        r.move(profile.pulses_for({"treble": 1.0}, {}))
        _, driven_dark = rms_and_treble(vrig, 220.0, 0.3)
        knobs, switches = vrig.gear.settings()  # type: ignore[union-attr]
    finally:
        r.close()
    assert knobs["gain"] == pytest.approx(9.0, abs=0.01)
    assert knobs["treble"] == pytest.approx(1.0, abs=0.01)
    assert switches == {"bright": "off"}
    assert loud > 2 * quiet  # the gain knob
    assert driven_bright > 3 * clean_bright  # more gain, more harmonics
    assert driven_dark < driven_bright / 3  # the treble knob cuts them
