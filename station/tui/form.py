"""Form helpers shared by the screens: labelled rows and typed values with clear errors."""

from __future__ import annotations

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label

from ..errors import StationError


def row(label: str, widget: Widget) -> Horizontal:
    """A label and its (compact) field on one line."""
    if hasattr(type(widget), "compact"):
        widget.compact = True  # type: ignore[attr-defined]
    return Horizontal(Label(label), widget, classes="row")


def number(screen: Widget, selector: str, what: str, *, integer: bool = False) -> float:
    """The number typed in an Input, or a StationError naming the field."""
    text = screen.query_one(selector, Input).value.strip().replace(",", ".")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise StationError(
            f"{what}: {text!r} is not a {'whole ' if integer else ''}number"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise StationError(f"{what} must be a finite number")
    return value
