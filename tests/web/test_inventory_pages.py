"""The partner's inventory and advisories pages: claims with their state and challenge, adding
and withdrawing products, and only the advisories the clearinghouse's need to know lets it read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report

SITE = {"origin": "http://testserver"}


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303


def claims_of(platform: Platform, who: str) -> list[dict[str, Any]]:
    return platform.call(who, "GET", "/clearinghouse/products", 200).json()["items"]  # type: ignore[no-any-return]


def verify(platform: Platform, claim_id: str) -> None:
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim_id}/decision",
        200,
        json={"decision": "verify", "note": "TXT record checked"},
    )


def published_amber(platform: Platform, package: str) -> dict[str, Any]:
    """A TLP:AMBER advisory (the default label) on ``package``, published, with no case."""
    doc = report(
        f"PRV-{uuid.uuid4().hex[:10]}",
        title=f"Heap overflow in {package}",
        affected=[{"purl": f"pkg:pypi/{package}@2.0.0"}],
    )
    platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=doc)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{doc['id']}/publish", 200)
    return doc


def test_partner_adds_products_and_sees_their_claims_and_challenges(platform: Platform) -> None:
    sign_in(platform, "partner")
    empty = platform.client.get("/web/inventory")
    assert empty.status_code == 200 and 'id="empty"' in empty.text
    added = platform.client.post(
        "/web/inventory",
        data={
            "identifiers": "pkg:pypi/ehrkit\n\n  cpe:2.3:a:acme:pacs:*:*:*:*:*:*:*:*  \n",
            "proof": "TXT at _prereview.acme.example",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/web/inventory"
    claims = claims_of(platform, "partner")
    assert sorted(c["identifier"] for c in claims) == [
        "cpe:2.3:a:acme:pacs:*:*:*:*:*:*:*:*",
        "pkg:pypi/ehrkit",
    ]
    assert {c["role"] for c in claims} == {"inventory"}
    listed = platform.client.get("/web/inventory").text
    for claim in claims:
        row = listed.split(f'id="claim-{claim["id"]}"')[1].split("</tr>")[0]
        assert "claimed" in row and claim["challenge"] in row
    # Verified: the state changes and the challenge is no longer asked for.
    verify(platform, claims[0]["id"])
    row = platform.client.get("/web/inventory").text.split(f'id="claim-{claims[0]["id"]}"')[1]
    row = row.split("</tr>")[0]
    assert "verified" in row and claims[0]["challenge"] not in row


def test_a_bad_identifier_writes_nothing_and_says_what_is_wrong(platform: Platform) -> None:
    sign_in(platform, "partner")
    answer = platform.client.post(
        "/web/inventory", data={"identifiers": "pkg:pypi/fine\nnot-a-product"}
    )
    assert answer.status_code == 422
    assert "not-a-product" in answer.text and "neither a valid purl nor a CPE" in answer.text
    # The form keeps what was typed, and nothing was claimed (not even the valid line).
    assert "pkg:pypi/fine\nnot-a-product</textarea>" in answer.text
    assert claims_of(platform, "partner") == []
    blank = platform.client.post("/web/inventory", data={"identifiers": "  \n "})
    assert blank.status_code == 422 and claims_of(platform, "partner") == []


def test_a_developer_claims_the_products_it_makes(platform: Platform) -> None:
    sign_in(platform, "developer")
    platform.client.post("/web/inventory", data={"identifiers": "pkg:npm/framekit"})
    (claim,) = claims_of(platform, "developer")
    assert claim["role"] == "vendor"
    assert "Products you make" in platform.client.get("/web/inventory").text


def test_an_agency_has_no_products_to_claim(platform: Platform) -> None:
    sign_in(platform, "agency")
    page = platform.client.get("/web/inventory")
    assert page.status_code == 200 and "Add products" not in page.text
    refused = platform.client.post("/web/inventory", data={"identifiers": "pkg:pypi/ehrkit"})
    assert refused.status_code == 403 and claims_of(platform, "agency") == []


def test_withdrawing_a_claim_confirms_and_ends_the_need_to_know(platform: Platform) -> None:
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/inventory",
        201,
        json={"identifiers": ["pkg:pypi/ehrkit"]},
    )
    (claim,) = claims_of(platform, "partner")
    verify(platform, claim["id"])
    advisory = published_amber(platform, "ehrkit")
    sign_in(platform, "partner")
    assert advisory["title"] in platform.client.get("/web/advisories").text
    # Without JavaScript the button opens the confirmation page, which says what will happen.
    listed = platform.client.get("/web/inventory").text
    assert f'method="get" action="/web/inventory/{claim["id"]}/withdraw"' in listed
    assert f'hx-post="/web/inventory/{claim["id"]}/withdraw" hx-confirm=' in listed
    confirm = platform.client.get(f"/web/inventory/{claim['id']}/withdraw")
    assert confirm.status_code == 200 and "need to know" in confirm.text
    assert [c["status"] for c in claims_of(platform, "partner")] == ["verified"]
    # Another partner learns nothing of the claim, and cannot withdraw it.
    sign_in(platform, "other_partner")
    assert platform.client.get(f"/web/inventory/{claim['id']}/withdraw").status_code == 404
    refused = platform.client.post(f"/web/inventory/{claim['id']}/withdraw")
    assert refused.status_code == 404 and len(claims_of(platform, "partner")) == 1
    sign_in(platform, "partner")
    done = platform.client.post(f"/web/inventory/{claim['id']}/withdraw", follow_redirects=False)
    assert done.status_code == 303 and claims_of(platform, "partner") == []
    # The TLP:AMBER advisory reached the partner through that claim only.
    assert advisory["title"] not in platform.client.get("/web/advisories").text
    assert platform.client.get(f"/web/advisories/{advisory['id']}").status_code == 404
    # From htmx (hx-post) the answer tells the browser to load the list instead.
    platform.call(
        "partner", "POST", "/clearinghouse/inventory", 201, json={"identifiers": ["pkg:pypi/b"]}
    )
    (again,) = claims_of(platform, "partner")
    htmx = platform.client.post(
        f"/web/inventory/{again['id']}/withdraw", headers={"hx-request": "true"}
    )
    assert htmx.status_code == 200 and htmx.headers["hx-redirect"] == "/web/inventory"


def test_advisories_follow_the_need_to_know(platform: Platform) -> None:
    for who in ("partner", "other_partner"):
        platform.call(
            who, "POST", "/clearinghouse/inventory", 201, json={"identifiers": ["pkg:pypi/ehrkit"]}
        )
    (mine,) = claims_of(platform, "partner")
    verify(platform, mine["id"])  # the other partner's claim stays unverified
    amber = published_amber(platform, "ehrkit")
    clear = report(
        f"PRV-{uuid.uuid4().hex[:10]}",
        title="Open redirect in ehrkit",
        tlp="CLEAR",
        affected=[{"purl": "pkg:pypi/ehrkit@1.0.0"}],
    )
    platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=clear)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{clear['id']}/publish", 200)
    unpublished = report(
        f"PRV-{uuid.uuid4().hex[:10]}",
        title="Unpublished ehrkit bug",
        tlp="CLEAR",
        affected=[{"purl": "pkg:pypi/ehrkit@1.0.0"}],
    )
    platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=unpublished)
    elsewhere = published_amber(platform, "otherkit")

    def listed(who: str) -> set[str]:
        sign_in(platform, who)
        page = platform.client.get("/web/advisories")
        assert page.status_code == 200
        return {
            title
            for title in (amber["title"], clear["title"], unpublished["title"], elsewhere["title"])
            if title in page.text
        }

    def api(who: str) -> set[str]:
        found = platform.call(who, "GET", "/clearinghouse/advisories/for-me", 200).json()
        return {item["title"] for item in found["items"]}

    assert listed("partner") == api("partner") == {amber["title"], clear["title"]}
    # Unverified: the TLP:AMBER one stays out of reach; TLP:CLEAR is for everyone.
    assert listed("other_partner") == api("other_partner") == {clear["title"]}
    sign_in(platform, "other_partner")
    assert platform.client.get(f"/web/advisories/{amber['id']}").status_code == 404
    assert platform.client.get(f"/web/advisories/{amber['id']}/export/osv").status_code == 404
    assert "no published advisory you may read" not in platform.client.get("/web/advisories").text


def test_an_advisory_opens_with_its_detail_and_exports(platform: Platform) -> None:
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/inventory",
        201,
        json={"identifiers": ["pkg:pypi/ehrkit"]},
    )
    (claim,) = claims_of(platform, "partner")
    verify(platform, claim["id"])
    advisory = published_amber(platform, "ehrkit")
    sign_in(platform, "partner")
    listing = platform.client.get("/web/advisories").text
    assert f'href="/web/advisories/{advisory["id"]}"' in listing
    detail = platform.client.get(f"/web/advisories/{advisory['id']}")
    assert detail.status_code == 200
    assert "save_upload() in app/upload.py" in detail.text and "CWE-22" in detail.text
    assert "TLP:AMBER" in detail.text and "Clearinghouse" in detail.text  # the reporter, by name
    for fmt, api_suffix in (("osv", "osv"), ("cve", "cve"), ("stix", "stix"), ("csaf", "csaf")):
        assert f'href="/web/advisories/{advisory["id"]}/export/{fmt}"' in detail.text
        got = platform.client.get(f"/web/advisories/{advisory['id']}/export/{fmt}")
        want = platform.call(
            "partner", "GET", f"/clearinghouse/advisories/{advisory['id']}.{api_suffix}.json"
        )
        assert got.status_code == want.status_code, (fmt, got.status_code, want.status_code)
        if want.status_code == 200:
            assert "attachment" in got.headers["content-disposition"]
            assert got.json() == want.json(), fmt
    assert platform.client.get(f"/web/advisories/{advisory['id']}/export/pdf").status_code == 404
    # Reading a TLP:AMBER advisory is audited, on the page as through the API.
    with transaction(platform.context.sessions) as db:
        reads = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "clearinghouse:report:read",
                AuditEntry.object_id == advisory["id"],
            )
        ).all()
    assert reads


def test_the_partners_submission_page_shows_what_the_api_lets_it_read(
    platform: Platform,
) -> None:
    from support.web_matrix import WebScenario

    scenario = WebScenario.build(
        platform, "Lodestar", "runs the hospital EHR", "Agency-only finding"
    )
    sid = scenario.submission_id
    platform.call(
        "partner",
        "POST",
        f"/submissions/{sid}/findings",
        201,
        json={
            "title": "Partner own finding",
            "description": "d",
            "severity": "low",
            "category": "other",
        },
    )
    api = platform.call("partner", "GET", f"/submissions/{sid}/findings", 200).json()["items"]
    readable = {f["title"] for f in api}
    assert readable == {"Partner own finding"}
    sign_in(platform, "partner")
    page = platform.client.get(f"/web/submissions/{sid}")
    assert page.status_code == 200
    assert "Partner own finding" in page.text
    assert "Agency-only finding" not in page.text
    assert "runs the hospital EHR" not in page.text  # the nomination's reason is not the partner's
    # Materials: only those whose TLP lets them reach consented partners, as the API lists them.
    for name, tlp in (
        ("model-card.pdf", "TLP:AMBER"),
        ("weights-manifest.json", "TLP:AMBER+STRICT"),
    ):
        platform.call(
            "developer",
            "POST",
            f"/submissions/{sid}/materials",
            201,
            params={"filename": name, "kind": "other", "tlp": tlp},
            content=b"material " + name.encode(),
        )
    listed = platform.call("partner", "GET", f"/submissions/{sid}/materials", 200).json()
    assert {m["filename"] for m in listed["items"]} == {"model-card.pdf"}
    materials = platform.client.get(f"/web/submissions/{sid}/materials")
    assert materials.status_code == 200
    assert "model-card.pdf" in materials.text and "weights-manifest.json" not in materials.text
    assert "weights-manifest.json" not in platform.client.get(f"/web/submissions/{sid}").text
