"""Ctrl-C during CLI training stops after the epoch and keeps the best model so far, for a
capture and for a sweep session, as the TUI's Escape does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import sigint_as_at_a_terminal
from tests.sweep_fixture import short_input, write_session

pytest.importorskip("nam")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def interrupt_after_epoch(args: list[str], home: Path) -> tuple[int, str, str]:
    """Run `station ARGS` (20 epochs), send SIGINT once epoch 2 has ended; (rc, out, err).

    Off a terminal the progress shows a line a tenth of the way: epoch 2 of 20 is the first.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "station", *args],
        # One torch thread: two fight each other on a shared 2-core machine (10× slower).
        env=dict(os.environ, STATION_HOME=str(home), OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_at_a_terminal,
    )
    assert proc.stderr is not None and proc.stdout is not None
    out: list[str] = []
    err: list[str] = []
    # Both pipes drained all along: a child blocked on a full pipe never ends its epoch.
    readers = [
        threading.Thread(target=lambda: out.extend(iter(lambda: proc.stdout.read(1), ""))),
        threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), ""))),
    ]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 600  # an epoch on a loaded 2-core machine
    try:
        while time.monotonic() < deadline and "epoch 2/20," not in "".join(err):
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        assert "epoch 2/20," in "".join(err), "".join(err)[-2000:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
    finally:
        proc.kill()
        for r in readers:
            r.join(timeout=10)
    return proc.returncode, "".join(out), "".join(err)


def test_ctrl_c_keeps_the_best_model_of_a_capture(virtual_capture: Path, tmp_path: Path) -> None:
    out_model = tmp_path / "stopped.nam"
    rc, out, err = interrupt_after_epoch(
        ["train", str(virtual_capture), "--architecture", "nano", "--epochs", "20",
         "--out", str(out_model), "--json"],
        tmp_path,
    )  # fmt: skip
    assert rc == 0, err[-2000:]
    assert "stopping after this epoch" in err and "Traceback" not in err
    result = json.loads(out)
    assert result["stopped_early"] is True
    assert Path(result["model_path"]) == out_model.resolve() and out_model.is_file()
    assert result["validation_esr"] is not None  # a model that plays: NAM exported its best
    assert "epoch 20/20" not in err


def test_ctrl_c_keeps_the_best_parametric_model(tmp_path: Path) -> None:
    session = write_session(tmp_path / "knobbox", short_input(tmp_path / "in.wav"))
    rc, out, err = interrupt_after_epoch(
        ["train", str(session), "--parametric", "--architecture", "tiny", "--epochs", "20",
         "--json"],
        tmp_path,
    )  # fmt: skip
    assert rc == 0, err[-2000:]
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["stopped_early"] is True
    assert Path(report["model_path"]).is_file()
    assert report["esr_worst"] is not None
