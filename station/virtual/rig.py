"""The virtual rig: a simulated interface, patch, gear and voltmeter, physically linked.

The virtual meter reads the simulated send voltage; the return hears whatever
the virtual patch cable connects. The rig knows its own truths, so tests and
benchmarks can check what the station measures against them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..drivers.base import (
    BlockSink,
    BlockSource,
    MeterReading,
    StreamSpec,
    StreamStats,
    check_channels,
    device_lost,
)
from ..errors import DeviceError, Stopped
from ..events import Prompt, StopFlag
from ..signal.levels import SQRT2, vrms_from_dbu

if TYPE_CHECKING:
    from pathlib import Path

    from .servos import ServoBench
from .physics import ConverterFilter, FractionalDelay, Probe


class Gear(Protocol):
    """What the virtual rig puts between send and return: volts in, volts out, block by block."""

    def process(self, volts: np.ndarray) -> np.ndarray:
        """The gear's output for a block of input volts."""
        ...


PATCHES = ("open", "loopback", "gear")


@dataclass
class VirtualInterfaceTruth:
    """The simulated interface's real properties (what calibration should find).

    Levels are the converters' gains in their flat passband; `latency_samples`
    is the round trip of a stream that opens without a change, filters
    included. Like real converters, each has a DC-blocking high-pass and a
    linear-phase anti-alias low-pass (`aa_taps` long; 47 taps ripple about
    ±0.02 dB up to 0.4535·fs), and like many USB/ASIO drivers each stream
    opens with its latency moved by 0 to `stream_shift_max_samples` (whole
    samples only if `stream_shift_whole`).
    """

    name: str = "Virtual Interface"
    outputs: int = 4
    inputs: int = 4
    send_dbu_at_0dbfs: float = 16.0
    return_dbu_at_0dbfs: float = 12.0
    latency_samples: float = 317.4
    noise_dbfs: float = -100.0  # RMS noise at the return, on the dBFS-peak scale
    samplerates: tuple[int, ...] = (44100, 48000, 88200, 96000)
    dac_highpass_hz: float | None = 3.0
    adc_highpass_hz: float | None = 2.0
    aa_taps: int = 47
    stream_shift_max_samples: float = 3.0
    stream_shift_whole: bool = False
    timing_offset_samples: float = 0.0  # the timing pair's round trip minus the send/return's


@dataclass(frozen=True)
class StreamTruth:
    """What one simulated stream really did: its latency change and round trips (samples)."""

    index: int
    shift_samples: float
    latency_samples: float  # send → return, this stream
    timing_latency_samples: float  # extra send k → extra return k, this stream
    sends: tuple[int, ...]
    returns: tuple[int, ...]


@dataclass
class VirtualRig:
    """Everything on the simulated bench; `speed` caps it at that many times real time.

    `streams` records every stream's truth, so tests know each one's real
    latency; `stream_shift_samples` forces every stream's change (else it is
    drawn from the seed). With `timing_patched`, each extra send is looped
    into the extra return of the same rank (a timing reference's cable).
    """

    truth: VirtualInterfaceTruth = field(default_factory=VirtualInterfaceTruth)
    patch: str = "open"
    auto_patch: bool = True
    speed: float | None = 50.0
    seed: int = 1
    meter_digits: int = 5
    meter_gain_error: float = 0.0  # this meter's actual error, as a fraction of the reading
    meter_accuracy_percent: float = 0.5  # what its maker states (a 95 % bound, in band)
    meter_bandwidth_hz: float | None = 20_000.0  # first-order roll-off above this
    gear: Gear | None = None  # see virtual gear
    dropout_at_s: float | None = None  # a fault: the return delivers 50 ms of zeros from here
    # A fault: the interface vanishes this far (s) into the next stream, and is back after
    # `audio_outage_s` seconds of wall time (None: when `replug_audio` is called).
    audio_lost_at_s: float | None = None
    audio_outage_s: float | None = None
    audio_gone_since: float | None = None  # when it vanished (monotonic), while it is gone
    servos: ServoBench | None = None  # the servo horns that turn the knobbed gear's knobs
    stream_shift_samples: float | None = None
    timing_patched: bool = True
    streams: list[StreamTruth] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.servos is None:
            from .servos import ServoBench

            self.servos = ServoBench()
        self.probe = Probe(48000)
        self.interface = VirtualInterface(self)
        self.meter = VirtualMeter(self)

    def use_gear(self, key: str) -> None:
        """Put a virtual gear model (see virtual.catalogue) between send and return."""
        from .catalogue import catalogue

        models = catalogue()
        if key not in models:
            raise DeviceError(
                f"there is no virtual gear {key!r}", f"choose one of: {', '.join(models)}"
            )
        self.gear = models[key]
        # Knobbed gear: its knobs are this bench's servos.
        if self.gear is not None and hasattr(self.gear, "servos"):
            self.gear.servos = self.servos

    def keep_servos_in(self, home: Path) -> None:
        """Use the servo horns saved in a station home (where `station rig ... --port virtual`
        left the knobs), and save them there as they move. Horns already kept in that home
        stay the same object, so a firmware twin turning them is still heard."""
        from .servos import ServoBench, virtual_bench_path

        path = virtual_bench_path(home)
        if self.servos is None or self.servos.state_path != path:
            self.servos = ServoBench(state_path=path)
        if self.gear is not None and hasattr(self.gear, "servos"):
            self.gear.servos = self.servos

    def audio_present(self) -> bool:
        """Whether the simulated interface is plugged in (it comes back by itself once its
        outage has passed)."""
        gone, outage = self.audio_gone_since, self.audio_outage_s
        if gone is not None and outage is not None and time.monotonic() - gone >= outage:
            self.audio_gone_since = None
        return self.audio_gone_since is None

    def unplug_audio(self) -> None:
        """A fault: the interface's cable is pulled now (a stream running stops at its next
        block; the next one cannot open)."""
        self.audio_gone_since = time.monotonic()

    def replug_audio(self) -> None:
        """Plug the interface back in."""
        self.audio_gone_since = None

    def act_on(self, prompt: Prompt) -> None:
        """Do at the virtual bench what a prompt asks the user to do (patch cables)."""
        if not self.auto_patch:
            return
        if prompt.kind == "patch_loopback":
            self.patch = "loopback"
        elif prompt.kind == "patch_gear":
            self.patch = "gear"

    def meter_display(self) -> str:
        """What the bench meter's display shows right now, e.g. '0.61234 V'."""
        return self.meter.read_vrms().raw

    def true_send_dbu(self, freq_hz: float, samplerate: int = 48000) -> float:
        """The send's real dBu for a 0 dBFS-peak sine at `freq_hz` (the DAC filters included)."""
        dac = ConverterFilter(samplerate, self.truth.dac_highpass_hz, self.truth.aa_taps)
        return self.truth.send_dbu_at_0dbfs + dac.response_db(freq_hz)

    def true_return_dbu(self, freq_hz: float, samplerate: int = 48000) -> float:
        """The dBu of a sine at `freq_hz` that reads 0 dBFS peak at the return (ADC filters)."""
        adc = ConverterFilter(samplerate, self.truth.adc_highpass_hz, self.truth.aa_taps)
        return self.truth.return_dbu_at_0dbfs - adc.response_db(freq_hz)

    def next_shift(self) -> float:
        """This stream's latency change: forced, or drawn from the rig's seed."""
        if self.stream_shift_samples is not None:
            return float(self.stream_shift_samples)
        most = self.truth.stream_shift_max_samples
        if most <= 0:
            return 0.0
        rng = np.random.default_rng((self.seed, 0x5EED))
        if self.truth.stream_shift_whole:
            return float(rng.integers(0, math.floor(most) + 1))
        return float(rng.uniform(0.0, most))


class VirtualInterface:
    """A simulated full-duplex interface: converters, latency, noise, clipping."""

    host_api = "virtual"

    def __init__(self, rig: VirtualRig) -> None:
        self.rig = rig
        self.name = rig.truth.name

    def available(self) -> bool:
        """Whether the simulated interface is plugged in (see VirtualRig.audio_lost_at_s)."""
        return self.rig.audio_present()

    def validate(self, spec: StreamSpec) -> None:
        """Raise DeviceError for channels or a rate the simulated interface lacks (DeviceLost
        while it is unplugged)."""
        if not self.rig.audio_present():
            raise device_lost(self.name, "it is not there")
        t = self.rig.truth
        if spec.samplerate not in t.samplerates:
            rates = ", ".join(str(r) for r in t.samplerates)
            raise DeviceError(
                f"{self.name} does not support {spec.samplerate} Hz", f"supported rates: {rates}"
            )
        check_channels(spec, self.name, t.outputs, t.inputs)
        for channels, kind in ((spec.sends, "outputs"), (spec.returns, "inputs")):
            if len(set(channels)) != len(channels):
                raise DeviceError(
                    f"a stream cannot use {kind[:-1]} {channels} twice",
                    f"choose different {kind}",
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
        rig, t, b, sr = self.rig, self.rig.truth, max(spec.blocksize, 2048), spec.samplerate
        if rig.probe.samplerate != sr:
            rig.probe = Probe(sr)
        shift = rig.next_shift()
        lat = t.latency_samples + shift
        timing_lat = lat + t.timing_offset_samples
        rig.streams.append(
            StreamTruth(len(rig.streams), shift, lat, timing_lat, spec.sends, spec.returns)
        )
        rng = np.random.default_rng(rig.seed)
        rig.seed += 1  # a new take has new noise (and a new latency change)
        dacs = [ConverterFilter(sr, t.dac_highpass_hz, t.aa_taps) for _ in spec.sends]
        adcs = [ConverterFilter(sr, t.adc_highpass_hz, t.aa_taps) for _ in spec.returns]
        filters = dacs[0].delay_samples + adcs[0].delay_samples
        if timing_lat - filters < 0 or lat - filters < 0:
            raise DeviceError(
                f"the virtual interface cannot have a latency under its filters' {filters} samples"
            )
        lines = [FractionalDelay(lat - filters)] + [
            FractionalDelay(timing_lat - filters) for _ in spec.extra_returns
        ]
        vpk_out = vrms_from_dbu(t.send_dbu_at_0dbfs) * SQRT2
        vpk_in = vrms_from_dbu(t.return_dbu_at_0dbfs) * SQRT2
        noise_rms = 10.0 ** (t.noise_dbfs / 20.0) / SQRT2
        n_out, n_in = len(spec.sends), len(spec.returns)
        gear = rig.gear
        if gear is not None and hasattr(gear, "reset"):
            gear.reset(sr)

        def send_block() -> int:
            x = np.asarray(source.read(b), dtype=np.float64)
            if x.ndim == 1:
                x = np.column_stack([x] + [np.zeros(b)] * (n_out - 1)) if n_out > 1 else x[:, None]
            volts = [dac.process(np.clip(x[:, k], -1, 1) * vpk_out) for k, dac in enumerate(dacs)]
            rig.probe.write(volts[0])
            if rig.patch == "loopback":
                ret = volts[0]
            elif rig.patch == "gear" and gear is not None:
                ret = gear.process(volts[0])
            else:
                ret = np.zeros(b)
            lines[0].push(adcs[0].process(ret))
            for k in range(1, n_in):
                looped = volts[k] if rig.timing_patched and k < n_out else np.zeros(b)
                lines[k].push(adcs[k].process(looped))
            return b

        played = send_block()  # one block of look-ahead for the delay line
        recorded = 0
        end_at: int | None = None
        started = time.monotonic()
        lost_at = None if rig.audio_lost_at_s is None else int(rig.audio_lost_at_s * sr)
        while end_at is None or recorded < end_at:
            if stop is not None and stop.is_set():
                raise Stopped()
            if lost_at is not None and recorded >= lost_at:
                rig.audio_lost_at_s = None
                rig.unplug_audio()
            if rig.audio_gone_since is not None:  # pulled now, or by someone meanwhile
                raise device_lost(self.name, f"no audio from it after {recorded / sr:.1f} s")
            if end_at is None and source.finished:
                end_at = played + tail_frames
            played += send_block()
            y = np.column_stack(
                [line.pull(b) / vpk_in + rng.normal(0.0, noise_rms, b) for line in lines]
            )
            if rig.dropout_at_s is not None:
                lo = int(rig.dropout_at_s * sr) - recorded
                hi = lo + int(0.05 * sr)
                y[max(0, lo) : max(0, min(b, hi))] = 0.0
            block = np.clip(y, -1.0, 1.0).astype(np.float32)
            sink(block[:, 0].copy() if n_in == 1 else block)
            recorded += b
            if rig.speed:
                ahead = recorded / sr / rig.speed - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        return StreamStats(frames_played=end_at - tail_frames, frames_recorded=recorded)


class VirtualMeter:
    """A true-RMS voltmeter whose leads sit on the virtual send cable's end."""

    def __init__(self, rig: VirtualRig) -> None:
        self.rig = rig
        self.name = "virtual meter"

    def read_vrms(self) -> MeterReading:
        """Read the send voltage as a display with `meter_digits` significant digits.

        The uncertainty combines the display's last digit with the stated accuracy,
        taken as a 95 % (two-sigma) bound.
        """
        rig = self.rig
        v = rig.probe.true_rms(0.5, rig.meter_bandwidth_hz) * (1.0 + rig.meter_gain_error)
        if v <= 0:
            return MeterReading(0.0, 0.0, "virtual", "0.0000 V")
        step = 10.0 ** (math.floor(math.log10(v)) - rig.meter_digits + 1)
        shown = round(v / step) * step
        decimals = max(0, -math.floor(math.log10(step)))
        sigma = math.hypot(step / math.sqrt(12.0), shown * rig.meter_accuracy_percent / 200.0)
        return MeterReading(shown, sigma, "virtual", f"{shown:.{decimals}f} V")


def random_rig(rng: np.random.Generator, **overrides: object) -> VirtualRig:
    """A rig with interface truths drawn over realistic ranges (benchmarks, property tests)."""
    truth = VirtualInterfaceTruth(
        send_dbu_at_0dbfs=float(rng.uniform(4.0, 24.0)),
        return_dbu_at_0dbfs=float(rng.uniform(-6.0, 20.0)),
        latency_samples=float(rng.uniform(100.0, 5000.0)),
        noise_dbfs=float(rng.uniform(-110.0, -70.0)),
    )
    return VirtualRig(truth=truth, seed=int(rng.integers(1, 2**31)), **overrides)  # type: ignore[arg-type]
