"""One core, two faces: the core and the CLI never pull in the TUI toolkit."""

from __future__ import annotations

import subprocess
import sys


def test_core_does_not_import_textual() -> None:
    code = (
        "import sys, station, station.signal.levels, station.signal.analysis, "
        "station.interface.calibrate, station.interface.profiles, station.cli, "
        "station.virtual.rig, station.devices\n"
        "import station.cli.main; station.cli.main.build_parser()\n"
        "bad = [m for m in ('textual', 'sounddevice', 'pyvisa', 'serial') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
