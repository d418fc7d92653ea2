"""The packaged schemas are the standards' own, and validation is offline and exhaustive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prereview.exchange.errors import InvalidExchangeDocument
from prereview.exchange.validation import Standard, require_valid, schema_problems, schema_set

STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "standards"
PACKAGED = Path(__file__).resolve().parents[2] / "src/prereview/exchange/schemas"
needs_standards = pytest.mark.skipif(
    not STANDARDS.is_dir(), reason="shared/standards is not checked out beside the repo"
)


@needs_standards
@pytest.mark.parametrize(
    ("packaged", "original"),
    [
        ("osv_schema.json", "osv/schema.json"),
        ("csaf_json_schema.json", "csaf/json_schema/csaf_json_schema.json"),
        ("cvss-v2.0.json", "csaf/referenced_schema/first/cvss-v2.0.json"),
        ("cvss-v3.0.json", "csaf/referenced_schema/first/cvss-v3.0.json"),
        ("cvss-v3.1.json", "csaf/referenced_schema/first/cvss-v3.1.json"),
        ("CVE_JSON_bundled_5.1.1.json", "cve5/CVE_JSON_bundled_5.1.1.json"),
    ],
)
def test_packaged_schemas_are_verbatim_copies(packaged: str, original: str) -> None:
    assert (PACKAGED / packaged).read_bytes() == (STANDARDS / original).read_bytes()


@needs_standards
def test_every_official_csaf_example_satisfies_the_official_schema() -> None:
    examples = sorted((STANDARDS / "csaf/examples/csaf").rglob("*.json"))
    assert len(examples) >= 19
    official = schema_set(STANDARDS)
    for example in examples:
        assert official.problems(json.loads(example.read_text()), Standard.CSAF) == [], example.name


@needs_standards
def test_a_bad_cvss_object_in_csaf_is_checked_against_first_s_schema() -> None:
    document = json.loads((STANDARDS / "csaf/examples/csaf/bsi-2022-0001.json").read_text())
    document["vulnerabilities"][0]["scores"] = [
        {
            "products": ["CSAFPID-0001"],
            "cvss_v3": {
                "version": "3.1",
                "vectorString": "nope",
                "baseScore": 11,
                "baseSeverity": "LOW",
            },
        }
    ]
    problems = schema_problems(document, Standard.CSAF)
    paths = {p["path"] for p in problems}
    assert "$.vulnerabilities[0].scores[0].cvss_v3.vectorString" in paths
    assert "$.vulnerabilities[0].scores[0].cvss_v3.baseScore" in paths


def test_every_problem_of_a_document_is_listed_in_document_order() -> None:
    record = {"id": "NOT-A-PREFIX", "modified": "2026-01-01", "affected": [{"versions": "1.0"}]}
    with pytest.raises(InvalidExchangeDocument) as caught:
        require_valid(record, Standard.OSV)
    error = caught.value
    assert error.status == 422
    assert error.slug == "exchange-invalid-document"
    assert [p["path"] for p in error.problems] == ["$.affected[0].versions", "$.id", "$.modified"]
    assert error.problem()["errors"] == error.problems
