"""Field types for request models: what a client sends is taken as it is, or refused (422).

- :data:`UtcDatetime`: an RFC 3339 string with a time zone (or a ``datetime``), never a number
  (``100000001`` is not a date in 1973), and only a time that still exists once converted to
  UTC (``9999-12-31T23:59:59-23:59`` does not: it is in year 10000).
- :data:`FormText`: a required text field of a web form or API body: surrounding white space
  is dropped, and one that is only white space is missing, not empty.

Integers and numbers use pydantic's ``StrictInt`` and ``StrictFloat`` (``true`` is not ``1``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints


def _no_numbers(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError("a date-time must be an RFC 3339 string such as 2026-07-01T09:00:00Z")
    return value


def representable_in_utc(value: datetime) -> datetime:
    """``value`` if it converts to UTC; a ``ValueError`` (so a 422) for one that overflows."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time is out of range once converted to UTC") from None
    return value


UtcDatetime = Annotated[
    AwareDatetime, BeforeValidator(_no_numbers), AfterValidator(representable_in_utc)
]

FormText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

__all__ = ["FormText", "UtcDatetime", "representable_in_utc"]
