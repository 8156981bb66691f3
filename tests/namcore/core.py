"""Build NAM's C++ core from the snapshots in ../shared/namcore and run a .nam through it.

Each core is built once per commit and flags into build/namcore/ (object files linked
directly: the architectures register themselves in static initialisers an archive would
drop), with a lock so parallel test workers share one build. The snapshots are found at
$STATION_NAMCORE or ../shared/namcore beside the repository; `missing()` says why a core
cannot be had, for a clear skip.

    python -m tests.namcore.core build [ALIAS ...]   # main, plugin, v0.7.13 (default: all)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("harness.cpp")
BUILD = REPO / "build" / "namcore"
# The plugin's release build (the snapshots' README); the harness needs nothing more.
FLAGS = ["-std=c++20", "-O2", "-DNDEBUG", "-DNAM_ENABLE_A2_FAST"]
# The older cores spell Eigen::placeholders::lastN, which Debian's Eigen 3.4.0 lacks.
LASTN_SHIM = "#include <Eigen/Dense>\nnamespace Eigen::placeholders { using Eigen::lastN; }\n"
ALIASES = {"main": "main", "plugin": "plugin", "v0.7.13": "plugin-v0.7.13"}


def snapshots() -> Path:
    """Where the core snapshots are: $STATION_NAMCORE, else ../shared/namcore beside the repo."""
    return Path(os.environ.get("STATION_NAMCORE") or REPO.parent / "shared" / "namcore")


def pins() -> dict[str, str]:
    """Core commits by alias (pins.txt: alias, commit, git describe)."""
    out = {}
    for line in (snapshots() / "pins.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


def missing(alias: str = "main") -> str | None:
    """Why core `alias` cannot be built here (a skip reason), or None."""
    where = snapshots()
    if not (where / "pins.txt").is_file():
        return f"NAM core snapshots not found at {where} (set STATION_NAMCORE)"
    commit = pins().get(ALIASES[alias])
    if commit is None or not (where / f"core-{commit}.tar.gz").is_file():
        return f"no core snapshot for {alias} in {where}"
    for tool in ("g++",):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./dev setup installs it)"
    if not Path("/usr/include/eigen3/Eigen/Dense").is_file():
        return "Eigen is not installed (libeigen3-dev; ./dev setup installs it)"
    return None


@dataclass(frozen=True)
class Render:
    """What a core made of one input: its output and what it reported."""

    output: np.ndarray
    info: dict[str, Any]


class CoreError(RuntimeError):
    """The core refused the model or the run (its message)."""


@dataclass(frozen=True)
class Core:
    """One built core: run models through its harness."""

    alias: str
    binary: Path

    @property
    def mono(self) -> bool:
        """True for core 0.2.0, whose host API takes one input channel."""
        return self.alias == "v0.7.13"

    def info(self, model: Path) -> dict[str, Any]:
        """What the core reads from `model` (channels, levels, loudness, sample rate)."""
        return self._call([str(model), "--info"])

    def render(
        self, model: Path, audio: np.ndarray, consts: Sequence[float] = (), block: int = 64
    ) -> Render:
        """`audio` through `model`; input channels past the first held at `consts`."""
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp, "in.f64"), Path(tmp, "out.f64")
            np.asarray(audio, dtype="<f8").tofile(src)
            args = [str(model), str(src), str(dst), "--block", str(block)]
            for v in consts:
                args += ["--const", repr(float(v))]
            info = self._call(args)
            return Render(np.fromfile(dst, dtype="<f8"), info)

    def _call(self, args: list[str]) -> dict[str, Any]:
        done = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=600
        )
        lines = done.stdout.strip().splitlines()
        info = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()}
        if done.returncode != 0 or "error" in info:
            raise CoreError(info.get("error") or f"harness exited {done.returncode}")
        return info


def build(alias: str = "main", jobs: int | None = None) -> Core:
    """Core `alias` built (or found built) with the harness; raises if it cannot be."""
    reason = missing(alias)
    if reason:
        raise RuntimeError(reason)
    commit = pins()[ALIASES[alias]]
    flags = [*FLAGS, *(["-DNAM_HARNESS_MONO"] if alias == "v0.7.13" else [])]
    key = hashlib.sha256(
        "\0".join([commit, *flags, HARNESS.read_text(), LASTN_SHIM]).encode()
    ).hexdigest()[:12]
    out = BUILD / f"{commit[:12]}-{key}"
    binary = out / "harness"
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / f"{commit[:12]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.is_file():
            _compile(snapshots() / f"core-{commit}.tar.gz", out, flags, jobs)
    return Core(alias, binary)


def _compile(tarball: Path, out: Path, flags: list[str], jobs: int | None) -> None:
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(src, filter="data")
    shim = out / "lastn_shim.h"
    shim.write_text(LASTN_SHIM)
    include = [
        f"-I{src}",
        f"-I{src / 'NAM'}",
        f"-I{src / 'Dependencies' / 'nlohmann'}",
        "-I/usr/include/eigen3",
        "-include",
        str(shim),
    ]
    sources = sorted((src / "NAM").glob("*.cpp")) + sorted((src / "NAM").glob("wavenet/*.cpp"))
    sources.append(HARNESS)

    def compile_one(cpp: Path) -> Path:
        name = "harness" if cpp == HARNESS else "_".join(cpp.relative_to(src / "NAM").parts)
        obj = out / Path(name).with_suffix(".o").name
        cmd = ["g++", *flags, *include, "-c", str(cpp), "-o", str(obj)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"compiling {cpp.name} failed:\n{done.stderr[-4000:]}")
        return obj

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        objects = list(pool.map(compile_one, sources))
    tmp = out / "harness.tmp"
    done = subprocess.run(
        ["g++", *[str(o) for o in objects], "-o", str(tmp)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"linking the harness failed:\n{done.stderr[-4000:]}")
    tmp.replace(out / "harness")


def main(argv: list[str]) -> int:
    """`build [ALIAS ...]`: build the cores (for ./dev test, before the tests start)."""
    if not argv or argv[0] != "build":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    for alias in argv[1:] or list(ALIASES):
        reason = missing(alias)
        if reason:
            print(f"namcore {alias}: skipped, {reason}", file=sys.stderr)
            continue
        core = build(alias)
        print(f"namcore {alias}: {core.binary.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
