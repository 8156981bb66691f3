"""The virtual gear catalogue: every simulated amp and pedal the virtual rig can patch in."""

from __future__ import annotations

from .gear import Amp, Chorus, DriftingAmp, NoisyAmp
from .pedal import KnobbedOverdrive


def catalogue() -> dict[str, Amp]:
    """Every virtual gear model, fresh, by key."""
    return {
        "clean": Amp(),
        "highgain": Amp(
            name="high-gain amp",
            description="a high-gain amp: heavy saturation, inverts polarity",
            drive=25.0,
            clip_v=1.0,
            highpass_hz=120.0,
            lowpass_hz=8000.0,
            level=1.2,
            invert=True,
        ),
        "fuzz": Amp(
            name="fuzz pedal",
            description="a fuzz: asymmetric hard clipping",
            drive=40.0,
            clip_v=0.6,
            asymmetry=0.8,
            highpass_hz=40.0,
            lowpass_hz=6000.0,
            level=1.5,
        ),
        "noisy": NoisyAmp(),
        "drifting": DriftingAmp(),
        "chorus": Chorus(),
        "od": KnobbedOverdrive(),
    }
