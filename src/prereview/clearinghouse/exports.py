"""Export routes of a published advisory: CSAF 2.0 (security advisory or VEX), OSV, CVE 5 and
STIX 2.1.

Who may fetch one is the clearinghouse's decision (TLP and embargo, see
:func:`prereview.clearinghouse.reports.exportable_advisory`); the documents are built by the
converters of :mod:`prereview.exchange`, which know the vulnerability model and nothing else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.clearinghouse import provenance
from prereview.clearinghouse import service as clearinghouse
from prereview.clearinghouse.errors import CsafFileNotFound
from prereview.exchange.csaf import CsafProfile, CsafPublisher, advisory_to_csaf, csaf_filename
from prereview.exchange.cve5 import CveAssigner, advisory_to_cve5
from prereview.exchange.osv import advisory_to_osv
from prereview.exchange.stix import advisory_to_stix

router = APIRouter(prefix="/clearinghouse/advisories", tags=["exchange"])

PUBLISHER_NAME = "prereview clearinghouse"
# The CNA the CVE records are published under (CVE Services org ids are version-4 UUIDs).
CVE_ASSIGNER = CveAssigner(uuid.UUID("8f1d6a3e-2c4b-4e7a-9d51-3b6c0f2e7a94"), "prereview")


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
    openapi_extra=exercises(clearinghouse.exportable_advisory),
)
def export_csaf(
    report_id: str,
    request: Request,
    ctx: Context,
    profile: Annotated[Literal["advisory", "vex"], Query()] = "advisory",
) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(ctx.db, ctx.actor, report_id, ctx.now)
    chosen = CsafProfile.VEX if profile == "vex" else CsafProfile.SECURITY_ADVISORY
    document = advisory_to_csaf(
        advisory, publisher_for(request), chosen, self_url=csaf_self_url(request, report_id)
    )
    return _json(provenance.with_csaf_label(ctx.db, report_id, document))


def csaf_self_url(request: Request, report_id: str) -> str:
    """The document's canonical address: the file name CSAF section 5.1 gives it, under the
    report's directory (recommended test 6.2.11 checks that the two agree)."""
    name = csaf_filename(report_id)
    return str(request.url_for("export_csaf_file", report_id=report_id, csaf_name=name))


@router.get(
    "/{report_id}/csaf/{csaf_name}",
    name="export_csaf_file",
    openapi_extra=exercises(clearinghouse.exportable_advisory),
)
def export_csaf_file(
    report_id: str,
    csaf_name: str,
    request: Request,
    ctx: Context,
) -> JSONResponse:
    """The security advisory under its canonical file name (what its ``self`` reference names);
    any other name is not found, after the advisory itself has been authorized."""
    advisory = clearinghouse.exportable_advisory(ctx.db, ctx.actor, report_id, ctx.now)
    if csaf_name != csaf_filename(report_id):
        raise CsafFileNotFound(f"this advisory's CSAF document is {csaf_filename(report_id)}")
    document = advisory_to_csaf(
        advisory,
        publisher_for(request),
        CsafProfile.SECURITY_ADVISORY,
        self_url=csaf_self_url(request, report_id),
    )
    return _json(provenance.with_csaf_label(ctx.db, report_id, document))


@router.get(
    "/{report_id}.osv.json",
    name="export_osv",
    openapi_extra=exercises(clearinghouse.exportable_advisory),
)
def export_osv(report_id: str, ctx: Context) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(ctx.db, ctx.actor, report_id, ctx.now)
    return _json(provenance.with_osv_label(ctx.db, report_id, advisory_to_osv(advisory)))


@router.get(
    "/{report_id}.cve.json",
    name="export_cve",
    openapi_extra=exercises(clearinghouse.exportable_advisory),
)
def export_cve(report_id: str, request: Request, ctx: Context) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(ctx.db, ctx.actor, report_id, ctx.now)
    return _json(advisory_to_cve5(advisory, CVE_ASSIGNER, _url(request, report_id, "cve")))


@router.get(
    "/{report_id}.stix.json",
    name="export_stix",
    openapi_extra=exercises(clearinghouse.exportable_advisory),
)
def export_stix(report_id: str, request: Request, ctx: Context) -> JSONResponse:
    advisory = clearinghouse.exportable_advisory(ctx.db, ctx.actor, report_id, ctx.now)
    return _json(advisory_to_stix(advisory, PUBLISHER_NAME, _url(request, report_id, "stix")))
