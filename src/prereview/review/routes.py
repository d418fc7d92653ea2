"""HTTP routes of the review workflow: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prereview.audit.schemas import AuditEntryOut
from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.core.context import get_context
from prereview.core.filenames import content_disposition
from prereview.core.markings import TLP, Marking
from prereview.core.pagination import Page, PageRequest, page_of, page_request
from prereview.core.streaming import body_pieces
from prereview.review import materials, service
from prereview.review.kinds import MaterialKind
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


class Clocked:
    """The time and the rules of this request."""

    def __init__(self, request: Request) -> None:
        context = get_context(request)
        self.now: datetime = context.clock.now()
        self.rules = service.Rules.from_settings(context.settings)


Now = Annotated[Clocked, Depends(Clocked)]


def window_out(window: Window) -> WindowOut:
    return WindowOut(
        state=window.state,
        opened_at=window.opened_at,
        closes_at=window.closes_at,
        seconds_left=window.seconds_left,
    )


def submission_out(submission: Submission, at: Clocked, owner: bool) -> SubmissionOut:
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
        window=window_out(service.window(submission, at.now, at.rules)),
    )


def grant_out(grant: Grant, submission: Submission, at: Clocked) -> GrantOut:
    return GrantOut(
        id=grant.id,
        submission_id=grant.submission_id,
        agency_org_id=grant.agency_org_id,
        granted_at=grant.granted_at,
        revoked_at=grant.revoked_at,
        active=service.grant_is_live(grant, submission, at.now, at.rules),
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


def _owned(submission: Submission, actor: Any) -> bool:
    return bool(submission.developer_org_id == actor.organisation_id)


@router.post(
    "/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionOut,
    openapi_extra=route_permission(Permission.SUBMISSION_CREATE),
)
def create_submission(
    data: SubmissionCreate, db: DB, actor: CurrentActor, at: Now
) -> SubmissionOut:
    submission = service.create_submission(db, actor, data, at.now)
    return submission_out(submission, at, owner=True)


@router.get(
    "/submissions",
    response_model=Page[SubmissionOut],
    openapi_extra=route_permission(Permission.SUBMISSION_LIST),
)
def list_submissions(db: DB, actor: CurrentActor, at: Now, page: Paging) -> Page[SubmissionOut]:
    found = service.list_submissions(db, actor, page, at.now, at.rules)
    return page_of(found, lambda s: submission_out(s, at, _owned(s, actor)))


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    openapi_extra=route_permission(Permission.SUBMISSION_READ),
)
def read_submission(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> SubmissionOut:
    submission = service.get_submission(db, actor, submission_id, at.now, at.rules)
    return submission_out(submission, at, _owned(submission, actor))


@router.patch(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    openapi_extra=route_permission(Permission.SUBMISSION_UPDATE),
)
def update_submission(
    submission_id: str, data: SubmissionUpdate, db: DB, actor: CurrentActor, at: Now
) -> SubmissionOut:
    submission = service.update_submission(db, actor, submission_id, data, at.now)
    return submission_out(submission, at, owner=True)


@router.post(
    "/submissions/{submission_id}/release",
    response_model=SubmissionOut,
    openapi_extra=route_permission(Permission.SUBMISSION_RELEASE),
)
def release(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> SubmissionOut:
    submission = service.release(db, actor, submission_id, at.now)
    return submission_out(submission, at, owner=True)


@router.post(
    "/submissions/{submission_id}/withdraw",
    response_model=SubmissionOut,
    openapi_extra=route_permission(Permission.SUBMISSION_WITHDRAW),
)
def withdraw(
    submission_id: str, db: DB, actor: CurrentActor, at: Now, data: WithdrawRequest | None = None
) -> SubmissionOut:
    reason = data.reason if data else ""
    submission = service.withdraw(db, actor, submission_id, reason, at.now)
    return submission_out(submission, at, owner=True)


@router.get(
    "/submissions/{submission_id}/window",
    response_model=WindowOut,
    openapi_extra=route_permission(Permission.WINDOW_READ),
)
def read_window(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> WindowOut:
    return window_out(service.get_window(db, actor, submission_id, at.now, at.rules))


@router.put(
    "/submissions/{submission_id}/window",
    response_model=WindowOut,
    openapi_extra=route_permission(Permission.SUBMISSION_UPDATE),
)
def change_window(
    submission_id: str, data: WindowChange, db: DB, actor: CurrentActor, at: Now
) -> WindowOut:
    submission = service.change_window(db, actor, submission_id, data.days, at.now, at.rules)
    return window_out(service.window(submission, at.now, at.rules))


@router.post(
    "/submissions/{submission_id}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantOut,
    openapi_extra=route_permission(Permission.GRANT_CREATE),
)
def create_grant(
    submission_id: str, data: GrantCreate, db: DB, actor: CurrentActor, at: Now
) -> GrantOut:
    grant = service.grant(db, actor, submission_id, data, at.now, at.rules)
    return grant_out(grant, grant.submission, at)


@router.get(
    "/submissions/{submission_id}/grants",
    response_model=list[GrantOut],
    openapi_extra=route_permission(Permission.GRANT_LIST),
)
def list_grants(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> list[GrantOut]:
    submission, grants = service.list_grants(db, actor, submission_id, at.now, at.rules)
    return [grant_out(g, submission, at) for g in grants]


@router.post(
    "/submissions/{submission_id}/grants/{grant_id}/revoke",
    response_model=GrantOut,
    openapi_extra=route_permission(Permission.GRANT_REVOKE),
)
def revoke_grant(
    submission_id: str, grant_id: str, db: DB, actor: CurrentActor, at: Now
) -> GrantOut:
    submission, grant = service.revoke_grant(db, actor, submission_id, grant_id, at.now)
    return grant_out(grant, submission, at)


@router.post(
    "/submissions/{submission_id}/nominations",
    status_code=status.HTTP_201_CREATED,
    response_model=NominationOut,
    openapi_extra=route_permission(Permission.NOMINATION_CREATE),
)
def nominate(
    submission_id: str, data: NominationCreate, db: DB, actor: CurrentActor, at: Now
) -> NominationOut:
    nomination = service.nominate(db, actor, submission_id, data, at.now, at.rules)
    return NominationOut.model_validate(nomination)


@router.get(
    "/submissions/{submission_id}/nominations",
    response_model=list[NominationOut],
    openapi_extra=route_permission(Permission.NOMINATION_LIST),
)
def list_nominations(
    submission_id: str, db: DB, actor: CurrentActor, at: Now
) -> list[NominationOut]:
    found: Sequence[Any] = service.list_nominations(db, actor, submission_id, at.now, at.rules)
    return [NominationOut.model_validate(n) for n in found]


def _decide(
    consent: bool,
) -> Any:
    def decide(
        submission_id: str,
        nomination_id: str,
        db: DB,
        actor: CurrentActor,
        at: Now,
        data: NominationDecision | None = None,
    ) -> NominationOut:
        note = data.note if data else ""
        nomination = service.decide_nomination(
            db, actor, submission_id, nomination_id, consent, note, at.now
        )
        return NominationOut.model_validate(nomination)

    decide.__name__ = "consent_nomination" if consent else "decline_nomination"
    return decide


router.add_api_route(
    "/submissions/{submission_id}/nominations/{nomination_id}/consent",
    _decide(True),
    methods=["POST"],
    response_model=NominationOut,
    openapi_extra=route_permission(Permission.NOMINATION_DECIDE),
)
router.add_api_route(
    "/submissions/{submission_id}/nominations/{nomination_id}/decline",
    _decide(False),
    methods=["POST"],
    response_model=NominationOut,
    openapi_extra=route_permission(Permission.NOMINATION_DECIDE),
)


@router.post(
    "/submissions/{submission_id}/findings",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingOut,
    openapi_extra=route_permission(Permission.FINDING_CREATE),
)
def file_finding(
    submission_id: str, data: FindingCreate, db: DB, actor: CurrentActor, at: Now
) -> FindingOut:
    finding = service.file_finding(db, actor, submission_id, data, at.now, at.rules)
    return finding_out(finding)


@router.get(
    "/submissions/{submission_id}/findings",
    response_model=Page[FindingOut],
    openapi_extra=route_permission(Permission.FINDING_LIST),
)
def list_findings(
    submission_id: str, db: DB, actor: CurrentActor, at: Now, page: Paging
) -> Page[FindingOut]:
    found = service.list_findings(db, actor, submission_id, page, at.now, at.rules)
    return page_of(found, finding_out)


@router.get(
    "/findings/{finding_id}",
    response_model=FindingOut,
    openapi_extra=route_permission(Permission.FINDING_READ),
)
def read_finding(finding_id: str, db: DB, actor: CurrentActor, at: Now) -> FindingOut:
    return finding_out(service.get_finding(db, actor, finding_id, at.now))


@router.post(
    "/findings/{finding_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingOut,
    openapi_extra=route_permission(Permission.FINDING_RESPOND),
)
def respond(
    finding_id: str, data: ResponseCreate, db: DB, actor: CurrentActor, at: Now
) -> FindingOut:
    return finding_out(service.respond(db, actor, finding_id, data, at.now))


@router.get(
    "/queue", response_model=list[QueueItem], openapi_extra=route_permission(Permission.QUEUE_READ)
)
def read_queue(db: DB, actor: CurrentActor, at: Now) -> list[QueueItem]:
    return [
        QueueItem(
            submission_id=s.id,
            model_name=s.model_name,
            model_version=s.model_version,
            developer_org_id=s.developer_org_id,
            window=window_out(w),
            my_findings=count,
        )
        for s, w, count in service.queue(db, actor, at.now, at.rules)
    ]


@router.get(
    "/submissions/{submission_id}/audit",
    response_model=Page[AuditEntryOut],
    openapi_extra=route_permission(Permission.AUDIT_READ),
)
def read_audit(
    submission_id: str, db: DB, actor: CurrentActor, at: Now, page: Paging
) -> Page[AuditEntryOut]:
    found = service.audit_trail(db, actor, submission_id, page, at.now, at.rules)
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
    openapi_extra=route_permission(Permission.MATERIAL_CREATE) | _BINARY_BODY,
)
async def upload_material(
    request: Request,
    submission_id: str,
    db: DB,
    actor: CurrentActor,
    vault: VaultDep,
    at: Now,
    filename: Filename,
    kind: MaterialKind = MaterialKind.OTHER,
    tlp: TLP = TLP.AMBER_STRICT,
    marking: Annotated[list[Marking] | None, Query()] = None,
) -> MaterialOut:
    """Upload a material as the raw request body; it is encrypted as it streams in."""
    content_type = request.headers.get("content-type", "application/octet-stream")[:120]
    plan = await run_in_threadpool(
        materials.plan_upload,
        db,
        actor,
        submission_id,
        kind=kind,
        filename=filename,
        content_type=content_type,
        tlp=tlp,
        markings=marking or [],
        now=at.now,
    )
    chunks = body_pieces(request)

    limit = get_context(request).settings.max_material_bytes
    stored = await to_thread.run_sync(
        lambda: materials.stream_upload(db, vault, plan, chunks, limit, at.now)
    )
    material = await run_in_threadpool(
        materials.finish_upload, db, vault, actor, plan, stored, at.now
    )
    return MaterialOut.model_validate(material)


@router.get(
    "/submissions/{submission_id}/materials",
    response_model=list[MaterialOut],
    openapi_extra=route_permission(Permission.MATERIAL_LIST),
)
def list_materials(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> list[MaterialOut]:
    found = materials.list_materials(db, actor, submission_id, at.now, at.rules)
    return [MaterialOut.model_validate(m) for m in found]


@router.get(
    "/materials/{material_id}",
    response_model=MaterialOut,
    openapi_extra=route_permission(Permission.MATERIAL_READ),
)
def read_material(material_id: str, db: DB, actor: CurrentActor, at: Now) -> MaterialOut:
    return MaterialOut.model_validate(
        materials.get_material(db, actor, material_id, at.now, at.rules)
    )


@router.get(
    "/materials/{material_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    openapi_extra=route_permission(Permission.MATERIAL_DOWNLOAD),
)
def download_material(
    request: Request, material_id: str, db: DB, actor: CurrentActor, vault: VaultDep, at: Now
) -> StreamingResponse:
    """The decrypted bytes, verified chunk by chunk; an integrity failure aborts the transfer."""
    retention = timedelta(days=get_context(request).settings.retention_days)
    material, chunks = materials.open_material(
        db, vault, actor, material_id, at.now, at.rules, retention
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
