"""The TAXII 2.1 server, driven by taxii2-client (a real TAXII peer) over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
from fastapi import FastAPI
from taxii2client.v21 import Server, as_pages  # type: ignore[import-untyped]

from prereview.core.clock import FixedClock
from support.factories import Platform
from support.live import serve
from support.scenario import verify_claims

MEDIA = "application/taxii+json;version=2.1"


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def advisory(platform: Platform, rid: str, tlp: str, package: str = "pkg:npm/framekit") -> None:
    body = {
        "id": rid,
        "title": f"{rid}",
        "description": f"parse_{rid.replace('-', '_').lower()}() trusts a length field.",
        "affected": [{"purl": package}],
        "cwes": ["CWE-122"],
        "tlp": tlp,
    }
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)


def publish(platform: Platform, rid: str) -> None:
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)
    clock = platform.context.clock
    assert isinstance(clock, FixedClock)
    clock.set(clock.now() + timedelta(minutes=5))


def collection_named(api_root: Any, title: str) -> Any:
    (found,) = [c for c in api_root.collections if c.title == title]
    return found


def vulnerabilities(pages: list[dict[str, Any]]) -> list[str]:
    return [
        o["name"] for page in pages for o in page.get("objects", []) if o["type"] == "vulnerability"
    ]


def test_taxii_client_pages_collections_by_tlp_and_sector(platform: Platform, server: str) -> None:
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/inventory",
        201,
        json={"identifiers": ["pkg:npm/framekit"]},
    )
    verify_claims(platform, "partner")  # an inventory claim confers a need to know once verified
    for n in range(1, 5):
        advisory(platform, f"G-{n}", "GREEN")
        publish(platform, f"G-{n}")
    advisory(platform, "A-1", "AMBER")
    publish(platform, "A-1")
    advisory(platform, "E-1", "GREEN")
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={"title": "embargoed", "tlp": "GREEN", "report_ids": ["E-1"]},
    ).json()
    publish(platform, "E-1")

    token = platform["partner"].token
    taxii = Server(f"{server}/taxii2/", user="partner", password=token)
    assert taxii.title == "prereview clearinghouse"
    api_root = taxii.api_roots[0]
    assert MEDIA in api_root.versions
    green = collection_named(api_root, "Advisories TLP:GREEN")
    assert green.can_read and not green.can_write
    pages = list(as_pages(green.get_objects, per_request=3))
    assert len(pages) > 1 and all(len(p["objects"]) <= 3 for p in pages)
    # Published in order; the embargoed one is not served yet.
    assert vulnerabilities(pages) == [
        "G-1",
        "G-2",
        "G-3",
        "G-4",
    ]
    manifest = green.get_manifest()
    assert {m["media_type"] for m in manifest["objects"]} == {"application/stix+json;version=2.1"}

    # added_after: only what was added since the headers said.
    answer = httpx.get(
        f"{server}/taxii2/api/collections/{green.id}/objects/",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {token}", "Accept": MEDIA},
    )
    assert answer.headers["content-type"] == MEDIA
    first_added = answer.headers["X-TAXII-Date-Added-First"]
    vulns = [o for o in answer.json()["objects"] if o["type"] == "vulnerability"]
    later = green.get_objects(added_after=first_added)
    assert "G-1" not in vulnerabilities([later])
    assert "G-2" in vulnerabilities([later])
    one = green.get_object(vulns[0]["id"])
    assert [o["id"] for o in one["objects"]] == [vulns[0]["id"]]

    # AMBER reaches the partner whose inventory matches, not another partner.
    amber_id = collection_named(api_root, "Advisories TLP:AMBER").id
    amber = collection_named(api_root, "Advisories TLP:AMBER")
    assert vulnerabilities([amber.get_objects()]) == ["A-1"]
    other = Server(f"{server}/taxii2/", user="x", password=platform["other_partner"].token)
    other_amber = next(c for c in other.api_roots[0].collections if c.id == amber_id)
    assert vulnerabilities([other_amber.get_objects()]) == []

    # Sector collections: healthcare runs framekit, financial services does not; each sector's
    # partners see their own sector's collection only.
    health = collection_named(api_root, "Advisories for the healthcare and public health sector")
    assert "G-3" in vulnerabilities([health.get_objects()])
    money_title = "Advisories for the financial services sector"
    assert money_title not in {c.title for c in api_root.collections}
    money = collection_named(other.api_roots[0], money_title)
    assert vulnerabilities([money.get_objects()]) == []

    # The embargo lifts by the clock: the advisory appears, dated when it became public.
    clock = platform.context.clock
    assert isinstance(clock, FixedClock)
    embargo_end = datetime.fromisoformat(case["embargo"]["until"])
    clock.set(embargo_end + timedelta(seconds=1))
    newest = green.get_objects(added_after=first_added)
    assert "E-1" in vulnerabilities([newest])


def test_taxii_refuses_bad_credentials_and_bad_requests(platform: Platform, server: str) -> None:
    with pytest.raises(requests.HTTPError, match="401"):
        Server(f"{server}/taxii2/", user="x", password="prv_wrong").refresh()
    base = f"{server}/taxii2"
    assert httpx.get(f"{base}/").status_code == 401
    auth = {"Authorization": f"Bearer {platform['agency'].token}"}
    assert httpx.get(f"{base}/", headers=auth | {"Accept": "text/html"}).status_code == 406
    missing = httpx.get(f"{base}/api/collections/nope/objects/", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("taxii-collection-not-found")
    collections = httpx.get(f"{base}/api/collections/", headers=auth).json()["collections"]
    some = collections[0]["id"]
    bad = httpx.get(
        f"{base}/api/collections/{some}/objects/", headers=auth, params={"added_after": "soon"}
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("taxii-invalid-request")
