"""Training from a tiny virtual sweep: a knob-conditioned model that beats any knob-blind one.

Skipped where the `train` extra is not installed. The gear (tests/sweep_fixture.py)
has two knobs and a switch; the model trains on eight settings and is judged on
three it never saw, on a stretch of signal no setting trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from station.events import EpochProgress, Progress, StopFlag, Warning_
from station.models.namfile import read_model
from station.models.parametric.session import load_sweep
from station.models.parametric.training import Recipe, train_parametric
from station.reamp import files as reamp
from tests.conftest import run_station
from tests.sweep_fixture import (
    INPUT_DBU,
    OUTPUT_DBU,
    PlannedSetting,
    default_plan,
    short_input,
    write_session,
)

pytest.importorskip("nam")
torch = pytest.importorskip("torch")

# Quick training for a tiny model: many small batches (the defaults suit 3-minute captures).
QUICK = {
    "architecture": "tiny",
    "ny": 2048,
    "batch_size": 8,
    "trainer_options": {"accelerator": "cpu"},
}


def quick(epochs: int) -> Recipe:
    """The quick tiny-model recipe for `epochs` epochs."""
    return Recipe(epochs=epochs, **QUICK)


@pytest.fixture(scope="module")
def signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_input(tmp_path_factory.mktemp("sig") / "in.wav")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, signal: Path) -> Path:
    plan = [
        *default_plan(),
        PlannedSetting("s009", "train", {"drive": 3, "tone": 3}, {"boost": "off"}, fail=True),
        PlannedSetting("s010", "train", {"drive": 4, "tone": 4}, {"boost": "on"}, status="suspect"),
    ]
    return write_session(tmp_path_factory.mktemp("sweep") / "knobbox", signal, plan)


@pytest.fixture(scope="module")
def trained(session: Path, one_thread: object) -> tuple[object, list[object]]:
    events: list[object] = []
    result = train_parametric(session, quick(12), emit=events.append)
    return result, events


def _held_out(session: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    sweep = load_sweep(session)
    x, _, _ = reamp.read_mono(sweep.x_path)
    lo = int(len(x) * 0.9)  # a custom signal: the test is the last 10 %
    ys = [reamp.read_mono(s.folder / "output.wav")[0][lo:] for s in sweep.used("holdout")]
    return x, ys


@pytest.mark.slow
def test_holdout_esr_beats_every_knob_blind_model(trained: tuple, session: Path) -> None:
    result, _ = trained
    report = result.report
    _, ys = _held_out(session)
    stack = np.array(ys)
    # A model that ignores the knobs gives one output for all three settings; the best
    # such output is their mean, so no knob-blind model gets below this pooled ESR.
    blind = float(np.sum((stack - stack.mean(0)) ** 2) / np.sum(stack**2))
    assert blind > 0.2  # the knobs matter in this gear
    assert report["esr_pooled"] < blind / 2, (report["esr_pooled"], blind)
    assert [h["id"] for h in report["holdout"]] == ["h001", "h002", "h003"]
    assert report["esr_worst"] == max(h["esr"] for h in report["holdout"])
    assert report["esr_median"] == sorted(h["esr"] for h in report["holdout"])[1]


def test_exported_model_carries_knobs_encoding_and_calibration(trained: tuple) -> None:
    result, _ = trained
    model = read_model(result.models[0])
    assert model.data["architecture"] == "WaveNet"  # what NAM's cores load
    assert model.data["config"]["in_channels"] == 4  # the audio, boost, drive, tone
    meta = model.metadata
    assert meta["input_level_dbu"] == INPUT_DBU and meta["output_level_dbu"] == OUTPUT_DBU
    assert isinstance(meta["input_level_dbu"], float)  # a JSON number, never a string
    assert "drive" in meta["name"] and meta["gear_type"] == "pedal"
    config = model.data["config"]
    assert config["parametric"]["boost"]["positions"] == ["off", "on"]
    assert config["parametric"]["drive"]["minval"] == 0.0
    assert config["parametric"]["drive"]["maxval"] == 10.0
    assert "sorted name order" in config["parametric_encoding"]
    assert config["layers"][0]["input_size"] == 4  # audio + drive, tone, boost


def test_the_model_follows_the_knobs(trained: tuple, session: Path) -> None:
    from station.models.parametric import nam_ext

    result, _ = trained
    data = read_model(result.models[0]).data
    x, _ = _held_out(session)
    sweep = load_sweep(session)
    h = next(s for s in sweep.settings if s.id == "h002")
    out = nam_ext.run(data, x, sweep.encoded(h))
    y, _, _ = reamp.read_mono(h.folder / "output.wav")
    lo = int(len(x) * 0.9)
    esr = float(np.mean((out[lo:] - y[lo:]) ** 2) / np.mean(y[lo:] ** 2))
    reported = next(r["esr"] for r in result.report["holdout"] if r["id"] == "h002")
    assert esr == pytest.approx(reported, rel=1e-3)
    quiet = nam_ext.run(data, x, {"drive": 0.0, "tone": 0.5, "boost": 0.0})
    loud = nam_ext.run(data, x, {"drive": 1.0, "tone": 0.5, "boost": 1.0})
    assert np.sqrt(np.mean(loud**2)) > 1.5 * np.sqrt(np.mean(quiet**2))


def test_report_lists_what_was_left_out_and_the_plot(trained: tuple) -> None:
    result, events = trained
    report = json.loads(result.report_path.read_text())
    assert {r["id"] for r in report["excluded"]} == {"s009", "s010"}
    assert any(isinstance(e, Warning_) and "s009" in e.text for e in events)
    png = Path(report["plot"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(report["train"]) == 8 and report["stopped_early"] is False


def test_progress_says_epoch_esr_and_time_left(trained: tuple) -> None:
    _, events = trained
    progress = [e for e in events if isinstance(e, EpochProgress)]
    assert [e.epoch for e in progress] == list(range(1, 13)) and progress[0].epochs == 12
    assert progress[0].message.startswith("epoch 1/12") and "ESR" in progress[0].message
    assert progress[-1].fraction == 1.0 and progress[-1].remaining_s == 0.0
    assert progress[0].remaining_s is not None and progress[0].remaining_s > 0
    esrs = [e.esr for e in progress]
    assert all(e is not None and e > 0 for e in esrs)
    assert [e.best_esr for e in progress] == [min(esrs[: i + 1]) for i in range(12)]
    # Before the first epoch ends, a line says training runs (time left comes after it).
    first = next(e for e in events if isinstance(e, Progress))
    assert not isinstance(first, EpochProgress) and "epoch 1/12 running" in first.message


def test_verify_against_the_session(
    trained: tuple, session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = trained
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    res = run_station(
        "verify", str(result.models[0]), "--session", str(session), "--json", home=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["parametric"] is True and len(out["settings"]) == 3
    by_id = {r["id"]: r for r in result.report["holdout"]}
    for row in out["settings"]:
        assert row["esr"] == pytest.approx(by_id[row["id"]]["esr"], rel=1e-3)
        assert row["esr_whole"] is not None and np.isfinite(row["level_difference_db"])


def test_stop_flag_ends_training_between_epochs(
    signal: Path, tmp_path: Path, one_thread: object
) -> None:
    plan = [p for p in default_plan() if p.id in ("s001", "s002", "h001")]
    session = write_session(tmp_path / "small", signal, plan)
    stop = StopFlag()
    seen: list[EpochProgress] = []

    def emit(event: object) -> None:
        if isinstance(event, EpochProgress):
            seen.append(event)
            stop.set()  # as the TUI's Escape would, after the first epoch

    result = train_parametric(session, quick(50), stop=stop, emit=emit)
    assert len(seen) == 1 and result.report["stopped_early"] is True
    assert result.models[0].is_file()  # the best model so far is kept


@pytest.mark.slow
def test_cli_parametric_and_snapshots_one_level_at_a_time(
    signal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = [p for p in default_plan() if p.id in ("s002", "s005", "h002")]
    loud = [
        PlannedSetting(p.id.replace("0", "1", 1), p.role, p.knobs, p.switches,
                       extra={"input_level_dbu": INPUT_DBU + 6})
        for p in plan
    ]  # fmt: skip
    session = write_session(tmp_path / "cli", signal, plan + loud)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    res = run_station("train", str(session), "--parametric", home=tmp_path)
    assert res.returncode == 1 and "several reamp levels" in res.stderr
    assert f"--level {INPUT_DBU:g}" in res.stderr and "Traceback" not in res.stderr
    res = run_station(
        "train", str(session), "--parametric", "--level", f"{INPUT_DBU:g}", "--architecture",
        "tiny", "--epochs", "1", "--accelerator", "cpu", "--devices", "1", "--json", home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert Path(out["model_path"]).name == f"parametric-{INPUT_DBU:g}dBu.nam"
    assert [r["id"] for r in out["holdout"]] == ["h002"]
    assert [r["id"] for r in out["train"]] == ["s002", "s005"]
    assert out["levels_dbu"] == [INPUT_DBU, INPUT_DBU + 6] and out["other_level_settings"] == 3
    assert read_model(Path(out["model_path"])).metadata["input_level_dbu"] == INPUT_DBU
    assert "epoch 1/1" in res.stderr and "left" in res.stderr
    res = run_station(
        "train", str(session), "--snapshots", "--level", f"{INPUT_DBU + 6:g}", "--architecture",
        "nano", "--epochs", "1", "--json", home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    snaps = json.loads(res.stdout)["snapshots"]
    assert [s["id"] for s in snaps] == ["s102", "s105", "h102"]
    assert not list(Path(snaps[0]["model_path"]).parent.glob("*.bak"))  # tagged before it lands
    for s in snaps:
        meta = read_model(Path(s["model_path"])).metadata
        assert meta["input_level_dbu"] == INPUT_DBU + 6 and meta["output_level_dbu"] == OUTPUT_DBU
        assert f"drive={s['knobs']['drive']:g}" in meta["name"]
        assert f"boost={s['switches']['boost']}" in meta["name"]
        assert f"at {INPUT_DBU + 6:g} dBu" in meta["name"]
        # named after the setting, as the README says
        knobs, switches = s["knobs"], s["switches"]
        assert Path(s["model_path"]).name == (
            f"{s['id']}_boost-{switches['boost']}_drive-{knobs['drive']:g}_tone-{knobs['tone']:g}.nam"
        )
    # verify takes the level from the model, and judges a snapshot at its own setting
    res = run_station(
        "verify", snaps[0]["model_path"], "--session", str(session), "--json", home=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    verdict = json.loads(res.stdout)
    assert verdict["parametric"] is False and verdict["snapshot_of"] == "s102"
    assert [r["id"] for r in verdict["settings"]] == ["s102"]
    # any other standard model at that level is judged at the level's held-out settings
    other = tmp_path / "other.nam"
    other.write_bytes(Path(snaps[0]["model_path"]).read_bytes())
    res = run_station("verify", str(other), "--session", str(session), "--json", home=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    verdict = json.loads(res.stdout)
    assert verdict["snapshot_of"] is None and [r["id"] for r in verdict["settings"]] == ["h102"]


def test_a_short_capture_trains_every_epoch_in_smaller_batches(
    session: Path, tmp_path: Path, one_thread: object
) -> None:
    from station.models.train import train_capture

    events: list[object] = []
    folder = session / "s001"  # 3 s: 13 examples of 8192 samples, fewer than a batch of 16
    result = train_capture(
        folder, architecture="nano", epochs=2, out=tmp_path / "m.nam", emit=events.append
    )
    assert [e.epoch for e in events if isinstance(e, EpochProgress)] == [1, 2]
    assert any(isinstance(e, Warning_) and "batches of 13" in e.text for e in events)
    assert result.model_path.is_file()


def test_a_capture_too_short_for_one_example_is_refused(tmp_path: Path) -> None:
    from station.errors import StationError
    from station.models.train import train_capture

    tiny = short_input(tmp_path / "tiny.wav", duration_s=0.2)
    plan = [p for p in default_plan() if p.id == "s001"]
    folder = write_session(tmp_path / "short", tiny, plan) / "s001"
    with pytest.raises(StationError, match="shorter than one training example"):
        train_capture(folder, architecture="nano", epochs=1, out=tmp_path / "m.nam")
    assert not (tmp_path / "m.nam").exists()


def test_a_model_written_elsewhere_leaves_the_sessions_report_alone(
    trained: tuple, session: Path, tmp_path: Path
) -> None:
    result, _ = trained
    own = result.report_path.read_bytes()
    other = train_parametric(session, quick(1), out=tmp_path / "elsewhere.nam")
    assert result.report_path.read_bytes() == own
    assert other.report_path == tmp_path / "elsewhere-report.json"
    report = json.loads(other.report_path.read_text())
    assert report["model_path"] == str(tmp_path / "elsewhere.nam")
    assert Path(report["plot"]) == tmp_path / "elsewhere-report.png"
    assert Path(report["plot"]).is_file()


def test_snapshot_file_names_keep_to_safe_characters() -> None:
    from station.models.parametric.training import snapshot_file_name

    assert snapshot_file_name("s003", "boost=on drive=5 tone=3.5") == (
        "s003_boost-on_drive-5_tone-3.5.nam"
    )
    assert snapshot_file_name("s004", "mode=hi/lo voice=ä") == "s004_mode-hi_lo_voice-_.nam"


def test_captures_at_two_return_levels_train_at_one(
    signal: Path, tmp_path: Path, one_thread: object
) -> None:
    from dataclasses import replace

    from nam.data import Split, init_dataset

    from station.models.parametric import nam_ext
    from station.models.parametric.training import data_config
    from tests.sweep_fixture import knob_gear

    # The return was measured again halfway: the second half recorded 6 dB less sensitively.
    common = OUTPUT_DBU + 6.0
    plan = [replace(p, return_dbu=common) if p.id >= "s005" else p for p in default_plan()]
    path = write_session(tmp_path / "two", signal, plan)
    sweep = load_sweep(path)
    assert sweep.output_level_dbu == common  # the highest: no capture is scaled up
    assert any("return levels" in w for w in sweep.warnings)
    # NAM's own dataset scales each capture to the common level: on the gear's truth, every
    # setting's output as if recorded at `common`.
    nam_ext.register()
    config = data_config(sweep, 2048)
    config["common"]["nx"] = 1
    train = init_dataset(config, Split.TRAIN).datasets
    x, _, _ = reamp.read_mono(sweep.x_path)
    settings = sweep.used("train")
    assert len(train) == len(settings) == 8
    for dataset, s, entry in zip(train, settings, config["train"], strict=True):
        values = s.values()
        truth = knob_gear(x.astype(np.float64), values["drive"], values["tone"], values["boost"])
        lo, hi = entry.get("start_samples", 0), entry["stop_samples"]
        at_common = truth[lo:hi] * 10 ** ((OUTPUT_DBU - common) / 20)
        np.testing.assert_allclose(dataset.y.numpy(), at_common, atol=2e-7)
    # The model carries that level.
    result = train_parametric(path, quick(1))
    assert read_model(result.models[0]).metadata["output_level_dbu"] == common
