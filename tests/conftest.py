"""Shared fixtures: virtual rigs with known truths, a throwaway station home."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.virtual_bench import calibrated_profile
from station.virtual.rig import VirtualInterfaceTruth, VirtualRig

__all__ = [
    "calibrate_virtual",
    "calibrated_profile",
    "jack_running",
    "run_station",
    "sigint_as_at_a_terminal",
]


@pytest.fixture
def rig() -> VirtualRig:
    """A virtual rig with an exact meter, running as fast as the CPU allows."""
    return VirtualRig(
        truth=VirtualInterfaceTruth(
            send_dbu_at_0dbfs=14.3,
            return_dbu_at_0dbfs=9.7,
            latency_samples=523.37,
            noise_dbfs=-92.0,
        ),
        speed=None,
        meter_digits=9,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty station home."""
    (tmp_path / "calibration" / "profiles").mkdir(parents=True)
    (tmp_path / "captures").mkdir()
    return tmp_path


def run_station(
    *args: str, home: Path, stdin: str = "", timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `station` command as a user would, with `home` as its station home."""
    import sys

    env = dict(os.environ, STATION_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "station", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=env,
        timeout=timeout_s,
    )


def calibrate_virtual(home: Path, name: str = "demo") -> subprocess.CompletedProcess[str]:
    """`station calibrate` on the virtual rig with its own meter, as the README's demo does."""
    return run_station(
        "calibrate",
        "--device",
        "virtual",
        "--name",
        name,
        "--send-channel",
        "1",
        "--return-channel",
        "1",
        "--yes",
        home=home,
    )


def sigint_as_at_a_terminal() -> None:
    """For Popen's preexec_fn: Ctrl-C's default action in the child, as in a terminal session.

    A suite started as a background job (`.ci/run &`, a CI runner) has SIGINT ignored, and an
    ignored signal stays ignored across exec: a Ctrl-C test would then judge nothing.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def jack_running() -> bool:
    """True when a JACK server answers (the audio integration tests need one)."""
    if shutil.which("jack_lsp") is None:
        return False
    env = dict(os.environ, JACK_NO_START_SERVER="1")
    try:
        return subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def short_signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The station's v3-layout signal with 4 s of training material (31.5 s in all)."""
    from station.reamp.generate import write_station_signal

    return write_station_signal(
        tmp_path_factory.mktemp("signals") / "station_short.wav", seed=3, training_s=4.0
    )


@pytest.fixture(scope="session")
def full_signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The station's full 190 s v3-layout signal."""
    from station.reamp.generate import write_station_signal

    return write_station_signal(tmp_path_factory.mktemp("signals") / "station_full.wav")


@pytest.fixture(scope="session")
def virtual_capture(tmp_path_factory: pytest.TempPathFactory, short_signal: Path) -> Path:
    """A passing capture of the clean virtual amp (short signal), made once per session."""
    from station.capture.run import CaptureRequest, run_capture

    home = tmp_path_factory.mktemp("capture-home")
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "p")
    req = CaptureRequest(
        prof,
        short_signal,
        12.0,
        "clean",
        home / "captures",
        gear={"gear_make": "Virtual", "gear_model": "Clean 1", "gear_type": "amp"},
        virtual_gear="clean",
    )
    return run_capture(rig.interface, req, confirm=rig.act_on).capture_dir


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first: with several workers (./dev test runs files on two) the
    long ones start early instead of leaving one worker busy at the end."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])  # stable: a file's own order is kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A test that failed because the firmware twin went silent ("no answer") gets every
    thread's stack at that moment in its report: where the twin's thread was is the cause
    (a lock, a blocked write, a starved thread), which the symptom alone does not say."""
    report = yield
    if call.excinfo is not None and "no answer" in str(call.excinfo.value):
        import sys
        import threading
        import traceback

        names = {t.ident: t.name for t in threading.enumerate()}
        stacks = [
            f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
            for ident, frame in sys._current_frames().items()
        ]
        report.sections.append(("threads when the rig went silent", "\n".join(stacks)))
    return report
