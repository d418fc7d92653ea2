"""Fixtures of the transparency tests: small review programmes, built through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prereview.core.clock import FixedClock
from support.factories import Platform


def finding(platform: Platform, sid: str, severity: str, category: str = "other") -> str:
    body = {"title": "t", "description": "d", "severity": severity, "category": category}
    made = platform.call("agency", "POST", f"/submissions/{sid}/findings", 201, json=body)
    return str(made.json()["id"])


def one_reviewed_submission(
    platform: Platform,
    clock: FixedClock,
    developer: str = "developer",
    findings: int = 2,
    answered: int = 1,
) -> str:
    """A submission offered, granted to the agency, with findings, one answered, released."""
    sid = str(platform.submit(developer)["id"])
    clock.advance(timedelta(hours=1))
    platform.call(
        developer,
        "POST",
        f"/submissions/{sid}/grants",
        201,
        json={"agency_org_id": platform["agency"].org_id, "window_days": 20},
    )
    clock.advance(timedelta(hours=5))
    made = [finding(platform, sid, "high", "safeguard_bypass") for _ in range(findings)]
    for finding_id in made[:answered]:
        platform.call(
            developer,
            "POST",
            f"/findings/{finding_id}/responses",
            201,
            json={"status": "acknowledged", "text": "thanks"},
        )
    clock.advance(timedelta(days=1))
    platform.call(developer, "POST", f"/submissions/{sid}/release", 200)
    return sid


def report(platform: Platform, period: str, **params: Any) -> dict[str, Any]:
    found = platform.call(None, "GET", "/transparency/report", 200, params={"period": period})
    return found.json()  # type: ignore[no-any-return]
