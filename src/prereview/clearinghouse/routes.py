"""HTTP routes of the clearinghouse: thin, they parse, call the services and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed
from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.clearinghouse import capacity, cases, cells, messages, provenance, service
from prereview.clearinghouse import case_view as cases_view
from prereview.clearinghouse.cases import CaseCreate
from prereview.clearinghouse.cells import Cell, CellChange, CellState
from prereview.clearinghouse.dedup import duplicates
from prereview.clearinghouse.intake.formats import IntakeFormat
from prereview.clearinghouse.models import Case, CaseMessage, CaseVendor, VulnReport
from prereview.clearinghouse.schemas import (
    CapacityIn,
    CapacityOut,
    CaseCreateIn,
    CaseMembers,
    CaseOut,
    CellIn,
    CellOut,
    ClaimDecisionIn,
    ClaimOut,
    CvssOut,
    DuplicateDecision,
    DuplicateOut,
    EmbargoChangeIn,
    EmbargoChangeOut,
    EmbargoOut,
    EvidenceOut,
    FoundByOut,
    FunnelOut,
    FunnelRowOut,
    IntakeOut,
    MessageIn,
    MessageOut,
    ModelLabelIn,
    ModelLabelOut,
    NotificationOut,
    ProductOut,
    ProductsIn,
    PublishRequest,
    QueueGroupOut,
    QueueItemOut,
    QueuePageOut,
    RelabelIn,
    RelationCreate,
    RelationsOut,
    ReportCreated,
    ReportOut,
    ReportPaceOut,
    ReportVersionOut,
    ReportVersionsOut,
    ScheduledOut,
    StageLatencyOut,
    StatusIn,
    StatusOut,
    TriageIn,
    TriageOut,
    VendorRowOut,
    VendorTable,
)
from prereview.clearinghouse.sharing import routing
from prereview.core.fields import UtcDatetime
from prereview.core.markings import Tlp
from prereview.core.pagination import Page, PageRequest, page_of, page_request
from prereview.core.parsing import read_body
from prereview.identity import service as identity
from prereview.review.service import Rules
from prereview.vault.deps import VaultDep

router = APIRouter(prefix="/clearinghouse", tags=["clearinghouse"])
Paging = Annotated[PageRequest, Depends(page_request)]


def _cvss(value: Any) -> CvssOut | None:
    if not value:
        return None
    return CvssOut(
        vector=value["vector"], base_score=value["base_score"], severity=value["severity"]
    )


def report_out(row: VulnReport) -> ReportOut:
    doc = row.document
    return ReportOut(
        id=row.id,
        title=row.title,
        tlp=row.tlp,
        reporter_org_id=row.reporter_org_id,
        description=doc.get("description", ""),
        affected=doc.get("affected", []),
        cwes=row.cwes,
        cvss_v3=_cvss(doc.get("cvss_v3")),
        cvss_v4=_cvss(doc.get("cvss_v4")),
        discovered_by=doc.get("discovered_by"),
        submission_id=row.submission_id,
        aliases=doc.get("aliases", []),
        has_evidence=row.has_evidence,
        merged_into=row.merged_into,
        case_id=row.case_id,
        published_at=row.published_at,
        created_at=row.created_at,
        modified=doc.get("modified"),
        withdrawn=doc.get("withdrawn"),
        warnings=[
            {
                "path": f"$.flagged_aliases[{index}]",
                "message": f"alias {alias!r} is not a vulnerability id: kept as given, "
                "links nothing",
            }
            for index, alias in enumerate(doc.get("flagged_aliases", []))
        ],
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportCreated,
    openapi_extra=exercises(service.submit_report),
)
def create_report(
    ctx: Context,
    vault: VaultDep,
    data: Annotated[dict[str, Any], Body()],
    recipients: Annotated[list[str] | None, Query(description="TLP:RED recipients")] = None,
) -> ReportCreated:
    row, item = service.submit_report(ctx.db, vault, ctx.actor, data, ctx.now, recipients or [])
    (summary,) = service.visible_intake(ctx.db, ctx.actor, [item.summary()], ctx.now)
    return ReportCreated(
        report=report_out(row), likely_duplicates=summary.get("likely_duplicates", [])
    )


@router.post(
    "/imports",
    response_model=IntakeOut,
    openapi_extra=exercises(service.import_reports)
    | {
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def import_reports(
    ctx: Context,
    request: Request,
    vault: VaultDep,
    format: Annotated[IntakeFormat | None, Query(description="jsonl, osv, csaf or report")] = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
    recipients: Annotated[list[str] | None, Query()] = None,
) -> Response:
    # Counted as it arrives: refused (413) as soon as it passes the limit, never buffered whole.
    limit = ctx.settings.max_import_bytes
    payload = await read_body(request, limit, what="a bulk import")
    result = await run_in_threadpool(
        service.import_reports,
        ctx.db,
        vault,
        ctx.actor,
        payload,
        ctx.now,
        intake_format=format,
        filename=filename,
        recipients=recipients or [],
    )

    def answer() -> Response:
        # Built and serialized in a worker thread: the answer to a 20,000-report import takes
        # seconds to encode, and on the event loop it would stall every other request.
        summary = result.summary()
        items = service.visible_intake(ctx.db, ctx.actor, summary["items"], ctx.now)
        body = IntakeOut(counts=summary["counts"], items=items).model_dump_json()
        return Response(body, media_type="application/json")

    return await run_in_threadpool(answer)


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    openapi_extra=exercises(service.list_reports),
)
def list_reports(
    ctx: Context,
    page: Paging,
    tlp: Tlp | None = None,
    package: Annotated[str | None, Query(description="a package key: pkg:pypi/name")] = None,
    published: bool | None = None,
    include_merged: bool = True,
    alias: Annotated[
        str | None, Query(max_length=128, description="any name: an id or an alias (a CVE id)")
    ] = None,
) -> Page[ReportOut]:
    where = service.ReportFilter(tlp, package, published, include_merged, alias)
    return page_of(service.list_reports(ctx.db, ctx.actor, page, ctx.now, where), report_out)


@router.get(
    "/reports/{report_id}",
    response_model=ReportOut,
    openapi_extra=exercises(service.get_report),
)
def read_report(ctx: Context, report_id: str) -> ReportOut:
    row = service.get_report(ctx.db, ctx.actor, report_id, ctx.now)
    return _with_label_and_pace(ctx, row)


def _with_label_and_pace(ctx: Context, row: VulnReport) -> ReportOut:
    out = report_out(row)
    label = provenance.label_of(ctx.db, row.id)
    if label is not None:
        out.model_label = ModelLabelOut(
            submission_id=label.submission_id,
            model=label.model,
            model_version=label.model_version,
            verified_at=label.verified_at,
        )
    if allowed(
        ctx.actor,
        Permission.CH_PACING_READ,
        Access(reporter=row.reporter_org_id == ctx.actor.organisation_id),
    ):
        pace = capacity.report_pace(ctx.db, ctx.actor, row, ctx.now)
        out.pacing = ReportPaceOut(
            vendors_told=pace.vendors_told,
            vendors_waiting=pace.vendors_waiting,
            expected_notification_at=pace.expected_notification_at,
            unscheduled=pace.unscheduled,
        )
    return out


@router.post(
    "/reports/{report_id}/model-label",
    response_model=ReportOut,
    openapi_extra=exercises(provenance.label_model_found),
)
def label_model_found(ctx: Context, report_id: str, data: ModelLabelIn) -> ReportOut:
    """Label the report as found by a model during a review the reporter was let into."""
    rules = Rules.from_settings(ctx.settings)
    provenance.label_model_found(
        ctx.db, ctx.actor, report_id, data.submission_id, data.model, ctx.now, rules
    )
    return _with_label_and_pace(ctx, service.get_report(ctx.db, ctx.actor, report_id, ctx.now))


@router.get(
    "/triage/summary",
    response_model=FoundByOut,
    openapi_extra=exercises(provenance.found_by_counts),
)
def triage_summary(ctx: Context) -> FoundByOut:
    """The reports by who found them: a model (verified), a model (claimed only), others."""
    counts = provenance.found_by_counts(ctx.db, ctx.actor, ctx.now)
    return FoundByOut(
        model_verified=counts.model_verified,
        model_claimed=counts.model_claimed,
        other=counts.other,
    )


def _queue_item(entry: service.QueueEntry) -> QueueItemOut:
    row, label = entry.report, entry.model_label
    score = row.cvss_v4_score if row.cvss_v4_score is not None else row.cvss_v3_score
    return QueueItemOut(
        id=row.id,
        title=row.title,
        tlp=row.tlp,
        reporter_org_id=row.reporter_org_id,
        severity=score,
        package_keys=row.package_keys,
        created_at=row.created_at,
        reproduction=entry.reproduction,
        model_label=None
        if label is None
        else ModelLabelOut(
            submission_id=label.submission_id,
            model=label.model,
            model_version=label.model_version,
            verified_at=label.verified_at,
        ),
        claimed_found_by=row.document.get("discovered_by"),
        cluster=entry.cluster,
        open_duplicates=entry.open_duplicates,
        triage_outcome=entry.triage.outcome if entry.triage else None,
        triaged_at=entry.triage.triaged_at if entry.triage else None,
    )


def _queue_filter(
    tlp: Tlp | None = None,
    product: Annotated[
        str | None, Query(max_length=300, description="part of a package key")
    ] = None,
    source: Annotated[
        str | None, Query(max_length=40, description="reporting organisation")
    ] = None,
    model_found: Annotated[
        bool | None, Query(description="a verified model-found label (not the report's claim)")
    ] = None,
    max_age_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    state: service.TriageState = "open",
    order: service.TriageOrder = "newest",
    triaged: bool | None = None,
) -> service.TriageFilter:
    return service.TriageFilter(
        tlp, product, source, model_found, max_age_days, state, order, triaged
    )


QueueFilter = Annotated[service.TriageFilter, Depends(_queue_filter)]


@router.get(
    "/triage/queue",
    response_model=QueuePageOut,
    openapi_extra=exercises(service.analyst_queue),
)
def triage_queue(
    ctx: Context,
    where: QueueFilter,
    after: Annotated[
        str | None, Query(max_length=200, description="the previous page's next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePageOut:
    """The analyst's queue: reproduced first, then newest (or most severe), keyset-paged;
    ``model_found`` means a verified label, never the report's own claim."""
    found = service.analyst_queue(ctx.db, ctx.actor, ctx.now, where, after, limit)
    return QueuePageOut(
        items=[_queue_item(e) for e in found.entries], next_cursor=found.next_cursor
    )


@router.get(
    "/triage/groups",
    response_model=list[QueueGroupOut],
    openapi_extra=exercises(service.queue_groups),
)
def triage_groups(
    ctx: Context,
    where: QueueFilter,
    by: Literal["product", "cluster"] = "product",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[QueueGroupOut]:
    """The queue's largest groups: by product, or by likely-duplicate cluster."""
    groups = service.queue_groups(ctx.db, ctx.actor, ctx.now, where, by, limit)
    return [
        QueueGroupOut(
            key=g.key, reports=g.reports, newest_at=g.newest_at, highest_severity=g.highest_severity
        )
        for g in groups
    ]


@router.post(
    "/reports/{report_id}/triage",
    response_model=TriageOut,
    openapi_extra=exercises(service.triage_report),
)
def triage_report(ctx: Context, report_id: str, data: TriageIn) -> TriageOut:
    """Record the analyst's triage (the funnel's "triaged" moment is the first one)."""
    row = service.triage_report(ctx.db, ctx.actor, report_id, data.outcome, data.note, ctx.now)
    return TriageOut(
        report_id=row.report_id, outcome=row.outcome, note=row.note, triaged_at=row.triaged_at
    )


def _funnel_row(row: service.FunnelRow, names: dict[str, str]) -> FunnelRowOut:
    return FunnelRowOut(
        vendor_org_id=row.vendor_org_id,
        vendor_name=names.get(row.vendor_org_id) if row.vendor_org_id else None,
        counts=row.counts,
        latencies=[
            StageLatencyOut(
                earlier=lat.earlier,
                later=lat.later,
                pairs=lat.pairs,
                median_hours=lat.median_hours,
                p90_hours=lat.p90_hours,
            )
            for lat in row.latencies
        ],
    )


@router.get("/funnel", response_model=FunnelOut, openapi_extra=exercises(service.funnel))
def read_funnel(
    ctx: Context,
    since: Annotated[UtcDatetime | None, Query(description="found at or after")] = None,
    until: Annotated[UtcDatetime | None, Query(description="found before")] = None,
    vendor: Annotated[str | None, Query(max_length=40)] = None,
) -> FunnelOut:
    """Found, triaged, reproduced, notified, acknowledged, fixed, disclosed: counts and hours
    between stages, per vendor and overall (a vendor sees its own row only)."""
    found = service.funnel(ctx.db, ctx.actor, ctx.now, since, until, vendor)
    ids = [r.vendor_org_id for r in found.vendors if r.vendor_org_id]
    names = identity.organisation_names(ctx.db, ids)
    return FunnelOut(
        stages=list(service.STAGES),
        since=found.since,
        until=found.until,
        overall=_funnel_row(found.overall, names) if found.overall else None,
        vendors=[_funnel_row(r, names) for r in found.vendors],
    )


def _capacity_out(ctx: Context, pace: capacity.VendorPace) -> CapacityOut:
    schedule = None
    if ctx.actor.org_kind is OrgKind.CLEARINGHOUSE:
        schedule = [ScheduledOut(report_id=s.report_id, expected_at=s.at) for s in pace.slots]
    return CapacityOut(
        org_id=pace.org_id,
        per_week=pace.per_week,
        set_at=pace.set_at,
        delivered_last_week=pace.delivered_last_week,
        waiting=pace.waiting,
        schedule=schedule,
    )


@router.get(
    "/vendors/{org_id}/capacity",
    response_model=CapacityOut,
    openapi_extra=exercises(capacity.vendor_pace),
)
def read_capacity(ctx: Context, org_id: str) -> CapacityOut:
    return _capacity_out(ctx, capacity.vendor_pace(ctx.db, ctx.actor, org_id, ctx.now))


@router.put(
    "/vendors/{org_id}/capacity",
    response_model=CapacityOut,
    openapi_extra=exercises(capacity.set_capacity),
)
def set_capacity(ctx: Context, org_id: str, data: CapacityIn) -> CapacityOut:
    """How many new reports the vendor takes per week; its notifications are paced to it."""
    pace = capacity.set_capacity(ctx.db, ctx.actor, org_id, data.per_week, ctx.now)
    return _capacity_out(ctx, pace)


@router.get(
    "/reports/{report_id}/versions",
    response_model=ReportVersionsOut,
    openapi_extra=exercises(service.report_versions),
)
def read_versions(ctx: Context, report_id: str) -> ReportVersionsOut:
    row, versions = service.report_versions(ctx.db, ctx.actor, report_id, ctx.now)
    return ReportVersionsOut(
        id=row.id,
        previous=[
            ReportVersionOut(
                version=v.version,
                modified=v.modified,
                tlp=v.tlp,
                stored_at=v.stored_at,
                replaced_at=v.replaced_at,
                document=v.document,
            )
            for v in versions
        ],
    )


@router.get(
    "/reports/{report_id}/evidence",
    response_model=EvidenceOut,
    openapi_extra=exercises(service.read_evidence),
)
def read_evidence(ctx: Context, report_id: str, vault: VaultDep) -> EvidenceOut:
    return EvidenceOut(
        report_id=report_id,
        evidence=service.read_evidence(ctx.db, vault, ctx.actor, report_id, ctx.now),
    )


@router.get(
    "/reports/{report_id}/relations",
    response_model=RelationsOut,
    openapi_extra=exercises(service.report_relations),
)
def read_relations(ctx: Context, report_id: str) -> RelationsOut:
    found = service.report_relations(ctx.db, ctx.actor, report_id, ctx.now)
    return RelationsOut(id=report_id, **found)


@router.post(
    "/reports/{report_id}/publish",
    response_model=ReportOut,
    openapi_extra=exercises(service.publish_report),
)
def publish_report(ctx: Context, report_id: str, data: PublishRequest | None = None) -> ReportOut:
    tlp = data.tlp if data else None
    return report_out(service.publish_report(ctx.db, ctx.actor, report_id, ctx.now, tlp))


@router.put(
    "/reports/{report_id}/tlp",
    response_model=ReportOut,
    openapi_extra=exercises(service.relabel_report),
)
def relabel_report(ctx: Context, report_id: str, data: RelabelIn) -> ReportOut:
    return report_out(service.relabel_report(ctx.db, ctx.actor, report_id, data.tlp, ctx.now))


@router.post(
    "/relations",
    status_code=status.HTTP_201_CREATED,
    response_model=RelationsOut,
    openapi_extra=exercises(duplicates.add_relation),
)
def add_relation(ctx: Context, data: RelationCreate) -> RelationsOut:
    found = duplicates.add_relation(ctx.db, ctx.actor, data.kind, data.source, data.target, ctx.now)
    return RelationsOut(
        id=data.source, **service.visible_relations(ctx.db, ctx.actor, found, ctx.now)
    )


@router.get(
    "/duplicates",
    response_model=Page[DuplicateOut],
    openapi_extra=exercises(duplicates.list_duplicates),
)
def list_duplicates(
    ctx: Context,
    page: Paging,
    status: Annotated[str | None, Query(pattern="^(proposed|merged|rejected)$")] = None,
) -> Page[DuplicateOut]:
    found = duplicates.list_duplicates(ctx.db, ctx.actor, page, ctx.now, status)
    return page_of(found, DuplicateOut.model_validate)


@router.post(
    "/duplicates/{duplicate_id}/decision",
    response_model=DuplicateOut,
    openapi_extra=exercises(duplicates.decide_duplicate),
)
def decide_duplicate(ctx: Context, duplicate_id: str, data: DuplicateDecision) -> DuplicateOut:
    row = duplicates.decide_duplicate(
        ctx.db, ctx.actor, duplicate_id, data.decision, data.note, ctx.now
    )
    return DuplicateOut.model_validate(row)


def case_out(db: Session, case: Case, now: datetime) -> CaseOut:
    zone = cases.zone_of(case.embargo_zone)
    left = int((case.embargo_until - now).total_seconds())
    vendor_count = db.scalar(
        select(func.count()).select_from(CaseVendor).where(CaseVendor.case_id == case.id)
    )
    return CaseOut(
        id=case.id,
        title=case.title,
        tlp=case.tlp,
        opened_at=case.opened_at,
        embargo=EmbargoOut(
            until=case.embargo_until,
            zone=case.embargo_zone,
            local=case.embargo_until.astimezone(zone).isoformat(),
            public=left <= 0,
            seconds_left=max(0, left),
        ),
        report_ids=cases.case_report_ids(db, case.id),
        vendor_count=vendor_count or 0,
        embargo_changes=[
            EmbargoChangeOut.model_validate(c) for c in cases.embargo_history(db, case.id)
        ],
    )


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOut,
    openapi_extra=exercises(cases.create_case),
)
def create_case(ctx: Context, data: CaseCreateIn) -> CaseOut:
    case = cases.create_case(
        ctx.db,
        ctx.actor,
        CaseCreate(
            data.title,
            data.tlp,
            data.report_ids,
            data.vendor_org_ids,
            data.embargo_until,
            data.embargo_zone,
        ),
        ctx.now,
    )
    return case_out(ctx.db, case, ctx.now)


@router.get("/cases", response_model=Page[CaseOut], openapi_extra=exercises(cases.list_cases))
def list_cases(ctx: Context, page: Paging) -> Page[CaseOut]:
    return page_of(
        cases.list_cases(ctx.db, ctx.actor, page), lambda c: case_out(ctx.db, c, ctx.now)
    )


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    openapi_extra=exercises(cases.get_case),
)
def read_case(ctx: Context, case_id: str) -> CaseOut:
    return case_out(ctx.db, cases.get_case(ctx.db, ctx.actor, case_id, ctx.now), ctx.now)


@router.post(
    "/cases/{case_id}/members",
    response_model=CaseOut,
    openapi_extra=exercises(cases.add_to_case),
)
def add_members(ctx: Context, case_id: str, data: CaseMembers) -> CaseOut:
    case = cases.add_to_case(
        ctx.db, ctx.actor, case_id, data.report_ids, data.vendor_org_ids, ctx.now
    )
    return case_out(ctx.db, case, ctx.now)


@router.put(
    "/cases/{case_id}/embargo",
    response_model=CaseOut,
    openapi_extra=exercises(cases.change_embargo),
)
def change_embargo(ctx: Context, case_id: str, data: EmbargoChangeIn) -> CaseOut:
    case = cases.change_embargo(
        ctx.db, ctx.actor, case_id, data.embargo_until, data.embargo_zone, data.reason, ctx.now
    )
    return case_out(ctx.db, case, ctx.now)


@router.get(
    "/cases/{case_id}/vendors",
    response_model=VendorTable,
    openapi_extra=exercises(cases_view.vendor_table),
)
def vendor_table(ctx: Context, case_id: str, page: Paging) -> VendorTable:
    """The case's view: one page of its vendors, each with its status on every report of the
    case, its cell for every product of the case, and (for the coordinators, and a vendor for
    its own) the size of its private thread."""
    view = cases_view.vendor_table(ctx.db, ctx.actor, case_id, page, ctx.now)
    unknown = StatusOut(status="not_contacted", statement="", justification=None, updated_at=None)
    items = []
    for vendor in view.vendors.rows:
        mine = view.statuses.get(vendor.vendor_org_id, {})
        items.append(
            VendorRowOut(
                vendor_org_id=vendor.vendor_org_id,
                statuses={
                    rid: (
                        StatusOut(
                            status=s.status,
                            statement=s.statement,
                            justification=s.justification,
                            updated_at=s.updated_at,
                            due_on=s.due_on,
                        )
                        if (s := mine.get(rid))
                        else unknown
                    )
                    for rid in view.report_ids
                },
                cells={
                    product: cell_out(view.cell(vendor.vendor_org_id, product))
                    for product in view.products
                },
                private_messages=view.threads.get(vendor.vendor_org_id),
            )
        )
    return VendorTable(
        report_ids=view.report_ids,
        products=view.products,
        items=items,
        total=view.vendors.total,
        limit=view.vendors.limit,
        offset=view.vendors.offset,
    )


def cell_out(cell: Cell) -> CellOut:
    return CellOut(
        status=cell.status,
        csaf_product_status=CellState(cell.status).csaf,
        justification=cell.justification,
        statement=cell.statement,
        due_on=cell.due_on,
        due_set=cell.due_set,
        updated_at=cell.updated_at,
    )


@router.put(
    "/cases/{case_id}/vendors/{org_id}/cells",
    response_model=CellOut,
    openapi_extra=exercises(cells.set_cell),
)
def set_cell(ctx: Context, case_id: str, org_id: str, data: CellIn) -> CellOut:
    """Set a vendor's cell for one product of the case: the vendor for itself, or a
    coordinator; another vendor may not (403)."""
    case, row = cells.set_cell(
        ctx.db,
        ctx.actor,
        case_id,
        org_id,
        data.product,
        CellChange(data.status, data.justification, data.statement, data.due_on),
        ctx.now,
    )
    return cell_out(cells.cell_of(case, row))


@router.delete(
    "/cases/{case_id}/vendors/{org_id}",
    response_model=CaseOut,
    openapi_extra=exercises(cases.remove_vendor),
)
def remove_vendor(ctx: Context, case_id: str, org_id: str) -> CaseOut:
    """Take a vendor off the case: it loses the case, its cells and its private thread."""
    case = cases.remove_vendor(ctx.db, ctx.actor, case_id, org_id, ctx.now)
    return case_out(ctx.db, case, ctx.now)


@router.put(
    "/cases/{case_id}/vendors/{org_id}/statuses/{report_id}",
    response_model=StatusOut,
    openapi_extra=exercises(cases.set_vendor_status),
)
def set_status(
    ctx: Context, case_id: str, org_id: str, report_id: str, data: StatusIn
) -> StatusOut:
    row = cases.set_vendor_status(
        ctx.db,
        ctx.actor,
        case_id,
        org_id,
        report_id,
        data.status,
        data.statement,
        data.justification,
        ctx.now,
        data.due_on,
    )
    return StatusOut(
        status=row.status,
        statement=row.statement,
        justification=row.justification,
        updated_at=row.updated_at,
        due_on=row.due_on,
    )


def message_out(db: Session, row: CaseMessage, names: dict[str, str] | None = None) -> MessageOut:
    names = names if names is not None else identity.organisation_names(db, [row.author_org_id])
    return MessageOut(
        id=row.id,
        case_id=row.case_id,
        author_org_id=row.author_org_id,
        author_org_name=names.get(row.author_org_id, row.author_org_id),
        author_user_id=row.author_user_id,
        author_name=row.author_name,
        text=row.body,
        created_at=row.created_at,
        thread=row.vendor_org_id,
    )


@router.get(
    "/cases/{case_id}/messages",
    response_model=Page[MessageOut],
    openapi_extra=exercises(messages.list_messages),
)
def list_messages(ctx: Context, case_id: str, page: Paging) -> Page[MessageOut]:
    found = messages.list_messages(ctx.db, ctx.actor, case_id, page, ctx.now)
    names = identity.organisation_names(ctx.db, {m.author_org_id for m in found.rows})
    return page_of(found, lambda m: message_out(ctx.db, m, names))


@router.post(
    "/cases/{case_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    openapi_extra=exercises(messages.post_message),
)
def post_message(ctx: Context, case_id: str, data: MessageIn) -> MessageOut:
    row = messages.post_message(ctx.db, ctx.actor, case_id, data.text, ctx.now)
    return message_out(ctx.db, row)


@router.get(
    "/cases/{case_id}/vendors/{org_id}/messages",
    response_model=Page[MessageOut],
    openapi_extra=exercises(messages.list_messages),
)
def list_private_messages(
    ctx: Context, case_id: str, org_id: str, page: Paging
) -> Page[MessageOut]:
    """One page of a vendor's private thread with the coordinators: for them and that vendor
    only; to anyone else it does not exist (404)."""
    found = messages.list_messages(ctx.db, ctx.actor, case_id, page, ctx.now, org_id)
    names = identity.organisation_names(ctx.db, {m.author_org_id for m in found.rows})
    return page_of(found, lambda m: message_out(ctx.db, m, names))


@router.post(
    "/cases/{case_id}/vendors/{org_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    openapi_extra=exercises(messages.post_message),
)
def post_private_message(ctx: Context, case_id: str, org_id: str, data: MessageIn) -> MessageOut:
    """Write in a vendor's private thread (the coordinators, or that vendor)."""
    row = messages.post_message(ctx.db, ctx.actor, case_id, data.text, ctx.now, org_id)
    return message_out(ctx.db, row)


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ProductOut],
    openapi_extra=exercises(routing.register_vendor_products),
)
def register_products(ctx: Context, data: ProductsIn) -> list[ProductOut]:
    rows = routing.register_vendor_products(
        ctx.db, ctx.actor, data.identifiers, ctx.now, data.proof
    )
    return [ProductOut.model_validate(r) for r in rows]


@router.post(
    "/inventory",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ProductOut],
    openapi_extra=exercises(routing.register_inventory),
)
def register_inventory(ctx: Context, data: ProductsIn) -> list[ProductOut]:
    rows = routing.register_inventory(ctx.db, ctx.actor, data.identifiers, ctx.now, data.proof)
    return [ProductOut.model_validate(r) for r in rows]


@router.get(
    "/products",
    response_model=Page[ProductOut],
    openapi_extra=exercises(routing.list_products),
)
def list_products(ctx: Context, page: Paging) -> Page[ProductOut]:
    return page_of(routing.list_products(ctx.db, ctx.actor, page), ProductOut.model_validate)


@router.post(
    "/products/{claim_id}/withdraw",
    response_model=ProductOut,
    openapi_extra=exercises(routing.withdraw_product),
)
def withdraw_product(ctx: Context, claim_id: str) -> ProductOut:
    """Take back one of your organisation's product claims (made or run); answers with the
    claim as it was."""
    row = routing.withdraw_product(ctx.db, ctx.actor, claim_id, ctx.now)
    return ProductOut.model_validate(row)


@router.get(
    "/notifications",
    response_model=Page[NotificationOut],
    openapi_extra=exercises(routing.list_notifications),
)
def list_notifications(ctx: Context, page: Paging) -> Page[NotificationOut]:
    found, readable = routing.list_notifications(ctx.db, ctx.actor, page, ctx.now)
    return page_of(
        found,
        lambda n: NotificationOut(
            id=n.id,
            report_id=n.report_id if n.report_id in readable else None,
            readable=n.report_id in readable,
            package_key=n.package_key,
            created_at=n.created_at,
        ),
    )


@router.get(
    "/claims",
    response_model=Page[ClaimOut],
    openapi_extra=exercises(routing.list_claims),
)
def list_claims(
    ctx: Context,
    page: Paging,
    status: Annotated[
        str | None, Query(pattern="^(claimed|verified|rejected|revoked|all)$")
    ] = "claimed",
) -> Page[ClaimOut]:
    chosen = None if status == "all" else status
    return page_of(routing.list_claims(ctx.db, ctx.actor, page, chosen), ClaimOut.model_validate)


@router.post(
    "/claims/{claim_id}/decision",
    response_model=ClaimOut,
    openapi_extra=exercises(routing.decide_claim),
)
def decide_claim(ctx: Context, claim_id: str, data: ClaimDecisionIn) -> ClaimOut:
    row = routing.decide_claim(ctx.db, ctx.actor, claim_id, data.decision, data.note, ctx.now)
    return ClaimOut.model_validate(row)


@router.get(
    "/advisories/for-me",
    response_model=Page[ReportOut],
    openapi_extra=exercises(routing.advisories_for),
)
def advisories_for_me(ctx: Context, page: Paging) -> Page[ReportOut]:
    return page_of(routing.advisories_for(ctx.db, ctx.actor, page, ctx.now), report_out)
