"""The virtual rig: a simulated interface, patch, gear and voltmeter, physically linked.

The virtual meter reads the simulated send voltage; the return hears whatever
the virtual patch cable connects. The rig knows its own truths, so tests and
benchmarks can check what the station measures against them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DeviceError, Stopped
from ..events import Prompt, StopFlag
from ..levels import SQRT2, vrms_from_dbu
from .base import BlockSink, BlockSource, MeterReading, StreamSpec, StreamStats

if TYPE_CHECKING:
    from ..profiles import Profile
    from .pedal import ServoBench
from .physics import FractionalDelay, Probe

PATCHES = ("open", "loopback", "gear")


@dataclass
class VirtualInterfaceTruth:
    """The simulated interface's real properties (what calibration should find)."""

    name: str = "Virtual Interface"
    outputs: int = 4
    inputs: int = 4
    send_dbu_at_0dbfs: float = 16.0
    return_dbu_at_0dbfs: float = 12.0
    latency_samples: float = 317.4
    noise_dbfs: float = -100.0  # RMS noise at the return, on the dBFS-peak scale
    samplerates: tuple[int, ...] = (44100, 48000, 88200, 96000)


@dataclass
class VirtualRig:
    """Everything on the simulated bench; `speed` caps it at that many times real time."""

    truth: VirtualInterfaceTruth = field(default_factory=VirtualInterfaceTruth)
    patch: str = "open"
    auto_patch: bool = True
    speed: float | None = 50.0
    seed: int = 1
    meter_digits: int = 5
    meter_gain_error: float = 0.0
    meter_bandwidth_hz: float | None = None
    gear: object | None = None  # something with process(volts) -> volts; see virtual gear
    dropout_at_s: float | None = None  # a fault: the return delivers 50 ms of zeros from here
    servos: ServoBench | None = None  # the servo horns that turn the knobbed gear's knobs

    def __post_init__(self) -> None:
        if self.servos is None:
            from .pedal import ServoBench

            self.servos = ServoBench()
        self.probe = Probe(48000)
        self.interface = VirtualInterface(self)
        self.meter = VirtualMeter(self)

    def use_gear(self, key: str) -> None:
        """Put a virtual gear model (see drivers.gear.catalogue) between send and return."""
        from .gear import catalogue

        models = catalogue()
        if key not in models:
            raise DeviceError(
                f"there is no virtual gear {key!r}", f"choose one of: {', '.join(models)}"
            )
        self.gear = models[key]
        if hasattr(self.gear, "servos"):  # knobbed gear: its knobs are this bench's servos
            self.gear.servos = self.servos

    def act_on(self, prompt: Prompt) -> None:
        """Do at the virtual bench what a prompt asks the user to do (patch cables)."""
        if not self.auto_patch:
            return
        if prompt.kind == "patch_loopback":
            self.patch = "loopback"
        elif prompt.kind == "patch_gear":
            self.patch = "gear"

    def calibrated_profile(self, name: str = "virtual", spec: StreamSpec | None = None) -> Profile:
        """Calibrate this rig with the station's own procedure (its meter, cables patched as
        asked) and return the profile, as a user's first step would."""
        from ..calibrate import CalibrationSettings, calibrate, to_profile

        spec = spec or StreamSpec(48000, 1, 1)
        result = calibrate(
            self.interface, self.meter, CalibrationSettings(spec), confirm=self.act_on
        )
        return to_profile(name, self.interface, spec, result)

    def meter_display(self) -> str:
        """What the bench meter's display shows right now, e.g. '0.61234 V'."""
        return self.meter.read_vrms().raw


class VirtualInterface:
    """A simulated full-duplex interface: converters, latency, noise, clipping."""

    host_api = "virtual"

    def __init__(self, rig: VirtualRig) -> None:
        self.rig = rig
        self.name = rig.truth.name

    def validate(self, spec: StreamSpec) -> None:
        """Raise DeviceError for channels or a rate the simulated interface lacks."""
        t = self.rig.truth
        if spec.samplerate not in t.samplerates:
            rates = ", ".join(str(r) for r in t.samplerates)
            raise DeviceError(
                f"{self.name} does not support {spec.samplerate} Hz", f"supported rates: {rates}"
            )
        if not 1 <= spec.send_channel <= t.outputs:
            raise DeviceError(
                f"send channel {spec.send_channel} does not exist on {self.name}",
                f"outputs are numbered 1 to {t.outputs}",
            )
        if not 1 <= spec.return_channel <= t.inputs:
            raise DeviceError(
                f"return channel {spec.return_channel} does not exist on {self.name}",
                f"inputs are numbered 1 to {t.inputs}",
            )

    def run(
        self,
        spec: StreamSpec,
        source: BlockSource,
        sink: BlockSink,
        *,
        tail_frames: int,
        stop: StopFlag | None = None,
    ) -> StreamStats:
        """Simulate the stream block by block (see AudioInterface.run)."""
        self.validate(spec)
        # Simulate in chunks of at least 2048 frames: the block size only matters to real drivers.
        rig, t, b = self.rig, self.rig.truth, max(spec.blocksize, 2048)
        if rig.probe.samplerate != spec.samplerate:
            rig.probe = Probe(spec.samplerate)
        rng = np.random.default_rng(rig.seed)
        rig.seed += 1  # a new take has new noise
        delay = FractionalDelay(t.latency_samples)
        vpk_out = vrms_from_dbu(t.send_dbu_at_0dbfs) * SQRT2
        vpk_in = vrms_from_dbu(t.return_dbu_at_0dbfs) * SQRT2
        noise_rms = 10.0 ** (t.noise_dbfs / 20.0) / SQRT2
        gear = rig.gear
        if gear is not None and hasattr(gear, "reset"):
            gear.reset(spec.samplerate)

        def send_block() -> int:
            x = source.read(b)
            volts = np.clip(x.astype(np.float64), -1.0, 1.0) * vpk_out
            rig.probe.write(volts)
            if rig.patch == "loopback":
                ret = volts
            elif rig.patch == "gear" and gear is not None:
                ret = gear.process(volts)
            else:
                ret = np.zeros(b)
            delay.push(ret)
            return b

        played = send_block()  # one block of look-ahead for the delay line
        recorded = 0
        end_at: int | None = None
        started = time.monotonic()
        while end_at is None or recorded < end_at:
            if stop is not None and stop.is_set():
                raise Stopped()
            if end_at is None and source.finished:
                end_at = played + tail_frames
            played += send_block()
            y = delay.pull(b) / vpk_in + rng.normal(0.0, noise_rms, b)
            if rig.dropout_at_s is not None:
                lo = int(rig.dropout_at_s * spec.samplerate) - recorded
                hi = lo + int(0.05 * spec.samplerate)
                y[max(0, lo) : max(0, min(b, hi))] = 0.0
            sink(np.clip(y, -1.0, 1.0).astype(np.float32))
            recorded += b
            if rig.speed:
                ahead = recorded / spec.samplerate / rig.speed - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        return StreamStats(frames_played=end_at - tail_frames, frames_recorded=recorded)


class VirtualMeter:
    """A true-RMS voltmeter whose leads sit on the virtual send cable's end."""

    def __init__(self, rig: VirtualRig) -> None:
        self.rig = rig
        self.name = "virtual meter"

    def read_vrms(self) -> MeterReading:
        """Read the send voltage as a display with `meter_digits` significant digits."""
        rig = self.rig
        v = rig.probe.true_rms(0.5, rig.meter_bandwidth_hz) * (1.0 + rig.meter_gain_error)
        if v <= 0:
            return MeterReading(0.0, 0.0, "virtual", "0.0000 V")
        step = 10.0 ** (math.floor(math.log10(v)) - rig.meter_digits + 1)
        shown = round(v / step) * step
        decimals = max(0, -math.floor(math.log10(step)))
        return MeterReading(shown, step / math.sqrt(12.0), "virtual", f"{shown:.{decimals}f} V")


def random_rig(rng: np.random.Generator, **overrides: object) -> VirtualRig:
    """A rig with interface truths drawn over realistic ranges (benchmarks, property tests)."""
    truth = VirtualInterfaceTruth(
        send_dbu_at_0dbfs=float(rng.uniform(4.0, 24.0)),
        return_dbu_at_0dbfs=float(rng.uniform(-6.0, 20.0)),
        latency_samples=float(rng.uniform(0.0, 5000.0)),
        noise_dbfs=float(rng.uniform(-110.0, -70.0)),
    )
    return VirtualRig(truth=truth, seed=int(rng.integers(1, 2**31)), **overrides)  # type: ignore[arg-type]
