"""The small protocols procedures talk to: AudioInterface, Voltmeter (KnobRig later)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..events import StopFlag


@dataclass(frozen=True)
class StreamSpec:
    """What a full-duplex stream needs: rate, block size, and 1-based channels."""

    samplerate: int
    send_channel: int
    return_channel: int
    blocksize: int = 256


class BlockSource(Protocol):
    """Mono float32 audio to play, pulled block by block; zeros once `finished`."""

    finished: bool

    def read(self, frames: int) -> np.ndarray: ...


BlockSink = Callable[[np.ndarray], None]
"""Receives each recorded mono float32 block, outside the audio callback."""


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

        Blocks until done. Raises StreamError on over/underflow, Stopped on a
        stop request; the stream is always closed on return.
        """
        ...


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
