"""The fields the report needs are in the log: added where the events are written."""

from __future__ import annotations

import json
from typing import Any

from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.transparency.figures import ACTIONS
from support.factories import Platform
from support.scenario import ch_report


def _leaves(platform: Platform) -> list[dict[str, Any]]:
    from prereview.audit import service as audit

    with transaction(platform.context.sessions) as db:
        now = platform.context.clock.now()
        rows = audit.entries_with_actions(db, ACTIONS, below=10**9, before=now.replace(year=2100))
        return [json.loads(row.leaf) for row in rows]


def test_grant_logs_the_policy_maximum_and_creation_the_planned_release(
    platform: Platform, clock: FixedClock
) -> None:
    sid = platform.submit(planned_release_at="2026-07-01T00:00:00Z")["id"]
    platform.grant(sid, window_days=15)
    leaves = _leaves(platform)
    created = next(x for x in leaves if x["action"] == "review:submission:create")
    assert created["detail"]["planned_release_at"].startswith("2026-07-01T00:00:00")
    granted = next(x for x in leaves if x["action"] == "review:grant:create")
    assert granted["detail"]["max_window_days"] == platform.context.settings.max_window_days


def test_intake_logs_who_found_the_report(platform: Platform) -> None:
    by_model = ch_report("PRV-MODEL-1") | {
        "discovered_by": {"kind": "model", "model": "Helios 2.0", "review_id": "sub_x"}
    }
    platform.call("developer", "POST", "/clearinghouse/reports", 201, json=by_model)
    platform.call("developer", "POST", "/clearinghouse/reports", 201, json=ch_report("PRV-NONE-1"))
    found = {
        x["object_id"]: x["detail"].get("found_by")
        for x in _leaves(platform)
        if x["action"] == "clearinghouse:report:create"
    }
    assert sorted(found.values(), key=str) == [None, "model"]
