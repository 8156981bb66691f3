"""`station calibrate` and `station devices` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.signal.levels import vrms_from_dbu
from station.virtual.rig import VirtualInterfaceTruth, VirtualRig
from tests.conftest import run_station as station
from tests.conftest import sigint_as_at_a_terminal

BASE = [
    "calibrate",
    "--device",
    "virtual",
    "--name",
    "demo",
    "--send-channel",
    "1",
    "--return-channel",
    "1",
]


def test_virtual_calibration_json(home: Path) -> None:
    res = station(*BASE, "--yes", "--json", home=home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    rig = VirtualRig()  # the CLI's own virtual rig: its truths at the 1 kHz tone
    assert out["send_dbu_at_0dbfs"] == pytest.approx(rig.true_send_dbu(1000.0), abs=0.02)
    assert out["return_dbu_at_0dbfs"] == pytest.approx(rig.true_return_dbu(1000.0), abs=0.02)
    # Each stream's latency moved by 0–3 samples; the profile keeps their mean and spread.
    takes = out["latency_takes_samples"]
    base, most = rig.truth.latency_samples, rig.truth.stream_shift_max_samples
    assert len(takes) >= 3 and all(base - 0.1 <= t <= base + most + 0.1 for t in takes)
    assert out["latency_samples"] == pytest.approx(sum(takes) / len(takes))
    assert out["latency_spread_samples"] == pytest.approx(max(takes) - min(takes))
    assert out["timing_out"] is None and out["timing_reference_delay_samples"] is None
    assert Path(out["profile_path"]) == (home / "calibration/profiles/demo.toml").resolve()
    assert Path(out["profile_path"]).is_file()
    assert "Measure the RMS voltage" in res.stderr


def test_manual_meter_typed_on_stdin(home: Path) -> None:
    truth = VirtualInterfaceTruth()
    reading = vrms_from_dbu(truth.send_dbu_at_0dbfs - 12.0)
    # Enter takes the typical handheld's accuracy; a wrong reading first: the station explains
    # and asks again. Then Enter for the patch.
    res = station(
        *BASE, "--meter", "manual", "--json", home=home, stdin=f"\nlots\n{reading:.5f}\n\n"
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert "is not a voltage" in res.stderr
    assert "the bench meter shows" in res.stderr
    assert out["send_dbu_at_0dbfs"] == pytest.approx(truth.send_dbu_at_0dbfs, abs=0.02)
    # Said, and kept: the accuracy is the assumed default, and the σ carries it.
    assert out["meter_accuracy"] == {"percent": 0.5, "counts": 2.0, "assumed": True}
    assert "taken as ±(0.5 % + 2 counts), a typical handheld's" in res.stderr
    assert "--meter-accuracy" in res.stderr
    bound = 0.005 * reading + 2e-5  # 0.5 % + 2 counts of the typed 10 µV digit
    assert out["send_uncertainty_db"] == pytest.approx(
        20 * math.log10(1 + math.hypot(bound / 2, 1e-5 / 12**0.5) / float(f"{reading:.5f}")),
        rel=1e-3,
    )
    # The typed reading is the nominal send; the converters' 1 kHz ripple moves the return.
    rig = VirtualRig()
    ripple = rig.true_send_dbu(1000.0) - truth.send_dbu_at_0dbfs
    assert out["return_dbu_at_0dbfs"] == pytest.approx(
        rig.true_return_dbu(1000.0) - ripple, abs=0.02
    )


def test_the_meter_s_accuracy_is_asked_once_then_kept(home: Path) -> None:
    reading = f"{vrms_from_dbu(VirtualInterfaceTruth().send_dbu_at_0dbfs - 12.0):.4f}"
    first = station(
        *BASE, "--meter", "manual", home=home, stdin=f"abc\n-1\n1 % + 3\n{reading}\n\n"
    )
    assert first.returncode == 0, first.stderr
    # Each bad answer is one line (after the question, as typed input is not echoed), and the
    # question comes again.
    for said in (
        "'abc' is not a meter accuracy: type % of reading + counts, e.g. 0.5 % + 2\n",
        "a meter's accuracy cannot be negative: type e.g. 0.5 % + 2\n",
    ):
        assert first.stderr.count(said) == 1, first.stderr
    assert first.stderr.count("Your meter's stated AC-volts accuracy") == 3
    assert "±(1 % + 3 counts), stated" in first.stdout and "typical" not in first.stdout
    assert "Traceback" not in first.stderr
    again = station(*BASE, "--meter", "manual", "--json", home=home, stdin=f"{reading}\n\n")
    assert again.returncode == 0, again.stderr
    assert "Your meter's stated" not in again.stderr and "typical handheld" not in again.stderr
    assert json.loads(again.stdout)["meter_accuracy"] == {
        "percent": 1.0,
        "counts": 3.0,
        "assumed": False,
    }
    # The flag changes what is kept.
    flag = station(
        *BASE, "--meter", "manual", "--meter-accuracy", "±(0.8% + 5 digits)", "--json",
        home=home, stdin=f"{reading}\n\n",
    )  # fmt: skip
    assert json.loads(flag.stdout)["meter_accuracy"]["percent"] == 0.8
    assert 'percent = 0.8' in (home / "settings.toml").read_text()


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("abc", "error: 'abc' is not a meter accuracy"),
        ("-0.5 % + 2", "error: a meter's accuracy cannot be negative"),
        ("0", "error: no meter is exact"),
    ],
)
def test_a_bad_meter_accuracy_flag_is_one_line(home: Path, given: str, said: str) -> None:
    res = station(*BASE, "--meter", "manual", "--meter-accuracy", given, home=home)
    assert res.returncode != 0
    assert res.stderr.startswith(said) and len(res.stderr.strip().splitlines()) == 2  # + hint
    assert "Traceback" not in res.stderr and not (home / "settings.toml").exists()


def test_timing_reference_from_the_cli(home: Path) -> None:
    res = station(*BASE, "--timing-out", "3", "--timing-in", "4", "--yes", "--json", home=home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["timing_out"], out["timing_in"]) == (3, 4)
    # The timing loop has the send/return's latency in every stream: same mean.
    assert out["timing_reference_delay_samples"] == pytest.approx(out["latency_samples"], abs=0.1)
    profile = (home / "calibration/profiles/demo.toml").read_text()
    assert "timing_out = 3" in profile and "timing_reference_delay_samples" in profile
    bad = station(*BASE, "--timing-out", "1", "--timing-in", "2", "--yes", home=home)
    assert bad.returncode != 0 and "must not use the send" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_capture_timed_by_the_reference_or_warned_without(home: Path, short_signal: Path) -> None:
    res = station(*BASE, "--timing-out", "3", "--timing-in", "4", "--yes", "--json", home=home)
    assert res.returncode == 0, res.stderr
    spread = json.loads(res.stdout)["latency_spread_samples"]
    assert spread > 0.25  # the CLI's virtual driver moves its latency per stream
    common = ["capture", "--profile", "demo", "--reamp-dbu", "12", "--input", str(short_signal)]
    timed = station(*common, "--out", "timed", "--yes", "--json", home=home)
    assert timed.returncode == 0, timed.stderr
    lat = json.loads(timed.stdout)["latency"]
    assert lat["used"] == "reference" and lat["timing_reference"]["timing_out"] == 3
    check = {c["name"]: c for c in json.loads(timed.stdout)["checks"]}["latency_agreement"]
    assert check["status"] == "pass"
    blind = station(
        *common, "--out", "blind", "--no-timing-reference", "--yes", "--json", home=home
    )
    assert blind.returncode == 0, blind.stderr
    out = json.loads(blind.stdout)
    assert out["latency"]["used"] == "loopback" and out["latency"]["timing_reference"] is None
    check = {c["name"]: c for c in out["checks"]}["latency_agreement"]
    assert check["status"] == "warn" and "timing reference" in check["message"]
    assert "assumes the calibrated latency" in check["message"]


def test_human_output(home: Path) -> None:
    res = station(*BASE, "--yes", home=home)
    assert res.returncode == 0, res.stderr
    assert "Profile saved" in res.stdout and "dBu at 0 dBFS peak" in res.stdout
    again = station(*BASE, "--yes", home=home)
    assert "Profile replaced" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--send-channel", "7"], "send channel 7 does not exist"),
        (["--samplerate", "12345"], "does not support 12345 Hz"),
        (["--name", "../x"], "not a usable name"),
        (["--meter", "scpi:ASRL/dev/nope::INSTR"], "cannot open the meter"),
        (["--meter", "scpi:bogus"], "'bogus' is not a VISA instrument's name"),
        (["--meter", "scpi:"], "a SCPI meter needs its resource"),
        (["--meter", "banana"], "unknown meter"),
        (["--tone-dbfs", "3"], "no headroom"),
    ],
)
def test_user_mistakes_are_clear_errors(home: Path, args: list[str], message: str) -> None:
    argv = list(BASE)
    for i in range(0, len(args), 2):
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i : i + 2]
    res = station(*argv, "--yes", home=home)
    assert res.returncode == 1
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not list((home / "calibration/profiles").glob("*.toml"))


def test_unknown_device_is_clear(home: Path) -> None:
    res = station(
        "calibrate",
        "--device",
        "Nonexistent Interface 9000",
        "--name",
        "x",
        "--send-channel",
        "1",
        "--return-channel",
        "1",
        home=home,
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "no audio device matches" in res.stderr or "PortAudio" in res.stderr


def test_meter_reading_never_typed(home: Path) -> None:
    res = station(*BASE, "--meter", "manual", home=home, stdin="\n")  # Enter: the default accuracy
    assert res.returncode == 1
    assert "no meter reading was entered" in res.stderr
    assert "Traceback" not in res.stderr
    res = station(*BASE, "--meter", "manual", "--home", str(home / "other"), home=home, stdin="")
    assert res.returncode == 1
    assert "error: no meter accuracy was entered" in res.stderr
    assert "Traceback" not in res.stderr


def test_devices_json(home: Path) -> None:
    res = station("devices", "--json", home=home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["audio"][0]["index"] == "virtual"
    assert {"serial", "visa"} <= set(out)


def _at_the_meter_prompt(home: Path) -> tuple[subprocess.Popen[str], str]:
    """`station calibrate` with a typed meter, started and waited for until it asks for the
    reading (the tone playing); returns the process and what it printed so far."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "station", *BASE, "--meter", "manual"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, STATION_HOME=str(home)),
        preexec_fn=sigint_as_at_a_terminal,
    )
    # A loaded machine (the suite runs on two workers beside the JACK tests) can take half a
    # minute to reach the prompt: interrupting before it would test something else.
    deadline = time.monotonic() + 120
    seen = ""
    assert proc.stderr is not None
    while "??" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.read(1)
    assert "??" in seen, seen
    return proc, seen


def test_ctrl_c_while_the_tone_plays(home: Path) -> None:
    import signal

    proc, seen = _at_the_meter_prompt(home)
    assert proc.stderr is not None
    proc.send_signal(signal.SIGINT)
    # Keep stdin open until it has exited, as a terminal does: closing it at once (as
    # communicate() would) races the interrupt with an end of input at the meter's prompt.
    proc.wait(timeout=60)
    err = seen + proc.stderr.read()
    assert proc.returncode == 130
    assert "stopped" in err and "Traceback" not in err
    assert not list((home / "calibration/profiles").glob("*.toml"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc and tgkill")
def test_ctrl_c_stops_the_prompt_when_another_thread_gets_the_signal(home: Path) -> None:
    """The kernel hands a process's SIGINT to any of its threads; while the tone plays, the
    audio thread may get it, and a read in the main thread would wait for Enter."""
    import ctypes
    import signal

    proc, seen = _at_the_meter_prompt(home)
    assert proc.stderr is not None
    others = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
    assert others, "the tone plays from a thread of its own"
    assert ctypes.CDLL(None, use_errno=True).tgkill(proc.pid, others[0], signal.SIGINT) == 0
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
    err = seen + proc.stderr.read()
    assert proc.returncode == 130, err
    assert "stopped: the tone is off" in err and "Traceback" not in err
