"""`station plan` + `station sweep` as a user runs them: on the virtual rig's firmware twin,
killed mid-capture and resumed, by hand, exported, and refusing bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from station.reamp.files import md5_of_file
from station.rig.profiles import save_rig
from station.sweep.journal import read_events
from station.virtual.pedal import virtual_pedal_rig
from tests.conftest import calibrate_virtual, run_station, sigint_as_at_a_terminal
from tests.sweep.fakes import pedal_value


@pytest.fixture
def sweep_home(home: Path) -> Path:
    """A home with a virtual interface profile 'v' and a rig profile 'vpedal' (port virtual)."""
    assert calibrate_virtual(home, "v").returncode == 0
    save_rig(home, virtual_pedal_rig())
    return home


def _plan(home: Path, *extra: str) -> Path:
    out = home / "plan.json"
    r = run_station("plan", "--rig", "vpedal", "--out", str(out), *extra, home=home)
    assert r.returncode == 0, r.stderr
    return out


def _hand_plan(home: Path, knob: str, settings: int, holdout: int = 0) -> Path:
    """A plan made by hand (`--knob`, no rig, anchors first and last)."""
    out = home / "hand.json"
    r = run_station(
        "plan", "--knob", knob, "--settings", str(settings), "--holdout", str(holdout),
        "--anchor-every", "0", "--out", str(out), home=home,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def _sweep_run(plan: Path, out: str, signal_path: Path) -> list[str]:
    """`station sweep run` of `plan` into session `out` on the twin, as a subprocess command."""
    return [
        sys.executable, "-m", "station", "sweep", "run", "--plan", str(plan), "--profile", "v",
        "--rig", "vpedal", "--out", out, "--reamp-dbu", "12", "--input", str(signal_path),
        "--yes",
    ]  # fmt: skip


def _events(session: Path, kind: str) -> list[dict]:
    return [e for e in read_events(session / "journal.jsonl") if e["event"] == kind]


@pytest.mark.slow
def test_sweep_on_the_twin_killed_mid_capture_resumes_with_nothing_lost(
    sweep_home: Path, short_signal: Path
) -> None:
    home = sweep_home
    plan = _plan(home, "--settings", "5", "--holdout", "1", "--anchor-every", "3", "--seed", "4")
    session = home / "captures" / "sw"
    cmd = _sweep_run(plan, "sw", short_signal)
    log = (home / "run.log").open("w")
    proc = subprocess.Popen(cmd, env=dict(os.environ, STATION_HOME=str(home)), stderr=log)
    killed_in: str | None = None
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = sum(e.get("passed", False) for e in _events(session, "checked"))
            partial = list(session.glob(".*.partial")) if session.exists() else []
            if done >= 2 and partial:
                proc.send_signal(signal.SIGKILL)  # mid-capture: the folder is half-written
                killed_in = partial[0].name
                break
            time.sleep(0.01)
    finally:
        proc.wait(timeout=30)
        log.close()
    assert killed_in is not None, (home / "run.log").read_text()[-2000:]
    assert list(session.glob(".*.partial"))  # the half-written capture is still there
    finished = [e["id"] for e in _events(session, "checked") if e["passed"]]
    before = {i: md5_of_file(session / i / "output.wav") for i in finished}

    r = run_station("sweep", "resume", "sw", "--yes", "--json", home=home)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["complete"] and not summary["failed"]
    assert not list(session.glob(".*.partial"))
    assert _events(session, "discarded")[0]["folder"] == killed_in
    # Every setting captured exactly once; the ones finished before the kill untouched.
    sched = json.loads((session / "session.json").read_text())["schedule"]
    assert Counter(e["id"] for e in _events(session, "captured")) == Counter(s["id"] for s in sched)
    assert {i: md5_of_file(session / i / "output.wav") for i in finished} == before

    (session / finished[0] / "report.png").unlink()  # as a kill before the picture leaves it
    r = run_station("sweep", "status", "sw", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert {s["status"] for s in json.loads(r.stdout)["settings"]} == {"done"}
    assert f"{finished[0]}: report.png was missing" in r.stderr
    assert (session / finished[0] / "report.png").stat().st_size > 10_000
    r = run_station("sweep", "export", "sw", "--json", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    dataset = json.loads(Path(out["dataset_path"]).read_text())
    manifest = json.loads(Path(out["manifest_path"]).read_text())
    by_id = {s["id"]: s for s in sched}
    moved = {e["id"]: e for e in _events(session, "moved")}
    # Validation is exactly the plan's holdout settings, training exactly its training ones.
    assert {i["id"] for i in dataset["validation"]} == {
        s["id"] for s in sched if s["role"] == "holdout"
    }
    assert {i["id"] for i in dataset["train"]} == {s["id"] for s in sched if s["role"] == "train"}
    assert (session / dataset["common"]["x_path"]).is_file()
    for item in dataset["train"] + dataset["validation"]:
        assert (session / item["y_path"]).is_file()
        pulses = {int(c): us for c, us in moved[item["id"]]["positions_us"].items()}
        for knob, channel in (("drive", 0), ("tone", 1)):
            value = item["params"][knob]
            assert value == by_id[item["id"]]["knobs"][knob]
            # The virtual pedal's pointer, turned by the twin, shows the value the dataset says.
            assert pedal_value(knob, pulses[channel]) == pytest.approx(value, abs=0.02)
    for snap in manifest["snapshots"]:
        assert all((session / snap[k]).is_file() for k in ("input_path", "output_path"))
        meta = json.loads((session / snap["capture_dir"] / "capture.json").read_text())
        assert meta["knobs"] == snap["knobs"] == by_id[snap["id"]]["knobs"]
        assert meta["switches"] == snap["switches"] == by_id[snap["id"]]["switches"]


@pytest.mark.slow
def test_sweep_by_hand_prompts_with_the_values(sweep_home: Path, short_signal: Path) -> None:
    home = sweep_home
    plan = _hand_plan(home, "gain=0:10", 3, holdout=1)
    settings = json.loads(plan.read_text())["settings"]
    r = run_station(
        "sweep", "run", "--plan", str(plan), "--profile", "v", "--rig", "none", "--out", "hand",
        "--reamp-dbu", "12", "--input", str(short_signal), home=home, stdin="\n" * 20,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for s in settings:
        assert f"Set the gear for {s['id']}: gain={s['knobs']['gain']:g}" in r.stderr
    assert "5 done, 0 failed, 0 left" in r.stdout


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_sweep_bad_input(sweep_home: Path, short_signal: Path) -> None:
    home = sweep_home
    plan = _plan(home, "--settings", "3", "--holdout", "0")
    good = json.loads(plan.read_text())
    no_level = ["--plan", str(plan), "--profile", "v", "--input", str(short_signal), "--yes"]
    outside = json.loads(json.dumps(good))
    outside["settings"][1]["knobs"]["drive"] = 11.0
    unknown = json.loads(json.dumps(good))
    unknown["settings"][1]["knobs"]["gain"] = 1.0
    other_rig = {**good, "rig": "bigrig"}
    cases = [
        (["--rig", "vpedal", "--out", "a"], "needs one"),
        (
            [*["--rig", "vpedal", "--out", "a", "--reamp-dbu", "12"], "--on-drift", "panic"],
            "on-drift",
        ),
        (["--rig", "nosuch", "--out", "a", "--reamp-dbu", "12"], "nosuch"),
        (["--rig", "none", "--out", "../x", "--reamp-dbu", "12"], "name"),
    ]
    for args, fragment in cases:
        r = run_station("sweep", "run", *no_level, *args, home=home)
        assert r.returncode != 0 and fragment in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    for data, fragment in [
        (outside, "outside the printed range"),
        (unknown, "unknown knob"),
        (other_rig, "made for rig 'bigrig'"),
        ("garbage", "not a plan"),
    ]:
        p = _write(home / "bad.json", data)
        r = run_station(
            "sweep", "run", "--plan", str(p), "--profile", "v", "--rig", "vpedal", "--out", "b",
            "--reamp-dbu", "12", "--yes", home=home,
        )  # fmt: skip
        assert r.returncode != 0 and fragment in r.stderr, (fragment, r.stderr)
    (home / "calibration" / "profiles" / "broken.toml").write_text("schema_version = [")
    r = run_station(
        "sweep", "run", "--plan", str(plan), "--profile", "broken", "--rig", "none", "--out",
        "c", "--reamp-dbu", "12", home=home,
    )  # fmt: skip
    assert r.returncode != 0 and "broken" in r.stderr
    r = run_station("sweep", "resume", "nosession", home=home)
    assert r.returncode != 0 and "no sweep session" in r.stderr
    assert not (home / "captures" / "a").exists() and not (home / "captures" / "b").exists()


@pytest.mark.slow
def test_capture_a_level_pack_into_one_folder(sweep_home: Path, short_signal: Path) -> None:
    home = sweep_home
    r = run_station(
        "capture", "--profile", "v", "--reamp-dbu=-6,5.74,11.76", "--out", "pack", "--input",
        str(short_signal), "--yes", "--json", home=home,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert [Path(c["capture_dir"]).name for c in shown] == ["minus6dBu", "5.74dBu", "11.76dBu"]
    metas = [json.loads((Path(c["capture_dir"]) / "capture.json").read_text()) for c in shown]
    assert [m["input_level_dbu"] for m in metas] == [-6.0, 5.74, 11.76]
    # Each capture is calibrated: the send gain moved by exactly the level step.
    gains = [m["playback_gain_db"] for m in metas]
    assert gains[1] - gains[0] == pytest.approx(11.74) and gains[2] - gains[1] == pytest.approx(
        6.02
    )
    assert all(Path(c["capture_dir"]).parent == home / "captures" / "pack" for c in shown)
    r = run_station("capture", "--profile", "v", "--reamp-dbu", "6,loud", "--out", "p2", home=home)
    assert r.returncode != 0 and "not a list of dBu values" in r.stderr
    r = run_station(
        "capture", "--profile", "v", "--reamp-dbu", "1,2", "--out", "pack", "--yes", home=home
    )
    assert r.returncode != 0 and "already exists" in r.stderr


def test_ctrl_c_on_a_sweep_says_how_to_resume(sweep_home: Path, short_signal: Path) -> None:
    home = sweep_home
    plan = _plan(home, "--settings", "4", "--holdout", "1", "--seed", "4")
    session = home / "captures" / "cc"
    cmd = _sweep_run(plan, "cc", short_signal)
    proc = subprocess.Popen(
        cmd,
        env=dict(os.environ, STATION_HOME=str(home)),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_at_a_terminal,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and not _events(session, "moved"):
            time.sleep(0.05)  # the sweep is under way: a setting has been moved to
        assert _events(session, "moved"), "the sweep never moved the rig"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "'station sweep resume cc' goes on from here" in err and "Traceback" not in err
    assert _events(session, "stopped")


def _servo_state(home: Path) -> str | None:
    """The virtual bench's saved servo horns (None while no rig has ever run in `home`)."""
    from station.virtual.pedal import virtual_bench_path

    path = virtual_bench_path(home)
    return path.read_text() if path.is_file() else None


def test_sweep_run_refuses_what_would_fail_before_a_session_or_a_servo_moves(
    sweep_home: Path, short_signal: Path
) -> None:
    home = sweep_home
    plan = _plan(home, "--settings", "2", "--holdout", "0", "--anchor-every", "0")
    before = _servo_state(home)
    cases = [
        (["--reamp-dbu", "40", "--input", str(short_signal)], "would clip the send"),
        (["--reamp-dbu", "12", "--input", str(plan)], "as audio"),
    ]
    for extra, fragment in cases:
        r = run_station(
            "sweep", "run", "--plan", str(plan), "--profile", "v", "--rig", "vpedal", "--out",
            "night", *extra, "--yes", home=home,
        )  # fmt: skip
        assert r.returncode != 0 and fragment in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr
        # No session: the name is not taken, and no servo moved.
        assert not (home / "captures" / "night").exists()
        assert _servo_state(home) == before
        r = run_station("sweep", "resume", "night", home=home)
        assert r.returncode != 0 and "no sweep session" in r.stderr


def test_a_plan_that_leaves_rig_controls_alone_needs_yes(
    sweep_home: Path, short_signal: Path
) -> None:
    home = sweep_home
    plan = _hand_plan(home, "drive=0:10", 3, holdout=1)
    r = run_station(
        "sweep", "run", "--plan", str(plan), "--profile", "v", "--rig", "vpedal", "--out",
        "alone", "--reamp-dbu", "12", "--input", str(short_signal), home=home, stdin="\n" * 5,
    )  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "sets only drive" in r.stderr and "tone, boost" in r.stderr
    assert "--yes" in r.stderr
    assert not (home / "captures" / "alone").exists()


@pytest.mark.slow
def test_a_plan_no_parametric_model_could_come_from_needs_yes(
    sweep_home: Path, short_signal: Path
) -> None:
    # The tester's night: four settings, none held out; training refused it the morning after.
    home = sweep_home
    plan = _plan(home, "--settings", "4", "--holdout", "0", "--anchor-every", "0")
    before = _servo_state(home)
    args = [
        "sweep", "run", "--plan", str(plan), "--profile", "v", "--rig", "vpedal", "--out",
        "od-night", "--reamp-dbu", "12", "--input", str(short_signal),
    ]  # fmt: skip
    r = run_station(*args, home=home, stdin="\n" * 5)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: a parametric model of this sweep would be refused: it has 4 training and 0 " \
        "held-out setting(s)" in r.stderr  # fmt: skip
    hint = r.stderr.split("hint: ", 1)[1]
    assert "holds one setting out" in hint and "station plan" in hint and "--yes" in hint
    assert not (home / "captures" / "od-night").exists() and _servo_state(home) == before
    # With --yes it is swept (for one model per setting), the question said on the way.
    r = run_station(*args, "--yes", "--json", home=home)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Sweep this plan anyway?" in r.stderr
    assert json.loads(r.stdout)["complete"]


def test_a_sweep_that_would_ask_with_its_input_ended_says_so_in_one_line(
    sweep_home: Path, short_signal: Path
) -> None:
    # The tester's script: no --yes, stdin closed. The first question (patch the gear) came
    # after the session was made and the servos moved, and ended in an EOFError traceback.
    home = sweep_home
    plan = _plan(home, "--settings", "3", "--holdout", "1", "--anchor-every", "0")
    before = _servo_state(home)
    args = [
        sys.executable, "-m", "station", "sweep", "run", "--plan", str(plan), "--profile", "v",
        "--rig", "vpedal", "--out", "od-night", "--reamp-dbu", "12", "--input",
        str(short_signal),
    ]  # fmt: skip
    env = dict(os.environ, STATION_HOME=str(home))
    for stdin in (subprocess.DEVNULL, "closed pipe"):
        r = subprocess.run(
            args,
            stdin=stdin if stdin != "closed pipe" else None,
            input="" if stdin == "closed pipe" else None,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.splitlines() == [
            "error: no answer: the input ended (not a terminal, or closed) where Enter was "
            "awaited",
            "hint: run it on a terminal to answer, or add --yes to go on without asking",
        ]
        assert not (home / "captures" / "od-night").exists() and _servo_state(home) == before
