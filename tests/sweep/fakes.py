"""A small in-test knob rig (the agreed KnobRig protocol) linked to the virtual gear.

Until the rig branch's driver and twin land, sweep tests move this: its knob
pulses set the virtual amp's drive and its switch sets the amp's level, so a
capture sounds like the setting it was taken at, and the rig records every
move, detach and POS so tests can check what the sweep did. Its tone turns
nothing, so it has feedback pots (as the pins-fb firmware) that say where every
control is: the sound is not asked which control turned (tests/sweep/
test_stepwise.py sweeps a rig without pots).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from station.drivers.base import StreamSpec
from station.drivers.rig_constants import FB_AT_500, FB_AT_2500, PULSE_MAX_US, PULSE_MIN_US
from station.errors import StationError
from station.events import StopFlag
from station.virtual.rig import VirtualRig


@dataclass
class FakeKnob:
    """A knob mapped linearly from its printed range onto 600–2400 µs."""

    name: str
    channel: int
    min: float = 0.0
    max: float = 10.0
    points: list[tuple[float, int]] = field(default_factory=list)

    def pulse_us(self, value: float) -> int:
        """The pulse for a printed value; StationError outside the range."""
        if not self.min <= value <= self.max:
            raise StationError(f"{self.name}={value:g} is outside {self.min:g}..{self.max:g}")
        return round(600 + 1800 * (value - self.min) / (self.max - self.min))

    def value_at(self, pulse_us: int) -> float:
        """The printed value a pulse sets."""
        return self.min + (pulse_us - 600) / 1800 * (self.max - self.min)


@dataclass
class FakeSwitch:
    """A switch: named positions and their pulses."""

    name: str
    channel: int
    positions: dict[str, int]

    def position_at(self, pulse_us: int) -> str | None:
        """The position whose pulse is `pulse_us` (±5 µs), else None."""
        return next((p for p, us in self.positions.items() if abs(us - pulse_us) <= 5), None)


@dataclass
class FakeRigProfile:
    """The agreed RigProfile shape: knobs, switches, slew and pulses_for."""

    name: str = "pedal"
    port: str = "fake"
    firmware_version: str = "test"
    slew_us_per_s: float = 300.0
    knobs: list[FakeKnob] = field(
        default_factory=lambda: [FakeKnob("drive", 0), FakeKnob("tone", 1)]
    )
    switches: list[FakeSwitch] = field(
        default_factory=lambda: [FakeSwitch("boost", 2, {"off": 900, "on": 2100})]
    )
    schema_version: int = 1

    def pulses_for(self, knobs: dict[str, float], switches: dict[str, str]) -> dict[int, int]:
        """Pulses per channel; StationError for unknown names or values out of range."""
        by_knob = {k.name: k for k in self.knobs}
        by_switch = {s.name: s for s in self.switches}
        out = {}
        for name, value in knobs.items():
            if name not in by_knob:
                raise StationError(f"rig {self.name} has no knob {name!r}")
            out[by_knob[name].channel] = by_knob[name].pulse_us(value)
        for name, pos in switches.items():
            if name not in by_switch or pos not in by_switch[name].positions:
                raise StationError(f"rig {self.name} has no switch position {name}={pos}")
            out[by_switch[name].channel] = by_switch[name].positions[pos]
        return out


class FakeKnobRig:
    """A KnobRig whose servos turn the virtual amp's knobs; `fail_on_move` makes the N-th move
    raise (the rig vanishing)."""

    def __init__(self, profile: FakeRigProfile, bench: VirtualRig, fail_on_move: int = 0) -> None:
        self.name = "fake rig"
        self.profile = profile
        self.bench = bench
        self.pos: dict[int, int] = {}
        self.attached: set[int] = set()
        self.calls: list[tuple[str, object]] = []
        self.fail_on_move = fail_on_move
        self.closed = False

    def move(self, pulses_us: dict[int, int], *, stop: StopFlag | None = None) -> dict[int, int]:
        """Set the pulses and the linked gear; returns them (DONE)."""
        self.calls.append(("move", dict(pulses_us)))
        if self.fail_on_move and sum(c[0] == "move" for c in self.calls) == self.fail_on_move:
            raise StationError("the rig stopped answering (no reply to MOVE 7)", "check the cable")
        self.pos.update(pulses_us)
        self.attached.update(pulses_us)
        knobs = {k.channel: k for k in self.profile.knobs}
        amp = self.bench.gear
        if 0 in self.pos:
            amp.drive = 1.0 + 0.6 * knobs[0].value_at(self.pos[0])
        if 2 in self.pos:
            amp.level = 0.3 if self.pos[2] < 1500 else 0.45  # under the return's clip
        return dict(pulses_us)

    def positions(self) -> dict[int, int]:
        """Last commanded pulse per channel (POS)."""
        self.calls.append(("positions", None))
        return dict(self.pos)

    @property
    def feedback_adc(self) -> dict[int, int]:
        """The pots' readings (ADC counts), one on every control: where the last pulse put it
        (the middle before the first)."""
        span = (FB_AT_2500 - FB_AT_500) / (PULSE_MAX_US - PULSE_MIN_US)
        channels = [c.channel for c in [*self.profile.knobs, *self.profile.switches]]
        at = {ch: self.pos.get(ch, 1500) for ch in channels}
        return {ch: round(FB_AT_500 + (us - PULSE_MIN_US) * span) for ch, us in at.items()}

    def detach(self, channels: Iterable[int] | None = None) -> None:
        """Stop the pulse trains."""
        self.calls.append(("detach", None if channels is None else sorted(channels)))
        self.attached -= set(self.pos if channels is None else channels)

    def set_speed(self, us_per_s: float) -> None:
        """Ignored: the fake moves at once."""

    def stop(self) -> None:
        """Nothing moves for long enough to stop."""

    def close(self) -> None:
        """Mark closed."""
        self.calls.append(("close", None))
        self.closed = True


class DetachCheckingInterface:
    """The virtual interface, noting which servo channels were attached at each recording."""

    def __init__(self, bench: VirtualRig, rig: FakeKnobRig) -> None:
        self.inner = bench.interface
        self.rig = rig
        self.name = self.inner.name
        self.host_api = self.inner.host_api
        self.attached_during_takes: list[set[int]] = []

    def validate(self, spec: StreamSpec) -> None:
        """As the virtual interface."""
        self.inner.validate(spec)

    def run(self, spec, source, sink, *, tail_frames, stop=None):  # type: ignore[no-untyped-def]
        """Record which channels hold a pulse, then run the virtual stream."""
        self.attached_during_takes.append(set(self.rig.attached))
        return self.inner.run(spec, source, sink, tail_frames=tail_frames, stop=stop)


def pedal_value(knob_name: str, pulse_us: float) -> float:
    """The printed value the virtual pedal's pointer shows with its horn at `pulse_us`."""
    from station.virtual.pedal import OD_KNOBS

    k = next(k for k in OD_KNOBS if k.name == knob_name)
    return k.value_at_deg(k.linkage.knob_deg(pulse_us))
