"""The analyst's triage: the queue of incoming reports with its filters, and a report's likely
duplicates, as the clearinghouse's console shows them.

The queue is one query whatever its filters (TLP, product, source, found by a model or not,
age, state), newest or most severe first, over the reports TLP lets the caller see; like every
list of reports, the TLP:AMBER and stricter rows it returns are audited. A report's duplicate
proposals leave out any pair with a report the caller may not read, as the list of all
proposals does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.models import AffectedRow, DuplicateCandidateRow, VulnReport
from prereview.clearinghouse.reports import audit_listed
from prereview.clearinghouse.sharing.need_to_know import visible_reports
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest, Slice, paginate

TriageState = Literal["open", "published", "merged", "all"]
TriageOrder = Literal["newest", "severity"]


@dataclass(frozen=True)
class TriageFilter:
    """What the analyst narrows the queue to. ``product`` matches part of a package key
    (``uploadkit`` finds ``pkg:pypi/uploadkit``); ``source`` is the reporting organisation;
    ``model_found`` keeps reports a model found (``True``) or a person (``False``);
    ``max_age_days`` keeps those received in the last days; ``open`` is neither merged nor
    published yet."""

    tlp: Tlp | None = None
    product: str | None = None
    source: str | None = None
    model_found: bool | None = None
    max_age_days: int | None = None
    state: TriageState = "open"
    order: TriageOrder = "newest"


def _found_by_model() -> ColumnElement[bool]:
    # A report found during a review known here has a submission; one from elsewhere still
    # says who found it ("discovered_by": {"kind": "model", ...}).
    kind = VulnReport.document["discovered_by"]["kind"].as_string()
    return or_(VulnReport.submission_id.is_not(None), kind == "model")


def _severity() -> ColumnElement[float]:
    return func.coalesce(VulnReport.cvss_v4_score, VulnReport.cvss_v3_score, -1.0)


@use_case(Permission.CH_REPORT_LIST)
def triage_queue(
    db: Session, actor: Actor, page: PageRequest, now: datetime, where: TriageFilter
) -> Slice[VulnReport]:
    """One page of the reports TLP lets the actor see, filtered as ``where`` says."""
    authorize(actor, Permission.CH_REPORT_LIST)
    query = select(VulnReport).where(visible_reports(actor, now))
    if where.tlp is not None:
        query = query.where(VulnReport.tlp == str(where.tlp))
    if where.product:
        needle = where.product.strip().lower()
        query = query.where(
            VulnReport.id.in_(
                select(AffectedRow.report_id).where(AffectedRow.package_key.contains(needle))
            )
        )
    if where.source:
        query = query.where(VulnReport.reporter_org_id == where.source)
    if where.model_found is not None:
        found = _found_by_model()
        query = query.where(found if where.model_found else ~found)
    if where.max_age_days is not None:
        query = query.where(VulnReport.created_at >= now - timedelta(days=where.max_age_days))
    if where.state == "open":
        query = query.where(VulnReport.merged_into.is_(None), VulnReport.published_at.is_(None))
    elif where.state == "published":
        query = query.where(VulnReport.published_at.is_not(None))
    elif where.state == "merged":
        query = query.where(VulnReport.merged_into.is_not(None))
    if where.order == "severity":
        query = query.order_by(_severity().desc(), VulnReport.seq.desc())
    else:
        query = query.order_by(VulnReport.seq.desc())
    found_page = paginate(db, query, page)
    audit_listed(db, actor, found_page.rows, now)
    return found_page


def report_sources(db: Session, actor: Actor, now: datetime) -> list[str]:
    """The organisations that reported what the actor may see (the queue's source filter)."""
    authorize(actor, Permission.CH_REPORT_LIST)
    query = select(VulnReport.reporter_org_id).where(visible_reports(actor, now)).distinct()
    return sorted(db.scalars(query))


def _readable_pairs(actor: Actor, now: datetime) -> ColumnElement[bool]:
    readable = select(VulnReport.id).where(visible_reports(actor, now))
    return DuplicateCandidateRow.report_id.in_(readable) & DuplicateCandidateRow.candidate_id.in_(
        readable
    )


@use_case(Permission.CH_DUPLICATE_LIST)
def report_duplicates(
    db: Session, actor: Actor, report_id: str, now: datetime, limit: int = 20
) -> list[DuplicateCandidateRow]:
    """The duplicate proposals that name the report (as the newer or the older one), open
    ones first, most similar first; pairs with a report the actor may not read are left out."""
    authorize(actor, Permission.CH_DUPLICATE_LIST)
    query = (
        select(DuplicateCandidateRow)
        .where(
            or_(
                DuplicateCandidateRow.report_id == report_id,
                DuplicateCandidateRow.candidate_id == report_id,
            ),
            _readable_pairs(actor, now),
        )
        .order_by(
            case((DuplicateCandidateRow.status == "proposed", 0), else_=1),
            DuplicateCandidateRow.similarity.desc(),
            DuplicateCandidateRow.id,
        )
        .limit(limit)
    )
    return list(db.scalars(query))


@use_case(Permission.CH_DUPLICATE_LIST)
def get_duplicate(
    db: Session, actor: Actor, duplicate_id: str, now: datetime
) -> DuplicateCandidateRow:
    """One duplicate proposal, if the actor may read both of its reports (else a 404)."""
    authorize(actor, Permission.CH_DUPLICATE_LIST)
    row = db.scalar(
        select(DuplicateCandidateRow).where(
            DuplicateCandidateRow.id == duplicate_id, _readable_pairs(actor, now)
        )
    )
    if row is None:
        raise errors.DuplicateNotFound(f"no duplicate proposal '{duplicate_id}'")
    return row


@use_case(Permission.CH_DUPLICATE_LIST)
def open_duplicate_counts(
    db: Session, actor: Actor, report_ids: Sequence[str], now: datetime
) -> dict[str, int]:
    """How many open duplicate proposals name each report (two queries for a page of the
    queue), counting only pairs whose reports the actor may both read."""
    authorize(actor, Permission.CH_DUPLICATE_LIST)
    counts = dict.fromkeys(report_ids, 0)
    if not report_ids:
        return counts
    wanted = list(report_ids)
    for column in (DuplicateCandidateRow.report_id, DuplicateCandidateRow.candidate_id):
        query = (
            select(column, func.count())
            .where(
                column.in_(wanted),
                DuplicateCandidateRow.status == "proposed",
                _readable_pairs(actor, now),
            )
            .group_by(column)
        )
        for report_id, count in db.execute(query):
            counts[report_id] += count
    return counts
