"""A file that is not JSON, given where a plan or a model is meant, is named for what it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import run_station


def test_a_wav_given_as_a_plan_or_a_model_is_called_a_wav(tmp_path: Path) -> None:
    # It said "cannot read the plan x.wav: 'utf-8' codec can't decode byte 0xc8 ...".
    wav = tmp_path / "di.wav"
    sf.write(str(wav), np.zeros(4800), 48000, subtype="PCM_24")
    empty = tmp_path / "plan.json"
    empty.write_text("")
    cases = [
        (["sweep", "run", "--plan", str(wav), "--profile", "v", "--rig", "none", "--out", "q",
          "--reamp-dbu", "6"], f"error: {wav} is a WAV audio file, not a plan"),
        (["sweep", "run", "--plan", str(empty), "--profile", "v", "--rig", "none", "--out", "q",
          "--reamp-dbu", "6"], f"error: {empty} is an empty file, not a plan"),
        (["sweep", "run", "--plan", str(tmp_path), "--profile", "v", "--rig", "none", "--out",
          "q", "--reamp-dbu", "6"], f"error: {tmp_path} is a folder, not a plan"),
        (["info", str(wav)], "error: di.wav is a WAV audio file, not a model"),
        (["tag", str(wav), "--input-dbu", "6", "--output-dbu", "6"],
         "error: di.wav is a WAV audio file, not a model"),
    ]  # fmt: skip
    for args, said in cases:
        r = run_station(*args, home=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        lines = r.stderr.splitlines()
        assert lines[0] == said and len(lines) == 2 and lines[1].startswith("hint: "), lines
    assert not (tmp_path / "captures").exists()
