"""The objects that the clearinghouse console's pages act on, for the web matrix: made together
on demand (only for a route whose path names one of them) through the API, as their owners
would.

A TLP:AMBER report by the agency in uploadkit and a near-duplicate of it (the finder's proposal
is ``duplicate_id``), the report in a case (``case_id``) under embargo with the owning
developer as its vendor (``org_id``): so the developer reads the report and the case as their
vendor, the agency as their reporter, the clearinghouse as itself, and nobody else.
"""

from __future__ import annotations

import uuid
from typing import Any

from support.factories import Platform
from support.factories.clearinghouse import report

KEYS = ("report_id", "duplicate_id", "case_id", "org_id")


def new_report(platform: Platform) -> str:
    """A fresh TLP:AMBER report by the agency, its text its own (no duplicate of another)."""
    token = uuid.uuid4().hex[:12]
    body = report(
        f"WEB-{token}",
        title=f"Traversal in handler_{token}",
        description=f"handler_{token}() in app/{token}.py joins a file name to the root "
        "without normalising it.",
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    return str(body["id"])


def clearinghouse_ids(platform: Platform) -> dict[str, str]:
    """The report, its duplicate proposal, its case and the case's vendor, as path ids."""
    report_id = new_report(platform)
    original = platform.call("agency", "GET", f"/clearinghouse/reports/{report_id}", 200).json()
    twin = report(f"{report_id}-B", title=original["title"], description=original["description"])
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=twin)
    proposals = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"limit": 200}
    ).json()["items"]
    (proposal,) = [p for p in proposals if p["report_id"] == twin["id"]]
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit",
            "report_ids": [report_id],
            "vendor_org_ids": [platform["developer"].org_id],
        },
    ).json()
    return {
        "report_id": report_id,
        "duplicate_id": str(proposal["id"]),
        "case_id": str(case["id"]),
        "org_id": platform["developer"].org_id,
    }


def case_form(scenario: Any, _: str | None) -> dict[str, Any]:
    """Opening a case needs a report that is in none yet."""
    return {"data": {"report_id": new_report(scenario.platform), "title": "A new case"}}
