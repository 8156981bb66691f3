"""Did the knob move? Settings compared by their sound: distances, the session's figures, and
two takes that differ only by latency wobble and noise against a real change of setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from station.capture.folder import write_pcm24
from station.plan.design import Setting
from station.reamp.files import RATE
from station.sweep.journal import replay
from station.sweep.moved import (
    FAR_BELOW,
    LEVEL,
    ChangeCheck,
    StepVerdict,
    check_change,
    expected_esr,
    floor_of,
    setting_change,
    step_verdicts,
)
from station.sweep.pots import POT_TOLERANCE_US, PotReading, pot_readings, pot_us
from tests.sweep_fixture import knob_gear

RANGES = {"drive": (0.0, 10.0), "tone": (0.0, 10.0)}


def setting(sid: str, drive: float, tone: float, boost: str = "off") -> Setting:
    """A training setting of the fixture gear."""
    return Setting(sid, {"drive": drive, "tone": tone}, {"boost": boost}, 12.0, "train")


def test_distance_counts_knobs_by_range_and_switches_as_one() -> None:
    a, b = setting("a", 2.0, 5.0), setting("b", 5.0, 5.0, "on")
    distance, changed = setting_change(a, b, RANGES)
    assert changed == ("drive", "boost")
    assert distance == pytest.approx(np.hypot(0.3, 1.0))
    assert setting_change(a, a, RANGES) == (0.0, ())


def test_expected_esr_needs_history_and_takes_the_least_ratio() -> None:
    assert expected_esr([(0.5, 0.1), (0.2, 0.01)], 0.3) is None
    history = [(0.5, 0.25), (0.1, 0.002), (0.2, 0.4)]  # ratios 1.0, 0.2, 10
    assert expected_esr(history, 0.5) == pytest.approx(0.2 * 0.25)
    assert expected_esr(history, 10.0) == 1.0  # capped


@pytest.mark.parametrize(
    ("esr", "floor", "expected", "unmoved"),
    [
        (1e-7, 6e-8, None, True),  # no more than two takes of one setting differ
        (3e-7, 6e-8, None, True),  # within what two takes and a little drift differ by
        (1e-6, 6e-8, None, False),  # well above the floor, nothing else to judge by
        (1e-5, 1e-9, 0.1, True),  # a ten-thousandth of the least the session predicts
        (3e-4, 1e-9, 0.1, False),  # 1/330 of it: low, as a cancelling change can be
        (0.02, 1e-9, 0.36, False),  # low, but within what the session has seen
    ],
)
def test_unmoved_judges_floor_and_session(
    esr: float, floor: float, expected: float | None, unmoved: bool
) -> None:
    c = ChangeCheck("s2", "s1", ("drive",), 0.3, esr, floor, expected)
    assert c.unmoved is unmoved
    if expected is not None:
        assert (esr < FAR_BELOW * expected) is unmoved


def test_no_change_of_controls_is_never_unmoved() -> None:
    assert not ChangeCheck("a2", "a1", (), 0.0, 0.0, 1e-7, None).unmoved
    # A change of the reamp level alone is no servo's doing: nothing to ask about.
    level_only = ChangeCheck("s2", "s1", (LEVEL,), 1.0, 1e-8, 1e-7, None)
    assert not level_only.unmoved and level_only.judged_by is None


def test_pots_decide_over_the_sound() -> None:
    agree = PotReading("drive", 0, 1490, 1470)
    off = PotReading("drive", 0, 1490, 1210)
    assert agree.agrees and not off.agrees and 39 < POT_TOLERANCE_US < 40
    # The sound barely changed, but the pot on the only changed knob says it moved.
    quiet = ChangeCheck("s2", "s1", ("drive",), 0.3, 1e-8, 1e-7, None, (agree,))
    assert quiet.judged_by == "pot" and not quiet.unmoved
    # The sound changed a lot (tone moved), but drive's pot says drive did not.
    stuck = ChangeCheck("s2", "s1", ("drive", "tone"), 0.4, 0.3, 1e-7, 0.01, (off,))
    assert stuck.judged_by == "pot" and stuck.unmoved
    assert stuck.message() == "s2: drive's pot reads 1210 µs, 1490 µs sent: did the knob move?"
    # A changed knob without a pot: the sound judges.
    half = ChangeCheck("s2", "s1", ("drive", "tone"), 0.4, 1e-8, 1e-7, None, (agree,))
    assert half.judged_by == "sound" and half.unmoved
    assert "sounded the same" in half.message() and half.to_json()["pots"][0]["agrees"]


def probe(n: int, kind: str, control: str | None, unmoved: bool | None, **kw: object) -> dict:
    """A `probed` journal event of setting s2."""
    return {"event": "probed", "id": "s2", "probe": n, "kind": kind, "control": control,
            "unmoved": unmoved, "esr": 2e-8, "floor_esr": 4e-8, **kw}  # fmt: skip


def test_probes_judge_each_control_they_heard_alone() -> None:
    events = [
        probe(1, "step", "drive", True, to=7.0, **{"from": 3.0}),
        probe(2, "step", "tone", False, to=2.0, **{"from": 6.0}),
        probe(3, "excursion", "drive", True, to=0.0, **{"from": 7.0}),
    ]
    steps = step_verdicts(events)
    assert [(v.control, v.unmoved) for v in steps] == [("drive", True), ("tone", False)]
    # The whole change sounded different (the tone's), but the drive was heard not turning.
    c = ChangeCheck("s2", "s1", ("drive", "tone"), 0.6, 0.3, 1e-7, 0.01, steps=steps)
    assert c.judged_by == "sound" and c.unmoved
    assert c.message() == (
        "s2: drive turned alone (3 → 7) changed the sound by an ESR of 2e-08, where two "
        "recordings of one state differ by about 4e-08; moved on to 0 and back it changed it "
        "by 2e-08: did the knob move?"
    )
    assert c.to_json()["probed"] == [
        {"control": "drive", "unmoved": True, "by": "excursion"},
        {"control": "tone", "unmoved": False, "by": "step"},
    ]
    # Every control heard turning: moved, even when the two changes all but cancel.
    heard = (StepVerdict("drive", events[0] | {"unmoved": False}, None), steps[1])
    cancel = ChangeCheck("s2", "s1", ("drive", "tone"), 0.6, 1e-8, 1e-7, 0.01, steps=heard)
    assert cancel.sounded_same and not cancel.unmoved


def test_the_journal_gives_each_move_its_probes_and_each_control_its_last_verdict() -> None:
    ids = ["s1", "s2"]
    moved = {"event": "moved", "id": "s2"}
    first = [probe(1, "step", "drive", True), probe(2, "excursion", "drive", True), moved]
    state = replay(first, ids)
    assert [e["probe"] for e in state.probes["s2"]] == [1, 2] and state.heard == {"drive": False}
    # A move away, then a move begun again (its first probe starts afresh) that hears it.
    again = [{"event": "moved", "id": "s2", "away_to": "s1"}, probe(9, "reference", None, None),
             probe(1, "step", "drive", False), moved]  # fmt: skip
    state = replay(first + again, ids)
    assert [e["probe"] for e in state.probes["s2"]] == [1] and state.heard == {"drive": True}
    # A stop between a move's probes and its end: the resumed run's plain move has none.
    state = replay([*first, probe(1, "step", "tone", True), {"event": "resumed"}, moved], ids)
    assert state.probes["s2"] == [] and state.heard == {"drive": False, "tone": False}


def test_pot_readings_convert_as_the_firmware_does() -> None:
    assert (pot_us(0), pot_us(1023), pot_us(512), pot_us(-1), pot_us(2000)) == (
        500, 2500, 1500, 500, 2500,
    )  # fmt: skip
    rig = {
        "knobs": [{"name": "drive", "channel": 0}, {"name": "tone", "channel": 1}],
        "switches": [{"name": "boost", "channel": 2}],
    }
    # As the journal keeps a move: channel numbers as text; tone has no pot.
    pots = pot_readings(rig, ["drive", "tone", "boost"], {"0": 1490, "1": 900, "2": 2100},
                        {"0": 512, "2": 818})  # fmt: skip
    assert pots == (PotReading("drive", 0, 1490, 1500), PotReading("boost", 2, 2100, 2099))
    assert pot_readings(rig, ["drive"], {"0": 1490}, {}) == ()


def test_the_floor_is_the_larger_replicate_or_the_steady_anchors_median() -> None:
    assert floor_of([4e-8, None], [5e-8, 9e-8, 6e-8]) == 6e-8
    assert floor_of([2e-7, 4e-8], [5e-8]) == 2e-7
    assert floor_of([None, None], []) == 0.0


def _write_take(folder: Path, y: np.ndarray, delay_samples: float, noise: float, seed: int) -> None:
    """An output.wav of `y` shifted by a fraction of a sample with a little noise (one take)."""
    n = len(y)
    freqs = np.fft.rfftfreq(n)
    shifted = np.fft.irfft(np.fft.rfft(y) * np.exp(-2j * np.pi * freqs * delay_samples), n)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    write_pcm24(folder / "output.wav", shifted + noise * rng.standard_normal(n), RATE)


def test_captures_of_one_setting_read_unmoved_and_a_small_change_does_not(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    x = 0.3 * rng.standard_normal(3 * RATE)
    a, same, near = setting("s1", 4.0, 5.0), setting("s2", 4.5, 5.0), setting("s3", 4.5, 5.0)
    _write_take(tmp_path / "s1", knob_gear(x, 4.0, 5.0, "off"), 0.0, 3e-5, 1)
    # s2's horn slipped: the gear is still at drive 4, in another stream (0.37 sample later).
    _write_take(tmp_path / "s2", knob_gear(x, 4.0, 5.0, "off"), 0.37, 3e-5, 2)
    # s3 really moved, by a twentieth of the drive's range.
    _write_take(tmp_path / "s3", knob_gear(x, 4.5, 5.0, "off"), 0.21, 3e-5, 3)
    floor = 2 * (3e-5) ** 2 / np.mean(knob_gear(x, 4.0, 5.0, "off") ** 2)
    slipped = check_change(tmp_path, same, a, knob_ranges=RANGES, history=[], floor_esr=floor)
    moved = check_change(tmp_path, near, a, knob_ranges=RANGES, history=[], floor_esr=floor)
    assert slipped.changed == moved.changed == ("drive",)
    assert slipped.unmoved, slipped
    assert not moved.unmoved, moved
    assert moved.esr > 100 * slipped.esr
    assert "did the knob move?" in slipped.message()
