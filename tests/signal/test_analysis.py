"""Sine-fit levels and sub-sample delays against signals whose truth is built in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.errors import SignalError
from station.signal import analysis, stimuli

SR = 48000


def delayed(x: np.ndarray, delay: float, gain: float, extra: int) -> np.ndarray:
    n = len(x) + extra
    spec = np.fft.rfft(x, n)
    f = np.fft.rfftfreq(n, 1.0 / SR)
    return np.fft.irfft(spec * np.exp(-2j * np.pi * f * delay / SR), n) * gain


@given(
    level=st.floats(-60.0, -0.5),
    freq=st.sampled_from([100.0, 440.0, 997.0, 1000.0, 3150.0]),
    phase=st.floats(0.0, 6.28),
)
@settings(max_examples=40, deadline=None)
def test_fit_finds_level_through_hum_and_noise(level: float, freq: float, phase: float) -> None:
    rng = np.random.default_rng(0)
    n = np.arange(SR // 2)
    x = 10 ** (level / 20) * np.sin(2 * np.pi * freq * n / SR + phase)
    hum = 10 ** ((level - 20) / 20) * np.sin(2 * np.pi * 50 * n / SR)
    noise = rng.normal(0, 10 ** ((level - 50) / 20), len(n))
    fit = analysis.fit_sine(x + hum + noise + 0.01, SR, freq)
    assert fit.level_dbfs == pytest.approx(level, abs=0.01)
    assert fit.offset == pytest.approx(0.01, abs=1e-3)


def test_fit_uncertainty_tracks_noise() -> None:
    rng = np.random.default_rng(1)
    n = np.arange(SR)
    clean = 0.5 * np.sin(2 * np.pi * 1000 * n / SR)
    quiet = analysis.fit_sine(clean + rng.normal(0, 1e-5, SR), SR, 1000)
    loud = analysis.fit_sine(clean + rng.normal(0, 1e-2, SR), SR, 1000)
    assert loud.uncertainty_db > 100 * quiet.uncertainty_db
    assert abs(loud.level_dbfs - 20 * np.log10(0.5)) < 4 * loud.uncertainty_db


def test_fit_refuses_a_few_samples() -> None:
    with pytest.raises(SignalError):
        analysis.fit_sine(np.ones(100), SR, 1000)


@given(delay=st.floats(0.0, 5000.0), gain=st.floats(0.05, 2.0), invert=st.booleans())
@settings(max_examples=30, deadline=None)
def test_delay_found_to_a_hundredth_of_a_sample(delay: float, gain: float, invert: bool) -> None:
    sweep = stimuli.log_sweep(20, 20000, 0.5, SR, -6)
    rng = np.random.default_rng(2)
    rec = delayed(sweep, delay, -gain if invert else gain, 6000) + rng.normal(
        0, 1e-4, len(sweep) + 6000
    )
    est = analysis.estimate_delay(sweep, rec, SR)
    assert est.delay_samples == pytest.approx(delay, abs=0.01)
    assert est.polarity == (-1 if invert else 1)
    assert est.gain == pytest.approx(gain, rel=0.01)


def test_delay_refuses_pure_noise() -> None:
    sweep = stimuli.log_sweep(20, 20000, 0.5, SR, -6)
    noise = np.random.default_rng(3).normal(0, 0.1, len(sweep) + 4000)
    with pytest.raises(SignalError, match="no clear delay"):
        analysis.estimate_delay(sweep, noise, SR)


def test_tone_generator_is_continuous_and_fades_out() -> None:
    gen = stimuli.ToneGenerator(1000, -6, SR)
    blocks = [gen.read(256) for _ in range(40)]
    gen.request_stop()
    while not gen.finished:
        blocks.append(gen.read(256))
    x = np.concatenate(blocks)
    assert np.max(np.abs(np.diff(x))) < 0.5 * 2 * np.pi * 1000 / SR * 1.01  # no clicks
    assert abs(x[-1]) < 1e-6
    steady = analysis.fit_sine(x[2000:9000], SR, 1000)
    assert steady.level_dbfs == pytest.approx(-6.0, abs=1e-6)
