"""OSV export satisfies the OSV schema; OSV JSON and YAML import into domain reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prereview.core.markings import Tlp
from prereview.exchange.errors import InvalidExchangeDocument, UnreadableDocument
from prereview.exchange.osv import advisory_to_osv, load_osv, osv_id, osv_to_report
from prereview.exchange.validation import Standard, schema_set
from prereview.vulnerability.problems import InvalidReport
from prereview.vulnerability.report import Advisory, ModelRun, Person, parse_report, publish

ROOT = Path(__file__).resolve().parents[2]
STANDARDS = ROOT.parent / "shared" / "standards"
SEEDS = ROOT / "src/prereview/clearinghouse/data/seed_advisories.yaml"
COMMIT = "a" * 40


def advisory(**overrides: Any) -> Advisory:
    data: dict[str, Any] = {
        "id": "PRV-2026-0007",
        "title": "Out-of-bounds read in frame decoder",
        "description": "read_frame() in src/frame.rs slices past the input buffer.",
        "reporter": "Grid Operator",
        "affected": [
            {
                "purl": "pkg:cargo/framecodec@0.4.1",
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [
                            {"kind": "introduced", "version": "0.3.0"},
                            {"kind": "fixed", "version": "0.4.2"},
                        ],
                    },
                    {
                        "type": "GIT",
                        "repo": "https://git.example.org/framecodec",
                        "events": [
                            {"kind": "introduced", "version": "0"},
                            {"kind": "fixed", "version": COMMIT},
                        ],
                    },
                ],
                "versions": ["0.4.1"],
            },
            {"purl": "pkg:maven/org.example/frames"},
            {"cpe": "cpe:2.3:a:example:framegate:*:*:*:*:*:*:*:*"},
        ],
        "cwes": ["CWE-125", "CWE-20"],
        "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "cvss_v4": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
        "code_locations": ["src/frame.rs:read_frame"],
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "REV-9"},
        "references": [{"url": "https://example.org/fix", "type": "FIX"}],
        "aliases": ["CVE-2026-20001"],
        "upstream": ["GHSA-aaaa-bbbb-cccc"],
        "related": ["OSV-2026-1"],
        "tlp": "CLEAR",
        "published": "2026-04-01T00:00:00Z",
    }
    data.update(overrides)
    return publish(parse_report(data), datetime(2026, 4, 2, tzinfo=UTC))


@pytest.fixture
def official() -> Any:
    if not STANDARDS.is_dir():
        pytest.skip("shared/standards is not checked out beside the repo")
    return schema_set(STANDARDS)


def test_an_exported_advisory_satisfies_the_official_osv_schema(official: Any) -> None:
    record = advisory_to_osv(advisory())
    assert official.problems(record, Standard.OSV) == []
    assert record["id"] == "x_PRV-2026-0007"
    assert [s["type"] for s in record["severity"]] == ["CVSS_V3", "CVSS_V4"]
    assert record["affected"][0]["package"] == {
        "ecosystem": "crates.io",
        "name": "framecodec",
        "purl": "pkg:cargo/framecodec",
    }
    assert record["affected"][1]["package"]["name"] == "org.example:frames"
    assert record["affected"][2] == {
        "database_specific": {"cpe": "cpe:2.3:a:example:framegate:*:*:*:*:*:*:*:*"}
    }
    assert record["modified"] == "2026-04-02T00:00:00Z"


def test_export_then_import_gives_the_same_report_back() -> None:
    original = advisory(discovered_by={"kind": "person", "name": "Ada", "organisation": "Lab"})
    again = osv_to_report(advisory_to_osv(original), reporter="someone else")
    assert again.reporter == original.reporter
    assert again.id == "x_PRV-2026-0007"
    expected = original.model_copy(update={"id": "x_PRV-2026-0007"})
    assert again.model_dump(exclude={"affected"}) == Advisory.model_validate(expected).model_dump(
        exclude={"affected"}
    )
    assert [a.package_key for a in again.affected] == [a.package_key for a in original.affected]
    assert again.affected[0].ranges == original.affected[0].ranges
    assert isinstance(again.discovered_by, Person)


def test_every_seed_advisory_round_trips_through_osv(official: Any) -> None:
    seeds = load_osv(SEEDS.read_text(), reporter="seed")
    assert len(seeds) == 50
    for seed in seeds:
        assert osv_to_report(advisory_to_osv(seed), reporter="seed") == seed
        assert official.problems(advisory_to_osv(seed), Standard.OSV) == []


JSON_EXAMPLE = {
    "schema_version": "1.6.0",
    "id": "GHSA-wxyz-1234-abcd",
    "modified": "2026-02-01T12:00:00Z",
    "published": "2026-01-30T08:00:00Z",
    "aliases": ["CVE-2026-30001"],
    "summary": "Prototype pollution in objpath",
    "details": "set() in lib/set.js walks __proto__ segments.",
    "severity": [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:H/A:L"},
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:N/SA:N",
        },
    ],
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "@example/objpath"},
            "ranges": [
                {"type": "SEMVER", "events": [{"introduced": "0"}, {"last_affected": "3.1.0"}]}
            ],
        }
    ],
    "references": [{"type": "ADVISORY", "url": "https://example.org/GHSA-wxyz-1234-abcd"}],
    "credits": [{"name": "Grace", "type": "FINDER"}],
    "database_specific": {"cwe_ids": ["CWE-1321"]},
}
YAML_EXAMPLE = """
id: PYSEC-2026-11
modified: 2026-03-01T10:00:00Z
summary: Zip slip in unpackit
details: extract() writes entries outside the target directory.
affected:
  - package: {ecosystem: PyPI, name: unpackit}
    versions: ["1.0", "1.1"]
    severity: [{type: CVSS_V3, score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N"}]
---
id: GO-2026-0042
modified: 2026-03-02T10:00:00Z
details: Unbounded allocation in github.com/example/rpc.
affected:
  - package: {ecosystem: Go, name: github.com/example/rpc}
    ranges:
      - type: GIT
        repo: https://github.com/example/rpc
        events: [{introduced: "0"}, {fixed: "COMMIT"}]
""".replace("COMMIT", COMMIT)


def test_osv_json_imports_with_both_cvss_versions_and_cwes() -> None:
    (report,) = load_osv(json.dumps(JSON_EXAMPLE), reporter="Vendor")
    assert report.id == "GHSA-wxyz-1234-abcd"
    assert report.aliases == ["CVE-2026-30001"]
    assert report.affected[0].purl == "pkg:npm/%40example/objpath"
    assert report.affected[0].package_name == "@example/objpath"
    assert report.cvss_v3 is not None
    assert report.cvss_v4 is not None
    assert report.cvss_v4.base_score > 0
    assert report.cwes == ["CWE-1321"]
    assert isinstance(report.discovered_by, Person)
    assert report.reporter == "Vendor"
    # OSV is the format of public databases: a record that names no label is public.
    assert report.tlp is Tlp.CLEAR
    marked = {**JSON_EXAMPLE, "database_specific": {"prereview": {"tlp": "AMBER"}}}
    assert load_osv(json.dumps(marked), reporter="Vendor")[0].tlp is Tlp.AMBER


def test_osv_yaml_with_several_documents_and_unquoted_timestamps() -> None:
    first, second = load_osv(YAML_EXAMPLE, reporter="Vendor")
    assert first.modified == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert first.affected[0].versions == ["1.0", "1.1"]
    assert first.cvss_v3 is not None  # a per-package score counts too
    assert first.cvss_v3.base_score == 6.5
    assert second.affected[0].purl == "pkg:golang/github.com/example/rpc"
    assert second.title == "GO-2026-0042"  # no summary: the id stands in
    assert second.affected[0].ranges[0].repo == "https://github.com/example/rpc"


def test_invalid_osv_is_refused_with_every_problem() -> None:
    bad = dict(JSON_EXAMPLE, id="WHATEVER-1", modified="2026-02-01 12:00")
    with pytest.raises(InvalidExchangeDocument) as caught:
        osv_to_report(bad, reporter="Vendor")
    assert {p["path"] for p in caught.value.problems} == {"$.id", "$.modified"}


def test_a_valid_osv_record_with_a_bad_vector_names_the_vector() -> None:
    record = dict(
        JSON_EXAMPLE,
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:H"}],
    )
    with pytest.raises(InvalidReport) as caught:
        osv_to_report(record, reporter="Vendor")
    assert caught.value.problems[0]["path"] == "$.cvss_v3"
    assert "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:H" in caught.value.problems[0]["message"]
    assert 'Missing mandatory metrics "A"' in caught.value.problems[0]["message"]


def test_an_ecosystem_without_a_purl_type_needs_an_explicit_purl() -> None:
    package: dict[str, str] = {"ecosystem": "Debian:12", "name": "libfoo"}
    record = dict(JSON_EXAMPLE, affected=[{"package": package}])
    with pytest.raises(InvalidExchangeDocument) as caught:
        osv_to_report(record, reporter="Vendor")
    assert caught.value.problems[0]["path"] == "$.affected[0].package"
    package["purl"] = "pkg:deb/debian/libfoo"
    assert osv_to_report(record, reporter="Vendor").affected[0].purl == "pkg:deb/debian/libfoo"


def test_a_yaml_list_is_a_batch_like_a_json_array() -> None:
    listed = "- " + YAML_EXAMPLE.split("---")[0].strip().replace("\n", "\n  ")
    (report,) = load_osv(listed, reporter="Vendor")
    assert report.id == "PYSEC-2026-11"


def test_unreadable_payloads_and_private_ids() -> None:
    with pytest.raises(UnreadableDocument):
        load_osv("{broken", reporter="Vendor")
    with pytest.raises(UnreadableDocument):
        load_osv("   ", reporter="Vendor")
    assert osv_id("GHSA-1234-5678-9abc") == "GHSA-1234-5678-9abc"
    assert osv_id("PRV-1") == "x_PRV-1"


def test_model_findings_are_kept_in_database_specific() -> None:
    record = advisory_to_osv(advisory())
    assert record["database_specific"]["prereview"]["discovered_by"] == {
        "kind": "model",
        "model": "frontier-x",
        "review_id": "REV-9",
    }
    assert "credits" not in record
    assert isinstance(osv_to_report(record, "x").discovered_by, ModelRun)
