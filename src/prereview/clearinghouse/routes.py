"""HTTP routes of the clearinghouse: thin, they parse, call the services and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.clearinghouse import cases, duplicates, routing, service
from prereview.clearinghouse.access import INVENTORY, VENDOR
from prereview.clearinghouse.cases import CaseCreate
from prereview.clearinghouse.domain import Tlp
from prereview.clearinghouse.intake import IntakeFormat
from prereview.clearinghouse.models import Case, CaseVendor, VulnReport
from prereview.clearinghouse.schemas import (
    CaseCreateIn,
    CaseMembers,
    CaseOut,
    ClaimDecisionIn,
    ClaimOut,
    CvssOut,
    DuplicateDecision,
    DuplicateOut,
    EmbargoChangeIn,
    EmbargoChangeOut,
    EmbargoOut,
    EvidenceOut,
    IntakeOut,
    NotificationOut,
    ProductOut,
    ProductsIn,
    PublishRequest,
    RelabelIn,
    RelationCreate,
    RelationsOut,
    ReportCreated,
    ReportOut,
    StatusIn,
    StatusOut,
    VendorRowOut,
    VendorTable,
)
from prereview.core.context import get_context
from prereview.core.pagination import Page, PageRequest, page_of, page_request
from prereview.core.parsing import read_body
from prereview.vault.deps import VaultDep

router = APIRouter(prefix="/clearinghouse", tags=["clearinghouse"])
Paging = Annotated[PageRequest, Depends(page_request)]


def _now(request: Request) -> datetime:
    return get_context(request).clock.now()


Now = Annotated[datetime, Depends(_now)]


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
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportCreated,
    openapi_extra=route_permission(Permission.CH_REPORT_CREATE),
)
def create_report(
    db: DB,
    actor: CurrentActor,
    vault: VaultDep,
    now: Now,
    data: Annotated[dict[str, Any], Body()],
    recipients: Annotated[list[str] | None, Query(description="TLP:RED recipients")] = None,
) -> ReportCreated:
    row, item = service.submit_report(db, vault, actor, data, now, recipients or [])
    (summary,) = service.visible_intake(db, actor, [item.summary()], now)
    return ReportCreated(
        report=report_out(row), likely_duplicates=summary.get("likely_duplicates", [])
    )


@router.post(
    "/imports",
    response_model=IntakeOut,
    openapi_extra=route_permission(Permission.CH_REPORT_IMPORT)
    | {
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def import_reports(
    request: Request,
    db: DB,
    actor: CurrentActor,
    vault: VaultDep,
    now: Now,
    format: Annotated[IntakeFormat | None, Query(description="jsonl, osv, csaf or report")] = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
    recipients: Annotated[list[str] | None, Query()] = None,
) -> Response:
    # Counted as it arrives: refused (413) as soon as it passes the limit, never buffered whole.
    limit = get_context(request).settings.max_import_bytes
    payload = await read_body(request, limit, what="a bulk import")
    result = await run_in_threadpool(
        service.import_reports,
        db,
        vault,
        actor,
        payload,
        now,
        intake_format=format,
        filename=filename,
        recipients=recipients or [],
    )

    def answer() -> Response:
        # Built and serialized in a worker thread: the answer to a 20,000-report import takes
        # seconds to encode, and on the event loop it would stall every other request.
        summary = result.summary()
        items = service.visible_intake(db, actor, summary["items"], now)
        body = IntakeOut(counts=summary["counts"], items=items).model_dump_json()
        return Response(body, media_type="application/json")

    return await run_in_threadpool(answer)


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    openapi_extra=route_permission(Permission.CH_REPORT_LIST),
)
def list_reports(
    db: DB,
    actor: CurrentActor,
    now: Now,
    page: Paging,
    tlp: Tlp | None = None,
    package: Annotated[str | None, Query(description="a package key: pkg:pypi/name")] = None,
    published: bool | None = None,
    include_merged: bool = True,
) -> Page[ReportOut]:
    where = service.ReportFilter(tlp, package, published, include_merged)
    return page_of(service.list_reports(db, actor, page, now, where), report_out)


@router.get(
    "/reports/{report_id}",
    response_model=ReportOut,
    openapi_extra=route_permission(Permission.CH_REPORT_READ),
)
def read_report(report_id: str, db: DB, actor: CurrentActor, now: Now) -> ReportOut:
    return report_out(service.get_report(db, actor, report_id, now))


@router.get(
    "/reports/{report_id}/evidence",
    response_model=EvidenceOut,
    openapi_extra=route_permission(Permission.CH_EVIDENCE_READ),
)
def read_evidence(
    report_id: str, db: DB, actor: CurrentActor, vault: VaultDep, now: Now
) -> EvidenceOut:
    return EvidenceOut(
        report_id=report_id, evidence=service.read_evidence(db, vault, actor, report_id, now)
    )


@router.get(
    "/reports/{report_id}/relations",
    response_model=RelationsOut,
    openapi_extra=route_permission(Permission.CH_REPORT_READ),
)
def read_relations(report_id: str, db: DB, actor: CurrentActor, now: Now) -> RelationsOut:
    service.get_report(db, actor, report_id, now)
    found = duplicates.relations_of(db, report_id)
    return RelationsOut(id=report_id, **service.visible_relations(db, actor, found, now))


@router.post(
    "/reports/{report_id}/publish",
    response_model=ReportOut,
    openapi_extra=route_permission(Permission.CH_ADVISORY_PUBLISH),
)
def publish_report(
    report_id: str, db: DB, actor: CurrentActor, now: Now, data: PublishRequest | None = None
) -> ReportOut:
    tlp = data.tlp if data else None
    return report_out(service.publish_report(db, actor, report_id, now, tlp))


@router.put(
    "/reports/{report_id}/tlp",
    response_model=ReportOut,
    openapi_extra=route_permission(Permission.CH_REPORT_RELABEL),
)
def relabel_report(
    report_id: str, data: RelabelIn, db: DB, actor: CurrentActor, now: Now
) -> ReportOut:
    return report_out(service.relabel_report(db, actor, report_id, data.tlp, now))


@router.post(
    "/relations",
    status_code=status.HTTP_201_CREATED,
    response_model=RelationsOut,
    openapi_extra=route_permission(Permission.CH_RELATION_CREATE),
)
def add_relation(data: RelationCreate, db: DB, actor: CurrentActor, now: Now) -> RelationsOut:
    found = duplicates.add_relation(db, actor, data.kind, data.source, data.target, now)
    return RelationsOut(id=data.source, **service.visible_relations(db, actor, found, now))


@router.get(
    "/duplicates",
    response_model=Page[DuplicateOut],
    openapi_extra=route_permission(Permission.CH_DUPLICATE_LIST),
)
def list_duplicates(
    db: DB,
    actor: CurrentActor,
    now: Now,
    page: Paging,
    status: Annotated[str | None, Query(pattern="^(proposed|merged|rejected)$")] = None,
) -> Page[DuplicateOut]:
    found = duplicates.list_duplicates(db, actor, page, now, status)
    return page_of(found, DuplicateOut.model_validate)


@router.post(
    "/duplicates/{duplicate_id}/decision",
    response_model=DuplicateOut,
    openapi_extra=route_permission(Permission.CH_DUPLICATE_DECIDE),
)
def decide_duplicate(
    duplicate_id: str, data: DuplicateDecision, db: DB, actor: CurrentActor, now: Now
) -> DuplicateOut:
    row = duplicates.decide_duplicate(db, actor, duplicate_id, data.decision, data.note, now)
    return DuplicateOut.model_validate(row)


def case_out(db: DB, case: Case, now: datetime) -> CaseOut:
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
    openapi_extra=route_permission(Permission.CH_CASE_CREATE),
)
def create_case(data: CaseCreateIn, db: DB, actor: CurrentActor, now: Now) -> CaseOut:
    case = cases.create_case(
        db,
        actor,
        CaseCreate(
            data.title,
            data.tlp,
            data.report_ids,
            data.vendor_org_ids,
            data.embargo_until,
            data.embargo_zone,
        ),
        now,
    )
    return case_out(db, case, now)


@router.get(
    "/cases", response_model=Page[CaseOut], openapi_extra=route_permission(Permission.CH_CASE_LIST)
)
def list_cases(db: DB, actor: CurrentActor, now: Now, page: Paging) -> Page[CaseOut]:
    return page_of(cases.list_cases(db, actor, page), lambda c: case_out(db, c, now))


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    openapi_extra=route_permission(Permission.CH_CASE_READ),
)
def read_case(case_id: str, db: DB, actor: CurrentActor, now: Now) -> CaseOut:
    return case_out(db, cases.get_case(db, actor, case_id, now), now)


@router.post(
    "/cases/{case_id}/members",
    response_model=CaseOut,
    openapi_extra=route_permission(Permission.CH_CASE_UPDATE),
)
def add_members(case_id: str, data: CaseMembers, db: DB, actor: CurrentActor, now: Now) -> CaseOut:
    case = cases.add_to_case(db, actor, case_id, data.report_ids, data.vendor_org_ids, now)
    return case_out(db, case, now)


@router.put(
    "/cases/{case_id}/embargo",
    response_model=CaseOut,
    openapi_extra=route_permission(Permission.CH_EMBARGO_UPDATE),
)
def change_embargo(
    case_id: str, data: EmbargoChangeIn, db: DB, actor: CurrentActor, now: Now
) -> CaseOut:
    case = cases.change_embargo(
        db, actor, case_id, data.embargo_until, data.embargo_zone, data.reason, now
    )
    return case_out(db, case, now)


@router.get(
    "/cases/{case_id}/vendors",
    response_model=VendorTable,
    openapi_extra=route_permission(Permission.CH_CASE_READ),
)
def vendor_table(case_id: str, db: DB, actor: CurrentActor, now: Now, page: Paging) -> VendorTable:
    vendors, report_ids, statuses = cases.vendor_table(db, actor, case_id, page, now)
    items = []
    for vendor in vendors.rows:
        mine = statuses.get(vendor.vendor_org_id, {})
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
                        )
                        if (s := mine.get(rid))
                        else StatusOut(
                            status="not_contacted",
                            statement="",
                            justification=None,
                            updated_at=None,
                        )
                    )
                    for rid in report_ids
                },
            )
        )
    return VendorTable(
        report_ids=report_ids,
        items=items,
        total=vendors.total,
        limit=vendors.limit,
        offset=vendors.offset,
    )


@router.put(
    "/cases/{case_id}/vendors/{org_id}/statuses/{report_id}",
    response_model=StatusOut,
    openapi_extra=route_permission(Permission.CH_VENDOR_STATUS_UPDATE),
)
def set_status(
    case_id: str,
    org_id: str,
    report_id: str,
    data: StatusIn,
    db: DB,
    actor: CurrentActor,
    now: Now,
) -> StatusOut:
    row = cases.set_vendor_status(
        db, actor, case_id, org_id, report_id, data.status, data.statement, data.justification, now
    )
    return StatusOut(
        status=row.status,
        statement=row.statement,
        justification=row.justification,
        updated_at=row.updated_at,
    )


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ProductOut],
    openapi_extra=route_permission(Permission.CH_PRODUCT_REGISTER),
)
def register_products(data: ProductsIn, db: DB, actor: CurrentActor, now: Now) -> list[ProductOut]:
    rows = routing.register_products(db, actor, VENDOR, data.identifiers, now, data.proof)
    return [ProductOut.model_validate(r) for r in rows]


@router.post(
    "/inventory",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ProductOut],
    openapi_extra=route_permission(Permission.CH_INVENTORY_REGISTER),
)
def register_inventory(data: ProductsIn, db: DB, actor: CurrentActor, now: Now) -> list[ProductOut]:
    rows = routing.register_products(db, actor, INVENTORY, data.identifiers, now, data.proof)
    return [ProductOut.model_validate(r) for r in rows]


@router.get(
    "/products",
    response_model=Page[ProductOut],
    openapi_extra=route_permission(Permission.CH_PRODUCT_LIST),
)
def list_products(db: DB, actor: CurrentActor, page: Paging) -> Page[ProductOut]:
    return page_of(routing.list_products(db, actor, page), ProductOut.model_validate)


@router.get(
    "/notifications",
    response_model=Page[NotificationOut],
    openapi_extra=route_permission(Permission.CH_NOTIFICATION_LIST),
)
def list_notifications(
    db: DB, actor: CurrentActor, now: Now, page: Paging
) -> Page[NotificationOut]:
    found, readable = routing.list_notifications(db, actor, page, now)
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
    openapi_extra=route_permission(Permission.CH_CLAIM_LIST),
)
def list_claims(
    db: DB,
    actor: CurrentActor,
    page: Paging,
    status: Annotated[
        str | None, Query(pattern="^(claimed|verified|rejected|revoked|all)$")
    ] = "claimed",
) -> Page[ClaimOut]:
    chosen = None if status == "all" else status
    return page_of(routing.list_claims(db, actor, page, chosen), ClaimOut.model_validate)


@router.post(
    "/claims/{claim_id}/decision",
    response_model=ClaimOut,
    openapi_extra=route_permission(Permission.CH_CLAIM_DECIDE),
)
def decide_claim(
    claim_id: str, data: ClaimDecisionIn, db: DB, actor: CurrentActor, now: Now
) -> ClaimOut:
    row = routing.decide_claim(db, actor, claim_id, data.decision, data.note, now)
    return ClaimOut.model_validate(row)


@router.get(
    "/advisories/for-me",
    response_model=Page[ReportOut],
    openapi_extra=route_permission(Permission.CH_ADVISORY_LIST),
)
def advisories_for_me(db: DB, actor: CurrentActor, now: Now, page: Paging) -> Page[ReportOut]:
    return page_of(routing.advisories_for(db, actor, page, now), report_out)
