"""Exports of published advisories through the API, checked by the official validators."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance  # type: ignore[import-untyped]

from prereview.exchange.validation import Standard, schema_problems
from support.factories import Platform

CSAF_CLI = Path(sys.executable).with_name("csaf")
V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def _advisory(platform: Platform, tlp: str = "GREEN") -> str:
    body: dict[str, Any] = {
        "id": "PRV-2026-0001",
        "title": "Heap overflow in the frame parser",
        "description": "parse_frame() in src/frame.c trusts the length field of a frame header.",
        "affected": [
            {
                "purl": "pkg:npm/framekit",
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [
                            {"kind": "introduced", "version": "1.0.0"},
                            {"kind": "fixed", "version": "1.4.2"},
                        ],
                    }
                ],
            }
        ],
        "cwes": ["CWE-122"],
        "cvss_v3": V31,
        "cvss_v4": V40,
        "aliases": ["CVE-2026-12345"],
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "REV-9"},
        "references": [{"url": "https://example.org/framekit/advisory", "type": "ADVISORY"}],
        "tlp": tlp,
    }
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    return "PRV-2026-0001"


def test_exports_wait_for_publication_and_pass_the_official_schemas(
    platform: Platform, tmp_path: Path
) -> None:
    rid = _advisory(platform)
    not_yet = platform.call("agency", "GET", f"/clearinghouse/advisories/{rid}.osv.json", 404)
    assert not_yet.json()["type"].endswith("clearinghouse-not-published")
    platform.call("agency", "POST", f"/clearinghouse/reports/{rid}/publish", 403)
    # TLP 2.0: only the source loosens; the reporter relabels, then the clearinghouse publishes.
    platform.call("agency", "PUT", f"/clearinghouse/reports/{rid}/tlp", 200, json={"tlp": "CLEAR"})
    platform.call(
        "clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200, json={"tlp": "CLEAR"}
    )
    base = f"/clearinghouse/advisories/{rid}"
    osv = platform.call("other_partner", "GET", f"{base}.osv.json", 200).json()
    assert schema_problems(osv, Standard.OSV) == []
    assert osv["aliases"] == ["CVE-2026-12345"]
    cve = platform.call("developer", "GET", f"{base}.cve.json", 200).json()
    assert schema_problems(cve, Standard.CVE5) == []
    documents = {}
    for profile in ("advisory", "vex"):
        csaf = platform.call(
            "developer", "GET", f"{base}.csaf.json", 200, params={"profile": profile}
        ).json()
        assert schema_problems(csaf, Standard.CSAF) == []
        documents[profile] = csaf
    assert documents["vex"]["document"]["category"] == "csaf_vex"
    stix = platform.call("developer", "GET", f"{base}.stix.json", 200).json()
    result = validate_instance(stix, ValidationOptions())
    assert result.is_valid, [str(e) for e in result.errors]
    platform.call(None, "GET", f"{base}.stix.json", 401)
    platform.call("developer", "GET", "/clearinghouse/advisories/nope.osv.json", 404)
    if CSAF_CLI.exists():
        for name, document in documents.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(document))
        run = subprocess.run(  # our own venv's validator, fixed arguments
            [
                str(CSAF_CLI),
                "validate",
                "--spec-version",
                "v20",
                "--no-network",
                *(str(tmp_path / f"{name}.json") for name in documents),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.stdout.count("Overall: PASS") == 2, run.stdout + run.stderr


def test_a_csaf_document_names_its_canonical_file_and_is_served_there(platform: Platform) -> None:
    rid = _advisory(platform)
    platform.call("agency", "PUT", f"/clearinghouse/reports/{rid}/tlp", 200, json={"tlp": "CLEAR"})
    platform.call(
        "clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200, json={"tlp": "CLEAR"}
    )
    document = platform.call(
        "developer", "GET", f"/clearinghouse/advisories/{rid}.csaf.json", 200
    ).json()
    (self_ref,) = [r for r in document["document"]["references"] if r["category"] == "self"]
    # CSAF 5.1: the tracking id in lower case, other characters as "_", ".json" (test 6.2.11).
    assert self_ref["url"].endswith(f"/clearinghouse/advisories/{rid}/csaf/prv-2026-0001.json")
    path = self_ref["url"].split("/api/v1", 1)[1]
    assert platform.call("other_partner", "GET", path, 200).json() == document
    other = platform.call(
        "developer", "GET", f"/clearinghouse/advisories/{rid}/csaf/{rid}.json", 404
    ).json()
    assert other["type"] == "urn:prereview:problem:clearinghouse-csaf-file-not-found"
    # The name is checked after the advisory: one that may not be read is not found as before.
    platform.call(None, "GET", path, 401)


def test_a_csaf_export_imports_back_as_a_duplicate(platform: Platform) -> None:
    rid = _advisory(platform, tlp="CLEAR")
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)
    csaf = platform.call("agency", "GET", f"/clearinghouse/advisories/{rid}.csaf.json", 200)
    again = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        200,
        content=csaf.content,
        params={"format": "csaf"},
    ).json()
    assert again["counts"]["duplicate"] == 1 and again["counts"]["accepted"] == 0
    broken = json.loads(csaf.content)
    del broken["document"]["publisher"]
    answer = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        422,
        content=json.dumps(broken).encode(),
        params={"format": "csaf"},
    ).json()
    assert answer["errors"] and all({"path", "message"} <= set(e) for e in answer["errors"])
    # Schema-valid but failing a mandatory test of CSAF 2.0 (6.1.1, a product never defined).
    undefined = json.loads(csaf.content)
    affected = undefined["vulnerabilities"][0]["product_status"]["known_affected"]
    affected.append("CSAFPID-9999")
    refused = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        422,
        content=json.dumps(undefined).encode(),
        params={"format": "csaf"},
    ).json()
    assert refused["type"] == "urn:prereview:problem:exchange-csaf-mandatory-test-failed"
    assert refused["tests"] == ["6.1.1"]
    (error,) = refused["errors"]
    assert (
        error["path"] == f"$.vulnerabilities[0].product_status.known_affected[{len(affected) - 1}]"
    )


@pytest.mark.parametrize("tlp", ["AMBER+STRICT"])
def test_strict_advisories_export_only_to_reporter_and_clearinghouse(
    platform: Platform, tlp: str
) -> None:
    rid = _advisory(platform, tlp=tlp)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)
    base = f"/clearinghouse/advisories/{rid}.osv.json"
    platform.call("agency", "GET", base, 200)
    platform.call("clearinghouse", "GET", base, 200)
    platform.call("developer", "GET", base, 404)
