"""Voltmeters: a reading typed by the user, or a SCPI multimeter through pyvisa."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MeterError
from ..phrases import Phrase
from .base import MeterReading

MIN_VRMS = 0.001
MAX_VRMS = 50.0
_UNITS = {"": 1.0, "v": 1.0, "vrms": 1.0, "mv": 1e-3, "mvrms": 1e-3}
_NUMBER = re.compile(r"^\s*([+-]?[\d.,]*)\s*([a-zA-Z]*)\s*$")


def parse_voltage(text: str) -> tuple[float, float]:
    """Parse a typed RMS reading ('6.4', '6.40 V', '640 mV', '6,4') into (volts, resolution).

    The resolution is one unit of the last digit typed, in volts. Raises
    ValueError with a message for the user when the text is empty, not a
    number, zero or negative, or outside 1 mV–50 V.
    """
    if not text or not text.strip():
        raise ValueError("type the meter's reading, e.g. 6.4 or 640 mV")
    m = _NUMBER.match(text)
    if not m or not re.search(r"\d", m.group(1)):
        raise ValueError(f"{text.strip()!r} is not a voltage: type a number such as 6.4 or 640 mV")
    number, unit = m.group(1), m.group(2).lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {m.group(2)!r}: use V or mV")
    if number.count(",") + number.count(".") > 1:
        raise ValueError(f"{number!r} has more than one decimal separator")
    number = number.replace(",", ".")
    value = float(number) * _UNITS[unit]
    decimals = len(number.split(".")[1]) if "." in number else 0
    resolution = 10.0 ** (-decimals) * _UNITS[unit]
    if value <= 0:
        raise ValueError("a voltage reading must be above zero: is the meter on AC volts?")
    if not MIN_VRMS <= value <= MAX_VRMS:
        raise ValueError(
            f"{value:g} V is implausible for a line-level send (expected 1 mV to 50 V); "
            "check the meter's range and unit"
        )
    return value, resolution


@dataclass(frozen=True)
class MeterAccuracy:
    """A meter's stated AC-volts accuracy: ±(percent of the reading + counts of its last digit).

    Makers state it as a bound the meter stays inside (taken here as a 95 % bound,
    about two sigma). `assumed`: the typical handheld's default, not read from this
    meter's manual.
    """

    percent: float
    counts: float
    assumed: bool = False

    def sigma_vrms(self, vrms: float, resolution_vrms: float) -> float:
        """One sigma, in volts, of a reading of `vrms` typed to `resolution_vrms` (one count).

        The stated bound counts as two sigma; the half-digit rounding of the typed
        value (uniform: step/√12) is added in quadrature, as a finer meter display
        cut short by the typist still rounds.
        """
        bound = self.percent / 100.0 * vrms + self.counts * resolution_vrms
        return math.hypot(bound / 2.0, resolution_vrms / math.sqrt(12.0))

    def __str__(self) -> str:
        return f"±({self.percent:g} % + {self.counts:g} counts)"


# A typical handheld's AC-volts accuracy in its rated band, for a meter whose own is not given.
DEFAULT_ACCURACY = MeterAccuracy(0.5, 2.0, assumed=True)
MAX_PERCENT = 20.0
MAX_COUNTS = 1000.0
_ACCURACY = re.compile(
    r"^\s*(?:\+/-|±)?\s*\(?\s*([+-]?[\d.]+)\s*%?\s*(?:[+,]\s*([+-]?[\d.]+)\s*"
    r"(?:counts?|digits?|dgts?|d|ct)?)?\s*\)?\s*$",
    re.IGNORECASE,
)


def parse_accuracy(text: str) -> MeterAccuracy:
    """Parse a stated accuracy ('0.5 % + 2', '±(1% + 3 counts)', '0.8, 5', '1 %') as typed.

    Raises ValueError with one line for the user when it is not an accuracy, is
    negative, is zero altogether, or is beyond any meter (over 20 % or 1000 counts).
    """
    m = _ACCURACY.match(text or "")
    numbers = (m.group(1), m.group(2) or "0") if m else ("", "")
    try:
        percent, counts = float(numbers[0]), float(numbers[1])
    except ValueError:  # no match, or '1.2.3'
        raise ValueError(
            f"{(text or '').strip()!r} is not a meter accuracy: type % of reading + counts, "
            "e.g. 0.5 % + 2"
        ) from None
    if percent < 0 or counts < 0:
        raise ValueError("a meter's accuracy cannot be negative: type e.g. 0.5 % + 2")
    if percent == 0 and counts == 0:
        raise ValueError(
            "no meter is exact: type the AC-volts accuracy from its manual, e.g. 0.5 % + 2"
        )
    if percent > MAX_PERCENT or counts > MAX_COUNTS:
        raise ValueError(
            f"±({percent:g} % + {counts:g} counts) is beyond any meter's accuracy: "
            "type e.g. 0.5 % + 2"
        )
    return MeterAccuracy(percent, counts)


Ask = Callable[[str, str | None], str]
"""Shows a prompt (and the last error, if any) and returns what the user typed."""


class ManualMeter:
    """A handheld meter read by the user, who types the value when asked.

    The reading is as uncertain as the meter's stated `accuracy` says, counted
    in units of the last digit typed.
    """

    name = "manual"

    def __init__(
        self, ask: Ask, prompt: str | None = None, accuracy: MeterAccuracy = DEFAULT_ACCURACY
    ) -> None:
        self._ask = ask
        self.prompt = prompt or "RMS voltage at the cable end that plugs into the gear (V or mV)"
        self.accuracy = accuracy

    def read_vrms(self) -> MeterReading:
        """Ask until a plausible reading is typed; EOF or an empty stream raises MeterError."""
        error: str | None = None
        while True:
            try:
                text = self._ask(self.prompt, error)
            except EOFError:
                raise MeterError(
                    "no meter reading was entered",
                    Phrase("type the reading when asked, or use {meter_scpi}"),
                ) from None
            try:
                vrms, resolution = parse_voltage(text)
            except ValueError as exc:
                error = str(exc)
                continue
            sigma = self.accuracy.sigma_vrms(vrms, resolution)
            how = "assumed" if self.accuracy.assumed else "stated"
            raw = f"{text.strip()} (meter {self.accuracy}, {how})"
            return MeterReading(vrms, sigma, "manual", raw)


class ScpiMeter:
    """A SCPI multimeter on a pyvisa resource: several AC-volt readings, median, stability."""

    query_volts = "MEAS:VOLT:AC?"

    def __init__(
        self, resource: Any, *, readings: int = 5, max_spread: float = 0.005, attempts: int = 3
    ) -> None:
        self._res = resource
        self.readings = readings
        self.max_spread = max_spread
        self.attempts = attempts
        self.resource_name = str(getattr(resource, "resource_name", "meter"))
        self.name = f"scpi:{self.resource_name}"
        self.identity = ""

    def _query(self, command: str) -> str:
        import pyvisa

        try:
            return str(self._res.query(command)).strip()
        except pyvisa.errors.VisaIOError as exc:
            timeout_ms = getattr(self._res, "timeout", None)
            raise MeterError(
                f"the meter at {self.resource_name} did not answer {command!r} "
                f"within {timeout_ms} ms ({exc.abbreviation})",
                "check the cable, the meter's remote interface and baud rate, and that it is on",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MeterError(
                f"talking to the meter at {self.resource_name} failed: {exc}",
                "check the connection and the resource name",
            ) from None

    def identify(self) -> str:
        """Ask `*IDN?`; raises MeterError if nothing sensible comes back."""
        reply = self._query("*IDN?")
        if not reply or not reply.isprintable() or "," not in reply:
            raise MeterError(
                f"sent '*IDN?' to {self.resource_name}, expected 'maker,model,serial,firmware', "
                f"got {reply!r}",
                "is this a SCPI multimeter? check the resource name",
            )
        self.identity = reply
        return reply

    def _one(self) -> tuple[float, float]:
        reply = self._query(self.query_volts)
        try:
            volts = float(reply)
        except ValueError:
            raise MeterError(
                f"sent {self.query_volts!r} to {self.resource_name}, expected a number in volts, "
                f"got {reply!r}",
                "check that the meter speaks SCPI and is in remote mode",
            ) from None
        if not math.isfinite(volts) or volts >= 9.0e37:
            raise MeterError(f"the meter reports overload ({reply})", "choose a higher AC range")
        return volts, _resolution(reply)

    def read_vrms(self) -> MeterReading:
        """Median of several readings; raises MeterError when they will not settle."""
        if not self.identity:
            self.identify()
        values: list[float] = []
        for _ in range(self.attempts):
            pairs = [self._one() for _ in range(self.readings)]
            values = [v for v, _ in pairs]
            med = statistics.median(values)
            if med <= 0:
                raise MeterError(
                    f"the meter reads {med:g} V: no tone at the probe",
                    "check that the probe is on the send cable's end",
                )
            if (max(values) - min(values)) / med <= self.max_spread:
                sigma = (
                    statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
                )
                raw = ", ".join(f"{v:g}" for v in values)
                return MeterReading(med, sigma, self.name, raw)
        raise MeterError(
            f"the meter's readings did not settle: {', '.join(f'{v:g}' for v in values)} V "
            f"(spread over {self.max_spread:.1%})",
            "hold the probes steady, use the AC volts range, and keep the cable away from mains",
        )


def _resolution(reply: str) -> float:
    """One unit of the last digit a meter printed, in volts ('+1.2345E-01' → 1e-5)."""
    m = re.match(r"^\s*[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$", reply)
    if not m:
        return 0.0
    decimals = len(m.group(2) or "")
    return 10.0 ** (int(m.group(3) or 0) - decimals)


def open_scpi_meter(resource_name: str, timeout_s: float = 3.0) -> ScpiMeter:
    """Open `resource_name` with pyvisa's pure-Python backend and wrap it as a ScpiMeter."""
    import pyvisa
    from pyvisa import rname

    try:
        parsed = rname.parse_resource_name(resource_name)
    except rname.InvalidResourceName:
        parsed = None
    if parsed is None or parsed.resource_class != "INSTR":
        raise MeterError(
            f"{resource_name!r} is not a VISA instrument's name",
            Phrase(
                "e.g. ASRL/dev/ttyUSB0::INSTR (a meter on a serial port) or "
                "TCPIP::192.168.1.50::INSTR; {devices} lists the resources"
            ),
        )
    try:
        rm = pyvisa.ResourceManager("@py")
        res = rm.open_resource(
            resource_name,
            timeout=int(timeout_s * 1000),
            read_termination="\n",
            write_termination="\n",
        )
    except (pyvisa.errors.VisaIOError, ValueError, OSError) as exc:
        raise MeterError(
            f"cannot open the meter {resource_name!r}: {exc}",
            Phrase("{devices} lists the resources"),
        ) from None
    return ScpiMeter(res)
