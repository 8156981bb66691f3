"""Sessions and captures are taken by name (under captures/) wherever one is meant, as
`station sweep status NAME` takes them: `train` and `verify --session/--capture`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.models.param_model import write_parametric
from tests.sweep_fixture import default_plan, short_input, write_session


def test_train_and_verify_take_a_session_by_its_name(tmp_path: Path) -> None:
    # A session with nothing held out: each command gets as far as judging the session
    # itself (and refuses it for that), which it did not when the name was read as a path.
    signal = short_input(tmp_path / "in.wav")
    trained_only = [p for p in default_plan() if p.role == "train"]
    write_session(tmp_path / "captures" / "od-night", signal, trained_only, dataset=False)
    model = write_parametric(tmp_path / "box.nam")
    work = tmp_path / "elsewhere"  # the user's shell is not in the home
    work.mkdir()

    def station(*args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, STATION_HOME=str(tmp_path))
        return subprocess.run(
            [sys.executable, "-m", "station", *args],
            cwd=work, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    for args, said in (
        (["train", "od-night"], "captures/od-night is a sweep session"),
        (["train", "od-night", "--parametric"], "od-night has no usable held-out setting"),
        (["verify", str(model), "--session", "od-night"], "od-night has no usable held-out"),
    ):
        r = station(*args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert said in r.stderr, (args, r.stderr)
    # A name that is neither a folder nor a session is named as typed.
    r = station("train", "nosuch", "--parametric")
    assert r.returncode == 1 and "nosuch" in r.stderr and "Traceback" not in r.stderr
