"""A horn that slips on its knob's shaft, on the firmware twin: the servo turns and POS says the
commanded pulse, but the knob (and a feedback pot turned by it) stays where it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from station.devices import open_rig
from station.drivers.rig import ServoRig
from station.drivers.rig_constants import PULSE_MAX_US, PULSE_MIN_US
from station.virtual.servos import OD_KNOBS, OD_SWITCHES, ServoBench
from station.virtual.twin import ADC_MAX

DRIVE, BOOST = OD_KNOBS[0], OD_SWITCHES[0]


@pytest.fixture
def bench() -> ServoBench:
    return ServoBench()


@pytest.fixture
def rig(bench: ServoBench) -> Iterator[ServoRig]:
    r = open_rig("virtual", twin_kw={"bench": bench, "speedup": 50.0})
    r.set_speed(4000)
    yield r
    r.close()


def pot_value(adc: int) -> float:
    """The drive value a feedback pot reading says, through the drive's linkage."""
    us = PULSE_MIN_US + adc * (PULSE_MAX_US - PULSE_MIN_US) / ADC_MAX
    return DRIVE.value_at_deg(DRIVE.linkage.knob_deg(us))


def test_a_slipping_horn_turns_while_its_knob_stays(rig: ServoRig, bench: ServoBench) -> None:
    at_3, at_8 = round(DRIVE.true_pulse_us(3.0)), round(DRIVE.true_pulse_us(8.0))
    rig.move({0: at_3})
    bench.slip(0)
    rig.move({0: at_8})
    assert rig.positions()[0] == at_8  # the firmware reports what it commanded
    assert bench.horn(0) == at_8
    assert bench.knob_values()["drive"] == pytest.approx(3.0, abs=0.01)
    assert pot_value(rig.feedback_adc[0]) == pytest.approx(3.0, abs=0.05)  # the pot knows
    rig.move({0: at_3})
    rig.move({0: at_8})  # away and back: a persistent slip still leaves the knob behind
    assert bench.knob_values()["drive"] == pytest.approx(3.0, abs=0.01)
    bench.grip(0)
    assert bench.knob_values()["drive"] == pytest.approx(8.0, abs=0.01)


def test_a_slip_once_is_undone_by_moving_away_and_back(rig: ServoRig, bench: ServoBench) -> None:
    at_3, at_8 = round(DRIVE.true_pulse_us(3.0)), round(DRIVE.true_pulse_us(8.0))
    rig.move({0: at_3})
    bench.slip(0, persistent=False)
    rig.move({0: at_8})
    assert bench.knob_values()["drive"] == pytest.approx(3.0, abs=0.01)
    rig.move({0: at_8 + 1})  # sent again: the horn never comes back to the knob
    assert bench.knob_values()["drive"] == pytest.approx(3.0, abs=0.01)
    rig.move({0: at_3})  # back where the knob sits: the horn catches it
    rig.move({0: at_8})
    assert bench.knob_values()["drive"] == pytest.approx(8.0, abs=0.01)
    rig.positions()
    assert pot_value(rig.feedback_adc[0]) == pytest.approx(8.0, abs=0.05)


def test_a_slipping_lever_stays_in_its_place(rig: ServoRig, bench: ServoBench) -> None:
    on, off = round(BOOST.true_pulse_us("on")), round(BOOST.true_pulse_us("off"))
    rig.move({BOOST.channel: off})
    bench.slip(BOOST.channel)
    rig.move({BOOST.channel: on})
    assert bench.switch_positions()["boost"] == "off"
    bench.grip(BOOST.channel)
    assert bench.switch_positions()["boost"] == "on"
