"""The duplicate finder proposes rewrites of a report and not different bugs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

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
    # A report without a CWE is compared on product and text alone.
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
