"""The shorter station signal offered for a plan's capture time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from station.plan.design import KnobRange, PlanRequest, SwitchChoice, make_plan
from station.plan.setup import by_hand
from station.plan.signal_offer import SHORT_CAPTURE_S, shorter_signal_offer
from tests.conftest import run_station

REQ = PlanRequest(
    knobs=(KnobRange("drive", 0, 10), KnobRange("tone", 0, 10)),
    switches=(SwitchChoice("boost", ("off", "on")), SwitchChoice("clip", ("si", "led"))),
    settings=17,
)


def test_the_offer_is_the_most_settings_of_the_short_signal_within_the_same_time() -> None:
    model = by_hand(REQ, 300)
    plan = make_plan(REQ, model)
    offer = shorter_signal_offer(plan, model)
    assert offer is not None and offer.capture_s == SHORT_CAPTURE_S == 70.0
    short = dataclasses.replace(REQ, capture_s=SHORT_CAPTURE_S)
    fitted = make_plan(dataclasses.replace(short, settings=offer.settings), model)
    beyond = make_plan(dataclasses.replace(short, settings=offer.settings + 1), model)
    assert fitted.total_s == offer.total_s <= plan.total_s < beyond.total_s
    assert offer.settings > 2.5 * REQ.settings  # 193.5 s against 70 s captures


def test_no_offer_when_the_capture_length_was_chosen() -> None:
    req = dataclasses.replace(REQ, capture_s=70.0)
    model = by_hand(req, 300)
    assert shorter_signal_offer(make_plan(req, model), model) is None


def test_station_plan_offers_it_in_words_and_json(tmp_path: Path) -> None:
    args = ["plan", "--knob", "drive=0:10", "--switch", "boost=off,on", "--settings", "10"]
    res = run_station(*args, "--out", str(tmp_path / "p.json"), home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Shorter captures buy more settings" in res.stdout
    assert "station signal --training-s 40 --out short.wav" in res.stdout
    res = run_station(*args, "--out", str(tmp_path / "q.json"), "--json", home=tmp_path)
    offer = json.loads(res.stdout)["shorter_signal"]
    assert offer["training_s"] == 40 and offer["settings"] > 10
    res = run_station(*args, "--capture-s", "70", "--out", str(tmp_path / "r.json"), home=tmp_path)
    assert "Shorter captures" not in res.stdout
