"""A .nam from elsewhere that is malformed, huge or not finite: `info`, `tag`, `snapshot` and
`render` each refuse it with an error line (and its hint), exit 1, never a traceback or a hang.

The commands run in this process (the CLI's own `main`), so the size limit can be lowered
instead of writing a 200 MB file; one run as a subprocess checks the same from outside.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from station.cli.main import main
from station.models import namfile
from station.models.parametric import fold
from tests.conftest import run_station
from tests.models.param_model import parametric_model

STANDARD = fold.fold(parametric_model(), {"boost": 0.0, "drive": 5.0})
PARAMETRIC = parametric_model()


def _with(model: dict[str, Any], **changes: Any) -> str:
    return json.dumps({**model, **changes})


def _nested(depth: int) -> str:
    return '{"architecture": "WaveNet", "config": {}, "weights": ' + "[" * depth + "]" * depth + "}"


# name → (file text, words the error names)
BAD: dict[str, tuple[str | bytes, str]] = {
    "not JSON": ("this is no model", "is not JSON"),
    "not UTF-8": (b"\xff\xfe\x00\x01", "is not JSON"),
    "empty": ("", "is an empty file, not a model"),
    "JSON but a list": ("[1, 2, 3]", "not a NAM model (no architecture, config, weights)"),
    "missing weights": (json.dumps({"architecture": "WaveNet", "config": {}}), "no weights"),
    "architecture not a name": (_with(STANDARD, architecture=5), "architecture is not a name"),
    "config a list": (_with(STANDARD, config=[1]), "config is not an object"),
    "weights a string": (_with(STANDARD, weights="abc"), "weights are not a list of numbers"),
    "weights with text": (
        _with(STANDARD, weights=["x", *STANDARD["weights"][1:]]),
        "weights are not a list of numbers",
    ),
    "weights with true": (
        _with(STANDARD, weights=[True, *STANDARD["weights"][1:]]),
        "weights are not a list of numbers",
    ),
    "a NaN weight": (  # Python's json writes and reads NaN; no NAM player does
        _with(STANDARD, weights=[float("nan"), *STANDARD["weights"][1:]]),
        "holds the number NaN",
    ),
    "an Infinity weight": (
        _with(STANDARD, weights=[*STANDARD["weights"][:-1], float("inf")]),
        "holds the number Infinity",
    ),
    "a weight past a double": (
        json.dumps(STANDARD).replace(repr(STANDARD["weights"][3]), "1e999", 1),
        "holds the number 1e999",
    ),
    "an integer past a double": (
        json.dumps(STANDARD).replace(repr(STANDARD["weights"][3]), "1" + "0" * 400, 1),
        "weights that are not finite",
    ),
    "NaN in the metadata": (_with(STANDARD, metadata={"loudness": float("nan")}), "NaN"),
    "metadata a list": (_with(STANDARD, metadata=[1]), "metadata is not an object"),
    "sample rate as text": (_with(STANDARD, sample_rate="48k"), "sample_rate is '48k'"),
    "nested past Python's recursion": (_nested(100_000), "nests lists or objects too deeply"),
    "nested past the limit": (_nested(namfile.MAX_DEPTH + 2), "nests lists or objects too deeply"),
}

# Weights that are not what the architecture needs: the files pass `info` and `tag` (they
# are models, only damaged), and `render` and `snapshot` refuse them before building anything.
WRONG_COUNT: dict[str, tuple[dict[str, Any], str]] = {
    "a standard model short of 10 weights": (
        {**STANDARD, "weights": STANDARD["weights"][:-10]},
        f"has {len(STANDARD['weights']) - 10} weights where its config needs "
        f"{len(STANDARD['weights'])}",
    ),
    "a standard model with 10 weights too many": (
        {**STANDARD, "weights": [*STANDARD["weights"], *[0.1] * 10]},
        "weights where its config needs",
    ),
    "a parametric model short of 10 weights": (
        {**PARAMETRIC, "weights": PARAMETRIC["weights"][:-10]},
        f"where its config needs {len(PARAMETRIC['weights'])}",
    ),
    "a dilation of a billion": (
        {
            **STANDARD,
            "config": {
                **STANDARD["config"],
                "layers": [
                    {**STANDARD["config"]["layers"][0], "dilations": [1_000_000_000] * 7}
                ],
            },
        },
        "not a model's",
    ),
}


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """Run a station command in this process: (exit status, stderr)."""
    home = tmp_path / "home"
    home.mkdir()

    def go(*args: str) -> tuple[int, str]:
        code = main([*args, "--home", str(home)])
        return code, capsys.readouterr().err

    return go


@pytest.fixture
def di(tmp_path: Path) -> Path:
    path = tmp_path / "di.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(24_000), 48_000)
    return path


def commands(model: Path, di: Path) -> dict[str, list[str]]:
    out = model.parent
    return {
        "info": ["info", str(model)],
        "tag": ["tag", str(model), "--input-dbu", "12", "--output-dbu", "9"],
        "snapshot": ["snapshot", str(model), "--for-players", "v0.7.13", "--out", f"{out}/s.nam"],
        "snapshot at a setting": ["snapshot", str(model), "drive=3", "--out", f"{out}/p.nam"],
        "render": ["render", str(model), "--input", str(di), "--out", f"{out}/o.wav"],
    }


def assert_refused(code: int, err: str, words: str) -> None:
    """Exit 1; stderr is the error line (and its hint line), naming `words`."""
    lines = err.splitlines()
    assert code == 1, err
    assert lines[0].startswith("error: ") and words in lines[0], err
    assert len(lines) <= 2 and all(ln.startswith("hint: ") for ln in lines[1:]), err


@pytest.mark.parametrize("case", list(BAD))
def test_every_command_refuses_a_malformed_file_in_one_line(
    case: str, run: Callable[..., tuple[int, str]], di: Path, tmp_path: Path
) -> None:
    text, words = BAD[case]
    model = tmp_path / "from-the-internet.nam"
    for name, args in commands(model, di).items():
        if isinstance(text, bytes):
            model.write_bytes(text)
        else:
            model.write_text(text)
        before = model.read_bytes()
        code, err = run(*args)
        assert_refused(code, err, words)
        assert model.read_bytes() == before, name  # tag left it as it was
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "di.wav",
            "from-the-internet.nam",
            "home",
        ], name  # nothing written


def test_a_huge_file_is_refused_before_it_is_read(
    run: Callable[..., tuple[int, str]],
    di: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = tmp_path / "huge.nam"
    model.write_text(json.dumps(STANDARD))
    monkeypatch.setattr(namfile, "MAX_MODEL_BYTES", model.stat().st_size - 1)
    read = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda p, *a, **k: read.append(p) or real_open(p, *a, **k))
    for args in commands(model, di).values():
        code, err = run(*args)
        assert_refused(code, err, f"huge.nam is {model.stat().st_size:,} bytes: no NAM model")
    assert model not in read  # refused by its size, unread


@pytest.mark.timeout(60)
def test_something_that_is_no_file_is_refused_without_reading(
    run: Callable[..., tuple[int, str]], di: Path, tmp_path: Path
) -> None:
    pipe = tmp_path / "pipe.nam"
    os.mkfifo(pipe)  # nobody writes to it: opening it to read would wait for ever
    for args in commands(pipe, di).values():
        code, err = run(*args)
        assert_refused(code, err, f"{pipe} is not a regular file")


@pytest.mark.parametrize("case", list(WRONG_COUNT))
def test_render_and_snapshot_refuse_weights_the_architecture_does_not_take(
    case: str, run: Callable[..., tuple[int, str]], di: Path, tmp_path: Path
) -> None:
    pytest.importorskip("nam")
    data, words = WRONG_COUNT[case]
    model = tmp_path / "damaged.nam"
    model.write_text(json.dumps(data))
    todo = commands(model, di)
    for name in ("info", "tag"):  # a model, only damaged: its facts and tags are fine
        assert run(*todo.pop(name))[0] == 0, name
    if not fold.parametric(data):
        del todo["snapshot at a setting"]  # a standard model has no setting: another refusal
    else:
        del todo["snapshot"]
    for name, args in todo.items():
        code, err = run(*args)
        assert_refused(code, err, words)
        assert not list(tmp_path.glob("[spo].*")), name  # nothing written


def test_from_outside_the_process_too(tmp_path: Path) -> None:
    model = tmp_path / "deep.nam"
    model.write_text(_nested(100_000))
    res = run_station("info", str(model), home=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: deep.nam nests lists or objects too deeply"), res.stderr
