"""Profiles: atomic TOML round trip and clear errors for damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.drivers.base import StreamSpec
from station.errors import ProfileError
from station.home import list_profiles
from station.interface.calibrate import CalibrationSettings, calibrate, to_profile
from station.interface.profiles import load_profile, profile_path, save_profile
from station.virtual.rig import VirtualRig


def make_profile(rig: VirtualRig, name: str = "bench"):
    spec = StreamSpec(48000, 2, 3)
    result = calibrate(rig.interface, rig.meter, CalibrationSettings(spec), confirm=rig.act_on)
    return to_profile(name, rig.interface, spec, result, "gain at minimum")


def test_round_trip(rig: VirtualRig, home: Path) -> None:
    prof = make_profile(rig)
    path = save_profile(home, prof)
    assert path == profile_path(home, "bench")
    back = load_profile(home, "bench")
    assert back == prof
    assert back.send_channel == 2 and back.return_channel == 3
    assert back.gain_note == "gain at minimum"
    assert list_profiles(home) == ["bench"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize("name", ["", "../evil", "a b", "-x", "x" * 65])
def test_bad_names(home: Path, name: str) -> None:
    with pytest.raises(ProfileError, match="not a usable name"):
        profile_path(home, name)


def test_missing_profile_lists_known(rig: VirtualRig, home: Path) -> None:
    save_profile(home, make_profile(rig, "one"))
    with pytest.raises(ProfileError) as exc:
        load_profile(home, "two")
    assert "one" in exc.value.hint


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("schema_version = 1", "schema_version = 99"), "schema version 99"),
        (
            lambda t: t.replace("send_dbu_at_0dbfs = ", 'send_dbu_at_0dbfs = "x" #'),
            "send_dbu_at_0dbfs",
        ),
        (
            lambda t: "\n".join(
                ln for ln in t.splitlines() if not ln.startswith("latency_samples")
            ),
            "lacks 'latency_samples'",
        ),
        (lambda t: t + "\n[[[", "cannot read"),
    ],
)
def test_damaged_profiles(rig: VirtualRig, home: Path, edit, message: str) -> None:
    path = save_profile(home, make_profile(rig))
    path.write_text(edit(path.read_text()))
    with pytest.raises(ProfileError, match=message):
        load_profile(home, "bench")
