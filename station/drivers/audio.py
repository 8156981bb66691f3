"""The real audio interface through sounddevice (PortAudio): full duplex, a send and a return
(plus any extra channels a stream asks for, such as a timing reference's pair).

The callback only copies blocks: a feeder thread pre-renders output blocks into
a bounded queue and a writer thread hands recorded blocks to the sink. Any
over/underflow fails the take. A device that goes away (its callbacks stop, or
PortAudio says it is unavailable) is DeviceLost, not a spoilt take; `available()`
looks for it again.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import DeviceError, StationError, Stopped, StreamError
from ..events import StopFlag
from ..phrases import Phrase
from .base import BlockSink, BlockSource, StreamSpec, StreamStats, check_channels, device_lost

WATCHDOG_S = 3.0  # no callback for this long means the device has gone away
# Streams glitch while they start (drivers priming buffers, JACK re-sorting its graph as
# ports appear and get connected). The take begins only after this much settled silence.
SETTLE_S = 0.25


def _sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise DeviceError(
            f"PortAudio is not available: {exc}",
            "install it (Debian/Ubuntu: apt-get install libportaudio2)",
        ) from None
    return sounddevice


@contextlib.contextmanager
def realtime_python(switch_interval_s: float = 0.0005) -> Iterator[None]:
    """Keep Python from stalling the audio callback while a stream runs.

    The cyclic garbage collector can pause every thread for milliseconds (a whole
    JACK period is 5 ms); stream blocks are freed by reference counting anyway.
    A short GIL switch interval hands the GIL to the callback thread sooner.
    """
    was_enabled = gc.isenabled()
    old_interval = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(switch_interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(old_interval)
        if was_enabled:
            gc.enable()


# PortAudio's codes for a device that is not there: paDeviceUnavailable, paInvalidDevice.
_GONE_CODES = (-9985, -9996)
_UNANTICIPATED_HOST_ERROR = -9999
_ENODEV = 19


def device_gone(exc: BaseException) -> bool:
    """Whether a PortAudioError says the device is not there (unavailable, no such device,
    or a host error of ENODEV), rather than busy or unable to do what was asked."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    code = args[1] if len(args) > 1 else None
    if code in _GONE_CODES:
        return True
    if code == _UNANTICIPATED_HOST_ERROR and len(args) > 2:
        _api, host_code, text = args[2]
        return abs(int(host_code)) == _ENODEV or "no such device" in str(text).lower()
    return False


def list_audio_devices() -> list[dict[str, Any]]:
    """Every PortAudio device: index, name, host API, input and output channels."""
    sd = _sd()
    apis = sd.query_hostapis()
    return [
        {
            "index": i,
            "name": d["name"],
            "host_api": apis[d["hostapi"]]["name"],
            "inputs": d["max_input_channels"],
            "outputs": d["max_output_channels"],
            "default_samplerate": d["default_samplerate"],
        }
        for i, d in enumerate(sd.query_devices())
    ]


def find_device(query: str) -> int:
    """Resolve a device index or a unique part of a device name to a PortAudio index."""
    devices = list_audio_devices()
    listing = "; ".join(f"{d['index']}: {d['name']} ({d['host_api']})" for d in devices) or "none"
    q = query.strip()
    if q.isdigit():
        idx = int(q)
        if any(d["index"] == idx for d in devices):
            return idx
        raise DeviceError(f"there is no audio device {idx}", f"devices: {listing}")
    exact = [d for d in devices if d["name"].lower() == q.lower()]
    matches = exact or [d for d in devices if q.lower() in d["name"].lower()]
    if len(matches) == 1:
        return int(matches[0]["index"])
    if not matches:
        raise DeviceError(
            f"no audio device matches {query!r}",
            Phrase("devices: {listing} (or {device_virtual})", listing=listing),
        )
    names = "; ".join(f"{d['index']}: {d['name']} ({d['host_api']})" for d in matches)
    raise DeviceError(
        f"{query!r} matches several devices: {names}", "give the index, or more of the name"
    )


class SoundDeviceInterface:
    """A PortAudio device used as a send/return pair."""

    def __init__(self, device_index: int, *, prefill_blocks: int = 16) -> None:
        sd = _sd()
        info = sd.query_devices(device_index)
        self.index = device_index
        self.name = str(info["name"])
        self.host_api = str(sd.query_hostapis(info["hostapi"])["name"])
        self._outputs = int(info["max_output_channels"])
        self._inputs = int(info["max_input_channels"])
        self._prefill = prefill_blocks

    def validate(self, spec: StreamSpec) -> None:
        """Check channels against the device and the rate against PortAudio."""
        sd = _sd()
        check_channels(spec, self.name, self._outputs, self._inputs)
        try:
            sd.check_output_settings(
                self.index, channels=max(spec.sends), samplerate=spec.samplerate, dtype="float32"
            )
            sd.check_input_settings(
                self.index,
                channels=max(spec.returns),
                samplerate=spec.samplerate,
                dtype="float32",
            )
        except sd.PortAudioError as exc:
            if device_gone(exc):
                raise device_lost(self.name, str(exc)) from None
            raise DeviceError(
                f"{self.name} cannot run at {spec.samplerate} Hz: {exc}",
                "pick a rate the interface supports (NAM wants 48000)",
            ) from None

    def available(self) -> bool:
        """Whether the device is there again: PortAudio lists devices once per start, so it
        is restarted to look afresh; the same name on the same host API is taken, at
        whatever index it now has. Call it only with no stream open."""
        sd = _sd()
        try:
            sd._terminate()
            sd._initialize()
            apis = sd.query_hostapis()
            devices = sd.query_devices()
        except sd.PortAudioError:
            return False
        for i, d in enumerate(devices):
            if d["name"] == self.name and apis[d["hostapi"]]["name"] == self.host_api:
                self.index = i
                self._outputs = int(d["max_output_channels"])
                self._inputs = int(d["max_input_channels"])
                return True
        return False

    def run(
        self,
        spec: StreamSpec,
        source: BlockSource,
        sink: BlockSink,
        *,
        tail_frames: int,
        stop: StopFlag | None = None,
    ) -> StreamStats:
        """Play and record through PortAudio (see AudioInterface.run)."""
        self.validate(spec)
        sd = _sd()
        b = spec.blocksize
        # One channel is a plain index (mono blocks); several are a list (frames × channels).
        si: int | list[int] = (
            [c - 1 for c in spec.sends] if spec.extra_sends else spec.send_channel - 1
        )
        ri: int | list[int] = (
            [c - 1 for c in spec.returns] if spec.extra_returns else spec.return_channel - 1
        )
        out_q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=self._prefill)
        in_q: queue.Queue[np.ndarray | None] = queue.Queue()
        quit_ = threading.Event()
        st: dict[str, Any] = {
            "fail": None,
            "played": 0,
            "ended": False,
            "recorded": 0,
            "calls": 0,
            "writer_error": None,
            "settled": 0,
        }

        def feeder() -> None:
            while not quit_.is_set():
                block = None if source.finished else source.read(b)
                while not quit_.is_set():
                    try:
                        out_q.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if block is None:
                    return

        settle_frames = int(SETTLE_S * spec.samplerate)

        def callback(
            indata: np.ndarray, outdata: np.ndarray, frames: int, _time: Any, status: Any
        ) -> None:
            st["calls"] += 1
            if st["settled"] < settle_frames:
                # Before the take: silence out, input discarded, start-up flags not counted.
                # Playing and recording then begin in the same callback, so timing holds.
                st["settled"] += frames
                outdata.fill(0.0)
                return
            if status.input_overflow or status.output_underflow:
                st["fail"] = st["fail"] or str(status).strip()
            in_q.put_nowait(indata[:, ri].copy())
            outdata.fill(0.0)
            if st["ended"]:
                return
            try:
                block = out_q.get_nowait()
            except queue.Empty:
                st["fail"] = st["fail"] or "output underflow: audio could not be fed in time"
                return
            if block is None:
                st["ended"] = True
            elif block.ndim == 1 and not isinstance(si, int):
                outdata[:, si[0]] = block
            else:
                outdata[:, si] = block
                st["played"] += frames

        def writer() -> None:
            while True:
                block = in_q.get()
                if block is None:
                    return
                try:
                    sink(block)
                except Exception as exc:  # surfaced to the main thread below
                    st["writer_error"] = exc
                    return
                st["recorded"] += len(block)

        feed_t = threading.Thread(target=feeder, name="station-feeder", daemon=True)
        write_t = threading.Thread(target=writer, name="station-writer", daemon=True)
        feed_t.start()
        write_t.start()
        try:
            deadline = time.monotonic() + 2.0
            while not out_q.full() and feed_t.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            try:
                stream = sd.Stream(
                    device=(self.index, self.index),
                    samplerate=spec.samplerate,
                    blocksize=b,
                    channels=(max(spec.returns), max(spec.sends)),
                    dtype="float32",
                    callback=callback,
                )
            except sd.PortAudioError as exc:
                if device_gone(exc):
                    raise device_lost(self.name, f"cannot open it: {exc}") from None
                raise DeviceError(
                    f"cannot open {self.name}: {exc}", "is another program using the interface?"
                ) from None
            try:
                with realtime_python(), stream:
                    last_calls, last_change = -1, time.monotonic()
                    while True:
                        if stop is not None and stop.wait(0.02):
                            raise Stopped()
                        if stop is None:
                            time.sleep(0.02)
                        if st["fail"]:
                            raise StreamError(
                                f"the take failed: {st['fail']}",
                                "close other audio programs, or raise the block size",
                            )
                        if st["writer_error"] is not None:
                            raise StreamError(
                                f"writing the recording failed: {st['writer_error']}",
                                "check free disk space and permissions",
                            )
                        if (
                            st["ended"]
                            and st["recorded"] + in_q.qsize() * b >= st["played"] + tail_frames
                        ):
                            break
                        now = time.monotonic()
                        if st["calls"] != last_calls:
                            last_calls, last_change = st["calls"], now
                        elif now - last_change > WATCHDOG_S:
                            raise device_lost(
                                self.name, f"no audio from it for {WATCHDOG_S:g} s"
                            )
            except sd.PortAudioError as exc:  # closing a stream whose device went away
                if isinstance(exc.__context__, StationError):
                    raise exc.__context__ from None  # what went wrong first
                if device_gone(exc):
                    raise device_lost(self.name, str(exc)) from None
                raise StreamError(f"the audio stream failed: {exc}") from None
        finally:
            quit_.set()
            in_q.put(None)
            write_t.join(timeout=10.0)
            feed_t.join(timeout=1.0)
            with contextlib.suppress(queue.Empty):
                while True:
                    out_q.get_nowait()
        if st["writer_error"] is not None:
            raise StreamError(
                f"writing the recording failed: {st['writer_error']}",
                "check free disk space and permissions",
            )
        return StreamStats(frames_played=st["played"], frames_recorded=st["recorded"])
