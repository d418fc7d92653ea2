"""HTTP routes of the transparency report: thin, they parse, call the service and answer."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from prereview.authz.request import DB, Context, Now
from prereview.authz.usecase import exercises
from prereview.transparency import errors, service
from prereview.transparency.periods import period_of
from prereview.transparency.report import to_csv
from prereview.transparency.schemas import CheckpointOut, ReportEntriesPage, ReportEntryOut

router = APIRouter(prefix="/transparency", tags=["transparency"])

_PERIOD = Query(
    description="A calendar quarter, YYYYQn (e.g. 2026Q4); default: the current one.",
)
_MEDIA = {"application/json": "json", "text/csv": "csv"}


def _negotiated(accept: str | None) -> Literal["json", "csv"]:
    """JSON or CSV by the ``Accept`` header's preference; JSON for ``*/*`` or none."""
    if not accept:
        return "json"
    best: tuple[float, str] | None = None
    for position, item in enumerate(accept.split(",")[:20]):
        media, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        chosen = _MEDIA.get(media) or ("json" if media in ("*/*", "application/*") else None)
        if chosen and quality > 0 and (best is None or quality > best[0]):
            best = (quality - position * 1e-6, chosen)
    if best is None:
        raise errors.FormatUnsupported(
            f"cannot answer {accept[:80]!r}: ask for application/json or text/csv"
        )
    return "csv" if best[1] == "csv" else "json"


@router.get(
    "/report",
    openapi_extra={"x-permission": "public"},
    responses={
        200: {
            "description": "The report",
            "content": {"application/json": {}, "text/csv": {}},
        }
    },
)
def read_report(
    request: Request,
    db: DB,
    at: Now,
    period: Annotated[str | None, _PERIOD] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="Overrides the Accept header.")
    ] = None,
) -> Response:
    """The public transparency report of a period (no token needed): aggregate figures of the
    programme with counts from 1 to 10 suppressed (and those that would reveal them), computed
    from the audit log up to the checkpoint it names. JSON, or CSV (`Accept: text/csv` or
    `format=csv`)."""
    chosen = format or _negotiated(request.headers.get("accept"))
    label = period if period is not None else period_of(at.now).label
    report: dict[str, Any] = service.public_report(db, at.settings, label, at.now)
    if chosen == "csv":
        name = f"prereview-transparency-{report['period']['label']}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(report)


@router.get(
    "/entries",
    response_model=ReportEntriesPage,
    openapi_extra=exercises(service.report_entries),
)
def read_report_entries(
    ctx: Context,
    period: Annotated[str, _PERIOD],
    size: Annotated[int, Query(ge=1, le=2**63 - 1, description="The report's checkpoint size.")],
    after: Annotated[
        int, Query(ge=-1, le=2**63 - 1, description="Entries after this seq (paging).")
    ] = -1,
) -> ReportEntriesPage:
    """The audit log entries the report of a period at a checkpoint is computed from, each
    with its inclusion proof (auditors: `prereview transparency recompute`)."""
    found = service.report_entries(ctx.db, ctx.actor, period, size, after, ctx.settings, ctx.now)
    point = found.checkpoint
    return ReportEntriesPage(
        period=found.period.label,
        checkpoint=CheckpointOut(
            origin=point.origin,
            size=point.size,
            rootHash=point.root,
            note=point.note,
            verifierKey=point.verifier_key,
        ),
        items=[
            ReportEntryOut(
                seq=seq, leaf=leaf, proof=[base64.b64encode(h).decode("ascii") for h in proof]
            )
            for seq, leaf, proof in found.entries
        ],
        next_after=found.next_after,
    )
