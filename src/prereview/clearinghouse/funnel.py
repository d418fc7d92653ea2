"""The disclosure funnel: found, triaged, reproduced, notified, acknowledged, fixed, disclosed.

Per vendor and overall, how many reports reached each stage and the hours between consecutive
stages (median and 90th percentile), from moments the server recorded, never dates a client
sent: *found* is when intake stored the report (``created_at``; the report's own discovery
date is the reporter's say-so), *triaged* an analyst's first triage (``ch_triage``),
*reproduced* when the server first judged a proof of concept reproduced
(:func:`reproduced_moments`, from :mod:`.reproduction`), *notified* when the vendor was told
(``ch_notifications.notified_at``, pacing's delivery), *acknowledged* the vendor's first status
other than "not contacted" or "no response" and *fixed* its first "fixed" (the status
history), *disclosed* the publication (``published_at``).

A vendor's row holds the (vendor, report) pairs of the reports it was notified of or stated a
status on; the overall row holds each report once, with the earliest vendor moment of each
vendor stage. Merged duplicates are left out (they are one vulnerability with the report they
were merged into). A latency is measured only where both stages were recorded and the later
one is not before the earlier (a vendor may fix before it is told: that pair is not a
latency). Agencies and the clearinghouse read every row; a vendor only its own, no overall.
Counts only: nothing to audit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors, reproduction
from prereview.clearinghouse.capacity import release_due
from prereview.clearinghouse.models import (
    Notification,
    TriageDecision,
    VendorStatusChange,
    VulnReport,
)

STAGES = ("found", "triaged", "reproduced", "notified", "acknowledged", "fixed", "disclosed")
_NOT_ACKNOWLEDGED = frozenset({"not_contacted", "no_response"})
# Who reads every row: the agencies' analysts and the clearinghouse.
_ALL_ROWS = frozenset({OrgKind.CLEARINGHOUSE, OrgKind.AGENCY})

Moments = dict[str, datetime]


@dataclass(frozen=True)
class StageLatency:
    """Hours from ``earlier`` to ``later`` over the ``pairs`` that recorded both."""

    earlier: str
    later: str
    pairs: int
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class FunnelRow:
    """One vendor's funnel (``vendor_org_id``), or the overall one (``None``)."""

    vendor_org_id: str | None
    counts: dict[str, int]
    latencies: list[StageLatency]


@dataclass(frozen=True)
class Funnel:
    since: datetime | None
    until: datetime | None
    overall: FunnelRow | None
    vendors: list[FunnelRow]


def reproduced_moments(db: Session, report_ids: Sequence[str]) -> Moments:
    """When each report's proof of concept was reproduced (the server's moment).

    The moment the server first judged a PoC of the report reproduced (:mod:`.reproduction`);
    a report without one (a claim only) never reaches the stage."""
    return reproduction.reproduced_moments(db, report_ids)


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank


def _row(vendor: str | None, items: Sequence[Mapping[str, datetime]]) -> FunnelRow:
    counts = {stage: sum(1 for item in items if stage in item) for stage in STAGES}
    latencies = []
    for earlier, later in pairwise(STAGES):
        hours = [
            (item[later] - item[earlier]).total_seconds() / 3600
            for item in items
            if earlier in item and later in item and item[later] >= item[earlier]
        ]
        latencies.append(
            StageLatency(
                earlier=earlier,
                later=later,
                pairs=len(hours),
                median_hours=round(statistics.median(hours), 3) if hours else None,
                p90_hours=round(_p90(hours), 3) if hours else None,
            )
        )
    return FunnelRow(vendor_org_id=vendor, counts=counts, latencies=latencies)


def _earliest(moments: Moments, stage: str, at: datetime) -> None:
    known = moments.get(stage)
    if known is None or at < known:
        moments[stage] = at


@use_case(Permission.CH_FUNNEL_READ)
def funnel(
    db: Session,
    actor: Actor,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    vendor: str | None = None,
) -> Funnel:
    """The funnel of the reports found (stored) in ``[since, until)``, per vendor and overall.

    A vendor (a developer or a partner) gets its own row only, whatever ``vendor`` it asks;
    agencies and the clearinghouse get every vendor's row (or ``vendor``'s) and the overall."""
    authorize(actor, Permission.CH_FUNNEL_READ)
    if since is not None and until is not None and since >= until:
        raise errors.InvalidFunnelPeriod(
            "the funnel's period starts at or after its end",
            errors=[{"path": "$.since", "message": "must be before until"}],
        )
    everyone = actor.org_kind in _ALL_ROWS
    wanted = vendor if everyone else actor.organisation_id
    query = select(VulnReport.id, VulnReport.created_at, VulnReport.published_at).where(
        VulnReport.merged_into.is_(None)
    )
    if since is not None:
        query = query.where(VulnReport.created_at >= since)
    if until is not None:
        query = query.where(VulnReport.created_at < until)
    reports: dict[str, Moments] = {}
    for report_id, created_at, published_at in db.execute(query):
        reports[report_id] = {"found": created_at}
        if published_at is not None:
            reports[report_id]["disclosed"] = published_at
    for report_id, at in db.execute(select(TriageDecision.report_id, TriageDecision.triaged_at)):
        if report_id in reports:
            reports[report_id]["triaged"] = at
    for report_id, at in reproduced_moments(db, list(reports)).items():
        if report_id in reports:
            reports[report_id]["reproduced"] = at
    vendor_moments = _vendor_moments(db, now, set(reports), None if everyone else wanted)
    vendors = [
        _row(org, [reports[rid] | stages for rid, stages in sorted(pairs.items())])
        for org, pairs in sorted(vendor_moments.items())
        if wanted is None or org == wanted
    ]
    overall = None
    if everyone:
        merged: dict[str, Moments] = {rid: dict(m) for rid, m in reports.items()}
        for pairs in vendor_moments.values():
            for rid, stages in pairs.items():
                for stage, at in stages.items():
                    _earliest(merged[rid], stage, at)
        overall = _row(None, [merged[rid] for rid in sorted(merged)])
    elif not vendors:
        vendors = [_row(actor.organisation_id, [])]
    db.commit()  # pacing's deliveries recorded on the way (release_due)
    return Funnel(since=since, until=until, overall=overall, vendors=vendors)


def _vendor_moments(
    db: Session, now: datetime, reports: set[str], vendor: str | None
) -> dict[str, dict[str, Moments]]:
    """Per vendor, per report, the vendor stages it recorded (``vendor``'s only, if named)."""
    found: dict[str, dict[str, Moments]] = {}
    notifications = select(Notification.org_id, Notification.report_id, Notification.notified_at)
    history = select(
        VendorStatusChange.vendor_org_id,
        VendorStatusChange.report_id,
        VendorStatusChange.status,
        VendorStatusChange.changed_at,
    )
    if vendor is not None:
        notifications = notifications.where(Notification.org_id == vendor)
        history = history.where(VendorStatusChange.vendor_org_id == vendor)
    rows = list(db.execute(notifications))
    pending = {org for org, _, notified_at in rows if notified_at is None}
    # Pacing records a delivery when the vendor's schedule is computed: compute it for the
    # vendors with reports waiting, so that what is due by now counts as notified.
    for org in sorted(pending):
        release_due(db, org, now)
    if pending:
        rows = list(db.execute(notifications))
    for org, report_id, notified_at in rows:
        if report_id not in reports:
            continue
        moments = found.setdefault(org, {}).setdefault(report_id, {})
        if notified_at is not None:
            _earliest(moments, "notified", notified_at)
    for org, report_id, state, at in db.execute(history):
        if report_id not in reports:
            continue
        moments = found.setdefault(org, {}).setdefault(report_id, {})
        if state not in _NOT_ACKNOWLEDGED:
            _earliest(moments, "acknowledged", at)
        if state == "fixed":
            _earliest(moments, "fixed", at)
    return found
