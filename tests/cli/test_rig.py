"""`station rig ...` on the virtual twin, driven as a user would: watch the pointer, jog, mark."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from station.rig.profiles import load_rig
from station.virtual.pedal import OD_KNOBS, ServoBench, virtual_bench_path
from tests.conftest import run_station

SPEEDUP = "40"
KNOB = {k.name: k for k in OD_KNOBS}


class Calibrator:
    """Types commands into `station rig calibrate` and reads what it shows after each."""

    def __init__(self, home: Path) -> None:
        env = dict(os.environ, STATION_HOME=str(home), STATION_VIRTUAL_RIG_SPEEDUP=SPEEDUP)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "station",
                "rig",
                "calibrate",
                "--port",
                "virtual",
                "--name",
                "od",
                "--json",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.shown = self._until_prompt()
        self.direction: int | None = None

    def _until_prompt(self) -> str:
        assert self.proc.stderr is not None
        out = b""
        while not out.endswith(b"rig> "):
            byte = self.proc.stderr.read(1)
            assert byte, f"station ended: {out.decode()}"
            out += byte
        return out.decode()

    def type(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self.shown = self._until_prompt()
        return self.shown

    def pointer(self) -> float:
        found = re.findall(r"pointer at (-?[\d.]+)", self.shown)
        assert found, self.shown
        return float(found[-1])

    def pointer_now(self) -> float:
        self.type("where")
        return self.pointer()

    def jog_to(self, mark: float) -> None:
        """Jog until the pointer sits on `mark`, learning which way '+' turns the knob."""
        if self.direction is None:  # learn which way '+' turns this knob (it starts mid-way)
            before = self.pointer_now()
            self.type("++")
            self.direction = 1 if self.pointer() > before else -1
        direction = self.direction
        self.pointer_now()
        for _ in range(200):
            err = (mark - self.pointer()) * direction
            if abs(err) <= 0.035:  # within half a fine step: the eye cannot do better
                return
            step = ("++" if abs(err) > 0.6 else "+") if err > 0 else ("--" if err < -0.6 else "-")
            self.type(step)
        raise AssertionError(f"could not reach {mark}: {self.shown}")

    def finish(self, line: str) -> tuple[int, str, str]:
        out, err = self.proc.communicate(line.encode() + b"\n", timeout=60)
        return self.proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
def test_calibrate_by_eye_then_move_to_any_value(home: Path) -> None:
    cal = Calibrator(home)
    marks = {"drive": [0, 3, 5, 7, 10], "tone": [0, 2, 5, 8, 10], "level": [0, 10]}
    for ch, (name, values) in enumerate(marks.items()):
        cal.type(f"knob {name} {ch}")
        cal.direction = None
        for v in values:
            cal.jog_to(v)
            assert f"{name}: {v} at" in cal.type(f"mark {v}")
        cal.type("done")
    cal.type("switch boost 3")
    cal.type("goto 900")
    assert "boost lever at off" in cal.shown
    cal.type("mark off")
    cal.type("goto 2100")
    assert "boost lever at on" in cal.shown
    cal.type("mark on")
    code, out, err = cal.finish("save")
    assert code == 0, err
    result = json.loads(out)
    assert result["profile_path"].endswith("calibration/rigs/od.toml")

    rig = load_rig(home, "od")
    assert [k.name for k in rig.knobs] == ["drive", "tone", "level"]
    for knob in rig.knobs:
        for value, pulse in knob.points:  # each mark where the pointer really sits on it
            truth = KNOB[knob.name]
            assert truth.value_at_deg(truth.linkage.knob_deg(pulse)) == pytest.approx(
                value, abs=0.04
            )
    # Values between marks come out close too: the monotone curve through the marks.
    res = run_station(
        "rig", "move", "--rig", "od", "drive=8.5", "tone=3.5", "boost=on", "--json", home=home
    )
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    shows = st["virtual_pedal"]
    assert shows["knobs"]["drive"] == pytest.approx(8.5, abs=0.1)
    assert shows["knobs"]["tone"] == pytest.approx(3.5, abs=0.1)
    assert shows["switches"]["boost"] == "on"
    assert st["knobs"]["drive"]["value"] == pytest.approx(8.5, abs=0.01)
    assert st["switches"]["boost"]["position"] == "on"
    # The knobs stay where they were put (the bench persists in the home), and the pedal the
    # virtual capture plays through reads them.
    assert ServoBench(state_path=virtual_bench_path(home)).knob_values()["drive"] == (
        pytest.approx(8.5, abs=0.1)
    )
    res = run_station("rig", "status", "--rig", "od", "--json", home=home)
    assert json.loads(res.stdout)["knobs"]["tone"]["value"] == pytest.approx(3.5, abs=0.01)


def _od_profile(home: Path) -> None:
    from station.rig.profiles import KnobSpec, RigProfile, SwitchSpec, save_rig

    knobs = [
        KnobSpec(
            k.name, k.channel, 0, 10, [(v, round(k.true_pulse_us(v))) for v in range(0, 11, 5)]
        )
        for k in OD_KNOBS
    ]
    save_rig(
        home,
        RigProfile(
            "od",
            "virtual",
            "1.0.0-twin",
            3000.0,
            knobs,
            [SwitchSpec("boost", 3, {"off": 1000, "on": 2000})],
        ),
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["drive=11"], "'drive': 11 is outside its printed range 0–10"),
        (["gain=3"], "no knob or switch 'gain'\nhint: knobs: drive, level, tone; switches: boost"),
        (["drive=5", "drive=6"], "drive is given twice"),
        (["boost=max"], "no position 'max'"),
        (["drive"], "is not NAME=VALUE"),
        (["drive=loud"], "not a number"),
    ],
)
def test_move_refuses_before_touching_the_rig(
    home: Path, settings: list[str], message: str
) -> None:
    _od_profile(home)
    res = run_station("rig", "move", "--rig", "od", *settings, home=home)
    assert res.returncode == 1
    assert message in res.stderr and "hint:" in res.stderr
    assert "connecting" not in res.stderr
    assert not virtual_bench_path(home).exists()  # no servo moved


@pytest.fixture
def fast_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The virtual twin in the `station` subprocesses runs SPEEDUP times real time."""
    monkeypatch.setenv("STATION_VIRTUAL_RIG_SPEEDUP", SPEEDUP)


@pytest.mark.usefixtures("fast_twin")
def test_status_move_detach_json(home: Path) -> None:
    _od_profile(home)
    res = run_station("rig", "move", "--rig", "od", "level=10", "boost=off", "--json", home=home)
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    assert st["moved"] == {"knobs": {"level": 10.0}, "switches": {"boost": "off"}}
    assert st["pulses_us"] == {"2": round(KNOB["level"].true_pulse_us(10)), "3": 1000}
    res = run_station("rig", "detach", "--rig", "od", "--json", home=home)
    assert json.loads(res.stdout)["detached"] is True
    res = run_station("rig", "status", "--rig", "od", home=home)
    assert re.search(r"level\s+10 ", res.stdout), res.stdout


@pytest.mark.usefixtures("fast_twin")
def test_calibrate_keeps_going_after_mistakes_and_saves_nothing_without_save(home: Path) -> None:
    script = "mark 3;knob drive 0;mark five;goto 800;mark 0;goto 1200;mark 5;goto 1000;mark 7;"
    script = (script + "done;fly;").replace(";", "\n")
    res = run_station(
        "rig", "calibrate", "--port", "virtual", "--name", "od", home=home, stdin=script
    )
    assert res.returncode == 1
    assert "no knob or switch chosen" in res.stderr
    assert "'five' is not a number" in res.stderr
    assert "not monotone" in res.stderr
    assert "unknown command 'fly'" in res.stderr
    assert "the input ended before 'save': nothing was written" in res.stderr
    assert not (home / "calibration" / "rigs" / "od.toml").exists()


def test_user_errors_are_one_line(home: Path) -> None:
    res = run_station("rig", "status", "--rig", "nope", home=home)
    assert res.returncode == 1 and "no rig profile 'nope'" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_station("rig", "calibrate", "--port", "/dev/ttyNOPE", "--name", "x", home=home)
    assert res.returncode == 1 and "there is no serial port /dev/ttyNOPE" in res.stderr
    assert "Traceback" not in res.stderr


class Terminal:
    """`station rig calibrate` with a pseudo-terminal on stdin, as a user at the keyboard."""

    def __init__(self, home: Path, speedup: str) -> None:
        self.master, slave = os.openpty()
        env = dict(os.environ, STATION_HOME=str(home), STATION_VIRTUAL_RIG_SPEEDUP=speedup)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station", "rig", "calibrate", "--port=virtual", "--name=x"],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        self.seen = b""

    def until(self, text: bytes, timeout_s: float = 30) -> None:
        import select
        import time

        end = time.monotonic() + timeout_s
        while text not in self.seen and time.monotonic() < end:
            if select.select([self.proc.stderr], [], [], 0.1)[0]:
                self.seen += os.read(self.proc.stderr.fileno(), 4096)  # type: ignore[union-attr]
        assert text in self.seen, self.seen.decode(errors="replace")

    def keys(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        if self.proc.poll() is None:
            self.proc.kill()


def test_arrow_keys_jog_and_escape_stops_and_detaches(home: Path) -> None:
    term = Terminal(home, SPEEDUP)
    try:
        term.until(b"rig> ")
        term.keys(b"knob drive 0\r")
        term.until(b"at 1565 \xc2\xb5s")
        term.keys(b"\x1b[A")  # arrow up: a coarse step, no Enter needed
        term.until(b"at 1615 \xc2\xb5s")
        term.keys(b"\x1b[D")  # arrow left: a fine step down
        term.until(b"at 1610 \xc2\xb5s")
        term.keys(b"\x1b")  # Escape
        term.until(b"halted and detached")
        assert term.proc.wait(timeout=30) == 130
    finally:
        term.close()
    saved = ServoBench(state_path=virtual_bench_path(home))
    assert saved.horn(0) == pytest.approx(1610, abs=1)  # the knob stays where it was left
    assert not (home / "calibration" / "rigs" / "x.toml").exists()


def test_escape_stops_a_move_midway(home: Path) -> None:
    term = Terminal(home, "1")  # real time: 1565 to 2300 µs takes 2.4 s
    try:
        term.until(b"rig> ")
        term.keys(b"knob drive 0\r")
        term.until(b"at 1565 \xc2\xb5s")
        term.keys(b"goto 2300\r")
        term.until(b"moving")  # the live line, with the pointer
        term.keys(b"\x1b")
        term.until(b"halted and detached", timeout_s=5)
        assert term.proc.wait(timeout=10) == 130
    finally:
        term.close()
    assert b"drive pointer at" in term.seen.split(b"moving")[1]
    horn = ServoBench(state_path=virtual_bench_path(home)).horn(0)
    assert horn is not None and 1570 < horn < 2250  # stopped on the way


@pytest.mark.usefixtures("fast_twin")
def test_calibrate_never_replaces_a_profile_unasked_and_keeps_the_old_one(home: Path) -> None:
    _od_profile(home)
    path = home / "calibration" / "rigs" / "od.toml"
    old = path.read_text()
    args = ("rig", "calibrate", "--port", "virtual", "--name", "od")
    res = run_station(*args, home=home, stdin="save\n")
    assert res.returncode == 1 and "a rig profile called 'od' exists" in res.stderr
    assert "--force" in res.stderr and path.read_text() == old
    script = "knob drive 0\ngoto 800\nmark 0\ngoto 2200\nmark 10\nsave\n"
    res = run_station(*args, "--force", home=home, stdin=script)
    assert res.returncode == 0, res.stderr
    assert load_rig(home, "od").knobs[0].points == [(0.0, 800), (10.0, 2200)]
    assert (home / "calibration" / "rigs" / "od.toml.bak").read_text() == old


@pytest.mark.usefixtures("fast_twin")
def test_quit_with_unsaved_controls_asks_first(home: Path) -> None:
    script = "knob drive 0\ngoto 800\nmark 0\nquit\nno\ngoto 2200\nmark 10\nsave\n"
    args = ("rig", "calibrate", "--port", "virtual", "--name", "od")
    res = run_station(*args, home=home, stdin=script)
    assert res.returncode == 0, res.stderr
    assert "quit without saving drive?" in res.stderr
    assert load_rig(home, "od").knobs[0].points == [(0.0, 800), (10.0, 2200)]
    res = run_station(*args, "--force", home=home, stdin="knob tone 1\nquit\nyes\n")
    assert res.returncode == 1 and "nothing saved" in res.stderr
    assert [k.name for k in load_rig(home, "od").knobs] == ["drive"]


def test_a_knob_named_like_a_nam_config_key_is_refused_by_plan(home: Path) -> None:
    res = run_station(
        "plan", "--knob", "delay=0:10", "--settings", "6", "--out", str(home / "p.json"), home=home
    )
    assert res.returncode == 1 and "one of NAM's config keys" in res.stderr
    assert "Traceback" not in res.stderr and not (home / "p.json").exists()
