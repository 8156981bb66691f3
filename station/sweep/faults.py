"""Surviving the night: a rig board that resets, a rig port or an audio interface that goes away.

The sweep hands each fault here. A reset is said in one line and journalled;
the gear is then put back at the setting (every servo slewed, from below) and a
take that may have begun before the reset is discarded, to be taken again. A
device that went away pauses the sweep: one line says what happened and what to
do, then the device is looked for every `poll_s` seconds until it is back (the
rig on the same port, or on a new name the user gives), or the user stops.
Nothing of a discarded take stays under its final name.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..drivers.base import Replugging
from ..drivers.rig import RigLost, RigReset, serial_ports
from ..errors import DeviceLost, RigError, StationError, Stopped
from ..events import DeviceBack, DevicePaused, Emit, StopFlag, Warning_
from ..phrases import Phrase

MAX_RESETS = 3  # resets at one setting before the sweep stops (a supply that sags each move)
POLL_S = 1.0  # how often a device that went away is looked for

# Waits up to the given seconds for a port name the user types; None when none came.
PortOffer = Callable[[float], str | None]
Log = Callable[..., None]


def no_offer(stop: StopFlag | None) -> PortOffer:
    """Nobody types names (unattended): just wait, waking early on a stop request."""

    def offer(timeout_s: float) -> str | None:
        if stop is not None:
            stop.wait(timeout_s)
        else:
            time.sleep(timeout_s)
        return None

    return offer


class Faults:
    """A sweep's answers to its devices' faults; `offer` is how a front end gives a new port
    name while the sweep waits for the rig (see PortOffer)."""

    def __init__(
        self,
        log: Log,
        emit: Emit,
        stop: StopFlag | None,
        folder: Path,
        drain: Callable[[], None],
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self.log = log
        self.emit = emit
        self.stop = stop
        self.folder = Path(folder)
        self.drain = drain  # waits until every report picture queued so far is drawn
        self.poll_s = poll_s
        self.offer: PortOffer = no_offer(stop)
        self.ports: Callable[[], list[str]] = serial_ports
        self.resets: Counter[str] = Counter()
        self.waiting: str | None = None  # the device the sweep waits for now
        self.stopped_waiting: str | None = None  # the device it waited for when stopped
        self.rig_moved_port = False  # the rig came back under a name its profile lacks

    def reset(self, sid: str, during: str, exc: RigReset) -> None:
        """The rig's board restarted during the move to `sid` or after its take: journal it and
        say so; StationError after MAX_RESETS at one setting (the sweep stops, resumable)."""
        self.resets[sid] += 1
        n = self.resets[sid]
        self.log("reset", id=sid, during=during, count=n, reason=exc.message)
        again = "its take is discarded and taken again" if during == "take" else "the move goes on"
        self.emit(
            Warning_(
                f"{sid}: the rig's board restarted during the {during}; every servo is sent "
                f"back to {sid}, slewed and from below, and {again}"
            )
        )
        if n >= MAX_RESETS:
            raise StationError(
                f"the rig's board restarted {n} times at setting {sid}: its supply sags when "
                "the servos move (a brown-out), or the USB link drops",
                "power the servos from their own supply, with the grounds joined",
            )

    def discard_take(self, sid: str) -> None:
        """Remove the capture just committed for `sid` (it may have begun before a reset), its
        report picture drawn first so that nothing writes into the folder afterwards."""
        self.drain()
        final = self.folder / sid
        if not final.exists():
            return
        doomed = self.folder / f".{sid}.discarded.partial"  # a resume removes it if we die now
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(doomed)
        final.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def wait_for_rig(self, sid: str, exc: RigLost, positioner: Any) -> None:
        """Pause until the rig's port is back (reopened by `positioner.reconnect`), on its old
        name or on one the user offers; Stopped when the user stops meanwhile."""
        port = str(getattr(getattr(positioner, "rig", None), "name", "")) or None
        before = set(self._listed())
        said: set[str] = set()

        def back(name: str | None) -> str | None:
            for new in sorted(set(self._listed()) - before - said):
                said.add(new)
                self.emit(
                    Warning_(Phrase("a new serial port appeared: {port} ({new_port})", port=new))
                )
            now = str(positioner.reconnect(name))
            self.rig_moved_port = self.rig_moved_port or now != port
            return now

        text = Phrase(
            "{sid}: paused: {what}. Plug it back in and the sweep goes on; {new_port} if it "
            "comes back under another name; {stop_sweep}",
            sid=sid,
            what=exc.message,
        )
        self._wait("rig", sid, exc.message, text, back, port)

    def wait_for_audio(self, sid: str, exc: DeviceLost, interface: Any) -> None:
        """Pause until the audio interface is there again; Stopped when the user stops first,
        and the StationError itself when the interface cannot say whether it is back."""
        if not isinstance(interface, Replugging):
            raise exc

        def back(_name: str | None) -> str | None:
            return "audio" if interface.available() else None

        text = Phrase(
            "{sid}: paused: {what}. Plug it back in and the sweep goes on; {stop_sweep}",
            sid=sid,
            what=exc.message,
        )
        self._wait("audio", sid, exc.message, text, back, None)

    def _listed(self) -> list[str]:
        with contextlib.suppress(Exception):  # listing ports is a courtesy, never a failure
            return list(self.ports())
        return []

    def _wait(
        self,
        device: str,
        sid: str,
        reason: str,
        text: Phrase,
        back: Callable[[str | None], str | None],
        port: str | None,
    ) -> None:
        """Journal and say the pause, then look for the device until `back` finds it (and
        returns its name)."""
        self.log("device_lost", id=sid, device=device, reason=reason)
        self.emit(DevicePaused(device, sid, text, port))
        self.waiting = device
        t0 = time.monotonic()
        try:
            while True:
                if self.stop is not None and self.stop.is_set():
                    raise Stopped(f"stopped while waiting for the {device}")
                name = (self.offer(self.poll_s) or "").strip() or None
                if self.stop is not None and self.stop.is_set():
                    raise Stopped(f"stopped while waiting for the {device}")
                try:
                    found = back(name)
                    if found is not None:
                        break
                except RigError as exc:
                    if name:  # the name the user gave: say why it is not the rig
                        self.emit(Warning_(f"{name}: {exc.message}"))
        except BaseException:  # Stopped, or Ctrl-C in the front end's wait
            self.stopped_waiting = device
            raise
        finally:
            self.waiting = None
        waited = time.monotonic() - t0
        now = found if device == "rig" else None
        self.log("device_back", id=sid, device=device, waited_s=round(waited, 3), port=now)
        self.emit(DeviceBack(device, sid, waited, now))
