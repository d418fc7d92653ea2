"""Coordinated disclosure through the API: cases, vendor statuses, embargo, routing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text

from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.core.markings import Tlp
from support.factories import Platform
from support.factories.clearinghouse import report
from support.scenario import verify_claims

UPLOADKIT = {"identifiers": ["pkg:pypi/uploadkit", "cpe:2.3:a:acme:gateway:*:*:*:*:*:*:*:*"]}

# The queries of one page of a case's vendors (14 today: authentication, the case and the
# caller's relation to it, the page and its count, the statuses, the report ids), whatever the
# page's size; a query per vendor would add 50.
STATEMENTS_PER_PAGE = 20


def _setup(platform: Platform, tlp: Tlp = Tlp.AMBER) -> str:
    platform.call("developer", "POST", "/clearinghouse/products", 201, json=UPLOADKIT)
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/inventory",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit@1.0"]},
    )
    verify_claims(platform, "developer")
    verify_claims(platform, "partner")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("C-1", tlp=tlp))
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit traversal",
            "tlp": str(tlp),
            "report_ids": ["C-1"],
            "vendor_org_ids": [platform["developer"].org_id],
            "embargo_zone": "America/New_York",
        },
    ).json()
    return str(case["id"])


def test_vendors_are_notified_and_state_their_status_with_history(platform: Platform) -> None:
    case_id = _setup(platform)
    notes = platform.call("developer", "GET", "/clearinghouse/notifications", 200).json()
    assert [n["report_id"] for n in notes["items"]] == ["C-1"]
    assert platform.call("partner", "GET", "/clearinghouse/notifications", 200).json()["total"] == 0
    case = platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}", 200).json()
    opened = datetime.fromisoformat(case["opened_at"])
    assert datetime.fromisoformat(case["embargo"]["until"]) == opened + timedelta(days=90)
    assert case["embargo"]["local"].endswith("-04:00") or case["embargo"]["local"].endswith(
        "-05:00"
    )
    assert case["embargo"]["public"] is False
    platform.call("other_developer", "GET", f"/clearinghouse/cases/{case_id}", 404)
    dev = platform["developer"].org_id
    table = platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}/vendors", 200).json()
    assert table["items"][0]["statuses"]["C-1"]["status"] == "not_contacted"
    status_path = f"/clearinghouse/cases/{case_id}/vendors/{dev}/statuses/C-1"
    for state in ("under_investigation", "affected", "fixed"):
        platform.call(
            "developer",
            "PUT",
            status_path,
            200,
            json={"status": state, "statement": f"we are {state}"},
        )
    platform.call("developer", "PUT", status_path, 422, json={"status": "patched"})
    platform.call("other_developer", "PUT", status_path, 404, json={"status": "fixed"})
    platform.call("agency", "PUT", status_path, 403, json={"status": "fixed"})
    platform.call(
        "clearinghouse",
        "PUT",
        status_path,
        200,
        json={
            "status": "not_affected",
            "statement": "the vulnerable code is not shipped",
            "justification": "vulnerable_code_not_present",
        },
    )
    table = platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}/vendors", 200).json()
    row = table["items"][0]["statuses"]["C-1"]
    assert row["status"] == "not_affected" and row["justification"] == "vulnerable_code_not_present"
    with transaction(platform.context.sessions) as db:
        history = list(
            db.scalars(text("SELECT status FROM ch_vendor_status_history ORDER BY changed_at, id"))
        )
    assert sorted(history) == sorted(["under_investigation", "affected", "fixed", "not_affected"])


def test_the_embargo_moves_with_a_reason_and_lifts_by_the_clock(platform: Platform) -> None:
    case_id = _setup(platform)
    path = f"/clearinghouse/cases/{case_id}/embargo"
    until = (platform.context.clock.now() + timedelta(days=7)).astimezone(UTC)
    body = {"embargo_until": until.isoformat(), "embargo_zone": "Europe/Paris"}
    platform.call("clearinghouse", "PUT", path, 422, json=body | {"reason": ""})
    platform.call(
        "clearinghouse",
        "PUT",
        path,
        422,
        json=body | {"reason": "x", "embargo_zone": "Mars/Olympus"},
    )
    platform.call(
        "clearinghouse",
        "PUT",
        path,
        422,
        json={"embargo_until": "2026-07-01T00:00:00", "reason": "naive"},
    )
    platform.call("developer", "PUT", path, 403, json=body | {"reason": "we want it sooner"})
    case = platform.call(
        "clearinghouse", "PUT", path, 200, json=body | {"reason": "fix shipped early"}
    ).json()
    assert case["embargo"]["zone"] == "Europe/Paris" and case["embargo"]["local"].endswith("+02:00")
    assert [c["reason"] for c in case["embargo_changes"]] == ["fix shipped early"]
    # Published under embargo: the partner running the product waits; the vendor does not.
    platform.call("clearinghouse", "POST", "/clearinghouse/reports/C-1/publish", 200)
    assert (
        platform.call("partner", "GET", "/clearinghouse/advisories/for-me", 200).json()["total"]
        == 0
    )
    platform.call("partner", "GET", "/clearinghouse/reports/C-1", 404)
    platform.call("developer", "GET", "/clearinghouse/advisories/C-1.osv.json", 200)
    platform.call("partner", "GET", "/clearinghouse/advisories/C-1.osv.json", 404)
    clock = platform.context.clock
    assert isinstance(clock, FixedClock)
    clock.set(until + timedelta(seconds=1))
    mine = platform.call("partner", "GET", "/clearinghouse/advisories/for-me", 200).json()
    assert [a["id"] for a in mine["items"]] == ["C-1"]
    assert (
        platform.call("other_partner", "GET", "/clearinghouse/advisories/for-me", 200).json()[
            "total"
        ]
        == 0
    )
    platform.call("partner", "GET", "/clearinghouse/advisories/C-1.osv.json", 200)
    platform.call("other_partner", "GET", "/clearinghouse/advisories/C-1.osv.json", 404)
    case = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}", 200).json()
    assert case["embargo"]["public"] is True and case["embargo"]["seconds_left"] == 0
    with transaction(platform.context.sessions) as db:
        leaves = list(
            db.scalars(
                text("SELECT leaf FROM audit_entries WHERE action = 'clearinghouse:embargo:update'")
            )
        )
    assert json.loads(leaves[0])["detail"]["reason"] == "fix shipped early"


def test_a_case_with_a_hundred_vendors_is_one_query_per_page(platform: Platform) -> None:
    case_id = _setup(platform)
    vendors = [platform.add(f"vendor{n}", OrgKind.DEVELOPER).org_id for n in range(100)]
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case_id}/members",
        200,
        json={"vendor_org_ids": vendors},
    )
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case_id}/members",
        404,
        json={"vendor_org_ids": ["org_missing"]},
    )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = platform.context.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = platform.call(
            "clearinghouse",
            "GET",
            f"/clearinghouse/cases/{case_id}/vendors",
            200,
            params={"limit": 50, "offset": 50},
        ).json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page["total"] == 101 and len(page["items"]) == 50
    status_queries = [s for s in statements if "ch_vendor_statuses" in s]
    assert len(status_queries) == 1
    # One page costs a fixed handful of queries, not one (or more) per vendor on it.
    assert len(statements) <= STATEMENTS_PER_PAGE, statements


def test_product_registration_rejects_bad_identifiers_and_writes_nothing(
    platform: Platform,
) -> None:
    bad = platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        422,
        json={"identifiers": ["pkg:pypi/fine", "not a purl"]},
    )
    assert bad.json()["type"].endswith("clearinghouse-invalid-registration")
    assert platform.call("developer", "GET", "/clearinghouse/products", 200).json()["total"] == 0
    platform.call("agency", "POST", "/clearinghouse/inventory", 403, json=UPLOADKIT)
    platform.call("agency", "POST", "/clearinghouse/products", 403, json=UPLOADKIT)
    platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        404,
        json={"title": "t", "report_ids": ["nope"]},
    )
    assert platform.call("clearinghouse", "GET", "/clearinghouse/cases", 200).json()["total"] == 0
