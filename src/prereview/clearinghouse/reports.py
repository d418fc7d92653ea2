"""Use cases on stored reports: reading them under TLP, evidence, relations, publication and
relabelling, and the advisories the exports and TAXII read.

Every read of a single report goes through :func:`readable`: those TLP keeps out learn nothing
(the same 404 as for a report that does not exist) and every read of TLP:AMBER or stricter
material is audited, in the transaction of the read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.dedup.duplicates import relations_of
from prereview.clearinghouse.models import (
    AffectedRow,
    Case,
    ProductRegistration,
    ReportVersion,
    VulnIdentifier,
    VulnReport,
)
from prereview.clearinghouse.sharing.need_to_know import (
    CONFIDENTIAL_TLP,
    INVENTORY,
    disclosed,
    hidden_names,
    report_access,
    visible_reports,
)
from prereview.core.markings import Tlp, loosens
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.vault import service as vault_service
from prereview.vault.service import Vault
from prereview.vulnerability.report import Advisory, Report, parse_advisory, publish


def evidence_context(report_id: str) -> str:
    """The vault context a report's evidence is sealed under (one data key per report)."""
    if len(f"report:{report_id}") <= 110:
        return f"report:{report_id}"
    return f"report:sha256:{hashlib.sha256(report_id.encode()).hexdigest()[:40]}"


def load_report(db: Session, report_id: str) -> VulnReport:
    """The stored report, or ``ReportNotFound`` (for code that has already authorized)."""
    report = db.scalar(select(VulnReport).where(VulnReport.id == report_id))
    if report is None:
        raise _not_found(report_id)
    return report


def _not_found(report_id: str) -> errors.ReportNotFound:
    return errors.ReportNotFound(f"no vulnerability report '{report_id}'")


# Reads of confidential reports are audited by readable(); changes by what changes them.
_READS = (Permission.CH_REPORT_READ, Permission.CH_EVIDENCE_READ, Permission.EXCHANGE_EXPORT)


def readable(
    db: Session,
    actor: Actor,
    report_id: str,
    permission: Permission,
    now: datetime,
    relabel_to: str | None = None,
) -> tuple[VulnReport, Access]:
    """Load a report for ``permission``; those TLP keeps out learn nothing (404), and every
    read of TLP:AMBER or stricter material is audited (the caller commits). ``relabel_to``
    is the label a change would give it (the policy lets only the source loosen one)."""

    def relation(report: VulnReport) -> Access:
        access = report_access(db, actor, report, now)
        if relabel_to is not None:
            access = replace(access, loosens_tlp=loosens(relabel_to, report.tlp))
        return access

    report, access = reach(
        actor,
        permission,
        db.scalar(select(VulnReport).where(VulnReport.id == report_id)),
        relation,
        hidden=lambda: _not_found(report_id),
        # Whoever TLP keeps from reading a report may not learn that it exists.
        knows=lambda access: allowed(actor, Permission.CH_REPORT_READ, access),
    )
    if permission in _READS and report.tlp in CONFIDENTIAL_TLP:
        audit.record(
            db,
            actor=actor,
            action=permission,
            object_type="vulnerability_report",
            object_id=report.id,
            at=now,
            detail={"tlp": report.tlp},
        )
    return report, access


@use_case(Permission.CH_REPORT_READ)
def get_report(db: Session, actor: Actor, report_id: str, now: datetime) -> VulnReport:
    """A report the actor's organisation may read under its TLP label."""
    report, _ = readable(db, actor, report_id, Permission.CH_REPORT_READ, now)
    db.commit()
    return report


@use_case(Permission.CH_REPORT_READ)
def report_relations(
    db: Session, actor: Actor, report_id: str, now: datetime
) -> dict[str, list[str]]:
    """A readable report's relations, leaving out the reports the actor may not read."""
    get_report(db, actor, report_id, now)
    return visible_relations(db, actor, relations_of(db, report_id), now)


@dataclass(frozen=True)
class ReportFilter:
    tlp: Tlp | None = None
    package_key: str | None = None
    published: bool | None = None
    include_merged: bool = True
    # Any name a report is known by: its id or an alias (a CVE id finds every record naming it).
    alias: str | None = None


@use_case(Permission.CH_REPORT_LIST)
def list_reports(
    db: Session, actor: Actor, page: PageRequest, now: datetime, where: ReportFilter
) -> Slice[VulnReport]:
    """The reports TLP lets the actor see, newest first; AMBER and stricter ones are audited."""
    authorize(actor, Permission.CH_REPORT_LIST)
    query = select(VulnReport).where(visible_reports(actor, now))
    if where.tlp is not None:
        query = query.where(VulnReport.tlp == str(where.tlp))
    if where.package_key is not None:
        query = query.where(
            VulnReport.id.in_(
                select(AffectedRow.report_id).where(
                    AffectedRow.package_key == where.package_key.lower()
                )
            )
        )
    if where.published is not None:
        column = VulnReport.published_at
        query = query.where(column.is_not(None) if where.published else column.is_(None))
    if not where.include_merged:
        query = query.where(VulnReport.merged_into.is_(None))
    if where.alias is not None:
        query = query.where(
            VulnReport.id.in_(
                select(VulnIdentifier.report_id).where(VulnIdentifier.identifier == where.alias)
            )
        )
    found = paginate(db, query.order_by(VulnReport.seq.desc()), page)
    audit_listed(db, actor, found.rows, now)
    return found


def audit_listed(db: Session, actor: Actor, rows: Sequence[VulnReport], now: datetime) -> None:
    """Audit the listing of the AMBER and stricter reports among ``rows`` (a listing shows their
    titles), committed before the caller answers; CLEAR and GREEN ones are not confidential."""
    confidential = [r for r in rows if r.tlp in CONFIDENTIAL_TLP]
    if confidential:
        audit.record_many(
            db,
            [
                audit.NewEntry(
                    actor=actor,
                    action=Permission.CH_REPORT_LIST,
                    object_type="vulnerability_report",
                    object_id=r.id,
                    at=now,
                    detail={"tlp": r.tlp},
                )
                for r in confidential
            ],
        )
        db.commit()


@use_case(Permission.CH_REPORT_READ)
def report_versions(
    db: Session, actor: Actor, report_id: str, now: datetime
) -> tuple[VulnReport, list[ReportVersion]]:
    """A readable report and the versions updates replaced, oldest first. A version is shown
    only if the policy lets the actor read it under the label it had (a version that was
    stricter than the report is now stays with those who could read it then); audited as a
    read of the report."""
    report, access = readable(db, actor, report_id, Permission.CH_REPORT_READ, now)
    versions = [
        version
        for version in db.scalars(
            select(ReportVersion)
            .where(ReportVersion.report_id == report.id)
            .order_by(ReportVersion.version)
        )
        if allowed(actor, Permission.CH_REPORT_READ, replace(access, tlp=Tlp(version.tlp)))
    ]
    db.commit()
    return report, versions


@use_case(Permission.CH_EVIDENCE_READ, also=(Permission.CH_REPORT_READ,))
def read_evidence(db: Session, vault: Vault, actor: Actor, report_id: str, now: datetime) -> str:
    """The decrypted evidence of a report, for its reporter and the clearinghouse; audited."""
    report, _ = readable(db, actor, report_id, Permission.CH_EVIDENCE_READ, now)
    text = ""
    if report.has_evidence:
        sealed = vault_service.get_secret(db, vault, evidence_context(report.id), "evidence", now)
        text = sealed.decode()
    db.commit()
    return text


def domain_report(row: VulnReport) -> Report:
    """The stored report as its domain model (evidence is not part of it)."""
    return Report.model_validate(row.document)


def advisory_of(row: VulnReport) -> Advisory:
    """The published advisory of a stored report; ``NotPublished`` if it was not published."""
    if row.published_at is None:
        raise errors.NotPublished(f"'{row.id}' has not been published as an advisory")
    return parse_advisory(row.document)


@use_case(Permission.CH_ADVISORY_PUBLISH, also=(Permission.CH_REPORT_READ,))
def publish_report(
    db: Session, actor: Actor, report_id: str, now: datetime, tlp: Tlp | None = None
) -> VulnReport:
    """Publish a report as an advisory (optionally relabelled); audited.

    The clearinghouse may keep or tighten the reporter's label; a looser one (AMBER+STRICT to
    CLEAR, say) is the reporter's to give (:func:`relabel_report`) before publication. What
    the public may see still waits for the case's embargo, computed when asked.
    """
    row, _ = readable(
        db,
        actor,
        report_id,
        Permission.CH_ADVISORY_PUBLISH,
        now,
        relabel_to=str(tlp) if tlp is not None else None,
    )
    advisory = publish(domain_report(row), now, tlp)
    previous = row.tlp
    row.document = advisory.model_dump(mode="json", exclude={"evidence"})
    row.tlp = str(advisory.tlp)
    row.published_at = advisory.published
    row.modified_at = advisory.modified
    _commit_label_change(db, actor, row, Permission.CH_ADVISORY_PUBLISH, previous, now)
    return row


@use_case(Permission.CH_REPORT_RELABEL, also=(Permission.CH_REPORT_READ,))
def relabel_report(
    db: Session, actor: Actor, report_id: str, tlp: Tlp, now: datetime
) -> VulnReport:
    """Change a report's TLP label: its reporter (the source) to any label, the clearinghouse
    only to a stricter one (TLP 2.0). Audited with the label it replaced."""
    row, _ = readable(db, actor, report_id, Permission.CH_REPORT_RELABEL, now, relabel_to=str(tlp))
    previous = row.tlp
    document = dict(row.document) | {"tlp": str(tlp)}
    model = (
        parse_advisory(document)
        if row.published_at is not None
        else Report.model_validate(document)
    )
    row.document = model.model_dump(mode="json", exclude={"evidence"})
    row.tlp = str(model.tlp)
    row.modified_at = now
    _commit_label_change(db, actor, row, Permission.CH_REPORT_RELABEL, previous, now)
    return row


def _commit_label_change(
    db: Session, actor: Actor, row: VulnReport, action: Permission, previous: str, now: datetime
) -> None:
    # A label change is audited beside the label it replaced.
    commit_audited(
        db,
        actor,
        action,
        object_type="vulnerability_report",
        object_id=row.id,
        at=now,
        detail={"tlp": row.tlp, "previous_tlp": previous},
    )


def visible_relations(
    db: Session, actor: Actor, relations: dict[str, list[str]], now: datetime
) -> dict[str, list[str]]:
    """Relations as the caller may see them: ids of reports it may not read are left out."""
    hidden = hidden_names(db, actor, [n for names in relations.values() for n in names], now)
    return {kind: [n for n in names if n not in hidden] for kind, names in relations.items()}


@use_case(Permission.EXCHANGE_EXPORT, also=(Permission.CH_REPORT_READ,))
def exportable_advisory(db: Session, actor: Actor, report_id: str, now: datetime) -> Advisory:
    """A published advisory for export: public once its embargo lifted, before that only to
    its reporter, the clearinghouse and the case's vendors; TLP applies throughout (audited)."""
    row, _ = readable(db, actor, report_id, Permission.EXCHANGE_EXPORT, now)
    advisory = advisory_of(row)
    db.commit()
    return advisory


def disclosed_advisory_rows(
    db: Session,
    actor: Actor,
    now: datetime,
    *,
    tlp: str | None = None,
    run_by: Sequence[str] | None = None,
) -> list[tuple[datetime, VulnReport]]:
    """Published advisories out of embargo that the actor may read, each with the time it
    became available (the later of publication and embargo end), oldest first.

    ``run_by`` keeps those on products that one of these organisations registered as run.
    """
    query = (
        select(VulnReport, Case.embargo_until)
        .outerjoin(Case, Case.id == VulnReport.case_id)
        .where(visible_reports(actor, now), disclosed(now))
    )
    if tlp is not None:
        query = query.where(VulnReport.tlp == tlp)
    if run_by is not None:
        query = query.where(
            VulnReport.id.in_(
                select(AffectedRow.report_id)
                .join(
                    ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key
                )
                .where(
                    ProductRegistration.org_id.in_(list(run_by)),
                    ProductRegistration.role == INVENTORY,
                )
            )
        )
    found: list[tuple[datetime, VulnReport]] = []
    for row, embargo_until in db.execute(query):
        assert row.published_at is not None  # disclosed() holds only published rows
        added = max(row.published_at, embargo_until) if embargo_until else row.published_at
        found.append((added, row))
    found.sort(key=lambda pair: (pair[0], pair[1].seq))
    return found
