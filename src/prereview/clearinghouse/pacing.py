"""Pacing vendor notifications to the vendor's weekly capacity: the schedule, as a pure function.

A vendor that states a capacity of N new reports per week is told of at most N reports in any
seven days (a rolling window, so a burst never lands as 2N across a week boundary). When more
wait than it can take, the most urgent go first: the highest severity (CVSS v4, else v3;
unscored last), then reproduced before not reproduced before unknown, then the widest exposure
(how many partners' inventories run an affected product), then the oldest, then the report id,
so that equal reports always come out in the same order.

The schedule is recomputed from what was delivered and what waits whenever it is asked for; it
is event-driven (each slot goes to the most urgent report that had arrived by then), so the
answer for a moment in the past does not depend on when it is computed, and a capacity change
applies to what has not been delivered yet. Capacity 0 delivers nothing (the reports wait,
with no expected date); no stated capacity means no pacing (told on arrival).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Waiting:
    """A report waiting to be delivered to one vendor, with what orders it."""

    report_id: str
    arrived_at: datetime
    severity: float | None = None
    reproduced: bool | None = None
    exposure: int = 0

    def urgency(self) -> tuple[float, int, int, datetime, str]:
        """The sort key: smaller is more urgent."""
        reproduction = {True: 0, False: 1, None: 2}[self.reproduced]
        severity = -1.0 if self.severity is None else self.severity
        return (-severity, reproduction, -self.exposure, self.arrived_at, self.report_id)


@dataclass(frozen=True)
class Slot:
    """When a waiting report is (or is expected to be) delivered; ``None``: not scheduled."""

    report_id: str
    at: datetime | None


def schedule(
    waiting: Iterable[Waiting],
    capacity: int | None,
    delivered: Sequence[datetime] = (),
    window: timedelta = WINDOW,
) -> list[Slot]:
    """The delivery time of every waiting report, in delivery order.

    ``delivered`` are the times of the vendor's past deliveries (only the last ``capacity``
    matter). A report is never delivered before it arrived; ``capacity`` ``None`` delivers each
    on arrival, ``0`` none.
    """
    items = sorted(waiting, key=lambda w: (w.arrived_at, w.urgency()))
    if capacity is None:
        return [Slot(w.report_id, w.arrived_at) for w in items]
    if capacity < 0:
        raise ValueError("capacity is a number of reports: 0 or more")
    if capacity == 0:
        return [Slot(w.report_id, None) for w in sorted(items, key=Waiting.urgency)]
    recent: deque[datetime] = deque(sorted(delivered)[-capacity:], maxlen=capacity)
    ready: list[tuple[tuple[float, int, int, datetime, str], Waiting]] = []
    slots: list[Slot] = []
    next_arrival = 0
    clock = items[0].arrived_at if items else None
    while next_arrival < len(items) or ready:
        at = items[next_arrival].arrived_at if not ready else clock
        assert at is not None  # set by the first arrival, before anything is ready
        if len(recent) == capacity:
            # The window has room once the oldest of the last `capacity` deliveries leaves it.
            at = max(at, recent[0] + window)
        while next_arrival < len(items) and items[next_arrival].arrived_at <= at:
            item = items[next_arrival]
            heapq.heappush(ready, (item.urgency(), item))
            next_arrival += 1
        _, chosen = heapq.heappop(ready)
        slots.append(Slot(chosen.report_id, at))
        recent.append(at)
        clock = at
    return slots
