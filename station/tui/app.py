"""The station's Textual app: screens per step over the core, keyboard first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from ..devices import Bench, open_bench
from ..errors import StationError
from ..settings import load_settings, update_settings
from ..virtual.rig import VirtualRig


class StationApp(App[None]):
    """NAM Capture Station. `rig` is the virtual rig used whenever 'virtual' is chosen."""

    TITLE = "NAM Capture Station"
    # Function keys work even while a form field has focus (letters would be typed into it).
    BINDINGS = [
        Binding("f1", "go('help')", "Help"),
        Binding("f2", "go('home')", "Home"),
        Binding("f3", "go('calibrate')", "Calib"),
        Binding("f4", "go('capture')", "Capture"),
        Binding("f6", "go('models')", "Models"),
        Binding("f7", "go('gain')", "Gain"),
        Binding("f10", "go('rig')", "Rig", show=False),
        Binding("f11", "go('sweep')", "Sweep", show=False),
        Binding("ctrl+q", "quit", "Quit"),
    ]
    CSS = """
    .title { text-style: bold; color: $accent; margin: 0 0 1 0; }
    .row { height: 1; }
    .row Label { width: 16; }
    .row Input, .row Select { width: 1fr; }
    .big { text-style: bold; background: $boost; padding: 1 2; margin: 1 0; height: auto; }
    .muted { color: $text-muted; }
    .buttons { height: auto; margin: 0 0 1 0; }
    .buttons Button { margin-right: 1; }
    RichLog { height: 8; border: round $primary-darken-2; }
    DataTable { height: auto; max-height: 16; }
    """

    def __init__(self, home: Path, *, rig: VirtualRig | None = None, demo: bool = False) -> None:
        super().__init__()
        self.home = Path(home)
        self.rig = rig
        self.demo = demo
        self.startup_warnings: list[str] = []
        self.settings: dict[str, Any] = load_settings(self.home, self.startup_warnings.append)
        if demo:
            self.sub_title = f"demo on the virtual rig — {self.home}"

    def remember(self, **values: Any) -> None:
        """Persist settings between runs (last device, channels, reamp file...)."""
        self.settings.update({k: v for k, v in values.items() if v is not None})
        update_settings(self.home, lambda text: self.notify(text, severity="warning"), **values)

    def bench(self, device: str) -> Bench:
        """Open `device`; 'virtual' always means this app's virtual rig."""
        if device == "virtual":
            if self.rig is None:
                self.rig = VirtualRig(speed=20.0)
                self.rig.keep_servos_in(self.home)
            return open_bench("virtual", self.rig)
        return open_bench(device)

    def on_mount(self) -> None:
        """Start at home; in the demo, with the virtual pedal's rig profile and a plan for it."""
        from .home import HomeScreen

        if self.demo:
            from .demo import prepare_demo

            try:
                prepare_demo(self.home)
            except (StationError, OSError) as exc:
                self.startup_warnings.append(f"the demo's rig profile or plan: {exc}")
        self.push_screen(HomeScreen())
        for text in self.startup_warnings:
            self.notify(text, severity="warning", timeout=12)

    async def action_quit(self) -> None:
        """Quit; a training screen first stops after its epoch, so nothing is lost."""
        wait = getattr(self.screen, "stop_before_quit", None)
        if wait is not None and wait():
            return
        self.exit()

    def action_go(self, name: str) -> None:
        """Switch to a screen by name."""
        from .calibrate import CalibrateScreen
        from .capture import CaptureScreen
        from .gain import GainScreen
        from .help import HelpScreen
        from .home import HomeScreen
        from .models import ModelsScreen
        from .rig import RigScreen
        from .sweep import SweepScreen

        screens = {
            "home": HomeScreen,
            "calibrate": CalibrateScreen,
            "capture": CaptureScreen,
            "models": ModelsScreen,
            "gain": GainScreen,
            "help": HelpScreen,
            "rig": RigScreen,
            "sweep": SweepScreen,
        }
        current = self.screen
        if getattr(current, "busy", False):
            note = getattr(current, "busy_note", "")
            self.notify(
                note or "A measurement is running: press Escape to stop it first.",
                severity="warning",
            )
            return
        while getattr(self.screen, "overlay", False):  # a result screen: leave it first
            self.pop_screen()
        self.switch_screen(screens[name]())


def run_tui(home: Path, *, rig: VirtualRig | None = None, demo: bool = False) -> None:
    """Run the app until the user quits."""
    StationApp(home, rig=rig, demo=demo).run()
