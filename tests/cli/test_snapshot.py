"""`station snapshot` and `station render` as a user runs them, bad input included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from station.models.parametric import fold
from tests.conftest import run_station as station
from tests.models.param_model import parametric_model, write_parametric

pytestmark = pytest.mark.slow  # each call starts the station; renders load torch


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return write_parametric(tmp_path / "box.nam", input_level_dbu=8.0, output_level_dbu=11.5)


def one_line_error(res: object, *words: str) -> None:
    """A refusal: exit 1, an error line naming `words`, no traceback."""
    assert res.returncode == 1, res.stdout + res.stderr  # type: ignore[attr-defined]
    err = res.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and "\nerror: " in f"\n{err}", err
    for w in words:
        assert w in err, err


def test_a_snapshot_at_one_setting_carries_levels_setting_and_players(
    model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "box-d6.nam"
    res = station("snapshot", str(model), "drive=6", "--out", str(out), home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "at the model's default: boost=off" in res.stdout
    assert "calibrated: input 8 dBu, output 11.5 dBu" in res.stdout
    assert "classic WaveNet layout, file version 0.5.4" in res.stdout
    assert "NAM plugin v0.7.13 (core 0.2.0): yes" in res.stdout
    data = json.loads(out.read_text())
    meta = data["metadata"]
    assert meta["setting"] == {"boost": "off", "drive": 6}
    assert meta["name"] == "Knob box @ boost=off drive=6"
    assert (meta["input_level_dbu"], meta["output_level_dbu"]) == (8.0, 11.5)
    assert data["sample_rate"] == 48000
    # The parametric model's loudness was measured at its default setting, not at this one.
    assert meta.get("loudness") != -20.0
    info = station("info", str(out), home=tmp_path)
    assert "cannot load" not in info.stderr
    # Its metadata as labelled fields, not raw JSON.
    assert "  Setting: boost=off, drive=6\n" in info.stdout and "{" not in info.stdout
    # Written once: a second run without --force keeps the file.
    again = station("snapshot", str(model), "drive=7", "--out", str(out), home=tmp_path)
    one_line_error(again, "exists")
    assert json.loads(out.read_text())["metadata"]["setting"]["drive"] == 6


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["drive=11"], ["outside 0…10"]),
        (["gain=2"], ["no control 'gain'", "boost, drive"]),
        (["boost=maybe"], ["no position 'maybe'"]),
        (["drive"], ["not name=value"]),
        (["--grid", "drive=10:0:1"], ["step must be positive"]),
        (["--grid", "boost=0:1:1"], ["a range is start:stop:step, for a knob"]),
        (["--grid", "drive=0:10:0.001"], ["a pack holds"]),
        (["drive=5", "--grid", "boost=off,on"], ["not both"]),
        (["--for-players", "v0.7.13"], ["parametric model"]),
        (["--for-players", "v9"], ["not a player release"]),
    ],
)
def test_bad_settings_get_one_line(model: Path, tmp_path: Path, args: list, words: list) -> None:
    one_line_error(station("snapshot", str(model), *args, home=tmp_path), *words)


def test_a_standard_model_is_refused_without_a_release(tmp_path: Path) -> None:
    standard = tmp_path / "std.nam"
    standard.write_text(json.dumps(fold.fold(parametric_model(), {"boost": 0.0, "drive": 5.0})))
    res = station("snapshot", str(standard), "drive=1", home=tmp_path)
    one_line_error(res, "standard model", "--for-players v0.7.13")
    res = station("snapshot", str(tmp_path / "none.nam"), "drive=1", home=tmp_path)
    one_line_error(res, "no file")
    res = station("snapshot", str(standard), "--for-players", "v0.7.13", home=tmp_path)
    assert res.returncode == 0, res.stderr
    old = json.loads((tmp_path / "std-v0.7.13.nam").read_text())
    assert old["version"] == "0.5.4" and old["config"]["layers"][0]["kernel_size"] == 3


def test_a_grid_writes_a_pack_and_its_index(model: Path, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    res = station(
        "snapshot", str(model), "--grid", "drive=0:10:5", "--out", str(pack), home=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert "boost held at the model's default in every file" in res.stderr
    assert "3/3 boost-off_drive-10.nam" in res.stderr  # progress, per file
    index = json.loads((pack / "index.json").read_text())
    files = [f["file"] for f in index["files"]]
    assert files == ["boost-off_drive-0.nam", "boost-off_drive-5.nam", "boost-off_drive-10.nam"]
    assert all((pack / f).is_file() for f in files)
    assert index["files"][2]["setting"] == {"boost": "off", "drive": 10}
    assert index["files"][0]["input_level_dbu"] == 8.0
    # Different settings are different models.
    w = [json.loads((pack / f).read_text())["weights"] for f in files]
    assert w[0] != w[1] != w[2]


def write_di(path: Path, rate: int = 48000, channels: int = 1, level: float = 0.2) -> Path:
    rng = np.random.default_rng(0)
    x = level * rng.standard_normal((rate // 2, channels))
    sf.write(str(path), x if channels > 1 else x[:, 0], rate, subtype="PCM_24")
    return path


def test_render_refuses_bad_input_in_one_line(model: Path, tmp_path: Path) -> None:
    pytest.importorskip("nam")
    out = str(tmp_path / "out.wav")
    cases = [
        ([str(model), "--input", str(write_di(tmp_path / "44k.wav", rate=44100))], "44100 Hz"),
        ([str(model), "--input", str(write_di(tmp_path / "st.wav", channels=2))], "2 channels"),
        ([str(tmp_path / "nope.nam"), "--input", str(tmp_path / "44k.wav")], "no file"),
        ([str(model), "--input", str(tmp_path / "missing.wav")], "no file"),
        ([str(model), "drive=12", "--input", str(tmp_path / "st.wav")], "2 channels"),
    ]
    for args, words in cases:
        one_line_error(station("render", *args, "--out", out, home=tmp_path), words)
    assert not Path(out).exists()


def test_render_applies_the_di_level_and_never_clips(model: Path, tmp_path: Path) -> None:
    pytest.importorskip("nam")
    from station.models.parametric import nam_ext

    di = write_di(tmp_path / "di.wav")
    out = tmp_path / "out.wav"
    res = station(
        "render", str(model), "drive=8", "--input", str(di), "--out", str(out),
        "--input-dbu", "14", home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "DI at 14 dBu into the model: +6.00 dB applied" in res.stdout
    y, rate = sf.read(str(out))
    assert rate == 48000 and sf.info(str(out)).subtype == "PCM_24"
    x, _ = sf.read(str(di))
    want = nam_ext.run(parametric_model(), x * 10 ** (6 / 20), {"boost": 0.0, "drive": 0.8})
    assert np.max(np.abs(y - want)) < 2e-6  # 24-bit rounding
    peak = 20 * np.log10(np.max(np.abs(want)))
    assert f"peak {peak:+.1f} dBFS" in res.stdout
    # Loud enough to pass full scale: refused, with the gain that fits; nothing written.
    loud = tmp_path / "loud.wav"
    gain = f"{-peak + 3:.1f}"
    res = station(
        "render", str(model), "drive=8", "--input", str(di), "--out", str(loud),
        "--input-dbu", "14", "--output-gain-db", gain, home=tmp_path,
    )  # fmt: skip
    one_line_error(res, "would clip", "--output-gain-db")
    assert not loud.exists()
    fits = res.stderr.split("--output-gain-db ")[1].split()[0]
    res = station(
        "render", str(model), "drive=8", "--input", str(di), "--out", str(loud),
        "--input-dbu", "14", "--output-gain-db", fits, home=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert np.max(np.abs(sf.read(str(loud))[0])) < 1.0


def test_json_keys_follow_the_cli_contract(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.nam"
    res = station("snapshot", str(model), "boost=on", "--out", str(out), "--json", home=tmp_path)
    assert res.returncode == 0, res.stderr
    (entry,) = json.loads(res.stdout)["models"]
    assert entry["path"] == str(out) and entry["setting"] == {"boost": "on", "drive": 5}
    assert entry["file_version"] == "0.5.4" and entry["defaulted"] == ["drive"]
    assert [p["loads"] for p in entry["players"]] == ["yes", "yes", "yes"]
    pytest.importorskip("nam")
    wav = tmp_path / "o.wav"
    di = str(write_di(tmp_path / "di.wav"))
    res = station("render", str(out), "--input", di, "--out", str(wav), "--json", home=tmp_path)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["path"] == str(wav) and got["gain_db"] == 0.0
    peak = 20 * np.log10(np.max(np.abs(sf.read(str(wav))[0])))
    assert got["peak_dbfs"] == pytest.approx(peak, abs=1e-3)


def test_a_snapshot_file_is_verified_against_the_gear_it_stands_for(
    model: Path, tmp_path: Path
) -> None:
    # Snapshots are written in the classic layout (flat head_size/head_bias), which
    # neural-amp-modeler 0.13 builds only with nested heads: 'station verify' refused them.
    from station.capture.folder import write_pcm24
    from station.models.nam_lib import run_standard

    snap = tmp_path / "box-d6.nam"
    made = station("snapshot", str(model), "drive=6", "--out", str(snap), home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "head_size" in json.dumps(json.loads(snap.read_text())["config"])  # the classic form
    # The "gear": the parametric model itself at drive=6 (folded in the current layout).
    x = (0.3 * np.random.default_rng(1).standard_normal(48000)).clip(-1, 1)
    y = run_standard(fold.fold(parametric_model(), {"boost": 0.0, "drive": 6.0}), x)
    capture = tmp_path / "cap"
    capture.mkdir()
    write_pcm24(capture / "input.wav", x, 48000)
    write_pcm24(capture / "output.wav", y, 48000)
    res = station("verify", str(snap), "--capture", str(capture), "--json", home=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["esr"] < 1e-4 and abs(out["level_difference_db"]) < 0.01
