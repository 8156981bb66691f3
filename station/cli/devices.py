"""`station devices`: audio devices, serial ports and VISA resources."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from ..errors import DeviceError
from ..virtual.rig import VirtualInterfaceTruth
from .console import print_json
from .words import say


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `devices` subcommand."""
    p = sub.add_parser(
        "devices", parents=[common], help="list audio devices, serial ports, VISA resources"
    )
    p.set_defaults(handler=run)


def gather() -> dict[str, Any]:
    """What is attached: audio devices (plus the virtual rig), serial ports, VISA resources."""
    from ..drivers.audio import list_audio_devices

    t = VirtualInterfaceTruth()
    audio: list[dict[str, Any]] = [
        {
            "index": "virtual",
            "name": t.name,
            "host_api": "virtual",
            "inputs": t.inputs,
            "outputs": t.outputs,
            "default_samplerate": 48000.0,
        }
    ]
    notes: list[str] = []
    try:
        audio += list_audio_devices()
    except DeviceError as exc:
        notes.append(f"audio: {say(exc.said)} ({say(exc.advice)})")
    serial_ports: list[dict[str, str]] = []
    try:
        from serial.tools import list_ports

        serial_ports = [
            {"device": p.device, "description": p.description or ""} for p in list_ports.comports()
        ]
    except Exception as exc:  # listing is best effort; never fail the command for it
        notes.append(f"serial: {exc}")
    visa: list[str] = []
    try:
        import pyvisa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            visa = list(pyvisa.ResourceManager("@py").list_resources())
    except Exception as exc:
        notes.append(f"visa: {exc}")
    return {"audio": audio, "serial": serial_ports, "visa": visa, "notes": notes}


def run(args: argparse.Namespace) -> int:
    """Print the device lists."""
    found = gather()
    if args.json:
        print_json(found)
        return 0
    print("Audio devices (use --device INDEX, part of the name, or 'virtual'):")
    for d in found["audio"]:
        print(
            f"  {d['index']!s:>7}  {d['name']}  [{d['host_api']}]  "
            f"in {d['inputs']} / out {d['outputs']}"
        )
    print("Serial ports (servo rig: --port PORT, or 'virtual' for the simulated rig):")
    for s in found["serial"] or [{"device": "(none)", "description": ""}]:
        print(f"  {s['device']}  {s['description']}")
    print("VISA resources (use --meter scpi:RESOURCE):")
    for r in found["visa"] or ["(none)"]:
        print(f"  {r}")
    for note in found["notes"]:
        print(f"note: {note}")
    return 0
