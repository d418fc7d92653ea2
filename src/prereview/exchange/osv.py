"""OSV (Open Source Vulnerability format, schema 1.6) in and out of the domain model.

Export: :func:`advisory_to_osv`. Import: :func:`osv_to_report` for one record and
:func:`load_osv` for a JSON or YAML payload of one or many. Fields OSV has no place for
(reporter, TLP, code locations, how it was found) travel in ``database_specific.prereview``;
CWE ids in ``database_specific.cwe_ids`` as GitHub's advisories do, so others can read them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packageurl import PackageURL

from prereview.core.markings import Tlp
from prereview.exchange.documents import load_documents, plain_json, rfc3339
from prereview.exchange.errors import InvalidExchangeDocument, NotExportable
from prereview.exchange.validation import Standard, schema_set
from prereview.vulnerability.problems import Problem
from prereview.vulnerability.report import (
    OSV_ECOSYSTEM_TO_PURL_TYPE,
    VULN_ID_PATTERN,
    AffectedProduct,
    EventKind,
    Person,
    Report,
    parse_report,
)

OSV_SCHEMA_VERSION = "1.6.0"
# The home-database prefixes OSV knows; anything else must use the private "x_" prefix.
_OSV_PREFIX = re.compile(
    r"^(x_|(ASB-A|PUB-A|ALPINE|ALSA|ALBA|ALEA|AZL|BELL|BIT|CGA|CLEANSTART|CLSA|CURL|CVE|DEBIAN|DHI|DRUPAL|DSA|DLA|ELA|DTSA|ECHO|EEF|FreeBSD|GHSA|GO|GSD|HSEC|JLSEC|KUBE|LBSEC|LSN|MAL|MINI|MGASA|OESA|OSEC|OSV|openSUSE-SU|PHSA|PSF|PYSEC|RHBA|RHEA|RHSA|RLSA|RXSA|RSEC|ROOT|RUSTSEC|SUSE-[SRFO]U|UBUNTU|USN|V8)-)"
)

_ALIAS = re.compile(VULN_ID_PATTERN)


def osv_id(vuln_id: str) -> str:
    """``vuln_id`` if OSV knows its prefix, else the same id under OSV's private ``x_`` prefix."""
    return vuln_id if _OSV_PREFIX.match(vuln_id) else f"x_{vuln_id}"


def _affected_entry(product: AffectedProduct) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    ecosystem = product.osv_ecosystem
    if ecosystem is not None:
        purl = product.package_url
        assert purl is not None
        plain_purl = PackageURL(
            type=purl.type, namespace=purl.namespace, name=purl.name
        ).to_string()
        entry["package"] = {
            "ecosystem": ecosystem,
            "name": product.package_name,
            "purl": plain_purl,
        }
    if product.ranges:
        entry["ranges"] = [
            {
                "type": str(version_range.type),
                **({"repo": version_range.repo} if version_range.repo else {}),
                "events": [{str(event.kind): event.version} for event in version_range.events],
            }
            for version_range in product.ranges
        ]
    if product.versions:
        entry["versions"] = list(product.versions)
    # OSV has no field for a CPE, nor for a purl of an ecosystem it does not list.
    specific = {
        key: value
        for key, value in (
            ("cpe", product.cpe),
            ("purl", product.purl if ecosystem is None else None),
        )
        if value
    }
    if specific:
        entry["database_specific"] = specific
    return entry


def advisory_to_osv(advisory: Report) -> dict[str, Any]:
    """The OSV record of a published advisory (or of any report, for sharing under TLP)."""
    modified = advisory.modified or advisory.published
    if modified is None:
        raise NotExportable(
            f"report {advisory.id} has no 'modified' time, which an OSV record needs",
            errors=[{"path": "$.modified", "message": "neither 'modified' nor 'published' is set"}],
        )
    record: dict[str, Any] = {
        "schema_version": OSV_SCHEMA_VERSION,
        "id": osv_id(advisory.id),
        "modified": rfc3339(modified),
    }
    if advisory.published:
        record["published"] = rfc3339(advisory.published)
    if advisory.withdrawn:
        record["withdrawn"] = rfc3339(advisory.withdrawn)
    for field in ("aliases", "upstream", "related"):
        ids = getattr(advisory, field)
        if ids:
            record[field] = list(ids)
    record["summary"] = advisory.title
    record["details"] = advisory.description
    severity = [
        {"type": kind, "score": score.vector}
        for kind, score in (("CVSS_V3", advisory.cvss_v3), ("CVSS_V4", advisory.cvss_v4))
        if score is not None
    ]
    if severity:
        record["severity"] = severity
    record["affected"] = [_affected_entry(product) for product in advisory.affected]
    if advisory.references:
        record["references"] = [
            {"type": str(ref.type), "url": str(ref.url)} for ref in advisory.references
        ]
    if isinstance(advisory.discovered_by, Person):
        record["credits"] = [
            {
                "name": advisory.discovered_by.name,
                **(
                    {"contact": [advisory.discovered_by.organisation]}
                    if advisory.discovered_by.organisation
                    else {}
                ),
                "type": "FINDER",
            }
        ]
    prereview: dict[str, Any] = {"reporter": advisory.reporter, "tlp": str(advisory.tlp)}
    if advisory.code_locations:
        prereview["code_locations"] = list(advisory.code_locations)
    if advisory.flagged_aliases:
        prereview["flagged_aliases"] = list(advisory.flagged_aliases)
    if advisory.discovered_by is not None:
        prereview["discovered_by"] = advisory.discovered_by.model_dump(mode="json")
    specific: dict[str, Any] = {"prereview": prereview}
    if advisory.cwes:
        specific["cwe_ids"] = list(advisory.cwes)
    record["database_specific"] = specific
    return record


def _purl_from_package(package: Mapping[str, Any]) -> str | None:
    if package.get("purl"):
        return str(package["purl"])
    ecosystem = str(package.get("ecosystem", "")).split(":", 1)[0]
    purl_type = OSV_ECOSYSTEM_TO_PURL_TYPE.get(ecosystem)
    name = str(package.get("name", ""))
    if purl_type is None or not name:
        return None
    namespace: str | None = None
    if purl_type == "maven" and ":" in name:
        namespace, name = name.split(":", 1)
    elif "/" in name:
        namespace, name = name.rsplit("/", 1)
    return str(PackageURL(type=purl_type, namespace=namespace, name=name).to_string())


def _product(
    entry: Mapping[str, Any], index: int, problems: list[Problem]
) -> dict[str, Any] | None:
    specific = entry.get("database_specific") or {}
    purl = _purl_from_package(entry.get("package") or {}) or specific.get("purl")
    cpe = specific.get("cpe")
    if purl is None and cpe is None:
        problems.append(
            Problem(
                path=f"$.affected[{index}].package",
                message="prereview knows no purl type for this ecosystem; give package.purl",
            )
        )
        return None
    ranges = [
        {
            "type": r["type"],
            **({"repo": r["repo"]} if r.get("repo") else {}),
            "events": [
                {"kind": kind, "version": version}
                for event in r["events"]
                for kind, version in event.items()
                if kind in EventKind.__members__.values()
            ],
        }
        for r in entry.get("ranges") or []
    ]
    return {
        "purl": purl,
        "cpe": cpe,
        "versions": list(entry.get("versions") or []),
        "ranges": ranges,
    }


def _cvss(record: Mapping[str, Any], kind: str) -> str | None:
    entries = list(record.get("severity") or [])
    for affected in record.get("affected") or []:
        entries.extend(affected.get("severity") or [])
    for entry in entries:
        if entry.get("type") == kind:
            return str(entry["score"])
    return None


def _split_aliases(
    record: Mapping[str, Any], ours: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """The record's aliases that are ids, and those that are not (kept as given, flagged)."""
    aliases: list[str] = []
    flagged: list[str] = list(ours.get("flagged_aliases") or [])
    for alias in record.get("aliases") or []:
        if _ALIAS.match(alias) and alias != record["id"]:
            aliases.append(alias)
        elif alias != record["id"]:
            flagged.append(alias)
    return list(dict.fromkeys(aliases)), list(dict.fromkeys(flagged))


def _default_tlp(record: Mapping[str, Any]) -> str:
    # OSV is the format of public vulnerability databases: a record is an entry of one, public
    # (TLP:CLEAR), whether or not it gives ``published`` (eight PyPA records do not). A record
    # meant for fewer eyes says so in ``database_specific.prereview.tlp``, as our exports do.
    return str(Tlp.CLEAR)


def osv_to_report(record: Any, reporter: str, *, plain: bool = False) -> Report:
    """A domain report from one OSV record; schema problems raise ``InvalidExchangeDocument``.

    ``reporter`` is the submitting organisation (what the API authenticated), used unless the
    record names one in ``database_specific.prereview``. An alias that is not an id (a stray
    comma in the source) does not reject a schema-valid record: it is kept, flagged, and links
    nothing. A record is TLP:CLEAR (public) unless ``database_specific.prereview`` says
    otherwise; ``withdrawn`` is kept. ``plain`` says ``record`` is plain JSON already (what
    :func:`~prereview.exchange.documents.load_documents` returns): it is not walked again.
    """
    if not plain:
        record = plain_json(record)
    schema_set().require_valid(record, Standard.OSV)
    problems: list[Problem] = []
    specific = record.get("database_specific") or {}
    ours = specific.get("prereview") or {}
    products = [
        product
        for index, entry in enumerate(record.get("affected") or [])
        if (product := _product(entry, index, problems)) is not None
    ]
    if problems:
        raise InvalidExchangeDocument(str(Standard.OSV), problems)
    discovered_by = ours.get("discovered_by")
    if discovered_by is None and record.get("credits"):
        finder = next(
            (c for c in record["credits"] if c.get("type") == "FINDER"), record["credits"][0]
        )
        discovered_by = Person(name=finder["name"]).model_dump()
    cwes = specific.get("cwe_ids") or []
    aliases, flagged = _split_aliases(record, ours)
    data: dict[str, Any] = {
        "id": record["id"],
        "title": record.get("summary") or record["id"],
        "description": record.get("details") or record.get("summary") or record["id"],
        "reporter": ours.get("reporter") or reporter,
        "affected": products,
        "cwes": cwes,
        "cvss_v3": _cvss(record, "CVSS_V3"),
        "cvss_v4": _cvss(record, "CVSS_V4"),
        "code_locations": ours.get("code_locations") or [],
        "discovered_by": discovered_by,
        "references": record.get("references") or [],
        "aliases": aliases,
        "flagged_aliases": flagged,
        "upstream": record.get("upstream") or [],
        "related": record.get("related") or [],
        "published": record.get("published"),
        "modified": record.get("modified"),
        "withdrawn": record.get("withdrawn"),
        "tlp": ours.get("tlp") or _default_tlp(record),
    }
    return parse_report(data)


def load_osv(payload: str | bytes, reporter: str) -> list[Report]:
    """Every OSV record of a JSON or YAML payload as a report; the first bad one raises."""
    return [osv_to_report(document, reporter, plain=True) for document in load_documents(payload)]


__all__ = [
    "OSV_SCHEMA_VERSION",
    "advisory_to_osv",
    "load_osv",
    "osv_id",
    "osv_to_report",
]
