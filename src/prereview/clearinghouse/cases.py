"""Coordinated disclosure: cases of reports and vendors, vendor statuses, and the embargo.

A vendor's status is kept per vulnerability of the case, with the six states kept apart (see
:class:`VendorState`) and a VEX-style statement; every change is appended to a history. The
embargo is a date-time in a named zone, 90 days after the case opens unless set; changing it
needs a reason and is audited. Whether it has lifted is computed from the clock when asked.
The vendor table of a case is one paginated query, whatever the number of vendors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.capacity import check_vendors_told
from prereview.clearinghouse.models import (
    Case,
    CaseCell,
    CaseVendor,
    EmbargoChange,
    VendorStatus,
    VendorStatusChange,
    VulnReport,
)
from prereview.clearinghouse.sharing.need_to_know import (
    CONFIDENTIAL_TLP,
    case_access,
    is_case_vendor,
    visible_reports,
)
from prereview.core.ids import new_id
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity import service as identity

DEFAULT_EMBARGO = timedelta(days=90)


class VendorState(StrEnum):
    NOT_CONTACTED = "not_contacted"
    NO_RESPONSE = "no_response"
    UNDER_INVESTIGATION = "under_investigation"
    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    FIXED = "fixed"


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise errors.InvalidCaseChange(
            f"unknown time zone '{name}'",
            errors=[{"path": "$.embargo_zone", "message": f"unknown time zone '{name}'"}],
        ) from exc


def _aware(moment: datetime, path: str) -> datetime:
    if moment.tzinfo is None:
        raise errors.InvalidCaseChange(
            "the embargo needs a time zone",
            errors=[{"path": path, "message": "a date-time with a time zone offset is required"}],
        )
    return moment


def _not_found(case_id: str) -> errors.CaseNotFound:
    return errors.CaseNotFound(f"no case '{case_id}'")


def reach_case(
    db: Session, actor: Actor, case_id: str, permission: Permission
) -> tuple[Case, Access]:
    """The case and the actor's access, for ``permission``; hidden (404) from those its TLP
    keeps out, as if it did not exist. Not audited: the caller audits what it reads."""
    return reach(
        actor,
        permission,
        db.get(Case, case_id),
        lambda case: case_access(db, actor, case),
        hidden=lambda: _not_found(case_id),
        knows=lambda access: allowed(actor, Permission.CH_CASE_READ, access),
    )


def case_of_vendor_row(db: Session, actor: Actor, case_id: str, vendor_org_id: str) -> Case:
    """The case, if ``actor`` may change ``vendor_org_id``'s row of it (its statuses, its
    cells): that vendor itself while it is on the case, or a coordinator. Hidden (404) from
    those the case's TLP keeps out; another vendor is refused (403) whether or not the row's
    organisation is on the case, so that the answer tells it nothing of who else is."""
    case, access = reach_case(db, actor, case_id, Permission.CH_CASE_READ)
    # The case's access, seen as the row's vendor.
    authorize(
        actor,
        Permission.CH_VENDOR_STATUS_UPDATE,
        replace(access, same_org=actor.organisation_id == vendor_org_id),
    )
    if not is_case_vendor(db, case.id, vendor_org_id):
        raise errors.InvalidCaseChange(
            f"organisation '{vendor_org_id}' is not a vendor here",
            errors=[{"path": "$.vendor_org_id", "message": "not a vendor of this case"}],
        )
    return case


_Row = TypeVar("_Row", VendorStatus, CaseCell)


def lock_case(db: Session, case_id: str) -> None:
    """Lock the case's row until the transaction ends (on SQLite, take the write lock): the
    writers of one case's membership, threads and rows take turns from here to their commit."""
    db.execute(select(Case.id).where(Case.id == case_id).with_for_update())


def row_to_change(
    db: Session, model: type[_Row], id_kind: str, case_id: str, **keys: str
) -> tuple[_Row, bool]:
    """The case's row of ``model`` with ``keys``, to change now, or a new one added to ``db``
    (``True``): a vendor status or a cell, each one row per vendor and report or product.

    Writers of one case take turns from here to their commit: the case's row is locked first
    (on SQLite, the write lock), so that two first changes of one row cannot both insert it
    (the second would fail on the unique constraint: a 500), and the value a change replaces,
    which its audit names, is the current one, not one read before another writer committed.
    """
    lock_case(db, case_id)
    row = db.scalar(
        select(model).filter_by(case_id=case_id, **keys).execution_options(populate_existing=True)
    )
    if row is not None:
        return row, False
    row = model(id=new_id(id_kind), case_id=case_id, **keys)
    db.add(row)
    return row, True


def readable_case(
    db: Session, actor: Actor, case_id: str, permission: Permission, now: datetime
) -> tuple[Case, Access]:
    """Load a case for ``permission``; those its TLP keeps out learn nothing (404)."""
    case, access = reach_case(db, actor, case_id, permission)
    # Reads of confidential cases are audited here; changes are audited by what changes them.
    if permission is Permission.CH_CASE_READ and case.tlp in CONFIDENTIAL_TLP:
        audit.record(
            db,
            actor=actor,
            action=permission,
            object_type="case",
            object_id=case.id,
            at=now,
            detail={"tlp": case.tlp},
        )
    return case, access


def _reports(
    db: Session, actor: Actor, report_ids: Sequence[str], now: datetime
) -> list[VulnReport]:
    """The named reports, each one the actor may read (else a 404 naming it)."""
    found = {
        r.id: r
        for r in db.scalars(
            select(VulnReport).where(
                VulnReport.id.in_(list(report_ids)), visible_reports(actor, now)
            )
        )
    }
    missing = [rid for rid in report_ids if rid not in found]
    if missing:
        raise errors.ReportNotFound(f"no vulnerability report {missing[0]!r}", missing=missing)
    return [found[rid] for rid in dict.fromkeys(report_ids)]


def _vendors(db: Session, actor: Actor, vendor_ids: Sequence[str]) -> list[str]:
    for org_id in vendor_ids:
        identity.get_organisation(db, actor, org_id)
    return list(dict.fromkeys(vendor_ids))


def _add_members(
    db: Session, case: Case, reports: list[VulnReport], vendors: list[str], now: datetime
) -> None:
    for report in reports:
        if report.case_id not in (None, case.id):
            raise errors.InvalidCaseChange(
                f"report '{report.id}' is in case '{report.case_id}' already"
            )
        report.case_id = case.id
    known = set(db.scalars(select(CaseVendor.vendor_org_id).where(CaseVendor.case_id == case.id)))
    for vendor in vendors:
        if vendor not in known:
            db.add(CaseVendor(id=new_id("cv"), case_id=case.id, vendor_org_id=vendor, added_at=now))
    db.flush()


@dataclass(frozen=True)
class CaseCreate:
    title: str
    tlp: Tlp
    report_ids: Sequence[str]
    vendor_org_ids: Sequence[str]
    embargo_until: datetime | None = None
    embargo_zone: str = "UTC"


@use_case(Permission.CH_CASE_CREATE, also=(Permission.ORG_READ,))
def create_case(db: Session, actor: Actor, data: CaseCreate, now: datetime) -> Case:
    """Open a case; the embargo defaults to 90 days after now, in the zone given."""
    authorize(actor, Permission.CH_CASE_CREATE)
    zone_of(data.embargo_zone)
    until = _aware(data.embargo_until, "$.embargo_until") if data.embargo_until else None
    reports = _reports(db, actor, data.report_ids, now)
    vendors = _vendors(db, actor, data.vendor_org_ids)
    check_vendors_told(db, [r.id for r in reports], vendors, now)
    case = Case(
        id=new_id("case"),
        title=data.title,
        tlp=str(data.tlp),
        opened_by_org_id=actor.organisation_id,
        opened_at=now,
        embargo_until=until or now + DEFAULT_EMBARGO,
        embargo_zone=data.embargo_zone,
    )
    db.add(case)
    db.flush()
    _add_members(db, case, reports, vendors, now)
    commit_audited(
        db,
        actor,
        Permission.CH_CASE_CREATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"reports": [r.id for r in reports], "vendors": vendors, "tlp": case.tlp},
    )
    return case


@use_case(Permission.CH_CASE_UPDATE, also=(Permission.CH_CASE_READ, Permission.ORG_READ))
def add_to_case(
    db: Session,
    actor: Actor,
    case_id: str,
    report_ids: Sequence[str],
    vendor_org_ids: Sequence[str],
    now: datetime,
) -> Case:
    """Add reports and vendors to a case (all checked before any is added)."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_UPDATE, now)
    reports = _reports(db, actor, report_ids, now)
    vendors = _vendors(db, actor, vendor_org_ids)
    # The embargo runs for every vendor of the case: none may be in it before it is told.
    in_case = list(db.scalars(select(VulnReport.id).where(VulnReport.case_id == case.id)))
    of_case = select(CaseVendor.vendor_org_id).where(CaseVendor.case_id == case.id)
    known_vendors = list(db.scalars(of_case))
    check_vendors_told(db, [*in_case, *(r.id for r in reports)], [*known_vendors, *vendors], now)
    _add_members(db, case, reports, vendors, now)
    commit_audited(
        db,
        actor,
        Permission.CH_CASE_UPDATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"added_reports": [r.id for r in reports], "added_vendors": vendors},
    )
    return case


@use_case(Permission.CH_CASE_LIST)
def list_cases(db: Session, actor: Actor, page: PageRequest) -> Slice[Case]:
    """Cases the actor's organisation opened or is a vendor in; the clearinghouse sees all
    but TLP:RED ones it did not open. Open cases (embargo still ahead) first."""
    authorize(actor, Permission.CH_CASE_LIST)
    org = actor.organisation_id
    mine = select(CaseVendor.case_id).where(CaseVendor.vendor_org_id == org)
    conditions = [Case.opened_by_org_id == org, Case.tlp.in_((Tlp.CLEAR.value, Tlp.GREEN.value))]
    if actor.org_kind is OrgKind.CLEARINGHOUSE:
        conditions.append(Case.tlp.in_((Tlp.AMBER.value, Tlp.AMBER_STRICT.value)))
    conditions.append(Case.id.in_(mine) & Case.tlp.in_((Tlp.AMBER.value,)))
    query = select(Case).where(or_(*conditions)).order_by(Case.embargo_until, Case.id)
    return paginate(db, query, page)


@use_case(Permission.CH_CASE_READ)
def get_case(db: Session, actor: Actor, case_id: str, now: datetime) -> Case:
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_READ, now)
    db.commit()
    return case


def vendor_counts(db: Session, case_ids: Sequence[str]) -> dict[str, int]:
    """How many vendors each of ``case_ids`` has (one query, for a list of cases)."""
    counts = {case_id: 0 for case_id in case_ids}
    if case_ids:
        query = (
            select(CaseVendor.case_id, func.count())
            .where(CaseVendor.case_id.in_(list(case_ids)))
            .group_by(CaseVendor.case_id)
        )
        counts.update({case_id: count for case_id, count in db.execute(query)})
    return counts


def case_report_ids(db: Session, case_id: str) -> list[str]:
    """The ids of the case's reports, in order."""
    return list(
        db.scalars(
            select(VulnReport.id).where(VulnReport.case_id == case_id).order_by(VulnReport.id)
        )
    )


@use_case(Permission.CH_EMBARGO_UPDATE, also=(Permission.CH_CASE_READ,))
def change_embargo(
    db: Session, actor: Actor, case_id: str, until: datetime, zone: str, reason: str, now: datetime
) -> Case:
    """Move the embargo, with a reason; the change is kept and audited."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_EMBARGO_UPDATE, now)
    zone_of(zone)
    _aware(until, "$.embargo_until")
    if not reason.strip():
        raise errors.InvalidCaseChange(
            "changing an embargo needs a reason",
            errors=[{"path": "$.reason", "message": "a reason is required"}],
        )
    previous = case.embargo_until
    db.add(
        EmbargoChange(
            id=new_id("emb"),
            case_id=case.id,
            previous=previous,
            new=until,
            zone=zone,
            reason=reason,
            changed_by=actor.user_id,
            changed_at=now,
        )
    )
    case.embargo_until = until
    case.embargo_zone = zone
    commit_audited(
        db,
        actor,
        Permission.CH_EMBARGO_UPDATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"previous": previous.isoformat(), "new": until.isoformat(), "reason": reason},
    )
    return case


def embargo_history(db: Session, case_id: str) -> list[EmbargoChange]:
    return list(
        db.scalars(
            select(EmbargoChange)
            .where(EmbargoChange.case_id == case_id)
            .order_by(EmbargoChange.changed_at, EmbargoChange.id)
        )
    )


@use_case(Permission.CH_CASE_UPDATE, also=(Permission.CH_CASE_READ,))
def remove_vendor(
    db: Session, actor: Actor, case_id: str, vendor_org_id: str, now: datetime
) -> Case:
    """Take a vendor off the case: it loses the case, its private thread and its cells at once
    (they are kept, for the coordinators and the record, and come back if it is added again)."""
    lock_case(db, case_id)  # a private message being posted is stored before, or refused
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_UPDATE, now)
    row = db.scalar(
        select(CaseVendor).where(
            CaseVendor.case_id == case.id, CaseVendor.vendor_org_id == vendor_org_id
        )
    )
    if row is None:
        raise errors.NotACaseVendor(f"organisation '{vendor_org_id}' is not a vendor of this case")
    db.delete(row)
    commit_audited(
        db,
        actor,
        Permission.CH_CASE_UPDATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"removed_vendor": vendor_org_id},
    )
    return case


@use_case(Permission.CH_VENDOR_STATUS_UPDATE, also=(Permission.CH_CASE_READ,))
def set_vendor_status(
    db: Session,
    actor: Actor,
    case_id: str,
    vendor_org_id: str,
    report_id: str,
    state: VendorState,
    statement: str,
    justification: str | None,
    now: datetime,
    due_on: date | None = None,
) -> VendorStatus:
    """Record a vendor's status for one vulnerability of the case (and the day it is due),
    and keep the history."""
    case = case_of_vendor_row(db, actor, case_id, vendor_org_id)
    if report_id not in case_report_ids(db, case.id):
        raise errors.ReportNotFound(f"report '{report_id}' is not in case '{case.id}'")
    row, created = row_to_change(
        db, VendorStatus, "vs", case.id, vendor_org_id=vendor_org_id, report_id=report_id
    )
    previous = VendorState.NOT_CONTACTED.value if created else row.status
    row.status = state.value
    row.statement = statement
    row.justification = justification
    row.due_on = due_on
    row.updated_by = actor.user_id
    row.updated_at = now
    db.add(
        VendorStatusChange(
            id=new_id("vsh"),
            case_id=case.id,
            vendor_org_id=vendor_org_id,
            report_id=report_id,
            status=state.value,
            statement=statement,
            changed_by=actor.user_id,
            changed_at=now,
        )
    )
    commit_audited(
        db,
        actor,
        Permission.CH_VENDOR_STATUS_UPDATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={
            "vendor": vendor_org_id,
            "report_id": report_id,
            "previous": previous,
            "status": state.value,
            "due_on": due_on.isoformat() if due_on else None,
        },
    )
    return row


@use_case(Permission.CH_CASE_READ)
def status_history(
    db: Session, actor: Actor, case_id: str, vendor_org_id: str, now: datetime
) -> list[VendorStatusChange]:
    """Every status a vendor had in a case, oldest first."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_READ, now)
    rows = list(
        db.scalars(
            select(VendorStatusChange)
            .where(
                VendorStatusChange.case_id == case.id,
                VendorStatusChange.vendor_org_id == vendor_org_id,
            )
            .order_by(VendorStatusChange.changed_at, VendorStatusChange.id)
        )
    )
    db.commit()
    return rows
