"""A vendor's weekly capacity, and the notifications it paces (the schedule is :mod:`.pacing`).

Intake records a notification for every vendor of an affected product (``notified_at`` unset);
it is delivered when the vendor's pacing lets it out. Delivery is recorded lazily, whenever the
vendor's schedule is computed (the vendor listing its notifications, a reporter reading its
report, an analyst reading the vendor's capacity, a case opening): the time recorded is the
slot's, not the moment someone looked, so that deliveries are the same whenever they are
computed. A vendor with no capacity row is not paced: it is told on arrival. Each delivery is
written to the audit log (``clearinghouse:notification:deliver``: the report, the vendor, the
slot) in the transaction that records it, once: the transparency report's *notified* stage.

An embargo must not start before the vendor is told: opening a case with (or adding) a vendor
that a report of the case still waits for is refused (``EmbargoBeforeNotification``, 409)
with the expected notification date; the analyst opens the case once it has gone out, or the
vendor raises its capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors, reproduction
from prereview.clearinghouse.models import (
    AffectedRow,
    Notification,
    ProductRegistration,
    VendorCapacity,
    VulnReport,
)
from prereview.clearinghouse.pacing import WINDOW, Slot, Waiting, schedule
from prereview.clearinghouse.sharing.need_to_know import INVENTORY, VERIFIED
from prereview.identity import service as identity

MAX_PER_WEEK = 100_000
NOTIFICATION_DELIVER = "clearinghouse:notification:deliver"
"""The audit action of a delivery: which vendor was told of which report, and when."""


@dataclass(frozen=True)
class VendorPace:
    """A vendor's capacity and where its notifications stand now."""

    org_id: str
    per_week: int | None
    set_at: datetime | None
    delivered_last_week: int
    waiting: int
    slots: list[Slot]


_CHUNK = 1000  # ids per IN (...): SQLite caps the bound parameters of one statement


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def _exposure(db: Session, report_ids: Sequence[str]) -> dict[str, int]:
    """How many partners' verified inventories run an affected product of each report."""
    found: dict[str, int] = {}
    for chunk in _chunks(report_ids):
        query = (
            select(AffectedRow.report_id, func.count(func.distinct(ProductRegistration.org_id)))
            .join(ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key)
            .where(
                AffectedRow.report_id.in_(chunk),
                ProductRegistration.role == INVENTORY,
                ProductRegistration.status == VERIFIED,
            )
            .group_by(AffectedRow.report_id)
        )
        found.update((report_id, int(n)) for report_id, n in db.execute(query))
    return found


def _waiting(db: Session, pending: Sequence[Notification]) -> list[Waiting]:
    ids = [n.report_id for n in pending]
    score = func.coalesce(VulnReport.cvss_v4_score, VulnReport.cvss_v3_score)
    severity: dict[str, float | None] = {}
    for chunk in _chunks(ids):
        rows = db.execute(select(VulnReport.id, score).where(VulnReport.id.in_(chunk)))
        severity.update((report_id, value) for report_id, value in rows)
    exposure = _exposure(db, ids)
    # The server's verdict on the report's proof of concept; a claim only is "unknown".
    status = reproduction.reproduction_status(db, ids)
    return [
        Waiting(
            report_id=n.report_id,
            arrived_at=n.created_at,
            severity=severity.get(n.report_id),
            reproduced={"reproduced": True, "not_reproduced": False}.get(status[n.report_id]),
            exposure=exposure.get(n.report_id, 0),
        )
        for n in pending
    ]


def release_due(db: Session, org_id: str, now: datetime, *, commit: bool = True) -> list[Slot]:
    """Deliver the vendor's notifications whose slot has come, and return the schedule of all
    that waited (those delivered now included, with their slot time).

    Each delivery is logged with it and, unless ``commit`` is false (a use case that commits
    them with its own change), committed at once: a read that shows the vendor a report (or
    counts it as told) must not leave that delivery unrecorded when it ends without a write."""
    pending = list(
        db.scalars(
            select(Notification).where(
                Notification.org_id == org_id, Notification.notified_at.is_(None)
            )
        )
    )
    if not pending:
        return []
    capacity = db.get(VendorCapacity, org_id)
    per_week = capacity.per_week if capacity else None
    delivered: list[datetime] = []
    if per_week:
        delivered = list(
            db.scalars(
                select(Notification.notified_at)
                .where(Notification.org_id == org_id, Notification.notified_at.is_not(None))
                .order_by(Notification.notified_at.desc())
                .limit(per_week)
            )
        )
    slots = schedule(_waiting(db, pending), per_week, delivered)
    due = {s.report_id: s.at for s in slots if s.at is not None and s.at <= now}
    if due:
        _deliver(db, org_id, [n for n in pending if n.report_id in due], due, now)
        if commit:
            db.commit()
    return slots


def _deliver(
    db: Session,
    org_id: str,
    notifications: Sequence[Notification],
    due: dict[str, datetime],
    now: datetime,
) -> None:
    """Record the deliveries and log each (:data:`NOTIFICATION_DELIVER`) in the same transaction.

    The rows are locked first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time):
    two requests computing the same vendor's schedule at once would otherwise both deliver,
    and the log would say the vendor was told twice. Only those still waiting once locked are
    delivered; a row another transaction delivered meanwhile is read again."""
    ids = [n.id for n in notifications]
    still: set[str] = set()
    for chunk in _chunks(ids):
        still.update(
            db.scalars(
                select(Notification.id)
                .where(Notification.id.in_(chunk), Notification.notified_at.is_(None))
                .with_for_update()
            )
        )
    entries = []
    for notification in notifications:
        if notification.id not in still:
            db.refresh(notification)
            continue
        at = due[notification.report_id]
        notification.notified_at = at
        # ``at`` is the recording moment, so that a closed period's entries never change;
        # the slot's own time, when the vendor was told, is in the detail.
        entries.append(
            audit.NewEntry(
                actor=None,
                action=NOTIFICATION_DELIVER,
                object_type="vulnerability_report",
                object_id=notification.report_id,
                at=now,
                detail={"vendor": org_id, "notified_at": at.isoformat()},
            )
        )
    db.flush()
    audit.record_many(db, entries)


def _pace(db: Session, org_id: str, now: datetime, *, commit: bool = True) -> VendorPace:
    slots = release_due(db, org_id, now, commit=commit)
    capacity = db.get(VendorCapacity, org_id)
    recent = db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.org_id == org_id, Notification.notified_at > now - WINDOW)
    )
    waiting = [s for s in slots if s.at is None or s.at > now]
    return VendorPace(
        org_id=org_id,
        per_week=capacity.per_week if capacity else None,
        set_at=capacity.set_at if capacity else None,
        delivered_last_week=int(recent or 0),
        waiting=len(waiting),
        slots=waiting,
    )


def _access(actor: Actor, org_id: str) -> Access:
    return Access(same_org=actor.organisation_id == org_id)


@use_case(Permission.CH_CAPACITY_READ, also=(Permission.ORG_READ,))
def vendor_pace(db: Session, actor: Actor, org_id: str, now: datetime) -> VendorPace:
    """The vendor's capacity and pace: for its own members and the clearinghouse."""
    authorize(actor, Permission.CH_CAPACITY_READ, _access(actor, org_id))
    identity.get_organisation(db, actor, org_id)
    return _pace(db, org_id, now)


@use_case(Permission.CH_CAPACITY_SET, also=(Permission.ORG_READ,))
def set_capacity(
    db: Session, actor: Actor, org_id: str, per_week: int, now: datetime
) -> VendorPace:
    """State how many new reports the vendor takes per week (its administrators, or the
    clearinghouse); it applies to every report not delivered yet. Audited."""
    authorize(actor, Permission.CH_CAPACITY_SET, _access(actor, org_id))
    identity.get_organisation(db, actor, org_id)
    if not 0 <= per_week <= MAX_PER_WEEK:
        raise errors.InvalidCapacity(
            f"a weekly capacity is 0 to {MAX_PER_WEEK} reports",
            errors=[{"path": "$.per_week", "message": f"must be 0 to {MAX_PER_WEEK}"}],
        )
    # What was due under the old capacity went out under it.
    release_due(db, org_id, now, commit=False)
    row = db.get(VendorCapacity, org_id)
    previous = row.per_week if row else None
    if row is None:
        row = VendorCapacity(org_id=org_id, per_week=per_week, set_by=actor.user_id, set_at=now)
        db.add(row)
    else:
        row.per_week, row.set_by, row.set_at = per_week, actor.user_id, now
    db.flush()
    pace = _pace(db, org_id, now, commit=False)
    commit_audited(
        db,
        actor,
        Permission.CH_CAPACITY_SET,
        object_type="organisation",
        object_id=org_id,
        at=now,
        detail={"per_week": per_week, "previous": previous},
    )
    return pace


@dataclass(frozen=True)
class ReportPace:
    """Where a report's vendor notifications stand, as its reporter sees them."""

    vendors_told: int
    vendors_waiting: int
    # Every vendor waiting has a date: the last of them; None if none waits or one is unpaced
    # at capacity 0 (``unscheduled``).
    expected_notification_at: datetime | None
    unscheduled: int


@use_case(Permission.CH_PACING_READ)
def report_pace(db: Session, actor: Actor, report: VulnReport, now: datetime) -> ReportPace:
    """The report's notifications: for its reporter and the clearinghouse (vendors unnamed)."""
    authorize(
        actor,
        Permission.CH_PACING_READ,
        Access(reporter=report.reporter_org_id == actor.organisation_id),
    )
    notified = list(db.scalars(select(Notification).where(Notification.report_id == report.id)))
    expected: list[datetime] = []
    unscheduled = 0
    for notification in notified:
        if notification.notified_at is not None:
            continue
        for slot in release_due(db, notification.org_id, now):
            if slot.report_id != report.id:
                continue
            if slot.at is None:
                unscheduled += 1
            elif slot.at > now:
                expected.append(slot.at)
    told = sum(1 for n in notified if n.notified_at is not None)
    return ReportPace(
        vendors_told=told,
        vendors_waiting=len(notified) - told,
        expected_notification_at=max(expected) if expected and not unscheduled else None,
        unscheduled=unscheduled,
    )


def check_vendors_told(
    db: Session, report_ids: Sequence[str], vendor_ids: Sequence[str], now: datetime
) -> None:
    """Refuse an embargo that would start before a vendor of the case is told of its reports."""
    if not report_ids or not vendor_ids:
        return
    waiting = list(
        db.scalars(
            select(Notification).where(
                Notification.report_id.in_(list(report_ids)),
                Notification.org_id.in_(list(vendor_ids)),
                Notification.notified_at.is_(None),
            )
        )
    )
    for vendor in sorted({n.org_id for n in waiting}):
        # Committed with the case (or not at all: what is due now is due again next time).
        slots = {s.report_id: s.at for s in release_due(db, vendor, now, commit=False)}
        late = [n.report_id for n in waiting if n.org_id == vendor and n.notified_at is None]
        if late:
            dates = [slots.get(r) for r in late]
            known = [d for d in dates if d is not None]
            expected = max(known).isoformat() if known and len(known) == len(dates) else None
            raise errors.EmbargoBeforeNotification(
                f"vendor '{vendor}' has not been told of {late[0]!r} yet (its weekly capacity "
                "paces its notifications): the embargo cannot start before it is",
                vendor_org_id=vendor,
                report_ids=late,
                expected_notification_at=expected,
            )
