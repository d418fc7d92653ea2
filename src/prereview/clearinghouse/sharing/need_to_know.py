"""What an organisation is to a report or a case: the input of every clearinghouse policy decision.

The policy module (:mod:`prereview.authz.policy`) decides; this module only computes the
relations from the clearinghouse's own tables, and the SQL filter that lists what TLP lets an
organisation see (so a list is one query, whatever the number of reports).

A need to know comes from verified relations only: a product claim counts once a clearinghouse
analyst verified it, never because an organisation said so. And whoever may not read a report
learns nothing of it: :func:`readable_ids` and :func:`hidden_names` let the services leave such
reports out of duplicate proposals, relations and notifications, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.policy import Access
from prereview.clearinghouse.models import (
    AffectedRow,
    Case,
    CaseVendor,
    ProductRegistration,
    ReportRecipient,
    VulnIdentifier,
    VulnReport,
)
from prereview.core.markings import CONFIDENTIAL, Tlp

CONFIDENTIAL_TLP = tuple(label.value for label in CONFIDENTIAL)
VENDOR = "vendor"
INVENTORY = "inventory"
# The states of a product claim: only a verified one confers a need to know.
CLAIMED = "claimed"
VERIFIED = "verified"
REJECTED = "rejected"
REVOKED = "revoked"
# Claims that still route notifications (which carry only what the organisation may read).
ROUTING = (CLAIMED, VERIFIED)


def matching_products(org_id: str, role: str) -> ColumnElement[bool]:
    """Reports with an affected product the organisation holds a *verified* claim to in
    ``role`` (a self-declared claim confers nothing)."""
    return exists(
        select(AffectedRow.id)
        .join(ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key)
        .where(
            AffectedRow.report_id == VulnReport.id,
            ProductRegistration.org_id == org_id,
            ProductRegistration.role == role,
            ProductRegistration.status == VERIFIED,
        )
    )


def in_my_cases(org_id: str) -> ColumnElement[bool]:
    """Reports in a case the organisation takes part in as a vendor."""
    return exists(
        select(CaseVendor.id).where(
            CaseVendor.case_id == VulnReport.case_id, CaseVendor.vendor_org_id == org_id
        )
    )


def disclosed(now: datetime) -> ColumnElement[bool]:
    """Published reports whose case (if any) has passed its embargo date."""
    lifted = select(Case.id).where(Case.embargo_until <= now)
    return and_(
        VulnReport.published_at.is_not(None),
        or_(VulnReport.case_id.is_(None), VulnReport.case_id.in_(lifted)),
    )


def visible_reports(actor: Actor, now: datetime) -> ColumnElement[bool]:
    """The SQL condition for the reports TLP lets ``actor`` read (mirrors ``TlpAllows`` with
    the need to know of :func:`report_access`)."""
    org = actor.organisation_id
    named = exists(
        select(ReportRecipient.org_id).where(
            ReportRecipient.report_id == VulnReport.id, ReportRecipient.org_id == org
        )
    )
    conditions = [
        VulnReport.tlp.in_((Tlp.CLEAR.value, Tlp.GREEN.value)),
        VulnReport.reporter_org_id == org,
        and_(VulnReport.tlp == Tlp.RED.value, named),
    ]
    if actor.org_kind is OrgKind.CLEARINGHOUSE:
        conditions.append(VulnReport.tlp.in_((Tlp.AMBER.value, Tlp.AMBER_STRICT.value)))
    else:
        need = or_(
            matching_products(org, VENDOR),
            in_my_cases(org),
            and_(matching_products(org, INVENTORY), disclosed(now)),
        )
        conditions.append(and_(VulnReport.tlp == Tlp.AMBER.value, need))
    return or_(*conditions)


def embargo_lifted(case: Case | None, now: datetime) -> bool:
    """No case, or the case's embargo date has come (derived from the clock, never stored)."""
    return case is None or case.embargo_until <= now


def _registered(db: Session, report_id: str, org_id: str, role: str) -> bool:
    return (
        db.scalar(
            select(AffectedRow.id)
            .join(ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key)
            .where(
                AffectedRow.report_id == report_id,
                ProductRegistration.org_id == org_id,
                ProductRegistration.role == role,
                ProductRegistration.status == VERIFIED,
            )
            .limit(1)
        )
        is not None
    )


def report_access(db: Session, actor: Actor, report: VulnReport, now: datetime) -> Access:
    """What ``actor`` is to ``report`` now.

    A need to know: the vendor of an affected product (by a verified claim), a vendor on the
    report's case, or a partner running an affected product (verified claim) once the advisory
    is out of embargo (partners are not inside an embargo; vendors are, to fix it).
    """
    org = actor.organisation_id
    case = db.get(Case, report.case_id) if report.case_id else None
    is_public = report.published_at is not None and embargo_lifted(case, now)
    in_case = case is not None and is_case_vendor(db, case.id, org)
    need = (
        in_case
        or _registered(db, report.id, org, VENDOR)
        or (is_public and _registered(db, report.id, org, INVENTORY))
    )
    named = db.get(ReportRecipient, (report.id, org)) is not None
    return Access(
        tlp=Tlp(report.tlp),
        reporter=report.reporter_org_id == org,
        need_to_know=need,
        named_recipient=named,
        disclosed=is_public,
        in_embargo=in_case,
    )


def is_case_vendor(db: Session, case_id: str, org_id: str) -> bool:
    return (
        db.scalar(
            select(CaseVendor.id).where(
                CaseVendor.case_id == case_id, CaseVendor.vendor_org_id == org_id
            )
        )
        is not None
    )


def case_access(db: Session, actor: Actor, case: Case) -> Access:
    """What ``actor`` is to ``case``: its opener or a reporter of one of its reports, or one of
    its vendors (a need to know)."""
    org = actor.organisation_id
    reported = db.scalar(
        select(VulnReport.id)
        .where(VulnReport.case_id == case.id, VulnReport.reporter_org_id == org)
        .limit(1)
    )
    return Access(
        tlp=Tlp(case.tlp),
        reporter=case.opened_by_org_id == org or reported is not None,
        need_to_know=is_case_vendor(db, case.id, actor.organisation_id),
        same_org=False,
    )


def readable_ids(db: Session, actor: Actor, report_ids: Iterable[str], now: datetime) -> set[str]:
    """Which of ``report_ids`` name reports TLP lets ``actor`` read now (one query per 500)."""
    wanted = list(dict.fromkeys(report_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            db.scalars(
                select(VulnReport.id).where(
                    VulnReport.id.in_(wanted[start : start + 500]), visible_reports(actor, now)
                )
            )
        )
    return found


def hidden_names(db: Session, actor: Actor, names: Iterable[str], now: datetime) -> set[str]:
    """Which of ``names`` (report ids or aliases) name a stored report ``actor`` may not read.

    Names that no stored report carries (an upstream CVE, say) are not hidden: they say
    nothing of any report here; nor is a name that a report the actor may read carries too.
    """
    wanted = list(dict.fromkeys(names))
    owners: dict[str, set[str]] = {}
    for start in range(0, len(wanted), 500):
        rows = db.execute(
            select(VulnIdentifier.identifier, VulnIdentifier.report_id).where(
                VulnIdentifier.identifier.in_(wanted[start : start + 500])
            )
        )
        for identifier, owner in rows:
            owners.setdefault(identifier, set()).add(owner)
    visible = readable_ids(db, actor, {o for named in owners.values() for o in named}, now)
    return {name for name, named in owners.items() if not named & visible}
