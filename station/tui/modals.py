"""Typed modal dialogs: a meter reading, and a bench action to confirm."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..drivers.meter import parse_voltage


class ReadingModal(ModalScreen[str]):
    """Asks for the voltmeter's RMS reading; only a plausible reading can be submitted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ReadingModal { align: center middle; }
    ReadingModal > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
                              padding: 1 2; background: $surface; }
    ReadingModal #error { color: $error; height: auto; }
    ReadingModal #hint { color: $text-muted; height: auto; }
    ReadingModal Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, prompt: str, error: str | None = None, hint: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.first_error = error or ""
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.prompt}[/b]")
            yield Static(self.hint, id="hint")
            yield Input(placeholder="e.g. 1.2277, 640 mV or 6,4", id="reading")
            yield Static(self.first_error, id="error")
            with Horizontal():
                yield Button("Use reading", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Validate as the user types."""
        error = self.query_one("#error", Static)
        if not event.value.strip():
            error.update("")
            return
        try:
            volts, _ = parse_voltage(event.value)
        except ValueError as exc:
            error.update(str(exc))
        else:
            error.update(f"[green]{volts:g} V[/green]")

    def _submit(self) -> None:
        text = self.query_one("#reading", Input).value
        try:
            parse_voltage(text)
        except ValueError as exc:
            self.query_one("#error", Static).update(str(exc))
            return
        self.dismiss(text)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Enter submits."""
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """OK submits, Cancel stops the procedure."""
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Escape stops the procedure (the tone is faded out)."""
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """Shows what to do at the bench; Continue when done, Escape to stop."""

    BINDINGS = [Binding("escape", "cancel", "Stop"), Binding("enter", "ok", "Continue")]
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical { width: 70; max-width: 95%; height: auto; border: thick $warning;
                              padding: 1 2; background: $surface; }
    ConfirmModal Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]At the bench[/b]\n\n{self.text}")
            with Horizontal():
                yield Button("Continue", variant="primary", id="ok")
                yield Button("Stop", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Continue or stop."""
        self.dismiss(True if event.button.id == "ok" else None)

    def action_ok(self) -> None:
        """Enter continues."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Escape stops."""
        self.dismiss(None)


class QuestionModal(ModalScreen[bool]):
    """A yes/no question before something that cannot be undone (replacing a capture)."""

    BINDINGS = [Binding("escape", "no", "No")]
    DEFAULT_CSS = """
    QuestionModal { align: center middle; }
    QuestionModal > Vertical { width: 70; max-width: 95%; height: auto; border: thick $error;
                               padding: 1 2; background: $surface; }
    QuestionModal Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, title: str, text: str, yes: str, no: str = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/b]\n\n{self.text}")
            with Horizontal():
                yield Button(self.no, variant="primary", id="no")
                yield Button(self.yes, variant="error", id="yes")

    def on_mount(self) -> None:
        """The safe answer has the focus: Enter alone never replaces anything."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or no."""
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        """Escape answers no."""
        self.dismiss(False)
