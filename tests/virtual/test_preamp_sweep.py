"""A sweep of the virtual preamp's knobs on the firmware twin, as `station sweep run --rig
vpreamp` does it: the plan's knobs choose the preamp, and each capture sounds like the preamp
at its own setting."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from station.devices import StationBench, open_bench
from station.interface.profiles import save_profile
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import read_mono
from station.rig.motion import rig_model
from station.rig.profiles import save_rig
from station.signal import levels
from station.signal.analysis import esr
from station.sweep.journal import read_events
from station.sweep.session import SweepOptions
from station.sweep.start import SweepStart, start_sweep
from station.virtual.catalogue import gear_set_to
from station.virtual.preamp import virtual_preamp_rig
from station.virtual.rig import VirtualInterfaceTruth, VirtualRig
from station.virtual.servos import PREAMP_KNOBS, PREAMP_SWITCHES, servo_deg
from tests.conftest import calibrated_profile
from tests.sweep_fixture import short_input


def preamp_truth(x: np.ndarray, meta: dict, rig: VirtualRig) -> np.ndarray:
    """What the preamp at the capture's setting returns for `x` played at the capture's level,
    read on the return's scale (the interface adds only its whole-sample latency and noise)."""
    vpk_out = levels.vrms_from_dbu(rig.truth.send_dbu_at_0dbfs) * math.sqrt(2)
    vpk_in = levels.vrms_from_dbu(rig.truth.return_dbu_at_0dbfs) * math.sqrt(2)
    gear = gear_set_to("preamp", meta["knobs"], meta["switches"])
    gear.reset(48000)
    return gear.process(x * levels.ratio_from_db(meta["playback_gain_db"]) * vpk_out) / vpk_in


@pytest.mark.slow
def test_a_sweep_over_the_preamps_knobs_captures_what_they_set(home: Path) -> None:
    # An interface whose only effects are a whole-sample latency and noise, so each capture
    # can be held against the gear's own output sample by sample; a timing reference, as the
    # README advises (the preamp's treble and clipping move the blips' edges a sample or two).
    ideal = VirtualInterfaceTruth(
        latency_samples=320.0,
        stream_shift_max_samples=0.0,
        dac_highpass_hz=None,
        adc_highpass_hz=None,
        aa_taps=0,
    )
    vrig = VirtualRig(truth=ideal, speed=50.0)
    save_profile(home, calibrated_profile(vrig, "v", timing=(2, 2)))
    rig_profile = virtual_preamp_rig(slew_us_per_s=3000.0)
    save_rig(home, rig_profile)
    req = PlanRequest(
        knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rig_profile.knobs),
        switches=(SwitchChoice("bright", ("off", "on")),),
        settings=4,
        holdout=0,
        anchor_every=0,
        seed=2,
        rig=rig_profile.name,
    )
    plan_path = home / "plan.json"
    plan_path.write_text(json.dumps(make_plan(req, rig_model(rig_profile)).to_json()))
    signal_path = short_input(home / "tiny.wav", duration_s=2.0)
    start = SweepStart(
        plan_path=plan_path,
        profile_name="v",
        rig_name=rig_profile.name,
        out="pre",
        reamp_path=signal_path,
        options=SweepOptions(reamp_dbu=6.0, retakes=0),  # no gear named: the knobs choose it
    )
    devices = StationBench(home, lambda device: open_bench(device, vrig))
    runner = start_sweep(home, start, devices, vrig.act_on)
    assert runner.session.options.virtual_gear == "preamp"
    summary = runner.run()
    assert summary.complete and not summary.failed, summary
    folder = runner.session.folder
    schedule = runner.session.schedule
    assert {s.switches["bright"] for s in schedule} == {"off", "on"}

    # The twin turned the preamp's own horns to the planned values.
    moved = {e["id"]: e for e in read_events(folder / "journal.jsonl") if e["event"] == "moved"}
    for s in schedule:
        pulses = {int(c): us for c, us in moved[s.id]["positions_us"].items()}
        for knob in PREAMP_KNOBS:
            shown = knob.value_at_deg(knob.linkage.knob_deg(pulses[knob.channel]))
            assert shown == pytest.approx(s.knobs[knob.name], abs=0.02)
        bright = PREAMP_SWITCHES[0]
        assert bright.latch("off", servo_deg(pulses[bright.channel])) == s.switches["bright"]

    # Each capture sounds like the preamp at its own setting, and not like it at the others.
    outputs, truths, settings = {}, {}, {}
    for s in schedule:
        meta = json.loads((folder / s.id / "capture.json").read_text())
        assert meta["knobs"] == s.knobs and meta["switches"] == s.switches
        assert meta["virtual_gear"] == "preamp"
        x = read_mono(folder / s.id / "input.wav")[0].astype(np.float64)
        outputs[s.id] = read_mono(folder / s.id / "output.wav")[0]
        truths[s.id] = preamp_truth(x, meta, vrig)
        settings[s.id] = (s.knobs, s.switches)
    for a in outputs:  # (the anchors repeat one setting)
        own = esr(outputs[a], truths[a])
        others = [esr(outputs[a], truths[b]) for b in truths if settings[b] != settings[a]]
        assert own < 1e-4, (a, own)
        assert min(others) > 100 * own, (a, own, others)


def test_the_plans_controls_choose_the_knobbed_gear(home: Path) -> None:
    bench = StationBench(home)
    assert bench.knobbed_gear(["gain", "treble", "bright"]) == "preamp"
    assert bench.knobbed_gear(["drive", "boost"]) == "od"
    assert bench.knobbed_gear(["drive", "treble"]) is None  # no one gear has both
    assert bench.knobbed_gear([]) is None
