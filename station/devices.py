"""Opens what the user named: a real driver, or its twin on the virtual rig.

The one place that knows both: the core takes the devices it is given, the
front ends open them here (STYLE 2: one factory chooses between them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .drivers.base import AudioInterface, Voltmeter
from .drivers.meter import Ask, ManualMeter, open_scpi_meter
from .drivers.rig import ServoRig, connect_rig, open_serial
from .drivers.rig import open_rig as open_serial_rig
from .errors import MeterError
from .interface.profiles import Profile
from .phrases import Phrase
from .plan.adaptive import RoundModels
from .virtual.catalogue import KNOBBED
from .virtual.rig import VirtualRig
from .virtual.servos import ServoBench

if TYPE_CHECKING:
    from .virtual.twin import VirtualFirmware

VIRTUAL = "virtual"


@dataclass
class Bench:
    """The devices a procedure runs on; `rig` is set when they are simulated."""

    interface: AudioInterface
    rig: VirtualRig | None = None


def open_bench(device: str, rig: VirtualRig | None = None) -> Bench:
    """Open `device` ('virtual', an index, or part of a name) as a Bench."""
    if device.strip().lower() == VIRTUAL:
        rig = rig or VirtualRig()
        return Bench(rig.interface, rig)
    from .drivers.audio import SoundDeviceInterface, find_device

    return Bench(SoundDeviceInterface(find_device(device)))


def open_meter(choice: str | None, bench: Bench, ask: Ask) -> Voltmeter:
    """The voltmeter for `choice`: 'manual', 'virtual', 'scpi:RESOURCE', or None for the default.

    The default is the virtual rig's own meter on the virtual rig, else manual entry.
    """
    choice = (choice or ("virtual" if bench.rig is not None else "manual")).strip()
    if choice == "manual":
        return ManualMeter(ask)
    if choice == "virtual":
        if bench.rig is None:
            raise MeterError(
                "the virtual meter only exists on the virtual rig",
                Phrase("use {meter_manual} or {meter_scpi}"),
            )
        return bench.rig.meter
    if choice.startswith("scpi:") and len(choice) > 5:
        return open_scpi_meter(choice[5:])
    if choice.startswith("scpi:"):
        raise MeterError(
            "a SCPI meter needs its resource",
            Phrase("e.g. {meter_scpi}; {devices} lists the resources"),
        )
    raise MeterError(
        f"unknown meter {choice!r}", Phrase("use {meter_choice}; {devices} lists the resources")
    )


def open_rig(
    port_name: str,
    *,
    twin_kw: dict[str, Any] | None = None,
    twin: VirtualFirmware | None = None,
    **kw: Any,
) -> ServoRig:
    """A connected ServoRig on `port_name`; 'virtual' starts the firmware twin on a pty.

    `twin_kw` goes to the VirtualFirmware on 'virtual' (its servo bench, its
    speed-up), or `twin` is one made already (a test's, to inject faults); other
    keywords go to ServoRig. Raises RigError with a hint when the port or the rig
    fails. After the twin's cable is pulled, 'virtual' names the port it first
    had: a re-plug under a new name must be given that name.
    """
    if port_name.strip().lower() != VIRTUAL:
        return open_serial_rig(port_name, **kw)
    from .virtual.twin import VirtualFirmware

    fw = twin if twin is not None else VirtualFirmware(**(twin_kw or {}))
    first = fw.device
    try:
        port = open_serial(first)
    except BaseException:
        fw.close()
        raise
    fw.start()  # the host opened the port: the board resets and prints its banner

    def reopen(name: str) -> Any:
        path = first if name.strip().lower() == VIRTUAL else name
        again = open_serial(path)
        if os.path.realpath(path) == os.path.realpath(fw.device):
            fw.opened()
        return again

    return connect_rig(port, port_name, on_close=fw.close, reopen=reopen, **kw)


class StationBench:
    """The devices a capture or a sweep runs on, opened from the profile (and rig) it names.

    Satisfies station.sweep.start.SweepDevices. The interface is the one the
    profile was measured on; on the virtual rig it gets the chosen gear and the
    home's servo horns (they stay where the last run left them), and port
    'virtual' is the firmware twin turning those horns at the virtual rig's speed.
    """

    def __init__(self, home: Path, open_bench: Callable[[str], Bench] = open_bench) -> None:
        self.home = Path(home)
        self._open_bench = open_bench
        self.bench: Bench | None = None
        self.twin: VirtualFirmware | None = None  # the firmware twin, once port 'virtual' opens

    @property
    def virtual(self) -> VirtualRig | None:
        """The virtual rig behind the interface, once it is open and when it is simulated."""
        return self.bench.rig if self.bench is not None else None

    def interface(self, profile: Profile, virtual_gear: str | None) -> AudioInterface:
        """Open the profile's interface ('virtual' for a profile measured on the virtual rig)."""
        self.bench = self._open_bench(
            VIRTUAL if profile.host_api == VIRTUAL else profile.device_name
        )
        if self.bench.rig is not None:
            self.bench.rig.keep_servos_in(self.home)
            if virtual_gear:
                self.bench.rig.use_gear(virtual_gear)
        return self.bench.interface

    def knobbed_gear(self, controls: Collection[str]) -> str | None:
        """The virtual knobbed gear whose knobs and switches include every name in `controls`
        (the first in the catalogue), or None."""
        wanted = set(controls)
        for key, (knobs, switches) in KNOBBED.items():
            names = {k.name for k in knobs} | {w.name for w in switches}
            if wanted and wanted <= names:
                return key
        return None

    def round_models(self) -> RoundModels | None:
        """The quick-model ensemble that trains an adaptive sweep's rounds; None when the
        train extra is not installed."""
        from .models.nam_lib import installed

        if not installed():
            return None
        from .models.parametric.ensemble import score_round

        return score_round

    def rig(self, port: str) -> ServoRig:
        """The servo rig on `port`, connected; 'virtual' turns this bench's virtual horns."""
        if port.strip().lower() != VIRTUAL:
            return open_rig(port)
        from .virtual.twin import VirtualFirmware

        sim = self.virtual
        servos = sim.servos if sim is not None else ServoBench()
        speedup = sim.speed if sim is not None and sim.speed else 1.0
        self.twin = VirtualFirmware(bench=servos, speedup=speedup)
        return open_rig(port, twin=self.twin)
