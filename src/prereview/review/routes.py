"""HTTP routes of the review workflow: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prereview.audit.filters import EntryFilter, entry_filter
from prereview.audit.schemas import AuditEntryOut
from prereview.authz.request import Context, RequestContext
from prereview.authz.usecase import exercises
from prereview.core.filenames import content_disposition
from prereview.core.markings import TLP, Marking
from prereview.core.pagination import Page, PageRequest, page_of, page_of_list, page_request
from prereview.core.streaming import body_pieces
from prereview.review import service
from prereview.review.kinds import MaterialKind
from prereview.review.materials import service as materials
from prereview.review.models import Finding, Grant, Submission
from prereview.review.schemas import (
    Contact,
    FindingCreate,
    FindingOut,
    GrantCreate,
    GrantOut,
    MaterialOut,
    NominationCreate,
    NominationDecision,
    NominationOut,
    QueueItem,
    ResponseCreate,
    ResponseOut,
    SubmissionCreate,
    SubmissionOut,
    SubmissionUpdate,
    WindowChange,
    WindowOut,
    WithdrawRequest,
)
from prereview.review.window import Window
from prereview.vault.deps import VaultDep

router = APIRouter(tags=["review"])
Paging = Annotated[PageRequest, Depends(page_request)]


def rules_of(ctx: RequestContext) -> service.Rules:
    """The review rules of this request's settings."""
    return service.Rules.from_settings(ctx.settings)


def window_out(window: Window) -> WindowOut:
    return WindowOut(
        state=window.state,
        opened_at=window.opened_at,
        closes_at=window.closes_at,
        seconds_left=window.seconds_left,
    )


def submission_out(submission: Submission, ctx: RequestContext, owner: bool) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        developer_org_id=submission.developer_org_id,
        model_name=submission.model_name,
        model_version=submission.model_version,
        description=submission.description,
        modalities=submission.modalities,
        training_compute_flop=submission.training_compute_flop,
        parameter_count=submission.parameter_count,
        access_offered=submission.access_offered,
        contacts=[Contact.model_validate(c) for c in submission.contacts],
        planned_release_at=submission.planned_release_at if owner else None,
        released_at=submission.released_at,
        withdrawn_at=submission.withdrawn_at,
        created_at=submission.created_at,
        updated_at=submission.updated_at,
        window=window_out(service.window(submission, ctx.now, rules_of(ctx))),
    )


def grant_out(grant: Grant, submission: Submission, ctx: RequestContext) -> GrantOut:
    return GrantOut(
        id=grant.id,
        submission_id=grant.submission_id,
        agency_org_id=grant.agency_org_id,
        granted_at=grant.granted_at,
        revoked_at=grant.revoked_at,
        active=service.grant_is_live(grant, submission, ctx.now, rules_of(ctx)),
    )


def finding_out(finding: Finding) -> FindingOut:
    answers = [ResponseOut.model_validate(r) for r in finding.responses]
    return FindingOut(
        id=finding.id,
        submission_id=finding.submission_id,
        author_org_id=finding.author_org_id,
        title=finding.title,
        description=finding.description,
        severity=finding.severity,
        category=finding.category,
        recommended_mitigation=finding.recommended_mitigation,
        tlp=finding.tlp,
        markings=finding.markings,
        created_at=finding.created_at,
        status=answers[-1].status.value if answers else "open",
        responses=answers,
    )


def _owned(submission: Submission, ctx: RequestContext) -> bool:
    return bool(submission.developer_org_id == ctx.actor.organisation_id)


@router.post(
    "/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionOut,
    openapi_extra=exercises(service.create_submission),
)
def create_submission(data: SubmissionCreate, ctx: Context) -> SubmissionOut:
    submission = service.create_submission(ctx.db, ctx.actor, data, ctx.now)
    return submission_out(submission, ctx, owner=True)


@router.get(
    "/submissions",
    response_model=Page[SubmissionOut],
    openapi_extra=exercises(service.list_submissions),
)
def list_submissions(ctx: Context, page: Paging) -> Page[SubmissionOut]:
    found = service.list_submissions(ctx.db, ctx.actor, page, ctx.now, rules_of(ctx))
    return page_of(found, lambda s: submission_out(s, ctx, _owned(s, ctx)))


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    openapi_extra=exercises(service.get_submission),
)
def read_submission(submission_id: str, ctx: Context) -> SubmissionOut:
    submission = service.get_submission(ctx.db, ctx.actor, submission_id, ctx.now, rules_of(ctx))
    return submission_out(submission, ctx, _owned(submission, ctx))


@router.patch(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    openapi_extra=exercises(service.update_submission),
)
def update_submission(submission_id: str, data: SubmissionUpdate, ctx: Context) -> SubmissionOut:
    submission = service.update_submission(ctx.db, ctx.actor, submission_id, data, ctx.now)
    return submission_out(submission, ctx, owner=True)


@router.post(
    "/submissions/{submission_id}/release",
    response_model=SubmissionOut,
    openapi_extra=exercises(service.release),
)
def release(submission_id: str, ctx: Context) -> SubmissionOut:
    submission = service.release(ctx.db, ctx.actor, submission_id, ctx.now)
    return submission_out(submission, ctx, owner=True)


@router.post(
    "/submissions/{submission_id}/withdraw",
    response_model=SubmissionOut,
    openapi_extra=exercises(service.withdraw),
)
def withdraw(
    submission_id: str, ctx: Context, data: WithdrawRequest | None = None
) -> SubmissionOut:
    reason = data.reason if data else ""
    submission = service.withdraw(ctx.db, ctx.actor, submission_id, reason, ctx.now)
    return submission_out(submission, ctx, owner=True)


@router.get(
    "/submissions/{submission_id}/window",
    response_model=WindowOut,
    openapi_extra=exercises(service.get_window),
)
def read_window(submission_id: str, ctx: Context) -> WindowOut:
    return window_out(service.get_window(ctx.db, ctx.actor, submission_id, ctx.now, rules_of(ctx)))


@router.put(
    "/submissions/{submission_id}/window",
    response_model=WindowOut,
    openapi_extra=exercises(service.change_window),
)
def change_window(submission_id: str, data: WindowChange, ctx: Context) -> WindowOut:
    submission = service.change_window(
        ctx.db, ctx.actor, submission_id, data.days, ctx.now, rules_of(ctx)
    )
    return window_out(service.window(submission, ctx.now, rules_of(ctx)))


@router.post(
    "/submissions/{submission_id}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantOut,
    openapi_extra=exercises(service.grant),
)
def create_grant(submission_id: str, data: GrantCreate, ctx: Context) -> GrantOut:
    grant = service.grant(ctx.db, ctx.actor, submission_id, data, ctx.now, rules_of(ctx))
    return grant_out(grant, grant.submission, ctx)


@router.get(
    "/submissions/{submission_id}/grants",
    response_model=Page[GrantOut],
    openapi_extra=exercises(service.list_grants),
)
def list_grants(submission_id: str, ctx: Context, page: Paging) -> Page[GrantOut]:
    submission, grants = service.list_grants(
        ctx.db, ctx.actor, submission_id, ctx.now, rules_of(ctx)
    )
    return page_of_list([grant_out(g, submission, ctx) for g in grants], page)


@router.post(
    "/submissions/{submission_id}/grants/{grant_id}/revoke",
    response_model=GrantOut,
    openapi_extra=exercises(service.revoke_grant),
)
def revoke_grant(submission_id: str, grant_id: str, ctx: Context) -> GrantOut:
    submission, grant = service.revoke_grant(ctx.db, ctx.actor, submission_id, grant_id, ctx.now)
    return grant_out(grant, submission, ctx)


@router.post(
    "/submissions/{submission_id}/nominations",
    status_code=status.HTTP_201_CREATED,
    response_model=NominationOut,
    openapi_extra=exercises(service.nominate),
)
def nominate(submission_id: str, data: NominationCreate, ctx: Context) -> NominationOut:
    nomination = service.nominate(ctx.db, ctx.actor, submission_id, data, ctx.now, rules_of(ctx))
    return NominationOut.model_validate(nomination)


@router.get(
    "/submissions/{submission_id}/nominations",
    response_model=Page[NominationOut],
    openapi_extra=exercises(service.list_nominations),
)
def list_nominations(submission_id: str, ctx: Context, page: Paging) -> Page[NominationOut]:
    found: Sequence[Any] = service.list_nominations(
        ctx.db, ctx.actor, submission_id, ctx.now, rules_of(ctx)
    )
    return page_of_list([NominationOut.model_validate(n) for n in found], page)


def _decide(
    consent: bool,
) -> Any:
    def decide(
        submission_id: str,
        nomination_id: str,
        ctx: Context,
        data: NominationDecision | None = None,
    ) -> NominationOut:
        note = data.note if data else ""
        nomination = service.decide_nomination(
            ctx.db, ctx.actor, submission_id, nomination_id, consent, note, ctx.now
        )
        return NominationOut.model_validate(nomination)

    decide.__name__ = "consent_nomination" if consent else "decline_nomination"
    return decide


router.add_api_route(
    "/submissions/{submission_id}/nominations/{nomination_id}/consent",
    _decide(True),
    methods=["POST"],
    response_model=NominationOut,
    openapi_extra=exercises(service.decide_nomination),
)
router.add_api_route(
    "/submissions/{submission_id}/nominations/{nomination_id}/decline",
    _decide(False),
    methods=["POST"],
    response_model=NominationOut,
    openapi_extra=exercises(service.decide_nomination),
)


@router.post(
    "/submissions/{submission_id}/findings",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingOut,
    openapi_extra=exercises(service.file_finding),
)
def file_finding(submission_id: str, data: FindingCreate, ctx: Context) -> FindingOut:
    finding = service.file_finding(ctx.db, ctx.actor, submission_id, data, ctx.now, rules_of(ctx))
    return finding_out(finding)


@router.get(
    "/submissions/{submission_id}/findings",
    response_model=Page[FindingOut],
    openapi_extra=exercises(service.list_findings),
)
def list_findings(submission_id: str, ctx: Context, page: Paging) -> Page[FindingOut]:
    found = service.list_findings(ctx.db, ctx.actor, submission_id, page, ctx.now, rules_of(ctx))
    return page_of(found, finding_out)


@router.get(
    "/findings/{finding_id}",
    response_model=FindingOut,
    openapi_extra=exercises(service.get_finding),
)
def read_finding(finding_id: str, ctx: Context) -> FindingOut:
    return finding_out(service.get_finding(ctx.db, ctx.actor, finding_id, ctx.now))


@router.post(
    "/findings/{finding_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingOut,
    openapi_extra=exercises(service.respond),
)
def respond(finding_id: str, data: ResponseCreate, ctx: Context) -> FindingOut:
    return finding_out(service.respond(ctx.db, ctx.actor, finding_id, data, ctx.now))


@router.get("/queue", response_model=Page[QueueItem], openapi_extra=exercises(service.queue))
def read_queue(ctx: Context, page: Paging) -> Page[QueueItem]:
    items = [
        QueueItem(
            submission_id=s.id,
            model_name=s.model_name,
            model_version=s.model_version,
            developer_org_id=s.developer_org_id,
            window=window_out(w),
            my_findings=count,
        )
        for s, w, count in service.queue(ctx.db, ctx.actor, ctx.now, rules_of(ctx))
    ]
    return page_of_list(items, page)


@router.get(
    "/submissions/{submission_id}/audit",
    response_model=Page[AuditEntryOut],
    openapi_extra=exercises(service.audit_trail),
)
def read_audit(
    submission_id: str,
    ctx: Context,
    page: Paging,
    filters: Annotated[EntryFilter, Depends(entry_filter)],
) -> Page[AuditEntryOut]:
    """Who touched what in the submission, newest first unless `order=oldest`; filtered by
    actor, action and time."""
    found = service.audit_trail(
        ctx.db, ctx.actor, submission_id, page, ctx.now, rules_of(ctx), filters
    )
    return page_of(found, AuditEntryOut.from_entry)


_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
Filename = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")]


@router.post(
    "/submissions/{submission_id}/materials",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialOut,
    openapi_extra=exercises(materials.plan_upload) | _BINARY_BODY,
)
async def upload_material(
    request: Request,
    submission_id: str,
    ctx: Context,
    vault: VaultDep,
    filename: Filename,
    kind: MaterialKind = MaterialKind.OTHER,
    tlp: TLP = TLP.AMBER_STRICT,
    marking: Annotated[list[Marking] | None, Query()] = None,
) -> MaterialOut:
    """Upload a material as the raw request body; it is encrypted as it streams in."""
    content_type = request.headers.get("content-type", "application/octet-stream")[:120]
    plan = await run_in_threadpool(
        materials.plan_upload,
        ctx.db,
        ctx.actor,
        submission_id,
        kind=kind,
        filename=filename,
        content_type=content_type,
        tlp=tlp,
        markings=marking or [],
        now=ctx.now,
    )
    chunks = body_pieces(request)

    limit = ctx.settings.max_material_bytes
    stored = await to_thread.run_sync(
        lambda: materials.stream_upload(ctx.db, vault, plan, chunks, limit, ctx.now)
    )
    material = await run_in_threadpool(
        materials.finish_upload, ctx.db, vault, ctx.actor, plan, stored, ctx.now
    )
    return MaterialOut.model_validate(material)


@router.get(
    "/submissions/{submission_id}/materials",
    response_model=Page[MaterialOut],
    openapi_extra=exercises(materials.list_materials),
)
def list_materials(submission_id: str, ctx: Context, page: Paging) -> Page[MaterialOut]:
    found = materials.list_materials(ctx.db, ctx.actor, submission_id, ctx.now, rules_of(ctx))
    return page_of_list([MaterialOut.model_validate(m) for m in found], page)


@router.get(
    "/materials/{material_id}",
    response_model=MaterialOut,
    openapi_extra=exercises(materials.get_material),
)
def read_material(material_id: str, ctx: Context) -> MaterialOut:
    return MaterialOut.model_validate(
        materials.get_material(ctx.db, ctx.actor, material_id, ctx.now, rules_of(ctx))
    )


@router.get(
    "/materials/{material_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    openapi_extra=exercises(materials.open_material),
)
def download_material(material_id: str, ctx: Context, vault: VaultDep) -> StreamingResponse:
    """The decrypted bytes, verified chunk by chunk; an integrity failure aborts the transfer."""
    retention = timedelta(days=ctx.settings.retention_days)
    material, chunks = materials.open_material(
        ctx.db, vault, ctx.actor, material_id, ctx.now, rules_of(ctx), retention
    )
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(material.size),
            "content-disposition": content_disposition(material.filename),  # any name, ASCII
            "x-content-sha256": material.sha256,
        },
    )
