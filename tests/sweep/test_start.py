"""Starting and resuming sweeps on the virtual rig and the firmware twin: every check a capture's
pre-flight makes runs for the whole plan before the session folder exists or a servo moves;
controls a plan leaves alone are named, asked about and recorded; the disk need is checked."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

import station.sweep.preflight as sweep_preflight
from station.capture.preflight import CEILING_DBFS, preflight
from station.capture.records import CaptureRequest
from station.capture.run import capture_bytes
from station.devices import Bench, StationBench
from station.errors import StationError
from station.events import Prompt, StopFlag, Warning_
from station.interface.profiles import Profile, save_profile
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file, read_mono, true_peak_dbfs
from station.rig.motion import nominal_model, rig_model
from station.rig.profiles import save_rig
from station.sweep.journal import read_events
from station.sweep.preflight import NO_PARAMETRIC
from station.sweep.session import SweepOptions, create_session
from station.sweep.start import SweepStart, resume_sweep, start_sweep
from station.virtual.pedal import ServoBench, virtual_bench_path, virtual_pedal_rig
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile


class Devices(StationBench):
    """The station's bench on one virtual rig, noting every rig it opens and every move."""

    def __init__(self, home: Path) -> None:
        self.vrig = VirtualRig(speed=100.0)
        super().__init__(home, lambda _name: Bench(self.vrig.interface, self.vrig))
        self.rigs: list[Any] = []
        self.moves: list[dict[int, int]] = []

    def rig(self, port: str) -> Any:
        """The twin, its moves noted."""
        rig = super().rig(port)
        self.rigs.append(rig)
        move = rig.move

        def noted(pulses_us: dict[int, int], *, stop: StopFlag | None = None) -> dict[int, int]:
            self.moves.append(dict(pulses_us))
            return move(pulses_us, stop=stop)

        rig.move = noted  # type: ignore[method-assign]
        return rig


@pytest.fixture
def bench_home(home: Path) -> Path:
    """A home with the virtual rig's profile 'v' and the virtual pedal's rig profile 'vpedal'."""
    save_profile(home, calibrated_profile(VirtualRig(speed=None), "v"))
    save_rig(home, virtual_pedal_rig())
    return home


def rig_plan(home: Path, settings: int = 2, holdout: int = 0) -> Path:
    """A plan over every control of the virtual pedal's rig."""
    rig = virtual_pedal_rig()
    req = PlanRequest(
        knobs=tuple(KnobRange(k.name, k.min, k.max) for k in rig.knobs),
        switches=tuple(SwitchChoice(s.name, tuple(s.positions)) for s in rig.switches),
        settings=settings,
        holdout=holdout,
        anchor_every=0,
        seed=2,
        rig=rig.name,
        capture_s=35.0,
    )
    path = home / "plan.json"
    path.write_text(json.dumps(make_plan(req, rig_model(rig)).to_json()))
    return path


def drive_only_plan(home: Path) -> Path:
    """A plan made by hand that names the drive knob only (no rig)."""
    req = PlanRequest(
        knobs=(KnobRange("drive", 0.0, 10.0),),
        settings=1,
        holdout=0,
        anchor_every=0,
        seed=1,
        capture_s=35.0,
    )
    path = home / "drive.json"
    model = nominal_model([("drive", 0.0, 10.0)], [])
    path.write_text(json.dumps(make_plan(req, model).to_json()))
    return path


def sweep_start(plan: Path, signal: Path, out: str = "sw", reamp_dbu: float = 12.0) -> SweepStart:
    return SweepStart(plan, "v", "vpedal", out, signal, SweepOptions(reamp_dbu=reamp_dbu))


def profile_of(home: Path) -> Profile:
    from station.interface.profiles import load_profile

    return load_profile(home, "v")


def test_a_level_that_clips_the_send_is_refused_before_the_session_or_the_rig(
    bench_home: Path, short_signal: Path
) -> None:
    devices = Devices(bench_home)
    start = sweep_start(rig_plan(bench_home), short_signal, reamp_dbu=40.0)
    with pytest.raises(StationError, match="40 dBu would clip the send") as exc:
        start_sweep(bench_home, start, devices, devices.vrig.act_on)
    # The most this send delivers with this file, from the profile and the file's true peak.
    x, _, _ = read_mono(short_signal)
    most = profile_of(bench_home).send_dbu_at_0dbfs + CEILING_DBFS - true_peak_dbfs(x)
    assert f"at most {most:.2f} dBu" in exc.value.advice
    assert not (bench_home / "captures" / "sw").exists()  # the name is not taken
    assert devices.rigs == [] and devices.moves == []  # the rig was never opened


def test_a_reamp_file_that_is_not_a_wav_is_refused_before_anything(
    bench_home: Path, short_signal: Path
) -> None:
    devices = Devices(bench_home)
    plan = rig_plan(bench_home)
    with pytest.raises(StationError, match="as audio"):
        start_sweep(bench_home, sweep_start(plan, plan), devices, devices.vrig.act_on)
    assert not (bench_home / "captures" / "sw").exists()
    assert devices.rigs == [] and devices.moves == []


def test_resume_runs_the_same_preflight_before_the_rig_opens(
    bench_home: Path, short_signal: Path
) -> None:
    # A session an older station started at a level that clips the send.
    plan = rig_plan(bench_home)
    create_session(
        bench_home / "captures" / "old",
        plan,
        profile=profile_of(bench_home),
        rig_name="vpedal",
        rig_profile=virtual_pedal_rig(),
        reamp={"path": str(short_signal), "md5": md5_of_file(short_signal)},
        options=SweepOptions(reamp_dbu=40.0),
        anchor_every=None,
    )
    devices = Devices(bench_home)
    with pytest.raises(StationError, match="40 dBu would clip the send"):
        resume_sweep(bench_home, "old", devices, devices.vrig.act_on)
    assert devices.rigs == [] and devices.moves == []
    assert read_events(bench_home / "captures" / "old" / "journal.jsonl") == []


DiskUsage = namedtuple("DiskUsage", "total used free")


def test_the_disk_need_is_checked_before_the_first_capture(
    bench_home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = rig_plan(bench_home, settings=3)
    settings = len(json.loads(plan.read_text())["settings"])
    per = capture_bytes(
        preflight(CaptureRequest(profile_of(bench_home), short_signal, 12.0, "x", bench_home))[0],
        short_signal.stat().st_size,
        profile_of(bench_home),
    )
    need = (settings + 1) * per * (1 + sweep_preflight.DISK_MARGIN)
    free = int(need) - 1
    monkeypatch.setattr(sweep_preflight.shutil, "disk_usage", lambda _p: DiskUsage(0, 0, free))
    devices = Devices(bench_home)
    with pytest.raises(StationError, match="free") as exc:
        start_sweep(bench_home, sweep_start(plan, short_signal), devices, devices.vrig.act_on)
    said = exc.value.message
    assert f"{settings} captures of {per / 1e9:.2f} GB" in said
    assert f"has {free / 1e9:.2f} GB free" in said
    assert not (bench_home / "captures" / "sw").exists() and devices.rigs == []
    # Room for the estimate: the sweep starts (and nothing has moved yet).
    monkeypatch.setattr(sweep_preflight.shutil, "disk_usage", lambda _p: DiskUsage(0, 0, free + 2))
    runner = start_sweep(bench_home, sweep_start(plan, short_signal), devices, devices.vrig.act_on)
    runner.close()
    assert devices.moves == []


def test_a_capture_takes_no_more_disk_than_estimated(
    virtual_capture: Path, short_signal: Path
) -> None:
    meta = json.loads((virtual_capture / "capture.json").read_text())
    profile = Profile(**meta["profile"])
    plan, _ = preflight(CaptureRequest(profile, short_signal, 12.0, "x", virtual_capture))
    used = sum(p.stat().st_size for p in virtual_capture.iterdir() if p.is_file())
    estimate = capture_bytes(plan, short_signal.stat().st_size, profile)
    # An upper estimate, and a close one: the audio files are most of it.
    assert used <= estimate <= used + 1_600_000


def test_resume_takes_a_remeasured_return_and_refuses_another_send(
    bench_home: Path, short_signal: Path
) -> None:
    devices = Devices(bench_home)
    plan = rig_plan(bench_home)
    runner = start_sweep(bench_home, sweep_start(plan, short_signal), devices, devices.vrig.act_on)
    runner.close()
    # The interface gain turned down and the return measured again: taken, with a warning.
    rig = VirtualRig(speed=None)
    rig.truth.return_dbu_at_0dbfs += 6.0
    remeasured = calibrated_profile(rig, "v")
    save_profile(bench_home, remeasured)
    warnings: list[str] = []

    def emit(e: Any) -> None:
        if isinstance(e, Warning_):
            warnings.append(str(e.text))

    resumed = resume_sweep(bench_home, "sw", devices, devices.vrig.act_on, emit=emit)
    resumed.close()
    assert resumed.profile.return_dbu_at_0dbfs == remeasured.return_dbu_at_0dbfs
    assert any("return was measured again" in w for w in warnings)
    # The output turned up and the send measured again: refused, saying so.
    rig.truth.send_dbu_at_0dbfs += 1.0
    save_profile(bench_home, calibrated_profile(rig, "v"))
    with pytest.raises(StationError, match="send level") as exc:
        resume_sweep(bench_home, "sw", devices, devices.vrig.act_on)
    assert "+1.00 dB" in exc.value.message and "new session" in exc.value.advice


@pytest.mark.slow
def test_controls_the_plan_leaves_alone_are_named_asked_and_recorded(
    bench_home: Path, short_signal: Path
) -> None:
    rig = virtual_pedal_rig()
    # Tone left at 3 by hand, boost on: where the sweep will find them.
    servos = ServoBench(state_path=virtual_bench_path(bench_home))
    tone, boost = rig.knob("tone"), rig.switch("boost")
    servos.drive(tone.channel, tone.pulse_us(3.0))
    servos.drive(boost.channel, boost.pulse_us("on"))
    servos.save()
    truth = servos.knob_values()["tone"]
    plan = drive_only_plan(bench_home)
    asked: list[Prompt] = []

    def decline(prompt: Prompt) -> None:
        if prompt.kind == "controls_left_alone":
            asked.append(prompt)
            raise StationError("declined")

    devices = Devices(bench_home)
    with pytest.raises(StationError, match="declined"):
        start_sweep(bench_home, sweep_start(plan, short_signal), devices, decline)
    text = asked[0].text
    assert "sets only drive" in text and "tone, boost" in text
    assert f"tone at {round(truth, 3):g}" in text and "boost on" in text
    assert not (bench_home / "captures" / "sw").exists() and devices.moves == []

    devices = Devices(bench_home)
    runner = start_sweep(bench_home, sweep_start(plan, short_signal), devices, devices.vrig.act_on)
    summary = runner.run()
    assert summary.complete and not summary.failed
    assert all(set(m) == {rig.knob("drive").channel} for m in devices.moves)  # drive only
    for sid in summary.done:
        meta = json.loads((bench_home / "captures" / "sw" / sid / "capture.json").read_text())
        controls, knobs = meta["sweep"]["rig_controls"], meta["knobs"]
        assert meta["sweep"]["left_alone"] == ["tone", "boost"]
        assert controls["drive"]["set_by_plan"] and controls["drive"]["value"] == pytest.approx(
            knobs["drive"], abs=0.01
        )
        # Where the pedal's pointer really is, read from the rig and its profile.
        assert controls["tone"]["value"] == pytest.approx(truth, abs=0.02)
        assert not controls["tone"]["set_by_plan"]
        assert controls["boost"]["position"] == "on" and not controls["boost"]["set_by_plan"]


def test_a_plan_no_parametric_model_could_train_on_is_asked_about_before_anything(
    bench_home: Path, short_signal: Path
) -> None:
    asked: dict[str, list[Prompt]] = {}
    for name, holdout in (("none_held", 0), ("one_held", 1)):
        devices = Devices(bench_home)
        plan = rig_plan(bench_home, settings=3, holdout=holdout)
        asked[name] = []

        def decline(prompt: Prompt, seen: list[Prompt] = asked[name]) -> None:
            seen.append(prompt)
            if prompt.kind == NO_PARAMETRIC:
                raise StationError("declined")

        try:
            runner = start_sweep(
                bench_home, sweep_start(plan, short_signal, out=name), devices, decline
            )
        except StationError as exc:
            assert exc.message == "declined"
            # Declined before the session, the interface or the rig was opened.
            assert not (bench_home / "captures" / name).exists()
            assert devices.rigs == [] and devices.moves == []
        else:
            runner.close()
    (question,) = [p for p in asked["none_held"] if p.kind == NO_PARAMETRIC]
    assert question.text == (
        "A parametric model of this sweep would be refused: it has 3 training and 0 held-out "
        "setting(s) (it needs two and one); one model per setting can still be trained. "
        "A plan that holds one setting out per reamp level would give one. "
        "Sweep this plan anyway?"
    )
    assert not [p for p in asked["one_held"] if p.kind == NO_PARAMETRIC]
    assert (bench_home / "captures" / "one_held" / "session.json").is_file()
