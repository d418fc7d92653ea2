"""Need to know in the clearinghouse: verified product claims, no existence leaks, TLP by source.

Each test reproduces an attack from issue 9 (section 2) against the API and checks it fails.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report
from support.scenario import verify_claims

UPLOADKIT = {"identifiers": ["pkg:pypi/uploadkit"], "proof": "TXT _prereview.uploadkit.org"}


def _claims(platform: Platform, who: str) -> list[dict[str, Any]]:
    found = platform.call(
        "clearinghouse", "GET", "/clearinghouse/claims", 200, params={"status": "all"}
    ).json()["items"]
    return [c for c in found if c["org_id"] == platform[who].org_id]


def _actions(platform: Platform) -> list[str]:
    with transaction(platform.context.sessions) as db:
        return list(db.scalars(text("SELECT action FROM audit_entries ORDER BY seq")))


def test_a_self_declared_vendor_claim_reads_no_amber_report(platform: Platform) -> None:
    # A rival lab claims to make uploadkit, to read what others reported about it.
    (claim,) = platform.call(
        "other_developer", "POST", "/clearinghouse/products", 201, json=UPLOADKIT
    ).json()
    assert claim["status"] == "claimed" and claim["challenge"].startswith("prereview-claim=")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("NK-1"))
    platform.call("other_developer", "GET", "/clearinghouse/reports/NK-1", 404)
    listed = platform.call("other_developer", "GET", "/clearinghouse/reports", 200).json()
    assert listed["total"] == 0
    # Its claim still routes the notification, which names no report it may not read.
    (note,) = platform.call("other_developer", "GET", "/clearinghouse/notifications", 200).json()[
        "items"
    ]
    assert note == note | {
        "report_id": None,
        "readable": False,
        "package_key": "pkg:pypi/uploadkit",
    }
    # The analyst checks the proof and verifies: now the vendor has a need to know.
    (pending,) = platform.call("clearinghouse", "GET", "/clearinghouse/claims", 200).json()["items"]
    assert pending["id"] == claim["id"] and pending["proof"] == UPLOADKIT["proof"]
    decided = platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim['id']}/decision",
        200,
        json={"decision": "verify", "note": "TXT record matches the challenge"},
    ).json()
    assert decided["status"] == "verified"
    assert decided["decided_by"] == platform["clearinghouse"].user_id and decided["decided_at"]
    platform.call("other_developer", "GET", "/clearinghouse/reports/NK-1", 200)
    (note,) = platform.call("other_developer", "GET", "/clearinghouse/notifications", 200).json()[
        "items"
    ]
    assert note["report_id"] == "NK-1" and note["readable"] is True
    # Revoked: the need to know ends at once.
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim['id']}/decision",
        200,
        json={"decision": "revoke", "note": "domain changed hands"},
    )
    platform.call("other_developer", "GET", "/clearinghouse/reports/NK-1", 404)
    assert _actions(platform).count("clearinghouse:product-claim:decide") == 2


def test_claim_decisions_are_the_analysts_and_follow_the_claims_state(platform: Platform) -> None:
    (claim,) = platform.call(
        "other_partner", "POST", "/clearinghouse/inventory", 201, json=UPLOADKIT
    ).json()
    path = f"/clearinghouse/claims/{claim['id']}/decision"
    for who in ("other_partner", "developer", "agency"):
        platform.call(who, "POST", path, 403, json={"decision": "verify"})
        platform.call(who, "GET", "/clearinghouse/claims", 403)
    wrong = platform.call("clearinghouse", "POST", path, 409, json={"decision": "revoke"})
    assert wrong.json()["type"].endswith("clearinghouse-invalid-claim-decision")
    platform.call("clearinghouse", "POST", path, 422, json={"decision": "approve"})
    missing = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/claims/prd_nope/decision",
        404,
        json={"decision": "verify"},
    )
    assert missing.headers["content-type"].startswith("application/problem+json")
    platform.call("clearinghouse", "POST", path, 200, json={"decision": "reject", "note": "no"})
    platform.call("clearinghouse", "POST", path, 409, json={"decision": "verify"})
    assert [c["status"] for c in _claims(platform, "other_partner")] == ["rejected"]
    # Claiming it again reopens it for an analyst, with a new challenge.
    (again,) = platform.call(
        "other_partner", "POST", "/clearinghouse/inventory", 201, json=UPLOADKIT
    ).json()
    assert again["status"] == "claimed" and again["challenge"] != claim["challenge"]


def test_an_unverified_inventory_claim_reads_no_disclosed_amber_advisory(
    platform: Platform,
) -> None:
    platform.call("other_partner", "POST", "/clearinghouse/inventory", 201, json=UPLOADKIT)
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("NK-2"))
    platform.call("clearinghouse", "POST", "/clearinghouse/reports/NK-2/publish", 200)
    platform.call("other_partner", "GET", "/clearinghouse/reports/NK-2", 404)
    found = platform.call("other_partner", "GET", "/clearinghouse/advisories/for-me", 200).json()
    assert found["total"] == 0
    verify_claims(platform, "other_partner")
    platform.call("other_partner", "GET", "/clearinghouse/reports/NK-2", 200)


def test_a_reused_id_or_alias_of_a_hidden_report_names_nothing(platform: Platform) -> None:
    red = report("NK-RED", aliases=["CVE-2026-7777"], tlp="RED")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=red)
    strict = report("NK-STRICT", tlp="AMBER+STRICT", title="Other", description="Other bug.")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=strict)
    # A report of its own that shares the hidden one's CVE is a distinct report, linked by the
    # alias; neither its answer, its relations nor a lookup by the CVE names the hidden one.
    mine = report("NK-MINE", aliases=["CVE-2026-7777"], title="Mine", description="My own bug.")
    made = platform.call("other_agency", "POST", "/clearinghouse/reports", 201, json=mine)
    assert "NK-RED" not in made.text
    relations = platform.call("other_agency", "GET", "/clearinghouse/reports/NK-MINE/relations")
    assert relations.json()["aliases"] == ["CVE-2026-7777"]
    found = platform.call(
        "other_agency", "GET", "/clearinghouse/reports", 200, params={"alias": "CVE-2026-7777"}
    ).json()
    assert [item["id"] for item in found["items"]] == ["NK-MINE"]
    for body in (
        report("NK-RED", title="Mine", description="My own bug."),
        report("NK-STRICT", title="Mine", description="My own bug."),
    ):
        answer = platform.call("other_agency", "POST", "/clearinghouse/reports", 409, json=body)
        problem = answer.json()
        assert problem["type"].endswith("clearinghouse-identifier-taken")
        assert "duplicate_of" not in problem
        assert "NK-RED" not in answer.text and "NK-STRICT" not in answer.text
        assert "CVE-2026-7777" not in answer.text
    # The reporter itself is told which report it already filed.
    mine = platform.call("agency", "POST", "/clearinghouse/reports", 409, json=red)
    assert mine.json()["duplicate_of"] == "NK-RED"
    # In bulk: a duplicate item, without naming the report it collides with.
    bulk = platform.call(
        "other_agency",
        "POST",
        "/clearinghouse/imports",
        200,
        content=json.dumps(report("NK-RED", title="x", description="y")).encode(),
        params={"format": "jsonl"},
    ).json()
    (item,) = bulk["items"]
    assert item["status"] == "duplicate" and "duplicate_of" not in item


def test_likely_duplicates_name_only_reports_the_caller_may_read(platform: Platform) -> None:
    hidden = report("NK-R", tlp="RED")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=hidden)
    public = report("NK-C", tlp="CLEAR")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=public)
    twin = report("NK-TWIN")
    made = platform.call("other_agency", "POST", "/clearinghouse/reports", 201, json=twin).json()
    assert [c["id"] for c in made["likely_duplicates"]] == ["NK-C"]
    lines = json.dumps(report("NK-TWIN-2")).encode()
    bulk = platform.call(
        "other_agency",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines,
        params={"format": "jsonl"},
    ).json()
    (item,) = bulk["items"]
    assert {c["id"] for c in item["likely_duplicates"]} <= {"NK-C", "NK-TWIN"}
    # The reporter of the RED report sees it proposed (it may read its own report).
    own = platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("NK-3")).json()
    assert "NK-R" in {c["id"] for c in own["likely_duplicates"]}
    # Nor does the clearinghouse, which was not named on the RED report, see it proposed.
    proposals = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"limit": 200}
    ).json()["items"]
    assert proposals and "NK-R" not in {p["report_id"] for p in proposals} | {
        p["candidate_id"] for p in proposals
    }


def test_relations_of_a_public_report_leave_out_hidden_reports(platform: Platform) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("NK-P", tlp="CLEAR"))
    hidden = report(
        "NK-H",
        tlp="RED",
        related=["NK-P"],
        upstream=["NK-P"],
        title="Another",
        description="Another bug in another place.",
    )
    platform.call("other_agency", "POST", "/clearinghouse/reports", 201, json=hidden)
    seen = platform.call("developer", "GET", "/clearinghouse/reports/NK-P/relations", 200).json()
    assert "NK-H" not in json.dumps(seen)
    own = platform.call("other_agency", "GET", "/clearinghouse/reports/NK-P/relations", 200).json()
    assert "NK-H" in own["related"] + own["downstream"]


def test_only_the_reporter_may_loosen_a_tlp_label(platform: Platform) -> None:
    strict = report("NK-S", tlp="AMBER+STRICT")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=strict)
    path = "/clearinghouse/reports/NK-S"
    # The clearinghouse cannot relabel the reporter's AMBER+STRICT report as CLEAR.
    refused = platform.call("clearinghouse", "POST", f"{path}/publish", 403, json={"tlp": "CLEAR"})
    assert refused.json()["type"].endswith("forbidden")
    platform.call("clearinghouse", "PUT", f"{path}/tlp", 403, json={"tlp": "GREEN"})
    assert platform.call("agency", "GET", path, 200).json()["tlp"] == "AMBER+STRICT"
    platform.call("developer", "GET", path, 404)
    # The source loosens; then the clearinghouse publishes at that label, or tightens it.
    relabelled = platform.call("agency", "PUT", f"{path}/tlp", 200, json={"tlp": "GREEN"}).json()
    assert relabelled["tlp"] == "GREEN"
    platform.call("developer", "GET", path, 200)
    published = platform.call(
        "clearinghouse", "POST", f"{path}/publish", 200, json={"tlp": "GREEN"}
    ).json()
    assert published["tlp"] == "GREEN" and published["published_at"]
    platform.call("clearinghouse", "POST", f"{path}/publish", 403, json={"tlp": "CLEAR"})
    tightened = platform.call("clearinghouse", "PUT", f"{path}/tlp", 200, json={"tlp": "AMBER"})
    assert tightened.json()["tlp"] == "AMBER"
    platform.call("developer", "GET", path, 404)
    platform.call("clearinghouse", "PUT", f"{path}/tlp", 422, json={"tlp": "PURPLE"})
    assert _actions(platform).count("clearinghouse:report-tlp:update") == 2
