"""An interface that goes away mid-take: the take fails as DeviceLost, nothing is written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from station.capture.run import CaptureRequest, run_capture
from station.errors import DeviceLost
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile


def test_a_device_lost_mid_take_leaves_nothing_and_is_not_retaken(
    tmp_path: Path, short_signal: Path
) -> None:
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    profile = calibrated_profile(rig, "p")
    streams = len(rig.streams)
    rig.audio_lost_at_s, rig.audio_outage_s = 12.0, 0.3  # into the take, after the noise
    req = CaptureRequest(profile, short_signal, 12.0, "c1", tmp_path, retakes=2)
    with pytest.raises(DeviceLost, match="went away") as info:
        run_capture(rig.interface, req, confirm=rig.act_on)
    assert "after 12.0 s" in info.value.message
    # A device that is gone is not a spoilt take: not played again (no stream opened after).
    assert len(rig.streams) == streams + 2  # the noise floor's and the take's
    assert list(tmp_path.iterdir()) == []  # no capture, no .c1.*.partial left behind
    assert not rig.interface.available()
    with pytest.raises(DeviceLost):
        run_capture(rig.interface, req, confirm=rig.act_on)
    time.sleep(0.3)
    assert rig.interface.available()
    assert run_capture(rig.interface, req, confirm=rig.act_on).passed
