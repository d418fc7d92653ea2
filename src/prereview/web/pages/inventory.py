"""A trusted partner's (or a developer's) products, and the advisories that concern them.

A partner lists the products it runs (its inventory; a developer, the products it makes) by purl
or CPE, with each claim's state and the challenge it must publish to get the claim verified;
it adds products and withdraws them. Its advisories are the published ones about those
products that the clearinghouse's need-to-know rules let it read (a TLP:AMBER one only through a
verified claim, once out of embargo): each opens on its detail, with its exports (CSAF, OSV,
CVE 5, STIX). Every page asks the clearinghouse's published service, so its policy decides
here as for the API, and reading an advisory is audited the same way.

Withdrawing a claim cannot be undone (a verified claim, claimed again, waits for an analyst
once more), so it confirms: with JavaScript the button asks (``hx-confirm``); without, the
button opens a confirmation page (``GET`` on the action's address) that holds the real button.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from prereview.authz.kinds import OrgKind
from prereview.authz.request import RequestContext
from prereview.clearinghouse import errors as clearinghouse_errors
from prereview.clearinghouse import service as clearinghouse
from prereview.clearinghouse.exports import (
    CVE_ASSIGNER,
    PUBLISHER_NAME,
    csaf_self_url,
    publisher_for,
)
from prereview.clearinghouse.sharing import routing
from prereview.core.errors import NotFound
from prereview.core.pagination import MAX_LIMIT, PageRequest
from prereview.exchange.csaf import CsafProfile, advisory_to_csaf
from prereview.exchange.cve5 import advisory_to_cve5
from prereview.exchange.osv import advisory_to_osv
from prereview.exchange.stix import advisory_to_stix
from prereview.identity import service as identity
from prereview.web.render import NOT_BLANK, guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)

PER_PAGE = 50
# As the API's ProductsIn: at most this many identifiers in one claim.
MAX_IDENTIFIERS = 5000
WITHDRAW_WORDS = (
    "Withdraw this product claim? The clearinghouse stops matching advisories to it, and if it "
    "was verified your organisation loses the need to know that it conferred (TLP:AMBER "
    "advisories about it) at once. Claiming it again starts over: a new challenge, and an "
    "analyst verifies it again."
)


def _makes(ctx: RequestContext) -> bool:
    """A developer claims the products it makes; a partner, those it runs."""
    return ctx.actor.org_kind is OrgKind.DEVELOPER


def _claims(ctx: RequestContext) -> list[Any]:
    """Every product claim of the organisation (the API's list, page by page)."""
    found: list[Any] = []
    while True:
        batch = routing.list_products(ctx.db, ctx.actor, PageRequest(MAX_LIMIT, len(found)))
        found.extend(batch.rows)
        if not batch.rows or len(found) >= batch.total:
            return found


def _inventory_page(
    request: Request, ctx: RequestContext, status: int = 200, **context: Any
) -> Response:
    return page(
        request,
        "inventory/products.html",
        status,
        claims=_claims(ctx),
        makes=_makes(ctx),
        may_claim=ctx.actor.org_kind in (OrgKind.DEVELOPER, OrgKind.TRUSTED_PARTNER),
        withdraw_words=WITHDRAW_WORDS,
        **context,
    )


@router.get("/inventory", response_model=None)
def inventory(request: Request, ctx: PageContext) -> Response:
    """The organisation's product claims, with their state and challenge, and the form to add."""
    return guarded(request, lambda: _inventory_page(request, ctx))


@router.post("/inventory", response_model=None)
def add_products(
    request: Request,
    ctx: PageContext,
    # One purl or CPE 2.3 name a line.
    identifiers: Annotated[str, Form(min_length=1, max_length=1_000_000, pattern=NOT_BLANK)],
    proof: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        wanted = [line.strip() for line in identifiers.splitlines() if line.strip()]
        if len(wanted) > MAX_IDENTIFIERS:
            raise clearinghouse_errors.InvalidRegistration(
                f"{len(wanted)} identifiers: claim at most {MAX_IDENTIFIERS} at a time"
            )
        register = routing.register_vendor_products if _makes(ctx) else routing.register_inventory
        try:
            register(ctx.db, ctx.actor, wanted, ctx.now, proof.strip() or None)
        except clearinghouse_errors.InvalidRegistration as error:
            # Nothing was written; the form comes back with what was typed and what is wrong.
            return _inventory_page(
                request, ctx, error.status, error=error, typed=identifiers, typed_proof=proof
            )
        return RedirectResponse("/web/inventory", status_code=303)

    return guarded(request, build)


def _claim(ctx: RequestContext, claim_id: str) -> Any:
    """One of the organisation's own claims; another organisation's is not found, as in the
    API (withdrawing it answers the same)."""
    for claim in _claims(ctx):
        if claim.id == claim_id:
            return claim
    raise clearinghouse_errors.ClaimNotFound(f"no product claim '{claim_id}' of your organisation")


@router.get("/inventory/{claim_id}/withdraw", response_model=None)
def confirm_withdraw(request: Request, claim_id: str, ctx: PageContext) -> Response:
    """The confirmation page of withdrawing a claim, for a browser without JavaScript."""

    def build() -> Response:
        return page(
            request,
            "inventory/confirm.html",
            claim=_claim(ctx, claim_id),
            consequence=WITHDRAW_WORDS,
        )

    return guarded(request, build)


@router.post("/inventory/{claim_id}/withdraw", response_model=None)
def withdraw(request: Request, claim_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        routing.withdraw_product(ctx.db, ctx.actor, claim_id, ctx.now)
        if request.headers.get("hx-request") == "true":
            # A redirect would be followed inside the request and the page swapped into the form.
            return Response(status_code=200, headers={"HX-Redirect": "/web/inventory"})
        return RedirectResponse("/web/inventory", status_code=303)

    return guarded(request, build)


@router.get("/advisories", response_model=None)
def advisories(
    request: Request,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Published advisories about the organisation's products that it may read, newest first."""

    def build() -> Response:
        found = routing.advisories_for(ctx.db, ctx.actor, PageRequest(PER_PAGE, offset), ctx.now)
        return page(
            request,
            "inventory/advisories.html",
            advisories=found.rows,
            total=found.total,
            offset=offset,
            per_page=PER_PAGE,
            # Only whether there are any, for the empty state's advice.
            claims=routing.list_products(ctx.db, ctx.actor, PageRequest(1, 0)).total,
        )

    return guarded(request, build)


@router.get("/advisories/{advisory_id}", response_model=None)
def advisory(request: Request, advisory_id: str, ctx: PageContext) -> Response:
    """One advisory (any report TLP lets the organisation read, as the API's read; audited)."""

    def build() -> Response:
        row = clearinghouse.get_report(ctx.db, ctx.actor, advisory_id, ctx.now)
        names = identity.organisation_names(ctx.db, [row.reporter_org_id])
        return page(
            request,
            "inventory/advisory.html",
            report=row,
            document=row.document,
            reporter=names.get(row.reporter_org_id, row.reporter_org_id),
            formats=EXPORTS,
        )

    return guarded(request, build)


# What each export is, in the words of its link.
EXPORTS: dict[str, str] = {
    "csaf": "CSAF 2.0",
    "osv": "OSV",
    "cve": "CVE JSON 5",
    "stix": "STIX 2.1",
}


@router.get("/advisories/{advisory_id}/export/{fmt}", response_model=None)
def export(request: Request, advisory_id: str, fmt: str, ctx: PageContext) -> Response:
    """The advisory as a download, by the same decision as the API's export (TLP, embargo;
    audited) and the same converters."""

    def build() -> Response:
        if fmt not in EXPORTS:
            raise NotFound(f"no export '{fmt}': choose one of {', '.join(EXPORTS)}")
        found = clearinghouse.exportable_advisory(ctx.db, ctx.actor, advisory_id, ctx.now)
        document = _document(request, found, advisory_id, fmt)
        return JSONResponse(
            document,
            headers={
                "content-disposition": f'attachment; filename="{_filename(advisory_id)}.{fmt}.json"'
            },
        )

    return guarded(request, build)


def _filename(report_id: str) -> str:
    # A report's id is the reporter's: keep to characters that cannot break the header.
    return re.sub(r"[^A-Za-z0-9._-]", "_", report_id)[:100]


def _document(request: Request, advisory: Any, report_id: str, fmt: str) -> dict[str, Any]:
    # The documents name the API's export addresses as their own, as the API's exports do.
    def self_url(kind: str) -> str:
        return str(request.url_for(f"export_{kind}", report_id=report_id))

    if fmt == "csaf":
        return advisory_to_csaf(
            advisory,
            publisher_for(request),
            CsafProfile.SECURITY_ADVISORY,
            self_url=csaf_self_url(request, report_id),
        )
    if fmt == "osv":
        return advisory_to_osv(advisory)
    if fmt == "cve":
        return advisory_to_cve5(advisory, CVE_ASSIGNER, self_url("cve"))
    return advisory_to_stix(advisory, PUBLISHER_NAME, self_url("stix"))
