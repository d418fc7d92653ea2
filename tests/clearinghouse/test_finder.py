"""The duplicate finder proposes rewrites of a report and not different bugs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from prereview.clearinghouse.dedup.evidence import (
    Evidence,
    evidence_of_document,
    evidence_of_report,
)
from prereview.clearinghouse.dedup.finder import (
    DedupConfig,
    DuplicateFinder,
    extract_code_locations,
    normalise_text,
)
from prereview.clearinghouse.dedup.labelled import build_labelled_set, evaluate
from prereview.exchange.osv import load_osv
from prereview.vulnerability.report import parse_report

ORIGINAL = (
    "Heap overflow in libnetparse DNS name decompression. dns_expand_name() in src/dns.c follows "
    "compression pointers while copying labels into a fixed 256-byte output buffer, but it checks "
    "the remaining space only after appending each label. A response whose pointers assemble a "
    "name longer than 255 bytes writes past the buffer, and the overflow content is attacker "
    "controlled. Fixed in 1.14.2 by checking the length before each copy."
)
REWRITE = (
    "Reported under coordinated disclosure. A response whose pointers assemble a name longer "
    "than 255 bytes writes past the buffer. dns_expand_name() in src/dns.c follows compression "
    "pointers while copying labels into a fixed 256-byte output buffer, but it verifies the "
    "remaining space only after appending each label."
)
TWIN = ORIGINAL.replace("dns_expand_name", "mdns_read_label").replace("src/dns.c", "src/mdns.c")
PACKAGE = ["pkg:conan/libnetparse"]


def test_a_rewritten_report_is_proposed_with_its_similarity() -> None:
    finder = DuplicateFinder()
    assert finder.add("A", ORIGINAL, PACKAGE, ["CWE-787"]) == []
    candidates = finder.add("B", REWRITE, PACKAGE, ["CWE-787"])
    assert [c.report_id for c in candidates] == ["A"]
    assert candidates[0].similarity >= DedupConfig().threshold
    assert candidates[0].same_code
    assert candidates[0].packages == ("pkg:conan/libnetparse",)
    assert candidates[0].cwes == ("CWE-787",)


def test_same_template_about_other_code_is_not_a_duplicate() -> None:
    finder = DuplicateFinder()
    finder.add("A", ORIGINAL, PACKAGE, ["CWE-787"])
    assert finder.query(TWIN, PACKAGE, ["CWE-787"]) == []
    assert finder.query(ORIGINAL, PACKAGE, ["CWE-787"])[0].report_id == "A"


def test_other_product_or_other_cwe_is_never_proposed() -> None:
    finder = DuplicateFinder()
    finder.add("A", ORIGINAL, PACKAGE, ["CWE-787"])
    assert finder.query(ORIGINAL, ["pkg:conan/otherlib"], ["CWE-787"]) == []
    assert finder.query(ORIGINAL, PACKAGE, ["CWE-125"]) == []
    # A report without a CWE is compared on product, text and code alone.
    assert [c.report_id for c in finder.query(ORIGINAL, PACKAGE, [])] == ["A"]


def test_the_index_is_incremental_and_forgets_removed_reports() -> None:
    finder = DuplicateFinder()
    finder.add("A", ORIGINAL, PACKAGE, ["CWE-787"])
    assert "A" in finder
    assert len(finder) == 1
    with pytest.raises(ValueError, match="already indexed"):
        finder.add("A", ORIGINAL, PACKAGE)
    finder.remove("A")
    assert finder.query(ORIGINAL, PACKAGE, ["CWE-787"]) == []
    assert len(finder) == 0


def test_domain_reports_are_indexed_by_title_description_products_and_code() -> None:
    base = {
        "reporter": "Bank",
        "affected": [{"purl": "pkg:conan/libnetparse@1.14.0"}],
        "cwes": ["CWE-787"],
        "code_locations": ["src/dns.c:dns_expand_name"],
        "title": "DNS overflow",
    }
    finder = DuplicateFinder()
    first = parse_report({**base, "id": "R-1", "description": ORIGINAL})
    second = parse_report({**base, "id": "R-2", "description": REWRITE})
    other = parse_report(
        {**base, "id": "R-3", "description": TWIN, "code_locations": ["src/mdns.c:mdns_read_label"]}
    )
    assert finder.add_report(first) == []
    assert [c.report_id for c in finder.query_report(second)] == ["R-1"]
    assert finder.query_report(other) == []


def _names(*names: str) -> Evidence:
    return Evidence(names=frozenset(names))


def test_different_cves_are_never_duplicates_however_alike_their_text() -> None:
    finder = DuplicateFinder()
    finder.add("A", ORIGINAL, PACKAGE, ["CWE-787"], evidence=_names("A", "CVE-2026-1000"))
    assert finder.query(ORIGINAL, PACKAGE, ["CWE-787"], evidence=_names("B", "CVE-2026-1001")) == []
    # The same CVE joins them, named by either side, whatever the text.
    (found,) = finder.query("Another text", PACKAGE, evidence=_names("B", "CVE-2026-1000"))
    assert (found.report_id, found.evidence) == ("A", "identifier")
    assert [c.report_id for c in finder.query("x", PACKAGE, evidence=_names("B", "A"))] == ["A"]
    # One CVE in another package is a related record, never a duplicate.
    other = ["pkg:conan/libnetparse-gpu"]
    assert finder.query(ORIGINAL, other, evidence=_names("C", "CVE-2026-1000")) == []


def test_proposals_never_chain_through_a_third_report() -> None:
    """B names GHSA one and two, A names one, C names two: B~A and C~B, never C~A."""
    finder = DuplicateFinder()
    ghsa_one, ghsa_two = "GHSA-aaaa-bbbb-cccc", "GHSA-dddd-eeee-ffff"
    assert finder.add("A", "Alpha text", PACKAGE, evidence=_names("A", ghsa_one)) == []
    second = finder.add("B", "Beta words", PACKAGE, evidence=_names("B", ghsa_one, ghsa_two))
    assert [c.report_id for c in second] == ["A"]
    third = finder.add("C", "Gamma prose", PACKAGE, evidence=_names("C", ghsa_two))
    assert [c.report_id for c in third] == ["B"]


def test_templated_text_without_code_ranges_or_ids_is_not_evidence() -> None:
    template = (
        "TensorFlow is an open source platform for machine learning. In affected versions an "
        "attacker can trigger a denial of service via a crafted input. The fix will be included "
        "in TensorFlow 2.7.0. We will also cherrypick this commit on TensorFlow 2.6.1."
    )
    finder = DuplicateFinder()
    finder.add("T-1", template + " The check on shapes is missing.", ["pkg:pypi/tensorflow"])
    assert finder.query(template + " The rank is not validated.", ["pkg:pypi/tensorflow"]) == []


def _osv_like(report_id: str, fix: str, details: str) -> dict[str, Any]:
    return {
        "id": report_id,
        "title": "XSS",
        "description": details,
        "reporter": "PyPA",
        "affected": [
            {
                "purl": "pkg:pypi/modoboa",
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://github.com/modoboa/modoboa",
                        "events": [
                            {"kind": "introduced", "version": "0"},
                            {"kind": "fixed", "version": fix},
                        ],
                    },
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"kind": "introduced", "version": "0"},
                            {"kind": "fixed", "version": "2.0.4"},
                        ],
                    },
                ],
            }
        ],
        "references": [{"url": f"https://github.com/modoboa/modoboa/commit/{fix}", "type": "FIX"}],
    }


def test_a_fix_commit_and_ranges_tell_copies_from_template_twins() -> None:
    details = (
        "Cross-site Scripting (XSS) - Stored in GitHub repository modoboa/modoboa prior to 2.0.4."
    )
    first = parse_report(_osv_like("M-1", "a" * 40, details))
    twin = parse_report(_osv_like("M-2", "b" * 40, details))
    copy = parse_report(_osv_like("M-3", "a" * 40, details))
    # What the index rebuilds from a stored document is what intake saw.
    assert evidence_of_document(first.model_dump(mode="json")) == evidence_of_report(first)
    assert evidence_of_report(first).commits == {"aaaaaaa"}
    finder = DuplicateFinder()
    finder.add_report(first)
    assert finder.add_report(twin) == []  # the same text, fixed by another commit
    found = finder.add_report(copy)
    assert [(c.report_id, c.evidence) for c in found] == [("M-1", "fix")]
    # Its own fix commit, but other affected versions: the ranges outweigh the commit.
    shifted = _osv_like("M-4", "a" * 40, details)
    shifted["affected"][0]["ranges"] = shifted["affected"][0]["ranges"][1:]
    shifted["affected"][0]["ranges"][0]["events"][1]["version"] = "2.0.5"
    assert finder.query_report(parse_report(shifted)) == []


def test_code_locations_come_from_text_and_explicit_locations() -> None:
    found = extract_code_locations(
        "read_header() in lib/http/parse.c calls Frame::allocate and parseFlowNode, see the "
        "Node.js docs under lib/session_store/x.rb.",
        ["src/frame.rs:Frame::grow"],
    )
    assert found.files == {"parse.c", "x.rb", "frame.rs"}
    assert {
        "read_header",
        "frame::allocate",
        "allocate",
        "parseflownode",
        "grow",
    } <= found.functions
    assert "session_store" not in found.functions
    assert (
        normalise_text("\uff26\uff55\uff4c\uff4c-width, UPPER; dots.c") == "full-width upper dots.c"
    )


def test_lsh_parameters_follow_the_configuration() -> None:
    bands, rows = DedupConfig(num_perm=128, lsh_threshold=0.3).lsh_params()
    assert bands * rows <= 128
    _, strict_rows = DedupConfig(num_perm=128, lsh_threshold=0.8).lsh_params()
    assert strict_rows > rows


def test_the_labelled_benchmark_set_is_found_with_high_f1() -> None:
    corpus = (
        Path(__file__).resolve().parents[2]
        / "src/prereview/clearinghouse/data/seed_advisories.yaml"
    )
    seeds = load_osv(corpus.read_text("utf-8"), reporter="test")
    rng = random.Random(5)
    items = build_labelled_set(seeds, rng, 0, 4)
    rng.shuffle(items)
    twins = [i for i in items if ":twin" in i.cluster]
    assert len(twins) == 4 * len(seeds)  # two twins per seed, each with one rewrite
    result = evaluate(items, DedupConfig())
    assert result["f1"] >= 0.9
    assert result["precision"] >= 0.9
