"""One core, two faces: every module imports without the toolkits it does not need, and no
module reaches into another's private names."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import station

PACKAGE = Path(station.__file__).resolve().parent
# Imported only where used (docs/design.md §5): none of them at import time, anywhere
# outside the TUI, so the CLI's non-audio commands run without PortAudio or a terminal UI.
LAZY = ("textual", "sounddevice", "pyvisa", "serial", "torch", "nam", "matplotlib")
# The modules whose whole point is one of them: the TUI is Textual, nam_ext is NAM's torch
# side (the `train` extra; imported only when training or running a parametric model).
OWN = {
    "station.tui": ("textual",),
    "station.models.parametric.nam_ext": ("torch", "nam", "matplotlib"),
}


def every_module() -> list[str]:
    """The dotted name of every module in the package, walked from the files."""
    names = ["station"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="station."):
        names.append(info.name)
    return sorted(names)


def test_the_walk_finds_every_file() -> None:
    files = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
    }
    assert files == set(every_module())
    assert len(files) > 90


def test_no_module_pulls_in_a_toolkit_at_import_time() -> None:
    """Each module, imported in turn in one fresh interpreter, adds none of LAZY but its OWN."""
    modules = [m for m in every_module() if m != "station.__main__"]
    code = (
        "import importlib, json, sys\n"
        f"lazy = {LAZY!r}\n"
        f"own = {OWN!r}\n"
        "blame = {}\n"
        f"for name in {modules!r}:\n"
        "    before = {m.split('.')[0] for m in sys.modules}\n"
        "    allowed = {t for k, v in own.items() if name.startswith(k) for t in v}\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:\n"
        "        if exc.name in allowed:  # the train extra is not installed here\n"
        "            continue\n"
        "        raise\n"
        "    new = {m.split('.')[0] for m in sys.modules} - before\n"
        "    bad = sorted((new & set(lazy)) - allowed)\n"
        "    if bad:\n"
        "        blame[name] = bad\n"
        "print(json.dumps(blame))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {}


def test_the_cli_parser_needs_no_toolkit() -> None:
    code = (
        "import sys, station.cli.main\n"
        "station.cli.main.build_parser()\n"
        f"bad = [m for m in {LAZY!r} if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def private_imports(source: str, module: str, is_package: bool) -> list[str]:
    """`from X import _name` where X is another station module (relative or absolute)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            target = ".".join([*parts, node.module] if node.module else parts)
        else:
            target = node.module or ""
        if target != "station" and not target.startswith("station."):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{module}: from {target} import {alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(rel).removesuffix(".__init__")
        offenders += private_imports(path.read_text(), module, path.name == "__init__.py")
    assert offenders == []


def test_the_private_name_check_can_fail() -> None:
    src = "from ..capture.run import _capture\nfrom . import ok\n"
    assert private_imports(src, "station.sweep.run", False) == [
        "station.sweep.run: from station.capture.run import _capture"
    ]
