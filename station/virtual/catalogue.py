"""The virtual gear catalogue: every simulated amp and pedal the virtual rig can patch in."""

from __future__ import annotations

from collections.abc import Mapping

from .gear import Amp, Chorus, DriftingAmp, NoisyAmp
from .pedal import KnobbedOverdrive
from .preamp import KnobbedPreamp
from .servos import (
    OD_KNOBS,
    OD_SWITCHES,
    PREAMP_KNOBS,
    PREAMP_SWITCHES,
    LeverSwitch,
    PrintedKnob,
    SetControls,
)

# The gear whose controls sit on the servo bench: its knobs and switches.
KNOBBED: dict[str, tuple[tuple[PrintedKnob, ...], tuple[LeverSwitch, ...]]] = {
    "od": (OD_KNOBS, OD_SWITCHES),
    "preamp": (PREAMP_KNOBS, PREAMP_SWITCHES),
}


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
        "preamp": KnobbedPreamp(),
    }


def gear_set_to(key: str, knobs: Mapping[str, float], switches: Mapping[str, str]) -> Amp:
    """The knobbed gear `key` ('od', 'preamp') with its controls set by hand instead of by
    the servos (a control not named stays at its middle mark), for benchmarks and tests that
    name a setting. Call reset(samplerate), then process(volts). KeyError for other keys."""
    if key not in KNOBBED:
        raise KeyError(f"{key!r} has no knobs; knobbed gear: {', '.join(KNOBBED)}")
    given = SetControls(dict(knobs), dict(switches))
    return KnobbedOverdrive(servos=given) if key == "od" else KnobbedPreamp(servos=given)
