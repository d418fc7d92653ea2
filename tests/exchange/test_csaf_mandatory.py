"""The mandatory tests of CSAF 2.0 (section 6.1) against the OASIS conformance documents.

Every document the OASIS TC marks valid must be accepted by the import; every one it marks
invalid for test 6.1.XX must be refused as a whole, naming that test and a path.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from prereview.exchange.csaf_import import load_csaf, require_conformant
from prereview.exchange.csaf_tests import mandatory_findings, mandatory_tests
from prereview.exchange.csaf_tests._languages import language_problem
from prereview.exchange.csaf_tests._vulnerabilities import cwe_names
from prereview.exchange.errors import FailsCsafMandatoryTests

CONFORMANCE = Path(__file__).resolve().parents[1] / "data" / "csaf-conformance" / "mandatory"
_NAME = re.compile(r"-2021-6-1-(\d\d)(?:-(\d\d))?-(\d\d)\.json$")


def _expected(path: Path) -> tuple[str, bool]:
    """The test a conformance document is about and whether it is valid (by its file name)."""
    match = _NAME.search(path.name)
    assert match is not None, path.name
    test, sub, number = match.groups()
    name = f"6.1.{int(test)}" + (f".{int(sub)}" if sub else "")
    return name, int(number) >= 10


DOCUMENTS = sorted(CONFORMANCE.glob("*.json"))
VALID = [p for p in DOCUMENTS if _expected(p)[1]]
INVALID = [p for p in DOCUMENTS if not _expected(p)[1]]


def test_the_conformance_set_is_complete() -> None:
    assert (len(VALID), len(INVALID)) == (60, 87)
    listed = json.loads((CONFORMANCE.parent / "testcases.json").read_text())
    named = {
        Path(f["name"]).name
        for t in listed["tests"]
        for kind in ("failures", "valid")
        for f in t.get(kind, [])
        if t["group"] == "mandatory"
    }
    assert named == {p.name for p in DOCUMENTS}
    # Every test of section 6.1 is implemented, and every one has a failing document.
    numbers = {test.number for test in mandatory_tests()}
    assert numbers == {_expected(p)[0] for p in INVALID}
    assert len(numbers) == 43


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name[-14:-5])
def test_a_valid_conformance_document_is_accepted(path: Path) -> None:
    document = json.loads(path.read_text())
    assert mandatory_findings(document) == []
    require_conformant(document)  # schema and mandatory tests: nothing raised
    load_csaf(path.read_bytes(), reporter="OASIS")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name[-14:-5])
def test_an_invalid_conformance_document_is_refused_with_its_test(path: Path) -> None:
    test, _ = _expected(path)
    with pytest.raises(FailsCsafMandatoryTests) as refused:
        load_csaf(path.read_bytes(), reporter="OASIS")
    problem = refused.value.problem()
    assert problem["type"] == "urn:prereview:problem:exchange-csaf-mandatory-test-failed"
    assert problem["status"] == 422
    assert test in problem["tests"]
    ours = [e for e in problem["errors"] if e["test"] == test]
    assert ours and all(e["path"].startswith("$") and e["message"] for e in ours)
    assert test in problem["detail"]


def test_paths_point_at_the_fault() -> None:
    document = _load("6-1-01-01")
    (finding,) = [f for f in mandatory_findings(document) if f.test == "6.1.1"][:1]
    assert finding.path == "$.product_tree.product_groups[0].product_ids[0]"
    cvss = _load("6-1-08-01")
    paths = {f.path for f in mandatory_findings(cvss) if f.test == "6.1.8"}
    assert any(p.startswith("$.vulnerabilities[0].scores[0].cvss_v3") for p in paths)


def _load(stem: str) -> Any:
    return json.loads((CONFORMANCE / f"oasis_csaf_tc-csaf_2_0-2021-{stem}.json").read_text())


def test_a_wrong_score_is_caught_even_when_the_vector_is_valid() -> None:
    document = _load("6-1-09-11")
    assert mandatory_findings(document) == []
    cvss = document["vulnerabilities"][0]["scores"][0]
    member = "cvss_v3" if "cvss_v3" in cvss else "cvss_v2"
    cvss[member]["baseScore"] = 0.1 if cvss[member]["baseScore"] != 0.1 else 0.2
    assert "6.1.9" in {f.test for f in mandatory_findings(document)}


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("en", True),
        ("en-US", True),
        ("de-CH-1996", True),
        ("zh-Hant-TW", True),
        ("sr-Latn-RS", True),
        ("i-klingon", True),
        ("x-private", True),
        ("en-a-bbb-x-a-ccc", True),
        ("qaa", True),
        ("EZ", False),
        ("en-UK", False),
        ("xx", False),
        ("de-CH-1996-1996", False),
        ("en-a-bbb-a-ccc", False),
        ("en-Zzzq", False),
    ],
)
def test_language_tags_are_checked_against_the_iana_registry(tag: str, valid: bool) -> None:
    assert (language_problem(tag) is None) is valid, language_problem(tag)


@pytest.mark.skipif(find_spec("csaf") is None, reason="the csaf validator package is absent")
def test_the_vendored_reference_data_agrees_with_the_csaf_package() -> None:
    catalogue = json.loads(
        resources.files("csaf").joinpath("csaf", "v21", "cwe", "catalog.json").read_text()
    )
    latest = {f"CWE-{n}": e["history"][-1][1] for n, e in catalogue["weaknesses"].items()}
    assert {cwe: names[-1] for cwe, names in cwe_names().items()} == latest
