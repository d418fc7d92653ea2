"""CSAF 2.0 exports pass the official schema and the csaf validator; CSAF documents import."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prereview.exchange.csaf import CsafProfile, CsafPublisher, advisory_to_csaf, vers_constraints
from prereview.exchange.csaf_import import cpe22_to_23, csaf_to_reports, load_csaf
from prereview.exchange.csaf_tests import current_cwe_name
from prereview.exchange.errors import InvalidExchangeDocument
from prereview.exchange.validation import Standard, schema_set
from prereview.vulnerability.report import Advisory, parse_report, publish

ROOT = Path(__file__).resolve().parents[2]
STANDARDS = ROOT.parent / "shared" / "standards"
CSAF_CLI = Path(sys.executable).parent / "csaf"
PUBLISHER = CsafPublisher(name="prereview clearinghouse", namespace="https://clearinghouse.example")
needs_standards = pytest.mark.skipif(
    not STANDARDS.is_dir(), reason="shared/standards is not checked out beside the repo"
)


def advisory(**overrides: Any) -> Advisory:
    data: dict[str, Any] = {
        "id": "PRV-2026-0042",
        "title": "SQL injection in report search",
        "description": "search() in app/search.py formats the query string into SQL.",
        "reporter": "Water Utility",
        "affected": [
            {
                "purl": "pkg:pypi/reportsrv",
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"kind": "introduced", "version": "2.0"},
                            {"kind": "fixed", "version": "2.3.1"},
                            {"kind": "introduced", "version": "3.0"},
                            {"kind": "fixed", "version": "3.0.4"},
                        ],
                    }
                ],
            },
            {"cpe": "cpe:2.3:a:example:reportserver:*:*:*:*:*:*:*:*", "versions": ["5.1", "5.2"]},
            {"purl": "pkg:npm/report-ui"},
        ],
        "cwes": ["CWE-89", "CWE-20"],
        "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "cvss_v4": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "REV-4"},
        "references": [{"url": "https://example.org/fix/1", "type": "FIX"}],
        "aliases": ["CVE-2026-40001", "GHSA-2222-3333-4444"],
        "tlp": "AMBER+STRICT",
        "published": "2026-05-01T00:00:00Z",
    }
    data.update(overrides)
    return publish(parse_report(data), datetime(2026, 5, 3, tzinfo=UTC))


def export(profile: CsafProfile, **overrides: Any) -> dict[str, Any]:
    return advisory_to_csaf(
        advisory(**overrides),
        PUBLISHER,
        profile,
        self_url="https://clearinghouse.example/csaf/prv-2026-0042.json",
    )


@needs_standards
@pytest.mark.parametrize("profile", list(CsafProfile))
def test_exports_satisfy_the_official_csaf_schema(profile: CsafProfile) -> None:
    document = export(profile)
    assert schema_set(STANDARDS).problems(document, Standard.CSAF) == []
    assert document["document"]["category"] == str(profile)
    vulnerability = document["vulnerabilities"][0]
    assert vulnerability["cve"] == "CVE-2026-40001"
    assert vulnerability["cwe"] == {"id": "CWE-89", "name": current_cwe_name("CWE-89")}
    assert vulnerability["ids"][0] == {"system_name": "prereview", "text": "PRV-2026-0042"}
    assert vulnerability["scores"][0]["cvss_v3"]["baseScore"] == 9.8
    notes = {n["title"]: n["text"] for n in vulnerability["notes"]}
    assert notes["CVSS v4.0"].startswith("CVSS:4.0/AV:N")  # kept, not dropped
    assert notes["Weaknesses (CWE)"].endswith("CWE-20")
    assert document["document"]["distribution"]["tlp"]["label"] == "AMBER"
    assert "AMBER+STRICT" in document["document"]["distribution"]["text"]
    status = vulnerability["product_status"]
    assert len(status["known_affected"]) == 4  # one range, two CPE versions, one whole product
    assert len(status["fixed"]) == 2  # 2.3.1 and 3.0.4


@pytest.mark.skipif(not CSAF_CLI.exists(), reason="the csaf validator package is not installed")
def test_the_csaf_validator_passes_exports_and_catches_a_broken_one(tmp_path: Path) -> None:
    """One run of `csaf validate` (mandatory and recommended tests) over three documents."""
    documents = {str(profile): export(profile) for profile in CsafProfile}
    broken = export(CsafProfile.VEX)
    broken["vulnerabilities"][0]["product_status"]["known_affected"].append("CSAFPID-9999")
    documents["broken"] = broken
    for name, document in documents.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    result = subprocess.run(  # our own venv's validator, fixed arguments
        [
            str(CSAF_CLI),
            "validate",
            "--spec-version",
            "v20",
            "--no-network",
            "--preset",
            "extended",
            *(str(tmp_path / f"{name}.json") for name in documents),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    sections = {
        Path(chunk.split("\n", 1)[0].strip()).stem: chunk
        for chunk in result.stdout.split("File: ")[1:]
    }
    assert set(sections) == set(documents), result.stdout + result.stderr
    for profile in CsafProfile:
        assert "Overall: PASS" in sections[str(profile)], sections[str(profile)]
    assert "Overall: FAIL" in sections["broken"]
    assert "[FAIL] 6.1.1" in sections["broken"]  # missing definition of a product id
    assert result.returncode != 0


def test_version_ranges_become_vers_constraints() -> None:
    product = advisory().affected[0]
    assert vers_constraints(product.ranges[0]) == ">=2.0|<2.3.1|>=3.0|<3.0.4"


def test_an_export_imports_back_to_the_same_vulnerability() -> None:
    (item,) = csaf_to_reports(export(CsafProfile.SECURITY_ADVISORY), reporter="Water Utility")
    report = item.report
    assert report is not None
    original = advisory()
    # The report's own id (the "prereview" id of the export) comes back as its id: the same
    # record, not a new one that its CVE would only link.
    assert report.id == original.id == "PRV-2026-0042"
    assert set(report.aliases) == {"CVE-2026-40001", "GHSA-2222-3333-4444"}
    assert report.cvss_v3 == original.cvss_v3
    assert report.cwes == ["CWE-89"]
    assert report.package_keys == original.package_keys
    reportsrv = next(p for p in report.affected if p.purl == "pkg:pypi/reportsrv")
    fixed = [e.version for r in reportsrv.ranges for e in r.events if e.kind == "fixed"]
    assert set(fixed) == {"2.3.1", "3.0.4"}
    cpe_product = next(p for p in report.affected if p.cpe)
    assert cpe_product.versions == ["5.1", "5.2"]


@needs_standards
def test_every_official_csaf_example_imports() -> None:
    examples = sorted((STANDARDS / "csaf/examples/csaf").rglob("*.json"))
    imported = 0
    for example in examples:
        items = load_csaf(example.read_bytes(), reporter="Vendor")
        assert items, example.name
        for item in items:
            assert item.problems == [], (example.name, item.problems)
            assert (item.report is None) == (item.skipped_because is not None)
            imported += item.report is not None
    assert imported >= 25


@needs_standards
def test_product_tree_identifiers_are_resolved() -> None:
    items = load_csaf((STANDARDS / "csaf/examples/csaf/bsi-2022-0001.json").read_bytes(), "BSI")
    report = items[0].report
    assert report is not None
    # Named by publisher namespace and tracking id (what CSAF makes unique), not by its CVE.
    assert report.id == "www.bsi.bund.de:BSI-2022-0001"
    assert "CVE-2022-27193" in report.aliases
    assert report.cwes == ["CWE-611"]
    assert report.cvss_v3 is not None
    assert report.affected  # every product has a purl or CPE, real or generic


def test_an_invalid_csaf_document_lists_every_schema_problem() -> None:
    document = export(CsafProfile.VEX)
    del document["document"]["publisher"]
    document["document"]["tracking"]["status"] = "published"
    document["vulnerabilities"][0]["cve"] = "CVE-26-1"
    with pytest.raises(InvalidExchangeDocument) as caught:
        csaf_to_reports(document, reporter="x")
    assert {p["path"] for p in caught.value.problems} == {
        "$.document",
        "$.document.tracking.status",
        "$.vulnerabilities[0].cve",
    }


def test_cpe_22_uris_are_converted_to_23() -> None:
    assert cpe22_to_23("cpe:/a:redhat:enterprise_linux:8::appstream") == (
        "cpe:2.3:a:redhat:enterprise_linux:8:*:appstream:*:*:*:*:*"
    )
    assert cpe22_to_23("not a cpe") is None
