"""Runs core procedures for the TUI: events to the screen, prompts as modals, stop on Escape.

Procedures run in thread workers. Their events are handed to the screen on the
UI thread; when one needs an answer (a meter reading, "patched?"), the worker
waits on a modal's result with a finite timeout loop that also watches the
stop flag.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Stopped
from ..events import Event, Prompt, StopFlag
from ..sweep.preflight import NO_PARAMETRIC
from ..virtual.rig import VirtualRig

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import ModalScreen


# Prompts that are questions, not bench actions, and the title each is asked under.
QUESTIONS = {NO_PARAMETRIC: "No parametric model from this plan"}


class Bridge:
    """One procedure run: its stop flag, and the ways it talks to the user."""

    def __init__(
        self, app: App[Any], on_event: Callable[[Event], None], rig: VirtualRig | None
    ) -> None:
        self.app = app
        self.on_event = on_event
        self.rig = rig
        self.stop = StopFlag()
        self.ports: queue.Queue[str] = queue.Queue()  # port names the user offers (Use port)

    def port_offer(self, timeout_s: float) -> str | None:
        """A port name the user offered within `timeout_s` (a sweep waiting for its rig asks)."""
        try:
            return self.ports.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def emit(self, event: Event) -> None:
        """Hand an event to the screen on the UI thread."""
        self.app.call_from_thread(self.on_event, event)

    def _wait_for(self, modal: ModalScreen[Any]) -> Any:
        done = threading.Event()
        box: list[Any] = []

        def dismissed(value: Any) -> None:
            box.append(value)
            done.set()

        self.app.call_from_thread(self.app.push_screen, modal, dismissed)
        while not done.wait(0.1):
            if self.stop.is_set():
                self.app.call_from_thread(modal.dismiss, None)
                raise Stopped()
        if box[0] is None:
            self.stop.set()
            raise Stopped()
        return box[0]

    def ask_reading(self, prompt: str, error: str | None) -> str:
        """The meter prompt (ManualMeter's `ask`): a modal that validates as you type."""
        from .modals import ReadingModal

        hint = f"the virtual bench meter shows {self.rig.meter_display()}" if self.rig else ""
        return str(self._wait_for(ReadingModal(prompt, error, hint)))

    def confirm(self, prompt: Prompt) -> None:
        """A 'do this at the bench, then continue' modal; the virtual rig then does it. A
        question (QUESTIONS) is asked with Cancel focused: Cancel stops the procedure."""
        from .modals import ConfirmModal, QuestionModal

        if prompt.kind in QUESTIONS:
            if not self._wait_for(QuestionModal(QUESTIONS[prompt.kind], prompt.text, "Continue")):
                self.stop.set()
                raise Stopped()
            return
        self._wait_for(ConfirmModal(prompt.text))
        if self.rig is not None:
            self.rig.act_on(prompt)
