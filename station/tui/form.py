"""Form helpers shared by the screens: labelled rows and typed values with clear errors."""

from __future__ import annotations

import math

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label

from ..errors import StationError


def row(label: str, widget: Widget) -> Horizontal:
    """A label and its (compact) field on one line."""
    return Horizontal(Label(label), _compact(widget), classes="row")


def row_pair(label: str, widget: Widget, label2: str, widget2: Widget) -> Horizontal:
    """Two labelled (compact) fields on one line, for settings that belong together."""
    return Horizontal(
        Label(label), _compact(widget), Label(label2), _compact(widget2), classes="row"
    )


def _compact(widget: Widget) -> Widget:
    if hasattr(type(widget), "compact"):
        widget.compact = True  # type: ignore[attr-defined]
    return widget


def optional_number(screen: Widget, selector: str, what: str) -> float | None:
    """The number typed in an Input, None when it is left blank."""
    if not screen.query_one(selector, Input).value.strip():
        return None
    return number(screen, selector, what)


def number(screen: Widget, selector: str, what: str, *, integer: bool = False) -> float:
    """The number typed in an Input, or a StationError naming the field."""
    text = screen.query_one(selector, Input).value.strip().replace(",", ".")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise StationError(
            f"{what}: {text!r} is not a {'whole ' if integer else ''}number"
        ) from None
    if not math.isfinite(value):
        raise StationError(f"{what} must be a finite number")
    return value


def optional_integer(screen: Widget, selector: str, what: str) -> int | None:
    """The whole number typed in an Input, None when it is left blank."""
    if not screen.query_one(selector, Input).value.strip():
        return None
    return int(number(screen, selector, what, integer=True))


def dbu_values(screen: Widget, selector: str, what: str) -> tuple[float, ...]:
    """Levels typed as `6, 12, 18` (commas or spaces between them); () when left blank."""
    text = screen.query_one(selector, Input).value
    words = text.replace(",", " ").split()
    try:
        values = tuple(float(w) for w in words)
    except ValueError:
        raise StationError(
            f"{what}: {text.strip()!r} is not a list of dBu values", "e.g. 6, 12, 18"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise StationError(f"{what} must be finite numbers", "e.g. 6, 12, 18")
    return values
