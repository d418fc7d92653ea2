"""Intake of vulnerability reports: one at a time, or in bulk.

Bulk payloads are JSON Lines of reports, OSV records (JSON or YAML, one or many) or a CSAF 2.0
document. Each item comes back with what happened to it: accepted (with any likely duplicates
for an analyst to look at), duplicate of a report that already has one of its identifiers,
rejected (with every problem, by JSON path), or skipped (a CSAF "not affected" statement).

Nothing here writes anywhere: the service layer stores the accepted reports in one transaction
and answers with :meth:`IntakeResult.summary`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    SKIPPED = "skipped"


class KnownIdentifiers(Protocol):
    """What the store knows: which report, if any, already carries an identifier."""

    def report_for(self, identifier: str) -> str | None:
        """The id of the stored report known by ``identifier`` (its id or an alias), if any."""
        ...


class NoKnownIdentifiers:
    """An empty store (for tests and dry runs)."""

    def report_for(self, identifier: str) -> str | None:
        return None


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
        """The reports to store."""
        return [
            i.report for i in self.items if i.status is ItemStatus.ACCEPTED and i.report is not None
        ]

    def counts(self) -> dict[str, int]:
        """How many items ended in each status (every status present, zero or not)."""
        counted = Counter(str(item.status) for item in self.items)
        return {str(status): counted.get(str(status), 0) for status in ItemStatus}

    def summary(self) -> dict[str, Any]:
        """The whole outcome as JSON for the API: counts and one entry per item."""
        return {"counts": self.counts(), "items": [item.summary() for item in self.items]}


@dataclass(frozen=True)
class _Parsed:
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
        return IntakeFormat.REPORT
    if head:
        return IntakeFormat.OSV  # YAML
    raise UnsupportedIntakeFormat("the payload is empty")


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


def _parse(payload: str | bytes, intake_format: IntakeFormat, reporter: str) -> list[_Parsed]:
    parsed: list[_Parsed] = []
    if intake_format is IntakeFormat.CSAF:
        for item in load_csaf(payload, reporter):
            parsed.append(_Parsed(item.path, item.report, item.problems, item.skipped_because))
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
                report = osv_to_report(value, reporter)
            else:
                report = parse_one(value, reporter)
            parsed.append(_Parsed(location, report))
        except InvalidInput as exc:
            parsed.append(
                _Parsed(
                    location,
                    problems=exc.extra.get("errors") or [{"path": "$", "message": exc.detail}],
                )
            )
    return parsed


def intake_bulk(
    payload: str | bytes,
    reporter: str,
    intake_format: IntakeFormat | None = None,
    *,
    known: KnownIdentifiers | None = None,
    finder: DuplicateFinder | None = None,
    filename: str | None = None,
) -> IntakeResult:
    """Parse, check and de-duplicate every item of a bulk payload.

    An item is a duplicate when its id or one of its aliases names a report already stored
    (``known``) or accepted earlier in the same payload. Accepted reports are indexed in
    ``finder`` (if given) and come back with the likely duplicates it proposes. A CSAF document
    that fails its schema raises ``InvalidExchangeDocument`` as a whole; other items fail alone.
    """
    chosen = intake_format or detect_format(payload, filename)
    store = known or NoKnownIdentifiers()
    seen: dict[str, str] = {}
    items: list[IntakeItem] = []
    for index, entry in enumerate(_parse(payload, chosen, reporter)):
        report = entry.report
        if report is None:
            status = ItemStatus.REJECTED if entry.problems else ItemStatus.SKIPPED
            items.append(
                IntakeItem(index, entry.location, status, problems=entry.problems, note=entry.note)
            )
            continue
        duplicate_of = next(
            (
                owner
                for identifier in report.identifiers
                if (owner := seen.get(identifier) or store.report_for(identifier))
            ),
            None,
        )
        if duplicate_of is not None:
            items.append(
                IntakeItem(
                    index, entry.location, ItemStatus.DUPLICATE, report, duplicate_of=duplicate_of
                )
            )
            continue
        for identifier in report.identifiers:
            seen[identifier] = report.id
        candidates = finder.add_report(report) if finder is not None else []
        items.append(
            IntakeItem(index, entry.location, ItemStatus.ACCEPTED, report, candidates=candidates)
        )
    return IntakeResult(items)
