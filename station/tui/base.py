"""The base of the station's screens: the app they run in, typed as the station's app."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from .app import StationApp  # the app imports every screen: for the type checker only

ResultT = TypeVar("ResultT")


class StationScreen(Screen[ResultT]):
    """A screen of the station's app; `station` is `app` with the station's own attributes."""

    @property
    def station(self) -> StationApp:
        """The running app, as the StationApp it is (home, settings, bench, remember, ...)."""
        return cast("StationApp", self.app)
