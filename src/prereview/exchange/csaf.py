"""CSAF 2.0 export (security advisory and VEX profiles) and import.

Export: :func:`advisory_to_csaf`. Each affected product becomes a branch vendor > product name
> version range (a ``vers`` string) or version, identified by its purl / CPE; fixed versions
get their own branches so ``product_status`` can say both what is affected and what is fixed.
CSAF 2.0 has no place for CVSS 4.0 (that came with CSAF 2.1), so a 4.0 vector travels as a
note; 3.x vectors go in ``scores``. TLP 2.0 labels map onto CSAF 2.0's TLP 1.0 ones, the exact
label is kept in ``distribution.text``.

Import: :func:`csaf_to_reports`, one item per vulnerability of the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from packageurl import PackageURL

from prereview.core.markings import Tlp
from prereview.exchange.csaf_tests import current_cwe_name, mandatory_findings
from prereview.exchange.documents import rfc3339
from prereview.exchange.errors import NotExportable
from prereview.vulnerability.report import (
    AffectedProduct,
    EventKind,
    ModelRun,
    Person,
    RangeType,
    Report,
    VersionRange,
)

CSAF_VERSION = "2.0"
# CSAF 2.0 has no "withdrawn" status (2.1 adds one): a withdrawn advisory says so in a revision
# of its own, a document note and the vulnerability's notes, and is re-published as final.
WITHDRAWN_SUMMARY = "Withdrawn by its source: this advisory should no longer be used"
WITHDRAWN_NOTE_TITLE = "Withdrawn"
_TLP_TO_CSAF = {
    Tlp.CLEAR: "WHITE",
    Tlp.GREEN: "GREEN",
    Tlp.AMBER: "AMBER",
    Tlp.AMBER_STRICT: "AMBER",
    Tlp.RED: "RED",
}


class CsafProfile(StrEnum):
    SECURITY_ADVISORY = "csaf_security_advisory"
    VEX = "csaf_vex"


@dataclass(frozen=True)
class CsafPublisher:
    """Who publishes the document (the clearinghouse), as CSAF's ``document.publisher``."""

    name: str
    namespace: str
    category: str = "coordinator"
    contact_details: str | None = None


@dataclass
class _ProductIds:
    counter: int = 0

    def next(self) -> str:
        self.counter += 1
        return f"CSAFPID-{self.counter:04d}"


def vers_constraints(version_range: VersionRange) -> str:
    """The ``vers`` constraints of an OSV-style range (``>=1.2|<2.4.1``)."""
    parts: list[str] = []
    for event in version_range.events:
        if event.kind is EventKind.INTRODUCED:
            if event.version != "0":
                parts.append(f">={event.version}")
        elif event.kind is EventKind.FIXED or event.kind is EventKind.LIMIT:
            parts.append(f"<{event.version}")
        else:
            parts.append(f"<={event.version}")
    return "|".join(parts) or "*"


def _helper(product: AffectedProduct, version: str | None = None) -> dict[str, str]:
    helper: dict[str, str] = {}
    purl = product.package_url
    if purl is not None:
        helper["purl"] = PackageURL(
            type=purl.type, namespace=purl.namespace, name=purl.name, version=version
        ).to_string()
    if product.cpe:
        helper["cpe"] = product.cpe
    return helper


def _vendor_and_name(product: AffectedProduct) -> tuple[str, str]:
    purl = product.package_url
    if purl is not None:
        return (purl.namespace or product.osv_ecosystem or purl.type), str(purl.name)
    assert product.cpe is not None
    parts = product.cpe.split(":")
    return parts[3], parts[4]


@dataclass
class _ProductBranches:
    branch: dict[str, Any]
    affected: list[str]
    fixed: list[str]
    fixed_versions: list[str]


def _product_branches(product: AffectedProduct, ids: _ProductIds) -> _ProductBranches:
    vendor, name = _vendor_and_name(product)
    vers_type = product.package_url.type if product.package_url else "generic"
    children: list[dict[str, Any]] = []
    affected: list[str] = []
    fixed: list[str] = []
    fixed_versions: list[str] = []

    def leaf(category: str, label: str, version: str | None) -> str:
        product_id = ids.next()
        children.append(
            {
                "category": category,
                "name": label,
                "product": {
                    "product_id": product_id,
                    "name": f"{vendor} {name} {label}",
                    "product_identification_helper": _helper(product, version),
                },
            }
        )
        return product_id

    for version_range in product.ranges:
        if version_range.type is RangeType.GIT:
            continue  # commit ranges are not orderable versions; OSV carries them
        affected.append(
            leaf(
                "product_version_range", f"vers:{vers_type}/{vers_constraints(version_range)}", None
            )
        )
        for event in version_range.events:
            if event.kind is EventKind.FIXED and event.version not in fixed_versions:
                fixed_versions.append(event.version)
                fixed.append(leaf("product_version", event.version, event.version))
    for version in product.versions:
        affected.append(leaf("product_version", version, version))
    product_branch: dict[str, Any] = {"category": "product_name", "name": name}
    if children:
        product_branch["branches"] = children
    else:  # nothing narrower is known: the product as a whole is affected
        product_id = ids.next()
        product_branch["product"] = {
            "product_id": product_id,
            "name": f"{vendor} {name}",
            "product_identification_helper": _helper(product),
        }
        affected.append(product_id)
    return _ProductBranches(
        {"category": "vendor", "name": vendor, "branches": [product_branch]},
        affected,
        fixed,
        fixed_versions,
    )


def _cvss_v3_object(advisory: Report) -> dict[str, Any] | None:
    score = advisory.cvss_v3
    if score is None:
        return None
    return {
        "version": str(score.version),
        "vectorString": score.vector,
        "baseScore": score.base_score,
        "baseSeverity": score.severity.upper(),
    }


def _acknowledgments(advisory: Report) -> list[dict[str, Any]]:
    found_by = advisory.discovered_by
    if isinstance(found_by, Person):
        entry: dict[str, Any] = {"names": [found_by.name]}
        if found_by.organisation:
            entry["organization"] = found_by.organisation
        return [entry]
    if isinstance(found_by, ModelRun):
        return [
            {
                "organization": advisory.reporter,
                "summary": f"found by model {found_by.model} during pre-release review "
                f"{found_by.review_id}",
            }
        ]
    return [{"organization": advisory.reporter, "summary": "reported the vulnerability"}]


def _revision_history(
    advisory: Report, revisions: Sequence[tuple[datetime, str]] | None
) -> list[dict[str, str]]:
    published = advisory.published
    modified = advisory.modified or published
    assert published is not None
    assert modified is not None
    if revisions is None:
        revisions = [(published, "Initial release")]
        if modified > published:
            revisions = [*revisions, (modified, "Updated")]
    if advisory.withdrawn is not None:
        revisions = [*revisions, (advisory.withdrawn, WITHDRAWN_SUMMARY)]
    # Numbered in date order: mandatory tests 6.1.14 and 6.1.21 read the history that way.
    ordered = sorted(revisions, key=lambda revision: revision[0])
    return [
        {"date": rfc3339(date), "number": str(number), "summary": summary}
        for number, (date, summary) in enumerate(ordered, start=1)
    ]


def csaf_filename(tracking_id: str) -> str:
    """The file name CSAF 2.0 section 5.1 gives a document: its tracking id in lower case,
    each run of characters other than ``+``, ``-``, a-z and 0-9 replaced by ``_``, ``.json``."""
    return re.sub(r"[^+\-a-z0-9]+", "_", tracking_id.lower()) + ".json"


def canonical_url(directory_url: str, tracking_id: str) -> str:
    """The canonical URL of a document kept under ``directory_url`` (recommended test 6.2.11:
    an https URL that ends with the document's file name)."""
    return f"{directory_url.rstrip('/')}/{csaf_filename(tracking_id)}"


def advisory_to_csaf(
    advisory: Report,
    publisher: CsafPublisher,
    profile: CsafProfile = CsafProfile.SECURITY_ADVISORY,
    *,
    self_url: str | None = None,
    revisions: Sequence[tuple[datetime, str]] | None = None,
) -> dict[str, Any]:
    """The CSAF 2.0 document of a published advisory in the given profile.

    ``revisions`` (date, summary) default to the publication and, if later, the last change.
    ``self_url`` is the document's canonical URL; recommended test 6.2.11 wants it to end with
    :func:`csaf_filename` of the tracking id (the report's id), see :func:`canonical_url`. A
    withdrawn advisory carries its withdrawal as its last revision and as notes. Raises
    ``NotExportable`` naming the tests if the document would fail a mandatory test.
    """
    if advisory.published is None:
        raise ValueError("only a published advisory can be exported as CSAF")
    ids = _ProductIds()
    vendor_branches: list[dict[str, Any]] = []
    affected: list[str] = []
    fixed: list[str] = []
    remediations: list[dict[str, Any]] = []
    for product in advisory.affected:
        built = _product_branches(product, ids)
        vendor_branches.append(built.branch)
        affected += built.affected
        fixed += built.fixed
        _, name = _vendor_and_name(product)
        if built.fixed_versions:
            remediations.append(
                {
                    "category": "vendor_fix",
                    "details": f"Upgrade {name} to {' or '.join(built.fixed_versions)} or later.",
                    "product_ids": built.affected,
                }
            )
        else:
            remediations.append(
                {
                    "category": "none_available",
                    "details": "No fixed version is known yet.",
                    "product_ids": built.affected,
                }
            )

    history = _revision_history(advisory, revisions)
    document: dict[str, Any] = {
        "category": str(profile),
        "csaf_version": CSAF_VERSION,
        "lang": "en",
        "title": advisory.title,
        "publisher": {
            "category": publisher.category,
            "name": publisher.name,
            "namespace": publisher.namespace,
            **({"contact_details": publisher.contact_details} if publisher.contact_details else {}),
        },
        "distribution": {
            "text": f"TLP:{advisory.tlp} (TLP 2.0)",
            "tlp": {"label": _TLP_TO_CSAF[advisory.tlp], "url": "https://www.first.org/tlp/"},
        },
        "notes": [
            {"category": "summary", "title": "Summary", "text": advisory.title},
            *_withdrawn_notes(advisory),
        ],
        "tracking": {
            "id": advisory.id,
            "status": "final",
            "version": history[-1]["number"],
            "initial_release_date": history[0]["date"],
            "current_release_date": history[-1]["date"],
            "revision_history": history,
        },
    }
    if self_url:
        document["references"] = [{"category": "self", "summary": "This advisory", "url": self_url}]

    vulnerability: dict[str, Any] = {"title": advisory.title}
    cve = next((i for i in advisory.identifiers if i.startswith("CVE-")), None)
    if cve is not None:
        vulnerability["cve"] = cve
    # The report's own id always comes first (system "prereview"), even when it is the CVE:
    # a re-import then finds the same record, and ``ids`` is never the empty list the schema
    # forbids.
    vulnerability["ids"] = [{"system_name": "prereview", "text": advisory.id}] + [
        {"system_name": alias.split("-", 1)[0], "text": alias}
        for alias in advisory.aliases
        if alias != cve
    ]
    notes: list[dict[str, str]] = [
        {"category": "description", "title": "Description", "text": advisory.description}
    ]
    named = [(c, current_cwe_name(c)) for c in advisory.cwes]
    first_named = next(((c, n) for c, n in named if n is not None), None)
    if first_named is not None:
        vulnerability["cwe"] = {"id": first_named[0], "name": first_named[1]}
    others = [c for c, _ in named if first_named is None or c != first_named[0]]
    if others:  # CSAF 2.0 holds one CWE, with its catalogue name; the rest are kept readable
        notes.append({"category": "other", "title": "Weaknesses (CWE)", "text": ", ".join(others)})
    if advisory.cvss_v4 is not None:
        notes.append(
            {
                "category": "other",
                "title": "CVSS v4.0",
                "text": f"{advisory.cvss_v4.vector} (base score {advisory.cvss_v4.base_score}, "
                f"{advisory.cvss_v4.severity})",
            }
        )
    vulnerability["notes"] = notes + _withdrawn_notes(advisory)
    status: dict[str, list[str]] = {}
    if affected:
        status["known_affected"] = affected
    if fixed:
        status["fixed"] = fixed
    vulnerability["product_status"] = status
    cvss_v3 = _cvss_v3_object(advisory)
    if cvss_v3 is not None and affected:
        vulnerability["scores"] = [{"products": affected, "cvss_v3": cvss_v3}]
    vulnerability["remediations"] = remediations
    vulnerability["release_date"] = rfc3339(advisory.published)
    vulnerability["acknowledgments"] = _acknowledgments(advisory)
    if advisory.references:
        vulnerability["references"] = [
            {"category": "external", "summary": str(ref.type).lower(), "url": str(ref.url)}
            for ref in advisory.references
        ]
    # Keys sorted: CSAF's recommended test 6.2.13 asks for it, and it makes documents diffable.
    sorted_document: dict[str, Any] = _sorted_keys(
        {
            "document": document,
            "product_tree": {"branches": vendor_branches},
            "vulnerabilities": [vulnerability],
        }
    )
    findings = mandatory_findings(sorted_document)
    if findings:  # never hand out a document that conforming consumers must refuse
        raise NotExportable(
            f"the CSAF document of {advisory.id} would fail mandatory test(s) "
            + ", ".join(sorted({f.test for f in findings})),
            errors=[finding.as_problem() for finding in findings],
        )
    return sorted_document


def _withdrawn_notes(advisory: Report) -> list[dict[str, str]]:
    if advisory.withdrawn is None:
        return []
    text = f"{WITHDRAWN_SUMMARY} (withdrawn {rfc3339(advisory.withdrawn)})."
    return [{"category": "general", "title": WITHDRAWN_NOTE_TITLE, "text": text}]


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value
