"""A sweep stopped after a capture is journalled but before the check that follows it (the
anchor's drift check, 'did the knob move?') makes that check on resume, from the capture on
disk: the capture is never taken twice and no judgement is lost."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from station.sweep.journal import Journal, anchors_unjudged
from tests.sweep.fakes import FakeKnobRig
from tests.sweep.test_run import Bench


def stop_before(monkeypatch: pytest.MonkeyPatch, event: str, at: str | None = None) -> None:
    """Ctrl-C lands just before the first `event` (about setting `at`, when given) is
    journalled: everything before it is on disk, it is not."""
    real = Journal.append
    fired = []

    def append(self, name, **fields):  # type: ignore[no-untyped-def]
        about = fields.get("id", fields.get("anchor"))
        if name == event and not fired and at in (None, about):
            fired.append(about)
            raise KeyboardInterrupt
        return real(self, name, **fields)

    monkeypatch.setattr(Journal, "append", append)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("gear", "cut"),
    [
        ("drifting", "checked"),  # the anchor's capture journalled, its acceptance not
        ("drifting", "anchor_compared"),
        ("drifting", "suspect"),
        ("clean", "anchor_compared"),
    ],
)
def test_a_drift_check_cut_short_is_made_on_resume_without_taking_the_anchor_again(
    home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch, gear: str, cut: str
) -> None:
    b = Bench(home, short_signal, gear=gear, settings=2, holdout=0, anchor_every=2)
    sched = b.session.schedule
    last = sched[-1]
    assert last.role == "anchor" and last.id != sched[0].id
    with monkeypatch.context() as m:
        stop_before(m, cut, at=last.id)
        with pytest.raises(KeyboardInterrupt):
            b.runner().run()
    # Stopped in the window: the anchor captured (and accepted unless the stop came first),
    # its drift judgement not journalled.
    accepted = [e["id"] for e in b.events("checked") if e["passed"]]
    assert accepted == [s.id for s in sched if cut != "checked" or s.id != last.id]
    assert last.id in {e["id"] for e in b.events("captured")}
    assert not b.events("suspect")
    assert bool(b.events("anchor_compared")) == (cut == "suspect")
    takes = Counter(e["id"] for e in b.events("captured"))

    summary = b.runner(FakeKnobRig(b.rig_profile, b.vrig)).run(resumed=True)
    assert summary.complete and not summary.failed
    # The anchor is not taken again, and the comparison was made once, from it.
    assert Counter(e["id"] for e in b.events("captured")) == takes
    compared = b.events("anchor_compared")
    assert [(e["id"], e["reference"]) for e in compared] == [(last.id, sched[0].id)]
    d = compared[0]
    trains = [s.id for s in sched if s.role != "anchor"]
    if gear == "drifting":
        # The amp warms up: its gain rises, by less than its whole warm-up depth.
        depth_db = -20 * math.log10(1 - b.vrig.gear.depth)  # type: ignore[union-attr]
        assert d["drifted"] and 0.2 < d["level_change_db"] < depth_db
        assert [e["ids"] for e in b.events("suspect")] == [trains]
        assert summary.suspect == trains and set(summary.suspect_reasons.values()) == {"drift"}
        assert any("rose" in w and "marked suspect" in w for w in b.warnings)
    else:
        assert not d["drifted"] and abs(d["level_change_db"]) < 0.01 and d["esr"] < 1e-4
        assert not b.events("suspect") and not summary.suspect
    assert [a["id"] for a in summary.drift] == [last.id]
    # Nothing left to judge: a second resume compares nothing again.
    assert not anchors_unjudged(
        Journal(b.session.folder).read(), [s.id for s in sched if s.role == "anchor"]
    )


@pytest.mark.slow
def test_a_capture_stopped_before_its_knob_check_is_compared_on_resume(
    home: Path, short_signal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = Bench(home, short_signal, settings=2, holdout=0, anchor_every=0)
    sched = b.session.schedule
    cut = sched[1].id  # the first capture with one before it to compare with
    with monkeypatch.context() as m:
        stop_before(m, "compared", at=cut)
        with pytest.raises(KeyboardInterrupt):
            b.runner().run()
    assert cut in {e["id"] for e in b.events("captured")}
    assert cut not in {e["id"] for e in b.events("compared")}
    summary = b.runner(FakeKnobRig(b.rig_profile, b.vrig)).run(resumed=True)
    assert summary.complete and not summary.failed and not summary.suspect
    # Compared from the capture on disk, not taken again; the knob moved (drive and boost
    # differ between the two settings), so it is accepted.
    assert Counter(e["id"] for e in b.events("captured")) == Counter(s.id for s in sched)
    compared = [e for e in b.events("compared") if e["id"] == cut]
    assert len(compared) == 1 and compared[0]["changed"] and not compared[0]["unmoved"]


def test_anchors_unjudged_follows_the_journal() -> None:
    a = ["a01", "a02", "a03"]

    def ev(event: str, **f: object) -> dict[str, object]:
        return {"event": event, **f}

    ok = [ev("checked", id="a01", passed=True), ev("checked", id="a02", passed=True)]
    assert anchors_unjudged(ok, a) == {"a02": None}
    drifted = ev("anchor_compared", id="a02", drifted=True)
    assert anchors_unjudged([*ok, drifted], a) == {"a02": drifted}
    marked = ev("suspect", ids=["s001"], anchor="a02")
    assert anchors_unjudged([*ok, drifted, marked], a) == {}
    steady = ev("anchor_compared", id="a02", drifted=False)
    assert anchors_unjudged([*ok, steady], a) == {}
    # The first anchor failed: a later one accepted first was the reference, compared with none.
    first_failed = [ev("failed", id="a01"), ev("checked", id="a02", passed=True)]
    assert anchors_unjudged(first_failed, a) == {}
    assert anchors_unjudged([*first_failed, ev("checked", id="a01", passed=True)], a) == {}
