"""Sweep faults: a sweep on the virtual rig survives faults injected at random moments.

The rig is the firmware twin on a pty driven by the real serial driver, the gear the virtual
overdrive, the signal 2 s of guitar-like material. Per seed, one sweep runs with no fault (the
baseline), then one sweep per fault, injected at a moment drawn uniformly from 10–70 % of the
baseline sweep's duration (a fault due after the sweep ended is not counted as injected):

* reset — the rig's board restarts (banner again, positions and attachment forgotten);
* port — the rig's USB cable is pulled and put back after 1 s: the same socket on even seeds,
  another (a new port name, which a simulated user types 0.5 s later) on odd ones;
* audio — the audio interface vanishes mid-stream (the one running, or the next one 0.2–1.5 s
  in) and is back after 1 s;
* stall — a horn jams until a move has stalled on it once: the one a move is turning farthest
  when the fault comes, or a knob's at random between moves (a jam no later move turns that
  knob against is never found, and is not counted as injected);
* kill — the sweep's process gets SIGKILL; `resume_sweep` in a new process goes on (a kill due
  after the sweep had finished is not counted as injected);
* slipped horn — at a setting drawn among those whose move turns a control, the horn of one
  control it turns (drawn) slips on its shaft as the move begins: the servo turns, the rig
  reports success, the knob (or lever) stays. Four ways: it grips again once the horn passes
  where the knob sits (the sweep's move away and back does that, or a later move) or it stays
  slipped for the rest of the night; on the twin with feedback pots (as for the other faults:
  a pot says where the knob is) or without (the pins firmware: only the sound can tell, and
  a move that turns several controls goes one control at a time, a probe after each);
* none (no pots) — no fault, on the twin without pots: what the stepwise moves cost, and
  whether they leave any setting suspect that was fine (run last, so that the moments drawn
  for the other faults stay the same).

Each sweep runs in a child process of this script (`--child`), so a kill is a real SIGKILL and a
resume a new process taking the locks over. While it sweeps, the child notes where every
control physically is as each stream begins and ends: each knob as the horn position that put
it there (not the horn's, when it slipped) and each lever. The table, in Markdown: faults
injected, faults noticed (the journal or the resume says so; a slipped horn: a comparison
flagged it unmoved or a probe heard its control not turn, then a take judged moved was accepted
or it was marked suspect (unmoved); one missed whose setting an anchor's drift left out is
counted apart), settings
captured exactly once, settings the station would train on (train and holdout, done, not
suspect) whose accepted take was recorded with a knob more than 1 µs from its setting's pulse
or a lever elsewhere (must be 0), and anchors accepted so, takes lost (a setting journalled
done without its whole capture folder, or left pending; must be 0), settings failed, settings
left out as suspect (and how many of them were off), and what each fault cost:
how much longer the setting it hit took than the median of the run's other settings (for a
kill, from the last setting done before it to the first done by the resume: the resume's
start-up included), median and worst, and the whole run's wall time less the baseline's
(noisier: the machine's load drifts between runs). Under the table, per row with moves made
one control at a time: how many, their probes and seconds (median, worst, in all). A warm-up
sweep runs first, uncounted.

Run: python benchmarks/sweep_faults.py [--seeds 3] [--settings 4] [--seed 1] [--faults a,b]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
from virtual_bench import calibrated_profile

from station.capture.folder import write_pcm24
from station.devices import open_rig
from station.drivers.base import StreamSpec
from station.drivers.rig import ServoRig
from station.events import Event, SweepProgress, Warning_
from station.interface.profiles import Profile, save_profile
from station.plan.design import KnobRange, PlanRequest, Setting, SwitchChoice, make_plan
from station.rig.motion import rig_model
from station.rig.profiles import save_rig
from station.signal.synth import guitar_material
from station.sweep.journal import SweepState, read_events, replay
from station.sweep.session import SweepOptions, open_session
from station.sweep.start import SweepStart, resume_sweep, start_sweep
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from station.virtual.servos import ServoBench
from station.virtual.twin import VirtualFirmware

SLIPS = {  # the slipped-horn faults: (it stays slipped, the twin has feedback pots)
    "slipped horn: grips again": (False, True),
    "slipped horn: stays": (True, True),
    "slipped horn: grips again (no pots)": (False, False),
    "slipped horn: stays (no pots)": (True, False),
}
CLEAN_NO_POTS = "none (no pots)"  # no fault, on the twin without pots: what stepping costs
# The clean run without pots comes last, so that the moments drawn for the others stay the same.
FAULTS = ("reset", "port", "audio", "stall", "kill", *SLIPS, CLEAN_NO_POTS)
OUTAGE_S = 1.0  # how long a pulled cable stays out
SPEEDUP = 20.0  # the twin's simulated seconds per wall second
SLEW = 600.0  # µs/s
RATE = 48000


def tiny_signal(path: Path, seconds: float = 2.0) -> Path:
    """A custom reamp file: `seconds` of guitar-like material (a take of it lasts ~5 s)."""
    g = guitar_material(seconds, RATE, np.random.default_rng(5))
    write_pcm24(path, 0.6 * g / np.max(np.abs(g)), RATE)
    return path


class Witness:
    """The virtual interface, appending where every control physically was as each stream
    began and ended (and when it ended, wall clock) to a JSONL file, fsynced: a killed
    process's notes stay."""

    def __init__(self, vrig: VirtualRig, path: Path) -> None:
        self.inner, self.vrig, self.path = vrig.interface, vrig, path
        self.name, self.host_api = self.inner.name, self.inner.host_api
        self.running = False  # a stream is running now

    def validate(self, spec: StreamSpec) -> None:
        """As the virtual interface."""
        self.inner.validate(spec)

    def available(self) -> bool:
        """As the virtual interface."""
        return self.inner.available()

    def _horns(self) -> dict[str, Any]:
        """Where every control physically is: each channel's control (the horn position that
        put it there: not the horn's own when it slipped) and every lever."""
        bench = self.vrig.servos
        assert bench is not None
        at = {str(c): bench.control_us(c) for c in list(bench.horn_us)}
        return {"controls": at, "levers": bench.switch_positions()}

    def run(self, spec, source, sink, *, tail_frames, stop=None):  # type: ignore[no-untyped-def]
        """Note the horns around the virtual stream."""
        start = self._horns()
        self.running = True
        try:
            out = self.inner.run(spec, source, sink, tail_frames=tail_frames, stop=stop)
        finally:
            self.running = False
        note = {"start": start, "end": self._horns(), "t": time.time()}
        with self.path.open("a") as fh:
            fh.write(json.dumps(note) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return out


class FaultBench:
    """The sweep's devices (SweepDevices): the virtual interface behind a Witness, and the
    firmware twin turning the home's servo horns."""

    def __init__(self, home: Path, notes: Path, pots: bool = True) -> None:
        self.home, self.notes, self.pots = home, notes, pots
        self.vrig = VirtualRig(speed=None)
        self.twin: VirtualFirmware | None = None

    def interface(self, profile: Profile, virtual_gear: str | None) -> Witness:
        """The virtual interface with the overdrive, its horns kept in the home."""
        self.vrig.use_gear(virtual_gear or "od")
        self.vrig.keep_servos_in(self.home)
        self.witness = Witness(self.vrig, self.notes)
        return self.witness

    def rig(self, port: str) -> ServoRig:
        """The twin on a pty, opened as 'virtual': feedback firmware (a pot on every channel)
        unless the bench was made without pots (the pins firmware: POS says the pulse sent)."""
        pots = None if self.pots else ()
        bench = self.vrig.servos
        self.twin = VirtualFirmware(bench=bench, speedup=SPEEDUP, feedback_channels=pots)
        return open_rig("virtual", twin=self.twin)

    def knobbed_gear(self, controls: Collection[str]) -> str | None:
        """The overdrive."""
        return "od"


def slip_for(schedule: list[Setting], bench: ServoBench, seed: int) -> dict[str, Any]:
    """Where a horn slips: at a setting drawn from the schedule's that turn a control (from
    the setting before it, or the first from where the horns are), on a control drawn among
    those its move turns."""
    rng = np.random.default_rng([seed, 20])
    rp = virtual_pedal_rig(slew_us_per_s=SLEW)
    turns: list[tuple[Setting, list[int]]] = []
    was: dict[int, float | None] = {ch: bench.horn(ch) for ch in range(16)}
    for s in schedule:
        to = rp.pulses_for(s.knobs, s.switches)
        turned = [ch for ch, us in to.items() if (w := was.get(ch)) is None or abs(w - us) > 1]
        if turned:
            turns.append((s, sorted(turned)))
        was.update(to)
    at, turned = turns[int(rng.integers(len(turns)))]
    channel = int(rng.choice(turned))
    names = {c.channel: c.name for c in (*rp.knobs, *rp.switches)}
    return {"id": at.id, "channel": channel, "control": names[channel]}


def child(work: Path, name: str, fault: str, at_s: float, seed: int, resume: bool) -> int:
    """One sweep (or its resume) in this process, with `fault` injected `at_s` in (a slipped
    horn: as the sweep reaches the setting slip_for draws)."""
    home = work / "home"
    notes = work / f"{name}.streams.jsonl"
    said_path = work / f"{name}.said.json"
    stays, pots = SLIPS.get(fault, (False, fault != CLEAN_NO_POTS))
    bench = FaultBench(home, notes, pots=pots)
    said: list[str] = []
    slip: dict[str, Any] = {}  # the slip to make, once the sweep is to move to its setting

    def emit(e: Event) -> None:
        if isinstance(e, Warning_):
            said.append(str(e.text))
        if isinstance(e, SweepProgress) and slip.get("id") == e.setting_id and not slip["made"]:
            assert bench.vrig.servos is not None  # the first progress comes before the move
            bench.vrig.servos.slip(slip["channel"], persistent=stays)
            slip["made"] = True

    if resume:
        runner = resume_sweep(home, name, bench, bench.vrig.act_on, emit=emit, unattended=True)
    else:
        start = SweepStart(
            plan_path=work / f"plan{seed}.json",
            profile_name="bench",
            rig_name="vpedal",
            out=name,
            reamp_path=work / "tiny.wav",
            options=SweepOptions(reamp_dbu=12.0, retakes=1),
        )
        runner = start_sweep(home, start, bench, bench.vrig.act_on, emit=emit, unattended=True)
    runner.faults.poll_s = 0.1
    if fault in SLIPS:
        assert bench.vrig.servos is not None
        slip.update(slip_for(runner.session.schedule, bench.vrig.servos, seed), made=False)
    twin = bench.twin
    assert twin is not None
    new_port: list[str] = []
    runner.faults.offer = lambda t: (time.sleep(t), new_port[0] if new_port else None)[1]

    fired: list[float] = []

    def inject() -> None:
        fired.append(time.monotonic())
        if fault == "reset":
            twin.restart()
        elif fault == "port":

            def back() -> None:
                name = twin.plug(new_name=seed % 2 == 1)
                if seed % 2 == 1:  # another socket: the user reads the name and types it
                    threading.Timer(0.5, lambda: new_port.append(name)).start()

            twin.unplug()
            threading.Timer(OUTAGE_S, back).start()
        elif fault == "audio":  # mid-stream: this one, or the next one 0.2–1.5 s in
            bench.vrig.audio_outage_s = OUTAGE_S
            if bench.witness.running:
                bench.vrig.unplug_audio()
            else:
                bench.vrig.audio_lost_at_s = float(np.random.default_rng(seed).uniform(0.2, 1.5))
        elif fault == "stall":
            moving = twin.moving()
            knob = int(np.random.default_rng(seed).integers(0, 2))
            twin.jam(max(moving, key=lambda ch: moving[ch]) if moving else knob, moves=1)

    timer = threading.Timer(at_s, inject)
    if fault in ("reset", "port", "audio", "stall") and not resume:
        timer.start()
    print("RUNNING", flush=True)
    t0 = time.monotonic()
    summary = runner.run(resumed=resume)
    run_s = time.monotonic() - t0
    timer.cancel()  # a fault due after the sweep ended is not injected
    record = {"warnings": said, "stalls": twin.stalls, "fired": bool(fired), "slip": slip}
    said_path.write_text(json.dumps(record))
    print(json.dumps({"complete": summary.complete, "run_s": run_s}), flush=True)
    return 0


def _child_cmd(work: Path, name: str, fault: str, at_s: float, seed: int, resume: bool) -> list:
    cmd = [sys.executable, __file__, "--child", str(work), name, fault, f"{at_s:.3f}", str(seed)]
    return cmd + (["--resume"] if resume else [])


def _finished(done: subprocess.CompletedProcess[bytes]) -> float:
    """The sweep's own seconds (run start to end) a child reported; RuntimeError if it failed."""
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-2000:])
    return float(json.loads(done.stdout.decode().splitlines()[-1])["run_s"])


def run_one(work: Path, name: str, fault: str, at_s: float, seed: int) -> tuple[float, float]:
    """Sweep session `name` with `fault` `at_s` after the sweep began, in child processes:
    (wall seconds in all, the sweep's own seconds)."""
    t0 = time.monotonic()
    if fault != "kill":
        cmd = _child_cmd(work, name, fault, at_s, seed, False)
        run_s = _finished(subprocess.run(cmd, capture_output=True))
        return time.monotonic() - t0, run_s
    cmd = _child_cmd(work, name, fault, at_s, seed, False)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:  # the sweep has begun: the kill comes `at_s` after
        if line.strip() == b"RUNNING":
            break
    try:
        proc.wait(timeout=at_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()
    cmd = _child_cmd(work, name, fault, at_s, seed, True)
    run_s = _finished(subprocess.run(cmd, capture_output=True))
    return time.monotonic() - t0, run_s


def accepted_takes(events: list) -> dict[str, float]:
    """Setting id → when (journal time, s) the take it was last accepted with was journalled:
    the last 'captured' or 'recovered' before its last 'checked' that passed."""
    last: dict[str, float] = {}
    accepted: dict[str, float] = {}
    for e in events:
        at = dt.datetime.fromisoformat(e["time"]).timestamp()
        if e["event"] in ("captured", "recovered"):
            last[e["id"]] = at
        elif e["event"] == "checked" and e.get("passed") and e["id"] in last:
            accepted[e["id"]] = last[e["id"]]
    return accepted


def off_their_setting(work: Path, name: str, session: Any, events: list) -> dict[str, int]:
    """The settings whose accepted take was recorded with a control away from its setting, by
    the virtual bench's truth (where the knob physically was, not where its horn or the rig
    said): a knob more than 1 µs (the horn position that put it there) from the setting's
    pulse, or a lever elsewhere, as the take's stream began or ended (the last stream that
    ended before the take was journalled). Counted among the settings the station trains on
    ('trained': train and holdout settings done, not suspect), among its anchors ('anchor':
    done, not suspect: the drift reference and a snapshot model's capture) and among its
    suspects ('suspect': left out)."""
    notes = work / f"{name}.streams.jsonl"
    streams = [json.loads(x) for x in notes.read_text().splitlines()] if notes.exists() else []
    state = replay(events, [s.id for s in session.schedule])
    rp = virtual_pedal_rig(slew_us_per_s=SLEW)
    off = {"trained": 0, "anchor": 0, "suspect": 0}
    for sid, at in accepted_takes(events).items():
        if state.status[sid] != "done":
            continue
        s = session.setting(sid)
        knobs = rp.pulses_for(s.knobs)
        before = [x for x in streams if x["t"] <= at + 0.001]
        seen = [before[-1][k] for k in ("start", "end")] if before else []
        wrong = not seen or any(
            any(abs((x["controls"].get(str(ch)) or 0.0) - us) > 1 for ch, us in knobs.items())
            or any(x["levers"].get(n) != p for n, p in s.switches.items())
            for x in seen
        )
        kind = "anchor" if s.role == "anchor" else "trained"
        off["suspect" if sid in state.suspect else kind] += wrong
    return off


def lost_takes(session: Any, events: list) -> int:
    """Settings left pending, or journalled done without their whole capture folder."""
    status = {s.id: "pending" for s in session.schedule}
    for e in events:
        if e["event"] == "checked" and e.get("passed"):
            status[e["id"]] = "done"
        elif e["event"] == "failed":
            status[e["id"]] = "failed"
    whole = {
        i: all((session.folder / i / f).is_file() for f in ("capture.json", "output.wav"))
        for i in status
    }
    return sum(v == "pending" or (v == "done" and not whole[i]) for i, v in status.items())


def settings_ended(events: list) -> list[dict]:
    """The journal's ends of settings: each 'checked' that passed and each 'failed'."""
    ends = [e for e in events if e["event"] in ("checked", "failed") and e.get("id")]
    return [e for e in ends if e["event"] == "failed" or e.get("passed")]


def hit_by(events: list, fault: str) -> str | None:
    """The setting a fault hit, from the journal: where the reset, the lost device or the stall
    was journalled; for a kill, the first setting the resume finished."""
    ends, resumed = settings_ended(events), False
    for e in events:
        resumed = resumed or (fault == "kill" and e["event"] == "resumed")
        if resumed:
            found = e in ends
        else:
            found = e["event"] in ("reset", "device_lost") or bool(
                e["event"] == "moved" and e.get("stalled")
            )
        if found:
            return str(e["id"])
    return None


def fault_cost(events: list, hit: str | None) -> float | None:
    """The seconds a fault cost, from the journal: how much longer the setting it `hit` took
    (from the previous setting's end to its own) than the median of the run's other settings.
    Measured within one run, so the machine's load drifting between runs does not count. The
    first setting (its first move starts from nowhere known) is left out of the median."""
    ends = settings_ended(events)
    times = [dt.datetime.fromisoformat(e["time"]).timestamp() for e in ends]
    took = {e["id"]: b - a for e, a, b in zip(ends[1:], times[:-1], times[1:], strict=True)}
    if hit not in took:
        return None
    others = [t for i, t in took.items() if i != hit]
    return took[hit] - statistics.median(others) if others else None


def slip_noticed(events: list, state: SweepState, sid: str, control: str) -> bool:
    """Whether the sweep caught the horn that slipped at `sid`: a comparison flagged it
    unmoved, or a probe of a stepwise move heard `control` not turn, then either a take
    judged moved was accepted, or it was marked suspect (unmoved)."""
    compared = [e for e in events if e["event"] == "compared" and e["id"] == sid]
    probed = [e for e in events if e["event"] == "probed" and e["id"] == sid]
    heard_not = any(e.get("control") == control and e.get("unmoved") is True for e in probed)
    if not compared or not (heard_not or any(e.get("unmoved") for e in compared)):
        return False
    if any(
        e["event"] == "suspect" and e.get("reason") == "unmoved" and sid in e["ids"]
        for e in events
    ):
        return sid in state.suspect  # a drift suspect later says 'drift': still left out
    return state.status[sid] == "done" and sid not in state.suspect and not compared[-1]["unmoved"]


def judge(work: Path, name: str, fault: str) -> dict[str, Any]:
    """What became of session `name`: injected, noticed, captured once, wrong position, lost."""
    session = open_session(work / "home" / "captures" / name)
    events = read_events(session.folder / "journal.jsonl")
    ids = [s.id for s in session.schedule]
    state = replay(events, ids)
    taken = Counter(e["id"] for e in events if e["event"] in ("captured", "recovered"))
    said_path = work / f"{name}.said.json"
    said = json.loads(said_path.read_text()) if said_path.exists() else {}
    slip = said.get("slip") or {}
    lost_dev = [e.get("device") for e in events if e["event"] == "device_lost"]
    by_anchors = False  # a slip the comparison missed, its setting left out after a drift
    if fault in SLIPS:
        made = slip.get("made", False)
        noticed = made and slip_noticed(events, state, slip["id"], slip["control"])
        by_anchors = not noticed and slip.get("id") in state.suspect
    else:
        noticed = {
            "none": False,
            CLEAN_NO_POTS: False,
            "reset": any(e["event"] == "reset" for e in events),
            "port": "rig" in lost_dev,
            "audio": "audio" in lost_dev,
            "stall": any(e.get("stalled") for e in events if e["event"] == "moved"),
            "kill": any("stale lock" in w for w in said.get("warnings", [])),
        }[fault]
    # A jam is only a fault once a move turns its knob against it.
    clean = fault in ("none", CLEAN_NO_POTS)
    injected = said.get("stalls", 0) if fault == "stall" else int(not clean)
    if fault in ("reset", "port", "audio") and not said.get("fired"):
        injected = 0  # it came after the sweep had ended
    resumed = [i for i, e in enumerate(events) if e["event"] == "resumed"]
    if fault == "kill" and any(e["event"] == "finished" for e in events[: resumed[0]]):
        injected = 0  # the sweep had finished before the kill was due
    if fault in SLIPS:
        injected = int(bool(slip.get("made")))
    off = off_their_setting(work, name, session, events)
    return {
        "injected": injected,
        "noticed": noticed,
        "cost_s": fault_cost(events, slip.get("id") if fault in SLIPS else hit_by(events, fault)),
        "once": sum(taken[i] == 1 for i in ids),
        "settings": len(ids),
        "wrong": off["trained"],
        "anchors_off": off["anchor"],
        "by_anchors": by_anchors,
        "lost": lost_takes(session, events),
        "failed": len({e["id"] for e in events if e["event"] == "failed"}),
        "suspect": len(state.suspect),
        "suspect_off": off["suspect"],
        "slip": slip,
        "stepwise": stepwise(events),
    }


def stepwise(events: list) -> list[tuple[int, float]]:
    """The moves made one control at a time (no pots): (probes, seconds) of each."""
    return [
        (int(e["probes"]), float(e["stepwise_s"]))
        for e in events
        if e["event"] == "moved" and e.get("probes") is not None
    ]


def setup(work: Path, seeds: list[int], settings: int) -> None:
    """The home (profile, rig profile), the signal and one plan per seed."""
    home = work / "home"
    (home / "captures").mkdir(parents=True)
    vrig = VirtualRig(speed=None)
    vrig.use_gear("od")
    save_profile(home, calibrated_profile(vrig, "bench"))
    rp = virtual_pedal_rig(slew_us_per_s=SLEW)
    save_rig(home, rp)
    tiny_signal(work / "tiny.wav")
    for seed in seeds:
        req = PlanRequest(
            knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rp.knobs),
            switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in rp.switches),
            settings=settings,
            holdout=1,
            anchor_every=3,
            seed=seed,
            rig=rp.name,
            capture_s=6.0,
        )
        plan = make_plan(req, rig_model(rp))
        (work / f"plan{seed}.json").write_text(json.dumps(plan.to_json()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="the first seed")
    parser.add_argument("--faults", help="the faults to inject, comma-separated (default: all)")
    parser.add_argument("--child", nargs=5, metavar=("WORK", "NAME", "FAULT", "AT_S", "SEED"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.child:
        work, name, fault, at_s, seed = args.child
        sys.exit(child(Path(work), name, fault, float(at_s), int(seed), args.resume))
    t_start = time.monotonic()
    seeds = list(range(args.seed, args.seed + args.seeds))
    work = Path(tempfile.mkdtemp(prefix="station-faults-bench-"))
    setup(work, seeds, args.settings)
    faults = FAULTS if not args.faults else [f for f in FAULTS if f in args.faults.split(",")]
    shown = sorted(faults, key=lambda f: f != CLEAN_NO_POTS)  # beside the baseline
    rows: dict[str, list[dict[str, Any]]] = {f: [] for f in ("none", *shown)}
    run_one(work, "warm-up", "none", 0.0, seeds[0])  # caches filled: baselines are fair
    for seed in seeds:
        rng = np.random.default_rng(seed)
        base, base_run = run_one(work, f"s{seed}-none", "none", 0.0, seed)
        assert base_run > 0
        rows["none"].append(judge(work, f"s{seed}-none", "none"))
        for fault in faults:
            at_s = float(rng.uniform(0.1, 0.7)) * base_run
            name = f"s{seed}-" + "-".join(re.findall(r"[a-z]+", fault))  # a session's name
            wall, _ = run_one(work, name, fault, at_s, seed)
            rows[fault].append(judge(work, name, fault) | {"wall_s": wall - base})
            cost = rows[fault][-1]["cost_s"]
            said = "not hit" if cost is None else f"{cost:+.1f} s"
            if fault in SLIPS:  # it slips at a setting, not at a moment
                slip, found = rows[fault][-1]["slip"], rows[fault][-1]
                said += f", {'noticed' if found['noticed'] else 'NOT noticed'}"
                said += f", {found['wrong']} wrong, {found['suspect']} suspect"
                print(f"seed {seed}: {fault} at {slip['id']} ({slip['control']}): {said}",
                      file=sys.stderr)  # fmt: skip
                continue
            print(f"seed {seed}: {fault} at {at_s:.1f} s: {said}", file=sys.stderr)
    print(
        f"{len(seeds)} seeds × {args.settings} settings (+ anchors, 1 held out); twin at "
        f"{SPEEDUP:g}× real time, slew {SLEW:g} µs/s; audio as fast as the CPU allows\n"
    )
    print(
        "| fault | injected | noticed | captured exactly once | at the wrong position "
        "(anchors) | takes lost | failed settings | suspect (of them off) "
        "| cost: median (worst); whole run vs baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fault, found in rows.items():
        injected = sum(r["injected"] for r in found)
        clean = fault in ("none", CLEAN_NO_POTS)
        noticed = "–" if clean else str(sum(r["noticed"] for r in found))
        if any(r["by_anchors"] for r in found):
            noticed += f" (+{sum(r['by_anchors'] for r in found)} by the anchors)"
        once = f"{sum(r['once'] for r in found)} of {sum(r['settings'] for r in found)}"
        costs = [r["cost_s"] for r in found if r["cost_s"] is not None]
        cost = f"{statistics.median(costs):.1f} s ({max(costs):.1f} s)" if costs else "–"
        if fault != "none":
            walls = [r["wall_s"] for r in found]
            cost += f"; run {statistics.median(walls):+.1f} s"
        print(
            f"| {fault} | {injected} | {noticed} | {once} | {sum(r['wrong'] for r in found)} "
            f"({sum(r['anchors_off'] for r in found)}) "
            f"| {sum(r['lost'] for r in found)} | {sum(r['failed'] for r in found)} "
            f"| {sum(r['suspect'] for r in found)} ({sum(r['suspect_off'] for r in found)}) "
            f"| {cost} |"
        )
    print()
    for fault, found in rows.items():
        moves = [m for r in found for m in r["stepwise"]]
        if not moves:
            continue
        settings = sum(r["settings"] for r in found)
        probes = statistics.median(p for p, _ in moves)
        took = [t for _, t in moves]
        print(
            f"{fault}: {len(moves)} moves stepwise ({settings} settings), "
            f"median {probes:g} probes and {statistics.median(took):.2f} s a move "
            f"(worst {max(took):.2f} s), {sum(took):.1f} s in all"
        )
    print(f"\n{time.monotonic() - t_start:.0f} s in all; work folder {work}")


if __name__ == "__main__":
    main()
