"""Virtual gear between the virtual send and return: amps, a fuzz, a chorus, in volts.

Each model is streaming (filter states and a clock carry across blocks) so
the virtual interface can feed it block by block, and each has a fault a
capture check should catch: the noisy amp's hiss, the drifting amp's warm-up,
the chorus's time-based modulation, the high-gain amp's inverted polarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal


@dataclass
class Amp:
    """Filters, a saturating stage and an output level; the base of every model here.

    `drive` scales the input before a tanh of knee `clip_v` volts; `level` is
    the output's gain; `invert` flips polarity, as many high-gain amps do.
    """

    name: str = "clean amp"
    description: str = "a clean amp into a loadbox: mild saturation, gentle filtering"
    drive: float = 1.0
    clip_v: float = 8.0
    asymmetry: float = 0.0  # > 0 clips negative swings harder (fuzz)
    highpass_hz: float = 70.0
    lowpass_hz: float = 10000.0
    level: float = 0.5
    invert: bool = False

    def __post_init__(self) -> None:
        self.samplerate = 0
        self.clock = 0  # samples processed since the rig was switched on

    def reset(self, samplerate: int) -> None:
        """Clear filter states (a new stream), keeping the clock (the amp stays warm)."""
        self.samplerate = samplerate
        self._pre = scipy.signal.butter(
            1, self.highpass_hz, "highpass", fs=samplerate, output="sos"
        )
        self._post = scipy.signal.butter(2, self.lowpass_hz, "lowpass", fs=samplerate, output="sos")
        self._zpre = np.zeros((self._pre.shape[0], 2))
        self._zpost = np.zeros((self._post.shape[0], 2))

    def shape(self, v: np.ndarray) -> np.ndarray:
        """The static nonlinearity, volts in, volts out."""
        x = self.drive * v / self.clip_v
        if self.asymmetry:
            x = np.where(x < 0, (1 + self.asymmetry) * x, x)
        return self.clip_v * np.tanh(x)

    def process(self, volts: np.ndarray) -> np.ndarray:
        """Process one block of send volts into return volts."""
        if self.samplerate == 0:
            self.reset(48000)
        v, self._zpre = scipy.signal.sosfilt(self._pre, volts, zi=self._zpre)
        v = self.shape(v)
        v, self._zpost = scipy.signal.sosfilt(self._post, v, zi=self._zpost)
        out = self.level * v * self.gain_over_time(len(v))
        self.clock += len(v)
        return -out if self.invert else out

    def seconds(self, start: int, frames: int) -> np.ndarray:
        """Time since switch-on, in seconds, of `frames` samples from sample `start`."""
        return (start + np.arange(frames)) / (self.samplerate or 48000)

    def gain_over_time(self, frames: int) -> np.ndarray | float:
        """A multiplier for this block (1 for steady gear)."""
        return 1.0


@dataclass
class NoisyAmp(Amp):
    """An amp with hiss and mains hum on its output."""

    name: str = "noisy amp"
    description: str = "a clean amp with loud hiss and 60 Hz hum"
    noise_v: float = 0.05
    hum_v: float = 0.03
    hum_hz: float = 60.0
    seed: int = 5

    def process(self, volts: np.ndarray) -> np.ndarray:
        """The clean output plus hiss and hum."""
        start = self.clock
        out = super().process(volts)
        rng = np.random.default_rng((self.seed, start))
        t = self.seconds(start, len(out))
        return (
            out
            + rng.normal(0.0, self.noise_v, len(out))
            + self.hum_v * np.sin(2 * np.pi * self.hum_hz * t)
        )


@dataclass
class DriftingAmp(Amp):
    """An amp still warming up: its gain creeps up over the first minutes."""

    name: str = "drifting amp"
    description: str = "a tube amp captured before it warmed up: gain rises over minutes"
    depth: float = 0.2
    tau_s: float = 60.0

    def gain_over_time(self, frames: int) -> np.ndarray:
        """1 − depth·e^(−t/τ), t from switch-on."""
        t = self.seconds(self.clock, frames)
        return 1.0 - self.depth * np.exp(-t / self.tau_s)


@dataclass
class Chorus(Amp):
    """A chorus pedal: a copy delayed by a slowly swept few milliseconds, mixed in."""

    name: str = "chorus pedal"
    description: str = "a chorus: a time-based effect the model cannot learn"
    drive: float = 0.2
    lowpass_hz: float = 12000.0
    level: float = 0.8
    base_ms: float = 7.0
    depth_ms: float = 3.0
    rate_hz: float = 0.7
    mix: float = 0.5

    def reset(self, samplerate: int) -> None:
        """Clear the delay line too."""
        super().reset(samplerate)
        self._hist = np.zeros(int((self.base_ms + self.depth_ms) * 1e-3 * samplerate) + 4)

    def process(self, volts: np.ndarray) -> np.ndarray:
        """Dry plus a modulated-delay copy."""
        start = self.clock
        dry = super().process(volts)
        sr = self.samplerate
        buf = np.concatenate([self._hist, dry])
        t = self.seconds(start, len(dry))
        delay = (self.base_ms + self.depth_ms * np.sin(2 * np.pi * self.rate_hz * t)) * 1e-3 * sr
        pos = len(self._hist) + np.arange(len(dry)) - delay
        i0 = np.floor(pos).astype(np.int64)
        frac = pos - i0
        wet = buf[i0] * (1 - frac) + buf[i0 + 1] * frac
        self._hist = buf[-len(self._hist) :]
        return (1 - self.mix) * dry + self.mix * wet
