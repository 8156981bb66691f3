"""A shorter station signal for the same capture time: how many settings it buys.

Capture time is the budget that matters. The accuracy benchmark measured, on the
virtual `od` pedal at 70 minutes of capture, the station signal with 40 s of training
material (44 settings) against the full-length signal (15 settings): the shorter one
won on the model's test median and worst ESR and on the nearest captured setting
(README, Measured accuracy). So a plan timed for full-length captures is offered the
shorter signal with the settings that fit in the same time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import StationError
from ..reamp.generate import FULL_TRAINING_S
from ..rig.motion import MotionModel
from .design import DEFAULT_CAPTURE_S, Plan, make_plan

SHORT_TRAINING_S = 40.0  # the length the benchmark measured winning
SHORT_CAPTURE_S = DEFAULT_CAPTURE_S - (FULL_TRAINING_S - SHORT_TRAINING_S)


@dataclass(frozen=True)
class SignalOffer:
    """The shorter signal's plan for the same time: its material, capture and settings."""

    training_s: float
    capture_s: float
    settings: int  # holdout included, as `--settings` counts them
    total_s: float  # that plan's estimated total

    def to_json(self) -> dict[str, float | int]:
        """The --json form."""
        return dataclasses.asdict(self)


def shorter_signal_offer(plan: Plan, model: MotionModel) -> SignalOffer | None:
    """The most settings a plan of the same request with `SHORT_TRAINING_S` of material
    fits within `plan`'s estimated total; None when the plan is not timed for the
    full-length signal (its capture length was chosen) or the shorter one buys nothing."""
    req = plan.request
    if req.capture_s != DEFAULT_CAPTURE_S:
        return None
    short = dataclasses.replace(req, capture_s=SHORT_CAPTURE_S)

    def fits(n: int) -> Plan | None:
        try:
            candidate = make_plan(dataclasses.replace(short, settings=n), model)
        except StationError:
            return None  # e.g. a grid the count does not fill
        return candidate if candidate.total_s <= plan.total_s else None

    per_setting = (DEFAULT_CAPTURE_S + req.overhead_s) / (SHORT_CAPTURE_S + req.overhead_s)
    n = max(req.settings, int(req.settings * per_setting))
    best = fits(n)
    while best is None and n > req.settings:  # motion grows with settings: step down
        n -= 1
        best = fits(n)
    while best is not None and (more := fits(n + 1)) is not None:
        n, best = n + 1, more
    if best is None or n <= req.settings:
        return None
    return SignalOffer(SHORT_TRAINING_S, SHORT_CAPTURE_S, n, best.total_s)
