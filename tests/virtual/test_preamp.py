"""The virtual preamp's sound against its physics: the tone stack and bright cap as circuits,
the triode's distortion, stability at every corner, and streaming in blocks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from station.virtual.catalogue import gear_set_to
from station.virtual.preamp import GainPot, KnobbedPreamp, tone_pots
from station.virtual.servos import SetControls
from station.virtual.tonestack import POT_END
from tests.virtual.test_tonestack import nodal_response

FS = 48000
SETTLE = FS // 2  # every filter's transient has died away by then
WINDOW = FS // 4  # a whole number of cycles of every tone below (multiples of 4 Hz)


def preamp(bright: str = "off", **knobs: float) -> KnobbedPreamp:
    gear = gear_set_to("preamp", knobs, {"bright": bright})
    assert isinstance(gear, KnobbedPreamp)
    return gear


def phasor(y: np.ndarray, freq_hz: float) -> complex:
    """The complex amplitude of `freq_hz` in the analysis window at the end of `y`."""
    t = np.arange(len(y) - WINDOW, len(y)) / FS
    return complex(2 * np.mean(y[-WINDOW:] * np.exp(-2j * np.pi * freq_hz * t)))


def through(gear: KnobbedPreamp, freq_hz: float, amp_v: float) -> np.ndarray:
    """The gear's output for a sine of `amp_v` volts peak, fresh from reset."""
    gear.reset(FS)
    t = np.arange(SETTLE + WINDOW) / FS
    return gear.process(amp_v * np.sin(2 * np.pi * freq_hz * t))


def small_signal(gear: KnobbedPreamp, freq_hz: float) -> complex:
    """The gear's gain at `freq_hz` for a signal far too small to reach the triode's bends."""
    amp = 1e-5
    return phasor(through(gear, freq_hz, amp), freq_hz) / (-1j * amp)


def warped(freq_hz: float) -> float:
    """The analog frequency the bilinear transform maps `freq_hz` to."""
    return FS / np.pi * np.tan(np.pi * freq_hz / FS)


def harmonics(gear: KnobbedPreamp, freq_hz: float, amp_v: float, n: int = 6) -> np.ndarray:
    """|amplitude| of the fundamental and its first harmonics."""
    y = through(gear, freq_hz, amp_v)
    return np.array([abs(phasor(y, k * freq_hz)) for k in range(1, n + 1)])


def tone_stack_truth(freq_hz: float, knobs: dict[str, float]) -> complex:
    """The circuit's response at the knobs, through the preamp's pot tapers (a wiper stops
    POT_END short of each end of its track)."""
    pots = {n: min(max(p, POT_END), 1 - POT_END) for n, p in tone_pots(knobs).items()}
    return nodal_response(warped(freq_hz), pots["treble"], pots["middle"], pots["bass"])


@pytest.mark.parametrize("freq_hz", [100.0, 400.0, 1000.0, 3000.0])
def test_the_tone_knobs_shape_the_sound_as_the_circuit_does(freq_hz: float) -> None:
    a = {"gain": 4.0, "bass": 2.0, "middle": 8.0, "treble": 3.0}
    b = {"gain": 4.0, "bass": 9.0, "middle": 1.0, "treble": 7.5}
    measured = small_signal(preamp(**a), freq_hz) / small_signal(preamp(**b), freq_hz)
    truth = tone_stack_truth(freq_hz, a) / tone_stack_truth(freq_hz, b)
    assert abs(measured / truth - 1) < 1e-3
    assert abs(20 * np.log10(abs(truth))) > 1.0  # the settings do sound different here


def test_the_middle_knob_changes_what_the_bass_knob_does() -> None:
    """Not three independent filters: the bass knob's lift at 80 Hz depends on the middle."""

    def bass_lift_db(middle: float) -> tuple[float, float]:
        lo, hi = ({"gain": 3.0, "bass": b, "middle": middle, "treble": 5.0} for b in (0.0, 10.0))
        measured = abs(small_signal(preamp(**hi), 80.0) / small_signal(preamp(**lo), 80.0))
        truth = abs(tone_stack_truth(80.0, hi) / tone_stack_truth(80.0, lo))
        return 20 * np.log10(measured), 20 * np.log10(truth)

    scooped, scooped_truth = bass_lift_db(0.0)
    full, full_truth = bass_lift_db(10.0)
    assert scooped == pytest.approx(scooped_truth, abs=0.01)
    assert full == pytest.approx(full_truth, abs=0.01)
    assert scooped - full > 3.0


@pytest.mark.parametrize("gain", [2.0, 6.0, 10.0])
def test_bright_lifts_the_treble_as_a_cap_across_the_gain_pot(gain: float) -> None:
    pot = GainPot()
    up, low = pot.legs_ohm(gain)
    for freq_hz in (200.0, 1000.0, 6000.0):
        # The upper leg in parallel with the cap, then the divider: the circuit, by hand.
        z_up = 1 / (1 / up + 2j * np.pi * warped(freq_hz) * pot.bright_f)
        truth = (low / (pot.source_ohm + z_up + low)) / (low / (pot.source_ohm + up + low))
        measured = small_signal(preamp("on", gain=gain), freq_hz) / small_signal(
            preamp("off", gain=gain), freq_hz
        )
        assert abs(measured / truth - 1) < 1e-3


def test_bright_matters_more_the_lower_the_gain() -> None:
    def lift_db(gain: float) -> float:
        on, off = (abs(small_signal(preamp(b, gain=gain), 6000.0)) for b in ("on", "off"))
        return 20 * np.log10(on / off)

    lifts = [lift_db(g) for g in (1.0, 5.0, 8.0, 10.0)]
    assert lifts[0] > 10.0 and lifts[-1] < 0.1
    assert all(a > b for a, b in itertools.pairwise(lifts))


def test_more_gain_more_distortion() -> None:
    def thd(gain: float) -> float:
        h = harmonics(preamp(gain=gain), 440.0, 0.3)
        return float(np.sqrt(np.sum(h[1:] ** 2)) / h[0])

    thds = [thd(g) for g in (0.0, 3.0, 6.0, 8.0, 10.0)]
    assert thds[0] < 0.02 and thds[-1] > 0.3
    assert all(a < b for a, b in itertools.pairwise(thds))


def test_the_plate_curve_makes_the_second_harmonic_it_predicts() -> None:
    """y = g + c·g²/cutoff: a sine of amplitude A at the grid gives a second harmonic of
    c·A/(2·cutoff) relative to the fundamental, before the filters after the triode."""
    gear = preamp(gain=0.0, bass=5.0, middle=5.0, treble=5.0)
    f, amp_v = 440.0, 0.02
    grid = abs(small_signal(preamp(gain=0.0), f)) / gear.level
    grid /= abs(tone_stack_truth(f, gear.settings()[0]) * _coupling(gear, f))
    h = harmonics(gear, f, amp_v, n=2)
    after = abs(tone_stack_truth(2 * f, gear.settings()[0]) * _coupling(gear, 2 * f))
    after /= abs(tone_stack_truth(f, gear.settings()[0]) * _coupling(gear, f))
    predicted = gear.triode.curvature * grid * amp_v / (2 * gear.triode.cutoff_v) * after
    assert h[1] / h[0] == pytest.approx(predicted, rel=0.03)
    assert h[1] / h[0] > 5e-4  # a symmetric stage would make none


def _coupling(gear: KnobbedPreamp, freq_hz: float) -> complex:
    """The coupling cap's first-order high-pass, as the bilinear transform maps it."""
    w = warped(freq_hz) / warped(gear.coupling_hz)
    return 1j * w / (1 + 1j * w)


def test_loud_drive_makes_even_harmonics_at_every_gain() -> None:
    for gain in (0.0, 5.0, 10.0):
        h = harmonics(preamp(gain=gain), 220.0, 2.0)
        assert h[1] / h[0] > 0.01  # the 2nd harmonic within 40 dB of the fundamental


def test_every_corner_is_stable_and_finite() -> None:
    rng = np.random.default_rng(3)
    for gain, bass, middle, treble in itertools.product((0.0, 10.0), repeat=4):
        for bright in ("off", "on"):
            gear = preamp(bright, gain=gain, bass=bass, middle=middle, treble=treble)
            gear.reset(FS)
            loud = gear.process(rng.normal(0.0, 5.0, FS // 2))
            after = gear.process(np.zeros(FS // 2))
            assert np.all(np.isfinite(loud)) and np.max(np.abs(loud)) < 8.0
            assert np.max(np.abs(after[-FS // 10 :])) < 1e-6  # it rings down to silence


def test_blocks_of_any_size_sound_like_one_pass() -> None:
    x = np.random.default_rng(7).normal(0.0, 1.0, 20000)
    gear = preamp("on", gain=7.0, bass=3.0, middle=6.0, treble=8.0)
    gear.reset(FS)
    whole = gear.process(x)
    gear.reset(FS)
    cuts = [0, 1, 17, 2048, 2049, 9000, 20000]
    parts = [gear.process(x[a:b]) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)
    assert gear.clock == 2 * len(x)


def test_the_preamp_reads_its_controls_when_a_stream_starts() -> None:
    controls = SetControls({"gain": 1.0}, {"bright": "off"})
    gear = KnobbedPreamp(servos=controls)
    quiet = abs(small_signal(gear, 1000.0))
    controls.knobs["gain"] = 9.0
    loud = abs(small_signal(gear, 1000.0))
    # The gain pot's divider, at the two knob settings, is all that changed.
    pot = GainPot()
    ratio = abs(pot.response(warped(1000.0), 9.0, False) / pot.response(warped(1000.0), 1.0, False))
    assert loud / quiet == pytest.approx(ratio, rel=1e-3)
    assert gear.settings()[0] == {"gain": 9.0, "bass": 5.0, "middle": 5.0, "treble": 5.0}
