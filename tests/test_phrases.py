"""The core names settings, each face words them: the CLI its flags, the TUI its fields."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from string import Formatter

import pytest

from station.cli.words import WORDS as CLI
from station.cli.words import error_lines
from station.errors import StationError
from station.phrases import PLAIN, Phrase
from station.tui.words import WORDS as TUI
from station.tui.words import error_text
from tests.conftest import run_station as station

PACKAGE = Path(__file__).resolve().parent.parent / "station"
FACES = ("cli/", "tui/", "main.py")
COMMANDS = "calibrate|capture|check|tag|train|verify|info|gain-stage|rig|plan|sweep|signal|devices"
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")
COMMAND = re.compile(rf"\bstation ({COMMANDS})\b")


def _core_modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if not p.relative_to(PACKAGE).as_posix().startswith(FACES)
    ]


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _core_texts() -> list[tuple[str, str]]:
    """Every string the core's code holds (not its docstrings), with where it is."""
    texts = []
    for path in _core_modules():
        tree = ast.parse(path.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
            ):
                texts.append((f"{path.relative_to(PACKAGE)}:{node.lineno}", node.value))
    return texts


def _core_phrases() -> list[tuple[str, str, set[str]]]:
    """Every `Phrase(template, **values)` the core builds: where, template, value names."""
    found = []
    for path in _core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Phrase":
                where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                if path.name == "phrases.py":
                    continue  # the class itself, building phrases from phrases
                template = node.args[0] if node.args else ast.Constant("")
                assert isinstance(template, ast.Constant), f"{where}: a template must be a literal"
                found.append((where, template.value, {k.arg for k in node.keywords if k.arg}))
    return found


def test_no_core_text_names_a_flag_or_a_command() -> None:
    texts = _core_texts()
    assert len(texts) > 500, "the walk found too few strings: it is broken"
    named = [
        f"{where}: {text!r}" for where, text in texts if FLAG.search(text) or COMMAND.search(text)
    ]
    assert not named, (
        "core text names a CLI flag or command; name a PLAIN key instead:\n" + "\n".join(named)
    )


def test_every_key_a_core_phrase_names_is_worded_by_both_faces() -> None:
    phrases = _core_phrases()
    assert len(phrases) > 30, "the walk found too few phrases: it is broken"
    unknown = [
        f"{where}: {{{key}}}"
        for where, template, values in phrases
        for _, key, _, _ in Formatter().parse(template)
        if key and key not in values and key not in PLAIN
    ]
    assert not unknown, f"keys no vocabulary words: {unknown}"
    assert set(CLI) == set(PLAIN), set(CLI) ^ set(PLAIN)
    assert set(TUI) == set(PLAIN), set(TUI) ^ set(PLAIN)


def test_the_tui_words_name_no_flag_and_no_command() -> None:
    for vocabulary in (TUI, PLAIN):
        bad = {k: w for k, w in vocabulary.items() if FLAG.search(w) or COMMAND.search(w)}
        assert not bad, bad
    # Every core phrase, rendered for the TUI with stand-in values.
    for where, template, values in _core_phrases():
        text = Phrase(template, **{v: "x" for v in values}).render(TUI)
        assert not FLAG.search(text) and not COMMAND.search(text), f"{where}: {text}"


def test_the_cli_names_its_flags_where_the_core_names_a_setting() -> None:
    flags = {k for k, w in CLI.items() if FLAG.search(w) or COMMAND.search(w)}
    assert len(flags) > len(CLI) / 2  # most keys are flags or commands: the CLI says which
    exc = StationError(Phrase("{anchor_every} cannot be negative"), Phrase("e.g. {anchor_every} 8"))
    assert (
        error_lines(exc) == "error: --anchor-every cannot be negative\nhint: e.g. --anchor-every 8"
    )
    assert error_text(exc) == "the anchor interval cannot be negative\ne.g. the anchor interval 8"
    assert str(exc) == "the anchor interval cannot be negative\nhint: e.g. the anchor interval 8"


def test_a_face_word_can_use_the_phrase_values() -> None:
    hint = Phrase("continue it with {sweep_resume}, or choose another name", session="od-1")
    assert (
        hint.render(CLI) == "continue it with 'station sweep resume od-1', or choose another name"
    )
    assert hint.render(TUI) == "continue it with Resume on the Sweep screen, or choose another name"


def test_plain_text_keeps_its_braces_and_phrases_add_up() -> None:
    plain = StationError("bad value {'a': 1}", "give {x}")
    assert plain.message == "bad value {'a': 1}" and plain.hint == "give {x}"
    joined = "setting {s1} failed; " + Phrase("stopped as {stop_on_fail} asks")
    assert joined.render(CLI) == "setting {s1} failed; stopped as --stop-on-fail asks"
    with pytest.raises(ValueError, match="disagree"):
        Phrase("{a}", a=1) + Phrase("{a}", a=2)


def test_a_sweep_refusal_names_the_flag_on_the_command_line(home: Path) -> None:
    res = station(
        "plan",
        "--knob",
        "drive=0:10",
        "--settings",
        "4",
        "--holdout",
        "-1",
        "--out",
        str(home / "p.json"),
        home=home,
    )
    assert res.returncode == 1
    assert "error: --holdout cannot be negative" in res.stderr, res.stderr
