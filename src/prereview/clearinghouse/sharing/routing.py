"""Who a report concerns: vendors of its affected products, and partners who run them.

Vendors claim the purls and CPEs of the products they make; trusted partners claim the
inventory they run. Both are kept by *package key* (the product without version: a purl's type,
namespace and name, or a CPE's vendor and product), which is what reports are matched on.

A claim is self-declared, so by itself it only routes notifications (which name a report only
where the organisation may read it). It confers a need to know TLP:AMBER reports once a
clearinghouse analyst verified it, from a proof the claimant gives: a signed statement, or the
claim's challenge published in a DNS TXT record or at a URL of the product. The server fetches
nothing itself; the analyst checks and records who verified what, when (audited).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.capacity import release_due
from prereview.clearinghouse.models import (
    AffectedRow,
    Notification,
    ProductRegistration,
    VulnReport,
)
from prereview.clearinghouse.sharing.need_to_know import (
    CLAIMED,
    INVENTORY,
    REJECTED,
    REVOKED,
    ROUTING,
    VENDOR,
    VERIFIED,
    disclosed,
    readable_ids,
    visible_reports,
)
from prereview.core.ids import new_id
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.vulnerability.report import AffectedProduct, Report

# Notifications go out for what a vendor may read: TLP:AMBER reaches those with a need to know.
_NOTIFIABLE_TLP = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)


def package_key_of(identifier: str) -> str:
    """The package key of a purl or a CPE 2.3 name, or ``InvalidRegistration``."""
    field = "purl" if identifier.startswith("pkg:") else "cpe"
    try:
        product = AffectedProduct.model_validate({field: identifier})
    except ValueError as exc:
        raise errors.InvalidRegistration(
            f"'{identifier}' is neither a valid purl nor a CPE 2.3 name",
            errors=[{"path": "$.identifiers", "message": str(exc).splitlines()[-1].strip()}],
        ) from exc
    return product.package_key


ClaimDecision = Literal["verify", "reject", "revoke"]
# decision -> (the states it applies to, the state it leads to)
_DECISIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "verify": ((CLAIMED,), VERIFIED),
    "reject": ((CLAIMED,), REJECTED),
    "revoke": ((VERIFIED,), REVOKED),
}


def _challenge() -> str:
    return f"prereview-claim={secrets.token_urlsafe(24)}"


def _register_products(
    db: Session,
    actor: Actor,
    role: str,
    identifiers: Sequence[str],
    now: datetime,
    proof: str | None = None,
) -> list[ProductRegistration]:
    """Claim products the actor's organisation makes (``vendor``) or runs (``inventory``).

    Every identifier is checked before anything is written. A new claim is ``claimed`` with a
    fresh challenge; claiming it again is harmless (a new ``proof`` replaces the old one), and
    claiming a rejected or revoked one again reopens it for an analyst.
    """
    permission = (
        Permission.CH_PRODUCT_REGISTER if role == VENDOR else Permission.CH_INVENTORY_REGISTER
    )
    authorize(actor, permission)
    keys = {identifier: package_key_of(identifier) for identifier in dict.fromkeys(identifiers)}
    existing = {
        row.identifier: row
        for row in db.scalars(
            select(ProductRegistration).where(
                ProductRegistration.org_id == actor.organisation_id,
                ProductRegistration.role == role,
                ProductRegistration.identifier.in_(list(keys)),
            )
        )
    }
    registered: list[ProductRegistration] = []
    reopened: list[str] = []
    for identifier, key in keys.items():
        row = existing.get(identifier)
        if row is None:
            row = ProductRegistration(
                id=new_id("prd"),
                org_id=actor.organisation_id,
                role=role,
                identifier=identifier,
                package_key=key,
                created_at=now,
                status=CLAIMED,
                proof=proof,
                challenge=_challenge(),
            )
            db.add(row)
        elif row.status in (REJECTED, REVOKED):
            reopened.append(row.id)
            row.status = CLAIMED
            row.challenge = _challenge()
            row.proof = proof
            row.decided_by = row.decided_at = row.decision_note = None
        elif proof is not None and row.status == CLAIMED:
            row.proof = proof
        registered.append(row)
    commit_audited(
        db,
        actor,
        permission,
        object_type="product_registration",
        object_id=actor.organisation_id,
        at=now,
        detail={
            "role": role,
            "identifiers": list(keys),
            "proof": proof is not None,
            "reopened": reopened,
        },
    )
    return registered


@use_case(Permission.CH_PRODUCT_REGISTER)
def register_vendor_products(
    db: Session,
    actor: Actor,
    identifiers: Sequence[str],
    now: datetime,
    proof: str | None = None,
) -> list[ProductRegistration]:
    """Claim products the actor's organisation makes (see :func:`_register_products`)."""
    return _register_products(db, actor, VENDOR, identifiers, now, proof)


@use_case(Permission.CH_INVENTORY_REGISTER)
def register_inventory(
    db: Session,
    actor: Actor,
    identifiers: Sequence[str],
    now: datetime,
    proof: str | None = None,
) -> list[ProductRegistration]:
    """Claim products the actor's organisation runs (see :func:`_register_products`)."""
    return _register_products(db, actor, INVENTORY, identifiers, now, proof)


@use_case(Permission.CH_CLAIM_LIST)
def list_claims(
    db: Session, actor: Actor, page: PageRequest, status: str | None = CLAIMED
) -> Slice[ProductRegistration]:
    """Product claims for an analyst, oldest first: by default those waiting for a decision."""
    authorize(actor, Permission.CH_CLAIM_LIST)
    query = select(ProductRegistration)
    if status is not None:
        query = query.where(ProductRegistration.status == status)
    query = query.order_by(ProductRegistration.created_at, ProductRegistration.id)
    return paginate(db, query, page)


@use_case(Permission.CH_CLAIM_DECIDE)
def decide_claim(
    db: Session,
    actor: Actor,
    claim_id: str,
    decision: ClaimDecision,
    note: str,
    now: datetime,
) -> ProductRegistration:
    """An analyst verifies or rejects a pending claim, or revokes a verified one; recorded
    with who and when, and audited with the state it replaced."""
    authorize(actor, Permission.CH_CLAIM_DECIDE)
    row = db.get(ProductRegistration, claim_id)
    if row is None:
        raise errors.ClaimNotFound(f"no product claim '{claim_id}'")
    applies_to, leads_to = _DECISIONS[decision]
    if row.status not in applies_to:
        raise errors.InvalidClaimDecision(
            f"the claim is {row.status}; '{decision}' applies only to a claim that is "
            + " or ".join(applies_to)
        )
    previous = row.status
    row.status = leads_to
    row.decided_by = actor.user_id
    row.decided_at = now
    row.decision_note = note or None
    commit_audited(
        db,
        actor,
        Permission.CH_CLAIM_DECIDE,
        object_type="product_claim",
        object_id=row.id,
        at=now,
        detail={
            "decision": decision,
            "previous_status": previous,
            "status": leads_to,
            "org_id": row.org_id,
            "role": row.role,
            "identifier": row.identifier,
            "note": note,
        },
    )
    return row


@use_case(Permission.CH_PRODUCT_LIST)
def list_products(db: Session, actor: Actor, page: PageRequest) -> Slice[ProductRegistration]:
    """The actor's organisation's registered products and inventory."""
    authorize(actor, Permission.CH_PRODUCT_LIST)
    query = (
        select(ProductRegistration)
        .where(ProductRegistration.org_id == actor.organisation_id)
        .order_by(ProductRegistration.created_at, ProductRegistration.identifier)
    )
    return paginate(db, query, page)


@use_case(Permission.CH_PRODUCT_WITHDRAW)
def withdraw_product(
    db: Session, actor: Actor, claim_id: str, now: datetime
) -> ProductRegistration:
    """The actor's organisation takes back one of its product claims (made or run), whatever
    its state: a verified one stops conferring a need to know at once. Another organisation's
    claim is not found, so its existence is not confirmed; audited with what was withdrawn."""
    row, _ = reach(
        actor,
        Permission.CH_PRODUCT_WITHDRAW,
        db.get(ProductRegistration, claim_id),
        lambda claim: Access(same_org=claim.org_id == actor.organisation_id),
        hidden=lambda: errors.ClaimNotFound(f"no product claim '{claim_id}' of your organisation"),
        knows=lambda access: access.same_org,
    )
    db.delete(row)
    commit_audited(
        db,
        actor,
        Permission.CH_PRODUCT_WITHDRAW,
        object_type="product_claim",
        object_id=row.id,
        at=now,
        detail={"role": row.role, "identifier": row.identifier, "status": row.status},
    )
    return row


def notify_vendors(
    db: Session, reports: Sequence[Report], reporter_org_id: str, now: datetime
) -> int:
    """Notify the vendors of the reports' affected products (in the caller's transaction).

    One query per thousand package keys finds the vendors; each (vendor, report) pair is
    notified once. Reports whose TLP keeps vendors out (AMBER+STRICT, RED) notify no one.
    Unverified claims are notified too (a rejected or revoked one is not): a notification names
    the report only to an organisation that may read it (:func:`list_notifications`).
    """
    by_key: dict[str, list[str]] = {}
    for report in reports:
        if report.tlp not in _NOTIFIABLE_TLP:
            continue
        for key in report.package_keys:
            by_key.setdefault(key, []).append(report.id)
    if not by_key:
        return 0
    keys = list(by_key)
    pairs: dict[tuple[str, str], str] = {}
    for start in range(0, len(keys), 1000):
        rows = db.execute(
            select(ProductRegistration.org_id, ProductRegistration.package_key).where(
                ProductRegistration.role == VENDOR,
                ProductRegistration.status.in_(ROUTING),
                ProductRegistration.package_key.in_(keys[start : start + 1000]),
            )
        )
        for org_id, key in rows:
            if org_id == reporter_org_id:
                continue
            for report_id in by_key[key]:
                pairs.setdefault((org_id, report_id), key)
    if not pairs:
        return 0
    report_ids = sorted({report_id for _, report_id in pairs})
    already: set[tuple[str, str]] = set()
    for start in range(0, len(report_ids), 1000):
        already.update(
            (org, report_id)
            for org, report_id in db.execute(
                select(Notification.org_id, Notification.report_id).where(
                    Notification.report_id.in_(report_ids[start : start + 1000])
                )
            )
        )
    rows_to_add = [
        Notification(id=new_id("ntf"), org_id=org, report_id=rid, package_key=key, created_at=now)
        for (org, rid), key in pairs.items()
        if (org, rid) not in already
    ]
    db.add_all(rows_to_add)
    db.flush()
    return len(rows_to_add)


@use_case(Permission.CH_NOTIFICATION_LIST)
def list_notifications(
    db: Session, actor: Actor, page: PageRequest, now: datetime
) -> tuple[Slice[Notification], set[str]]:
    """The reports that concern the actor's organisation's products, newest first, with the
    ids among them it may read now: the others are shown by product only (an unverified
    claim learns that something concerns its product, not what, nor whose)."""
    authorize(actor, Permission.CH_NOTIFICATION_LIST)
    # Only what the vendor's weekly capacity has let out (see :mod:`..capacity`).
    release_due(db, actor.organisation_id, now)
    query = (
        select(Notification)
        .where(Notification.org_id == actor.organisation_id, Notification.notified_at.is_not(None))
        .order_by(Notification.created_at.desc(), Notification.id)
    )
    found = paginate(db, query, page)
    return found, readable_ids(db, actor, [n.report_id for n in found.rows], now)


@use_case(Permission.CH_ADVISORY_LIST)
def advisories_for(
    db: Session, actor: Actor, page: PageRequest, now: datetime
) -> Slice[VulnReport]:
    """Published advisories about products the organisation registered (inventory or vendor),
    that its TLP lets it read and whose embargo is lifted (or whose case it is a vendor in)."""
    authorize(actor, Permission.CH_ADVISORY_LIST)
    org = actor.organisation_id
    mine = (
        select(AffectedRow.report_id)
        .join(ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key)
        .where(ProductRegistration.org_id == org)
    )
    query = (
        select(VulnReport)
        .where(VulnReport.id.in_(mine), visible_reports(actor, now), disclosed(now))
        .order_by(VulnReport.published_at.desc(), VulnReport.seq.desc())
    )
    return paginate(db, query, page)
