"""STIX 2.1 bundles pass the STIX validator and carry the official TLP 2.0 markings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from stix2validator import (  # type: ignore[import-untyped]
    ValidationOptions,
    validate_instance,
)

from prereview.core.markings import Tlp
from prereview.exchange.stix import TLP2_EXTENSION_ID, TLP2_MARKING_IDS, advisory_to_stix
from prereview.vulnerability.report import Advisory, parse_report, publish

# From OASIS cti-stix-common-objects, extension-definition-specifications/tlp-2.0.
OFFICIAL_TLP2_IDS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def advisory(**overrides: Any) -> Advisory:
    data: dict[str, Any] = {
        "id": "PRV-2026-0200",
        "title": "Command injection in backup agent",
        "description": "run_backup() in agent/backup.py passes the host name to a shell.",
        "reporter": "Hospital Group",
        "affected": [{"purl": "pkg:pypi/backup-agent"}],
        "cwes": ["CWE-78"],
        "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        "cvss_v4": "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "aliases": ["CVE-2026-60001", "GHSA-5555-6666-7777"],
        "references": [{"url": "https://example.org/advisory/200", "type": "ADVISORY"}],
        "published": "2026-07-01T00:00:00Z",
    }
    data.update(overrides)
    return publish(parse_report(data), datetime(2026, 7, 2, tzinfo=UTC))


@pytest.mark.parametrize("tlp", list(Tlp))
def test_bundles_pass_the_stix_validator_for_every_tlp_label(tlp: Tlp) -> None:
    bundle = advisory_to_stix(
        advisory(tlp=tlp), "prereview clearinghouse", "https://ch.example/a/200"
    )
    result = validate_instance(bundle, ValidationOptions())
    assert result.is_valid, [str(e) for e in result.errors]
    marking = next(o for o in bundle["objects"] if o["type"] == "marking-definition")
    assert marking["id"] == OFFICIAL_TLP2_IDS[str(tlp)]
    assert marking["extensions"][TLP2_EXTENSION_ID] == {
        "extension_type": "property-extension",
        "tlp_2_0": str(tlp).lower(),
    }
    assert marking["created"] == "2022-10-01T00:00:00.000Z"
    vulnerability = next(o for o in bundle["objects"] if o["type"] == "vulnerability")
    assert vulnerability["object_marking_refs"] == [marking["id"]]


def test_the_vulnerability_carries_ids_weaknesses_and_both_scores() -> None:
    bundle = advisory_to_stix(advisory(), "prereview clearinghouse")
    vulnerability = next(o for o in bundle["objects"] if o["type"] == "vulnerability")
    assert vulnerability["name"] == "CVE-2026-60001"
    refs = {(r["source_name"], r.get("external_id")) for r in vulnerability["external_references"]}
    assert {
        ("cve", "CVE-2026-60001"),
        ("cwe", "CWE-78"),
        ("prereview", "PRV-2026-0200"),
        ("ghsa", "GHSA-5555-6666-7777"),
    } <= refs
    assert "CVSS 3.1: CVSS:3.1/AV:N" in vulnerability["description"]
    assert "CVSS 4.0: CVSS:4.0/AV:N" in vulnerability["description"]
    identity = next(o for o in bundle["objects"] if o["type"] == "identity")
    assert vulnerability["created_by_ref"] == identity["id"]


def test_ids_are_stable_across_exports_and_differ_between_advisories() -> None:
    first = advisory_to_stix(advisory(), "prereview clearinghouse")
    again = advisory_to_stix(advisory(), "prereview clearinghouse")
    other = advisory_to_stix(advisory(id="PRV-2026-0201"), "prereview clearinghouse")
    ids = [o["id"] for o in first["objects"]]
    assert ids == [o["id"] for o in again["objects"]]
    assert ids[2] != other["objects"][2]["id"]
    assert set(TLP2_MARKING_IDS.values()) == set(OFFICIAL_TLP2_IDS.values())
