"""The demo's bench at start: a rig profile for the virtual pedal and a small plan for it."""

from __future__ import annotations

from pathlib import Path

from ..home import list_rigs, plan_path
from ..plan.design import PlanRequest
from ..plan.setup import for_rig, make_and_write
from ..rig.profiles import save_rig
from ..virtual.pedal import virtual_pedal_rig

DEMO_PLAN = "demo"  # plans/demo.json: six settings, one held out, an anchor every four


def prepare_demo(home: Path) -> Path:
    """Save the virtual pedal's rig profile and a small plan for it, unless the home has them;
    returns the plan's path. StationError or OSError when either cannot be written."""
    rig = virtual_pedal_rig()
    if rig.name not in list_rigs(home):
        save_rig(home, rig)
    path = plan_path(home, DEMO_PLAN)
    if not path.is_file():
        req, model = for_rig(PlanRequest(knobs=(), settings=6, holdout=1, anchor_every=4), rig)
        make_and_write(req, model, path)
    return path
