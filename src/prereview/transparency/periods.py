"""Reporting periods: calendar quarters named ``2026Q4``, in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_PERIOD = re.compile(r"(?P<year>20[0-9]{2})Q(?P<quarter>[1-4])")


class PeriodInvalid(ValueError):
    """Not the name of a quarter (``2026Q4``)."""


@dataclass(frozen=True, slots=True)
class Period:
    """One calendar quarter: ``start`` inclusive, ``end`` exclusive, both UTC."""

    label: str
    start: datetime
    end: datetime

    def holds(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def parse_period(text: str) -> Period:
    """The quarter named ``text`` (``YYYYQn``, 2000 to 2099); :class:`PeriodInvalid` otherwise."""
    found = _PERIOD.fullmatch(text.strip().upper())
    if found is None:
        raise PeriodInvalid(
            f"{text[:40]!r} is not a period: name a calendar quarter as YYYYQn, e.g. 2026Q4"
        )
    year, quarter = int(found["year"]), int(found["quarter"])
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC)
        if quarter == 4
        else datetime(year, 3 * quarter + 1, 1, tzinfo=UTC)
    )
    return Period(label=f"{year}Q{quarter}", start=start, end=end)


def period_of(instant: datetime) -> Period:
    """The quarter that holds ``instant``."""
    utc = instant.astimezone(UTC)
    return parse_period(f"{utc.year}Q{(utc.month - 1) // 3 + 1}")
