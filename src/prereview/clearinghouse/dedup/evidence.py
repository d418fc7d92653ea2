"""What a report states about itself that can join it to another report, or keep them apart.

Measured on real advisories (``benchmarks/dedup_real.py``), text similarity inside one package
is not evidence: the advisories of one product are written from templates (two TensorFlow
CVEs overlap at 0.97; two modoboa CVEs have the very same text), and one security release
fixes several CVEs, so the same affected ranges are not evidence either. What is:

- a shared **identifier**: one record names the other, or both name the same CVE, GHSA or
  PYSEC id (either direction, never through a third record);
- the same **fix commit** (a GIT range's ``fixed`` event or a commit URL in the references),
  or the same ``FIX`` reference.

And what keeps two records apart whatever their text: each names a CVE id the other does not
(distinct vulnerabilities), each is fixed by commits the other does not name, or their
affected version ranges differ. The finder (:mod:`.finder`) combines these with text and code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prereview.vulnerability.report import RangeType, Report

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
# Vulnerability ids written in a text: names, not words a reporter would use to describe a bug.
_VULN_ID_IN_TEXT = re.compile(
    r"\b(?:CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3}|PYSEC-\d{4}-[0-9A-Za-z-]+|"
    r"OSV-\d{4}-\d+|GO-\d{4}-\d+|RUSTSEC-\d{4}-\d+)\b",
    re.IGNORECASE,
)
_COMMIT_URL = re.compile(r"/commits?/([0-9a-f]{7,64})(?![0-9a-z])", re.IGNORECASE)
_COMMIT_HASH = re.compile(r"^[0-9a-f]{7,64}$")
# A commit named by a 7-character prefix in one record and in full in the other is one commit.
_COMMIT_KEY = 7
_VERSIONED = (RangeType.ECOSYSTEM.value, RangeType.SEMVER.value)


@dataclass(frozen=True)
class Evidence:
    """The identifiers, affected version ranges and fixes a report states.

    ``names`` are its own id and aliases; ``ranges`` the events of its ECOSYSTEM and SEMVER
    ranges as ``(kind, version)`` (a set: the order of intervals says nothing); ``commits``
    the fix commits (short keys) and ``fix_urls`` the ``FIX`` references that name no commit.
    """

    names: frozenset[str] = frozenset()
    ranges: frozenset[tuple[str, str]] = frozenset()
    commits: frozenset[str] = frozenset()
    fix_urls: frozenset[str] = frozenset()
    # The CVE ids among the names, worked out once: every comparison asks for them.
    cves: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        cves = frozenset(name for name in self.names if _CVE.match(name))
        object.__setattr__(self, "cves", cves)

    def distinct_from(self, other: Evidence) -> str | None:
        """Why the two records are different vulnerabilities whatever else they share."""
        if self.cves and other.cves and not self.cves & other.cves:
            return "different CVE ids"
        return None

    def same_fix(self, other: Evidence) -> bool:
        """Both name one fix commit or one ``FIX`` reference."""
        return bool(self.commits & other.commits or self.fix_urls & other.fix_urls)

    def fixed_apart(self, other: Evidence) -> bool:
        """Each is fixed by commits the other does not name: two fixes, two bugs."""
        return bool(self.commits and other.commits and not self.commits & other.commits)

    def ranges_differ(self, other: Evidence) -> bool:
        """Both state affected ranges, and not the same ones."""
        return bool(self.ranges and other.ranges and self.ranges != other.ranges)


def strip_vulnerability_ids(text: str) -> str:
    """The text without the vulnerability ids it names (an id is a name, not a description)."""
    return _VULN_ID_IN_TEXT.sub(" ", text)


def _commit_key(value: str) -> str | None:
    lowered = value.strip().lower()
    return lowered[:_COMMIT_KEY] if _COMMIT_HASH.match(lowered) else None


def _normal_url(url: str) -> str:
    return url.strip().split("#", 1)[0].rstrip("/").lower()


def _evidence(
    report_id: str,
    aliases: Iterable[str],
    ranges: Iterable[tuple[str, Iterable[tuple[str, str]]]],
    references: Iterable[tuple[str, str]],
) -> Evidence:
    events: set[tuple[str, str]] = set()
    commits: set[str] = set()
    for range_type, range_events in ranges:
        for kind, version in range_events:
            if range_type in _VERSIONED:
                events.add((kind, version))
            elif kind == "fixed" and (key := _commit_key(version)) is not None:
                commits.add(key)
    fix_urls: set[str] = set()
    for url, reference_type in references:
        named = _COMMIT_URL.search(url)
        if named is not None:
            commits.add(named.group(1).lower()[:_COMMIT_KEY])
        elif reference_type == "FIX":
            fix_urls.add(_normal_url(url))
    return Evidence(
        names=frozenset({report_id, *aliases}),
        ranges=frozenset(events),
        commits=frozenset(commits),
        fix_urls=frozenset(fix_urls),
    )


def evidence_of_report(report: Report) -> Evidence:
    """The evidence a domain report states."""
    return _evidence(
        report.id,
        report.aliases,
        (
            (version_range.type.value, ((e.kind.value, e.version) for e in version_range.events))
            for product in report.affected
            for version_range in product.ranges
        ),
        ((str(reference.url), reference.type.value) for reference in report.references),
    )


def evidence_of_document(document: Mapping[str, Any]) -> Evidence:
    """The evidence of a stored report document (a :class:`Report` dumped as JSON)."""
    return _evidence(
        str(document.get("id", "")),
        (str(alias) for alias in document.get("aliases") or []),
        (
            (
                str(version_range.get("type", "")),
                ((str(e["kind"]), str(e["version"])) for e in version_range.get("events") or []),
            )
            for product in document.get("affected") or []
            for version_range in product.get("ranges") or []
        ),
        (
            (str(reference.get("url", "")), str(reference.get("type", "WEB")))
            for reference in document.get("references") or []
        ),
    )


__all__ = ["Evidence", "evidence_of_document", "evidence_of_report", "strip_vulnerability_ids"]
