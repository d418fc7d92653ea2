"""CVE JSON 5 records (CVE Record Format 5.1.1) of published advisories.

Only an advisory that has a CVE id (as its id or an alias) can become a CVE record. CVSS 3.x
and 4.0 both have a place in ``metrics`` and both are kept. Ranges become CVE ``versions``
entries (``version`` .. ``lessThan`` / ``lessThanOrEqual``) with the purl type as
``versionType``; a record's one mandatory reference is the advisory's own page.

Who assigned the CVE: the record names its assigner (``cveMetadata.assignerOrgId``, and the
``cna`` container's provider) only when the caller knows it (``assigned_by``, for example the
clearinghouse when it is the CNA that assigned the id). Otherwise both carry
:data:`UNKNOWN_ASSIGNER`, a fixed id that names no organisation (the schema requires a UUID),
and the clearinghouse appears where the CVE schema puts a party that adds information to a
record it did not assign: an ADP container with its own ``providerMetadata`` and its advisory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prereview.exchange.documents import rfc3339
from prereview.exchange.errors import NotExportable
from prereview.vulnerability.report import (
    AffectedProduct,
    EventKind,
    ModelRun,
    Person,
    RangeType,
    ReferenceType,
    Report,
)

CVE_DATA_VERSION = "5.1"
_CVE_ID = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,19}$")
# OSV ecosystem -> the package collection URL the CVE schema lists for it.
_COLLECTION_URL = {
    "PyPI": "https://pypi.python.org",
    "npm": "https://registry.npmjs.org",
    "Maven": "https://repo.maven.apache.org/maven2",
    "Go": "https://golang.org/pkg",
    "crates.io": "https://crates.io",
    "RubyGems": "https://rubygems.org",
    "NuGet": "https://nuget.org/packages",
    "Packagist": "https://packagist.org",
    "Hex": "https://repo.hex.pm",
    "Pub": "https://pub.dev",
    "Hackage": "https://hackage.haskell.org",
    "CRAN": "https://cran.r-project.org",
    "ConanCenter": "https://conan.io/center",
}
_CVSS_KEY = {"3.0": "cvssV3_0", "3.1": "cvssV3_1", "4.0": "cvssV4_0"}
# OSV reference type -> the CVE schema's reference tag (WEB says nothing more than "a page").
_REFERENCE_TAG = {
    ReferenceType.ADVISORY: "third-party-advisory",
    ReferenceType.ARTICLE: "technical-description",
    ReferenceType.DETECTION: "signature",
    ReferenceType.DISCUSSION: "mailing-list",
    ReferenceType.REPORT: "issue-tracking",
    ReferenceType.FIX: "patch",
    ReferenceType.INTRODUCED: "related",
    ReferenceType.GIT: "related",
    ReferenceType.PACKAGE: "product",
    ReferenceType.EVIDENCE: "exploit",
}


@dataclass(frozen=True)
class CveAssigner:
    """The CNA the record is published under: its CVE Services org UUID and short name."""

    org_id: UUID
    short_name: str


UNKNOWN_ASSIGNER = CveAssigner(UUID("00000000-0000-4000-8000-000000000000"), "unknown")


def cve_id_of(advisory: Report) -> str:
    """The advisory's CVE id, or ``NotExportable`` if it has none."""
    for identifier in advisory.identifiers:
        if _CVE_ID.match(identifier):
            return identifier
    raise NotExportable(
        f"advisory {advisory.id} has no CVE id; a CVE record needs one",
        errors=[{"path": "$.aliases", "message": "no alias of the form CVE-YYYY-NNNN"}],
    )


def _versions(product: AffectedProduct) -> list[dict[str, Any]]:
    version_type = product.package_url.type if product.package_url else "custom"
    entries: list[dict[str, Any]] = []
    for version_range in product.ranges:
        kind = "git" if version_range.type is RangeType.GIT else version_type
        start: str | None = None
        for event in version_range.events:
            if event.kind is EventKind.INTRODUCED:
                start = event.version
            elif start is not None:
                bound = "lessThanOrEqual" if event.kind is EventKind.LAST_AFFECTED else "lessThan"
                entries.append(
                    {
                        "version": start,
                        bound: event.version,
                        "status": "affected",
                        "versionType": kind,
                    }
                )
                start = None
        if start is not None:  # introduced and never fixed: everything from there on
            entries.append(
                {"version": start, "lessThan": "*", "status": "affected", "versionType": kind}
            )
    entries += [{"version": version, "status": "affected"} for version in product.versions]
    return entries


def _affected(product: AffectedProduct) -> dict[str, Any]:
    purl = product.package_url
    entry: dict[str, Any] = {}
    if purl is not None:
        entry["vendor"] = purl.namespace or "n/a"
        entry["product"] = str(purl.name)
        ecosystem = product.osv_ecosystem
        if ecosystem in _COLLECTION_URL:
            entry["collectionURL"] = _COLLECTION_URL[ecosystem]
            entry["packageName"] = product.package_name
    else:
        assert product.cpe is not None
        parts = product.cpe.split(":")
        entry["vendor"], entry["product"] = parts[3], parts[4]
    if product.cpe:
        entry["cpes"] = [product.cpe]
    versions = _versions(product)
    if versions:
        entry["versions"] = versions
    # Unlisted versions are unaffected when versions are listed; unknown when none are.
    entry["defaultStatus"] = "unaffected" if versions else "affected"
    return entry


def _credits(advisory: Report) -> list[dict[str, str]]:
    found_by = advisory.discovered_by
    if isinstance(found_by, Person):
        return [{"lang": "en", "value": found_by.name, "type": "finder"}]
    if isinstance(found_by, ModelRun):
        value = (
            f"{advisory.reporter}, with model {found_by.model} "
            f"(pre-release review {found_by.review_id})"
        )
        return [{"lang": "en", "value": value, "type": "tool"}]
    return [{"lang": "en", "value": advisory.reporter, "type": "reporter"}]


def _metadata(cve_id: str, assigner: CveAssigner, state: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"cveId": cve_id, "assignerOrgId": str(assigner.org_id)}
    if assigner != UNKNOWN_ASSIGNER:
        metadata["assignerShortName"] = assigner.short_name
    metadata["state"] = state
    return metadata


def _provider(party: CveAssigner, updated: str) -> dict[str, Any]:
    provider: dict[str, Any] = {"orgId": str(party.org_id)}
    if party != UNKNOWN_ASSIGNER:
        provider["shortName"] = party.short_name
    provider["dateUpdated"] = updated
    return provider


def _references(advisory: Report, advisory_url: str | None) -> list[dict[str, Any]]:
    """One entry per URL (the schema wants them unique), the tags of every listing merged."""
    tags: dict[str, list[str]] = {}
    if advisory_url is not None:
        tags[advisory_url] = ["third-party-advisory"]
    for reference in advisory.references:
        listed = tags.setdefault(str(reference.url), [])
        tag = _REFERENCE_TAG.get(reference.type)
        if tag is not None and tag not in listed:
            listed.append(tag)
    return [{"url": url, **({"tags": sorted(t)} if t else {})} for url, t in tags.items()]


def _rejected(
    advisory: Report,
    cve_id: str,
    assigner: CveAssigner,
    published: str,
    updated: str,
) -> dict[str, Any]:
    """The CVE record of a withdrawn advisory: state REJECTED, the withdrawal as its reason."""
    assert advisory.withdrawn is not None
    withdrawn = rfc3339(advisory.withdrawn)
    reason = (
        f"Withdrawn by its source ({advisory.reporter}) on {withdrawn}: this record should "
        f"no longer be used. It was: {advisory.title}"
    )
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": CVE_DATA_VERSION,
        "cveMetadata": {
            **_metadata(cve_id, assigner, "REJECTED"),
            "datePublished": published,
            "dateUpdated": updated,
            "dateRejected": withdrawn,
        },
        "containers": {
            "cna": {
                "providerMetadata": _provider(assigner, updated),
                "rejectedReasons": [{"lang": "en", "value": reason[:4096]}],
            }
        },
    }


def _adp(
    provider: CveAssigner, assigner: CveAssigner, advisory_url: str, updated: str
) -> dict[str, Any]:
    """The clearinghouse's own container, unless it is the record's CNA (then ``cna`` is its)."""
    if provider == assigner:
        return {}
    container = {
        "providerMetadata": _provider(provider, updated),
        "title": f"{provider.short_name} advisory",
        "references": [{"url": advisory_url, "tags": ["third-party-advisory"]}],
    }
    return {"adp": [container]}


def advisory_to_cve5(
    advisory: Report,
    provider: CveAssigner,
    advisory_url: str,
    *,
    assigned_by: CveAssigner | None = None,
) -> dict[str, Any]:
    """The CVE record (state PUBLISHED) of a published advisory with a CVE id; of a withdrawn
    one, the record in state REJECTED with the withdrawal as its reason (the CVE schema's one
    way to say "no longer to be used").

    ``provider`` is the clearinghouse (its ADP container); ``assigned_by`` the CNA that
    assigned the CVE id, when known (the clearinghouse itself only if it assigned it).
    ``advisory_url`` is where the clearinghouse publishes the advisory: every CVE record needs
    at least one reference, and that one always exists.
    """
    assigner = assigned_by or UNKNOWN_ASSIGNER
    cve_id = cve_id_of(advisory)
    if advisory.published is None:
        raise NotExportable(
            f"advisory {advisory.id} is not published",
            errors=[{"path": "$.published", "message": "missing"}],
        )
    updated = rfc3339(advisory.modified or advisory.published)
    if advisory.withdrawn is not None:
        return _rejected(advisory, cve_id, assigner, rfc3339(advisory.published), updated)
    metrics = [
        {
            _CVSS_KEY[str(score.version)]: {
                "version": str(score.version),
                "vectorString": score.vector,
                "baseScore": score.base_score,
                "baseSeverity": score.severity.upper(),
            }
        }
        for score in (advisory.cvss_v4, advisory.cvss_v3)
        if score is not None
    ]
    cna: dict[str, Any] = {
        "providerMetadata": _provider(assigner, updated),
        "datePublic": rfc3339(advisory.published),
        "title": advisory.title[:256],
        "descriptions": [{"lang": "en", "value": advisory.description[:4096]}],
        "affected": [_affected(product) for product in advisory.affected],
        "references": _references(advisory, advisory_url),
        "credits": _credits(advisory),
    }
    if advisory.cwes:
        cna["problemTypes"] = [
            {
                "descriptions": [
                    {"lang": "en", "cweId": cwe, "description": cwe, "type": "CWE"}
                    for cwe in advisory.cwes
                ]
            }
        ]
    if metrics:
        cna["metrics"] = metrics
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": CVE_DATA_VERSION,
        "cveMetadata": {
            **_metadata(cve_id, assigner, "PUBLISHED"),
            "datePublished": rfc3339(advisory.published),
            "dateUpdated": updated,
        },
        "containers": {"cna": cna, **_adp(provider, assigner, advisory_url, updated)},
    }
