"""Intake's storing step: each accepted report stored whole, in short transactions.

Intake stores each accepted report whole, in the same transaction as its identifiers, affected
products, stated relations, proposed duplicates, vendor notifications and audit entries, using
batched inserts, a few hundred reports per transaction so that no import holds the database
for long; an item is stored entirely or not at all, and a payload whose items are all
rejected writes nothing. A newer version of a stored report (by ``modified``, from the
organisation that stored it) replaces it in place, and the version it replaces is kept in
``ch_report_versions``. Re-running an import is idempotent: an item whose id is stored and
which is not newer comes back as a duplicate and changes nothing. Parsing is :mod:`.formats`'
part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.dedup.finder import DuplicateFinder
from prereview.clearinghouse.dedup.index import index_for
from prereview.clearinghouse.intake.formats import (
    IntakeFormat,
    IntakeItem,
    IntakeResult,
    ItemStatus,
    StoredVersion,
    parse_bulk,
    parse_one,
    sort_bulk,
)
from prereview.clearinghouse.models import (
    AffectedRow,
    DuplicateCandidateRow,
    ReportRecipient,
    ReportVersion,
    VulnIdentifier,
    VulnRelation,
    VulnReport,
)
from prereview.clearinghouse.reports import evidence_context, load_report
from prereview.clearinghouse.sharing.need_to_know import readable_ids
from prereview.clearinghouse.sharing.routing import notify_vendors
from prereview.core.ids import new_id
from prereview.identity import service as identity
from prereview.vault import service as vault_service
from prereview.vault.service import Vault
from prereview.vulnerability.report import Report

_BATCH = 1000
# Reports stored per transaction by an intake: small enough that a writer waiting behind one
# chunk (a developer's release) waits well under a second.
_STORE_CHUNK = 200
# Ids looked up per query (well under SQLite's limit of bound parameters).
_LOOKUP_CHUNK = 500
T = TypeVar("T")
_RELATION_FIELDS = (("alias", "aliases"), ("upstream", "upstream"), ("related", "related"))


def _modified(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class StoredRecords:
    """The stored reports an intake's items name by their own id (``KnownRecords``).

    Looked up together, a few hundred ids a query, before the items are sorted: one round trip
    per batch, never one per item, and never a scan of every stored report."""

    def __init__(self, db: Session, organisation_id: str, report_ids: Iterable[str]) -> None:
        self._organisation_id = organisation_id
        self._found: dict[str, StoredVersion] = {}
        wanted = list(dict.fromkeys(report_ids))
        for chunk in _chunks(wanted, _LOOKUP_CHUNK):
            query = select(
                VulnReport.id,
                VulnReport.reporter_org_id,
                VulnReport.document["modified"].as_string(),
            ).where(VulnReport.id.in_(chunk))
            for report_id, org, modified in db.execute(query):
                self._found[report_id] = StoredVersion(
                    _modified(modified), ours=org == self._organisation_id
                )

    def stored(self, report_id: str) -> StoredVersion | None:
        return self._found.get(report_id)


def _chunks(items: Sequence[T], size: int = _BATCH) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(db: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Batched INSERTs through SQLAlchemy Core (executemany), not one ORM object per row."""
    target = cast(Table, table.__table__)
    for chunk in _chunks(rows):
        db.execute(insert(target), list(chunk))


def _store(
    db: Session,
    vault: Vault,
    actor: Actor,
    items: Sequence[IntakeItem],
    recipients: Sequence[str],
    action: Permission,
    now: datetime,
) -> None:
    """Write the accepted items of an intake, with everything that goes with them, and apply
    its updates (after the inserts: an update may follow its report in the same payload)."""
    new_items = [i for i in items if i.status is ItemStatus.ACCEPTED and i.report is not None]
    reports = [item.report for item in new_items if item.report is not None]
    updates = [i.report for i in items if i.status is ItemStatus.UPDATED and i.report is not None]
    if reports:
        _insert_reports(db, vault, actor, new_items, reports, recipients, action, now)
    for report in updates:
        _update(db, vault, actor, report, action, now)


def _insert_reports(
    db: Session,
    vault: Vault,
    actor: Actor,
    items: Sequence[IntakeItem],
    reports: Sequence[Report],
    recipients: Sequence[str],
    action: Permission,
    now: datetime,
) -> None:
    report_rows: list[dict[str, Any]] = []
    identifiers: list[dict[str, Any]] = []
    affected: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    for report in reports:
        # Evidence never goes into the row: it is sealed in the vault below.
        document = report.model_dump(mode="json", exclude={"evidence"})
        report_rows.append(
            {
                "id": report.id,
                "reporter_org_id": actor.organisation_id,
                "title": report.title,
                "tlp": str(report.tlp),
                "cwes": list(report.cwes),
                "package_keys": report.package_keys,
                "cvss_v3_vector": report.cvss_v3.vector if report.cvss_v3 else None,
                "cvss_v3_score": report.cvss_v3.base_score if report.cvss_v3 else None,
                "cvss_v4_vector": report.cvss_v4.vector if report.cvss_v4 else None,
                "cvss_v4_score": report.cvss_v4.base_score if report.cvss_v4 else None,
                "document": document,
                "has_evidence": bool(report.evidence),
                # A report's "discovered_by" names whatever review its reporter likes (a rival
                # lab can name another lab's): it stays a claim in the document. The row's
                # submission is set only by a verified model-found label (:mod:`..provenance`).
                "submission_id": None,
                "merged_into": None,
                "case_id": None,
                "published_at": None,
                "modified_at": None,
                "created_at": now,
            }
        )
        identifiers.extend(
            {"identifier": name, "report_id": report.id}
            for name in dict.fromkeys(report.identifiers)
        )
        seen_products: set[tuple[str, str | None, str | None]] = set()
        for product in report.affected:
            key = (product.package_key, product.purl, product.cpe)
            if key not in seen_products:
                seen_products.add(key)
                affected.append(
                    {
                        "report_id": report.id,
                        "package_key": product.package_key,
                        "purl": product.purl,
                        "cpe": product.cpe,
                    }
                )
        relations.extend(_stated_relations(document, now))
    _insert(db, VulnReport, report_rows)
    _insert(db, VulnIdentifier, identifiers)
    _insert(db, AffectedRow, affected)
    _insert(db, VulnRelation, relations)
    _insert(
        db,
        ReportRecipient,
        [{"report_id": r.id, "org_id": org} for r in reports for org in dict.fromkeys(recipients)],
    )
    _insert(
        db,
        DuplicateCandidateRow,
        [
            {
                "id": new_id("dup"),
                "report_id": item.report.id,
                "candidate_id": candidate.report_id,
                "similarity": candidate.similarity,
                "same_code": candidate.same_code,
                "status": "proposed",
                "decided_by": None,
                "decided_at": None,
                "created_at": now,
            }
            for item in items
            if item.report is not None
            for candidate in item.candidates
        ],
    )
    for report in reports:
        if report.evidence:
            vault_service.put_secret(
                db, vault, evidence_context(report.id), "evidence", report.evidence.encode(), now
            )
    notify_vendors(db, reports, actor.organisation_id, now)
    audit.record_many(
        db,
        [
            audit.NewEntry(
                actor=actor,
                action=action,
                object_type="vulnerability_report",
                object_id=report.id,
                at=now,
                # Who found it (a model or a person), for the transparency report's AI share.
                detail={
                    "tlp": str(report.tlp),
                    "evidence_sealed": bool(report.evidence),
                    "found_by": report.discovered_by.kind if report.discovered_by else None,
                },
            )
            for report in reports
        ],
    )


def _stated_relations(document: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The relations a report's own document states (its aliases, upstream and related)."""
    return [
        {"kind": kind, "source": document["id"], "target": target, "created_at": now}
        for kind, field_name in _RELATION_FIELDS
        for target in dict.fromkeys(document.get(field_name) or [])
    ]


def _update(
    db: Session, vault: Vault, actor: Actor, report: Report, action: Permission, now: datetime
) -> None:
    """Replace a stored report by a newer version of it, keeping the one it replaces.

    Its names, affected products and the relations its previous version stated are replaced
    by the new version's; relations an analyst stated stay. Vendors already told about it are
    not told again; likely duplicates are not proposed again.
    """
    row = db.scalar(select(VulnReport).where(VulnReport.id == report.id).with_for_update())
    assert row is not None, "intake updates only reports it found stored"
    previous = row.document
    versions = (
        db.scalar(
            select(func.count()).select_from(ReportVersion).where(ReportVersion.report_id == row.id)
        )
        or 0
    )
    last_replaced = db.scalar(
        select(func.max(ReportVersion.replaced_at)).where(ReportVersion.report_id == row.id)
    )
    db.add(
        ReportVersion(
            report_id=row.id,
            version=versions + 1,
            modified=_modified(previous.get("modified")),
            document=previous,
            tlp=row.tlp,
            stored_at=last_replaced or row.created_at,
            replaced_at=now,
        )
    )
    document = report.model_dump(mode="json", exclude={"evidence"})
    if row.published_at is not None and not document.get("published"):
        # Published here: the advisory keeps its publication time.
        document["published"] = previous.get("published")
    row.document = document
    row.title = report.title
    row.tlp = str(report.tlp)
    row.cwes = list(report.cwes)
    row.package_keys = report.package_keys
    row.cvss_v3_vector = report.cvss_v3.vector if report.cvss_v3 else None
    row.cvss_v3_score = report.cvss_v3.base_score if report.cvss_v3 else None
    row.cvss_v4_vector = report.cvss_v4.vector if report.cvss_v4 else None
    row.cvss_v4_score = report.cvss_v4.base_score if report.cvss_v4 else None
    row.has_evidence = row.has_evidence or bool(report.evidence)
    row.modified_at = report.modified
    db.execute(delete(VulnIdentifier).where(VulnIdentifier.report_id == row.id))
    _insert(
        db,
        VulnIdentifier,
        [{"identifier": n, "report_id": row.id} for n in dict.fromkeys(report.identifiers)],
    )
    db.execute(delete(AffectedRow).where(AffectedRow.report_id == row.id))
    products = {(p.package_key, p.purl, p.cpe) for p in report.affected}
    _insert(
        db,
        AffectedRow,
        [
            {"report_id": row.id, "package_key": key, "purl": purl, "cpe": cpe}
            for key, purl, cpe in sorted(products, key=lambda p: (p[0], p[1] or "", p[2] or ""))
        ],
    )
    for relation in _stated_relations(previous, now):
        db.execute(
            delete(VulnRelation).where(
                VulnRelation.kind == relation["kind"],
                VulnRelation.source == relation["source"],
                VulnRelation.target == relation["target"],
            )
        )
    kept = {
        (kind, target)
        for kind, target in db.execute(
            select(VulnRelation.kind, VulnRelation.target).where(VulnRelation.source == row.id)
        )
    }
    _insert(
        db,
        VulnRelation,
        [r for r in _stated_relations(document, now) if (r["kind"], r["target"]) not in kept],
    )
    if report.evidence:
        vault_service.put_secret(
            db, vault, evidence_context(row.id), "evidence", report.evidence.encode(), now
        )
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type="vulnerability_report",
        object_id=row.id,
        at=now,
        detail={
            "tlp": row.tlp,
            "evidence_sealed": bool(report.evidence),
            "updated_to_version": versions + 2,
            "modified": document.get("modified"),
        },
    )


def _check_recipients(db: Session, actor: Actor, recipients: Sequence[str]) -> None:
    for org_id in recipients:
        identity.get_organisation(db, actor, org_id)  # raises a 404 problem for an unknown id


def _intake(
    db: Session,
    vault: Vault,
    actor: Actor,
    now: datetime,
    recipients: Sequence[str],
    action: Permission,
    run: Any,
    report_ids: Iterable[str],
) -> IntakeResult:
    """Run an intake against the stored reports it names (``report_ids``) and the duplicate
    index, then store it. The caller parses and checks the payload first: only sorting and
    storing happen under the index's lock, and no write transaction is open while a payload
    parses.

    Accepted items are stored in chunks of ``_STORE_CHUNK``, one transaction each, so that no
    import holds the database for long; each item is stored whole or not at all. The index
    learns the accepted reports only if their chunk commits; on any error the reports not yet
    stored are taken out of it again, so it never proposes a report that was not stored. What
    was stored before an error stays, and a re-import finds it (as duplicates).
    """
    authorize(actor, action)
    _check_recipients(db, actor, recipients)
    index = index_for(db)
    with index.lock:
        index.catch_up(db)
        known = StoredRecords(db, actor.organisation_id, report_ids)
        result: IntakeResult = run(known, index.finder)
        writes = (ItemStatus.ACCEPTED, ItemStatus.UPDATED)
        accepted = [i for i in result.items if i.status in writes]
        stored = 0
        try:
            # One short transaction per chunk: a concurrent writer (a release) waits for one
            # chunk at most, never for the whole import.
            for chunk in _chunks(accepted, _STORE_CHUNK):
                _store(db, vault, actor, chunk, recipients, action, now)
                db.commit()
                stored += len(chunk)
        except BaseException:
            db.rollback()
            for item in accepted[stored:]:
                new = item.status is ItemStatus.ACCEPTED
                if new and item.report is not None and item.report.id in index.finder:
                    index.finder.remove(item.report.id)
            raise
    return result


@use_case(Permission.CH_REPORT_CREATE, also=(Permission.ORG_READ,))
def submit_report(
    db: Session,
    vault: Vault,
    actor: Actor,
    data: Any,
    now: datetime,
    recipients: Sequence[str] = (),
) -> tuple[VulnReport, IntakeItem]:
    """Take one report (a JSON object). Raises ``InvalidReport`` listing every problem, or
    ``DuplicateReport`` when its id is that of a report the caller may read; nothing is
    written then. When the report with that id is one the caller may not read, the conflict is
    ``IdentifierTaken``, which names nothing, so a hidden report tells the caller no more than
    that the id is in use. Aliases it shares with stored reports link it to them: distinct
    reports of one vulnerability stay distinct."""
    authorize(actor, Permission.CH_REPORT_CREATE)
    org = identity.get_organisation(db, actor, actor.organisation_id)
    report = parse_one(data, org.name)

    def run(known: StoredRecords, finder: DuplicateFinder) -> IntakeResult:
        if known.stored(report.id) is not None:
            if report.id in readable_ids(db, actor, [report.id], now):
                raise errors.DuplicateReport(
                    f"'{report.id}' already names report '{report.id}'", duplicate_of=report.id
                )
            raise errors.IdentifierTaken(
                "the report's id is already in use here; give the report an id of your own"
            )
        candidates = finder.add_report(report)
        return IntakeResult(
            [IntakeItem(0, "document 1", ItemStatus.ACCEPTED, report, candidates=candidates)]
        )

    result = _intake(
        db, vault, actor, now, recipients, Permission.CH_REPORT_CREATE, run, [report.id]
    )
    return load_report(db, report.id), result.items[0]


@use_case(Permission.CH_REPORT_IMPORT, also=(Permission.ORG_READ,))
def import_reports(
    db: Session,
    vault: Vault,
    actor: Actor,
    payload: bytes,
    now: datetime,
    *,
    intake_format: IntakeFormat | None = None,
    filename: str | None = None,
    recipients: Sequence[str] = (),
) -> IntakeResult:
    """Import a bulk payload (JSON Lines, OSV JSON/YAML or CSAF 2.0); every item's outcome."""
    authorize(actor, Permission.CH_REPORT_IMPORT)
    if not payload.strip():
        raise errors.UnsupportedIntakeFormat("the payload is empty: nothing to import")
    org = identity.get_organisation(db, actor, actor.organisation_id)
    parsed = parse_bulk(payload, org.name, intake_format, filename=filename)

    def run(known: StoredRecords, finder: DuplicateFinder) -> IntakeResult:
        return sort_bulk(parsed, known, finder)

    report_ids = [item.report.id for item in parsed if item.report is not None]
    return _intake(db, vault, actor, now, recipients, Permission.CH_REPORT_IMPORT, run, report_ids)


def visible_intake(
    db: Session, actor: Actor, summaries: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Intake outcomes as the caller may see them: likely duplicates and ``duplicate_of``
    name only reports it may read (a hidden one is left out, as if it did not exist)."""
    named = [c["id"] for s in summaries for c in s.get("likely_duplicates", [])]
    named += [s["duplicate_of"] for s in summaries if "duplicate_of" in s]
    if not named:
        return summaries
    visible = readable_ids(db, actor, named, now)
    shown: list[dict[str, Any]] = []
    for summary in summaries:
        item = dict(summary)
        if "likely_duplicates" in item:
            kept = [c for c in item["likely_duplicates"] if c["id"] in visible]
            if kept:
                item["likely_duplicates"] = kept
            else:
                del item["likely_duplicates"]
        if item.get("duplicate_of") is not None and item["duplicate_of"] not in visible:
            del item["duplicate_of"]
        shown.append(item)
    return shown
