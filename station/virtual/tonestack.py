"""A passive bass/middle/treble tone stack (Fender/Marshall style), from its components.

The circuit (Yeh & Smith, "Discretization of the '59 Fender Bassman tone
stack", DAFx 2006): the input drives a treble cap C1 to the top of the treble
pot R1 and a slope resistor R4 to a junction; from the junction, C2 goes to the
bottom of the treble pot, which is the top of the bass pot R2 (a variable
resistor), and C3 to the wiper of the middle pot R3, whose top the bass pot
reaches and whose bottom is ground. The output is the treble pot's wiper,
unloaded. Nodal analysis gives a third-order transfer function whose
coefficients are polynomials in the three pot positions, so the controls
interact: the middle pot sits in the bass pot's path to ground and changes
the bass response, the bass pot moves the treble's corner. The bilinear
transform (no pre-warping: the response at f is the analog one at
(fs/π)·tan(πf/fs)) gives the digital filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

# A wiper never quite reaches the end of its track (end resistance): keeping each pot a
# hair inside its ends keeps the filter third-order, with every pole inside the unit circle.
POT_END = 1e-3


@dataclass(frozen=True)
class ToneStackParts:
    """The tone stack's components (Yeh & Smith's names), ohms and farads."""

    r1: float = 250e3  # treble pot
    r2: float = 1e6  # bass pot
    r3: float = 25e3  # middle pot
    r4: float = 56e3  # slope resistor
    c1: float = 250e-12  # treble cap
    c2: float = 20e-9  # bass cap
    c3: float = 20e-9  # middle cap


BASSMAN = ToneStackParts()  # the '59 Bassman 5F6-A


def _inside(pos: float) -> float:
    return min(max(float(pos), POT_END), 1.0 - POT_END)


def analog_coefficients(
    parts: ToneStackParts, treble: float, middle: float, bass: float
) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of H(s), highest power first, for pot positions in 0..1 (rotation fraction of
    each pot's resistance: treble from its bottom, middle from ground, bass in circuit)."""
    t, m, lo = _inside(treble), _inside(middle), _inside(bass)
    r1, r2, r3, r4 = parts.r1, parts.r2, parts.r3, parts.r4
    c1, c2, c3 = parts.c1, parts.c2, parts.c3
    b1 = t * c1 * r1 + m * c3 * r3 + lo * (c1 * r2 + c2 * r2) + (c1 * r3 + c2 * r3)
    b2 = (
        t * (c1 * c2 * r1 * r4 + c1 * c3 * r1 * r4)
        - m**2 * (c1 * c3 * r3**2 + c2 * c3 * r3**2)
        + m * (c1 * c3 * r1 * r3 + c1 * c3 * r3**2 + c2 * c3 * r3**2)
        + lo * (c1 * c2 * r1 * r2 + c1 * c2 * r2 * r4 + c1 * c3 * r2 * r4)
        + lo * m * (c1 * c3 * r2 * r3 + c2 * c3 * r2 * r3)
        + (c1 * c2 * r1 * r3 + c1 * c2 * r3 * r4 + c1 * c3 * r3 * r4)
    )
    # Both cubic coefficients share the factor (bass and middle resistance above ground).
    c123 = c1 * c2 * c3 * (lo * r2 + (1 - m) * r3)
    b3 = c123 * (m * r1 * r3 + t * r1 * r4 + m * r3 * r4)
    a1 = (c1 * r1 + c1 * r3 + c2 * r3 + c2 * r4 + c3 * r4) + m * c3 * r3 + lo * (c1 * r2 + c2 * r2)
    a2 = (
        m * (c1 * c3 * r1 * r3 - c2 * c3 * r3 * r4 + c1 * c3 * r3**2 + c2 * c3 * r3**2)
        + lo * m * (c1 * c3 * r2 * r3 + c2 * c3 * r2 * r3)
        - m**2 * (c1 * c3 * r3**2 + c2 * c3 * r3**2)
        + lo * (c1 * c2 * r2 * r4 + c1 * c2 * r1 * r2 + c1 * c3 * r2 * r4 + c2 * c3 * r2 * r4)
        + (c1 * c2 * r1 * r4 + c1 * c3 * r1 * r4 + c1 * c2 * r3 * r4)
        + (c1 * c2 * r1 * r3 + c1 * c3 * r3 * r4 + c2 * c3 * r3 * r4)
    )
    a3 = c123 * (m * r1 * r3 + r1 * r4 + m * r3 * r4)
    return np.array([b3, b2, b1, 0.0]), np.array([a3, a2, a1, 1.0])


def tone_stack_sos(
    samplerate: float,
    treble: float,
    middle: float,
    bass: float,
    parts: ToneStackParts = BASSMAN,
) -> np.ndarray:
    """The digital tone stack at these pot positions (0..1) as second-order sections."""
    b, a = scipy.signal.bilinear(*analog_coefficients(parts, treble, middle, bass), samplerate)
    return scipy.signal.tf2sos(b, a)


def analog_response(
    freq_hz: np.ndarray | float,
    treble: float,
    middle: float,
    bass: float,
    parts: ToneStackParts = BASSMAN,
) -> np.ndarray:
    """H(j·2πf) of the analog circuit at these pot positions (complex, output/input)."""
    b, a = analog_coefficients(parts, treble, middle, bass)
    s = 2j * np.pi * np.asarray(freq_hz, dtype=np.float64)
    return np.polyval(b, s) / np.polyval(a, s)
