"""A virtual amp preamp whose gain, bass, middle and treble knobs and bright switch the
virtual servos turn (the bench's channels 5–9, see servos).

The signal path, send volts in, return volts out:

1. the first triode amplifies linearly (`v1_gain`);
2. the gain pot: a 1 MΩ audio-taper divider fed from that triode's plate
   (38 kΩ source), with 27 kΩ under it so gain 0 still passes a little. The
   bright switch puts 120 pF across the pot's upper part: treble bypasses the
   pot, by up to the pot's whole attenuation at low gain and not at all at
   full gain, where the wiper shorts the cap;
3. the second triode's grid stopper and Miller capacitance, a low-pass;
4. the second triode (Triode): grid current clamps positive swings early and
   hard, cutoff limits negative swings later and softly, and its plate curve
   gives positive swings more gain, so it makes even harmonics at every level;
   grid current also charges the coupling cap in front of the grid, shifting
   the bias toward cutoff while the drive is heavy (for some 15 ms after);
5. the coupling cap into the next grid, a high-pass;
6. the tone stack (tonestack), driven from a cathode follower;
7. a recovery stage: a fixed gain to the output (`level`).

Every stage is a linear filter or a memoryless curve, so a block is a handful
of vectorised passes and the knobs cannot make it unstable: the filters are
passive circuits (every pole inside the unit circle after the bilinear
transform) and the curve is bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.signal

from ..rig.profiles import RigProfile
from .gear import Amp
from .servos import PREAMP_KNOBS, PREAMP_SWITCHES, Controls, read_controls, truth_rig
from .tonestack import BASSMAN, POT_END, ToneStackParts, tone_stack_sos


def audio_taper(rotation: float) -> float:
    """The fraction of an audio-taper ("A", logarithmic) pot's track below its wiper at a
    `rotation` of 0..1: 9 % at half way, as the usual 10 %-at-middle pots."""
    r = min(max(float(rotation), 0.0), 1.0)
    return (100.0**r - 1.0) / 99.0


@dataclass(frozen=True)
class GainPot:
    """The gain pot between the two triodes, its floor resistor and the bright cap (Ω, F)."""

    source_ohm: float = 38e3  # the first triode's plate resistance in parallel with its load
    pot_ohm: float = 1e6
    floor_ohm: float = 27e3
    bright_f: float = 120e-12

    def legs_ohm(self, gain: float) -> tuple[float, float]:
        """(upper, lower) resistance around the wiper for the knob at `gain` (0..10)."""
        a = min(max(audio_taper(gain / 10.0), POT_END), 1.0 - POT_END)
        return (1.0 - a) * self.pot_ohm, a * self.pot_ohm + self.floor_ohm

    def analog(self, gain: float, bright: bool) -> tuple[list[float], list[float]]:
        """(b, a) of the divider's H(s), highest power first: with the bright cap across
        the upper leg, R_low·(1 + s·R_up·C) / ((R_s + R_up + R_low) + s·R_up·C·(R_s + R_low))."""
        up, low = self.legs_ohm(gain)
        rs = self.source_ohm
        if not bright:
            return [low], [rs + up + low]
        tau = up * self.bright_f
        return [low * tau, low], [tau * (rs + low), rs + up + low]

    def response(self, freq_hz: np.ndarray | float, gain: float, bright: bool) -> np.ndarray:
        """H(j·2πf) of the divider (complex, wiper volts per source volt)."""
        b, a = self.analog(gain, bright)
        s = 2j * np.pi * np.asarray(freq_hz, dtype=np.float64)
        return np.polyval(b, s) / np.polyval(a, s)


@dataclass(frozen=True)
class Triode:
    """The second triode's transfer: grid volts about its bias → plate swing (in grid-equivalent
    volts, polarity restored by the first stage)."""

    conduction_v: float = 1.0  # a positive swing this far up draws grid current
    conduction_hardness: float = 4.0  # how abruptly grid current clamps it
    cutoff_v: float = 2.5  # a negative swing this far down cuts the valve off (softly)
    curvature: float = 0.2  # plate curve: positive swings get more gain (2nd harmonic)
    bias_shift: float = 0.25  # bias moved per volt of grid-current drive, averaged
    shift_tau_s: float = 0.015  # the coupling cap's charge time through the grid leak

    def curve(self, x: np.ndarray) -> np.ndarray:
        """The static curve: bounded, monotone, slope 1 at the bias point."""
        k, n = self.conduction_v, self.conduction_hardness
        xp = np.maximum(x, 0.0)
        g = np.where(
            x >= 0.0,
            xp / (1.0 + (xp / k) ** n) ** (1.0 / n),
            self.cutoff_v * np.tanh(np.minimum(x, 0.0) / self.cutoff_v),
        )
        return g + self.curvature * g**2 / self.cutoff_v

    def grid_current(self, x: np.ndarray) -> np.ndarray:
        """How far each sample drives the grid past conduction (V, ≥ 0): what charges the cap."""
        return np.maximum(x - self.conduction_v, 0.0)


def tone_pots(knobs: Mapping[str, float]) -> dict[str, float]:
    """Each tone pot's position (0..1) for knobs at 0..10: the bass pot is audio taper, the
    middle and treble pots linear."""
    rotation = {n: min(max(knobs[n] / 10.0, 0.0), 1.0) for n in ("bass", "middle", "treble")}
    return {
        "bass": audio_taper(rotation["bass"]),
        "middle": rotation["middle"],
        "treble": rotation["treble"],
    }


def _first_order(kind: str, corner_hz: float, samplerate: float) -> np.ndarray:
    """A first-order RC low-pass or high-pass as one second-order section."""
    return scipy.signal.butter(1, corner_hz, kind, fs=samplerate, output="sos")


@dataclass
class KnobbedPreamp(Amp):
    """An amp preamp whose gain, bass, middle, treble and bright switch follow the servo bench."""

    name: str = "knobbed preamp"
    description: str = (
        "an amp preamp with gain, bass, middle and treble knobs and a bright switch, turned by "
        "the virtual servo rig"
    )
    v1_gain: float = 40.0  # the first triode's gain
    miller_hz: float = 8000.0  # the second triode's grid stopper into its Miller capacitance
    coupling_hz: float = 34.0  # 10 nF into a 470 kΩ grid leak
    level: float = 1.0  # the recovery stage's gain to the output
    pot: GainPot = field(default_factory=GainPot)
    triode: Triode = field(default_factory=Triode)
    tone_parts: ToneStackParts = BASSMAN
    servos: Controls | None = None  # None: every control at its middle mark

    def settings(self) -> tuple[dict[str, float], dict[str, str]]:
        """The preamp's knob values and switch positions now (at their middle marks without
        servos)."""
        return read_controls(self.servos, PREAMP_KNOBS, PREAMP_SWITCHES)

    def reset(self, samplerate: int) -> None:
        """Read the controls (they do not move while a stream runs) and rebuild the filters."""
        knobs, switches = self.settings()
        fs = float(samplerate)
        self.samplerate = samplerate
        b, a = self.pot.analog(knobs["gain"], switches["bright"] == "on")
        gain_b, gain_a = scipy.signal.bilinear(np.array(b) * self.v1_gain, a, fs)
        miller = _first_order("lowpass", min(self.miller_hz, 0.45 * fs), fs)
        self._pre = np.vstack([scipy.signal.tf2sos(gain_b, gain_a), miller])
        pots = tone_pots(knobs)
        self._post = np.vstack(
            [
                _first_order("highpass", self.coupling_hz, fs),
                tone_stack_sos(fs, pots["treble"], pots["middle"], pots["bass"], self.tone_parts),
            ]
        )
        self._charge = _first_order("lowpass", 1.0 / (2 * np.pi * self.triode.shift_tau_s), fs)
        self._zpre = np.zeros((self._pre.shape[0], 2))
        self._zpost = np.zeros((self._post.shape[0], 2))
        self._zcharge = np.zeros((1, 2))

    def process(self, volts: np.ndarray) -> np.ndarray:
        """Process one block of send volts into return volts."""
        if self.samplerate == 0:
            self.reset(48000)
        x, self._zpre = scipy.signal.sosfilt(self._pre, volts, zi=self._zpre)
        charge, self._zcharge = scipy.signal.sosfilt(
            self._charge, self.triode.grid_current(x), zi=self._zcharge
        )
        y = self.triode.curve(x - self.triode.bias_shift * charge)
        y, self._zpost = scipy.signal.sosfilt(self._post, y, zi=self._zpost)
        self.clock += len(y)
        return self.level * y


def virtual_preamp_rig(name: str = "vpreamp", slew_us_per_s: float = 300.0) -> RigProfile:
    """A rig profile for the virtual preamp's gain, bass, middle and treble knobs and bright
    switch (port 'virtual'), its points read off the bench's truths: what a careful
    calibration finds. For the demo and tests."""
    return truth_rig(name, PREAMP_KNOBS, PREAMP_SWITCHES, slew_us_per_s)
