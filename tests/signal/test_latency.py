"""Latency estimators against a known delay, and the policy that picks one."""

from __future__ import annotations

import numpy as np
import pytest

from station.reamp import files as reamp
from station.reamp.generate import station_signal
from station.signal import latency
from station.virtual.catalogue import catalogue
from station.virtual.physics import FractionalDelay

LAYOUT = reamp.Layout(reamp.NAM_V3_FRAMES)


def delayed(y: np.ndarray, d: float) -> np.ndarray:
    line = FractionalDelay(d)
    line.push(y)
    line.push(np.zeros(256))
    return line.pull(len(y))


@pytest.fixture(scope="module")
def head() -> np.ndarray:
    return station_signal(2, training_s=1.0)[:900_000]


def test_trainer_rule_on_an_integer_delay(head: np.ndarray) -> None:
    y = np.roll(head, 123) * 0.3
    r = latency.trainer_blip_rule(y, LAYOUT.blips, LAYOUT.background)
    assert r.delay_samples == 123
    assert r.threshold == pytest.approx(0.0003)


def test_trainer_rule_threshold_follows_the_background(head: np.ndarray) -> None:
    y = np.roll(head, 50) * 0.3
    y[LAYOUT.background[0] : LAYOUT.background[1]] += 0.5  # a loud background
    r = latency.trainer_blip_rule(y, LAYOUT.blips, LAYOUT.background)
    assert r.threshold == pytest.approx(max(r.background + 0.0003, 1.001 * r.background))
    assert r.background == pytest.approx(0.5, abs=0.01)


def test_trainer_rule_finds_nothing_in_silence() -> None:
    r = latency.trainer_blip_rule(np.zeros(700_000), LAYOUT.blips, LAYOUT.background)
    assert r.delay_samples is None


@pytest.mark.parametrize("gear", ["clean", "highgain", "fuzz", "drifting", "chorus"])
@pytest.mark.parametrize("d", [0.0, 37.5, 2048.25])
def test_blip_edge_and_xcorr_through_gear(head: np.ndarray, gear: str, d: float) -> None:
    model = catalogue()[gear]
    model.reset(48000)
    y = delayed(model.process(head * 4.0) / 6.0, d)
    blip = latency.blip_estimate(y, LAYOUT.blips, LAYOUT.background)
    xc = latency.xcorr_estimate(head, y, LAYOUT.broadband, 48000)
    # Each stays within the 2-sample agreement window of the true delay (the gear's own
    # filters add a sample or so).
    assert blip.delay_samples == pytest.approx(d, abs=latency.AGREEMENT_SAMPLES)
    assert xc.delay_samples == pytest.approx(d, abs=latency.AGREEMENT_SAMPLES)
    assert xc.polarity == (-1 if gear == "highgain" else 1)


def test_policy_prefers_loopback_when_all_agree() -> None:
    d = latency.decide({"loopback": 300.4, "blip": 299.6, "xcorr": 301.9}, 1)
    assert d.used == "loopback" and d.shift_samples == 300 and d.agree


def test_policy_falls_back_to_blips_and_says_why() -> None:
    d = latency.decide({"loopback": 300.4, "blip": 428.6, "xcorr": 429.9}, -1)
    assert d.used == "blip" and d.shift_samples == 429 and not d.agree
    assert "moved" in d.message and "428.60" in d.message and "300.40" in d.message
    assert d.disagreement_samples == pytest.approx(129.5)
    assert d.moved_samples == pytest.approx(128.2)


def test_policy_uses_the_timing_reference() -> None:
    # The interface moved 2.4 samples; the gear adds its usual bias to blip and xcorr.
    est = {"loopback": 300.4, "reference": 302.8, "blip": 301.9, "xcorr": 304.2}
    d = latency.decide(est, 1, calibration_spread_samples=2.0)
    assert d.used == "reference" and d.shift_samples == 303 and d.agree
    assert "+2.40 since calibration" in d.message


def test_without_reference_the_capture_assumes_calibration_and_says_so() -> None:
    d = latency.decide({"loopback": 300.4, "blip": 299.6, "xcorr": 301.9}, 1)
    assert d.used == "loopback" and d.agree and "assumes the calibrated latency" in d.message
    drifty = latency.decide(
        {"loopback": 300.4, "blip": 299.6, "xcorr": 301.9}, 1, calibration_spread_samples=1.2
    )
    assert drifty.used == "loopback" and not drifty.agree
    assert "timing reference" in drifty.message and "1.20" in drifty.message


@pytest.mark.parametrize(
    ("blip", "xcorr", "moved"),
    [
        (301.7, 303.9, True),  # 2.4 samples later than calibrated, through the gear's biases
        (298.0, 299.8, True),  # 2.4 earlier: no gear answers before it is played
        (299.4, 301.8, False),  # the gear's usual biases only
        (281.2, 301.9, False),  # a fooled blip edge alone is not a moved interface
    ],
)
def test_a_move_beyond_the_gear_is_warned(blip: float, xcorr: float, moved: bool) -> None:
    d = latency.decide({"loopback": 300.4, "blip": blip, "xcorr": xcorr}, 1)
    assert (d.moved_samples is not None) == moved
    assert d.agree == (not moved and abs(blip - 300.4) <= 2)
    if moved:
        assert d.used == "blip" and "timing reference" in d.message


def test_a_move_seen_by_xcorr_alone_is_warned() -> None:
    # A noisy amp hides its blips; the cross-correlation alone shows the interface moved.
    d = latency.decide({"loopback": 300.4, "blip": None, "xcorr": 304.3}, 1)
    assert d.used == "loopback" and not d.agree and d.moved_samples == pytest.approx(3.9)
    assert "timing reference" in d.message
