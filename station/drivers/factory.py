"""Chooses the real driver or its simulated twin from what the user typed."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MeterError
from .base import AudioInterface, Voltmeter
from .meter import Ask, ManualMeter, open_scpi_meter
from .virtual import VirtualRig

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
    from .audio import SoundDeviceInterface, find_device

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
                "use --meter manual or --meter scpi:RESOURCE",
            )
        return bench.rig.meter
    if choice.startswith("scpi:") and len(choice) > 5:
        return open_scpi_meter(choice[5:])
    raise MeterError(
        f"unknown meter {choice!r}", "use manual, virtual, or scpi:RESOURCE (see 'station devices')"
    )
