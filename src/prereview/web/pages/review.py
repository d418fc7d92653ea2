"""Review's pages: your work on the home page, a submission with its findings, nominations and
grants, the window's countdown, and the forms that submit a model, grant and revoke access,
change the planned release date, nominate a partner, release, withdraw, decide, file a finding
and answer one.

Each page asks review's published service, so the policy decides for pages as for the API.
Release, withdraw and revoking a grant cannot be undone, so none happens on one click: with
JavaScript the button asks first (htmx's ``hx-confirm``); without it, the button opens a
confirmation page (``GET`` on the action's own address) that says what will happen and holds
the real button. A form's problem that the person can fix there (a planned release date in the
past, a grant the agency already holds) comes back on the same page, at that form, with what
was sent refilled and the problem's own status; a refusal gets the error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.request import RequestContext
from prereview.core.errors import Conflict, InvalidInput, NotFound, PrereviewError
from prereview.core.pagination import MAX_LIMIT, PageRequest
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.review.kinds import Access, FindingCategory, Modality, ResponseStatus, Severity
from prereview.review.schemas import (
    FindingCreate,
    GrantCreate,
    NominationCreate,
    ResponseCreate,
    SubmissionCreate,
    SubmissionUpdate,
)
from prereview.review.window import Window
from prereview.web.forms import moment, number, valid
from prereview.web.pages import clearinghouse as clearinghouse_pages
from prereview.web.render import NOT_BLANK, guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


@router.get("/", response_model=None)
def home(request: Request, ctx: PageContext) -> Response:
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)

    def build() -> Response:
        if actor.org_kind is OrgKind.DEVELOPER:
            return page(request, "review/developer.html", rows=_submission_rows(ctx))
        if actor.org_kind in (OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER):
            queue = review.queue(db, actor, now, rules)
            return page(request, "review/queue.html", queue=queue)
        if actor.org_kind is OrgKind.CLEARINGHOUSE:
            # The analyst's work starts at the triage queue of incoming reports.
            return clearinghouse_pages.queue_page(request, ctx, clearinghouse_pages.QueueQuery())
        return page(request, "review/other.html")

    return guarded(request, build)


def _submission_rows(ctx: RequestContext) -> list[tuple[Any, Window]]:
    """The developer's submissions with their windows now, as its home page lists them (each
    a review submission row: review's models are its own, so not named here)."""
    rules = _rules(ctx)
    found = review.list_submissions(ctx.db, ctx.actor, PageRequest(limit=200), ctx.now, rules)
    return [(s, review.window(s, ctx.now, rules)) for s in found.rows]


@router.get("/submissions", response_model=None)
def submissions_fragment(request: Request, ctx: PageContext) -> Response:
    """The developer's submission rows, refreshed by htmx every minute (windows close)."""

    def build() -> Response:
        return page(request, "review/_submissions.html", rows=_submission_rows(ctx))

    return guarded(request, build)


@router.get("/submissions/new", response_model=None)
def new_submission_page(request: Request, ctx: PageContext) -> Response:
    """The form that registers a model for review (before ``/submissions/{id}``, which would
    take ``new`` for an id)."""

    def build() -> Response:
        # The same refusal as the action's: only a developer submits.
        authorize(ctx.actor, Permission.SUBMISSION_CREATE)
        return _new_submission_form(request)

    return guarded(request, build)


def _new_submission_form(
    request: Request, problem: PrereviewError | None = None, filled: Mapping[str, Any] | None = None
) -> Response:
    given: Mapping[str, Any] = filled or {
        "modalities": [Modality.TEXT.value],
        "access_offered": [Access.HOSTED_API.value],
    }
    return page(
        request,
        "review/new.html",
        problem.status if problem else 200,
        problem=problem,
        filled=given,
        modalities=list(Modality),
        offers=list(Access),
    )


@router.post("/submissions/new", response_model=None)
def create_submission(
    request: Request,
    ctx: PageContext,
    model_name: Annotated[str, Form(max_length=200)] = "",
    model_version: Annotated[str, Form(max_length=100)] = "",
    description: Annotated[str, Form(max_length=50_000)] = "",
    planned_release_at: Annotated[str, Form(max_length=40)] = "",
    modalities: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 (FastAPI copies)
    access_offered: Annotated[list[str], Form(max_length=3)] = [],  # noqa: B006
    training_compute_flop: Annotated[str, Form(max_length=40)] = "",
    parameter_count: Annotated[str, Form(max_length=40)] = "",
    contact_name: Annotated[str, Form(max_length=200)] = "",
    contact_email: Annotated[str, Form(max_length=320)] = "",
    contact_role: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Register a model, as ``POST /submissions`` does; its page is next."""
    same_origin(request)
    filled: dict[str, Any] = {
        "model_name": model_name,
        "model_version": model_version,
        "description": description,
        "planned_release_at": planned_release_at,
        "modalities": modalities,
        "access_offered": access_offered,
        "training_compute_flop": training_compute_flop,
        "parameter_count": parameter_count,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_role": contact_role,
    }

    def build() -> Response:
        authorize(ctx.actor, Permission.SUBMISSION_CREATE)
        contact = {"name": contact_name, "email": contact_email.strip(), "role": contact_role}
        data = valid(
            SubmissionCreate,
            model_name=model_name,
            model_version=model_version,
            description=description,
            planned_release_at=moment("planned_release_at", planned_release_at),
            modalities=modalities or [Modality.TEXT.value],
            access_offered=access_offered or [Access.HOSTED_API.value],
            training_compute_flop=number("training_compute_flop", training_compute_flop, float),
            parameter_count=number("parameter_count", parameter_count, int),
            contacts=[contact] if contact_name.strip() or contact_email.strip() else [],
        )
        submission = review.create_submission(ctx.db, ctx.actor, data, ctx.now)
        return _back_to(submission.id, request)

    def shown() -> Response:
        try:
            return build()
        except FORM_PROBLEMS as error:
            ctx.db.rollback()  # nothing half-written
            return _new_submission_form(request, error, filled)

    return guarded(request, shown)


@router.get("/submissions/{submission_id}", response_model=None)
def submission_page(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return guarded(request, lambda: _submission_view(request, ctx, submission_id))


def _submission_view(
    request: Request,
    ctx: RequestContext,
    submission_id: str,
    problem: PrereviewError | None = None,
    form: str = "",
    filled: Mapping[str, str] | None = None,
) -> Response:
    """The submission page; after a form's problem, with the problem shown at that form
    (``form`` names it), the form refilled with what was sent, and the problem's status."""
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
    submission = review.get_submission(db, actor, submission_id, now, rules)
    owner = submission.developer_org_id == actor.organisation_id
    agency = actor.org_kind is OrgKind.AGENCY
    findings = review.list_findings(db, actor, submission_id, PageRequest(limit=200), now, rules)
    # The developer decides nominations; the granted agency sees those it made (as the API
    # lets it: the page, like the findings, ends for it with its grant).
    listed = owner or agency
    nominations = review.list_nominations(db, actor, submission_id, now, rules) if listed else []
    _, grants = review.list_grants(db, actor, submission_id, now, rules)
    window = review.window(submission, now, rules)
    names = identity.organisation_names(
        db,
        [g.agency_org_id for g in grants]
        + [n.partner_org_id for n in nominations]
        + [f.author_org_id for f in findings.rows],
    )
    return page(
        request,
        "review/submission.html",
        problem.status if problem else 200,
        names=names,
        submission=submission,
        submission_id=submission.id,
        window=window,
        owner=owner,
        findings=findings.rows,
        nominations=nominations,
        grants=[(g, review.grant_is_live(g, submission, now, rules)) for g in grants],
        endings={action: words for action, (_, words) in ENDINGS.items()},
        severities=list(Severity),
        categories=list(FindingCategory),
        # The organisations each form chooses from, by name (the API lets anyone list them).
        agencies=_organisations(ctx, OrgKind.AGENCY) if owner else [],
        partners=_organisations(ctx, OrgKind.TRUSTED_PARTNER)
        if agency and window.state.is_open
        else [],
        max_window_days=rules.max_window.days,
        response_statuses=list(ResponseStatus),
        revoke_words=REVOKE_WORDS,
        problem=problem,
        problem_form=form,
        filled=filled or {},
    )


def _organisations(ctx: RequestContext, kind: OrgKind) -> list[tuple[str, str]]:
    """(id, name) of the organisations of ``kind``, by name."""
    found = identity.list_organisations(ctx.db, ctx.actor, PageRequest(limit=MAX_LIMIT), kind)
    return [(o.id, o.name) for o in found.rows]


@router.get("/submissions/{submission_id}/window", response_model=None)
def window_fragment(request: Request, submission_id: str, ctx: PageContext) -> Response:
    """The countdown, refreshed by htmx every minute."""

    def build() -> Response:
        window: Window = review.get_window(ctx.db, ctx.actor, submission_id, ctx.now, _rules(ctx))
        return page(request, "review/_window.html", window=window, submission_id=submission_id)

    return guarded(request, build)


@router.get("/queue", response_model=None)
def queue_fragment(request: Request, ctx: PageContext) -> Response:
    """The reviewer's queue rows, refreshed by htmx every minute (windows close, access ends)."""

    def build() -> Response:
        queue = review.queue(ctx.db, ctx.actor, ctx.now, _rules(ctx))
        return page(request, "review/_queue.html", queue=queue)

    return guarded(request, build)


# What each irreversible action does, in the words of its confirmation (page and dialog).
ENDINGS = {
    "release": (
        Permission.SUBMISSION_RELEASE,
        "Declare this model publicly released? The review window closes now and every grant "
        "ends: no agency or partner can reach the model or its materials any more. "
        "This cannot be undone.",
    ),
    "withdraw": (
        Permission.SUBMISSION_WITHDRAW,
        "Withdraw this submission? The review window closes now, every grant ends, and every "
        "material and secret of the submission is crypto-shredded: its key is destroyed, so "
        "nobody, you included, can ever read them again. This cannot be undone.",
    ),
}


@router.get("/submissions/{submission_id}/release", response_model=None)
def confirm_release(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return _confirm(request, submission_id, "release", ctx)


@router.get("/submissions/{submission_id}/withdraw", response_model=None)
def confirm_withdraw(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return _confirm(request, submission_id, "withdraw", ctx)


def _confirm(request: Request, submission_id: str, action: str, ctx: RequestContext) -> Response:
    """The confirmation page of release or withdraw, for a browser without JavaScript: what
    will happen, who loses access, and the button that really does it."""
    permission, consequence = ENDINGS[action]

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        # The same reach as the action itself: outsiders get the 404, reviewers the 403.
        submission = review.owned_submission(db, actor, submission_id, permission)
        _, grants = review.list_grants(db, actor, submission_id, now, rules)
        live = [g for g in grants if review.grant_is_live(g, submission, now, rules)]
        names = identity.organisation_names(db, [g.agency_org_id for g in live])
        return page(
            request,
            "review/confirm.html",
            submission=submission,
            action=action,
            consequence=consequence,
            losing=[names.get(g.agency_org_id, g.agency_org_id) for g in live],
            done=submission.released_at is not None or submission.withdrawn_at is not None,
        )

    return guarded(request, build)


@router.post("/submissions/{submission_id}/release", response_model=None)
def release(request: Request, submission_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        review.release(ctx.db, ctx.actor, submission_id, ctx.now)
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/withdraw", response_model=None)
def withdraw(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        review.withdraw(ctx.db, ctx.actor, submission_id, reason.strip(), ctx.now)
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post(
    "/submissions/{submission_id}/nominations/{nomination_id}/{decision}", response_model=None
)
def decide(
    request: Request, submission_id: str, nomination_id: str, decision: str, ctx: PageContext
) -> Response:
    same_origin(request)

    def build() -> Response:
        if decision not in ("consent", "decline"):
            # No such form: not a 303 as though something had been decided.
            raise NotFound(f"no decision '{decision}': consent or decline")
        review.decide_nomination(
            ctx.db, ctx.actor, submission_id, nomination_id, decision == "consent", "", ctx.now
        )
        return _back_to(submission_id)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/findings", response_model=None)
def file_finding(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    # Not only white space (the finding strips it, and an empty title would fail there, a 500).
    title: Annotated[str, Form(min_length=1, max_length=300, pattern=NOT_BLANK)],
    description: Annotated[str, Form(min_length=1, max_length=50_000, pattern=NOT_BLANK)],
    severity: Annotated[Severity, Form()],
    category: Annotated[FindingCategory, Form()],
    recommended_mitigation: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        data = FindingCreate(
            title=title,
            description=description,
            severity=severity,
            category=category,
            recommended_mitigation=recommended_mitigation,
        )
        review.file_finding(ctx.db, ctx.actor, submission_id, data, ctx.now, _rules(ctx))
        return _back_to(submission_id)

    return guarded(request, build)


# --- the developer's and the reviewers' forms on the submission page ------------------------

# Problems a person fixes in the form itself (a past date, a grant the agency already holds):
# shown at the form, refilled. A refusal (403) or an unknown object (404) gets the error page.
FORM_PROBLEMS = (InvalidInput, Conflict)

REVOKE_WORDS = (
    "Revoke this agency's grant? The agency loses access at once: its gateway keys stop "
    "working, it can no longer read the materials or file findings, and the trusted partners "
    "it nominated lose access with it. This cannot be undone: grant it again to give access back."
)


def _in_page(
    request: Request,
    ctx: RequestContext,
    submission_id: str,
    form: str,
    filled: Mapping[str, str],
    act: Callable[[], Response],
) -> Response:
    """Run a form of the submission page: its answer, or the page again with the problem at
    the form and what was sent refilled (and the problem's status)."""

    def build() -> Response:
        try:
            return act()
        except FORM_PROBLEMS as error:
            ctx.db.rollback()  # nothing half-written
            return _submission_view(request, ctx, submission_id, error, form, filled)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/grants", response_model=None)
def grant(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    agency_org_id: Annotated[str, Form(max_length=40)] = "",
    window_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Grant an agency access, as ``POST .../grants`` does; the first grant opens the window."""
    same_origin(request)

    def act() -> Response:
        data = valid(
            GrantCreate,
            agency_org_id=agency_org_id,
            window_days=number("window_days", window_days, int),
        )
        review.grant(ctx.db, ctx.actor, submission_id, data, ctx.now, _rules(ctx))
        return _back_to(submission_id, request)

    filled = {"agency_org_id": agency_org_id, "window_days": window_days}
    return _in_page(request, ctx, submission_id, "grant", filled, act)


@router.get("/submissions/{submission_id}/grants/{grant_id}/revoke", response_model=None)
def confirm_revoke(
    request: Request, submission_id: str, grant_id: str, ctx: PageContext
) -> Response:
    """The confirmation page of revoking a grant, for a browser without JavaScript."""

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        # The same reach as the action itself: outsiders get the 404, reviewers the 403.
        submission = review.owned_submission(db, actor, submission_id, Permission.GRANT_REVOKE)
        _, grants = review.list_grants(db, actor, submission_id, now, rules)
        target = next((g for g in grants if g.id == grant_id), None)
        if target is None:
            raise NotFound(f"no grant '{grant_id}' on this submission")
        names = identity.organisation_names(db, [target.agency_org_id])
        return page(
            request,
            "review/confirm_revoke.html",
            submission=submission,
            grant=target,
            agency=names.get(target.agency_org_id, target.agency_org_id),
            live=review.grant_is_live(target, submission, now, rules),
            consequence=REVOKE_WORDS,
        )

    return guarded(request, build)


@router.post("/submissions/{submission_id}/grants/{grant_id}/revoke", response_model=None)
def revoke_grant(request: Request, submission_id: str, grant_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        review.revoke_grant(ctx.db, ctx.actor, submission_id, grant_id, ctx.now)
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/planned-release", response_model=None)
def change_planned_release(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    planned_release_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Change (or, left blank, clear) the planned release date, as ``PATCH`` does: only the
    developer sets it, and a date in the past is refused (``planned-release-in-past``)."""
    same_origin(request)

    def act() -> Response:
        when = moment("planned_release_at", planned_release_at)
        data = valid(SubmissionUpdate, planned_release_at=when)
        review.update_submission(ctx.db, ctx.actor, submission_id, data, ctx.now)
        return _back_to(submission_id, request)

    filled = {"planned_release_at": planned_release_at}
    return _in_page(request, ctx, submission_id, "planned-release", filled, act)


@router.post("/submissions/{submission_id}/nominations", response_model=None)
def nominate(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    partner_org_id: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    """An agency nominates a trusted partner, as ``POST .../nominations`` does; the developer
    consents or declines on its page."""
    same_origin(request)

    def act() -> Response:
        data = valid(NominationCreate, partner_org_id=partner_org_id, reason=reason)
        review.nominate(ctx.db, ctx.actor, submission_id, data, ctx.now, _rules(ctx))
        return _back_to(submission_id, request)

    filled = {"partner_org_id": partner_org_id, "reason": reason}
    return _in_page(request, ctx, submission_id, "nominate", filled, act)


@router.post("/findings/{finding_id}/responses", response_model=None)
def respond(
    request: Request,
    finding_id: str,
    ctx: PageContext,
    status: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    """The developer answers a finding, as ``POST /findings/{id}/responses`` does."""
    same_origin(request)

    def build() -> Response:
        try:
            data = valid(ResponseCreate, status=status, text=text)
            finding = review.respond(ctx.db, ctx.actor, finding_id, data, ctx.now)
        except FORM_PROBLEMS as error:
            ctx.db.rollback()  # nothing half-written
            # The finding's page is its submission's (an unknown finding: the 404 page).
            found = review.get_finding(ctx.db, ctx.actor, finding_id, ctx.now)
            filled = {"status": status, "text": text}
            return _submission_view(
                request, ctx, found.submission_id, error, f"respond-{finding_id}", filled
            )
        return _back_to(finding.submission_id, request)

    return guarded(request, build)


def _back_to(submission_id: str, request: Request | None = None) -> Response:
    """After a form, the submission page. A request from htmx (``hx-post``) is told to load it
    (``HX-Redirect``): a redirect would be followed inside the request and the whole page
    swapped into the form."""
    target = f"/web/submissions/{submission_id}"
    if request is not None and request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
