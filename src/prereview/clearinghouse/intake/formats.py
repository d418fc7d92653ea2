"""Intake of vulnerability reports: one at a time, or in bulk.

Bulk payloads are JSON Lines of reports, OSV records (JSON or YAML, one or many) or a CSAF 2.0
document. Each item comes back with what happened to it: accepted (with any likely duplicates
for an analyst to look at), updated (a newer version, by ``modified``, of a report its
organisation stored before), duplicate (a report with this id is stored and this version is
not newer), rejected (with every problem, by JSON path), or skipped (a CSAF "not affected"
statement). Accepted and updated items carry their warnings (an alias kept but flagged).

Records are told apart by their own id only: two records that share an alias (the PYSEC
records of ``tensorflow`` and ``tensorflow-gpu`` naming one CVE) are two records, which the
alias links and never collapses.

Nothing here writes anywhere: the service layer stores the accepted reports in one transaction
and answers with :meth:`IntakeResult.summary`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from prereview.clearinghouse.dedup.finder import DuplicateCandidate, DuplicateFinder
from prereview.clearinghouse.errors import UnsupportedIntakeFormat
from prereview.core.errors import InvalidInput
from prereview.core.parsing import load_json
from prereview.exchange.csaf_import import load_csaf
from prereview.exchange.documents import load_documents, load_json_lines
from prereview.exchange.osv import osv_to_report
from prereview.vulnerability.problems import Problem
from prereview.vulnerability.report import Report, parse_report


class IntakeFormat(StrEnum):
    REPORT = "report"  # one report object, JSON
    JSON_LINES = "jsonl"  # one report object per line
    OSV = "osv"  # OSV records, JSON (object or array) or YAML (one or more documents)
    CSAF = "csaf"  # one CSAF 2.0 document


class ItemStatus(StrEnum):
    ACCEPTED = "accepted"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StoredVersion:
    """What intake needs to know of a stored report with a given id."""

    modified: datetime | None
    # Whether the importing organisation reported it: only its source may update a report.
    ours: bool


class KnownRecords(Protocol):
    """What the store knows: the stored report with an id, if any."""

    def stored(self, report_id: str) -> StoredVersion | None:
        """The stored report whose own id is ``report_id`` (aliases do not count), if any."""
        ...


class NoKnownRecords:
    """An empty store (for tests and dry runs)."""

    def stored(self, report_id: str) -> StoredVersion | None:
        return None


def is_newer(modified: datetime | None, than: datetime | None) -> bool:
    """Whether a version modified at ``modified`` replaces one modified at ``than``: only a
    later ``modified`` does (the same or an older one changes nothing, so re-sending is a no-op;
    a version without ``modified`` cannot say it is newer)."""
    return modified is not None and (than is None or modified > than)


@dataclass(frozen=True)
class IntakeItem:
    """The outcome of one item of a bulk payload."""

    index: int
    location: str
    status: ItemStatus
    report: Report | None = None
    duplicate_of: str | None = None
    problems: list[Problem] = field(default_factory=list)
    candidates: list[DuplicateCandidate] = field(default_factory=list)
    note: str | None = None

    def summary(self) -> dict[str, Any]:
        """This outcome as JSON for the API."""
        body: dict[str, Any] = {
            "index": self.index,
            "location": self.location,
            "status": str(self.status),
        }
        if self.report is not None:
            body["id"] = self.report.id
        if self.duplicate_of is not None:
            body["duplicate_of"] = self.duplicate_of
        if self.problems:
            body["errors"] = list(self.problems)
        if self.report is not None and self.report.warnings:
            body["warnings"] = list(self.report.warnings)
        if self.candidates:
            body["likely_duplicates"] = [
                {"id": c.report_id, "similarity": c.similarity, "same_code": c.same_code}
                for c in self.candidates
            ]
        if self.note:
            body["note"] = self.note
        return body


@dataclass(frozen=True)
class IntakeResult:
    items: list[IntakeItem]

    @property
    def accepted(self) -> list[Report]:
        """The new reports to store."""
        return [
            i.report for i in self.items if i.status is ItemStatus.ACCEPTED and i.report is not None
        ]

    @property
    def updated(self) -> list[Report]:
        """The newer versions of stored reports, to apply."""
        return [
            i.report for i in self.items if i.status is ItemStatus.UPDATED and i.report is not None
        ]

    def counts(self) -> dict[str, int]:
        """How many items ended in each status (every status present, zero or not)."""
        counted = Counter(str(item.status) for item in self.items)
        return {str(status): counted.get(str(status), 0) for status in ItemStatus}

    def summary(self) -> dict[str, Any]:
        """The whole outcome as JSON for the API: counts and one entry per item."""
        return {"counts": self.counts(), "items": [item.summary() for item in self.items]}


@dataclass(frozen=True)
class ParsedItem:
    """One item of a bulk payload, parsed and checked: a report, or why there is none."""

    location: str
    report: Report | None = None
    problems: list[Problem] = field(default_factory=list)
    note: str | None = None


def detect_format(payload: str | bytes, filename: str | None = None) -> IntakeFormat:
    """Guess the format of a payload from its file name, else from its first bytes."""
    text = payload.decode("utf-8-sig", errors="replace") if isinstance(payload, bytes) else payload
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return IntakeFormat.JSON_LINES
    if name.endswith((".yaml", ".yml")):
        return IntakeFormat.OSV
    head = text.lstrip()[:4096]
    if '"csaf_version"' in head or '"document"' in head[:200]:
        return IntakeFormat.CSAF
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and _is_json_object(lines[0]):  # a whole object on the first line
        return IntakeFormat.JSON_LINES
    if head.startswith("[") or '"schema_version"' in head or '"modified"' in head:
        return IntakeFormat.OSV
    if head.startswith("{"):
        # OSV.dev writes 'details' before 'modified': a long one pushes it past the head.
        return IntakeFormat.OSV if _names_osv_keys(text) else IntakeFormat.REPORT
    if head:
        return IntakeFormat.OSV  # YAML
    raise UnsupportedIntakeFormat("the payload is empty")


def _names_osv_keys(text: str) -> bool:
    """Whether ``text`` is a JSON object with a key only OSV records have at the top."""
    try:
        value = load_json(text)
    except InvalidInput:
        return False
    return isinstance(value, dict) and not OSV_KEYS.isdisjoint(value)


OSV_KEYS = frozenset(["schema_version", "modified"])


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(load_json(line), dict)
    except InvalidInput:
        return False


def parse_one(data: Any, reporter: str) -> Report:
    """One report object (the single-report API); ``reporter`` fills in a missing reporter."""
    if isinstance(data, Mapping):
        data = {"reporter": reporter, **data}
    return parse_report(data)


def parse_bulk(
    payload: str | bytes,
    reporter: str,
    intake_format: IntakeFormat | None = None,
    *,
    filename: str | None = None,
) -> list[ParsedItem]:
    """Every item of a bulk payload parsed and checked against its format, in order; nothing
    is looked up. ``reporter`` fills in a missing reporter. A payload that cannot be read as a
    whole (not UTF-8, not JSON or YAML, an alias, too deep) raises its ``InvalidInput``; an
    item that fails alone comes back with its problems. A CSAF document that fails its schema
    raises ``InvalidExchangeDocument`` as a whole."""
    intake_format = intake_format or detect_format(payload, filename)
    parsed: list[ParsedItem] = []
    if intake_format is IntakeFormat.CSAF:
        for item in load_csaf(payload, reporter):
            parsed.append(ParsedItem(item.path, item.report, item.problems, item.skipped_because))
        return parsed
    if intake_format is IntakeFormat.JSON_LINES:
        entries = [(f"line {n}", value) for n, value in load_json_lines(payload)]
    else:
        entries = [(f"document {n}", doc) for n, doc in enumerate(load_documents(payload), start=1)]
    for location, value in entries:
        try:
            if isinstance(value, InvalidInput):
                raise value
            if intake_format is IntakeFormat.OSV:
                # load_documents and load_json_lines give plain JSON: no second walk.
                report = osv_to_report(value, reporter, plain=True)
            else:
                report = parse_one(value, reporter)
            parsed.append(ParsedItem(location, report))
        except InvalidInput as exc:
            parsed.append(
                ParsedItem(
                    location,
                    problems=exc.extra.get("errors") or [{"path": "$", "message": exc.detail}],
                )
            )
    return parsed


def sort_bulk(
    parsed: list[ParsedItem],
    known: KnownRecords | None = None,
    finder: DuplicateFinder | None = None,
) -> IntakeResult:
    """Sort parsed items: new, update, duplicate or rejected (see :func:`intake_bulk`)."""
    store = known or NoKnownRecords()
    seen: dict[str, datetime | None] = {}  # id -> ``modified`` of its latest version so far
    items: list[IntakeItem] = []
    for index, entry in enumerate(parsed):
        report = entry.report
        if report is None:
            status = ItemStatus.REJECTED if entry.problems else ItemStatus.SKIPPED
            items.append(
                IntakeItem(index, entry.location, status, problems=entry.problems, note=entry.note)
            )
            continue
        previous = (
            StoredVersion(seen[report.id], ours=True)
            if report.id in seen
            else store.stored(report.id)
        )
        if previous is None:
            seen[report.id] = report.modified
            candidates = finder.add_report(report) if finder is not None else []
            items.append(
                IntakeItem(
                    index, entry.location, ItemStatus.ACCEPTED, report, candidates=candidates
                )
            )
        elif previous.ours and is_newer(report.modified, previous.modified):
            seen[report.id] = report.modified
            items.append(IntakeItem(index, entry.location, ItemStatus.UPDATED, report))
        else:
            note = (
                "this version is not newer than the stored one (by 'modified'): nothing changed"
                if previous.ours
                # Said the same whether or not the caller may read the stored report.
                else "a report with this id is stored, and only its source may update it"
            )
            items.append(
                IntakeItem(
                    index,
                    entry.location,
                    ItemStatus.DUPLICATE,
                    report,
                    duplicate_of=report.id,
                    note=note,
                )
            )
    return IntakeResult(items)


def intake_bulk(
    payload: str | bytes,
    reporter: str,
    intake_format: IntakeFormat | None = None,
    *,
    known: KnownRecords | None = None,
    finder: DuplicateFinder | None = None,
    filename: str | None = None,
) -> IntakeResult:
    """Parse, check and sort every item of a bulk payload: new, update, duplicate or rejected.

    An item whose id names no stored report (``known``) nor an earlier item is accepted; one
    whose id does is an update if its organisation stored that report and its ``modified`` is
    later (:func:`is_newer`), else a duplicate that changes nothing. Aliases never make an item
    a duplicate: they link records. Accepted reports are indexed in ``finder`` (if given) and
    come back with the likely duplicates it proposes. A CSAF document that fails its schema
    raises ``InvalidExchangeDocument`` as a whole; other items fail alone.
    """
    parsed = parse_bulk(payload, reporter, intake_format, filename=filename)
    return sort_bulk(parsed, known, finder)
