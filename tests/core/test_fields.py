"""Typed request fields refuse what would be silently coerced: a 422, never a 500.

:mod:`prereview.core.fields`: dates must carry an offset and stay representable in UTC,
numbers are never booleans, and form text is not whitespace alone; checked on the models and
on the routes that use them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from prereview.core.fields import UtcDatetime
from support.factories import Platform

OVERFLOWING = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]


# -- dates and strict types in request models ---------------------------------------------------


class _When(BaseModel):
    at: UtcDatetime


def test_utc_datetime_refuses_numbers_and_overflow() -> None:
    assert _When.model_validate({"at": "2026-07-01T09:00:00+02:00"}).at == datetime(
        2026, 7, 1, 7, 0, tzinfo=UTC
    )
    for bad in [100000001, True, 1.5, "2026-07-01T09:00:00", *OVERFLOWING]:
        with pytest.raises(ValidationError):
            _When.model_validate({"at": bad})


def test_submission_dates_that_overflow_or_are_numbers_are_422(platform: Platform) -> None:
    for value in [*OVERFLOWING, 100000001]:
        refused = platform.call(
            "developer",
            "POST",
            "/submissions",
            422,
            json={"model_name": "M", "model_version": "1", "planned_release_at": value},
        ).json()
        assert refused["type"] == "urn:prereview:problem:invalid-input"
        assert refused["errors"][0]["location"] == ["body", "planned_release_at"]
    sub = platform.submit()
    platform.call(
        "developer",
        "PATCH",
        f"/submissions/{sub['id']}",
        422,
        json={"planned_release_at": OVERFLOWING[0]},
    )


def test_booleans_are_not_numbers(platform: Platform) -> None:
    sub = platform.submit()
    grant = platform.grant(sub["id"])
    for body in ({"tokens_per_day": True}, {"requests_per_minute": 1.0}):
        refused = platform.call(
            "developer",
            "PUT",
            f"/submissions/{sub['id']}/grants/{grant['id']}/limits",
            422,
            json=body,
        ).json()
        assert refused["type"] == "urn:prereview:problem:invalid-input"
    platform.call(
        "developer",
        "POST",
        "/submissions",
        422,
        json={"model_name": "M", "model_version": "1", "parameter_count": True},
    )


# -- web forms ----------------------------------------------------------------------------------


def test_whitespace_only_form_fields_are_422_not_500(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.client.cookies.clear()
    platform.client.headers.update({"origin": "http://testserver"})
    signed_in = platform.client.post(
        "/web/login", data={"token": platform["agency"].token}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    for title, description in (("   ", "steps"), ("Bypass", " \t\n ")):
        filed = platform.client.post(
            f"/web/submissions/{sub['id']}/findings",
            data={
                "title": title,
                "description": description,
                "severity": "high",
                "category": "safeguard_bypass",
            },
            follow_redirects=False,
        )
        assert filed.status_code == 422, filed.text
    total = platform.call("developer", "GET", f"/submissions/{sub['id']}/findings", 200).json()
    assert total["total"] == 0
