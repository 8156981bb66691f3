"""Which NAM players load a model file, from its version, layout and inputs (docs/nam-facts.md).

NeuralAmpModelerCore accepts a version only as exactly three numbers X.Y.Z.
The cores 0.5.x (the plugin's main branch pins 0.5.2; the core's main is 0.5.5)
load 0.5.0–0.7.0 fully and 0.7.x above that partially (with warnings), refuse 0.4.x,
0.8+ and anything malformed, and run WaveNets with several input channels
(`config.in_channels`). The core pinned by the plugin's newest tagged release
(v0.7.13, core 0.2.0) loads only 0.5.x files, and of WaveNets only the classic
layout (`station.models.wavenet`). Every NAM plugin refuses a model with more than
one input channel by its own check. Each verdict here is one the tests measure on
the cores themselves (tests/namcore).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NEWEST_TAGGED_PLUGIN = "NAM plugin v0.7.13 (core 0.2.0)"
PLUGIN_MAIN = "NAM plugin main branch (core 0.5.2)"
CORE_MAIN = "NeuralAmpModelerCore main (0.5.5)"
# The station's first parametric exports named an architecture no loader knows.
EARLY_PARAMETRIC = "ConditionedWaveNet"
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class PlayerSupport:
    """One player's verdict on a model file: loads yes | partially | no, and why."""

    player: str
    loads: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """As JSON: player, loads, reason."""
        return {"player": self.player, "loads": self.loads, "reason": self.reason}


def parse_version(version: Any) -> tuple[int, int, int] | None:
    """(major, minor, patch) when `version` is exactly 'X.Y.Z' as the core requires; else None."""
    if not isinstance(version, str):
        return None
    m = _VERSION.fullmatch(version)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def input_channels(model: dict[str, Any] | None) -> int:
    """How many input channels the file's net takes (1 + knobs for a parametric one)."""
    if not isinstance(model, dict):
        return 1
    config = model.get("config")
    config = config if isinstance(config, dict) else {}
    n = config.get("in_channels")
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        return n
    if isinstance(config.get("parametric"), dict):
        return 1 + len(config["parametric"])
    return 1


def knob_conditioned(model: dict[str, Any] | None) -> bool:
    """True for a knob-conditioned (parametric) model: more inputs than the plugin's one."""
    if not isinstance(model, dict):
        return False
    return model.get("architecture") == EARLY_PARAMETRIC or input_channels(model) > 1


def classic_layout(model: dict[str, Any] | None) -> bool:
    """False for a WaveNet written in the current config form (per-layer kernel sizes, a
    nested head, activation objects), which core 0.2.0 cannot parse; True otherwise."""
    if not isinstance(model, dict) or model.get("architecture") != "WaveNet":
        return True
    layers = (model.get("config") or {}).get("layers")
    if not isinstance(layers, list):
        return True
    return not any(
        isinstance(lc, dict)
        and ("kernel_sizes" in lc or "head" in lc or not isinstance(lc.get("activation", ""), str))
        for lc in layers
    )


def _by_version(player: str, v: tuple[int, int, int]) -> PlayerSupport:
    text = ".".join(map(str, v))
    if (0, 5, 0) <= v <= (0, 7, 0):
        return PlayerSupport(player, "yes", f"{text} is within 0.5.0–0.7.0")
    if (0, 7, 0) < v < (0, 8, 0):
        return PlayerSupport(
            player, "partially", f"{text} is newer than 0.7.0: loads with warnings"
        )
    return PlayerSupport(player, "no", f"{text} is outside 0.5.0–0.7.x")


def support(version: Any, model: dict[str, Any] | None = None) -> list[PlayerSupport]:
    """How the newest tagged plugin, the plugin's main branch and the core on main treat a
    file of this `version` (given the whole `model`, also its layout and its inputs)."""
    players = (NEWEST_TAGGED_PLUGIN, PLUGIN_MAIN, CORE_MAIN)
    if isinstance(model, dict) and model.get("architecture") == EARLY_PARAMETRIC:
        why = (
            f"'{EARLY_PARAMETRIC}' is an architecture name of the station's first parametric "
            "exports that no loader knows; the station's snapshots of it load"
        )
        return [PlayerSupport(p, "no", why) for p in players]
    v = parse_version(version)
    if v is None:
        why = f"version {version!r} is not three numbers X.Y.Z: the core refuses it"
        return [PlayerSupport(p, "no", why) for p in players]
    text = ".".join(map(str, v))
    channels = input_channels(model)
    if channels > 1:
        why = (
            f"the plugin takes one input channel and refuses a model with {channels} "
            "(audio and the knobs)"
        )
        tagged = PlayerSupport(NEWEST_TAGGED_PLUGIN, "no", why)
        plugin = PlayerSupport(PLUGIN_MAIN, "no", why)
    elif v[:2] != (0, 5):
        tagged = PlayerSupport(
            NEWEST_TAGGED_PLUGIN,
            "no",
            f"it loads only 0.5.x files; {text} gets 'unsupported version ... update your "
            "version of the NAM plugin'",
        )
        plugin = _by_version(PLUGIN_MAIN, v)
    elif not classic_layout(model):
        tagged = PlayerSupport(
            NEWEST_TAGGED_PLUGIN, "no", "its WaveNet layout is newer than the classic one it parses"
        )
        plugin = _by_version(PLUGIN_MAIN, v)
    else:
        tagged = PlayerSupport(NEWEST_TAGGED_PLUGIN, "yes", f"{text} is a 0.5.x file")
        plugin = _by_version(PLUGIN_MAIN, v)
    main = _by_version(CORE_MAIN, v)
    if channels > 1 and main.loads != "no":
        main = PlayerSupport(
            CORE_MAIN,
            main.loads,
            f"{main.reason}; a host feeds it {channels} input channels: the audio, then each "
            "knob held at its encoded value",
        )
    return [tagged, plugin, main]


def snapshot_players(model: dict[str, Any] | None) -> str:
    """Where a parametric model's snapshots load: every player, or why not the tagged release."""
    from .wavenet import classic_layout_reason

    config = (model or {}).get("config")
    reason = classic_layout_reason(config) if isinstance(config, dict) else "it has no config"
    if reason is None:
        return "its snapshots at chosen settings load in every NAM player"
    return (
        f"its snapshots at chosen settings load in players on the 0.5 cores, not in "
        f"{NEWEST_TAGGED_PLUGIN} ({reason})"
    )


def warning(version: Any, model: dict[str, Any] | None = None) -> str | None:
    """A sentence for creators when the newest tagged plugin cannot load the file, else None."""
    tagged = support(version, model)[0]
    if tagged.loads == "yes":
        return None
    if knob_conditioned(model):
        return f"no NAM plugin loads this model: {tagged.reason}; {snapshot_players(model)}"
    return (
        f"players on the newest tagged NAM plugin release ({NEWEST_TAGGED_PLUGIN}) cannot "
        f"load this model: {tagged.reason}; they need a plugin built from the current core"
    )


def note(model: dict[str, Any]) -> str:
    """One sentence on who plays a model file the station wrote (for reports and results)."""
    if knob_conditioned(model):
        return (
            "a parametric model runs in hosts built on NAM's core that feed the knobs as input "
            f"channels, in no NAM plugin; {snapshot_players(model)}"
        )
    said = warning(model.get("version"), model)
    return said if said is not None else "every NAM player loads it"
