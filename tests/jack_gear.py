"""A JACK client that stands in for the reamp path between the station's send and return.

It copies its input to its output with a known gain and extra delay (or a
custom `process(block)`), and keeps the station's PortAudio ports wired to it:
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


class JackGear:
    """Reamp path in JACK: station send channel → gain, delay → station return channel."""

    def __init__(
        self,
        *,
        gain: float = 0.5,
        delay_samples: int = 100,
        send_channel: int = 1,
        return_channel: int = 1,
        station_client: str = "PortAudio",
        process: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        import jack

        self.gain = gain
        self.delay_samples = delay_samples
        self.send_channel = send_channel
        self.return_channel = return_channel
        self._prefix = station_client
        self._custom = process
        self.client = jack.Client("station-test-gear", no_start_server=True)
        self.inport = self.client.inports.register("in")
        self.outport = self.client.outports.register("out")
        self._line = np.zeros(delay_samples + self.client.blocksize * 4, dtype=np.float32)
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
        d = self.delay_samples
        line = self._line
        line[:d] = line[frames : frames + d] if d else line[:0]
        line[d : d + frames] = x
        np.multiply(line[:frames], self.gain, out=self.outport.get_array())

    def __enter__(self) -> JackGear:
        self.client.activate()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._quit.set()
        self._wake.set()
        self._thread.join(2.0)
        self.client.deactivate()
        self.client.close()

    def _keep_wired(self) -> None:
        while not self._quit.is_set():
            self._wake.wait(0.2)
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
        send, ret = outs[self.send_channel - 1], ins[self.return_channel - 1]
        for port in outs:
            for other in c.get_all_connections(port):
                if other.name != self.inport.name or port.name != send.name:
                    c.disconnect(port, other)
        for port in ins:
            for other in c.get_all_connections(port):
                if other.name != self.outport.name or port.name != ret.name:
                    c.disconnect(other, port)
        if self.inport.name not in {p.name for p in c.get_all_connections(send)}:
            c.connect(send, self.inport)
        if ret.name not in {p.name for p in c.get_all_connections(self.outport)}:
            c.connect(self.outport, ret)
        self.rewires += 1
