"""What a parametric model needs of a plan, known before the first capture.

A parametric model carries one reamp level, so it trains on one level's settings: it
needs at least two training settings there, and one held-out setting to be judged on
(the trainer refuses it otherwise). Snapshots (one model per setting) need neither.
The planner, the sweep's start and the faces all ask these same questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

MIN_TRAIN = 2  # training settings a parametric model needs at its level (texts say "two")
MIN_HOLDOUT = 1  # held-out settings it is judged on


class Planned(Protocol):
    """A planned setting as far as this module cares: its level and its role."""

    @property
    def reamp_dbu(self) -> float | None:
        """The reamp level (dBu), None when the sweep gives it."""
        ...

    @property
    def role(self) -> str:
        """'train', 'holdout' or 'anchor'."""
        ...


@dataclass(frozen=True)
class LevelGap:
    """A reamp level at which a parametric model would be refused: what it would have."""

    level_dbu: float | None
    train: int
    held: int
    levels: int  # how many levels the plan has (one: no need to name this one)

    def text(self) -> str:
        """What is missing, in plain words (both faces show it as it is)."""
        at = "" if self.levels == 1 or self.level_dbu is None else f" at {self.level_dbu:g} dBu"
        return (
            f"a parametric model of this sweep{at} would be refused: it has {self.train} "
            f"training and {self.held} held-out setting(s) (it needs two and one); one model "
            "per setting can still be trained"
        )


def parametric_gaps(
    settings: Iterable[Planned], default_dbu: float | None = None
) -> list[LevelGap]:
    """The reamp levels (lowest first) whose settings cannot give a parametric model: fewer
    than two training settings or none held out. `default_dbu` is the level of settings
    that name none (the sweep's own level). Anchors do not count: they repeat a setting."""
    roles: dict[float | None, list[str]] = {}
    for s in settings:
        level = s.reamp_dbu if s.reamp_dbu is not None else default_dbu
        roles.setdefault(level, []).append(s.role)
    gaps = []
    for level, rs in sorted(roles.items(), key=lambda kv: kv[0] or 0.0):
        train, held = rs.count("train"), rs.count("holdout")
        if train < MIN_TRAIN or held < MIN_HOLDOUT:
            gaps.append(LevelGap(level, train, held, len(roles)))
    return gaps
