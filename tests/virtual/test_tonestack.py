"""The tone stack's filter against the circuit itself: node equations solved at each frequency."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.signal

from station.virtual.tonestack import (
    BASSMAN,
    POT_END,
    ToneStackParts,
    analog_response,
    tone_stack_sos,
)

FREQS_HZ = np.array([20.0, 60.0, 150.0, 400.0, 1000.0, 2500.0, 6000.0, 15000.0])
POSITIONS = [(0.5, 0.5, 0.5), (0.1, 0.9, 0.3), (0.8, 0.2, 0.95), (0.3, 0.05, 0.02)]


def nodal_response(
    freq_hz: float, treble: float, middle: float, bass: float, p: ToneStackParts = BASSMAN
) -> complex:
    """Vout/Vin of the circuit by nodal analysis (independent of the coded polynomials).

    Nodes: treble pot top (after C1), the slope resistor's junction, treble pot bottom = bass
    pot top, middle pot top, middle pot wiper (C3 lands here), output (treble wiper).
    """
    s = 2j * np.pi * freq_hz
    top, junction, bottom, mid_top, mid_wiper, out = range(6)
    vin = -1  # the driven input node
    branches = [
        (vin, top, s * p.c1),
        (vin, junction, 1 / p.r4),
        (junction, bottom, s * p.c2),
        (junction, mid_wiper, s * p.c3),
        (top, out, 1 / ((1 - treble) * p.r1)),
        (out, bottom, 1 / (treble * p.r1)),
        (bottom, mid_top, 1 / (bass * p.r2)),
        (mid_top, mid_wiper, 1 / ((1 - middle) * p.r3)),
        (mid_wiper, None, 1 / (middle * p.r3)),  # to ground
    ]
    y = np.zeros((6, 6), dtype=complex)
    i = np.zeros(6, dtype=complex)
    for a, b, g in branches:
        for n, other in ((a, b), (b, a)):
            if n is None or n == vin:
                continue
            y[n, n] += g
            if other == vin:
                i[n] += g * 1.0
            elif other is not None:
                y[n, other] -= g
    return complex(np.linalg.solve(y, i)[out])


@pytest.mark.parametrize(("treble", "middle", "bass"), POSITIONS)
def test_the_analog_transfer_function_is_the_circuit(
    treble: float, middle: float, bass: float
) -> None:
    coded = analog_response(FREQS_HZ, treble, middle, bass)
    truth = np.array([nodal_response(f, treble, middle, bass) for f in FREQS_HZ])
    np.testing.assert_allclose(coded, truth, rtol=1e-9)


@pytest.mark.parametrize("samplerate", [44100, 48000, 96000])
@pytest.mark.parametrize(("treble", "middle", "bass"), POSITIONS)
def test_the_digital_filter_is_the_bilinear_image_of_the_circuit(
    samplerate: int, treble: float, middle: float, bass: float
) -> None:
    sos = tone_stack_sos(samplerate, treble, middle, bass)
    freqs = FREQS_HZ[0.45 * samplerate > FREQS_HZ]
    _, h = scipy.signal.sosfreqz(sos, worN=freqs, fs=samplerate)
    # The bilinear transform maps f to the analog frequency (fs/π)·tan(πf/fs).
    warped = samplerate / np.pi * np.tan(np.pi * freqs / samplerate)
    truth = np.array([nodal_response(f, treble, middle, bass) for f in warped])
    np.testing.assert_allclose(h, truth, rtol=1e-6)


def test_every_corner_is_stable_and_is_the_circuit_a_hair_inside_its_ends() -> None:
    for corner in itertools.product((0.0, 1.0), repeat=3):
        sos = tone_stack_sos(48000, *corner)
        poles = np.concatenate([np.roots(section[3:]) for section in sos])
        assert np.all(np.abs(poles) < 1.0), corner
        inside = [min(max(c, POT_END), 1 - POT_END) for c in corner]
        _, h = scipy.signal.sosfreqz(sos, worN=[100.0, 1000.0], fs=48000)
        warped = 48000 / np.pi * np.tan(np.pi * np.array([100.0, 1000.0]) / 48000)
        truth = [nodal_response(f, *inside) for f in warped]
        np.testing.assert_allclose(h, truth, rtol=1e-6)
