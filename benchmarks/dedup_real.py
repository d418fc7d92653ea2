"""Precision, recall and F1 of the duplicate finder on real advisories (the PyPA database).

The labelled set is ``tests/data/dedup-real`` (see its README): real PyPA advisory records and
their real duplicates, the records the database itself deleted as duplicates of a live one
(``removing several duplicates (#25)``, placeholder ``PYSEC-0000-…`` records replaced by their
assigned id) and live records naming one CVE twice in one package. Hard negatives are every
pair of records of one package naming different CVEs (templated advisories: TensorFlow,
Django, …); ``related`` pairs are one CVE in two packages (``tensorflow``/``tensorflow-gpu``):
distinct records, linked by the CVE, which must never be proposed as duplicates.

Each record is added in a fixed random order, as ingest does, and what the finder proposes is
compared with the labels, in three modes (what the finder is given, see
:mod:`prereview.clearinghouse.dedup.realset`):

- ``stated``: records as published, identifiers and all;
- ``one_side``: the second record of every duplicate pair stripped of its identifiers (its id,
  aliases, and the references naming them), as a model-found report without a CVE arrives:
  the headline figure, since it does not hand the finder the aliases that link the pair;
- ``none``: every record stripped: text and structure alone.

Prints one JSON line: the ``one_side`` figures at the top (precision, recall, f1, pairs,
chain_merges) and every mode under ``modes``. ``--build MIRROR`` instead rebuilds the set from
a clone (bare or not) of https://github.com/pypa/advisory-database.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from prereview.clearinghouse.dedup.finder import DedupConfig
from prereview.clearinghouse.dedup.realset import MODES, evaluate, load_labelled_set, pair

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "dedup-real"
_DUPLICATE_COMMITS = ("removing several duplicates", "deduplication", "Assign IDs", "Delete PYSEC")
# Records of other packages than the chosen ones, for random pairs (by SHA-256 of the path).
_OTHERS = 300


def _git(mirror: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "-C", str(mirror), *args], input=data, capture_output=True, check=True
    ).stdout


def _cat(mirror: Path, objects: list[str]) -> list[bytes]:
    """The contents of ``rev:path`` objects, in one ``git cat-file --batch``."""
    out = _git(mirror, "cat-file", "--batch", data="\n".join(objects).encode() + b"\n")
    contents: list[bytes] = []
    position = 0
    while position < len(out):
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        contents.append(out[header_end + 1 : header_end + 1 + size])
        position = header_end + 1 + size + 1
    return contents


def _events(raw: dict[str, Any]) -> list[dict[str, str]]:
    """OSV range events (``{"introduced": "0"}``) or a pre-OSV range's fields, as kind/version."""
    if "events" in raw:
        pairs = [(k, str(v)) for event in raw["events"] for k, v in event.items()]
    else:  # the database's format before OSV: introduced/fixed on the range itself
        pairs = [("introduced", str(raw.get("introduced", "0")))]
        pairs += [(k, str(raw[k])) for k in ("fixed", "last_affected") if k in raw]
    return [{"kind": kind, "version": version} for kind, version in pairs]


def _document(record: dict[str, Any], path: str, commit: str) -> dict[str, Any]:
    """A PyPA record (OSV, or the format before it) as a stored report document."""
    if "affected" in record:
        entries = [(a.get("package") or {}, a.get("ranges") or []) for a in record["affected"]]
    else:
        entries = [(record.get("package") or {}, (record.get("affects") or {}).get("ranges") or [])]
    affected = [
        {
            "purl": f"pkg:pypi/{str(package.get('name', '')).lower()}",
            "ranges": [
                {
                    "type": raw["type"],
                    **({"repo": raw["repo"]} if raw.get("repo") else {}),
                    "events": _events(raw),
                }
                for raw in ranges
            ],
        }
        for package, ranges in entries
    ]
    document: dict[str, Any] = {
        "id": record["id"],
        "title": record.get("summary") or record["id"],
        "description": record.get("details") or record.get("summary") or record["id"],
        "aliases": [a for a in record.get("aliases") or [] if a != record["id"]],
        "affected": affected,
        "cwes": list((record.get("database_specific") or {}).get("cwe_ids") or []),
        "references": [
            {"url": r["url"], "type": r.get("type", "WEB")} for r in record.get("references") or []
        ],
        "source": {"path": path, "commit": commit},
    }
    if record.get("withdrawn"):
        document["withdrawn"] = str(record["withdrawn"])
    return document


def build(mirror: Path, out: Path) -> dict[str, int]:
    """Write ``records.jsonl`` and ``labels.json`` from the PyPA database at ``mirror``."""
    head = _git(mirror, "rev-parse", "HEAD").decode().strip()
    paths = [
        p
        for p in _git(mirror, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
        if p.startswith("vulns/") and p.endswith(".yaml")
    ]
    live = {
        path: _document(yaml.safe_load(body), path, head)
        for path, body in zip(paths, _cat(mirror, [f"HEAD:{p}" for p in paths]), strict=True)
    }
    # Records the database deleted: as they were just before (the parent of the deletion).
    deleted: list[tuple[str, str, str]] = []
    commit, subject = "", ""
    log = _git(mirror, "log", "--diff-filter=D", "--name-only", "--format=COMMIT %H %s").decode()
    for line in log.splitlines():
        if line.startswith("COMMIT "):
            commit, subject = line.split(" ", 2)[1:]
        elif line.endswith(".yaml") and line.startswith("vulns/"):
            deleted.append((commit, subject, line))
    bodies = _cat(mirror, [f"{c}^:{p}" for c, _, p in deleted])
    gone: dict[str, tuple[str, dict[str, Any]]] = {}
    for (commit, subject, path), body in zip(deleted, bodies, strict=True):
        document = _document(yaml.safe_load(body), path, f"{commit}^")
        if document["id"] not in {d["id"] for d in live.values()}:
            gone[path] = (subject, document)

    def directory(path: str) -> str:
        return path.split("/")[1]

    # Duplicates: two records of one package directory naming one CVE.
    by_cve: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for path, document in live.items():
        for alias in document["aliases"]:
            if alias.startswith("CVE-"):
                by_cve[(alias, directory(path))].append((document["id"], "live"))
    for path, (subject, document) in gone.items():
        for alias in document["aliases"]:
            if alias.startswith("CVE-"):
                by_cve[(alias, directory(path))].append((document["id"], subject))
    duplicates: dict[tuple[str, str], str] = {}
    second: set[str] = set()
    for (cve, _), holders in sorted(by_cve.items()):
        for (a, a_source), (b, b_source) in (
            (x, y) for i, x in enumerate(holders) for y in holders[i + 1 :]
        ):
            if a_source == "live" and b_source == "live":
                source, later = f"two live records name {cve}", max(a, b)
            elif "live" in (a_source, b_source):
                source = next(s for s in (a_source, b_source) if s != "live")
                source, later = f"deleted by '{source}', {cve}", b if a_source == "live" else a
            else:
                source, later = f"both deleted ('{a_source}'), {cve}", max(a, b)
            duplicates[pair(a, b)] = source
            second.add(later)
    labelled_ids = {i for p in duplicates for i in p}
    packages = {
        directory(path)
        for path, doc in [*live.items(), *((p, d) for p, (_, d) in gone.items())]
        if doc["id"] in labelled_ids
    }
    packages |= {directory(p) for p in live if directory(p).startswith("tensorflow")}
    # Packages where live records share a GHSA id but name different CVEs (hard negatives).
    by_ghsa: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, document in live.items():
        for alias in document["aliases"]:
            if alias.startswith("GHSA-"):
                by_ghsa[(alias, directory(path))].add(path)
    packages |= {package for (_, package), held in by_ghsa.items() if len(held) > 1}
    # Packages where records of different CVEs have the very same text (modoboa, rdiffweb, ...).
    by_text: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, document in live.items():
        by_text[(directory(path), " ".join(document["description"].split()))].add(path)
    packages |= {package for (package, _), held in by_text.items() if len(held) > 1}
    chosen = {p: d for p, d in live.items() if directory(p) in packages}
    others = sorted(
        (p for p in live if p not in chosen), key=lambda p: hashlib.sha256(p.encode()).hexdigest()
    )
    chosen |= {p: live[p] for p in others[:_OTHERS]}
    chosen |= {p: d for p, (_, d) in gone.items() if d["id"] in labelled_ids}
    ids = {d["id"] for d in chosen.values()}
    duplicates = {p: s for p, s in duplicates.items() if set(p) <= ids}
    holders_of: dict[str, set[str]] = defaultdict(set)  # a CVE -> every record naming it
    for (cve, _), holders in by_cve.items():
        holders_of[cve].update(record_id for record_id, _ in holders)
    related = sorted(
        {
            pair(a, b)
            for holders in holders_of.values()
            for a in holders & ids
            for b in holders & ids
            if a < b and pair(a, b) not in duplicates
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "records.jsonl").open("w", encoding="utf-8") as handle:
        for document in sorted(chosen.values(), key=lambda d: str(d["id"])):
            handle.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")
    labels = {
        "source": {"repository": "https://github.com/pypa/advisory-database", "commit": head},
        "duplicates": [{"pair": list(p), "source": s} for p, s in sorted(duplicates.items())],
        "related": [list(p) for p in related],
        "second": sorted(second & ids),
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n", encoding="utf-8")
    return {"records": len(chosen), "duplicates": len(duplicates), "related": len(related)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled set's directory")
    parser.add_argument("--build", type=Path, metavar="MIRROR", help="rebuild the set from git")
    parser.add_argument("--seed", type=int, default=14, help="order in which records arrive")
    parser.add_argument("--threshold", type=float, default=DedupConfig.threshold)
    parser.add_argument("--strict-threshold", type=float, default=DedupConfig.strict_threshold)
    parser.add_argument("--verbose", action="store_true", help="list missed and false pairs")
    args = parser.parse_args(argv)
    if args.build is not None:
        print(json.dumps({"built": str(args.data), **build(args.build, args.data)}))
        return 0
    labelled = load_labelled_set(args.data)
    config = DedupConfig(threshold=args.threshold, strict_threshold=args.strict_threshold)
    modes: dict[str, dict[str, Any]] = {}
    started = time.process_time()
    for mode in MODES:
        result = evaluate(labelled, mode, config, args.seed)
        if not args.verbose:
            result.pop("missed")
            result.pop("false")
        modes[mode] = result
    headline = modes["one_side"]
    line = {
        "bench": "dedup_real",
        "records": len(labelled.records),
        "headline_mode": "one_side",
        "precision": headline["precision"],
        "recall": headline["recall"],
        "f1": headline["f1"],
        "pairs": headline["true_pairs"],
        "predicted_pairs": headline["predicted_pairs"],
        "chain_merges": headline["chain_merges"],
        "modes": modes,
        "threshold": config.threshold,
        "strict_threshold": config.strict_threshold,
        "cpu_s": round(time.process_time() - started, 1),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
