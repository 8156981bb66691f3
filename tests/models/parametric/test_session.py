"""Reading a sweep session for training, and the bad sessions refused before any torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.cli.words import say as cli_words
from station.errors import StationError
from station.models.parametric.session import ENCODING, NAM_CONFIG_KEYS, load_sweep
from station.models.parametric.training import Recipe, train_parametric
from tests.conftest import run_station
from tests.sweep_fixture import PlannedSetting, default_plan, short_input, write_session


@pytest.fixture(scope="module")
def signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_input(tmp_path_factory.mktemp("sig") / "in.wav", duration_s=1.0)


def test_roles_levels_and_encoding(signal: Path, tmp_path: Path) -> None:
    sweep = load_sweep(write_session(tmp_path / "s", signal))
    assert [p.name for p in sweep.specs] == ["boost", "drive", "tone"]  # sorted: channel order
    assert len(sweep.used("train")) == 8 and len(sweep.used("holdout")) == 3
    assert (sweep.input_level_dbu, sweep.output_level_dbu) == (8.0, 11.5)
    h = next(s for s in sweep.settings if s.id == "h002")
    assert h.values() == {"drive": 7, "tone": 3, "boost": "on"}
    assert sweep.encoded(h) == {"boost": 1.0, "drive": 0.7, "tone": 0.3}
    block = sweep.parametric_block()
    assert block["boost"] == {
        "type": "switch", "channel": 1, "minval": 0.0, "maxval": 1.0, "default_value": 0.0,
        "positions": ["off", "on"],
    }  # fmt: skip
    assert block["tone"]["channel"] == 3 and block["drive"]["maxval"] == 10.0
    assert "sorted name order" in ENCODING


def test_roles_come_from_the_plan_without_dataset_json(signal: Path, tmp_path: Path) -> None:
    sweep = load_sweep(write_session(tmp_path / "s", signal, dataset=False))
    assert sorted(s.id for s in sweep.used("holdout")) == ["h001", "h002", "h003"]


def test_failed_and_suspect_settings_are_left_out_with_a_warning(
    signal: Path, tmp_path: Path
) -> None:
    plan = [
        *default_plan(),
        PlannedSetting("s009", "train", {"drive": 3, "tone": 3}, {"boost": "off"}, fail=True),
        PlannedSetting("s010", "train", {"drive": 4, "tone": 4}, {"boost": "on"}, status="suspect"),
    ]
    sweep = load_sweep(write_session(tmp_path / "s", signal, plan))
    reasons = {s.id: s.excluded for s in sweep.excluded}
    assert set(reasons) == {"s009", "s010"}
    assert "replicate_esr" in reasons["s009"] and "suspect" in reasons["s010"]
    assert len(sweep.used("train")) == 8
    assert any("s009" in w for w in sweep.warnings) and any("s010" in w for w in sweep.warnings)


def test_a_dataset_delay_is_not_applied_twice(signal: Path, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s", signal)
    ds = json.loads((session / "dataset.json").read_text())
    ds["common"]["delay"] = 37
    (session / "dataset.json").write_text(json.dumps(ds))
    sweep = load_sweep(session)
    assert any("already aligned" in w for w in sweep.warnings)


def test_a_copied_session_reads_its_captures_from_where_it_is_now(
    signal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.models.parametric.training import data_config

    session = write_session(tmp_path / "made" / "s", signal)
    ds = json.loads((session / "dataset.json").read_text())
    # As `sweep export` writes it: paths relative to dataset.json's folder (and no ids).
    ds["common"]["x_path"] = "s001/input.wav"
    for entry in ds["train"] + ds["validation"]:
        entry["y_path"] = f"{Path(entry['y_path']).parent.name}/output.wav"
    ds["train"] = [e for e in ds["train"] if e["y_path"] != "s002/output.wav"]
    (session / "dataset.json").write_text(json.dumps(ds))
    copy = tmp_path / "elsewhere" / "copy"
    copy.parent.mkdir()
    session.rename(copy)  # the original is gone: only the copy can be read
    monkeypatch.chdir(copy.parent)
    sweep = load_sweep(Path("copy"))
    assert sorted(s.id for s in sweep.used("train")) == [f"s00{i}" for i in (1, 3, 4, 5, 6, 7, 8)]
    assert len(sweep.used("holdout")) == 3
    monkeypatch.chdir(tmp_path)  # NAM reads from its own working folder: paths are absolute
    config = data_config(sweep, 4096)
    paths = [config["common"]["x_path"]] + [e["y_path"] for e in config["train"]]
    for p in paths:
        assert Path(p).is_absolute() and Path(p).is_file() and Path(p).is_relative_to(copy)


@pytest.mark.parametrize("name", ["delay", "ny", "y_path", "params", "start_samples"])
def test_knob_names_that_clash_with_nam_config_keys_are_refused(
    name: str, signal: Path, tmp_path: Path
) -> None:
    knobs = [{"name": name, "min": 0.0, "max": 10.0}]
    plan = [
        PlannedSetting(f"s{i}", "train" if i < 3 else "holdout", {name: float(i)}, {})
        for i in range(4)
    ]
    session = write_session(tmp_path / "s", signal, plan, knobs=knobs, switches=[])
    with pytest.raises(StationError, match=f"'{name}' is also one of NAM's config keys"):
        load_sweep(session)


def test_the_clash_list_covers_nams_dataset_arguments() -> None:
    nam = pytest.importorskip("nam.data")
    import inspect

    args = set(inspect.signature(nam.Dataset.__init__).parameters) - {"self"}
    assert args <= NAM_CONFIG_KEYS


def test_fewer_than_two_training_settings_is_refused(signal: Path, tmp_path: Path) -> None:
    plan = [p for p in default_plan() if p.role == "holdout" or p.id == "s001"]
    session = write_session(tmp_path / "s", signal, plan)
    with pytest.raises(StationError, match="1 usable training setting"):
        train_parametric(session, Recipe(epochs=1))
    # A failed capture does not count either.
    plan2 = [*plan, PlannedSetting("s002", "train", {"drive": 9, "tone": 9}, {"boost": "on"},
                                   fail=True)]  # fmt: skip
    session2 = write_session(tmp_path / "s2", signal, plan2)
    res = run_station("train", str(session2), "--parametric", home=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "needs at least two" in res.stderr and "Traceback" not in res.stderr
    assert "s002" in res.stderr  # the warning names the setting left out


def test_session_without_a_mode_and_not_a_session(signal: Path, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s", signal)
    res = run_station("train", str(session), home=tmp_path)
    assert res.returncode == 1 and "--parametric" in res.stderr and "--snapshots" in res.stderr
    res = run_station("train", str(tmp_path), "--snapshots", home=tmp_path)
    assert res.returncode == 1 and "not a sweep session" in res.stderr


def test_settings_at_different_reamp_levels_are_refused(signal: Path, tmp_path: Path) -> None:
    plan = default_plan()
    plan[1].extra = {"input_level_dbu": 2.0}
    with pytest.raises(StationError, match="several reamp levels") as caught:
        load_sweep(write_session(tmp_path / "s", signal, plan))
    assert "--level 2" in cli_words(caught.value.advice)


def _two_levels(signal: Path, folder: Path) -> Path:
    """default_plan() at 8 dBu, and the same settings again at 14 dBu (one of them failed)."""
    loud = [
        PlannedSetting(p.id.replace("0", "1", 1), p.role, p.knobs, p.switches,
                       extra={"input_level_dbu": 14.0}, fail=p.id == "s003")
        for p in default_plan()
    ]  # fmt: skip
    return write_session(folder, signal, default_plan() + loud)


def test_one_level_out_of_a_multi_level_session(signal: Path, tmp_path: Path) -> None:
    session = _two_levels(signal, tmp_path / "s")
    loud = load_sweep(session, 14.0)
    assert loud.input_level_dbu == 14.0 and loud.levels_dbu == [8.0, 14.0]
    assert loud.multi_level and loud.level_tag == "-14dBu" and loud.other_levels == 11
    assert {s.id for s in loud.used("train")} == {f"s1{i:02d}" for i in range(1, 9)} - {"s103"}
    assert {s.id for s in loud.used("holdout")} == {"h101", "h102", "h103"}
    assert [s.id for s in loud.excluded] == ["s103"] and any("s103" in w for w in loud.warnings)
    quiet = load_sweep(session, 8.0)
    assert {s.id for s in quiet.used("train") + quiet.used("holdout")} == {
        p.id for p in default_plan()
    }
    assert quiet.excluded == [] and quiet.warnings == []  # s103's failure is not this level's
    assert load_sweep(session, default_level=8.0).input_level_dbu == 8.0
    assert load_sweep(session, 14.0, default_level=8.0).input_level_dbu == 14.0
    with pytest.raises(StationError, match="no usable settings captured at 10 dBu") as caught:
        load_sweep(session, 10.0)
    assert "8, 14 dBu" in (caught.value.hint or "")
    single = load_sweep(write_session(tmp_path / "one", signal), default_level=14.0)
    assert single.input_level_dbu == 8.0 and not single.multi_level and single.level_tag == ""


def test_level_is_for_sessions_only(signal: Path, tmp_path: Path) -> None:
    session = _two_levels(signal, tmp_path / "s")
    res = run_station("train", str(session), "--snapshots", "--level", "11", home=tmp_path)
    assert res.returncode == 1 and "11 dBu" in res.stderr and "8, 14 dBu" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_station("train", str(session / "s001"), "--level", "8", home=tmp_path)
    assert res.returncode == 1 and "--level" in res.stderr and "Traceback" not in res.stderr


def test_one_line_without_the_train_extra(signal: Path, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s", signal)
    code = (
        "import sys; sys.modules['nam'] = None\n"
        "from station.main import main\n"
        f"sys.exit(main(['train', {str(session)!r}, '--parametric']))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=dict(os.environ),
    )  # fmt: skip
    assert res.returncode == 1
    assert "neural-amp-modeler" in res.stderr and "pip install" in res.stderr
    assert "Traceback" not in res.stderr


def test_what_station_sweep_export_writes(signal: Path, tmp_path: Path) -> None:
    # The export's own shape: ids on entries, switch indices, left_out, a suspect list.
    session = write_session(tmp_path / "s", signal)
    data = json.loads((session / "session.json").read_text())
    data["schedule"] = data["plan"]["settings"]
    data["suspect"] = ["s003"]
    data["rig"] = "vpedal"  # the rig's name; its profile is under rig_profile
    (session / "session.json").write_text(json.dumps(data))
    ds = json.loads((session / "dataset.json").read_text())
    for entry in ds["train"] + ds["validation"]:
        entry["id"] = Path(entry["y_path"]).parent.name
        entry["params"]["boost"] = float(entry["params"]["boost"] == "on")
    ds["train"] = [e for e in ds["train"] if e["id"] not in ("s003", "s004")]
    ds["left_out"] = [
        {"id": "s003", "reason": "suspect (drift)"},
        {"id": "s004", "reason": "failed"},
    ]
    (session / "dataset.json").write_text(json.dumps(ds))
    sweep = load_sweep(session)
    reasons = {s.id: s.excluded for s in sweep.excluded}
    assert "suspect" in reasons["s003"] and "failed" in reasons["s004"]
    assert len(sweep.used("train")) == 6 and len(sweep.used("holdout")) == 3


def test_a_new_model_never_silently_replaces_the_last(tmp_path: Path) -> None:
    from station.events import Warning_
    from station.models.train import install_model

    said: list[object] = []
    first, second = tmp_path / "first.nam", tmp_path / "second.nam"
    first.write_text('{"a": 1}')
    second.write_text('{"a": 2}')
    target = tmp_path / "models" / "parametric.nam"
    install_model(first, target, said.append)
    assert target.read_text() == '{"a": 1}' and said == []
    install_model(second, target, said.append)
    assert target.read_text() == '{"a": 2}'
    assert (tmp_path / "models" / "parametric.previous.nam").read_text() == '{"a": 1}'
    assert isinstance(said[0], Warning_) and "parametric.previous.nam" in said[0].text


def test_a_level_pack_trains_one_level(signal: Path, tmp_path: Path) -> None:
    from station.home import pack_capture, pack_levels

    plan = [p for p in default_plan() if p.id == "s001"]
    quiet = write_session(tmp_path / "q", signal, plan) / "s001"
    pack = tmp_path / "home" / "captures" / "pack"
    pack.mkdir(parents=True)
    quiet.rename(pack / "8dBu")
    loud = json.loads((pack / "8dBu" / "capture.json").read_text())
    (pack / "14dBu").mkdir()
    for f in ("input.wav", "output.wav"):
        (pack / "14dBu" / f).write_bytes((pack / "8dBu" / f).read_bytes())
    (pack / "14dBu" / "capture.json").write_text(json.dumps({**loud, "input_level_dbu": 14.0}))
    assert pack_levels(pack) == {8.0: pack / "8dBu", 14.0: pack / "14dBu"}
    assert pack_levels(pack / "8dBu") == {} and pack_capture(pack, 14) == pack / "14dBu"
    res = run_station("train", str(pack), home=tmp_path / "home")
    assert res.returncode == 1 and "level pack" in res.stderr and "--level 8" in res.stderr
    res = run_station("train", str(pack), "--level", "10", home=tmp_path / "home")
    assert res.returncode == 1 and "8, 14 dBu" in res.stderr and "Traceback" not in res.stderr
    from station.home import list_captures

    assert sorted(n for n, _ in list_captures(tmp_path / "home")) == ["pack/14dBu", "pack/8dBu"]


def test_the_test_settings_take_no_part_in_training_or_choosing_the_checkpoint(
    signal: Path, tmp_path: Path
) -> None:
    from station.models.parametric.training import data_config

    sweep = load_sweep(write_session(tmp_path / "s", signal, default_plan()))
    config = data_config(sweep, ny=2048)
    test = {str(s.folder / "output.wav") for s in sweep.used("holdout")}
    assert test, "the fixture has held-out settings"
    # NAM keeps the checkpoint that scores best on "validation": it must not see them.
    for part in ("train", "validation"):
        assert not test & {e["y_path"] for e in config[part]}, part
    assert {e["y_path"] for e in config["validation"]} == {e["y_path"] for e in config["train"]}
    # ...and the audio the test is scored on (the held-out stretch's second half) is neither
    # trained on nor used to choose: selection has the first half.
    from station.models.parametric.verify import held_out_start, stretches
    from station.reamp import files as reamp

    info = reamp.recognise(sweep.x_path)
    start = held_out_start(info)
    assert start == stretches(info)[1][0] > 0
    assert all(e["stop_samples"] <= start for e in config["train"])
    assert all(e["stop_samples"] <= start for e in config["validation"])
    assert all(e["start_samples"] == stretches(info)[0][0] for e in config["validation"])
