"""Play-and-record helpers the procedures share: short takes and a tone in the background."""

from __future__ import annotations

import threading

import numpy as np

from ..drivers.base import AudioInterface, BlockSink, BlockSource, StreamSpec
from ..drivers.sources import ArraySource, MemorySink
from ..errors import StationError, Stopped, StreamError
from ..events import Emit, StopFlag, Warning_, ignore


def take(
    interface: AudioInterface,
    spec: StreamSpec,
    signal: np.ndarray,
    *,
    tail_s: float,
    stop: StopFlag | None = None,
    retries: int = 2,
    emit: Emit = ignore,
) -> np.ndarray:
    """Play `signal`, record it plus `tail_s` of tail, return the recording (float32).

    Recording index n corresponds to output index n: the stream starts both at
    once. A take spoilt by an over/underflow is discarded and, for these short
    measurement takes, played again up to `retries` times (with a warning);
    after that the StreamError stands.
    """
    for attempt in range(retries + 1):
        sink = MemorySink()
        try:
            interface.run(
                spec,
                ArraySource(signal),
                sink,
                tail_frames=round(tail_s * spec.samplerate),
                stop=stop,
            )
        except StreamError as exc:
            if attempt == retries:
                raise
            emit(Warning_(f"{exc.message}; taking it again"))
            continue
        return sink.samples()
    raise AssertionError("unreachable")


class BackgroundStream:
    """Runs a stream in a thread until its source finishes or `halt()` is called."""

    def __init__(
        self,
        interface: AudioInterface,
        spec: StreamSpec,
        source: BlockSource,
        sink: BlockSink | None = None,
    ) -> None:
        self._stop = StopFlag()
        self._error: BaseException | None = None
        self._sink = sink or (lambda _block: None)
        self._thread = threading.Thread(
            target=self._run, args=(interface, spec, source), name="station-stream", daemon=True
        )

    def _run(self, interface: AudioInterface, spec: StreamSpec, source: BlockSource) -> None:
        try:
            interface.run(spec, source, self._sink, tail_frames=0, stop=self._stop)
        except Stopped:
            pass
        except BaseException as exc:  # re-raised in the caller's thread by check()/join()
            self._error = exc

    def start(self) -> BackgroundStream:
        """Start the stream thread."""
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """True while the stream runs."""
        return self._thread.is_alive()

    def check(self) -> None:
        """Re-raise, in the caller's thread, any error the stream died of."""
        if self._error is not None:
            err, self._error = self._error, None
            if isinstance(err, StationError):
                raise err
            raise StreamError(f"the audio stream failed: {err}") from err

    def join(self, timeout_s: float) -> None:
        """Wait for the stream to end by itself; force it to stop after `timeout_s`."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.halt()
        self.check()

    def halt(self) -> None:
        """Stop at once and wait for the stream to close."""
        self._stop.set()
        self._thread.join(5.0)
