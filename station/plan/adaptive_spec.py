"""What an adaptive plan asks of its sweep: the settings budget, the space-filling start, the
batches chosen by the ensemble, and when to stop choosing.

An adaptive plan file lists only its start (the initial training settings, the held-out
ones and the anchors) and carries this spec under "adaptive" (docs/files.md); the sweep
chooses the rest, batch by batch, where an ensemble of quick models disagrees most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import StationError
from ..phrases import Phrase

DEFAULT_BATCH = 4  # settings chosen per round
DEFAULT_MEMBERS = 3  # quick models per round
MIN_INITIAL = 2  # an ensemble needs two training settings to learn the knobs from


def default_initial(train_budget: int) -> int:
    """About half the training settings space-filling, at least MIN_INITIAL."""
    return max(MIN_INITIAL, train_budget // 2)


@dataclass(frozen=True)
class AdaptiveSpec:
    """The adaptive part of a plan (all counts are settings, anchors not counted)."""

    settings: int  # the whole budget, as --settings: initial, chosen and held out
    initial: int  # training settings of the space-filling start
    batch: int = DEFAULT_BATCH
    members: int = DEFAULT_MEMBERS
    max_hours: float | None = None  # stop choosing when the next batch would pass this
    stop_below: float | None = None  # stop choosing when the pool's worst disagreement is less

    def chosen_budget(self, holdout: int) -> int:
        """How many training settings the rounds may choose."""
        return self.settings - holdout - self.initial

    def check(self, holdout: int) -> None:
        """Refuse a spec that cannot run (StationError with a hint)."""
        if self.settings < 2:
            raise StationError(
                f"an adaptive plan needs a budget of at least two settings, not {self.settings}",
                Phrase("e.g. {settings} 24 {initial} 12"),
            )
        room = self.settings - holdout
        if not MIN_INITIAL <= self.initial <= room:
            raise StationError(
                f"{self.initial} initial settings do not fit: the budget of {self.settings} "
                f"holds {room} training settings beside {holdout} held out, and the models "
                f"of the first round need at least {MIN_INITIAL}",
                Phrase("give {initial} between {lo} and {hi}", lo=MIN_INITIAL, hi=room)
                if room >= MIN_INITIAL
                else Phrase("raise {settings}"),
            )
        if self.batch < 1:
            raise StationError(
                f"a batch needs at least one setting, not {self.batch}", Phrase("e.g. {batch} 4")
            )
        if self.members < 2:
            raise StationError(
                f"an ensemble needs at least two models, not {self.members}",
                "disagreement is measured between models",
            )
        if self.max_hours is not None and not (
            math.isfinite(self.max_hours) and self.max_hours > 0
        ):
            raise StationError(
                Phrase("{max_hours} must be a positive number of hours"),
                Phrase("e.g. {max_hours} 1.5"),
            )
        if self.stop_below is not None and not (
            math.isfinite(self.stop_below) and self.stop_below > 0
        ):
            raise StationError(
                Phrase("{stop_below} must be a positive ESR"), Phrase("e.g. {stop_below} 0.001")
            )

    def to_json(self) -> dict[str, Any]:
        """The plan file's "adaptive" object (docs/files.md)."""
        return {
            "settings": self.settings,
            "initial": self.initial,
            "batch": self.batch,
            "members": self.members,
            "max_hours": self.max_hours,
            "stop_below": self.stop_below,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdaptiveSpec:
        """The spec from a plan file (KeyError, TypeError, ValueError when malformed)."""

        def optional(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            settings=int(data["settings"]),
            initial=int(data["initial"]),
            batch=int(data.get("batch", DEFAULT_BATCH)),
            members=int(data.get("members", DEFAULT_MEMBERS)),
            max_hours=optional("max_hours"),
            stop_below=optional("stop_below"),
        )
