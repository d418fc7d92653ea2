"""An embargo never starts before the vendor is told, attacked: an embargo date set before the
paced notification, a vendor added to a case whose embargo is running, and, from the log, every
vendor of every case told (pacing's delivery entry) no later than the moment it joined."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from prereview.audit import service as audit
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report
from support.scenario import verify_claims

WEEK = timedelta(days=7)
REFUSED = ":clearinghouse-embargo-before-notification"


def _vendor(platform: Platform, who: str, per_week: int | None) -> str:
    body = {"identifiers": ["pkg:pypi/uploadkit"]}
    platform.call(who, "POST", "/clearinghouse/products", 201, json=body)
    verify_claims(platform, who)
    org = platform[who].org_id
    if per_week is not None:
        path = f"/clearinghouse/vendors/{org}/capacity"
        platform.call(who, "PUT", path, 200, json={"per_week": per_week})
    return org


def _told_before_joining(platform: Platform) -> list[tuple[str, str]]:
    """(vendor, report) pairs of the log's cases whose vendor had no delivery logged, slot
    no later than the case entry that put it with the report, when it did."""
    with transaction(platform.context.sessions) as db:
        rows = audit.entries_with_actions(
            db,
            ["clearinghouse:case:create", "clearinghouse:case:update"],
            below=10**9,
            before=datetime.max.replace(tzinfo=UTC),
        )
        cases = [json.loads(row.leaf) for row in rows]
        rows = audit.entries_with_actions(
            db,
            ["clearinghouse:notification:deliver"],
            below=10**9,
            before=datetime.max.replace(tzinfo=UTC),
        )
        told = {
            (x["detail"]["vendor"], x["object_id"]): (x["seq"], x["detail"]["notified_at"])
            for x in map(json.loads, (row.leaf for row in rows))
        }
    members: dict[str, tuple[set[str], set[str]]] = {}
    late: list[tuple[str, str]] = []
    for entry in cases:
        reports, vendors = members.setdefault(entry["object_id"], (set(), set()))
        detail = entry["detail"]
        reports.update(detail.get("reports", []) + detail.get("added_reports", []))
        vendors.update(detail.get("vendors", []) + detail.get("added_vendors", []))
        for vendor in vendors:
            for rid in reports:
                seq, at = told.get((vendor, rid), (None, None))
                joined = datetime.fromisoformat(entry["at"])
                if seq is None or seq > entry["seq"] or datetime.fromisoformat(at) > joined:
                    late.append((vendor, rid))
    return late


def test_an_embargo_set_before_the_paced_notification_is_refused(
    platform: Platform, clock: FixedClock
) -> None:
    vendor = _vendor(platform, "developer", 1)
    for rid in ("E-1", "E-2"):
        platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report(rid))
    # E-2 goes out a week after E-1; an embargo ending (or starting) before that is refused.
    body: dict[str, Any] = {
        "title": "uploadkit",
        "tlp": "AMBER",
        "report_ids": ["E-2"],
        "vendor_org_ids": [vendor],
        "embargo_until": (clock.now() + timedelta(days=1)).isoformat(),
    }
    refused = platform.call("clearinghouse", "POST", "/clearinghouse/cases", 409, json=body).json()
    assert refused["type"].endswith(REFUSED) and refused["report_ids"] == ["E-2"]
    expected = datetime.fromisoformat(refused["expected_notification_at"])
    assert expected == clock.now() + WEEK
    # An embargo already over (a date in the past) is still an embargo: refused the same.
    body["embargo_until"] = (clock.now() - timedelta(days=30)).isoformat()
    platform.call("clearinghouse", "POST", "/clearinghouse/cases", 409, json=body)
    # One second before the slot it still waits; at the slot it has been told.
    clock.advance(WEEK - timedelta(seconds=1))
    body["embargo_until"] = (clock.now() + timedelta(days=30)).isoformat()
    platform.call("clearinghouse", "POST", "/clearinghouse/cases", 409, json=body)
    clock.advance(timedelta(seconds=1))
    platform.call("clearinghouse", "POST", "/clearinghouse/cases", 201, json=body)
    assert _told_before_joining(platform) == []


def test_a_vendor_added_after_the_embargo_started_must_have_been_told(
    platform: Platform, clock: FixedClock
) -> None:
    first = _vendor(platform, "developer", None)  # told on arrival
    second = _vendor(platform, "other_developer", 0)  # holds everything for now
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("E-3"))
    body = {"title": "u", "tlp": "AMBER", "report_ids": ["E-3"], "vendor_org_ids": [first]}
    case = platform.call("clearinghouse", "POST", "/clearinghouse/cases", 201, json=body).json()
    members = f"/clearinghouse/cases/{case['id']}/members"
    clock.advance(timedelta(days=2))
    # The embargo is running: the second vendor joins it only once told of E-3.
    refused = platform.call(
        "clearinghouse", "POST", members, 409, json={"vendor_org_ids": [second]}
    ).json()
    assert refused["vendor_org_id"] == second and refused["report_ids"] == ["E-3"]
    assert refused["expected_notification_at"] is None  # capacity 0: no date
    # Nor through a new report: a report it waits for, with the vendor named alongside.
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("E-4"))
    platform.call(
        "clearinghouse",
        "POST",
        members,
        409,
        json={"report_ids": ["E-4"], "vendor_org_ids": [second]},
    )
    path = f"/clearinghouse/vendors/{second}/capacity"
    platform.call("other_developer", "PUT", path, 200, json={"per_week": 5})
    platform.call("clearinghouse", "POST", members, 200, json={"vendor_org_ids": [second]})
    platform.call("clearinghouse", "POST", members, 200, json={"report_ids": ["E-4"]})
    assert _told_before_joining(platform) == []
