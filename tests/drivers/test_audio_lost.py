"""The sounddevice driver tells a device that went away (DeviceLost) from a spoilt take, and
finds the device again after a re-plug, on a stand-in for PortAudio that loses its device."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

import station.drivers.audio as audio
from station.drivers.base import StreamSpec
from station.errors import DeviceError, DeviceLost

SPEC = StreamSpec(48000, 1, 1)


class PortAudioError(Exception):
    """As sounddevice's: (message, PortAudio error code[, host error info])."""


class FakePortAudio(types.SimpleNamespace):
    """PortAudio with one USB interface that can be unplugged and plugged back (at another
    index, as a re-plug renumbers it); a device list that only changes on re-initialisation."""

    def __init__(self) -> None:
        super().__init__(PortAudioError=PortAudioError)
        self.plugged = True
        self.streams = 0
        self.listed = self._scan()

    def _scan(self) -> list[dict[str, Any]]:
        mic = {"name": "Built-in", "hostapi": 0, "max_input_channels": 2}
        mic["max_output_channels"] = 0
        usb = {"name": "USB Interface", "hostapi": 0, "max_input_channels": 4}
        usb["max_output_channels"] = 4
        # Re-plugged, it enumerates after the built-in device: index 1, not 0.
        return ([usb, mic] if not self.streams else [mic, usb]) if self.plugged else [mic]

    def _terminate(self) -> None:
        self.listed = []

    def _initialize(self) -> None:
        self.listed = self._scan()

    def query_hostapis(self, index: int | None = None) -> Any:
        apis = [{"name": "ALSA"}]
        return apis if index is None else apis[index]

    def query_devices(self, index: int | None = None) -> Any:
        return self.listed if index is None else self.listed[index]

    def check_output_settings(self, device: int, **_kw: Any) -> None:
        if not self.plugged:
            raise PortAudioError("Device unavailable", -9985)

    check_input_settings = check_output_settings

    def Stream(self, **_kw: Any) -> Any:  # sounddevice's name
        if not self.plugged:
            raise PortAudioError(
                "Error opening Stream: Unanticipated host error",
                -9999,
                (0, -19, "No such device"),
            )
        self.streams += 1
        pa = self

        class Silent:  # the device vanishes as the stream starts: no callback ever comes
            def __enter__(self) -> Silent:
                pa.plugged = False
                return self

            def __exit__(self, *_exc: object) -> None:
                raise PortAudioError("Error stopping stream: Unanticipated host error", -9999)

        return Silent()


class Source:
    """Half a second of silence to play."""

    finished = False

    def __init__(self) -> None:
        self.left = 24000

    def read(self, frames: int) -> np.ndarray:
        self.left -= frames
        self.finished = self.left <= 0
        return np.zeros(frames, np.float32)


@pytest.fixture
def pa(monkeypatch: pytest.MonkeyPatch) -> FakePortAudio:
    fake = FakePortAudio()
    monkeypatch.setattr(audio, "_sd", lambda: fake)
    monkeypatch.setattr(audio, "WATCHDOG_S", 0.3)
    return fake


def test_a_device_that_vanishes_mid_stream_is_lost_not_a_spoilt_take(pa: FakePortAudio) -> None:
    iface = audio.SoundDeviceInterface(0)
    assert iface.name == "USB Interface"
    with pytest.raises(DeviceLost, match="USB Interface went away") as info:
        iface.run(SPEC, Source(), lambda _b: None, tail_frames=0)
    assert "no audio from it for 0.3 s" in info.value.message
    assert "plug it back" in info.value.hint
    # While it is gone: checking or opening it says the same, never 'busy' or 'bad rate'.
    with pytest.raises(DeviceLost):
        iface.validate(SPEC)
    assert not iface.available()
    pa.plugged = True
    assert iface.available() and iface.index == 1  # back, renumbered
    iface.validate(SPEC)


def test_portaudio_errors_that_mean_gone() -> None:
    assert audio.device_gone(PortAudioError("Device unavailable", -9985))
    assert audio.device_gone(PortAudioError("Invalid device", -9996))
    assert audio.device_gone(PortAudioError("host", -9999, (0, -19, "No such device")))
    assert not audio.device_gone(PortAudioError("host", -9999, (0, -16, "Device or resource busy")))
    assert not audio.device_gone(PortAudioError("Invalid sample rate", -9997))


def test_a_bad_rate_is_still_a_device_error(
    pa: FakePortAudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(device: int, **_kw: Any) -> None:
        raise PortAudioError("Invalid sample rate", -9997)

    monkeypatch.setattr(pa, "check_output_settings", refuse)
    with pytest.raises(DeviceError, match="cannot run at 48000 Hz") as info:
        audio.SoundDeviceInterface(0).validate(SPEC)
    assert not isinstance(info.value, DeviceLost)
