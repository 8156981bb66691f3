"""A JACK client that stands in for the reamp path between the station's send and return.

It copies its input to its output with a known gain and extra delay (or a
custom `process(block)`). Like an interface whose driver moves its latency each
time a stream opens, it can add a per-stream shift (whole samples, cycling
through `shifts`) to the reamp path and to a timing loopback pair (station
output `timing_out` → station input `timing_in`) alike, so a timing reference
sees what the reamp path suffers. It keeps the station's PortAudio ports wired:
PortAudio connects new ports to system:* just after registering them, so a
thread woken by JACK's registration/connection callbacks re-asserts the
wiring (JACK must not be called from inside those callbacks). Ports are
matched by rank, because PortAudio's port numbers keep growing across streams.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import numpy as np


def _rank(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else 0


class DelayLine:
    """A whole-sample delay that may change between blocks; no allocation per block."""

    def __init__(self, most_samples: int, blocksize: int) -> None:
        self._most = most_samples
        self._line = np.zeros(most_samples + blocksize * 4, dtype=np.float32)

    def process(self, x: np.ndarray, delay: int, gain: float, out: np.ndarray) -> None:
        """Write `x` delayed by `delay` samples and scaled by `gain` into `out`."""
        m, frames, line = self._most, len(x), self._line
        line[:m] = line[frames : frames + m]
        line[m : m + frames] = x
        np.multiply(line[m - delay : m - delay + frames], gain, out=out)


class JackGear:
    """Reamp path in JACK: station send channel → gain, delay → station return channel,
    plus an optional timing loopback; both shifted per stream by `shifts`."""

    def __init__(
        self,
        *,
        gain: float = 0.5,
        delay_samples: int = 100,
        send_channel: int = 1,
        return_channel: int = 1,
        timing_out: int = 0,
        timing_in: int = 0,
        shifts: tuple[int, ...] = (),
        station_client: str = "PortAudio",
        process: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        import jack

        self.gain = gain
        self.delay_samples = delay_samples
        self.send_channel = send_channel
        self.return_channel = return_channel
        self.timing_out = timing_out
        self.timing_in = timing_in
        self.shifts = shifts
        self.shift = 0
        self.streams = 0  # station streams seen (each gets the next shift)
        self._stream_id = ""
        self._prefix = station_client
        self._custom = process
        self.client = jack.Client("station-test-gear", no_start_server=True)
        self.inport = self.client.inports.register("in")
        self.outport = self.client.outports.register("out")
        self.timing = bool(timing_out and timing_in)
        if self.timing:
            self.tinport = self.client.inports.register("timing_in")
            self.toutport = self.client.outports.register("timing_out")
        most = delay_samples + max(shifts, default=0)
        self._line = DelayLine(most, self.client.blocksize)
        self._tline = DelayLine(max(shifts, default=0), self.client.blocksize)
        self._wake = threading.Event()
        self._quit = threading.Event()
        self.rewires = 0
        self.client.set_process_callback(self._process)
        self.client.set_port_registration_callback(
            lambda *_: self._wake.set(), only_available=False
        )
        self.client.set_port_connect_callback(lambda *_: self._wake.set(), only_available=False)
        self._thread = threading.Thread(
            target=self._keep_wired, name="jack-gear-wiring", daemon=True
        )

    def _process(self, frames: int) -> None:
        x = self.inport.get_array()
        if self._custom is not None:
            self.outport.get_array()[:] = self._custom(x)
            return
        shift = self.shift
        self._line.process(x, self.delay_samples + shift, self.gain, self.outport.get_array())
        if self.timing:
            self._tline.process(self.tinport.get_array(), shift, 1.0, self.toutport.get_array())

    def __enter__(self) -> JackGear:
        self.client.activate()
        self._thread.start()
        self._wake.set()  # wire whatever already exists
        return self

    def __exit__(self, *_exc: object) -> None:
        self._quit.set()
        self._wake.set()
        self._thread.join(2.0)
        self.client.deactivate()
        self.client.close()

    def _keep_wired(self) -> None:
        while not self._quit.is_set():
            # Sleep until JACK reports a port or connection change; the timeout only
            # bounds how long a missed wake-up could leave the wiring wrong.
            if not self._wake.wait(2.0):
                continue
            self._wake.clear()
            if self._quit.is_set():
                return
            try:
                self._wire()
            except Exception:  # ports can vanish mid-way as streams close; retry next wake
                continue

    def _wire(self) -> None:
        c = self.client
        outs = sorted(
            (
                p
                for p in c.get_ports(is_audio=True, is_output=True)
                if p.name.startswith(self._prefix)
            ),
            key=lambda p: _rank(p.name),
        )
        ins = sorted(
            (
                p
                for p in c.get_ports(is_audio=True, is_input=True)
                if p.name.startswith(self._prefix)
            ),
            key=lambda p: _rank(p.name),
        )
        if len(outs) < self.send_channel or len(ins) < self.return_channel:
            return
        if outs[0].name != self._stream_id:  # a new stream: the "driver" moves its latency
            self._stream_id = outs[0].name
            self.shift = self.shifts[self.streams % len(self.shifts)] if self.shifts else 0
            self.streams += 1
        # station output → our input, and our output → station input, by rank; the timing
        # pair only in streams that have those channels
        wanted = {(outs[self.send_channel - 1].name, self.inport.name)}
        wanted.add((self.outport.name, ins[self.return_channel - 1].name))
        if self.timing and len(outs) >= self.timing_out and len(ins) >= self.timing_in:
            wanted.add((outs[self.timing_out - 1].name, self.tinport.name))
            wanted.add((self.toutport.name, ins[self.timing_in - 1].name))
        for port in outs:
            for other in c.get_all_connections(port):
                if (port.name, other.name) not in wanted:
                    c.disconnect(port, other)
        for port in ins:
            for other in c.get_all_connections(port):
                if (other.name, port.name) not in wanted:
                    c.disconnect(other, port)
        for src, dst in wanted:
            if dst not in {p.name for p in c.get_all_connections(src)}:
                c.connect(src, dst)
        self.rewires += 1


def wait_for_a_quiet_server(timeout_s: float = 300.0) -> None:
    """Wait until no other test's gear or station is on the JACK server: on a server shared
    by several test runs, gears matching 'PortAudio*' ports would wire each other's streams."""
    import os
    import subprocess
    import time

    env = dict(os.environ, JACK_NO_START_SERVER="1")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ports = subprocess.run(
            ["jack_lsp"], env=env, capture_output=True, text=True, timeout=10
        ).stdout.split()
        if not any(p.startswith(("station-test-gear", "PortAudio")) for p in ports):
            return
        time.sleep(1.0)


class GearProcess:
    """Runs JackGear in its own small process, so the test runner's garbage collector
    and threads cannot stall its JACK callback; `set_gain` changes it between takes."""

    def __init__(self, **kwargs: object) -> None:
        self._args = [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]

    def __enter__(self) -> GearProcess:
        import os
        import subprocess
        import sys
        from pathlib import Path

        wait_for_a_quiet_server()
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.jack_gear", *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env=dict(os.environ, JACK_NO_START_SERVER="1"),
        )
        self._expect("ready")
        return self

    def _expect(self, word: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith(word):
            raise RuntimeError(f"the JACK gear process said {line!r}, expected {word!r}")
        return line

    def _say(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._expect("ok")

    def set_gain(self, gain: float) -> None:
        """Change the gear's gain (takes effect at the next JACK period)."""
        self._say(f"gain {gain}")

    @property
    def streams(self) -> int:
        """How many station streams the gear has seen (each one shifted anew)."""
        return int(self._say("streams").split()[1])

    @property
    def rewires(self) -> int:
        """How many times the gear has (re)asserted its wiring."""
        return int(self._say("rewires").split()[1])

    def __exit__(self, *_exc: object) -> None:
        try:
            self._say("quit")
        finally:
            self.proc.wait(timeout=10)


def main() -> None:
    """Serve one JackGear until told to quit: 'gain G', 'rewires', 'streams', 'quit' on stdin."""
    import argparse
    import gc
    import sys

    p = argparse.ArgumentParser()
    p.add_argument("--gain", type=float, default=0.5)
    p.add_argument("--delay-samples", type=int, default=0)
    p.add_argument("--send-channel", type=int, default=1)
    p.add_argument("--return-channel", type=int, default=1)
    p.add_argument("--timing-out", type=int, default=0)
    p.add_argument("--timing-in", type=int, default=0)
    p.add_argument("--shifts", default="", help="per-stream shifts in samples, e.g. 0,2,1,3")
    a = p.parse_args()
    gc.disable()  # the callback must never wait for a collection
    with JackGear(
        gain=a.gain,
        delay_samples=a.delay_samples,
        send_channel=a.send_channel,
        return_channel=a.return_channel,
        timing_out=a.timing_out,
        timing_in=a.timing_in,
        shifts=tuple(int(v) for v in a.shifts.split(",") if v.strip()),
    ) as gear:
        print("ready", flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                print("ok", flush=True)
                break
            if cmd[0] == "gain":
                gear.gain = float(cmd[1])
                print("ok", flush=True)
            elif cmd[0] == "rewires":
                print(f"ok {gear.rewires}", flush=True)
            elif cmd[0] == "streams":
                print(f"ok {gear.streams}", flush=True)
            else:
                print(f"error unknown command {cmd[0]}", flush=True)


if __name__ == "__main__":
    main()
