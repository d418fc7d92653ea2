"""Withdrawing a product claim (``POST /clearinghouse/products/{id}/withdraw``): only by the
organisation that made it, whatever its state, and a verified one stops conferring a need to
know at once."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report


def _claim(platform: Platform, who: str, path: str, identifier: str) -> dict[str, str]:
    (claim,) = platform.call(
        who, "POST", f"/clearinghouse/{path}", 201, json={"identifiers": [identifier]}
    ).json()
    return claim  # type: ignore[no-any-return]


def test_a_withdrawn_verified_claim_confers_nothing_more(platform: Platform) -> None:
    claim = _claim(platform, "partner", "inventory", "pkg:pypi/ehrkit")
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim['id']}/decision",
        200,
        json={"decision": "verify"},
    )
    doc = report(f"PRV-{uuid.uuid4().hex[:10]}", affected=[{"purl": "pkg:pypi/ehrkit@1.0"}])
    platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=doc)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{doc['id']}/publish", 200)
    platform.call("partner", "GET", f"/clearinghouse/reports/{doc['id']}", 200)

    # Nobody else may, and learns nothing: the same 404 as for a claim that does not exist.
    for who in ("other_partner", "developer", "agency", "clearinghouse"):
        refused = platform.call(who, "POST", f"/clearinghouse/products/{claim['id']}/withdraw")
        assert refused.status_code == 404, who
        assert refused.json()["type"].endswith("clearinghouse-claim-not-found")
    missing = platform.call("partner", "POST", "/clearinghouse/products/prd_nope/withdraw", 404)
    assert missing.json()["type"] == refused.json()["type"]

    gone = platform.call("partner", "POST", f"/clearinghouse/products/{claim['id']}/withdraw", 200)
    assert gone.json()["identifier"] == "pkg:pypi/ehrkit" and gone.json()["status"] == "verified"
    assert platform.call("partner", "GET", "/clearinghouse/products", 200).json()["total"] == 0
    platform.call("partner", "GET", f"/clearinghouse/reports/{doc['id']}", 404)
    platform.call("partner", "POST", f"/clearinghouse/products/{claim['id']}/withdraw", 404)
    with transaction(platform.context.sessions) as db:
        entry = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "clearinghouse:product:delete",
                AuditEntry.object_id == claim["id"],
            )
        ).one()
    # What was withdrawn is in the entry's hashed leaf, for the log's readers.
    assert "pkg:pypi/ehrkit" in entry.leaf and "verified" in entry.leaf
    assert entry.actor_org_id == platform["partner"].org_id

    # Claimed again, it starts over: a new challenge, waiting for an analyst.
    again = _claim(platform, "partner", "inventory", "pkg:pypi/ehrkit")
    assert again["status"] == "claimed" and again["challenge"] != claim["challenge"]


def test_a_vendor_withdraws_a_product_it_makes(platform: Platform) -> None:
    claim = _claim(platform, "developer", "products", "pkg:npm/framekit")
    platform.call("other_developer", "POST", f"/clearinghouse/products/{claim['id']}/withdraw", 404)
    platform.call("developer", "POST", f"/clearinghouse/products/{claim['id']}/withdraw", 200)
    assert platform.call("developer", "GET", "/clearinghouse/products", 200).json()["items"] == []
