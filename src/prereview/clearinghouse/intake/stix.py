"""STIX 2.1 ``vulnerability`` objects read as reports, for the TAXII federation's intake.

What a STIX vulnerability says is mapped onto a report, and intake checks it like any other
(:func:`.formats.parse_one`): the id is the source clearinghouse's own (an external reference
``prereview``), else the CVE, else the object's ``name`` when that is a vulnerability id; other
external references are aliases (one that is no id is kept as a flagged alias), CWEs, and the
affected products (``purl`` and ``cpe``); ``created`` is when it was published, ``modified`` its
version, ``revoked`` means withdrawn. The CVSS lines and the references that the exporter
(:func:`prereview.exchange.stix.advisory_to_stix`) writes into the description, since STIX has
no property for them, are read back out of it. The TLP label is the stricter of the object's
own TLP 2.0 marking and the one its collection lands under here: a label is never loosened.

Nothing here is trusted: what comes out is data for intake, which validates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prereview.core.markings import Tlp
from prereview.exchange.stix import TLP2_MARKING_IDS, stix_timestamp
from prereview.vulnerability.problems import Problem
from prereview.vulnerability.report import VULN_ID_PATTERN, ReferenceType

VULNERABILITY = "vulnerability"
_VULN_ID = re.compile(VULN_ID_PATTERN)
_TLP_OF_MARKING = {marking: tlp for tlp, marking in TLP2_MARKING_IDS.items()}
_NOT_ALIASES = frozenset({"prereview", "cwe", "purl", "cpe", "capec"})
_REFERENCES = re.compile(r"\n\nReferences:\n((?:- [A-Z_]+: \S+(?:\n|\Z))+)\Z")
_SCORES = re.compile(r"\n\n((?:CVSS (?:3\.[01]|4\.0): CVSS:\S+ \([^)\n]*\)(?:\n|\Z))+)\Z")
_SCORE_LINE = re.compile(r"CVSS (3\.[01]|4\.0): (CVSS:\S+) ")
_REFERENCE_LINE = re.compile(r"- ([A-Z_]+): (\S+)")
_STIX_ID = re.compile(r"vulnerability--[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_STIX_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z")


@dataclass(frozen=True)
class Converted:
    """A STIX object read for intake: the report's data, or the problems that stop it."""

    stix_id: str
    version: str
    data: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    skipped: str | None = None


def normal_version(value: Any) -> str:
    """A STIX version (its ``modified`` timestamp) written one way, so that the same version
    reads the same from either side: UTC, milliseconds (STIX's own precision in practice)."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return stix_timestamp(moment)


def _problem(path: str, message: str) -> Problem:
    return Problem(path=path, message=message)


def stricter(a: Tlp, b: Tlp) -> Tlp:
    """The more restricted of two labels."""
    return a if a.rank >= b.rank else b


def _references(obj: dict[str, Any]) -> list[dict[str, Any]]:
    refs = obj.get("external_references") or []
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def _own_id(obj: dict[str, Any], refs: list[dict[str, Any]]) -> str | None:
    by_source: dict[str, str] = {}
    for ref in refs:
        source, external = ref.get("source_name"), ref.get("external_id")
        if isinstance(source, str) and isinstance(external, str):
            by_source.setdefault(source.lower(), external)
    for candidate in (by_source.get("prereview"), by_source.get("cve"), obj.get("name")):
        if isinstance(candidate, str) and _VULN_ID.fullmatch(candidate):
            return candidate
    return None


def _split_description(text: str) -> tuple[str, list[str], list[dict[str, str]]]:
    """The description without the CVSS and reference lines the exporter appends, and those."""
    references: list[dict[str, str]] = []
    found = _REFERENCES.search(text)
    if found:
        for line in found.group(1).splitlines():
            match = _REFERENCE_LINE.fullmatch(line.strip())
            if match:
                kind = match.group(1)
                known = kind if kind in ReferenceType.__members__ else ReferenceType.WEB.value
                references.append({"type": known, "url": match.group(2)})
        text = text[: found.start()]
    vectors: list[str] = []
    found = _SCORES.search(text)
    if found:
        vectors = [m.group(2) for m in _SCORE_LINE.finditer(found.group(1))]
        text = text[: found.start()]
    return text, vectors, references


def _timestamp(value: Any) -> str | None:
    """A STIX timestamp written one way, or None when ``value`` is not one."""
    if not isinstance(value, str) or not _STIX_TIME.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stix_timestamp(moment)


def stix_to_report(obj: Any, reporter: str, landing: Tlp) -> Converted:
    """The report data of one STIX object served by a peer, or why there is none.

    The reporter is always ``reporter`` (the peer), whatever the object claims of its
    publisher (``created_by_ref``, custom properties): only what is mapped here reaches
    intake. An id that is not ``vulnerability--<uuid>`` comes back without one, so that the
    ledger records nothing a peer could make overlong."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return Converted("", "", problems=[_problem("$", "not a STIX object with an 'id'")])
    stix_id: str = obj["id"]
    if obj.get("type") != VULNERABILITY or not stix_id.startswith(f"{VULNERABILITY}--"):
        return Converted(stix_id[:200], "", skipped="not a vulnerability: not pulled")
    if not _STIX_ID.fullmatch(stix_id):
        return Converted("", "", problems=[_problem("$.id", "not vulnerability--<uuid>")])
    version = _timestamp(obj.get("modified")) or ""
    refs = _references(obj)
    own = _own_id(obj, refs)
    if own is None:
        return Converted(
            stix_id,
            version,
            problems=[
                _problem(
                    "$.external_references",
                    "names no vulnerability id (no 'prereview' or 'cve' reference, and 'name' "
                    "is not an id)",
                )
            ],
        )
    if not version:
        return Converted(
            stix_id, version, problems=[_problem("$.modified", "is required, a timestamp")]
        )
    aliases: list[str] = []
    flagged: list[str] = []
    cwes: list[str] = []
    affected: list[dict[str, str]] = []
    for ref in refs:
        source = str(ref.get("source_name", "")).lower()
        external = ref.get("external_id")
        if not isinstance(external, str) or external == own:
            continue
        if source == "cwe":
            cwes.append(external)
        elif source in ("purl", "cpe"):
            affected.append({source: external})
        elif source not in _NOT_ALIASES:
            (aliases if _VULN_ID.fullmatch(external) else flagged).append(external)
    markings = obj.get("object_marking_refs")
    marked = [
        _TLP_OF_MARKING[m]
        for m in (markings if isinstance(markings, list) else [])
        if isinstance(m, str) and m in _TLP_OF_MARKING
    ]
    tlp = landing
    for label in marked:
        tlp = stricter(tlp, label)
    name = obj.get("name")
    description, vectors, links = _split_description(str(obj.get("description") or name or ""))
    data: dict[str, Any] = {
        "id": own,
        "title": name if isinstance(name, str) and name else own,
        "description": description or own,
        "reporter": reporter,
        "affected": list({str(a): a for a in affected}.values()),
        "cwes": list(dict.fromkeys(cwes)),
        "aliases": list(dict.fromkeys(aliases)),
        "flagged_aliases": list(dict.fromkeys(flagged)),
        "references": links,
        "tlp": str(tlp),
        "published": obj.get("created"),
        "modified": obj.get("modified"),
    }
    for vector in vectors:
        data["cvss_v4" if vector.startswith("CVSS:4") else "cvss_v3"] = vector
    if obj.get("revoked") is True:
        data["withdrawn"] = obj.get("modified")
    return Converted(stix_id, version, data=data)


def report_version(document: dict[str, Any]) -> str:
    """The STIX version a stored report is served at (``advisory_to_stix``'s ``modified``):
    the latest of its publication, modification and withdrawal times."""
    moments = []
    for key in ("published", "modified", "withdrawn"):
        value = document.get(key)
        if value:
            moments.append(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    return stix_timestamp(max(moments)) if moments else ""
