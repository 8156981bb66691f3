"""Capture overhead: time from the end of the recording to a finished folder, and peak memory.

Runs one full capture of the 190 s station signal on the virtual rig (simulated
as fast as the CPU allows) and reports the time spent after the take: reading
the recording, latency estimates, alignment, checks, output.wav, capture.json
and report.png. Run: python benchmarks/capture_overhead.py
Targets (issue 3): under 3 s of analysis and writing; peak memory under 400 MB.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from virtual_bench import calibrated_profile

from station.capture.run import CaptureRequest, run_capture
from station.events import Event, Step
from station.reamp.generate import write_station_signal
from station.virtual.rig import VirtualRig


def main() -> None:
    """Write the signal here, then measure the capture in a fresh process (clean peak RSS)."""
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        measure(Path(sys.argv[2]))
        return
    work = Path(tempfile.mkdtemp(prefix="station-bench-"))
    signal = write_station_signal(work / "signal.wav")
    subprocess.run([sys.executable, __file__, "--child", str(signal)], check=True)


def measure(signal: Path) -> None:
    """One capture of `signal` with its phases timed and this process's peak memory."""
    work = signal.parent
    rig = VirtualRig(speed=None)
    rig.use_gear("clean")
    prof = calibrated_profile(rig, "b")
    marks: dict[str, float] = {}

    def emit(event: Event) -> None:
        if isinstance(event, Step):
            marks[event.name] = time.perf_counter()

    start = time.perf_counter()
    run_capture(
        rig.interface,
        CaptureRequest(prof, signal, 12.0, "bench", work / "captures"),
        emit=emit,
        confirm=rig.act_on,
    )
    done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    after = done - marks["analyse"]
    print("capture overhead, 190 s station signal on the virtual rig")
    print(f"{'phase':<34}{'seconds':>10}")
    print(f"{'pre-flight (true peak, noise, hum)':<34}{marks['record'] - start:>10.2f}")
    print(f"{'simulated take (not real time)':<34}{marks['analyse'] - marks['record']:>10.2f}")
    print(
        f"{'analysis + writing after the take':<34}{after:>10.2f}   target < 3 s: "
        f"{'met' if after < 3 else 'NOT met'}"
    )
    print(
        f"{'peak memory (RSS, MB)':<34}{peak_mb:>10.0f}   target < 400 MB: "
        f"{'met' if peak_mb < 400 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
