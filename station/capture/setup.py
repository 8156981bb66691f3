"""Captures as a front end starts them: one level or a level pack, the reamp file made ready.

The CLI and the TUI both start captures through these, so both name level
packs, refuse a taken name and write the station's own signal the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..drivers.base import AudioInterface
from ..errors import StationError
from ..events import Emit, Step, confirm_all
from ..home import captures_dir, check_name, home_signal_path
from ..interface.profiles import Profile
from ..phrases import Phrase
from ..reamp.generate import write_station_signal
from .records import CaptureRequest, CaptureResult, Hooks
from .run import run_capture


@dataclass(frozen=True)
class CaptureOrder:
    """What the user asked to capture: at one level, or several (a level pack in one folder)."""

    profile: Profile
    reamp_path: Path
    levels_dbu: tuple[float, ...]
    name: str
    force: bool = False  # replace a capture (or pack) of that name
    gear: dict[str, str] = field(default_factory=dict)
    virtual_gear: str | None = None  # on the virtual rig: which simulated gear
    retakes: int = 0
    use_timing: bool = True


def level_name(level_dbu: float) -> str:
    """A capture name for one level of a pack: '5.74dBu', 'minus6dBu'."""
    return f"{'minus' if level_dbu < 0 else ''}{abs(level_dbu):g}dBu"


def capture_requests(home: Path, order: CaptureOrder) -> list[CaptureRequest]:
    """One request per level: captures/NAME for one level, captures/NAME/<level>dBu for several.

    Raises StationError for a bad name, no level, or a pack name already taken
    without `force` (a single capture's name is refused by its staging).
    """
    check_name(order.name)
    if not order.levels_dbu:
        raise StationError("a capture needs a reamp level", "e.g. 12 (dBu)")
    folder, names = captures_dir(home), [order.name]
    if len(order.levels_dbu) > 1:
        folder, names = folder / order.name, [level_name(v) for v in order.levels_dbu]
        if folder.exists() and not order.force:
            raise StationError(
                f"a capture called {order.name!r} already exists",
                Phrase("choose another {capture_name}, or {replace}"),
            )
    return [
        CaptureRequest(
            order.profile,
            order.reamp_path,
            level,
            name,
            folder,
            force=order.force,
            gear=dict(order.gear),
            virtual_gear=order.virtual_gear,
            retakes=max(0, order.retakes),
            use_timing=order.use_timing,
        )
        for level, name in zip(order.levels_dbu, names, strict=True)
    ]


def ready_reamp_file(home: Path, path: Path, emit: Emit) -> Path:
    """`path`, written first when it is the home's copy of the station's signal and missing."""
    path = Path(path).expanduser()
    if path == home_signal_path(home) and not path.is_file():
        emit(Step("signal", "Writing the station's v3-layout signal…"))
        write_station_signal(path)
    return path


def run_captures(
    interface: AudioInterface,
    requests: list[CaptureRequest],
    hooks: Hooks,
    on_result: Callable[[CaptureResult], None] | None = None,
) -> list[CaptureResult]:
    """Capture each request in turn (`on_result` hears of each); the gear is patched once."""
    results = []
    confirm = hooks.confirm
    for req in requests:
        result = run_capture(interface, req, emit=hooks.emit, confirm=confirm, stop=hooks.stop)
        results.append(result)
        if on_result is not None:
            on_result(result)
        confirm = confirm_all  # the gear stays patched
    return results
