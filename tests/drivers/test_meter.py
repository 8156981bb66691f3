"""Voltmeters: typed readings, and a SCPI meter over a real pty through pyvisa-py."""

from __future__ import annotations

import pytest

from station.drivers.meter import (
    DEFAULT_ACCURACY,
    ManualMeter,
    MeterAccuracy,
    open_scpi_meter,
    parse_accuracy,
    parse_voltage,
)
from station.errors import MeterError
from station.virtual.scpi import ScpiMeterSimulator


@pytest.mark.parametrize(
    ("text", "volts", "resolution"),
    [
        ("6.4", 6.4, 0.1),
        ("6.40 V", 6.4, 0.01),
        ("640 mV", 0.64, 1e-3),
        ("6,4", 6.4, 0.1),
        ("0.0123", 0.0123, 1e-4),
        (" 1.5v ", 1.5, 0.1),
        ("612.3mV", 0.6123, 1e-4),
        ("2 Vrms", 2.0, 1.0),
    ],
)
def test_accepted_readings(text: str, volts: float, resolution: float) -> None:
    v, r = parse_voltage(text)
    assert v == pytest.approx(volts)
    assert r == pytest.approx(resolution)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "type the meter"),
        ("   ", "type the meter"),
        ("0", "above zero"),
        ("-1.2", "above zero"),
        ("abc", "not a voltage"),
        ("1.2.3", "more than one"),
        ("1,2.3", "more than one"),
        ("0.5 mV", "implausible"),
        ("120", "implausible"),
        ("5 A", "unknown unit"),
    ],
)
def test_rejected_readings(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_voltage(text)


def test_manual_meter_asks_again_until_plausible() -> None:
    answers = iter(["", "lots", "0", "1.2345"])
    errors: list[str | None] = []

    def ask(_prompt: str, error: str | None) -> str:
        errors.append(error)
        return next(answers)

    reading = ManualMeter(ask).read_vrms()
    assert reading.vrms == pytest.approx(1.2345)
    assert errors[0] is None and all(errors[1:])
    assert reading.raw == "1.2345 (meter ±(0.5 % + 2 counts), assumed)"


@pytest.mark.parametrize(
    ("typed", "accuracy", "volts", "bound", "step"),
    [
        # The default, a typical handheld: 0.5 % of 1.2233 V + 2 counts of the 0.1 mV digit.
        ("1.2233", DEFAULT_ACCURACY, 1.2233, 0.005 * 1.2233 + 2e-4, 1e-4),
        # Counts are units of the last digit typed: 3 counts of 1 mV.
        ("612 mV", MeterAccuracy(1.0, 3.0), 0.612, 0.01 * 0.612 + 3e-3, 1e-3),
    ],
)
def test_a_typed_reading_is_as_uncertain_as_the_meter(
    typed: str, accuracy: MeterAccuracy, volts: float, bound: float, step: float
) -> None:
    reading = ManualMeter(lambda _p, _e: typed, accuracy=accuracy).read_vrms()
    assert reading.vrms == pytest.approx(volts)
    # The stated bound is two sigma; the typed digit's rounding (step/√12) adds in quadrature.
    assert reading.uncertainty_vrms == pytest.approx(((bound / 2) ** 2 + step**2 / 12) ** 0.5)
    # Far from the '± 0.000205 dB' the last digit alone gave for 1.2233 V.
    assert reading.uncertainty_vrms / reading.vrms > 0.0025


@pytest.mark.parametrize(
    ("text", "percent", "counts"),
    [
        ("0.5 % + 2", 0.5, 2.0),
        ("0.5%+2", 0.5, 2.0),
        ("±(1% + 3 counts)", 1.0, 3.0),
        ("+/- (0.8 % + 5 digits)", 0.8, 5.0),
        ("0.8, 5", 0.8, 5.0),
        ("1 %", 1.0, 0.0),
        ("0 % + 3", 0.0, 3.0),
    ],
)
def test_accepted_accuracies(text: str, percent: float, counts: float) -> None:
    assert parse_accuracy(text) == MeterAccuracy(percent, counts)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("abc", "'abc' is not a meter accuracy"),
        ("", "is not a meter accuracy"),
        ("1.2.3 + 2", "is not a meter accuracy"),
        ("0.5 % + 2 volts", "is not a meter accuracy"),
        ("-0.5 % + 2", "cannot be negative"),
        ("0.5 % + -2", "cannot be negative"),
        ("0 % + 0", "no meter is exact"),
        ("50 %", "beyond any meter"),
    ],
)
def test_rejected_accuracies(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as exc:
        parse_accuracy(text)
    assert "\n" not in str(exc.value)


def test_manual_meter_end_of_input_is_an_error() -> None:
    def ask(_prompt: str, _error: str | None) -> str:
        raise EOFError

    with pytest.raises(MeterError, match="no meter reading"):
        ManualMeter(ask).read_vrms()


def test_scpi_meter_reads_the_probe() -> None:
    with ScpiMeterSimulator(lambda: 0.987654) as sim:
        meter = open_scpi_meter(sim.resource_name, timeout_s=1.0)
        reading = meter.read_vrms()
    assert reading.vrms == pytest.approx(0.987654, rel=1e-6)
    assert meter.identity.startswith("Virtual Instruments")
    assert sim.received[0] == "*IDN?"
    assert sim.received[1:] == ["MEAS:VOLT:AC?"] * 5


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("silent", "did not answer '\\*IDN\\?'"),
        ("garbage", "expected a number in volts"),
        ("unstable", "did not settle"),
    ],
)
def test_scpi_meter_faults_are_clear_errors(mode: str, message: str) -> None:
    with ScpiMeterSimulator(lambda: 1.0, mode) as sim:
        meter = open_scpi_meter(sim.resource_name, timeout_s=0.3)
        with pytest.raises(MeterError, match=message):
            meter.read_vrms()


def test_scpi_meter_missing_resource() -> None:
    with pytest.raises(MeterError, match="cannot open"):
        open_scpi_meter("ASRL/dev/does-not-exist::INSTR", timeout_s=0.3)
