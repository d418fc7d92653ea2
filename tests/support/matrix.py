"""Runs every API operation as every kind of actor, each mutation on a fresh scenario."""

from __future__ import annotations

from typing import Any

from support.factories import Platform
from support.scenario import Scenario, operations

# Every kind of actor, by its relation to the scenario's submission.
ACTORS: dict[str, str | None] = {
    "owner": "developer",
    "other_dev": "other_developer",
    "agency": "agency",
    "other_agency": "other_agency",
    "partner": "partner",
    "other_partner": "other_partner",
    "clearinghouse": "clearinghouse",
    "anonymous": None,
}


def observe(platform: Platform) -> dict[str, dict[str, int]]:
    """{"METHOD path": {actor: status}} for every operation in the OpenAPI document."""
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    shared = Scenario.build(platform)
    seen: dict[str, dict[str, int]] = {}
    for method, template in operations(spec):
        row: dict[str, int] = {}
        for actor, member in ACTORS.items():
            scenario = shared if method == "GET" else Scenario.build(platform)
            row[actor] = scenario.call(member, method, template).status_code
        seen[f"{method} {template}"] = row
    return seen
