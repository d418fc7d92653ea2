"""CVE JSON 5.1 records pass the official CVE Record Format 5.1.1 schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from prereview.exchange.cve5 import CveAssigner, advisory_to_cve5
from prereview.exchange.errors import NotExportable
from prereview.exchange.validation import Standard, schema_set
from prereview.vulnerability.report import Advisory, parse_report, publish

STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "standards"
ASSIGNER = CveAssigner(UUID("0b5c3e29-7b1f-4c8f-9c61-0e2a4d7a1f11"), "prereview")
URL = "https://clearinghouse.example/advisories/PRV-2026-0101"
COMMIT = "b" * 40


def advisory(**overrides: Any) -> Advisory:
    data: dict[str, Any] = {
        "id": "PRV-2026-0101",
        "title": "Authentication bypass in device API",
        "description": "check_token() in api/auth.go accepts an empty signature.",
        "reporter": "Rail Operator",
        "affected": [
            {
                "purl": "pkg:golang/github.com/example/devapi",
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [
                            {"kind": "introduced", "version": "1.2.0"},
                            {"kind": "last_affected", "version": "1.5.3"},
                        ],
                    },
                    {
                        "type": "GIT",
                        "repo": "https://git.example.org/devapi",
                        "events": [{"kind": "introduced", "version": COMMIT}],
                    },
                ],
            },
            {"cpe": "cpe:2.3:h:example:controller:-:*:*:*:*:*:*:*"},
        ],
        "cwes": ["CWE-287"],
        "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
        "cvss_v4": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N",
        "discovered_by": {"kind": "person", "name": "Linus"},
        "aliases": ["CVE-2026-50001"],
        "references": [{"url": "https://example.org/patch", "type": "FIX"}],
        "published": "2026-06-01T00:00:00Z",
    }
    data.update(overrides)
    return publish(parse_report(data), datetime(2026, 6, 5, tzinfo=UTC))


@pytest.mark.skipif(
    not STANDARDS.is_dir(), reason="shared/standards is not checked out beside the repo"
)
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"cvss_v3": None, "cwes": [], "references": [], "discovered_by": None},
        {"cvss_v4": None, "discovered_by": {"kind": "model", "model": "m-1", "review_id": "REV-1"}},
        {
            "cvss_v3": "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "affected": [{"purl": "pkg:pypi/x"}],
        },
    ],
)
def test_records_satisfy_the_official_cve_schema(overrides: dict[str, Any]) -> None:
    record = advisory_to_cve5(advisory(**overrides), ASSIGNER, URL)
    assert schema_set(STANDARDS).problems(record, Standard.CVE5) == []


def test_both_cvss_versions_and_the_ranges_are_in_the_record() -> None:
    record = advisory_to_cve5(advisory(), ASSIGNER, URL)
    assert record["cveMetadata"]["cveId"] == "CVE-2026-50001"
    cna = record["containers"]["cna"]
    assert [next(iter(m)) for m in cna["metrics"]] == ["cvssV4_0", "cvssV3_1"]
    go_module = cna["affected"][0]
    assert go_module["packageName"] == "github.com/example/devapi"
    assert go_module["versions"] == [
        {
            "version": "1.2.0",
            "lessThanOrEqual": "1.5.3",
            "status": "affected",
            "versionType": "golang",
        },
        {"version": COMMIT, "lessThan": "*", "status": "affected", "versionType": "git"},
    ]
    assert cna["affected"][1]["defaultStatus"] == "affected"
    assert cna["references"][0]["url"] == URL
    assert cna["problemTypes"][0]["descriptions"][0]["cweId"] == "CWE-287"


def test_an_advisory_without_a_cve_id_cannot_become_a_cve_record() -> None:
    with pytest.raises(NotExportable) as caught:
        advisory_to_cve5(advisory(aliases=[]), ASSIGNER, URL)
    assert caught.value.status == 422
    assert caught.value.slug == "exchange-not-exportable"
