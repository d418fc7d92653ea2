"""The review window, derived from a submission's dates and the clock; never stored.

A window opens with the first grant and ends at the earliest of: its end date, the public
release (declared, or the planned release date once it has passed), and the withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class WindowState(StrEnum):
    NOT_OPENED = "not_opened"
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED_EXPIRED = "closed_expired"
    CLOSED_RELEASED = "closed_released"
    CLOSED_WITHDRAWN = "closed_withdrawn"

    @property
    def is_open(self) -> bool:
        return self in (WindowState.OPEN, WindowState.CLOSING_SOON)

    @property
    def is_closed(self) -> bool:
        return self.value.startswith("closed")


class WindowDates(Protocol):
    """The fields of a submission the window depends on."""

    @property
    def window_opened_at(self) -> datetime | None: ...
    @property
    def window_ends_at(self) -> datetime | None: ...
    @property
    def planned_release_at(self) -> datetime | None: ...
    @property
    def released_at(self) -> datetime | None: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Window:
    state: WindowState
    opened_at: datetime | None
    closes_at: datetime | None
    """When the window ends (or ended): the earliest of its end, the release and withdrawal."""
    seconds_left: int | None
    """Seconds until it closes, while open."""


def window_of(dates: WindowDates, now: datetime, closing_soon: timedelta) -> Window:
    """The window of a submission at ``now``."""
    # Each way a window ends, once it has happened; the earliest decides the state, and a tie
    # goes to the developer's own act (withdrawal, then release) over mere expiry.
    happened: list[tuple[datetime, int, WindowState]] = []
    if dates.withdrawn_at is not None and dates.withdrawn_at <= now:
        happened.append((dates.withdrawn_at, 0, WindowState.CLOSED_WITHDRAWN))
    for release in (dates.released_at, dates.planned_release_at):
        if release is not None and release <= now:
            happened.append((release, 1, WindowState.CLOSED_RELEASED))
    if dates.window_ends_at is not None and dates.window_ends_at <= now:
        happened.append((dates.window_ends_at, 2, WindowState.CLOSED_EXPIRED))
    if happened:
        moment, _, state = min(happened)
        return Window(state, dates.window_opened_at, moment, None)
    if dates.window_opened_at is None or dates.window_ends_at is None:
        return Window(WindowState.NOT_OPENED, None, None, None)
    closes = dates.window_ends_at
    if dates.planned_release_at is not None:
        closes = min(closes, dates.planned_release_at)
    left = closes - now
    state = WindowState.CLOSING_SOON if left <= closing_soon else WindowState.OPEN
    return Window(state, dates.window_opened_at, closes, int(left.total_seconds()))
