"""The small protocols procedures talk to: AudioInterface, Voltmeter, KnobRig."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import DeviceError, DeviceLost
from ..events import StopFlag


@dataclass(frozen=True)
class StreamSpec:
    """What a full-duplex stream needs: rate, block size, and 1-based channels.

    `extra_sends` / `extra_returns` add channels to the stream (e.g. a timing
    reference's output and input). With none, sources and sinks stay mono.
    """

    samplerate: int
    send_channel: int
    return_channel: int
    blocksize: int = 256
    extra_sends: tuple[int, ...] = ()
    extra_returns: tuple[int, ...] = ()

    @property
    def sends(self) -> tuple[int, ...]:
        """Every output the stream plays, the send first (1-based)."""
        return (self.send_channel, *self.extra_sends)

    @property
    def returns(self) -> tuple[int, ...]:
        """Every input the stream records, the return first (1-based)."""
        return (self.return_channel, *self.extra_returns)

    def mono(self) -> StreamSpec:
        """The same stream with only the send and the return."""
        return StreamSpec(self.samplerate, self.send_channel, self.return_channel, self.blocksize)


def check_channels(spec: StreamSpec, device: str, outputs: int, inputs: int) -> None:
    """Raise DeviceError when a channel of `spec` is not among the device's 1-based channels."""
    for role, channels, count, kind in (
        ("send", spec.sends, outputs, "outputs"),
        ("return", spec.returns, inputs, "inputs"),
    ):
        for ch in channels:
            if not 1 <= ch <= count:
                raise DeviceError(
                    f"{role} channel {ch} does not exist on {device}",
                    f"{kind} are numbered 1 to {count}",
                )


class BlockSource(Protocol):
    """Float32 audio to play, pulled block by block; zeros once `finished`.

    A block is mono (frames,) for the send alone, or (frames, len(spec.sends))
    with one column per output of the stream.
    """

    finished: bool

    def read(self, frames: int) -> np.ndarray: ...


BlockSink = Callable[[np.ndarray], None]
"""Receives each recorded float32 block, outside the audio callback: mono (frames,) when the
stream has one return, else (frames, len(spec.returns)), the return first."""


@dataclass(frozen=True)
class StreamStats:
    """What a finished stream did: frames played (source content) and recorded."""

    frames_played: int
    frames_recorded: int


@runtime_checkable
class AudioInterface(Protocol):
    """A full-duplex audio device that plays one channel and records another."""

    name: str
    host_api: str

    def validate(self, spec: StreamSpec) -> None:
        """Raise DeviceError if the channels or sample rate cannot be used."""
        ...

    def run(
        self,
        spec: StreamSpec,
        source: BlockSource,
        sink: BlockSink,
        *,
        tail_frames: int,
        stop: StopFlag | None = None,
    ) -> StreamStats:
        """Play `source` until finished plus `tail_frames`, recording into `sink`.

        Blocks until done. Raises StreamError on over/underflow, DeviceLost when
        the device went away, Stopped on a stop request; the stream is always
        closed on return.
        """
        ...


@runtime_checkable
class Replugging(Protocol):
    """An audio interface that can tell whether it is there again after DeviceLost."""

    def available(self) -> bool:
        """True when the device is there (looked for afresh: it may come back renumbered)."""
        ...


def device_lost(device: str, detail: str) -> DeviceLost:
    """The error an interface raises when its device went away (the real driver's and the
    virtual one's words are the same): what happened, and that plugging it back is the fix."""
    return DeviceLost(
        f"{device} went away ({detail}): it was unplugged, or its driver lost it",
        "plug it back in (the same port); nothing of the take in progress was kept",
    )


@runtime_checkable
class Voltmeter(Protocol):
    """Something that reports the RMS voltage at the send cable's end."""

    name: str

    def read_vrms(self) -> MeterReading:
        """Take a reading; raises MeterError when none can be had."""
        ...


@dataclass(frozen=True)
class MeterReading:
    """An RMS voltage with its one-sigma uncertainty and how it was taken."""

    vrms: float
    uncertainty_vrms: float
    source: str  # "manual", "scpi:<resource>", "virtual"
    raw: str = ""  # what the user typed or the meter answered


@runtime_checkable
class KnobRig(Protocol):
    """Servos that turn knobs and flip switches (docs/servo-protocol.md); channels are 0-based,
    positions are pulse widths in µs. The serial driver and its virtual twin satisfy it."""

    name: str

    def move(self, pulses_us: dict[int, int], *, stop: StopFlag | None = None) -> dict[int, int]:
        """Slew these channels to these pulses; returns channel → pulse once every one has
        settled. Raises RigError (Stopped when `stop` was set, after stopping the servos)."""
        ...

    def positions(self) -> dict[int, int | None]:
        """The last commanded pulse of every channel, as the rig reports it (µs); None for a
        channel not commanded since the rig powered on."""
        ...

    def detach(self, channels: Iterable[int] | None = None) -> None:
        """Stop the pulse train on these channels (all if None): knobs stay put, no buzz."""
        ...

    def set_speed(self, us_per_s: float) -> None:
        """The slew rate of later moves, in µs per second."""
        ...

    def stop(self) -> None:
        """Halt all motion now."""
        ...

    def close(self) -> None:
        """Release the port (servos are left as they are; detach first)."""
        ...
