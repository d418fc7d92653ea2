"""Exports of a published advisory: CSAF 2.0 (security advisory or VEX), OSV, CVE 5, STIX 2.1.

Who may fetch one is the clearinghouse's decision (TLP and embargo, see
:func:`prereview.clearinghouse.service.exportable_advisory`); this module only renders.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.clearinghouse import service as clearinghouse
from prereview.core.context import get_context
from prereview.exchange.csaf import CsafProfile, CsafPublisher, advisory_to_csaf
from prereview.exchange.cve5 import CveAssigner, advisory_to_cve5
from prereview.exchange.osv import advisory_to_osv
from prereview.exchange.stix import advisory_to_stix

router = APIRouter(prefix="/clearinghouse/advisories", tags=["exchange"])

PUBLISHER_NAME = "prereview clearinghouse"
# The CNA the CVE records are published under (CVE Services org ids are version-4 UUIDs).
CVE_ASSIGNER = CveAssigner(uuid.UUID("8f1d6a3e-2c4b-4e7a-9d51-3b6c0f2e7a94"), "prereview")


def _now(request: Request) -> datetime:
    return get_context(request).clock.now()


Now = Annotated[datetime, Depends(_now)]


def publisher_for(request: Request) -> CsafPublisher:
    """The clearinghouse as CSAF publisher, its namespace this server's own address."""
    return CsafPublisher(name=PUBLISHER_NAME, namespace=str(request.base_url).rstrip("/"))


def _url(request: Request, report_id: str, suffix: str) -> str:
    return str(request.url_for(f"export_{suffix}", report_id=report_id))


def _json(document: dict[str, Any], media_type: str = "application/json") -> JSONResponse:
    return JSONResponse(document, media_type=media_type)


@router.get(
    "/{report_id}.csaf.json",
    name="export_csaf",
    openapi_extra=route_permission(Permission.EXCHANGE_EXPORT),
)
def export_csaf(
    report_id: str,
    request: Request,
    db: DB,
    actor: CurrentActor,
    now: Now,
    profile: Annotated[Literal["advisory", "vex"], Query()] = "advisory",
) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(db, actor, report_id, now)
    chosen = CsafProfile.VEX if profile == "vex" else CsafProfile.SECURITY_ADVISORY
    document = advisory_to_csaf(
        advisory, publisher_for(request), chosen, self_url=_url(request, report_id, "csaf")
    )
    return _json(document)


@router.get(
    "/{report_id}.osv.json",
    name="export_osv",
    openapi_extra=route_permission(Permission.EXCHANGE_EXPORT),
)
def export_osv(report_id: str, db: DB, actor: CurrentActor, now: Now) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(db, actor, report_id, now)
    return _json(advisory_to_osv(advisory))


@router.get(
    "/{report_id}.cve.json",
    name="export_cve",
    openapi_extra=route_permission(Permission.EXCHANGE_EXPORT),
)
def export_cve(
    report_id: str, request: Request, db: DB, actor: CurrentActor, now: Now
) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(db, actor, report_id, now)
    return _json(advisory_to_cve5(advisory, CVE_ASSIGNER, _url(request, report_id, "cve")))


@router.get(
    "/{report_id}.stix.json",
    name="export_stix",
    openapi_extra=route_permission(Permission.EXCHANGE_EXPORT),
)
def export_stix(
    report_id: str, request: Request, db: DB, actor: CurrentActor, now: Now
) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(db, actor, report_id, now)
    return _json(advisory_to_stix(advisory, PUBLISHER_NAME, _url(request, report_id, "stix")))
