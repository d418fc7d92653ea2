"""Runs every API operation as every kind of actor, each mutation on a fresh scenario."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

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


SHARDS = 6
"""Each matrix walks its routes in this many tests, so that ``pytest -n`` spreads one matrix
over its workers (the whole walk is minutes: a fresh scenario per mutation and actor)."""

T = TypeVar("T")


def shard(items: Iterable[T], index: int, count: int = SHARDS) -> list[T]:
    """The ``index``-th of ``count`` interleaved slices of ``items`` (stable: sorted order)."""
    return [item for i, item in enumerate(sorted(items)) if i % count == index]  # type: ignore[type-var]


def observe(
    platform: Platform, only: Sequence[tuple[str, str]] | None = None
) -> dict[str, dict[str, int]]:
    """{"METHOD path": {actor: status}} for the operations in ``only`` (default: every one in
    the OpenAPI document)."""
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    shared = Scenario.build(platform)
    seen: dict[str, dict[str, int]] = {}
    for method, template in operations(spec) if only is None else only:
        row: dict[str, int] = {}
        for actor, member in ACTORS.items():
            scenario = shared if method == "GET" else Scenario.build(platform)
            row[actor] = scenario.call(member, method, template).status_code
        seen[f"{method} {template}"] = row
    return seen
