"""Numbers typed into options: nan, inf and an empty value get one refusal each (an error
line and a hint), never a traceback, an argparse usage screen, or silent acceptance."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_station


@pytest.mark.parametrize(
    ("args", "flag", "value", "said"),
    [
        # A traceback: 'cannot convert float NaN to integer'.
        (["plan", "--knob", "drive=0:10", "--settings", "4", "--out", "p.json"], "--capture-s",
         "nan", "is not a finite number"),
        # Accepted, then refused for something else.
        (["sweep", "run", "--plan", "x", "--profile", "v", "--rig", "none", "--out", "q"],
         "--reamp-dbu", "inf", "is not a finite number"),
        (["sweep", "run", "--plan", "x", "--profile", "v", "--rig", "none", "--out", "q"],
         "--drift-esr", "", "is not a number"),
        (["render", "m.nam", "--input", "di.wav", "--out", "o.wav"], "--output-gain-db", "-inf",
         "is not a finite number"),
    ],
)  # fmt: skip
def test_a_bad_number_is_one_refusal(
    tmp_path: Path, args: list[str], flag: str, value: str, said: str
) -> None:
    args = [str(tmp_path / a) if a.endswith((".json", ".nam", ".wav")) else a for a in args]
    r = run_station(*args, f"{flag}={value}", home=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == f"error: argument {flag}: {value!r} {said}", lines
    assert len(lines) == 2 and lines[1].startswith("hint: 'station ") and "--help" in lines[1]
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_wrong_word_for_a_whole_number_is_two_lines_too(tmp_path: Path) -> None:
    out = str(tmp_path / "p.json")
    r = run_station("plan", "--knob", "drive=0:10", "--settings", "x", "--out", out, home=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: argument --settings: invalid int value: 'x'",
        "hint: 'station plan --help' lists what it takes",
    ]
