"""A sweep on the virtual rig driven through the real serial driver and the firmware twin, with
the horns' truth noted during every stream, so fault tests can check where the knobs really
were when each take was recorded."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.devices import open_rig
from station.drivers.base import StreamSpec
from station.events import Event, Warning_
from station.plan.adaptive import make_adaptive_plan
from station.plan.adaptive_spec import AdaptiveSpec
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file
from station.rig.motion import rig_model
from station.sweep.journal import read_events
from station.sweep.positioner import RigPositioner
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions, create_session, open_session
from station.virtual.pedal import virtual_pedal_rig
from station.virtual.rig import VirtualRig
from station.virtual.twin import VirtualFirmware
from tests.conftest import calibrated_profile
from tests.sweep_fixture import short_input


class HornWitness:
    """The virtual interface, noting where every horn was as each stream began and ended, and
    calling `on_stream(n)` (a fault to inject) as the n-th stream of the sweep begins."""

    def __init__(self, vrig: VirtualRig) -> None:
        self.inner = vrig.interface
        self.vrig = vrig
        self.name, self.host_api = self.inner.name, self.inner.host_api
        # Per stream: the horns as it began, as it ended, and when it ended (wall clock, s).
        self.streams: list[tuple[dict[int, float], dict[int, float], float]] = []
        self.on_stream: Callable[[int], None] = lambda _n: None

    def validate(self, spec: StreamSpec) -> None:
        """As the virtual interface."""
        self.inner.validate(spec)

    def available(self) -> bool:
        """As the virtual interface."""
        return self.inner.available()

    def horns(self) -> dict[int, float]:
        """Where each horn of the bench is now (µs)."""
        assert self.vrig.servos is not None
        return dict(self.vrig.servos.horn_us)

    def run(self, spec, source, sink, *, tail_frames, stop=None):  # type: ignore[no-untyped-def]
        """Note the horns, inject the fault for this stream, run the virtual stream."""
        self.on_stream(len(self.streams))
        start = self.horns()
        out = self.inner.run(spec, source, sink, tail_frames=tail_frames, stop=stop)
        self.streams.append((start, self.horns(), time.time()))
        return out


class TwinSweep:
    """The virtual overdrive on the servo bench, its twin on a pty, a session of `settings`
    settings (no anchors) on a 2 s signal; `events` and `warnings` what the runner said."""

    def __init__(
        self,
        home: Path,
        *,
        settings: int = 3,
        speedup: float = 20.0,
        slew: float = 600.0,
        holdout: int = 0,
        anchor_every: int = 0,
        adaptive: AdaptiveSpec | None = None,
    ) -> None:
        self.home = home
        self.signal = short_input(home / "tiny.wav", 2.0)
        self.vrig = VirtualRig(speed=None)
        self.vrig.use_gear("od")
        self.profile = calibrated_profile(self.vrig, "p")
        self.rp = virtual_pedal_rig(slew_us_per_s=slew)
        self.speedup = speedup
        self.connect()
        self.iface = HornWitness(self.vrig)
        req = PlanRequest(
            knobs=tuple(KnobRange(k.name, k.min, k.max) for k in self.rp.knobs),
            switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in self.rp.switches),
            settings=settings,
            holdout=holdout,
            anchor_every=anchor_every,
            seed=4,
            rig=self.rp.name,
            capture_s=5.0,
            adaptive=adaptive,
        )
        plan_path = home / "plan.json"
        make = make_adaptive_plan if adaptive else make_plan
        plan_path.write_text(json.dumps(make(req, rig_model(self.rp)).to_json()))
        self.session = create_session(
            home / "captures" / "tw",
            plan_path,
            profile=self.profile,
            rig_name=self.rp.name,
            rig_profile=self.rp,
            reamp={"path": str(self.signal), "md5": md5_of_file(self.signal)},
            options=SweepOptions(reamp_dbu=12.0, retakes=0),
            anchor_every=None,
        )
        self.said: list[Event] = []

    def connect(self) -> None:
        """Power the twin on and open the rig on it (as each run of the station does)."""
        self.twin = VirtualFirmware(bench=self.vrig.servos, speedup=self.speedup)
        # The twin's thread waits for the GIL behind the virtual audio, which runs flat out:
        # on a loaded 2-core machine a 1 s wait for an answer (the driver's default, right
        # for a real board) missed four times in a row (tests/sweep/test_rounds.py).
        self.rig = open_rig("virtual", twin=self.twin, reply_timeout_s=3.0)
        self.rig.set_speed(self.rp.slew_us_per_s)

    @property
    def warnings(self) -> list[str]:
        """Every warning the runner emitted, as plain text."""
        return [str(e.text) for e in self.said if isinstance(e, Warning_)]

    def runner(self, **kw: Any) -> SweepRunner:
        """A runner for the session on the twin (the rig as it is now)."""
        return SweepRunner(
            open_session(self.session.folder),
            self.iface,
            self.profile,
            RigPositioner(self.rig, self.rp),
            self.signal,
            emit=self.said.append,
            confirm=self.vrig.act_on,
            unattended=True,
            **kw,
        )

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        """The journal's events of these kinds (all when none), in order."""
        found = read_events(self.session.folder / "journal.jsonl")
        return [e for e in found if not kinds or e["event"] in kinds]

    def captured(self) -> Counter[str]:
        """How often each setting was journalled as captured."""
        return Counter(e["id"] for e in self.events("captured"))

    def pulses(self, sid: str) -> dict[int, int]:
        """The pulses the rig profile gives setting `sid`."""
        s = open_session(self.session.folder).setting(sid)  # adaptive rounds add settings
        return {int(c): int(u) for c, u in self.rp.pulses_for(s.knobs, s.switches).items()}

    def takes_off_their_setting(self) -> list[str]:
        """Settings whose accepted take was recorded with a horn away from its pulse (> 1 µs)
        as the stream began or ended: must be none. An accepted take is the last stream
        that ended before its 'captured' event."""
        wrong = []
        for e in self.events("captured"):
            at = dt.datetime.fromisoformat(e["time"]).timestamp()
            start, end, _ = [s for s in self.iface.streams if s[2] <= at + 0.001][-1]
            if any(
                abs(start[ch] - us) > 1 or abs(end[ch] - us) > 1
                for ch, us in self.pulses(e["id"]).items()
            ):
                wrong.append(e["id"])
        return wrong


def on_command(twin: VirtualFirmware, verb: str, n: int, then: Callable[[], None]) -> None:
    """Run `then` (once) just after the board has handled its `n`-th `verb` line: an exact
    point in the protocol, where polling from another thread could come too late."""
    seen = 0

    def hear(line: str) -> None:
        nonlocal seen
        if line.split()[0] == verb:
            seen += 1
            if seen == n:
                then()

    twin.on_line = hear


def when(cond: Callable[[], bool], then: Callable[[], None], timeout_s: float = 60.0) -> None:
    """Run `then` on another thread as soon as `cond()` holds (polled every 5 ms)."""

    def watch() -> None:
        deadline = threading.Event()
        for _ in range(int(timeout_s / 0.005)):
            if cond():
                then()
                return
            deadline.wait(0.005)

    threading.Thread(target=watch, daemon=True).start()
