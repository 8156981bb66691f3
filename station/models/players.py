"""Which NAM players load a model file, from its `version` (docs/nam-facts.md, the cores' checks).

NeuralAmpModelerCore accepts a version only as exactly three numbers X.Y.Z.
The core on main (0.5.5) loads 0.5.0–0.7.0 fully and 0.7.x above that
partially (with warnings); it refuses 0.4.x, 0.8+ and anything malformed. The
core pinned by the plugin's newest tagged release (v0.7.13, core v0.2.0) loads
only 0.5.x. neural-amp-modeler 0.13 exports "0.7.0", which that release refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NEWEST_TAGGED_PLUGIN = "NAM plugin v0.7.13 (core 0.2.0)"
CORE_MAIN = "NeuralAmpModelerCore main (0.5.5)"
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


def knob_conditioned(model: dict[str, Any] | None) -> bool:
    """True for a knob-conditioned (parametric) model: more inputs than the plugin's one."""
    if not isinstance(model, dict):
        return False
    config = model.get("config")
    return model.get("architecture") == "ConditionedWaveNet" or (
        isinstance(config, dict) and "parametric" in config
    )


def support(version: Any, model: dict[str, Any] | None = None) -> list[PlayerSupport]:
    """How the newest tagged plugin and the core on main treat a file of this `version`
    (and, given the whole `model`, whether it is a knob-conditioned one no stock player runs)."""
    if knob_conditioned(model):
        why = (
            "a knob-conditioned model takes the knobs as extra inputs; stock NAM players load "
            "only one-input models (it runs in NAM's Python code and custom plugins)"
        )
        return [PlayerSupport(NEWEST_TAGGED_PLUGIN, "no", why), PlayerSupport(CORE_MAIN, "no", why)]
    v = parse_version(version)
    if v is None:
        why = f"version {version!r} is not three numbers X.Y.Z: the core refuses it"
        return [PlayerSupport(NEWEST_TAGGED_PLUGIN, "no", why), PlayerSupport(CORE_MAIN, "no", why)]
    text = ".".join(map(str, v))
    if v[:2] == (0, 5):
        tagged = PlayerSupport(NEWEST_TAGGED_PLUGIN, "yes", f"{text} is a 0.5.x file")
    else:
        tagged = PlayerSupport(
            NEWEST_TAGGED_PLUGIN,
            "no",
            f"it loads only 0.5.x files; {text} gets 'unsupported version ... update your "
            "version of the NAM plugin'",
        )
    if (0, 5, 0) <= v <= (0, 7, 0):
        main = PlayerSupport(CORE_MAIN, "yes", f"{text} is within 0.5.0–0.7.0")
    elif (0, 7, 0) < v < (0, 8, 0):
        main = PlayerSupport(
            CORE_MAIN, "partially", f"{text} is newer than 0.7.0: loads with warnings"
        )
    else:
        main = PlayerSupport(CORE_MAIN, "no", f"{text} is outside 0.5.0–0.7.x")
    return [tagged, main]


def warning(version: Any, model: dict[str, Any] | None = None) -> str | None:
    """A sentence for creators when the newest tagged plugin cannot load the file, else None."""
    tagged = support(version, model)[0]
    if tagged.loads == "yes":
        return None
    if knob_conditioned(model):
        return f"no stock NAM player can load this model: {tagged.reason}"
    return (
        f"players on the newest tagged NAM plugin release ({NEWEST_TAGGED_PLUGIN}) cannot "
        f"load this model: {tagged.reason}; they need a plugin built from the current core"
    )
