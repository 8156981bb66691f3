"""NAM WaveNet files as arrays: layouts, weights by role, the classic form, folding knobs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from station.errors import StationError
from station.models import wavenet
from station.models.parametric import fold
from tests.models.param_model import CONTROLS, parametric_model


def test_split_then_join_gives_back_every_weight_in_order() -> None:
    data = parametric_model(seed=1)
    arrays = wavenet.layout(data["config"])
    parts, head_scale = wavenet.split(arrays, data["weights"])
    assert parts[0]["rechannel"].shape == (4, 3)  # channels × (audio + 2 knobs)
    assert parts[0]["conv6"].shape == (4, 4, 3) and parts[0]["mixer0"].shape == (4, 3)
    assert wavenet.join(arrays, parts, head_scale) == data["weights"]
    assert wavenet.receptive_field(arrays) == 1 + 2 * (1 + 2 + 4 + 8 + 16 + 32 + 64)


def test_a_file_whose_weights_do_not_fit_its_config_is_refused() -> None:
    data = parametric_model()
    arrays = wavenet.layout(data["config"])
    with pytest.raises(wavenet.LayoutError, match="605 weights where its config needs 606"):
        wavenet.split(arrays, data["weights"][:-1])
    film = copy.deepcopy(data["config"])
    film["layers"][0]["conv_pre_film"] = {"active": True}
    with pytest.raises(wavenet.LayoutError, match="FiLM"):
        wavenet.layout(film)


def test_the_classic_form_keeps_the_weights_and_names_what_blocks_it() -> None:
    snap = fold.fold(parametric_model(), {"boost": 1.0, "drive": 3.0})
    assert wavenet.classic_reason(snap) is None
    classic = wavenet.classic(snap)
    assert classic["version"] == "0.5.4" and classic["weights"] == snap["weights"]
    layer = classic["config"]["layers"][0]
    assert layer["kernel_size"] == 3 and layer["activation"] == "LeakyReLU"
    assert layer["head_size"] == 1 and layer["head_bias"] is True and layer["gated"] is False
    # Back in the form neural-amp-modeler 0.13 reads: the same nested head as before.
    assert wavenet.with_nested_heads(classic)["config"]["layers"][0]["head"] == {
        "out_channels": 1, "kernel_size": 1, "bias": True
    }  # fmt: skip
    mixed = copy.deepcopy(snap)
    mixed["config"]["layers"][0]["kernel_sizes"][2] = 5
    assert "mixes kernel sizes" in str(wavenet.classic_reason(mixed))
    slope = copy.deepcopy(snap)
    slope["config"]["layers"][0]["activation"][0] = {"type": "LeakyReLU", "negative_slope": 0.2}
    assert "activations" in str(wavenet.classic_reason(slope))
    assert "more than one input" in str(wavenet.classic_reason(parametric_model()))


def test_folding_leaves_one_input_and_only_changes_biases() -> None:
    data = parametric_model(seed=2)
    snap = fold.fold(data, {"boost": 0.0, "drive": 10.0})
    assert snap["architecture"] == "WaveNet" and "in_channels" not in snap["config"]
    assert "parametric" not in snap["config"] and snap["metadata"] == data["metadata"]
    before, _ = wavenet.split(wavenet.layout(data["config"]), data["weights"])
    after, _ = wavenet.split(wavenet.layout(snap["config"]), snap["weights"])
    assert np.array_equal(after[0]["rechannel"], before[0]["rechannel"][:, :1])
    assert np.array_equal(after[0]["conv3"], before[0]["conv3"])
    assert not np.allclose(after[0]["conv3_bias"], before[0]["conv3_bias"])


def test_settings_are_checked_against_the_models_controls() -> None:
    known = fold.controls(parametric_model())
    values, defaulted = fold.parse_values(["drive=7.5"], known)
    assert values == {"boost": 0.0, "drive": 7.5} and defaulted == ["boost"]
    assert fold.label(known, values) == "boost=off drive=7.5"
    assert fold.encoded(known, values) == [0.0, 0.75]
    for bad, said in [
        (["drive=11"], "outside 0…10"),
        (["drive=loud"], "not a number"),
        (["gain=3"], "no control 'gain'"),
        (["boost=maybe"], "no position 'maybe'"),
        (["drive=1", "drive=2"], "given twice"),
        (["drive"], "not name=value"),
    ]:
        with pytest.raises(StationError, match=said):
            fold.parse_values(bad, known)
    assert list(CONTROLS) == [c.name for c in known]


def test_host_inputs_say_each_channel_and_its_encoding() -> None:
    assert fold.host_inputs(parametric_model()) == [
        "0: the audio",
        "1: boost, a switch (off=0, on=1)",
        "2: drive, a knob 0…10 as (value − 0) / 10",
    ]


def test_folding_a_two_array_net_matches_the_conditioned_net() -> None:
    # NAM's classic layout has two layer arrays: the second one's input carries the first's
    # constant through its rechannel. Checked against the torch net, first samples included.
    pytest.importorskip("nam")
    torch = pytest.importorskip("torch")
    from station.models.parametric import nam_ext

    def array(inputs: int, channels: int, dilations: list[int], head: int) -> dict:
        return {"input_size": inputs, "condition_size": 3, "channels": channels,
                "kernel_sizes": [3] * len(dilations), "dilations": dilations,
                "activation": "Tanh", "gated": False,
                "head": {"out_channels": head, "kernel_size": 1, "bias": head == 1}}  # fmt: skip

    first, second = array(3, 6, [1, 2, 4, 8], 4), array(6, 4, [1, 2, 4, 8, 16], 1)
    config = {"layers_configs": [first, second], "head_scale": 0.02, "parametric": CONTROLS}
    net = nam_ext.ConditionedWaveNet.init_from_config(config)
    rng = np.random.default_rng(4)
    for p in net.parameters():
        p.data = torch.from_numpy(rng.normal(0, 0.4, tuple(p.shape)).astype(np.float32))
    data = {"version": "0.7.0", "architecture": "WaveNet", "config": net._export_config(),
            "weights": [float(w) for w in net._export_weights()], "metadata": {}}  # fmt: skip
    x = 0.3 * rng.standard_normal(6000)
    values = {"boost": 1.0, "drive": 2.5}
    want = nam_ext.run(data, x, {"boost": 1.0, "drive": 0.25})
    from nam.models import init_from_nam

    folded = init_from_nam(fold.fold(data, values))
    with torch.no_grad():
        got = folded(torch.from_numpy(x.astype(np.float32)), pad_start=True).numpy()
    assert np.sum((want - got) ** 2) / np.sum(want**2) < 1e-10


def test_the_stations_first_parametric_files_still_fold() -> None:
    # Before in_channels, the export said "ConditionedWaveNet" and nothing else differed.
    new = parametric_model(seed=5)
    early = copy.deepcopy(new)
    early["architecture"] = "ConditionedWaveNet"
    del early["config"]["in_channels"]
    values = {"boost": 1.0, "drive": 4.0}
    assert fold.fold(early, values) == fold.fold(new, values)


def test_weights_are_checked_against_the_layout_the_station_reads() -> None:
    data = parametric_model()
    wavenet.check_weights(data)  # as the config needs: no complaint
    short = {**data, "weights": data["weights"][:-1]}
    with pytest.raises(wavenet.LayoutError, match=f"needs {len(data['weights'])}"):
        wavenet.check_weights(short)
    # A layer with a dilation no model has would only fill the memory when built.
    layer = {**data["config"]["layers"][0], "dilations": [1 << 30] * 7}
    with pytest.raises(wavenet.LayoutError, match="not a model's"):
        wavenet.check_weights({**data, "config": {**data["config"], "layers": [layer]}})
    # A layout the station does not read (a post-stack head), or another architecture, is
    # left to NAM's loader to judge.
    wavenet.check_weights({**short, "config": {**data["config"], "head": {"kind": "x"}}})
    wavenet.check_weights({**short, "architecture": "LSTM"})
