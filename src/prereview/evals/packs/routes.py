"""HTTP routes of private task packs: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prereview.authz.actor import Actor
from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.core.filenames import content_disposition
from prereview.core.pagination import Page, PageRequest, page_of_list, page_request
from prereview.core.streaming import body_pieces
from prereview.evals.packs import service
from prereview.evals.packs.models import TaskPack, TaskPackShare
from prereview.evals.packs.schemas import PackOut, PackShareCreate, PackShareOut
from prereview.vault.deps import VaultDep

router = APIRouter(tags=["evals"])
Paging = Annotated[PageRequest, Depends(page_request)]
PackName = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")]
#: Packs are code and data, not weights: the upload limit is the smaller of this and the
#: server's material limit.
MAX_PACK_BYTES = 64 << 20
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def share_out(share: TaskPackShare, now: datetime) -> PackShareOut:
    return PackShareOut(
        id=share.id,
        pack_id=share.pack_id,
        agency_org_id=share.agency_org_id,
        created_at=share.created_at,
        ends_at=share.ends_at,
        revoked_at=share.revoked_at,
        live=share.live(now),
    )


def pack_out(pack: TaskPack, actor: Actor, now: datetime) -> PackOut:
    return PackOut(
        id=pack.id,
        owner_org_id=pack.owner_org_id,
        name=pack.name,
        version=pack.version,
        reference=f"{pack.name}@{pack.version}",
        description=pack.description,
        package=pack.package,
        tasks=list(pack.tasks),
        filename=pack.filename,
        size=pack.size,
        sha256=pack.sha256,
        created_at=pack.created_at,
        shares=[share_out(s, now) for s in service.shares_of(pack, actor)],
    )


@router.post(
    "/eval-packs",
    status_code=status.HTTP_201_CREATED,
    response_model=PackOut,
    openapi_extra=exercises(service.plan_pack_upload) | _BINARY_BODY,
)
async def upload_pack(
    request: Request, ctx: Context, vault: VaultDep, filename: PackName
) -> PackOut:
    """Upload a task pack (a ``.tar.gz`` with ``pack.toml``) as the raw request body; it is
    encrypted under your agency's key as it streams in, then its manifest is checked."""
    db, now = ctx.db, ctx.now
    plan = await run_in_threadpool(service.plan_pack_upload, db, ctx.actor, filename, now)
    chunks = body_pieces(request)
    limit = min(MAX_PACK_BYTES, ctx.settings.max_material_bytes)
    stored = await to_thread.run_sync(service.stream_pack, db, vault, plan, chunks, limit, now)
    manifest = await to_thread.run_sync(service.read_stored_pack, db, vault, plan, now)
    pack = await run_in_threadpool(
        service.finish_pack_upload, db, vault, ctx.actor, plan, stored, manifest, now
    )
    return pack_out(pack, ctx.actor, now)


@router.get(
    "/eval-packs",
    response_model=Page[PackOut],
    openapi_extra=exercises(service.list_packs),
)
def list_packs(
    ctx: Context,
    page: Paging,
    name: Annotated[str | None, Query(max_length=100)] = None,
    version: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[PackOut]:
    """The packs your agency owns or is shared now."""
    found = service.list_packs(ctx.db, ctx.actor, ctx.now, name=name, version=version)
    return page_of_list([pack_out(p, ctx.actor, ctx.now) for p in found], page)


@router.get(
    "/eval-packs/{pack_id}",
    response_model=PackOut,
    openapi_extra=exercises(service.get_pack),
)
def read_pack(pack_id: str, ctx: Context) -> PackOut:
    return pack_out(service.get_pack(ctx.db, ctx.actor, pack_id, ctx.now), ctx.actor, ctx.now)


@router.get(
    "/eval-packs/{pack_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}}},
    openapi_extra=exercises(service.open_pack),
)
def download_pack(pack_id: str, ctx: Context, vault: VaultDep) -> StreamingResponse:
    """The pack's bytes, decrypted and verified chunk by chunk; check them against its
    SHA-256 before running it (`prereview eval pack download` and `eval run --pack` do)."""
    pack, chunks = service.open_pack(ctx.db, vault, ctx.actor, pack_id, ctx.now)
    return StreamingResponse(
        chunks,
        media_type="application/gzip",
        headers={
            "content-length": str(pack.size),
            "content-disposition": content_disposition(pack.filename),
            "x-content-sha256": pack.sha256,
        },
    )


@router.post(
    "/eval-packs/{pack_id}/shares",
    status_code=status.HTTP_201_CREATED,
    response_model=PackShareOut,
    openapi_extra=exercises(service.share_pack),
)
def share_pack(pack_id: str, data: PackShareCreate, ctx: Context) -> PackShareOut:
    """Share your pack with another agency (its reviewers may then download and run it)."""
    share = service.share_pack(
        ctx.db, ctx.actor, pack_id, data.agency_org_id, data.ends_at, ctx.now
    )
    return share_out(share, ctx.now)


@router.delete(
    "/eval-packs/{pack_id}/shares/{agency_org_id}",
    response_model=PackShareOut,
    openapi_extra=exercises(service.unshare_pack),
)
def unshare_pack(pack_id: str, agency_org_id: str, ctx: Context) -> PackShareOut:
    """End your share of a pack with an agency, at once."""
    share = service.unshare_pack(ctx.db, ctx.actor, pack_id, agency_org_id, ctx.now)
    return share_out(share, ctx.now)
