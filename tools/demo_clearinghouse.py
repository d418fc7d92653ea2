"""Clearinghouse work on top of the demo scenario, through the public API only.

The demo (``prereview.demo``) seeds the review side: submissions, grants, nominations,
findings. The pictures (``tools/screenshots.py``) and the page-time benchmark
(``benchmarks/pages.py``) also need the clearinghouse's side to have something on it, so this
adds, as the demo's people would: the developer's product and the hospital's inventory (claims
verified by the clearinghouse), a report by each agency about the same flaw (the second one a
likely duplicate of the first), that one published in a case under embargo with the developer
as vendor, a TLP:CLEAR advisory the hospital can read, and a product claim of the bank left
waiting for an analyst.

``call(token, method, path, body)`` is the caller's HTTP client (a socket or a test client):
it sends ``body`` as JSON to ``/api/v1`` + ``path`` with the token and returns the decoded
answer, raising on any error status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Call = Callable[[str, str, str, dict[str, Any] | None], Any]

DESCRIPTION = (
    "save_upload() in uploadkit's app/upload.py joins the user's file name to the upload root "
    "without normalising it, so '../' sequences write outside the root; Helios 2.0 found it "
    "and wrote a working exploit in CAISI's agentic suite."
)


def _report(report_id: str, title: str, description: str, review_id: str) -> dict[str, Any]:
    return {
        "id": report_id,
        "title": title,
        "description": description,
        "affected": [{"purl": "pkg:pypi/uploadkit@1.2.0"}],
        "cwes": ["CWE-22"],
        "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "discovered_by": {"kind": "model", "model": "helios-2.0-preview", "review_id": review_id},
    }


def populate(call: Call, tokens: dict[str, str]) -> dict[str, str]:
    """Add the clearinghouse's work; ``tokens`` are the demo's (``var/demo-tokens.env``).
    Returns the ids made: ``report_id``, ``duplicate_report_id``, ``advisory_id``, ``case_id``."""
    clearinghouse = tokens["CLEARINGHOUSE_TOKEN"]
    review = tokens["OPEN_SUBMISSION"]  # the review in which Helios 2.0 found the flaw
    call(
        tokens["DEV_TOKEN"],
        "POST",
        "/clearinghouse/products",
        {"identifiers": ["pkg:pypi/uploadkit"]},
    )
    call(
        tokens["HOSPITAL_TOKEN"],
        "POST",
        "/clearinghouse/inventory",
        {"identifiers": ["pkg:pypi/uploadkit@1.2.0"]},
    )
    call(
        tokens["BANK_TOKEN"],
        "POST",
        "/clearinghouse/products",
        {"identifiers": ["pkg:npm/harbor-ledger"], "proof": "DNS TXT record on harborfederal.com"},
    )
    claims = call(clearinghouse, "GET", "/clearinghouse/claims?limit=200", None)["items"]
    for claim in claims:
        if claim["org_id"] in (tokens["DEV_ORG"], tokens["HOSPITAL_ORG"]):
            call(
                clearinghouse,
                "POST",
                f"/clearinghouse/claims/{claim['id']}/decision",
                {"decision": "verify", "note": "DNS TXT challenge checked"},
            )
    first = "PRV-DEMO-0001"
    call(
        tokens["CAISI_TOKEN"],
        "POST",
        "/clearinghouse/reports",
        _report(first, "Path traversal in uploadkit's upload handler", DESCRIPTION, review)
        | {"aliases": ["CVE-2026-31337"]},
    )
    second = "PRV-DEMO-0002"
    call(
        tokens["CISA_TOKEN"],
        "POST",
        "/clearinghouse/reports",
        _report(
            second,
            "Path traversal in uploadkit's upload handler",
            DESCRIPTION.replace("CAISI's agentic suite", "CISA's replay of that suite"),
            review,
        ),
    )
    call(clearinghouse, "POST", f"/clearinghouse/reports/{first}/publish", {})
    advisory = "PRV-DEMO-0003"
    call(
        tokens["CISA_TOKEN"],
        "POST",
        "/clearinghouse/reports",
        _report(
            advisory,
            "Unbounded decompression in uploadkit's archive extractor",
            "extract_archive() inflates zip members without a size limit, so a 40 KB upload "
            "fills the disk; fixed in uploadkit 1.2.1.",
            review,
        )
        | {"tlp": "CLEAR", "cwes": ["CWE-409"]},
    )
    call(clearinghouse, "POST", f"/clearinghouse/reports/{advisory}/publish", {})
    case = call(
        clearinghouse,
        "POST",
        "/clearinghouse/cases",
        {
            "title": "uploadkit path traversal",
            "report_ids": [first],
            "vendor_org_ids": [tokens["DEV_ORG"]],
            "embargo_zone": "America/New_York",
        },
    )
    return {
        "report_id": first,
        "duplicate_report_id": second,
        "advisory_id": advisory,
        "case_id": str(case["id"]),
    }
