"""TAXII need to know and polling: sector collections are their sector's alone, collections
are described as the caller may use them, ``added_after`` polls by the date an object entered
the collection, and an object's versions are served (TAXII 2.1 section 5.7)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from prereview.authz.kinds import Sector
from prereview.core.clock import FixedClock
from support.factories import Platform
from support.scenario import verify_claims

MEDIA = "application/taxii+json;version=2.1"
HEALTH = "Advisories for the healthcare and public health sector"
GREEN = "Advisories TLP:GREEN"


def taxii(platform: Platform, who: str, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {platform[who].token}", "Accept": MEDIA}
    return platform.client.get(f"/taxii2/api/collections/{path}", headers=headers, params=params)


def listed(platform: Platform, who: str) -> dict[str, dict[str, Any]]:
    answer = taxii(platform, who, "")
    assert answer.status_code == 200, answer.text
    return {c["title"]: c for c in answer.json()["collections"]}


def collection_id(platform: Platform, title: str) -> str:
    return str(listed(platform, "clearinghouse")[title]["id"])


def clock_of(platform: Platform) -> FixedClock:
    clock = platform.context.clock
    assert isinstance(clock, FixedClock)
    return clock


def publish(platform: Platform, rid: str, **fields: Any) -> None:
    body = {
        "id": rid,
        "title": rid,
        "description": f"parse_{rid.replace('-', '_').lower()}() trusts a length field.",
        "affected": [{"purl": "pkg:npm/framekit"}],
        "cwes": ["CWE-122"],
        "tlp": "GREEN",
    } | fields
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)


def run_framekit(platform: Platform, who: str = "partner") -> None:
    platform.call(
        who, "POST", "/clearinghouse/inventory", 201, json={"identifiers": ["pkg:npm/framekit"]}
    )
    verify_claims(platform, who)


def vulnerability_names(answer: Any) -> list[str]:
    return [o["name"] for o in answer.json()["objects"] if o["type"] == "vulnerability"]


@pytest.mark.parametrize("outsider", ["developer", "agency", "other_partner"])
def test_a_sector_collection_is_hidden_from_outsiders(platform: Platform, outsider: str) -> None:
    run_framekit(platform)
    publish(platform, "S-1")
    health = collection_id(platform, HEALTH)
    vuln = next(
        o
        for o in taxii(platform, "partner", f"{health}/objects/").json()["objects"]
        if o["type"] == "vulnerability"
    )

    assert HEALTH in listed(platform, "partner")
    assert HEALTH not in listed(platform, outsider)
    for path in (
        f"{health}/",
        f"{health}/objects/",
        f"{health}/manifest/",
        f"{health}/objects/{vuln['id']}/",
        f"{health}/objects/{vuln['id']}/versions/",
    ):
        answer = taxii(platform, outsider, path)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["type"].endswith("taxii-collection-not-found")
        assert "S-1" not in answer.text
    # The advisory itself is GREEN: the outsider reads it there, not who runs it.
    green = collection_id(platform, GREEN)
    assert vulnerability_names(taxii(platform, outsider, f"{green}/objects/")) == ["S-1"]


@pytest.mark.parametrize(
    "who", ["clearinghouse", "developer", "agency", "partner", "other_partner"]
)
def test_listed_collections_say_exactly_what_the_caller_may_do(
    platform: Platform, who: str
) -> None:
    collections = listed(platform, who)
    sectors = [t for t in collections if t.startswith("Advisories for the")]
    assert len(sectors) == (len(Sector) if who == "clearinghouse" else 1 if "partner" in who else 0)
    for title, info in collections.items():
        assert info["can_read"] is True and info["can_write"] is False, title
        assert taxii(platform, who, f"{info['id']}/objects/").status_code == 200, title
        assert taxii(platform, who, f"{info['id']}/").json() == info


def test_added_after_polls_by_the_date_an_advisory_entered(platform: Platform) -> None:
    clock = clock_of(platform)
    green = collection_id(platform, GREEN)
    an_hour_ago = clock.now() - timedelta(hours=1)
    publish(platform, "OLD-1", published="2021-03-01T00:00:00Z")
    published_here = clock.now()

    answer = taxii(platform, "partner", f"{green}/objects/", added_after=an_hour_ago.isoformat())
    assert answer.status_code == 200
    assert vulnerability_names(answer) == ["OLD-1"]
    vuln = next(o for o in answer.json()["objects"] if o["type"] == "vulnerability")
    assert vuln["created"].startswith("2021-03-01")  # the source's date is kept as such
    manifest = taxii(platform, "partner", f"{green}/manifest/").json()["objects"]
    added = {m["date_added"] for m in manifest if m["id"] == vuln["id"]}
    assert added == {published_here.isoformat().replace("+00:00", "Z")}
    assert answer.headers["X-TAXII-Date-Added-First"] == min(m["date_added"] for m in manifest)
    assert answer.headers["X-TAXII-Date-Added-Last"] == max(m["date_added"] for m in manifest)

    clock.set(clock.now() + timedelta(minutes=5))
    later = taxii(
        platform,
        "partner",
        f"{green}/objects/",
        added_after=answer.headers["X-TAXII-Date-Added-Last"],
    )
    assert vulnerability_names(later) == []


def test_an_advisory_enters_a_sector_collection_when_the_sector_runs_it(
    platform: Platform,
) -> None:
    clock = clock_of(platform)
    publish(platform, "S-2")
    clock.set(clock.now() + timedelta(days=1))
    polled = clock.now()
    clock.set(clock.now() + timedelta(minutes=5))
    run_framekit(platform)
    health = collection_id(platform, HEALTH)

    answer = taxii(platform, "partner", f"{health}/objects/", added_after=polled.isoformat())
    assert vulnerability_names(answer) == ["S-2"]
    entered = datetime.fromisoformat(answer.headers["X-TAXII-Date-Added-First"])
    assert entered > polled


def test_object_versions_are_served_under_the_same_need_to_know(platform: Platform) -> None:
    run_framekit(platform)
    publish(platform, "V-1")
    health = collection_id(platform, HEALTH)
    vuln = next(
        o
        for o in taxii(platform, "partner", f"{health}/objects/").json()["objects"]
        if o["type"] == "vulnerability"
    )

    answer = taxii(platform, "partner", f"{health}/objects/{vuln['id']}/versions/")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == MEDIA
    assert answer.json() == {"more": False, "versions": [vuln["modified"]]}
    assert answer.headers["X-TAXII-Date-Added-First"] == answer.headers["X-TAXII-Date-Added-Last"]
    after = answer.headers["X-TAXII-Date-Added-Last"]
    newer = taxii(
        platform, "partner", f"{health}/objects/{vuln['id']}/versions/", added_after=after
    )
    assert newer.json() == {"more": False, "versions": []}

    missing = taxii(platform, "partner", f"{health}/objects/vulnerability--nope/versions/")
    assert missing.status_code == 404
    assert (
        taxii(platform, "other_partner", f"{health}/objects/{vuln['id']}/versions/").status_code
        == 404
    )


def osv(modified: str) -> bytes:
    record = {
        "schema_version": "1.6.0",
        "id": "PYSEC-2021-9999",
        "modified": modified,
        "published": "2021-03-01T00:00:00Z",
        "summary": "parse_header() trusts a length field",
        "details": "parse_header() in framekit trusts a length field from the wire.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "framekit"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2"}]}],
            }
        ],
    }
    return json.dumps(record).encode()


# The source's date of the update: before it reached us, or (wrongly) in the future.
@pytest.mark.parametrize("ahead", [timedelta(hours=12), timedelta(days=365 * 70)])
def test_an_update_from_the_source_enters_the_collection_when_stored_here(
    platform: Platform, ahead: timedelta
) -> None:
    clock = clock_of(platform)

    def imported(modified: str) -> None:
        platform.call(
            "partner",
            "POST",
            "/clearinghouse/imports",
            200,
            content=osv(modified),
            params={"format": "osv"},
        )

    imported("2021-04-01T00:00:00Z")
    platform.call("clearinghouse", "POST", "/clearinghouse/reports/PYSEC-2021-9999/publish", 200)
    newer = (clock.now() + ahead).isoformat().replace("+00:00", "Z")
    clock.set(clock.now() + timedelta(days=1))
    polled = clock.now()
    clock.set(clock.now() + timedelta(minutes=5))
    imported(newer)  # a newer version from the source (its date past or ahead), stored now
    clear = collection_id(platform, "Advisories TLP:CLEAR")

    answer = taxii(platform, "partner", f"{clear}/objects/", added_after=polled.isoformat())
    assert vulnerability_names(answer) == ["PYSEC-2021-9999"]
    vuln = next(o for o in answer.json()["objects"] if o["type"] == "vulnerability")
    assert vuln["modified"].startswith(newer[:10])
    entered = datetime.fromisoformat(answer.headers["X-TAXII-Date-Added-First"])
    assert polled < entered <= clock.now()
