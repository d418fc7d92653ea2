"""Reading a page's form as the API's request models: blank fields as absent, dates and
numbers from text, and a 422 (``invalid-input``) that names each field that is wrong, so that
the page can show it at the form, as the API would answer it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from prereview.core.errors import InvalidInput

N = TypeVar("N", int, float)


def valid(model: type[BaseModel], **fields: Any) -> Any:
    """The form's fields as the API's request model, or the API's 422 with what is wrong."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        detail = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InvalidInput(f"the form is not valid: {detail}", errors=problems) from None


def moment(field: str, text: str) -> datetime | None:
    """A date and time from a form (``datetime-local`` sends no offset: the form says UTC),
    or None when left blank."""
    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{field}: '{text}' is not a date and time; write it as 2030-01-31T09:00 (UTC)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def number(field: str, text: str, kind: type[N]) -> N | None:
    """A number from a form, or None when left blank."""
    text = text.strip().replace("_", "")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number (3e25 is one)"
        raise InvalidInput(f"{field}: '{text}' is not {what}") from None
