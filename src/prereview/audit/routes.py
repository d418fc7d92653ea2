"""HTTP routes of the audit log: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from prereview.audit import service
from prereview.audit.schemas import (
    AuditEntryPage,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    ProvenEntryOut,
)
from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.core.context import get_context
from prereview.core.pagination import PageRequest, page_request
from prereview.core.settings import Settings

router = APIRouter(prefix="/audit", tags=["audit"])
Paging = Annotated[PageRequest, Depends(page_request)]


class Clocked:
    """The time and the settings of this request."""

    def __init__(self, request: Request) -> None:
        context = get_context(request)
        self.now: datetime = context.clock.now()
        self.settings: Settings = context.settings


Now = Annotated[Clocked, Depends(Clocked)]


def install_owned_submissions(app: FastAPI, owned_by: service.OwnedSubmissions) -> None:
    """Name the capability that knows which submissions an organisation develops."""
    app.state.owned_submissions = owned_by


def owned_submissions(request: Request) -> service.OwnedSubmissions:
    owned_by: service.OwnedSubmissions = request.app.state.owned_submissions
    return owned_by


@router.get(
    "/checkpoint",
    response_model=CheckpointOut,
    openapi_extra=route_permission(Permission.AUDIT_CHECKPOINT_READ),
)
def read_checkpoint(db: DB, actor: CurrentActor, at: Now) -> CheckpointOut:
    """The latest signed checkpoint; signed afresh when the log has grown since the last."""
    checkpoint, verifier = service.read_checkpoint(db, actor, at.settings, at.now)
    return CheckpointOut.from_checkpoint(checkpoint, verifier)


@router.get(
    "/proof/inclusion",
    response_model=InclusionProofOut,
    openapi_extra=route_permission(Permission.AUDIT_PROOF_READ),
)
def read_inclusion_proof(
    db: DB,
    actor: CurrentActor,
    at: Now,
    seq: Annotated[int, Query(ge=0, le=2**63 - 1, description="The entry.")],
    size: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Tree size; default: latest checkpoint.")
    ] = None,
) -> InclusionProofOut:
    """RFC 9162 inclusion proof of one entry in the tree of ``size`` entries."""
    proof = service.prove_inclusion(db, actor, seq, size, at.settings, at.now)
    return InclusionProofOut.from_proof(proof)


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProofOut,
    openapi_extra=route_permission(Permission.AUDIT_PROOF_READ),
)
def read_consistency_proof(
    db: DB,
    actor: CurrentActor,
    at: Now,
    first: Annotated[int, Query(ge=0, le=2**63 - 1, description="The older tree's size.")],
    second: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="The newer tree's size; default: latest checkpoint."),
    ] = None,
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` entries."""
    proof = service.prove_consistency(db, actor, first, second, at.settings, at.now)
    return ConsistencyProofOut.from_proof(proof)


@router.get(
    "/entries",
    response_model=AuditEntryPage,
    openapi_extra=route_permission(Permission.AUDIT_LIST),
)
def list_entries(
    request: Request,
    db: DB,
    actor: CurrentActor,
    at: Now,
    page: Paging,
    with_proofs: Annotated[
        bool, Query(description="Add each entry's inclusion proof against the latest checkpoint.")
    ] = False,
) -> AuditEntryPage:
    """Every entry about your organisation's submissions (developers), oldest first."""
    if not with_proofs:
        found = service.entries_for_developer(db, actor, page, owned_submissions(request))
        return AuditEntryPage(
            items=[ProvenEntryOut.from_entry(entry) for entry in found.rows],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )
    proven = service.entries_with_proofs(
        db, actor, page, owned_submissions(request), at.settings, at.now
    )
    return AuditEntryPage(
        items=[
            ProvenEntryOut.with_proof(entry, proven.proofs.get(entry.seq))
            for entry in proven.found.rows
        ],
        total=proven.found.total,
        limit=proven.found.limit,
        offset=proven.found.offset,
        checkpoint=CheckpointOut.from_checkpoint(proven.checkpoint, proven.verifier_key),
    )
