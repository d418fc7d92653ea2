"""The real-data duplicate benchmark: PyPA advisories, their known duplicates, and how to score.

The labelled set (``tests/data/dedup-real``, built by ``benchmarks/dedup_real.py --build``
from the PyPA advisory database) holds report documents (the shape of a stored report:
``id``, ``title``, ``description``, ``aliases``, ``affected`` with ranges, ``references``) and
labels: ``duplicates`` (two records of one vulnerability in one package, with where the
label comes from) and ``related`` (one CVE in two packages: distinct records, linked by the
CVE, never collapsed). Hard negatives need no label: two records of one package naming
different CVEs are different vulnerabilities.

It lives here, beside the finder, so that the test suite and the benchmark score the same way.
Three modes say what the finder is given:

- ``stated``: the records as published, identifiers and all (what an import of PyPA sees);
- ``one_side``: the second record of each duplicate pair loses its identifiers (its id is
  replaced, aliases and the references naming them removed), as a model-found report that
  has no CVE yet would arrive: the pair must be found on text, ranges, fixes and code;
- ``none``: every record loses its identifiers: text and structure alone.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from prereview.clearinghouse.dedup.evidence import evidence_of_document
from prereview.clearinghouse.dedup.finder import DedupConfig, DuplicateCandidate, DuplicateFinder

Mode = Literal["stated", "one_side", "none"]
MODES: tuple[Mode, ...] = ("stated", "one_side", "none")
Pair = tuple[str, str]


def pair(first: str, second: str) -> Pair:
    """A pair of record ids in a fixed order."""
    return (first, second) if first <= second else (second, first)


@dataclass(frozen=True)
class LabelledSet:
    """Report documents by id, the known duplicate pairs and the related (cross-package) ones."""

    records: dict[str, dict[str, Any]]
    duplicates: dict[Pair, str]  # pair -> where the label comes from
    related: frozenset[Pair]
    # The record of each duplicate pair that came second (deleted later, or re-sent).
    second: frozenset[str]

    def package(self, record_id: str) -> str:
        """The package key of a record (the first product's purl, without version)."""
        products = self.records[record_id].get("affected") or [{}]
        return str(products[0].get("purl") or "").split("@", 1)[0].lower()

    def cves(self, record_id: str) -> frozenset[str]:
        return evidence_of_document(self.records[record_id]).cves

    def hard_negatives(self) -> set[Pair]:
        """Pairs of one package whose records name different CVE ids (templated siblings)."""
        by_package: dict[str, list[str]] = defaultdict(list)
        for record_id in self.records:
            by_package[self.package(record_id)].append(record_id)
        cves = {record_id: self.cves(record_id) for record_id in self.records}
        negatives: set[Pair] = set()
        for ids in by_package.values():
            for first, second in combinations(sorted(ids), 2):
                a, b = cves[first], cves[second]
                if a and b and not a & b and pair(first, second) not in self.duplicates:
                    negatives.add(pair(first, second))
        return negatives


def load_labelled_set(directory: Path) -> LabelledSet:
    """The set shipped in ``directory`` (``records.jsonl`` and ``labels.json``)."""
    lines = (directory / "records.jsonl").read_text("utf-8").splitlines()
    records = {doc["id"]: doc for doc in map(json.loads, filter(None, lines))}
    labels = json.loads((directory / "labels.json").read_text("utf-8"))
    duplicates = {pair(*entry["pair"]): str(entry["source"]) for entry in labels["duplicates"]}
    related = frozenset(pair(*entry) for entry in labels["related"])
    return LabelledSet(records, duplicates, related, frozenset(labels["second"]))


def strip_identifiers(document: Mapping[str, Any], new_id: str) -> dict[str, Any]:
    """The document as a report without identifiers would be: another id, no aliases, and no
    reference or title naming one (an NVD or GHSA URL is an identifier in disguise)."""
    names = {str(document["id"]), *map(str, document.get("aliases") or [])}
    stripped = dict(document)
    stripped["id"] = new_id
    stripped["aliases"] = []
    stripped["references"] = [
        reference
        for reference in document.get("references") or []
        if not any(name.lower() in str(reference.get("url", "")).lower() for name in names)
    ]
    if stripped.get("title") in names:
        stripped["title"] = ""
    return stripped


def _stream(labelled: LabelledSet, mode: Mode, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(true id, document as the finder gets it), in a fixed random order."""
    stream: list[tuple[str, dict[str, Any]]] = []
    for number, (record_id, document) in enumerate(sorted(labelled.records.items())):
        hide = mode == "none" or (mode == "one_side" and record_id in labelled.second)
        shown = strip_identifiers(document, f"x_anon-{number}") if hide else document
        stream.append((record_id, shown))
    random.Random(seed).shuffle(stream)  # noqa: S311 - an arrival order, not a secret
    return stream


def _add(finder: DuplicateFinder, document: Mapping[str, Any]) -> list[DuplicateCandidate]:
    return finder.add(
        str(document["id"]),
        f"{document.get('title', '')}\n{document.get('description', '')}",
        [key for key in {_package_key(p) for p in document.get("affected") or []} if key],
        document.get("cwes") or [],
        document.get("code_locations") or [],
        evidence_of_document(document),
    )


def _package_key(product: Mapping[str, Any]) -> str:
    return str(product.get("purl") or "").split("@", 1)[0].lower()


def _joins_alone(config: DedupConfig, first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether a finder holding only ``first`` proposes it for ``second``: the pair's own
    evidence, with no third record in reach."""
    finder = DuplicateFinder(config)
    _add(finder, first)
    return any(c.report_id == first["id"] for c in _add(finder, second))


def evaluate(
    labelled: LabelledSet, mode: Mode, config: DedupConfig | None = None, seed: int = 14
) -> dict[str, Any]:
    """Precision, recall and F1 of the finder in one mode, with what its proposals rest on.

    A *chain merge* is a proposed pair that a finder holding only those two records would not
    propose: it was made through a third record.
    """
    config = config or DedupConfig()
    finder = DuplicateFinder(config)
    shown: dict[str, dict[str, Any]] = {}
    true_id: dict[str, str] = {}
    predicted: dict[Pair, str] = {}
    for record_id, document in _stream(labelled, mode, seed):
        shown[record_id] = document
        true_id[str(document["id"])] = record_id
        for candidate in _add(finder, document):
            predicted[pair(record_id, true_id[candidate.report_id])] = candidate.evidence
    truth = set(labelled.duplicates)
    found = set(predicted) & truth
    precision = len(found) / len(predicted) if predicted else 1.0
    recall = len(found) / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    chains = sum(
        not (_joins_alone(config, shown[a], shown[b]) or _joins_alone(config, shown[b], shown[a]))
        for a, b in predicted
    )
    negatives = labelled.hard_negatives()
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
        "found_pairs": len(found),
        "chain_merges": chains,
        "hard_negative_pairs": len(negatives),
        "hard_negatives_proposed": len(set(predicted) & negatives),
        "related_pairs": len(labelled.related),
        "related_proposed": len(set(predicted) & labelled.related),
        "evidence": _count(predicted[p] for p in found),
        "false_evidence": _count(predicted[p] for p in set(predicted) - truth),
        "missed": sorted(f"{a}~{b}" for a, b in truth - found),
        "false": sorted(f"{a}~{b}" for a, b in set(predicted) - truth),
    }


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))


__all__ = [
    "MODES",
    "LabelledSet",
    "Mode",
    "evaluate",
    "load_labelled_set",
    "pair",
    "strip_identifiers",
]
