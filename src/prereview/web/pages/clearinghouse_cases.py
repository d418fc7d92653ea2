"""The clearinghouse analyst's console, cases side: the list of cases, opening one from a report,
the case page with its embargo (in its own time zone, with the time left), its vendor status
table (paginated, a fixed number of queries whatever the number of vendors), each vendor's
status and due date on each report, the vendor x product grid, adding and removing vendors, the
case's messages and each vendor's private thread with the coordinators.

Vendors use the same page for their own cases: they see the case, set their own statuses and
take part in the thread; the policy decides who may do what, as for the API.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from prereview.authz.permissions import Permission
from prereview.authz.policy import allowed
from prereview.authz.request import RequestContext
from prereview.clearinghouse import service as clearinghouse
from prereview.core.errors import Forbidden, InvalidInput, NotFound
from prereview.core.markings import Tlp
from prereview.core.pagination import MAX_LIMIT, PageRequest
from prereview.identity import service as identity
from prereview.web.pages.clearinghouse import back_to
from prereview.web.render import NOT_BLANK, guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web/clearinghouse", include_in_schema=False)

PER_PAGE = 50
MESSAGES_PER_PAGE = 50
JUSTIFICATIONS = clearinghouse.JUSTIFICATIONS
# The status choices of a vendor status form, once per selected state: the table repeats them
# for every vendor and report (200 vendors: the page's most repeated markup). The values are
# the enum's own constants, nothing a client sent.
STATUS_OPTIONS = {
    chosen.value: Markup(  # noqa: S704 - the enum's constants only, no text from outside
        "".join(
            f"<option{' selected' if state is chosen else ''}>{state.value}</option>"
            for state in clearinghouse.VendorState
        )
    )
    for chosen in clearinghouse.VendorState
}


class InvalidCaseForm(InvalidInput):
    slug = "clearinghouse-invalid-case-form"
    title = "The case form is not valid"


def embargo_of(case: Any, now: datetime) -> dict[str, Any]:
    """The embargo as a person reads it: in the zone it was set in, in UTC, and the time left."""
    local = case.embargo_until.astimezone(clearinghouse.zone_of(case.embargo_zone))
    left = int((case.embargo_until - now).total_seconds())
    return {
        "local": local.strftime("%Y-%m-%d %H:%M"),
        "offset": local.strftime("%z"),
        "abbreviation": local.tzname(),
        "zone": case.embargo_zone,
        "utc": case.embargo_until.strftime("%Y-%m-%d %H:%M UTC"),
        "seconds_left": max(0, left),
        "lifted": left <= 0,
    }


@router.get("/cases", response_model=None)
def cases_page(
    request: Request,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The cases the organisation opened or is a vendor in, open embargoes first."""

    def build() -> Response:
        found = clearinghouse.list_cases(ctx.db, ctx.actor, PageRequest(PER_PAGE, offset))
        counts = clearinghouse.vendor_counts(ctx.db, [c.id for c in found.rows])
        return page(
            request,
            "clearinghouse/cases.html",
            cases=[(c, embargo_of(c, ctx.now), counts.get(c.id, 0)) for c in found.rows],
            total=found.total,
            offset=offset,
            per_page=PER_PAGE,
            analyst=allowed(ctx.actor, Permission.CH_CASE_CREATE),
        )

    return guarded(request, build)


def _embargo_until(value: str, zone: str) -> datetime | None:
    """A ``datetime-local`` field's value read in ``zone`` (empty: the default embargo)."""
    if not value.strip():
        return None
    tz = clearinghouse.zone_of(zone)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidCaseForm(
            f"'{value}' is not a date and time: use YYYY-MM-DDTHH:MM, as the date picker does"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


@router.post("/cases", response_model=None)
def create_case(
    request: Request,
    ctx: PageContext,
    report_id: Annotated[str, Form(min_length=1, max_length=128)],
    title: Annotated[str, Form(min_length=1, max_length=300, pattern=NOT_BLANK)],
    tlp: Annotated[Tlp, Form()] = Tlp.AMBER,
    embargo_until: Annotated[str, Form(max_length=40)] = "",
    embargo_zone: Annotated[str, Form(min_length=1, max_length=64)] = "UTC",
) -> Response:
    """Open a case on one report (vendors are added on the case's page)."""
    same_origin(request)

    def build() -> Response:
        zone = embargo_zone.strip()
        case = clearinghouse.create_case(
            ctx.db,
            ctx.actor,
            clearinghouse.CaseCreate(
                title=title.strip(),
                tlp=tlp,
                report_ids=[report_id],
                vendor_org_ids=[],
                embargo_until=_embargo_until(embargo_until, zone),
                embargo_zone=zone,
            ),
            ctx.now,
        )
        return back_to(f"/web/clearinghouse/cases/{case.id}", request)

    return guarded(request, build)


def _members_only(build: Any) -> Any:
    """The thread, or ``None`` for those who may read the case but are not its members."""
    try:
        return build()
    except Forbidden:
        return None


@router.get("/cases/{case_id}", response_model=None)
def case_page(
    request: Request,
    case_id: str,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = PER_PAGE,
    messages_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    vendor: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    private_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """A case: embargo, reports, one page of the vendors (their status on each report, their
    cell for each product), the case's messages, and one vendor's private thread: a vendor's
    own, or for a coordinator the one it chose (``vendor``)."""
    db, actor, now = ctx.db, ctx.actor, ctx.now

    def build() -> Response:
        view = clearinghouse.case_with_vendors(db, actor, case_id, PageRequest(limit, offset), now)
        reports = [_readable(ctx, rid) for rid in view.report_ids]
        thread = _members_only(
            lambda: clearinghouse.list_messages(
                db, actor, case_id, PageRequest(MESSAGES_PER_PAGE, messages_offset), now
            )
        )
        analyst = allowed(actor, Permission.CH_CASE_UPDATE)
        # A coordinator opens the vendor it chose; a vendor always sees its own thread only.
        focus = vendor if analyst else actor.organisation_id
        private = _private_thread(ctx, case_id, focus, private_offset, required=analyst)
        candidates = _candidates(ctx) if analyst else []
        names = identity.organisation_names(
            db,
            [v.vendor_org_id for v in view.vendors.rows]
            + [m.author_org_id for m in (thread.rows if thread else [])]
            + ([focus, *(m.author_org_id for m in private.rows)] if private and focus else []),
        )
        return page(
            request,
            "clearinghouse/case.html",
            case=view.case,
            view=view,
            embargo=embargo_of(view.case, now),
            history=clearinghouse.embargo_history(db, view.case.id),
            reports=reports,
            vendors=view.vendors,
            statuses=view.statuses,
            grid=_grid(view),
            names=names,
            thread=thread,
            private=private,
            focus=focus if private is not None else None,
            analyst=analyst,
            candidates=candidates,
            me_org=actor.organisation_id,
            status_options=STATUS_OPTIONS,
            cell_states=[s.value for s in clearinghouse.CellState],
            justifications=clearinghouse.JUSTIFICATIONS,
            limit=limit,
            offset=offset,
            messages_offset=messages_offset,
            messages_per_page=MESSAGES_PER_PAGE,
        )

    return guarded(request, build)


def _grid(view: clearinghouse.CaseView) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each vendor of the page with its cells as they print: (state, due day) per product.

    Built here, not in the template: 200 vendors x a few products is a thousand cells, and a
    tuple of two strings per cell is what keeps the page's rendering flat."""
    rows = []
    for v in view.vendors.rows:
        cells = []
        for product in view.products:
            cell = view.cell(v.vendor_org_id, product)
            cells.append((cell.status.replace("_", " "), cell.due_on.isoformat()))
        rows.append((v.vendor_org_id, cells))
    return rows


def _private_thread(
    ctx: RequestContext, case_id: str, vendor: str | None, offset: int, required: bool
) -> Any:
    """A vendor's private thread, or ``None``: none chosen, or (for a vendor) none of its own.
    A coordinator who names a thread that does not exist is told so (the page's 404)."""
    if vendor is None:
        return None
    try:
        return clearinghouse.list_messages(
            ctx.db, ctx.actor, case_id, PageRequest(MESSAGES_PER_PAGE, offset), ctx.now, vendor
        )
    except NotFound:
        if required:
            raise
        return None


def _readable(ctx: RequestContext, report_id: str) -> Any:
    """A report of the case, or ``None`` if its own label keeps the reader out (a TLP:CLEAR
    case may hold a TLP:AMBER report): the table then names it by id only."""
    try:
        return clearinghouse.get_report(ctx.db, ctx.actor, report_id, ctx.now)
    except NotFound:
        return None


def _candidates(ctx: RequestContext) -> list[Any]:
    """Organisations an analyst may add as vendors: those that make or run products."""
    found = identity.list_organisations(ctx.db, ctx.actor, PageRequest(MAX_LIMIT))
    return [o for o in found.rows if o.kind.value in ("developer", "trusted_partner")]


@router.post("/cases/{case_id}/vendors", response_model=None)
def add_vendor(
    request: Request,
    case_id: str,
    ctx: PageContext,
    vendor_org_id: Annotated[str, Form(min_length=1, max_length=40)],
) -> Response:
    same_origin(request)

    def build() -> Response:
        clearinghouse.add_to_case(ctx.db, ctx.actor, case_id, [], [vendor_org_id.strip()], ctx.now)
        return back_to(f"/web/clearinghouse/cases/{case_id}", request)

    return guarded(request, build)


def _due(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidCaseForm(f"'{value}' is not a day: use YYYY-MM-DD") from None


@router.post("/cases/{case_id}/vendors/{org_id}/statuses/{report_id}", response_model=None)
def set_status(
    request: Request,
    case_id: str,
    org_id: str,
    report_id: str,
    ctx: PageContext,
    status: Annotated[clearinghouse.VendorState, Form()],
    due_on: Annotated[str, Form(max_length=10)] = "",
    statement: Annotated[str, Form(max_length=10_000)] = "",
    justification: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """One cell of the vendor table: the vendor's status on one report, and its due date."""
    same_origin(request)

    def build() -> Response:
        if justification and justification not in JUSTIFICATIONS:
            raise InvalidCaseForm(f"unknown justification '{justification}'")
        clearinghouse.set_vendor_status(
            ctx.db,
            ctx.actor,
            case_id,
            org_id,
            report_id,
            status,
            statement.strip(),
            justification or None,
            ctx.now,
            _due(due_on),
        )
        return back_to(f"/web/clearinghouse/cases/{case_id}#vendor-{org_id}", request)

    return guarded(request, build)


@router.post("/cases/{case_id}/messages", response_model=None)
def post_message(
    request: Request,
    case_id: str,
    ctx: PageContext,
    text: Annotated[str, Form(min_length=1, max_length=20_000, pattern=NOT_BLANK)],
) -> Response:
    same_origin(request)

    def build() -> Response:
        clearinghouse.post_message(ctx.db, ctx.actor, case_id, text, ctx.now)
        return back_to(f"/web/clearinghouse/cases/{case_id}#messages", request)

    return guarded(request, build)


@router.post("/cases/{case_id}/vendors/{org_id}/messages", response_model=None)
def post_private_message(
    request: Request,
    case_id: str,
    org_id: str,
    ctx: PageContext,
    text: Annotated[str, Form(min_length=1, max_length=20_000, pattern=NOT_BLANK)],
) -> Response:
    """A message in a vendor's private thread (that vendor, or a coordinator)."""
    same_origin(request)

    def build() -> Response:
        clearinghouse.post_message(ctx.db, ctx.actor, case_id, text, ctx.now, org_id)
        return back_to(f"/web/clearinghouse/cases/{case_id}?vendor={org_id}#private", request)

    return guarded(request, build)


@router.post("/cases/{case_id}/vendors/{org_id}/cells", response_model=None)
def set_cell(
    request: Request,
    case_id: str,
    org_id: str,
    ctx: PageContext,
    product: Annotated[str, Form(min_length=1, max_length=300)],
    status: Annotated[clearinghouse.CellState, Form()],
    due_on: Annotated[str, Form(max_length=10)] = "",
    statement: Annotated[str, Form(max_length=10_000)] = "",
    justification: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """One vendor x product cell: its status, VEX justification, statement and due day."""
    same_origin(request)

    def build() -> Response:
        clearinghouse.set_cell(
            ctx.db,
            ctx.actor,
            case_id,
            org_id,
            product,
            clearinghouse.CellChange(status, justification or None, statement, _due(due_on)),
            ctx.now,
        )
        return back_to(
            f"/web/clearinghouse/cases/{case_id}?vendor={org_id}#cells-{org_id}", request
        )

    return guarded(request, build)


@router.post("/cases/{case_id}/vendors/{org_id}/remove", response_model=None)
def remove_vendor(request: Request, case_id: str, org_id: str, ctx: PageContext) -> Response:
    """Take a vendor off the case (a coordinator): it loses the case and its thread."""
    same_origin(request)

    def build() -> Response:
        clearinghouse.remove_vendor(ctx.db, ctx.actor, case_id, org_id, ctx.now)
        return back_to(f"/web/clearinghouse/cases/{case_id}", request)

    return guarded(request, build)
