"""The analyst's triage: the queue of incoming reports with its filters, grouped by product and
by likely-duplicate cluster, the triage decision, and a report's likely duplicates.

The queue is one query whatever its filters (TLP, product, source, found by a model or not,
age, state, triaged or not), over the reports TLP lets the caller see; like every list of
reports, the TLP:AMBER and stricter rows it returns are audited. The analyst's queue
(:func:`analyst_queue`) is paged by keyset (a cursor after the last row, never an offset), so a
page costs the same at the millionth report as at the first, and orders reproduced reports
first (:func:`reproduction_rank`), then newest or most severe.

Found by a model means a *verified* label (:mod:`.provenance`, ``ch_model_labels``): a
report's own ``discovered_by`` is what its reporter says, shown as a claim and never counted
or filtered as model-found. A report's duplicate proposals leave out any pair with a report the
caller may not read, as the list of all proposals does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVarTuple, cast

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors, reproduction
from prereview.clearinghouse.models import (
    AffectedRow,
    DuplicateCandidateRow,
    ModelFoundLabel,
    Reproduction,
    TriageDecision,
    VulnReport,
)
from prereview.clearinghouse.reports import audit_listed, get_report
from prereview.clearinghouse.sharing.need_to_know import visible_reports
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest, Slice, paginate

TriageState = Literal["open", "published", "merged", "all"]
TriageOrder = Literal["newest", "severity"]
TriageOutcome = Literal["accepted", "not_a_vulnerability", "needs_information"]
GroupBy = Literal["product", "cluster"]
MAX_QUEUE_PAGE = 200
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class TriageFilter:
    """What the analyst narrows the queue to. ``product`` matches part of a package key
    (``uploadkit`` finds ``pkg:pypi/uploadkit``); ``source`` is the reporting organisation;
    ``model_found`` keeps reports with a verified model-found label (``True``) or without one
    (``False``): a report that only *says* a model found it is not model-found;
    ``max_age_days`` keeps those received in the last days; ``open`` is neither merged nor
    published yet; ``triaged`` keeps those an analyst triaged (``True``) or not yet."""

    tlp: Tlp | None = None
    product: str | None = None
    source: str | None = None
    model_found: bool | None = None
    max_age_days: int | None = None
    state: TriageState = "open"
    order: TriageOrder = "newest"
    triaged: bool | None = None


def _found_by_model() -> ColumnElement[bool]:
    # Only the verified label counts: the report's own "discovered_by" (and the submission id
    # it names) is the reporter's say-so, which a rival lab can write about anyone's review.
    return VulnReport.id.in_(select(ModelFoundLabel.report_id))


def reproduction_rank() -> ColumnElement[int]:
    """The queue's first ordering key: 0 reproduced, 1 not reproduced, 2 unknown (a claim only).

    From the reproduction records (:mod:`.reproduction`): a report without one is unknown."""
    return reproduction.reproduction_rank()


def reproduction_status(db: Session, report_ids: Sequence[str]) -> dict[str, str]:
    """Each report's reproduction status as the queue shows it (``unknown`` without a
    reproduction record: a claim only)."""
    return reproduction.reproduction_status(db, report_ids)


def _severity() -> ColumnElement[float]:
    return func.coalesce(VulnReport.cvss_v4_score, VulnReport.cvss_v3_score, -1.0)


@use_case(Permission.CH_REPORT_LIST)
def triage_queue(
    db: Session, actor: Actor, page: PageRequest, now: datetime, where: TriageFilter
) -> Slice[VulnReport]:
    """One page of the reports TLP lets the actor see, filtered as ``where`` says."""
    authorize(actor, Permission.CH_REPORT_LIST)
    query = _filtered(select(VulnReport), actor, now, where)
    if where.order == "severity":
        query = query.order_by(_severity().desc(), VulnReport.seq.desc())
    else:
        query = query.order_by(VulnReport.seq.desc())
    found_page = paginate(db, query, page)
    audit_listed(db, actor, found_page.rows, now)
    return found_page


def _filtered(
    query: Select[*Columns], actor: Actor, now: datetime, where: TriageFilter
) -> Select[*Columns]:
    query = query.where(visible_reports(actor, now))
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
    if where.triaged is not None:
        decided = VulnReport.id.in_(select(TriageDecision.report_id))
        query = query.where(decided if where.triaged else ~decided)
    return query


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
    queue, whatever the table's size), counting only pairs whose reports the actor may both
    read."""
    authorize(actor, Permission.CH_DUPLICATE_LIST)
    counts = dict.fromkeys(report_ids, 0)
    if not report_ids:
        return counts
    for report_id, candidate_id, _ in _open_pairs(db, actor, now, report_ids):
        for named in (report_id, candidate_id):
            if named in counts:
                counts[named] += 1
    return counts


# The analyst's queue: keyset pages, groups, and the triage decision.


@dataclass(frozen=True)
class QueueEntry:
    """One row of the analyst's queue, with what the analyst decides on."""

    report: VulnReport
    reproduction: str
    """``reproduced``, ``not_reproduced`` or ``unknown`` (a claim only)."""
    model_label: ModelFoundLabel | None
    """The verified model-found label; ``report.document["discovered_by"]`` is only a claim."""
    cluster: str
    """The older report this one likely duplicates (its most similar open proposal), or its
    own id: the queue's duplicate cluster is the older report and those that name it."""
    open_duplicates: int
    triage: TriageDecision | None


@dataclass(frozen=True)
class QueuePage:
    entries: list[QueueEntry]
    next_cursor: str | None
    """The cursor of the next page (``None`` on the last one)."""


def _encode_cursor(order: TriageOrder, key: Sequence[float | int]) -> str:
    raw = json.dumps({"o": order, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(order: TriageOrder, cursor: str) -> list[float]:
    invalid = errors.InvalidQueueCursor(
        "this cursor was not handed out for this queue's order; start again without one",
        errors=[{"path": "$.after", "message": "not a cursor of this queue"}],
    )
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    width = 3 if order == "severity" else 2
    key = data.get("k") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("o") != order
        or not isinstance(key, list)
        or len(key) != width
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in key)
        or not all(abs(v) < 2**53 for v in key)
        or key[0] not in _RANKS
    ):
        raise invalid
    return [float(v) for v in key]


_RANKS = (0, 1, 2)


def _severity_of(report: Any) -> ColumnElement[float]:
    # The constant is written into the SQL, not bound: only then does it match the expression
    # index ``ix_ch_reports_severity_seq`` (migration 0024) that the severity order walks.
    unscored: ColumnElement[float] = literal_column("-1.0", type_=Float)
    return func.coalesce(report.cvss_v4_score, report.cvss_v3_score, unscored)


def _after(order: TriageOrder, key: list[float], row: Any) -> ColumnElement[bool]:
    """Within the cursor's rank: the rows after the cursor's (severity and) seq, as one row
    comparison, so that the index range starts at the cursor."""
    if order == "severity":
        _, sev, last = key
        return tuple_(_severity_of(row), row.seq) < tuple_(literal(sev), literal(int(last)))
    return cast(ColumnElement[bool], row.seq < int(key[-1]))


def _page_keys(
    db: Session,
    actor: Actor,
    now: datetime,
    where: TriageFilter,
    key: list[float] | None,
    limit: int,
) -> list[tuple[int, float, int]]:
    """(rank, severity, seq) of the next ``limit + 1`` rows, one rank at a time.

    The outer query walks an index in the page's order (the primary key for newest, the
    severity index for severity) and stops after the page; each row it meets is checked by
    the filters and the visibility, by its primary key (an ``EXISTS``). Left to itself the
    planner reads the visibility's ``tlp IN (...) OR ...`` through the TLP index, which is
    every row, sorted for each page: the page then grows with the table."""
    first = int(key[0]) if key is not None else 0
    found: list[tuple[int, float, int]] = []
    row = aliased(VulnReport, name="queue_row")
    for rank in _RANKS[first:]:
        check = _filtered(select(VulnReport.seq), actor, now, where).where(
            VulnReport.seq == row.seq, reproduction_rank() == rank
        )
        query = select(row.seq, _severity_of(row)).where(check.exists())
        if rank < _RANKS[-1]:
            # Only reports with a reproduction of that rank can be in it: the few, by index.
            recorded = select(Reproduction.report_id).where(Reproduction.rank == rank)
            query = query.where(row.id.in_(recorded))
        if key is not None and rank == first:
            query = query.where(_after(where.order, key, row))
        ordering: list[Any] = [row.seq.desc()]
        if where.order == "severity":
            ordering.insert(0, _severity_of(row).desc())
        query = query.order_by(*ordering).limit(limit + 1 - len(found))
        found += [(rank, float(severity), int(seq)) for seq, severity in db.execute(query)]
        if len(found) > limit:
            break
    return found


@use_case(Permission.CH_TRIAGE_QUEUE)
def analyst_queue(
    db: Session,
    actor: Actor,
    now: datetime,
    where: TriageFilter,
    after: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One keyset page of the analyst's queue: reproduced first, then ``where.order``; the
    page after ``after`` (a cursor from the previous page). Audited as any list of reports."""
    authorize(actor, Permission.CH_TRIAGE_QUEUE)
    limit = max(1, min(limit, MAX_QUEUE_PAGE))
    key = None if after is None else _decode_cursor(where.order, after)
    keys = _page_keys(db, actor, now, where, key, limit)
    more = len(keys) > limit
    keys = keys[:limit]
    by_seq = {
        row.seq: row
        for row in db.scalars(select(VulnReport).where(VulnReport.seq.in_([k[2] for k in keys])))
    }
    rows = [by_seq[seq] for _, _, seq in keys if seq in by_seq]
    next_cursor = None
    if more and keys:
        last_rank, last_severity, last_seq = keys[-1]
        cursor: list[float | int] = [last_rank]
        if where.order == "severity":
            cursor.append(last_severity)
        cursor.append(last_seq)
        next_cursor = _encode_cursor(where.order, cursor)
    entries = _entries(db, actor, now, rows)
    audit_listed(db, actor, rows, now)
    return QueuePage(entries=entries, next_cursor=next_cursor)


def _open_pairs(
    db: Session, actor: Actor, now: datetime, report_ids: Sequence[str]
) -> list[tuple[str, str, float]]:
    """The open proposals that name any of ``report_ids`` (a page's), most similar first,
    keeping only pairs whose both reports the actor may read: the proposals are found by their
    indexed ids, and only the reports they name are checked, never the whole table."""
    wanted = list(report_ids)
    pairs = list(
        db.execute(
            select(
                DuplicateCandidateRow.report_id,
                DuplicateCandidateRow.candidate_id,
                DuplicateCandidateRow.similarity,
            )
            .where(
                or_(
                    DuplicateCandidateRow.report_id.in_(wanted),
                    DuplicateCandidateRow.candidate_id.in_(wanted),
                ),
                DuplicateCandidateRow.status == "proposed",
            )
            .order_by(DuplicateCandidateRow.similarity.desc(), DuplicateCandidateRow.id)
        ).all()
    )
    named = sorted({rid for pair in pairs for rid in pair[:2]})
    readable: set[str] = set()
    for start in range(0, len(named), 500):
        readable.update(
            db.scalars(
                select(VulnReport.id).where(
                    VulnReport.id.in_(named[start : start + 500]), visible_reports(actor, now)
                )
            )
        )
    return [(a, b, float(s)) for a, b, s in pairs if a in readable and b in readable]


def _entries(db: Session, actor: Actor, now: datetime, rows: list[VulnReport]) -> list[QueueEntry]:
    ids = [row.id for row in rows]
    if not ids:
        return []
    labels = {
        label.report_id: label
        for label in db.scalars(select(ModelFoundLabel).where(ModelFoundLabel.report_id.in_(ids)))
    }
    decisions = {
        d.report_id: d
        for d in db.scalars(select(TriageDecision).where(TriageDecision.report_id.in_(ids)))
    }
    clusters: dict[str, str] = {}
    counts = dict.fromkeys(ids, 0)
    for report_id, candidate_id, _ in _open_pairs(db, actor, now, ids):
        clusters.setdefault(report_id, candidate_id)
        for named in (report_id, candidate_id):
            if named in counts:
                counts[named] += 1
    reproduced = reproduction_status(db, ids)
    return [
        QueueEntry(
            report=row,
            reproduction=reproduced.get(row.id, "unknown"),
            model_label=labels.get(row.id),
            cluster=clusters.get(row.id, row.id),
            open_duplicates=counts.get(row.id, 0),
            triage=decisions.get(row.id),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class QueueGroup:
    """A group of the queue: a product (a package key) or a duplicate cluster (named by its
    older report), with how many of the filtered reports it holds and its newest arrival."""

    key: str
    reports: int
    newest_at: datetime
    highest_severity: float | None


@use_case(Permission.CH_TRIAGE_QUEUE)
def queue_groups(
    db: Session, actor: Actor, now: datetime, where: TriageFilter, by: GroupBy, limit: int = 50
) -> list[QueueGroup]:
    """The largest groups of the filtered queue, by product or by likely-duplicate cluster
    (counts only: nothing confidential is listed, nothing to audit)."""
    authorize(actor, Permission.CH_TRIAGE_QUEUE)
    limit = max(1, min(limit, MAX_QUEUE_PAGE))
    key: Any
    counted: Any = func.count(func.distinct(VulnReport.id))
    columns = (
        func.max(VulnReport.created_at),
        func.max(func.coalesce(VulnReport.cvss_v4_score, VulnReport.cvss_v3_score)),
    )
    if by == "product":
        key = AffectedRow.package_key
        query = (
            select(key, counted, *columns)
            .select_from(AffectedRow)
            .join(VulnReport, VulnReport.id == AffectedRow.report_id)
        )
    else:
        # A cluster is an older report and the newer ones whose open proposals name it; two
        # reports join only through their own proposal, never through a chain of them.
        key = DuplicateCandidateRow.candidate_id
        counted = counted + 1
        query = (
            select(key, counted, *columns)
            .select_from(DuplicateCandidateRow)
            .join(VulnReport, VulnReport.id == DuplicateCandidateRow.report_id)
            .where(DuplicateCandidateRow.status == "proposed", _readable_pairs(actor, now))
        )
    query = _filtered(query, actor, now, where).group_by(key).order_by(counted.desc(), key)
    query = query.limit(limit)
    return [
        QueueGroup(
            key=str(group),
            reports=int(count),
            newest_at=newest,
            highest_severity=None if top is None else float(top),
        )
        for group, count, newest, top in db.execute(query)
    ]


@use_case(Permission.CH_TRIAGE_DECIDE, also=(Permission.CH_REPORT_READ,))
def triage_report(
    db: Session, actor: Actor, report_id: str, outcome: TriageOutcome, note: str, now: datetime
) -> TriageDecision:
    """Record the analyst's triage of a report. The funnel's "triaged" moment is the first
    triage the server recorded; a later one changes the outcome and note, not the moment."""
    authorize(actor, Permission.CH_TRIAGE_DECIDE)
    report = get_report(db, actor, report_id, now)
    decision = db.get(TriageDecision, report.id)
    first = decision is None
    if decision is None:
        decision = TriageDecision(report_id=report.id, triaged_at=now)
        db.add(decision)
    previous = None if first else decision.outcome
    decision.outcome = outcome
    decision.note = note
    decision.triaged_by = actor.user_id
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.CH_TRIAGE_DECIDE,
        object_type="vulnerability_report",
        object_id=report.id,
        at=now,
        detail={"outcome": outcome, "previous_outcome": previous},
    )
    return decision
