"""When training stops: a time limit (--max-minutes), patience, and the report saying which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_station
from tests.sweep_fixture import default_plan, short_input, write_session


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stop")
    plan = [p for p in default_plan() if p.id in ("s001", "s002", "s005", "h001")]
    return write_session(root / "sweep", short_input(root / "in.wav"), plan)


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--max-minutes", "abc", "--max-minutes 'abc' is not a number"),
        ("--max-minutes", "0", "--max-minutes must be a positive number of minutes"),
        ("--max-minutes", "-5", "--max-minutes must be a positive number of minutes"),
        ("--max-minutes", "nan", "--max-minutes must be a positive number of minutes"),
        ("--patience", "-1", "--patience cannot be negative"),
        ("--patience", "2.5", "--patience '2.5' is not a whole number"),
    ],
)
def test_bad_limits_are_one_line_each(
    session: Path, tmp_path: Path, flag: str, value: str, said: str
) -> None:
    res = run_station("train", str(session), "--parametric", f"{flag}={value}", home=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0] == f"error: {said}" and lines[1].startswith("hint: ") and len(lines) == 2


pytest.importorskip("torch")
pytest.importorskip("nam")


@pytest.mark.slow
def test_patience_stops_when_the_selection_loss_stops_improving(
    session: Path, tmp_path: Path, one_thread: None
) -> None:
    from station.models.parametric.training import Recipe, train_parametric

    # A learning rate of 0: the selection loss never improves on the first validation's.
    frozen = {"optimizer": {"lr": 0.0}}
    recipe = Recipe("tiny", epochs=50, ny=8192, batch_size=8, patience=2, overrides=frozen,
                    trainer_options={"accelerator": "cpu"})  # fmt: skip
    log = train_parametric(session, recipe, out=tmp_path / "m.nam").report["training"]
    assert log["stopped_by"] == "no_improvement" and log["validations"] == 3, log
    assert log["epochs_done"] == 3 and log["best_step"] is not None
    assert "no improvement of the selection loss in 2 validation(s)" in log["stopped"]


@pytest.mark.slow
def test_max_minutes_from_the_cli_stops_and_keeps_the_best_model(
    session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    res = run_station(
        "train", str(session), "--parametric", "--architecture", "tiny", "--epochs", "10000",
        "--max-minutes", "0.1", "--patience", "0", "--accelerator", "cpu", "--json", home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    log = report["training"]
    assert log["stopped_by"] == "max_minutes" and log["limits"]["max_minutes"] == 0.1
    assert log["limits"]["patience"] == 0 and 0.1 <= log["minutes"] < 2
    assert log["epochs_done"] < 10000 and Path(report["model_path"]).is_file()
    said = run_station(
        "train", str(session), "--snapshots", "--architecture", "nano", "--epochs", "10000",
        "--max-minutes", "0.05", home=tmp_path,
    )  # fmt: skip
    assert said.returncode == 0, said.stderr[-3000:]
    snapshots = json.loads((session / "models" / "snapshots.json").read_text())["snapshots"]
    assert [s["training"]["stopped_by"] for s in snapshots] == ["max_minutes"] * 4
