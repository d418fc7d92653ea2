"""The duplicate finder on real advisories (``tests/data/dedup-real``, from the PyPA database).

Attacks: the known real duplicates must be found, with and without the identifiers that link
them; different CVEs of one package (templated text, one release's ranges, even the very same
text) must never be proposed; one CVE under several packages (``tensorflow-gpu``) is related,
never a duplicate; and no pair may be proposed through a third record.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from prereview.clearinghouse.dedup.evidence import evidence_of_document
from prereview.clearinghouse.dedup.finder import DuplicateFinder
from prereview.clearinghouse.dedup.realset import (
    LabelledSet,
    evaluate,
    load_labelled_set,
    pair,
    strip_identifiers,
)
from support.factories import Platform

DATA = Path(__file__).parents[1] / "data" / "dedup-real"


@cache
def labelled() -> LabelledSet:
    return load_labelled_set(DATA)


def _same_package(labels: LabelledSet, first: str, second: str) -> bool:
    return labels.package(first) == labels.package(second)


def test_the_shipped_set_is_real_labelled_and_small() -> None:
    labels = labelled()
    assert sum(f.stat().st_size for f in DATA.iterdir()) < 5 * 1024 * 1024
    assert "Attribution 4.0 International" in (DATA / "LICENSE").read_text("utf-8")
    assert len(labels.duplicates) >= 100
    assert set(labels.second) <= {i for p in labels.duplicates for i in p}
    for first, second in labels.duplicates:
        # Each label is two records naming one CVE, in one package directory of the source.
        assert labels.cves(first) & labels.cves(second)
        paths = [labels.records[i]["source"]["path"].split("/")[1] for i in (first, second)]
        assert paths[0] == paths[1]
    for first, second in labels.related:
        assert labels.cves(first) & labels.cves(second)
        assert not _same_package(labels, first, second)


def test_records_as_published_every_real_pair_found_and_no_other() -> None:
    labels = labelled()
    result = evaluate(labels, "stated")
    joinable = {p for p in labels.duplicates if _same_package(labels, *p)}
    assert len(joinable) == len(labels.duplicates) - 1  # the 'f-ask' typo of flask
    assert set(result["missed"]) == {f"{a}~{b}" for a, b in set(labels.duplicates) - joinable}
    assert result["false"] == []
    assert result["hard_negatives_proposed"] == 0
    assert result["related_proposed"] == 0
    assert result["chain_merges"] == 0


def test_without_the_identifiers_of_one_side_precision_and_recall_hold() -> None:
    """The model-found case: the second report of each pair arrives with no CVE, no alias."""
    result = evaluate(labelled(), "one_side")
    assert result["precision"] >= 0.99
    assert result["recall"] >= 0.9
    assert result["hard_negatives_proposed"] == 0
    assert result["related_proposed"] == 0
    assert result["chain_merges"] == 0
    assert set(result["evidence"]) <= {"fix", "ranges_and_text", "code_and_text"}


def _add(finder: DuplicateFinder, document: dict[str, Any]) -> list[str]:
    found = finder.add(
        document["id"],
        f"{document['title']}\n{document['description']}",
        [document["affected"][0]["purl"]],
        document.get("cwes") or [],
        evidence=evidence_of_document(document),
    )
    return [c.report_id for c in found]


def test_one_text_for_two_cves_is_two_vulnerabilities_even_without_ids() -> None:
    """modoboa: two CVEs whose records have the very same text and ranges; their fix commits
    differ, which tells them apart when the ids are gone."""
    records = labelled().records
    first, second = records["PYSEC-2023-30"], records["PYSEC-2023-31"]
    assert first["description"] == second["description"]
    finder = DuplicateFinder()
    assert _add(finder, first) == []
    assert _add(finder, second) == []
    # Each record re-sent without its ids is found as itself, by its fix commit, not its twin.
    assert _add(finder, strip_identifiers(second, "x_again-31")) == ["PYSEC-2023-31"]
    assert _add(finder, strip_identifiers(first, "x_again-30")) == ["PYSEC-2023-30"]


def test_a_shared_ghsa_does_not_join_two_cves() -> None:
    """accesscontrol: two records of different CVEs both name GHSA-qcx9-j53g-ccgf."""
    records = labelled().records
    first, second = records["PYSEC-2021-370"], records["PYSEC-2021-335"]
    assert "GHSA-qcx9-j53g-ccgf" in set(first["aliases"]) & set(second["aliases"])
    finder = DuplicateFinder()
    _add(finder, first)
    assert _add(finder, second) == []
    assert pair("PYSEC-2021-370", "PYSEC-2021-335") in labelled().hard_negatives()


def test_one_cve_in_three_packages_is_three_records_never_duplicates() -> None:
    labels = labelled()
    cve = "CVE-2021-29513"
    family = [r for r in labels.records.values() if cve in r["aliases"]]
    assert {labels.package(r["id"]) for r in family} >= {
        "pkg:pypi/tensorflow",
        "pkg:pypi/tensorflow-gpu",
        "pkg:pypi/tensorflow-cpu",
    }
    finder = DuplicateFinder()
    assert [_add(finder, record) for record in family] == [[] for _ in family]


def _jsonl(documents: list[dict[str, Any]]) -> bytes:
    drop = {"source"}
    return "\n".join(
        json.dumps({k: v for k, v in d.items() if k not in drop}) for d in documents
    ).encode()


def test_an_import_proposes_the_real_duplicate_and_not_its_neighbours(
    platform: Platform,
) -> None:
    """Through the bulk API: a live duplicate pair (distributed), one CVE in two packages
    (tensorflow, tensorflow-gpu), and modoboa's two CVEs with one text."""
    records = labelled().records
    chosen = ["PYSEC-2021-871", "PYSEC-2021-872", "PYSEC-2023-30", "PYSEC-2023-31"]
    chosen += [
        r["id"]
        for r in records.values()
        if "CVE-2021-29513" in r["aliases"]
        and r["affected"][0]["purl"] in {"pkg:pypi/tensorflow", "pkg:pypi/tensorflow-gpu"}
    ]
    assert len(chosen) == 6
    answer = platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        200,
        content=_jsonl([records[i] for i in chosen]),
        params={"format": "jsonl"},
    ).json()
    assert answer["counts"]["accepted"] == len(chosen)
    proposals = platform.call("clearinghouse", "GET", "/clearinghouse/duplicates", 200).json()
    assert [pair(p["report_id"], p["candidate_id"]) for p in proposals["items"]] == [
        ("PYSEC-2021-871", "PYSEC-2021-872")
    ]
