"""Every export of 300 real advisories (PyPA's OSV records) under independent validators.

CSAF 2.0: our own mandatory tests, the official schema, the `csaf` package's `csaf validate`
and BSI's secvisogram validator library (node); CVE 5: the bundled CVE JSON 5.1.1 schema;
STIX 2.1: stix2-validator in strict mode; OSV: the OSV schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from stix2validator import ValidationOptions, validate_instance  # type: ignore[import-untyped]

from prereview.exchange.csaf import (
    WITHDRAWN_SUMMARY,
    CsafProfile,
    CsafPublisher,
    advisory_to_csaf,
    canonical_url,
    csaf_filename,
)
from prereview.exchange.csaf_import import csaf_to_reports
from prereview.exchange.csaf_tests import mandatory_findings
from prereview.exchange.cve5 import UNKNOWN_ASSIGNER, CveAssigner, advisory_to_cve5
from prereview.exchange.documents import load_documents
from prereview.exchange.errors import InvalidExchangeDocument
from prereview.exchange.osv import advisory_to_osv, osv_to_report
from prereview.exchange.stix import advisory_to_stix
from prereview.exchange.validation import Standard, schema_problems
from prereview.vulnerability.report import Advisory, publish

ROOT = Path(__file__).resolve().parents[2]
PYPA = ROOT / "tests" / "data" / "osv-pypa" / "vulns"
CSAF_CLI = Path(sys.executable).with_name("csaf")
SECVISOGRAM = ROOT / "node_modules" / "@secvisogram" / "csaf-validator-lib"
NODE = shutil.which("node")
PUBLISHER = CsafPublisher(name="prereview clearinghouse", namespace="https://clearinghouse.example")
CLEARINGHOUSE = CveAssigner(UUID("8f1d6a3e-2c4b-4e7a-9d51-3b6c0f2e7a94"), "prereview")
CSAF_DIRECTORY = "https://clearinghouse.example/.well-known/csaf/white/2026"


@cache
def advisories() -> tuple[Advisory, ...]:
    """The PyPA records the import accepts (the 7 with a malformed GIT event are refused)."""
    published = []
    for path in sorted(PYPA.rglob("*.yaml")):
        (record,) = load_documents(path.read_bytes())
        try:
            report = osv_to_report(record, "PyPA")
        except InvalidExchangeDocument:
            continue
        moment = max(d for d in (report.published, report.modified, report.withdrawn) if d)
        published.append(publish(report, moment))
    return tuple(published)


def csaf_of(advisory: Advisory, profile: CsafProfile = CsafProfile.SECURITY_ADVISORY) -> Any:
    url = canonical_url(CSAF_DIRECTORY, advisory.id)
    return advisory_to_csaf(advisory, PUBLISHER, profile, self_url=url)


def test_the_real_set_is_what_it_should_be() -> None:
    assert len(advisories()) == 293
    assert sum(a.withdrawn is not None for a in advisories()) >= 1


def test_csaf_exports_pass_the_mandatory_tests_and_the_schema() -> None:
    for advisory in advisories():
        for profile in CsafProfile:
            document = csaf_of(advisory, profile)
            assert mandatory_findings(document) == [], advisory.id
            assert schema_problems(document, Standard.CSAF) == [], advisory.id
            vulnerability = document["vulnerabilities"][0]
            assert vulnerability["ids"], advisory.id  # never the empty list
            (self_ref,) = [r for r in document["document"]["references"] if r["category"] == "self"]
            assert self_ref["url"].endswith("/" + csaf_filename(advisory.id))
            if advisory.withdrawn is not None:
                history = document["document"]["tracking"]["revision_history"]
                assert WITHDRAWN_SUMMARY in {revision["summary"] for revision in history}
                notes = document["document"]["notes"] + vulnerability["notes"]
                assert sum(note["title"] == "Withdrawn" for note in notes) == 2
                (item,) = csaf_to_reports(document, "PyPA")  # and it comes back withdrawn
                assert item.report is not None and item.report.withdrawn == advisory.withdrawn


def test_a_report_named_by_its_cve_keeps_its_id_in_csaf_and_comes_back() -> None:
    advisory = next(a for a in advisories() if a.id.startswith("PYSEC-"))
    named = advisory.model_copy(update={"id": "CVE-2021-44228", "aliases": [advisory.id]})
    document = csaf_of(named)
    vulnerability = document["vulnerabilities"][0]
    assert vulnerability["cve"] == "CVE-2021-44228"
    assert vulnerability["ids"][0] == {"system_name": "prereview", "text": "CVE-2021-44228"}
    (item,) = csaf_to_reports(document, "PyPA")
    assert item.report is not None and item.report.id == "CVE-2021-44228"


def test_two_publishers_csaf_about_one_cve_are_two_records() -> None:
    advisory = next(a for a in advisories() if any(x.startswith("CVE-") for x in a.aliases))
    cve = next(x for x in advisory.aliases if x.startswith("CVE-"))
    ids = []
    for namespace in ("https://vendor-a.example", "https://vendor-b.example"):
        document = advisory_to_csaf(advisory, CsafPublisher("V", namespace))
        # A foreign document: no prereview id, its tracking id the CVE (as Red Hat's VEX are).
        vulnerability = document["vulnerabilities"][0]
        vulnerability["ids"] = [i for i in vulnerability["ids"] if i["system_name"] != "prereview"]
        if not vulnerability["ids"]:
            del vulnerability["ids"]
        document["document"]["tracking"]["id"] = cve
        (item,) = csaf_to_reports(document, "V")
        assert item.report is not None and cve in item.report.aliases
        ids.append(item.report.id)
    assert ids[0] != ids[1] and cve not in ids


@pytest.mark.skipif(not CSAF_CLI.exists(), reason="the csaf validator package is not installed")
def test_csaf_validate_passes_every_export(tmp_path: Path) -> None:
    files = _write_csaf(tmp_path)
    run = subprocess.run(  # our own venv's validator, fixed arguments
        # "extended": the mandatory and the recommended tests (6.2.11: the canonical URL).
        [
            *(str(CSAF_CLI), "validate", "--spec-version", "v20", "--no-network"),
            *("--preset", "extended", *map(str, files)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    complaints = {
        line.strip() for line in run.stdout.splitlines() if "[WARN]" in line or "[FAIL]" in line
    }
    # 6.2.3 "Missing Score" (recommended) for the records that carry no CVSS: we invent none.
    assert complaints <= {"[WARN] 6.2.3 - Missing Score"}, complaints
    assert "[FAIL] 6.1" not in run.stdout and "[FAIL] schema" not in run.stdout


@pytest.mark.skipif(
    NODE is None or not SECVISOGRAM.is_dir(), reason="node or the secvisogram library is absent"
)
def test_the_secvisogram_validator_library_passes_every_export(tmp_path: Path) -> None:
    files = _write_csaf(tmp_path)
    assert NODE is not None
    run = subprocess.run(  # pinned library, our script, fixed arguments
        [NODE, str(Path(__file__).with_name("csaf_validator_lib.mjs")), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(files), run.stderr
    failed = [r for r in results if not r["isValid"]]
    assert failed == [], failed[:3]


def _write_csaf(directory: Path) -> list[Path]:
    """Every advisory's security advisory, and the first 30 as VEX too (the validators take
    about 0.2 s a document: all of both profiles would add a minute to the suite)."""
    files = []
    for index, advisory in enumerate(advisories()):
        for profile in CsafProfile if index < 30 else [CsafProfile.SECURITY_ADVISORY]:
            path = directory / f"{profile.value}-{csaf_filename(advisory.id)}"
            path.write_text(json.dumps(csaf_of(advisory, profile)))
            files.append(path)
    return files


def test_cve_records_pass_their_schema_and_do_not_claim_the_assignment() -> None:
    exported = 0
    for advisory in advisories():
        if not any(i.startswith("CVE-") for i in advisory.identifiers):
            continue
        record = advisory_to_cve5(advisory, CLEARINGHOUSE, f"https://c.example/{advisory.id}")
        assert schema_problems(record, Standard.CVE5) == [], advisory.id
        metadata = record["cveMetadata"]
        assert metadata["assignerOrgId"] == str(UNKNOWN_ASSIGNER.org_id)
        assert "assignerShortName" not in metadata
        cna = record["containers"]["cna"]
        assert cna["providerMetadata"]["orgId"] != str(CLEARINGHOUSE.org_id)
        if metadata["state"] == "PUBLISHED":
            urls = [r["url"] for r in cna["references"]]
            assert len(urls) == len(set(urls)), advisory.id
            (adp,) = record["containers"]["adp"]
            assert adp["providerMetadata"]["orgId"] == str(CLEARINGHOUSE.org_id)
        exported += 1
    assert exported > 250


def test_a_url_listed_twice_with_two_types_is_one_reference_with_both_tags() -> None:
    advisory = advisories()[0]
    url = "https://github.com/example/project/commit/1"
    twice = advisory.model_copy(
        update={
            "references": [
                *advisory.references,
                *[
                    r.model_copy(update={"url": url, "type": t})
                    for r in advisory.references[:1]
                    for t in ("FIX", "WEB", "EVIDENCE")
                ],
            ],
            "aliases": [*advisory.aliases, "CVE-2099-0001"],
        }
    )
    record = advisory_to_cve5(twice, CLEARINGHOUSE, "https://c.example/a")
    (entry,) = [r for r in record["containers"]["cna"]["references"] if r["url"] == url]
    assert entry["tags"] == ["exploit", "patch"]
    assert schema_problems(record, Standard.CVE5) == []


def test_the_assigning_cna_is_named_only_when_it_is_known() -> None:
    advisory = next(a for a in advisories() if any(x.startswith("CVE-") for x in a.aliases))
    record = advisory_to_cve5(
        advisory, CLEARINGHOUSE, "https://c.example/a", assigned_by=CLEARINGHOUSE
    )
    assert record["cveMetadata"]["assignerShortName"] == "prereview"
    assert "adp" not in record["containers"]  # the CNA's own container says it all
    assert schema_problems(record, Standard.CVE5) == []


def test_stix_bundles_pass_strict_validation() -> None:
    options = ValidationOptions(strict=True)
    for advisory in advisories():
        bundle = advisory_to_stix(
            advisory, "prereview clearinghouse", f"https://c.example/{advisory.id}"
        )
        result = validate_instance(bundle, options)
        assert result.is_valid, (advisory.id, [str(e) for e in result.errors])
        (vulnerability,) = [o for o in bundle["objects"] if o["type"] == "vulnerability"]
        references = vulnerability["external_references"]
        cve = next((i for i in advisory.identifiers if i.startswith("CVE-")), None)
        if cve is not None:
            assert references[0] == {"source_name": "cve", "external_id": cve}
            assert vulnerability["name"] == cve
        assert vulnerability.get("revoked", False) is (advisory.withdrawn is not None)
        for reference in advisory.references:  # the links are kept, in words
            assert str(reference.url) in vulnerability["description"]


def test_osv_exports_pass_the_osv_schema() -> None:
    for advisory in advisories():
        assert schema_problems(advisory_to_osv(advisory), Standard.OSV) == [], advisory.id
