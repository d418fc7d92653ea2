"""HTTP routes of the audit log: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from prereview.audit import service
from prereview.audit.filters import EntryFilter, entry_filter
from prereview.audit.schemas import (
    AuditEntryPage,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    ProvenEntryOut,
)
from prereview.audit.witnessing import WitnessPublisher, served_note
from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.core.pagination import PageRequest, page_request

router = APIRouter(prefix="/audit", tags=["audit"])
Paging = Annotated[PageRequest, Depends(page_request)]
Filters = Annotated[EntryFilter, Depends(entry_filter)]
_ID = r"^[a-z]{3}_[0-9a-z]{26}$"


def install_owned_submissions(app: FastAPI, owned_by: service.OwnedSubmissions) -> None:
    """Name the capability that knows which submissions an organisation develops."""
    app.state.owned_submissions = owned_by


def owned_submissions(request: Request) -> service.OwnedSubmissions:
    owned_by: service.OwnedSubmissions = request.app.state.owned_submissions
    return owned_by


OwnedBy = Annotated[service.OwnedSubmissions, Depends(owned_submissions)]


def install_witnessing(app: FastAPI, publisher: WitnessPublisher) -> None:
    """Have each new checkpoint sent to the witnesses by ``publisher`` before it is served."""
    app.state.witness_publisher = publisher


def witness_publisher(request: Request) -> WitnessPublisher | None:
    publisher: WitnessPublisher | None = getattr(request.app.state, "witness_publisher", None)
    return publisher


Publisher = Annotated[WitnessPublisher | None, Depends(witness_publisher)]


@router.get(
    "/checkpoint",
    response_model=CheckpointOut,
    openapi_extra=exercises(service.read_checkpoint),
)
def read_checkpoint(ctx: Context, publisher: Publisher) -> CheckpointOut:
    """The latest signed checkpoint; signed afresh when the log has grown since the last, and
    with the cosignatures of the witnesses that have cosigned it."""
    checkpoint, verifier = service.read_checkpoint(ctx.db, ctx.actor, ctx.settings, ctx.now)
    note = served_note(ctx.db, checkpoint, publisher)
    return CheckpointOut.from_checkpoint(checkpoint, verifier, note)


@router.get(
    "/proof/inclusion",
    response_model=InclusionProofOut,
    openapi_extra=exercises(service.prove_inclusion),
)
def read_inclusion_proof(
    ctx: Context,
    seq: Annotated[int, Query(ge=0, le=2**63 - 1, description="The entry.")],
    size: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Tree size; default: latest checkpoint.")
    ] = None,
) -> InclusionProofOut:
    """RFC 9162 inclusion proof of one entry in the tree of ``size`` entries."""
    proof = service.prove_inclusion(ctx.db, ctx.actor, seq, size, ctx.settings, ctx.now)
    return InclusionProofOut.from_proof(proof)


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProofOut,
    openapi_extra=exercises(service.prove_consistency),
)
def read_consistency_proof(
    ctx: Context,
    first: Annotated[int, Query(ge=0, le=2**63 - 1, description="The older tree's size.")],
    second: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="The newer tree's size; default: latest checkpoint."),
    ] = None,
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` entries."""
    proof = service.prove_consistency(ctx.db, ctx.actor, first, second, ctx.settings, ctx.now)
    return ConsistencyProofOut.from_proof(proof)


@router.get(
    "/entries",
    response_model=AuditEntryPage,
    openapi_extra=exercises(service.entries_for_developer),
)
def list_entries(
    ctx: Context,
    publisher: Publisher,
    page: Paging,
    owned_by: OwnedBy,
    filtered: Filters,
    with_proofs: Annotated[
        bool, Query(description="Add each entry's inclusion proof against the latest checkpoint.")
    ] = False,
    submission: Annotated[
        str | None, Query(pattern=_ID, description="Only the entries about this submission.")
    ] = None,
) -> AuditEntryPage:
    """Every entry about your organisation's submissions (developers), newest first unless
    `order=oldest`; filtered by actor, action, time and submission."""
    filters = replace(filtered, submission_id=submission)
    # Both use cases exercise AUDIT_LIST; the proofs add a read of the latest checkpoint.
    if not with_proofs:
        found = service.entries_for_developer(ctx.db, ctx.actor, page, owned_by, filters)
        return AuditEntryPage(
            items=[ProvenEntryOut.from_entry(entry) for entry in found.rows],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )
    proven = service.entries_with_proofs(
        ctx.db, ctx.actor, page, owned_by, ctx.settings, ctx.now, filters
    )
    return AuditEntryPage(
        items=[
            ProvenEntryOut.with_proof(entry, proven.proofs.get(entry.seq))
            for entry in proven.found.rows
        ],
        total=proven.found.total,
        limit=proven.found.limit,
        offset=proven.found.offset,
        checkpoint=CheckpointOut.from_checkpoint(
            proven.checkpoint,
            proven.verifier_key,
            served_note(ctx.db, proven.checkpoint, publisher),
        ),
    )
