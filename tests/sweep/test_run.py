"""Sweeps on the virtual rig with an in-test knob rig: move, detach, capture, journal,
retakes, drift anchors, stopping safely, resuming, and the exported dataset."""

from __future__ import annotations

import errno
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from station.cli.words import say as cli_words
from station.errors import StationError
from station.events import Warning_
from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.reamp.files import md5_of_file, read_mono
from station.rig.motion import rig_model
from station.signal.analysis import esr
from station.sweep.export import export_session
from station.sweep.journal import Journal, read_events
from station.sweep.positioner import RigPositioner
from station.sweep.run import SweepRunner
from station.sweep.session import SweepOptions, check_unchanged, create_session, open_session
from station.virtual.rig import VirtualRig
from tests.conftest import calibrated_profile
from tests.sweep.fakes import DetachCheckingInterface, FakeKnobRig, FakeRigProfile


class Bench:
    """A virtual rig, its profile, a fake knob rig and a session made from a plan."""

    def __init__(
        self,
        home: Path,
        signal: Path,
        *,
        gear: str = "clean",
        settings: int = 6,
        holdout: int = 1,
        anchor_every: int = 3,
        options: SweepOptions | None = None,
        **rig_kw,
    ) -> None:
        self.home, self.signal = home, signal
        self.vrig = VirtualRig(speed=None)
        self.vrig.use_gear(gear)
        self.profile = calibrated_profile(self.vrig, "p")
        self.rig_profile = FakeRigProfile()
        self.rig = FakeKnobRig(self.rig_profile, self.vrig, **rig_kw)
        self.iface = DetachCheckingInterface(self.vrig, self.rig)
        req = PlanRequest(
            knobs=tuple(KnobRange(k.name, k.min, k.max) for k in self.rig_profile.knobs),
            switches=(SwitchChoice("boost", ("off", "on")),),
            settings=settings,
            holdout=holdout,
            anchor_every=anchor_every,
            seed=5,
            rig="pedal",
            capture_s=35.0,
        )
        self.plan = make_plan(req, rig_model(self.rig_profile))
        self.plan_path = home / "plan.json"
        self.plan_path.write_text(json.dumps(self.plan.to_json()))
        self.session = create_session(
            home / "captures" / "sw",
            self.plan_path,
            profile=self.profile,
            rig_name="pedal",
            rig_profile=self.rig_profile,
            reamp={"path": str(signal), "md5": md5_of_file(signal)},
            options=options or SweepOptions(reamp_dbu=12.0),
            anchor_every=None,
        )
        self.warnings: list[str] = []

    def runner(self, rig: FakeKnobRig | None = None, confirm=None, **kw) -> SweepRunner:  # type: ignore[no-untyped-def]
        """A runner on the (possibly new) rig, reopening the session from disk."""
        if rig is not None:
            self.rig = rig
            self.iface = DetachCheckingInterface(self.vrig, rig)
        session = open_session(self.session.folder)

        def emit(e) -> None:
            if isinstance(e, Warning_):
                self.warnings.append(e.text)

        return SweepRunner(
            session,
            self.iface,
            self.profile,
            RigPositioner(self.rig, self.rig_profile),
            self.signal,
            emit=emit,
            confirm=confirm or self.vrig.act_on,
            **kw,
        )

    def events(self, kind: str) -> list[dict]:
        return [e for e in read_events(self.session.folder / "journal.jsonl") if e["event"] == kind]


@pytest.mark.slow
def test_sweep_moves_detaches_captures_and_exports(home: Path, short_signal: Path) -> None:
    b = Bench(home, short_signal)
    summary = b.runner().run()
    sched = b.session.schedule
    assert summary.complete and not summary.failed
    assert summary.done == [s.id for s in sched]
    # Each setting: moved to the rig profile's pulses, detached, positions re-checked.
    moves = [c for c in b.rig.calls if c[0] == "move"]
    assert [m[1] for m in moves] == [b.rig_profile.pulses_for(s.knobs, s.switches) for s in sched]
    for i, c in enumerate(b.rig.calls[:-2]):
        if c[0] == "move":
            assert b.rig.calls[i + 1] == ("detach", sorted(c[1]))
            assert b.rig.calls[i + 2][0] == "positions"
    # No servo held a pulse while any recording ran; the bench was left detached and closed.
    assert all(not a for a in b.iface.attached_during_takes)
    assert b.rig.calls[-2:] == [("detach", None), ("close", None)]
    for s in sched:
        meta = json.loads((b.session.folder / s.id / "capture.json").read_text())
        assert meta["knobs"] == s.knobs and meta["switches"] == s.switches
        assert meta["sweep"]["id"] == s.id and meta["passed"]
        # Drawn while the servos moved on, and whole by the time the run returns.
        assert (b.session.folder / s.id / "report.png").stat().st_size > 10_000
        assert not list((b.session.folder / s.id).glob(".*"))
    # The gear followed the knobs: different settings sound different, anchors the same.
    outs = {s.id: read_mono(b.session.folder / s.id / "output.wav")[0] for s in sched}
    trains = [s.id for s in sched if s.role == "train"]
    assert esr(outs[trains[0]], outs[trains[1]]) > 0.01
    # Anchors of steady gear agree once aligned to a fraction of a sample (the virtual
    # interface's latency wobbles from stream to stream, as real ones can).
    compared = b.events("anchor_compared")
    assert [e["drifted"] for e in compared] == [False, False]
    assert all(e["esr"] < 1e-4 and abs(e["level_change_db"]) < 0.01 for e in compared)

    result = export_session(open_session(b.session.folder))
    data = json.loads(result.dataset_path.read_text())
    assert data["type"] == "parametric" and data["common"]["delay"] == 0
    # Paths relative to the dataset's folder, so the session can be copied and still train.
    here = result.dataset_path.parent
    assert data["common"]["x_path"] == f"{sched[0].id}/input.wav"
    assert md5_of_file(here / data["common"]["x_path"]) == md5_of_file(short_signal)
    holdouts = {s.id for s in sched if s.role == "holdout"}
    assert {i["id"] for i in data["validation"]} == holdouts and holdouts
    assert {i["id"] for i in data["train"]} == set(trains)
    moved = {s.id: m[1] for s, m in zip(sched, moves, strict=True)}
    knobs = {k.name: k for k in b.rig_profile.knobs}
    for item in data["train"] + data["validation"]:
        assert item["y_path"] == f"{item['id']}/output.wav" and (here / item["y_path"]).is_file()
        pulses = moved[item["id"]]
        for name, k in knobs.items():
            # The value the dataset gives is the one the rig was moved to (±1 µs).
            assert item["params"][name] == pytest.approx(k.value_at(pulses[k.channel]), abs=0.006)
        boost = b.rig_profile.switches[0]
        position = data["switches"][0]["positions"][int(item["params"]["boost"])]
        assert boost.positions[position] == pulses[boost.channel]
    assert data["calibration"]["input_level_dbu"] == 12.0
    assert data["calibration"]["output_level_dbu"] == b.profile.return_dbu_at_0dbfs
    assert [k["name"] for k in data["knobs"]] == ["drive", "tone"]
    manifest = json.loads(result.manifest_path.read_text())
    assert [m["id"] for m in manifest["snapshots"]] == [s.id for s in sched]
    for m in manifest["snapshots"]:
        assert (here / m["input_path"]).is_file() and (here / m["output_path"]).is_file()
        meta = json.loads((here / m["capture_dir"] / "capture.json").read_text())
        assert (m["knobs"], m["switches"]) == (meta["knobs"], meta["switches"])
        assert m["input_level_dbu"] == meta["input_level_dbu"] == 12.0


@pytest.mark.slow
def test_rig_vanishing_stops_safely_and_resume_loses_nothing(
    home: Path, short_signal: Path
) -> None:
    b = Bench(home, short_signal, fail_on_move=4)
    with pytest.raises(StationError, match="stopped answering") as exc:
        b.runner().run()
    assert "sweep resume" in cli_words(exc.value.advice)
    assert b.rig.closed and ("detach", None) in b.rig.calls
    assert b.events("stopped")
    first = [s.id for s in b.session.schedule[:3]]
    before = {i: md5_of_file(b.session.folder / i / "output.wav") for i in first}
    status = json.loads((b.session.folder / "session.json").read_text())["status"]
    assert [status[i] for i in first] == ["done"] * 3
    (b.session.folder / first[0] / "report.png").unlink()  # as a kill before the picture leaves it

    healthy = FakeKnobRig(b.rig_profile, b.vrig)
    summary = b.runner(healthy).run(resumed=True)
    assert summary.complete and not summary.failed
    assert (b.session.folder / first[0] / "report.png").stat().st_size > 10_000
    assert f"{first[0]}: report.png was missing (the take was stopped); drawn again" in b.warnings
    # Nothing taken twice, nothing lost: the first three were not moved to or captured again.
    assert Counter(e["id"] for e in b.events("captured")) == Counter(
        s.id for s in b.session.schedule
    )
    assert {i: md5_of_file(b.session.folder / i / "output.wav") for i in first} == before
    assert len([c for c in healthy.calls if c[0] == "move"]) == len(b.session.schedule) - 3


def test_failed_settings_are_retaken_then_marked_and_the_sweep_goes_on(
    home: Path, short_signal: Path
) -> None:
    b = Bench(
        home,
        short_signal,
        settings=2,
        holdout=0,
        anchor_every=0,
        options=SweepOptions(reamp_dbu=12.0, retakes=1),
    )
    b.vrig.dropout_at_s = 8.0  # 50 ms of silence in every recording: the dropout check fails
    summary = b.runner().run()
    ids = [s.id for s in b.session.schedule]
    assert summary.failed == ids and not summary.done
    assert Counter(e["id"] for e in b.events("retaken")) == Counter(ids)
    assert all("dropouts" in e["reason"] for e in b.events("failed"))
    # A failed take is kept (replaced only by a whole retake), marked as not passed.
    assert json.loads((b.session.folder / ids[0] / "capture.json").read_text())["passed"] is False


def test_stop_on_fail_stops_at_the_first_failed_setting(home: Path, short_signal: Path) -> None:
    b = Bench(
        home,
        short_signal,
        settings=2,
        holdout=0,
        options=SweepOptions(reamp_dbu=12.0, retakes=0, stop_on_fail=True),
    )
    b.vrig.dropout_at_s = 8.0
    with pytest.raises(StationError, match="stop-on-fail"):
        b.runner().run()
    assert [e["id"] for e in b.events("failed")] == ["a01"]
    assert not (b.session.folder / "s001").exists()


@pytest.mark.slow
def test_drift_is_reported_with_numbers_and_suspects_recaptured(
    home: Path, short_signal: Path
) -> None:
    b = Bench(
        home,
        short_signal,
        gear="drifting",
        settings=3,
        holdout=0,
        anchor_every=3,
        options=SweepOptions(reamp_dbu=12.0, on_drift="recapture"),
    )
    b.runner().run()
    compared = b.events("anchor_compared")
    assert compared[0]["id"] == "a02" and compared[0]["drifted"]
    # The virtual amp warms up: its gain rises, so the anchor's level does too.
    assert compared[0]["level_change_db"] > 0.2
    assert any("rose" in w and "warming" in w for w in b.warnings)
    suspects = b.events("suspect")[0]["ids"]
    assert suspects == [s.id for s in b.session.schedule if s.role != "anchor"]
    captured = Counter(e["id"] for e in b.events("captured"))
    assert all(captured[i] == 2 for i in suspects)


def test_resume_refuses_when_the_setup_changed(home: Path, short_signal: Path) -> None:
    b = Bench(home, short_signal, settings=2, holdout=0)
    s = open_session(b.session.folder)
    md5 = md5_of_file(short_signal)
    check_unchanged(s, profile=b.profile, rig_profile=b.rig_profile, reamp_md5=md5)
    with pytest.raises(StationError, match="interface profile"):
        check_unchanged(
            s,
            profile=replace(b.profile, latency_samples=1.0),
            rig_profile=b.rig_profile,
            reamp_md5=md5,
        )
    with pytest.raises(StationError, match="rig profile"):
        check_unchanged(
            s,
            profile=b.profile,
            rig_profile=replace(b.rig_profile, slew_us_per_s=600.0),
            reamp_md5=md5,
        )
    with pytest.raises(StationError, match="reamp file"):
        check_unchanged(s, profile=b.profile, rig_profile=b.rig_profile, reamp_md5="0" * 32)
    plan = json.loads(b.plan_path.read_text())
    plan["seed"] += 1
    b.plan_path.write_text(json.dumps(plan))
    with pytest.raises(StationError, match=r"plan .* changed"):
        check_unchanged(s, profile=b.profile, rig_profile=b.rig_profile, reamp_md5=md5)
    data = json.loads((b.session.folder / "session.json").read_text())
    data["schema_version"] = 7
    (b.session.folder / "session.json").write_text(json.dumps(data))
    with pytest.raises(StationError, match="newer station"):
        open_session(b.session.folder)


def test_a_full_disk_discards_the_capture_and_the_session_resumes(
    home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import station.capture.run as capture

    b = Bench(home, short_signal, settings=2, holdout=0, anchor_every=0)
    real = capture.write_pcm24
    calls = [0]

    def full_on_second(path, samples, sr) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, samples, sr)

    monkeypatch.setattr(capture, "write_pcm24", full_on_second)
    with pytest.raises(StationError, match="No space left") as exc:
        b.runner().run()
    assert "resume" in cli_words(exc.value.advice)
    assert not list(b.session.folder.glob(".*.partial"))
    assert not (b.session.folder / "s001").exists()
    summary = b.runner(FakeKnobRig(b.rig_profile, b.vrig)).run(resumed=True)
    assert summary.complete and summary.done == [s.id for s in b.session.schedule]


def test_journal_skips_a_torn_last_line(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append("started", rig="by hand")
    with open(j.path, "a") as fh:
        fh.write('{"event": "captured", "id": "s0')  # a crash mid-line
    j.append("moved", id="s001")
    assert [e["event"] for e in j.read()] == ["started", "moved"]


def test_drift_can_pause_for_the_user(home: Path, short_signal: Path) -> None:
    b = Bench(
        home,
        short_signal,
        gear="drifting",
        settings=2,
        holdout=0,
        anchor_every=2,
        options=SweepOptions(reamp_dbu=12.0, on_drift="pause"),
    )
    prompts = []

    def confirm(prompt) -> None:
        prompts.append(prompt)
        b.vrig.act_on(prompt)

    b.runner(confirm=confirm).run()
    paused = [p for p in prompts if p.kind == "drift_pause"]
    assert len(paused) == 1 and "dB since the first anchor" in paused[0].text
    # Paused, not recaptured: every setting was captured once.
    assert Counter(e["id"] for e in b.events("captured")) == Counter(
        s.id for s in b.session.schedule
    )


def test_anchor_alignment_removes_a_fractional_shift() -> None:
    import numpy as np
    import scipy.fft

    from station.sweep.drift import align_to

    rng = np.random.default_rng(4)
    ref = scipy.signal.lfilter([1.0], [1.0, -0.5], rng.normal(0, 0.1, 96000))
    m = scipy.fft.next_fast_len(len(ref) + 200)
    f = scipy.fft.rfftfreq(m)
    late = scipy.fft.irfft(scipy.fft.rfft(ref, m) * np.exp(-2j * np.pi * f * 2.37), m)[: len(ref)]
    core = slice(200, len(ref) - 200)
    assert esr(late[core], ref[core]) > 0.1  # 2.37 samples late: far from the reference
    assert esr(align_to(ref, late, 48000)[core], ref[core]) < 1e-6


CLIP_DB = 20.0  # the interface's input gain turned up this much after calibration


@pytest.mark.slow
def test_a_clipped_return_pauses_with_the_advice_instead_of_a_blind_retake(
    home: Path, short_signal: Path
) -> None:
    b = Bench(home, short_signal, settings=2, holdout=0, anchor_every=0)
    b.vrig.truth.return_dbu_at_0dbfs -= CLIP_DB  # as calibrated, then the gain turned up
    prompts = []

    def confirm(prompt) -> None:
        prompts.append(prompt)
        if prompt.kind == "return_clipped":
            b.vrig.truth.return_dbu_at_0dbfs += CLIP_DB  # the user turns the gain back
        b.vrig.act_on(prompt)

    summary = b.runner(confirm=confirm).run()
    assert summary.complete and not summary.failed
    first = b.session.schedule[0].id
    paused = [p for p in prompts if p.kind == "return_clipped"]
    assert len(paused) == 1 and paused[0].text.startswith(f"{first}: the return clipped")
    assert "loadbox output down" in paused[0].text and "measured again" in paused[0].text
    assert any("turn the loadbox output or the interface gain down" in w for w in b.warnings)
    # Paused, not retaken blindly: no retake; the clipped setting taken once more after the pause.
    assert not b.events("retaken")
    assert [e["id"] for e in b.events("paused")] == [first]
    captured = Counter(e["id"] for e in b.events("captured"))
    assert captured[first] == 2 and all(captured[s.id] == 1 for s in b.session.schedule[1:])


@pytest.mark.slow
def test_a_clipped_return_unattended_fails_the_setting_and_the_sweep_goes_on(
    home: Path, short_signal: Path
) -> None:
    b = Bench(home, short_signal, settings=2, holdout=0, anchor_every=0)
    b.vrig.truth.return_dbu_at_0dbfs -= CLIP_DB
    prompts = []

    def confirm(prompt) -> None:
        prompts.append(prompt)
        b.vrig.act_on(prompt)

    summary = b.runner(confirm=confirm, unattended=True).run()
    ids = [s.id for s in b.session.schedule]
    assert summary.failed == ids and not summary.done
    assert not b.events("retaken") and not b.events("paused")
    assert not [p for p in prompts if p.kind == "return_clipped"]
    assert Counter(e["id"] for e in b.events("captured")) == Counter(ids)  # once each
    reasons = [e["reason"] for e in b.events("failed")]
    assert all("return_peak" in r and "interface gain down" in r for r in reasons)


@pytest.mark.slow
def test_a_return_measured_again_mid_sweep_trains_at_one_output_level(
    home: Path, short_signal: Path
) -> None:
    from station.models.parametric.session import load_sweep
    from station.models.parametric.training import data_config
    from station.signal.analysis import rms_dbfs
    from station.sweep.drift import align_to

    b = Bench(home, short_signal, settings=4, holdout=1, anchor_every=3, fail_on_move=4)
    with pytest.raises(StationError, match="stopped answering"):
        b.runner().run()  # the first half, at the calibrated return
    first = b.profile
    # The interface's input gain turned down 3 dB, and the return measured again.
    b.vrig.truth.return_dbu_at_0dbfs += 3.0
    again = calibrated_profile(b.vrig, "p")
    assert again.return_dbu_at_0dbfs - first.return_dbu_at_0dbfs == pytest.approx(3.0, abs=0.01)
    notes = check_unchanged(
        open_session(b.session.folder),
        profile=again,
        rig_profile=b.rig_profile,
        reamp_md5=md5_of_file(short_signal),
    )
    assert len(notes) == 1 and "return was measured again" in notes[0]
    for changed, said in [
        (replace(again, send_dbu_at_0dbfs=again.send_dbu_at_0dbfs + 0.5), "send level"),
        (replace(again, latency_samples=again.latency_samples + 5), "latency moved"),
        (replace(again, return_channel=2), "return channel"),
    ]:
        with pytest.raises(StationError, match=said):
            check_unchanged(
                open_session(b.session.folder),
                profile=changed,
                rig_profile=b.rig_profile,
                reamp_md5=md5_of_file(short_signal),
            )
    b.profile = again
    summary = b.runner(FakeKnobRig(b.rig_profile, b.vrig)).run(resumed=True)
    assert summary.complete and not summary.failed
    levels = {
        s.id: json.loads((b.session.folder / s.id / "capture.json").read_text())[
            "output_level_dbu"
        ]
        for s in b.session.schedule
    }
    assert set(levels.values()) == {first.return_dbu_at_0dbfs, again.return_dbu_at_0dbfs}
    # The anchors before and after the change: the same gear, 3 dB apart as recorded, no drift
    # once each is brought to one level.
    anchors = [s.id for s in b.session.schedule if s.role == "anchor"]
    early, late = anchors[0], anchors[-1]
    assert (levels[early], levels[late]) == (first.return_dbu_at_0dbfs, again.return_dbu_at_0dbfs)
    assert not any(e["drifted"] for e in b.events("anchor_compared"))

    data = json.loads(export_session(open_session(b.session.folder)).dataset_path.read_text())
    common = data["calibration"]["output_level_dbu"]
    assert common == again.return_dbu_at_0dbfs  # the highest: nothing is scaled up
    assert data["calibration"]["output_levels_dbu"] == sorted(set(levels.values()))
    entries = data["train"] + data["validation"]
    assert {e["output_level_dbu"] for e in entries} == set(levels.values())
    for e in entries:
        assert e["y_scale"] == pytest.approx(10 ** ((e["output_level_dbu"] - common) / 20))
    # On the rig's truth: the gear's output at one level, whichever return recorded it.
    outs = {i: read_mono(b.session.folder / i / "output.wav")[0] for i in (early, late)}
    scale = {i: 10 ** ((levels[i] - common) / 20) for i in (early, late)}
    assert rms_dbfs(outs[early]) - rms_dbfs(outs[late]) == pytest.approx(3.0, abs=0.02)
    scaled = {i: outs[i] * scale[i] for i in outs}
    assert rms_dbfs(scaled[early]) - rms_dbfs(scaled[late]) == pytest.approx(0.0, abs=0.02)
    aligned = align_to(scaled[early], scaled[late], 48000)
    assert esr(aligned[100:-100], scaled[early][100:-100]) < 1e-3

    # The trainer reads the same: one output level, each capture's y_scale for NAM.
    sweep = load_sweep(b.session.folder)
    assert sweep.output_level_dbu == common
    assert any("return levels" in w for w in sweep.warnings)
    config = data_config(sweep, 8192)
    by_path = {str(b.session.folder / e["y_path"]): e["y_scale"] for e in entries}
    for e in config["train"] + config["validation"]:
        assert e["y_scale"] == pytest.approx(by_path[e["y_path"]])
