"""What NAM's own C++ core loads and plays, for the files the station writes.

A tiny parametric model is trained on the virtual knob gear (tests/sweep_fixture.py);
its file, its snapshots and a standard NAM export go through three cores built from
../shared/namcore: core main (0.5.5), the plugin main branch's (0.5.2) and the newest
tagged plugin's (v0.7.13, core 0.2.0). Skipped, with the reason, where the snapshots
or the compiler are missing, or the `train` extra is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from station.models import players, wavenet
from station.models.namfile import read_model
from station.models.parametric import fold
from station.models.parametric.training import DEFAULT_SIZE
from station.models.snapshot import at_setting, for_players
from tests.namcore import core as namcore
from tests.sweep_fixture import INPUT_DBU, OUTPUT_DBU, default_plan, short_input, write_session

pytest.importorskip("nam")
torch = pytest.importorskip("torch")
for _alias in namcore.ALIASES:
    if namcore.missing(_alias):
        pytest.skip(namcore.missing(_alias), allow_module_level=True)

pytestmark = pytest.mark.slow
SETTING = {"boost": "on", "drive": 6.0, "tone": 4.0}
OTHER = {"boost": "off", "drive": 1.0, "tone": 8.0}


@pytest.fixture(scope="module")
def cores() -> dict[str, namcore.Core]:
    return {alias: namcore.build(alias) for alias in namcore.ALIASES}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from station.models.parametric.training import Recipe, train_parametric

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        work = tmp_path_factory.mktemp("core")
        session = write_session(work / "knobbox", short_input(work / "in.wav"), default_plan())
        recipe = Recipe(
            epochs=8, architecture="tiny", ny=2048, batch_size=8,
            trainer_options={"accelerator": "cpu"},
        )  # fmt: skip
        return train_parametric(session, recipe).models[0]
    finally:
        torch.set_num_threads(before)


def audio(seconds: float = 0.5, seed: int = 3) -> np.ndarray:
    """Guitar-like test input: noise shaped into bursts, at playing level."""
    rng = np.random.default_rng(seed)
    n = int(48000 * seconds)
    envelope = np.abs(np.sin(np.linspace(0, 6 * np.pi, n)))
    return 0.3 * envelope * rng.standard_normal(n)


def esr_after(a: np.ndarray, b: np.ndarray, skip: int) -> float:
    """ESR of b against a, after the first `skip` samples (the core's prewarm differs there)."""
    return float(np.sum((a[skip:] - b[skip:]) ** 2) / np.sum(a[skip:] ** 2))


def python_render(data: dict, values: dict, x: np.ndarray) -> np.ndarray:
    from station.models.parametric import nam_ext

    known = fold.controls(data)
    encoded = fold.encoded(known, numbers_of(data, values))
    return nam_ext.run(data, x, dict(zip([c.name for c in known], encoded, strict=True)))


def numbers_of(data: dict, values: dict) -> dict[str, float]:
    known = fold.controls(data)
    items = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()]
    return fold.parse_values(items, known)[0]


def random_parametric(size: str, path: Path, seed: int) -> dict:
    """The station's parametric export of `size` over one knob (drive 0…10), random weights."""
    from station.models.parametric import nam_ext

    rng = np.random.default_rng(seed)
    block = {"drive": {"type": "continuous", "channel": 1, "minval": 0.0, "maxval": 10.0,
                       "default_value": 5.0}}  # fmt: skip
    net = nam_ext.ConditionedWaveNet.init_from_config(
        nam_ext.model_config(size, block)["net"]["config"]
    )
    for p in net.parameters():
        p.data = torch.from_numpy(rng.normal(0, 0.1, tuple(p.shape)).astype(np.float32))
    net.export(path.parent, basename=path.stem)
    return json.loads(path.read_text())


def verdicts(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    return [p.loads for p in players.support(data.get("version"), data)]


def measured(cores: dict[str, namcore.Core], path: Path) -> list[str]:
    """What each player does with the file, from the cores: yes (loads, and for a plugin
    takes one input channel) or no, in players.support's order."""
    out = []
    for alias in ("v0.7.13", "plugin", "main"):
        try:
            info = cores[alias].info(path)
        except namcore.CoreError:
            out.append("no")
            continue
        plugin = alias != "main"
        out.append("no" if plugin and info["in_channels"] != 1 else "yes")
    return out


def test_the_parametric_file_runs_in_core_main_with_its_knobs_as_channels(
    model: Path, cores: dict[str, namcore.Core]
) -> None:
    data = read_model(model).data
    known = fold.controls(data)
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    x = audio()
    for values in (SETTING, OTHER):
        numbers = numbers_of(data, values)
        got = cores["main"].render(model, x, fold.encoded(known, numbers))
        assert got.info["in_channels"] == 1 + len(known)
        assert esr_after(python_render(data, values, x), got.output, rf) < 1e-6
    assert got.info["input_level_dbu"] == pytest.approx(INPUT_DBU)
    assert got.info["output_level_dbu"] == pytest.approx(OUTPUT_DBU)


def test_a_snapshot_plays_the_parametric_model_at_its_setting_in_every_core(
    model: Path, cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    data = read_model(model).data
    known = fold.controls(data)
    x = audio()
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    here = python_render(data, SETTING, x)
    there = python_render(data, OTHER, x)
    # Not vacuous: the model follows its knobs, so another setting sounds clearly different.
    assert esr_after(here, there, rf) > 0.05
    snap = at_setting(data, known, numbers_of(data, SETTING), tmp_path / "snap.nam")
    assert snap.layout == "classic" and snap.version == wavenet.CLASSIC_VERSION
    for alias, core in cores.items():
        got = core.render(snap.path, x)
        assert esr_after(here, got.output, rf) < 1e-6, alias
        assert esr_after(there, got.output, rf) > 0.05, alias
        assert got.info["input_level_dbu"] == pytest.approx(INPUT_DBU), alias
        assert got.info["output_level_dbu"] == pytest.approx(OUTPUT_DBU), alias
    meta = json.loads(snap.path.read_text())["metadata"]
    assert meta["setting"] == {"boost": "on", "drive": 6, "tone": 4}
    assert "boost=on drive=6 tone=4" in meta["name"]


def test_player_verdicts_agree_with_the_cores(
    model: Path, cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    data = read_model(model).data
    known = fold.controls(data)
    snap = at_setting(data, known, numbers_of(data, SETTING), tmp_path / "snap.nam").path
    # The same snapshot in neural-amp-modeler's current form (version 0.7.0).
    current = tmp_path / "current.nam"
    current.write_text(json.dumps(fold.fold(data, numbers_of(data, SETTING))))
    early = tmp_path / "early.nam"  # the station's first parametric export
    early.write_text(json.dumps({**data, "architecture": "ConditionedWaveNet"}))
    bad_layout = tmp_path / "bad-layout.nam"  # the current form, claiming 0.5.4
    bad_layout.write_text(json.dumps({**json.loads(current.read_text()), "version": "0.5.4"}))
    cases = {model: ["no", "no", "yes"], snap: ["yes"] * 3, current: ["no", "yes", "yes"],
             early: ["no"] * 3, bad_layout: ["no", "yes", "yes"]}  # fmt: skip
    for path, expected in cases.items():
        assert measured(cores, path) == expected, path.name
        assert verdicts(path) == expected, path.name


def test_for_players_rewrites_a_current_model_the_old_core_then_plays(
    model: Path, cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    data = read_model(model).data
    current = tmp_path / "current.nam"
    current.write_text(json.dumps(fold.fold(data, numbers_of(data, OTHER))))
    with pytest.raises(namcore.CoreError, match=r"unsupported version 0\.7\.0"):
        cores["v0.7.13"].info(current)
    done = for_players(current, "v0.7.13", tmp_path / "old.nam")
    x = audio()
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    want = cores["main"].render(current, x).output
    assert esr_after(want, cores["v0.7.13"].render(done.path, x).output, rf) < 1e-10
    assert verdicts(done.path) == ["yes"] * 3


def test_a_standard_size_snapshot_keeps_the_current_layout_and_says_so(
    cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    # NAM's standard WaveNet mixes kernel sizes: no classic form, so v0.7.13 cannot run it.
    data = random_parametric("standard", tmp_path / "standard.nam", seed=7)
    snap = at_setting(data, fold.controls(data), {"drive": 7.0}, tmp_path / "snap.nam")
    assert snap.layout == "current" and snap.version == "0.7.0"
    assert [p.loads for p in snap.players] == measured(cores, snap.path) == ["no", "yes", "yes"]
    x = audio(0.3)
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    want = cores["main"].render(tmp_path / "standard.nam", x, [0.7]).output
    assert esr_after(want, cores["main"].render(snap.path, x).output, rf) < 1e-6
    with pytest.raises(Exception, match="mixes kernel sizes"):
        for_players(snap.path, "v0.7.13", tmp_path / "old.nam")


def test_the_classic_parametric_layout_makes_snapshots_the_tagged_release_plays(
    cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    data = random_parametric("classic", tmp_path / "classic.nam", seed=11)
    assert len(data["config"]["layers"]) == 2
    snap = at_setting(data, fold.controls(data), {"drive": 2.0}, tmp_path / "snap.nam")
    assert snap.layout == "classic" and [p.loads for p in snap.players] == ["yes"] * 3
    x = audio(0.3)
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    want = cores["main"].render(tmp_path / "classic.nam", x, [0.2]).output
    assert esr_after(want, cores["v0.7.13"].render(snap.path, x).output, rf) < 1e-6
    assert measured(cores, snap.path) == ["yes"] * 3


def test_the_default_compact_size_is_one_array_whose_snapshots_every_player_plays_exactly(
    cores: dict[str, namcore.Core], tmp_path: Path
) -> None:
    data = random_parametric(DEFAULT_SIZE, tmp_path / "compact.nam", seed=13)
    (array,) = data["config"]["layers"]
    assert DEFAULT_SIZE == "compact" and array["channels"] == 4
    assert wavenet.receptive_field(wavenet.layout(data["config"])) == 2047
    snap = at_setting(data, fold.controls(data), {"drive": 3.0}, tmp_path / "snap.nam")
    x = audio(0.3)
    rf = wavenet.receptive_field(wavenet.layout(data["config"]))
    want = cores["main"].render(tmp_path / "compact.nam", x, [0.3]).output
    # Kernel-3 Tanh layers only: the snapshot takes the classic form every player loads.
    assert snap.layout == "classic"
    assert [p.loads for p in snap.players] == measured(cores, snap.path) == ["yes"] * 3
    assert esr_after(want, cores["v0.7.13"].render(snap.path, x).output, rf) < 1e-6
