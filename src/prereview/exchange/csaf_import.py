"""CSAF 2.0 documents into domain reports, one item per vulnerability.

The product tree is walked to find, for each product id, its purl or CPE (its product
identification helpers, kept as given) and the version or version range its branch names. A
component on a platform (a relationship) without helpers of its own is named by the platform's.
Only products with no identifier anywhere get a ``pkg:generic`` purl made from the vendor and
product names, so every product a document names can be matched.
A vulnerability that affects none of the document's products (a VEX "not affected" statement)
is reported as skipped, not as an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from packageurl import PackageURL
from pydantic import ValidationError

from prereview.exchange.csaf import WITHDRAWN_NOTE_TITLE, WITHDRAWN_SUMMARY
from prereview.exchange.csaf_tests import mandatory_findings
from prereview.exchange.documents import load_documents, plain_json
from prereview.exchange.errors import (
    FailsCsafMandatoryTests,
    InvalidExchangeDocument,
    UnreadableDocument,
)
from prereview.exchange.validation import Standard, schema_set
from prereview.vulnerability.problems import Problem
from prereview.vulnerability.report import Report, problems_from

_AFFECTED_STATUSES = ("known_affected", "first_affected", "last_affected", "under_investigation")
_FIXED_STATUSES = ("fixed", "first_fixed")
_CSAF_TLP = {"WHITE": "CLEAR", "GREEN": "GREEN", "AMBER": "AMBER", "RED": "RED"}
_CPE22 = re.compile(r"^cpe:/([aho]?)((?::[^:]*){0,6})$")
_VULN_ID = re.compile(r"[^A-Za-z0-9._:+-]")
_VERS = re.compile(r"^vers:[a-z0-9.+-]+/(.+)$")
# Schema problems inside a CVSS object are mandatory test 6.1.8's to report, with its number.
_IN_CVSS = re.compile(r"^\$\.vulnerabilities\[\d+\]\.scores\[\d+\]\.cvss_v[23](\.|\[|$)")


@dataclass(frozen=True)
class ImportedItem:
    """One vulnerability of an imported document: a report, or why there is none."""

    path: str
    report: Report | None = None
    problems: list[Problem] = field(default_factory=list)
    skipped_because: str | None = None


@dataclass
class _Product:
    vendor: str | None = None
    name: str | None = None
    purl: str | None = None
    cpe: str | None = None
    version: str | None = None
    version_range: str | None = None


def _walk_branches(branches: list[Any], context: _Product, found: dict[str, _Product]) -> None:
    for branch in branches:
        here = _Product(**context.__dict__)
        category, name = branch.get("category"), branch.get("name")
        if category == "vendor":
            here.vendor = name
        elif category == "product_name" or (category == "product_family" and here.name is None):
            here.name = name
        elif category == "product_version":
            here.version = name
        elif category == "product_version_range":
            here.version_range = name
        if "product" in branch:
            found[branch["product"]["product_id"]] = _with_helper(here, branch["product"])
        _walk_branches(branch.get("branches") or [], here, found)


def _with_helper(product: _Product, full_name: Mapping[str, Any]) -> _Product:
    helper = full_name.get("product_identification_helper") or {}
    product.purl = helper.get("purl") or product.purl
    product.cpe = helper.get("cpe") or product.cpe
    if product.name is None:
        product.name = full_name.get("name")
    return product


def product_index(document: Mapping[str, Any]) -> dict[str, _Product]:
    """Every product id of a CSAF document with what the tree says about it."""
    tree = document.get("product_tree") or {}
    found: dict[str, _Product] = {}
    _walk_branches(tree.get("branches") or [], _Product(), found)
    for full_name in tree.get("full_product_names") or []:
        found[full_name["product_id"]] = _with_helper(_Product(), full_name)
    for relationship in tree.get("relationships") or []:
        # A component installed on a platform is, as a product, that component, named by its
        # own helpers; one without (a Red Hat RPM known by its NEVRA only) is named by the
        # platform's CPE as given (RHEL 8 BaseOS), never by a made-up generic purl, so that an
        # inventory of the platform matches it.
        component = found.get(relationship["product_reference"], _Product())
        combined = _with_helper(_Product(**component.__dict__), relationship["full_product_name"])
        if combined.purl is None and combined.cpe is None:
            platform = found.get(relationship["relates_to_product_reference"], _Product())
            combined.cpe = platform.cpe
            combined.purl = platform.purl
            combined.vendor = combined.vendor or platform.vendor
        found[relationship["full_product_name"]["product_id"]] = combined
    return found


def cpe22_to_23(uri: str) -> str | None:
    """A CPE 2.2 URI (``cpe:/a:vendor:product:1.0``) as a CPE 2.3 formatted string."""
    match = _CPE22.match(uri)
    if not match:
        return None
    values = [
        part.replace("%7e", "~").replace("%7E", "~") for part in match.group(2).split(":")[1:]
    ]
    part = match.group(1) or "*"
    fields = [v if v else "*" for v in values] + ["*"] * (10 - len(values))
    escaped = [
        re.sub(r"([^A-Za-z0-9._*-])", r"\\\1", value) if value != "*" else "*" for value in fields
    ]
    return ":".join(["cpe", "2.3", part, *escaped[:10]])


def _affected_product(product: _Product, fixed: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"versions": [], "ranges": []}
    version = product.version
    if product.purl:
        try:
            purl = PackageURL.from_string(product.purl)
        except ValueError:
            purl = None
        if purl is not None:
            version = version or purl.version
            data["purl"] = PackageURL(
                type=purl.type, namespace=purl.namespace, name=purl.name
            ).to_string()
    if product.cpe:
        data["cpe"] = (
            product.cpe if product.cpe.startswith("cpe:2.3:") else cpe22_to_23(product.cpe)
        )
    if not data.get("purl") and not data.get("cpe"):
        data["purl"] = PackageURL(
            type="generic", namespace=product.vendor or None, name=product.name or "unnamed"
        ).to_string()
    if fixed:
        if version:  # fixed in this version: the versions before it were affected
            data["ranges"] = [
                {
                    "type": "ECOSYSTEM",
                    "events": [
                        {"kind": "introduced", "version": "0"},
                        {"kind": "fixed", "version": version},
                    ],
                }
            ]
    elif product.version_range:
        data["ranges"] = _vers_to_ranges(product.version_range) or []
        if not data["ranges"]:
            data["versions"] = [product.version_range]
    elif version:
        data["versions"] = [version]
    return data


def _vers_to_ranges(vers: str) -> list[dict[str, Any]] | None:
    match = _VERS.match(vers.strip())
    if not match:
        return None
    events: list[dict[str, str]] = []
    for constraint in match.group(1).split("|"):
        constraint = constraint.strip()
        for operator, kind in ((">=", "introduced"), ("<=", "last_affected"), ("<", "fixed")):
            if constraint.startswith(operator):
                events.append({"kind": kind, "version": constraint[len(operator) :]})
                break
    if not events:
        return None
    if not any(e["kind"] == "introduced" for e in events):
        events.insert(0, {"kind": "introduced", "version": "0"})
    return [{"type": "ECOSYSTEM", "events": events}]


def _merge_products(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    for product in products:
        key = (product.get("purl"), product.get("cpe"))
        into = merged.setdefault(key, {**product, "versions": [], "ranges": []})
        into["versions"] += [v for v in product["versions"] if v not in into["versions"]]
        into["ranges"] += [r for r in product["ranges"] if r not in into["ranges"]]
    return list(merged.values())


def _notes_text(notes: list[Mapping[str, Any]], categories: tuple[str, ...]) -> str:
    return "\n\n".join(
        n["text"] for n in notes if n.get("category") in categories and n.get("text")
    )


def _withdrawn(doc: Mapping[str, Any]) -> str | None:
    """When the document says it was withdrawn, as our exports say it (CSAF 2.0 has no status
    for it): a "Withdrawn" note and the revision that withdrew it."""
    notes = doc.get("notes") or []
    if not any(n.get("title") == WITHDRAWN_NOTE_TITLE for n in notes):
        return None
    history = doc["tracking"]["revision_history"]
    dates = [r["date"] for r in history if r.get("summary") == WITHDRAWN_SUMMARY]
    return dates[-1] if dates else None


def _record_id(
    doc: Mapping[str, Any],
    vulnerability: Mapping[str, Any],
    names: list[str],
    count: int,
    index: int,
) -> str:
    """The id of the report a vulnerability of a CSAF document becomes.

    Our own exports name the report's own id (system "prereview"): a round trip keeps it, so
    the record re-imported is the same record, not a new one its CVE links. Any other
    document is named by what CSAF makes globally unique, its publisher's namespace and
    tracking id (section 3.2.1.12.4 ID), never by its CVE: two publishers' advisories about one
    CVE are two records, which the CVE (an alias) links. A document of several
    vulnerabilities adds each one's CVE, first id or position.
    """
    own = next(
        (
            _VULN_ID.sub("-", entry["text"]).strip("-")
            for entry in vulnerability.get("ids") or []
            if entry.get("system_name") == "prereview"
        ),
        None,
    )
    if own:
        return own
    host = urlsplit(str(doc["publisher"]["namespace"])).hostname or "csaf"
    parts = [host, doc["tracking"]["id"]]
    if count > 1:
        parts.append(names[0] if names else str(index + 1))
    record_id = _VULN_ID.sub("-", ":".join(parts)).strip("-")
    if len(record_id) > 128:  # the id pattern's limit: keep it unique with a digest
        record_id = record_id[:111] + "-" + hashlib.sha256(record_id.encode()).hexdigest()[:16]
    return record_id


def _items(document: Mapping[str, Any], reporter: str) -> Iterator[ImportedItem]:
    doc = document["document"]
    products = product_index(document)
    tlp = ((doc.get("distribution") or {}).get("tlp") or {}).get("label")
    vulnerabilities = document.get("vulnerabilities") or []
    if not vulnerabilities:
        yield ImportedItem(
            "$.vulnerabilities", skipped_because="the document describes no vulnerability"
        )
    for index, vulnerability in enumerate(vulnerabilities):
        path = f"$.vulnerabilities[{index}]"
        status = vulnerability.get("product_status") or {}
        wanted = [(pid, False) for s in _AFFECTED_STATUSES for pid in status.get(s, [])]
        wanted += [(pid, True) for s in _FIXED_STATUSES for pid in status.get(s, [])]
        affected = _merge_products(
            [
                _affected_product(products.get(pid, _Product(name=pid)), fixed)
                for pid, fixed in wanted
            ]
        )
        if not affected:
            yield ImportedItem(
                path, skipped_because="no product is affected or fixed (a 'not affected' statement)"
            )
            continue
        names = [vulnerability["cve"]] if vulnerability.get("cve") else []
        names += [entry["text"] for entry in vulnerability.get("ids") or []]
        names = [_VULN_ID.sub("-", n).strip("-") for n in names]
        vuln_id = _record_id(doc, vulnerability, names, len(vulnerabilities), index)
        description = _notes_text(
            vulnerability.get("notes") or [], ("description", "summary", "details")
        )
        description = description or _notes_text(
            doc.get("notes") or [], ("summary", "description", "details")
        )
        vectors = [
            score["cvss_v3"]["vectorString"]
            for score in vulnerability.get("scores") or []
            if "cvss_v3" in score
        ]
        acknowledgments = vulnerability.get("acknowledgments") or []
        person = next((a["names"][0] for a in acknowledgments if a.get("names")), None)
        data: dict[str, Any] = {
            "id": vuln_id,
            "title": vulnerability.get("title") or doc["title"],
            "description": description or vulnerability.get("title") or doc["title"],
            "reporter": reporter,
            "affected": affected,
            "cwes": [vulnerability["cwe"]["id"]] if vulnerability.get("cwe") else [],
            "cvss_v3": vectors[0] if vectors else None,
            "discovered_by": {"kind": "person", "name": person} if person else None,
            "references": [
                {"url": ref["url"], "type": "ADVISORY" if ref.get("category") == "self" else "WEB"}
                for ref in vulnerability.get("references") or []
            ],
            "aliases": sorted({n for n in names if n != vuln_id}),
            "published": vulnerability.get("release_date")
            or doc["tracking"]["initial_release_date"],
            "modified": doc["tracking"]["current_release_date"],
        }
        withdrawn = _withdrawn(doc)
        if withdrawn is not None:
            data["withdrawn"] = withdrawn
        if tlp in _CSAF_TLP:
            data["tlp"] = _CSAF_TLP[tlp]
        try:
            yield ImportedItem(path, report=Report.model_validate(data))
        except ValidationError as exc:
            yield ImportedItem(path, problems=problems_from(exc))


def require_conformant(document: Any) -> None:
    """Raise unless ``document`` is CSAF 2.0: its JSON schema, then the mandatory tests.

    Schema problems raise ``InvalidExchangeDocument`` (every problem by JSON path), except
    those inside CVSS objects, which test 6.1.8 reports; a failed mandatory test raises
    ``FailsCsafMandatoryTests`` naming each test number and path.
    """
    problems = [
        problem
        for problem in schema_set().problems(document, Standard.CSAF)
        if not _IN_CVSS.match(problem["path"])
    ]
    if problems:
        raise InvalidExchangeDocument(str(Standard.CSAF), problems)
    findings = mandatory_findings(document)
    if findings:
        raise FailsCsafMandatoryTests([finding.as_problem() for finding in findings])


def csaf_to_reports(document: Any, reporter: str) -> list[ImportedItem]:
    """One item per vulnerability of a CSAF 2.0 document; a non-conformant one raises whole.

    ``reporter`` is the submitting organisation. See :func:`require_conformant` for what is
    refused and how.
    """
    document = plain_json(document)
    require_conformant(document)
    return list(_items(document, reporter))


def load_csaf(payload: str | bytes, reporter: str) -> list[ImportedItem]:
    """A CSAF JSON payload (one document) as import items."""
    documents = load_documents(payload)
    if len(documents) != 1:
        raise UnreadableDocument(
            f"a CSAF payload holds one document, this one holds {len(documents)}"
        )
    return csaf_to_reports(documents[0], reporter)


__all__ = [
    "ImportedItem",
    "cpe22_to_23",
    "csaf_to_reports",
    "load_csaf",
    "product_index",
    "require_conformant",
]
