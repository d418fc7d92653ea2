"""HTTP face of a report's proof of concept: attach it (the reporter), read it and its
reproduction (need to know). The script is the request body, counted while it is read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.clearinghouse.reproduction import store
from prereview.clearinghouse.reproduction.schemas import (
    PocOut,
    PocScriptOut,
    ReproductionOut,
    poc_out,
)
from prereview.core.parsing import read_body
from prereview.vault.deps import VaultDep

router = APIRouter(prefix="/clearinghouse", tags=["clearinghouse"])

_SCRIPT_BODY = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        "required": True,
    }
}


@router.post(
    "/reports/{report_id}/poc",
    status_code=status.HTTP_201_CREATED,
    response_model=PocOut,
    openapi_extra=exercises(store.attach_poc) | _SCRIPT_BODY,
)
async def attach_poc(
    ctx: Context,
    request: Request,
    vault: VaultDep,
    report_id: str,
    package: Annotated[str, Query(min_length=1, max_length=200)],
    affected: Annotated[str, Query(min_length=1, max_length=100)],
    fixed: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    language: Annotated[str, Query(max_length=20)] = "python",
    ecosystem: Annotated[str, Query(max_length=20)] = "PyPI",
    expect_exit: Annotated[int, Query(ge=0, le=255)] = 0,
    expect_stdout: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> PocOut:
    """Attach a proof of concept (the script is the body) and queue its reproduction."""
    # Refused (413) as soon as it passes the limit, never buffered whole.
    script = await read_body(request, ctx.settings.max_poc_bytes, what="a proof of concept")
    spec = store.PocSpec(
        package=package,
        affected_version=affected,
        fixed_version=fixed,
        language=language,
        ecosystem=ecosystem,
        expect_exit=expect_exit,
        expect_stdout=expect_stdout,
    )
    poc, queued = await run_in_threadpool(
        store.attach_poc, ctx.db, vault, ctx.actor, report_id, script, spec, ctx.now
    )
    return poc_out(poc, queued)


@router.get(
    "/reports/{report_id}/poc",
    response_model=PocScriptOut,
    openapi_extra=exercises(store.read_poc),
)
def read_poc(
    ctx: Context,
    vault: VaultDep,
    report_id: str,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> PocScriptOut:
    """The PoC's script (the latest version unless asked), for those with a need to know."""
    poc, script = store.read_poc(ctx.db, vault, ctx.actor, report_id, version, ctx.now)
    return PocScriptOut(
        report_id=poc.report_id,
        version=poc.version,
        script_sha256=poc.script_sha256,
        script=script.decode(),
    )


@router.get(
    "/reports/{report_id}/reproduction",
    response_model=ReproductionOut,
    openapi_extra=exercises(store.report_reproductions),
)
def read_reproduction(ctx: Context, report_id: str) -> ReproductionOut:
    """The report's reproduction: the status, and each PoC version's verdict and logs."""
    rows = store.report_reproductions(ctx.db, ctx.actor, report_id, ctx.now)
    status_ = store.reproduction_status(ctx.db, [report_id])[report_id]
    return ReproductionOut(
        report_id=report_id,
        status=status_,
        claim_only=not rows,
        pocs=[poc_out(poc, reproduction) for poc, reproduction in rows],
    )
