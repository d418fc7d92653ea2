"""Reports through the API: intake one and in bulk, TLP, evidence."""

from __future__ import annotations

import json

from sqlalchemy import func, select, text

from prereview.clearinghouse.models import VulnReport
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import V31, V40, count, report
from support.scenario import verify_claims


def test_a_report_keeps_both_cvss_versions_and_seals_its_evidence(platform: Platform) -> None:
    body = report("PRV-1", cvss_v3=V31, cvss_v4=V40, evidence="curl -F file=@../../etc/passwd")
    made = platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body).json()
    out = made["report"]
    assert out["cvss_v3"] == {"vector": V31, "base_score": 9.8, "severity": "Critical"}
    assert out["cvss_v4"]["vector"] == V40 and out["cvss_v4"]["base_score"] == 9.3
    assert out["tlp"] == "AMBER" and out["has_evidence"]
    # The document names review sub_abc: a claim, kept as one, not the report's submission.
    assert out["submission_id"] is None and out["discovered_by"]["review_id"] == "sub_abc"
    assert out["reporter_org_id"] == platform["agency"].org_id
    with transaction(platform.context.sessions) as db:
        stored = db.scalar(select(VulnReport).where(VulnReport.id == "PRV-1"))
        assert stored is not None and "evidence" not in stored.document
        sealed = db.scalar(text("SELECT sealed FROM vault_secrets"))
    assert b"etc/passwd" not in bytes(sealed)
    evidence = platform.call("agency", "GET", "/clearinghouse/reports/PRV-1/evidence", 200)
    assert evidence.json()["evidence"] == "curl -F file=@../../etc/passwd"
    platform.call("clearinghouse", "GET", "/clearinghouse/reports/PRV-1/evidence", 200)
    # TLP:AMBER: the reporter and the clearinghouse; outsiders learn nothing.
    platform.call("other_agency", "GET", "/clearinghouse/reports/PRV-1", 404)
    platform.call("developer", "GET", "/clearinghouse/reports/PRV-1", 404)
    # A vendor of the affected product has a need to know once an analyst verified its claim:
    # it may read, not see the evidence.
    platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit"]},
    )
    platform.call("developer", "GET", "/clearinghouse/reports/PRV-1", 404)
    verify_claims(platform, "developer")
    platform.call("developer", "GET", "/clearinghouse/reports/PRV-1", 200)
    platform.call("developer", "GET", "/clearinghouse/reports/PRV-1/evidence", 403)
    listed = platform.call("developer", "GET", "/clearinghouse/reports", 200).json()
    assert [r["id"] for r in listed["items"]] == ["PRV-1"]
    assert (
        platform.call("other_developer", "GET", "/clearinghouse/reports", 200).json()["total"] == 0
    )
    with transaction(platform.context.sessions) as db:
        actions = list(db.scalars(text("SELECT action FROM audit_entries ORDER BY seq")))
    assert actions.count("clearinghouse:report:read") == 1
    assert "clearinghouse:evidence:read" in actions and "clearinghouse:report:list" in actions


def test_tlp_labels_decide_who_reads(platform: Platform) -> None:
    platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit"]},
    )
    verify_claims(platform, "developer")
    labels = {"CLEAR": "R-C", "GREEN": "R-G", "AMBER": "R-A", "AMBER+STRICT": "R-S", "RED": "R-R"}
    for tlp, rid in labels.items():
        params = {"recipients": [platform["other_agency"].org_id]} if tlp == "RED" else {}
        platform.call(
            "agency",
            "POST",
            "/clearinghouse/reports",
            201,
            json=report(rid, tlp=tlp),
            params=params,
        )
    expected = {
        "agency": {"R-C", "R-G", "R-A", "R-S", "R-R"},
        "developer": {"R-C", "R-G", "R-A"},  # the vendor: a need to know AMBER
        "other_developer": {"R-C", "R-G"},
        "clearinghouse": {"R-C", "R-G", "R-A", "R-S"},
        "other_agency": {"R-C", "R-G", "R-R"},  # named as a TLP:RED recipient
    }
    for who, visible in expected.items():
        listed = platform.call(who, "GET", "/clearinghouse/reports", 200).json()
        assert {r["id"] for r in listed["items"]} == visible, who
        for rid in labels.values():
            want = 200 if rid in visible else 404
            platform.call(who, "GET", f"/clearinghouse/reports/{rid}", want)
    platform.call(None, "GET", "/clearinghouse/reports", 401)


def test_a_bad_report_lists_every_problem_and_writes_nothing(platform: Platform) -> None:
    bad = report("PRV-BAD", cvss_v3="CVSS:3.1/AV:N/AC:Q", affected=[{"purl": "nonsense"}])
    bad["cwes"] = ["CWE-x"]
    entries_before = count(platform, "audit_entries")
    answer = platform.call("agency", "POST", "/clearinghouse/reports", 422, json=bad)
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "urn:prereview:problem:clearinghouse-invalid-report"
    paths = {e["path"] for e in problem["errors"]}
    assert {"$.cvss_v3", "$.affected[0].purl", "$.cwes[0]"} <= paths
    unknown = platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        404,
        json=report("PRV-2"),
        params={"recipients": ["org_nobody"]},
    )
    assert unknown.json()["type"].endswith("not-found")
    assert count(platform, "ch_reports") == 0 and count(platform, "audit_entries") == entries_before
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("PRV-3"))
    again = platform.call(
        "agency", "POST", "/clearinghouse/reports", 409, json=report("PRV-3", title="Again")
    )
    assert again.json()["type"].endswith("clearinghouse-duplicate-report")
    assert again.json()["duplicate_of"] == "PRV-3"
    assert count(platform, "ch_reports") == 1
    # Naming a stored report as an alias links the two, it does not make a duplicate.
    platform.call(
        "agency", "POST", "/clearinghouse/reports", 201, json=report("PRV-4", aliases=["PRV-3"])
    )
    relations = platform.call("agency", "GET", "/clearinghouse/reports/PRV-3/relations", 200)
    assert relations.json()["aliases"] == ["PRV-4"]
    assert count(platform, "ch_reports") == 2


def test_bulk_import_reports_each_item_and_is_idempotent(platform: Platform) -> None:
    lines = "\n".join(
        [
            json.dumps(report("B-1", cvss_v4=V40)),
            "{not json",
            json.dumps(report("B-2", cvss_v3="CVSS:3.1/AV:N/AC:Q", affected=[{}])),
            json.dumps(report("B-3", aliases=["B-1"])),
            json.dumps(
                report(
                    "B-4",
                    title="SQL injection in search",
                    description="search() in app/db.py formats the query string.",
                    cwes=["CWE-89"],
                    aliases=["CVE-2026-1111"],
                )
            ),
        ]
    )
    first = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines.encode(),
        params={"format": "jsonl"},
    ).json()
    # B-3 names B-1 as an alias: a distinct report the alias links, not a duplicate.
    assert first["counts"] == {
        "accepted": 3,
        "updated": 0,
        "duplicate": 0,
        "rejected": 2,
        "skipped": 0,
    }
    by_location = {i["location"]: i for i in first["items"]}
    assert by_location["line 4"]["status"] == "accepted"
    rejected = by_location["line 3"]["errors"]
    assert {e["path"] for e in rejected} >= {"$.cvss_v3", "$.affected[0]"}
    assert count(platform, "ch_reports") == 3
    again = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines.encode(),
        params={"filename": "reports.jsonl"},
    ).json()
    assert again["counts"] == {
        "accepted": 0,
        "updated": 0,
        "duplicate": 3,
        "rejected": 2,
        "skipped": 0,
    }
    assert count(platform, "ch_reports") == 3
    relations = platform.call("partner", "GET", "/clearinghouse/reports/B-4/relations", 200).json()
    assert relations["aliases"] == ["CVE-2026-1111"]
    empty = platform.call(
        "partner", "POST", "/clearinghouse/imports", 422, content=b"", params={"format": "jsonl"}
    )
    assert empty.json()["type"].startswith("urn:prereview:problem:")
    unknown = platform.call(
        "partner", "POST", "/clearinghouse/imports", 422, content=b"x", params={"format": "zip"}
    )
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert count(platform, "ch_reports") == 3


def test_osv_yaml_import_from_the_seed_corpus(platform: Platform) -> None:
    from importlib import resources

    seeds = resources.files("prereview.clearinghouse.data").joinpath("seed_advisories.yaml")
    payload = seeds.read_bytes()
    result = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/imports",
        200,
        content=payload,
        params={"format": "osv"},
    ).json()
    assert result["counts"]["accepted"] > 10 and result["counts"]["rejected"] == 0
    with transaction(platform.context.sessions) as db:
        stored = db.scalar(select(func.count()).select_from(VulnReport))
    assert stored == result["counts"]["accepted"]
